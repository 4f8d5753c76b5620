"""Webhook endpoints and the delivery of events to them: signed, retried for about three days with
backoff, every attempt recorded, an endpoint disabled after persistent failure, replay by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from kassa.core.audit import Actor
from kassa.core.errors import Conflict, DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.pages import Page, check_limit
from kassa.core.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    networks_within,
    new_secret_text,
    next_attempt_at,
    should_disable,
    validate_event_filter,
)
from kassa.services import audit, events
from kassa.services.context import ServiceContext

# A claimed delivery is not offered to another worker for this long; if the worker dies mid-send the
# delivery is sent again after it (at least once: receivers dedupe on the webhook-id header).
CLAIM = timedelta(minutes=1)
SEND_TIME = timedelta(seconds=15)  # the sender's 10 s timeout and some


def _view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled_events": list(endpoint.enabled_events),
        "status": endpoint.status.value,
    }


def _description(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > 500):
        raise DomainError("invalid_text", "description is at most 500 characters.", "description")
    return value


def allowed_networks(ctx: ServiceContext, tenant_networks: tuple[str, ...]) -> tuple[str, ...]:
    """What a tenant's allow-list opens today: only what the operator still permits."""
    return networks_within(tenant_networks, ctx.settings.webhook_permitted_networks)


def check_url(ctx: ServiceContext, tenant_id: str, url: str) -> None:
    """Before the write transaction: the check resolves the host, and a DNS wait must not hold a lock."""
    with ctx.uow(read_only=True) as uow:
        settings = uow.tenants.get(tenant_id).settings
    ctx.webhooks.check_url(url, allowed_networks(ctx, settings.webhook_allowed_networks))


def create_endpoint(
    ctx: ServiceContext, actor: Actor, *, url: str, enabled_events: list[str], description: str | None = None
) -> WebhookEndpoint:
    now = ctx.clock.now()
    filters = validate_event_filter(enabled_events)
    check_url(ctx, actor.tenant_id, url)
    with ctx.uow() as uow:
        endpoint = WebhookEndpoint(
            tenant_id=actor.tenant_id,
            id=ctx.new_id("whe"),
            url=url,
            description=_description(description),
            enabled_events=filters,
            secret=new_secret_text(ctx.random_bytes(24)),
            created_at=now,
            updated_at=now,
        )
        uow.webhook_endpoints.add(endpoint)
        audit.changed(
            ctx, uow, actor, EventType.WEBHOOK_ENDPOINT_CREATED, object_type="webhook_endpoint", object_id=endpoint.id,
            before=None, after=_view(endpoint), at=now, data={"id": endpoint.id, **_view(endpoint)},
        )  # fmt: skip
        uow.commit()
    return endpoint


def get_endpoint(ctx: ServiceContext, actor: Actor, endpoint_id: str) -> WebhookEndpoint:
    with ctx.uow(read_only=True) as uow:
        return uow.webhook_endpoints.get(actor.tenant_id, endpoint_id)


def list_endpoints(
    ctx: ServiceContext, actor: Actor, *, limit: int = 20, cursor: str | None = None
) -> Page[WebhookEndpoint]:
    with ctx.uow(read_only=True) as uow:
        return uow.webhook_endpoints.list(actor.tenant_id, limit=check_limit(limit), cursor=cursor)


def update_endpoint(
    ctx: ServiceContext, actor: Actor, endpoint_id: str, changes: dict[str, Any]
) -> WebhookEndpoint:
    unknown = set(changes) - {"url", "enabled_events", "description", "status"}
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown field {name!r}.", name)
    now = ctx.clock.now()
    if "url" in changes:
        check_url(ctx, actor.tenant_id, changes["url"])
    with ctx.uow() as uow:
        endpoint = uow.webhook_endpoints.get(actor.tenant_id, endpoint_id)
        updated = endpoint
        if "url" in changes:
            updated = replace(updated, url=changes["url"])
        if "enabled_events" in changes:
            updated = replace(updated, enabled_events=validate_event_filter(changes["enabled_events"]))
        if "description" in changes:
            updated = replace(updated, description=_description(changes["description"]))
        if "status" in changes:
            try:
                status = EndpointStatus(changes["status"])
            except ValueError:
                raise DomainError("invalid_choice", "status is enabled or disabled.", "status") from None
            if status != endpoint.status:
                updated = replace(
                    updated,
                    status=status,
                    disabled_reason=None if status == EndpointStatus.ENABLED else "disabled by hand",
                    failing_since=None,
                )
                if status == EndpointStatus.DISABLED:
                    uow.webhook_deliveries.fail_pending(actor.tenant_id, endpoint_id, now)
        if updated != endpoint:
            updated = replace(updated, updated_at=now)
            uow.webhook_endpoints.save(updated)
            audit.changed(
                ctx, uow, actor, EventType.WEBHOOK_ENDPOINT_UPDATED, object_type="webhook_endpoint", object_id=endpoint_id,
                before=_view(endpoint), after=_view(updated), at=now, data={"id": endpoint_id, **_view(updated)},
            )  # fmt: skip
        uow.commit()
    return updated


def delete_endpoint(ctx: ServiceContext, actor: Actor, endpoint_id: str) -> None:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        endpoint = uow.webhook_endpoints.get(actor.tenant_id, endpoint_id)
        uow.webhook_endpoints.delete(actor.tenant_id, endpoint_id)
        audit.changed(
            ctx, uow, actor, EventType.WEBHOOK_ENDPOINT_DELETED, object_type="webhook_endpoint", object_id=endpoint_id,
            before=_view(endpoint), after=None, at=now, data={"id": endpoint_id, **_view(endpoint)},
        )  # fmt: skip
        uow.commit()


def list_deliveries(
    ctx: ServiceContext,
    actor: Actor,
    *,
    endpoint_id: str | None = None,
    event_id: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[WebhookDelivery]:
    with ctx.uow(read_only=True) as uow:
        if endpoint_id is not None:
            uow.webhook_endpoints.get(actor.tenant_id, endpoint_id)
        return uow.webhook_deliveries.list(
            actor.tenant_id,
            endpoint_id=endpoint_id,
            event_id=event_id,
            limit=check_limit(limit),
            cursor=cursor,
        )


def get_delivery(
    ctx: ServiceContext, actor: Actor, delivery_id: str
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    with ctx.uow(read_only=True) as uow:
        delivery = uow.webhook_deliveries.get(actor.tenant_id, delivery_id)
        return delivery, uow.webhook_attempts.for_delivery(actor.tenant_id, delivery_id)


def replay_delivery(ctx: ServiceContext, actor: Actor, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again now, with a fresh retry schedule (same event id, so receivers can dedupe).
    `attempts` counts the current round; every attempt ever made stays listed."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        delivery = uow.webhook_deliveries.get(actor.tenant_id, delivery_id)
        endpoint = uow.webhook_endpoints.get(actor.tenant_id, delivery.endpoint_id)
        if endpoint.status != EndpointStatus.ENABLED:
            raise Conflict("endpoint_disabled", "Enable the endpoint before replaying its deliveries.", None)
        replayed = replace(
            delivery,
            status=DeliveryStatus.PENDING,
            attempts=0,
            first_attempt_at=None,
            next_attempt_at=now,
            updated_at=now,
        )
        uow.webhook_deliveries.save(replayed)
        audit.changed(
            ctx, uow, actor, EventType.WEBHOOK_DELIVERY_REPLAYED, object_type="webhook_delivery", object_id=delivery_id,
            before={"status": delivery.status.value}, after={"status": replayed.status.value}, at=now,
            data={"id": delivery_id, "endpoint_id": delivery.endpoint_id, "event_id": delivery.event_id},
        )  # fmt: skip
        uow.commit()
    return replayed


def deliver_due(ctx: ServiceContext, *, limit: int = 20) -> int:
    """The worker's share: send the deliveries that are due. Returns how many were attempted."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        due = uow.webhook_deliveries.claim_due(now, limit)
        # Each claim lasts until this worker can have reached it (sends are one after another, each up
        # to SEND_TIME), so another worker does not take over a delivery still waiting its turn here.
        claimed = [replace(d, next_attempt_at=now + CLAIM + SEND_TIME * (i + 1)) for i, d in enumerate(due)]
        for delivery in claimed:
            uow.webhook_deliveries.save(delivery)
        uow.commit()
    for delivery in claimed:
        try:
            _attempt(ctx, delivery)
        except NotFound:
            continue  # its endpoint was deleted since the claim, and the delivery with it
    return len(due)


def _attempt(ctx: ServiceContext, delivery: WebhookDelivery) -> None:
    with ctx.uow(read_only=True) as uow:
        endpoint = uow.webhook_endpoints.get(delivery.tenant_id, delivery.endpoint_id)
        event = uow.events.get(delivery.tenant_id, delivery.event_id)
        settings = uow.tenants.get(delivery.tenant_id).settings
    if endpoint.status != EndpointStatus.ENABLED:
        # Disabled since the claim: it stops like the endpoint's other pending deliveries (replay resends it).
        with ctx.uow() as uow:
            uow.webhook_deliveries.fail_pending(delivery.tenant_id, delivery.endpoint_id, ctx.clock.now())
            uow.commit()
        return
    attempted_at = ctx.clock.now()
    result = ctx.webhooks.send(
        url=endpoint.url,
        secret=endpoint.secret,
        message_id=event.id,
        timestamp=attempted_at,
        payload=json.dumps(event.to_json(), separators=(",", ":")).encode(),
        allowed_networks=allowed_networks(ctx, settings.webhook_allowed_networks),
    )
    now = ctx.clock.now()
    first = delivery.first_attempt_at or attempted_at
    attempts = delivery.attempts + 1
    with ctx.uow() as uow:
        # Locked, so a delete of the endpoint either went first (NotFound) or waits for this attempt's record.
        now_stored = uow.webhook_deliveries.get(delivery.tenant_id, delivery.id, for_update=True)
        current = uow.webhook_endpoints.get(delivery.tenant_id, delivery.endpoint_id)
        # Still ours? A worker that took over a lapsed claim (and recorded its own attempt), or a replay by
        # hand, has moved it on: this attempt is recorded, but must not overwrite the newer state.
        ours = (now_stored.attempts, now_stored.first_attempt_at) == (
            delivery.attempts,
            delivery.first_attempt_at,
        )
        uow.webhook_attempts.add(
            WebhookAttempt(
                tenant_id=delivery.tenant_id,
                id=ctx.new_id("wha"),
                delivery_id=delivery.id,
                attempted_at=attempted_at,
                ok=result.ok,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
                response_excerpt=result.response_excerpt,
            )
        )
        if result.ok:
            status, next_at = DeliveryStatus.SUCCEEDED, None
        else:
            next_at = next_attempt_at(first, attempts)
            if current.status != EndpointStatus.ENABLED:
                next_at = None  # disabled during the send: stop with its other pending deliveries
            status = DeliveryStatus.PENDING if next_at else DeliveryStatus.FAILED
        if ours:
            uow.webhook_deliveries.save(
                replace(
                    delivery,
                    status=status,
                    attempts=attempts,
                    first_attempt_at=first,
                    next_attempt_at=next_at,
                    updated_at=now,
                )
            )
        if current.status != EndpointStatus.ENABLED:
            pass  # disabled during the send: its failure bookkeeping starts again when it is enabled
        elif result.ok and current.failing_since is not None:
            uow.webhook_endpoints.save(replace(current, failing_since=None, updated_at=now))
        elif not result.ok:
            failing_since = current.failing_since or attempted_at
            if should_disable(failing_since, now):
                reason = (
                    f"every delivery failed since {failing_since.isoformat()}; last error: {result.error}"
                )
                disabled = replace(
                    current,
                    status=EndpointStatus.DISABLED,
                    disabled_reason=reason,
                    failing_since=failing_since,
                    updated_at=now,
                )
                uow.webhook_endpoints.save(disabled)
                uow.webhook_deliveries.fail_pending(delivery.tenant_id, delivery.endpoint_id, now)
                events.emit(
                    ctx, uow, delivery.tenant_id, EventType.WEBHOOK_ENDPOINT_DISABLED, object_type="webhook_endpoint",
                    object_id=current.id, data={"id": current.id, "url": current.url, "reason": reason}, at=now,
                )  # fmt: skip
            elif current.failing_since is None:
                uow.webhook_endpoints.save(replace(current, failing_since=failing_since, updated_at=now))
        uow.commit()
