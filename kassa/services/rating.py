"""Rating: what usage costs — a period's usage lines for many subscriptions at once (the database
aggregates, the core prices), a customer's current usage with its forecast, advice of charge, and usage
thresholds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kassa.core.audit import Actor
from kassa.core.billing_schedule import timeline
from kassa.core.catalog import CatalogVersion, Plan
from kassa.core.errors import DomainError, NotFound
from kassa.core.metering import BillableMetric, measure, number
from kassa.core.money import Money, RoundingMode
from kassa.core.periods import days, local_day, start_of
from kassa.core.rating import (
    ChargeTiming,
    Part,
    UsageCharge,
    forecast,
    increment,
    minimum_true_up,
    rate,
    with_more,
)
from kassa.core.subscriptions import Status, Subscription
from kassa.core.usage import UsageLine, UsagePeriod, price_usage, usage_period
from kassa.core.usage_thresholds import ThresholdKind, UsageThreshold, parse_threshold
from kassa.core.wallets import balance as wallet_balance
from kassa.services import catalog
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.store.uow import UnitOfWork
from kassa.store.usage_events import Window

HORIZON = timedelta(days=400)  # past the end of any billing period (a year at most) that contains a day
ENDED = frozenset({Status.CANCELED, Status.ENDED})


def period_of(sub: Subscription, versions: Sequence[CatalogVersion], day: date) -> UsagePeriod | None:
    """The usage period of `sub` that contains the local `day`, or None if it is not live then."""
    if not versions or day < sub.start:
        return None
    return usage_period(timeline(sub, versions, day + HORIZON), day)


def instants(sub: Subscription, start: date, end: date) -> tuple[datetime, datetime]:
    return _start_of(start, sub.time_zone), _start_of(end, sub.time_zone)


@lru_cache(maxsize=65_536)
def _start_of(day: date, time_zone: str) -> datetime:
    """Ten thousand subscriptions share a handful of period boundaries: each converted once."""
    return start_of(day, time_zone)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ask:
    index: int  # which entry
    metric: str
    slice: int | None  # None: the whole period


def usage_windows(
    entries: Sequence[tuple[Subscription, UsagePeriod]], metrics: Mapping[str, BillableMetric],
    late_before: Sequence[datetime | None] | None = None, until: Sequence[datetime | None] | None = None,
) -> tuple[list[Window], list[_Ask]]:  # fmt: skip
    """One window per entry, metric and price slice (whole period for non-additive metrics); `until` cuts
    the period short (usage so far: a level is held up to now, not to the period's end)."""
    windows: list[Window] = []
    asks: list[_Ask] = []
    for index, (sub, period) in enumerate(entries):
        cut = late_before[index] if late_before else None
        stop = until[index] if until else None
        for code in period.charges():
            metric = metrics.get(code)
            if metric is None:
                continue
            spans = (
                [(i, s.start, s.end) for i, s in enumerate(period.slices)]
                if metric.aggregation.additive
                else [(None, period.start, period.end)]
            )
            for i, first, last in spans:
                start, end = instants(sub, first, last)
                if stop is not None:
                    end = max(start, min(end, stop))
                windows.append(Window(key=len(windows), subscription_id=sub.id, metric=code, start=start, end=end,
                                      late_before=cut))  # fmt: skip
                asks.append(_Ask(index=index, metric=code, slice=i))
    return windows, asks


def rate_periods(
    uow: UnitOfWork, tenant_id: str, rounding: RoundingMode,
    entries: Sequence[tuple[Subscription, UsagePeriod]], metrics: Mapping[str, BillableMetric] | None = None,
    late_before: Sequence[datetime | None] | None = None, until: Sequence[datetime | None] | None = None,
) -> list[list[UsageLine]]:  # fmt: skip
    """Each entry's usage lines for its period: one aggregation query per kind for all of them."""
    codes = {code for _, period in entries for code in period.charges()}
    metrics = metrics if metrics is not None else uow.billable_metrics.many(tenant_id, codes)
    windows, asks = usage_windows(entries, metrics, late_before, until)
    quantities = uow.usage_events.aggregate(tenant_id, metrics, windows)
    transactional = [w for w, a in zip(windows, asks, strict=True)
                     if entries[a.index][1].charges()[a.metric].transactional]  # fmt: skip
    moves = uow.usage_events.transactions(tenant_id, transactional) if transactional else {}
    per_entry: list[
        dict[str, tuple[list[Mapping[str, Decimal]], list[Mapping[str, tuple[Decimal, ...]]]]]
    ] = [{} for _ in entries]
    for window, ask in zip(windows, asks, strict=True):
        q, t = per_entry[ask.index].setdefault(ask.metric, ([], []))
        q.append(quantities.get(window.key, {}))
        t.append(moves.get(window.key, {}))
    out = []
    for index, (sub, period) in enumerate(entries):
        lines: list[UsageLine] = []
        for code, (q, t) in per_entry[index].items():
            lines.extend(price_usage(period, metrics[code], q, sub.currency, rounding, t))
        out.append(lines)
    return out


# ---- current usage -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentLine:
    line: UsageLine
    forecast_quantity: Decimal
    forecast: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class LateLine:
    """Usage of an earlier, already closed period, received in this one: billed here as its own line."""

    metric: str
    group: str
    period_start: date
    period_end: date
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrentUsage:
    subscription: Subscription
    period: UsagePeriod
    now: datetime
    lines: list[CurrentLine]
    late: list[LateLine]
    minimum_spend: Money | None
    true_up: Money | None  # what the minimum adds if nothing more is used
    currency: str

    @property
    def charged(self) -> Money:
        return sum((c.line.amount for c in self.lines), Money.zero(self.currency)) + sum(
            (late.amount for late in self.late), Money.zero(self.currency)
        )

    @property
    def forecast(self) -> Money:
        return sum((c.forecast for c in self.lines), Money.zero(self.currency))


def _forecast(line: UsageLine, period: UsagePeriod, metric: BillableMetric, elapsed: timedelta,
              length: timedelta, currency: str, rounding: RoundingMode) -> CurrentLine:  # fmt: skip
    quantity = forecast(line.rated.quantity, elapsed, length, additive=metric.aggregation.additive)
    if line.charge.transactional:  # per-transaction fees scale with the pace of transactions
        amount = forecast(line.rated.amount, elapsed, length, additive=True)
    else:
        own = period.plan.charge(line.metric) or line.charge
        amount = rate(line.charge, [Part(quantity=quantity, params=own.prices[currency])]).amount
    return CurrentLine(
        line=line, forecast_quantity=quantity, forecast=Money.rounded(amount, currency, rounding)
    )


def _late_lines(
    uow: UnitOfWork, sub: Subscription, versions: Sequence[CatalogVersion], start: datetime, end: datetime,
    metrics: Mapping[str, BillableMetric], rounding: RoundingMode,
) -> list[LateLine]:  # fmt: skip
    """For each earlier period with late usage received in [start, end): its amount with that usage, less
    its amount without it."""
    earlier: dict[date, UsagePeriod] = {}
    for _, instant in uow.usage_events.late_periods(sub.tenant_id, sub.id, start, end):
        period = period_of(sub, versions, local_day(instant, sub.time_zone))
        if period is not None:
            earlier[period.start] = period
    lines = []
    for period in earlier.values():
        pair = [(sub, period), (sub, period)]
        before, after = rate_periods(uow, sub.tenant_id, rounding, pair, metrics, late_before=[start, end])
        old = {(line.metric, line.group): line.amount for line in before}
        for line in after:
            if line.charge.timing is ChargeTiming.IN_ADVANCE:
                continue  # charged per event when it arrived, late or not
            delta = line.amount - old.get((line.metric, line.group), Money.zero(sub.currency))
            if delta.amount:
                lines.append(LateLine(metric=line.metric, group=line.group, period_start=period.start,
                                      period_end=period.end, amount=delta))  # fmt: skip
    return lines


def _current(
    uow: UnitOfWork,
    sub: Subscription,
    versions: Sequence[CatalogVersion],
    now: datetime,
    rounding: RoundingMode,
) -> CurrentUsage | None:
    day = local_day(now, sub.time_zone)
    period = period_of(sub, versions, day)
    if period is None:
        return None
    metrics = uow.billable_metrics.many(sub.tenant_id, period.charges())
    (lines,) = rate_periods(uow, sub.tenant_id, rounding, [(sub, period)], metrics, until=[now])
    start, end = instants(sub, period.start, period.end)
    current = [_forecast(line, period, metrics[line.metric], now - start, end - start, sub.currency, rounding)
               for line in lines]  # fmt: skip
    late = _late_lines(uow, sub, versions, start, end, metrics, rounding)
    minimum = period.plan.minimum_spend.get(sub.currency)
    minimum_money = true_up = None
    if minimum is not None:
        charged = sum((line.amount.amount for line in lines), Decimal(0))
        billed_days = sum(
            days(s.start, s.end) for s in period.slices if s.billable
        )  # not the trial or a pause
        owed = (
            minimum_true_up(minimum, charged, part_days=billed_days, period_days=period.full_days)
            if billed_days else Decimal(0)
        )  # fmt: skip
        minimum_money = Money.rounded(minimum, sub.currency, rounding)
        true_up = Money.rounded(owed, sub.currency, rounding)
    return CurrentUsage(subscription=sub, period=period, now=now, lines=current, late=late,
                        minimum_spend=minimum_money, true_up=true_up, currency=sub.currency)  # fmt: skip


def current_usage(
    ctx: ServiceContext, actor: Actor, customer_id: str, subscription_id: str | None = None
) -> list[CurrentUsage]:
    """The open period's usage of each of the customer's live subscriptions (or of one)."""
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        versions = catalog.versions(uow, actor.tenant_id)
        rounding = uow.tenants.get(actor.tenant_id).settings.rounding_mode
        subs = uow.subscriptions.many(actor.tenant_id, customer_ids=[customer_id])
        if subscription_id is not None:
            subs = [s for s in subs if s.id == subscription_id]
            if not subs:
                raise NotFound("subscription", subscription_id)
        out = []
        for sub in subs:
            usage = _current(uow, sub, versions, now, rounding)
            if usage is not None:
                out.append(usage)
        return out


# ---- advice of charge ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    subscription: Subscription
    metric: str
    group: str
    units: Decimal
    cost: Money
    quantity_before: Decimal
    tier_before: int | None
    tier_after: int | None
    included_left: Decimal  # of the allowance, before these units
    wallet_balance: Money | None = None  # issue 9: what the prepaid wallet paying these charges holds now


def estimate(ctx: ServiceContext, actor: Actor, body: Mapping[str, Any]) -> Estimate:
    """What `units` more of a metric (or one usage event with `properties`) would cost the subscription now,
    given the period's usage so far: the tiers reached and the allowance used."""
    unknown = set(body) - {"subscription_id", "metric", "units", "properties"}
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown field {name!r}.", name)
    if not isinstance(body.get("subscription_id"), str) or not isinstance(body.get("metric"), str):
        raise DomainError("invalid_estimate", "Give subscription_id and metric.", "subscription_id")
    if ("units" in body) == ("properties" in body):
        raise DomainError(
            "invalid_estimate", "Give units, or the usage event's properties (one of them).", "units"
        )
    with ctx.uow(read_only=True) as uow:
        sub = uow.subscriptions.get(actor.tenant_id, body["subscription_id"])
        metric = uow.billable_metrics.get(actor.tenant_id, body["metric"])
        now = now_for(ctx, uow, uow.customers.get(actor.tenant_id, sub.customer_id))
        versions = catalog.versions(uow, actor.tenant_id)
        rounding = uow.tenants.get(actor.tenant_id).settings.rounding_mode
        period = period_of(sub, versions, local_day(now, sub.time_zone))
        charge = period.charges().get(metric.code) if period else None
        if period is None or charge is None:
            raise DomainError("metric_not_priced", f"The subscription's plan does not price {metric.code!r} now.",
                              "metric")  # fmt: skip
        group, units, transaction = "", Decimal(1), None
        if "units" in body:
            units = number(body["units"], "units")
            if units <= 0:
                raise DomainError("invalid_estimate", "units is above zero.", "units")
        else:
            properties = body["properties"]
            if not isinstance(properties, dict):
                raise DomainError("invalid_estimate", "properties is an object.", "properties")
            measured = measure(metric, properties)
            group = measured.group_key
            units = measured.value if measured.value is not None else Decimal(1)
            transaction = measured.value if charge.transactional else None
        parts = _parts(uow, sub, period, metric, charge, group, now)
        wallet = uow.wallets.paying(actor.tenant_id, sub.customer_id, sub.currency)
        lots = uow.wallets.lots(actor.tenant_id, [wallet.id])[wallet.id] if wallet else None
        in_wallet = None if lots is None else wallet_balance(lots, sub.currency, now).total
    before = rate(charge, parts)
    cost = increment(charge, parts, units, transaction)
    after = rate(charge, with_more(parts, units, transaction))
    return Estimate(
        subscription=sub, metric=metric.code, group=group, units=units,
        cost=Money.rounded(cost, sub.currency, rounding), quantity_before=before.quantity,
        tier_before=before.tier, tier_after=after.tier,
        included_left=max(Decimal(0), charge.included - before.quantity), wallet_balance=in_wallet,
    )  # fmt: skip


def _parts(
    uow: UnitOfWork, sub: Subscription, period: UsagePeriod, metric: BillableMetric, charge: UsageCharge, group: str,
    now: datetime,
) -> list[Part]:  # fmt: skip
    """The period's usage so far (up to now) for one metric and group, as rate() takes it."""
    windows, asks = usage_windows([(sub, period)], {metric.code: metric}, until=[now])
    windows = [w for w, a in zip(windows, asks, strict=True) if a.metric == metric.code]
    asks = [a for a in asks if a.metric == metric.code]
    quantities = uow.usage_events.aggregate(sub.tenant_id, {metric.code: metric}, windows)
    moves = uow.usage_events.transactions(sub.tenant_id, windows) if charge.transactional else {}
    parts = []
    for window, ask in zip(windows, asks, strict=True):
        piece = period.slices[ask.slice] if ask.slice is not None else period.slices[-1]
        own = piece.plan.charge(metric.code)
        if own is None or not piece.billable:
            continue
        parts.append(Part(quantity=quantities.get(window.key, {}).get(group, Decimal(0)),
                          params=own.prices[sub.currency],
                          transactions=moves.get(window.key, {}).get(group, ())))  # fmt: skip
    if not parts:
        raise DomainError("metric_not_priced", f"Usage of {metric.code!r} is not billed now (trial or pause).",
                          "metric")  # fmt: skip
    return parts


# ---- thresholds ----------------------------------------------------------------------------------------


def create_threshold(
    ctx: ServiceContext, actor: Actor, subscription_id: str, body: Mapping[str, Any]
) -> UsageThreshold:
    kind, value, metric_code = parse_threshold(body)
    with ctx.uow() as uow:
        sub = uow.subscriptions.get(actor.tenant_id, subscription_id)
        if metric_code is not None:
            uow.billable_metrics.get(actor.tenant_id, metric_code)
            plan = current_plan(ctx, uow, sub)
            charge = plan.charge(metric_code) if plan else None
            if charge is None:
                raise DomainError("metric_not_priced", f"The plan does not price {metric_code!r}.", "metric")
            if kind is ThresholdKind.ALLOWANCE_PERCENT and not charge.included:
                raise DomainError("no_allowance", f"The plan includes no units of {metric_code!r}.", "metric")
        threshold = UsageThreshold(tenant_id=actor.tenant_id, id=ctx.new_id("uth"), subscription_id=sub.id,
                                   kind=kind, value=value, metric=metric_code, created_at=ctx.clock.now())  # fmt: skip
        uow.usage_thresholds.add(threshold)
        uow.commit()
    return threshold


def current_plan(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription) -> Plan | None:
    """The plan the subscription is on today, at the version that prices it."""
    versions = catalog.versions(uow, sub.tenant_id)
    now = now_for(ctx, uow, uow.customers.get(sub.tenant_id, sub.customer_id))
    period = period_of(sub, versions, local_day(now, sub.time_zone))
    if period is not None:
        return period.plan
    newest = [v for v in versions if sub.terms.plan in v.catalog.plans]
    return newest[-1].catalog.plans[sub.terms.plan] if newest else None


def list_thresholds(ctx: ServiceContext, actor: Actor, subscription_id: str) -> list[UsageThreshold]:
    with ctx.uow(read_only=True) as uow:
        uow.subscriptions.get(actor.tenant_id, subscription_id)
        return uow.usage_thresholds.for_subscriptions(actor.tenant_id, [subscription_id])


def delete_threshold(ctx: ServiceContext, actor: Actor, subscription_id: str, threshold_id: str) -> None:
    with ctx.uow() as uow:
        uow.subscriptions.get(actor.tenant_id, subscription_id)
        uow.usage_thresholds.delete(actor.tenant_id, subscription_id, threshold_id)
        uow.commit()
