"""What subscriptions commit customers to, and the bookings that come of it."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.contracts import Committed
from kassa.store.revenue_schedules import month_trunc
from kassa.store.tables import bookings, contract_charges

_cc = contract_charges.c


class Contracts:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def latest(self, tenant_id: str, subscription_id: str) -> tuple[int, builtins.list[Committed]]:
        """The latest revision's number (0: none yet) and its charges."""
        top = self.conn.execute(sa.select(sa.func.max(_cc.revision)).where(
            _cc.tenant_id == tenant_id, _cc.subscription_id == subscription_id)).scalar()  # fmt: skip
        if top is None:
            return 0, []
        rows = self.conn.execute(sa.select(contract_charges).where(
            _cc.tenant_id == tenant_id, _cc.subscription_id == subscription_id, _cc.revision == top,
            _cc.n > 0).order_by(_cc.n))  # fmt: skip
        return int(top), [
            Committed(bill_on=r.bill_on, product=r.product, amount=r.amount_minor) for r in rows
        ]

    def revise(self, tenant_id: str, subscription_id: str, customer_id: str, currency: str, revision: int,
               signed_on: date, charges: Sequence[Committed]) -> None:  # fmt: skip
        """A new revision in force from `signed_on`; the one before ends there. Row n=0 marks a revision
        that commits nothing (a cancellation)."""
        self.conn.execute(contract_charges.update().where(
            _cc.tenant_id == tenant_id, _cc.subscription_id == subscription_id, _cc.revision == revision - 1,
        ).values(superseded_on=signed_on))  # fmt: skip
        rows = [(0, signed_on, "", 0)] if not charges else [
            (n, c.bill_on, c.product, c.amount) for n, c in enumerate(charges, 1)]  # fmt: skip
        self.conn.execute(contract_charges.insert(), [{
            "tenant_id": tenant_id, "subscription_id": subscription_id, "revision": revision, "n": n,
            "customer_id": customer_id, "signed_on": signed_on, "superseded_on": None, "bill_on": bill_on,
            "product": product, "currency": currency, "amount_minor": amount,
        } for n, bill_on, product, amount in rows])  # fmt: skip

    def book(self, tenant_id: str, id: str, customer_id: str, subscription_id: str, revision: int, booked_on: date,
             kind: str, product: str, currency: str, amount: int, created_at: datetime) -> None:  # fmt: skip
        self.conn.execute(bookings.insert().values(
            tenant_id=tenant_id, id=id, customer_id=customer_id, subscription_id=subscription_id, revision=revision,
            booked_on=booked_on, kind=kind, product=product, currency=currency, amount_minor=amount,
            created_at=created_at))  # fmt: skip

    def backlog_sums(self, tenant_id: str) -> builtins.list[Any]:
        """(signed_month, superseded_month, bill_month, product, currency, amount) summed."""
        d = self.conn.dialect.name
        signed, superseded = (
            month_trunc(_cc.signed_on, d).label("signed"),
            month_trunc(_cc.superseded_on, d).label("superseded"),
        )
        bill = month_trunc(_cc.bill_on, d).label("bill")
        query = (sa.select(signed, superseded, bill, _cc.product, _cc.currency,
                           sa.func.sum(_cc.amount_minor).label("amount"))
                 .where(_cc.tenant_id == tenant_id, _cc.n > 0)
                 .group_by(signed, superseded, bill, _cc.product, _cc.currency))  # fmt: skip
        return list(self.conn.execute(query))

    def booking_sums(self, tenant_id: str) -> builtins.list[Any]:
        """(month, product, currency, kind, amount) summed."""
        b = bookings.c
        month = month_trunc(b.booked_on, self.conn.dialect.name).label("month")
        query = (sa.select(month, b.product, b.currency, b.kind, sa.func.sum(b.amount_minor).label("amount"))
                 .where(b.tenant_id == tenant_id).group_by(month, b.product, b.currency, b.kind))  # fmt: skip
        return list(self.conn.execute(query))
