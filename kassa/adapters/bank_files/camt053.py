"""CAMT.053 (ISO 20022 BankToCustomerStatement) read with defusedxml, whatever its version (.001.02 to .08).

Elements are matched by local name, so one reader serves every namespace version: the parts kassa needs
(entries, balances, related parties, remittance) kept their names and places from .02 to .08, except
that .08 wraps a related party's name in `Pty`. One `Stmt` becomes one `BankStatement`; one booked
entry (`Ntry`) becomes one line, or one line per transaction (`TxDtls`) when a batch booking itemizes
its transactions with amounts that add up to the entry. Pending and information-only entries (status
other than BOOK) are not bookings and are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from xml.etree.ElementTree import Element, ParseError

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

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_OTHER_MESSAGES = {
    "BkToCstmrAcctRpt": "a camt.052 account report",
    "BkToCstmrDbtCdtNtfctn": "a camt.054 debit/credit notification",
}
_OPENING = ("OPBD", "PRCD")  # opening booked; else the previous statement's closing booked
_CLOSING = "CLBD"
_NOT_PROVIDED = "NOTPROVIDED"


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Node:
    """An element with its path in the file, for error messages ("Stmt[1]/Ntry[3]/Amt")."""

    __slots__ = ("element", "path")

    def __init__(self, element: Element, path: str) -> None:
        self.element = element
        self.path = path

    def all(self, name: str) -> list[_Node]:
        found = [child for child in self.element if _local(child.tag) == name]
        prefix = f"{self.path}/" if self.path else ""
        return [_Node(child, f"{prefix}{name}[{i}]") for i, child in enumerate(found, 1)]

    def first(self, *names: str) -> _Node | None:
        node: _Node | None = self
        for name in names:
            if node is None:
                return None
            child = next((c for c in node.element if _local(c.tag) == name), None)
            node = None if child is None else _Node(child, f"{node.path}/{name}")
        return node

    def need(self, *names: str) -> _Node:
        node = self.first(*names)
        if node is None:
            raise BankFileError(f"{'/'.join(names)} is missing.", self.path)
        return node

    def text(self, *names: str) -> str | None:
        node = self.first(*names)
        return None if node is None else clean_text(node.element.text)

    def attribute(self, name: str) -> str | None:
        value = self.element.get(name)
        return value.strip() if value is not None else None


def parse(content: bytes, mapping: CsvMapping | None = None) -> tuple[BankStatement, ...]:
    """Every statement (`Stmt`) of a camt.053 file; BankFileError for anything unreadable."""
    del mapping  # CSV only
    root = _root(content)
    if _local(root.tag) != "Document":
        raise BankFileError(f"A camt.053 file's root is Document, not {_local(root.tag)[:40]}.", "/")
    body = next(iter(root), None)
    if body is None or _local(body.tag) != "BkToCstmrStmt":
        name = _local(body.tag) if body is not None else ""
        kind = _OTHER_MESSAGES.get(name, f"a {name[:40] or 'empty'} message")
        raise BankFileError(f"This is {kind}, not a camt.053 statement (BkToCstmrStmt).", "Document")
    statements = _Node(body, "").all("Stmt")  # paths start at the statement: "Stmt[1]/Ntry[3]/Amt"
    if not statements:
        raise BankFileError("The file holds no statement (Stmt).", "BkToCstmrStmt")
    return tuple(_statement(stmt) for stmt in statements)


def _root(content: bytes) -> Element:
    try:
        root: Element = fromstring(content, forbid_dtd=True)
    except DefusedXmlException:
        raise BankFileError(
            "The XML declares a DTD or entities, which no bank statement needs (entity expansion is "
            "how billion-laughs attacks work); refused.",
            None,
        ) from None
    except ParseError as error:
        line = error.position[0] if error.position else None
        raise BankFileError(f"Not well-formed XML: {str(error)[:200]}", f"line {line}") from None
    except (ValueError, LookupError) as error:
        # An unknown or multi-byte encoding declared in the XML prolog.
        raise BankFileError(f"Unreadable XML: {str(error)[:200]}", "line 1") from None
    return root


def _statement(stmt: _Node) -> BankStatement:
    iban = stmt.text("Acct", "Id", "IBAN")
    account = iban_or_none(iban) or iban or stmt.text("Acct", "Id", "Othr", "Id")
    currency = _currency(stmt)
    balances: dict[str, tuple[Money, date]] = {}
    for balance in stmt.all("Bal"):
        code = balance.text("Tp", "CdOrPrtry", "Cd")
        if code in (*_OPENING, _CLOSING) and code not in balances:
            balances[code] = (_signed_amount(balance, currency), _date(balance.need("Dt")))
    opening = next((balances[code] for code in _OPENING if code in balances), None)
    closing = balances.get(_CLOSING)
    lines: list[StatementLine] = []
    for entry in stmt.all("Ntry"):
        status = entry.text("Sts", "Cd") or entry.text("Sts")
        if status is not None and status != "BOOK":
            continue
        lines.extend(_entry_lines(entry, currency))
    period = stmt.first("FrToDt")
    return BankStatement(
        format=StatementFormat.CAMT053,
        account=account,
        currency=currency,
        statement_id=stmt.text("Id"),
        opening_balance=opening[0] if opening else None,
        closing_balance=closing[0] if closing else None,
        opened_on=opening[1] if opening else _period_day(period, "FrDtTm"),
        closed_on=closing[1] if closing else _period_day(period, "ToDtTm"),
        lines=tuple(lines),
    )


def _currency(stmt: _Node) -> str:
    """The account's currency, else the one its balances and entries are in."""
    code = stmt.text("Acct", "Ccy")
    where = f"{stmt.path}/Acct/Ccy"
    if code is None:
        for name in ("Bal", "Ntry"):
            amount = next((n.first("Amt") for n in stmt.all(name) if n.first("Amt") is not None), None)
            if amount is not None:
                code, where = amount.attribute("Ccy"), f"{amount.path}/@Ccy"
                break
    if code is None:
        raise BankFileError("The statement names no currency (Acct/Ccy or an amount's Ccy).", stmt.path)
    return checked_currency(code, where)


def _amount(node: _Node, currency: str) -> Money:
    """`Amt` of `node`, unsigned, in the statement's currency."""
    amount = node.need("Amt")
    code = amount.attribute("Ccy")
    if code != currency:
        raise BankFileError(
            f"The amount is in {str(code)[:10]}; the statement is in {currency}.", f"{amount.path}/@Ccy"
        )
    money = money_from_text(amount.element.text or "", currency, amount.path)
    if money.amount < 0:
        raise BankFileError("A camt amount is unsigned; CdtDbtInd gives the direction.", amount.path)
    return money


def _credit(node: _Node, default: bool | None = None) -> bool:
    indicator = node.text("CdtDbtInd")
    if indicator is None and default is not None:
        return default
    if indicator not in ("CRDT", "DBIT"):
        raise BankFileError(
            f"CdtDbtInd is CRDT or DBIT, not {str(indicator)[:10]!r}.", f"{node.path}/CdtDbtInd"
        )
    return indicator == "CRDT"


def _signed_amount(node: _Node, currency: str) -> Money:
    money = _amount(node, currency)
    return money if _credit(node) else -money


def _date(node: _Node) -> date:
    """A `Dt` or `DtTm` child; a date-time counts for the day the bank wrote, whatever its zone."""
    value = node.first("Dt") or node.first("DtTm")
    if value is None:
        raise BankFileError("A date (Dt or DtTm) is missing.", node.path)
    return _day(value)


def _day(node: _Node) -> date:
    text = (node.element.text or "").strip()
    if not _DATE.match(text):
        raise BankFileError(f"{text[:30]!r} is not an ISO date.", node.path)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise BankFileError(f"{text[:30]!r} is not a calendar date.", node.path) from None


def _period_day(period: _Node | None, name: str) -> date | None:
    node = period.first(name) if period is not None else None
    return _day(node) if node is not None else None


def _entry_lines(entry: _Node, currency: str) -> Iterator[StatementLine]:
    credit = _credit(entry)
    amount = _amount(entry, currency)
    signed = amount if credit else -amount
    booked = entry.first("BookgDt") or entry.first("ValDt")
    if booked is None:
        raise BankFileError("The entry has no booking date (BookgDt).", entry.path)
    value = entry.first("ValDt")
    booked_on = _date(booked)
    value_on = _date(value) if value is not None else None
    bank_reference = entry.text("AcctSvcrRef")
    entry_info = entry.text("AddtlNtryInf")
    transactions = [tx for details in entry.all("NtryDtls") for tx in details.all("TxDtls")]
    itemized = [_itemized_amount(tx, currency, credit) for tx in transactions]
    parts = [m for m in itemized if m is not None]
    if len(transactions) > 1 and len(parts) == len(transactions) and sum(parts) == signed:
        for tx, part in zip(transactions, parts, strict=True):
            info = _Transaction(tx, part.amount > 0)
            yield StatementLine(
                amount=part,
                reference=info.reference,
                counterparty_name=info.name,
                counterparty_iban=info.iban,
                description=entry_info or info.additional,
                booked_on=booked_on,
                value_on=value_on,
                bank_reference=bank_reference,
            )
        return
    infos = [_Transaction(tx, credit) for tx in transactions]
    yield StatementLine(
        amount=signed,
        reference=_joined(i.reference for i in infos),
        counterparty_name=_only({i.name for i in infos}),
        counterparty_iban=_only({i.iban for i in infos}),
        description=entry_info or _joined(i.additional for i in infos),
        booked_on=booked_on,
        value_on=value_on,
        bank_reference=bank_reference,
    )


def _itemized_amount(tx: _Node, currency: str, entry_credit: bool) -> Money | None:
    """The transaction's own signed amount when it states one in the statement's currency."""
    # .04 and later put it in TxDtls/Amt, .02 only in AmtDtls/TxAmt/Amt.
    holder = tx if tx.first("Amt") is not None else tx.first("AmtDtls", "TxAmt")
    if holder is None or holder.first("Amt") is None:
        return None
    if holder.need("Amt").attribute("Ccy") != currency:
        return None
    money = _amount(holder, currency)
    return money if _credit(tx, entry_credit) else -money


class _Transaction:
    """Remittance and the other party of one `TxDtls`: the debtor of a credit, the creditor of a debit."""

    __slots__ = ("additional", "iban", "name", "reference")

    def __init__(self, tx: _Node, credit: bool) -> None:
        remittance = tx.first("RmtInf")
        texts: list[str | None] = []
        if remittance is not None:
            texts.extend(s.text("CdtrRefInf", "Ref") for s in remittance.all("Strd"))
            texts.extend(clean_text(u.element.text) for u in remittance.all("Ustrd"))
        end_to_end = tx.text("Refs", "EndToEndId")
        if end_to_end == _NOT_PROVIDED:
            end_to_end = None
        # The end-to-end id is the payer's own reference; it stands in when nothing else is said.
        self.reference = _joined(texts) or end_to_end
        party = "Dbtr" if credit else "Cdtr"
        parties = tx.first("RltdPties")
        self.name: str | None = None
        self.iban: str | None = None
        if parties is not None:
            self.name = parties.text(party, "Nm") or parties.text(party, "Pty", "Nm")
            self.iban = iban_or_none(parties.text(f"{party}Acct", "Id", "IBAN"))
        self.additional = tx.text("AddtlTxInf")


def _joined(texts: Iterator[str | None] | list[str | None]) -> str | None:
    unique = list(dict.fromkeys(t for t in texts if t))
    return " ".join(unique) if unique else None


def _only(values: set[str | None]) -> str | None:
    """The value every transaction agrees on; several parties in one line name none of them."""
    values.discard(None)
    return values.pop() if len(values) == 1 else None
