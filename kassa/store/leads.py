"""Leads, and the figures the lead feedback report sums per source or campaign in a few set queries.
Every query is scoped by tenant."""

from __future__ import annotations

import builtins
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.leads import Lead, LeadStatus
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import invoices, revenue_schedules, subscriptions
from kassa.store.tables.lifecycle import leads

_c = leads.c
_COLUMNS = ("email", "name", "company", "country", "source", "campaign", "lost_reason", "customer_id",
            "subscription_id", "converted_at", "created_at", "updated_at")  # fmt: skip
BILLED = ("open", "paid", "uncollectible")  # finalized and not voided: what was billed
ENDED = ("canceled", "ended")


def _values(lead: Lead) -> dict[str, Any]:
    return {"tenant_id": lead.tenant_id, "id": lead.id, "status": lead.status.value,
            "metadata": dict(lead.metadata), **{name: getattr(lead, name) for name in _COLUMNS}}  # fmt: skip


def _lead(row: sa.Row[Any]) -> Lead:
    return Lead(tenant_id=row.tenant_id, id=row.id, status=LeadStatus(row.status), metadata=dict(row.metadata),
                **{name: getattr(row, name) for name in _COLUMNS})  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupRow:
    """One source or campaign: its leads, and of the customers they converted into, how many churned,
    what was billed to them and what of it is recognized revenue, per currency (minor units)."""

    group: str | None
    leads: int
    converted: int
    churned: int
    billed: dict[str, int]  # currency → minor units
    recognized: dict[str, int]


class Leads:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, lead: Lead) -> None:
        self.conn.execute(leads.insert().values(**_values(lead)))

    def update(self, lead: Lead) -> None:
        self.conn.execute(
            leads.update().where(_c.tenant_id == lead.tenant_id, _c.id == lead.id).values(**_values(lead))
        )

    def get(self, tenant_id: str, lead_id: str, *, for_update: bool = False) -> Lead:
        query = sa.select(leads).where(_c.tenant_id == tenant_id, _c.id == lead_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("lead", lead_id)
        return _lead(row)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None, source: str | None = None,
             campaign: str | None = None, status: LeadStatus | None = None) -> Page[Lead]:  # fmt: skip
        """The tenant's leads, newest first, optionally of one source, campaign or status."""
        query = sa.select(leads).where(_c.tenant_id == tenant_id)
        if source is not None:
            query = query.where(_c.source == source)
        if campaign is not None:
            query = query.where(_c.campaign == campaign)
        if status is not None:
            query = query.where(_c.status == status.value)
        return page(self.conn, query, _c.id, limit=limit, cursor=cursor, to_item=_lead)

    def converted_into(self, tenant_id: str, customer_id: str) -> Lead | None:
        """The lead the customer came from (the latest, should several have converted into it)."""
        query = (
            sa.select(leads)
            .where(_c.tenant_id == tenant_id, _c.customer_id == customer_id)
            .order_by(_c.converted_at.desc(), _c.id.desc())
            .limit(1)
        )
        row = self.conn.execute(query).first()
        return None if row is None else _lead(row)

    def feedback(self, tenant_id: str, by: str, created_from: datetime | None = None,
                 created_before: datetime | None = None) -> builtins.list[GroupRow]:  # fmt: skip
        """Per source or campaign (`by`), four grouped queries whatever the number of leads: the leads and
        conversions; the converted customers whose every subscription ended; what was billed to them (net
        of tax); what of that is recognized. A customer several leads of one group converted into counts
        once in that group's customer figures."""
        group = _c.source if by == "source" else _c.campaign
        scope = [_c.tenant_id == tenant_id]
        if created_from is not None:
            scope.append(_c.created_at >= created_from)
        if created_before is not None:
            scope.append(_c.created_at < created_before)
        counts = self.conn.execute(
            sa.select(group.label("g"), sa.func.count().label("leads"),
                      sa.func.count(_c.customer_id).label("converted"))
            .where(*scope).group_by(group)
        ).all()  # fmt: skip
        # each converted customer once per group
        converted = (
            sa.select(group.label("g"), _c.customer_id.label("customer_id"))
            .where(*scope, _c.customer_id.is_not(None))
            .distinct()
            .subquery()
        )
        sc = subscriptions.c
        live = sa.func.sum(sa.case((sc.status.in_(ENDED), 0), else_=1))
        per_customer = (
            sa.select(sc.customer_id.label("customer_id"))
            .where(sc.tenant_id == tenant_id)
            .group_by(sc.customer_id)
            .having(live == 0)
            .subquery()
        )
        churned: dict[str | None, int] = dict(
            self.conn.execute(
                sa.select(converted.c.g, sa.func.count())
                .join(per_customer, per_customer.c.customer_id == converted.c.customer_id)
                .group_by(converted.c.g)
            ).all()
        )
        ic, rc = invoices.c, revenue_schedules.c
        billed = self._sums(
            sa.select(converted.c.g, ic.currency, sa.func.sum(ic.total_minor - ic.tax_minor))
            .join(invoices, sa.and_(ic.tenant_id == tenant_id, ic.customer_id == converted.c.customer_id))
            .where(ic.status.in_(BILLED))
            .group_by(converted.c.g, ic.currency)
        )
        recognized = self._sums(
            sa.select(converted.c.g, rc.currency, sa.func.sum(rc.recognized_minor))
            .join(revenue_schedules,
                  sa.and_(rc.tenant_id == tenant_id, rc.customer_id == converted.c.customer_id))
            .group_by(converted.c.g, rc.currency)
        )  # fmt: skip
        return [GroupRow(group=r.g, leads=int(r.leads), converted=int(r.converted), churned=int(churned.get(r.g, 0)),
                         billed=billed.get(r.g, {}), recognized=recognized.get(r.g, {})) for r in counts]  # fmt: skip

    def _sums(self, query: sa.Select[Any]) -> dict[str | None, dict[str, int]]:
        out: dict[str | None, dict[str, int]] = defaultdict(dict)
        for g, code, total in self.conn.execute(query):
            out[g][code] = int(total)
        return out
