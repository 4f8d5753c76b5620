"""The reads behind the console dashboard that no other report answers: money collected per month with what
is still owed (due and overdue, by age), usage events per month and metric, and the customers with the
highest MRR. Each returns a kassa.core.reports.Report, like the MRR and revenue reports the dashboard also
shows; amounts are converted into the reporting currency the way those convert (at the rate of the month's
last day; what is owed today at today's rate). docs/console-dashboard.md says what each figure means.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.exchange_rates import RateBook
from kassa.core.money import Money, currency_code
from kassa.core.payments import AGING_BUCKETS, aging
from kassa.core.periods import local_day, start_of
from kassa.core.recurring_revenue import month_end
from kassa.core.reports import RateUsed, Report, Value, month_name, next_month
from kassa.core.tenants import Tenant
from kassa.services import exchange_rates, revenue_reports
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

TOP_CUSTOMERS = 10
MAX_TOP_CUSTOMERS = 100

COLLECTION_NOTES = (
    "collected: payments that succeeded, by the month they settled in (in the tenant's time zone), before "
    "refunds",
    "summary: open receivables on today's date by days past due; due = not yet past due, overdue = the rest",
)


def reporting_currency(ctx: ServiceContext, actor: Actor) -> str:
    """The currency reports default to: the tenant's reporting currency, else its default currency."""
    with ctx.uow(read_only=True) as uow:
        settings = uow.tenants.get(actor.tenant_id).settings
    return settings.reporting_currency or settings.default_currency


def currencies(ctx: ServiceContext, actor: Actor) -> list[str]:
    """The currencies a report can sensibly be asked in: the reporting and default currencies, those
    customers are billed in and those the tenant's exchange rates quote."""
    with ctx.uow(read_only=True) as uow:
        settings = uow.tenants.get(actor.tenant_id).settings
        found = uow.dashboard.currencies(actor.tenant_id)
    found |= {
        settings.default_currency,
        *([settings.reporting_currency] if settings.reporting_currency else []),
    }
    return sorted(found)


def _bounds(tenant: Tenant, months: list[date]) -> list[datetime]:
    """The instants the months begin in the tenant's time zone, and the instant the last one ends."""
    zone = tenant.settings.time_zone
    return [start_of(m, zone) for m in months] + [start_of(next_month(months[-1]), zone)]


def _converter(
    book: RateBook, to: str, used: dict[tuple[str, date], RateUsed]
) -> Any:  # a closure: (Money, day) -> Money, noting each rate used
    def convert(money: Money, day: date) -> Money:
        converted, rate = book.convert(money, to, day)
        if money.currency != to:
            used[(money.currency, rate.day)] = rate
        return converted

    return convert


def _rates(used: dict[tuple[str, date], RateUsed]) -> tuple[RateUsed, ...]:
    return tuple(sorted(used.values(), key=lambda r: (r.day, r.currency)))


def _currency(currency: str | None, uow: UnitOfWork, tenant_id: str, codes: set[str]) -> tuple[str, RateBook]:
    wanted = None if currency is None else currency_code(currency, "currency")
    default, book = exchange_rates.reporting(uow, tenant_id, codes | ({wanted} if wanted else set()))
    return wanted or default, book


def collections_report(
    ctx: ServiceContext, actor: Actor, first: Any, last: Any, currency: str | None = None
) -> Report:
    """Per month: payments that succeeded and the amount collected; summary: what is owed today, due and
    overdue, and by days past due (current, 1-30, 31-60, 61-90, over 90)."""
    months = revenue_reports.span(ctx, actor, first, last)
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        today = local_day(now, tenant.settings.time_zone)
        collected = uow.dashboard.collected(actor.tenant_id, _bounds(tenant, months))
        owed = [
            (i.customer_id, i.due_date or today, i.amount_remaining)
            for i in uow.invoices.open(actor.tenant_id)
            if i.amount_remaining.amount > 0
        ]
        codes = {c.currency for c in collected} | {m.currency for _, _, m in owed}
        to, book = _currency(currency, uow, actor.tenant_id, codes)
    used: dict[tuple[str, date], RateUsed] = {}
    convert = _converter(book, to, used)
    zero = Money.zero(to)
    amounts: dict[int, Money] = defaultdict(lambda: zero)
    counts: dict[int, int] = defaultdict(int)
    for c in collected:
        money = Money.from_minor_units(c.amount_minor, c.currency)
        amounts[c.month] += convert(money, month_end(months[c.month]))
        counts[c.month] += c.payments
    rows: list[dict[str, Value]] = [
        {"month": month_name(m), "payments": counts[i], "collected": amounts[i]} for i, m in enumerate(months)
    ]
    buckets = {b: zero for b in AGING_BUCKETS}
    for by_bucket in aging(owed, today).totals.values():
        for bucket, money in by_bucket.items():
            buckets[bucket] += convert(money, today)
    overdue = sum((buckets[b] for b in AGING_BUCKETS if b != "current"), zero)
    summary: dict[str, Value] = {
        "on": today, "collected": sum(amounts.values(), zero), "due": buckets["current"], "overdue": overdue,
        "open": buckets["current"] + overdue, **{f"aging_{b}": buckets[b] for b in AGING_BUCKETS},
    }  # fmt: skip
    return Report(name="collections", columns=("month", "payments", "collected"), rows=tuple(rows), currency=to,
                  rates=_rates(used), notes=COLLECTION_NOTES, summary=summary)  # fmt: skip


def usage_report(ctx: ServiceContext, actor: Actor, first: Any, last: Any) -> Report:
    """Per month and billable metric: the usage events whose timestamp falls in the month (late ones too)."""
    months = revenue_reports.span(ctx, actor, first, last)
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        counts = uow.dashboard.usage_events(actor.tenant_id, _bounds(tenant, months))
    by: dict[tuple[int, str], int] = {(c.month, c.metric): c.events for c in counts}
    metrics = sorted({c.metric for c in counts})
    rows: list[dict[str, Value]] = [
        {"month": month_name(m), "metric": metric, "events": by.get((i, metric), 0)}
        for i, m in enumerate(months)
        for metric in metrics
    ]
    totals: dict[str, Value] = {
        metric: sum(by.get((i, metric), 0) for i in range(len(months))) for metric in metrics
    }
    return Report(name="usage_events", columns=("month", "metric", "events"), rows=tuple(rows),
                  notes=("events: usage events by the month of their timestamp, in the tenant's time zone",),
                  summary={"events": sum(c.events for c in counts), **{f"events_{k}": v for k, v in totals.items()}})  # fmt: skip


def top_customers_report(
    ctx: ServiceContext, actor: Actor, month: Any, currency: str | None = None, limit: int = TOP_CUSTOMERS
) -> Report:
    """The customers with the highest MRR at the end of `month` (default: this month), converted into the
    reporting currency at that day's rate; ties by name."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_TOP_CUSTOMERS:
        raise DomainError("invalid_limit", f"limit is between 1 and {MAX_TOP_CUSTOMERS}.", "limit")
    this = revenue_reports.span(ctx, actor, month, month)[-1] if month is not None else revenue_reports.span(
        ctx, actor, None, None)[-1]  # fmt: skip
    day = month_end(this)
    with ctx.uow(read_only=True) as uow:
        mrr = uow.recurring_revenue.mrr_on(actor.tenant_id, [day])
        to, book = _currency(currency, uow, actor.tenant_id, {code for _, code in mrr})
        ids = sorted({cid for (cid, _), by_day in mrr.items() if by_day.get(day, 0) > 0})
        names = uow.customers.names(actor.tenant_id, ids)
    used: dict[tuple[str, date], RateUsed] = {}
    convert = _converter(book, to, used)
    totals: dict[str, Money] = defaultdict(lambda: Money.zero(to))
    for (cid, code), by_day in mrr.items():
        if by_day.get(day, 0) > 0:
            totals[cid] += convert(Money.from_minor_units(by_day[day], code), day)
    ranked = sorted(
        totals.items(), key=lambda item: (-item[1].amount, names.get(item[0], ("", ""))[0], item[0])
    )
    rows: list[dict[str, Value]] = [
        {"customer_id": cid, "name": names.get(cid, (cid, ""))[0], "external_id": names.get(cid, ("", ""))[1],
         "mrr": money}
        for cid, money in ranked[:limit]
    ]  # fmt: skip
    return Report(name="top_customers", columns=("customer_id", "name", "external_id", "mrr"), rows=tuple(rows),
                  currency=to, rates=_rates(used), summary={"month": month_name(this), "customers": len(totals)})  # fmt: skip
