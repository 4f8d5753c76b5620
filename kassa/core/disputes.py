"""Disputes on invoice lines (issue 9): a customer (in the portal) or an agent contests all or part of one
line of a finalized invoice. Not a *chargeback*, which is a card network's dispute of a payment
(core/payments.py).

The disputed amount is tax included, as the customer saw it. A dispute the tenant's policy calls small is
accepted at once: a credit note for that amount on that line. Anything else waits in the agents' queue, and
its amount is not collected while it is open. See docs/disputes.md.

The policy that decides which disputes are small is in core/dispute_policy.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from kassa.core.clock import utc
from kassa.core.credit_notes import CreditNote, CreditReason, CreditRequest, credited_so_far
from kassa.core.errors import DomainError
from kassa.core.invoicing import InvoiceLine
from kassa.core.money import Money, RoundingMode
from kassa.core.support import member as member
from kassa.core.support import text as text
from kassa.core.tax import reverse_taxes

MAX_DESCRIPTION = 10_000
MAX_RESOLUTION = 10_000


class DisputeReason(StrEnum):
    NOT_RECEIVED = "not_received"
    INCORRECT_AMOUNT = "incorrect_amount"
    DUPLICATE = "duplicate"
    NOT_AS_DESCRIBED = "not_as_described"
    UNAUTHORIZED = "unauthorized"
    OTHER = "other"


class DisputeStatus(StrEnum):
    OPEN = "open"  # in the agents' queue; its amount is not collected
    ACCEPTED = "accepted"  # credited (all or part of it)
    REJECTED = "rejected"  # owed after all; collection resumes


class OpenedBy(StrEnum):
    CUSTOMER = "customer"  # in the portal
    AGENT = "agent"  # on the customer's behalf


# The credit note's reason says why money went back; the dispute keeps its own, finer reason.
CREDIT_REASONS: Mapping[DisputeReason, CreditReason] = {
    DisputeReason.NOT_RECEIVED: CreditReason.OTHER,
    DisputeReason.INCORRECT_AMOUNT: CreditReason.OTHER,
    DisputeReason.DUPLICATE: CreditReason.DUPLICATE,
    DisputeReason.NOT_AS_DESCRIBED: CreditReason.PRODUCT_UNSATISFACTORY,
    DisputeReason.UNAUTHORIZED: CreditReason.FRAUDULENT,
    DisputeReason.OTHER: CreditReason.OTHER,
}


# ---- amounts on a line ---------------------------------------------------------------------------------


def credited_gross(notes: Sequence[CreditNote], position: int, currency: str) -> Money:
    """What credit notes gave back on the line so far, tax included."""
    lines = [line for note in notes for line in note.lines if line.position == position]
    return sum((line.total for line in lines), Money.zero(currency))


def disputable(line: InvoiceLine, notes: Sequence[CreditNote], open_disputed: Money) -> Money:
    """What of the line can still be disputed: its total, less what was credited and what open disputes
    already contest."""
    return line.total - credited_gross(notes, line.position, line.net.currency) - open_disputed


def credit_request(
    line: InvoiceLine, amount: Money, notes: Sequence[CreditNote], rounding: RoundingMode
) -> CreditRequest:
    """The credit note line that gives back `amount` (tax included) of `line`.

    Credit notes name the tax-exclusive net and reverse the tax from it, so the net is the largest whose
    total (net + the tax reverse_taxes computes for it) is at most `amount`; all that is left of the line
    is credited exactly. A rounded tax can make the total a cent short of `amount` (never over): the
    dispute records what was credited.

    19 % VAT, a line of net 120.00 + tax 22.80 = 142.80: 50.00 gives net 42.02 + tax 7.98 = 50.00;
    a line of net 4.99 + tax 0.95 = 5.94 disputed whole gives its whole net, 4.99.
    """
    currency = line.net.currency
    before_gross = credited_gross(notes, line.position, currency)
    if amount >= line.total - before_gross:
        return CreditRequest(position=line.position)
    before = credited_so_far(notes).get(line.position, Money.zero(currency))
    left = (line.net - before).to_minor_units()

    def total(units: int) -> int:
        net = Money.from_minor_units(units, currency)
        taxes = reverse_taxes(line.line_tax, net, rounding, previously_credited=before) if line.taxes else ()
        return units + sum(t.amount.to_minor_units() for t in taxes)

    wanted, low, high = amount.to_minor_units(), 0, left
    while low < high:  # the total grows with the net: the largest net whose total fits
        mid = (low + high + 1) // 2
        if total(mid) <= wanted:
            low = mid
        else:
            high = mid - 1
    if low <= 0:
        raise DomainError(
            "amount_too_small", f"{amount} is too small to credit on line {line.position}.", "amount"
        )
    return CreditRequest(position=line.position, amount=Money.from_minor_units(low, currency))


# ---- the dispute ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispute:
    tenant_id: str
    id: str
    customer_id: str
    invoice_id: str
    line_position: int
    amount: Money  # disputed, tax included
    reason: DisputeReason
    description: str | None = None
    status: DisputeStatus
    opened_by: OpenedBy
    auto_resolved: bool = False
    assignee_id: str | None = None
    resolution: str | None = None
    credit_note_id: str | None = None
    credited: Money  # the credit note's total (0 until accepted)
    opened_at: datetime
    resolved_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        def money(m: Money) -> dict[str, str]:
            return {"amount": m.amount_text(), "currency": m.currency}

        return {
            "id": self.id, "object": "dispute", "customer_id": self.customer_id, "invoice_id": self.invoice_id,
            "line": self.line_position, "amount": money(self.amount), "reason": self.reason.value,
            "description": self.description, "status": self.status.value, "opened_by": self.opened_by.value,
            "auto_resolved": self.auto_resolved, "assignee_id": self.assignee_id, "resolution": self.resolution,
            "credit_note_id": self.credit_note_id, "credited": money(self.credited),
            "opened_at": _iso(self.opened_at), "resolved_at": _iso(self.resolved_at),
            "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
        }  # fmt: skip


def _iso(at: datetime | None) -> Any:
    return None if at is None else utc(at).isoformat().replace("+00:00", "Z")


def handling_hours(opened_at: datetime, resolved_at: datetime) -> Decimal:
    """Hours from opening to resolution, exact to the second (an auto-accepted dispute: 0)."""
    seconds = int((utc(resolved_at) - utc(opened_at)).total_seconds())
    return Decimal(seconds) / 3600


# ---- the report ----------------------------------------------------------------------------------------

REPORT_COLUMNS = (
    "month", "currency", "opened", "auto_resolved", "auto_resolved_share", "accepted", "rejected", "open",
    "credited", "median_handling_hours", "average_handling_hours",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthCounts:
    """The disputes opened in one month and currency, as the grouped query counts them."""

    opened: int
    auto_resolved: int
    accepted: int
    rejected: int
    credited: Money


def _hours(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), ROUND_HALF_UP)


def median(values: Sequence[Decimal]) -> Decimal | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def report_rows(
    months: Sequence[str],
    counts: Mapping[tuple[int, str], MonthCounts],
    hours: Mapping[tuple[int, str], Sequence[Decimal]],
) -> list[dict[str, Any]]:
    """One row per month (in order) and currency that had disputes opened. `counts` and `hours` are keyed
    by (index into `months`, currency); hours are each resolved dispute's handling time. The share is
    auto-resolved / opened in %, one decimal; hours are rounded half-up to 0.01 (None: none resolved)."""
    rows = []
    for (index, currency), c in sorted(counts.items()):
        resolved = hours.get((index, currency), ())
        middle = median(resolved)
        share = (Decimal(100 * c.auto_resolved) / c.opened).quantize(Decimal("0.1"), ROUND_HALF_UP)
        rows.append({
            "month": months[index], "currency": currency, "opened": c.opened, "auto_resolved": c.auto_resolved,
            "auto_resolved_share": share, "accepted": c.accepted, "rejected": c.rejected,
            "open": c.opened - c.accepted - c.rejected, "credited": c.credited,
            "median_handling_hours": None if middle is None else _hours(middle),
            "average_handling_hours": _hours(sum(resolved, Decimal(0)) / len(resolved)) if resolved else None,
        })  # fmt: skip
    return rows
