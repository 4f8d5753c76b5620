"""Test clocks on the real databases: an advance runs every due job in time order, survives a failing job
and a runner that died, and never touches work that is not on the clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from kassa import worker
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.jobs import Job, JobStatus
from kassa.core.test_clocks import ClockStatus
from kassa.services import customers, jobs, test_clocks
from kassa.services.context import ServiceContext
from kassa.store.tables import jobs as jobs_table
from kassa.store.uow import UnitOfWork
from tests.conftest import SettableClock

START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
TICK = "test.monthly_tick"
ONCE = "test.once"


@dataclass
class Recorder:
    """What the test handlers saw: (kind, customer, now, due_at) per run, in run order."""

    runs: list[tuple[str, str | None, datetime, datetime]] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)  # customer ids whose ONCE job raises
    kill_at_run: int | None = None  # the runner "dies" (KeyboardInterrupt) once this many jobs have run

    def seen(self, kind: str | None = None) -> list[tuple[str | None, datetime]]:
        return [(customer, now) for k, customer, now, _ in self.runs if kind is None or k == kind]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """Registers the test handlers and removes them afterwards, so no other test sees them."""
    rec = Recorder()

    def monthly_tick(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
        # Like a renewal: do this month's work, then schedule next month's for the same customer.
        rec.runs.append((TICK, job.customer_id, now, job.due_at))
        anchor = datetime.fromisoformat(job.payload["anchor"])
        k = job.payload["k"] + 1
        jobs.schedule(
            ctx, uow, job.tenant_id, TICK, anchor + relativedelta(months=k),
            dedupe_key=f"tick:{job.customer_id}:{k}", customer_id=job.customer_id,
            payload={"anchor": anchor.isoformat(), "k": k},
        )  # fmt: skip

    def once(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
        if rec.kill_at_run is not None and len(rec.runs) == rec.kill_at_run:
            rec.kill_at_run = None
            raise KeyboardInterrupt  # not an Exception: nothing records it, like a process killed mid-tick
        if job.customer_id in rec.fail_for:
            # Work done before the error must roll back with it.
            jobs.schedule(
                ctx, uow, job.tenant_id, ONCE, now + timedelta(hours=1),
                dedupe_key=f"side-effect:{job.id}", customer_id=job.customer_id,
            )  # fmt: skip
            raise RuntimeError("boom")
        rec.runs.append((ONCE, job.customer_id, now, job.due_at))

    before = dict(jobs.HANDLERS)
    jobs.handles(TICK)(monthly_tick)
    jobs.handles(ONCE)(once)
    yield rec
    jobs.HANDLERS.clear()
    jobs.HANDLERS.update(before)


def new_customer(ctx: ServiceContext, actor: Actor, name: str, clock_id: str | None) -> str:
    fields: dict[str, Any] = {"external_id": name, "name": name}
    if clock_id is not None:
        fields["test_clock_id"] = clock_id
    return customers.create_customer(ctx, actor, fields).id


def start_ticks(ctx: ServiceContext, tenant_id: str, customer_id: str, anchor: datetime, k: int = 1) -> None:
    """Schedule the customer's k-th monthly tick after `anchor` (the handler chains the rest)."""
    with ctx.uow() as uow:
        jobs.schedule(
            ctx, uow, tenant_id, TICK, anchor + relativedelta(months=k),
            dedupe_key=f"tick:{customer_id}:{k}", customer_id=customer_id,
            payload={"anchor": anchor.isoformat(), "k": k},
        )  # fmt: skip
        uow.commit()


def once_at(ctx: ServiceContext, tenant_id: str, customer_id: str | None, at: datetime, key: str) -> str:
    """Schedule a one-off job; its id."""
    with ctx.uow() as uow:
        assert jobs.schedule(ctx, uow, tenant_id, ONCE, at, dedupe_key=key, customer_id=customer_id)
        uow.commit()
    with ctx.uow(read_only=True) as uow:
        c = jobs_table.c
        query = sa.select(c.id).where(c.tenant_id == tenant_id, c.kind == ONCE, c.dedupe_key == key)
        return str(uow.conn.execute(query).scalar_one())


def clock_jobs(ctx: ServiceContext, tenant_id: str, clock_id: str) -> list[Job]:
    with ctx.uow(read_only=True) as uow:
        return uow.jobs.list_for_clock(tenant_id, clock_id)


def monthly(anchor: datetime, until: datetime, first_k: int = 1) -> list[datetime]:
    """The oracle: every tick of a customer anchored at `anchor` due up to `until`."""
    out, k = [], first_k
    while anchor + relativedelta(months=k) <= until:
        out.append(anchor + relativedelta(months=k))
        k += 1
    return out


def test_customer_on_a_clock_lives_at_its_frozen_time(ctx: ServiceContext, actor: Actor) -> None:
    clk = test_clocks.create_test_clock(
        ctx, actor, name="Q1", frozen_time=datetime(2030, 5, 17, 8, 30, tzinfo=UTC)
    )
    on_clock = customers.create_customer(
        ctx, actor, {"external_id": "a", "name": "A", "test_clock_id": clk.id}
    )
    off_clock = customers.create_customer(ctx, actor, {"external_id": "b", "name": "B"})
    assert on_clock.created_at == datetime(2030, 5, 17, 8, 30, tzinfo=UTC)
    assert on_clock.test_clock_id == clk.id
    assert off_clock.created_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # the system clock
    with pytest.raises(DomainError) as refused:
        customers.create_customer(ctx, actor, {"external_id": "c", "name": "C", "test_clock_id": "clk_nope"})
    assert (refused.value.code, refused.value.field) == ("test_clock_not_found", "test_clock_id")


def test_advance_runs_due_work_in_time_order_and_leaves_the_rest(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    clk = test_clocks.create_test_clock(ctx, actor, name="main", frozen_time=START)
    other = test_clocks.create_test_clock(ctx, actor, name="other", frozen_time=START)
    a = new_customer(ctx, actor, "a", clk.id)
    b = new_customer(ctx, actor, "b", clk.id)
    c = new_customer(ctx, actor, "c", clk.id)
    elsewhere = new_customer(ctx, actor, "elsewhere", other.id)
    real_time = new_customer(ctx, actor, "real-time", None)
    # Month ends clip (Jan 31 -> Feb 28 -> Mar 31): ticks are computed from the anchor, not chained.
    anchors = {
        a: START,
        b: datetime(2025, 12, 31, 12, 0, tzinfo=UTC),
        c: datetime(2026, 1, 10, 6, tzinfo=UTC),
    }
    for customer, anchor in anchors.items():
        start_ticks(ctx, tid, customer, anchor)
    start_ticks(ctx, tid, elsewhere, START)
    start_ticks(ctx, tid, real_time, datetime(2025, 11, 1, tzinfo=UTC))  # due long ago on the system clock
    once_at(ctx, tid, b, datetime(2026, 2, 14, 12, 0, tzinfo=UTC), "valentine")
    once_at(ctx, tid, a, datetime(2026, 4, 15, 0, 0, tzinfo=UTC), "exactly-at-target")
    once_at(ctx, tid, a, datetime(2026, 4, 15, 0, 0, 1, tzinfo=UTC), "one-second-late")
    once_at(ctx, tid, None, datetime(2026, 1, 5, tzinfo=UTC), "no-customer")  # system clock: future

    target = datetime(2026, 4, 15, tzinfo=UTC)
    done = test_clocks.advance_test_clock(ctx, actor, clk.id, target)

    expected = sorted(
        [(t, cus) for cus, anchor in anchors.items() for t in monthly(anchor, target)]
        + [(datetime(2026, 2, 14, 12, 0, tzinfo=UTC), b), (target, a)]
    )
    assert expected == [
        (datetime(2026, 1, 31, 12, 0, tzinfo=UTC), b),
        (datetime(2026, 2, 1, 0, 0, tzinfo=UTC), a),
        (datetime(2026, 2, 10, 6, 0, tzinfo=UTC), c),
        (datetime(2026, 2, 14, 12, 0, tzinfo=UTC), b),
        (datetime(2026, 2, 28, 12, 0, tzinfo=UTC), b),
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), a),
        (datetime(2026, 3, 10, 6, 0, tzinfo=UTC), c),
        (datetime(2026, 3, 31, 12, 0, tzinfo=UTC), b),
        (datetime(2026, 4, 1, 0, 0, tzinfo=UTC), a),
        (datetime(2026, 4, 10, 6, 0, tzinfo=UTC), c),
        (target, a),
    ]
    assert recorder.seen() == [(cus, t) for t, cus in expected]
    assert all(now == due for _, _, now, due in recorder.runs)
    assert (done.status, done.frozen_time, done.jobs_run, done.error) == (ClockStatus.READY, target, 11, None)

    pending = [
        (j.customer_id, j.due_at) for j in clock_jobs(ctx, tid, clk.id) if j.status == JobStatus.PENDING
    ]
    assert sorted(pending, key=lambda p: p[1]) == [
        (a, datetime(2026, 4, 15, 0, 0, 1, tzinfo=UTC)),
        (b, datetime(2026, 4, 30, 12, 0, tzinfo=UTC)),  # Apr 30: the 31st clipped
        (a, datetime(2026, 5, 1, tzinfo=UTC)),
        (c, datetime(2026, 5, 10, 6, 0, tzinfo=UTC)),
    ]
    # The other clock and the customer on real time were not touched.
    assert test_clocks.get_test_clock(ctx, actor, other.id).frozen_time == START
    assert [(j.due_at, j.status) for j in clock_jobs(ctx, tid, other.id)] == [
        (datetime(2026, 2, 1, tzinfo=UTC), JobStatus.PENDING)
    ]
    with ctx.uow(read_only=True) as uow:
        system = uow.jobs.claim_due(datetime(2100, 1, 1, tzinfo=UTC), 10, datetime(2100, 1, 1, tzinfo=UTC))
    assert {(j.customer_id, j.due_at) for j in system} == {
        (real_time, datetime(2025, 12, 1, tzinfo=UTC)),
        (None, datetime(2026, 1, 5, tzinfo=UTC)),
    }


def test_ten_years_of_monthly_ticks_for_fifty_customers_in_one_call(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    clk = test_clocks.create_test_clock(ctx, actor, name="decade", frozen_time=START)
    # Anchors an hour apart: no two ticks share an instant, so the order is fully determined.
    anchors = {new_customer(ctx, actor, f"c{i:02d}", clk.id): START + timedelta(hours=i) for i in range(50)}
    for customer, anchor in anchors.items():
        start_ticks(ctx, tid, customer, anchor)
    target = START + relativedelta(years=10) + timedelta(hours=12)  # 2036-01-01T12:00Z

    done = test_clocks.advance_test_clock(ctx, actor, clk.id, target)

    # Months 1..119 for everyone; month 120 (2036-01-01T00:00Z + i hours) only for i <= 12.
    expected = sorted((t, cus) for cus, anchor in anchors.items() for t in monthly(anchor, target))
    assert len(expected) == 50 * 119 + 13 == 5963
    assert recorder.seen() == [(cus, t) for t, cus in expected]
    assert all(now == due for _, _, now, due in recorder.runs)
    assert (done.status, done.frozen_time, done.jobs_run) == (ClockStatus.READY, target, 5963)
    pending = [j for j in clock_jobs(ctx, tid, clk.id) if j.status == JobStatus.PENDING]
    assert sorted(j.due_at for j in pending) == sorted(
        anchor + relativedelta(months=120 if i > 12 else 121) for i, anchor in enumerate(anchors.values())
    )


def test_a_clock_only_moves_forward(ctx: ServiceContext, actor: Actor) -> None:
    clk = test_clocks.create_test_clock(ctx, actor, name="fwd", frozen_time=START)
    for to in (START, START - timedelta(seconds=1)):
        with pytest.raises(DomainError) as refused:
            test_clocks.advance_test_clock(ctx, actor, clk.id, to)
        assert (refused.value.code, refused.value.field) == ("clock_cannot_go_back", "frozen_time")
    after = test_clocks.get_test_clock(ctx, actor, clk.id)
    assert (after.status, after.frozen_time, after.target_time) == (ClockStatus.READY, START, None)


def test_the_same_dedupe_key_twice_is_one_job(ctx: ServiceContext, actor: Actor, recorder: Recorder) -> None:
    clk = test_clocks.create_test_clock(ctx, actor, name="dedupe", frozen_time=START)
    cus = new_customer(ctx, actor, "a", clk.id)
    with ctx.uow() as uow:
        first = jobs.schedule(
            ctx, uow, actor.tenant_id, ONCE, START + timedelta(days=1), dedupe_key="k", customer_id=cus
        )
        again = jobs.schedule(
            ctx, uow, actor.tenant_id, ONCE, START + timedelta(days=2), dedupe_key="k", customer_id=cus
        )
        uow.commit()
    with ctx.uow() as uow:  # and in a later transaction
        later = jobs.schedule(
            ctx, uow, actor.tenant_id, ONCE, START + timedelta(days=3), dedupe_key="k", customer_id=cus
        )
        uow.commit()
    assert (first, again, later) == (True, False, False)
    assert [j.due_at for j in clock_jobs(ctx, actor.tenant_id, clk.id)] == [START + timedelta(days=1)]
    done = test_clocks.advance_test_clock(ctx, actor, clk.id, START + timedelta(days=5))
    assert recorder.seen() == [(cus, START + timedelta(days=1))]
    assert done.jobs_run == 1


def test_a_failing_job_fails_the_clock_at_its_instant_and_advancing_again_retries_it(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    clk = test_clocks.create_test_clock(ctx, actor, name="fails", frozen_time=START)
    a, b, c, d = (new_customer(ctx, actor, name, clk.id) for name in "abcd")
    t1, t2, t3 = (START + timedelta(days=n) for n in (1, 2, 3))
    once_at(ctx, tid, a, t1, "a1")
    tick = {cus: once_at(ctx, tid, cus, t2, f"{cus}-2") for cus in (a, b, c, d)}  # one tick, four jobs
    once_at(ctx, tid, c, t3, "c3")
    recorder.fail_for.add(b)
    target = START + timedelta(days=10)

    failed = test_clocks.advance_test_clock(ctx, actor, clk.id, target)

    # A tick runs its jobs in id order: those before b's committed, b's rolled back, the rest wait.
    order = sorted(tick, key=tick.__getitem__)
    before_b = order[: order.index(b)]
    after_b = order[order.index(b) + 1 :]
    assert recorder.seen() == [(a, t1)] + [(cus, t2) for cus in before_b]
    assert failed.status == ClockStatus.FAILED
    assert failed.frozen_time == t2
    assert failed.error == f"job {tick[b]} ({ONCE}): RuntimeError: boom"
    assert failed.jobs_run == 1 + len(before_b)
    state = {j.id: (j.status, j.attempts) for j in clock_jobs(ctx, tid, clk.id)}
    assert state[tick[b]] == (JobStatus.PENDING, 1)
    assert all(state[tick[cus]] == (JobStatus.PENDING, 0) for cus in after_b)
    assert len(state) == 6  # the job b's handler scheduled before raising was rolled back with it
    with ctx.uow(read_only=True) as uow:
        failed_events = uow.events.list(tid, type="test_clock.failed", limit=5, cursor=None).items
        b_job = next(j for j in uow.jobs.list_for_clock(tid, clk.id) if j.id == tick[b])
    assert [e.data for e in failed_events] == [
        {"id": clk.id, "frozen_time": t2.isoformat(), "error": failed.error}
    ]
    assert b_job.last_error == "RuntimeError: boom"

    recorder.fail_for.clear()  # the handler is fixed
    done = test_clocks.advance_test_clock(ctx, actor, clk.id, target)

    assert recorder.seen() == [(a, t1)] + [(cus, t2) for cus in before_b + [b] + after_b] + [(c, t3)]
    assert (done.status, done.frozen_time, done.jobs_run, done.error) == (ClockStatus.READY, target, 6, None)
    assert {j.status for j in clock_jobs(ctx, tid, clk.id)} == {JobStatus.DONE}


def test_a_job_failing_at_the_target_instant_is_retried_by_the_same_advance(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    clk = test_clocks.create_test_clock(ctx, actor, name="edge", frozen_time=START)
    cus = new_customer(ctx, actor, "a", clk.id)
    target = START + timedelta(days=30)
    once_at(ctx, actor.tenant_id, cus, target, "at-target")
    recorder.fail_for.add(cus)
    failed = test_clocks.advance_test_clock(ctx, actor, clk.id, target)
    assert (failed.status, failed.frozen_time) == (ClockStatus.FAILED, target)

    recorder.fail_for.clear()
    done = test_clocks.advance_test_clock(ctx, actor, clk.id, target)  # the same request, sent again
    assert (done.status, done.frozen_time, done.jobs_run) == (ClockStatus.READY, target, 1)
    assert recorder.seen() == [(cus, target)]
    with pytest.raises(DomainError) as refused:  # a ready clock still refuses its own instant
        test_clocks.advance_test_clock(ctx, actor, clk.id, target)
    assert refused.value.code == "clock_cannot_go_back"


def test_an_advance_out_of_budget_is_finished_by_the_worker(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    clk = test_clocks.create_test_clock(ctx, actor, name="budget", frozen_time=START)
    cus = new_customer(ctx, actor, "a", clk.id)
    start_ticks(ctx, actor.tenant_id, cus, START)
    target = datetime(2026, 6, 1, tzinfo=UTC)

    partial = test_clocks.advance_test_clock(ctx, actor, clk.id, target, budget_seconds=0)

    assert (partial.status, partial.frozen_time, partial.jobs_run) == (
        ClockStatus.ADVANCING, datetime(2026, 2, 1, tzinfo=UTC), 1,
    )  # fmt: skip
    assert str(partial.progress()) == "0.2053"  # 31 of 151 days
    assert worker.run_once(ctx) == 1  # one advance resumed (no system-clock job, no delivery)
    done = test_clocks.get_test_clock(ctx, actor, clk.id)
    assert (done.status, done.frozen_time, done.jobs_run) == (ClockStatus.READY, target, 5)
    assert recorder.seen() == [(cus, datetime(2026, m, 1, tzinfo=UTC)) for m in (2, 3, 4, 5, 6)]
    assert worker.run_once(ctx) == 0


def test_an_advance_whose_runner_died_is_resumed_without_running_a_job_twice(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    clk = test_clocks.create_test_clock(ctx, actor, name="crash", frozen_time=START)
    a, b = new_customer(ctx, actor, "a", clk.id), new_customer(ctx, actor, "b", clk.id)
    start_ticks(ctx, tid, a, START)
    start_ticks(ctx, tid, b, START + timedelta(days=15))
    target = datetime(2026, 4, 20, tzinfo=UTC)

    # A runner takes the advance, runs one tick and dies without releasing its lease.
    test_clocks.start_advance(ctx, actor, clk.id, target)
    with ctx.uow() as uow:
        assert uow.test_clocks.take_lease(tid, clk.id, clock.now(), clock.now() + test_clocks.LEASE)
        uow.commit()
    with ctx.uow(read_only=True) as uow:
        first_tick = uow.jobs.next_for_clock(tid, clk.id, target)
    assert test_clocks._run_tick(ctx, test_clocks.get_test_clock(ctx, actor, clk.id), first_tick) is None
    assert recorder.seen() == [(a, datetime(2026, 2, 1, tzinfo=UTC))]

    # While the lease lives nobody else runs it: not the worker, not the same request sent again.
    clock.advance(test_clocks.LEASE - timedelta(seconds=1))
    assert test_clocks.resume_advances(ctx) == 0
    assert test_clocks.advance_test_clock(ctx, actor, clk.id, target).status == ClockStatus.ADVANCING
    assert len(recorder.runs) == 1

    clock.advance(timedelta(seconds=1))  # the lease runs out
    assert worker.run_once(ctx) == 1

    done = test_clocks.get_test_clock(ctx, actor, clk.id)
    expected = sorted(
        [(t, a) for t in monthly(START, target)]
        + [(t, b) for t in monthly(START + timedelta(days=15), target)]
    )
    assert recorder.seen() == [(cus, t) for t, cus in expected]  # each exactly once, in order
    assert len(expected) == 6
    assert (done.status, done.frozen_time, done.jobs_run) == (ClockStatus.READY, target, 6)
    assert test_clocks.resume_advances(ctx) == 0


def test_a_runner_killed_in_the_middle_of_a_tick_is_resumed_with_an_exact_count(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    tid = actor.tenant_id
    clk = test_clocks.create_test_clock(ctx, actor, name="killed", frozen_time=START)
    a, b, c = (new_customer(ctx, actor, name, clk.id) for name in "abc")
    t1, t2 = START + timedelta(days=1), START + timedelta(days=2)
    for cus in (a, b, c):
        once_at(ctx, tid, cus, t1, f"{cus}-1")
    once_at(ctx, tid, a, t2, "a-2")
    recorder.kill_at_run = 1  # the second job of the first tick

    with pytest.raises(KeyboardInterrupt):
        test_clocks.advance_test_clock(ctx, actor, clk.id, START + timedelta(days=3))

    interrupted = test_clocks.get_test_clock(ctx, actor, clk.id)
    assert (interrupted.status, interrupted.frozen_time, interrupted.jobs_run) == (
        ClockStatus.ADVANCING,
        t1,
        1,
    )
    assert test_clocks.resume_advances(ctx) == 1
    done = test_clocks.get_test_clock(ctx, actor, clk.id)
    assert (done.status, done.jobs_run) == (ClockStatus.READY, 4)
    assert sorted(recorder.seen()[:3]) == sorted([(a, t1), (b, t1), (c, t1)])
    assert recorder.seen()[3:] == [(a, t2)]


def test_work_registered_in_the_clocks_past_runs_at_its_present(
    ctx: ServiceContext, actor: Actor, recorder: Recorder
) -> None:
    """Issue 3: a job due before the clock's frozen time (registered late) runs at the clock's present;
    the clock never moves back and progress never goes below zero."""
    clock = test_clocks.create_test_clock(
        ctx, actor, name="late", frozen_time=datetime(2026, 3, 1, tzinfo=UTC)
    )
    customer = new_customer(ctx, actor, "late", clock.id)
    with ctx.uow() as uow:
        jobs.schedule(ctx, uow, actor.tenant_id, ONCE, datetime(2026, 1, 15, tzinfo=UTC), dedupe_key="late",
                      customer_id=customer)  # fmt: skip
        uow.commit()
    seen: list[tuple[datetime, str]] = []

    def watch(state: Any) -> None:
        seen.append((state.frozen_time, str(state.progress())))

    done = test_clocks.advance_test_clock(
        ctx, actor, clock.id, datetime(2026, 4, 1, tzinfo=UTC), progress=watch
    )
    assert recorder.runs == [
        (ONCE, customer, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC))
    ]
    assert seen == [(datetime(2026, 3, 1, tzinfo=UTC), "0.0000")]
    assert (done.status, done.frozen_time) == (ClockStatus.READY, datetime(2026, 4, 1, tzinfo=UTC))
