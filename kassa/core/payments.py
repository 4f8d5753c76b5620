"""Payments: the ways a customer pays, the life of one attempt to collect, and cash application.

A `Payment` is one attempt to move money from a customer to the tenant: a charge on a card or a direct
debit through a gateway (pending → requires_action → succeeded | failed), or money received outside any
gateway (a bank transfer, a cheque, cash), which is succeeded when recorded. What a succeeded payment pays
is its *allocations*: a signed log per invoice (a chargeback writes a negative one), so an invoice's
amount paid is the sum of its allocations. Money not allocated is the customer's: it goes to the credit
balance. `apply_cash` decides the allocations: the invoices the remittance names first, in that order,
then the oldest open invoices (DESIGN.md's "oldest first by default").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, InvoiceStatus
from kassa.core.money import Money


class PaymentMethodType(StrEnum):
    CARD = "card"
    SEPA_DEBIT = "sepa_debit"
    BANK_TRANSFER = "bank_transfer"
    CHEQUE = "cheque"
    CASH = "cash"
    PROVIDER_ACCOUNT = "provider_account"  # an account at PayPal and the like, through a gateway


# A customer whose default method is one of these is charged automatically on the due date; any other
# customer gets the invoice with the instructions to pay it (manual collection).
AUTOMATIC = frozenset(
    {PaymentMethodType.CARD, PaymentMethodType.SEPA_DEBIT, PaymentMethodType.PROVIDER_ACCOUNT}
)


class PaymentStatus(StrEnum):
    PENDING = "pending"  # sent to the gateway, the answer comes later (SEPA takes days)
    REQUIRES_ACTION = "requires_action"  # strong customer authentication: the customer follows a link
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"  # an authentication never completed, or an authorization released


SETTLED = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED})


class DeclineCode(StrEnum):
    """Why a payment failed, in one vocabulary whatever the gateway said (card networks, SEPA returns)."""

    GENERIC_DECLINE = "generic_decline"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LOST_CARD = "lost_card"
    STOLEN_CARD = "stolen_card"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    PROCESSING_ERROR = "processing_error"
    DO_NOT_HONOR = "do_not_honor"
    FRAUDULENT = "fraudulent"
    AUTHENTICATION_REQUIRED = "authentication_required"
    AUTHENTICATION_FAILED = "authentication_failed"
    CARD_NOT_SUPPORTED = "card_not_supported"
    ACCOUNT_CLOSED = "account_closed"  # SEPA AC04
    NO_MANDATE = "no_mandate"  # SEPA MD01
    DEBTOR_REFUSED = "debtor_refused"  # SEPA MS02 / MD06 (a refund request within 8 weeks)
    INVALID_ACCOUNT = "invalid_account"  # SEPA AC01


# Codes that no retry can cure: the card is gone or the customer said no.
HARD_DECLINES = frozenset(
    {
        DeclineCode.LOST_CARD,
        DeclineCode.STOLEN_CARD,
        DeclineCode.FRAUDULENT,
        DeclineCode.EXPIRED_CARD,
        DeclineCode.ACCOUNT_CLOSED,
        DeclineCode.NO_MANDATE,
        DeclineCode.INVALID_ACCOUNT,
        DeclineCode.CARD_NOT_SUPPORTED,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PaymentMethod:
    """How a customer pays. A card is a gateway's token with what may be shown of it: kassa never sees or
    stores a card number."""

    tenant_id: str
    id: str
    customer_id: str
    type: PaymentMethodType
    is_default: bool = False
    gateway: str | None = None  # the gateway that holds the token (card, provider account)
    token: str | None = None  # the gateway's id for the card or provider account
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    iban: str | None = None  # SEPA direct debit: the debtor's account
    bic: str | None = None
    mandate_id: str | None = None
    mandate_signed_on: date | None = None
    account_holder: str | None = None
    provider: str | None = None  # the provider account's provider (paypal)
    email: str | None = None  # the provider account's login
    created_at: datetime
    detached_at: datetime | None = None

    @property
    def automatic(self) -> bool:
        return self.type in AUTOMATIC

    def expires_before(self, day: date) -> bool:
        """A card whose last valid month ends before `day`."""
        if self.exp_year is None or self.exp_month is None:
            return False
        return (self.exp_year, self.exp_month) < (day.year, day.month)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "object": "payment_method", "customer_id": self.customer_id, "type": self.type.value,
            "is_default": self.is_default, "gateway": self.gateway, "token": self.token, "brand": self.brand,
            "last4": self.last4, "exp_month": self.exp_month, "exp_year": self.exp_year,
            "iban": _masked(self.iban), "bic": self.bic, "mandate_id": self.mandate_id,
            "mandate_signed_on": self.mandate_signed_on.isoformat() if self.mandate_signed_on else None,
            "account_holder": self.account_holder, "provider": self.provider, "email": self.email,
            "created_at": _instant(self.created_at), "detached_at": _instant(self.detached_at),
        }  # fmt: skip


def _masked(iban: str | None) -> str | None:
    """An IBAN as shown: the country, check digits and the last four (NL91••••••••••4300)."""
    if iban is None:
        return None
    return iban[:4] + "•" * max(len(iban) - 8, 0) + iban[-4:]


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    tenant_id: str
    id: str
    customer_id: str
    amount: Money
    status: PaymentStatus
    method_type: PaymentMethodType
    payment_method_id: str | None = None
    invoice_id: str | None = None  # the invoice a collection attempt was made for
    attempt: int = 1  # 1 for the first try on an invoice, 2 for the first retry ...
    gateway: str | None = None
    gateway_ref: str | None = None  # the gateway's id for the charge
    decline_code: DeclineCode | None = None
    failure_message: str | None = None
    action_url: str | None = None  # where the customer completes authentication
    latency_ms: int | None = None  # how long the gateway took to answer
    fee: Money | None = None  # what the gateway kept, when it says
    refunded: Money  # refunds that went through
    disputed: Money  # held by an open or lost chargeback
    reference: str | None = None  # remittance information as received
    payer_name: str | None = None
    payer_iban: str | None = None
    received_on: date | None = None  # money received by hand: the day on the statement or the cheque
    created_at: datetime
    settled_at: datetime | None = None

    @property
    def refundable(self) -> Money:
        return self.amount - self.refunded - self.disputed

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "object": "payment", "customer_id": self.customer_id, "amount": _money(self.amount),
            "status": self.status.value, "method_type": self.method_type.value,
            "payment_method_id": self.payment_method_id, "invoice_id": self.invoice_id, "attempt": self.attempt,
            "gateway": self.gateway, "gateway_ref": self.gateway_ref,
            "decline_code": self.decline_code.value if self.decline_code else None,
            "failure_message": self.failure_message, "action_url": self.action_url,
            "latency_ms": self.latency_ms, "fee": _money(self.fee) if self.fee else None,
            "refunded": _money(self.refunded), "disputed": _money(self.disputed),
            "reference": self.reference, "payer_name": self.payer_name, "payer_iban": _masked(self.payer_iban),
            "received_on": self.received_on.isoformat() if self.received_on else None,
            "created_at": _instant(self.created_at), "settled_at": _instant(self.settled_at),
        }  # fmt: skip


def _money(m: Money) -> dict[str, str]:
    return {"amount": m.amount_text(), "currency": m.currency}


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    invoice_id: str
    amount: Money  # positive: pays the invoice; negative: a chargeback or refund took it back


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenInvoice:
    """What cash application needs to know of an invoice still owed."""

    id: str
    number: str
    due_date: date
    remaining: Money

    @classmethod
    def of(cls, invoice: Invoice) -> OpenInvoice:
        assert invoice.number is not None and invoice.due_date is not None
        return cls(
            id=invoice.id,
            number=invoice.number,
            due_date=invoice.due_date,
            remaining=invoice.amount_remaining,
        )


def apply_cash(
    amount: Money, open_invoices: Sequence[OpenInvoice], *, named: Sequence[str] = ()
) -> tuple[list[Allocation], Money]:
    """Split a payment over invoices: those `named` (ids, in the order given) first, then the rest oldest
    due first. Each gets at most what it still owes. Returns the allocations and the unapplied rest (an
    overpayment: the customer's credit balance)."""
    if amount.amount <= 0:
        raise DomainError("invalid_amount", "A payment is a positive amount.", "amount")
    by_id = {inv.id: inv for inv in open_invoices}
    for inv in open_invoices:
        if inv.remaining.currency != amount.currency:
            raise DomainError(
                "currency_mismatch", f"Invoice {inv.number} is in {inv.remaining.currency}, the payment in "
                f"{amount.currency}.", "invoice_ids",
            )  # fmt: skip
    order = [by_id[i] for i in dict.fromkeys(named) if i in by_id]
    order += sorted(
        (i for i in open_invoices if i.id not in set(named)), key=lambda i: (i.due_date, i.number)
    )
    left = amount
    out: list[Allocation] = []
    for inv in order:
        if not left.amount:
            break
        if inv.remaining.amount <= 0:
            continue
        part = min(left, inv.remaining)
        out.append(Allocation(invoice_id=inv.id, amount=part))
        left = left - part
    return out, left


def paid(invoice: Invoice, amount: Money, at: datetime) -> Invoice:
    """The invoice with `amount` more paid (negative: taken back by a chargeback): paid in full when
    nothing remains, open again when something does."""
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE):
        raise DomainError(
            "invoice_not_open", f"Invoice {invoice.number} is {invoice.status}: it takes no payment."
        )
    after = replace(invoice, amount_paid=invoice.amount_paid + amount)
    if after.amount_remaining.amount < 0:
        raise DomainError(
            "overpaid", f"Invoice {invoice.number} owes only {invoice.amount_remaining}.", "amount"
        )
    if after.amount_remaining.amount == 0:
        return replace(after, status=InvoiceStatus.PAID, paid_at=invoice.paid_at or at)
    if invoice.status is InvoiceStatus.PAID:
        return replace(after, status=InvoiceStatus.OPEN, paid_at=None)
    return after


class ChargebackStatus(StrEnum):
    OPEN = "open"  # the network took the money back; evidence may win it
    WON = "won"  # the money came back
    LOST = "lost"


@dataclass(frozen=True, slots=True, kw_only=True)
class Refund:
    tenant_id: str
    id: str
    payment_id: str
    customer_id: str
    amount: Money
    status: PaymentStatus  # pending, succeeded or failed
    gateway_ref: str | None = None
    credit_note_id: str | None = None  # the credit note whose amount is refunded
    reason: str | None = None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "refund", "payment_id": self.payment_id, "customer_id": self.customer_id,
                "amount": _money(self.amount), "status": self.status.value, "gateway_ref": self.gateway_ref,
                "credit_note_id": self.credit_note_id, "reason": self.reason, "created_at": _instant(self.created_at)}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Chargeback:
    tenant_id: str
    id: str
    payment_id: str
    customer_id: str
    amount: Money
    fee: Money
    status: ChargebackStatus
    reason: str | None = None
    gateway_ref: str
    created_at: datetime
    closed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chargeback", "payment_id": self.payment_id,
                "customer_id": self.customer_id, "amount": _money(self.amount), "fee": _money(self.fee),
                "status": self.status.value, "reason": self.reason, "gateway_ref": self.gateway_ref,
                "created_at": _instant(self.created_at), "closed_at": _instant(self.closed_at)}  # fmt: skip


AGING_BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")


def aging_bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1_30"
    if days_past_due <= 60:
        return "31_60"
    return "61_90" if days_past_due <= 90 else "over_90"


@dataclass(frozen=True, slots=True, kw_only=True)
class Aging:
    """Open receivables by days past due: per customer and in total, each per currency and bucket."""

    customers: dict[str, dict[str, dict[str, Money]]]  # customer -> currency -> bucket -> amount
    totals: dict[str, dict[str, Money]]  # currency -> bucket -> amount

    def to_json(self, names: dict[str, str]) -> dict[str, Any]:
        def buckets(by_bucket: dict[str, Money], currency: str) -> dict[str, Any]:
            zero = Money.zero(currency)
            total = sum(by_bucket.values(), zero)
            return {b: by_bucket.get(b, zero).amount_text() for b in AGING_BUCKETS} | {
                "total": total.amount_text()
            }

        return {
            "totals": [{"currency": cur, **buckets(b, cur)} for cur, b in sorted(self.totals.items())],
            "customers": [{"customer_id": cid, "name": names.get(cid), "currency": cur, **buckets(b, cur)}
                          for cid, by_cur in sorted(self.customers.items()) for cur, b in sorted(by_cur.items())],
        }  # fmt: skip


def aging(items: Sequence[tuple[str, date, Money]], on: date) -> Aging:
    """(customer id, due date, amount still owed) of open invoices, aged on `on`."""
    customers: dict[str, dict[str, dict[str, Money]]] = {}
    totals: dict[str, dict[str, Money]] = {}
    for customer_id, due, owed in items:
        bucket = aging_bucket((on - due).days)
        for target in (customers.setdefault(customer_id, {}).setdefault(owed.currency, {}),
                       totals.setdefault(owed.currency, {})):  # fmt: skip
            target[bucket] = target[bucket] + owed if bucket in target else owed
    return Aging(customers=customers, totals=totals)
