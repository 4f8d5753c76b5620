"""Bank CSV exports, read through the tenant's `CsvMapping` (stdlib csv).

A header row names the columns; rows after it are lines, blank rows are skipped. Amounts are checked
against the mapping's separators ("1,533.50" with a "," thousands separator: groups of three digits,
or no grouping at all), so a mapping that does not fit the file fails loudly instead of reading 1.5335.
An amount in parentheses is negative. A file whose rows name several currencies gives one statement
per currency, in the order they first appear. A CSV export names no account and no balances.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import time
from collections.abc import Callable
from datetime import date

from kassa.adapters.bank_files.base import (
    CsvMapping,
    checked_currency,
    clean_text,
    iban_or_none,
    money_from_text,
)
from kassa.core.money import Money
from kassa.core.statements import BankFileError, BankStatement, StatementFormat, StatementLine

_DIGITS = re.compile(r"[0-9]*")


def parse(content: bytes, mapping: CsvMapping | None = None) -> tuple[BankStatement, ...]:
    """One statement per currency of the rows; BankFileError naming the row and column of a bad value."""
    if mapping is None:
        raise BankFileError("A CSV file is read through a column mapping, and none was given.", None)
    reader = csv.reader(
        io.StringIO(_decoded(content, mapping.encoding), newline=""), delimiter=mapping.delimiter, strict=True
    )
    by_currency: dict[str, list[StatementLine]] = {}
    try:
        for _ in range(mapping.skip_rows):
            if next(reader, None) is None:
                raise BankFileError(f"The file ends within the {mapping.skip_rows} rows to skip.", None)
        header = next(reader, None)
        if header is None:
            raise BankFileError("The file has no header row.", f"row {mapping.skip_rows + 1}")
        columns = _columns(header, mapping, reader.line_num)
        width = max(columns.values()) + 1
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            number = reader.line_num
            if len(row) < width:
                raise BankFileError(
                    f"The row has {len(row)} cells; the header has {len(header)}.", f"row {number}"
                )
            currency, line = _line(row, columns, mapping, number)
            by_currency.setdefault(currency, []).append(line)
    except csv.Error as error:
        raise BankFileError(f"Not valid CSV: {str(error)[:120]}.", f"row {reader.line_num}") from None
    if not by_currency and mapping.currency is not None:
        by_currency[mapping.currency] = []
    if not by_currency:
        raise BankFileError("The file has no rows, so no currency either.", None)
    return tuple(
        BankStatement(format=StatementFormat.CSV, account=None, currency=currency, lines=tuple(lines))
        for currency, lines in by_currency.items()
    )


def _decoded(content: bytes, encoding: str) -> str:
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a byte-order mark is not part of the first column's name
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise BankFileError(
            f"A byte is not valid {encoding} text (see the mapping's encoding).", f"row {line}"
        ) from None


def _columns(header: list[str], mapping: CsvMapping, number: int) -> dict[str, int]:
    names = [cell.strip() for cell in header]
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, i)
    columns: dict[str, int] = {}
    for field in (
        "date",
        "amount",
        "debit",
        "credit",
        "indicator",
        "currency_column",
        "value_date",
        "reference",
        "counterparty_name",
        "counterparty_iban",
        "bank_reference",
        "description",
    ):
        name = getattr(mapping, field)
        if name is None:
            continue
        if name.strip() not in positions:
            shown = ", ".join(repr(n) for n in names[:20])
            raise BankFileError(
                f"The header has no column {name[:40]!r} (it has {shown}).", f"row {number}.{field}"
            )
        columns[field] = positions[name.strip()]
    return columns


def _line(
    row: list[str], columns: dict[str, int], mapping: CsvMapping, number: int
) -> tuple[str, StatementLine]:
    def cell(field: str) -> str | None:
        return clean_text(row[columns[field]]) if field in columns else None

    def raw(field: str) -> str | None:
        # Amounts are not whitespace-normalized: a no-break space may be the thousands separator.
        return (row[columns[field]].strip() or None) if field in columns else None

    if "currency_column" in columns:
        code = cell("currency_column")
        if code is None:
            raise BankFileError("The currency is empty.", f"row {number}.currency_column")
        currency = checked_currency(code.upper(), f"row {number}.currency_column")
    else:
        assert mapping.currency is not None  # CsvMapping requires one of the two
        currency = mapping.currency
    booked = cell("date")
    if booked is None:
        raise BankFileError("The date is empty.", f"row {number}.date")
    value_day = cell("value_date")
    line = StatementLine(
        booked_on=_day(booked, mapping.date_format, f"row {number}.date"),
        value_on=_day(value_day, mapping.date_format, f"row {number}.value_date") if value_day else None,
        amount=_amount(raw, mapping, currency, number),
        reference=cell("reference"),
        counterparty_name=cell("counterparty_name"),
        counterparty_iban=iban_or_none(cell("counterparty_iban")),
        bank_reference=cell("bank_reference"),
        description=cell("description"),
    )
    return currency, line


def _day(text: str, pattern: str, where: str) -> date:
    try:
        parsed = time.strptime(text, pattern)
    except ValueError:
        raise BankFileError(f"{text[:30]!r} does not match the date format {pattern!r}.", where) from None
    return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)


def _amount(read: Callable[[str], str | None], mapping: CsvMapping, currency: str, number: int) -> Money:
    """The signed amount; `read` gives a mapped field's cell of the row."""
    if mapping.amount is not None:
        where = f"row {number}.amount"
        text = read("amount")
        if text is None:
            raise BankFileError("The amount is empty.", where)
        money = _number(text, mapping, currency, where)
        if mapping.indicator is None:
            return money
        mark = (clean_text(read("indicator")) or "").upper()
        if mark in {m.strip().upper() for m in mapping.credit_marks}:
            return abs(money)
        if mark in {m.strip().upper() for m in mapping.debit_marks}:
            return -abs(money)
        marks = ", ".join([*mapping.debit_marks, *mapping.credit_marks])
        raise BankFileError(
            f"{mark[:10]!r} is neither a debit nor a credit mark ({marks}).", f"row {number}.indicator"
        )
    debit_text, credit_text = read("debit"), read("credit")
    debit = _number(debit_text, mapping, currency, f"row {number}.debit") if debit_text else None
    credit = _number(credit_text, mapping, currency, f"row {number}.credit") if credit_text else None
    if debit is not None and credit is not None and debit.amount and credit.amount:
        raise BankFileError("Both the debit and the credit column have an amount.", f"row {number}.credit")
    if debit is None and credit is None:
        raise BankFileError("Neither the debit nor the credit column has an amount.", f"row {number}.debit")
    # Some banks write debits as negative numbers in the debit column: the column says which way it went.
    if credit is not None and (credit.amount or debit is None):
        return abs(credit)
    assert debit is not None
    return -abs(debit)


def _number(text: str, mapping: CsvMapping, currency: str, where: str) -> Money:
    raw = text.strip()
    negative = raw.startswith("(") and raw.endswith(")")
    if negative:
        raw = raw[1:-1].strip()
    sign = ""
    if raw[:1] in "+-" and raw:
        sign, raw = raw[0], raw[1:].strip()
    whole, separator, fraction = raw.partition(mapping.decimal_separator)
    grouping = mapping.thousands_separator
    if grouping and grouping in whole:
        groups = whole.split(grouping)
        if not (
            1 <= len(groups[0]) <= 3
            and all(len(g) == 3 for g in groups[1:])
            and all(_DIGITS.fullmatch(g) for g in groups)
        ):
            raise BankFileError(f"{text[:40]!r} is not grouped in thousands by {grouping!r}.", where)
        whole = "".join(groups)
    if not (_DIGITS.fullmatch(whole) and _DIGITS.fullmatch(fraction)) or not (whole or fraction):
        raise BankFileError(
            f"{text[:40]!r} is not an amount with {mapping.decimal_separator!r} as the decimal separator.",
            where,
        )
    money = money_from_text(
        f"{sign}{whole or '0'}{'.' + fraction if separator and fraction else ''}", currency, where
    )
    return -money if negative else money
