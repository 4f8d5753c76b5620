"""Offers: every version of each offer's rule document; the highest version of a code is in force, and a
version without a document withdraws the offer. Every query is scoped by tenant."""

from __future__ import annotations

import builtins
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.offers import Offer, OfferVersion, offer_from_doc, to_doc
from kassa.store.tables import invoices
from kassa.store.tables.lifecycle import offers

_c = offers.c


def _version(row: sa.Row[Any]) -> OfferVersion:
    offer = None if row.doc is None else offer_from_doc(row.doc)
    return OfferVersion(code=row.code, version=row.version, offer=offer, created_at=row.created_at)


class Offers:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def latest(self, tenant_id: str, code: str, *, for_update: bool = False) -> OfferVersion | None:
        """The highest version of `code` (withdrawn or not), or None if it was never put. `for_update` locks
        it, so two writers of one code queue instead of both taking the same next version."""
        query = (
            sa.select(offers)
            .where(_c.tenant_id == tenant_id, _c.code == code)
            .order_by(_c.version.desc())
            .limit(1)
        )
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _version(row)

    def add(
        self, tenant_id: str, code: str, version: int, offer: Offer | None, *, at: datetime
    ) -> OfferVersion:
        doc = sa.null() if offer is None else to_doc(offer)  # SQL NULL, not the JSON null the type writes
        self.conn.execute(offers.insert().values(tenant_id=tenant_id, code=code, version=version, doc=doc,
                                                 created_at=at))  # fmt: skip
        return OfferVersion(code=code, version=version, offer=offer, created_at=at)

    def current(self, tenant_id: str) -> builtins.list[OfferVersion]:
        """The offers in force: each code's highest version, unless that version withdrew it; by code."""
        newest = (
            sa.select(_c.code, sa.func.max(_c.version).label("version"))
            .where(_c.tenant_id == tenant_id)
            .group_by(_c.code)
            .subquery()
        )
        query = (
            sa.select(offers)
            .join(newest, sa.and_(_c.code == newest.c.code, _c.version == newest.c.version))
            .where(_c.tenant_id == tenant_id, _c.doc.is_not(None))
            .order_by(_c.code)
        )
        return [_version(row) for row in self.conn.execute(query)]

    def versions(self, tenant_id: str, code: str) -> builtins.list[OfferVersion]:
        """Every version of one code, oldest first (withdrawals included)."""
        query = sa.select(offers).where(_c.tenant_id == tenant_id, _c.code == code).order_by(_c.version)
        return [_version(row) for row in self.conn.execute(query)]

    def invoice_counts(self, tenant_id: str, customer_id: str, today: date) -> tuple[int, int]:
        """The invoice facts offers are decided on, in one query: invoices paid, and invoices still owed
        (open or written off) whose due date is before `today`, the customer's local day."""
        ic = invoices.c
        owed = sa.and_(ic.status.in_(("open", "uncollectible")), ic.due_date < today)
        row = self.conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(sa.case((ic.status == "paid", 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((owed, 1), else_=0)), 0),
            ).where(ic.tenant_id == tenant_id, ic.customer_id == customer_id)
        ).one()
        return int(row[0]), int(row[1])
