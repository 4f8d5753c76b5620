"""Usage thresholds per subscription, and the record that one fired in a period."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kassa.core.errors import NotFound
from kassa.core.usage_thresholds import ThresholdKind, UsageThreshold
from kassa.store.tables import usage_threshold_crossings, usage_thresholds


def _threshold(row: sa.Row[Any]) -> UsageThreshold:
    return UsageThreshold(tenant_id=row.tenant_id, id=row.id, subscription_id=row.subscription_id,
                          kind=ThresholdKind(row.kind), value=row.value, metric=row.metric,
                          created_at=row.created_at)  # fmt: skip


class UsageThresholds:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, t: UsageThreshold) -> None:
        self.conn.execute(usage_thresholds.insert().values(
            tenant_id=t.tenant_id, id=t.id, subscription_id=t.subscription_id, kind=t.kind.value, value=t.value,
            metric=t.metric, created_at=t.created_at,
        ))  # fmt: skip

    def delete(self, tenant_id: str, subscription_id: str, threshold_id: str) -> None:
        c = usage_thresholds.c
        result = self.conn.execute(usage_thresholds.delete().where(
            c.tenant_id == tenant_id, c.subscription_id == subscription_id, c.id == threshold_id))  # fmt: skip
        if result.rowcount == 0:
            raise NotFound("usage_threshold", threshold_id)

    def for_subscriptions(self, tenant_id: str, subscription_ids: Iterable[str]) -> list[UsageThreshold]:
        wanted = sorted(set(subscription_ids))
        if not wanted:
            return []
        c = usage_thresholds.c
        query = sa.select(usage_thresholds).where(c.tenant_id == tenant_id, c.subscription_id.in_(wanted))
        return [_threshold(row) for row in self.conn.execute(query.order_by(c.id))]

    def record_crossing(self, tenant_id: str, threshold_id: str, period_start: date, at: datetime) -> bool:
        """True the first time this threshold is reached in this period; False ever after."""
        dialect_insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(usage_threshold_crossings).values(
            tenant_id=tenant_id, threshold_id=threshold_id, period_start=period_start, reached_at=at,
        ).on_conflict_do_nothing().returning(usage_threshold_crossings.c.threshold_id)  # fmt: skip
        return self.conn.execute(statement).first() is not None
