"""SLA attainment (issue 9): per month and priority, how many tickets met, missed or still run each target,
the attainment share of those judged, and the median time to first response and to resolution in the
policy's working minutes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kassa.core.business_hours import calendar_from_doc
from kassa.core.sla_attainment import attainment
from kassa.core.support import Ticket, TicketChannel, TicketPriority, TicketStatus

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
CALENDAR = calendar_from_doc(
    {"time_zone": "Europe/Berlin", "hours": {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS}}
)
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def ticket(n: int, opened: datetime, **values: Any) -> Ticket:
    fields: dict[str, Any] = {
        "priority": TicketPriority.NORMAL,
        "status": TicketStatus.OPEN,
        "sla_policy": "std",
    }
    fields |= values
    return Ticket(tenant_id="ten", id=f"tkt_{n}", customer_id="cus", subject="s", channel=TicketChannel.EMAIL,
                  opened_at=opened, created_at=opened, updated_at=opened, **fields)  # fmt: skip


def test_met_breached_and_running_targets_per_month_and_priority() -> None:
    """Tuesday 3 November 2026, 09:00 UTC (10:00 Berlin): four normal tickets and one without a policy."""
    opened = utc(2026, 11, 3, 9)
    tickets = [
        # answered after 30 working minutes, solved after 120: both met
        ticket(1, opened, first_response_due_at=utc(2026, 11, 3, 13), resolution_due_at=utc(2026, 11, 9, 9),
               first_responded_at=utc(2026, 11, 3, 9, 30), resolved_at=utc(2026, 11, 3, 11),
               status=TicketStatus.SOLVED),
        # answered late (flagged by the breach job), the resolution still due next week: running
        ticket(2, opened, first_response_due_at=utc(2026, 11, 3, 13), resolution_due_at=utc(2026, 11, 25, 9),
               first_responded_at=utc(2026, 11, 3, 15), first_response_breached=True),
        # never answered and past due, the job has not run yet: breached all the same
        ticket(3, opened, first_response_due_at=utc(2026, 11, 3, 13), resolution_due_at=utc(2026, 11, 9, 9)),
        # no policy: counted, never judged
        ticket(4, opened, sla_policy=None),
        # an urgent one in October, answered over the weekend (Fri 16:30 → Mon 09:30 Berlin = 60 minutes)
        ticket(5, utc(2026, 10, 30, 15, 30), priority=TicketPriority.URGENT,
               first_response_due_at=utc(2026, 11, 2, 8, 30), resolution_due_at=utc(2026, 11, 3, 15, 30),
               first_responded_at=utc(2026, 11, 2, 8, 30)),
    ]  # fmt: skip
    rows = attainment(tickets, {"std": CALENDAR}, "Europe/Berlin", NOW)
    assert [(r["month"], r["priority"]) for r in rows] == [("2026-10", "urgent"), ("2026-11", "normal")]
    october, november = rows
    assert november == {
        "month": "2026-11", "priority": "normal", "tickets": 4, "with_sla": 3,
        "first_response_met": 1, "first_response_breached": 2, "first_response_running": 0,
        "first_response_attainment": Decimal("33.3"),
        "resolution_met": 1, "resolution_breached": 1, "resolution_running": 1,
        "resolution_attainment": Decimal("50.0"),
        "median_first_response_minutes": 195,  # of 30 and 360 working minutes (10:00 → 16:00 Berlin)
        "median_resolution_minutes": 120,
    }  # fmt: skip
    assert october["first_response_met"] == 1 and october["first_response_attainment"] == Decimal("100.0")
    assert october["median_first_response_minutes"] == 60
    assert october["resolution_breached"] == 1  # due 3 November 16:30 Berlin, unsolved at NOW


def test_nothing_judged_is_no_attainment_not_zero() -> None:
    rows = attainment([ticket(1, utc(2026, 11, 3, 9), sla_policy=None)], {}, "UTC", NOW)
    assert rows[0]["first_response_attainment"] is None and rows[0]["median_resolution_minutes"] is None


def test_months_are_the_tenants() -> None:
    """Opened 31 October 23:30 UTC is 1 November in Berlin."""
    rows = attainment([ticket(1, utc(2026, 10, 31, 23, 30), sla_policy=None)], {}, "Europe/Berlin", NOW)
    assert rows[0]["month"] == "2026-11"
    assert date(2026, 11, 1).isoformat().startswith(rows[0]["month"])
