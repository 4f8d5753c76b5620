"""The outbox: an event is written with the change that caused it, and fanned out to the webhook
endpoints that want it in the same transaction, so nothing is emitted for a change that rolled back
and nothing is lost for one that committed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kassa.core.events import Event
from kassa.core.pages import Page, check_limit
from kassa.core.webhooks import WebhookDelivery, matches
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

# Work that follows an event in the same transaction (provisioning steps, lifecycle messages, entitlement
# cache invalidation): registered by the services that own it, so the emitting service knows none of them.
ON_EMIT: list[Callable[[ServiceContext, UnitOfWork, Event], None]] = []


def emit(
    ctx: ServiceContext,
    uow: UnitOfWork,
    tenant_id: str,
    type: str,
    *,
    object_type: str,
    object_id: str,
    data: Mapping[str, Any],
    at: datetime,
    customer_id: str | None = None,
) -> Event:
    event = Event(
        tenant_id=tenant_id,
        id=ctx.new_id("evt"),
        type=type,
        occurred_at=at,
        object_type=object_type,
        object_id=object_id,
        customer_id=customer_id,
        data=data,
    )
    uow.events.add(event)
    now = ctx.clock.now()  # delivery runs on real time even for a customer on a test clock
    uow.webhook_deliveries.add_all(
        [
            WebhookDelivery(
                tenant_id=tenant_id,
                id=ctx.new_id("whd"),
                endpoint_id=endpoint.id,
                event_id=event.id,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for endpoint in uow.webhook_endpoints.enabled(tenant_id)
            if matches(endpoint.enabled_events, type)
        ]
    )
    for hook in ON_EMIT:
        hook(ctx, uow, event)
    return event


def list_events(
    ctx: ServiceContext,
    tenant_id: str,
    *,
    type: str | None = None,
    customer_id: str | None = None,
    object_id: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Event]:
    with ctx.uow(read_only=True) as uow:
        if customer_id is not None:
            uow.customers.get(tenant_id, customer_id)  # 404 for another tenant's customer
        return uow.events.list(
            tenant_id,
            type=type,
            customer_id=customer_id,
            object_id=object_id,
            limit=check_limit(limit),
            cursor=cursor,
        )


def get_event(ctx: ServiceContext, tenant_id: str, event_id: str) -> Event:
    with ctx.uow(read_only=True) as uow:
        return uow.events.get(tenant_id, event_id)
