"""Leads: prospects from a source and campaign, worked through statuses until they convert into a customer
(and usually a first subscription) or are lost; and the feedback a source or campaign earns afterwards.

Statuses: new → contacted → qualified, any of them → lost (with a reason) or converted. A lost lead may be
reopened (new, contacted or qualified: the reason is cleared); converted is final and reached only by
converting, which records the customer and the first subscription. A converted lead is history: it is
not changed any more, so what a source brought in stays what it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from kassa.core import parties
from kassa.core.errors import Conflict, DomainError
from kassa.core.metadata import metadata
from kassa.core.money import Money, RoundingMode

MAX_TAG = 64  # source and campaign, as the columns hold them
MAX_NAME = 200
MAX_LOST_REASON = 500


class LeadStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    CONVERTED = "converted"
    LOST = "lost"


OPEN = frozenset({LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED})
# Where PATCH may move a lead; converted is only reached by converting.
TRANSITIONS: Mapping[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset({LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.LOST}),
    LeadStatus.CONTACTED: frozenset({LeadStatus.QUALIFIED, LeadStatus.LOST}),
    LeadStatus.QUALIFIED: frozenset({LeadStatus.CONTACTED, LeadStatus.LOST}),
    LeadStatus.LOST: OPEN,
    LeadStatus.CONVERTED: frozenset(),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Lead:
    tenant_id: str
    id: str
    email: str
    name: str | None = None
    company: str | None = None
    country: str | None = None
    source: str
    campaign: str | None = None
    status: LeadStatus = LeadStatus.NEW
    lost_reason: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    converted_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The audit/event view."""
        return {
            "id": self.id, "email": self.email, "name": self.name, "company": self.company,
            "country": self.country, "source": self.source, "campaign": self.campaign,
            "status": self.status.value, "lost_reason": self.lost_reason, "customer_id": self.customer_id,
            "subscription_id": self.subscription_id,
            "converted_at": self.converted_at.isoformat() if self.converted_at else None,
            "metadata": dict(self.metadata), "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }  # fmt: skip


def tag(value: Any, name: str) -> str:
    """A source or campaign: compared exactly by reports and offer rules, so no stray spaces."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TAG or value != value.strip():
        raise DomainError(
            "invalid_lead", f"{name} is 1 to {MAX_TAG} characters without leading or trailing spaces.", name
        )
    if any(not ch.isprintable() for ch in value):
        raise DomainError("invalid_lead", f"{name} holds printable characters only.", name)
    return value


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
        raise DomainError("invalid_lead", f"{name} is 1 to {limit} characters, or null.", name)
    return value.strip()


_FIELDS = ("email", "name", "company", "country", "source", "campaign", "metadata")
_CHANGES = ("email", "name", "company", "country", "campaign", "metadata", "status", "lost_reason")


def _field(name: str, value: Any) -> Any:
    if name == "email":
        return parties.email(value, "email")
    if name in ("name", "company"):
        return _text(value, name, MAX_NAME)
    if name == "country":
        return None if value is None else parties.country(value, "country")
    if name == "source":
        return tag(value, "source")
    if name == "campaign":
        return None if value is None else tag(value, "campaign")
    if name == "metadata":
        return metadata(value, "metadata")
    return value


def new_lead(tenant_id: str, lead_id: str, fields: Mapping[str, Any], at: datetime) -> Lead:
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise DomainError("unknown_field", f"Unknown field {unknown[0]!r}.", unknown[0])
    for required in ("email", "source"):
        if fields.get(required) is None:
            raise DomainError("required", f"{required} is required.", required)
    values = {name: _field(name, fields[name]) for name in _FIELDS if name in fields}
    values.setdefault("metadata", {})
    return Lead(tenant_id=tenant_id, id=lead_id, created_at=at, updated_at=at, **values)


def apply_changes(lead: Lead, changes: Mapping[str, Any], at: datetime) -> Lead:
    """The lead after a PATCH: contact details, campaign, metadata, and a status move along TRANSITIONS.
    Lost needs a reason (given now or already there); leaving lost clears it."""
    if "source" in changes:
        raise DomainError("immutable_field", "A lead's source is set when it is created.", "source")
    unknown = sorted(set(changes) - set(_CHANGES))
    if unknown:
        raise DomainError("unknown_field", f"Unknown field {unknown[0]!r}.", unknown[0])
    if lead.status is LeadStatus.CONVERTED:
        raise Conflict("lead_converted", "A converted lead is not changed any more.", None)
    values = {name: _field(name, changes[name]) for name in _FIELDS if name in changes}
    if values.get("email", lead.email) is None:
        raise DomainError("required", "email is required.", "email")
    status: LeadStatus = lead.status
    if "status" in changes:
        try:
            status = LeadStatus(changes["status"])
        except ValueError:
            raise DomainError(
                "invalid_lead", f"status is one of {', '.join(LeadStatus)}.", "status"
            ) from None
        if status is LeadStatus.CONVERTED:
            raise DomainError(
                "invalid_transition", "Convert a lead with POST /v1/leads/{id}/convert.", "status"
            )
        if status is not lead.status and status not in TRANSITIONS[lead.status]:
            raise DomainError("invalid_transition", f"A {lead.status} lead cannot become {status}.", "status")
    reason = lead.lost_reason
    if "lost_reason" in changes:
        reason = _text(changes["lost_reason"], "lost_reason", MAX_LOST_REASON)
    if status is LeadStatus.LOST and reason is None:
        raise DomainError("lost_reason_required", "A lost lead says why: give lost_reason.", "lost_reason")
    if status is not LeadStatus.LOST:
        if "lost_reason" in changes and reason is not None:
            raise DomainError("invalid_lead", "Only a lost lead has a lost_reason.", "lost_reason")
        reason = None
    updated = replace(lead, status=status, lost_reason=reason, **values)
    return updated if updated == lead else replace(updated, updated_at=at)


def convert(lead: Lead, customer_id: str, subscription_id: str | None, at: datetime) -> Lead:
    if lead.status is LeadStatus.CONVERTED:
        raise Conflict("lead_converted", f"The lead was converted into customer {lead.customer_id}.", None)
    return replace(lead, status=LeadStatus.CONVERTED, lost_reason=None, customer_id=customer_id,
                   subscription_id=subscription_id, converted_at=at, updated_at=at)  # fmt: skip


# --- the feedback loop ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFigures:
    """What one source (or campaign) brought in, as the database counts and sums it, in one currency."""

    group: str | None  # None: leads without a campaign
    leads: int
    converted: int
    churned: int  # converted customers with subscriptions, every one of them canceled or ended
    billed: Money  # finalized invoices of the converted customers, net of tax, voids left out
    recognized: Money  # revenue recognized for them so far


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFeedback:
    group: str | None
    leads: int
    converted: int
    conversion_pct: Decimal | None  # None: no leads
    churned: int
    churn_pct: Decimal | None  # of the converted; None: none converted
    billed: Money
    recognized: Money
    billed_per_customer: Money | None
    ltv: Money | None


def feedback(figures: SourceFigures, rounding: RoundingMode = RoundingMode.HALF_UP) -> SourceFeedback:
    """Conversion, churn and lifetime value of one group. LTV is the MRR report's ARPA / churn rate with
    both taken per customer-month over the group's whole history: ARPA = billed / customer-months, churn
    rate = churned / customer-months, so LTV = billed / churned, what was billed per customer lost.
    None while nobody churned: the lifetime is not yet bounded (the MRR report's LTV is null then too)."""
    currency = figures.billed.currency
    per_customer = (
        Money.rounded(figures.billed.amount / figures.converted, currency, rounding)
        if figures.converted
        else None
    )
    ltv = (
        Money.rounded(figures.billed.amount / figures.churned, currency, rounding)
        if figures.churned
        else None
    )
    return SourceFeedback(group=figures.group, leads=figures.leads, converted=figures.converted,
                          conversion_pct=_pct(figures.converted, figures.leads), churned=figures.churned,
                          churn_pct=_pct(figures.churned, figures.converted), billed=figures.billed,
                          recognized=figures.recognized, billed_per_customer=per_customer, ltv=ltv)  # fmt: skip


def _pct(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
