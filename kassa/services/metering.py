"""Usage ingestion: exactly once, in batches, with an error per bad event.

A batch is checked event by event (shape, metric, subscription, properties, time); the valid events are
inserted in one statement keyed by (tenant, id), so an id seen before — in this batch, an earlier one,
before a restart, or from a concurrent sender — is acknowledged as a duplicate and never counted again.
Everything the batch needs from the store is read once per batch, not once per event.

Late usage: an event whose period closed (its end plus the tenant's grace period has passed) is billed in
the period in which it arrives, as its own line, or refused — the tenant's `late_usage` setting.
In-advance charges are rated as their events arrive; usage thresholds are checked for the subscriptions the
batch touched.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from kassa.core.audit import Actor
from kassa.core.catalog import CatalogVersion
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.metering import (
    MAX_PROPERTIES_BYTES,
    BillableMetric,
    IncomingEvent,
    Measure,
    measure,
    parse_usage_event,
    quantity_text,
)
from kassa.core.money import Money
from kassa.core.periods import local_day
from kassa.core.rating import ChargeTiming, Part, rate
from kassa.core.subscriptions import Subscription
from kassa.core.tenants import LateUsage, TenantSettings
from kassa.core.usage import UsagePeriod
from kassa.core.usage_thresholds import reached
from kassa.services import catalog, events, rating, wallet_draws
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

MAX_BATCH = 10_000
FOREVER = datetime.max.replace(tzinfo=UTC)  # late events received at any time
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between the sender and kassa


@dataclass(frozen=True, slots=True, kw_only=True)
class EventError:
    index: int
    id: str | None
    code: str
    message: str
    field: str | None


@dataclass(slots=True, kw_only=True)
class Ingested:
    received: int
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[EventError] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Valid:
    index: int
    event: IncomingEvent
    sub: Subscription
    metric: BillableMetric
    measured: Measure
    late: bool
    period: UsagePeriod | None  # computed when needed (late check, in-advance charge)
    properties_json: str


class _Batch:
    """What one batch reads from the store, once."""

    def __init__(self, ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, items: Sequence[IncomingEvent]):
        self.ctx, self.uow, self.tenant_id = ctx, uow, tenant_id
        self.settings: TenantSettings = uow.tenants.get(tenant_id).settings
        self.metrics = uow.billable_metrics.many(tenant_id, {e.metric for e in items})
        sub_ids = {e.subscription_id for e in items if e.subscription_id}
        external = {e.external_customer_id for e in items if e.external_customer_id}
        # narrow reads: an event needs its subscription's row and its customer's clock, not their history
        named = uow.customers.clocks(tenant_id, external_ids=external)
        self.by_external = {external_id: customer_id for customer_id, external_id, _ in named}
        subs = uow.subscriptions.many(tenant_id, ids=sub_ids, customer_ids=self.by_external.values(),
                                      with_changes=False)  # fmt: skip
        self.subs = {s.id: s for s in subs}
        self.by_customer: dict[str, list[Subscription]] = defaultdict(list)
        for sub in subs:
            self.by_customer[sub.customer_id].append(sub)
        owners = {s.customer_id for s in subs} - set(self.by_external.values())
        named += uow.customers.clocks(tenant_id, ids=owners)
        self.clocks: dict[str, str | None] = {customer_id: clock for customer_id, _, clock in named}
        self._full: dict[str, Subscription] = {}
        self.versions: list[CatalogVersion] = catalog.versions(uow, tenant_id)
        self._priced: dict[str, frozenset[str]] = {}
        self._now: dict[str, datetime] = {}
        self._periods: dict[str, list[UsagePeriod]] = defaultdict(list)  # per subscription, as found
        self._outside: set[tuple[str, date]] = set()
        self._advance: dict[tuple[str, str], bool] = {}
        self._zones: dict[str, ZoneInfo] = {}

    def priced(self, plan: str) -> frozenset[str]:
        """Metrics any version of the plan prices: an event for one of them belongs to the subscription."""
        if plan not in self._priced:
            self._priced[plan] = frozenset(
                c.metric
                for v in self.versions
                if plan in v.catalog.plans
                for c in v.catalog.plans[plan].charges
            )
        return self._priced[plan]

    def now(self, customer_id: str) -> datetime:
        if customer_id not in self._now:
            clock = self.clocks[customer_id]
            self._now[customer_id] = (
                self.ctx.clock.now() if clock is None else self.uow.test_clocks.get(self.tenant_id, clock).frozen_time
            )  # fmt: skip
        return self._now[customer_id]

    def period(self, sub: Subscription, day: date) -> UsagePeriod | None:
        """The usage period containing `day`: one timeline walk per subscription and period a batch meets,
        not one per event (a backfill of last week hits the same period thousands of times)."""
        known = self._periods[sub.id]
        found = next((p for p in known if p.start <= day < p.end), None)
        if found is None and (sub.id, day) not in self._outside:
            if sub.id not in self._full:  # the timeline needs the subscription's changes
                self._full[sub.id] = self.uow.subscriptions.get(self.tenant_id, sub.id)
            found = rating.period_of(self._full[sub.id], self.versions, day)
            if found is None:
                self._outside.add((sub.id, day))
            else:
                known.append(found)
        return found

    def subscription(self, event: IncomingEvent) -> Subscription:
        if event.subscription_id is not None:
            sub = self.subs.get(event.subscription_id)
            if sub is None:
                raise DomainError("subscription_not_found", f"No subscription {event.subscription_id!r}.",
                                  "subscription_id")  # fmt: skip
            if event.metric not in self.priced(sub.terms.plan):
                raise DomainError("metric_not_priced", f"Plan {sub.terms.plan!r} does not price {event.metric!r}.",
                                  "metric")  # fmt: skip
            return sub
        assert event.external_customer_id is not None
        customer_id = self.by_external.get(event.external_customer_id)
        if customer_id is None:
            raise DomainError("customer_not_found", f"No customer with external id {event.external_customer_id!r}.",
                              "external_customer_id")  # fmt: skip
        candidates = [s for s in self.by_customer[customer_id]
                      if s.status not in rating.ENDED and event.metric in self.priced(s.terms.plan)]  # fmt: skip
        if len(candidates) != 1:
            found = "none" if not candidates else f"{len(candidates)}"
            raise DomainError(
                "subscription_ambiguous" if candidates else "metric_not_priced",
                f"Usage addressed by customer needs exactly one live subscription pricing {event.metric!r}; "
                f"found {found}. Send subscription_id instead.",
                "external_customer_id",
            )
        return candidates[0]

    def check(self, index: int, event: IncomingEvent) -> _Valid:
        metric = self.metrics.get(event.metric)
        if metric is None:
            raise DomainError("metric_not_found", f"No billable metric {event.metric!r}.", "metric")
        sub = self.subscription(event)
        measured = measure(metric, event.properties)
        properties_json = json.dumps(_plain(event.properties), ensure_ascii=False, separators=(",", ":"))
        if len(properties_json.encode()) > MAX_PROPERTIES_BYTES:
            raise DomainError("invalid_usage_event", f"properties take at most {MAX_PROPERTIES_BYTES} bytes as JSON.",
                              "properties")  # fmt: skip
        now = self.now(sub.customer_id)
        if event.timestamp > now + FUTURE_TOLERANCE:
            raise DomainError(
                "timestamp_in_future", f"timestamp is after now ({now.isoformat()}).", "timestamp"
            )
        day = self.day(event.timestamp, sub.time_zone)
        if day < sub.start:
            raise DomainError("outside_subscription", f"The subscription starts on {sub.start}.", "timestamp")
        today = self.day(now, sub.time_zone)
        charge_in_advance = self.in_advance(sub, metric.code)
        period = None
        late = False
        if day != today or sub.status in rating.ENDED or charge_in_advance:
            # A past day may belong to a closed period; today's never does (periods are whole days).
            period = self.period(sub, day)
            if period is None:
                raise DomainError("outside_subscription", "The subscription was not live then.", "timestamp")
            end = rating.instants(sub, period.start, period.end)[1]
            if end + timedelta(hours=self.settings.draft_grace_period_hours) <= now:
                if self.settings.late_usage is LateUsage.REJECT:
                    raise DomainError("late_usage", f"The period {period.start}–{period.end} is closed; this "
                                      "tenant refuses late usage.", "timestamp")  # fmt: skip
                late = True
        return _Valid(index=index, event=event, sub=sub, metric=metric, measured=measured, late=late, period=period,
                      properties_json=properties_json)  # fmt: skip

    def day(self, instant: datetime, time_zone: str) -> date:
        if time_zone == "UTC":
            return instant.date()  # instants here are UTC already
        zone = self._zones.get(time_zone)
        if zone is None:
            zone = self._zones[time_zone] = ZoneInfo(time_zone)
        return instant.astimezone(zone).date()

    def in_advance(self, sub: Subscription, metric: str) -> bool:
        """Whether the plan's newest pricing of `metric` charges it per event as it arrives."""
        key = (sub.terms.plan, metric)
        if key not in self._advance:
            self._advance[key] = False
            for version in reversed(self.versions):
                plan = version.catalog.plans.get(sub.terms.plan)
                charge = plan.charge(metric) if plan else None
                if charge is not None:
                    self._advance[key] = charge.timing is ChargeTiming.IN_ADVANCE
                    break
        return self._advance[key]


def ingest_usage(ctx: ServiceContext, actor: Actor, items: Sequence[Any]) -> Ingested:
    """Store the valid events of a batch exactly once; report each invalid one. A batch too large stores
    nothing."""
    if len(items) > MAX_BATCH:
        raise DomainError("batch_too_large", f"A batch holds at most {MAX_BATCH} usage events.", "events")
    result = Ingested(received=len(items))
    parsed: list[tuple[int, IncomingEvent]] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, parse_usage_event(item)))
        except DomainError as error:
            raw_id = item.get("id") if isinstance(item, dict) else None
            result.errors.append(EventError(index=index, id=raw_id if isinstance(raw_id, str) else None,
                                            code=error.code, message=error.message, field=error.field))  # fmt: skip
    with ctx.uow() as uow:
        batch = _Batch(ctx, uow, actor.tenant_id, [e for _, e in parsed])
        valid: list[_Valid] = []
        seen: set[str] = set()
        for index, event in parsed:
            if event.id in seen:
                result.duplicates.append(event.id)
                continue
            try:
                checked = batch.check(index, event)
            except DomainError as error:
                result.errors.append(EventError(index=index, id=event.id, code=error.code, message=error.message,
                                                field=error.field))  # fmt: skip
                continue
            seen.add(event.id)
            valid.append(checked)
        received_at = ctx.clock.now()
        # received on the customer's clock (a test clock's frozen time): what decides late usage later
        inserted = uow.usage_events.insert(
            actor.tenant_id, [_row(actor.tenant_id, v, batch.now(v.sub.customer_id)) for v in valid]
        )
        stored = [v for v in valid if v.event.id in inserted]
        result.accepted = [v.event.id for v in stored]
        result.duplicates.extend(v.event.id for v in valid if v.event.id not in inserted)
        _charge_in_advance(ctx, uow, batch, [v for v in stored if v.period is not None and
                                             batch.in_advance(v.sub, v.metric.code)], received_at)  # fmt: skip
        check_thresholds(ctx, uow, batch, {v.sub.id: v.sub for v in stored})
        uow.commit()
    result.errors.sort(key=lambda e: e.index)
    return result


def _row(tenant_id: str, v: _Valid, received_at: datetime) -> dict[str, Any]:
    m = v.measured
    return {
        "tenant_id": tenant_id, "id": v.event.id, "customer_id": v.sub.customer_id, "subscription_id": v.sub.id,
        "metric": v.metric.code, "timestamp": v.event.timestamp, "received_at": received_at, "value": m.value,
        "unique_key": m.unique_key, "group_key": m.group_key, "counted": m.counted, "late": v.late,
        "properties": v.properties_json,
    }  # fmt: skip


def _plain(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Properties as JSON data: a Decimal (a JSON number parsed exactly) is kept as its text."""
    return {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in properties.items()}


def _charge_in_advance(
    ctx: ServiceContext, uow: UnitOfWork, batch: _Batch, stored: Sequence[_Valid], at: datetime
) -> None:
    """Each in-advance event is charged what it adds to its period's amount (tiers reached, allowance used),
    in timestamp order: the period's usage before the batch, then the batch's events one by one. The
    subscription is locked first, so concurrent batches charge one after the other, never sharing an
    allowance or a tier. Late events count too: in advance, each was charged when it arrived."""
    if not stored:
        return
    groups: dict[tuple[str, date], list[_Valid]] = defaultdict(list)
    for v in stored:
        assert v.period is not None
        groups[(v.sub.id, v.period.start)].append(v)
    rounding = batch.settings.rounding_mode
    billing = batch.settings.in_advance_usage_billing.value
    locked: set[str] = set()
    rows = []
    for items in groups.values():
        sub, period = items[0].sub, items[0].period
        assert period is not None
        if sub.id not in locked:
            uow.subscriptions.get(sub.tenant_id, sub.id, for_update=True)
            locked.add(sub.id)
        metrics = {v.metric.code: v.metric for v in items}
        windows, asks = rating.usage_windows([(sub, period)], metrics, late_before=[FOREVER])
        quantities = uow.usage_events.aggregate(sub.tenant_id, metrics, windows)
        transactional = {code for code in metrics if period.charges()[code].transactional}
        moves = uow.usage_events.transactions(
            sub.tenant_id, [w for w in windows if w.metric in transactional]
        )
        # per (metric, group): each slice's units and transactions so far (in-advance metrics are additive)
        width = len(period.slices)
        units_of: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * width)  # noqa: B023
        moves_of: dict[tuple[str, str], list[list[Decimal]]] = defaultdict(lambda: [[] for _ in range(width)])  # noqa: B023
        for window, ask in zip(windows, asks, strict=True):
            for group, quantity in quantities.get(window.key, {}).items():
                units_of[(ask.metric, group)][ask.slice or 0] += quantity
            for group, values in moves.get(window.key, {}).items():
                moves_of[(ask.metric, group)][ask.slice or 0] = list(values)
        counted = [v for v in items if v.measured.counted]
        for v in counted:  # the aggregate includes the batch: take it out first
            key, index = (v.metric.code, v.measured.group_key), _slice_of(period, v)
            units_of[key][index] -= _units(v)
            if v.metric.code in transactional:
                moves_of[key][index].remove(_units(v))
        for v in sorted(counted, key=lambda v: (v.event.timestamp, v.event.id)):
            key = (v.metric.code, v.measured.group_key)
            index, units = _slice_of(period, v), _units(v)
            piece = period.slices[index]
            # per event, the first tier's flat fee is owed by the first unit, not by the period at zero
            charge = replace(period.charges()[v.metric.code], flat_fee_at_zero=False)
            before = _as_parts(period, v.metric.code, units_of[key], moves_of[key], sub.currency)
            units_of[key][index] += units
            if v.metric.code in transactional:
                moves_of[key][index].append(units)
            if not piece.billable or piece.plan.charge(v.metric.code) is None:
                continue  # used during a trial or a pause: free
            after = _as_parts(period, v.metric.code, units_of[key], moves_of[key], sub.currency)
            money = Money.rounded(
                rate(charge, after).amount - rate(charge, before).amount, sub.currency, rounding
            )
            rows.append({"tenant_id": sub.tenant_id, "event_id": v.event.id, "subscription_id": sub.id,
                         "customer_id": sub.customer_id, "metric": v.metric.code, "group_key": v.measured.group_key,
                         "period_start": period.start, "units": units, "amount_minor": money.to_minor_units(),
                         "currency": sub.currency, "billing": billing, "created_at": at})  # fmt: skip
            events.emit(ctx, uow, sub.tenant_id, EventType.USAGE_CHARGED, object_type="usage_event",
                        object_id=v.event.id, at=at, customer_id=sub.customer_id,
                        data={"subscription_id": sub.id, "metric": v.metric.code, "group": v.measured.group_key or None,
                              "units": quantity_text(units), "charged": money.amount_text(), "currency": sub.currency,
                              "billing": billing, "period_start": period.start.isoformat(),
                              "period_end": period.end.isoformat()})  # fmt: skip
    wallet_draws.hold_usage(
        ctx, uow, batch.tenant_id, rows, batch.now
    )  # issue 9: prepaid credits pay at once
    uow.usage_charges.add(batch.tenant_id, rows)


def _units(v: _Valid) -> Decimal:
    return v.measured.value if v.measured.value is not None else Decimal(1)


def _slice_of(period: UsagePeriod, v: _Valid) -> int:
    day = local_day(v.event.timestamp, v.sub.time_zone)
    return next((i for i, s in enumerate(period.slices) if s.start <= day < s.end), len(period.slices) - 1)


def _as_parts(
    period: UsagePeriod, metric: str, quantities: list[Decimal], moves: list[list[Decimal]], currency: str
) -> list[Part]:
    parts = []
    for piece, quantity, values in zip(period.slices, quantities, moves, strict=True):
        own = piece.plan.charge(metric)
        if own is not None and piece.billable:
            parts.append(Part(quantity=quantity, params=own.prices[currency], transactions=tuple(values)))
    return parts


def check_thresholds(
    ctx: ServiceContext, uow: UnitOfWork, batch: _Batch, subs: Mapping[str, Subscription]
) -> None:
    """Thresholds of the touched subscriptions that the current period's usage reached: an event the first
    time in a period."""
    thresholds = uow.usage_thresholds.for_subscriptions(batch.tenant_id, subs)
    if not thresholds:
        return
    by_sub = defaultdict(list)
    for threshold in thresholds:
        by_sub[threshold.subscription_id].append(threshold)
    entries = []
    for sub_id in by_sub:
        sub = subs[sub_id]
        period = batch.period(sub, local_day(batch.now(sub.customer_id), sub.time_zone))
        if period is not None:
            entries.append((sub, period))
    if not entries:
        return
    cut = [batch.now(sub.customer_id) for sub, _ in entries]
    rated = rating.rate_periods(uow, batch.tenant_id, batch.settings.rounding_mode, entries, until=cut)
    for (sub, period), lines in zip(entries, rated, strict=True):
        now = batch.now(sub.customer_id)
        for threshold in by_sub[sub.id]:
            if reached(threshold, lines) and uow.usage_thresholds.record_crossing(
                batch.tenant_id, threshold.id, period.start, now
            ):
                used = [line for line in lines if threshold.metric is None or line.metric == threshold.metric]
                events.emit(ctx, uow, batch.tenant_id, EventType.USAGE_THRESHOLD_REACHED,
                            object_type="usage_threshold", object_id=threshold.id, at=now,
                            customer_id=sub.customer_id,
                            data={"subscription_id": sub.id, "threshold_id": threshold.id,
                                  "kind": threshold.kind.value, "value": str(threshold.value),
                                  "metric": threshold.metric, "period_start": period.start.isoformat(),
                                  "period_end": period.end.isoformat(),
                                  "quantity": quantity_text(sum((line.rated.quantity for line in used), Decimal(0)))
                                  if threshold.metric else None,
                                  "charged": Money.rounded(sum((line.amount.amount for line in used), Decimal(0)),
                                                           sub.currency).amount_text()})  # fmt: skip


def get_usage_event(ctx: ServiceContext, actor: Actor, event_id: str) -> Any:
    with ctx.uow(read_only=True) as uow:
        row = uow.usage_events.get(actor.tenant_id, event_id)
    if row is None:
        raise NotFound("usage_event", event_id)
    return row


@dataclass(slots=True, kw_only=True)
class Imported:
    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[tuple[int, EventError]] = field(default_factory=list)  # (line, error), the first ones


MAX_REPORTED = 1000


def import_usage(
    ctx: ServiceContext, actor: Actor, records: Iterable[tuple[int, Mapping[str, Any] | DomainError]],
    progress: Callable[[Imported], None] | None = None, chunk: int = MAX_BATCH,
) -> Imported:  # fmt: skip
    """Stream (line, record) pairs into batches of `chunk`, each stored exactly once in its own transaction:
    an import cut short can be run again, and what was stored is acknowledged as duplicates."""
    total = Imported()
    lines: list[int] = []
    batch: list[Any] = []

    def flush() -> None:
        result = ingest_usage(ctx, actor, batch)
        total.accepted += len(result.accepted)
        total.duplicates += len(result.duplicates)
        total.rejected += len(result.errors)
        for error in result.errors:
            if len(total.errors) < MAX_REPORTED:
                total.errors.append((lines[error.index], error))
        batch.clear()
        lines.clear()
        if progress is not None:
            progress(total)

    for line, record in records:  # errors are reported in line order: each batch's sorted, batches in order
        total.records += 1
        if isinstance(record, DomainError):
            total.rejected += 1
            if len(total.errors) < MAX_REPORTED:
                total.errors.append((line, EventError(index=-1, id=None, code=record.code, message=record.message,
                                                      field=record.field)))  # fmt: skip
            continue
        lines.append(line)
        batch.append(record)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return total
