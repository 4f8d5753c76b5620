"""Billable metrics and the metering oracle: how usage events become a quantity for a period.

A billable metric names what is measured (`api_calls`, `storage_gb`) and how a period's usage events
reduce to one quantity per group:
- count: the number of events;
- sum / max: of a numeric property;
- unique_count: the number of distinct values of a property;
- latest: the value of the period's last event (by timestamp, then id);
- weighted_sum: a level held over time, in unit-hours (GB-hours, seat-hours). Each event *sets* the level
  (it is a gauge reading, not a delta: a lost or repeated reading cannot skew every later period); the
  level holds until the next event, and the level at the period's start is carried from the last event
  before it.

Filters keep only events whose property equals one of the listed values; `group_by` splits the quantity
by a property's value (per region), and each group is priced on its own. What a metric measures is fixed
once it has usage (the quantities already billed would change meaning); its name and description are not.

`aggregate()` is the in-memory oracle: the database aggregates the same way (store/usage_events.py) and a
differential test holds the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError

CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
PROPERTY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_FILTER_VALUES = 100
MAX_PROPERTIES = 50  # per event; the store refuses one whose properties exceed MAX_PROPERTIES_BYTES as JSON
MAX_PROPERTIES_BYTES = 8192
MAX_KEY = 200  # characters of a group or unique value
# Property values keep at most this many digits: wider numbers are refused, not silently rounded.
MAX_DIGITS = 30
HOUR = Decimal(3600)
# Wide enough that a weighted sum's division by 3600 is exact far below any price's precision.
_PRECISION = Context(prec=60)
TWELVE = Decimal("1e-12")


class Aggregation(StrEnum):
    COUNT = "count"
    SUM = "sum"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"
    WEIGHTED_SUM = "weighted_sum"

    @property
    def additive(self) -> bool:
        """The quantity of a period is the sum of its parts' quantities: such usage can be split across a
        price change in the middle of a period, and charged per event in advance."""
        return self in (Aggregation.COUNT, Aggregation.SUM, Aggregation.WEIGHTED_SUM)

    @property
    def numeric(self) -> bool:
        return self in (Aggregation.SUM, Aggregation.MAX, Aggregation.LATEST, Aggregation.WEIGHTED_SUM)


@dataclass(frozen=True, slots=True, kw_only=True)
class BillableMetric:
    code: str
    name: str
    aggregation: Aggregation
    field_name: str | None = None  # the property measured; none for count
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    group_by: str | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code, "name": self.name, "aggregation": self.aggregation.value, "field_name": self.field_name,
            "filters": {k: list(v) for k, v in self.filters.items()}, "group_by": self.group_by,
            "description": self.description,
        }  # fmt: skip

    def same_measure(self, other: BillableMetric) -> bool:
        return (self.aggregation, self.field_name, dict(self.filters), self.group_by) == (
            other.aggregation, other.field_name, dict(other.filters), other.group_by,
        )  # fmt: skip


def _fail(field_name: str, message: str, code: str = "invalid_metric") -> DomainError:
    return DomainError(code, message, field_name)


def parse_metric(body: Mapping[str, Any]) -> BillableMetric:
    allowed = {"code", "name", "aggregation", "field_name", "filters", "group_by", "description"}
    for key in body:
        if key not in allowed:
            raise _fail(key, f"Unknown field {key!r}.", "unknown_field")
    code = body.get("code")
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise _fail("code", "A code is 1 to 64 lowercase letters, digits, '.', '_' or '-'.")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _fail("name", "Expected text of 1 to 200 characters.")
    try:
        aggregation = Aggregation(str(body.get("aggregation")))
    except ValueError:
        choices = ", ".join(a.value for a in Aggregation)
        raise _fail("aggregation", f"aggregation is one of {choices}.") from None
    prop = body.get("field_name")
    if aggregation is Aggregation.COUNT:
        if prop is not None:
            raise _fail("field_name", "A count metric counts events; it measures no property.")
    elif not isinstance(prop, str) or not PROPERTY.fullmatch(prop):
        raise _fail("field_name", f"A {aggregation.value} metric names the property it measures.")
    filters_in = body.get("filters")
    filters_in = {} if filters_in is None else filters_in
    if not isinstance(filters_in, dict) or len(filters_in) > 20:
        raise _fail("filters", 'filters map a property to its accepted values: {"region": ["eu", "us"]}.')
    filters: dict[str, tuple[str, ...]] = {}
    for key, values in filters_in.items():
        where = f"filters.{key}"
        if not PROPERTY.fullmatch(key):
            raise _fail(where, "A property name is 1 to 64 letters, digits, '_', '.' or '-'.")
        if (
            not isinstance(values, list)
            or not 1 <= len(values) <= MAX_FILTER_VALUES
            or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
        ):
            raise _fail(where, f"Expected a list of 1 to {MAX_FILTER_VALUES} accepted values.")
        filters[key] = tuple(str(v) for v in values)
    group_by = body.get("group_by")
    if group_by is not None and (not isinstance(group_by, str) or not PROPERTY.fullmatch(group_by)):
        raise _fail("group_by", "group_by names one property.")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 2000):
        raise _fail("description", "Expected text of at most 2000 characters.")
    return BillableMetric(
        code=code, name=name.strip(), aggregation=aggregation, field_name=prop, filters=filters,
        group_by=group_by, description=description,
    )  # fmt: skip


# ---- one usage event's measured values -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Measure:
    """What an event contributes to its metric, computed once on arrival so the database aggregates plain
    columns: the numeric value, the distinct key, the group, and whether the filters keep it."""

    value: Decimal | None
    unique_key: str | None
    group_key: str  # "" when the metric has no group_by
    counted: bool


def _text_of(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return None


def number(value: Any, field_name: str) -> Decimal:
    """A property's numeric value: a JSON integer, or a decimal string ("12.5"). JSON floats arrive as
    Decimal (the API parses them so) and are accepted here, since usage quantities are not money."""
    if isinstance(value, bool) or value is None:
        raise DomainError("invalid_property", "Expected a number.", field_name)
    try:
        result = Decimal(value) if isinstance(value, int | str | Decimal) else None
    except (InvalidOperation, ValueError):
        result = None
    if result is None or not result.is_finite():
        raise DomainError("invalid_property", f"Expected a number, not {value!r}.", field_name)
    digits = result.as_tuple()
    if len(digits.digits) > MAX_DIGITS or (isinstance(digits.exponent, int) and digits.exponent < -12):
        raise DomainError(
            "invalid_property", f"At most {MAX_DIGITS} digits and 12 decimals, not {value!r}.", field_name
        )
    return result.normalize(_PRECISION) if result else Decimal(0)


def measure(metric: BillableMetric, properties: Mapping[str, Any]) -> Measure:
    """The event's measure, or a DomainError naming the missing or bad property."""
    counted = all(_text_of(properties.get(k)) in values for k, values in metric.filters.items())
    if not counted:  # kept for exactly-once, never aggregated: what it lacks does not matter
        return Measure(value=None, unique_key=None, group_key="", counted=False)
    group_key = ""
    if metric.group_by is not None:
        text = _text_of(properties.get(metric.group_by))
        if text is None or not text or len(text) > MAX_KEY:
            raise DomainError(
                "missing_property",
                f"Metric {metric.code!r} groups by {metric.group_by!r}: give it as text of 1 to {MAX_KEY} "
                "characters.",
                f"properties.{metric.group_by}",
            )
        group_key = text
    value = None
    unique_key = None
    if metric.field_name is not None:
        where = f"properties.{metric.field_name}"
        raw = properties.get(metric.field_name)
        if raw is None:
            raise DomainError(
                "missing_property",
                f"Metric {metric.code!r} measures {metric.field_name!r}; it is missing.",
                where,
            )
        if metric.aggregation is Aggregation.UNIQUE_COUNT:
            unique_key = _text_of(raw)
            if unique_key is None or not unique_key or len(unique_key) > MAX_KEY:
                raise DomainError("invalid_property", f"Expected text of 1 to {MAX_KEY} characters.", where)
        else:
            value = number(raw, where)
            if metric.aggregation is Aggregation.WEIGHTED_SUM and value < 0:
                raise DomainError("invalid_property", "A level is not negative.", where)
    return Measure(value=value, unique_key=unique_key, group_key=group_key, counted=counted)


# ---- the oracle ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """A stored usage event as the aggregation sees it."""

    id: str
    timestamp: datetime
    value: Decimal | None
    unique_key: str | None
    group_key: str
    counted: bool = True


def quantity_text(quantity: Decimal) -> str:
    """A quantity for people and payloads: to 12 decimals, without trailing zeros or an exponent (90, not
    90.000000 or 9E+1; a GB-hours quantity is exact to 60 digits inside, which no reader needs)."""
    shown = quantity.quantize(TWELVE, ROUND_HALF_UP, _PRECISION)
    return format(shown.normalize(_PRECISION), "f") if shown else "0"


def unit_hours(level_seconds: Decimal) -> Decimal:
    """A sum of level × seconds in unit-hours, exact to 60 digits (the database sums level × seconds; the
    oracle and the store both divide here, once)."""
    return _PRECISION.divide(level_seconds, HOUR)


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds).scaleb(-6)


def aggregate(
    metric: BillableMetric, readings: Iterable[Reading], start: datetime, end: datetime
) -> dict[str, Decimal]:
    """Each group's quantity over [start, end). For weighted_sum, readings before `start` carry the level
    in; other aggregations ignore them. Groups without events in the period are absent, except a
    weighted_sum group with a level carried in (zero when that level is zero)."""
    by_group: dict[str, list[Reading]] = {}
    for reading in readings:
        if reading.counted and reading.timestamp < end:
            by_group.setdefault(reading.group_key, []).append(reading)
    out: dict[str, Decimal] = {}
    for group, items in by_group.items():
        items.sort(key=lambda r: (r.timestamp, r.id))
        inside = [r for r in items if r.timestamp >= start]
        kind = metric.aggregation
        if kind is Aggregation.WEIGHTED_SUM:
            before = [r for r in items if r.timestamp < start]
            level = before[-1].value if before else None
            total = Decimal(0)
            cursor = start
            for reading in inside:
                if level is not None:
                    total = _PRECISION.add(
                        total, _PRECISION.multiply(level, _seconds(reading.timestamp - cursor))
                    )
                level, cursor = reading.value, reading.timestamp
            if level is not None:
                total = _PRECISION.add(total, _PRECISION.multiply(level, _seconds(end - cursor)))
            if level is None and not inside:
                continue
            out[group] = unit_hours(total)
            continue
        if not inside:
            continue
        values = [r.value for r in inside if r.value is not None]
        if kind is Aggregation.COUNT:
            out[group] = Decimal(len(inside))
        elif kind is Aggregation.SUM:
            total = Decimal(0)
            for value in values:
                total = _PRECISION.add(total, value)
            out[group] = total
        elif kind is Aggregation.MAX:
            out[group] = max(values)
        elif kind is Aggregation.LATEST:
            out[group] = inside[-1].value or Decimal(0)
        elif kind is Aggregation.UNIQUE_COUNT:
            out[group] = Decimal(len({r.unique_key for r in inside}))
    return out


# ---- an incoming usage event ----------------------------------------------------------------------

EVENT_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
EVENT_FIELDS = {"id", "metric", "subscription_id", "external_customer_id", "timestamp", "properties"}


@dataclass(frozen=True, slots=True, kw_only=True)
class IncomingEvent:
    id: str
    metric: str
    subscription_id: str | None
    external_customer_id: str | None
    timestamp: datetime
    properties: Mapping[str, Any]


def parse_usage_event(item: Any) -> IncomingEvent:
    """One usage event as sent, checked for shape; whom and what it names is checked against the store."""
    if not isinstance(item, dict):
        raise DomainError("invalid_usage_event", "A usage event is an object.")
    for key in item:
        if key not in EVENT_FIELDS:
            raise DomainError("unknown_field", f"Unknown field {key!r}.", str(key))
    event_id = item.get("id")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        raise DomainError("invalid_usage_event", "id is 1 to 128 letters, digits or ._:@/+=- characters: "
                          "your unique id for this event, so a retry is counted once.", "id")  # fmt: skip
    metric = item.get("metric")
    if not isinstance(metric, str) or not CODE.fullmatch(metric):
        raise DomainError("invalid_usage_event", "metric is a billable metric's code.", "metric")
    subscription_id = item.get("subscription_id")
    customer = item.get("external_customer_id")
    if (subscription_id is None) == (customer is None):
        raise DomainError("invalid_usage_event", "Give subscription_id or external_customer_id (one of them).",
                          "subscription_id")  # fmt: skip
    for name, value in (("subscription_id", subscription_id), ("external_customer_id", customer)):
        if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 255):
            raise DomainError("invalid_usage_event", f"{name} is text of 1 to 255 characters.", name)
    properties = item.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict) or len(properties) > MAX_PROPERTIES:
        raise DomainError("invalid_usage_event", f"properties is an object of at most {MAX_PROPERTIES} "
                          "properties.", "properties")  # fmt: skip
    return IncomingEvent(id=event_id, metric=metric, subscription_id=subscription_id,
                         external_customer_id=customer, timestamp=_instant(item.get("timestamp")),
                         properties=properties)  # fmt: skip


def _instant(value: Any) -> datetime:
    instant: datetime | None
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str) and 10 < len(value) <= 40:
        try:
            instant = datetime.fromisoformat(value)  # with "Z" too, from Python 3.11
        except ValueError:
            instant = None
    else:
        instant = None
    if instant is None or instant.tzinfo is None or instant.utcoffset() is None:
        raise DomainError("invalid_timestamp", "timestamp is an ISO 8601 instant with its offset, like "
                          "2027-01-31T12:00:00Z.", "timestamp")  # fmt: skip
    return instant.astimezone(UTC)
