"""Who did what: the actor of a write and the before/after difference the audit log keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from numbers import Number
from typing import Any


class ActorType(StrEnum):
    API_KEY = "api_key"
    USER = "user"
    SYSTEM = "system"
    CUSTOMER = "customer"  # an end customer in the portal, acting on their own account only


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
        if not _same(was, now):
            changes[key] = {"before": was, "after": now}
    return changes


def _same(a: Any, b: Any) -> bool:
    """JSON equality. Python's `==` says 0 == False and 1 == True, but false -> 0 is a change to record."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):  # both a JSON array
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return _kind(a) == _kind(b) and bool(a == b)


def _kind(value: Any) -> object:
    if isinstance(value, bool):
        return bool
    if isinstance(value, Number):
        return Number
    if isinstance(value, str):
        return str  # also a StrEnum member: it is its string on the wire
    return type(value)


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
