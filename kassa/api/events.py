"""/v1/events: kassa's own events (the outbox webhooks deliver); not usage events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Output, PageOut, page_of
from kassa.services import events

router = APIRouter(prefix="/events", tags=["events"])


class EventOut(Output):
    id: str
    type: str
    occurred_at: datetime
    object_type: str
    object_id: str
    customer_id: str | None
    data: dict[str, Any]


@router.get("", response_model=PageOut[EventOut])
def list_events(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    type: Annotated[Annotated[str, StringConstraints(max_length=80)] | None, Query()] = None,
    customer_id: Annotated[Id | None, Query()] = None,
    object_id: Annotated[Id | None, Query()] = None,
) -> PageOut[EventOut]:
    page = events.list_events(
        ctx,
        actor.tenant_id,
        type=type,
        customer_id=customer_id,
        object_id=object_id,
        limit=limit,
        cursor=cursor,
    )
    return page_of(page, EventOut.of)


@router.get("/{event_id}", response_model=EventOut)
def get_event(event_id: Id, ctx: Ctx, actor: Caller) -> EventOut:
    return EventOut.of(events.get_event(ctx, actor.tenant_id, event_id))
