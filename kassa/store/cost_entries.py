"""Time and money spent serving customers, and the sums the margin report needs (SQL over sets): costs per
customer and currency, recognized revenue per customer, plan and currency."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kassa.core.cost_to_serve import CostEntry, CostKind, CostSource, CustomerCost, PlanRevenue
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import cost_entries, revenue_schedules

_CHUNK = 500  # ids per IN (...) and rows per INSERT


def _values(e: CostEntry) -> dict[str, Any]:
    return {"tenant_id": e.tenant_id, "id": e.id, "customer_id": e.customer_id, "occurred_on": e.occurred_on,
            "kind": e.kind.value, "minutes": e.minutes, "amount_minor": e.amount.to_minor_units(),
            "currency": e.amount.currency, "description": e.description, "source": e.source.value,
            "external_id": e.external_id, "created_at": e.created_at}  # fmt: skip


def _entry(r: sa.Row[Any]) -> CostEntry:
    return CostEntry(tenant_id=r.tenant_id, id=r.id, customer_id=r.customer_id, occurred_on=r.occurred_on,
                     kind=CostKind(r.kind), amount=Money.from_minor_units(r.amount_minor, r.currency),
                     minutes=r.minutes, description=r.description, source=CostSource(r.source),
                     external_id=r.external_id, created_at=r.created_at)  # fmt: skip


class CostEntries:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, entry: CostEntry) -> None:
        self.conn.execute(cost_entries.insert().values(**_values(entry)))

    def existing(self, tenant_id: str, external_ids: Sequence[str]) -> set[str]:
        c = cost_entries.c
        found: set[str] = set()
        for i in range(0, len(external_ids), _CHUNK):
            found.update(self.conn.execute(sa.select(c.external_id).where(
                c.tenant_id == tenant_id, c.external_id.in_(external_ids[i:i + _CHUNK]))).scalars())  # fmt: skip
        return found

    def add_many(self, tenant_id: str, entries: Sequence[CostEntry]) -> int:
        """Insert the entries whose external id the tenant has not stored yet; how many were inserted. A
        concurrent import of the same rows is skipped by the unique constraint, not failed on it."""
        seen = self.existing(tenant_id, [e.external_id for e in entries if e.external_id is not None])
        fresh = [_values(e) for e in entries if e.external_id is None or e.external_id not in seen]
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        added = 0
        for i in range(0, len(fresh), _CHUNK):
            statement = (
                insert(cost_entries)
                .on_conflict_do_nothing(index_elements=["tenant_id", "external_id"])
                .returning(cost_entries.c.id)
            )
            added += len(self.conn.execute(statement, fresh[i : i + _CHUNK]).all())
        return added

    def list(self, tenant_id: str, customer_id: str, *, limit: int, cursor: str | None) -> Page[CostEntry]:
        """A customer's costs, newest first."""
        c = cost_entries.c
        query = sa.select(cost_entries).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_entry)

    def costs(self, tenant_id: str, *, starts_on: date, ends_before: date) -> builtins.list[CustomerCost]:
        """What each customer cost, per currency, on the days from `starts_on` up to `ends_before`."""
        c = cost_entries.c
        query = (
            sa.select(c.customer_id, c.currency, sa.func.sum(c.amount_minor).label("minor"))
            .where(c.tenant_id == tenant_id, c.occurred_on >= starts_on, c.occurred_on < ends_before)
            .group_by(c.customer_id, c.currency)
            .order_by(c.customer_id, c.currency)
        )
        return [CustomerCost(customer_id=r.customer_id, amount=Money.from_minor_units(int(r.minor), r.currency))
                for r in self.conn.execute(query)]  # fmt: skip

    def revenue(self, tenant_id: str, *, first_month: date, last_month: date) -> builtins.list[PlanRevenue]:
        """Revenue recognized in the months from `first_month` to `last_month` (both included; months named by
        their first day), per customer, plan (None: not from a subscription) and currency."""
        r = revenue_schedules.c
        query = (
            sa.select(r.customer_id, r.plan, r.currency, sa.func.sum(r.recognized_minor).label("minor"))
            .where(r.tenant_id == tenant_id, r.month >= first_month, r.month <= last_month)
            .group_by(r.customer_id, r.plan, r.currency)
            .order_by(r.customer_id, r.plan, r.currency)
        )
        return [PlanRevenue(customer_id=row.customer_id, plan=row.plan,
                            amount=Money.from_minor_units(int(row.minor), row.currency))
                for row in self.conn.execute(query)]  # fmt: skip
