"""Signed, expiring portal links and portal sessions for a tenant's end customer (issue 10).

A token is `payload.signature`, both base64url: the payload names the tenant (whose key checks the
signature), the customer, what the token is for and when it expires; HMAC-SHA256 signs it with a label per
purpose, so a link is never accepted as a session cookie or an unsubscribe token, nor the other way round.
Pure: the key and the instant are passed in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from kassa.core.errors import DomainError

LINK_DEFAULT = timedelta(hours=72)  # long enough for an email read the next working day
LINK_MAX = timedelta(days=30)
SESSION_LIFETIME = timedelta(hours=2)  # a portal visit; the link opens a new one while it is valid


class Purpose(StrEnum):
    LINK = "link"  # the magic link, sent by email or embedded by the tenant's app
    SESSION = "session"  # the portal's cookie after the link was opened


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalClaims:
    tenant_id: str
    customer_id: str
    purpose: Purpose
    expires_at: datetime


class PortalLinkInvalid(DomainError):
    status = 401


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, purpose: Purpose, payload: str) -> str:
    label = f"kassa portal {purpose.value}\0".encode()
    return _b64(hmac.new(key, label + payload.encode(), hashlib.sha256).digest())


def link_lifetime(hours: object) -> timedelta:
    """The lifetime asked for (whole hours, 1 to 720), or the default of 72 hours."""
    if hours is None:
        return LINK_DEFAULT
    if (
        isinstance(hours, bool)
        or not isinstance(hours, int)
        or not 1 <= hours <= LINK_MAX // timedelta(hours=1)
    ):
        raise DomainError(
            "invalid_expiry", f"expires_in_hours is a whole number from 1 to {LINK_MAX // timedelta(hours=1)}.",
            "expires_in_hours",
        )  # fmt: skip
    return timedelta(hours=hours)


def sign(key: bytes, claims: PortalClaims) -> str:
    doc = [claims.tenant_id, claims.customer_id, claims.purpose.value, int(claims.expires_at.timestamp())]
    payload = _b64(json.dumps(doc, separators=(",", ":")).encode())
    return f"{payload}.{_signature(key, claims.purpose, payload)}"


def invalid(purpose: Purpose) -> PortalLinkInvalid:
    if purpose is Purpose.SESSION:
        return PortalLinkInvalid(
            "portal_session_invalid", "Open the portal again from your latest link.", None
        )
    return PortalLinkInvalid("portal_link_invalid", "This portal link is not valid.", "token")


def read(token: str, purpose: Purpose) -> PortalClaims:
    """The token's claims, not yet verified (the tenant they name holds the key)."""
    try:
        payload, _ = token.split(".")
        tenant_id, customer_id, kind, expires = json.loads(_unb64(payload))
        if not all(isinstance(v, str) and 0 < len(v) <= 40 for v in (tenant_id, customer_id)):
            raise ValueError(token)
        if kind != purpose.value or isinstance(expires, bool) or not isinstance(expires, int):
            raise ValueError(token)
        at = datetime.fromtimestamp(expires, UTC)
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError, OSError):
        raise invalid(purpose) from None
    return PortalClaims(tenant_id=tenant_id, customer_id=customer_id, purpose=purpose, expires_at=at)


def verify(key: bytes, token: str, purpose: Purpose, now: datetime) -> PortalClaims:
    """The claims of a token signed with `key` for `purpose` that has not expired at `now`."""
    claims = read(token, purpose)
    payload, signature = token.split(".")
    if not hmac.compare_digest(_signature(key, purpose, payload), signature):
        raise invalid(purpose)
    if now >= claims.expires_at:
        if purpose is Purpose.SESSION:
            raise invalid(purpose)
        raise PortalLinkInvalid(
            "portal_link_expired", "This portal link has expired: ask for a new one.", "token"
        )
    return claims
