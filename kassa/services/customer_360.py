"""Reads the console's customer pages need beyond the API's: customers found by a piece of their name, email
or external id; the plans a subscription can move to; the days a cancellation would take effect; and what
serving a customer has cost so far.

The customer store filters by exact columns only, so the search walks the id-ordered pages and keeps the
matches; the next cursor is the last scanned customer's id (cursors are "ids below this one"), so paging on
from it neither skips nor repeats a match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from kassa.core.audit import Actor
from kassa.core.billing_schedule import timeline
from kassa.core.catalog import Plan
from kassa.core.customers import Customer, CustomerFilter
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.pages import MAX_LIMIT, Page, check_limit
from kassa.core.periods import local_day
from kassa.core.subscriptions import Status
from kassa.services import catalog
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for

MAX_SCANNED = 5_000  # a search that matches rarely stops here, with a cursor to go on from
MAX_QUERY = 200
MAX_COST_ENTRIES = 10_000
CLOSED = (Status.CANCELED, Status.ENDED)


def matches(customer: Customer, query: str) -> bool:
    """Case-insensitive: a part of the name, legal name, external id or an email, or the exact id."""
    needle = query.casefold()
    if customer.id == query:
        return True
    texts = (customer.name, customer.legal_name or "", customer.external_id, *customer.emails)
    return any(needle in text.casefold() for text in texts)


def search_customers(
    ctx: ServiceContext,
    actor: Actor,
    where: CustomerFilter,
    *,
    query: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Customer]:
    """The customers `where` selects, newest first, and of those only the ones `query` matches (if given)."""
    check_limit(limit)
    query = (query or "").strip()
    if len(query) > MAX_QUERY:
        raise DomainError("invalid_query", f"Search for at most {MAX_QUERY} characters.", "q")
    with ctx.uow(read_only=True) as uow:
        if not query:
            return uow.customers.list(actor.tenant_id, where, limit=limit, cursor=cursor)
        kept: list[Customer] = []
        scanned = 0
        after = cursor
        while True:
            batch = uow.customers.list(actor.tenant_id, where, limit=MAX_LIMIT, cursor=after)
            for item in batch.items:
                scanned += 1
                after = item.id
                if matches(item, query):
                    kept.append(item)
                    if len(kept) == limit:
                        more = batch.has_more or item is not batch.items[-1]
                        return Page(items=kept, has_more=more, next_cursor=after if more else None)
            if not batch.has_more:
                return Page(items=kept, has_more=False, next_cursor=None)
            if scanned >= MAX_SCANNED:
                return Page(items=kept, has_more=True, next_cursor=after)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionOptions:
    """What an agent can choose for one subscription: the other plans of its plan's family sold in its
    currency now (lowest first), and the days a cancellation now or at the period's end takes effect."""

    subscription_id: str
    plans: list[Plan]
    today: date
    period_end: date | None  # None: the subscription is over, or has no period left


def subscription_options(ctx: ServiceContext, actor: Actor, subscription_id: str) -> SubscriptionOptions:
    with ctx.uow(read_only=True) as uow:
        sub = uow.subscriptions.get(actor.tenant_id, subscription_id)
        customer = uow.customers.get(actor.tenant_id, sub.customer_id)
        now = now_for(ctx, uow, customer)
        versions = catalog.versions(uow, actor.tenant_id)
    today = local_day(now, sub.time_zone)
    plans: list[Plan] = []
    period_end: date | None = None
    if versions and sub.status not in CLOSED:
        on_sale = [v for v in versions if v.effective_at <= now] or versions[:1]
        current = max(on_sale, key=lambda v: v.number).catalog
        family = current.family_of(sub.terms.plan)
        if family is not None:
            for code in family.plans:
                plan = current.plans.get(code)
                if code != sub.terms.plan and plan is not None and sub.currency in plan.currencies:
                    plans.append(plan)
        day = max(today, sub.start)
        tl = timeline(sub, versions, day + timedelta(days=800))
        if tl.end is None or day < tl.end:
            period_end = tl.period_end(day)
    return SubscriptionOptions(subscription_id=sub.id, plans=plans, today=today, period_end=period_end)


def cost_to_serve(ctx: ServiceContext, actor: Actor, customer_id: str) -> dict[str, Money]:
    """Everything recorded as the cost of serving the customer, per currency (support time, infrastructure,
    payment fees imported or logged)."""
    totals: dict[str, Money] = {}
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        cursor: str | None = None
        seen = 0
        while seen < MAX_COST_ENTRIES:
            batch = uow.cost_entries.list(actor.tenant_id, customer.id, limit=MAX_LIMIT, cursor=cursor)
            for entry in batch.items:
                seen += 1
                currency = entry.amount.currency
                totals[currency] = totals.get(currency, Money.zero(currency)) + entry.amount
            if not batch.has_more or batch.next_cursor is None:
                break
            cursor = batch.next_cursor
    return totals
