"""Due work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kassa.core.jobs import Job, JobStatus
from kassa.store.tables import jobs


def _job(row: sa.Row[Any]) -> Job:
    return Job(
        tenant_id=row.tenant_id,
        id=row.id,
        kind=row.kind,
        due_at=row.due_at,
        test_clock_id=row.test_clock_id,
        customer_id=row.customer_id,
        dedupe_key=row.dedupe_key,
        payload=row.payload,
        status=JobStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


class Jobs:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, job: Job) -> bool:
        """Register due work; the same (kind, dedupe_key) registered again is ignored. True if new."""
        values = {
            "tenant_id": job.tenant_id,
            "id": job.id,
            "kind": job.kind,
            "due_at": job.due_at,
            "test_clock_id": job.test_clock_id,
            "customer_id": job.customer_id,
            "dedupe_key": job.dedupe_key,
            "payload": dict(job.payload),
            "status": job.status.value,
            "attempts": job.attempts,
            "created_at": job.created_at,
        }
        insert = postgresql.insert(jobs) if self.conn.dialect.name == "postgresql" else sqlite.insert(jobs)
        statement = insert.values(**values).on_conflict_do_nothing(
            index_elements=["tenant_id", "kind", "dedupe_key"]
        )
        # SQLAlchemy only keeps an INSERT's rowcount when asked: psycopg's is gone (-1) once the cursor closes.
        return self.conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount == 1

    def move(self, job: Job) -> bool:
        """Give the pending job of the same (kind, dedupe_key) this one's instant and payload (a plan that
        changed: a reminder's lead time); one done or failed stays as it is. True if there was one."""
        c = jobs.c
        moved = self.conn.execute(
            jobs.update()
            .where(
                c.tenant_id == job.tenant_id,
                c.kind == job.kind,
                c.dedupe_key == job.dedupe_key,
                c.status == JobStatus.PENDING.value,
            )
            .values(due_at=job.due_at, payload=dict(job.payload))
        ).rowcount
        return bool(moved)

    def next_for_clock(self, tenant_id: str, clock_id: str, until: datetime) -> list[Job]:
        """The pending jobs of a test clock at its earliest due instant up to `until`: one tick."""
        c = jobs.c
        pending = sa.and_(
            c.tenant_id == tenant_id,
            c.test_clock_id == clock_id,
            c.status == JobStatus.PENDING.value,
            c.due_at <= until,
        )
        first = sa.select(sa.func.min(c.due_at)).where(pending).scalar_subquery()
        rows = self.conn.execute(sa.select(jobs).where(pending, c.due_at == first).order_by(c.id))
        return [_job(row) for row in rows]

    def claim_due(self, now: datetime, limit: int, until: datetime) -> list[Job]:
        """Due jobs on the system clock, oldest first, leased to the caller until `until` so other workers
        pass them by; on PostgreSQL rows another worker is claiming right now are skipped."""
        return self._claim(self._due(now), limit, until)

    def claim_due_for(
        self, tenant_id: str, kind: str, now: datetime, limit: int, until: datetime
    ) -> list[Job]:
        """The same for one tenant's due jobs of one kind (a bill run started from the console)."""
        c = jobs.c
        return self._claim(self._due(now).where(c.tenant_id == tenant_id, c.kind == kind), limit, until)

    def _due(self, now: datetime) -> sa.Select[Any]:
        c = jobs.c
        return sa.select(jobs).where(
            c.status == JobStatus.PENDING.value,
            c.test_clock_id.is_(None),
            c.due_at <= now,
            sa.or_(c.claimed_until.is_(None), c.claimed_until <= now),
        )

    def _claim(self, due: sa.Select[Any], limit: int, until: datetime) -> list[Job]:
        c = jobs.c
        query = due.order_by(c.due_at, c.id).limit(limit)
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed = [_job(row) for row in self.conn.execute(query)]
        for job in claimed:
            self.conn.execute(
                jobs.update().where(c.tenant_id == job.tenant_id, c.id == job.id).values(claimed_until=until)
            )
        return claimed

    def lock(self, job: Job) -> Job | None:
        """The job again, locked and still pending (None if someone finished it meanwhile). It waits for a
        lock held by another worker's claim scan (a moment) or run (then finds the job done): skipping it
        would take a job still to do for one done."""
        c = jobs.c
        query = sa.select(jobs).where(
            c.tenant_id == job.tenant_id, c.id == job.id, c.status == JobStatus.PENDING.value
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _job(row)

    def finish(self, job: Job, at: datetime) -> None:
        c = jobs.c
        self.conn.execute(
            jobs.update()
            .where(c.tenant_id == job.tenant_id, c.id == job.id)
            .values(status=JobStatus.DONE.value, finished_at=at, attempts=job.attempts + 1, last_error=None)
        )

    def fail(self, job: Job, error: str, *, retry_at: datetime | None, at: datetime) -> None:
        c = jobs.c
        values: dict[str, Any] = {
            "attempts": job.attempts + 1,
            "last_error": error[:4000],
            "claimed_until": None,
        }
        if retry_at is None:
            values.update(status=JobStatus.FAILED.value, finished_at=at)
        else:
            values.update(due_at=retry_at)
        self.conn.execute(jobs.update().where(c.tenant_id == job.tenant_id, c.id == job.id).values(**values))

    def list_for_clock(self, tenant_id: str, clock_id: str) -> list[Job]:
        c = jobs.c
        query = (
            sa.select(jobs)
            .where(c.tenant_id == tenant_id, c.test_clock_id == clock_id)
            .order_by(c.due_at, c.id)
        )
        return [_job(row) for row in self.conn.execute(query)]
