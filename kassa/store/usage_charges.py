"""In-advance usage charges: each rated when its event arrived, until an invoice takes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.store.tables import usage_charges


class UsageCharges:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.conn.execute(usage_charges.insert(), [{**row, "tenant_id": tenant_id} for row in rows])

    def pending(self, tenant_id: str, subscription_id: str) -> list[sa.Row[Any]]:
        c = usage_charges.c
        query = sa.select(usage_charges).where(c.tenant_id == tenant_id, c.subscription_id == subscription_id,
                                               c.invoiced_at.is_(None))  # fmt: skip
        return list(self.conn.execute(query.order_by(c.created_at, c.event_id)))

    def sums(self, tenant_id: str, subscription_ids: Sequence[str], before: datetime) -> list[sa.Row[Any]]:
        """In-advance usage charged per subscription, metric and period up to `before`: what the bill run
        should have billed of them (one row per period, however many events)."""
        if not subscription_ids:
            return []
        c = usage_charges.c
        query = (
            sa.select(c.subscription_id, c.customer_id, c.metric, c.period_start, c.currency,
                      sa.func.sum(c.amount_minor).label("amount_minor"), sa.func.count().label("events"))
            .where(c.tenant_id == tenant_id, c.subscription_id.in_(sorted(set(subscription_ids))), c.created_at < before)
            .group_by(c.subscription_id, c.customer_id, c.metric, c.period_start, c.currency)
        )  # fmt: skip
        return list(self.conn.execute(query))
