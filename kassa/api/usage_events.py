"""/v1/usage_events: what customers consumed, one at a time or up to 10,000 per batch, counted exactly once
per id."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Input
from kassa.core.errors import DomainError
from kassa.services import metering
from kassa.services.metering import MAX_BATCH

router = APIRouter(prefix="/usage_events", tags=["usage"])

EVENT_DOC = (
    "A usage event: `id` (yours, unique: a retry with the same id is counted once), `metric` (a billable "
    "metric's code), `subscription_id` or `external_customer_id`, `timestamp` (ISO 8601 with offset) and "
    "`properties` (an object; numbers may be JSON numbers or decimal strings)."
)


class UsageEventIn(Input):
    id: str = Field(min_length=1, max_length=128, examples=["req-8f14e45f"])
    metric: str = Field(min_length=1, max_length=64, examples=["api_calls"])
    subscription_id: str | None = Field(None, max_length=255)
    external_customer_id: str | None = Field(None, max_length=255)
    timestamp: str = Field(max_length=40, examples=["2027-01-31T12:00:00Z"])
    properties: dict[str, Any] = Field(default_factory=dict)


class UsageBatchIn(Input):
    events: list[Any] = Field(
        min_length=1,
        description=f"At most {MAX_BATCH:,} (more: batch_too_large, nothing stored). {EVENT_DOC}",
    )


class EventErrorOut(BaseModel):
    index: int
    id: str | None
    code: str
    message: str
    field: str | None


class BatchOut(BaseModel):
    received: int
    accepted: int
    duplicates: int = Field(description="Ids seen before: acknowledged, not counted again.")
    duplicate_ids: list[str]
    errors: list[EventErrorOut] = Field(
        description="Events refused, by their index in the batch; the rest are stored."
    )


class UsageEventOut(BaseModel):
    id: str
    metric: str
    subscription_id: str
    customer_id: str
    timestamp: datetime
    received_at: datetime
    properties: dict[str, Any]
    late: bool
    duplicate: bool = Field(False, description="True when this id was received before (and counted then).")


def _exact(value: Any) -> Any:
    """JSON floats in properties become exact decimals from their shortest text (1.1 stays 1.1)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact(v) for v in value]
    return value


def _out(row: Any, duplicate: bool) -> UsageEventOut:
    return UsageEventOut(id=row.id, metric=row.metric, subscription_id=row.subscription_id,
                         customer_id=row.customer_id, timestamp=row.timestamp, received_at=row.received_at,
                         properties=row.properties, late=row.late, duplicate=duplicate)  # fmt: skip


@router.post("", status_code=201, response_model=UsageEventOut, responses={200: {"model": UsageEventOut,
             "description": "A duplicate: this id was received before and is not counted again."}})  # fmt: skip
def send_usage_event(body: UsageEventIn, ctx: Ctx, actor: Caller) -> Any:
    item = _exact(body.model_dump(exclude_none=True))
    result = metering.ingest_usage(ctx, actor, [item])
    if result.errors:
        error = result.errors[0]
        raise DomainError(error.code, error.message, error.field)
    duplicate = not result.accepted
    row = metering.get_usage_event(ctx, actor, body.id)
    out = _out(row, duplicate)
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if duplicate else 201)


@router.post("/batch", response_model=BatchOut)
def send_usage_batch(body: UsageBatchIn, ctx: Ctx, actor: Caller) -> BatchOut:
    """Up to 10,000 events. Each invalid event is reported by index and the valid ones are stored; a
    request that is not a batch at all stores nothing."""
    result = metering.ingest_usage(ctx, actor, [_exact(item) for item in body.events])
    return BatchOut(
        received=result.received, accepted=len(result.accepted), duplicates=len(result.duplicates),
        duplicate_ids=result.duplicates[:1000],
        errors=[EventErrorOut(index=e.index, id=e.id, code=e.code, message=e.message, field=e.field)
                for e in result.errors],
    )  # fmt: skip


@router.get("/{usage_event_id}", response_model=UsageEventOut)
def get_usage_event(
    usage_event_id: Annotated[str, Path(max_length=128)], ctx: Ctx, actor: Caller
) -> UsageEventOut:
    return _out(metering.get_usage_event(ctx, actor, usage_event_id), False)
