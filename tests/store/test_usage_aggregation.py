"""The SQL aggregation of usage events equals the in-memory oracle, on SQLite and on PostgreSQL.

UsageEvents.aggregate() answers many windows at once with set-based SQL; core.metering.aggregate() is the
oracle. A differential test draws random events (ties on timestamps, overlapping windows, late events,
uncounted events, other metrics and subscriptions) and checks the two agree for every aggregation kind;
hand-written cases pin the exact values the differential test cannot name.

Every example inserts its events in a unit of work that is never committed: the rollback at its end is the
cleanup, so examples cannot see each other's events.
"""

from __future__ import annotations

import decimal
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.core.metering import Aggregation, BillableMetric, Reading, aggregate, number, unit_hours
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork
from kassa.store.usage_events import Quantities, Window
from tests.conftest import TenantAccess

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
US = timedelta(microseconds=1)
INDIA = timezone(timedelta(hours=5, minutes=30))
KINDS = list(Aggregation)
# Wide enough that no addition or product of the values drawn here is ever rounded.
EXACT = decimal.Context(prec=200, traps=[decimal.Inexact, decimal.InvalidOperation])


def metric_of(code: str, kind: Aggregation) -> BillableMetric:
    return BillableMetric(
        code=code, name=code, aggregation=kind, field_name=None if kind is Aggregation.COUNT else "v"
    )


@dataclass(frozen=True, slots=True)
class Event:
    """One stored usage event: the reading the oracle sees, and the columns only the store filters on."""

    reading: Reading
    subscription_id: str
    metric: str
    late: bool = False
    received_at: datetime | None = None  # the event's timestamp when None

    def row(self) -> dict[str, Any]:
        r = self.reading
        return {
            "id": r.id, "customer_id": "cus_test", "subscription_id": self.subscription_id,
            "metric": self.metric, "timestamp": r.timestamp, "received_at": self.received_at or r.timestamp,
            "value": r.value, "unique_key": r.unique_key, "group_key": r.group_key, "counted": r.counted,
            "late": self.late, "properties": "{}",
        }  # fmt: skip


def event(
    id: str, at: datetime, value: Decimal | int | str | None = None, *, sub: str = "sub_a", metric: str = "m",
    group: str = "", unique_key: str | None = None, counted: bool = True, late: bool = False,
    received_at: datetime | None = None,
) -> Event:  # fmt: skip
    amount = None if value is None else Decimal(value)
    reading = Reading(
        id=id, timestamp=at, value=amount, unique_key=unique_key, group_key=group, counted=counted
    )
    return Event(reading, sub, metric, late, received_at)


def expected(
    metrics: dict[str, BillableMetric], events: Sequence[Event], window: Window
) -> dict[str, Decimal]:
    """The oracle over the events the store's join keeps for this window (it applies `counted` itself)."""
    readings = [
        e.reading
        for e in events
        if e.subscription_id == window.subscription_id
        and e.metric == window.metric
        and (not e.late or (window.late_before is not None and (e.received_at or e.reading.timestamp) < window.late_before))
    ]  # fmt: skip
    return aggregate(metrics[window.metric], readings, window.start, window.end)


def stored(
    ctx: ServiceContext, tenant: TenantAccess, metrics: dict[str, BillableMetric], events: Sequence[Event],
    windows: Sequence[Window],
) -> Quantities:  # fmt: skip
    """What the store aggregates; nothing is committed."""
    with ctx.uow() as uow:
        _insert(uow, tenant, events)
        return uow.usage_events.aggregate(tenant.id, metrics, windows)


def _insert(uow: UnitOfWork, tenant: TenantAccess, events: Sequence[Event]) -> None:
    rows = [e.row() for e in events]
    assert uow.usage_events.insert(tenant.id, rows) == {row["id"] for row in rows}


# ---- the differential test -------------------------------------------------------------------------------

WINDOWS = (
    Window(key=1, subscription_id="sub_a", metric="m", start=BASE, end=BASE + 2 * HOUR, late_before=BASE + 2.5 * HOUR),
    # overlaps window 1; late events never count
    Window(key=2, subscription_id="sub_a", metric="m", start=BASE + HOUR, end=BASE + 3 * HOUR, late_before=None),
    # the late cut falls among the events
    Window(key=3, subscription_id="sub_b", metric="m", start=BASE, end=BASE + 2 * HOUR, late_before=BASE + HOUR),
    # given in another offset than UTC
    Window(key=4, subscription_id="sub_b", metric="m", start=(BASE - HOUR / 2).astimezone(INDIA),
           end=(BASE + HOUR / 2).astimezone(INDIA), late_before=(BASE + 3 * HOUR).astimezone(INDIA)),
    # no events at all
    Window(key=5, subscription_id="sub_none", metric="m", start=BASE, end=BASE + 2 * HOUR, late_before=BASE + 3 * HOUR),
    # empty span (rating cuts a window at `until`): only a weighted sum's carried level can show, as 0
    Window(key=6, subscription_id="sub_a", metric="m", start=BASE + HOUR, end=BASE + HOUR, late_before=BASE + 3 * HOUR),
    # the other metric of the same subscriptions, of another kind, in the same call
    Window(key=7, subscription_id="sub_a", metric="n", start=BASE, end=BASE + 2 * HOUR, late_before=BASE + 2 * HOUR),
)  # fmt: skip
LATE_CUTS = sorted({w.late_before for w in WINDOWS if w.late_before is not None})
# Instants events like to fall on: window bounds and one microsecond either side; and a few instants
# inside the windows, where many events tie (the last one of windows 1 and 3 among them).
ANCHORS = sorted({t + d for w in WINDOWS for t in (w.start, w.end) for d in (-US, timedelta(0), US)})
TIES = [BASE + HOUR / 2, BASE + HOUR, BASE + 2 * HOUR - US]

instants = st.one_of(
    st.sampled_from(TIES),
    st.sampled_from(TIES),
    st.sampled_from(ANCHORS),
    st.integers(-2 * 3600 * 10**6, 4 * 3600 * 10**6).map(lambda us: BASE + timedelta(microseconds=us)),
)
received = st.one_of(
    st.sampled_from(sorted({t + d for t in LATE_CUTS for d in (-US, timedelta(0), US)})),
    instants,
)
values = st.one_of(
    st.just(Decimal(0)),
    st.sampled_from(
        [Decimal(10**12), Decimal("999999999999.999999"), Decimal("0.000001"), Decimal("-0.000001")]
    ),
    st.integers(-20, 20).map(Decimal),
    st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False),
).map(lambda v: number(v, "properties.v"))  # as ingestion stores it
# Ids from an alphabet where code-point order differs from case-insensitive and natural orders.
ids = st.text(alphabet="aAbB09-._", min_size=1, max_size=4)


@st.composite
def events_for(draw: st.DrawFn, kinds: dict[str, Aggregation]) -> list[Event]:
    names = draw(st.lists(ids, unique=True, min_size=1, max_size=40))
    out = []
    for name in names:
        metric = draw(st.sampled_from(["m", "m", "m", "n"]))
        kind = kinds[metric]
        value = unique_key = None
        if kind is Aggregation.UNIQUE_COUNT:
            unique_key = draw(st.sampled_from(["a", "b", "A", "a ", "é", "é"]))  # the last two: NFC and NFD
        elif kind is not Aggregation.COUNT:
            value = draw(values)
            if kind is Aggregation.WEIGHTED_SUM:
                value = abs(value)  # a level is not negative
        late = draw(st.integers(0, 3)) == 0
        reading = Reading(
            id=name, timestamp=draw(instants), value=value, unique_key=unique_key,
            group_key=draw(st.sampled_from(["", "eu", "EU"])), counted=draw(st.integers(0, 4)) > 0,
        )  # fmt: skip
        out.append(Event(reading, draw(st.sampled_from(["sub_a", "sub_a", "sub_b", "sub_c"])), metric, late,
                         draw(received) if late else None))  # fmt: skip
    return out


@st.composite
def random_window(draw: st.DrawFn) -> Window:
    start, end = sorted([draw(instants), draw(instants)])
    return Window(
        key=8, subscription_id=draw(st.sampled_from(["sub_a", "sub_b", "sub_c"])), metric="m", start=start,
        end=end, late_before=draw(st.none() | received),
    )  # fmt: skip


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_sql_aggregation_equals_the_oracle_on_random_events(
    ctx: ServiceContext, tenant: TenantAccess, kind: Aggregation
) -> None:
    other = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
    metrics = {"m": metric_of("m", kind), "n": metric_of("n", other)}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(events=events_for({"m": kind, "n": other}), extra=random_window())
    def check(events: list[Event], extra: Window) -> None:
        windows = [*WINDOWS, extra]
        # Both sides in an exact context: this test is about which events count and in what order; the
        # rounding of wide values by the default 28-digit context is pinned by the exact cases below.
        with decimal.localcontext(EXACT):
            got = stored(ctx, tenant, metrics, events, windows)
            for window in windows:
                assert got.get(window.key, {}) == expected(metrics, events, window), window
        assert set(got) <= {w.key for w in windows}

    check()


# ---- exact cases ---------------------------------------------------------------------------------------


def _one_window(
    ctx: ServiceContext, tenant: TenantAccess, kind: Aggregation, events: Sequence[Event], start: datetime,
    end: datetime,
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:  # fmt: skip
    """(store, oracle) quantities of metric "m" of sub_a over [start, end)."""
    metrics = {"m": metric_of("m", kind)}
    window = Window(key=0, subscription_id="sub_a", metric="m", start=start, end=end, late_before=end)
    return stored(ctx, tenant, metrics, events, [window]).get(0, {}), expected(metrics, events, window)


def test_weighted_sum_carries_the_level_from_before_the_window(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    # 10 units set an hour before the window and held through its 90 minutes: 15 unit-hours
    events = [event("e1", BASE - HOUR, 10), event("e0", BASE - 2 * HOUR, 99)]
    got, oracle = _one_window(ctx, tenant, Aggregation.WEIGHTED_SUM, events, BASE, BASE + 1.5 * HOUR)
    assert got == oracle == {"": Decimal(15)}


def test_weighted_sum_holds_each_level_until_the_next_reading(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    events = [
        event("e1", BASE - HOUR, 10),  # 10 for the first 30 minutes: 5
        event("e2", BASE + HOUR / 2, 4),  # 4 for 30 minutes: 2
        event("e3", BASE + HOUR, 0),  # 0 for 15 minutes
        event("e4", BASE + 1.25 * HOUR, 8, received_at=BASE + 5 * HOUR, late=True),  # after the cut: ignored
        event("e5", BASE + 1.5 * HOUR, 2),  # 2 until the end, 30 minutes: 1
        event("e6", BASE + 2 * HOUR, 1000),  # at the end: outside
    ]
    got, oracle = _one_window(ctx, tenant, Aggregation.WEIGHTED_SUM, events, BASE, BASE + 2 * HOUR)
    assert got == oracle == {"": Decimal(8)}


def test_weighted_sum_at_tied_timestamps_keeps_the_level_of_the_greater_id(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    # "B" sorts before "a" (code points): "a" sets the level held for the hour
    events = [event("a", BASE, 3), event("B", BASE, 7)]
    got, oracle = _one_window(ctx, tenant, Aggregation.WEIGHTED_SUM, events, BASE, BASE + HOUR)
    assert got == oracle == {"": Decimal(3)}


def test_weighted_sum_to_the_microsecond(ctx: ServiceContext, tenant: TenantAccess) -> None:
    events = [event("e1", BASE - US, "3600"), event("e2", BASE + US, 0)]
    got, oracle = _one_window(ctx, tenant, Aggregation.WEIGHTED_SUM, events, BASE, BASE + HOUR)
    # 3600 units for one microsecond, then 0
    assert got == oracle == {"": Decimal("0.000001")}


def test_latest_at_tied_timestamps_is_decided_by_id(ctx: ServiceContext, tenant: TenantAccess) -> None:
    events = [
        event("evt-9", BASE + HOUR, 9),  # "evt-9" > "evt-10" as text: the latest of the three
        event("evt-10", BASE + HOUR, 10),
        event("evt-1", BASE + HOUR, 1),
        event("evt-0", BASE + HOUR - US, 100),
        event("evt-z", BASE + HOUR, 50, counted=False),  # filtered out: does not win the tie
    ]
    got, oracle = _one_window(ctx, tenant, Aggregation.LATEST, events, BASE, BASE + 2 * HOUR)
    assert got == oracle == {"": Decimal(9)}


def test_max_compares_numbers_not_text(ctx: ServiceContext, tenant: TenantAccess) -> None:
    events = [
        event("e1", BASE, "9", group="a"), event("e2", BASE, "10", group="a"),
        event("e3", BASE, "-10", group="b"), event("e4", BASE, "-9", group="b"),
        event("e5", BASE, "0.25", group="c"), event("e6", BASE, "0.3", group="c"),
        event("e7", BASE, "1E+2", group="d"), event("e8", BASE, "99.999999", group="d"),
    ]  # fmt: skip
    got, oracle = _one_window(ctx, tenant, Aggregation.MAX, events, BASE, BASE + HOUR)
    assert got == oracle == {"a": Decimal(10), "b": Decimal(-9), "c": Decimal("0.3"), "d": Decimal(100)}


# The widest value ingestion keeps (number(): 30 digits, 12 of them decimals); wider than the default
# 28-digit decimal context, so any step that leaves the exact contexts shows in the last digits.
WIDE = Decimal("999999999999999999.999999999999")


def test_sum_of_values_with_12_decimals_is_exact(ctx: ServiceContext, tenant: TenantAccess) -> None:
    small = Decimal("0.000000000001")
    events = [
        event("e1", BASE, WIDE),
        event("e2", BASE, WIDE),
        event("e3", BASE, small),
        event("e4", BASE, -small),
    ]
    got, oracle = _one_window(ctx, tenant, Aggregation.SUM, events, BASE, BASE + HOUR)
    assert got == oracle == {"": Decimal("1999999999999999999.999999999998")}


# A level of 18 digits held for a month and a microsecond (13 digits): the product has 31 digits.
LEVEL = Decimal("999999999999.999999")
MONTH = timedelta(days=30, microseconds=1)
MONTH_SECONDS = Decimal("2592000.000001")


def test_weighted_sum_of_a_wide_level_set_inside_the_window_is_exact(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    got, oracle = _one_window(
        ctx, tenant, Aggregation.WEIGHTED_SUM, [event("e1", BASE, LEVEL)], BASE, BASE + MONTH
    )
    assert got == oracle == {"": unit_hours(EXACT.multiply(LEVEL, MONTH_SECONDS))}


@pytest.mark.parametrize("carried", [LEVEL, Decimal(1)], ids=["wide-carried-level", "small-carried-level"])
def test_weighted_sum_with_a_level_carried_in_is_exact(
    ctx: ServiceContext, tenant: TenantAccess, carried: Decimal
) -> None:
    # `carried` from before the window for its first 2 µs, then LEVEL for the rest: 2591999.999999 s
    events = [event("e1", BASE - HOUR, carried), event("e2", BASE + 2 * US, LEVEL)]
    got, oracle = _one_window(ctx, tenant, Aggregation.WEIGHTED_SUM, events, BASE, BASE + MONTH)
    rest = EXACT.multiply(LEVEL, Decimal("2591999.999999"))  # 31 digits: exact in SQL
    exact = EXACT.add(EXACT.multiply(carried, Decimal("0.000002")), rest)
    assert oracle == {"": unit_hours(exact)}
    assert got == oracle


def test_unique_count_and_count_skip_uncounted_and_late_events(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    cut = BASE + HOUR
    shapes: list[tuple[str, datetime, str, dict[str, Any]]] = [
        ("e1", BASE, "x", {}),
        ("e2", BASE + US, "X", {}),
        ("e3", BASE + 2 * US, "x", {}),
        ("e4", BASE, "y", {"counted": False}),
        ("e5", BASE, "z", {"late": True, "received_at": cut}),  # received at the cut: not before it
        ("e6", BASE, "w", {"late": True, "received_at": cut - US}),
        ("e7", BASE, "v", {"sub": "sub_b"}),
        ("e8", cut, "t", {}),  # at the window's end: outside
    ]
    events = [
        event(f"{code}-{name}", at, unique_key=key if code == "u" else None, metric=code, **more)
        for code in "uc"
        for name, at, key, more in shapes
    ]
    metrics = {"u": metric_of("u", Aggregation.UNIQUE_COUNT), "c": metric_of("c", Aggregation.COUNT)}
    windows = [
        Window(key=1, subscription_id="sub_a", metric="u", start=BASE, end=cut, late_before=cut),
        Window(key=2, subscription_id="sub_a", metric="c", start=BASE, end=cut, late_before=cut),
    ]
    got = stored(ctx, tenant, metrics, events, windows)
    assert got == {1: {"": Decimal(3)}, 2: {"": Decimal(4)}}  # x, X, w; e1, e2, e3, e6
    assert {w.key: expected(metrics, events, w) for w in windows} == got


@pytest.mark.parametrize("kind", KINDS, ids=[k.value for k in KINDS])
def test_a_bulk_insert_aggregates_like_the_oracle(
    ctx: ServiceContext, tenant: TenantAccess, kind: Aggregation
) -> None:
    """Hundreds of events at once (PostgreSQL inserts them through COPY): the same quantities."""
    rng = random.Random(f"bulk-{kind.value}")
    events = []
    for i in range(400):
        value = unique_key = None
        if kind is Aggregation.UNIQUE_COUNT:
            unique_key = rng.choice(["a", "b", "c", "A"])
        elif kind is not Aggregation.COUNT:
            value = (
                Decimal(rng.randrange(0, 10**18)).scaleb(-6)
                if rng.random() < 0.5
                else Decimal(rng.randint(0, 9))
            )
        late = rng.random() < 0.2
        events.append(event(
            f"ev-{i:04d}", BASE + timedelta(microseconds=rng.randrange(-3600 * 10**6, 3 * 3600 * 10**6)), value,
            sub=rng.choice(["sub_a", "sub_b"]), group=rng.choice(["", "eu"]), unique_key=unique_key,
            counted=rng.random() < 0.9, late=late, received_at=BASE + rng.choice([HOUR, 3 * HOUR]) if late else None,
        ))  # fmt: skip
    metrics = {"m": metric_of("m", kind)}
    windows = [
        Window(key=i, subscription_id=sub, metric="m", start=BASE + i * HOUR / 2, end=BASE + 2 * HOUR,
               late_before=BASE + 2 * HOUR)
        for i, sub in enumerate(["sub_a", "sub_b", "sub_a"])
    ]  # fmt: skip
    with decimal.localcontext(EXACT):
        got = stored(ctx, tenant, metrics, events, windows)
        assert {w.key: expected(metrics, events, w) for w in windows} == got


# ---- transactions ----------------------------------------------------------------------------------------


def test_transactions_come_in_time_order_then_id_order(ctx: ServiceContext, tenant: TenantAccess) -> None:
    cut = BASE + 2 * HOUR
    events = [
        event("b", BASE + HOUR, 3),
        event("a", BASE + HOUR, 2),
        event("B", BASE + HOUR, 1),  # "B" < "a" < "b"
        event("z", BASE, 0),
        event("y", BASE + 1.5 * HOUR, 5, group="eu"),
        event("x", BASE + US, 4, group="eu"),
        event("late-kept", BASE + HOUR / 2, 6, late=True, received_at=cut - US),
        event("late-dropped", BASE + HOUR / 2, 7, late=True, received_at=cut),
        event("uncounted", BASE + HOUR / 2, 8, counted=False),
        event("before", BASE - US, 9),
        event("after", BASE + 2 * HOUR, 10),
        event("other-sub", BASE + HOUR, 11, sub="sub_b"),
        event("other-metric", BASE + HOUR, 12, metric="n"),
    ]
    windows = [
        Window(key=1, subscription_id="sub_a", metric="m", start=BASE, end=BASE + 2 * HOUR, late_before=cut),
        Window(key=2, subscription_id="sub_a", metric="m", start=BASE + HOUR, end=BASE + 2 * HOUR, late_before=None),
        Window(key=3, subscription_id="sub_none", metric="m", start=BASE, end=BASE + 2 * HOUR, late_before=cut),
    ]  # fmt: skip
    with ctx.uow() as uow:
        _insert(uow, tenant, events)
        got = uow.usage_events.transactions(tenant.id, windows)
    assert got == {
        1: {"": (Decimal(0), Decimal(6), Decimal(1), Decimal(2), Decimal(3)), "eu": (Decimal(4), Decimal(5))},
        2: {"": (Decimal(1), Decimal(2), Decimal(3)), "eu": (Decimal(5),)},
    }


def test_transactions_of_events_without_a_value_do_not_raise(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    window = Window(key=1, subscription_id="sub_a", metric="m", start=BASE, end=BASE + HOUR, late_before=None)
    with ctx.uow() as uow:
        _insert(uow, tenant, [event("e1", BASE), event("e2", BASE + US)])
        uow.usage_events.transactions(tenant.id, [window])
