"""Idempotency keys: the first response to a POST, replayed for a retry with the same key and body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kassa.store.tables import idempotency_keys as keys


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRequest:
    request_hash: str
    done: bool
    status: int | None
    body: bytes | None
    content_type: str | None


class IdempotencyKeys:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def claim(self, tenant_id: str, key: str, request_hash: str, now: datetime, expires_at: datetime) -> bool:
        """Take the key for a new request; False when a live entry holds it already."""
        self.conn.execute(
            keys.delete().where(keys.c.tenant_id == tenant_id, keys.c.key == key, keys.c.expires_at <= now)
        )
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    keys.insert().values(
                        tenant_id=tenant_id,
                        key=key,
                        request_hash=request_hash,
                        status="in_progress",
                        created_at=now,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def find(self, tenant_id: str, key: str) -> StoredRequest | None:
        row = self.conn.execute(
            sa.select(keys).where(keys.c.tenant_id == tenant_id, keys.c.key == key)
        ).first()
        if row is None:
            return None
        return StoredRequest(
            request_hash=row.request_hash,
            done=row.status == "done",
            status=row.response_status,
            body=row.response_body,
            content_type=row.response_type,
        )

    def complete(self, tenant_id: str, key: str, status: int, body: bytes, content_type: str | None) -> None:
        self.conn.execute(
            keys.update()
            .where(keys.c.tenant_id == tenant_id, keys.c.key == key)
            .values(status="done", response_status=status, response_body=body, response_type=content_type)
        )

    def release(self, tenant_id: str, key: str) -> None:
        """Forget a key whose request failed on our side, so the client may retry it."""
        self.conn.execute(keys.delete().where(keys.c.tenant_id == tenant_id, keys.c.key == key))

    def purge_expired(self, now: datetime) -> int:
        return self.conn.execute(keys.delete().where(keys.c.expires_at <= now)).rowcount
