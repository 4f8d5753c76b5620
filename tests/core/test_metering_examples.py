"""Worked examples of metering and of a subscription's usage period, hand-computed first.

Metering (kassa/core/metering): a period is [start, end); count / sum / max / unique_count / latest look at
the events inside it only; weighted_sum is a level in unit-hours, each event *setting* the level, the level
at the start carried from the last event before it and held until the next event or the period's end.
Filters keep events whose property is one of the listed values; group_by splits the quantity per value.

Usage periods (kassa/core/usage): the billing period that contains a day, cut into price slices (one per
timeline segment); usage in a trial slice is free; additive usage is priced per slice at that slice's
prices with tiers counted over the period; other usage over the period at the closing prices.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kassa.core.billing_schedule import Timeline, timeline
from kassa.core.catalog import CatalogVersion, parse_catalog
from kassa.core.errors import DomainError
from kassa.core.metering import Aggregation, BillableMetric, Reading, aggregate, measure, parse_metric
from kassa.core.money import RoundingMode
from kassa.core.subscriptions import (
    AnchorType,
    BillingAnchor,
    Change,
    ChangeKind,
    ChangeStatus,
    Status,
    Subscription,
    Terms,
)
from kassa.core.usage import UsageLine, price_usage, usage_period
from kassa.core.usage_thresholds import UsageThreshold, parse_threshold, reached

# ---- metrics -------------------------------------------------------------------------------------------


def metric(aggregation: str, field_name: str | None = None, **extra: Any) -> BillableMetric:
    body: dict[str, Any] = {"code": "m", "name": "M", "aggregation": aggregation, **extra}
    if field_name is not None:
        body["field_name"] = field_name
    return parse_metric(body)


COUNT = metric("count")
SUM = metric("sum", "bytes")
MAX = metric("max", "seats")
UNIQUE = metric("unique_count", "user")
LATEST = metric("latest", "gb")
WEIGHTED = metric("weighted_sum", "gb")
COUNT_EU_US = metric("count", filters={"region": ["eu", "us"]})
COUNT_TIER_1 = metric("count", filters={"tier": [1]})
SUM_BY_REGION = metric("sum", "bytes", group_by="region")
WEIGHTED_BY_REGION = metric("weighted_sum", "gb", group_by="region")

Event = tuple[str, str, dict[str, Any]]  # id, instant (ISO), properties


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def readings(m: BillableMetric, events: list[Event]) -> list[Reading]:
    out = []
    for event_id, instant, properties in events:
        got = measure(m, properties)
        out.append(Reading(id=event_id, timestamp=_at(instant), value=got.value, unique_key=got.unique_key,
                           group_key=got.group_key, counted=got.counted))  # fmt: skip
    return out


# The month of March 2026 (UTC), and a two-hour window on its first day.
MARCH = ("2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00")
WINDOW = ("2026-03-01T10:00:00+00:00", "2026-03-01T12:00:00+00:00")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    metric: BillableMetric
    events: list[Event]
    expected: dict[str, str]  # group → quantity
    period: tuple[str, str] = MARCH


# fmt: off
CASES: list[Case] = [
    # ---- count: [start, end) — an event at the start counts, one at the end does not, earlier ones neither
    Case("count", COUNT, [
        ("e1", "2026-02-28T23:59:59+00:00", {}),  # before: ignored
        ("e2", "2026-03-01T00:00:00+00:00", {}),  # at the start: 1
        ("e3", "2026-03-15T12:00:00+00:00", {}),  # 2
        ("e4", "2026-03-31T23:59:59.999999+00:00", {}),  # 3
        ("e5", "2026-04-01T00:00:00+00:00", {}),  # at the end: ignored
    ], {"": "3"}),
    # an offset is an instant: 02:00+02:00 on 1 April is midnight UTC, the end → ignored; 01:59+02:00 counts
    Case("count-offsets", COUNT, [
        ("e1", "2026-04-01T02:00:00+02:00", {}),
        ("e2", "2026-04-01T01:59:59+02:00", {}),
    ], {"": "1"}),
    Case("count-nothing", COUNT, [("e1", "2026-02-01T00:00:00+00:00", {})], {}),
    # ---- sum: 100 + 250.5 + (−50, a correction) = 300.5; the event before March is ignored
    Case("sum", SUM, [
        ("e0", "2026-02-27T00:00:00+00:00", {"bytes": 1000}),
        ("e1", "2026-03-02T00:00:00+00:00", {"bytes": 100}),
        ("e2", "2026-03-03T00:00:00+00:00", {"bytes": "250.5"}),
        ("e3", "2026-03-04T00:00:00+00:00", {"bytes": "-50"}),
    ], {"": "300.5"}),
    # JSON floats arrive as Decimal: 0.1 + 0.2 = 0.3 exactly
    Case("sum-decimal-properties", SUM, [
        ("e1", "2026-03-02T00:00:00+00:00", {"bytes": Decimal("0.1")}),
        ("e2", "2026-03-03T00:00:00+00:00", {"bytes": Decimal("0.2")}),
    ], {"": "0.3"}),
    # ---- max: of 3, 7, 5 in March = 7 (10 in February is ignored)
    Case("max", MAX, [
        ("e0", "2026-02-27T00:00:00+00:00", {"seats": 10}),
        ("e1", "2026-03-02T00:00:00+00:00", {"seats": 3}),
        ("e2", "2026-03-03T00:00:00+00:00", {"seats": 7}),
        ("e3", "2026-03-04T00:00:00+00:00", {"seats": "5"}),
    ], {"": "7"}),
    # ---- unique_count: a, b, a, 7, "7" → {a, b, 7} = 3 (the integer 7 and the text "7" are one key)
    Case("unique-count", UNIQUE, [
        ("e1", "2026-03-02T00:00:00+00:00", {"user": "a"}),
        ("e2", "2026-03-03T00:00:00+00:00", {"user": "b"}),
        ("e3", "2026-03-04T00:00:00+00:00", {"user": "a"}),
        ("e4", "2026-03-05T00:00:00+00:00", {"user": 7}),
        ("e5", "2026-03-06T00:00:00+00:00", {"user": "7"}),
        ("e6", "2026-02-06T00:00:00+00:00", {"user": "c"}),  # before: ignored
    ], {"": "3"}),
    # ---- latest: by timestamp, then id: e3 and e2 share 20 March; e3 sorts last → 6
    Case("latest-tie-by-id", LATEST, [
        ("e1", "2026-03-10T00:00:00+00:00", {"gb": 5}),
        ("e3", "2026-03-20T00:00:00+00:00", {"gb": 6}),
        ("e2", "2026-03-20T00:00:00+00:00", {"gb": 8}),
    ], {"": "6"}),
    # latest only looks inside the period: a level set in February is not March's latest
    Case("latest-nothing-inside", LATEST, [("e1", "2026-02-10T00:00:00+00:00", {"gb": 5})], {}),
    # ---- weighted_sum over [10:00, 12:00) on 1 March, in unit-hours
    # level 10 carried from 09:00 until 11:30 = 1.5 h × 10 = 15; then 0 → 15
    Case("weighted-carried-level", WEIGHTED, [
        ("e1", "2026-03-01T09:00:00+00:00", {"gb": 10}),
        ("e2", "2026-03-01T11:30:00+00:00", {"gb": 0}),
    ], {"": "15"}, WINDOW),
    # 4 carried for 1 h, then 6 held to the end for 1 h → 10
    Case("weighted-held-to-end", WEIGHTED, [
        ("e1", "2026-03-01T08:00:00+00:00", {"gb": 4}),
        ("e2", "2026-03-01T11:00:00+00:00", {"gb": 6}),
    ], {"": "10"}, WINDOW),
    # no level before 10:30: 8 × 1.5 h = 12
    Case("weighted-first-reading-inside", WEIGHTED, [("e1", "2026-03-01T10:30:00+00:00", {"gb": 8})],
         {"": "12"}, WINDOW),
    # only a carried level (from the day before): 3 × 2 h = 6
    Case("weighted-only-carried", WEIGHTED, [("e1", "2026-02-28T10:00:00+00:00", {"gb": 3})], {"": "6"}, WINDOW),
    # a reading at the start replaces the carried level at once: 2 × 2 h = 4
    Case("weighted-reading-at-start", WEIGHTED, [
        ("e1", "2026-03-01T09:00:00+00:00", {"gb": 10}),
        ("e2", "2026-03-01T10:00:00+00:00", {"gb": 2}),
    ], {"": "4"}, WINDOW),
    # a reading at the end belongs to the next period: 1 × 2 h = 2
    Case("weighted-reading-at-end", WEIGHTED, [
        ("e1", "2026-03-01T09:00:00+00:00", {"gb": 1}),
        ("e2", "2026-03-01T12:00:00+00:00", {"gb": 100}),
    ], {"": "2"}, WINDOW),
    # two readings at 11:00: by id "b" is the later, level 1: 0 × 1 h + 1 × 1 h = 1
    Case("weighted-same-instant", WEIGHTED, [
        ("e0", "2026-03-01T09:00:00+00:00", {"gb": 0}),
        ("b", "2026-03-01T11:00:00+00:00", {"gb": 1}),
        ("a", "2026-03-01T11:00:00+00:00", {"gb": 5}),
    ], {"": "1"}, WINDOW),
    # 2.5 for 36 minutes (0.6 h) = 1.5
    Case("weighted-fractional", WEIGHTED, [
        ("e1", "2026-03-01T11:00:00+00:00", {"gb": "2.5"}),
        ("e2", "2026-03-01T11:36:00+00:00", {"gb": 0}),
    ], {"": "1.5"}, WINDOW),
    # microseconds count: 7200 for half a second = 3600 unit-seconds = 1 unit-hour
    Case("weighted-sub-second", WEIGHTED, [
        ("e1", "2026-03-01T11:00:00+00:00", {"gb": 7200}),
        ("e2", "2026-03-01T11:00:00.500000+00:00", {"gb": 0}),
    ], {"": "1"}, WINDOW),
    # a whole month at 10: 31 days × 24 h × 10 = 7440
    Case("weighted-month", WEIGHTED, [("e1", "2026-01-15T00:00:00+00:00", {"gb": 10})], {"": "7440"}),
    # ---- filters: region in {eu, us}; ap and a missing region are left out → 2
    Case("filter", COUNT_EU_US, [
        ("e1", "2026-03-02T00:00:00+00:00", {"region": "eu"}),
        ("e2", "2026-03-03T00:00:00+00:00", {"region": "us"}),
        ("e3", "2026-03-04T00:00:00+00:00", {"region": "ap"}),
        ("e4", "2026-03-05T00:00:00+00:00", {}),
        ("e5", "2026-03-06T00:00:00+00:00", {"region": "EU"}),  # values are exact text
    ], {"": "2"}),
    # an integer filter value matches the integer and its text, not a boolean → 2
    Case("filter-integer", COUNT_TIER_1, [
        ("e1", "2026-03-02T00:00:00+00:00", {"tier": 1}),
        ("e2", "2026-03-03T00:00:00+00:00", {"tier": "1"}),
        ("e3", "2026-03-04T00:00:00+00:00", {"tier": True}),
        ("e4", "2026-03-05T00:00:00+00:00", {"tier": 2}),
    ], {"": "2"}),
    # ---- group_by: eu 100 + 50 = 150, us 25; the integer region 3 is group "3"
    Case("group-by", SUM_BY_REGION, [
        ("e1", "2026-03-02T00:00:00+00:00", {"region": "eu", "bytes": 100}),
        ("e2", "2026-03-03T00:00:00+00:00", {"region": "us", "bytes": 25}),
        ("e3", "2026-03-04T00:00:00+00:00", {"region": "eu", "bytes": 50}),
        ("e4", "2026-03-05T00:00:00+00:00", {"region": 3, "bytes": 1}),
    ], {"eu": "150", "us": "25", "3": "1"}),
    # weighted per group: eu 2 carried × 2 h = 4; us 1 from 11:00 = 1
    Case("weighted-group-by", WEIGHTED_BY_REGION, [
        ("e1", "2026-03-01T09:00:00+00:00", {"region": "eu", "gb": 2}),
        ("e2", "2026-03-01T11:00:00+00:00", {"region": "us", "gb": 1}),
    ], {"eu": "4", "us": "1"}, WINDOW),
]
# fmt: on


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_aggregate(case: Case) -> None:
    start, end = (_at(t) for t in case.period)
    got = aggregate(case.metric, readings(case.metric, case.events), start, end)
    assert got == {group: Decimal(q) for group, q in case.expected.items()}


def test_enough_cases_with_unique_ids() -> None:
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.metric.aggregation for c in CASES} == set(Aggregation)


def test_aggregate_ignores_the_order_readings_come_in() -> None:
    case = next(c for c in CASES if c.id == "weighted-held-to-end")
    start, end = (_at(t) for t in case.period)
    events = readings(case.metric, case.events)
    assert aggregate(WEIGHTED, events[::-1], start, end) == aggregate(WEIGHTED, events, start, end)


def test_weighted_group_with_a_carried_zero_level_is_zero() -> None:
    # eu was set to 0 in February and nothing happened since: eu is 0 in March (as the store answers), and
    # price_usage gives a group with nothing used no line, so no flat fee at zero is billed for it
    events = readings(WEIGHTED_BY_REGION, [("e1", "2026-02-10T00:00:00+00:00", {"region": "eu", "gb": 0})])
    assert aggregate(WEIGHTED_BY_REGION, events, *(_at(t) for t in MARCH)) == {"eu": Decimal(0)}


def _reading(event_id: str, value: str, instant: str = "2026-03-01T10:00:00+00:00") -> Reading:
    return Reading(id=event_id, timestamp=_at(instant), value=Decimal(value), unique_key=None, group_key="")


def test_sum_is_exact_beyond_28_digits() -> None:
    # both values are within measure()'s 30 digits; the exact sum has 31
    events = [_reading("e1", "999999999999999999999999999.9"), _reading("e2", "0.15")]
    got = aggregate(SUM, events, *(_at(t) for t in MARCH))
    assert got == {"": Decimal("1000000000000000000000000000.05")}


def test_weighted_sum_is_exact_beyond_28_digits() -> None:
    events = [
        _reading("e1", "1234567890123456.123456789012", "2026-03-01T10:00:00+00:00"),
        _reading("e2", "0", "2026-03-01T10:00:36+00:00"),
    ]
    got = aggregate(WEIGHTED, events, *(_at(t) for t in WINDOW))
    # 36 s = 0.01 h: 1234567890123456.123456789012 × 0.01
    assert got == {"": Decimal("12345678901234.56123456789012")}


# ---- measure(): what one event contributes -------------------------------------------------------------


def test_measure_values() -> None:
    got = measure(SUM_BY_REGION, {"region": "eu", "bytes": "12.50"})
    assert (got.value, got.unique_key, got.group_key, got.counted) == (Decimal("12.5"), None, "eu", True)
    got = measure(COUNT_EU_US, {"region": "ap"})
    assert (got.value, got.group_key, got.counted) == (None, "", False)
    got = measure(UNIQUE, {"user": 42})
    assert (got.value, got.unique_key) == (None, "42")
    assert measure(SUM, {"bytes": "100"}).value == Decimal(100)
    assert measure(SUM, {"bytes": "-0"}).value == Decimal(0)
    # 12 decimals and 30 digits are the widest accepted
    assert measure(SUM, {"bytes": "0.000000000001"}).value == Decimal("0.000000000001")


@pytest.mark.parametrize("text", ["1234567890123456789012345678.9", "123456789012345678901234567891"])
def test_measure_keeps_every_accepted_digit(text: str) -> None:
    assert measure(SUM, {"bytes": text}).value == Decimal(text)


@pytest.mark.parametrize(
    ("m", "properties", "code", "field"),
    [
        pytest.param(SUM, {}, "missing_property", "properties.bytes", id="sum-missing"),
        pytest.param(SUM, {"bytes": None}, "missing_property", "properties.bytes", id="sum-null"),
        pytest.param(SUM, {"bytes": "abc"}, "invalid_property", "properties.bytes", id="sum-text"),
        pytest.param(SUM, {"bytes": True}, "invalid_property", "properties.bytes", id="sum-boolean"),
        pytest.param(SUM, {"bytes": 1.5}, "invalid_property", "properties.bytes", id="sum-python-float"),
        pytest.param(SUM, {"bytes": "NaN"}, "invalid_property", "properties.bytes", id="sum-nan"),
        pytest.param(SUM, {"bytes": "Infinity"}, "invalid_property", "properties.bytes", id="sum-infinity"),
        pytest.param(SUM, {"bytes": [1]}, "invalid_property", "properties.bytes", id="sum-list"),
        pytest.param(SUM, {"bytes": "1e-13"}, "invalid_property", "properties.bytes", id="thirteen-decimals"),
        pytest.param(
            SUM, {"bytes": "1" * 31}, "invalid_property", "properties.bytes", id="thirty-one-digits"
        ),
        pytest.param(WEIGHTED, {"gb": "-1"}, "invalid_property", "properties.gb", id="negative-level"),
        pytest.param(MAX, {}, "missing_property", "properties.seats", id="max-missing"),
        pytest.param(UNIQUE, {"user": ""}, "invalid_property", "properties.user", id="unique-empty"),
        pytest.param(
            UNIQUE, {"user": "x" * 201}, "invalid_property", "properties.user", id="unique-too-long"
        ),
        pytest.param(UNIQUE, {"user": {"id": 1}}, "invalid_property", "properties.user", id="unique-object"),
        pytest.param(UNIQUE, {"user": False}, "invalid_property", "properties.user", id="unique-boolean"),
        pytest.param(
            SUM_BY_REGION, {"bytes": 1}, "missing_property", "properties.region", id="group-missing"
        ),
        pytest.param(
            SUM_BY_REGION,
            {"bytes": 1, "region": ""},
            "missing_property",
            "properties.region",
            id="group-empty",
        ),
        pytest.param(
            SUM_BY_REGION,
            {"bytes": 1, "region": "r" * 201},
            "missing_property",
            "properties.region",
            id="group-too-long",
        ),
        pytest.param(
            SUM_BY_REGION,
            {"bytes": 1, "region": True},
            "missing_property",
            "properties.region",
            id="group-boolean",
        ),
    ],
)
def test_measure_refuses(m: BillableMetric, properties: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        measure(m, properties)
    assert (caught.value.code, caught.value.field) == (code, field)


# ---- parse_metric --------------------------------------------------------------------------------------


def test_parse_metric_reads_every_field() -> None:
    got = parse_metric({"code": "storage_gb", "name": " Storage ", "aggregation": "weighted_sum",
                        "field_name": "gb", "filters": {"region": ["eu", 1]}, "group_by": "region",
                        "description": "GB-hours"})  # fmt: skip
    assert got == BillableMetric(code="storage_gb", name="Storage", aggregation=Aggregation.WEIGHTED_SUM,
                                 field_name="gb", filters={"region": ("eu", "1")}, group_by="region",
                                 description="GB-hours")  # fmt: skip
    assert got.aggregation.additive and got.aggregation.numeric
    assert not Aggregation.MAX.additive and not Aggregation.UNIQUE_COUNT.numeric


def test_same_measure_ignores_name_and_description() -> None:
    one = metric("sum", "bytes")
    renamed = parse_metric({"code": "m", "name": "Other", "aggregation": "sum", "field_name": "bytes",
                            "description": "d"})  # fmt: skip
    assert one.same_measure(renamed)
    assert not one.same_measure(metric("max", "bytes"))
    assert not one.same_measure(metric("sum", "bytes", group_by="region"))


BASE = {"code": "api_calls", "name": "API calls", "aggregation": "count"}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param(BASE | {"unit": "calls"}, "unknown_field", "unit", id="unknown-field"),
        pytest.param(BASE | {"code": "API"}, "invalid_metric", "code", id="code-uppercase"),
        pytest.param(BASE | {"code": "-api"}, "invalid_metric", "code", id="code-leading-dash"),
        pytest.param(BASE | {"code": "a" * 65}, "invalid_metric", "code", id="code-too-long"),
        pytest.param(BASE | {"name": "  "}, "invalid_metric", "name", id="name-blank"),
        pytest.param(BASE | {"name": "n" * 201}, "invalid_metric", "name", id="name-too-long"),
        pytest.param(
            BASE | {"aggregation": "avg"}, "invalid_metric", "aggregation", id="unknown-aggregation"
        ),
        pytest.param(BASE | {"field_name": "n"}, "invalid_metric", "field_name", id="count-with-field"),
        pytest.param(BASE | {"aggregation": "sum"}, "invalid_metric", "field_name", id="sum-without-field"),
        pytest.param(
            BASE | {"aggregation": "max", "field_name": "a b"},
            "invalid_metric",
            "field_name",
            id="field-with-space",
        ),
        pytest.param(BASE | {"filters": "eu"}, "invalid_metric", "filters", id="filters-not-object"),
        pytest.param(
            BASE | {"filters": {"region": []}}, "invalid_metric", "filters.region", id="filter-empty"
        ),
        pytest.param(
            BASE | {"filters": {"region": "eu"}}, "invalid_metric", "filters.region", id="filter-text"
        ),
        pytest.param(
            BASE | {"filters": {"region": [True]}}, "invalid_metric", "filters.region", id="filter-boolean"
        ),
        pytest.param(
            BASE | {"filters": {"region": ["x"] * 101}},
            "invalid_metric",
            "filters.region",
            id="filter-too-many-values",
        ),
        pytest.param(
            BASE | {"filters": {"a b": ["x"]}}, "invalid_metric", "filters.a b", id="filter-bad-name"
        ),
        pytest.param(BASE | {"group_by": "a b"}, "invalid_metric", "group_by", id="group-by-bad-name"),
        pytest.param(BASE | {"group_by": 3}, "invalid_metric", "group_by", id="group-by-number"),
        pytest.param(
            BASE | {"description": "d" * 2001}, "invalid_metric", "description", id="description-long"
        ),
    ],
)
def test_parse_metric_refuses(body: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_metric(body)
    assert (caught.value.code, caught.value.field) == (code, field)


# ---- usage periods on a real timeline ------------------------------------------------------------------

T0 = datetime(2020, 1, 1, tzinfo=UTC)
DOM1 = BillingAnchor(type=AnchorType.DAY_OF_MONTH, day=1)
# api_calls: the first 1000 free, then 0.01 each (version 2: 0.02 each).
CALLS = {"tiers": [{"up_to": "1000", "unit": "0"}, {"up_to": None, "unit": "0.01"}]}
CALLS_V2 = {"tiers": [{"up_to": "1000", "unit": "0"}, {"up_to": None, "unit": "0.02"}]}
ARREARS = {"type": "evergreen", "timing": "in_arrears", "prices": {"EUR": {"flat": "10.00"}}}


def _charges(calls: dict[str, Any], seat: str) -> list[dict[str, Any]]:
    return [
        {"metric": "api_calls", "model": "graduated", "prices": {"EUR": calls}},
        {"metric": "seats", "model": "per_unit", "prices": {"EUR": {"unit": seat}}},
        {"metric": "storage_gb", "model": "per_unit", "prices": {"EUR": {"unit": "0.10"}}, "included": "100"},
    ]


def _usage_doc(calls: dict[str, Any] = CALLS, seat: str = "1.50") -> dict[str, Any]:
    def plan(code: str, phases: list[dict[str, Any]], charges: list[dict[str, Any]]) -> dict[str, Any]:
        return {"code": code, "name": code.title(), "billing_period": "month", "phases": phases,
                "charges": charges, "minimum_spend": {"EUR": "20.00"}}  # fmt: skip

    return {
        "products": [
            {
                "code": "api",
                "name": "API",
                "plans": [
                    plan("metered", [ARREARS], _charges(calls, seat)),
                    plan(
                        "metered-trial",
                        [{"type": "trial", "duration": {"days": 14}}, ARREARS],
                        _charges(calls, seat),
                    ),
                    # the same metric priced per unit on a lower plan of the same family
                    plan(
                        "starter",
                        [ARREARS],
                        [{"metric": "api_calls", "model": "per_unit", "prices": {"EUR": {"unit": "0.01"}}}],
                    ),
                    plan("flat-only", [ARREARS], []),
                ],
            }
        ],
        "families": [{"code": "api", "plans": ["starter", "metered", "flat-only"]}],
    }


def _v2(existing_from: str) -> dict[str, Any]:
    doc = copy.deepcopy(_usage_doc(CALLS_V2, "2.00"))
    doc["existing_subscriptions_from"] = existing_from
    return doc


V1 = CatalogVersion(number=1, effective_at=T0, catalog=parse_catalog(_usage_doc()))
# version 2 from 10 March 2026, reaching existing subscriptions on 16 March (mid-period)
V2 = CatalogVersion(
    number=2, effective_at=datetime(2026, 3, 10, tzinfo=UTC), catalog=parse_catalog(_v2("2026-03-16"))
)

CALLS_METRIC = parse_metric({"code": "api_calls", "name": "API calls", "aggregation": "count"})
CALLS_BY_REGION = parse_metric({"code": "api_calls", "name": "API calls", "aggregation": "count",
                                "group_by": "region"})  # fmt: skip
SEATS = parse_metric({"code": "seats", "name": "Seats", "aggregation": "max", "field_name": "seats"})
STORAGE = parse_metric(
    {"code": "storage_gb", "name": "Storage", "aggregation": "weighted_sum", "field_name": "gb"}
)
UNPRICED = parse_metric({"code": "exports", "name": "Exports", "aggregation": "count"})


def _timeline(
    plan: str,
    start: date,
    versions: tuple[CatalogVersion, ...] = (V1,),
    anchor: BillingAnchor = DOM1,
    changes: tuple[tuple[date, str], ...] = (),
) -> Timeline:
    terms = Terms(plan=plan)
    history = [Change(id="c0", kind=ChangeKind.START, effective=start, terms=terms, status=ChangeStatus.APPLIED,
                      requested_at=T0)]  # fmt: skip
    for i, (day, target) in enumerate(changes, 1):
        history.append(Change(id=f"c{i}", kind=ChangeKind.CHANGE, effective=day, terms=Terms(plan=target),
                              requested_at=T0))  # fmt: skip
    sub = Subscription(tenant_id="t", id="s", customer_id="c", currency="EUR", time_zone="UTC",
                       status=Status.ACTIVE, terms=terms, start=start, anchor=anchor, changes=tuple(history),
                       created_at=T0, updated_at=T0)  # fmt: skip
    return timeline(sub, versions, date(2026, 6, 1))


def _slices(tl: Timeline, day: date) -> list[tuple[str, str, int, bool]]:
    period = usage_period(tl, day)
    assert period is not None
    return [(s.start.isoformat(), s.end.isoformat(), s.version, s.billable) for s in period.slices]


def _q(*values: str | dict[str, str]) -> list[dict[str, Decimal]]:
    """One mapping per slice: a bare value is the ungrouped quantity."""
    return [
        {k: Decimal(v) for k, v in value.items()} if isinstance(value, dict) else {"": Decimal(value)}
        for value in values
    ]


def _lines(lines: list[UsageLine]) -> list[tuple[str, str, str, int | None]]:
    return [
        (line.group, str(line.rated.quantity), line.amount.amount_text(), line.rated.tier) for line in lines
    ]


def test_usage_period_one_version() -> None:
    tl = _timeline("metered", date(2026, 3, 1))
    period = usage_period(tl, date(2026, 3, 20))
    assert period is not None
    assert (period.start, period.end, period.plan.code) == (date(2026, 3, 1), date(2026, 4, 1), "metered")
    assert _slices(tl, date(2026, 3, 20)) == [("2026-03-01", "2026-04-01", 1, True)]
    # 1500 calls: 500 above the free 1000 × 0.01 = 5.00
    lines = price_usage(period, CALLS_METRIC, _q("1500"), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [("", "1500", "5.00", 2)]


def test_usage_period_starts_with_the_subscription() -> None:
    # starts 10 March on a calendar grid: [10 Mar, 1 Apr); the next one is a whole month
    tl = _timeline("metered", date(2026, 3, 10))
    assert _slices(tl, date(2026, 3, 10)) == [("2026-03-10", "2026-04-01", 1, True)]
    assert _slices(tl, date(2026, 4, 30)) == [("2026-04-01", "2026-05-01", 1, True)]
    assert usage_period(tl, date(2026, 3, 9)) is None  # not live yet


def test_price_change_mid_period_gives_two_slices() -> None:
    tl = _timeline("metered", date(2026, 3, 1), (V1, V2))
    assert _slices(tl, date(2026, 3, 20)) == [
        ("2026-03-01", "2026-03-16", 1, True),
        ("2026-03-16", "2026-04-01", 2, True),
    ]
    assert _slices(tl, date(2026, 3, 2)) == _slices(tl, date(2026, 3, 20))  # one period, either side
    assert _slices(tl, date(2026, 4, 2)) == [("2026-04-01", "2026-05-01", 2, True)]


@pytest.mark.parametrize(
    ("quantities", "expected"),
    [
        # 800 at v1: all free (0); calls 801–1500 at v2: 200 free, 500 × 0.02 = 10.00
        pytest.param(("800", "700"), ("", "1500", "10.00", 2), id="tier-crossed-after-change"),
        # 1200 at v1: 200 × 0.01 = 2.00; 300 more at v2: 300 × 0.02 = 6.00 → 8.00
        pytest.param(("1200", "300"), ("", "1500", "8.00", 2), id="tier-crossed-before-change"),
        # 300 + 300: all within the free 1000 → 0.00, tier 1
        pytest.param(("300", "300"), ("", "600", "0.00", 1), id="within-free-tier"),
        # no usage at all: one line of 0.00
        pytest.param(("0", "0"), ("", "0", "0.00", 1), id="no-usage"),
    ],
)
def test_price_usage_across_a_price_change(quantities: tuple[str, str], expected: tuple[Any, ...]) -> None:
    period = usage_period(_timeline("metered", date(2026, 3, 1), (V1, V2)), date(2026, 3, 20))
    assert period is not None
    lines = price_usage(period, CALLS_METRIC, _q(*quantities), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [expected]


def test_price_usage_per_group_across_a_price_change() -> None:
    period = usage_period(_timeline("metered", date(2026, 3, 1), (V1, V2)), date(2026, 3, 20))
    assert period is not None
    quantities = _q({"eu": "800", "us": "1500"}, {"eu": "300"})
    lines = price_usage(period, CALLS_BY_REGION, quantities, "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [
        # eu: 800 at v1 (free); 801–1100 at v2: 200 free + 100 × 0.02 = 2.00
        ("eu", "1100", "2.00", 2),
        # us: 1500 at v1: 500 × 0.01 = 5.00; nothing at v2
        ("us", "1500", "5.00", 2),
    ]
    # a grouped metric without usage has no line
    assert price_usage(period, CALLS_BY_REGION, _q({}, {}), "EUR", RoundingMode.HALF_UP) == []


def test_a_level_is_priced_at_the_closing_prices() -> None:
    period = usage_period(_timeline("metered", date(2026, 3, 1), (V1, V2)), date(2026, 3, 20))
    assert period is not None
    # max seats over the whole period, 7, at v2's 2.00 (not v1's 1.50): 14.00
    lines = price_usage(period, SEATS, _q("7"), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [("", "7", "14.00", None)]


def test_included_units_are_consumed_over_the_period() -> None:
    period = usage_period(_timeline("metered", date(2026, 3, 1), (V1, V2)), date(2026, 3, 20))
    assert period is not None
    # 60 + 90.5 GB-hours − 100 included = 50.5 × 0.10 = 5.05
    lines = price_usage(period, STORAGE, _q("60", "90.5"), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [("", "150.5", "5.05", None)]
    assert lines[0].rated.billable == Decimal("50.5")


def test_usage_in_a_trial_is_free() -> None:
    # 14-day trial from 10 March on a calendar grid: [10 Mar, 24 Mar) trial, [24 Mar, 1 Apr) paid
    tl = _timeline("metered-trial", date(2026, 3, 10))
    assert _slices(tl, date(2026, 3, 12)) == [
        ("2026-03-10", "2026-03-24", 1, False),
        ("2026-03-24", "2026-04-01", 1, True),
    ]
    period = usage_period(tl, date(2026, 3, 12))
    assert period is not None
    # 500 calls in the trial are free and not counted; 1200 after it: 200 × 0.01 = 2.00
    lines = price_usage(period, CALLS_METRIC, _q("500", "1200"), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [("", "1200", "2.00", 2)]


def test_a_period_that_is_all_trial_has_no_usage_lines() -> None:
    # anniversary grid: the trial [10 Mar, 24 Mar) is a period of its own
    tl = _timeline("metered-trial", date(2026, 3, 10), anchor=BillingAnchor())
    assert _slices(tl, date(2026, 3, 12)) == [("2026-03-10", "2026-03-24", 1, False)]
    period = usage_period(tl, date(2026, 3, 12))
    assert period is not None
    assert price_usage(period, CALLS_METRIC, _q("5000"), "EUR", RoundingMode.HALF_UP) == []
    assert _slices(tl, date(2026, 3, 24)) == [("2026-03-24", "2026-04-24", 1, True)]


def test_a_metric_the_plan_does_not_price_has_no_lines() -> None:
    period = usage_period(_timeline("metered", date(2026, 3, 1)), date(2026, 3, 20))
    assert period is not None
    assert price_usage(period, UNPRICED, _q("10"), "EUR", RoundingMode.HALF_UP) == []


def test_plan_change_to_a_plan_without_the_charge() -> None:
    # metered until 16 March, then flat-only: only the first slice prices api_calls
    tl = _timeline("metered", date(2026, 3, 1), changes=((date(2026, 3, 16), "flat-only"),))
    period = usage_period(tl, date(2026, 3, 20))
    assert period is not None
    assert [s.plan.code for s in period.slices] == ["metered", "flat-only"]
    # 1500 while on metered: 5.00; the 900 after the change are not priced
    lines = price_usage(period, CALLS_METRIC, _q("1500", "900"), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [("", "1500", "5.00", 2)]


def test_plan_change_between_charge_models() -> None:
    tl = _timeline("starter", date(2026, 3, 1), changes=((date(2026, 3, 16), "metered"),))
    period = usage_period(tl, date(2026, 3, 20))
    assert period is not None
    assert [s.plan.code for s in period.slices] == ["starter", "metered"]
    # starter: 500 × 0.01 = 5.00; metered: calls 501–1500, 500 free + 500 × 0.01 = 5.00 → 10.00
    lines = price_usage(period, CALLS_METRIC, _q("500", "1000"), "EUR", RoundingMode.HALF_UP)
    assert _lines(lines) == [("", "1500", "10.00", 2)]


# ---- usage thresholds ----------------------------------------------------------------------------------


def _threshold(kind: str, value: str, metric_code: str | None) -> UsageThreshold:
    parsed_kind, parsed_value, parsed_metric = parse_threshold(
        {"kind": kind, "value": value} | ({"metric": metric_code} if metric_code else {})
    )
    return UsageThreshold(tenant_id="t", id="th", subscription_id="s", kind=parsed_kind, value=parsed_value,
                          metric=parsed_metric, created_at=T0)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "value", "metric_code", "gb", "expected"),
    [
        # 80 % of 100 included GB-hours = 80: reached at 80, not at 79.99
        pytest.param("allowance_percent", "80", "storage_gb", "80", True, id="allowance-80-reached"),
        pytest.param("allowance_percent", "80", "storage_gb", "79.99", False, id="allowance-80-not-reached"),
        pytest.param("allowance_percent", "100", "storage_gb", "100", True, id="allowance-100-reached"),
        # api_calls has no included units: an allowance share is never reached
        pytest.param("allowance_percent", "80", "api_calls", "150", False, id="no-allowance"),
        # 150 GB-hours: 50 × 0.10 = 5.00 ≥ 5.00
        pytest.param("amount", "5.00", "storage_gb", "150", True, id="amount-reached"),
        pytest.param("amount", "5.01", "storage_gb", "150", False, id="amount-not-reached"),
        # all metrics: 5.00 storage + 5.00 calls = 10.00
        pytest.param("amount", "10.00", None, "150", True, id="amount-all-metrics"),
    ],
)
def test_threshold_reached(kind: str, value: str, metric_code: str | None, gb: str, expected: bool) -> None:
    period = usage_period(_timeline("metered", date(2026, 3, 1)), date(2026, 3, 20))
    assert period is not None
    lines = price_usage(period, STORAGE, _q(gb), "EUR", RoundingMode.HALF_UP)
    lines += price_usage(period, CALLS_METRIC, _q("1500"), "EUR", RoundingMode.HALF_UP)  # 5.00
    assert reached(_threshold(kind, value, metric_code), lines) is expected


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        pytest.param(
            {"kind": "amount", "value": "5", "extra": 1}, "unknown_field", "extra", id="unknown-field"
        ),
        pytest.param({"kind": "share", "value": "5"}, "invalid_threshold", "kind", id="unknown-kind"),
        pytest.param({"kind": "amount", "value": "0"}, "invalid_threshold", "value", id="zero-value"),
        pytest.param({"kind": "amount", "value": 5.0}, "invalid_threshold", "value", id="float-value"),
        pytest.param(
            {"kind": "allowance_percent", "value": "80"},
            "invalid_threshold",
            "metric",
            id="allowance-without-metric",
        ),
        pytest.param(
            {"kind": "amount", "value": "5", "metric": 3}, "invalid_threshold", "metric", id="metric-not-text"
        ),
    ],
)
def test_parse_threshold_refuses(body: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_threshold(body)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_weighted_level_of_ten_for_ninety_minutes_is_fifteen_unit_hours() -> None:
    # the brief's example, through measure(): 10 from 09:00, period [10:00, 11:30) → 10 × 1.5 = 15
    events = readings(WEIGHTED, [("e1", "2026-03-01T09:00:00+00:00", {"gb": 10})])
    start = _at("2026-03-01T10:00:00+00:00")
    assert aggregate(WEIGHTED, events, start, start + timedelta(minutes=90)) == {"": Decimal(15)}
