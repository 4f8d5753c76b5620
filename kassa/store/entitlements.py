"""A customer's entitlement overrides: one row per (customer, feature) holding the value as the catalog
writes it (true/false, a whole number, or {metric, quantity}); and the stamp of everything a customer's
entitlements are derived from, read in one statement. Every query is scoped by tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.entitlements import Override, parse_grant
from kassa.store.tables import (
    billable_metrics,
    catalog_versions,
    customers,
    entitlement_overrides,
    subscription_changes,
    subscriptions,
    test_clocks,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredOverride:
    customer_id: str
    override: Override
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, object]:
        """The audit view."""
        return {
            "customer_id": self.customer_id,
            "feature": self.override.grant.feature,
            "value": self.override.grant.to_doc(),
            "reason": self.override.reason,
            "updated_at": self.updated_at.isoformat(),
        }


def _stored(row: sa.Row[Any]) -> StoredOverride:
    m = row._mapping
    grant = parse_grant(str(m["feature"]), m["value"], "value")
    return StoredOverride(
        customer_id=str(m["customer_id"]),
        override=Override(grant=grant, reason=m["reason"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class EntitlementOverrides:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _key(self, tenant_id: str, customer_id: str, feature: str) -> sa.ColumnElement[bool]:
        c = entitlement_overrides.c
        return sa.and_(c.tenant_id == tenant_id, c.customer_id == customer_id, c.feature == feature)

    def find(self, tenant_id: str, customer_id: str, feature: str) -> StoredOverride | None:
        """By primary key."""
        row = self.conn.execute(
            sa.select(entitlement_overrides).where(self._key(tenant_id, customer_id, feature))
        ).first()
        return None if row is None else _stored(row)

    def of_customer(self, tenant_id: str, customer_id: str) -> list[StoredOverride]:
        c = entitlement_overrides.c
        rows = self.conn.execute(
            sa.select(entitlement_overrides)
            .where(c.tenant_id == tenant_id, c.customer_id == customer_id)
            .order_by(c.feature)
        )
        return [_stored(r) for r in rows]

    def put(self, tenant_id: str, customer_id: str, override: Override, *, at: datetime) -> None:
        """Insert the customer's override of the feature, or replace it."""
        feature = override.grant.feature
        values = {"value": override.grant.to_doc(), "reason": override.reason, "updated_at": at}
        updated = self.conn.execute(
            entitlement_overrides.update().where(self._key(tenant_id, customer_id, feature)).values(**values)
        ).rowcount
        if not updated:
            self.conn.execute(
                entitlement_overrides.insert().values(
                    tenant_id=tenant_id, customer_id=customer_id, feature=feature, created_at=at, **values
                )
            )

    def stamp(self, tenant_id: str, customer_id: str) -> tuple[Any, ...] | None:
        return stamp(self.conn, tenant_id, customer_id)

    def delete(self, tenant_id: str, customer_id: str, feature: str) -> bool:
        deleted = self.conn.execute(
            entitlement_overrides.delete().where(self._key(tenant_id, customer_id, feature))
        ).rowcount
        return bool(deleted)


def _count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()


def _overrides_content(conn: sa.Connection, overrides: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The overrides themselves, one string: a value replaced at the same instant (a test clock's frozen time)
    changes neither their count nor their latest updated_at, nor does a delete and put again. Different
    overrides always give a different string; the order only keeps equal ones equal (SQLite before 3.44
    has no ORDER BY inside an aggregate: it reads an ordered subquery, in that order in practice)."""
    ov = entitlement_overrides.c
    entry = ov.feature + "=" + sa.cast(ov.value, sa.Text) + "=" + sa.func.coalesce(ov.reason, "")
    if conn.dialect.name == "postgresql":
        joined = sa.func.aggregate_strings(entry, "\n").aggregate_order_by(ov.feature)
        return sa.select(joined).where(overrides).scalar_subquery()
    rows = sa.select(entry.label("entry")).where(overrides).order_by(ov.feature).subquery()
    return sa.select(sa.func.aggregate_strings(rows.c.entry, "\n")).scalar_subquery()


def stamp(conn: sa.Connection, tenant_id: str, customer_id: str) -> tuple[Any, ...] | None:
    """What changes when anything a customer's entitlements come from changes (its row and test clock's
    time, the catalog versions, the billable metrics, its subscriptions' status, terms and changes, its
    overrides and their values), in one round trip; None if the tenant has no such customer. Usage is not in it."""
    cu, tc, cv, bm = customers.c, test_clocks.c, catalog_versions.c, billable_metrics.c
    su, ch, ov = subscriptions.c, subscription_changes.c, entitlement_overrides.c
    mine = sa.and_(su.tenant_id == tenant_id, su.customer_id == customer_id)
    their_changes = sa.and_(
        ch.tenant_id == tenant_id,
        ch.subscription_id.in_(sa.select(su.id).where(mine)),
    )
    overrides = sa.and_(ov.tenant_id == tenant_id, ov.customer_id == customer_id)
    query = sa.select(
        cu.updated_at,
        cu.test_clock_id,
        sa.select(tc.frozen_time)
        .where(tc.tenant_id == tenant_id, tc.id == cu.test_clock_id)
        .scalar_subquery(),
        sa.select(sa.func.max(cv.number)).where(cv.tenant_id == tenant_id).scalar_subquery(),
        sa.select(sa.func.max(bm.updated_at)).where(bm.tenant_id == tenant_id).scalar_subquery(),
        _count(subscriptions, mine),
        sa.select(sa.func.max(su.updated_at)).where(mine).scalar_subquery(),
        *(
            _count(subscriptions, mine, su.status == status)
            for status in ("trialing", "active", "past_due", "paused")
        ),
        _count(subscription_changes, their_changes),
        _count(subscription_changes, their_changes, ch.status == "pending"),
        _count(entitlement_overrides, overrides),
        sa.select(sa.func.max(ov.updated_at)).where(overrides).scalar_subquery(),
        _overrides_content(conn, overrides),
    ).where(cu.tenant_id == tenant_id, cu.id == customer_id)
    row = conn.execute(query).first()
    return None if row is None else tuple(row)
