"""Invoices, composed purely: what should be billed, less what was billed, priced in DESIGN.md's order.

Recompute and diff (the Kill Bill rule): the services gather every *item* that should have been billed to
a paying customer up to a bill date (recurring fees and their proration, setup fees, usage, in-advance
usage charges, minimum-spend true-ups, one-off charges), each under a stable `key`, and every line that
was billed under those keys. `reconcile()` returns only the difference: a re-run finds nothing, a late
usage event or a back-dated change becomes a line on the next invoice, and a reduction of a line on a
finalized invoice becomes a credit note against that invoice (VAT rules want the correction to point at
the invoice it corrects). `compose_invoice()` then prices the lines in one fixed order:

    each line's amount, rounded → coupons in redemption order, each on what remains (a fixed coupon spread
    over its eligible lines with allocate(), never below zero) → minimum-spend true-up (compared before
    discounts, never discounted) → tax per line on the discounted amount → total → the customer's credit
    balance → (the prepaid wallet and the payment method are applied when it is collected)

The tax point is the invoice's finalization day; the paying account's address and tax status decide the
tax, also for lines of the children it pays for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kassa.core.discounts import AppliedDiscount, Coupon, DiscountableLine, Redemption, apply_coupons
from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode
from kassa.core.tax import (
    BreakdownRow,
    LineTax,
    TaxableLine,
    TaxAmount,
    TaxCategory,
    TaxParty,
    TaxTable,
    TaxTreatment,
    compute_taxes,
    treatment,
)
from kassa.core.tenants import TaxRounding


class InvoiceStatus(StrEnum):
    DRAFT = "draft"  # editable; composed again until it is finalized
    OPEN = "open"  # finalized, numbered, awaiting payment
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


FINALIZED = frozenset(
    {InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
)


class LineKind(StrEnum):
    RECURRING = "recurring"
    SETUP = "setup"
    PRORATION = "proration"  # the unused part of an in-advance line, credited after a change
    USAGE = "usage"
    USAGE_IN_ADVANCE = "usage_in_advance"
    MINIMUM = "minimum_true_up"
    ONE_OFF = "one_off"  # a charge added by hand, billed with the next invoice
    MANUAL = "manual"  # a line written on a draft or a one-off invoice by hand


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """Something that should be billed, under a key that names it the same way on every run."""

    key: str
    kind: LineKind
    account_id: str  # whose service it is: a child account's id when its parent pays
    subscription_id: str | None = None
    product: str  # the product code: its revenue account, and what coupons name
    codes: frozenset[str] = frozenset()  # further codes coupons may name (plan, add-on, billable metric)
    description: str
    period_start: date | None = None
    period_end: date | None = None
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    amount: Money  # rounded once
    tax_category: TaxCategory = TaxCategory.STANDARD
    origin: str | None = None  # a proration credit: the key of the line it credits

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "kind": self.kind.value, "account_id": self.account_id,
            "subscription_id": self.subscription_id, "product": self.product, "codes": sorted(self.codes),
            "description": self.description,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "quantity": _text(self.quantity), "unit_price": _text(self.unit_price) if self.unit_price is not None else None,
            "amount": self.amount.amount_text(), "tax_category": self.tax_category.value, "origin": self.origin,
        }  # fmt: skip


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceLine:
    position: int  # 1-based; credit notes and disputes point at it
    item: Item
    discount: Money  # what coupons took off (>= 0)
    discounts: tuple[AppliedDiscount, ...] = ()
    net: Money  # tax-exclusive, after discounts
    taxes: tuple[TaxAmount, ...] = ()
    tax_code: str  # EN 16931 VAT category (S, Z, E, AE, O …)
    tax_note: str | None = None

    @property
    def tax(self) -> Money:
        return sum((t.amount for t in self.taxes), Money.zero(self.net.currency))

    @property
    def total(self) -> Money:
        return self.net + self.tax

    @property
    def line_tax(self) -> LineTax:
        return LineTax(key=self.item.key, net=self.net, taxes=self.taxes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoice:
    tenant_id: str
    id: str
    customer_id: str  # the paying account
    number: str | None = None  # assigned at finalization
    status: InvoiceStatus = InvoiceStatus.DRAFT
    currency: str
    bill_date: date | None  # the bill date it was composed for; None for a one-off invoice made by hand
    lines: tuple[InvoiceLine, ...] = ()
    breakdown: tuple[BreakdownRow, ...] = ()
    tax_inclusive: bool = False
    subtotal: Money  # sum of the lines' amounts before discounts (tax-inclusive when prices are)
    discount: Money
    tax: Money
    total: Money
    credit_applied: Money  # from the customer's credit balance
    credit_granted: Money  # a negative total is owed back: it goes to the credit balance
    amount_due: Money
    amount_paid: Money
    amount_credited: Money | None = None  # credit notes set against what is due (None: nothing yet)
    notes: tuple[str, ...] = ()  # reverse charge, exemptions: text the invoice must carry
    memo: str | None = None
    parties: Mapping[str, Any] = field(default_factory=dict)  # seller and buyer as they were at finalization
    created_at: datetime
    finalize_at: datetime | None = None  # when a draft finalizes by itself
    finalized_at: datetime | None = None
    due_date: date | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    email_status: str | None = None  # pending, sent, bounced, failed

    @property
    def amount_remaining(self) -> Money:
        credited = self.amount_credited or Money.zero(self.currency)
        return self.amount_due - self.amount_paid - credited

    @property
    def finalized(self) -> bool:
        return self.status in FINALIZED

    def to_json(self) -> dict[str, Any]:
        return invoice_json(self)


# ---- recompute and diff --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Billed:
    """An amount already billed under a key: a line of another invoice, or of a correcting credit note."""

    key: str
    amount: Money
    invoice_id: str
    position: int  # the invoice line
    finalized: bool
    item: Item | None = None  # the line as billed (to describe a reduction when the key is gone)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reduction:
    """Part of a finalized invoice's line that should not have been billed: a credit note line."""

    invoice_id: str
    position: int
    item: Item  # the key the credit is recorded under; amount negative (before discounts)


def reconcile(should: Sequence[Item], billed: Sequence[Billed]) -> tuple[list[Item], list[Reduction]]:
    """What to bill now: per key, what should have been billed less what was. Increases (and credits of
    lines still on a draft) are lines for the invoice being composed; decreases of finalized lines are
    reductions for credit notes against the invoices that carried them."""
    wanted: dict[str, Item] = {}
    for item in should:
        if item.key in wanted:  # two parts under one key add up (same price, same period)
            first = wanted[item.key]
            wanted[item.key] = replace(
                first, amount=first.amount + item.amount, quantity=first.quantity + item.quantity
            )
        else:
            wanted[item.key] = item
    done: dict[str, Money] = {}
    lines_of: dict[str, list[Billed]] = defaultdict(list)
    for b in billed:
        done[b.key] = done[b.key] + b.amount if b.key in done else b.amount
        if b.finalized and b.amount.amount > 0:
            lines_of[b.key].append(b)
    out: list[Item] = []
    reductions: list[Reduction] = []
    for key in [*wanted, *(k for k in done if k not in wanted)]:
        found = wanted.get(key)
        before = done.get(key)
        if found is None:
            assert before is not None
            source = next((b.item for b in billed if b.key == key and b.item is not None), None)
            if source is None:
                continue  # nothing known to describe it by; the amount stays as billed
            found = replace(source, amount=Money.zero(before.currency))
        item = found
        delta = item.amount - before if before is not None else item.amount
        if not delta.amount:
            continue
        change = replace(item, amount=delta)
        if delta.amount > 0:
            out.append(change)
            continue
        targets = lines_of.get(item.origin or key, [])
        if not targets:
            out.append(change)  # crediting a line not yet finalized: it nets on the invoice being composed
            continue
        reductions.extend(_spread(change, targets))
    return out, reductions


def _spread(change: Item, targets: Sequence[Billed]) -> list[Reduction]:
    """A decrease against the latest lines billed under its key first, each at most what it charged; what
    exceeds them all (a credit larger than its line, which proration never makes) stays on the latest."""
    latest_first = sorted(targets, key=lambda b: (b.invoice_id, b.position), reverse=True)
    left = -change.amount
    parts: list[tuple[Billed, Money]] = []
    for target in latest_first:
        if not left.amount:
            break
        part = min(left, target.amount)
        parts.append((target, part))
        left = left - part
    if left.amount:
        target, part = parts[0]
        parts[0] = (target, part + left)
    return [Reduction(invoice_id=t.invoice_id, position=t.position, item=replace(change, amount=-part))
            for t, part in parts]  # fmt: skip


UNTAXED = TaxTreatment(
    rates=(),
    code="O",
    jurisdiction=None,
    note="No tax computed: the seller's address is not set in the tenant settings.",
)


# ---- composition ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Pricing:
    """How a tenant prices: everything compose_invoice needs besides the lines."""

    currency: str
    rounding: RoundingMode
    tax_rounding: TaxRounding
    tax_inclusive: bool
    seller: TaxParty | None  # None: the tenant has not set its address, so no tax can be computed
    buyer: TaxParty
    table: TaxTable
    tax_point: date
    payer_id: str | None = None  # whose invoice: its coupons discount every line, a child's only its own


@dataclass(frozen=True, slots=True, kw_only=True)
class Composition:
    lines: tuple[InvoiceLine, ...]
    breakdown: tuple[BreakdownRow, ...]
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    credit_applied: Money
    credit_granted: Money
    amount_due: Money
    notes: tuple[str, ...]
    redemptions_used: tuple[str, ...]  # redemptions that discounted something


def compose_invoice(
    items: Sequence[Item],
    pricing: Pricing,
    *,
    redemptions: Sequence[tuple[Redemption, Coupon]] = (),
    credit_balance: Money | None = None,
) -> Composition:
    """Price the lines in DESIGN.md's order; see the module docstring."""
    cur = pricing.currency
    zero = Money.zero(cur)
    for item in items:
        if item.amount.currency != cur:
            raise DomainError(
                "currency_mismatch", f"A {item.amount.currency} line cannot go on a {cur} invoice."
            )
        if not item.amount.is_rounded:
            raise DomainError("unrounded_line", f"Line {item.key!r} is not rounded to {cur}.")
    discountable = [
        DiscountableLine(key=f"{i:06d}", amount=item.amount, products=frozenset({item.product, *item.codes}),
                         subscription_id=item.subscription_id, account_id=item.account_id)
        for i, item in enumerate(items) if item.kind is not LineKind.MINIMUM  # compared before discounts
    ]  # fmt: skip
    applied = (apply_coupons(discountable, redemptions, cur, pricing.rounding, payer_id=pricing.payer_id)
               if redemptions else ())  # fmt: skip
    by_line: dict[int, list[AppliedDiscount]] = defaultdict(list)
    for a in applied:
        by_line[int(a.line_key)].append(a)
    treatments: dict[TaxCategory, TaxTreatment] = {}
    taxable = []
    for i, item in enumerate(items):
        if item.tax_category not in treatments:
            treatments[item.tax_category] = (
                treatment(pricing.seller, pricing.buyer, item.tax_category, pricing.tax_point, pricing.table)
                if pricing.seller is not None else UNTAXED
            )  # fmt: skip
        off = sum((a.amount for a in by_line[i]), zero)
        taxable.append(
            TaxableLine(key=str(i), amount=item.amount - off, treatment=treatments[item.tax_category])
        )
    line_taxes, breakdown = compute_taxes(taxable, currency=cur, inclusive=pricing.tax_inclusive,
                                          rounding=pricing.tax_rounding, mode=pricing.rounding)  # fmt: skip
    lines = []
    for i, (item, lt, tl) in enumerate(zip(items, line_taxes, taxable, strict=True)):
        found = tuple(by_line[i])
        lines.append(InvoiceLine(
            position=i + 1, item=item, discount=sum((a.amount for a in found), zero), discounts=found,
            net=lt.net, taxes=lt.taxes, tax_code=tl.treatment.code, tax_note=tl.treatment.note,
        ))  # fmt: skip
    return _totals(tuple(lines), breakdown, credit_balance or zero,
                   tuple(dict.fromkeys(a.redemption_id for a in applied)))  # fmt: skip


def _totals(
    lines: tuple[InvoiceLine, ...], breakdown: tuple[BreakdownRow, ...], balance: Money, used: tuple[str, ...]
) -> Composition:
    cur = balance.currency
    zero = Money.zero(cur)
    subtotal = sum((line.item.amount for line in lines), zero)
    discount = sum((line.discount for line in lines), zero)
    tax = sum((line.tax for line in lines), zero)
    total = sum((line.total for line in lines), zero)
    applied = min(balance, total) if total.amount > 0 and balance.amount > 0 else zero
    granted = -total if total.amount < 0 else zero
    notes = tuple(dict.fromkeys(line.tax_note for line in lines if line.tax_note))
    return Composition(lines=lines, breakdown=breakdown, subtotal=subtotal, discount=discount, tax=tax, total=total,
                       credit_applied=applied, credit_granted=granted, amount_due=total - applied + granted,
                       notes=notes, redemptions_used=used)  # fmt: skip


def draft(
    *, tenant_id: str, invoice_id: str, customer_id: str, currency: str, bill_date: date | None,
    composition: Composition, tax_inclusive: bool, created_at: datetime, finalize_at: datetime | None,
    memo: str | None = None,
) -> Invoice:  # fmt: skip
    c = composition
    return Invoice(
        tenant_id=tenant_id, id=invoice_id, customer_id=customer_id, currency=currency, bill_date=bill_date,
        lines=c.lines, breakdown=c.breakdown, tax_inclusive=tax_inclusive, subtotal=c.subtotal,
        discount=c.discount, tax=c.tax, total=c.total, credit_applied=c.credit_applied,
        credit_granted=c.credit_granted, amount_due=c.amount_due, amount_paid=Money.zero(currency),
        notes=c.notes, memo=memo, created_at=created_at, finalize_at=finalize_at,
    )  # fmt: skip


def recomposed(invoice: Invoice, composition: Composition) -> Invoice:
    if invoice.finalized:
        raise DomainError("invoice_finalized", f"Invoice {invoice.number} is finalized and never changes.")
    c = composition
    return replace(invoice, lines=c.lines, breakdown=c.breakdown, subtotal=c.subtotal, discount=c.discount,
                   tax=c.tax, total=c.total, credit_applied=c.credit_applied, credit_granted=c.credit_granted,
                   amount_due=c.amount_due, notes=c.notes)  # fmt: skip


# ---- lifecycle -----------------------------------------------------------------------------------------


def due_date(finalized_on: date, payment_terms_days: int) -> date:
    return finalized_on + timedelta(days=payment_terms_days)


def finalize(
    invoice: Invoice, *, number: str, at: datetime, finalized_on: date, payment_terms_days: int,
    parties: Mapping[str, Any],
) -> Invoice:  # fmt: skip
    """Number it and freeze it; nothing to pay (zero, or all covered by credit) means paid at once."""
    if invoice.finalized:
        raise DomainError("invoice_finalized", f"Invoice {invoice.number} is already finalized.")
    paid = invoice.amount_due.amount == 0
    return replace(
        invoice, number=number, status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN, finalized_at=at,
        due_date=due_date(finalized_on, payment_terms_days), paid_at=at if paid else None, finalize_at=None,
        parties=dict(parties),
    )  # fmt: skip


def void(invoice: Invoice, at: datetime) -> Invoice:
    if invoice.status is not InvoiceStatus.OPEN:
        raise DomainError(
            "invoice_not_open", f"Only an open invoice can be voided; this one is {invoice.status}."
        )
    if invoice.amount_paid.amount:
        raise DomainError(
            "invoice_partly_paid", "A paid part cannot be voided: credit it with a credit note instead."
        )
    return replace(invoice, status=InvoiceStatus.VOID, voided_at=at)


def mark_uncollectible(invoice: Invoice) -> Invoice:
    if invoice.status is not InvoiceStatus.OPEN:
        raise DomainError(
            "invoice_not_open", f"Only an open invoice can be uncollectible; this one is {invoice.status}."
        )
    return replace(invoice, status=InvoiceStatus.UNCOLLECTIBLE)


def revenue_by_product(lines: Sequence[InvoiceLine]) -> dict[str, Money]:
    """Line amounts before discounts, net of tax, per product: the ledger's revenue accounts."""
    out: dict[str, Money] = {}
    for line in lines:
        gross = line.net + line.discount
        out[line.item.product] = out[line.item.product] + gross if line.item.product in out else gross
    return out


def tax_by_jurisdiction(taxes: Sequence[TaxAmount]) -> dict[str, Money]:
    out: dict[str, Money] = {}
    for t in taxes:
        where = t.rate.jurisdiction
        out[where] = out[where] + t.amount if where in out else t.amount
    return out


def _money(m: Money | None) -> dict[str, str] | None:
    return None if m is None else {"amount": m.amount_text(), "currency": m.currency}


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _tax_json(t: TaxAmount) -> dict[str, Any]:
    return {"name": t.rate.name, "jurisdiction": t.rate.jurisdiction, "percent": _text(t.rate.percent),
            "taxable": _money(t.taxable), "tax": _money(t.amount)}  # fmt: skip


def line_json(line: InvoiceLine) -> dict[str, Any]:
    item = line.item
    return {
        "position": line.position, "kind": item.kind.value, "description": item.description,
        "account_id": item.account_id, "subscription_id": item.subscription_id, "product": item.product,
        "period_start": item.period_start.isoformat() if item.period_start else None,
        "period_end": item.period_end.isoformat() if item.period_end else None,
        "quantity": _text(item.quantity), "unit_price": _text(item.unit_price) if item.unit_price is not None else None,
        "charged": _money(item.amount), "discount": _money(line.discount), "net": _money(line.net),
        "tax": _money(line.tax), "total": _money(line.total), "tax_code": line.tax_code, "tax_note": line.tax_note,
        "taxes": [_tax_json(t) for t in line.taxes],
        "discounts": [{"coupon_id": d.coupon_id, "redemption_id": d.redemption_id, "discount": _money(d.amount)}
                      for d in line.discounts],
    }  # fmt: skip


def invoice_json(inv: Invoice) -> dict[str, Any]:
    """The API's and the events' view of an invoice: money as strings with their currency."""
    return {
        "id": inv.id, "object": "invoice", "number": inv.number, "status": inv.status.value,
        "customer_id": inv.customer_id, "currency": inv.currency,
        "bill_date": inv.bill_date.isoformat() if inv.bill_date else None, "tax_inclusive": inv.tax_inclusive,
        "lines": [line_json(line) for line in inv.lines],
        "tax_breakdown": [{"code": r.code, "name": r.rate.name if r.rate else None,
                           "jurisdiction": r.rate.jurisdiction if r.rate else None,
                           "percent": _text(r.rate.percent) if r.rate else None, "taxable": _money(r.taxable),
                           "tax": _money(r.amount), "note": r.note} for r in inv.breakdown],
        "subtotal": _money(inv.subtotal), "discount": _money(inv.discount), "tax": _money(inv.tax),
        "total": _money(inv.total), "credit_applied": _money(inv.credit_applied),
        "credit_granted": _money(inv.credit_granted), "amount_due": _money(inv.amount_due),
        "amount_paid": _money(inv.amount_paid),
        "amount_credited": _money(inv.amount_credited or Money.zero(inv.currency)),
        "amount_remaining": _money(inv.amount_remaining), "notes": list(inv.notes), "memo": inv.memo,
        "created_at": _instant(inv.created_at), "finalize_at": _instant(inv.finalize_at),
        "finalized_at": _instant(inv.finalized_at), "due_date": inv.due_date.isoformat() if inv.due_date else None,
        "paid_at": _instant(inv.paid_at), "voided_at": _instant(inv.voided_at), "email_status": inv.email_status,
    }  # fmt: skip
