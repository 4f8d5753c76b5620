"""Properties of apply_coupons and after_invoice, checked with hypothesis.

Lines are drawn in minor units (credits and zero lines included) over two subscriptions and three products;
coupons go through `parse_coupon` like an API body. Each property recomputes what it checks from the
output and the rules, never from the implementation's internals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.discounts import (
    AppliedDiscount,
    Coupon,
    DiscountableLine,
    DiscountType,
    Redemption,
    after_invoice,
    apply_coupons,
    is_active,
    parse_coupon,
)
from kassa.core.money import Money, RoundingMode

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PRODUCTS = ("pro", "sso", "api_calls")
SUBSCRIPTIONS = ("sub_1", "sub_2")
CURRENCIES = {"EUR": 2, "JPY": 0, "KWD": 3}

Held = tuple[Redemption, Coupon]


@st.composite
def lines(draw: st.DrawFn, currency: str) -> list[DiscountableLine]:
    count = draw(st.integers(1, 6))
    keys = draw(
        st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=count, max_size=count, unique=True)
    )
    return [
        DiscountableLine(
            key=key,
            amount=Money.from_minor_units(draw(st.integers(-5_000, 200_000)), currency),
            products=frozenset(draw(st.sets(st.sampled_from(PRODUCTS), min_size=1))),
            subscription_id=draw(st.sampled_from(SUBSCRIPTIONS)),
        )
        for key in keys
    ]


@st.composite
def held(draw: st.DrawFn, currency: str) -> list[Held]:
    result = []
    for i in range(draw(st.integers(1, 4))):
        body: dict[str, Any] = {"code": f"C{i}", "name": f"coupon {i}", "duration": "forever"}
        if draw(st.booleans()):
            units = draw(st.one_of(st.integers(1, 1_000_000), st.just(1_000_000)))  # 0.0001 % .. 100 %
            body |= {"type": "percent", "percent_off": str(Decimal(units).scaleb(-4))}
        else:
            amount = Money.from_minor_units(draw(st.integers(1, 300_000)), currency)
            body |= {"type": "fixed", "amounts_off": [{"amount": amount.amount_text(), "currency": currency}]}
        if draw(st.booleans()):
            body["applies_to"] = sorted(draw(st.sets(st.sampled_from(PRODUCTS), min_size=1, max_size=2)))
        coupon = parse_coupon("ten_1", f"cou_{i}", body, T0)
        redemption = Redemption(
            tenant_id="ten_1", id=f"red_{i}", coupon_id=coupon.id, customer_id="cus_1",
            subscription_id=draw(st.sampled_from((None, *SUBSCRIPTIONS))),
            created_at=T0 + timedelta(minutes=draw(st.integers(0, 3))),
        )  # fmt: skip
        result.append((redemption, coupon))
    return result


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[DiscountableLine], list[Held], str, RoundingMode]:
    currency = draw(st.sampled_from(sorted(CURRENCIES)))
    return draw(lines(currency)), draw(held(currency)), currency, draw(st.sampled_from(list(RoundingMode)))


def eligible(line: DiscountableLine, redemption: Redemption, coupon: Coupon) -> bool:
    in_scope = redemption.subscription_id in (None, line.subscription_id)
    return (
        line.amount.amount > 0
        and in_scope
        and (not coupon.applies_to or bool(line.products & set(coupon.applies_to)))
    )


def per_line(applied: tuple[AppliedDiscount, ...]) -> dict[str, Money]:
    totals: dict[str, Money] = {}
    for a in applied:
        totals[a.line_key] = totals[a.line_key] + a.amount if a.line_key in totals else a.amount
    return totals


@settings(max_examples=300)
@given(cases())
def test_no_line_goes_below_zero_and_credits_are_untouched(case: Any) -> None:
    """Every row is positive and in the invoice currency; a line's discounts never exceed its amount."""
    items, reds, currency, mode = case
    applied = apply_coupons(items, reds, currency, mode)
    assert all(a.amount.amount > 0 and a.amount.currency == currency and a.amount.is_rounded for a in applied)
    amounts = {line.key: line.amount for line in items}
    for key, off in per_line(applied).items():
        assert amounts[key].amount > 0
        assert off <= amounts[key]


@settings(max_examples=300)
@given(cases())
def test_discounts_only_on_eligible_lines_of_active_redemptions(case: Any) -> None:
    """A row names an active redemption, its coupon, and a line in its subscription and products."""
    items, reds, currency, mode = case
    by_key = {line.key: line for line in items}
    by_id = {r.id: (r, c) for r, c in reds}
    for a in apply_coupons(items, reds, currency, mode):
        redemption, coupon = by_id[a.redemption_id]
        assert a.coupon_id == coupon.id and is_active(redemption, coupon)
        assert eligible(by_key[a.line_key], redemption, coupon)


@settings(max_examples=300)
@given(cases())
def test_each_coupon_takes_its_share_of_what_the_earlier_ones_left(case: Any) -> None:
    """Replaying the redemption order: a fixed coupon takes min(amount_off, eligible remaining) in total,
    a percent coupon round(remaining × p / 100) on each eligible line, and rows come in that order."""
    items, reds, currency, mode = case
    applied = apply_coupons(items, reds, currency, mode)
    rows: dict[str, list[AppliedDiscount]] = defaultdict(list)
    for a in applied:
        rows[a.redemption_id].append(a)
    remaining = {line.key: line.amount for line in items}
    order = sorted(reds, key=lambda rc: (rc[0].created_at, rc[0].id))
    assert [a.redemption_id for a in applied] == [r.id for r, _ in order for _ in rows[r.id]]
    zero = Money.zero(currency)
    for redemption, coupon in order:
        targets = [
            line for line in items if eligible(line, redemption, coupon) and remaining[line.key].amount > 0
        ]
        took = {a.line_key: a.amount for a in rows[redemption.id]}
        if coupon.type is DiscountType.FIXED:
            available = sum((remaining[line.key] for line in targets), zero)
            amount_off = coupon.amount_off(currency)
            assert amount_off is not None
            assert sum(took.values(), zero) == min(amount_off, available)
        else:
            assert coupon.percent_off is not None
            for line in targets:
                expected = Money.rounded(
                    remaining[line.key].amount * coupon.percent_off / 100, currency, mode
                )
                assert took.get(line.key, zero) == expected
        for key, amount in took.items():
            remaining[key] -= amount


@settings(max_examples=200)
@given(cases(), st.randoms(use_true_random=False))
def test_the_order_lines_and_redemptions_are_listed_in_changes_nothing(case: Any, rnd: Any) -> None:
    """Shuffled lines and redemptions give the same rows: totals and every line's share, ties included."""
    items, reds, currency, mode = case
    before = apply_coupons(items, reds, currency, mode)
    shuffled_items, shuffled_reds = list(items), list(reds)
    rnd.shuffle(shuffled_items)
    rnd.shuffle(shuffled_reds)
    after = apply_coupons(shuffled_items, shuffled_reds, currency, mode)
    assert sum((a.amount for a in after), Money.zero(currency)) == sum(
        (a.amount for a in before), Money.zero(currency)
    )
    assert after == before


@given(
    st.sampled_from(["once", "repeating", "forever"]),
    st.integers(1, 120),
    st.lists(st.booleans(), max_size=150),
)
def test_a_redemption_lasts_exactly_its_number_of_discounted_invoices(
    duration: str, periods: int, invoices: list[bool]
) -> None:
    """Through any run of invoices, periods_applied counts the discounted ones up to the duration's limit;
    the redemption ends on the invoice that reaches it, and stays ended."""
    body: dict[str, Any] = {
        "code": "D",
        "name": "d",
        "type": "percent",
        "percent_off": "10",
        "duration": duration,
    }
    if duration == "repeating":
        body["duration_periods"] = periods
    coupon = parse_coupon("ten_1", "cou_d", body, T0)
    limit = {"once": 1, "repeating": periods, "forever": None}[duration]
    redemption = Redemption(
        tenant_id="ten_1", id="red_d", coupon_id="cou_d", customer_id="cus_1", created_at=T0
    )
    ended_on = None
    for n, applied in enumerate(invoices, 1):
        redemption = after_invoice(redemption, coupon, applied, T0 + timedelta(days=n))
        if ended_on is None and redemption.ended_at is not None:
            ended_on = n
    counted = sum(invoices) if limit is None else min(sum(invoices), limit)
    assert redemption.periods_applied == counted
    assert is_active(redemption, coupon) == (limit is None or counted < limit)
    if limit is not None and counted == limit:
        reached = [n for n, applied in enumerate(invoices, 1) if applied][limit - 1]
        assert ended_on == reached and redemption.ended_at == T0 + timedelta(days=reached)
    else:
        assert redemption.ended_at is None
