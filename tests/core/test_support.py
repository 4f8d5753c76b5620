"""Support tickets and SLA policies (issue 9): the status transitions, the policy document and its errors
with field paths, SLA deadlines and warnings in business hours across a weekend and a holiday (exact UTC
instants), the cost of logged time (half-up), breach decisions, and hypothesis properties (warnings never
after their deadline, the resolution never before the first response, to_doc round trips)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.business_hours import business_minutes_between
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.support import (
    SlaTarget,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    check_transition,
    deadlines,
    is_late,
    sla_policy_from_doc,
    time_cost,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "Standard support",
        "calendar": {
            "time_zone": "Europe/Berlin",
            "hours": {day: [{"start": "09:00", "end": "17:00"}] for day in WEEKDAYS},
            "holidays": ["2026-05-25"],  # Whit Monday
        },
        "targets": {
            "urgent": {"first_response_minutes": 60, "resolution_minutes": 480},
            "high": {"first_response_minutes": 120, "resolution_minutes": 960},
            "normal": {"first_response_minutes": 240, "resolution_minutes": 2400},
            "low": {"first_response_minutes": 480, "resolution_minutes": 4800},
        },
        "warn_percent": 75,
        "cost_per_hour": {"amount": "50.00", "currency": "EUR"},
    }
    doc.update(changes)
    return doc


POLICY = sla_policy_from_doc("standard", _doc())


def _refused(doc: Any, code: str = "standard") -> DomainError:
    with pytest.raises(DomainError) as caught:
        sla_policy_from_doc(code, doc)
    assert caught.value.code == "invalid_sla_policy"
    return caught.value


# ---- the enums and transitions --------------------------------------------------------------------------


def test_the_enums_hold_the_issue_values() -> None:
    assert [c.value for c in TicketChannel] == ["email", "phone", "chat", "web", "social"]
    assert [p.value for p in TicketPriority] == ["low", "normal", "high", "urgent"]
    assert [s.value for s in TicketStatus] == ["new", "open", "pending", "solved", "closed"]


@pytest.mark.parametrize(
    ("current", "new"),
    [
        ("new", "open"), ("new", "pending"), ("new", "solved"), ("new", "closed"),
        ("open", "pending"), ("open", "solved"), ("open", "closed"),
        ("pending", "open"), ("pending", "solved"), ("pending", "closed"),
        ("solved", "open"), ("solved", "closed"),
        ("open", "open"),  # no change: allowed, so a PATCH can be sent twice
    ],
)  # fmt: skip
def test_allowed_transitions(current: str, new: str) -> None:
    check_transition(TicketStatus(current), TicketStatus(new))


@pytest.mark.parametrize(
    ("current", "new"),
    [("open", "new"), ("solved", "pending"), ("solved", "new"), ("closed", "open"), ("closed", "solved"),
     ("pending", "new")],
)  # fmt: skip
def test_refused_transitions(current: str, new: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_transition(TicketStatus(current), TicketStatus(new))
    assert (caught.value.code, caught.value.field) == ("invalid_status_transition", "status")
    assert caught.value.message == f"A {current} ticket cannot become {new}."


# ---- the worked example ---------------------------------------------------------------------------------


def test_urgent_ticket_opened_friday_afternoon_before_whit_monday() -> None:
    """Opened Friday 22 May 2026 16:30 Berlin (CEST, UTC+2) = 14:30 UTC, urgent: 60 minutes to respond,
    480 to resolve, warnings at 75 %, Mon-Fri 09:00-17:00, Monday 25 May (Whit Monday) a holiday.

    First response: 30 minutes on Friday (16:30-17:00), none on the weekend or the holiday, the other 30
    on Tuesday: due Tuesday 26 May 09:30 Berlin = 07:30 UTC. Its warning at 45 minutes (75 % of 60):
    30 on Friday + 15 on Tuesday = 09:15 Berlin = 07:15 UTC.
    Resolution: 30 minutes on Friday, 450 on Tuesday (a whole day has 480): due Tuesday 09:00 + 7:30 =
    16:30 Berlin = 14:30 UTC, the same day, not Wednesday. Its warning at 360 minutes (75 % of 480):
    30 on Friday + 330 on Tuesday = 14:30 Berlin = 12:30 UTC."""
    due = deadlines(POLICY, TicketPriority.URGENT, utc(2026, 5, 22, 14, 30))
    assert due.first_response_due == utc(2026, 5, 26, 7, 30)
    assert due.first_response_warning == utc(2026, 5, 26, 7, 15)
    assert due.resolution_due == utc(2026, 5, 26, 14, 30)
    assert due.resolution_warning == utc(2026, 5, 26, 12, 30)
    assert due.to_json() == {
        "first_response_due_at": "2026-05-26T07:30:00Z",
        "first_response_warning_at": "2026-05-26T07:15:00Z",
        "resolution_due_at": "2026-05-26T14:30:00Z",
        "resolution_warning_at": "2026-05-26T12:30:00Z",
    }


def test_normal_ticket_resolution_spans_the_next_week() -> None:
    """Normal: 240 minutes to respond, 2400 (five working days) to resolve, opened Friday 22 May 16:30
    Berlin. First response: 30 Friday + 210 Tuesday = Tuesday 12:30 Berlin = 10:30 UTC. Resolution: 30
    Friday, then Tue, Wed, Thu, Fri (4 x 480 = 1920, 1950 in all), 450 on Monday 1 June: 16:30 Berlin =
    14:30 UTC. Warnings at 75 %: 180 minutes (30 + 150: Tuesday 11:30 Berlin) and 1800 minutes (30 +
    3 x 480 = 1470 by Thursday, 330 on Friday 29 May: 14:30 Berlin)."""
    due = deadlines(POLICY, TicketPriority.NORMAL, utc(2026, 5, 22, 14, 30))
    assert due.first_response_due == utc(2026, 5, 26, 10, 30)
    assert due.first_response_warning == utc(2026, 5, 26, 9, 30)
    assert due.resolution_due == utc(2026, 6, 1, 14, 30)
    assert due.resolution_warning == utc(2026, 5, 29, 12, 30)


def test_a_ticket_opened_on_the_holiday_counts_from_tuesday_morning() -> None:
    """Opened Whit Monday 10:00 Berlin (08:00 UTC), high (120 / 960): the clock starts Tuesday 09:00, so
    first response Tuesday 11:00 Berlin = 09:00 UTC, resolution two full days later: Wednesday 17:00
    Berlin = 15:00 UTC (a deadline using up a day is its 17:00, not Thursday's 09:00)."""
    due = deadlines(POLICY, TicketPriority.HIGH, utc(2026, 5, 25, 8, 0))
    assert due.first_response_due == utc(2026, 5, 26, 9, 0)
    assert due.resolution_due == utc(2026, 5, 27, 15, 0)


# ---- logged time and breaches ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "rate", "expected"),
    [
        (25, "50.00", "20.83"),  # 20.8333…
        (45, "85.00", "63.75"),
        (7, "10.00", "1.17"),  # 1.1666…
        (3, "0.10", "0.01"),  # exactly 0.005: half-up gives 0.01 where half-even would give 0.00
        (90, "60.00", "90.00"),
        (0, "60.00", "0.00"),
    ],
)
def test_time_cost_is_minutes_times_the_hourly_rate_rounded_half_up(
    minutes: int, rate: str, expected: str
) -> None:
    assert time_cost(minutes, Money(Decimal(rate), "EUR"), "USD") == Money(Decimal(expected), "EUR")


def test_time_without_a_rate_costs_zero_in_the_given_currency() -> None:
    assert time_cost(30, None, "JPY") == Money.zero("JPY")
    assert time_cost(30, None, "EUR").amount_text() == "0.00"


def test_time_cost_rounds_to_the_currency_exponent() -> None:
    assert time_cost(10, Money(Decimal("1000"), "JPY"), "EUR") == Money(Decimal("167"), "JPY")  # 166.67


def test_is_late() -> None:
    due = utc(2026, 5, 26, 7, 30)
    assert not is_late(due, utc(2026, 5, 26, 7, 30))  # at the deadline is in time
    assert is_late(due, utc(2026, 5, 26, 7, 30, 1))
    assert not is_late(None, utc(2030, 1, 1))  # no SLA: never late


# ---- the policy document --------------------------------------------------------------------------------


def test_the_document_round_trips_in_normal_form() -> None:
    assert POLICY.code == "standard" and POLICY.name == "Standard support"
    assert POLICY.warn_percent == 75
    assert POLICY.cost_per_hour == Money(Decimal("50.00"), "EUR")
    assert POLICY.targets[TicketPriority.URGENT] == SlaTarget(
        first_response_minutes=60, resolution_minutes=480
    )
    doc = POLICY.to_doc()
    assert doc["targets"] == {
        "low": {"first_response_minutes": 480, "resolution_minutes": 4800},
        "normal": {"first_response_minutes": 240, "resolution_minutes": 2400},
        "high": {"first_response_minutes": 120, "resolution_minutes": 960},
        "urgent": {"first_response_minutes": 60, "resolution_minutes": 480},
    }
    assert doc["calendar"]["holidays"] == ["2026-05-25"]
    assert doc["cost_per_hour"] == {"amount": "50.00", "currency": "EUR"}
    assert sla_policy_from_doc("standard", doc) == POLICY


def test_warn_percent_defaults_to_80_and_the_rate_is_optional() -> None:
    doc = _doc()
    del doc["warn_percent"], doc["cost_per_hour"]
    policy = sla_policy_from_doc("basic", doc)
    assert (policy.warn_percent, policy.cost_per_hour) == (80, None)
    assert "cost_per_hour" not in policy.to_doc() or policy.to_doc()["cost_per_hour"] is None


@pytest.mark.parametrize(
    ("doc", "field", "message"),
    [
        ([], None, "An SLA policy is an object: {name, calendar, targets, warn_percent, cost_per_hour}."),
        (_doc(colour="red"), "colour", "Unknown field 'colour'."),
        (_doc(name=""), "name", "name is a text of 1 to 200 characters."),
        (_doc(name=7), "name", "name is a text of 1 to 200 characters."),
        (_doc(warn_percent=101), "warn_percent", "warn_percent is a whole number from 0 to 100."),
        (_doc(warn_percent=True), "warn_percent", "warn_percent is a whole number from 0 to 100."),
        (_doc(warn_percent=75.0), "warn_percent", "warn_percent is a whole number from 0 to 100."),
        (_doc(targets=[]), "targets", "targets is an object of {first_response_minutes, resolution_minutes} "
         "by priority: low, normal, high, urgent."),
        (_doc(targets={"urgent": {"first_response_minutes": 60, "resolution_minutes": 480}}), "targets.low",
         "Every priority needs targets: low is missing."),
        (_doc(targets={**_doc()["targets"], "critical": {}}), "targets.critical",
         "A priority is one of low, normal, high, urgent."),
        (_doc(targets={**_doc()["targets"], "low": {"first_response_minutes": 60}}),
         "targets.low.resolution_minutes", "resolution_minutes is required."),
        (_doc(targets={**_doc()["targets"], "low": {"first_response_minutes": -1, "resolution_minutes": 60}}),
         "targets.low.first_response_minutes", "first_response_minutes is a whole number from 0 to 527040."),
        (_doc(targets={**_doc()["targets"], "low": {"first_response_minutes": 60, "resolution_minutes": "60"}}),
         "targets.low.resolution_minutes", "resolution_minutes is a whole number from 0 to 527040."),
        (_doc(targets={**_doc()["targets"], "low": {"first_response_minutes": 90, "resolution_minutes": 60}}),
         "targets.low.resolution_minutes", "The resolution target is at least the first response target."),
        (_doc(targets={**_doc()["targets"], "low": {"first_response_minutes": 9, "resolution_minutes": 60,
                                                    "x": 1}}),
         "targets.low.x", "Unknown field 'x'."),
        (_doc(calendar={"time_zone": "Mars/Olympus", "hours": {}}), "calendar.time_zone",
         "'Mars/Olympus' is not an IANA time zone like 'Europe/Berlin'."),
        (_doc(calendar={"time_zone": "UTC", "hours": {"monday": [{"start": "09:00", "end": "25:00"}]}}),
         "calendar.hours.monday.0.end", 'end is a time "HH:MM" from 00:00 to 23:59 (an end may be 24:00).'),
        ({k: v for k, v in _doc().items() if k != "calendar"}, "calendar", "calendar is required."),
        (_doc(cost_per_hour="50"), "cost_per_hour", 'cost_per_hour is money: {"amount": "60.00", "currency": "EUR"}.'),
        (_doc(cost_per_hour={"amount": 50.0, "currency": "EUR"}), "cost_per_hour.amount",
         "Floats are not exact: pass a Decimal, an int or a string."),
        (_doc(cost_per_hour={"amount": "-1.00", "currency": "EUR"}), "cost_per_hour.amount",
         "cost_per_hour is zero or more."),
        (_doc(cost_per_hour={"amount": "1.00", "currency": "XXY"}), "cost_per_hour.currency",
         "XXY is not an active ISO 4217 currency."),
    ],
)  # fmt: skip
def test_document_errors_name_their_field(doc: Any, field: str | None, message: str) -> None:
    error = _refused(doc)
    assert (error.field, error.message) == (field, message)


@pytest.mark.parametrize("code", ["", "has space", "x" * 65, "Ünïcode", "-lead"])
def test_policy_codes_are_short_slugs(code: str) -> None:
    error = _refused(_doc(), code)
    assert error.field == "code"
    assert (
        error.message
        == "A policy code is 1 to 64 letters, digits, '_' or '-', starting with a letter or digit."
    )


# ---- properties -----------------------------------------------------------------------------------------

# seconds from the start of 2026: every instant of two years, in whole seconds
_instants = st.integers(0, 2 * 366 * 24 * 3600).map(lambda s: utc(2026, 1, 1) + timedelta(seconds=s))
_targets = st.tuples(st.integers(0, 5000), st.integers(0, 5000)).map(sorted)


@given(opened=_instants, target=_targets, warn=st.integers(0, 100))
def test_warnings_come_no_later_than_deadlines_and_resolution_no_earlier_than_response(
    opened: datetime, target: list[int], warn: int
) -> None:
    doc = _doc(warn_percent=warn)
    doc["targets"]["urgent"] = {"first_response_minutes": target[0], "resolution_minutes": target[1]}
    policy = sla_policy_from_doc("p", doc)
    due = deadlines(policy, TicketPriority.URGENT, opened)
    assert opened <= due.first_response_warning <= due.first_response_due <= due.resolution_due
    assert due.resolution_warning <= due.resolution_due
    calendar = policy.calendar
    assert business_minutes_between(calendar, opened, due.first_response_due) == target[0]
    assert business_minutes_between(calendar, opened, due.resolution_due) == target[1]
    assert business_minutes_between(calendar, opened, due.resolution_warning) == target[1] * warn // 100


@given(
    first=st.integers(0, 10_000),
    extra=st.integers(0, 10_000),
    warn=st.integers(0, 100),
    rate=st.none() | st.decimals(min_value=0, max_value=1000, places=2),
)
def test_to_doc_round_trips(first: int, extra: int, warn: int, rate: Decimal | None) -> None:
    doc = _doc(warn_percent=warn)
    doc["targets"]["low"] = {"first_response_minutes": first, "resolution_minutes": first + extra}
    doc["cost_per_hour"] = None if rate is None else {"amount": str(rate), "currency": "EUR"}
    policy = sla_policy_from_doc("p", doc)
    assert sla_policy_from_doc("p", policy.to_doc()) == policy


@given(minutes=st.integers(0, 100_000), rate=st.decimals(min_value=0, max_value=1000, places=2))
def test_time_cost_is_within_half_a_cent_of_the_exact_value(minutes: int, rate: Decimal) -> None:
    cost = time_cost(minutes, Money(rate, "EUR"), "EUR")
    assert abs(cost.amount - Decimal(minutes) * rate / 60) <= Decimal("0.005")
    assert cost.is_rounded


@given(opened=_instants, later=st.integers(0, 10_000))
def test_a_later_opening_never_gives_an_earlier_deadline(opened: datetime, later: int) -> None:
    a = deadlines(POLICY, TicketPriority.NORMAL, opened)
    b = deadlines(POLICY, TicketPriority.NORMAL, opened + timedelta(minutes=later))
    assert a.first_response_due <= b.first_response_due and a.resolution_due <= b.resolution_due
