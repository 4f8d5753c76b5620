"""Due work on the system clock: the worker runs what is due, leaves the future alone, backs off a failing
job and gives up after MAX_ATTEMPTS; on PostgreSQL two workers at once run each job exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from kassa import worker
from kassa.core.audit import Actor
from kassa.core.jobs import MAX_ATTEMPTS, Job, JobStatus, retry_delay
from kassa.services import customers, jobs
from kassa.services.context import ServiceContext
from kassa.store.tables import jobs as jobs_table
from kassa.store.uow import UnitOfWork
from tests.conftest import START, SettableClock

WORK = "test.work"


@dataclass
class Recorder:
    runs: list[tuple[str, datetime]] = field(default_factory=list)  # (job dedupe key, now)
    failures_left: dict[str, int] = field(default_factory=dict)  # dedupe key -> how many runs still raise
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    rec = Recorder()

    def work(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
        with rec.lock:
            left = rec.failures_left.get(job.dedupe_key, 0)
            if left:
                rec.failures_left[job.dedupe_key] = left - 1
                raise ValueError(f"attempt {job.attempts + 1} refused")
            rec.runs.append((job.dedupe_key, now))

    before = dict(jobs.HANDLERS)
    jobs.handles(WORK)(work)
    yield rec
    jobs.HANDLERS.clear()
    jobs.HANDLERS.update(before)


def schedule(
    ctx: ServiceContext, tenant_id: str, key: str, due_at: datetime, customer_id: str | None = None
) -> None:
    with ctx.uow() as uow:
        assert jobs.schedule(ctx, uow, tenant_id, WORK, due_at, dedupe_key=key, customer_id=customer_id)
        uow.commit()


def job(ctx: ServiceContext, tenant_id: str, key: str) -> Job:
    """The job as stored (any status)."""
    c = jobs_table.c
    with ctx.uow(read_only=True) as uow:
        row = uow.conn.execute(
            sa.select(jobs_table).where(c.tenant_id == tenant_id, c.dedupe_key == key)
        ).one()
    values = {name: row._mapping[name] for name in Job.__dataclass_fields__}
    return Job(**{**values, "status": JobStatus(row.status)})


def test_the_worker_runs_due_jobs_and_leaves_future_ones(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    customer = customers.create_customer(ctx, actor, {"external_id": "a", "name": "A"}).id
    schedule(ctx, tid, "overdue", START - timedelta(hours=1), customer)
    schedule(ctx, tid, "due-now", START)
    schedule(ctx, tid, "in-a-second", START + timedelta(seconds=1))

    assert worker.run_once(ctx) == 2
    # A late job runs at the worker's present, not at its due instant: that is the system clock's "now".
    assert recorder.runs == [("overdue", START), ("due-now", START)]
    done = job(ctx, tid, "overdue")
    assert (done.status, done.attempts, done.finished_at, done.last_error) == (JobStatus.DONE, 1, START, None)
    assert job(ctx, tid, "in-a-second").status == JobStatus.PENDING
    assert worker.run_once(ctx) == 0

    clock.advance(timedelta(seconds=1))
    assert worker.run_once(ctx) == 1
    assert recorder.runs[2:] == [("in-a-second", START + timedelta(seconds=1))]
    assert worker.run_once(ctx) == 0


def test_a_failing_job_backs_off_and_is_marked_failed_after_max_attempts(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    schedule(ctx, tid, "doomed", START)
    recorder.failures_left["doomed"] = 1000
    assert [retry_delay(n) for n in range(1, MAX_ATTEMPTS)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)
    ]

    for attempt in range(1, MAX_ATTEMPTS):
        assert worker.run_once(ctx) == 1
        state = job(ctx, tid, "doomed")
        retry_at = clock.now() + retry_delay(attempt)
        assert (state.status, state.attempts, state.due_at) == (JobStatus.PENDING, attempt, retry_at)
        assert state.last_error == f"ValueError: attempt {attempt} refused"
        clock.advance(retry_delay(attempt) - timedelta(seconds=1))
        assert worker.run_once(ctx) == 0  # not before its time
        clock.advance(timedelta(seconds=1))

    assert worker.run_once(ctx) == 1  # attempt MAX_ATTEMPTS
    gave_up = job(ctx, tid, "doomed")
    assert (gave_up.status, gave_up.attempts, gave_up.finished_at) == (
        JobStatus.FAILED,
        MAX_ATTEMPTS,
        clock.now(),
    )
    assert gave_up.last_error == f"ValueError: attempt {MAX_ATTEMPTS} refused"
    assert clock.now() - START == timedelta(minutes=1 + 2 + 4 + 8 + 16 + 32 + 60 + 60 + 60)
    clock.advance(timedelta(days=30))
    assert worker.run_once(ctx) == 0
    assert recorder.runs == []


def test_a_job_that_recovers_is_done_with_its_error_cleared(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, recorder: Recorder
) -> None:
    schedule(ctx, actor.tenant_id, "flaky", START)
    recorder.failures_left["flaky"] = 2
    assert worker.run_once(ctx) == 1
    clock.advance(timedelta(minutes=1))
    assert worker.run_once(ctx) == 1
    clock.advance(timedelta(minutes=2))
    assert worker.run_once(ctx) == 1
    done = job(ctx, actor.tenant_id, "flaky")
    assert (done.status, done.attempts, done.last_error) == (JobStatus.DONE, 3, None)
    assert recorder.runs == [("flaky", START + timedelta(minutes=3))]


def test_two_workers_at_once_run_each_job_exactly_once(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one worker")
    with ctx.uow() as uow:
        for n in range(200):
            jobs.schedule(
                ctx, uow, actor.tenant_id, WORK, START - timedelta(seconds=n), dedupe_key=f"j{n:03d}"
            )
        uow.commit()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            start.wait()
            while jobs.run_due_jobs(ctx, limit=20):
                pass
        except BaseException as error:  # surfaced below: an exception in a thread would be lost
            errors.append(error)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    per_job = Counter(key for key, _ in recorder.runs)
    assert per_job == {f"j{n:03d}": 1 for n in range(200)}
    with ctx.uow(read_only=True) as uow:
        assert uow.jobs.claim_due(START, 1000, START) == []


def test_a_claimed_job_is_not_offered_again_until_its_lease_lapses(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    """Issue 3: a worker's claim leases its jobs, so a second worker does not take the same batch; a
    worker that dies loses the lease after jobs.CLAIM and the job is offered again."""
    schedule(ctx, actor.tenant_id, "leased", START)
    with ctx.uow() as uow:
        first = uow.jobs.claim_due(START, 10, START + jobs.CLAIM)
        uow.commit()
    assert [j.dedupe_key for j in first] == ["leased"]
    with ctx.uow() as uow:
        assert uow.jobs.claim_due(START + jobs.CLAIM - timedelta(seconds=1), 10, START + 2 * jobs.CLAIM) == []
        assert [j.dedupe_key for j in uow.jobs.claim_due(START + jobs.CLAIM, 10, START + 2 * jobs.CLAIM)] == [
            "leased"
        ]


def test_a_failure_is_not_recorded_over_a_run_another_worker_finished_meanwhile(
    ctx: ServiceContext, actor: Actor, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between a failed run's rollback and the recording of its failure, a second worker can take the job
    (the claim holds no lock) and finish it: the late failure must not turn it back or mark it failed."""
    schedule(ctx, actor.tenant_id, "raced", START)
    with ctx.uow() as uow:  # its last allowed attempt
        uow.conn.execute(jobs_table.update().values(attempts=MAX_ATTEMPTS - 1))
        uow.commit()
    recorder.failures_left["raced"] = 1
    run_job = jobs.run_job

    def run_then_lose_the_race(ctx: ServiceContext, job: Job, now: datetime) -> str | None:
        error = run_job(ctx, job, now)  # this worker's run fails...
        assert run_job(ctx, job, now) is None  # ...and another worker's succeeds before it records that
        return error

    monkeypatch.setattr(jobs, "run_job", run_then_lose_the_race)
    assert jobs.run_due_jobs(ctx) == 1
    done = job(ctx, actor.tenant_id, "raced")
    assert (done.status, done.attempts, done.last_error, done.due_at) == (
        JobStatus.DONE,
        MAX_ATTEMPTS,
        None,
        START,
    )
    assert recorder.runs == [("raced", START)]
