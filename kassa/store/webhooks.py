"""Webhook endpoints, the deliveries of events to them, and every attempt made."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.pages import Page
from kassa.core.webhooks import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from kassa.store.pages import page
from kassa.store.tables import webhook_attempts, webhook_deliveries, webhook_endpoints


def _endpoint(row: sa.Row[Any]) -> WebhookEndpoint:
    return WebhookEndpoint(
        tenant_id=row.tenant_id,
        id=row.id,
        url=row.url,
        description=row.description,
        enabled_events=tuple(row.enabled_events),
        secret=row.secret,
        status=EndpointStatus(row.status),
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _endpoint_values(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "tenant_id": e.tenant_id,
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "enabled_events": list(e.enabled_events),
        "secret": e.secret,
        "status": e.status.value,
        "disabled_reason": e.disabled_reason,
        "failing_since": e.failing_since,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


class WebhookEndpoints:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, endpoint: WebhookEndpoint) -> None:
        self.conn.execute(webhook_endpoints.insert().values(**_endpoint_values(endpoint)))

    def save(self, endpoint: WebhookEndpoint) -> None:
        c = webhook_endpoints.c
        self.conn.execute(
            webhook_endpoints.update()
            .where(c.tenant_id == endpoint.tenant_id, c.id == endpoint.id)
            .values(**_endpoint_values(endpoint))
        )

    def get(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
        c = webhook_endpoints.c
        row = self.conn.execute(
            sa.select(webhook_endpoints).where(c.tenant_id == tenant_id, c.id == endpoint_id)
        ).first()
        if row is None:
            raise NotFound("webhook_endpoint", endpoint_id)
        return _endpoint(row)

    def enabled(self, tenant_id: str) -> list[WebhookEndpoint]:
        c = webhook_endpoints.c
        query = sa.select(webhook_endpoints).where(
            c.tenant_id == tenant_id, c.status == EndpointStatus.ENABLED.value
        )
        return [_endpoint(row) for row in self.conn.execute(query)]

    def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[WebhookEndpoint]:
        query = sa.select(webhook_endpoints).where(webhook_endpoints.c.tenant_id == tenant_id)
        return page(self.conn, query, webhook_endpoints.c.id, limit=limit, cursor=cursor, to_item=_endpoint)

    def delete(self, tenant_id: str, endpoint_id: str) -> None:
        c = webhook_endpoints.c
        attempts = webhook_attempts.c
        deliveries = webhook_deliveries.c
        delivery_ids = sa.select(deliveries.id).where(
            deliveries.tenant_id == tenant_id, deliveries.endpoint_id == endpoint_id
        )
        self.conn.execute(
            webhook_attempts.delete().where(
                attempts.tenant_id == tenant_id, attempts.delivery_id.in_(delivery_ids)
            )
        )
        self.conn.execute(
            webhook_deliveries.delete().where(
                deliveries.tenant_id == tenant_id, deliveries.endpoint_id == endpoint_id
            )
        )
        self.conn.execute(webhook_endpoints.delete().where(c.tenant_id == tenant_id, c.id == endpoint_id))


def _delivery(row: sa.Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        tenant_id=row.tenant_id,
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        first_attempt_at=row.first_attempt_at,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _delivery_values(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "tenant_id": d.tenant_id,
        "id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "status": d.status.value,
        "attempts": d.attempts,
        "first_attempt_at": d.first_attempt_at,
        "next_attempt_at": d.next_attempt_at,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


class WebhookDeliveries:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add_all(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if deliveries:
            self.conn.execute(webhook_deliveries.insert(), [_delivery_values(d) for d in deliveries])

    def save(self, delivery: WebhookDelivery) -> None:
        c = webhook_deliveries.c
        self.conn.execute(
            webhook_deliveries.update()
            .where(c.tenant_id == delivery.tenant_id, c.id == delivery.id)
            .values(**_delivery_values(delivery))
        )

    def get(self, tenant_id: str, delivery_id: str, *, for_update: bool = False) -> WebhookDelivery:
        c = webhook_deliveries.c
        query = sa.select(webhook_deliveries).where(c.tenant_id == tenant_id, c.id == delivery_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("webhook_delivery", delivery_id)
        return _delivery(row)

    def claim_due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Pending deliveries whose attempt is due; on PostgreSQL rows another worker holds are skipped."""
        c = webhook_deliveries.c
        query = (
            sa.select(webhook_deliveries)
            .where(c.status == DeliveryStatus.PENDING.value, c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return [_delivery(row) for row in self.conn.execute(query)]

    def list(
        self, tenant_id: str, *, endpoint_id: str | None, event_id: str | None, limit: int, cursor: str | None
    ) -> Page[WebhookDelivery]:
        c = webhook_deliveries.c
        query = sa.select(webhook_deliveries).where(c.tenant_id == tenant_id)
        if endpoint_id is not None:
            query = query.where(c.endpoint_id == endpoint_id)
        if event_id is not None:
            query = query.where(c.event_id == event_id)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_delivery)

    def fail_pending(self, tenant_id: str, endpoint_id: str, at: datetime) -> None:
        """A disabled endpoint's pending deliveries stop; replay resends them once it is enabled again."""
        c = webhook_deliveries.c
        self.conn.execute(
            webhook_deliveries.update()
            .where(
                c.tenant_id == tenant_id,
                c.endpoint_id == endpoint_id,
                c.status == DeliveryStatus.PENDING.value,
            )
            .values(status=DeliveryStatus.FAILED.value, next_attempt_at=None, updated_at=at)
        )


def _attempt(row: sa.Row[Any]) -> WebhookAttempt:
    return WebhookAttempt(
        tenant_id=row.tenant_id,
        id=row.id,
        delivery_id=row.delivery_id,
        attempted_at=row.attempted_at,
        ok=row.ok,
        status_code=row.status_code,
        error=row.error,
        duration_ms=row.duration_ms,
        response_excerpt=row.response_excerpt,
    )


class WebhookAttempts:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, attempt: WebhookAttempt) -> None:
        self.conn.execute(
            webhook_attempts.insert().values(
                tenant_id=attempt.tenant_id,
                id=attempt.id,
                delivery_id=attempt.delivery_id,
                attempted_at=attempt.attempted_at,
                ok=attempt.ok,
                status_code=attempt.status_code,
                error=attempt.error,
                duration_ms=attempt.duration_ms,
                response_excerpt=attempt.response_excerpt,
            )
        )

    def for_delivery(self, tenant_id: str, delivery_id: str) -> list[WebhookAttempt]:
        c = webhook_attempts.c
        query = (
            sa.select(webhook_attempts)
            .where(c.tenant_id == tenant_id, c.delivery_id == delivery_id)
            .order_by(c.attempted_at, c.id)
        )
        return [_attempt(row) for row in self.conn.execute(query)]
