"""/v1/webhook_endpoints and /v1/webhook_deliveries: where events go, and how each delivery went."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Response
from pydantic import Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, Output, PageOut, page_of
from kassa.core.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookEndpoint,
)
from kassa.services import webhooks

router = APIRouter(tags=["webhooks"])
Url = Annotated[str, StringConstraints(min_length=8, max_length=2000)]
Filter = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=80)]], Field(max_length=100)
]
Description = Annotated[str, StringConstraints(max_length=500)]


class EndpointCreate(Input):
    url: Url = Field(examples=["https://example.com/kassa-webhooks"])
    enabled_events: Filter = Field(
        default_factory=list, description="Event types, `customer.*` or `*`; empty: all."
    )
    description: Description | None = None


class EndpointUpdate(Input):
    url: Url | None = None
    enabled_events: Filter | None = None
    description: Description | None = None
    status: Literal["enabled", "disabled"] | None = None


class EndpointOut(Output):
    id: str
    url: str
    description: str | None
    enabled_events: list[str]
    status: EndpointStatus
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(
        description="Signing secret (Standard Webhooks, whsec_…): verify every delivery with it."
    )


class AttemptOut(Output):
    id: str
    attempted_at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str


class DeliveryOut(Output):
    id: str
    endpoint_id: str
    event_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeliveryWithAttemptsOut(DeliveryOut):
    attempt_log: list[AttemptOut]


def _with_secret(e: WebhookEndpoint) -> EndpointWithSecretOut:
    return EndpointWithSecretOut(**EndpointOut.of(e).model_dump(), secret=e.secret)


@router.post("/webhook_endpoints", status_code=201, response_model=EndpointWithSecretOut)
def create_endpoint(body: EndpointCreate, ctx: Ctx, actor: Caller) -> EndpointWithSecretOut:
    endpoint = webhooks.create_endpoint(
        ctx, actor, url=body.url, enabled_events=body.enabled_events, description=body.description
    )
    return _with_secret(endpoint)


@router.get("/webhook_endpoints", response_model=PageOut[EndpointOut])
def list_endpoints(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> PageOut[EndpointOut]:
    return page_of(webhooks.list_endpoints(ctx, actor, limit=limit, cursor=cursor), EndpointOut.of)


@router.get("/webhook_endpoints/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(endpoint_id: Id, ctx: Ctx, actor: Caller) -> EndpointOut:
    return EndpointOut.of(webhooks.get_endpoint(ctx, actor, endpoint_id))


@router.get("/webhook_endpoints/{endpoint_id}/secret", response_model=EndpointWithSecretOut)
def get_endpoint_secret(endpoint_id: Id, ctx: Ctx, actor: Caller) -> EndpointWithSecretOut:
    return _with_secret(webhooks.get_endpoint(ctx, actor, endpoint_id))


@router.patch("/webhook_endpoints/{endpoint_id}", response_model=EndpointOut)
def update_endpoint(endpoint_id: Id, body: EndpointUpdate, ctx: Ctx, actor: Caller) -> EndpointOut:
    changes = {
        k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k == "description"
    }
    return EndpointOut.of(webhooks.update_endpoint(ctx, actor, endpoint_id, changes))


@router.delete("/webhook_endpoints/{endpoint_id}", status_code=204, response_class=Response)
def delete_endpoint(endpoint_id: Id, ctx: Ctx, actor: Caller) -> Response:
    webhooks.delete_endpoint(ctx, actor, endpoint_id)
    return Response(status_code=204)


@router.get("/webhook_endpoints/{endpoint_id}/deliveries", response_model=PageOut[DeliveryOut])
def list_endpoint_deliveries(
    endpoint_id: Id, ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None
) -> PageOut[DeliveryOut]:
    page = webhooks.list_deliveries(ctx, actor, endpoint_id=endpoint_id, limit=limit, cursor=cursor)
    return page_of(page, DeliveryOut.of)


@router.get("/webhook_deliveries/{delivery_id}", response_model=DeliveryWithAttemptsOut)
def get_delivery(delivery_id: Id, ctx: Ctx, actor: Caller) -> DeliveryWithAttemptsOut:
    delivery, attempts = webhooks.get_delivery(ctx, actor, delivery_id)
    return DeliveryWithAttemptsOut(
        **DeliveryOut.of(delivery).model_dump(), attempt_log=[AttemptOut.of(a) for a in attempts]
    )


@router.post("/webhook_deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: Id, ctx: Ctx, actor: Caller) -> DeliveryOut:
    return DeliveryOut.of(webhooks.replay_delivery(ctx, actor, delivery_id))
