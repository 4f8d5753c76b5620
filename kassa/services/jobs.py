"""Due work: stages register handlers by kind and schedule jobs; the worker (system clock) and test
clock advances run them, each job in its own transaction. A handler's "now" is its clock's present: on a
test clock exactly the instant the job is due, on the system clock the worker's time (a late job runs
late; `job.due_at` says when it was meant for)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from kassa.core.clock import utc
from kassa.core.jobs import MAX_ATTEMPTS, Job, retry_delay
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

log = logging.getLogger(__name__)

# handler(ctx, uow, job, now): do the work inside `uow` (the runner commits it with the job's completion).
# A worker's lease on the jobs it claimed; if it dies they are offered again after this.
CLAIM = timedelta(minutes=5)

JobHandler = Callable[[ServiceContext, UnitOfWork, Job, datetime], None]
HANDLERS: dict[str, JobHandler] = {}


def handles(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the handler of a kind of due work (`@handles("billing.bill_date")`)."""

    def register(handler: JobHandler) -> JobHandler:
        if kind in HANDLERS and HANDLERS[kind] is not handler:
            raise RuntimeError(f"two handlers for job kind {kind!r}")
        HANDLERS[kind] = handler
        return handler

    return register


def schedule(
    ctx: ServiceContext,
    uow: UnitOfWork,
    tenant_id: str,
    kind: str,
    due_at: datetime,
    *,
    dedupe_key: str,
    customer_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
    move: bool = False,
) -> bool:
    """Register due work in the caller's transaction. Work for a customer on a test clock runs when that
    clock passes `due_at`; anything else when the system clock does. The same (kind, dedupe_key) twice is
    one job, so re-running whatever schedules it is safe; with `move`, a still pending one takes the new
    `due_at` and payload (the plan changed), one that ran stays done. True if the job is new."""
    if kind not in HANDLERS:
        raise RuntimeError(f"no handler registered for job kind {kind!r}")
    clock_id = uow.customers.test_clock_of(tenant_id, customer_id) if customer_id else None
    job = Job(
        tenant_id=tenant_id,
        id=ctx.new_id("job"),
        kind=kind,
        due_at=utc(due_at),
        test_clock_id=clock_id,
        customer_id=customer_id,
        dedupe_key=dedupe_key,
        payload=dict(payload or {}),
        created_at=ctx.clock.now(),
    )
    if uow.jobs.add(job):
        return True
    if move:
        uow.jobs.move(job)
    return False


def run_job(
    ctx: ServiceContext, job: Job, now: datetime, *, before: Callable[[UnitOfWork], None] | None = None
) -> str | None:
    """Run one job in its own transaction; the error text if it failed (its work is rolled back).
    `before` runs first in that transaction (a test clock moves to the job's instant and counts it there)."""
    try:
        with ctx.uow() as uow:
            current = uow.jobs.lock(job)
            if current is None:
                return None  # finished by someone else meanwhile
            if before is not None:
                before(uow)
            HANDLERS[current.kind](ctx, uow, current, now)
            uow.jobs.finish(current, ctx.clock.now())
            uow.commit()
        return None
    except Exception as error:  # a failing job must not stop the others; it is recorded and retried
        log.exception("job failed", extra={"job_id": job.id, "kind": job.kind, "tenant_id": job.tenant_id})
        return f"{type(error).__name__}: {error}"


def run_due_jobs(ctx: ServiceContext, *, limit: int = 100) -> int:
    """The worker's share: due jobs on the system clock. Returns how many ran (failed ones included)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        due = uow.jobs.claim_due(now, limit, now + CLAIM)
        uow.commit()
    for job in due:
        error = run_job(ctx, job, now)
        if error is not None:
            record_failure(ctx, job, error, now)
    return len(due)


def record_failure(ctx: ServiceContext, job: Job, error: str, now: datetime) -> None:
    """Count a failed run of a claimed system-clock job: retried after a back-off, given up after
    MAX_ATTEMPTS."""
    with ctx.uow() as uow:
        # Read it again: between the failed run's rollback and here another worker may have run it
        # (done, or failed and counted); the claim's copy is stale.
        current = uow.jobs.lock(job)
        if current is not None:
            exhausted = current.attempts + 1 >= MAX_ATTEMPTS
            retry_at = None if exhausted else now + retry_delay(current.attempts + 1)
            uow.jobs.fail(current, error, retry_at=retry_at, at=now)
            uow.commit()
