"""The bank-file port: a reader turns a statement file (CAMT.053, MT940, OFX, CSV) into a `BankStatement`.

A CSV export has no standard layout, so it is read through a `CsvMapping` the tenant saves once per bank
(column names, date pattern, separators). The helpers at the end are shared by the format modules so
that every format turns text into money, dates and IBANs the same way and reports a bad value as a
`BankFileError` that says where it is.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Protocol

from kassa.core.errors import DomainError
from kassa.core.money import Money, currency_code
from kassa.core.statements import BankFileError, BankStatement, StatementFormat, normalize_iban

__all__ = [
    "BankFileError",
    "BankFileReader",
    "BankStatement",
    "CsvMapping",
    "StatementFormat",
]

MAPPING_ERROR = "invalid_csv_mapping"

DECIMAL_SEPARATORS = (".", ",")
# Apostrophe: Switzerland; the spaces: French and Scandinavian exports.
THOUSANDS_SEPARATORS = ("", ",", ".", " ", "'", "\u00a0", "\u202f")
MAX_SKIP_ROWS = 1000

_COLUMN_FIELDS = (
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
)
_NULLABLE = frozenset(_COLUMN_FIELDS) - {"date"} | {"currency"}


def _mapping_error(message: str, field: str | None) -> DomainError:
    return DomainError(MAPPING_ERROR, message, field)


@dataclass(frozen=True, slots=True, kw_only=True)
class CsvMapping:
    """Where a bank's CSV export keeps each value. Column fields name a header cell; None means absent.

    The amount is one signed `amount` column, or `amount` with an `indicator` column holding a debit or
    credit mark (the amount's own sign is then ignored), or separate `debit` and `credit` columns.
    The currency is fixed (`currency`) or read per row (`currency_column`).
    """

    date: str
    date_format: str = "%Y-%m-%d"  # strptime pattern
    amount: str | None = None
    debit: str | None = None
    credit: str | None = None
    indicator: str | None = None
    debit_marks: tuple[str, ...] = ("D",)
    credit_marks: tuple[str, ...] = ("C",)
    currency: str | None = None
    currency_column: str | None = None
    value_date: str | None = None
    reference: str | None = None
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    bank_reference: str | None = None
    description: str | None = None
    decimal_separator: str = "."
    thousands_separator: str = ""
    delimiter: str = ","
    encoding: str = "utf-8"
    skip_rows: int = 0  # rows before the header row

    def __post_init__(self) -> None:
        for name in _COLUMN_FIELDS:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _mapping_error("A column is named by its header text, a non-empty string.", name)
        if self.amount is None:
            if self.debit is None or self.credit is None:
                raise _mapping_error("Map an amount column, or both a debit and a credit column.", "amount")
            if self.indicator is not None:
                raise _mapping_error("A debit/credit indicator goes with an amount column.", "indicator")
        elif self.debit is not None or self.credit is not None:
            field = "debit" if self.debit is not None else "credit"
            raise _mapping_error("Map either an amount column or debit and credit columns, not both.", field)
        for name in ("debit_marks", "credit_marks"):
            marks = getattr(self, name)
            if (
                not isinstance(marks, tuple)
                or not marks
                or not all(isinstance(m, str) and m.strip() for m in marks)
            ):
                raise _mapping_error("Marks are a non-empty list of non-empty strings.", name)
        if {m.strip().upper() for m in self.debit_marks} & {m.strip().upper() for m in self.credit_marks}:
            raise _mapping_error("A mark cannot mean both debit and credit.", "credit_marks")
        if (self.currency is None) == (self.currency_column is None):
            raise _mapping_error("Give either a fixed currency or a currency column.", "currency")
        if self.currency is not None:
            currency_code(self.currency, "currency")
        if not isinstance(self.date_format, str) or "%" not in self.date_format:
            raise _mapping_error('A date format is a strptime pattern such as "%d.%m.%Y".', "date_format")
        if self.decimal_separator not in DECIMAL_SEPARATORS:
            raise _mapping_error('The decimal separator is "." or ",".', "decimal_separator")
        if self.thousands_separator not in THOUSANDS_SEPARATORS:
            allowed = ", ".join(repr(s) for s in THOUSANDS_SEPARATORS)
            raise _mapping_error(f"The thousands separator is one of {allowed}.", "thousands_separator")
        if self.thousands_separator == self.decimal_separator:
            raise _mapping_error(
                "The thousands separator must differ from the decimal separator.", "thousands_separator"
            )
        if (
            not isinstance(self.delimiter, str)
            or len(self.delimiter) != 1
            or self.delimiter in '"\r\n'
            or self.delimiter == self.decimal_separator
        ):
            raise _mapping_error(
                "The delimiter is one character, not a quote, a line break or the decimal separator.",
                "delimiter",
            )
        try:
            if not isinstance(self.encoding, str):
                raise LookupError(self.encoding)
            codecs.lookup(self.encoding)
        except LookupError:
            raise _mapping_error(f"Unknown text encoding {self.encoding!r}.", "encoding") from None
        if (
            isinstance(self.skip_rows, bool)
            or not isinstance(self.skip_rows, int)
            or not 0 <= self.skip_rows <= MAX_SKIP_ROWS
        ):
            raise _mapping_error(f"skip_rows is a whole number from 0 to {MAX_SKIP_ROWS}.", "skip_rows")

    @classmethod
    def from_json(cls, doc: object) -> CsvMapping:
        """The mapping from its JSON document (keys as the field names); DomainError
        `invalid_csv_mapping` naming the key that is wrong."""
        if not isinstance(doc, Mapping):
            raise _mapping_error("A CSV mapping is a JSON object.", None)
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for key, value in doc.items():
            if key not in known:
                raise _mapping_error(f"Unknown CSV mapping key {str(key)[:40]!r}.", str(key)[:40])
            if value is None:
                if key not in _NULLABLE:
                    raise _mapping_error(f"{key} cannot be null.", key)
                values[key] = None
            elif key in ("debit_marks", "credit_marks"):
                if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
                    raise _mapping_error('Marks are a list of strings, like ["D"].', key)
                values[key] = tuple(value)
            elif key == "skip_rows":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise _mapping_error("skip_rows is a whole number.", key)
                values[key] = value
            elif not isinstance(value, str):
                raise _mapping_error(f"{key} is a string.", key)
            else:
                values[key] = value
        if "date" not in values:
            raise _mapping_error("Name the date column.", "date")
        return cls(**values)  # type: ignore[arg-type]  # each value's type was checked above

    def to_json(self) -> dict[str, object]:
        """The JSON document `from_json` reads back into an equal mapping."""
        doc: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            doc[f.name] = list(value) if isinstance(value, tuple) else value
        return doc


class BankFileReader(Protocol):
    def read(
        self,
        content: bytes,
        *,
        format: StatementFormat | None = None,
        mapping: CsvMapping | None = None,
    ) -> BankStatement:
        """The file's statement with every line keyed (see `kassa.core.statements.keyed`).

        `format` None detects it; a CSV needs `mapping`. Raises BankFileError for anything it cannot
        read, and then nothing of the file is imported.
        """
        ...


# ---- shared by the format modules ----------------------------------------------------------------------

# Longer than any real balance; also keeps a hostile "amount" of a million digits out of Decimal.
MAX_AMOUNT_CHARS = 40
_PLAIN_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_SPACE = re.compile(r"\s+")


def checked_currency(code: str, where: str | None) -> str:
    try:
        return currency_code(code, "currency")
    except DomainError:
        raise BankFileError(f"{code[:10]!r} is not an ISO 4217 currency kassa can book.", where) from None


def money_from_decimal(value: Decimal, currency: str, where: str | None) -> Money:
    """Exact money in the currency's minor units; a bank amount with finer digits is a broken file."""
    try:
        money = Money(value, currency)
    except DomainError as error:
        raise BankFileError(f"{error.message}", where) from None
    if not money.is_rounded:
        raise BankFileError(f"{value} has more decimals than {currency} has ({money.exponent}).", where)
    return money.round()  # same value, written with the currency's digits ("500250" as 500250.00)


def money_from_text(text: str, currency: str, where: str | None) -> Money:
    """Money from a plain decimal with a point ("1533.50", "-80", "+.5"); the caller removed grouping."""
    text = text.strip()
    match = _PLAIN_DECIMAL.fullmatch(text) if len(text) <= MAX_AMOUNT_CHARS else None
    if match is None or not (match.group(2) or match.group(3)):
        raise BankFileError(f"{text[:MAX_AMOUNT_CHARS]!r} is not an amount.", where)
    sign = "-" if match.group(1) == "-" else ""
    whole, fraction = match.group(2) or "0", match.group(3)
    return money_from_decimal(
        Decimal(f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"), currency, where
    )


def iban_or_none(value: str | None) -> str | None:
    """The value normalized if it has an IBAN's shape; account numbers of other schemes are not IBANs."""
    iban = normalize_iban(value)
    return iban if iban and _IBAN.fullmatch(iban) else None


def clean_text(value: str | None) -> str | None:
    """Whitespace runs (line breaks, tabs, padding) as one space; None for nothing."""
    if value is None:
        return None
    text = _SPACE.sub(" ", value).strip()
    return text or None
