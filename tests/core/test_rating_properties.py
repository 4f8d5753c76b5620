"""Properties of rating and metering, checked with hypothesis.

Prices are drawn as catalog documents (decimal strings) and go through each model's `parse`; quantities
and prices are small enough that every amount is exact, so the properties are checked with `==`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.metering import Reading, aggregate, parse_metric
from kassa.core.money import currency_code
from kassa.core.rating import (
    MODELS,
    ChargeModel,
    Part,
    UsageCharge,
    forecast,
    increment,
    minimum_true_up,
    parse_charge,
    rate,
)

ZERO = Decimal(0)
WIDE = Context(prec=100)

# ---- strategies: price documents -----------------------------------------------------------------------


def _decimal(max_units: int, places: int) -> st.SearchStrategy[str]:
    return st.integers(0, max_units).map(lambda n: str(Decimal(n).scaleb(-places)))


money = _decimal(50_000, 2)  # 0.00 – 500.00
unit_price = _decimal(5_000, 3)  # 0.000 – 5.000
percent_rate = _decimal(10_000, 2)  # 0.00 – 100.00 (%)


@st.composite
def tier_docs(draw: st.DrawFn, price: st.SearchStrategy[str], name: str) -> dict[str, Any]:
    bounds = sorted(draw(st.sets(st.integers(1, 400), max_size=3)))
    ups: list[str | None] = [str(b) for b in bounds] + [None]
    tiers = []
    for up in ups:
        tier: dict[str, Any] = {"up_to": up, name: draw(price)}
        if draw(st.booleans()):
            tier["flat"] = draw(money)
        tiers.append(tier)
    return {"tiers": tiers}


@st.composite
def percentage_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {"rate": draw(percent_rate)}
    if draw(st.booleans()):
        doc["fixed_fee"] = draw(_decimal(100, 2))
    low = draw(st.none() | st.integers(0, 200))
    high = draw(st.none() | st.integers(0, 2000))
    if low is not None and high is not None and low > high:
        low, high = high, low
    if low is not None:
        doc["min_per_transaction"] = str(Decimal(low).scaleb(-2))
    if high is not None:
        doc["max_per_transaction"] = str(Decimal(high).scaleb(-2))
    doc["free_transactions"] = draw(st.integers(0, 3))
    doc["free_amount"] = draw(_decimal(50_000, 2))
    return doc


def price_docs(model: ChargeModel) -> st.SearchStrategy[dict[str, Any]]:
    if model is ChargeModel.PER_UNIT:
        return st.builds(lambda u: {"unit": u}, unit_price)
    if model in (ChargeModel.GRADUATED, ChargeModel.VOLUME):
        return tier_docs(unit_price, "unit")
    if model is ChargeModel.GRADUATED_PERCENTAGE:
        return tier_docs(percent_rate, "rate")
    if model is ChargeModel.PACKAGE:
        return st.fixed_dictionaries(
            {"size": st.integers(1, 200).map(str), "price": money},
            optional={"free_units": st.integers(0, 100).map(str)},
        )
    return percentage_docs()


def _charge(model: ChargeModel, doc: dict[str, Any], included: int, at_zero: bool) -> UsageCharge:
    body = {"metric": "m", "model": model.value, "prices": {"EUR": doc}, "flat_fee_at_zero": at_zero}
    if model is not ChargeModel.PERCENTAGE:
        body["included"] = str(included)
    return parse_charge(body, "charges.0", currency_code)


def _params(model: ChargeModel, doc: dict[str, Any]) -> Any:
    return MODELS[model].parse(doc, "prices.EUR")


# quantities: whole or tenths of a unit, up to 600
quantity = st.integers(0, 6000).map(lambda n: Decimal(n).scaleb(-1))
quantities = st.lists(quantity, min_size=1, max_size=4)
amounts = st.lists(st.integers(0, 100_000).map(lambda n: Decimal(n).scaleb(-2)), max_size=6)

QUANTITY_MODELS = [m for m in ChargeModel if m is not ChargeModel.PERCENTAGE]


@st.composite
def charges(draw: st.DrawFn, models: list[ChargeModel] = QUANTITY_MODELS) -> tuple[UsageCharge, Any]:
    model = draw(st.sampled_from(models))
    doc = draw(price_docs(model))
    included = draw(st.integers(0, 300)) if draw(st.booleans()) else 0
    charge = _charge(model, doc, included, draw(st.booleans()))
    return charge, charge.prices["EUR"]


def _parts(params: Any, amounts_per_part: list[Decimal]) -> list[Part]:
    return [Part(quantity=q, params=params) for q in amounts_per_part]


def _transaction_parts(params: Any, chunks: list[list[Decimal]]) -> list[Part]:
    return [Part(quantity=sum(c, ZERO), params=params, transactions=tuple(c)) for c in chunks]


@st.composite
def chunked(draw: st.DrawFn) -> list[list[Decimal]]:
    """A period's transactions cut into 1 to 4 consecutive parts (some may be empty)."""
    moves = draw(amounts)
    cuts = sorted(draw(st.lists(st.integers(0, len(moves)), max_size=3)))
    edges = [0, *cuts, len(moves)]
    return [moves[a:b] for a, b in zip(edges, edges[1:], strict=False)]


# ---- rating --------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(charges([ChargeModel.GRADUATED, ChargeModel.PER_UNIT, ChargeModel.PACKAGE,
                ChargeModel.GRADUATED_PERCENTAGE]), quantity, quantity)  # fmt: skip
def test_rate_is_monotone_in_quantity_except_volume(
    drawn: tuple[UsageCharge, Any], a: Decimal, b: Decimal
) -> None:
    charge, params = drawn
    low, high = sorted((a, b))
    assert rate(charge, _parts(params, [low])).amount <= rate(charge, _parts(params, [high])).amount


@settings(max_examples=200, deadline=None)
@given(charges(), quantities)
def test_splitting_a_period_at_the_same_prices_changes_nothing(
    drawn: tuple[UsageCharge, Any], pieces: list[Decimal]
) -> None:
    charge, params = drawn
    whole = rate(charge, _parts(params, [sum(pieces, ZERO)]))
    split = rate(charge, _parts(params, pieces))
    assert split == whole


@settings(max_examples=200, deadline=None)
@given(charges([ChargeModel.PERCENTAGE]), chunked())
def test_splitting_transactions_at_the_same_prices_changes_nothing(
    drawn: tuple[UsageCharge, Any], chunks: list[list[Decimal]]
) -> None:
    charge, params = drawn
    whole = rate(charge, _transaction_parts(params, [[t for c in chunks for t in c]]))
    assert rate(charge, _transaction_parts(params, chunks)) == whole


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(ChargeModel)), st.data())
def test_amount_is_never_negative_even_across_price_changes(model: ChargeModel, data: st.DataObject) -> None:
    docs = data.draw(st.lists(price_docs(model), min_size=1, max_size=3))
    charge = _charge(model, docs[-1], data.draw(st.integers(0, 300)), data.draw(st.booleans()))
    if model is ChargeModel.PERCENTAGE:
        parts = [
            Part(quantity=sum(moves, ZERO), params=_params(model, doc), transactions=tuple(moves))
            for doc in docs
            for moves in [data.draw(amounts)]
        ]
    else:
        parts = [Part(quantity=data.draw(quantity), params=_params(model, doc)) for doc in docs]
    rated = rate(charge, parts)
    assert rated.amount >= 0
    assert rated.quantity == sum((p.quantity for p in parts), ZERO)
    assert rated.billable == max(ZERO, rated.quantity - charge.included)
    if model in (ChargeModel.GRADUATED, ChargeModel.VOLUME, ChargeModel.GRADUATED_PERCENTAGE):
        assert rated.tier is not None and 1 <= rated.tier <= len(parts[-1].params.tiers)
    else:
        assert rated.tier is None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(QUANTITY_MODELS), st.data())
def test_increment_is_the_difference_of_two_ratings(model: ChargeModel, data: st.DataObject) -> None:
    docs = data.draw(st.lists(price_docs(model), min_size=1, max_size=3))
    charge = _charge(model, docs[-1], data.draw(st.integers(0, 300)), data.draw(st.booleans()))
    parts = [Part(quantity=data.draw(quantity), params=_params(model, doc)) for doc in docs]
    more = data.draw(quantity)
    got = increment(charge, parts, more)
    # the same usage, built by hand: `more` units in the last part, or in a part of their own at its prices
    grown = [*parts[:-1], replace(parts[-1], quantity=parts[-1].quantity + more)]
    assert got == rate(charge, grown).amount - rate(charge, parts).amount
    extra = [*parts, Part(quantity=more, params=parts[-1].params)]
    assert got == rate(charge, extra).amount - rate(charge, parts).amount
    if model is not ChargeModel.VOLUME:  # a volume cliff makes more usage cost less
        assert got >= 0


@settings(max_examples=200, deadline=None)
@given(charges([ChargeModel.PERCENTAGE]), chunked(), st.integers(0, 100_000))
def test_a_transaction_increment_is_the_difference_of_two_ratings(
    drawn: tuple[UsageCharge, Any], chunks: list[list[Decimal]], cents: int
) -> None:
    charge, params = drawn
    parts = _transaction_parts(params, chunks)
    amount = Decimal(cents).scaleb(-2)
    got = increment(charge, parts, amount, amount)
    extra = [*parts, Part(quantity=amount, params=params, transactions=(amount,))]
    assert got == rate(charge, extra).amount - rate(charge, parts).amount
    assert got >= 0


def _tier_of_unit(tiers: Any, n: int) -> int:
    """The 0-based tier of the n-th unit (1-based): the first whose up_to is at least n."""
    return next(i for i, t in enumerate(tiers) if t.up_to is None or n <= t.up_to)


@settings(max_examples=200, deadline=None)
@given(tier_docs(unit_price, "unit"), st.integers(0, 500), st.booleans())
def test_graduated_is_each_unit_at_its_tiers_price(doc: dict[str, Any], units: int, at_zero: bool) -> None:
    charge = _charge(ChargeModel.GRADUATED, doc, 0, at_zero)
    tiers = charge.prices["EUR"].tiers
    reached = {_tier_of_unit(tiers, n) for n in range(1, units + 1)}
    expected = sum((tiers[_tier_of_unit(tiers, n)].unit for n in range(1, units + 1)), ZERO)
    expected += sum((tiers[i].flat for i in reached), ZERO)
    if units == 0 and at_zero:
        expected = tiers[0].flat
    rated = rate(charge, [Part(quantity=Decimal(units), params=charge.prices["EUR"])])
    assert rated.amount == expected
    assert rated.tier == (_tier_of_unit(tiers, units) if units else 0) + 1


@settings(max_examples=200, deadline=None)
@given(tier_docs(unit_price, "unit"), st.integers(0, 500), st.booleans())
def test_volume_is_every_unit_at_the_reached_tiers_price(
    doc: dict[str, Any], units: int, at_zero: bool
) -> None:
    charge = _charge(ChargeModel.VOLUME, doc, 0, at_zero)
    tiers = charge.prices["EUR"].tiers
    tier = tiers[_tier_of_unit(tiers, units)] if units else tiers[0]
    expected = units * tier.unit + tier.flat if units or at_zero else ZERO
    assert rate(charge, [Part(quantity=Decimal(units), params=charge.prices["EUR"])]).amount == expected


@settings(max_examples=200, deadline=None)
@given(charges(), quantities)
def test_included_units_are_free(drawn: tuple[UsageCharge, Any], pieces: list[Decimal]) -> None:
    # rating with an allowance equals rating the units beyond it without one
    charge, params = drawn
    total = sum(pieces, ZERO)
    plain = replace(charge, included=ZERO)
    beyond = max(ZERO, total - charge.included)
    assert rate(charge, _parts(params, pieces)) == replace(
        rate(plain, _parts(params, [beyond])), quantity=total
    )


# ---- forecast and minimum spend ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(quantity, st.integers(1, 31 * 86400), st.integers(1, 31 * 86400), st.booleans())
def test_forecast(q: Decimal, a: int, b: int, additive: bool) -> None:
    elapsed, length = timedelta(seconds=min(a, b)), timedelta(seconds=max(a, b))
    got = forecast(q, elapsed, length, additive=additive)
    if not additive or elapsed == length:
        assert got == q
    else:
        assert got >= q
        # exact to far below a cent: got × elapsed = q × length
        assert abs(WIDE.multiply(got, min(a, b)) - q * max(a, b)) < Decimal("1e-40")


@settings(max_examples=200, deadline=None)
@given(money, money, st.integers(1, 31), st.integers(1, 31))
def test_minimum_true_up_lifts_to_the_prorated_minimum(minimum: str, charged: str, a: int, b: int) -> None:
    part_days, period_days = min(a, b), max(a, b)
    got = minimum_true_up(Decimal(minimum), Decimal(charged), part_days=part_days, period_days=period_days)
    owed = Decimal(minimum) * part_days / period_days
    assert got >= 0
    assert abs(got - max(ZERO, owed - Decimal(charged))) < Decimal("1e-20")
    if part_days == period_days:
        assert got == max(ZERO, Decimal(minimum) - Decimal(charged))


# ---- metering: the aggregation splits at any instant ---------------------------------------------------

BASE = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(seconds=36)  # 0.01 h: every level × span is an exact number of unit-hours
WEIGHTED = parse_metric({"code": "gb", "name": "GB", "aggregation": "weighted_sum", "field_name": "gb",
                         "group_by": "region"})  # fmt: skip
COUNT = parse_metric({"code": "n", "name": "N", "aggregation": "count", "group_by": "region"})
SUM = parse_metric({"code": "s", "name": "S", "aggregation": "sum", "field_name": "v", "group_by": "region"})
MAX = parse_metric({"code": "x", "name": "X", "aggregation": "max", "field_name": "v", "group_by": "region"})
LATEST = parse_metric(
    {"code": "l", "name": "L", "aggregation": "latest", "field_name": "v", "group_by": "region"}
)


@st.composite
def history(draw: st.DrawFn) -> tuple[list[Reading], datetime, datetime, datetime]:
    """Readings on a 36-second grid from before the period to after it, and a period split at `mid`."""
    events = draw(
        st.lists(
            st.tuples(st.integers(0, 200), st.integers(0, 10_000), st.sampled_from(["eu", "us"])), max_size=12
        )
    )
    readings = [
        Reading(
            id=f"e{i:02d}",
            timestamp=BASE + step * STEP,
            value=Decimal(level).scaleb(-2),
            unique_key=None,
            group_key=group,
        )
        for i, (step, level, group) in enumerate(events)
    ]
    start = draw(st.integers(0, 150))
    end = draw(st.integers(start, 200))
    mid = draw(st.integers(start, end))
    return readings, BASE + start * STEP, BASE + mid * STEP, BASE + end * STEP


def _combined(one: dict[str, Decimal], two: dict[str, Decimal]) -> dict[str, Decimal]:
    return {g: one.get(g, ZERO) + two.get(g, ZERO) for g in one.keys() | two.keys()}


def _dense(quantities: dict[str, Decimal]) -> dict[str, Decimal]:
    return {g: quantities.get(g, ZERO) for g in ("eu", "us")}


@settings(max_examples=200, deadline=None)
@given(history())
def test_weighted_sum_is_the_sum_over_sub_intervals(
    drawn: tuple[list[Reading], datetime, datetime, datetime],
) -> None:
    readings, start, mid, end = drawn
    whole = aggregate(WEIGHTED, readings, start, end)
    halves = _combined(aggregate(WEIGHTED, readings, start, mid), aggregate(WEIGHTED, readings, mid, end))
    assert _dense(whole) == _dense(halves)
    assert all(q >= 0 for q in whole.values())


@settings(max_examples=200, deadline=None)
@given(history())
def test_weighted_sum_ignores_the_order_readings_come_in(
    drawn: tuple[list[Reading], datetime, datetime, datetime],
) -> None:
    readings, start, _, end = drawn
    assert aggregate(WEIGHTED, readings[::-1], start, end) == aggregate(WEIGHTED, readings, start, end)


@settings(max_examples=200, deadline=None)
@given(history())
def test_count_and_sum_are_additive_max_and_latest_are_not(
    drawn: tuple[list[Reading], datetime, datetime, datetime],
) -> None:
    readings, start, mid, end = drawn
    for m in (COUNT, SUM):
        whole = aggregate(m, readings, start, end)
        assert whole == _combined(aggregate(m, readings, start, mid), aggregate(m, readings, mid, end))
    first, second = aggregate(MAX, readings, start, mid), aggregate(MAX, readings, mid, end)
    assert aggregate(MAX, readings, start, end) == {
        g: max(q for q in (first.get(g), second.get(g)) if q is not None)
        for g in first.keys() | second.keys()
    }
    first, second = aggregate(LATEST, readings, start, mid), aggregate(LATEST, readings, mid, end)
    assert aggregate(LATEST, readings, start, end) == first | second
