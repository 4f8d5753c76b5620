"""Subscriptions: create, change, cancel, pause and resume, preview a change, read the billing schedule.

Every operation appends a change with the local day it takes effect, then brings the stored subscription
to "today" (`_sync`): status and terms follow from the timeline, each transition is an event on the
customer's timeline, and a job is due at the next transition so a future change happens on its day — on
the system clock, or on the customer's test clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kassa.core.audit import Actor, system_actor
from kassa.core.billing_schedule import (
    Charge,
    Segment,
    Timeline,
    billing_schedule,
    compare,
    sale_version,
    timeline,
    trial_end,
)
from kassa.core.catalog import CatalogVersion, Direction, PhaseType
from kassa.core.errors import Conflict, DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.jobs import Job
from kassa.core.metadata import metadata
from kassa.core.pages import Page, check_limit
from kassa.core.periods import local_day, start_of
from kassa.core.subscriptions import (
    AnchorType,
    Change,
    ChangeKind,
    ChangeStatus,
    Status,
    Subscription,
    SubscriptionFilter,
    Terms,
    billing_anchor,
    check_terms,
    check_transition,
    quantity,
    require,
    trial_days,
)
from kassa.services import audit, catalog, contracts, invoicing, jobs
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.store.uow import UnitOfWork

TRANSITION_JOB = "subscription.transition"
HORIZON = timedelta(days=800)  # far enough to see the next transition of any plan (annual periods, trials)
MAX_SCHEDULE_DAYS = 3700

_STATUS_EVENTS = {
    Status.TRIALING: EventType.SUBSCRIPTION_TRIAL_STARTED,
    Status.PAUSED: EventType.SUBSCRIPTION_PAUSED,
    Status.CANCELED: EventType.SUBSCRIPTION_CANCELED,
    Status.PAST_DUE: EventType.SUBSCRIPTION_PAST_DUE,
    Status.ENDED: EventType.SUBSCRIPTION_ENDED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Preview:
    effective: date
    added: list[Charge]  # what the change bills (credits negative)
    removed: list[Charge]  # what it no longer bills
    currency: str

    @property
    def net(self) -> Decimal:
        return sum((c.line.amount.amount for c in self.added), Decimal(0)) - sum(
            (c.line.amount.amount for c in self.removed), Decimal(0)
        )


def _today(
    ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str, time_zone: str
) -> tuple[datetime, date]:
    now = now_for(ctx, uow, uow.customers.get(tenant_id, customer_id))
    return now, local_day(now, time_zone)


def _timeline(
    sub: Subscription, versions: list[CatalogVersion], today: date, until: date | None = None
) -> Timeline:
    return timeline(sub, versions, until or max(today, sub.start) + HORIZON)


def _date(value: Any, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise DomainError("invalid_date", "Expected a date like 2027-01-31.", field) from None


def _addons(value: Any, field: str = "addons") -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DomainError("invalid_addons", 'addons maps add-on codes to quantities: {"storage": 2}.', field)
    return {str(code): quantity(count, f"{field}.{code}") for code, count in value.items()}


def create_subscription(ctx: ServiceContext, actor: Actor, fields: Mapping[str, Any]) -> Subscription:
    with ctx.uow() as uow:
        sub = create_subscription_in(ctx, uow, actor, fields)
        uow.commit()
    return sub


def create_subscription_in(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, fields: Mapping[str, Any]
) -> Subscription:
    """create_subscription inside the caller's unit of work."""
    for required in ("customer_id", "plan"):
        if not fields.get(required):
            raise DomainError("required", f"{required} is required.", required)
    terms = Terms(plan=fields["plan"], quantity=quantity(fields.get("quantity", 1), "quantity"),
                  addons=_addons(fields.get("addons")))  # fmt: skip
    trial = trial_days(fields.get("trial_days"))
    meta = metadata(fields.get("metadata") or {})
    try:
        customer = uow.customers.get(actor.tenant_id, fields["customer_id"], for_update=True)
    except NotFound:
        raise DomainError(
            "customer_not_found", f"No customer {fields['customer_id']!r}.", "customer_id"
        ) from None
    if customer.archived:
        raise Conflict("customer_archived", "An archived customer takes no new subscriptions.", "customer_id")
    now = now_for(ctx, uow, customer)
    today = local_day(now, customer.time_zone)
    start = _date(fields.get("start_date"), "start_date") or today
    versions = catalog.versions(uow, actor.tenant_id)
    if not versions:
        raise DomainError(
            "no_catalog", "Apply a catalog first (POST /v1/catalog or `kassa catalog apply`).", "plan"
        )
    version = sale_version(versions, terms.plan, customer.currency, start, customer.time_zone)
    plan = check_terms(version.catalog, terms, customer.currency)
    # "account": the paying account's bill cycle day (the parent's for a child billed to it), so its
    # subscriptions renew together and land on one invoice
    account = uow.customers.get(actor.tenant_id, customer.parent_id, for_update=True) if (
        customer.bill_to_parent and customer.parent_id
    ) else customer  # fmt: skip
    anchor = billing_anchor(fields.get("billing_anchor"), plan, account.bill_cycle_day)
    if anchor.type is AnchorType.ACCOUNT and anchor.day is None:
        # the account's first account-anchored subscription sets the day the others renew on
        day = (trial_end(plan, start, trial) or start).day
        anchor = replace(anchor, day=day)
        updated = replace(account, bill_cycle_day=day, updated_at=now)
        uow.customers.update(updated)
        audit.changed(
            ctx, uow, actor, EventType.CUSTOMER_UPDATED, object_type="customer", object_id=account.id,
            before=account.to_json(), after=updated.to_json(), at=now, customer_id=account.id,
        )  # fmt: skip
    start_change = Change(id=ctx.new_id("sch"), kind=ChangeKind.START, effective=start, terms=terms,
                          status=ChangeStatus.PENDING, requested_at=now)  # fmt: skip
    sub = Subscription(
        tenant_id=actor.tenant_id, id=ctx.new_id("sub"), customer_id=customer.id, currency=customer.currency,
        time_zone=customer.time_zone, status=Status.PENDING, terms=terms, start=start, anchor=anchor,
        trial_days=trial, changes=(start_change,), metadata=meta, created_at=now, updated_at=now,
    )  # fmt: skip
    _timeline(sub, versions, today)  # refuses what cannot be billed before anything is written
    uow.subscriptions.add(sub)
    audit.changed(
        ctx, uow, actor, EventType.SUBSCRIPTION_CREATED, object_type="subscription", object_id=sub.id,
        before=None, after=sub.to_json(), at=now, customer_id=sub.customer_id, data={"object": sub.to_json()},
    )  # fmt: skip
    sub = _sync(ctx, uow, actor, sub, versions, now)
    return sub


def _sync(
    ctx: ServiceContext,
    uow: UnitOfWork,
    actor: Actor,
    sub: Subscription,
    versions: list[CatalogVersion],
    now: datetime,
) -> Subscription:
    """Bring the stored subscription to `now`: changes due are applied, status and terms follow the
    timeline, each transition is an event, and a job waits for the next one."""
    today = local_day(now, sub.time_zone)
    tl = _timeline(sub, versions, today)
    status = _status_on(sub, tl, today)
    segment = tl.on(today)
    if (sub.status is Status.TRIALING and status is Status.ACTIVE and segment is not None
            and segment.plan.requires_payment_method and not _can_pay(uow, sub)):  # fmt: skip
        # the plan wants a way to pay when the trial ends: without one the subscription ends with the trial
        change = Change(
            id=ctx.new_id("sch"), kind=ChangeKind.CANCEL, effective=today, prorate=False, requested_at=now
        )
        ending = replace(sub, changes=(*sub.changes, change), updated_at=now)
        uow.subscriptions.update(ending, sub)
        _event(ctx, uow, actor, EventType.SUBSCRIPTION_CHANGE_SCHEDULED, sub, ending, now,
               {"change": change.to_json(), "reason": "missing_payment_method"})  # fmt: skip
        return _sync(ctx, uow, actor, ending, versions, now)
    terms = segment.terms if segment else sub.terms
    ended = tl.end if tl.end is not None and tl.end <= today else None
    changes = tuple(_settled(c, today, ended) for c in sub.changes)
    updated = replace(sub, status=status, terms=terms, changes=changes)
    if status is Status.CANCELED and sub.canceled_at is None:
        updated = replace(updated, canceled_at=now)
    if status is Status.ENDED and sub.ended_at is None:
        updated = replace(updated, ended_at=now)
    if updated != sub:
        updated = replace(updated, updated_at=now)
        uow.subscriptions.update(updated, sub)
    if status is not sub.status:
        check_transition(sub.status, status)
        event = _STATUS_EVENTS.get(status)
        if status is Status.ACTIVE:
            event = {
                Status.TRIALING: EventType.SUBSCRIPTION_TRIAL_CONVERTED,
                Status.PAUSED: EventType.SUBSCRIPTION_RESUMED,
            }.get(sub.status, EventType.SUBSCRIPTION_ACTIVATED)
        if event is not None:
            _event(ctx, uow, actor, event, sub, updated, now, {"previous_status": sub.status.value})
    if terms != sub.terms:
        _event(
            ctx,
            uow,
            actor,
            EventType.SUBSCRIPTION_CHANGED,
            sub,
            updated,
            now,
            {"previous": sub.terms.to_json()},
        )
    if segment is not None and segment.start == today > sub.start and _renews(tl, segment):
        _event(
            ctx,
            uow,
            actor,
            EventType.SUBSCRIPTION_RENEWED,
            sub,
            updated,
            now,
            {"term_end": str(segment.phase_end)},
        )
    _schedule_next(ctx, uow, updated, tl, today)
    contracts.revise(ctx, uow, updated, versions, today, now)
    return updated


def _can_pay(uow: UnitOfWork, sub: Subscription) -> bool:
    """The paying account (the parent, for a child billed to it) has a card, provider account or mandate by default."""
    customer = uow.customers.get(sub.tenant_id, sub.customer_id)
    payer_id = customer.parent_id if customer.bill_to_parent and customer.parent_id else customer.id
    method = uow.payment_methods.default(sub.tenant_id, payer_id)
    return method is not None and method.automatic


def _status_on(sub: Subscription, tl: Timeline, day: date) -> Status:
    """The timeline's status on `day`; past due stays until collections clears it, not the calendar."""
    status = tl.status_on(day)
    return Status.PAST_DUE if sub.status is Status.PAST_DUE and status is Status.ACTIVE else status


def _withdraw(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, sub: Subscription, changes: list[Change],
    now: datetime, extra: Mapping[str, Any],
) -> Subscription:  # fmt: skip
    """Pending changes undone before their day: stored as withdrawn, each an event."""
    ids = {c.id for c in changes}
    updated = replace(sub, updated_at=now, changes=tuple(
        replace(c, status=ChangeStatus.WITHDRAWN) if c.id in ids else c for c in sub.changes
    ))  # fmt: skip
    uow.subscriptions.update(updated, sub)
    for change in changes:
        _event(ctx, uow, actor, EventType.SUBSCRIPTION_CHANGE_WITHDRAWN, sub, updated, now,
               {"change": change.to_json(), **extra})  # fmt: skip
    return updated


def _settled(change: Change, today: date, end: date | None) -> Change:
    """A pending change on or before today took effect, unless the subscription had ended by its day."""
    if change.status is not ChangeStatus.PENDING or change.effective > today:
        return change
    if end is not None and change.kind is not ChangeKind.CANCEL and change.effective >= end:
        return replace(change, status=ChangeStatus.WITHDRAWN)  # it never took effect
    return replace(change, status=ChangeStatus.APPLIED)


def _renews(tl: Timeline, segment: Segment) -> bool:
    """The segment starts the next term of a fixed-term phase (at the same or at a new version's prices)."""
    previous = tl.on(segment.start - timedelta(days=1))
    return bool(
        previous
        and previous.phase_end == segment.start
        and previous.plan.code == segment.plan.code
        and previous.phase.type is segment.phase.type is PhaseType.FIXED_TERM
    )


def _event(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, event: EventType, before: Subscription,
    after: Subscription, now: datetime, extra: Mapping[str, Any],
) -> None:  # fmt: skip
    audit.changed(
        ctx, uow, actor, event, object_type="subscription", object_id=after.id, before=before.to_json(),
        after=after.to_json(), at=now, customer_id=after.customer_id, data={"object": after.to_json(), **extra},
    )  # fmt: skip


def _schedule_next(
    ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, tl: Timeline, today: date
) -> None:
    invoicing.schedule_bill(ctx, uow, sub, today)
    upcoming = [d for d in tl.transitions() if d > today]
    if upcoming:
        day = upcoming[0]
        jobs.schedule(
            ctx, uow, sub.tenant_id, TRANSITION_JOB, start_of(day, sub.time_zone),
            dedupe_key=f"{sub.id}:{day.isoformat()}", customer_id=sub.customer_id, payload={"subscription_id": sub.id},
        )  # fmt: skip


@jobs.handles(TRANSITION_JOB)
def _transition(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    sub = uow.subscriptions.get(job.tenant_id, job.payload["subscription_id"], for_update=True)
    _sync(ctx, uow, system_actor(job.tenant_id, "scheduler"), sub, catalog.versions(uow, job.tenant_id), now)


# ---- reads ---------------------------------------------------------------------------------------------


def get_subscription(ctx: ServiceContext, actor: Actor, subscription_id: str) -> Subscription:
    with ctx.uow(read_only=True) as uow:
        return uow.subscriptions.get(actor.tenant_id, subscription_id)


def list_subscriptions(
    ctx: ServiceContext,
    actor: Actor,
    where: SubscriptionFilter,
    *,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Subscription]:
    with ctx.uow(read_only=True) as uow:
        return uow.subscriptions.list(actor.tenant_id, where, limit=check_limit(limit), cursor=cursor)


def get_schedule(
    ctx: ServiceContext, actor: Actor, subscription_id: str, *, start: date | None, end: date | None
) -> tuple[Subscription, date, date, list[Charge]]:
    """The charges due in [start, end) (default: from the subscription's start, for a year)."""
    with ctx.uow(read_only=True) as uow:
        sub = uow.subscriptions.get(actor.tenant_id, subscription_id)
        versions = catalog.versions(uow, actor.tenant_id)
        rounding = uow.tenants.get(actor.tenant_id).settings.rounding_mode
    first = start or sub.start
    last = end or first + timedelta(days=366)
    if last <= first or (last - first).days > MAX_SCHEDULE_DAYS:
        raise DomainError("invalid_range", f"to is after from, at most {MAX_SCHEDULE_DAYS} days later.", "to")
    tl = timeline(sub, versions, last)
    charges = billing_schedule(tl, sub.currency, rounding, until=last)
    return sub, first, last, [c for c in charges if c.due >= first]


# ---- changes -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Resolved:
    change: Change
    sub: Subscription  # with the change appended


def _resolve_change(
    sub: Subscription, versions: list[CatalogVersion], fields: Mapping[str, Any], now: datetime, new_id: str
) -> _Resolved:
    """The change asked for, with its effective day and proration from the plan's policy or the override."""
    today = local_day(now, sub.time_zone)
    tl = _timeline(sub, versions, today)
    require(_status_on(sub, tl, today), "change")
    asked = {k: v for k, v in fields.items() if k in ("plan", "quantity", "addons") and v is not None}
    if not asked:
        raise DomainError("nothing_to_change", "Give a plan, a quantity or add-ons to change.", None)
    when, explicit_day = fields.get("when"), _date(fields.get("effective_date"), "effective_date")
    base_day = max(today, sub.start)
    provisional = explicit_day or base_day
    segment = tl.on(provisional) or tl.on(base_day) or (tl.segments[0] if tl.segments else None)
    if segment is None:
        raise Conflict("invalid_state", "The subscription has no terms left to change.")
    current = segment.terms
    target = Terms(
        plan=asked.get("plan", current.plan),
        quantity=quantity(asked["quantity"], "quantity") if "quantity" in asked else current.quantity,
        addons=_addons(asked["addons"]) if "addons" in asked else dict(current.addons),
    )
    if target == current:
        raise DomainError("nothing_to_change", "These are the terms the subscription already has.", None)
    version = sale_version(versions, target.plan, sub.currency, provisional, sub.time_zone)
    check_terms(version.catalog, target, sub.currency)
    plan = segment.plan
    if target.plan != current.plan:
        # family order from the version selling the new plan, or the one the current plan was sold at
        # (a retired plan's family is in its own version)
        families = (
            version
            if current.plan in version.catalog.plans
            else next(v for v in versions if v.number == segment.version)
        )
        direction = families.catalog.direction(current.plan, target.plan)
    else:
        more = target.quantity > current.quantity or any(
            count > current.addons.get(code, 0) for code, count in target.addons.items()
        )
        direction = Direction.UPGRADE if more else Direction.DOWNGRADE
    policy = plan.policy(direction).value
    when = when or ("now" if policy != "end_of_period" else "end_of_period")
    if when == "now":
        effective = base_day
    elif when == "end_of_period":
        effective = tl.period_end(base_day)
    elif when == "date":
        if explicit_day is None:
            raise DomainError("required", 'effective_date is required with when="date".', "effective_date")
        effective = explicit_day
    else:
        raise DomainError("invalid_when", "when is now, end_of_period or date.", "when")
    if effective < base_day:
        raise DomainError("effective_in_past", "A change takes effect today or later.", "effective_date")
    proration = fields.get("proration")
    if proration not in (None, "prorate", "none"):
        raise DomainError("invalid_proration", "proration is prorate or none.", "proration")
    prorate = proration != "none" if proration else policy != "immediate_no_proration"
    _check_before_end(tl, effective)
    change = Change(
        id=new_id,
        kind=ChangeKind.CHANGE,
        effective=effective,
        prorate=prorate,
        terms=target,
        requested_at=now,
    )
    return _Resolved(change=change, sub=replace(sub, changes=(*sub.changes, change)))


def _check_before_end(tl: Timeline, day: date) -> None:
    if tl.end is not None and day >= tl.end:
        raise Conflict(
            "after_end",
            f"The subscription ends on {tl.end.isoformat()}; nothing can take effect after that.",
            "effective_date",
        )


def _load(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, subscription_id: str
) -> tuple[Subscription, list[CatalogVersion], datetime]:
    sub = uow.subscriptions.get(actor.tenant_id, subscription_id, for_update=True)
    now, _ = _today(ctx, uow, actor.tenant_id, sub.customer_id, sub.time_zone)
    return sub, catalog.versions(uow, actor.tenant_id), now


def _record(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, sub: Subscription, change: Change,
    versions: list[CatalogVersion], now: datetime,
) -> Subscription:  # fmt: skip
    """Store a new change and bring the subscription to today; a change still to come is an event now."""
    with_change = replace(sub, changes=(*sub.changes, change), updated_at=now)
    _timeline(with_change, versions, local_day(now, sub.time_zone))  # refuses what cannot be billed
    uow.subscriptions.update(with_change, sub)
    if change.effective > local_day(now, sub.time_zone):
        _event(
            ctx,
            uow,
            actor,
            EventType.SUBSCRIPTION_CHANGE_SCHEDULED,
            sub,
            with_change,
            now,
            {"change": change.to_json()},
        )
    return _sync(ctx, uow, actor, with_change, versions, now)


def change_subscription(
    ctx: ServiceContext, actor: Actor, subscription_id: str, fields: Mapping[str, Any]
) -> Subscription:
    with ctx.uow() as uow:
        sub, versions, now = _load(ctx, uow, actor, subscription_id)
        resolved = _resolve_change(sub, versions, fields, now, ctx.new_id("sch"))
        # a pending change to come later was computed from terms this one replaces: it is withdrawn
        stale = [c for c in sub.changes if c.kind is ChangeKind.CHANGE and c.status is ChangeStatus.PENDING
                 and c.effective > resolved.change.effective]  # fmt: skip
        if stale:
            sub = _withdraw(ctx, uow, actor, sub, stale, now, {"replaced_by": resolved.change.id})
        updated = _record(ctx, uow, actor, sub, resolved.change, versions, now)
        uow.commit()
    return updated


def preview_change(
    ctx: ServiceContext, actor: Actor, subscription_id: str, fields: Mapping[str, Any], *, at: datetime | None
) -> Preview:
    """What the change would credit and charge if made at `at` (default now): the schedules with and
    without it, compared from the effective day to the end of the period after it. Nothing is written."""
    with ctx.uow(read_only=True) as uow:
        sub = uow.subscriptions.get(actor.tenant_id, subscription_id)
        versions = catalog.versions(uow, actor.tenant_id)
        now = at or _today(ctx, uow, actor.tenant_id, sub.customer_id, sub.time_zone)[0]
        rounding = uow.tenants.get(actor.tenant_id).settings.rounding_mode
    resolved = _resolve_change(sub, versions, fields, now, "preview")
    effective = resolved.change.effective
    after_tl = _timeline(resolved.sub, versions, effective)
    until = after_tl.period_end(effective) + timedelta(days=1)
    before = billing_schedule(timeline(sub, versions, until), sub.currency, rounding, until=until)
    after = billing_schedule(timeline(resolved.sub, versions, until), sub.currency, rounding, until=until)
    added, removed = compare(
        [c for c in before if c.due >= effective], [c for c in after if c.due >= effective]
    )
    return Preview(effective=effective, added=added, removed=removed, currency=sub.currency)


def cancel_subscription(
    ctx: ServiceContext, actor: Actor, subscription_id: str, fields: Mapping[str, Any]
) -> Subscription:
    """Now (credit for the unused part, or none) or at the end of the period, or on a date."""
    with ctx.uow() as uow:
        sub, versions, now = _load(ctx, uow, actor, subscription_id)
        require(sub.status, "cancel")
        today = local_day(now, sub.time_zone)
        tl = _timeline(sub, versions, today)
        when = fields.get("when") or "now"
        if when == "now":
            effective = today  # before a future start: it never begins
        elif when == "end_of_period":
            effective = tl.period_end(max(today, sub.start))
        elif when == "date":
            day = _date(fields.get("effective_date"), "effective_date")
            if day is None:
                raise DomainError(
                    "required", 'effective_date is required with when="date".', "effective_date"
                )
            effective = day
            if effective < today:
                raise DomainError(
                    "effective_in_past", "A cancellation takes effect today or later.", "effective_date"
                )
        else:
            raise DomainError("invalid_when", "when is now, end_of_period or date.", "when")
        proration = fields.get("proration") or "prorate"
        if proration not in ("prorate", "none"):
            raise DomainError(
                "invalid_proration", "proration is prorate (credit the unused part) or none.", "proration"
            )
        pending = sub.pending_cancellation
        if pending is not None:
            sub = _withdraw(ctx, uow, actor, sub, [pending], now, {})
            tl = _timeline(sub, versions, today)
        _check_before_end(tl, effective)
        change = Change(id=ctx.new_id("sch"), kind=ChangeKind.CANCEL, effective=effective,
                        prorate=proration == "prorate", requested_at=now)  # fmt: skip
        updated = _record(ctx, uow, actor, sub, change, versions, now)
        uow.commit()
    return updated


def undo_cancellation(ctx: ServiceContext, actor: Actor, subscription_id: str) -> Subscription:
    with ctx.uow() as uow:
        sub, versions, now = _load(ctx, uow, actor, subscription_id)
        require(sub.status, "undo the cancellation of")
        pending = sub.pending_cancellation
        if pending is None:
            raise Conflict("no_pending_cancellation", "The subscription has no cancellation to undo.")
        updated = _withdraw(ctx, uow, actor, sub, [pending], now, {})
        updated = _sync(ctx, uow, actor, updated, versions, now)
        uow.commit()
    return updated


def _pause_or_resume(
    ctx: ServiceContext, actor: Actor, subscription_id: str, fields: Mapping[str, Any], kind: ChangeKind
) -> Subscription:
    action = "pause" if kind is ChangeKind.PAUSE else "resume"
    with ctx.uow() as uow:
        sub, versions, now = _load(ctx, uow, actor, subscription_id)
        today = local_day(now, sub.time_zone)
        effective = _date(fields.get("effective_date"), "effective_date") or today
        if effective < today:
            raise DomainError(
                "effective_in_past", f"A {action} takes effect today or later.", "effective_date"
            )
        tl = _timeline(sub, versions, today)
        require(_status_on(sub, tl, effective), action)
        _check_before_end(tl, effective)
        change = Change(id=ctx.new_id("sch"), kind=kind, effective=effective, prorate=True, requested_at=now)
        updated = _record(ctx, uow, actor, sub, change, versions, now)
        uow.commit()
    return updated


def pause_subscription(
    ctx: ServiceContext, actor: Actor, subscription_id: str, fields: Mapping[str, Any]
) -> Subscription:
    return _pause_or_resume(ctx, actor, subscription_id, fields, ChangeKind.PAUSE)


def resume_subscription(
    ctx: ServiceContext, actor: Actor, subscription_id: str, fields: Mapping[str, Any]
) -> Subscription:
    return _pause_or_resume(ctx, actor, subscription_id, fields, ChangeKind.RESUME)


# ---- collections -----------------------------------------------------------------------------------------


def set_past_due(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, customer_id: str, now: datetime, *,
                 past_due: bool) -> None:  # fmt: skip
    """Dunning: the customer's active subscriptions become past due (entitlements may suspend on the event);
    once nothing is overdue they are active again."""
    versions = catalog.versions(uow, actor.tenant_id)
    for sub in uow.subscriptions.many(actor.tenant_id, customer_ids=[customer_id]):
        wanted, current = (Status.PAST_DUE, Status.ACTIVE) if past_due else (Status.ACTIVE, Status.PAST_DUE)
        if sub.status is not current:
            continue
        locked = uow.subscriptions.get(actor.tenant_id, sub.id, for_update=True)
        updated = replace(locked, status=wanted, updated_at=now)
        check_transition(locked.status, wanted)
        uow.subscriptions.update(updated, locked)
        event = EventType.SUBSCRIPTION_PAST_DUE if past_due else EventType.SUBSCRIPTION_ACTIVATED
        _event(ctx, uow, actor, event, locked, updated, now, {"previous_status": locked.status.value})
        _sync(ctx, uow, actor, updated, versions, now)


def cancel_for_nonpayment(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, customer_id: str,
                          now: datetime) -> None:  # fmt: skip
    """Dunning's last resort: the customer's subscriptions end today, without credit for the rest."""
    versions = catalog.versions(uow, actor.tenant_id)
    for sub in uow.subscriptions.many(actor.tenant_id, customer_ids=[customer_id]):
        if sub.status not in (Status.ACTIVE, Status.PAST_DUE, Status.TRIALING, Status.PAUSED):
            continue
        locked = uow.subscriptions.get(actor.tenant_id, sub.id, for_update=True)
        change = Change(id=ctx.new_id("sch"), kind=ChangeKind.CANCEL, effective=local_day(now, locked.time_zone),
                        prorate=False, requested_at=now)  # fmt: skip
        _record(ctx, uow, actor, locked, change, versions, now)
