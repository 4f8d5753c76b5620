"""Due work: what a stage asked to be done at an instant (bill this customer, retry that payment…)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS on the system clock; kept for an operator to look at


MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    tenant_id: str
    id: str
    kind: str
    due_at: datetime
    test_clock_id: str | None = None
    customer_id: str | None = None
    dedupe_key: str
    payload: Mapping[str, Any]
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


def retry_delay(attempts: int) -> timedelta:
    """Back off 1, 2, 4 … minutes, at most an hour, after a failed run on the system clock."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))
