"""MT940 (SWIFT customer statement) on the mt-940 package, with the banks' `:86:` dialects read here.

The file is first cut into tags with their line numbers and each statement's tag order is checked
(`:20: :25: :28C: :60F: (:61: :86:)* :62F: :64: :65: :86:`); the package is lenient about order and
would, say, let a stray `:25:` in the middle of the lines rename the account, so a misplaced tag is a
`BankFileError` here. The package then reads the tags themselves (`:61:` amounts and dates, balances).
It leaves most `:86:` details raw, so they are read here in the dialects banks use:

- German/Polish structured (`166?00GUTSCHRIFT?20...?32NAME`, Triodos uses `>` for `?`): `?00` posting
  text, `?20`-`?29` and `?60`-`?63` remittance (SEPA keywords like `EREF+` kept, one space before each),
  `?31`/`?38` the other party's IBAN, `?32`+`?33` its name;
- Dutch SEPA tags (`/EREF/.../NAME/.../REMI/...`, `/CNTP/iban/bic/name/city/`, `/TRTP/` the type);
- free text (with Knab's `REK: iban/NAAM: name` at the end), kept whole as the reference.

A statement's lines carry no currency of their own: it is the opening balance's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

import mt940

from kassa.adapters.bank_files.base import (
    CsvMapping,
    checked_currency,
    clean_text,
    iban_or_none,
    money_from_decimal,
)
from kassa.core.money import Money
from kassa.core.statements import BankFileError, BankStatement, StatementFormat, StatementLine

# The tags the package knows; any other ":xx:" at a line start is text of the tag before it, as there.
_TAG = re.compile(r":(?P<id>(?P<base>13|20|21|25|28|34|60|61|62|64|65|86|90|NS)[A-Z]?):")
_HEADER = frozenset({"13", "21", "25", "28", "34", "NS"})
_AFTER_CLOSING = frozenset({"64", "65", "86", "90", "NS"})
_LAYOUT = "a statement runs :20: :25: :28C: :60F: (:61: :86:)... :62F: [:64:] [:65:] [:86:]"
_NO_REFERENCE = frozenset({"", "NONREF"})
_LINE_WIDTH = 65  # SWIFT's x-character lines

# Every fix the package offers over its 5.0.0 behaviour: a reversal of a credit (RC) is money out,
# details are not cut after 585 characters, a byte-order mark is not taken for text.
_OPTIONS = mt940.Options.all()
# The package's own :86: processor would parse (and partly drop) the German subfields: read raw here.
_PROCESSORS: mt940.models.Processors = {"post_transaction_details": []}

# The package logs every tag it cannot match at ERROR, regex and all; here that is a user's bad upload,
# reported to them as a BankFileError, not an operational error for kassa's logs.
logging.getLogger("mt940").setLevel(logging.CRITICAL)

_STRUCTURED = re.compile(r"\s*(?P<code>[0-9]{3})(?P<sep>[?>])[0-9]{2}")
_SEPA_KEYWORDS = re.compile(
    r"(?<=\S)(?=(?:EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|PURP|COAM|OAMT|SQTP|ORCR|ORMR|DDAT|MDAT)\+)"
)
_DUTCH_CODES = "ADDR|BENM|BIC|CNTP|CSID|EREF|IBAN|ID|ISDT|MARF|NAME|ORDP|PREF|PURP|REMI|RTRN|SWOC|TRCD|TRTP|ULTB|ULTC|ULTD"
_DUTCH = re.compile(rf"/({_DUTCH_CODES})/")
_KNAB_PARTY = re.compile(r"\bREK: ?(?P<iban>[A-Z]{2}[0-9]{2}[A-Z0-9]+) ?/ ?NAAM: ?(?P<name>.*)$")


@dataclass(frozen=True, slots=True)
class _Tag:
    id: str  # "61", "60F", "28C"
    line: int  # where it starts in the file
    text: str  # its value: the rest of the first line and the lines that continue it

    @property
    def base(self) -> str:
        return self.id[:2]


@dataclass(frozen=True, slots=True)
class _Details:
    reference: str | None = None
    name: str | None = None
    iban: str | None = None
    description: str | None = None


def parse(content: bytes, mapping: CsvMapping | None = None) -> tuple[BankStatement, ...]:
    """Every statement (`:20:` block) of an MT940 file; BankFileError for anything unreadable."""
    del mapping  # CSV only
    blocks = _blocks(_tags(_decoded(content)))
    if not blocks:
        raise BankFileError("No MT940 statement found: the file has no :20: tag.", "line 1")
    return tuple(_statement(block) for block in blocks)


def _decoded(content: bytes) -> str:
    # SWIFT's character set is ASCII; banks that stray use UTF-8 or a Windows/ISO code page.
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = content.decode("latin-1")  # maps every byte
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _tags(text: str) -> list[_Tag]:
    tags: list[_Tag] = []
    current: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(text.split("\n"), 1):
        match = _TAG.match(line)
        if match:
            if current is not None:
                tags.append(_Tag(current[0], current[1], "\n".join(current[2])))
            current = (match.group("id"), number, [line[match.end() :]])
        elif line.strip() == "-" or line.startswith("-}"):
            # End of a message; what follows until the next tag is an envelope header.
            if current is not None:
                tags.append(_Tag(current[0], current[1], "\n".join(current[2])))
            current = None
        elif line.strip() and current is not None:
            current[2].append(line)
    if current is not None:
        tags.append(_Tag(current[0], current[1], "\n".join(current[2])))
    return tags


def _blocks(tags: list[_Tag]) -> list[list[_Tag]]:
    blocks: list[list[_Tag]] = []
    for tag in tags:
        if tag.base == "20":
            blocks.append([tag])
        elif not blocks:
            raise BankFileError(f":{tag.id}: comes before the first :20:; {_LAYOUT}.", f"line {tag.line}")
        else:
            blocks[-1].append(tag)
    return blocks


def _check_layout(block: list[_Tag]) -> None:
    seen: set[str] = set()
    phase = "header"
    closing_line = 0
    for tag in block[1:]:
        where = f"line {tag.line}"
        if phase == "header":
            if tag.base in _HEADER:
                if tag.base in seen and tag.base != "NS":
                    raise BankFileError(f"A second :{tag.id}: in one statement; {_LAYOUT}.", where)
                seen.add(tag.base)
            elif tag.base == "60":
                if "25" not in seen:
                    raise BankFileError(
                        f"The opening balance comes before the account (:25:); {_LAYOUT}.", where
                    )
                phase = "lines"
            else:
                raise BankFileError(f":{tag.id}: before the opening balance (:60F:); {_LAYOUT}.", where)
        elif phase == "lines":
            if tag.base == "62":
                phase, closing_line = "closing", tag.line
            elif tag.base not in ("61", "86", "90", "NS"):
                raise BankFileError(f":{tag.id}: among the statement lines; {_LAYOUT}.", where)
        elif tag.base not in _AFTER_CLOSING:
            raise BankFileError(
                f":{tag.id}: after the closing balance (line {closing_line}); {_LAYOUT}.", where
            )
    if phase != "closing":
        raise BankFileError(
            f"The statement ends without a closing balance (:62F:); {_LAYOUT}.", f"line {block[0].line}"
        )


def _package_text(tags: list[_Tag]) -> str:
    return "\n".join(f":{tag.id}:{tag.text}" for tag in tags)


def _parsed(block: list[_Tag]) -> mt940.models.Transactions:
    transactions = mt940.models.Transactions(processors=_PROCESSORS, options=_OPTIONS)
    try:
        transactions.parse(_package_text(block))
    except Exception as error:  # noqa: BLE001 - the package signals a bad tag with any of RuntimeError,
        # ValueError, decimal.InvalidOperation, KeyError...; each becomes the file's error here.
        raise _located(block, error) from None
    return transactions


def _located(block: list[_Tag], error: Exception) -> BankFileError:
    """The error at the first tag the package cannot read on its own."""
    for tag in block:
        try:
            mt940.models.Transactions(processors=_PROCESSORS, options=_OPTIONS).parse(_package_text([tag]))
        except Exception:  # noqa: BLE001 - see _parsed
            return BankFileError(f":{tag.id}: is not valid MT940: {tag.text[:60]!r}.", f"line {tag.line}")
    return BankFileError(f"Unreadable statement ({type(error).__name__}).", f"line {block[0].line}")


def _statement(block: list[_Tag]) -> BankStatement:
    _check_layout(block)
    transactions = _parsed(block)
    data = transactions.data
    by_base = {tag.base: tag for tag in block}
    opening_tag, closing_tag = by_base["60"], by_base["62"]
    opening, opened_on = _balance(
        data, ("final_opening_balance", "opening_balance", "intermediate_opening_balance"), opening_tag
    )
    closing, closed_on = _balance(
        data, ("final_closing_balance", "closing_balance", "intermediate_closing_balance"), closing_tag
    )
    currency = opening.currency
    if closing.currency != currency:
        raise BankFileError(
            f"The closing balance is in {closing.currency}, the opening one in {currency}.",
            f"line {closing_tag.line}",
        )
    statement_lines = [tag for tag in block if tag.base == "61"]
    if len(statement_lines) != len(transactions):
        raise BankFileError(
            "Each :61: line needs its transaction type code (like NTRF) to be told from the next one.",
            f"line {statement_lines[0].line if statement_lines else block[0].line}",
        )
    # Details wrap at 65 characters, and a space that falls at the wrap is text ("Fuellzeichen " +
    # "xxx"); but some banks pad every line with a space, which is not text ("333/ " + "2003").
    padded = block[0].text.split("\n")[0] != block[0].text.split("\n")[0].rstrip()
    details = _details_by_line(block, padded)
    lines = tuple(
        _line(tx.data, tag, details[tag.line], currency)
        for tx, tag in zip(transactions, statement_lines, strict=True)
    )
    number = by_base.get("28")
    return BankStatement(
        format=StatementFormat.MT940,
        account=_account(str(data.get("account_identification") or ""), currency),
        currency=currency,
        statement_id=clean_text(number.text if number else block[0].text),
        opening_balance=opening,
        closing_balance=closing,
        opened_on=opened_on,
        closed_on=closed_on,
        lines=lines,
    )


def _balance(data: dict[str, object], keys: tuple[str, ...], tag: _Tag) -> tuple[Money, date]:
    """The first of the balances `keys` the package read: signed money and its date."""
    for key in keys:
        balance = data.get(key)
        if isinstance(balance, mt940.models.Balance) and isinstance(balance.amount, mt940.models.Amount):
            where = f"line {tag.line}"
            currency = checked_currency(str(balance.amount.currency), where)
            return money_from_decimal(balance.amount.amount, currency, where), _day(balance.date)
    raise BankFileError("The balance could not be read.", f"line {tag.line}")


def _day(value: object) -> date:
    if not isinstance(value, date):
        raise BankFileError("A date is missing.", None)
    return date(value.year, value.month, value.day)  # the package's own date subclass, made plain


def _account(raw: str, currency: str) -> str | None:
    text = clean_text(raw)
    if text is None:
        return None
    compact = text.replace(" ", "").upper()
    # Some banks append the currency to the IBAN (NL..RABO0123456789EUR).
    if compact.endswith(currency) and iban_or_none(compact[: -len(currency)]):
        return compact[: -len(currency)]
    return iban_or_none(compact) or text


def _details_by_line(block: list[_Tag], padded: bool) -> dict[int, list[str]]:
    """For each :61: (by its line number), the lines of the :86: tags right after it (some banks
    send more than one); a :86: after the closing balance is about the statement and is left out."""
    details: dict[int, list[str]] = {}
    current: list[str] | None = None
    for tag in block:
        if tag.base == "61":
            current = details[tag.line] = []
        elif tag.base == "86" and current is not None:
            for i, line in enumerate(tag.text.split("\n")):
                width = len(line) + (len(":86:") if i == 0 else 0)
                current.append(line if width >= _LINE_WIDTH and not padded else line.rstrip())
        else:
            current = None
    return details


def _line(data: dict[str, object], tag: _Tag, lines: list[str], currency: str) -> StatementLine:
    where = f"line {tag.line}"
    amount = data.get("amount")
    if not isinstance(amount, mt940.models.Amount):
        raise BankFileError("The :61: line has no amount.", where)
    money: Money = money_from_decimal(amount.amount, currency, where)
    value_day = _day(data.get("date"))
    entry_day = data.get("entry_date")
    details = _details(lines)
    extra = clean_text(str(data.get("extra_details") or ""))
    extra_iban = iban_or_none(extra)
    customer_reference = clean_text(str(data.get("customer_reference") or ""))
    bank_reference = clean_text(str(data.get("bank_reference") or ""))
    return StatementLine(
        booked_on=_day(entry_day) if entry_day is not None else value_day,
        value_on=value_day,
        amount=money,
        reference=details.reference
        or (customer_reference if customer_reference not in _NO_REFERENCE else None),
        counterparty_name=details.name,
        counterparty_iban=details.iban or extra_iban,
        bank_reference=bank_reference if bank_reference not in _NO_REFERENCE else None,
        description=details.description or (None if extra_iban else extra),
    )


def _details(lines: list[str]) -> _Details:
    if not lines:
        return _Details()
    joined = "".join(lines)  # structured details wrap at a fixed width, mid-word
    structured = _STRUCTURED.match(joined)
    if structured:
        return _subfields(joined[structured.start("sep") :], structured.group("sep"))
    if _DUTCH.match(joined.lstrip()):
        return _dutch(joined.lstrip())
    text = clean_text(" ".join(lines))
    if text is None:
        return _Details()
    party = _KNAB_PARTY.search(text)
    if party:
        return _Details(
            reference=clean_text(text[: party.start()]),
            name=clean_text(party.group("name")),
            iban=iban_or_none(party.group("iban")),
        )
    return _Details(reference=text)


def _subfields(text: str, separator: str) -> _Details:
    parts = re.split(rf"{re.escape(separator)}([0-9]{{2}})", text)
    fields: dict[str, list[str]] = {}
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        fields.setdefault(code, []).append(value)

    def joined(*codes: str) -> str:
        return "".join("".join(fields.get(code, [])) for code in codes)

    remittance = joined(*(f"2{i}" for i in range(10)), "60", "61", "62", "63")
    return _Details(
        reference=clean_text(_SEPA_KEYWORDS.sub(" ", remittance)),
        name=clean_text(joined("32", "33")),
        iban=iban_or_none(joined("38")) or iban_or_none(joined("31")),
        description=clean_text(joined("00")),
    )


def _dutch(text: str) -> _Details:
    parts = _DUTCH.split(text)
    fields: dict[str, str] = {}
    for code, value in zip(parts[1::2], parts[2::2], strict=True):
        fields.setdefault(code, value.strip().strip("/").strip())
    counterparty = fields.get("CNTP", "").split("/")  # account/BIC/name/city
    remittance = fields.get("REMI", "")
    for prefix in ("USTD//", "USTD/", "STRD/CUR/", "STRD/ISO/", "STRD//"):
        if remittance.startswith(prefix):
            remittance = remittance[len(prefix) :]
            break
    end_to_end = fields.get("EREF")
    return _Details(
        reference=clean_text(remittance) or (clean_text(end_to_end) if end_to_end != "NOTPROVIDED" else None),
        name=clean_text(fields.get("NAME")) or clean_text(counterparty[2] if len(counterparty) > 2 else None),
        iban=iban_or_none(fields.get("IBAN")) or iban_or_none(counterparty[0]),
        description=clean_text(fields.get("TRTP")),
    )
