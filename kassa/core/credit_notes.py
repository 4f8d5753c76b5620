"""Credit notes: the only way a finalized invoice's amount goes down.

A credit note names the invoice it corrects and, per line, the tax-exclusive amount it credits (after the
line's discounts); the tax is reversed line by line at the rates the line was taxed at. Its total either
reduces what is still due on the invoice or goes to the customer's credit balance, where it pays the next
invoices. Credit notes the bill run writes (a back-dated change, a proration credit against a finalized
line) also record the billing key they correct, so the next recompute counts them as billed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.invoicing import FINALIZED, Invoice, InvoiceLine, InvoiceStatus
from kassa.core.money import Money, RoundingMode
from kassa.core.tax import TaxAmount, reverse_taxes


class CreditReason(StrEnum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    ORDER_CHANGE = "order_change"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"
    GOODWILL = "goodwill"
    BILLING_CORRECTION = "billing_correction"  # written by the bill run
    EARLY_PAYMENT_DISCOUNT = "early_payment_discount"  # written when an invoice is paid within the terms
    OTHER = "other"


class CreditTarget(StrEnum):
    INVOICE = "invoice"  # reduces what is still due on the invoice
    CREDIT_BALANCE = "credit_balance"  # owed back to the customer: pays the next invoices


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditRequest:
    """Credit one invoice line: all that is left of it, an amount (tax-exclusive), or a quantity."""

    position: int
    amount: Money | None = None
    quantity: Decimal | None = None
    key: str | None = None  # the billing key a bill-run correction is recorded under


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditNoteLine:
    position: int  # of the invoice line credited
    key: str  # the invoice line's billing key, or the correction's
    description: str
    product: str
    quantity: Decimal | None
    net: Money  # tax-exclusive amount credited (positive)
    discount: Money  # the share of the line's discount this reverses (positive)
    taxes: tuple[TaxAmount, ...]

    @property
    def tax(self) -> Money:
        return sum((t.amount for t in self.taxes), Money.zero(self.net.currency))

    @property
    def total(self) -> Money:
        return self.net + self.tax


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditNote:
    tenant_id: str
    id: str
    number: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    currency: str
    reason: CreditReason
    memo: str | None = None
    automatic: bool = False
    lines: tuple[CreditNoteLine, ...]
    to_invoice: Money  # reduces the invoice's amount due
    to_credit_balance: Money
    created_at: datetime

    @property
    def net(self) -> Money:
        return sum((line.net for line in self.lines), Money.zero(self.currency))

    @property
    def tax(self) -> Money:
        return sum((line.tax for line in self.lines), Money.zero(self.currency))

    @property
    def total(self) -> Money:
        return self.net + self.tax

    def to_json(self) -> dict[str, Any]:
        def money(m: Money) -> dict[str, str]:
            return {"amount": m.amount_text(), "currency": m.currency}

        return {
            "id": self.id, "object": "credit_note", "number": self.number, "invoice_id": self.invoice_id,
            "invoice_number": self.invoice_number, "customer_id": self.customer_id, "currency": self.currency,
            "reason": self.reason.value, "memo": self.memo, "automatic": self.automatic,
            "lines": [{
                "position": line.position, "description": line.description, "product": line.product,
                "quantity": None if line.quantity is None else str(line.quantity), "net": money(line.net),
                "discount": money(line.discount), "tax": money(line.tax), "total": money(line.total),
                "taxes": [{"name": t.rate.name, "jurisdiction": t.rate.jurisdiction, "percent": str(t.rate.percent),
                           "taxable": money(t.taxable), "tax": money(t.amount)} for t in line.taxes],
            } for line in self.lines],
            "net": money(self.net), "tax": money(self.tax), "total": money(self.total),
            "to_invoice": money(self.to_invoice), "to_credit_balance": money(self.to_credit_balance),
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }  # fmt: skip


def credited_so_far(notes: Sequence[CreditNote]) -> dict[int, Money]:
    out: dict[int, Money] = {}
    for note in notes:
        for line in note.lines:
            out[line.position] = out[line.position] + line.net if line.position in out else line.net
    return out


def credit_note(
    invoice: Invoice, requests: Sequence[CreditRequest], *, earlier: Sequence[CreditNote], credit_note_id: str,
    number: str, reason: CreditReason, target: CreditTarget | None, memo: str | None, at: datetime,
    rounding: RoundingMode, automatic: bool = False,
) -> CreditNote:  # fmt: skip
    """A credit note against a finalized invoice. Each line credits at most what is left of it; `target`
    None sends the total against what is still due, and the rest (an invoice already paid) to the balance."""
    if invoice.status not in FINALIZED or invoice.status is InvoiceStatus.VOID:
        raise DomainError("invoice_not_creditable", f"A {invoice.status} invoice cannot be credited.")
    if invoice.status is InvoiceStatus.UNCOLLECTIBLE:
        # its unearned revenue went to bad debt with the write-off: a credit would take it back a second time
        raise DomainError("invoice_not_creditable", "An uncollectible invoice cannot be credited: what it "
                          "still owed is written off; grant a credit to give the customer money back.")  # fmt: skip
    if not requests:
        raise DomainError("no_lines", "Name at least one line to credit.", "lines")
    lines_by_position = {line.position: line for line in invoice.lines}
    so_far = credited_so_far(earlier)
    out: list[CreditNoteLine] = []
    for i, request in enumerate(requests):
        line = lines_by_position.get(request.position)
        if line is None:
            raise DomainError("no_such_line", f"Invoice {invoice.number} has no line {request.position}.",
                              f"lines.{i}.position")  # fmt: skip
        left = line.net - so_far.get(line.position, Money.zero(invoice.currency))
        net = _requested(line, request, left, rounding, f"lines.{i}")
        before = so_far.get(line.position, Money.zero(invoice.currency))
        so_far[line.position] = before + net
        share = _discount_share(line, net, rounding)
        out.append(CreditNoteLine(
            position=line.position, key=request.key or line.item.key, description=line.item.description,
            product=line.item.product, quantity=request.quantity, net=net, discount=share,
            taxes=reverse_taxes(line.line_tax, net, rounding, previously_credited=before),
        ))  # fmt: skip
    total = sum((line.total for line in out), Money.zero(invoice.currency))
    open_part = (
        invoice.amount_remaining if invoice.status is InvoiceStatus.OPEN else Money.zero(invoice.currency)
    )
    if target is CreditTarget.INVOICE:
        if total > open_part:
            raise DomainError("credit_exceeds_amount_due",
                              f"{total} is more than the {open_part} still due on {invoice.number}; credit the balance.",
                              "target")  # fmt: skip
        to_invoice = total
    elif target is CreditTarget.CREDIT_BALANCE:
        to_invoice = Money.zero(invoice.currency)
    else:
        to_invoice = min(total, open_part) if open_part.amount > 0 else Money.zero(invoice.currency)
    return CreditNote(
        tenant_id=invoice.tenant_id, id=credit_note_id, number=number, invoice_id=invoice.id,
        invoice_number=invoice.number or "", customer_id=invoice.customer_id, currency=invoice.currency,
        reason=reason, memo=memo, automatic=automatic, lines=tuple(out), to_invoice=to_invoice,
        to_credit_balance=total - to_invoice, created_at=at,
    )  # fmt: skip


def _requested(
    line: InvoiceLine, request: CreditRequest, left: Money, rounding: RoundingMode, path: str
) -> Money:
    if request.amount is not None and request.quantity is not None:
        raise DomainError("amount_or_quantity", "Credit an amount or a quantity, not both.", path)
    if request.quantity is not None:
        if line.item.unit_price is None or request.quantity <= 0 or request.quantity > line.item.quantity:
            raise DomainError("invalid_quantity",
                              f"Credit between 0 and {line.item.quantity} units of line {line.position}.",
                              f"{path}.quantity")  # fmt: skip
        # the quantity's share of the line's net, so discounts and proration are respected
        net = Money.rounded(
            line.net.amount * request.quantity / line.item.quantity, line.net.currency, rounding
        )
    elif request.amount is not None:
        net = request.amount
        if net.currency != line.net.currency or not net.is_rounded:
            raise DomainError("invalid_amount", f"Give a rounded {line.net.currency} amount.", f"{path}.net")
    else:
        net = left
    if net.amount <= 0 and line.net.amount > 0:
        raise DomainError("nothing_to_credit", f"Line {line.position} has nothing left to credit.", path)
    if net > left:
        raise DomainError("credit_exceeds_line", f"Line {line.position} has {left} left to credit, not {net}.",
                          f"{path}.net")  # fmt: skip
    return net


def _discount_share(line: InvoiceLine, net: Money, rounding: RoundingMode) -> Money:
    if not line.discount.amount or not line.net.amount:
        return Money.zero(net.currency)
    return Money.rounded(line.discount.amount * net.amount / line.net.amount, net.currency, rounding)


def revenue_by_product(note: CreditNote) -> dict[str, Money]:
    out: dict[str, Money] = {}
    for line in note.lines:
        gross = line.net + line.discount
        out[line.product] = out[line.product] + gross if line.product in out else gross
    return out


def discounts_reversed(note: CreditNote) -> Money:
    return sum((line.discount for line in note.lines), Money.zero(note.currency))


def taxes_reversed(note: CreditNote) -> Mapping[str, Money]:
    out: dict[str, Money] = {}
    for line in note.lines:
        for t in line.taxes:
            where = t.rate.jurisdiction
            out[where] = out[where] + t.amount if where in out else t.amount
    return out
