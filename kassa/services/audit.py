"""Every write leaves an audit entry (who, what, before/after) in its own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kassa.core.audit import Actor, AuditEntry, diff
from kassa.core.events import EventType
from kassa.core.pages import Page, check_limit
from kassa.services import events
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork


def record(
    ctx: ServiceContext,
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    *,
    object_type: str,
    object_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    at: datetime,
) -> None:
    uow.audit_events.add(
        AuditEntry(
            tenant_id=actor.tenant_id,
            id=ctx.new_id("aud"),
            at=at,
            actor_type=actor.type,
            actor_id=actor.id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            changes=diff(before, after),
            request_id=actor.request_id,
        )
    )


def changed(
    ctx: ServiceContext,
    uow: UnitOfWork,
    actor: Actor,
    event_type: EventType,
    *,
    object_type: str,
    object_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    at: datetime,
    data: Mapping[str, Any] | None = None,
    customer_id: str | None = None,
) -> None:
    """A change, written down twice in the caller's transaction: the audit entry (who, before and after,
    under the event's name) and the event the outbox delivers (`data`, or the `after` view)."""
    record(
        ctx,
        uow,
        actor,
        event_type.value,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        at=at,
    )
    events.emit(
        ctx, uow, actor.tenant_id, event_type, object_type=object_type, object_id=object_id,
        data=data if data is not None else dict(after or {}), at=at, customer_id=customer_id,
    )  # fmt: skip


def list_audit_events(
    ctx: ServiceContext,
    actor: Actor,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    at_gte: datetime | None = None,
    at_lt: datetime | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[AuditEntry]:
    with ctx.uow(read_only=True) as uow:
        return uow.audit_events.list(
            actor.tenant_id,
            object_type=object_type,
            object_id=object_id,
            actor_id=actor_id,
            action=action,
            at_gte=at_gte,
            at_lt=at_lt,
            limit=check_limit(limit),
            cursor=cursor,
        )
