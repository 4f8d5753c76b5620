"""Test clocks."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.pages import Page
from kassa.core.test_clocks import ClockStatus, TestClock
from kassa.store.pages import page
from kassa.store.tables import test_clocks


def _clock(row: sa.Row[Any]) -> TestClock:
    return TestClock(
        tenant_id=row.tenant_id,
        id=row.id,
        name=row.name,
        frozen_time=row.frozen_time,
        status=ClockStatus(row.status),
        target_time=row.target_time,
        started_time=row.started_time,
        jobs_run=row.jobs_run,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _values(clock: TestClock) -> dict[str, Any]:
    return {
        "tenant_id": clock.tenant_id,
        "id": clock.id,
        "name": clock.name,
        "frozen_time": clock.frozen_time,
        "status": clock.status.value,
        "target_time": clock.target_time,
        "started_time": clock.started_time,
        "jobs_run": clock.jobs_run,
        "error": clock.error,
        "created_at": clock.created_at,
        "updated_at": clock.updated_at,
    }


class TestClocks:
    __test__ = False

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, clock: TestClock) -> None:
        self.conn.execute(test_clocks.insert().values(**_values(clock)))

    def save(self, clock: TestClock) -> None:
        c = test_clocks.c
        # The key stays out of SET: SQLite re-checks every child row (jobs has no index for that) whenever
        # a parent key column is assigned, even to its own value, which made each save O(jobs).
        values = {k: v for k, v in _values(clock).items() if k not in ("tenant_id", "id")}
        self.conn.execute(
            test_clocks.update().where(c.tenant_id == clock.tenant_id, c.id == clock.id).values(**values)
        )

    def get(self, tenant_id: str, clock_id: str, *, for_update: bool = False) -> TestClock:
        query = sa.select(test_clocks).where(
            test_clocks.c.tenant_id == tenant_id, test_clocks.c.id == clock_id
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("test_clock", clock_id)
        return _clock(row)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[TestClock]:
        query = sa.select(test_clocks).where(test_clocks.c.tenant_id == tenant_id)
        return page(self.conn, query, test_clocks.c.id, limit=limit, cursor=cursor, to_item=_clock)

    def take_lease(self, tenant_id: str, clock_id: str, now: datetime, until: datetime) -> bool:
        """One runner advances a clock at a time; a runner that died loses its lease when it runs out."""
        c = test_clocks.c
        result = self.conn.execute(
            test_clocks.update()
            .where(
                c.tenant_id == tenant_id,
                c.id == clock_id,
                sa.or_(c.lease_until.is_(None), c.lease_until <= now),
            )
            .values(lease_until=until)
        )
        return result.rowcount == 1

    def enter_job(
        self, tenant_id: str, clock_id: str, *, at: datetime, now: datetime, lease_until: datetime
    ) -> None:
        """In a job's own transaction: the clock shows the job's instant while it runs, and counts it only if
        the job commits (so a runner that dies between jobs leaves an exact count)."""
        c = test_clocks.c
        self.conn.execute(
            test_clocks.update()
            .where(c.tenant_id == tenant_id, c.id == clock_id)
            .values(frozen_time=at, jobs_run=c.jobs_run + 1, updated_at=now, lease_until=lease_until)
        )

    def release_lease(self, tenant_id: str, clock_id: str) -> None:
        c = test_clocks.c
        self.conn.execute(
            test_clocks.update().where(c.tenant_id == tenant_id, c.id == clock_id).values(lease_until=None)
        )

    def advancing(self, now: datetime) -> builtins.list[tuple[str, str]]:
        """(tenant, clock) pairs left advancing with no live runner: the worker resumes them."""
        c = test_clocks.c
        query = sa.select(c.tenant_id, c.id).where(
            c.status == ClockStatus.ADVANCING.value, sa.or_(c.lease_until.is_(None), c.lease_until <= now)
        )
        return [(row.tenant_id, row.id) for row in self.conn.execute(query)]
