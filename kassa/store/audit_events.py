"""The audit log: insert and read only. Both databases also refuse UPDATE and DELETE by trigger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.audit import ActorType, AuditEntry
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import audit_events


def _entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        tenant_id=row.tenant_id,
        id=row.id,
        at=row.at,
        actor_type=ActorType(row.actor_type),
        actor_id=row.actor_id,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        changes=row.changes,
        request_id=row.request_id,
    )


class AuditEvents:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, entry: AuditEntry) -> None:
        self.conn.execute(
            audit_events.insert().values(
                tenant_id=entry.tenant_id,
                id=entry.id,
                at=entry.at,
                actor_type=entry.actor_type.value,
                actor_id=entry.actor_id,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                changes=entry.changes,
                request_id=entry.request_id,
            )
        )

    def list(
        self,
        tenant_id: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        actor_id: str | None = None,
        action: str | None = None,
        at_gte: datetime | None = None,
        at_lt: datetime | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[AuditEntry]:
        c = audit_events.c
        query = sa.select(audit_events).where(c.tenant_id == tenant_id)
        for column, value in (
            (c.object_type, object_type),
            (c.object_id, object_id),
            (c.actor_id, actor_id),
            (c.action, action),
        ):
            if value is not None:
                query = query.where(column == value)
        if at_gte is not None:
            query = query.where(c.at >= at_gte)
        if at_lt is not None:
            query = query.where(c.at < at_lt)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_entry)
