"""Business hours: the working time that SLA targets are counted in (issue 9).

A `BusinessCalendar` is a weekly schedule of local wall-clock intervals in an IANA time zone (Mon-Fri
09:00-17:00 Europe/Berlin, or 08:00-12:00 and 13:00-17:00 with a lunch break) and a set of holidays,
local dates with no working time. "4 business hours" is 240 minutes of instants inside those intervals.

Intervals are wall times because the office opens at 09:00 whatever the UTC offset: a deadline across a
DST change lands at the right local time. An interval runs from the first instant the local clock shows
its start to the first instant it shows its end. So on a spring-forward night a wall time the jump skips
begins when the clock jumps (02:30-04:00 in Berlin on 29 March 2026 is 03:00-04:00 CEST, one hour), and
on a fall-back night a repeated wall time is its first showing (02:00-02:30 on 25 October 2026 is the
CEST half hour only, while 01:00-04:00 holds four hours). Consecutive days tile exactly, so a 24x7
calendar (every day 00:00-24:00) is plain elapsed time in every zone. An interval crossing midnight is
two intervals: 22:00-24:00 and 00:00-06:00 the next day.

A calendar without any working time is refused when it is built, so every deadline exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kassa.core.clock import utc
from kassa.core.errors import DomainError, prefixed
from kassa.core.parties import time_zone as _known_zone

ERROR = "invalid_business_hours"
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MINUTES_PER_DAY = 24 * 60
MAX_INTERVALS_PER_DAY = 48
MAX_HOLIDAYS = 5000  # a decade of every public holiday of several regions
# A target longer than a year is no service level; the cap also bounds the day-by-day walk.
MAX_TARGET_MINUTES = 366 * MINUTES_PER_DAY
_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)


def _error(path: str | None, message: str) -> DomainError:
    return DomainError(ERROR, message, path or None)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingInterval:
    """Working time from `start` to `end`, in minutes after local midnight; `end` 1440 is "24:00"."""

    start: int
    end: int

    def __post_init__(self) -> None:
        for name, value, low, high in (("start", self.start, 0, 1439), ("end", self.end, 1, 1440)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _error(name, f"{name} is a minute of the day from {low} to {high}.")
        if self.end <= self.start:
            raise _error("end", "An interval ends after it starts; split one crossing midnight in two.")


@dataclass(frozen=True, slots=True, kw_only=True)
class BusinessCalendar:
    """`week` holds the intervals of each weekday, Monday first (date.weekday() indexes it), each day's
    sorted by start; `holidays` are local dates in `time_zone` without working time."""

    time_zone: str
    week: tuple[tuple[WorkingInterval, ...], ...]
    holidays: frozenset[date]

    def __post_init__(self) -> None:
        try:
            _known_zone(self.time_zone, "time_zone")
        except DomainError:
            raise _error(
                "time_zone", f"{self.time_zone!r} is not an IANA time zone like 'Europe/Berlin'."
            ) from None
        if self.time_zone == "localtime":  # the machine's own zone: its meaning changes with the host
            raise _error("time_zone", "Name the zone, like 'Europe/Berlin', not 'localtime'.")
        if not isinstance(self.week, tuple) or len(self.week) != 7:
            raise _error("hours", "The week has seven days, Monday first.")
        object.__setattr__(
            self, "week", tuple(_checked_day(day, f"hours.{DAY_NAMES[i]}") for i, day in enumerate(self.week))
        )
        if not any(self.week):
            # Without working time no target is ever reached: add_business_time would never return.
            raise _error("hours", "A calendar needs some working time in its week.")
        if not isinstance(self.holidays, frozenset) or len(self.holidays) > MAX_HOLIDAYS:
            raise _error("holidays", f"holidays is a set of at most {MAX_HOLIDAYS} dates.")
        if any(type(day) is not date for day in self.holidays):  # a datetime is a date too, and no holiday
            raise _error("holidays", "A holiday is a date.")

    def to_doc(self) -> dict[str, Any]:
        """The calendar's document in its normal form: days with working time in weekday order, each
        day's intervals in order, holidays sorted."""
        return {
            "time_zone": self.time_zone,
            "hours": {
                DAY_NAMES[i]: [{"start": _hhmm(v.start), "end": _hhmm(v.end)} for v in day]
                for i, day in enumerate(self.week)
                if day
            },
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
        }


def _checked_day(day: Any, path: str) -> tuple[WorkingInterval, ...]:
    """The day's intervals sorted by start; an overlap is reported at the later of the two as given."""
    if not isinstance(day, tuple) or len(day) > MAX_INTERVALS_PER_DAY:
        raise _error(path, f"A day has at most {MAX_INTERVALS_PER_DAY} intervals.")
    for i, interval in enumerate(day):
        if not isinstance(interval, WorkingInterval):
            raise _error(f"{path}.{i}", "Expected a working interval.")
        for earlier in day[:i]:
            if interval.start < earlier.end and earlier.start < interval.end:  # touching is fine
                raise _error(f"{path}.{i}", "Intervals of a day must not overlap.")
    return tuple(sorted(day, key=lambda interval: interval.start))


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# ---- the document ----------------------------------------------------------------------------------------


def calendar_from_doc(doc: Any) -> BusinessCalendar:
    """A calendar from its JSON document: {time_zone, hours: {"monday": [{start: "09:00", end: "17:00"}],
    ...}, holidays?: ["2026-05-25", ...]}. Days are lowercase English names, a day left out has no working
    time, times are "HH:MM" and an end may be "24:00". The first problem is reported with its path, e.g.
    `hours.monday.1.end`, and code `invalid_business_hours`."""
    if not isinstance(doc, Mapping):
        raise _error(None, "A business calendar is an object: {time_zone, hours, holidays}.")
    _known_fields(doc, "", {"time_zone", "hours", "holidays"})
    if "time_zone" not in doc:
        raise _error("time_zone", "time_zone is required.")
    hours = doc.get("hours")
    if not isinstance(hours, Mapping):
        raise _error(
            "hours",
            'hours is an object of intervals by day: {"monday": [{"start": "09:00", "end": "17:00"}]}.',
        )
    for name in hours:
        if name not in DAY_NAMES:
            raise _error(f"hours.{name}", f"A day is one of {', '.join(DAY_NAMES)}.")
    week = tuple(_day_intervals(hours.get(name, []), f"hours.{name}") for name in DAY_NAMES)
    return BusinessCalendar(
        time_zone=doc["time_zone"], week=week, holidays=_holidays(doc.get("holidays", []))
    )


def _known_fields(doc: Mapping[str, Any], path: str, names: set[str]) -> None:
    for key in doc:
        if key not in names:
            raise _error(f"{path}{key}", f"Unknown field {key!r}.")


def _day_intervals(value: Any, path: str) -> tuple[WorkingInterval, ...]:
    if not isinstance(value, list):
        raise _error(path, 'A day is a list of intervals: [{"start": "09:00", "end": "17:00"}].')
    intervals = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise _error(f"{path}.{i}", 'An interval is an object: {"start": "09:00", "end": "17:00"}.')
        _known_fields(item, f"{path}.{i}.", {"start", "end"})
        try:
            interval = WorkingInterval(
                start=_minute(item.get("start"), "start"), end=_minute(item.get("end"), "end")
            )
        except DomainError as error:
            raise prefixed(error, f"{path}.{i}") from None
        intervals.append(interval)
    return _checked_day(tuple(intervals), path)


def _minute(value: Any, name: str) -> int:
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise _error(name, f'{name} is a time "HH:MM" from 00:00 to 23:59 (an end may be 24:00).')
    minute = int(value[:2]) * 60 + int(value[3:])
    if name == "start" and minute == MINUTES_PER_DAY:
        raise _error(name, "A day's work cannot start at 24:00; that is 00:00 of the next day.")
    return minute


def _holidays(value: Any) -> frozenset[date]:
    if not isinstance(value, list) or len(value) > MAX_HOLIDAYS:
        raise _error("holidays", f'holidays is a list of at most {MAX_HOLIDAYS} dates like "2026-05-25".')
    days: set[date] = set()
    for i, item in enumerate(value):
        try:
            # The pattern first: fromisoformat also reads "20260525", which is not this document's format.
            day = date.fromisoformat(item) if isinstance(item, str) and _ISO_DATE.fullmatch(item) else None
        except ValueError:
            day = None
        if day is None:
            raise _error(f"holidays.{i}", f'{item!r} is not a date like "2026-05-25".')
        if day in days:
            raise _error(f"holidays.{i}", f"{day} is already a holiday.")
        days.add(day)
    return frozenset(days)


# ---- working time ----------------------------------------------------------------------------------------


def add_business_time(calendar: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    """The deadline: the UTC instant at which `minutes` of working time have passed since `start`. A start
    outside working time counts from the next opening; a deadline that uses up an interval is its end
    (17:00, not the next morning's 09:00). Zero minutes is `start` itself, even outside working time:
    nothing is left to count, and the deadline of a 0-minute target is the moment it was set."""
    start = utc(start)
    left = _MINUTE * _target(minutes)
    if not left:
        return start
    for opens, closes in _intervals_from(calendar, start):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: the working intervals never end")  # pragma: no cover


def business_minutes_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Working minutes from `start` to `end`, whole minutes rounded down (59 seconds are 0 minutes)."""
    start, end = utc(start), utc(end)
    if end < start:
        raise DomainError("invalid_interval", "end is before start.", "end")
    worked = timedelta()
    for opens, closes in _intervals_from(calendar, start):
        if opens >= end:
            break
        worked += min(closes, end) - opens
    return worked // _MINUTE


def warning_at(calendar: BusinessCalendar, start: datetime, minutes: int, warn_percent: int) -> datetime:
    """When `warn_percent` % of a `minutes` target has passed, for a breach warning before the deadline.
    A fraction of a minute is dropped (75 % of 45 minutes warns at 33, not 33.75): a warning a few seconds
    early is harmless, a late one is not, and warnings stay on the deadline's whole-minute grid."""
    if isinstance(warn_percent, bool) or not isinstance(warn_percent, int) or not 0 <= warn_percent <= 100:
        raise DomainError(
            "invalid_warn_percent", "warn_percent is a whole number from 0 to 100.", "warn_percent"
        )
    return add_business_time(calendar, start, _target(minutes) * warn_percent // 100)


def _target(minutes: Any) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= MAX_TARGET_MINUTES:
        raise DomainError(
            "invalid_minutes", f"minutes is a whole number from 0 to {MAX_TARGET_MINUTES}.", "minutes"
        )
    return minutes


def _intervals_from(calendar: BusinessCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals (UTC, half-open, non-empty) ending after `start`, in order, the first cut to
    begin at `start`. Endless, and a calendar always has working time, so a consumer's loop ends."""
    zone = ZoneInfo(calendar.time_zone)
    # Earlier days' intervals end by the first showing of this local day's midnight, not after `start`.
    day = start.astimezone(zone).date()
    while True:
        if day not in calendar.holidays:
            for interval in calendar.week[day.weekday()]:
                opens, closes = _instant(zone, day, interval.start), _instant(zone, day, interval.end)
                if closes > start and closes > opens:
                    yield max(opens, start), closes
        day += timedelta(days=1)


def _instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    """The first UTC instant at which the local clock shows `minute` after midnight of `day` or later:
    a wall time that occurs twice is its first occurrence; one that a jump skips is the jump itself."""
    wall = datetime.combine(day, time()) + minute * _MINUTE
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier of a repeated wall time
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # Skipped: with fold=1 the wall time reads at the offset after the jump, an instant before it; with
    # fold=0 at the offset before, an instant after it. The jump lies between: find it to the second
    # (tzdata's transitions are whole seconds), the first instant whose clock shows `wall` or later.
    before, after = wall.replace(tzinfo=zone, fold=1).astimezone(UTC), first
    while after - before > _SECOND:
        middle = before + _SECOND * (((after - before) // _SECOND) // 2)
        if middle.astimezone(zone).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after
