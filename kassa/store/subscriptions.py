"""Subscriptions and their changes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.pages import Page
from kassa.core.subscriptions import (
    AnchorType,
    BillingAnchor,
    Change,
    ChangeKind,
    ChangeStatus,
    Status,
    Subscription,
    SubscriptionFilter,
    Terms,
)
from kassa.store.tables import subscription_changes, subscriptions


def _subscription(row: sa.Row[Any], changes: Iterable[Change]) -> Subscription:
    return Subscription(
        tenant_id=row.tenant_id,
        id=row.id,
        customer_id=row.customer_id,
        currency=row.currency,
        time_zone=row.time_zone,
        status=Status(row.status),
        terms=Terms(plan=row.plan, quantity=row.quantity, addons=dict(row.addons)),
        start=row.start_date,
        anchor=BillingAnchor(type=AnchorType(row.anchor_type), day=row.anchor_day),
        trial_days=row.trial_days,
        changes=tuple(changes),
        metadata=dict(row.metadata),
        created_at=row.created_at,
        updated_at=row.updated_at,
        canceled_at=row.canceled_at,
        ended_at=row.ended_at,
    )


def _change(row: sa.Row[Any]) -> Change:
    return Change(
        id=row.id,
        kind=ChangeKind(row.kind),
        effective=row.effective_date,
        prorate=row.prorate,
        terms=Terms.from_json(row.terms) if row.terms else None,
        status=ChangeStatus(row.status),
        requested_at=row.requested_at,
    )


def _values(s: Subscription) -> dict[str, Any]:
    return {
        "tenant_id": s.tenant_id,
        "id": s.id,
        "customer_id": s.customer_id,
        "currency": s.currency,
        "time_zone": s.time_zone,
        "status": s.status.value,
        "plan": s.terms.plan,
        "quantity": s.terms.quantity,
        "addons": dict(s.terms.addons),
        "start_date": s.start,
        "anchor_type": s.anchor.type.value,
        "anchor_day": s.anchor.day,
        "trial_days": s.trial_days,
        "metadata": dict(s.metadata),
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "canceled_at": s.canceled_at,
        "ended_at": s.ended_at,
    }


def _change_values(tenant_id: str, subscription_id: str, c: Change) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": c.id,
        "subscription_id": subscription_id,
        "kind": c.kind.value,
        "effective_date": c.effective,
        "prorate": c.prorate,
        "terms": c.terms.to_json() if c.terms else None,
        "status": c.status.value,
        "requested_at": c.requested_at,
    }


class Subscriptions:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, s: Subscription) -> None:
        self.conn.execute(subscriptions.insert().values(**_values(s)))
        if s.changes:
            self.conn.execute(
                subscription_changes.insert(), [_change_values(s.tenant_id, s.id, c) for c in s.changes]
            )

    def update(self, s: Subscription, previous: Subscription) -> None:
        """Write `s` over `previous`: the row, new changes inserted, changed ones updated."""
        self.conn.execute(
            subscriptions.update()
            .where(subscriptions.c.tenant_id == s.tenant_id, subscriptions.c.id == s.id)
            .values(**_values(s))
        )
        old = {c.id: c for c in previous.changes}
        added = [_change_values(s.tenant_id, s.id, c) for c in s.changes if c.id not in old]
        if added:
            self.conn.execute(subscription_changes.insert(), added)
        for c in s.changes:
            if c.id in old and old[c.id] != c:
                self.conn.execute(
                    subscription_changes.update()
                    .where(subscription_changes.c.tenant_id == s.tenant_id, subscription_changes.c.id == c.id)
                    .values(status=c.status.value)
                )

    def get(self, tenant_id: str, subscription_id: str, *, for_update: bool = False) -> Subscription:
        query = sa.select(subscriptions).where(
            subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == subscription_id
        )
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("subscription", subscription_id)
        return _subscription(row, self._changes(tenant_id, [subscription_id])[subscription_id])

    def many(
        self,
        tenant_id: str,
        *,
        ids: Iterable[str] = (),
        customer_ids: Iterable[str] = (),
        with_changes: bool = True,
    ) -> list[Subscription]:
        """Subscriptions by id or by customer, with their changes, in two queries; `with_changes=False`
        reads the rows alone (their changes empty): enough to route usage, not to compute a timeline."""
        wanted, owners = sorted(set(ids)), sorted(set(customer_ids))
        if not wanted and not owners:
            return []
        query = sa.select(subscriptions).where(
            subscriptions.c.tenant_id == tenant_id,
            sa.or_(subscriptions.c.id.in_(wanted), subscriptions.c.customer_id.in_(owners)),
        )
        rows = self.conn.execute(query.order_by(subscriptions.c.id)).all()
        changes = self._changes(tenant_id, [r.id for r in rows]) if with_changes else defaultdict(list)
        return [_subscription(r, changes[r.id]) for r in rows]

    def _changes(self, tenant_id: str, ids: list[str]) -> dict[str, list[Change]]:
        found: dict[str, list[Change]] = defaultdict(list)
        if not ids:
            return found
        query = (
            sa.select(subscription_changes)
            .where(
                subscription_changes.c.tenant_id == tenant_id, subscription_changes.c.subscription_id.in_(ids)
            )
            .order_by(subscription_changes.c.id)
        )
        for row in self.conn.execute(query):
            found[row.subscription_id].append(_change(row))
        return found

    def list(
        self, tenant_id: str, where: SubscriptionFilter, *, limit: int, cursor: str | None
    ) -> Page[Subscription]:
        query = sa.select(subscriptions).where(subscriptions.c.tenant_id == tenant_id)
        if where.customer_id is not None:
            query = query.where(subscriptions.c.customer_id == where.customer_id)
        if where.status is not None:
            query = query.where(subscriptions.c.status == where.status.value)
        if where.plan is not None:
            query = query.where(subscriptions.c.plan == where.plan)
        if cursor is not None:
            query = query.where(subscriptions.c.id < cursor)
        rows = self.conn.execute(query.order_by(subscriptions.c.id.desc()).limit(limit + 1)).all()
        changes = self._changes(
            tenant_id, [r.id for r in rows[:limit]]
        )  # one query for the page, not one per row
        items = [_subscription(r, changes[r.id]) for r in rows[:limit]]
        has_more = len(rows) > limit
        return Page(items=items, has_more=has_more, next_cursor=rows[limit - 1].id if has_more else None)
