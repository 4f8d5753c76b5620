"""/v1/test_clocks: simulated time for a tenant's test customers; advancing runs all due work."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, BackgroundTasks, Response
from pydantic import BaseModel, Field

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, Instant, PageOut, Text200, page_of
from kassa.core.test_clocks import ClockStatus, TestClock
from kassa.services import test_clocks

router = APIRouter(prefix="/test_clocks", tags=["test clocks"])


class TestClockCreate(Input):
    name: Text200
    frozen_time: Instant = Field(description="The clock's start, with its offset (2026-01-01T00:00:00Z).")


class TestClockAdvance(Input):
    frozen_time: Instant = Field(description="Where to move the clock; later than its present time.")


class TestClockOut(BaseModel):
    __test__ = False

    id: str
    name: str
    frozen_time: datetime
    status: ClockStatus
    target_time: datetime | None
    progress: str = Field(description="How far the running advance has come, '0.0000' to '1'.")
    jobs_run: int
    error: str | None
    created_at: datetime

    @classmethod
    def of(cls, c: TestClock) -> TestClockOut:
        progress: Decimal = c.progress()
        return cls(
            id=c.id,
            name=c.name,
            frozen_time=c.frozen_time,
            status=c.status,
            target_time=c.target_time if c.status != ClockStatus.READY else None,
            progress=str(progress),
            jobs_run=c.jobs_run,
            error=c.error,
            created_at=c.created_at,
        )


@router.post("", status_code=201, response_model=TestClockOut)
def create_test_clock(body: TestClockCreate, ctx: Ctx, actor: Caller) -> TestClockOut:
    return TestClockOut.of(
        test_clocks.create_test_clock(ctx, actor, name=body.name, frozen_time=body.frozen_time)
    )


@router.get("", response_model=PageOut[TestClockOut])
def list_test_clocks(
    ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None
) -> PageOut[TestClockOut]:
    return page_of(test_clocks.list_test_clocks(ctx, actor, limit=limit, cursor=cursor), TestClockOut.of)


@router.get("/{clock_id}", response_model=TestClockOut)
def get_test_clock(clock_id: Id, ctx: Ctx, actor: Caller) -> TestClockOut:
    return TestClockOut.of(test_clocks.get_test_clock(ctx, actor, clock_id))


@router.post(
    "/{clock_id}/advance",
    response_model=TestClockOut,
    responses={
        202: {"model": TestClockOut, "description": "Still advancing: poll GET /v1/test_clocks/{id}."}
    },
)
def advance_test_clock(
    clock_id: Id,
    body: TestClockAdvance,
    ctx: Ctx,
    actor: Caller,
    response: Response,
    background: BackgroundTasks,
) -> TestClockOut:
    """Run every piece of due work up to `frozen_time`, in time order. Answers when done (200), or with
    202 and status `advancing` after the time budget; the work goes on and the clock can be polled."""
    clock = test_clocks.advance_test_clock(
        ctx, actor, clock_id, body.frozen_time, budget_seconds=ctx.settings.advance_budget_seconds
    )
    if clock.status == ClockStatus.ADVANCING:
        response.status_code = 202
        background.add_task(test_clocks.run_advance, ctx, actor.tenant_id, clock_id)
    return TestClockOut.of(clock)
