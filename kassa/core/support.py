"""Support tickets and their service levels (issue 9): channels, priorities, the status a ticket moves
through, SLA policies (targets per priority in business hours, see core/business_hours.py) and the
deadlines and breach warnings they give a ticket, and what logged time costs.

A ticket's deadlines count from the moment it was opened, in its policy's working time: the first staff
response is due `first_response_minutes` after, the resolution `resolution_minutes` after. A warning
falls when `warn_percent` % of a target has passed. The clocks do not pause while a ticket is pending:
a customer who is slow to answer is part of the service the policy promises, and a pausing clock makes
"due at" a moving target nobody can schedule against. See docs/support.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from kassa.core.business_hours import (
    MAX_TARGET_MINUTES,
    BusinessCalendar,
    add_business_time,
    calendar_from_doc,
    warning_at,
)
from kassa.core.clock import utc
from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode, currency_code

ERROR = "invalid_sla_policy"
E = TypeVar("E", bound=StrEnum)
DEFAULT_WARN_PERCENT = 80
MAX_NAME = 200
MAX_SUBJECT = 300
MAX_DESCRIPTION = 10_000
MAX_LOGGED_MINUTES = 24 * 60  # one entry is at most a day of someone's time
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_FIELDS = {"name", "calendar", "targets", "warn_percent", "cost_per_hour"}


class TicketChannel(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"
    WEB = "web"
    SOCIAL = "social"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    NEW = "new"  # nobody has looked at it yet
    OPEN = "open"  # being worked on
    PENDING = "pending"  # waiting for the customer
    SOLVED = "solved"  # resolved; the customer may still reopen it
    CLOSED = "closed"  # final


# Solved reopens (the customer says it is not fixed); closed is final, so a closed ticket's record holds.
TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED, TicketStatus.CLOSED}),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.SOLVED, TicketStatus.CLOSED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.SOLVED, TicketStatus.CLOSED}),
    TicketStatus.SOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}  # fmt: skip
RESOLVED = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})


def check_transition(current: TicketStatus, new: TicketStatus) -> None:
    """Refuse a move the status chart does not allow; staying put is allowed (a PATCH sent twice)."""
    if new is not current and new not in TRANSITIONS[current]:
        raise DomainError("invalid_status_transition", f"A {current} ticket cannot become {new}.", "status")


def channel(value: Any, field: str = "channel") -> TicketChannel:
    return member(TicketChannel, value, field, "invalid_channel")


def priority(value: Any, field: str = "priority") -> TicketPriority:
    return member(TicketPriority, value, field, "invalid_priority")


def status(value: Any, field: str = "status") -> TicketStatus:
    return member(TicketStatus, value, field, "invalid_status")


def member(enum: type[E], value: Any, field: str, code: str) -> E:
    if isinstance(value, str) and value in enum.__members__.values():
        return enum(value)
    raise DomainError(code, f"{field} is one of {', '.join(enum)}.", field)


def text(value: Any, field: str, *, limit: int, required: bool) -> str | None:
    """A trimmed text of at most `limit` characters; blank is None, refused when `required`."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
        raise DomainError(
            "invalid_text", f"{field} is a text of {1 if required else 0} to {limit} characters.", field
        )
    return value.strip() or None


def logged_minutes(value: Any, field: str = "minutes") -> int:
    """Time logged at once: whole minutes, at least 1 and at most a day (a typo of 600 for 60 is caught)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LOGGED_MINUTES:
        raise DomainError(
            "invalid_minutes", f"minutes is a whole number from 1 to {MAX_LOGGED_MINUTES}.", field
        )
    return value


class SlaTargetKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaTarget:
    first_response_minutes: int
    resolution_minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaPolicy:
    """Targets for every priority, counted in `calendar`'s working time; `cost_per_hour` prices the time
    logged on a ticket under this policy (None: time is recorded at no cost)."""

    code: str
    name: str
    calendar: BusinessCalendar
    targets: Mapping[TicketPriority, SlaTarget]
    warn_percent: int
    cost_per_hour: Money | None = None

    def to_doc(self) -> dict[str, Any]:
        """The document in normal form (priorities low to urgent); sla_policy_from_doc reads it back."""
        return {
            "name": self.name,
            "calendar": self.calendar.to_doc(),
            "targets": {
                p.value: {
                    "first_response_minutes": t.first_response_minutes,
                    "resolution_minutes": t.resolution_minutes,
                }
                for p in TicketPriority
                for t in (self.targets[p],)
            },
            "warn_percent": self.warn_percent,
            "cost_per_hour": None
            if self.cost_per_hour is None
            else {"amount": self.cost_per_hour.amount_text(), "currency": self.cost_per_hour.currency},
        }


def _error(field: str | None, message: str) -> DomainError:
    return DomainError(ERROR, message, field)


def sla_policy_from_doc(code: str, doc: Any) -> SlaPolicy:
    """A policy from its JSON document: {name, calendar (see calendar_from_doc), targets: {"urgent":
    {first_response_minutes, resolution_minutes}, ...} for all four priorities, warn_percent? (0-100,
    default 80), cost_per_hour? {amount, currency}}. The first problem is reported with its path (e.g.
    `targets.low.resolution_minutes`, `calendar.hours.monday.0.end`) and code `invalid_sla_policy`."""
    if not isinstance(code, str) or not _CODE.fullmatch(code) or not code.isascii():
        raise _error(
            "code", "A policy code is 1 to 64 letters, digits, '_' or '-', starting with a letter or digit."
        )
    if not isinstance(doc, Mapping):
        raise _error(
            None, "An SLA policy is an object: {name, calendar, targets, warn_percent, cost_per_hour}."
        )
    for key in doc:
        if key not in _FIELDS:
            raise _error(str(key), f"Unknown field {key!r}.")
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME or len(name) > MAX_NAME:
        raise _error("name", f"name is a text of 1 to {MAX_NAME} characters.")
    if "calendar" not in doc:
        raise _error("calendar", "calendar is required.")
    try:
        calendar = calendar_from_doc(doc["calendar"])
    except DomainError as error:
        raise _error(f"calendar.{error.field}" if error.field else "calendar", error.message) from None
    warn = doc.get("warn_percent", DEFAULT_WARN_PERCENT)
    if isinstance(warn, bool) or not isinstance(warn, int) or not 0 <= warn <= 100:
        raise _error("warn_percent", "warn_percent is a whole number from 0 to 100.")
    return SlaPolicy(
        code=code,
        name=name,
        calendar=calendar,
        targets=_targets(doc.get("targets")),
        warn_percent=warn,
        cost_per_hour=_rate(doc.get("cost_per_hour")),
    )


def _targets(value: Any) -> dict[TicketPriority, SlaTarget]:
    names = ", ".join(TicketPriority)
    if not isinstance(value, Mapping):
        raise _error(
            "targets",
            f"targets is an object of {{first_response_minutes, resolution_minutes}} by priority: {names}.",
        )
    for key in value:
        if key not in TicketPriority.__members__.values():
            raise _error(f"targets.{key}", f"A priority is one of {names}.")
    targets = {}
    for priority in TicketPriority:
        if priority.value not in value:
            raise _error(f"targets.{priority}", f"Every priority needs targets: {priority} is missing.")
        targets[priority] = _target(value[priority.value], f"targets.{priority}")
    return targets


def _target(value: Any, path: str) -> SlaTarget:
    if not isinstance(value, Mapping):
        raise _error(path, "A target is an object: {first_response_minutes, resolution_minutes}.")
    for key in value:
        if key not in ("first_response_minutes", "resolution_minutes"):
            raise _error(f"{path}.{key}", f"Unknown field {key!r}.")
    minutes = {}
    for name in ("first_response_minutes", "resolution_minutes"):
        if name not in value:
            raise _error(f"{path}.{name}", f"{name} is required.")
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_TARGET_MINUTES:
            raise _error(f"{path}.{name}", f"{name} is a whole number from 0 to {MAX_TARGET_MINUTES}.")
        minutes[name] = number
    if minutes["resolution_minutes"] < minutes["first_response_minutes"]:
        # resolving answers the customer, so a resolution due before the first response is a typo
        raise _error(
            f"{path}.resolution_minutes", "The resolution target is at least the first response target."
        )
    return SlaTarget(**minutes)


def _rate(value: Any) -> Money | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise _error("cost_per_hour", 'cost_per_hour is money: {"amount": "60.00", "currency": "EUR"}.')
    try:
        code = currency_code(value["currency"], "cost_per_hour.currency")
        rate = Money.parse(value["amount"], code, field="cost_per_hour.amount")
    except DomainError as error:
        raise _error(error.field, error.message) from None
    if rate.amount < 0:
        raise _error("cost_per_hour.amount", "cost_per_hour is zero or more.")
    return rate


# ---- deadlines ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Deadlines:
    """When each target is due and when its warning falls (UTC)."""

    first_response_due: datetime
    first_response_warning: datetime
    resolution_due: datetime
    resolution_warning: datetime

    def due(self, target: SlaTargetKind) -> datetime:
        return self.first_response_due if target is SlaTargetKind.FIRST_RESPONSE else self.resolution_due

    def warning(self, target: SlaTargetKind) -> datetime:
        if target is SlaTargetKind.FIRST_RESPONSE:
            return self.first_response_warning
        return self.resolution_warning

    def to_json(self) -> dict[str, str]:
        return {
            "first_response_due_at": _iso(self.first_response_due),
            "first_response_warning_at": _iso(self.first_response_warning),
            "resolution_due_at": _iso(self.resolution_due),
            "resolution_warning_at": _iso(self.resolution_warning),
        }


def deadlines(policy: SlaPolicy, priority: TicketPriority, opened_at: datetime) -> Deadlines:
    """The deadlines of a ticket of `priority` opened at `opened_at` under `policy`."""
    target = policy.targets[priority]
    calendar, warn = policy.calendar, policy.warn_percent
    return Deadlines(
        first_response_due=add_business_time(calendar, opened_at, target.first_response_minutes),
        first_response_warning=warning_at(calendar, opened_at, target.first_response_minutes, warn),
        resolution_due=add_business_time(calendar, opened_at, target.resolution_minutes),
        resolution_warning=warning_at(calendar, opened_at, target.resolution_minutes, warn),
    )


def is_late(due: datetime | None, done_at: datetime) -> bool:
    """A target met at its deadline is met in time; a ticket without an SLA is never late."""
    return due is not None and utc(done_at) > utc(due)


def time_cost(minutes: int, cost_per_hour: Money | None, currency: str) -> Money:
    """What `minutes` of an agent's time cost at `cost_per_hour`: minutes x rate / 60, rounded once,
    half-up, to the rate's currency; without a rate nothing, in `currency` (the customer's)."""
    if cost_per_hour is None:
        return Money.zero(currency)
    return Money.rounded(
        cost_per_hour.amount * Decimal(minutes) / 60, cost_per_hour.currency, RoundingMode.HALF_UP
    )


# ---- the ticket -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket:
    tenant_id: str
    id: str
    customer_id: str
    subject: str
    description: str | None = None
    channel: TicketChannel
    priority: TicketPriority
    status: TicketStatus
    assignee_id: str | None = None
    sla_policy: str | None = None
    opened_at: datetime
    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_breached: bool = False
    resolution_breached: bool = False
    minutes_spent: int = 0
    created_at: datetime
    updated_at: datetime

    def met_at(self, target: SlaTargetKind) -> datetime | None:
        """When the target was met, or None while it is not."""
        if target is SlaTargetKind.FIRST_RESPONSE:
            return self.first_responded_at
        return self.resolved_at if self.status in RESOLVED else None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "ticket",
            "customer_id": self.customer_id,
            "subject": self.subject,
            "description": self.description,
            "channel": self.channel.value,
            "priority": self.priority.value,
            "status": self.status.value,
            "assignee_id": self.assignee_id,
            "sla_policy": self.sla_policy,
            "opened_at": _iso(self.opened_at),
            "first_response_due_at": _iso(self.first_response_due_at),
            "resolution_due_at": _iso(self.resolution_due_at),
            "first_responded_at": _iso(self.first_responded_at),
            "resolved_at": _iso(self.resolved_at),
            "first_response_breached": self.first_response_breached,
            "resolution_breached": self.resolution_breached,
            "minutes_spent": self.minutes_spent,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


def _iso(at: datetime | None) -> Any:
    return None if at is None else utc(at).isoformat().replace("+00:00", "Z")
