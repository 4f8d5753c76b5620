"""Who may call: API keys (shown once, stored as a hash) and staff users with roles."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kassa.core.errors import DomainError

# kassa_<12 base32 chars: the public prefix>_<43 url-safe chars: 256 random bits>
_KEY = re.compile(r"^(kassa_[a-z2-7]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    tenant_id: str
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable_at(self, at: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


def split_key(token: str) -> tuple[str, str] | None:
    match = _KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    # SHA-256, not a password hash: the secret is 256 random bits, so brute force is hopeless, and a
    # slow hash (argon2) would cost ~50 ms on every request. Staff passwords get argon2 with the console.
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    SUPPORT = "support"
    READ_ONLY = "read_only"


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    tenant_id: str
    id: str
    email: str
    name: str
    role: Role
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None = None


def role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise DomainError(
            "invalid_role", f"role is one of {', '.join(r.value for r in Role)}.", "role"
        ) from None


class Permission(StrEnum):
    """What a console page or action needs. Every role may view; each action names who may take it."""

    VIEW = "view"  # every page: lists, the dashboard, the customer 360
    BILLING = "billing"  # money: credit notes, payment retries, reconciliation, catalog, bill runs, imports
    CUSTOMER_CARE = "customer_care"  # the customer's account: plan changes, pause, cancel, tickets, disputes
    ADMINISTRATION = "administration"  # staff users and tenant settings


PERMITTED: dict[Permission, frozenset[Role]] = {
    Permission.VIEW: frozenset(Role),
    Permission.BILLING: frozenset({Role.ADMIN, Role.FINANCE}),
    Permission.CUSTOMER_CARE: frozenset({Role.ADMIN, Role.FINANCE, Role.SUPPORT}),
    Permission.ADMINISTRATION: frozenset({Role.ADMIN}),
}


def may(role: Role, permission: Permission) -> bool:
    return role in PERMITTED[permission]
