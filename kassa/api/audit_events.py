"""/v1/audit_events: who changed what, when, with the before/after difference. Read only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Instant, Output, PageOut, page_of
from kassa.core.audit import ActorType
from kassa.services import audit

router = APIRouter(prefix="/audit_events", tags=["audit"])
Name = Annotated[str, StringConstraints(max_length=80)]


class AuditEventOut(Output):
    id: str
    at: datetime
    actor_type: ActorType
    actor_id: str
    action: str
    object_type: str
    object_id: str
    changes: dict[str, dict[str, Any]]
    request_id: str | None


@router.get("", response_model=PageOut[AuditEventOut])
def list_audit_events(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    object_type: Annotated[Name | None, Query()] = None,
    object_id: Annotated[Id | None, Query()] = None,
    actor_id: Annotated[Id | None, Query()] = None,
    action: Annotated[Name | None, Query()] = None,
    at_gte: Annotated[Instant | None, Query()] = None,
    at_lt: Annotated[Instant | None, Query()] = None,
) -> PageOut[AuditEventOut]:
    page = audit.list_audit_events(
        ctx, actor, object_type=object_type, object_id=object_id, actor_id=actor_id, action=action,
        at_gte=at_gte, at_lt=at_lt, limit=limit, cursor=cursor,
    )  # fmt: skip
    return page_of(page, AuditEventOut.of)
