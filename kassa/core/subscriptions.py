"""Subscriptions: what one customer bought, from when, and how it changes. Pure rules; the timeline and
the billing schedule that follow from a subscription live in `core.billing_schedule`.

A subscription is its start plus an ordered list of changes, each with the local day it takes effect.
Everything else — its status on a day, its plan, its periods, what it should be billed — is computed from
those and the catalog versions, so a back-dated or future-dated change is just another entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from kassa.core.catalog import Catalog, Plan
from kassa.core.errors import Conflict, DomainError

MAX_QUANTITY = 1_000_000
MAX_TRIAL_DAYS = 730


class Status(StrEnum):
    PENDING = "pending"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAUSED = "paused"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    ENDED = "ended"


# The one state machine: where a status may lead. PAST_DUE is set by collections; the rest follow from
# the timeline on their day. A job that finds several days of transitions at once (a back-dated start, a
# worker that was down) moves along this graph in one step, so the calendar's shortcuts are edges too.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.CANCELED, Status.ENDED}),
    Status.TRIALING: frozenset({Status.ACTIVE, Status.PAUSED, Status.CANCELED, Status.ENDED}),
    Status.ACTIVE: frozenset({Status.PAUSED, Status.PAST_DUE, Status.CANCELED, Status.ENDED}),
    Status.PAUSED: frozenset({Status.ACTIVE, Status.CANCELED, Status.ENDED}),
    Status.PAST_DUE: frozenset({Status.ACTIVE, Status.PAUSED, Status.CANCELED, Status.ENDED}),
    Status.CANCELED: frozenset(),
    Status.ENDED: frozenset(),
}

# What an operation may start from.
ALLOWED: Mapping[str, frozenset[Status]] = {
    "change": frozenset({Status.PENDING, Status.TRIALING, Status.ACTIVE, Status.PAST_DUE}),
    "cancel": frozenset({Status.PENDING, Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.PAST_DUE}),
    "undo the cancellation of": frozenset(
        {Status.PENDING, Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.PAST_DUE}
    ),
    "pause": frozenset({Status.ACTIVE, Status.PAST_DUE}),
    "resume": frozenset({Status.PAUSED}),
}


def check_transition(current: Status, target: Status) -> None:
    if target != current and target not in TRANSITIONS[current]:
        raise Conflict("invalid_transition", f"A {current.value} subscription cannot become {target.value}.")


def require(status: Status, action: str) -> None:
    """Refuse `action` on a subscription in `status` with a 409 that names the state."""
    if status not in ALLOWED[action]:
        raise Conflict("invalid_state", f"The subscription is {status.value}: cannot {action} it.")


class AnchorType(StrEnum):
    ANNIVERSARY = "anniversary"  # periods start on the day billing starts (after any trial)
    DAY_OF_MONTH = "day_of_month"  # calendar billing on a day; the first partial period is prorated
    ACCOUNT = "account"  # the customer's bill cycle day: all its subscriptions renew together


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingAnchor:
    type: AnchorType = AnchorType.ANNIVERSARY
    day: int | None = None  # DAY_OF_MONTH and ACCOUNT: the day of month (ACCOUNT: resolved at creation)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "day": self.day}


def billing_anchor(
    value: Any, plan: Plan, bill_cycle_day: int | None, field_name: str = "billing_anchor"
) -> BillingAnchor:
    """The anchor asked for, resolved: ACCOUNT takes the customer's bill cycle day (None: the caller sets
    it from this subscription's first billing day)."""
    value = value or {"type": "anniversary"}
    if not isinstance(value, dict) or not set(value) <= {"type", "day"}:
        raise DomainError(
            "invalid_billing_anchor",
            'An anchor is {"type": "anniversary" | "day_of_month" | "account", "day"?}.',
            field_name,
        )
    try:
        kind = AnchorType(str(value.get("type")))
    except ValueError:
        raise DomainError(
            "invalid_billing_anchor", "type is anniversary, day_of_month or account.", f"{field_name}.type"
        ) from None
    day = value.get("day")
    if kind is AnchorType.DAY_OF_MONTH:
        if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 31:
            raise DomainError(
                "invalid_billing_anchor", "day is the day of month, 1 to 31.", f"{field_name}.day"
            )
    elif day is not None:
        raise DomainError(
            "invalid_billing_anchor", f"The {kind.value} anchor takes no day.", f"{field_name}.day"
        )
    if kind is AnchorType.ACCOUNT:
        day = bill_cycle_day
    if kind is not AnchorType.ANNIVERSARY and plan.billing_period.months is None:
        raise DomainError(
            "invalid_billing_anchor",
            f"Plan {plan.code!r} bills every {plan.billing_period}: a day-of-month anchor needs a period in months.",
            f"{field_name}.type",
        )
    return BillingAnchor(type=kind, day=day)


@dataclass(frozen=True, slots=True, kw_only=True)
class Terms:
    """What the customer has: a plan, a quantity (seats) and add-ons with their quantities."""

    plan: str
    quantity: int = 1
    addons: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan, "quantity": self.quantity, "addons": dict(sorted(self.addons.items()))}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Terms:
        return cls(plan=data["plan"], quantity=data["quantity"], addons=dict(data.get("addons", {})))


def quantity(value: Any, field_name: str, *, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= MAX_QUANTITY:
        raise DomainError(
            "invalid_quantity", f"A quantity is a whole number from {minimum} to {MAX_QUANTITY}.", field_name
        )
    return value


def check_terms(catalog: Catalog, terms: Terms, currency: str) -> Plan:
    """Refuse terms the catalog cannot sell in `currency`; the plan if it can."""
    plan = catalog.plan(terms.plan)
    if currency not in plan.currencies:
        raise DomainError(
            "price_missing",
            f"Plan {plan.code!r} has no {currency} price; the subscription is in its customer's currency.",
            "plan",
        )
    quantity(terms.quantity, "quantity")
    for code, count in terms.addons.items():
        quantity(count, f"addons.{code}")
        if code not in plan.addons_available:
            raise DomainError(
                "addon_not_available",
                f"Add-on {code!r} is not available with plan {plan.code!r}.",
                f"addons.{code}",
            )
    return plan


class ChangeKind(StrEnum):
    START = "start"
    CHANGE = "change"  # plan, quantity or add-ons
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"


class ChangeStatus(StrEnum):
    PENDING = "pending"  # not yet in effect
    APPLIED = "applied"
    WITHDRAWN = "withdrawn"  # undone before it took effect (an undone cancellation)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    id: str
    kind: ChangeKind
    effective: date  # the local day it takes effect
    prorate: bool = True  # bill the rest of the current period on the new terms now (credit + charge)
    terms: Terms | None = None  # START and CHANGE
    status: ChangeStatus = ChangeStatus.PENDING
    requested_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "effective_date": self.effective.isoformat(),
            "prorate": self.prorate,
            "terms": self.terms.to_json() if self.terms else None,
            "status": self.status.value,
            "requested_at": self.requested_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    tenant_id: str
    id: str
    customer_id: str
    currency: str
    time_zone: str  # the account's, fixed at creation so the periods never move
    status: Status
    terms: Terms  # in effect now (kept current by the transitions)
    start: date
    anchor: BillingAnchor
    trial_days: int | None = None  # None: the plan's trial; 0: none
    changes: tuple[Change, ...] = ()  # START first, then in the order requested
    metadata: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    canceled_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def live_changes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.status is not ChangeStatus.WITHDRAWN)

    @property
    def pending_cancellation(self) -> Change | None:
        return next(
            (c for c in self.changes if c.kind is ChangeKind.CANCEL and c.status is ChangeStatus.PENDING),
            None,
        )

    def to_json(self) -> dict[str, Any]:
        """The audit/event view."""
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "currency": self.currency,
            "time_zone": self.time_zone,
            "status": self.status.value,
            **self.terms.to_json(),
            "start_date": self.start.isoformat(),
            "billing_anchor": self.anchor.to_json(),
            "trial_days": self.trial_days,
            "pending_changes": [c.to_json() for c in self.changes if c.status is ChangeStatus.PENDING],
            "metadata": dict(self.metadata),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "canceled_at": self.canceled_at.isoformat() if self.canceled_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionFilter:
    customer_id: str | None = None
    status: Status | None = None
    plan: str | None = None


def trial_days(value: Any, field_name: str = "trial_days") -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TRIAL_DAYS:
        raise DomainError("invalid_trial", f"trial_days is 0 (no trial) to {MAX_TRIAL_DAYS}.", field_name)
    return value
