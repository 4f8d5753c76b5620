"""/v1/test_clocks through the ASGI app: create, attach customers, advance (200 when done, 202 with the
work carried on when the time budget runs out), refuse going back, report a failing job."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from fastapi.testclient import TestClient

from kassa import worker
from kassa.core.audit import Actor
from kassa.core.jobs import Job
from kassa.services import jobs, test_clocks
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork
from tests.conftest import make_tenant

TICK = "test.api_monthly_tick"
START = datetime(2026, 1, 1, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.seen: list[tuple[str | None, datetime]] = []
        self.broken: set[str] = set()  # customers whose tick raises


@pytest.fixture
def ticks() -> Iterator[Ticks]:
    state = Ticks()

    def tick(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
        if job.customer_id in state.broken:
            raise LookupError("no price for this plan")
        state.seen.append((job.customer_id, now))
        k = job.payload["k"] + 1
        schedule_tick(ctx, uow, job.tenant_id, job.customer_id, k)

    before = dict(jobs.HANDLERS)
    jobs.handles(TICK)(tick)
    yield state
    jobs.HANDLERS.clear()
    jobs.HANDLERS.update(before)


def schedule_tick(
    ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str | None, k: int
) -> None:
    jobs.schedule(
        ctx, uow, tenant_id, TICK, START + relativedelta(months=k), dedupe_key=f"{customer_id}:{k}",
        customer_id=customer_id, payload={"k": k},
    )  # fmt: skip


def first_tick(ctx: ServiceContext, tenant_id: str, customer_id: str) -> None:
    with ctx.uow() as uow:
        schedule_tick(ctx, uow, tenant_id, customer_id, 1)
        uow.commit()


def new_clock(client: TestClient, frozen_time: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    response = client.post("/v1/test_clocks", json={"name": "Simulation", "frozen_time": frozen_time})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def new_customer(client: TestClient, external_id: str, clock_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"external_id": external_id, "name": external_id.title()}
    if clock_id is not None:
        body["test_clock_id"] = clock_id
    response = client.post("/v1/customers", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def advance(client: TestClient, clock_id: str, to: str) -> Any:
    return client.post(f"/v1/test_clocks/{clock_id}/advance", json={"frozen_time": to})


def test_create_a_clock_and_attach_customers_at_its_time(client: TestClient) -> None:
    created = new_clock(client, "2026-03-31T22:00:00-02:00")
    assert {k: v for k, v in created.items() if k not in ("id", "created_at")} == {
        "name": "Simulation",
        "frozen_time": "2026-04-01T00:00:00Z",
        "status": "ready",
        "target_time": None,
        "progress": "1",
        "jobs_run": 0,
        "error": None,
    }
    assert created["created_at"] == "2026-01-01T09:00:00Z"  # the system clock
    customer = new_customer(client, "on-clock", created["id"])
    assert (customer["test_clock_id"], customer["created_at"]) == (created["id"], "2026-04-01T00:00:00Z")
    assert client.get(f"/v1/test_clocks/{created['id']}").json() == created
    assert [c["id"] for c in client.get("/v1/test_clocks").json()["data"]] == [created["id"]]

    naive = client.post("/v1/test_clocks", json={"name": "x", "frozen_time": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["field"] == "frozen_time"
    missing = client.get("/v1/test_clocks/clk_01KDWCJ2M0ZRKS3XH416Q82C60")
    assert (missing.status_code, missing.json()["code"]) == (404, "test_clock_not_found")


def test_advance_runs_the_due_work_in_order_and_answers_200_when_done(
    ctx: ServiceContext, client: TestClient, actor: Actor, ticks: Ticks
) -> None:
    clk = new_clock(client)
    a = new_customer(client, "a", clk["id"])["id"]
    b = new_customer(client, "b", clk["id"])["id"]
    off_clock = new_customer(client, "c", None)["id"]
    for customer in (a, b, off_clock):
        first_tick(ctx, actor.tenant_id, customer)

    done = advance(client, clk["id"], "2026-03-15T00:00:00Z")

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["frozen_time"], body["jobs_run"], body["progress"], body["target_time"]) == (
        "ready", "2026-03-15T00:00:00Z", 4, "1", None,
    )  # fmt: skip
    feb, mar = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    assert sorted(ticks.seen[:2]) == sorted([(a, feb), (b, feb)])  # one tick: the two jobs in id order
    assert sorted(ticks.seen[2:]) == sorted([(a, mar), (b, mar)])
    assert len(ticks.seen) == 4  # the customer on real time did not move

    back = advance(client, clk["id"], "2026-03-14T23:59:59Z")
    assert back.status_code == 422
    assert (back.json()["code"], back.json()["field"]) == ("clock_cannot_go_back", "frozen_time")
    same = advance(client, clk["id"], "2026-03-15T00:00:00Z")
    assert (same.status_code, same.json()["code"]) == (422, "clock_cannot_go_back")
    assert client.get(f"/v1/test_clocks/{clk['id']}").json()["frozen_time"] == "2026-03-15T00:00:00Z"


def test_out_of_budget_answers_202_and_the_work_goes_on(
    ctx: ServiceContext, client: TestClient, actor: Actor, ticks: Ticks
) -> None:
    ctx.settings = replace(ctx.settings, advance_budget_seconds=0)
    clk = new_clock(client)
    a = new_customer(client, "a", clk["id"])["id"]
    first_tick(ctx, actor.tenant_id, a)

    accepted = advance(client, clk["id"], "2027-01-01T00:00:00Z")

    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert (body["status"], body["frozen_time"], body["target_time"], body["jobs_run"], body["progress"]) == (
        "advancing", "2026-02-01T00:00:00Z", "2027-01-01T00:00:00Z", 1, "0.0849",  # 31 of 365 days
    )  # fmt: skip
    for _ in range(20):  # poll, as a client would; the worker carries on whatever is left
        polled = client.get(f"/v1/test_clocks/{clk['id']}").json()
        if polled["status"] == "ready":
            break
        worker.run_once(ctx)
    assert (polled["status"], polled["frozen_time"], polled["jobs_run"]) == (
        "ready",
        "2027-01-01T00:00:00Z",
        12,
    )
    assert ticks.seen == [(a, START + relativedelta(months=m)) for m in range(1, 13)]


def test_a_second_advance_to_another_time_while_one_runs_is_a_conflict(
    ctx: ServiceContext, client: TestClient, actor: Actor
) -> None:
    clk = new_clock(client)
    test_clocks.start_advance(ctx, actor, clk["id"], datetime(2026, 6, 1, tzinfo=UTC))
    busy = advance(client, clk["id"], "2026-07-01T00:00:00Z")
    assert (busy.status_code, busy.json()["code"]) == (409, "clock_advancing")
    joined = advance(client, clk["id"], "2026-06-01T00:00:00Z")  # the same target joins and finishes it
    assert (joined.status_code, joined.json()["status"]) == (200, "ready")


def test_a_failing_job_shows_on_the_clock_and_advancing_again_finishes(
    ctx: ServiceContext, client: TestClient, actor: Actor, ticks: Ticks
) -> None:
    clk = new_clock(client)
    a = new_customer(client, "a", clk["id"])["id"]
    first_tick(ctx, actor.tenant_id, a)
    ticks.broken.add(a)

    failed = advance(client, clk["id"], "2026-04-01T00:00:00Z")

    assert failed.status_code == 200, failed.text
    body = failed.json()
    assert (body["status"], body["frozen_time"], body["jobs_run"]) == ("failed", "2026-02-01T00:00:00Z", 0)
    assert body["error"].endswith(f"({TICK}): LookupError: no price for this plan")
    assert body["progress"] == "0.3444"  # 31 of 90 days
    ticks.broken.clear()
    done = advance(client, clk["id"], "2026-04-01T00:00:00Z")
    assert (done.status_code, done.json()["status"], done.json()["jobs_run"], done.json()["error"]) == (
        200, "ready", 3, None,
    )  # fmt: skip
    assert ticks.seen == [(a, datetime(2026, m, 1, tzinfo=UTC)) for m in (2, 3, 4)]


def test_clocks_are_walled_by_tenant(ctx: ServiceContext, client: TestClient) -> None:
    clk = new_clock(client)
    other = make_tenant(ctx, "Other Co")
    seen = client.get(f"/v1/test_clocks/{clk['id']}", headers=other.headers)
    moved = client.post(
        f"/v1/test_clocks/{clk['id']}/advance",
        json={"frozen_time": "2026-02-01T00:00:00Z"},
        headers=other.headers,
    )
    assert (seen.status_code, moved.status_code) == (404, 404)
    refused = client.post(
        "/v1/customers",
        json={"external_id": "x", "name": "X", "test_clock_id": clk["id"]},
        headers=other.headers,
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "test_clock_not_found")
    assert client.get(f"/v1/test_clocks/{clk['id']}").json()["frozen_time"] == "2026-01-01T00:00:00Z"
