"""Disputes on invoice lines (issue 9), the open amounts collections hold back, the counts good standing
is judged on, and the report's grouped queries; every query is scoped by tenant."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kassa.core.dispute_policy import Standing
from kassa.core.disputes import (
    Dispute,
    DisputeReason,
    DisputeStatus,
    MonthCounts,
    OpenedBy,
    handling_hours,
)
from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.store.tables import disputes, invoices, subscriptions

_c = disputes.c
_COLUMNS = ("customer_id", "invoice_id", "line_position", "currency", "description", "assignee_id", "resolution",
            "credit_note_id", "auto_resolved", "opened_at", "resolved_at", "created_at", "updated_at")  # fmt: skip


def _values(d: Dispute) -> dict[str, Any]:
    return {"tenant_id": d.tenant_id, "id": d.id, "customer_id": d.customer_id, "invoice_id": d.invoice_id,
            "line_position": d.line_position, "currency": d.amount.currency, "amount_minor": d.amount.to_minor_units(),
            "reason": d.reason.value, "description": d.description, "status": d.status.value,
            "opened_by": d.opened_by.value, "auto_resolved": d.auto_resolved, "assignee_id": d.assignee_id,
            "resolution": d.resolution, "credit_note_id": d.credit_note_id,
            "credited_minor": d.credited.to_minor_units(), "opened_at": d.opened_at, "resolved_at": d.resolved_at,
            "created_at": d.created_at, "updated_at": d.updated_at}  # fmt: skip


def _dispute(r: sa.Row[Any]) -> Dispute:
    return Dispute(tenant_id=r.tenant_id, id=r.id, customer_id=r.customer_id, invoice_id=r.invoice_id,
                   line_position=r.line_position, amount=Money.from_minor_units(r.amount_minor, r.currency),
                   reason=DisputeReason(r.reason), description=r.description, status=DisputeStatus(r.status),
                   opened_by=OpenedBy(r.opened_by), auto_resolved=bool(r.auto_resolved), assignee_id=r.assignee_id,
                   resolution=r.resolution, credit_note_id=r.credit_note_id,
                   credited=Money.from_minor_units(r.credited_minor, r.currency), opened_at=r.opened_at,
                   resolved_at=r.resolved_at, created_at=r.created_at, updated_at=r.updated_at)  # fmt: skip


def _count(flag: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((flag, 1), else_=0)), 0)


class Disputes:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, dispute: Dispute) -> None:
        self.conn.execute(disputes.insert().values(**_values(dispute)))

    def update(self, dispute: Dispute) -> None:
        self.conn.execute(disputes.update().where(_c.tenant_id == dispute.tenant_id, _c.id == dispute.id)
                          .values(**_values(dispute)))  # fmt: skip

    def get(self, tenant_id: str, dispute_id: str, *, for_update: bool = False) -> Dispute:
        query = sa.select(disputes).where(_c.tenant_id == tenant_id, _c.id == dispute_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("dispute", dispute_id)
        return _dispute(row)

    def of_invoice(self, tenant_id: str, invoice_id: str) -> builtins.list[Dispute]:
        query = sa.select(disputes).where(_c.tenant_id == tenant_id, _c.invoice_id == invoice_id)
        return [_dispute(r) for r in self.conn.execute(query.order_by(_c.opened_at, _c.id))]

    def list(self, tenant_id: str, *, limit: int, cursor: str | None, status: DisputeStatus | None = None,
             assignee_id: str | None = None, customer_id: str | None = None) -> Page[Dispute]:  # fmt: skip
        """Oldest first, the order a queue is worked in; the cursor is the last dispute's id."""
        query = sa.select(disputes).where(_c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(_c.status == status.value)
        if assignee_id is not None:
            query = query.where(_c.assignee_id == assignee_id)
        if customer_id is not None:
            query = query.where(_c.customer_id == customer_id)
        if cursor is not None:
            last = self.conn.execute(
                sa.select(_c.opened_at).where(_c.tenant_id == tenant_id, _c.id == cursor)
            ).scalar()
            if last is None:
                query = query.where(_c.id > cursor)
            else:
                query = query.where(
                    sa.or_(_c.opened_at > last, sa.and_(_c.opened_at == last, _c.id > cursor))
                )
        rows = self.conn.execute(query.order_by(_c.opened_at, _c.id).limit(limit + 1)).all()
        items = [_dispute(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items, has_more=more, next_cursor=items[-1].id if more else None)

    def open_amount(
        self, tenant_id: str, invoice_id: str, currency: str, *, position: int | None = None
    ) -> Money:
        """What open disputes contest on the invoice (or one of its lines), tax included: collections
        hold it back until they are resolved."""
        query = sa.select(sa.func.coalesce(sa.func.sum(_c.amount_minor), 0)).where(
            _c.tenant_id == tenant_id, _c.invoice_id == invoice_id, _c.status == DisputeStatus.OPEN.value
        )
        if position is not None:
            query = query.where(_c.line_position == position)
        return Money.from_minor_units(int(self.conn.execute(query).scalar_one()), currency)

    def standing(self, tenant_id: str, customer_id: str, *, today: date, since: datetime) -> Standing:
        """Overdue invoices (open, due before `today`, still owing), past-due subscriptions and disputes
        auto-accepted since `since`, of one customer."""
        i, s = invoices.c, subscriptions.c
        owing = i.amount_due_minor - i.amount_paid_minor - i.amount_credited_minor
        overdue = self.conn.execute(sa.select(sa.func.count()).where(
            i.tenant_id == tenant_id, i.customer_id == customer_id, i.status == "open", i.due_date < today,
            owing > 0)).scalar_one()  # fmt: skip
        past_due = self.conn.execute(sa.select(sa.func.count()).where(
            s.tenant_id == tenant_id, s.customer_id == customer_id, s.status == "past_due")).scalar_one()  # fmt: skip
        recent = self.conn.execute(sa.select(sa.func.count()).where(
            _c.tenant_id == tenant_id, _c.customer_id == customer_id, _c.auto_resolved == sa.true(),
            _c.opened_at >= since)).scalar_one()  # fmt: skip
        return Standing(overdue_invoices=int(overdue), past_due_subscriptions=int(past_due),
                        auto_accepted_recently=int(recent))  # fmt: skip

    # ---- the report: grouped by the month a dispute was opened in and its currency --------------------

    def _bucket(self, bounds: Sequence[datetime]) -> sa.ColumnElement[Any]:
        return sa.case(*((_c.opened_at < end, i) for i, end in enumerate(bounds[1:])), else_=-1)

    def month_counts(self, tenant_id: str, bounds: Sequence[datetime]) -> dict[tuple[int, str], MonthCounts]:
        """`bounds` are the months' starts and the last one's end: per (month index, currency), one query."""
        bucket = self._bucket(bounds).label("bucket")
        rows = self.conn.execute(
            sa.select(bucket, _c.currency, sa.func.count().label("opened"),
                      _count(_c.auto_resolved == sa.true()).label("auto"),
                      _count(_c.status == DisputeStatus.ACCEPTED.value).label("accepted"),
                      _count(_c.status == DisputeStatus.REJECTED.value).label("rejected"),
                      sa.func.coalesce(sa.func.sum(_c.credited_minor), 0).label("credited"))
            .where(_c.tenant_id == tenant_id, _c.opened_at >= bounds[0], _c.opened_at < bounds[-1])
            .group_by(bucket, _c.currency)
        ).all()  # fmt: skip
        return {(int(r.bucket), r.currency): MonthCounts(
            opened=int(r.opened), auto_resolved=int(r.auto), accepted=int(r.accepted), rejected=int(r.rejected),
            credited=Money.from_minor_units(int(r.credited), r.currency)) for r in rows}  # fmt: skip

    def handling_hours(
        self, tenant_id: str, bounds: Sequence[datetime]
    ) -> dict[tuple[int, str], builtins.list[Decimal]]:
        """Each resolved dispute's hours from opening to resolution, per (month index, currency)."""
        bucket = self._bucket(bounds).label("bucket")
        rows = self.conn.execute(
            sa.select(bucket, _c.currency, _c.opened_at, _c.resolved_at)
            .where(_c.tenant_id == tenant_id, _c.opened_at >= bounds[0], _c.opened_at < bounds[-1],
                   _c.resolved_at.is_not(None))
        )  # fmt: skip
        out: dict[tuple[int, str], builtins.list[Decimal]] = {}
        for r in rows:
            out.setdefault((int(r.bucket), r.currency), []).append(handling_hours(r.opened_at, r.resolved_at))
        return out
