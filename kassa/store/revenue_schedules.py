"""Revenue schedules: what each document line recognizes, month by month."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from kassa.core.revenue import Pattern, ScheduleRow
from kassa.store.tables import customers, revenue_schedules

_c = revenue_schedules.c


def _row(r: Any) -> ScheduleRow:
    return ScheduleRow(
        tenant_id=r.tenant_id, id=r.id, customer_id=r.customer_id, subscription_id=r.subscription_id,
        invoice_id=r.invoice_id, source_type=r.source_type, source_id=r.source_id, position=r.position,
        product=r.product, plan=r.plan, line_kind=r.line_kind, pattern=Pattern(r.pattern), currency=r.currency,
        billed_on=r.billed_on, month=r.month, starts_on=r.starts_on, ends_on=r.ends_on, amount=r.amount_minor,
        discount=r.discount_minor, recognized=r.recognized_minor, recognized_through=r.recognized_through,
        mrr=r.mrr_minor, created_at=r.created_at)  # fmt: skip


class RevenueSchedules:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, rows: Sequence[ScheduleRow]) -> None:
        if not rows:
            return
        self.conn.execute(revenue_schedules.insert(), [{
            "tenant_id": r.tenant_id, "id": r.id, "customer_id": r.customer_id, "subscription_id": r.subscription_id,
            "invoice_id": r.invoice_id, "source_type": r.source_type, "source_id": r.source_id,
            "position": r.position, "product": r.product, "plan": r.plan, "line_kind": r.line_kind,
            "pattern": r.pattern.value, "currency": r.currency, "billed_on": r.billed_on, "month": r.month,
            "starts_on": r.starts_on, "ends_on": r.ends_on, "amount_minor": r.amount, "discount_minor": r.discount,
            "recognized_minor": r.recognized, "recognized_through": r.recognized_through, "pending": r.pending,
            "mrr_minor": r.mrr, "created_at": r.created_at,
        } for r in rows])  # fmt: skip

    def recognized(self, tenant_id: str, rows: Sequence[ScheduleRow]) -> None:
        """Store how far each row is recognized."""
        if not rows:
            return
        query = (revenue_schedules.update()
                 .where(_c.tenant_id == tenant_id, _c.id == sa.bindparam("row_id"),
                        sa.or_(_c.recognized_through.is_(None), _c.recognized_through < sa.bindparam("through")))
                 .values(recognized_minor=sa.bindparam("done"), recognized_through=sa.bindparam("through"),
                         pending=sa.bindparam("open")))  # fmt: skip
        self.conn.execute(query, [{"row_id": r.id, "done": r.recognized, "through": r.recognized_through,
                                   "open": r.pending} for r in rows])  # fmt: skip

    def of_invoice(self, tenant_id: str, invoice_id: str) -> builtins.list[ScheduleRow]:
        query = (sa.select(revenue_schedules).where(_c.tenant_id == tenant_id, _c.invoice_id == invoice_id)
                 .order_by(_c.position, _c.starts_on, _c.id))  # fmt: skip
        return [_row(r) for r in self.conn.execute(query)]

    def _due(self, tenant_id: str, through: date, customer_id: str | None,
             every_customer: bool = False) -> sa.ColumnElement[bool]:  # fmt: skip
        where = sa.and_(_c.tenant_id == tenant_id, _c.pending.is_(True), _c.starts_on <= through,
                        _c.month <= through)  # fmt: skip
        if every_customer:
            return where
        if customer_id is not None:
            return sa.and_(where, _c.customer_id == customer_id)
        on_clocks = sa.select(customers.c.id).where(
            customers.c.tenant_id == tenant_id, customers.c.test_clock_id.is_not(None)
        )
        return sa.and_(where, _c.customer_id.not_in(on_clocks))

    def due(self, tenant_id: str, through: date, customer_id: str | None,
            every_customer: bool = False) -> builtins.list[ScheduleRow]:  # fmt: skip
        """Rows with something to recognize by `through`: one customer's (on a test clock), those of every
        customer that runs on the system clock, or everyone's (a month being closed)."""
        where = self._due(tenant_id, through, customer_id, every_customer)
        query = (
            sa.select(revenue_schedules).where(where).order_by(_c.id).with_for_update(of=revenue_schedules)
        )
        return [_row(r) for r in self.conn.execute(query)]

    def monthly(self, tenant_id: str) -> builtins.list[Any]:
        return monthly_sums(self.conn, tenant_id)

    def any_pending(self, tenant_id: str, customer_id: str | None) -> bool:
        where = self._due(tenant_id, date.max, customer_id)
        return self.conn.execute(sa.select(sa.literal(1)).where(where).limit(1)).first() is not None


def month_trunc(column: sa.ColumnElement[date], dialect: str) -> sa.ColumnElement[Any]:
    """The first day of a date's month, in SQL."""
    if dialect == "postgresql":
        return sa.cast(sa.func.date_trunc("month", column), sa.Date)
    return sa.type_coerce(sa.func.date(column, "start of month"), sa.Date)


def monthly_sums(conn: sa.Connection, tenant_id: str) -> builtins.list[Any]:
    """(billed_month, month, product, currency, write_off, net, recognized) summed over a tenant's rows:
    every report of billings, recognition and deferred revenue is a fold of these few rows."""
    billed = month_trunc(_c.billed_on, conn.dialect.name).label("billed_month")
    write_off = (_c.source_type == "write_off").label("write_off")
    query = (sa.select(billed, _c.month, _c.product, _c.currency, write_off,
                       sa.func.sum(_c.amount_minor - _c.discount_minor).label("net"),
                       sa.func.sum(_c.recognized_minor).label("recognized"))
             .where(_c.tenant_id == tenant_id)
             .group_by(billed, _c.month, _c.product, _c.currency, write_off))  # fmt: skip
    return list(conn.execute(query))
