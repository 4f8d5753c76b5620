"""Bookings and the unbilled backlog: what a subscription commits its customer to.

The commitment of a subscription is the charges of its billing schedule for service that cannot be
cancelled: every period of a fixed-term phase, and otherwise the first paid billing period (an evergreen
plan can be cancelled at the end of any period, so only its first is signed for). Usage is not committed.

Each time the commitment changes (signed, upgraded, cancelled) it is a new revision; the difference in
value between revisions is a booking: `new` for the first, then `expansion`, `contraction` or
`cancellation` (nothing is committed any more). The unbilled backlog on a day is what the revision in
force then still has to bill after that day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from kassa.core.billing_schedule import Charge, Timeline
from kassa.core.catalog import PhaseType


@dataclass(frozen=True, slots=True, kw_only=True)
class Committed:
    bill_on: date
    product: str
    amount: int  # minor units


def horizon(tl: Timeline) -> date | None:
    """The day the commitment ends: the end of the last fixed term, else of the first paid period."""
    terms = [s.phase_end for s in tl.segments if s.phase.type is PhaseType.FIXED_TERM and s.phase_end]
    if terms:
        return max(terms)
    paid = next((s for s in tl.segments if s.phase.billable), None)
    return paid.grid.next_boundary(paid.start) if paid else None


def committed(charges: Sequence[Charge], product: str, until: date | None) -> list[Committed]:
    """The charges for service starting before `until` (the commitment's end)."""
    if until is None:
        return []
    return [Committed(bill_on=c.due, product=product, amount=c.line.amount.to_minor_units())
            for c in charges if c.line.start < until and c.line.amount.amount]  # fmt: skip


def booking_kind(before: int, after: int, first: bool) -> str | None:
    if first:
        return "new" if after else None
    if after == before:
        return None
    if after == 0:
        return "cancellation"
    return "expansion" if after > before else "contraction"


def value_from(charges: Sequence[Committed], day: date) -> int:
    """What is still to bill on or after `day`."""
    return sum(c.amount for c in charges if c.bill_on >= day)
