"""Bank statements as kassa reads them, whatever file they came in (CAMT.053, MT940, OFX, CSV).

The parsers in `kassa.adapters.bank_files` turn a file into one `BankStatement`; reconciliation matches its
lines to invoices and payouts. A line's `key` is what makes an import exactly once: the bank's own
reference when it gives one, else a digest of what the line says (with its ordinal among identical
lines), so importing the same file again, or an overlapping one, adds nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from kassa.core.errors import DomainError
from kassa.core.money import Money


class StatementFormat(StrEnum):
    CAMT053 = "camt053"
    MT940 = "mt940"
    OFX = "ofx"
    CSV = "csv"


class BankFileError(DomainError):
    """A file kassa cannot read: nothing of it is imported. `field` locates the problem in the file
    ("line 14", "Stmt/Ntry[3]/Amt", "row 7.amount")."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__("invalid_bank_file", message, where)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementLine:
    booked_on: date
    value_on: date | None = None
    amount: Money  # signed: money in is positive
    reference: str | None = None  # remittance information: invoice numbers, customer reference
    counterparty_name: str | None = None
    counterparty_iban: str | None = None  # normalized: no spaces, upper case
    bank_reference: str | None = None  # the bank's id for the entry, when it gives one
    description: str | None = None  # whatever else the bank wrote (transaction type text)
    key: str = ""  # filled by `keyed()`

    @property
    def credit(self) -> bool:
        return self.amount.amount > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BankStatement:
    format: StatementFormat
    account: str | None  # the account's IBAN (normalized) or the bank's account number
    currency: str
    statement_id: str | None = None
    opening_balance: Money | None = None
    closing_balance: Money | None = None
    opened_on: date | None = None
    closed_on: date | None = None
    lines: tuple[StatementLine, ...] = field(default_factory=tuple)


def line_key(account: str | None, line: StatementLine, ordinal: int) -> str:
    if line.bank_reference:
        return f"ref:{line.bank_reference}"
    text = "\x1f".join(
        str(part or "")
        for part in (
            account,
            line.booked_on.isoformat(),
            line.amount.amount_text(),
            line.amount.currency,
            line.reference,
            line.counterparty_name,
            line.counterparty_iban,
            line.description,
            ordinal,
        )
    )
    return "sha:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def keyed(statement: BankStatement) -> BankStatement:
    """The statement with every line's `key` set; identical lines count up so each keeps its own key."""
    seen: dict[str, int] = {}
    lines: list[StatementLine] = []
    for line in statement.lines:
        base = line_key(statement.account, line, 0)
        ordinal = seen.get(base, 0)
        seen[base] = ordinal + 1
        key = base if ordinal == 0 else line_key(statement.account, line, ordinal)
        if line.bank_reference and ordinal:
            key = f"{base}#{ordinal}"
        lines.append(replace(line, key=key))
    return replace(statement, lines=tuple(lines))


def normalize_iban(value: str | None) -> str | None:
    if value is None:
        return None
    text = "".join(value.split()).upper()
    return text or None
