"""The reads behind the portal's self-service pages (issue 10): a customer's subscriptions with the plans
they may switch to and the day a cancellation would take effect, what of an invoice's lines is left to
dispute, and the customer's wallet. Each read takes the customer of the visit and refuses (NotFound) an
object of another customer, so a portal page cannot be pointed at someone else's subscription or invoice.

The changes themselves go through the ordinary services (subscriptions, disputes, wallets, support); only
a top-up needs a step of its own: a customer without a wallet gets one in their currency first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kassa.core.audit import Actor
from kassa.core.billing_schedule import sale_version, timeline
from kassa.core.catalog import Catalog, Plan
from kassa.core.disputes import Dispute, disputable
from kassa.core.errors import DomainError, NotFound
from kassa.core.invoicing import Invoice, InvoiceLine
from kassa.core.money import Money
from kassa.core.payments import Payment
from kassa.core.periods import BillingPeriod, local_day
from kassa.core.subscriptions import (
    Change,
    ChangeKind,
    ChangeStatus,
    Status,
    Subscription,
    SubscriptionFilter,
)
from kassa.core.wallets import Transaction
from kassa.services import catalog, disputes, wallets
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for

# Subscriptions the portal offers to change or cancel; a canceled or ended one is only history.
LIVE = frozenset({Status.PENDING, Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.PAST_DUE})
HORIZON_DAYS = 800  # as far as subscriptions look for the next transition (annual periods, trials)
MAX_SUBSCRIPTIONS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanOption:
    """A plan as the portal shows it: its name and its standing price per billing period."""

    code: str
    name: str
    price: Money  # flat + per unit × the subscription's quantity, in the subscription's currency
    period: BillingPeriod


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionPlan:
    subscription: Subscription
    plan: PlanOption
    today: date  # the customer's local day
    renews_on: date | None  # the next period boundary, None when the subscription ends before it
    ends_on: date | None  # a cancellation (or the end of a fixed term) already on the timeline
    cancel_on: date  # where a cancellation "at the end of the period" would land
    scheduled: Change | None  # a plan change still to come
    options: list[PlanOption]  # the other plans of its family sold in its currency


def _price(plan: Plan, currency: str, quantity: int) -> Money:
    """The price once trials and introductory discounts are over: the last billable phase's."""
    billable = [p for p in plan.phases if p.billable and currency in p.prices]
    if not billable:
        return Money.zero(currency)
    price = billable[-1].prices[currency]
    return Money(price.flat + price.per_unit * Decimal(quantity), currency)


def _option(plan: Plan, currency: str, quantity: int) -> PlanOption:
    return PlanOption(code=plan.code, name=plan.name, price=_price(plan, currency, quantity),
                      period=plan.billing_period)  # fmt: skip


def _options(sold: Catalog, current: str, currency: str, quantity: int) -> list[PlanOption]:
    family = sold.family_of(current)
    if family is None:  # a plan outside any family cannot be replaced (Catalog.direction)
        return []
    return [
        _option(sold.plans[code], currency, quantity)
        for code in family.plans
        if code != current and code in sold.plans and currency in sold.plans[code].currencies
    ]


def plans(ctx: ServiceContext, actor: Actor, customer_id: str) -> list[SubscriptionPlan]:
    """The customer's live subscriptions, oldest first, each with its plan, renewal and end, and the plans
    it may change to (the newest catalog version selling them in its currency today)."""
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        versions = catalog.versions(uow, actor.tenant_id)
        found: list[Subscription] = []
        cursor: str | None = None
        while True:
            page = uow.subscriptions.list(actor.tenant_id, SubscriptionFilter(customer_id=customer.id),
                                          limit=MAX_SUBSCRIPTIONS, cursor=cursor)  # fmt: skip
            found.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    out = []
    for sub in sorted(found, key=lambda s: (s.created_at, s.id)):
        if sub.status not in LIVE:
            continue
        today = local_day(now, sub.time_zone)
        base = max(today, sub.start)
        tl = timeline(sub, versions, date.fromordinal(base.toordinal() + HORIZON_DAYS))
        period_end = tl.period_end(base)
        selling = sale_version(versions, sub.terms.plan, sub.currency, base, sub.time_zone).catalog
        scheduled = next((c for c in sub.changes if c.kind is ChangeKind.CHANGE and c.status is ChangeStatus.PENDING
                          and c.effective > today), None)  # fmt: skip
        out.append(SubscriptionPlan(
            subscription=sub, plan=_option(selling.plan(sub.terms.plan), sub.currency, sub.terms.quantity),
            today=today, renews_on=None if tl.end is not None and tl.end <= period_end else period_end,
            ends_on=tl.end, cancel_on=period_end, scheduled=scheduled,
            options=_options(selling, sub.terms.plan, sub.currency, sub.terms.quantity),
        ))  # fmt: skip
    return out


def owned_subscription(
    ctx: ServiceContext, actor: Actor, customer_id: str, subscription_id: str
) -> Subscription:
    """The subscription, if it is the customer's; NotFound otherwise (the same answer as a missing one)."""
    with ctx.uow(read_only=True) as uow:
        try:
            sub = uow.subscriptions.get(actor.tenant_id, subscription_id)
        except NotFound:
            sub = None
    if sub is None or sub.customer_id != customer_id:
        raise NotFound("subscription", subscription_id)
    return sub


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputableLine:
    line: InvoiceLine
    left: Money  # what can still be disputed, tax included


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputeForm:
    invoice: Invoice
    lines: list[DisputableLine]  # the lines that charge something, in order
    disputes: list[Dispute]  # the invoice's disputes so far, oldest first


def dispute_form(ctx: ServiceContext, actor: Actor, customer_id: str, invoice_id: str) -> DisputeForm:
    """An invoice of the customer with what is left to dispute on each line; NotFound for another
    customer's invoice (or a draft, which the customer never sees)."""
    with ctx.uow(read_only=True) as uow:
        try:
            invoice = uow.invoices.get(actor.tenant_id, invoice_id)
        except NotFound:
            invoice = None
        if invoice is None or invoice.customer_id != customer_id or not invoice.finalized:
            raise NotFound("invoice", invoice_id)
        notes = uow.credit_notes.of_invoice(actor.tenant_id, invoice.id)
        lines = [
            DisputableLine(line=line, left=disputable(line, notes, uow.disputes.open_amount(
                actor.tenant_id, invoice.id, invoice.currency, position=line.position)))
            for line in invoice.lines
            if line.net.amount > 0
        ]  # fmt: skip
        found = uow.disputes.of_invoice(actor.tenant_id, invoice.id)
    return DisputeForm(
        invoice=invoice, lines=lines, disputes=sorted(found, key=lambda d: (d.opened_at, d.id))
    )


def open_dispute(ctx: ServiceContext, actor: Actor, customer_id: str, invoice_id: str,
                 fields: dict[str, Any]) -> Dispute:  # fmt: skip
    """A dispute the customer opens in the portal, on their own invoice only."""
    form = dispute_form(ctx, actor, customer_id, invoice_id)
    return disputes.open_dispute(ctx, actor, form.invoice.id, {**fields, "opened_by": "customer"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletLot:
    kind: str  # paid or free
    amount: Money
    remaining: Money
    granted_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WalletView:
    id: str
    total: Money
    paid: Money
    free: Money
    lots: list[WalletLot]  # live ones, soonest to expire first
    transactions: list[Transaction]  # the latest, newest first


def _money(doc: dict[str, str]) -> Money:
    return Money.parse(doc["amount"], doc["currency"])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _instant(text: str | None) -> datetime | None:
    return None if text is None else _at(text)


def _found(ctx: ServiceContext, actor: Actor, customer_id: str) -> dict[str, Any] | None:
    with ctx.uow(read_only=True) as uow:
        currency = uow.customers.get(actor.tenant_id, customer_id).currency
    return next(
        (w for w in wallets.customer_wallets(ctx, actor, customer_id) if w["currency"] == currency), None
    )


def wallet(ctx: ServiceContext, actor: Actor, customer_id: str, *, latest: int = 10) -> WalletView | None:
    """The customer's wallet in their own currency (the one the portal tops up) with its live lots and its
    `latest` movements, or None before the first top-up."""
    found = _found(ctx, actor, customer_id)
    if found is None:
        return None
    moves = wallets.list_transactions(ctx, actor, found["id"], limit=latest, cursor=None).items
    lots = [
        WalletLot(kind=lot["kind"], amount=_money(lot["amount"]), remaining=_money(lot["remaining"]),
                  granted_at=_at(lot["granted_at"]), expires_at=_instant(lot["expires_at"]))
        for lot in found["lots"]
    ]  # fmt: skip
    balance = found["balance"]
    return WalletView(id=found["id"], total=_money(balance["total"]), paid=_money(balance["paid"]),
                      free=_money(balance["free"]), lots=lots, transactions=list(moves))  # fmt: skip


def top_up(ctx: ServiceContext, actor: Actor, customer_id: str, amount: str) -> Payment:
    """Buy credits for `amount` of the customer's currency with their default payment method; the first
    top-up opens the wallet (after the amount is checked, so a typo leaves no empty wallet behind)."""
    found = _found(ctx, actor, customer_id)
    if found is None:
        with ctx.uow(read_only=True) as uow:
            currency = uow.customers.get(actor.tenant_id, customer_id).currency
        checked = Money.parse(amount, currency, field="amount") if isinstance(amount, str) else None
        if checked is None or checked.amount <= 0 or not checked.is_rounded:
            raise DomainError("invalid_amount", f"A positive amount in {currency}'s minor units.", "amount")
        found = wallets.create_wallet(ctx, actor, {"customer_id": customer_id})
    return wallets.top_up(ctx, actor, found["id"], {"amount": amount})
