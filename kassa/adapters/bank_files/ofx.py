"""OFX bank and credit-card statements: OFX 1.x (a header, then SGML whose leaf elements need no end tag)
and OFX 2 (XML, read with defusedxml). Both become one element tree that the same code reads.

Each `STMTRS` (bank) and `CCSTMTRS` (credit card) aggregate is one statement: `CURDEF` its currency,
`BANKACCTFROM`/`CCACCTFROM` `ACCTID` its account, `LEDGERBAL` its closing balance, and every `STMTTRN`
of its transaction lists a line. `TRNAMT` is signed from the account holder's side already (money in is
positive); `FITID`, the bank's id for the transaction, is the line's bank reference.
"""

from __future__ import annotations

import codecs
import html
import re
from datetime import date
from xml.etree.ElementTree import Element, ParseError, SubElement

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from kassa.adapters.bank_files.base import (
    CsvMapping,
    checked_currency,
    clean_text,
    iban_or_none,
    money_from_text,
)
from kassa.core.money import Money
from kassa.core.statements import BankFileError, BankStatement, StatementFormat, StatementLine

_BOM_AND_SPACE = b"\xef\xbb\xbf \t\r\n"
_SGML_TOKEN = re.compile(
    r"<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9._]*)\s*>|(?P<comment><!--.*?-->)|(?P<text>[^<]+)|(?P<bad><)",
    re.DOTALL,
)
_HEADER_LINE = re.compile(r"(?P<key>[A-Z]+)\s*:\s*(?P<value>.*)")
_CHARSETS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "8859-1": "latin-1", "NONE": "cp1252"}
_OFX_DATE = re.compile(
    r"(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})"
    r"(?:[0-9]{4}(?:[0-9]{2}(?:\.[0-9]{1,3})?)?)?(?:\s*\[[^\]]{0,20}\])?"
)
_OFX_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")
_STATEMENTS = ("STMTRS", "CCSTMTRS")


def parse(content: bytes, mapping: CsvMapping | None = None) -> tuple[BankStatement, ...]:
    """Every bank and credit-card statement in an OFX file; BankFileError for anything unreadable."""
    del mapping  # CSV only
    start = content.lstrip(_BOM_AND_SPACE)
    root = _xml(content) if start.startswith(b"<?") else _sgml(content)
    if root.tag != "OFX":
        raise BankFileError(f"An OFX file's root element is OFX, not {root.tag[:40]}.", root.tag[:40])
    found = [element for element in root.iter() if element.tag in _STATEMENTS]
    if not found:
        raise BankFileError("The file holds no statement (STMTRS or CCSTMTRS).", "OFX")
    return tuple(_statement(element, f"{element.tag}[{i}]") for i, element in enumerate(found, 1))


def _xml(content: bytes) -> Element:
    try:
        root: Element = fromstring(content, forbid_dtd=True)
    except DefusedXmlException:
        raise BankFileError(
            "The XML declares a DTD or entities, which OFX never needs; refused.", None
        ) from None
    except ParseError as error:
        line = error.position[0] if error.position else None
        raise BankFileError(f"Not well-formed XML: {str(error)[:200]}", f"line {line}") from None
    except (ValueError, LookupError) as error:
        raise BankFileError(f"Unreadable XML: {str(error)[:200]}", "line 1") from None
    return root


def _sgml(content: bytes) -> Element:
    content = content.removeprefix(codecs.BOM_UTF8)
    body_at = content.find(b"<")
    if body_at < 0:
        raise BankFileError("No OFX body: the file has no <OFX> element.", None)
    encoding = _sgml_encoding(content[:body_at])
    first_line = content[:body_at].count(b"\n") + 1
    try:
        text = content[body_at:].decode(encoding)
    except UnicodeDecodeError as error:
        line = first_line + content[body_at : body_at + error.start].count(b"\n")
        raise BankFileError(f"A byte is not valid {encoding} text.", f"line {line}") from None
    return _sgml_tree(text, first_line)


def _sgml_encoding(header: bytes) -> str:
    """The body's encoding from the OFX 1 header (ENCODING, CHARSET); none given means Windows-1252."""
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        raise BankFileError("The OFX header is not ASCII text.", "line 1") from None
    fields: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        match = _HEADER_LINE.fullmatch(line)
        if match is None:
            raise BankFileError(f"{line[:40]!r} is not an OFX header line (KEY:VALUE).", f"line {number}")
        fields[match.group("key")] = match.group("value").strip().upper()
    if fields and fields.get("OFXHEADER") != "100":
        raise BankFileError("An OFX 1 header starts with OFXHEADER:100.", "line 1")
    if fields.get("ENCODING") == "UTF-8":
        return "utf-8"
    charset = fields.get("CHARSET", "NONE")
    encoding = _CHARSETS.get(charset, f"cp{charset}" if charset.isdigit() else charset)
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise BankFileError(f"Unknown OFX CHARSET {charset[:20]!r}.", "CHARSET") from None


def _sgml_tree(text: str, first_line: int) -> Element:
    """The SGML body as a tree. A leaf (an element with a value) may omit its end tag, so it ends at the
    next tag; an aggregate must be closed."""
    document = Element("#document")
    stack = [document]
    line = first_line
    position = 0
    while position < len(text):
        token = _SGML_TOKEN.match(text, position)
        assert token is not None  # the last alternative matches any remaining character
        where = f"line {line}"
        if token.group("bad"):
            raise BankFileError("A '<' that starts no tag.", where)
        if token.group("text") is not None:
            value = token.group("text").strip()
            if value:
                top = stack[-1]
                if top is document or len(top) or top.text is not None:
                    raise BankFileError(f"Text {value[:30]!r} outside a value element.", where)
                top.text = html.unescape(value)
        elif token.group("name"):
            name = token.group("name").upper()
            if stack[-1].text is not None and not (token.group("close") and stack[-1].tag == name):
                stack.pop()  # a leaf left open ends at the next tag
            if token.group("close"):
                if len(stack) == 1:
                    raise BankFileError(f"</{name}> closes nothing open here.", where)
                if stack[-1].tag != name:
                    raise BankFileError(f"</{name}> while <{stack[-1].tag}> is open.", where)
                stack.pop()
            else:
                stack.append(SubElement(stack[-1], name))
        line += token.group(0).count("\n")
        position = token.end()
    if stack[-1].text is not None:
        stack.pop()
    if len(stack) > 1:
        raise BankFileError(f"<{stack[-1].tag}> is never closed.", f"line {line}")
    if len(document) != 1:
        raise BankFileError("An OFX body is one <OFX> element.", f"line {first_line}")
    return document[0]


def _text(element: Element, path: str) -> str | None:
    found = element.find(path)
    return clean_text(found.text) if found is not None else None


def _need(element: Element, path: str, where: str) -> str:
    value = _text(element, path)
    if value is None:
        raise BankFileError(f"{path} is missing.", where)
    return value


def _amount(text: str, currency: str, where: str) -> Money:
    if not _OFX_AMOUNT.fullmatch(text):
        raise BankFileError(f"{text[:40]!r} is not an OFX amount.", where)
    return money_from_text(text.replace(",", "."), currency, where)


def _day(text: str, where: str) -> date:
    match = _OFX_DATE.fullmatch(text)
    if match is None:
        raise BankFileError(
            f"{text[:40]!r} is not an OFX date (YYYYMMDD[HHMMSS[.XXX]][[offset:zone]]).", where
        )
    try:
        # The day the bank states, in its own zone: that is the day it booked.
        return date(int(match.group("year")), int(match.group("month")), int(match.group("day")))
    except ValueError:
        raise BankFileError(f"{text[:40]!r} is not a calendar date.", where) from None


def _optional_day(element: Element, path: str, where: str) -> date | None:
    text = _text(element, path)
    return _day(text, f"{where}/{path}") if text is not None else None


def _statement(element: Element, where: str) -> BankStatement:
    currency = checked_currency(_need(element, "CURDEF", where), f"{where}/CURDEF")
    account_id = _text(element, "BANKACCTFROM/ACCTID") or _text(element, "CCACCTFROM/ACCTID")
    lists = element.findall("BANKTRANLIST")
    transactions = [tx for tran_list in lists for tx in tran_list.findall("STMTTRN")]
    lines = tuple(_line(tx, currency, f"{where}/STMTTRN[{i}]") for i, tx in enumerate(transactions, 1))
    ledger = element.find("LEDGERBAL")
    closing: Money | None = None
    closed_on: date | None = None
    if ledger is not None:
        closing = _amount(
            _need(ledger, "BALAMT", f"{where}/LEDGERBAL"), currency, f"{where}/LEDGERBAL/BALAMT"
        )
        closed_on = _optional_day(ledger, "DTASOF", f"{where}/LEDGERBAL")
    if closed_on is None and lists:
        closed_on = _optional_day(lists[-1], "DTEND", f"{where}/BANKTRANLIST")
    return BankStatement(
        format=StatementFormat.OFX,
        account=iban_or_none(account_id) or account_id,
        currency=currency,
        closing_balance=closing,
        opened_on=_optional_day(lists[0], "DTSTART", f"{where}/BANKTRANLIST") if lists else None,
        closed_on=closed_on,
        lines=lines,
    )


def _line(tx: Element, currency: str, where: str) -> StatementLine:
    other = _text(tx, "CURRENCY/CURSYM")
    if other is not None and other != currency:
        # TRNAMT is then in that currency, which one statement in CURDEF cannot hold.
        raise BankFileError(
            f"The transaction is in {other[:3]}, the statement in {currency}.", f"{where}/CURRENCY"
        )
    return StatementLine(
        booked_on=_day(_need(tx, "DTPOSTED", where), f"{where}/DTPOSTED"),
        value_on=_optional_day(tx, "DTAVAIL", where),
        amount=_amount(_need(tx, "TRNAMT", where), currency, f"{where}/TRNAMT"),
        reference=_text(tx, "MEMO"),
        counterparty_name=_text(tx, "NAME") or _text(tx, "PAYEE/NAME"),
        counterparty_iban=iban_or_none(_text(tx, "BANKACCTTO/ACCTID")),
        bank_reference=_text(tx, "FITID"),
        description=_text(tx, "TRNTYPE"),
    )
