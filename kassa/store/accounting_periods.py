"""Closed accounting months: a row per month ever closed (closed again or reopened since)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from kassa.core.accounting_periods import AccountingPeriod
from kassa.store.tables import accounting_periods

# PostgreSQL advisory lock class of "the tenant's books" (the second key is the tenant id's hash): every
# transaction that posts holds it shared, a close holds it exclusively, so no entry lands in a month that a
# concurrent close has just closed. SQLite needs none: a writing transaction holds the database's write lock
# from its start (BEGIN IMMEDIATE).
BOOKS_LOCK = 0x6B617373  # "kass"


def _period(row: sa.Row[Any]) -> AccountingPeriod:
    return AccountingPeriod(
        tenant_id=row.tenant_id, month=row.month, closed=row.closed, closed_at=row.closed_at,
        closed_by=row.closed_by, reopened_at=row.reopened_at, reopened_by=row.reopened_by,
        reopen_reason=row.reopen_reason,
    )  # fmt: skip


class AccountingPeriods:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def lock_books(self, tenant_id: str, *, exclusive: bool) -> None:
        """Hold the tenant's books lock until the transaction ends (PostgreSQL; a no-op on SQLite)."""
        if self.conn.dialect.name != "postgresql":
            return
        take = sa.func.pg_advisory_xact_lock if exclusive else sa.func.pg_advisory_xact_lock_shared
        self.conn.execute(sa.select(take(BOOKS_LOCK, sa.func.hashtext(tenant_id))))

    def closed_through(self, tenant_id: str) -> date | None:
        """The first day of the last closed month (closed months are a prefix), or None."""
        c = accounting_periods.c
        return self.conn.execute(
            sa.select(sa.func.max(c.month)).where(c.tenant_id == tenant_id, c.closed.is_(True))
        ).scalar()

    def periods(self, tenant_id: str) -> list[AccountingPeriod]:
        c = accounting_periods.c
        rows = self.conn.execute(
            sa.select(accounting_periods).where(c.tenant_id == tenant_id).order_by(c.month)
        )
        return [_period(r) for r in rows]

    def save(self, periods: Sequence[AccountingPeriod]) -> None:
        """Insert or update each month's row (a handful: one per month closed or reopened at once)."""
        c = accounting_periods.c
        for p in periods:
            values = {"closed": p.closed, "closed_at": p.closed_at, "closed_by": p.closed_by,
                      "reopened_at": p.reopened_at, "reopened_by": p.reopened_by,
                      "reopen_reason": p.reopen_reason}  # fmt: skip
            updated = self.conn.execute(
                accounting_periods.update()
                .where(c.tenant_id == p.tenant_id, c.month == p.month)
                .values(**values)
            )
            if updated.rowcount == 0:
                self.conn.execute(
                    accounting_periods.insert().values(tenant_id=p.tenant_id, month=p.month, **values)
                )
