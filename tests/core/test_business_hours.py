"""Business hours for support SLAs (issue 9): deadlines and elapsed working time counted in a weekly
schedule of local wall-clock intervals with holidays. Worked examples with exact instants (weekend,
holiday, lunch gap, the DST nights of 2026 in Berlin, 24x7, a day Samoa skipped), the calendar document
and its errors with their field paths, and hypothesis properties (a deadline's working time is exactly
the target, deadlines are monotonic and lie in working time, 24x7 is elapsed time, an independent
minute-by-minute oracle agrees)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.business_hours import (
    BusinessCalendar,
    WorkingInterval,
    add_business_time,
    business_minutes_between,
    calendar_from_doc,
    warning_at,
)
from kassa.core.errors import DomainError

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
DAYS = (*WEEKDAYS, "saturday", "sunday")
NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]


def _doc(hours: Any = None, holidays: Any = (), zone: str = "Europe/Berlin") -> dict[str, Any]:
    if hours is None:
        hours = {day: NINE_TO_FIVE for day in WEEKDAYS}
    return {"time_zone": zone, "hours": hours, "holidays": list(holidays)}


OFFICE = calendar_from_doc(_doc())
# Good Friday, Easter Monday and Whit Monday 2026 (Easter Sunday is 5 April 2026).
GERMAN = calendar_from_doc(_doc(holidays=["2026-04-03", "2026-04-06", "2026-05-25"]))
LUNCH = calendar_from_doc(
    _doc({day: [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}] for day in WEEKDAYS})
)
ALWAYS = calendar_from_doc(_doc({day: [{"start": "00:00", "end": "24:00"}] for day in DAYS}))
NIGHTS = calendar_from_doc(_doc({day: [{"start": "01:00", "end": "04:00"}] for day in DAYS}))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def _refused(doc: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        calendar_from_doc(doc)
    assert caught.value.code == "invalid_business_hours"
    return caught.value


# ---- deadlines: the worked examples of the issue ---------------------------------------------------------


def test_friday_afternoon_with_a_4h_target_ends_monday_1230_the_weekend_skipped() -> None:
    opened = utc(2026, 3, 6, 15, 30)  # Friday 16:30 CET
    deadline = add_business_time(OFFICE, opened, 240)
    assert deadline == utc(2026, 3, 9, 11, 30)  # Monday 12:30 CET: 30 min on Friday, 3 h 30 on Monday
    assert deadline.tzinfo is UTC
    assert business_minutes_between(OFFICE, opened, deadline) == 240


def test_the_same_across_a_holiday_monday_ends_tuesday_1230() -> None:
    opened = utc(2026, 5, 22, 14, 30)  # Friday 16:30 CEST, Whit Monday 25 May is a holiday
    assert add_business_time(GERMAN, opened, 240) == utc(2026, 5, 26, 10, 30)  # Tuesday 12:30 CEST
    assert add_business_time(OFFICE, opened, 240) == utc(2026, 5, 25, 10, 30)  # no holiday: Monday


def test_easter_thursday_afternoon_skips_good_friday_the_weekend_and_easter_monday() -> None:
    opened = utc(2026, 4, 2, 14, 30)  # Thursday 16:30 CEST
    assert add_business_time(GERMAN, opened, 240) == utc(2026, 4, 7, 10, 30)  # Tuesday 12:30 CEST
    assert business_minutes_between(GERMAN, opened, utc(2026, 4, 7, 10, 30)) == 240


def test_opened_on_saturday_counts_from_monday_0900() -> None:
    opened = utc(2026, 3, 7, 10, 0)  # Saturday 11:00 CET
    assert add_business_time(OFFICE, opened, 60) == utc(2026, 3, 9, 9, 0)  # Monday 10:00 CET
    assert add_business_time(OFFICE, opened, 1) == utc(2026, 3, 9, 8, 1)  # Monday 09:01 CET
    assert business_minutes_between(OFFICE, opened, utc(2026, 3, 9, 8, 0)) == 0


def test_before_opening_counts_from_opening_and_after_closing_from_the_next_day() -> None:
    assert add_business_time(OFFICE, utc(2026, 3, 10, 5, 0), 30) == utc(2026, 3, 10, 8, 30)
    assert add_business_time(OFFICE, utc(2026, 3, 10, 18, 0), 30) == utc(2026, 3, 11, 8, 30)


def test_a_target_that_fills_the_day_ends_at_closing_time_not_at_the_next_opening() -> None:
    opened = utc(2026, 3, 10, 8, 0)  # Tuesday 09:00 CET
    assert add_business_time(OFFICE, opened, 480) == utc(2026, 3, 10, 16, 0)  # Tuesday 17:00 CET
    assert add_business_time(OFFICE, opened, 481) == utc(2026, 3, 11, 8, 1)  # Wednesday 09:01 CET


def test_zero_minutes_is_the_start_itself_even_outside_working_hours() -> None:
    sunday_night = utc(2026, 3, 8, 2, 17, 5)
    assert add_business_time(OFFICE, sunday_night, 0) == sunday_night
    assert add_business_time(GERMAN, utc(2026, 4, 6, 10, 0), 0) == utc(2026, 4, 6, 10, 0)  # a holiday


def test_the_lunch_gap_is_not_working_time() -> None:
    opened = utc(2026, 3, 10, 10, 0)  # Tuesday 11:00 CET
    assert add_business_time(LUNCH, opened, 120) == utc(2026, 3, 10, 13, 0)  # 14:00 CET
    assert business_minutes_between(LUNCH, opened, utc(2026, 3, 10, 13, 0)) == 120
    assert add_business_time(LUNCH, opened, 60) == utc(2026, 3, 10, 11, 0)  # 12:00 CET, at the break
    assert add_business_time(LUNCH, opened, 61) == utc(2026, 3, 10, 12, 1)  # 13:01 CET
    assert business_minutes_between(LUNCH, utc(2026, 3, 10, 11, 0), utc(2026, 3, 10, 12, 0)) == 0


def test_a_start_with_seconds_keeps_them() -> None:
    opened = datetime(2026, 3, 10, 8, 0, 30, 250_000, tzinfo=UTC)
    assert add_business_time(OFFICE, opened, 10) == datetime(2026, 3, 10, 8, 10, 30, 250_000, tzinfo=UTC)


def test_a_start_in_another_zone_is_the_same_instant() -> None:
    assert add_business_time(OFFICE, berlin(2026, 3, 6, 16, 30), 240) == utc(2026, 3, 9, 11, 30)
    new_york = datetime(2026, 3, 6, 10, 30, tzinfo=ZoneInfo("America/New_York"))  # = 15:30 UTC
    assert add_business_time(OFFICE, new_york, 240) == utc(2026, 3, 9, 11, 30)


def test_the_schedule_is_read_in_the_calendars_zone() -> None:
    new_york = calendar_from_doc(_doc(zone="America/New_York"))
    opened = utc(2026, 3, 10, 12, 0)  # Tuesday 08:00 EDT (DST began on 8 March in New York)
    assert add_business_time(new_york, opened, 60) == utc(2026, 3, 10, 14, 0)  # 10:00 EDT


# ---- DST: intervals are local wall times -----------------------------------------------------------------


def test_a_target_across_the_spring_forward_weekend_lands_on_summer_time() -> None:
    opened = utc(2026, 3, 27, 15, 0)  # Friday 16:00 CET; clocks go forward on Sunday 29 March
    deadline = add_business_time(OFFICE, opened, 120)
    assert deadline == utc(2026, 3, 30, 8, 0)  # Monday 10:00 CEST (a fixed +01:00 would say 09:00 UTC)
    assert deadline.astimezone(BERLIN) == berlin(2026, 3, 30, 10, 0)
    assert business_minutes_between(OFFICE, opened, deadline) == 120


def test_a_target_across_the_fall_back_weekend_lands_on_winter_time() -> None:
    opened = utc(2026, 10, 23, 14, 0)  # Friday 16:00 CEST; clocks go back on Sunday 25 October
    assert add_business_time(OFFICE, opened, 120) == utc(2026, 10, 26, 9, 0)  # Monday 10:00 CET


def test_the_spring_forward_night_has_an_hour_less_of_a_night_shift() -> None:
    # 01:00-04:00 on 29 March 2026 is 01:00 CET (00:00 UTC) to 04:00 CEST (02:00 UTC): 2 h, not 3.
    assert business_minutes_between(NIGHTS, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == 120
    assert business_minutes_between(NIGHTS, utc(2026, 3, 27, 12), utc(2026, 3, 28, 12)) == 180
    assert add_business_time(NIGHTS, utc(2026, 3, 28, 12), 90) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert add_business_time(NIGHTS, utc(2026, 3, 28, 12), 150) == utc(2026, 3, 29, 23, 30)  # 01:30 CEST


def test_the_fall_back_night_has_an_hour_more_of_a_night_shift() -> None:
    # 01:00 CEST (23:00 UTC on the 24th) to 04:00 CET (03:00 UTC): the clock shows 02:00-03:00 twice.
    assert business_minutes_between(NIGHTS, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)) == 240
    assert add_business_time(NIGHTS, utc(2026, 10, 24, 12), 240) == utc(2026, 10, 25, 3, 0)


def test_a_skipped_wall_time_starts_when_the_clock_jumps_and_a_repeated_one_at_its_first_showing() -> None:
    def only_sunday(start: str, end: str) -> BusinessCalendar:
        return calendar_from_doc(_doc({"sunday": [{"start": start, "end": end}]}))

    spring = (utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert business_minutes_between(only_sunday("02:15", "02:45"), *spring) == 0  # never on the clock
    assert business_minutes_between(only_sunday("02:30", "04:00"), *spring) == 60  # 03:00-04:00 CEST
    assert add_business_time(only_sunday("02:30", "04:00"), spring[0], 1) == utc(2026, 3, 29, 1, 1)
    autumn = (utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert business_minutes_between(only_sunday("02:00", "02:30"), *autumn) == 30  # the first 02:00 only
    assert add_business_time(only_sunday("02:00", "02:30"), autumn[0], 30) == utc(2026, 10, 25, 0, 30)
    assert business_minutes_between(only_sunday("02:30", "03:00"), *autumn) == 90  # 02:30 CEST to 03:00 CET


# ---- 24x7 ------------------------------------------------------------------------------------------------


def test_a_24x7_calendar_is_plain_elapsed_time_across_a_dst_night() -> None:
    opened = utc(2026, 3, 28, 21, 0)  # Saturday 22:00 CET
    assert add_business_time(ALWAYS, opened, 360) == utc(2026, 3, 29, 3, 0)  # 05:00 CEST
    assert business_minutes_between(ALWAYS, utc(2026, 3, 28, 23), utc(2026, 3, 29, 23)) == 1440
    assert add_business_time(ALWAYS, utc(2026, 3, 6, 15, 30), 240) == utc(2026, 3, 6, 19, 30)


def test_a_24x7_calendar_in_samoa_counts_the_day_samoa_skipped_as_no_time_at_all() -> None:
    """Samoa moved across the date line: 29 December 2011 24:00 (-10:00) was 31 December 00:00 (+14:00)."""
    apia = calendar_from_doc(
        _doc({day: [{"start": "00:00", "end": "24:00"}] for day in DAYS}, (), "Pacific/Apia")
    )
    opened = utc(2011, 12, 30, 8, 0)  # 29 December 22:00 local
    assert add_business_time(apia, opened, 240) == utc(2011, 12, 30, 12, 0)  # 31 December 02:00 local
    assert business_minutes_between(apia, utc(2011, 12, 29), utc(2011, 12, 31)) == 2880


def test_a_24x7_calendar_with_midnight_dst_in_santiago_is_elapsed_time() -> None:
    # Chile moved its clocks at local midnight in 2026: back on 5 April, forward on 6 September.
    santiago = calendar_from_doc(
        _doc({day: [{"start": "00:00", "end": "24:00"}] for day in DAYS}, (), "America/Santiago")
    )
    for start in (utc(2026, 4, 4, 20), utc(2026, 9, 5, 20)):
        assert add_business_time(santiago, start, 600) == start + timedelta(minutes=600)
        assert business_minutes_between(santiago, start, start + timedelta(hours=30)) == 1800


# ---- business_minutes_between ----------------------------------------------------------------------------


def test_minutes_between_floor_to_whole_minutes() -> None:
    start = utc(2026, 3, 10, 8, 0)
    assert business_minutes_between(OFFICE, start, start + timedelta(seconds=59, microseconds=999_999)) == 0
    assert business_minutes_between(OFFICE, start, start + timedelta(seconds=60)) == 1
    assert business_minutes_between(OFFICE, start, start + timedelta(minutes=90, seconds=30)) == 90


def test_minutes_between_a_whole_week_and_a_holiday_week() -> None:
    assert business_minutes_between(OFFICE, utc(2026, 3, 9), utc(2026, 3, 16)) == 5 * 480
    assert business_minutes_between(GERMAN, utc(2026, 3, 30), utc(2026, 4, 13)) == 8 * 480
    assert business_minutes_between(OFFICE, utc(2026, 3, 9), utc(2026, 3, 9)) == 0


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        business_minutes_between(OFFICE, utc(2026, 3, 10, 9), utc(2026, 3, 10, 8))
    assert (caught.value.code, caught.value.field) == ("invalid_interval", "end")


# ---- warnings --------------------------------------------------------------------------------------------


def test_a_warning_at_75_percent_of_a_4h_target_opened_friday_afternoon() -> None:
    opened = utc(2026, 3, 6, 15, 30)  # Friday 16:30 CET; 180 of 240 minutes: 30 Friday, 150 Monday
    assert warning_at(OFFICE, opened, 240, 75) == utc(2026, 3, 9, 10, 30)  # Monday 11:30 CET
    assert warning_at(OFFICE, opened, 240, 100) == add_business_time(OFFICE, opened, 240)
    assert warning_at(OFFICE, opened, 240, 0) == opened


def test_a_warning_on_a_fraction_of_a_minute_comes_at_the_whole_minute_before() -> None:
    opened = utc(2026, 3, 10, 8, 0)  # Tuesday 09:00 CET; 75 % of 45 minutes is 33.75 minutes
    assert warning_at(OFFICE, opened, 45, 75) == utc(2026, 3, 10, 8, 33)
    assert warning_at(OFFICE, opened, 1, 99) == opened


@pytest.mark.parametrize("percent", [-1, 101, True, "80"])
def test_a_warning_percent_outside_0_to_100_is_refused(percent: Any) -> None:
    with pytest.raises(DomainError) as caught:
        warning_at(OFFICE, utc(2026, 3, 10, 8), 60, percent)
    assert (caught.value.code, caught.value.field) == ("invalid_warn_percent", "warn_percent")


@pytest.mark.parametrize("minutes", [-1, 366 * 24 * 60 + 1, False, 1.5, "60"])
def test_a_target_that_is_not_0_to_a_years_minutes_is_refused(minutes: Any) -> None:
    with pytest.raises(DomainError) as caught:
        add_business_time(OFFICE, utc(2026, 3, 10, 8), minutes)
    assert (caught.value.code, caught.value.field) == ("invalid_minutes", "minutes")


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        add_business_time(OFFICE, datetime(2026, 3, 10, 8), 60)  # noqa: DTZ001
    with pytest.raises(ValueError, match="naive"):
        business_minutes_between(OFFICE, utc(2026, 3, 10, 8), datetime(2026, 3, 10, 9))  # noqa: DTZ001


# ---- the calendar document -------------------------------------------------------------------------------


def test_a_document_reads_into_a_calendar_and_back_in_its_normal_form() -> None:
    doc = {
        "time_zone": "Europe/Berlin",
        "hours": {
            "friday": [{"start": "13:00", "end": "17:00"}, {"start": "08:00", "end": "12:00"}],
            "monday": [{"start": "09:00", "end": "24:00"}],
            "sunday": [],
        },
        "holidays": ["2026-12-25", "2026-05-25"],
    }
    calendar = calendar_from_doc(doc)
    assert calendar == BusinessCalendar(
        time_zone="Europe/Berlin",
        week=(
            (WorkingInterval(start=540, end=1440),),
            (),
            (),
            (),
            (WorkingInterval(start=480, end=720), WorkingInterval(start=780, end=1020)),
            (),
            (),
        ),
        holidays=frozenset({date(2026, 5, 25), date(2026, 12, 25)}),
    )
    assert calendar.to_doc() == {
        "time_zone": "Europe/Berlin",
        "hours": {
            "monday": [{"start": "09:00", "end": "24:00"}],
            "friday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
        },
        "holidays": ["2026-05-25", "2026-12-25"],
    }
    assert calendar_from_doc(json.loads(json.dumps(calendar.to_doc()))) == calendar


def test_holidays_are_optional_and_touching_intervals_are_allowed() -> None:
    calendar = calendar_from_doc(
        {
            "time_zone": "UTC",
            "hours": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "12:00", "end": "17:00"}]},
        }
    )
    assert calendar.holidays == frozenset()
    assert add_business_time(calendar, utc(2026, 3, 9, 11, 0), 120) == utc(2026, 3, 9, 13, 0)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], None),
        ({"hours": {"monday": NINE_TO_FIVE}}, "time_zone"),
        (_doc(zone="Europe/Atlantis"), "time_zone"),
        (_doc(zone="localtime"), "time_zone"),  # the machine's zone, whatever it is
        (_doc(zone="../etc/passwd"), "time_zone"),
        ({**_doc(), "name": "x"}, "name"),
        (_doc(hours=[]), "hours"),
        (_doc(hours={}), "hours"),  # no working time at all: add_business_time would never end
        (_doc(hours={day: [] for day in DAYS}), "hours"),
        (_doc(hours={"Monday": NINE_TO_FIVE}), "hours.Monday"),
        (_doc(hours={"mon": NINE_TO_FIVE}), "hours.mon"),
        (_doc(hours={"monday": {"start": "09:00", "end": "17:00"}}), "hours.monday"),
        (_doc(hours={"monday": ["09:00-17:00"]}), "hours.monday.0"),
        (_doc(hours={"monday": [{"start": "09:00"}]}), "hours.monday.0.end"),
        (_doc(hours={"monday": [{"start": "09:00", "end": "17:00", "x": 1}]}), "hours.monday.0.x"),
        (_doc(hours={"monday": [{"start": "9:00", "end": "17:00"}]}), "hours.monday.0.start"),
        (_doc(hours={"monday": [{"start": "09:00:00", "end": "17:00"}]}), "hours.monday.0.start"),
        (_doc(hours={"monday": [{"start": 900, "end": "17:00"}]}), "hours.monday.0.start"),
        (_doc(hours={"monday": [{"start": "24:00", "end": "24:00"}]}), "hours.monday.0.start"),
        (_doc(hours={"monday": [{"start": "09:00", "end": "24:01"}]}), "hours.monday.0.end"),
        (_doc(hours={"monday": [{"start": "09:60", "end": "17:00"}]}), "hours.monday.0.start"),
        (_doc(hours={"monday": [{"start": "17:00", "end": "09:00"}]}), "hours.monday.0.end"),
        (_doc(hours={"monday": [{"start": "09:00", "end": "09:00"}]}), "hours.monday.0.end"),
        (
            _doc(hours={"monday": [{"start": "13:00", "end": "17:00"}, {"start": "08:00", "end": "13:01"}]}),
            "hours.monday.1",
        ),
        (
            _doc(hours={"monday": [{"start": "08:00", "end": "17:00"}, {"start": "12:00", "end": "13:00"}]}),
            "hours.monday.1",
        ),
        ({**_doc(), "holidays": "2026-05-25"}, "holidays"),
        (_doc(holidays=["2026-02-30"]), "holidays.0"),
        (_doc(holidays=["2026-05-25", "20260526"]), "holidays.1"),
        (_doc(holidays=["2026-05-25T00:00"]), "holidays.0"),
        (_doc(holidays=[20260525]), "holidays.0"),
        (_doc(holidays=["2026-05-25", "2026-05-25"]), "holidays.1"),
    ],
)
def test_a_bad_document_is_refused_with_the_field_path(doc: Any, field: str | None) -> None:
    assert _refused(doc).field == field


def test_a_calendar_built_directly_is_checked_as_well() -> None:
    with pytest.raises(DomainError) as caught:
        BusinessCalendar(time_zone="Europe/Berlin", week=((),) * 7, holidays=frozenset())
    assert (caught.value.code, caught.value.field) == ("invalid_business_hours", "hours")
    with pytest.raises(DomainError) as caught:
        WorkingInterval(start=600, end=540)
    assert (caught.value.code, caught.value.field) == ("invalid_business_hours", "end")
    with pytest.raises(DomainError) as caught:
        BusinessCalendar(
            time_zone="Europe/Berlin", week=((WorkingInterval(start=0, end=60),),) * 6, holidays=frozenset()
        )
    assert (caught.value.code, caught.value.field) == ("invalid_business_hours", "hours")
    with pytest.raises(DomainError) as caught:
        BusinessCalendar(
            time_zone="Europe/Berlin",
            week=((WorkingInterval(start=0, end=60),),) * 7,
            holidays=frozenset({datetime(2026, 5, 25, tzinfo=UTC)}),
        )
    assert (caught.value.code, caught.value.field) == ("invalid_business_hours", "holidays")


# ---- properties ------------------------------------------------------------------------------------------

# DST at 02:00 (Berlin, New York), at midnight (Santiago), by 30 minutes (Lord Howe), none (Kolkata).
ZONES = ["Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.builds(
    lambda seconds, micro: T0 + timedelta(seconds=seconds, microseconds=micro),
    st.integers(0, 2 * 365 * 86400),
    st.integers(0, 999_999) | st.just(0),
)
whole_minutes = st.integers(0, 2 * 365 * 1440).map(lambda minutes: T0 + timedelta(minutes=minutes))


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def _day(boundaries: list[int]) -> list[dict[str, str]]:
    """Sorted distinct boundaries paired up: non-empty intervals that neither overlap nor touch."""
    return [
        {"start": _hhmm(a), "end": _hhmm(b)} for a, b in zip(boundaries[::2], boundaries[1::2], strict=False)
    ]


def _documents(low: int, zones: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    boundaries = st.lists(st.integers(low, 1440), unique=True, max_size=6).map(sorted)
    # At least 2 h a week, so a target of 100 h stays within a few years of the start.
    hours = st.fixed_dictionaries({day: boundaries.map(_day) for day in DAYS}).filter(
        lambda hours: (
            sum(_minutes(i["end"]) - _minutes(i["start"]) for day in hours.values() for i in day) >= 120
        )
    )
    holidays = st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), unique=True, max_size=40)
    return st.builds(
        lambda zone, hours, days: {
            "time_zone": zone,
            "hours": hours,
            "holidays": [d.isoformat() for d in days],
        },
        st.sampled_from(zones),
        hours,
        holidays,
    )


calendars = _documents(0, ZONES).map(calendar_from_doc)
targets = st.integers(0, 6000)


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=instants, minutes=targets)
def test_the_working_time_up_to_a_deadline_is_exactly_the_target(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    deadline = add_business_time(calendar, start, minutes)
    assert deadline.tzinfo is UTC
    assert deadline >= start + timedelta(minutes=minutes)  # working time never runs faster than real time
    assert business_minutes_between(calendar, start, deadline) == minutes
    if minutes:
        assert business_minutes_between(calendar, start, deadline - timedelta(microseconds=1)) == minutes - 1


@settings(deadline=None)
@given(calendar=calendars, start=instants, minutes=targets, more=st.integers(0, 3000))
def test_deadlines_are_monotonic_and_compose(
    calendar: BusinessCalendar, start: datetime, minutes: int, more: int
) -> None:
    first = add_business_time(calendar, start, minutes)
    later = add_business_time(calendar, start, minutes + more)
    assert later - first >= timedelta(minutes=more)
    assert add_business_time(calendar, first, more) == later


@settings(deadline=None)
@given(
    calendar=calendars, start=instants, minutes=targets, percents=st.lists(st.integers(0, 100), min_size=2)
)
def test_warnings_come_in_percent_order_and_never_after_the_deadline(
    calendar: BusinessCalendar, start: datetime, minutes: int, percents: list[int]
) -> None:
    warnings = [warning_at(calendar, start, minutes, p) for p in sorted(percents)]
    assert warnings == sorted(warnings)
    assert start <= warnings[0] and warnings[-1] <= add_business_time(calendar, start, minutes)
    assert business_minutes_between(calendar, start, warnings[-1]) == minutes * max(percents) // 100


@given(zone=st.sampled_from([*ZONES, "Pacific/Apia", "Pacific/Chatham"]), start=instants, minutes=targets)
def test_a_24x7_calendar_is_elapsed_time_in_any_zone(zone: str, start: datetime, minutes: int) -> None:
    always = calendar_from_doc(_doc({day: [{"start": "00:00", "end": "24:00"}] for day in DAYS}, (), zone))
    end = start + timedelta(minutes=minutes)
    assert add_business_time(always, start, minutes) == end
    assert business_minutes_between(always, start, end + timedelta(seconds=59)) == minutes


@given(calendar=calendars)
def test_a_calendar_document_round_trips(calendar: BusinessCalendar) -> None:
    doc = calendar.to_doc()
    assert calendar_from_doc(json.loads(json.dumps(doc))) == calendar
    assert calendar_from_doc(doc).to_doc() == doc


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 3000)
    | st.text(max_size=10)
    | st.sampled_from(["24:00", "x"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


def _damage(doc: dict[str, Any], where: int, which: int, junk: Any) -> None:
    """Put `junk` in one place of a valid document: a top-level value, a day, an interval, a bound."""
    days = [intervals for intervals in doc["hours"].values() if intervals]
    if where == 0:
        doc[("time_zone", "hours", "holidays", "extra")[which % 4]] = junk
    elif where == 1:
        doc["hours"][DAYS[which]] = junk
    elif where == 2 and days:
        days[0].append(junk)
    elif where == 3 and days:
        days[0][0]["start" if which % 2 else "end"] = junk
    else:
        doc["holidays"].append(junk)


@given(doc=_documents(0, ZONES), where=st.integers(0, 4), which=st.integers(0, 6), junk=json_values)
def test_a_damaged_document_is_refused_with_the_calendars_error_or_reads(
    doc: dict[str, Any], where: int, which: int, junk: Any
) -> None:
    _damage(doc, where, which, junk)
    try:
        calendar = calendar_from_doc(doc)
    except DomainError as error:
        assert error.code == "invalid_business_hours"
        assert error.field is None or error.field.split(".")[0] in {"time_zone", "hours", "holidays", "extra"}
    else:
        assert calendar_from_doc(calendar.to_doc()) == calendar


# ---- an independent oracle: the clock read minute by minute ----------------------------------------------

# Intervals from 04:00 keep clear of the DST hours of Berlin and New York, where "the wall clock shows a
# time in the interval" and "from the first showing of the start to the first showing of the end" agree.
oracle_calendars = _documents(240, ["Europe/Berlin", "America/New_York"]).map(calendar_from_doc)


def _working(calendar: BusinessCalendar, instant: datetime) -> bool:
    local = instant.astimezone(ZoneInfo(calendar.time_zone))
    minute = local.hour * 60 + local.minute
    return local.date() not in calendar.holidays and any(
        i.start <= minute < i.end for i in calendar.week[local.weekday()]
    )


@settings(max_examples=60, deadline=None)
@given(calendar=oracle_calendars, start=whole_minutes, minutes=st.integers(0, 300))
def test_the_deadline_is_where_a_minute_by_minute_count_reaches_the_target(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    deadline = add_business_time(calendar, start, minutes)
    counted, at = 0, start
    while counted < minutes:
        counted += _working(calendar, at)
        at += timedelta(minutes=1)
    assert deadline == at
    if minutes:  # the last minute before the deadline is working time: never a holiday, never closed
        assert _working(calendar, deadline - timedelta(minutes=1))


@settings(max_examples=60, deadline=None)
@given(calendar=oracle_calendars, start=whole_minutes, span=st.integers(0, 4 * 1440))
def test_minutes_between_is_a_minute_by_minute_count(
    calendar: BusinessCalendar, start: datetime, span: int
) -> None:
    counted = sum(_working(calendar, start + timedelta(minutes=k)) for k in range(span))
    assert business_minutes_between(calendar, start, start + timedelta(minutes=span)) == counted
