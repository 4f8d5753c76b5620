"""Issue 4: properties of proration, the billing schedule and the period grid, checked with hypothesis."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.billing_schedule import Charge, ChargeKind, billing_schedule, timeline
from kassa.core.catalog import CatalogVersion, Timing, parse_catalog
from kassa.core.money import Money, RoundingMode, currency
from kassa.core.periods import BillingPeriod, Grid, PeriodUnit
from kassa.core.proration import Component, charge, credit
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

T0 = datetime(2020, 1, 1, tzinfo=UTC)
MONTH = BillingPeriod(unit=PeriodUnit.MONTH)
CENT = Decimal("0.01")

# A family of three plans (flat + per seat), in advance and in arrears.
PRICES = {"small": ("9.99", "1.23"), "medium": ("19.99", "2.34"), "large": ("49.00", "7.77")}


def _family_doc() -> dict[str, Any]:
    plans = [
        {
            "code": f"{code}-{suffix}",
            "name": f"{code} {suffix}",
            "billing_period": "month",
            "phases": [
                {"type": "evergreen", "timing": timing, "prices": {"EUR": {"flat": flat, "per_unit": unit}}}
            ],
        }
        for suffix, timing in (("adv", "in_advance"), ("arr", "in_arrears"))
        for code, (flat, unit) in PRICES.items()
    ]
    return {
        "products": [{"code": "app", "name": "App", "plans": plans}],
        "families": [
            {"code": "advance", "plans": [f"{c}-adv" for c in PRICES]},
            {"code": "arrears", "plans": [f"{c}-arr" for c in PRICES]},
        ],
    }


FAMILY = (CatalogVersion(number=1, effective_at=T0, catalog=parse_catalog(_family_doc())),)


def _subscription(
    start: date,
    terms: Terms,
    changes: list[tuple[date, Terms]],
    anchor: BillingAnchor | None = None,
    currency_code: str = "EUR",
) -> Subscription:
    all_changes = [
        Change(
            id="c0",
            kind=ChangeKind.START,
            effective=start,
            terms=terms,
            status=ChangeStatus.APPLIED,
            requested_at=T0,
        )
    ] + [
        Change(id=f"c{i}", kind=ChangeKind.CHANGE, effective=day, terms=t, requested_at=T0)
        for i, (day, t) in enumerate(changes, 1)
    ]
    return Subscription(
        tenant_id="t",
        id="s",
        customer_id="c",
        currency=currency_code,
        time_zone="Europe/Berlin",
        status=Status.ACTIVE,
        terms=terms,
        start=start,
        anchor=anchor or BillingAnchor(),
        trial_days=0,
        changes=tuple(all_changes),
        created_at=T0,
        updated_at=T0,
    )


def _schedule(sub: Subscription, versions: tuple[CatalogVersion, ...], until: date) -> list[Charge]:
    return billing_schedule(timeline(sub, versions, until), sub.currency, RoundingMode.HALF_UP, until=until)


# ---- (a), (b): many changes within one period ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    start: date
    period_end: date
    first: tuple[str, int]
    changes: tuple[tuple[int, str, int], ...]  # (day offset into the period, plan, quantity)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    start = draw(st.dates(min_value=date(2023, 1, 1), max_value=date(2028, 12, 31)))
    period_end = Grid.anchored(MONTH, start).boundary(1)
    length = (period_end - start).days
    plan = st.sampled_from(sorted(PRICES))
    quantity = st.integers(min_value=1, max_value=20)
    changes = draw(
        st.lists(st.tuples(st.integers(min_value=1, max_value=length - 1), plan, quantity), max_size=5)
    )
    return Scenario(
        start=start, period_end=period_end, first=(draw(plan), draw(quantity)), changes=tuple(changes)
    )


def _net_for_first_period(scenario: Scenario, suffix: str) -> tuple[Decimal, Decimal, int]:
    """(net charged for the first period, the most it may cost, the number of segments)."""
    start = scenario.start
    changes = [
        (start + timedelta(days=offset), Terms(plan=f"{plan}-{suffix}", quantity=q))
        for offset, plan, q in scenario.changes
    ]
    first = Terms(plan=f"{scenario.first[0]}-{suffix}", quantity=scenario.first[1])
    until = scenario.period_end + timedelta(days=1)
    charges = _schedule(_subscription(start, first, changes), FAMILY, until)
    net = sum(
        (
            c.line.amount.amount
            for c in charges
            if c.kind in (ChargeKind.RECURRING, ChargeKind.CREDIT) and c.line.period_start == start
        ),
        Decimal(0),
    )
    used = [scenario.first] + [(plan, q) for _, plan, q in scenario.changes]
    top_q = max(q for _, q in used)
    cap = max(Decimal(PRICES[p][0]) + Decimal(PRICES[p][1]) * top_q for p, _ in used)
    segments = 1 + len({offset for offset, _, _ in scenario.changes})
    return net, cap, segments


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_changes_in_one_period_in_advance_never_charge_more_than_the_most_expensive_terms(
    scenario: Scenario,
) -> None:
    net, cap, segments = _net_for_first_period(scenario, "adv")
    slack = CENT * segments
    assert -slack <= net <= cap + slack


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_changes_in_one_period_in_arrears_never_charge_more_than_the_most_expensive_terms(
    scenario: Scenario,
) -> None:
    net, cap, segments = _net_for_first_period(scenario, "arr")
    slack = CENT * segments
    assert -slack <= net <= cap + slack


# ---- (c): a credit never exceeds the line it credits -----------------------------------------------------

CURRENCIES = ("EUR", "JPY", "BHD")


@st.composite
def lines_and_days(
    draw: st.DrawFn,
) -> tuple[Component, date, date, tuple[date, date], str, RoundingMode, date]:
    code = draw(st.sampled_from(CURRENCIES))
    places = currency(code).exponent
    price = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(100_000), places=places))
    component = Component(
        key="plan.per_unit",
        description="seat",
        unit_price=price,
        quantity=draw(st.integers(min_value=1, max_value=1000)),
        timing=Timing.IN_ADVANCE,
    )
    unit = draw(st.sampled_from([PeriodUnit.WEEK, PeriodUnit.MONTH, PeriodUnit.QUARTER, PeriodUnit.YEAR]))
    grid = Grid.anchored(BillingPeriod(unit=unit), draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))))
    period = grid.enclosing(draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))))
    length = (period[1] - period[0]).days
    a = draw(st.integers(min_value=0, max_value=length - 1))
    b = draw(st.integers(min_value=a + 1, max_value=length))
    start, end = period[0] + timedelta(days=a), period[0] + timedelta(days=b)
    on = start + timedelta(days=draw(st.integers(min_value=0, max_value=b - a - 1)))
    mode = draw(st.sampled_from(list(RoundingMode)))
    return component, start, end, period, code, mode, on


@settings(max_examples=200, deadline=None)
@given(lines_and_days())
def test_a_credit_never_exceeds_the_line_it_credits(
    case: tuple[Component, date, date, tuple[date, date], str, RoundingMode, date],
) -> None:
    component, start, end, period, code, mode, on = case
    line = charge(component, start, end, period, code, mode)
    back = credit(line, on, mode)
    assert back.amount.amount <= 0
    assert abs(back.amount.amount) <= line.amount.amount
    assert (back.start, back.end, back.key) == (on, line.end, line.key)
    assert back.amount.is_rounded
    if on == line.start:  # the whole line back, exactly
        assert back.amount == -line.amount


# ---- (d): a whole period without changes is exactly price × quantity -------------------------------------


@st.composite
def plain_subscriptions(draw: st.DrawFn) -> tuple[Subscription, tuple[CatalogVersion, ...], Decimal, Decimal]:
    flat = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10_000), places=2))
    per_unit = draw(st.decimals(min_value=Decimal(0), max_value=Decimal(1_000), places=2))
    quantity = draw(st.integers(min_value=1, max_value=1000))
    unit = draw(st.sampled_from(list(PeriodUnit)))
    count = draw(st.integers(min_value=1, max_value=3))
    timing = draw(st.sampled_from(["in_advance", "in_arrears"]))
    doc = {
        "products": [
            {
                "code": "app",
                "name": "App",
                "plans": [
                    {
                        "code": "p",
                        "name": "P",
                        "billing_period": {"unit": unit.value, "count": count},
                        "phases": [
                            {
                                "type": "evergreen",
                                "timing": timing,
                                "prices": {"EUR": {"flat": str(flat), "per_unit": str(per_unit)}},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    versions = (CatalogVersion(number=1, effective_at=T0, catalog=parse_catalog(doc)),)
    start = draw(st.dates(min_value=date(2023, 1, 1), max_value=date(2029, 12, 31)))
    anchor = BillingAnchor()
    if BillingPeriod(unit=unit).months is not None and draw(st.booleans()):
        day = draw(st.integers(min_value=1, max_value=31))
        anchor = BillingAnchor(
            type=draw(st.sampled_from([AnchorType.DAY_OF_MONTH, AnchorType.ACCOUNT])), day=day
        )
    sub = _subscription(start, Terms(plan="p", quantity=quantity), [], anchor)
    return sub, versions, flat, per_unit * quantity


@settings(max_examples=200, deadline=None)
@given(plain_subscriptions())
def test_a_whole_period_without_changes_is_price_times_quantity(
    case: tuple[Subscription, tuple[CatalogVersion, ...], Decimal, Decimal],
) -> None:
    sub, versions, flat, seats = case
    tl = timeline(sub, versions, sub.start + timedelta(days=1))
    grid = tl.segments[0].grid
    first_full = grid.boundary_from(sub.start)
    whole = [
        (grid.boundary(k), grid.boundary(k + 1))
        for k in range(grid.index(first_full), grid.index(first_full) + 2)
    ]
    until = whole[-1][1] + timedelta(days=1)  # in-arrears lines fall due at the period's end
    charges = _schedule(sub, versions, until)
    for period in whole:
        lines = {c.line.key: c.line for c in charges if (c.line.start, c.line.end) == period}
        assert {k: line.amount for k, line in lines.items()} == {
            k: Money(v, "EUR") for k, v in (("plan.flat", flat), ("plan.per_unit", seats)) if v
        }
        assert all(c.kind is ChargeKind.RECURRING for c in charges if c.line.period_start == period[0])


# ---- (e): the grid ------------------------------------------------------------------------------------


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    unit = draw(st.sampled_from(list(PeriodUnit)))
    period = BillingPeriod(unit=unit, count=draw(st.integers(min_value=1, max_value=4)))
    origin = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
    anchor = draw(st.none() | st.integers(min_value=1, max_value=31)) if period.months is not None else None
    return Grid.anchored(period, origin, anchor)


@settings(max_examples=200, deadline=None)
@given(grids(), st.dates(min_value=date(1995, 1, 1), max_value=date(2045, 12, 31)))
def test_grid_invariants(grid: Grid, day: date) -> None:
    boundaries = [grid.boundary(k) for k in range(-30, 31)]
    assert all(a < b for a, b in zip(boundaries, boundaries[1:], strict=False))
    assert grid.boundary(0) == grid.origin
    start, end = grid.enclosing(day)
    assert start <= day < end
    assert grid.is_boundary(start) and grid.next_boundary(day) == end
    assert grid.boundary(grid.index(day)) == start
    if grid.period.months is not None and grid.anchor_day >= 29:
        for b in boundaries:
            assert b.day == min(grid.anchor_day, calendar.monthrange(b.year, b.month)[1])
