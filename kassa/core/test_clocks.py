"""Test clocks: a tenant's simulated time. Customers attached to one live at its frozen time, and
advancing it runs every piece of due work in between, in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from kassa.core.errors import Conflict, DomainError

MAX_JUMP = timedelta(days=366 * 100)


class ClockStatus(StrEnum):
    READY = "ready"
    ADVANCING = "advancing"
    FAILED = "failed"  # a job failed; frozen at that job's time, advancing again retries it


@dataclass(frozen=True, slots=True, kw_only=True)
class TestClock:
    __test__ = False  # not a pytest class

    tenant_id: str
    id: str
    name: str
    frozen_time: datetime
    status: ClockStatus = ClockStatus.READY
    target_time: datetime | None = None
    started_time: datetime | None = None
    jobs_run: int = 0
    error: str | None = None
    created_at: datetime
    updated_at: datetime

    def progress(self) -> Decimal:
        """How far the running advance has come, 0 to 1 (1 when ready)."""
        if self.target_time is None or self.started_time is None or self.status == ClockStatus.READY:
            return Decimal(1)
        micro = timedelta(microseconds=1)
        span = (self.target_time - self.started_time) // micro
        done = (self.frozen_time - self.started_time) // micro
        return (
            (Decimal(done) / Decimal(span)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
            if span
            else Decimal(1)
        )


def check_advance(clock: TestClock, to: datetime) -> None:
    if clock.status == ClockStatus.ADVANCING and clock.target_time != to:
        raise Conflict(
            "clock_advancing",
            f"The clock is advancing to {clock.target_time.isoformat() if clock.target_time else '?'}; wait for it.",
            "frozen_time",
        )
    if to <= clock.frozen_time and clock.status != ClockStatus.ADVANCING:
        raise DomainError(
            "clock_cannot_go_back",
            f"A test clock only moves forward: {to.isoformat()} is not after {clock.frozen_time.isoformat()}.",
            "frozen_time",
        )
    if to - clock.frozen_time > MAX_JUMP:
        raise DomainError("jump_too_long", "One advance covers at most 100 years.", "frozen_time")
