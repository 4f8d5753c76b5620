"""Test clocks: create, advance, and the runner that carries an advance through every due job in time
order. An advance is persisted (status, target) before any work, and each job commits on its own, so a
runner that dies is replaced (by the worker, or the next call) and resumes where it stopped."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from kassa.core.audit import Actor
from kassa.core.clock import utc
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.jobs import Job
from kassa.core.pages import Page, check_limit
from kassa.core.test_clocks import ClockStatus, TestClock, check_advance
from kassa.services import audit, events
from kassa.services.context import ServiceContext
from kassa.services.jobs import run_job
from kassa.store.uow import UnitOfWork

LEASE = timedelta(minutes=2)
Progress = Callable[[TestClock], None]


def create_test_clock(ctx: ServiceContext, actor: Actor, *, name: str, frozen_time: datetime) -> TestClock:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise DomainError("invalid_text", "name is 1 to 200 characters.", "name")
    now = ctx.clock.now()
    clock = TestClock(
        tenant_id=actor.tenant_id,
        id=ctx.new_id("clk"),
        name=name.strip(),
        frozen_time=utc(frozen_time),
        created_at=now,
        updated_at=now,
    )
    with ctx.uow() as uow:
        uow.tenants.get(actor.tenant_id)
        uow.test_clocks.add(clock)
        view = {"name": clock.name, "frozen_time": clock.frozen_time.isoformat()}
        audit.changed(
            ctx, uow, actor, EventType.TEST_CLOCK_CREATED, object_type="test_clock", object_id=clock.id,
            before=None, after=view, at=now, data={"id": clock.id, **view},
        )  # fmt: skip
        uow.commit()
    return clock


def get_test_clock(ctx: ServiceContext, actor: Actor, clock_id: str) -> TestClock:
    with ctx.uow(read_only=True) as uow:
        return uow.test_clocks.get(actor.tenant_id, clock_id)


def list_test_clocks(
    ctx: ServiceContext, actor: Actor, *, limit: int = 20, cursor: str | None = None
) -> Page[TestClock]:
    with ctx.uow(read_only=True) as uow:
        return uow.test_clocks.list(actor.tenant_id, limit=check_limit(limit), cursor=cursor)


def start_advance(ctx: ServiceContext, actor: Actor, clock_id: str, to: datetime) -> TestClock:
    """Record that the clock is to move to `to`; `run_advance` does the work."""
    to = utc(to)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        clock = uow.test_clocks.get(actor.tenant_id, clock_id, for_update=True)
        # A failed clock is frozen at the failing job's instant, which may be the target itself: asking for
        # that instant again retries the job there (check_advance would call it going back).
        if not (clock.status == ClockStatus.FAILED and to == clock.frozen_time):
            check_advance(clock, to)
        if clock.status == ClockStatus.ADVANCING:
            return clock  # the same advance asked again: join it
        started = replace(
            clock,
            status=ClockStatus.ADVANCING,
            target_time=to,
            started_time=clock.frozen_time,
            error=None,
            updated_at=now,
        )
        uow.test_clocks.save(started)
        audit.changed(
            ctx, uow, actor, EventType.TEST_CLOCK_ADVANCING, object_type="test_clock", object_id=clock_id,
            before={"frozen_time": clock.frozen_time.isoformat()}, after={"frozen_time": to.isoformat()}, at=now,
            data={"id": clock_id, "frozen_time": clock.frozen_time.isoformat(), "target_time": to.isoformat()},
        )  # fmt: skip
        uow.commit()
    return started


def run_advance(
    ctx: ServiceContext,
    tenant_id: str,
    clock_id: str,
    *,
    budget_seconds: float | None = None,
    progress: Progress | None = None,
) -> TestClock:
    """Run the advancing clock's due work, tick by tick in time order, until the target or the budget.

    Returns the clock: `ready` when done, still `advancing` when the budget ran out or another runner holds
    it, `failed` when a job failed (frozen at that job's instant; advancing again retries it).
    """
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    with ctx.uow() as uow:
        now = ctx.clock.now()
        taken = uow.test_clocks.take_lease(tenant_id, clock_id, now, now + LEASE)
        uow.commit()
    if not taken:
        return _get(ctx, tenant_id, clock_id)
    try:
        while True:
            # One read per tick; each job then moves the clock and counts itself in its own transaction.
            with ctx.uow(read_only=True) as uow:
                clock = uow.test_clocks.get(tenant_id, clock_id)
                if clock.status != ClockStatus.ADVANCING or clock.target_time is None:
                    return clock
                tick = uow.jobs.next_for_clock(tenant_id, clock_id, clock.target_time)
            if not tick:
                return _finish(ctx, clock)
            failure = _run_tick(ctx, clock, tick)
            if failure is not None:
                return failure
            if progress is not None:
                progress(_get(ctx, tenant_id, clock_id))
            if deadline is not None and time.monotonic() >= deadline:
                return _get(ctx, tenant_id, clock_id)
    finally:
        with ctx.uow() as uow:
            uow.test_clocks.release_lease(tenant_id, clock_id)
            uow.commit()


def _get(ctx: ServiceContext, tenant_id: str, clock_id: str) -> TestClock:
    with ctx.uow(read_only=True) as uow:
        return uow.test_clocks.get(tenant_id, clock_id)


def _run_tick(ctx: ServiceContext, clock: TestClock, tick: list[Job]) -> TestClock | None:
    """Run the jobs due at one instant; the clock shows that instant while they run."""
    # Work registered for an instant the clock has already passed runs now, never back in time.
    at = max(tick[0].due_at, clock.frozen_time)

    def enter(uow: UnitOfWork) -> None:
        now = ctx.clock.now()
        uow.test_clocks.enter_job(clock.tenant_id, clock.id, at=at, now=now, lease_until=now + LEASE)

    for job in tick:
        error = run_job(ctx, job, at, before=enter)
        if error is not None:
            with ctx.uow() as uow:
                uow.jobs.fail(
                    job, error, retry_at=job.due_at, at=ctx.clock.now()
                )  # stays pending: retried next advance
                failed = replace(
                    _locked(uow, clock), frozen_time=at, status=ClockStatus.FAILED,
                    error=f"job {job.id} ({job.kind}): {error}", updated_at=ctx.clock.now(),
                )  # fmt: skip
                uow.test_clocks.save(failed)
                events.emit(
                    ctx, uow, clock.tenant_id, EventType.TEST_CLOCK_FAILED, object_type="test_clock", object_id=clock.id,
                    data={"id": clock.id, "frozen_time": at.isoformat(), "error": failed.error}, at=ctx.clock.now(),
                )  # fmt: skip
                uow.commit()
            return failed
    return None


def _locked(uow: UnitOfWork, clock: TestClock) -> TestClock:
    return uow.test_clocks.get(clock.tenant_id, clock.id, for_update=True)


def _finish(ctx: ServiceContext, clock: TestClock) -> TestClock:
    assert clock.target_time is not None
    now = ctx.clock.now()
    with ctx.uow() as uow:
        current = uow.test_clocks.get(clock.tenant_id, clock.id, for_update=True)
        ready = replace(
            current, frozen_time=clock.target_time, status=ClockStatus.READY, error=None, updated_at=now
        )
        uow.test_clocks.save(ready)
        events.emit(
            ctx, uow, clock.tenant_id, EventType.TEST_CLOCK_READY, object_type="test_clock", object_id=clock.id,
            data={"id": clock.id, "frozen_time": ready.frozen_time.isoformat(), "jobs_run": ready.jobs_run}, at=now,
        )  # fmt: skip
        uow.commit()
    return ready


def advance_test_clock(
    ctx: ServiceContext,
    actor: Actor,
    clock_id: str,
    to: datetime,
    *,
    budget_seconds: float | None = None,
    progress: Progress | None = None,
) -> TestClock:
    """Move a test clock forward to `to`, running every piece of due work in between, in time order."""
    start_advance(ctx, actor, clock_id, to)
    return run_advance(ctx, actor.tenant_id, clock_id, budget_seconds=budget_seconds, progress=progress)


def resume_advances(ctx: ServiceContext) -> int:
    """The worker's share: carry on advances whose runner stopped (a crash, a 202 answered)."""
    with ctx.uow(read_only=True) as uow:
        pending = uow.test_clocks.advancing(ctx.clock.now())
    for tenant_id, clock_id in pending:
        # a slice at a time, so one long advance does not hold up other tenants' jobs and webhooks
        run_advance(ctx, tenant_id, clock_id, budget_seconds=ctx.settings.advance_budget_seconds)
    return len(pending)
