"""Entitlements (issue 9): what a customer may use now, derived from its subscriptions' plans and add-ons
and its overrides (core.entitlements), answered from an in-process cache. See docs/entitlements.md.

The cache holds one derived view per (tenant, customer), built from the database on a miss:
- a change made in this process invalidates the views it touches when its transaction commits (the
  ON_EMIT hook notes them on the connection; the engine's commit event drops them; a rollback forgets
  them): subscription.*, invoice.paid, entitlement_override.*, usage.threshold_reached for the customer,
  catalog.applied and test_clock.* for the whole tenant;
- a view older than TTL seconds is revalidated on the check that finds it, so a change made elsewhere
  (the worker, another server) is seen within a second: one statement reads the stamp of everything the
  view comes from (store.entitlements.stamp); if it is unchanged and no local day has turned, only the
  usage is read again, else everything. An allowance's `used` is thus read at most once per TTL per
  customer;
- a rebuild that overlapped an invalidation is answered but not kept.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kassa.core.audit import Actor
from kassa.core.billing_schedule import timeline
from kassa.core.catalog import CatalogVersion
from kassa.core.entitlements import (
    GIVING,
    SUSPENDING,
    AddonGrants,
    Entitlement,
    GrantSource,
    Override,
    absent,
    entitlements,
    feature_code,
    metrics,
    parse_grant,
)
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import Event, EventType
from kassa.core.metering import BillableMetric
from kassa.core.periods import local_day
from kassa.core.subscriptions import Status, Subscription
from kassa.core.usage import UsagePeriod, usage_period
from kassa.services import audit, catalog, events, rating
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.store.uow import UnitOfWork
from kassa.store.usage_events import Window

TTL = 1.0  # seconds a view is answered from memory before it is read again
MAX_ENTRIES = 200_000  # views kept per engine; past it the oldest goes
MAX_REASON = 500
CUSTOMER_EVENTS = ("subscription.", "entitlement_override.", EventType.INVOICE_PAID.value,
                   EventType.USAGE_THRESHOLD_REACHED.value)  # fmt: skip
TENANT_EVENTS = (EventType.CATALOG_APPLIED.value, "test_clock.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Basis:
    """What a view was derived from, apart from usage: kept with it so that revalidating a view whose
    stamp is unchanged reads only the usage again."""

    stamp: tuple[Any, ...]
    zones: tuple[str, ...]  # the subscriptions' time zones
    days: tuple[date, ...]  # the local day in each: a new day can start or end a phase, a pause, a period
    sources: tuple[GrantSource, ...]
    periods: tuple[tuple[Subscription, UsagePeriod], ...]
    overrides: Mapping[str, Override]
    metrics: Mapping[str, BillableMetric]  # those the allowances count


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerEntitlements:
    tenant_id: str
    customer_id: str
    as_of: datetime  # the customer's present when it was derived (its test clock's, if any)
    features: Mapping[str, Entitlement]
    basis: Basis | None = None

    def check(self, feature: str) -> Entitlement:
        return self.features.get(feature) or absent(feature)


# ---- the cache -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    built_at: float
    tenant_generation: int
    view: CustomerEntitlements


class EntitlementCache:
    """Views per (tenant, customer). Thread-safe: reads and invalidations take one lock for a dict lookup;
    rebuilds run outside it. Generations come from one counter, so forgetting them all (to bound memory)
    only makes rebuilds in flight discard their result."""

    def __init__(
        self, *, timer: Callable[[], float], ttl: float = TTL, max_entries: int = MAX_ENTRIES
    ) -> None:
        self.ttl = ttl
        self.timer = timer
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._counter = 0
        self._floor = 0  # the generation of every key not in _generations
        self._generations: dict[tuple[str, str], int] = {}
        self._tenants: dict[str, int] = {}
        self.rebuilds = 0

    def get(
        self,
        tenant_id: str,
        customer_id: str,
        build: Callable[[CustomerEntitlements | None], CustomerEntitlements],
    ) -> CustomerEntitlements:
        """The view, or `build(stale view or None)`'s when it is missing or older than the TTL."""
        key = (tenant_id, customer_id)
        with self._lock:
            entry = self._entries.get(key)
            tenant_generation = self._tenants.get(tenant_id, 0)
            fresh = entry is not None and self.timer() - entry.built_at < self.ttl
            if fresh and entry is not None and entry.tenant_generation == tenant_generation:
                return entry.view
            generation = self._generations.get(key, self._floor)
        started = self.timer()  # the view is as old as the reads it is built from
        view = build(None if entry is None else entry.view)
        with self._lock:
            self.rebuilds += 1
            if (
                self._generations.get(key, self._floor) == generation
                and self._tenants.get(tenant_id, 0) == tenant_generation
            ):
                self._entries.pop(key, None)
                if len(self._entries) >= self.max_entries:
                    del self._entries[next(iter(self._entries))]  # the least recently built
                self._entries[key] = _Entry(started, tenant_generation, view)
        return view

    def invalidate(self, tenant_id: str, customer_id: str | None = None) -> None:
        """One customer's view, or (customer_id None) every view of the tenant."""
        with self._lock:
            if customer_id is None:
                self._tenants[tenant_id] = self._tenants.get(tenant_id, 0) + 1
                return
            key = (tenant_id, customer_id)
            self._entries.pop(key, None)
            if len(self._generations) >= self.max_entries:
                self._generations.clear()
                self._floor = self._counter + 1
            self._counter = max(self._counter, self._floor) + 1
            self._generations[key] = self._counter


_caches: weakref.WeakKeyDictionary[Engine, EntitlementCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()
_PENDING = "kassa.entitlements.invalidate"  # on the connection: what its transaction changed


def cache_of(engine: Engine) -> EntitlementCache:
    """The cache of one database (an engine): a second engine on the same database, as another process
    would be, has its own and learns of changes by revalidation."""
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = EntitlementCache(timer=time.monotonic)
            sa.event.listen(engine, "commit", _committed)
            sa.event.listen(engine, "rollback", _rolled_back)
    return cache


def _committed(conn: sa.Connection) -> None:
    # Fires just before the database commits: a rebuild in that instant may read the old state, and then
    # keeps it for at most TTL, the bound every other process lives with anyway.
    pending: set[tuple[str, str | None]] | None = conn.info.pop(_PENDING, None)
    if pending:
        cache = cache_of(conn.engine)
        for tenant_id, customer_id in pending:
            cache.invalidate(tenant_id, customer_id)


def _rolled_back(conn: sa.Connection) -> None:
    conn.info.pop(_PENDING, None)


def _scope(event: Event) -> tuple[str, str | None] | None:
    if event.type.startswith(TENANT_EVENTS):
        return event.tenant_id, None
    if event.customer_id is not None and event.type.startswith(CUSTOMER_EVENTS):
        return event.tenant_id, event.customer_id
    return None


def _on_emit(ctx: ServiceContext, uow: UnitOfWork, event: Event) -> None:
    scope = _scope(event)
    if scope is not None:
        cache_of(ctx.engine)  # its commit listener must exist before this transaction commits
        uow.conn.info.setdefault(_PENDING, set()).add(scope)


events.ON_EMIT.append(_on_emit)


# ---- derivation from the database ----------------------------------------------------------------------


def _source(
    sub: Subscription, versions: Sequence[CatalogVersion], now: datetime
) -> tuple[GrantSource, UsagePeriod | None] | None:
    """The subscription as entitlements see it today, with its current usage period; None if not live."""
    today = local_day(now, sub.time_zone)
    if not versions or today < sub.start:
        return None
    tl = timeline(sub, versions, today + rating.HORIZON)
    status = Status.PAST_DUE if sub.status is Status.PAST_DUE else tl.status_on(today)
    segment = tl.on(today)
    if segment is None or (status not in GIVING and status not in SUSPENDING):
        return None
    addons_of = next((v.catalog.addons for v in versions if v.number == segment.version), {})
    bought = {**segment.plan.addons_included, **segment.terms.addons}
    addons = tuple(AddonGrants(code=code, quantity=count, grants=addons_of[code].entitlements)
                   for code, count in sorted(bought.items()) if code in addons_of)  # fmt: skip
    source = GrantSource(subscription_id=sub.id, status=status.value, plan=segment.plan.code,
                         grants=segment.plan.entitlements, addons=addons)  # fmt: skip
    return source, usage_period(tl, today)


def _usage(uow: UnitOfWork, tenant_id: str, basis: Basis, now: datetime) -> dict[str, Decimal]:
    """The customer's usage of each metric so far in the current period of each live subscription."""
    windows: list[Window] = []
    for sub, period in basis.periods:
        start, end = rating.instants(sub, period.start, period.end)
        for code in sorted(basis.metrics):
            windows.append(Window(key=len(windows), subscription_id=sub.id, metric=code, start=start,
                                  end=max(start, min(end, now))))  # fmt: skip
    used = dict.fromkeys(basis.metrics, Decimal(0))
    if windows:
        quantities = uow.usage_events.aggregate(tenant_id, basis.metrics, windows)
        for window in windows:
            used[window.metric] += sum(quantities.get(window.key, {}).values(), Decimal(0))
    return used


def _days(zones: Sequence[str], now: datetime) -> tuple[date, ...]:
    return tuple(local_day(now, zone) for zone in zones)


def _basis(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str, stamp: tuple[Any, ...],
           now: datetime) -> Basis:  # fmt: skip
    subs = [
        s
        for s in uow.subscriptions.many(tenant_id, customer_ids=[customer_id])
        if s.status not in rating.ENDED
    ]
    versions = catalog.versions(uow, tenant_id) if subs else []
    sources: list[GrantSource] = []
    periods: list[tuple[Subscription, UsagePeriod]] = []
    for sub in subs:
        found = _source(sub, versions, now)
        if found is not None:
            sources.append(found[0])
            if found[1] is not None:
                periods.append((sub, found[1]))
    overrides = {o.override.grant.feature: o.override
                 for o in uow.entitlement_overrides.of_customer(tenant_id, customer_id)}  # fmt: skip
    wanted = metrics(sources, overrides)
    zones = tuple(sorted({s.time_zone for s in subs}))
    return Basis(stamp=stamp, zones=zones, days=_days(zones, now), sources=tuple(sources), periods=tuple(periods),
                 overrides=overrides, metrics=uow.billable_metrics.many(tenant_id, wanted) if wanted else {})  # fmt: skip


def revalidate(ctx: ServiceContext, tenant_id: str, customer_id: str,
               stale: CustomerEntitlements | None = None) -> CustomerEntitlements:  # fmt: skip
    """The customer's entitlements as the database has them now. With the `stale` view, one statement
    tells whether anything they come from changed (its stamp) and, if not and no day has turned, only the
    usage is read again; otherwise (or without one) everything is read."""
    with ctx.uow(read_only=True) as uow:
        stamp = uow.entitlement_overrides.stamp(tenant_id, customer_id)
        if stamp is None:
            raise NotFound("customer", customer_id)
        now = stamp[2] if stamp[1] is not None else ctx.clock.now()  # its test clock's time, if any
        basis = None if stale is None else stale.basis
        if basis is None or basis.stamp != stamp or basis.days != _days(basis.zones, now):
            basis = _basis(ctx, uow, tenant_id, customer_id, stamp, now)
        usage = _usage(uow, tenant_id, basis, now) if basis.metrics else {}
    return CustomerEntitlements(tenant_id=tenant_id, customer_id=customer_id, as_of=now, basis=basis,
                                features=entitlements(basis.sources, basis.overrides, usage))  # fmt: skip


def derive(ctx: ServiceContext, tenant_id: str, customer_id: str) -> CustomerEntitlements:
    """Everything read from the database (a cold rebuild)."""
    return revalidate(ctx, tenant_id, customer_id)


def current(ctx: ServiceContext, tenant_id: str, customer_id: str) -> CustomerEntitlements:
    return cache_of(ctx.engine).get(
        tenant_id, customer_id, lambda stale: revalidate(ctx, tenant_id, customer_id, stale)
    )


# ---- use cases -----------------------------------------------------------------------------------------


def list_entitlements(ctx: ServiceContext, actor: Actor, customer_id: str) -> CustomerEntitlements:
    return current(ctx, actor.tenant_id, customer_id)


def check(ctx: ServiceContext, actor: Actor, customer_id: str, feature: str) -> Entitlement:
    """One feature; a feature nothing grants is off (source none), not an error."""
    return current(ctx, actor.tenant_id, customer_id).check(feature_code(feature, "feature"))


def put_override(ctx: ServiceContext, actor: Actor, customer_id: str, feature: str,
                 body: Mapping[str, Any]) -> Entitlement:  # fmt: skip
    """Set the customer's own value of the feature: {value, reason?}, value as in the catalog."""
    feature = feature_code(feature, "feature")
    if not isinstance(body, Mapping):
        raise DomainError("invalid_entitlement", "An override is {value, reason?}.")
    for key in body:
        if key not in ("value", "reason"):
            raise DomainError("invalid_entitlement", f"Unknown field {key!r}.", str(key))
    if "value" not in body:
        raise DomainError(
            "invalid_entitlement",
            "value is required: true/false, a whole number or {metric, quantity}.",
            "value",
        )
    grant = parse_grant(feature, body["value"], "value")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or not 0 < len(reason.strip()) <= MAX_REASON):
        raise DomainError("invalid_entitlement", f"reason is text of 1 to {MAX_REASON} characters.", "reason")
    override = Override(grant=grant, reason=reason.strip() if reason else None)
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        before = uow.entitlement_overrides.find(actor.tenant_id, customer.id, feature)
        uow.entitlement_overrides.put(actor.tenant_id, customer.id, override, at=now)
        after = uow.entitlement_overrides.find(actor.tenant_id, customer.id, feature)
        assert after is not None
        audit.changed(ctx, uow, actor, EventType.ENTITLEMENT_OVERRIDE_UPDATED, object_type="entitlement_override",
                      object_id=customer.id, before=None if before is None else before.to_json(), after=after.to_json(),
                      at=now, customer_id=customer.id)  # fmt: skip
        uow.commit()
    return check(ctx, actor, customer_id, feature)


def delete_override(ctx: ServiceContext, actor: Actor, customer_id: str, feature: str) -> Entitlement:
    """Remove the customer's override: the feature is what its subscriptions give again."""
    feature = feature_code(feature, "feature")
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        before = uow.entitlement_overrides.find(actor.tenant_id, customer.id, feature)
        if before is None or not uow.entitlement_overrides.delete(actor.tenant_id, customer.id, feature):
            raise NotFound("entitlement_override", feature)
        audit.changed(ctx, uow, actor, EventType.ENTITLEMENT_OVERRIDE_DELETED, object_type="entitlement_override",
                      object_id=customer.id, before=before.to_json(), after=None, at=now,
                      data=before.to_json(), customer_id=customer.id)  # fmt: skip
        uow.commit()
    return check(ctx, actor, customer_id, feature)
