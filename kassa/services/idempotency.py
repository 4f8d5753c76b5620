"""Idempotency-Key on POST: the same key and body replays the first response; the same key with another
body is a conflict; a key is forgotten after the configured time (24 h by default)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from kassa.core.errors import Conflict, DomainError
from kassa.services.context import ServiceContext

_KEY = re.compile(r"[!-~]{1,255}")  # as the OpenAPI document declares it (a UUID fits)


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    status: int
    body: bytes
    content_type: str | None


def begin(ctx: ServiceContext, tenant_id: str, key: str, request_hash: str) -> Replay | None:
    """None: a new request, go ahead (then `complete` or `release`). A Replay: answer with it."""
    if not _KEY.fullmatch(key):
        raise DomainError(
            "invalid_idempotency_key",
            "An Idempotency-Key is 1 to 255 visible ASCII characters (no spaces).",
            None,
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        claimed = uow.idempotency_keys.claim(
            tenant_id, key, request_hash, now, now + timedelta(hours=ctx.settings.idempotency_ttl_hours)
        )
        stored = None if claimed else uow.idempotency_keys.find(tenant_id, key)
        uow.commit()
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise Conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request; use a new key.",
            None,
        )
    if not stored.done or stored.status is None:
        raise Conflict(
            "idempotency_key_in_use", "A request with this Idempotency-Key is still in progress.", None
        )
    return Replay(status=stored.status, body=stored.body or b"", content_type=stored.content_type)


def complete(
    ctx: ServiceContext, tenant_id: str, key: str, status: int, body: bytes, content_type: str | None
) -> None:
    with ctx.uow() as uow:
        uow.idempotency_keys.complete(tenant_id, key, status, body, content_type)
        uow.commit()


def release(ctx: ServiceContext, tenant_id: str, key: str) -> None:
    with ctx.uow() as uow:
        uow.idempotency_keys.release(tenant_id, key)
        uow.commit()


def purge_expired(ctx: ServiceContext) -> int:
    with ctx.uow() as uow:
        count = uow.idempotency_keys.purge_expired(ctx.clock.now())
        uow.commit()
    return count
