"""MRR and the figures built on it, summed in SQL over revenue schedules; the churn-risk signals.

Every query is one GROUP BY over a set: MRR on many days at once (the days are one JSON parameter the
database expands into rows), usage per customer and metric over two windows, failed payments and invoices
in dunning per customer. kassa.core.recurring_revenue.mrr_on is the oracle of `mrr_on`; a differential test
holds them equal on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kassa.core.recurring_revenue import Account
from kassa.store.tables import invoices, payments, revenue_schedules, usage_events
from kassa.store.types import decimal_sum

# A revenue schedule row lies inside its accounting month (month <= starts_on < ends_on <= next month), so
# a day is covered only by rows of its own month: the equality on `month` lets the database hash the few
# days instead of comparing every row with every day. One row per account with one column per day (a
# pivot): 50,000 rows for 50,000 customers instead of 1.2 million (customer, day) rows over two years,
# and one aggregation with few groups; fetching the rows was most of the time.
_MRR_ON = """
SELECT r.customer_id, r.currency, {columns}
FROM d JOIN revenue_schedules r
  ON r.tenant_id = :tenant AND r.month = d.m AND r.starts_on <= d.d AND r.ends_on > d.d
WHERE r.mrr_minor IS NOT NULL
GROUP BY r.customer_id, r.currency
"""
_COLUMN = "CAST(SUM(CASE WHEN d.k = {k} THEN r.mrr_minor END) AS BIGINT)"
DAYS_PER_QUERY = 60  # columns per query; a longer history takes one query per 60 days

_DAYS = {
    "postgresql": "d AS (SELECT * FROM jsonb_to_recordset(CAST(:days AS jsonb)) AS x(k int, m date, d date))",
    "sqlite": "d AS (SELECT json_extract(value, '$.k') AS k, json_extract(value, '$.m') AS m, "
    "json_extract(value, '$.d') AS d FROM json_each(:days))",
}


class RecurringRevenue:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def first_month(self, tenant_id: str) -> date | None:
        """The first accounting month with a recurring line: where an MRR history starts."""
        r = revenue_schedules.c
        query = sa.select(sa.func.min(r.month)).where(r.tenant_id == tenant_id, r.mrr_minor.is_not(None))
        found = self.conn.execute(query).scalar_one_or_none()
        return found if isinstance(found, date) or found is None else date.fromisoformat(found)

    def mrr_on(self, tenant_id: str, days: Sequence[date]) -> dict[Account, dict[date, int]]:
        """Each (customer, currency)'s MRR on each day, as core.recurring_revenue.mrr_on computes it: the sum
        of mrr_minor of its recurring rows with starts_on <= day < ends_on. One query per 60 days."""
        wanted = sorted(set(days))
        out: dict[Account, dict[date, int]] = {}
        for at in range(0, len(wanted), DAYS_PER_QUERY):
            chunk = wanted[at : at + DAYS_PER_QUERY]
            doc = json.dumps([{"k": k, "m": d.replace(day=1).isoformat(), "d": d.isoformat()}
                              for k, d in enumerate(chunk)])  # fmt: skip
            columns = ", ".join(_COLUMN.format(k=k) for k in range(len(chunk)))  # only integers interpolated
            sql = sa.text(f"WITH {_DAYS[self.dialect]} {_MRR_ON.format(columns=columns)}")
            for customer_id, code, *totals in self.conn.execute(sql, {"tenant": tenant_id, "days": doc}):
                found = {day: total for day, total in zip(chunk, totals, strict=True) if total is not None}
                if found:
                    out.setdefault((customer_id, code), {}).update(found)
        return out

    # ---- churn-risk signals

    def usage(
        self, tenant_id: str, start: datetime, middle: datetime, end: datetime
    ) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:
        """customer -> metric -> (quantity in [start, middle), quantity in [middle, end)) of counted usage
        events. The quantity is the sum of the events' values, or their number for metrics whose events
        carry none (count, unique count)."""
        u = usage_events.c
        recent = u.timestamp >= middle
        query = (
            sa.select(
                u.customer_id, u.metric,
                sa.func.sum(sa.case((recent, 0), else_=1)), sa.func.sum(sa.case((recent, 1), else_=0)),
                decimal_sum(sa.case((recent, sa.null()), else_=u.value), self.dialect),
                decimal_sum(sa.case((recent, u.value), else_=sa.null()), self.dialect),
            )
            .where(u.tenant_id == tenant_id, u.counted.is_(True), u.timestamp >= start, u.timestamp < end)
            .group_by(u.customer_id, u.metric)
        )  # fmt: skip
        out: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        for customer_id, metric, n_before, n_recent, v_before, v_recent in self.conn.execute(query):
            if v_before is None and v_recent is None:
                pair = (Decimal(int(n_before)), Decimal(int(n_recent)))
            else:
                pair = (_decimal(v_before), _decimal(v_recent))
            out.setdefault(customer_id, {})[metric] = pair
        return out

    def failed_payments(self, tenant_id: str, start: datetime, end: datetime) -> dict[str, int]:
        """customer -> failed payment attempts made in [start, end)."""
        p = payments.c
        query = (
            sa.select(p.customer_id, sa.func.count())
            .where(p.tenant_id == tenant_id, p.status == "failed", p.created_at >= start, p.created_at < end)
            .group_by(p.customer_id)
        )
        return {customer_id: int(n) for customer_id, n in self.conn.execute(query)}

    def invoices_in_dunning(self, tenant_id: str, today: date) -> dict[str, int]:
        """customer -> open invoices still owed that a payment attempt failed on, or past their due date."""
        i, p = invoices.c, payments.c
        failed = sa.exists().where(p.tenant_id == i.tenant_id, p.invoice_id == i.id, p.status == "failed")
        owed = i.amount_due_minor - i.amount_paid_minor - i.amount_credited_minor
        query = (
            sa.select(i.customer_id, sa.func.count())
            .where(i.tenant_id == tenant_id, i.status == "open", owed > 0, sa.or_(failed, i.due_date < today))
            .group_by(i.customer_id)
        )
        return {customer_id: int(n) for customer_id, n in self.conn.execute(query)}


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))
