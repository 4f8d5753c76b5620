"""Port for SEPA direct debit files: the collection file kassa hands the bank, and the bank's answers.

kassa collects a SEPA direct debit by exporting a pain.008 file of `DirectDebit`s for one `Creditor`
(the tenant) and uploading it to its bank. Debits that fail come back days or weeks later as
`SepaReturn`s: a *reject* before settlement (a pain.002 status report), a *return* after it, or a
*refund* the debtor asked for within eight weeks (camt.054 notifications). Each names the debit by its
end-to-end id, which is kassa's payment id, and carries an ISO 20022 reason code that
`decline_code_for` turns into kassa's one vocabulary of decline codes.

Implementations validate what they export and raise `DomainError` with the path of the offending value
(`creditor.iban`, `debits.3.debtor_iban`); a file they cannot read raises `invalid_sepa_file` and yields
nothing, so a half-read file never half-updates payments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.eu import at_02
from stdnum.exceptions import ValidationError

from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import DeclineCode

SequenceType = Literal["FRST", "RCUR", "OOFF", "FNAL"]
ReturnKind = Literal["reject", "return", "refund"]

SEQUENCE_TYPES: frozenset[str] = frozenset({"FRST", "RCUR", "OOFF", "FNAL"})
SEPA_CURRENCY = "EUR"

# The EPC's ceiling for one instructed amount; the XML schema alone would allow more.
MAX_AMOUNT = Money.parse("999999999.99", SEPA_CURRENCY)

# Identifiers (Max35Text) are printable ASCII without surrounding blanks: banks trim or refuse anything
# else, and a trimmed end-to-end id would no longer match the payment when it comes back.
_IDENTIFIER = re.compile(r"[!-~](?:[ -~]{0,33}[!-~])?")
# Country, check digits, creditor business code, national identifier (AT-02 in the EPC rulebook).
_CREDITOR_ID = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Creditor:
    """The tenant collecting: its name, the account the money goes to, and its SEPA creditor identifier."""

    name: str
    iban: str
    bic: str | None = None
    creditor_id: str  # AT-02, e.g. DE98ZZZ09999999999

    def checked(self, field: str = "creditor") -> Creditor:
        """The same creditor with its numbers compact and uppercase; DomainError with `field.<name>`."""
        return Creditor(
            name=text(self.name, f"{field}.name"),
            iban=valid_iban(self.iban, f"{field}.iban"),
            bic=None if self.bic is None else valid_bic(self.bic, f"{field}.bic"),
            creditor_id=valid_creditor_id(self.creditor_id, f"{field}.creditor_id"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectDebit:
    """One collection from one debtor under a signed mandate."""

    end_to_end_id: str  # kassa's payment id: returns name the debit by it
    amount: Money  # EUR only
    debtor_name: str
    debtor_iban: str
    debtor_bic: str | None = None
    mandate_id: str
    mandate_signed_on: date
    sequence: SequenceType  # FRST the first debit of a mandate, RCUR the next ones, OOFF a one-off
    remittance: str  # the invoice number, shown on the debtor's statement
    collection_date: date

    def checked(self, field: str, *, created_on: date) -> DirectDebit:
        """The same debit with its numbers compact and uppercase, or DomainError with `field.<name>`.
        `created_on` is the file's creation day: a debit cannot be collected on or before it."""
        if not isinstance(self.amount, Money) or self.amount.currency != SEPA_CURRENCY:
            currency = getattr(self.amount, "currency", None)
            raise DomainError(
                "sepa_currency", f"SEPA direct debits are in EUR, not {currency}.", f"{field}.amount"
            )
        if self.amount.amount <= 0 or not self.amount.is_rounded or self.amount > MAX_AMOUNT:
            raise DomainError(
                "invalid_amount",
                f"A direct debit is 0.01 to {MAX_AMOUNT.amount_text()} EUR in whole cents, not {self.amount}.",
                f"{field}.amount",
            )
        if self.sequence not in SEQUENCE_TYPES:
            raise DomainError(
                "invalid_sequence",
                f"The sequence type is one of {', '.join(sorted(SEQUENCE_TYPES))}, not {self.sequence!r}.",
                f"{field}.sequence",
            )
        if self.mandate_signed_on > self.collection_date:
            raise DomainError(
                "mandate_not_signed",
                f"The mandate is signed on {self.mandate_signed_on}, after the collection date "
                f"{self.collection_date}.",
                f"{field}.mandate_signed_on",
            )
        if self.collection_date <= created_on:
            raise DomainError(
                "invalid_collection_date",
                f"The collection date {self.collection_date} must come after the file's day {created_on}.",
                f"{field}.collection_date",
            )
        return DirectDebit(
            end_to_end_id=identifier(self.end_to_end_id, f"{field}.end_to_end_id"),
            amount=self.amount,
            debtor_name=text(self.debtor_name, f"{field}.debtor_name"),
            debtor_iban=valid_iban(self.debtor_iban, f"{field}.debtor_iban"),
            debtor_bic=None if self.debtor_bic is None else valid_bic(self.debtor_bic, f"{field}.debtor_bic"),
            mandate_id=identifier(self.mandate_id, f"{field}.mandate_id"),
            mandate_signed_on=self.mandate_signed_on,
            sequence=self.sequence,
            remittance=text(self.remittance, f"{field}.remittance"),
            collection_date=self.collection_date,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SepaReturn:
    """A debit that did not stay collected, as the bank reported it."""

    end_to_end_id: str
    amount: Money  # the debit's original amount, whatever fees the bank charged on top
    reason_code: str  # ISO 20022 external status/return reason code: AM04, MD06 ...
    returned_on: date
    kind: ReturnKind

    @property
    def decline_code(self) -> DeclineCode:
        return decline_code_for(self.reason_code)


_DECLINE_CODES: dict[str, DeclineCode] = {
    "AM04": DeclineCode.INSUFFICIENT_FUNDS,
    "AC04": DeclineCode.ACCOUNT_CLOSED,
    "MD07": DeclineCode.ACCOUNT_CLOSED,  # the debtor died: the account will not be debited again
    "MD01": DeclineCode.NO_MANDATE,
    "MS02": DeclineCode.DEBTOR_REFUSED,
    "MS03": DeclineCode.DEBTOR_REFUSED,
    "MD06": DeclineCode.DEBTOR_REFUSED,
    "SL01": DeclineCode.DEBTOR_REFUSED,  # the debtor had the bank block this creditor or cap its debits
    "AC01": DeclineCode.INVALID_ACCOUNT,
    "AC06": DeclineCode.INVALID_ACCOUNT,
    "AC13": DeclineCode.INVALID_ACCOUNT,
    "AG01": DeclineCode.INVALID_ACCOUNT,
    "BE05": DeclineCode.INVALID_ACCOUNT,
    "RC01": DeclineCode.INVALID_ACCOUNT,
    "RR01": DeclineCode.INVALID_ACCOUNT,
}


def decline_code_for(reason_code: str) -> DeclineCode:
    """kassa's decline code for an ISO 20022 reason code; codes that say nothing about the debtor's
    account or will (technical errors, duplicates, regulatory reasons) are a generic decline."""
    return _DECLINE_CODES.get(reason_code.strip().upper(), DeclineCode.GENERIC_DECLINE)


class SepaFiles(Protocol):
    def export_debits(
        self, creditor: Creditor, debits: Sequence[DirectDebit], *, message_id: str, created_at: datetime
    ) -> bytes:
        """The pain.008 file collecting `debits`, one payment information block per (sequence type,
        collection date). `message_id` is the file's unique id at the bank; DomainError on bad input."""
        ...

    def read_returns(self, content: bytes) -> list[SepaReturn]:
        """Every rejected, returned or refunded debit a pain.002 or camt.054 file reports, in file
        order; DomainError `invalid_sepa_file` (and no list) when the file cannot be read."""
        ...


def valid_iban(value: str, field: str) -> str:
    try:
        return str(stdnum_iban.validate(value))
    except (ValidationError, TypeError, AttributeError) as error:
        raise DomainError("invalid_iban", f"{value!r} is not a valid IBAN: {_reason(error)}", field) from None


def valid_bic(value: str, field: str) -> str:
    try:
        return str(stdnum_bic.validate(value))
    except (ValidationError, TypeError, AttributeError) as error:
        raise DomainError("invalid_bic", f"{value!r} is not a valid BIC: {_reason(error)}", field) from None


def valid_creditor_id(value: str, field: str) -> str:
    try:
        compact = str(at_02.compact(value))
        if not _CREDITOR_ID.fullmatch(compact):
            raise DomainError("invalid_creditor_id", f"{value!r} is not a SEPA creditor identifier.", field)
        return str(at_02.validate(compact))
    except (ValidationError, TypeError, AttributeError) as error:
        raise DomainError(
            "invalid_creditor_id", f"{value!r} is not a SEPA creditor identifier: {_reason(error)}", field
        ) from None


def identifier(value: str, field: str) -> str:
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise DomainError(
            "invalid_sepa_identifier",
            f"{value!r} is not a SEPA identifier: 1 to 35 printable ASCII characters, no surrounding blanks.",
            field,
        )
    return value


def text(value: str, field: str) -> str:
    """Free text (names, remittance): required; the file writer transliterates it and cuts it to length."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError("invalid_text", f"{field.rsplit('.', 1)[-1]} must not be empty.", field)
    return value.strip()


def _reason(error: Exception) -> str:
    return str(error) if isinstance(error, ValidationError) else "not text."
