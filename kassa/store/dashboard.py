"""The console dashboard's own sums: money collected and usage events counted per month.

Each is one GROUP BY over the window asked for; the months are passed in as the instants they begin (in
the tenant's time zone, so UTC instants that are not midnight), and a CASE numbers the month a row falls
in, so both databases bucket alike without date functions of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kassa.store.tables import customers, exchange_rates, payments, usage_events


@dataclass(frozen=True, slots=True, kw_only=True)
class Collected:
    month: int  # index of the month: bounds[month] <= settled_at < bounds[month + 1]
    currency: str
    payments: int
    amount_minor: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageCount:
    month: int
    metric: str
    events: int


def _bucket(column: sa.ColumnElement[datetime], bounds: Sequence[datetime]) -> sa.ColumnElement[int]:
    return sa.case(*[(column < end, i) for i, end in enumerate(bounds[1:])], else_=len(bounds) - 1)


class DashboardReads:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def collected(self, tenant_id: str, bounds: Sequence[datetime]) -> list[Collected]:
        """Payments that succeeded, per month settled and currency (gross: refunds are not taken off)."""
        if len(bounds) < 2:
            return []
        c = payments.c
        month = _bucket(c.settled_at, bounds).label("month")
        query = (
            sa.select(month, c.currency, sa.func.count().label("n"), sa.func.sum(c.amount_minor).label("total"))
            .where(c.tenant_id == tenant_id, c.status == "succeeded", c.settled_at >= bounds[0],
                   c.settled_at < bounds[-1])
            .group_by(month, c.currency)
        )  # fmt: skip
        return [
            Collected(month=int(r.month), currency=r.currency, payments=int(r.n), amount_minor=int(r.total))
            for r in self.conn.execute(query)
        ]

    def usage_events(self, tenant_id: str, bounds: Sequence[datetime]) -> list[UsageCount]:
        """Usage events per month (of their timestamp) and billable metric."""
        if len(bounds) < 2:
            return []
        c = usage_events.c
        month = _bucket(c.timestamp, bounds).label("month")
        query = (
            sa.select(month, c.metric, sa.func.count().label("n"))
            .where(c.tenant_id == tenant_id, c.timestamp >= bounds[0], c.timestamp < bounds[-1])
            .group_by(month, c.metric)
        )
        return [
            UsageCount(month=int(r.month), metric=r.metric, events=int(r.n)) for r in self.conn.execute(query)
        ]

    def currencies(self, tenant_id: str) -> set[str]:
        """The currencies a report could be asked in: those customers are billed in and those rates quote."""
        c, r = customers.c, exchange_rates.c
        query = sa.union(
            sa.select(c.currency).where(c.tenant_id == tenant_id).distinct(),
            sa.select(r.base).where(r.tenant_id == tenant_id).distinct(),
            sa.select(r.currency).where(r.tenant_id == tenant_id).distinct(),
        )
        return set(self.conn.execute(query).scalars())
