"""Billable metrics, keyed by code per tenant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.metering import Aggregation, BillableMetric
from kassa.store.tables import billable_metrics, usage_events


def _metric(row: sa.Row[Any]) -> BillableMetric:
    return BillableMetric(
        code=row.code, name=row.name, aggregation=Aggregation(row.aggregation), field_name=row.field_name,
        filters={k: tuple(v) for k, v in row.filters.items()}, group_by=row.group_by, description=row.description,
    )  # fmt: skip


def _values(m: BillableMetric) -> dict[str, Any]:
    return {"code": m.code, "name": m.name, "aggregation": m.aggregation.value, "field_name": m.field_name,
            "filters": {k: list(v) for k, v in m.filters.items()}, "group_by": m.group_by,
            "description": m.description}  # fmt: skip


class BillableMetrics:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, tenant_id: str, metric: BillableMetric, at: datetime) -> None:
        self.conn.execute(billable_metrics.insert().values(tenant_id=tenant_id, created_at=at, updated_at=at,
                                                           **_values(metric)))  # fmt: skip

    def update(self, tenant_id: str, metric: BillableMetric, at: datetime) -> None:
        self.conn.execute(
            billable_metrics.update()
            .where(billable_metrics.c.tenant_id == tenant_id, billable_metrics.c.code == metric.code)
            .values(updated_at=at, **_values(metric))
        )

    def find(self, tenant_id: str, code: str, *, for_update: bool = False) -> BillableMetric | None:
        query = sa.select(billable_metrics).where(billable_metrics.c.tenant_id == tenant_id,
                                                  billable_metrics.c.code == code)  # fmt: skip
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _metric(row)

    def get(self, tenant_id: str, code: str, *, for_update: bool = False) -> BillableMetric:
        metric = self.find(tenant_id, code, for_update=for_update)
        if metric is None:
            raise NotFound("billable_metric", code)
        return metric

    def many(self, tenant_id: str, codes: Iterable[str]) -> dict[str, BillableMetric]:
        wanted = sorted(set(codes))
        if not wanted:
            return {}
        query = sa.select(billable_metrics).where(billable_metrics.c.tenant_id == tenant_id,
                                                  billable_metrics.c.code.in_(wanted))  # fmt: skip
        return {row.code: _metric(row) for row in self.conn.execute(query)}

    def all(self, tenant_id: str) -> list[BillableMetric]:
        query = sa.select(billable_metrics).where(billable_metrics.c.tenant_id == tenant_id)
        return [_metric(row) for row in self.conn.execute(query.order_by(billable_metrics.c.code))]

    def in_use(self, tenant_id: str, code: str) -> bool:
        query = sa.select(usage_events.c.id).where(usage_events.c.tenant_id == tenant_id,
                                                   usage_events.c.metric == code).limit(1)  # fmt: skip
        return self.conn.execute(query).first() is not None
