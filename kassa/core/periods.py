"""Billing periods and the calendar they live on: local days in an IANA time zone, half-open [start, end).

A subscription's periods are a grid: `origin + k × period` for every whole k. Month-based grids keep
their anchor day, so an anchor on the 31st gives 28/29 Feb and then 31 Mar again — each boundary is
computed from the origin, never from the previous boundary (which would drift to the 28th for good).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from kassa.core.clock import utc
from kassa.core.errors import DomainError

MAX_COUNT = 120  # 10 years of months; more is a typo, not a billing period


class PeriodUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"


_MONTHS = {PeriodUnit.MONTH: 1, PeriodUnit.QUARTER: 3, PeriodUnit.HALF_YEAR: 6, PeriodUnit.YEAR: 12}
_DAYS = {PeriodUnit.DAY: 1, PeriodUnit.WEEK: 7}


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingPeriod:
    unit: PeriodUnit
    count: int = 1

    @property
    def months(self) -> int | None:
        """Length in months for month-based periods, None for day/week periods."""
        per = _MONTHS.get(self.unit)
        return None if per is None else per * self.count

    @property
    def days(self) -> int | None:
        per = _DAYS.get(self.unit)
        return None if per is None else per * self.count

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit.value, "count": self.count}

    def __str__(self) -> str:
        return self.unit.value if self.count == 1 else f"{self.count} × {self.unit.value}"


def billing_period(value: Any, field: str) -> BillingPeriod:
    """`"month"` or `{"unit": "month", "count": 3}`."""
    if isinstance(value, str):
        value = {"unit": value}
    if not isinstance(value, dict) or not set(value) <= {"unit", "count"} or "unit" not in value:
        raise DomainError(
            "invalid_billing_period",
            'A billing period is a unit ("month") or {"unit": "month", "count": 3}.',
            field,
        )
    try:
        unit = PeriodUnit(value["unit"])
    except ValueError:
        units = ", ".join(u.value for u in PeriodUnit)
        raise DomainError(
            "invalid_billing_period",
            f"{value['unit']!r} is not a billing period unit ({units}).",
            f"{field}.unit",
        ) from None
    count = value.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
        raise DomainError(
            "invalid_billing_period", f"count is a whole number from 1 to {MAX_COUNT}.", f"{field}.count"
        )
    return BillingPeriod(unit=unit, count=count)


def add_months(day: date, months: int, anchor_day: int) -> date:
    """`day`'s month moved by `months`, on `anchor_day` or the month's last day if it is shorter."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Duration:
    """A length of calendar time (trials): days, weeks or months (month ends kept)."""

    unit: PeriodUnit
    count: int

    def after(self, day: date) -> date:
        if self.unit is PeriodUnit.DAY:
            return day + timedelta(days=self.count)
        if self.unit is PeriodUnit.WEEK:
            return day + timedelta(weeks=self.count)
        return add_months(day, self.count, day.day)

    def to_json(self) -> dict[str, int]:
        return {f"{self.unit.value}s": self.count}


def duration(value: Any, field: str) -> Duration:
    """`{"days": 14}`, `{"weeks": 2}` or `{"months": 1}`."""
    units = {"days": PeriodUnit.DAY, "weeks": PeriodUnit.WEEK, "months": PeriodUnit.MONTH}
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in units:
        raise DomainError(
            "invalid_duration", 'A duration is {"days": 14}, {"weeks": 2} or {"months": 1}.', field
        )
    name, count = next(iter(value.items()))
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 3660:
        raise DomainError(
            "invalid_duration", "A duration is a whole number from 1 to 3660.", f"{field}.{name}"
        )
    return Duration(unit=units[name], count=count)


@dataclass(frozen=True, slots=True, kw_only=True)
class Grid:
    """The boundaries of a subscription's billing periods: origin + k periods for every whole k."""

    period: BillingPeriod
    origin: date
    anchor_day: int  # the day of month month-based boundaries fall on (clamped to short months)

    @classmethod
    def anchored(cls, period: BillingPeriod, origin: date, anchor_day: int | None = None) -> Grid:
        """A grid through `origin`; month-based grids fall on `anchor_day` (default: origin's day)."""
        day = origin.day if anchor_day is None else anchor_day
        if period.months is not None and anchor_day is not None:
            origin = add_months(origin, 0, day)
        return cls(period=period, origin=origin, anchor_day=day)

    def boundary(self, k: int) -> date:
        months = self.period.months
        if months is None:
            return self.origin + timedelta(days=k * (self.period.days or 1))
        return add_months(self.origin, k * months, self.anchor_day)

    def index(self, day: date) -> int:
        """k such that boundary(k) <= day < boundary(k + 1)."""
        months = self.period.months
        if months is None:
            return (day - self.origin).days // (self.period.days or 1)
        k = ((day.year - self.origin.year) * 12 + day.month - self.origin.month) // months
        while self.boundary(k) > day:
            k -= 1
        while self.boundary(k + 1) <= day:
            k += 1
        return k

    def enclosing(self, day: date) -> tuple[date, date]:
        """The billing period [start, end) that contains `day`."""
        k = self.index(day)
        return self.boundary(k), self.boundary(k + 1)

    def next_boundary(self, day: date) -> date:
        """The first boundary strictly after `day`."""
        return self.boundary(self.index(day) + 1)

    def boundary_from(self, day: date) -> date:
        """`day` if it is a boundary, else the next one."""
        start, end = self.enclosing(day)
        return day if start == day else end

    def is_boundary(self, day: date) -> bool:
        return self.enclosing(day)[0] == day

    def after(self, day: date, cycles: int) -> date:
        """The `cycles`-th boundary strictly after `day` (a partial first period counts as a cycle)."""
        return self.boundary(self.index(day) + cycles)


def days(start: date, end: date) -> int:
    return (end - start).days


def local_day(instant: datetime, time_zone: str) -> date:
    """The calendar day an instant falls on in a time zone."""
    return utc(instant).astimezone(ZoneInfo(time_zone)).date()


def start_of(day: date, time_zone: str) -> datetime:
    """The instant a local day begins (UTC). Where a DST jump skips midnight, the first instant after it."""
    zone = ZoneInfo(time_zone)
    midnight = datetime.combine(day, time(), tzinfo=zone)
    instant = utc(midnight)
    if instant.astimezone(zone).date() != day:  # midnight did not exist: the day begins at the jump
        instant = utc(datetime.combine(day, time(hour=1), tzinfo=zone))
    return instant
