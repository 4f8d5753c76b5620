"""Webhook delivery rules: retry schedule, event filters, endpoint disabling, secrets, address policy.

Pure: the worker passes instants and the adapter passes resolved addresses; nothing here does I/O.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

from kassa.core.errors import DomainError

# The Standard Webhooks / Svix schedule after the first attempt, with 10 h steps continued and the
# last step shortened so the final retry lands at about 3 days: receivers get a long outage window
# without us holding deliveries for a week. Total: 3 days 35 min 5 s (72 h 35 min 5 s), 12 retries.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    *(timedelta(hours=10),) * 6,
    timedelta(hours=5),
)

# Long enough to outlast one full retry schedule plus a weekend outage of a receiver's on-call.
ENDPOINT_DISABLE_AFTER = timedelta(days=5)

SECRET_PREFIX = "whsec_"

_WORD = r"[a-z][a-z0-9_]*"
# Exact types are dotted (`customer.created`); a wildcard needs at least one word before `.*`.
_FILTER_ENTRY = re.compile(rf"\*|{_WORD}(\.{_WORD})*\.\*|{_WORD}(\.{_WORD})+")

# The NAT64 well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = IPv6Network("64:ff9b::/96")


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


def next_attempt_at(first_attempt_at: datetime, attempts_made: int) -> datetime | None:
    """When attempt number `attempts_made + 1` is due; None once the schedule is exhausted.

    Anchored to the first attempt, not the previous one, so a slow receiver or a late worker does
    not stretch the schedule. UTC arithmetic: adding hours to a zoned datetime adds wall-clock time,
    which is wrong across a DST change.
    """
    _require_aware("first_attempt_at", first_attempt_at)
    if attempts_made < 0:
        raise ValueError(f"attempts_made must be >= 0, got {attempts_made}")
    if attempts_made > len(RETRY_DELAYS):
        return None
    return first_attempt_at.astimezone(UTC) + sum(RETRY_DELAYS[:attempts_made], timedelta())


def matches(event_filter: Sequence[str], event_type: str) -> bool:
    """Whether an endpoint subscribed with `event_filter` receives `event_type` (empty: everything)."""
    if not event_filter:
        return True
    for entry in event_filter:
        if entry == "*" or entry == event_type:
            return True
        # `customer.*` keeps the dot so it matches `customer.created` but not `customers.created`.
        if entry.endswith(".*") and event_type.startswith(entry[:-1]):
            return True
    return False


def validate_event_filter(entries: Iterable[object]) -> tuple[str, ...]:
    """The filter as stored: each entry checked, duplicates dropped, order kept."""
    if isinstance(entries, str | bytes):
        # A bare string would be iterated character by character and "validate" as nonsense.
        raise DomainError(
            "invalid_event_filter", "enabled_events must be a list of event types.", field="enabled_events"
        )
    result: list[str] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str) or _FILTER_ENTRY.fullmatch(entry) is None:
            raise DomainError(
                "invalid_event_filter",
                f"{entry!r} is not an event type: use `customer.created`, `customer.*` or `*`.",
                field=f"enabled_events.{index}",
            )
        if entry not in result:
            result.append(entry)
    return tuple(result)


def should_disable(first_failure_at: datetime | None, now: datetime) -> bool:
    """True once an endpoint has failed without a single success for ENDPOINT_DISABLE_AFTER."""
    _require_aware("now", now)
    if first_failure_at is None:
        return False
    _require_aware("first_failure_at", first_failure_at)
    return now - first_failure_at >= ENDPOINT_DISABLE_AFTER


def new_secret_text(raw: bytes) -> str:
    """`whsec_<base64>`, the Standard Webhooks secret format; the caller supplies the random bytes."""
    if not 24 <= len(raw) <= 32:
        raise ValueError(f"a webhook secret needs 24 to 32 random bytes, got {len(raw)}")
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def validate_networks(entries: Iterable[object]) -> tuple[str, ...]:
    """CIDR strings in canonical form (`fc00::/7`); a bare address means that single host."""
    if isinstance(entries, str | bytes):
        raise DomainError(
            "invalid_network",
            "webhook_allowed_networks must be a list of CIDR networks.",
            field="webhook_allowed_networks",
        )
    result: list[str] = []
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, str):
                raise ValueError(entry)
            # strict: `10.0.0.1/8` is more likely a typo than a wish for 10.0.0.0/8.
            network = ip_network(entry.strip(), strict=True)
        except ValueError:
            raise DomainError(
                "invalid_network",
                f"{entry!r} is not a network: use CIDR notation with no host bits, e.g. 10.0.0.0/8.",
                field=f"webhook_allowed_networks.{index}",
            ) from None
        if str(network) not in result:
            result.append(str(network))
    return tuple(result)


def _in_networks(address: IPv4Address | IPv6Address, networks: Sequence[str]) -> bool:
    parsed: list[IPv4Network | IPv6Network] = [ip_network(n) for n in networks]
    return any(address in network for network in parsed)  # a v4/v6 mismatch is simply False


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address is a wrapper for, which is where packets actually go."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_address_allowed(address: IPv4Address | IPv6Address, allowed_networks: Sequence[str]) -> bool:
    """Whether a webhook may be sent to `address`: public unicast, or explicitly allowed by the operator.

    Guards against server-side request forgery: a tenant's endpoint must not reach the cloud metadata
    service (169.254.169.254), the database, or anything else on our side of the network.
    """
    if _in_networks(address, allowed_networks):
        return True
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            # ::ffff:127.0.0.1 is loopback in disguise: judge what it wraps.
            return is_address_allowed(embedded, allowed_networks)
    # is_global alone lets multicast (224.0.0.1, ff0e::1) and, on Python 3.11, parts of ::/8 through.
    return address.is_global and not address.is_multicast and not address.is_reserved


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the retry schedule is exhausted; replay by hand resends it


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpoint:
    tenant_id: str
    id: str
    url: str
    description: str | None = None
    enabled_events: tuple[str, ...] = ()
    secret: str
    status: EndpointStatus = EndpointStatus.ENABLED
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookDelivery:
    tenant_id: str
    id: str
    endpoint_id: str
    event_id: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    first_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookAttempt:
    tenant_id: str
    id: str
    delivery_id: str
    attempted_at: datetime
    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
    response_excerpt: str


def networks_within(entries: Sequence[str], permitted: Sequence[str]) -> tuple[str, ...]:
    """The entries that lie inside one of the `permitted` networks (the operator's ceiling on what a
    tenant's allow-list can open)."""
    ceiling = [ip_network(p) for p in permitted]
    inside = []
    for entry in entries:
        network = ip_network(entry)
        if any(network.version == p.version and network.subnet_of(p) for p in ceiling):  # type: ignore[arg-type]
            inside.append(entry)
    return tuple(inside)
