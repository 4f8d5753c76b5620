"""Who did what: the actor of a write and the before/after difference the audit log keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class ActorType(StrEnum):
    API_KEY = "api_key"
    USER = "user"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """The caller of a use case, always inside exactly one tenant."""

    tenant_id: str
    type: ActorType
    id: str
    request_id: str | None = None


def system_actor(tenant_id: str, what: str = "worker") -> Actor:
    return Actor(tenant_id=tenant_id, type=ActorType.SYSTEM, id=what)


Changes = dict[str, dict[str, Any]]


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Changes:
    """Field-by-field difference of two JSON-shaped documents: {field: {"before": x, "after": y}}.

    A created object has before None, a deleted one after None; nested documents are compared whole,
    which keeps entries readable (an address change shows both addresses).
    """
    old = before or {}
    new = after or {}
    changes: Changes = {}
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was != now:
            changes[key] = {"before": was, "after": now}
    return changes


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    tenant_id: str
    id: str
    at: datetime
    actor_type: ActorType
    actor_id: str
    action: str
    object_type: str
    object_id: str
    changes: Changes
    request_id: str | None = None
