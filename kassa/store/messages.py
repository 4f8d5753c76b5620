"""Lifecycle messages: the tenant's templates, customers' preferences, the log of messages, and the tenant's
message settings (with the key its unsubscribe links are signed with). Every query is scoped by tenant."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.messages import (
    Channel,
    Message,
    MessageKind,
    MessageSettings,
    MessageStatus,
    MessageTemplate,
)
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables.lifecycle import message_preferences, message_settings, message_templates, messages


def _template(r: sa.Row[Any]) -> MessageTemplate:
    return MessageTemplate(kind=MessageKind(r.kind), locale=r.locale, subject=r.subject, body_text=r.body_text,
                           body_html=r.body_html, created_at=r.created_at, updated_at=r.updated_at)  # fmt: skip


class MessageTemplates:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def put(self, tenant_id: str, template: MessageTemplate, *, at: datetime) -> None:
        c = message_templates.c
        values = {"subject": template.subject, "body_text": template.body_text,
                  "body_html": template.body_html, "updated_at": at}  # fmt: skip
        updated = self.conn.execute(
            message_templates.update()
            .where(c.tenant_id == tenant_id, c.kind == template.kind.value, c.locale == template.locale)
            .values(**values)
        ).rowcount
        if not updated:
            self.conn.execute(message_templates.insert().values(tenant_id=tenant_id, kind=template.kind.value,
                                                                locale=template.locale, created_at=at, **values))  # fmt: skip

    def find(self, tenant_id: str, kind: MessageKind, locale: str) -> MessageTemplate | None:
        c = message_templates.c
        row = self.conn.execute(
            sa.select(message_templates).where(
                c.tenant_id == tenant_id, c.kind == kind.value, c.locale == locale
            )
        ).first()
        return None if row is None else _template(row)

    def list(self, tenant_id: str, kind: MessageKind | None = None) -> builtins.list[MessageTemplate]:
        c = message_templates.c
        query = sa.select(message_templates).where(c.tenant_id == tenant_id)
        if kind is not None:
            query = query.where(c.kind == kind.value)
        return [_template(r) for r in self.conn.execute(query.order_by(c.kind, c.locale))]

    def delete(self, tenant_id: str, kind: MessageKind, locale: str) -> bool:
        c = message_templates.c
        deleted = self.conn.execute(
            message_templates.delete().where(
                c.tenant_id == tenant_id, c.kind == kind.value, c.locale == locale
            )
        ).rowcount
        return bool(deleted)


class MessagePreferences:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def of(self, tenant_id: str, customer_id: str) -> dict[str, bool]:
        c = message_preferences.c
        rows = self.conn.execute(
            sa.select(c.kind, c.subscribed).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
        )
        return {r.kind: bool(r.subscribed) for r in rows}

    def put(self, tenant_id: str, customer_id: str, kind: str, subscribed: bool, *, at: datetime) -> None:
        c = message_preferences.c
        updated = self.conn.execute(
            message_preferences.update()
            .where(c.tenant_id == tenant_id, c.customer_id == customer_id, c.kind == kind)
            .values(subscribed=subscribed, updated_at=at)
        ).rowcount
        if not updated:
            self.conn.execute(message_preferences.insert().values(tenant_id=tenant_id, customer_id=customer_id,
                                                                  kind=kind, subscribed=subscribed, updated_at=at))  # fmt: skip


def _message(r: sa.Row[Any]) -> Message:
    return Message(tenant_id=r.tenant_id, id=r.id, customer_id=r.customer_id, kind=MessageKind(r.kind),
                   channel=Channel(r.channel), locale=r.locale, recipient=r.recipient, subject=r.subject,
                   status=MessageStatus(r.status), error=r.error, event_id=r.event_id, created_at=r.created_at)  # fmt: skip


class Messages:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, m: Message) -> None:
        self.conn.execute(messages.insert().values(
            tenant_id=m.tenant_id, id=m.id, customer_id=m.customer_id, kind=m.kind.value, channel=m.channel.value,
            locale=m.locale, recipient=m.recipient, subject=m.subject, status=m.status.value, error=m.error,
            event_id=m.event_id, created_at=m.created_at,
        ))  # fmt: skip

    def get(self, tenant_id: str, message_id: str) -> Message:
        c = messages.c
        row = self.conn.execute(
            sa.select(messages).where(c.tenant_id == tenant_id, c.id == message_id)
        ).first()
        if row is None:
            raise NotFound("message", message_id)
        return _message(row)

    def of_event(self, tenant_id: str, event_id: str, kind: MessageKind) -> builtins.list[Message]:
        c = messages.c
        query = sa.select(messages).where(
            c.tenant_id == tenant_id, c.event_id == event_id, c.kind == kind.value
        )
        return [_message(r) for r in self.conn.execute(query)]

    def list(self, tenant_id: str, *, limit: int, cursor: str | None, customer_id: str | None = None,
             kind: MessageKind | None = None, status: MessageStatus | None = None) -> Page[Message]:  # fmt: skip
        """Newest first, optionally of one customer, kind or status."""
        c = messages.c
        query = sa.select(messages).where(c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        if kind is not None:
            query = query.where(c.kind == kind.value)
        if status is not None:
            query = query.where(c.status == status.value)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_message)


class MessageSettingsStore:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def find(self, tenant_id: str) -> tuple[MessageSettings, str] | None:
        """The settings and the signing key, if the tenant has any yet."""
        c = message_settings.c
        row = self.conn.execute(sa.select(message_settings).where(c.tenant_id == tenant_id)).first()
        if row is None:
            return None
        settings = MessageSettings(enabled=bool(row.enabled), trial_ending_days=row.trial_ending_days,
                                   renewal_upcoming_days=row.renewal_upcoming_days,
                                   update_payment_method_url=row.update_payment_method_url,
                                   public_url=row.public_url)  # fmt: skip
        return settings, row.signing_key

    def add(self, tenant_id: str, settings: MessageSettings, signing_key: str, *, at: datetime) -> None:
        """The tenant's first settings. Two first writers at once: one insert fails on the key and its
        transaction (a job) runs again, finding the row."""
        self.conn.execute(message_settings.insert().values(tenant_id=tenant_id, signing_key=signing_key,
                                                           updated_at=at, **settings.to_json()))  # fmt: skip

    def update(self, tenant_id: str, settings: MessageSettings, *, at: datetime) -> None:
        c = message_settings.c
        self.conn.execute(
            message_settings.update()
            .where(c.tenant_id == tenant_id)
            .values(**settings.to_json(), updated_at=at)
        )
