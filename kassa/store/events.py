"""The outbox of kassa's own events; a customer's timeline reads it back."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.events import Event
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import events


def _event(row: sa.Row[Any]) -> Event:
    return Event(
        tenant_id=row.tenant_id,
        id=row.id,
        type=row.type,
        occurred_at=row.occurred_at,
        object_type=row.object_type,
        object_id=row.object_id,
        customer_id=row.customer_id,
        data=row.data,
    )


class Events:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, event: Event) -> None:
        self.conn.execute(
            events.insert().values(
                tenant_id=event.tenant_id,
                id=event.id,
                type=event.type,
                occurred_at=event.occurred_at,
                object_type=event.object_type,
                object_id=event.object_id,
                customer_id=event.customer_id,
                data=dict(event.data),
            )
        )

    def get(self, tenant_id: str, event_id: str) -> Event:
        row = self.conn.execute(
            sa.select(events).where(events.c.tenant_id == tenant_id, events.c.id == event_id)
        ).first()
        if row is None:
            raise NotFound("event", event_id)
        return _event(row)

    def list(
        self,
        tenant_id: str,
        *,
        type: str | None = None,
        customer_id: str | None = None,
        object_id: str | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[Event]:
        query = sa.select(events).where(events.c.tenant_id == tenant_id)
        if type is not None:
            query = query.where(events.c.type == type)
        if customer_id is not None:
            query = query.where(events.c.customer_id == customer_id)
        if object_id is not None:
            query = query.where(events.c.object_id == object_id)
        return page(self.conn, query, events.c.id, limit=limit, cursor=cursor, to_item=_event)
