"""SLA attainment: how well support kept its promises, per month (of opening, in the tenant's time zone)
and priority.

A target is **met** when it was done by its deadline, **breached** when it was done late or its deadline
passed undone (whether or not the breach job has run yet), and **running** while undone before its
deadline. Attainment is met ÷ (met + breached), to one decimal of a percent; a month with nothing judged
has no attainment (None), not 0 %. Medians are in the ticket's policy's working minutes, over the tickets
whose target was done; a ticket without a policy is counted but never judged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from kassa.core.business_hours import BusinessCalendar, business_minutes_between
from kassa.core.periods import local_day
from kassa.core.reports import Value, month_name
from kassa.core.support import SlaTargetKind, Ticket, TicketPriority

COLUMNS = (
    "month", "priority", "tickets", "with_sla",
    "first_response_met", "first_response_breached", "first_response_running", "first_response_attainment",
    "resolution_met", "resolution_breached", "resolution_running", "resolution_attainment",
    "median_first_response_minutes", "median_resolution_minutes",
)  # fmt: skip
_PREFIX = {SlaTargetKind.FIRST_RESPONSE: "first_response", SlaTargetKind.RESOLUTION: "resolution"}


def _judged(ticket: Ticket, target: SlaTargetKind, now: datetime) -> str:
    due = ticket.first_response_due_at if target is SlaTargetKind.FIRST_RESPONSE else ticket.resolution_due_at
    flagged = (
        ticket.first_response_breached
        if target is SlaTargetKind.FIRST_RESPONSE
        else ticket.resolution_breached
    )
    done = ticket.met_at(target)
    if flagged or (due is not None and (done or now) > due):
        return "breached"
    return "running" if done is None else "met"


def _median(values: list[int]) -> Decimal | None:
    """The middle value; of an even count, the mean of the two middle ones (exact: no float)."""
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    return Decimal(ordered[mid]) if len(ordered) % 2 else Decimal(ordered[mid - 1] + ordered[mid]) / 2


def _share(met: int, breached: int) -> Decimal | None:
    judged = met + breached
    if not judged:
        return None
    return (Decimal(100 * met) / judged).quantize(Decimal("0.1"), ROUND_HALF_UP)


def attainment(
    tickets: Sequence[Ticket], calendars: Mapping[str, BusinessCalendar], time_zone: str, now: datetime
) -> list[dict[str, Value]]:
    """Rows by month, then priority (low to urgent); `calendars` by policy code."""
    groups: dict[tuple[str, TicketPriority], list[Ticket]] = defaultdict(list)
    for t in tickets:
        groups[(month_name(local_day(t.opened_at, time_zone)), t.priority)].append(t)
    order = list(TicketPriority)
    rows: list[dict[str, Value]] = []
    for month, level in sorted(groups, key=lambda key: (key[0], order.index(key[1]))):
        found = groups[(month, level)]
        judged = [t for t in found if t.sla_policy is not None and t.sla_policy in calendars]
        row: dict[str, Value] = {"month": month, "priority": level.value, "tickets": len(found),
                                 "with_sla": len(judged)}  # fmt: skip
        minutes: dict[SlaTargetKind, list[int]] = {k: [] for k in SlaTargetKind}
        for target, prefix in _PREFIX.items():
            counts = {"met": 0, "breached": 0, "running": 0}
            for t in judged:
                counts[_judged(t, target, now)] += 1
                done = t.met_at(target)
                if done is not None:
                    assert t.sla_policy is not None
                    minutes[target].append(
                        business_minutes_between(calendars[t.sla_policy], t.opened_at, done)
                    )
            row |= {f"{prefix}_{k}": v for k, v in counts.items()}
            row[f"{prefix}_attainment"] = _share(counts["met"], counts["breached"])
        for target, prefix in _PREFIX.items():
            row[f"median_{prefix}_minutes"] = _median(minutes[target])
        rows.append({name: row[name] for name in COLUMNS})
    return rows
