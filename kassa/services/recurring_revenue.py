"""Recurring revenue reports: MRR and its movements, cohort retention, customers likely to churn.

Read-only use cases. The store sums MRR on every month end in one query and measures the churn-risk signals
with one GROUP BY each; kassa.core.recurring_revenue and kassa.core.churn_risk compute the figures. Formulas
and vendor choices: docs/recurring-revenue.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from kassa.core import churn_risk
from kassa.core import recurring_revenue as rr
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.exchange_rates import RateBook
from kassa.core.money import Money, currency_code
from kassa.core.periods import local_day
from kassa.core.reports import MAX_MONTHS, Report, month_of, months, months_back, parse_month
from kassa.core.tenants import Tenant
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

DEFAULT_LIMIT = 100

Month = date | str | None  # a date in the month, or "2026-11"; None: see _span


def _month(value: date | str, field: str) -> date:
    return parse_month(value, field)


def _span(ctx: ServiceContext, tenant: Tenant, first_month: Month, last_month: Month) -> tuple[date, date]:
    """The months asked for; without `last_month` this month (in the tenant's time zone), without
    `first_month` the 12 months that end with the last."""
    if last_month is None:
        last = month_of(local_day(ctx.clock.now(), tenant.settings.time_zone))
    else:
        last = _month(last_month, "to")
    first = months_back(last, 11) if first_month is None else _month(first_month, "from")
    if last < first:
        raise DomainError("invalid_month", "`to` is not before `from`.", "to")
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise DomainError("invalid_month", f"A report covers at most {MAX_MONTHS} months.", "to")
    return first, last


def _reporting_currency(tenant: Tenant, currency: str | None) -> str:
    if currency is not None:
        return currency_code(currency, "currency")
    return tenant.settings.reporting_currency or tenant.settings.default_currency


def _series(uow: UnitOfWork, tenant_id: str, last: date) -> rr.Series:
    """Every account's MRR at every month end from the tenant's first recurring line to `last`."""
    start = uow.recurring_revenue.first_month(tenant_id)
    if start is None or start > last:
        return {}
    return uow.recurring_revenue.mrr_on(tenant_id, [rr.month_end(m) for m in months(start, last)])


def _rates(uow: UnitOfWork, tenant_id: str, currency: str, codes: Iterable[str]) -> RateBook:
    """The tenant's rate book, read only when some MRR is in another currency than the report's."""
    return uow.exchange_rates.book(tenant_id) if any(c != currency for c in codes) else RateBook()


def mrr_report(
    ctx: ServiceContext,
    actor: Actor,
    first_month: Month = None,
    last_month: Month = None,
    currency: str | None = None,
) -> Report:
    """MRR, ARR, the movements, customers, ARPA, churn and retention rates and LTV, month by month."""
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        first, last = _span(ctx, tenant, first_month, last_month)
        to = _reporting_currency(tenant, currency)
        series = _series(uow, actor.tenant_id, last)
        rates = _rates(uow, actor.tenant_id, to, {code for _, code in series})
    return rr.mrr_report(rr.mrr_movements(series, first=first, last=last, currency=to, rates=rates))


def cohort_report(
    ctx: ServiceContext,
    actor: Actor,
    first_month: Month = None,
    last_month: Month = None,
    currency: str | None = None,
) -> Report:
    """Customers grouped by their first month with MRR, each group followed month by month to `last_month`:
    the share still paying and the MRR kept."""
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        first, last = _span(ctx, tenant, first_month, last_month)
        to = _reporting_currency(tenant, currency)
        series = _series(uow, actor.tenant_id, last)
        rates = _rates(uow, actor.tenant_id, to, {code for _, code in series})
    return rr.cohort_report(rr.cohorts(series, first=first, last=last, currency=to, rates=rates))


def churn_risk_report(ctx: ServiceContext, actor: Actor, limit: int = DEFAULT_LIMIT) -> Report:
    """The customers with a churn signal today, highest score first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= churn_risk.MAX_LIMIT:
        raise DomainError("invalid_limit", f"limit is between 1 and {churn_risk.MAX_LIMIT}.", "limit")
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        today = local_day(now, tenant.settings.time_zone)
        signals = _signals(uow, actor.tenant_id, now, today)
        risks = churn_risk.rank(signals, limit)
        names = {
            cid: name
            for cid, (name, _) in uow.customers.names(actor.tenant_id, [r.customer_id for r in risks]).items()
        }
    return churn_risk.report(risks, names)


def _signals(uow: UnitOfWork, tenant_id: str, now: datetime, today: date) -> list[churn_risk.Signals]:
    store = uow.recurring_revenue
    window = timedelta(days=churn_risk.USAGE_WINDOW_DAYS)
    usage = store.usage(tenant_id, now - 2 * window, now - window, now)
    failed = store.failed_payments(tenant_id, now - timedelta(days=churn_risk.FAILED_PAYMENT_DAYS), now)
    dunning = store.invoices_in_dunning(tenant_id, today)
    then = today - timedelta(days=churn_risk.DOWNGRADE_DAYS)
    mrr = store.mrr_on(tenant_id, [then, today])
    trends = {
        cid: tuple(
            churn_risk.UsageTrend(metric=m, before=b, recent=r) for m, (b, r) in sorted(by_metric.items())
        )
        for cid, by_metric in usage.items()
    }
    # Only customers with a signal become Signals (Money for 50,000 customers' MRR would cost seconds).
    flagged = {cid for cid, ts in trends.items() if any(churn_risk.declining(t) for t in ts)}
    flagged |= set(failed) | set(dunning)
    flagged |= {cid for (cid, _), by_day in mrr.items() if 0 < by_day.get(today, 0) < by_day.get(then, 0)}
    changes: dict[str, list[churn_risk.MrrChange]] = {}
    for (cid, code), by_day in sorted(mrr.items()):
        if cid in flagged:
            before, current = max(by_day.get(then, 0), 0), max(by_day.get(today, 0), 0)
            changes.setdefault(cid, []).append(churn_risk.MrrChange(
                before=Money.from_minor_units(before, code), now=Money.from_minor_units(current, code)))  # fmt: skip
    return [
        churn_risk.Signals(customer_id=cid, usage=trends.get(cid, ()), failed_payments=failed.get(cid, 0),
                           invoices_in_dunning=dunning.get(cid, 0), mrr=tuple(changes.get(cid, ())))
        for cid in sorted(flagged)
    ]  # fmt: skip
