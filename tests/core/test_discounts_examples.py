"""Worked examples of coupons and discounts, hand-computed first.

The rules (kassa/core/discounts.py, docs/coupons.md): active redemptions apply in redemption order
(created_at, id), each on what the earlier ones left. A percent coupon takes round(remaining × p / 100)
per line, rounded once with the invoice's mode. A fixed coupon takes min(amount_off, what its eligible
lines still hold), spread over them in proportion to what remains with Money.allocate (largest remainder,
ties to the smaller line key). No line goes below zero; lines <= 0 (credits) are never touched. A
subscription redemption touches only that subscription's lines; `applies_to` keeps the lines whose
products intersect it. Every coupon goes through the parsing path (`parse_coupon` on an API-shaped body).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kassa.core.discounts import (
    AppliedDiscount,
    Coupon,
    DiscountableLine,
    DiscountType,
    Duration,
    PromotionCode,
    Redemption,
    after_invoice,
    apply_coupons,
    check_redeemable,
    is_active,
    parse_coupon,
    parse_promotion_code,
    promotion_code_key,
    redeem,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HALF_UP = RoundingMode.HALF_UP


def coupon(coupon_id: str, **fields: Any) -> Coupon:
    body: dict[str, Any] = {"code": coupon_id.upper(), "name": coupon_id, "duration": "forever"}
    body.update(fields)
    return parse_coupon("ten_1", coupon_id, body, T0)


def percent(coupon_id: str, value: str, **fields: Any) -> Coupon:
    return coupon(coupon_id, type="percent", percent_off=value, **fields)


def fixed(coupon_id: str, amount: str, currency: str = "EUR", **fields: Any) -> Coupon:
    return coupon(coupon_id, type="fixed", amounts_off=[{"amount": amount, "currency": currency}], **fields)


def held(
    c: Coupon, minute: int = 0, subscription_id: str | None = None, **fields: Any
) -> tuple[Redemption, Coupon]:
    redemption = Redemption(
        tenant_id="ten_1", id=f"red_{c.id}", coupon_id=c.id, customer_id="cus_1",
        subscription_id=subscription_id, created_at=T0 + timedelta(minutes=minute), **fields,
    )  # fmt: skip
    return redemption, c


def line(
    key: str, amount: str, *products: str, sub: str | None = "sub_1", cur: str = "EUR"
) -> DiscountableLine:
    return DiscountableLine(
        key=key, amount=Money(Decimal(amount), cur), products=frozenset(products), subscription_id=sub
    )


def taken(applied: tuple[AppliedDiscount, ...]) -> list[tuple[str, str, str]]:
    """(coupon, line, amount) in the order apply_coupons returns them."""
    return [(a.coupon_id, a.line_key, a.amount.amount_text()) for a in applied]


PLAN = line("plan", "100.00", "pro")
SSO = line("sso", "30.00", "sso")
CALLS = line("calls", "12.25", "pro", "api_calls")


# ---- percent ---------------------------------------------------------------------------------------------


def test_percent_on_every_line_rounds_once_per_line_with_the_mode() -> None:
    """10% of 100.00, 30.00 and 12.25: 10.00, 3.00 and 1.225 → 1.23 half-up but 1.22 half-even."""
    ten = [held(percent("ten", "10"))]
    assert taken(apply_coupons([PLAN, SSO, CALLS], ten, "EUR", HALF_UP)) == [
        ("ten", "calls", "1.23"), ("ten", "plan", "10.00"), ("ten", "sso", "3.00"),
    ]  # fmt: skip
    even = apply_coupons([PLAN, SSO, CALLS], ten, "EUR", RoundingMode.HALF_EVEN)
    assert taken(even)[0] == ("ten", "calls", "1.22")


def test_percent_on_named_products_only() -> None:
    """25% applies_to sso: only the add-on line, 30.00 × 25% = 7.50; the plan and usage lines keep theirs."""
    sso = [held(percent("sso25", "25", applies_to=["sso"]))]
    assert taken(apply_coupons([PLAN, SSO, CALLS], sso, "EUR", HALF_UP)) == [("sso25", "sso", "7.50")]


def test_applies_to_matches_any_of_a_lines_products() -> None:
    """applies_to pro reaches the plan line and the usage line billed under pro: 20% of 100.00 and 12.25."""
    pro = [held(percent("pro20", "20", applies_to=["pro"]))]
    assert taken(apply_coupons([PLAN, SSO, CALLS], pro, "EUR", HALF_UP)) == [
        ("pro20", "calls", "2.45"), ("pro20", "plan", "20.00"),
    ]  # fmt: skip


def test_percent_with_four_decimals() -> None:
    """33.3333% of 99.99 = 33.32996667 → 33.33 (percent_off keeps up to 4 decimals)."""
    third = [held(percent("third", "33.3333"))]
    assert taken(apply_coupons([line("a", "99.99")], third, "EUR", HALF_UP)) == [("third", "a", "33.33")]


# ---- fixed -----------------------------------------------------------------------------------------------


def test_fixed_spread_by_what_remains_with_the_remainder_cent_to_the_largest_remainder() -> None:
    """1.00 over 10.00 / 20.00 / 40.00: shares 14.29, 28.57, 57.14 cents → 14, 28, 57 (99); the last
    cent goes to b (remainder .57, the largest), not to the largest line c. Lines given out of order."""
    lines = [line("c", "40.00"), line("a", "10.00"), line("b", "20.00")]
    got = apply_coupons(lines, [held(fixed("one", "1.00"))], "EUR", HALF_UP)
    assert taken(got) == [("one", "a", "0.14"), ("one", "b", "0.29"), ("one", "c", "0.57")]


def test_fixed_tie_for_the_remainder_cent_goes_to_the_smaller_key() -> None:
    """1.00 over three lines of 10.00: 33⅓ cents each, the one left cent to key "a" whatever the order."""
    lines = [line("c", "10.00"), line("b", "10.00"), line("a", "10.00")]
    got = apply_coupons(lines, [held(fixed("one", "1.00"))], "EUR", HALF_UP)
    assert taken(got) == [("one", "a", "0.34"), ("one", "b", "0.33"), ("one", "c", "0.33")]


def test_fixed_larger_than_its_lines_stops_at_zero_and_is_not_carried_over() -> None:
    """50.00 off applies_to pro (100.00 is not pro here): the lines hold 12.25 + 7.10 = 19.35, so each
    goes to zero and 30.65 is lost; a later percent coupon finds nothing left on those lines."""
    lines = [line("calls", "12.25", "pro"), line("seats", "7.10", "pro"), line("other", "100.00", "x")]
    reds = [
        held(fixed("big", "50.00", applies_to=["pro"])),
        held(percent("pct", "10", applies_to=["pro"]), 1),
    ]
    assert taken(apply_coupons(lines, reds, "EUR", HALF_UP)) == [
        ("big", "calls", "12.25"), ("big", "seats", "7.10"),
    ]  # fmt: skip


def test_fixed_coupon_in_jpy_has_no_minor_unit() -> None:
    """500 JPY over 1000 and 2000 JPY: shares 166.67 and 333.33 → 166 + 333, the left yen to the first
    (remainder .67): 167 and 333. A 15% coupon after it: 833 × 15% = 124.95 → 125, 1667 × 15% = 250.05 → 250."""
    lines = [line("a", "1000", cur="JPY"), line("b", "2000", cur="JPY")]
    reds = [held(fixed("yen", "500", "JPY")), held(percent("pct", "15"), 1)]
    assert taken(apply_coupons(lines, reds, "JPY", HALF_UP)) == [
        ("yen", "a", "167"), ("yen", "b", "333"), ("pct", "a", "125"), ("pct", "b", "250"),
    ]  # fmt: skip
    with pytest.raises(DomainError) as error:
        fixed("yen", "500.5", "JPY")
    assert (error.value.code, error.value.field) == ("too_many_decimals", "amounts_off.0.amount")


def test_fixed_coupon_without_the_invoice_currency_takes_nothing() -> None:
    """A coupon worth 5.00 USD on a EUR invoice: no row (check_redeemable refuses it at redemption)."""
    assert apply_coupons([PLAN], [held(fixed("usd", "5.00", "USD"))], "EUR", HALF_UP) == ()


# ---- stacking, scope, credits ----------------------------------------------------------------------------


def test_stacked_coupons_in_redemption_order_give_different_totals() -> None:
    """On 100.00: 20% then 10.00 off takes 20.00 + 10.00 = 30.00 (70.00 left); 10.00 off then 20% takes
    10.00 + 18.00 = 28.00 (72.00 left). The order is created_at, whatever the input order."""
    pct, off = percent("pct", "20"), fixed("off", "10.00")
    first = apply_coupons([PLAN], [held(off, 5), held(pct, 1)], "EUR", HALF_UP)
    assert taken(first) == [("pct", "plan", "20.00"), ("off", "plan", "10.00")]
    assert sum(a.amount for a in first) == Money(Decimal("30.00"), "EUR")
    second = apply_coupons([PLAN], [held(pct, 5), held(off, 1)], "EUR", HALF_UP)
    assert taken(second) == [("off", "plan", "10.00"), ("pct", "plan", "18.00")]
    assert sum(a.amount for a in second) == Money(Decimal("28.00"), "EUR")


def test_same_instant_redemptions_go_in_id_order() -> None:
    """Both redeemed at T0: red_a (10.00 off) before red_b (50%): 10.00, then 45.00 of the 90.00 left."""
    a, b = held(fixed("a", "10.00")), held(percent("b", "50"))
    assert (a[0].id, b[0].id, a[0].created_at) == ("red_a", "red_b", b[0].created_at)
    assert taken(apply_coupons([PLAN], [b, a], "EUR", HALF_UP)) == [
        ("a", "plan", "10.00"),
        ("b", "plan", "45.00"),
    ]


def test_a_hundred_percent_coupon_leaves_nothing_and_zero_rows_are_omitted() -> None:
    """100% takes all 30.00; a later 5.00 off has no remaining amount: no row for it."""
    reds = [held(percent("all", "100")), held(fixed("off", "5.00"), 1)]
    assert taken(apply_coupons([SSO], reds, "EUR", HALF_UP)) == [("all", "sso", "30.00")]


def test_a_subscription_coupon_does_not_touch_another_subscriptions_lines() -> None:
    """sub_1's 50% takes 50.00 of its 100.00 and nothing of sub_2's 40.00; the customer's 10% takes 10% of
    what is left on both (5.00 and 4.00)."""
    lines = [line("one", "100.00", "pro", sub="sub_1"), line("two", "40.00", "pro", sub="sub_2")]
    reds = [held(percent("half", "50"), 0, "sub_1"), held(percent("ten", "10"), 1)]
    assert taken(apply_coupons(lines, reds, "EUR", HALF_UP)) == [
        ("half", "one", "50.00"), ("ten", "one", "5.00"), ("ten", "two", "4.00"),
    ]  # fmt: skip


def test_credit_lines_are_never_discounted_nor_netted() -> None:
    """A −20.00 credit and a zero line beside a 30.00 line: 10% takes 3.00 of the 30.00 only; 10.00 off
    then goes whole to what is left of it (27.00), not spread onto the credit."""
    lines = [line("credit", "-20.00"), line("free", "0.00"), SSO]
    reds = [held(percent("ten", "10")), held(fixed("off", "10.00"), 1)]
    assert taken(apply_coupons(lines, reds, "EUR", HALF_UP)) == [
        ("ten", "sso", "3.00"),
        ("off", "sso", "10.00"),
    ]


def test_only_active_redemptions_apply() -> None:
    """An ended redemption and a once coupon that has already discounted an invoice take nothing."""
    ended = held(percent("gone", "50"), ended_at=T0)
    used = held(percent("once", "50", duration="once"), periods_applied=1)
    assert apply_coupons([PLAN], [ended, used], "EUR", HALF_UP) == ()


def test_lines_in_another_currency_are_refused() -> None:
    """A USD line on a EUR invoice is a caller error, not something to discount."""
    with pytest.raises(DomainError) as error:
        apply_coupons([line("x", "1.00", cur="USD")], [], "EUR", HALF_UP)
    assert error.value.code == "currency_mismatch"


# ---- durations -------------------------------------------------------------------------------------------


def test_once_ends_after_the_first_invoice_it_discounted() -> None:
    """An invoice where it discounted nothing does not count; the first one that did ends it."""
    red, c = held(percent("once", "10", duration="once"))
    at = T0 + timedelta(days=31)
    assert after_invoice(red, c, False, at) == red
    done = after_invoice(red, c, True, at)
    assert (done.periods_applied, done.ended_at, is_active(done, c)) == (1, at, False)


def test_repeating_three_ends_after_three_discounted_invoices() -> None:
    """Invoices 1, 2 discounted; 3 not (nothing eligible); 4 discounted → ended at invoice 4."""
    red, c = held(percent("rep", "10", duration="repeating", duration_periods=3))
    steps = [True, True, False, True]
    seen = []
    for month, applied in enumerate(steps, 1):
        red = after_invoice(red, c, applied, T0 + timedelta(days=31 * month))
        seen.append((red.periods_applied, is_active(red, c)))
    assert seen == [(1, True), (2, True), (2, True), (3, False)]
    assert red.ended_at == T0 + timedelta(days=124)
    assert after_invoice(red, c, True, T0 + timedelta(days=200)) == red  # an ended redemption stays as it is


def test_forever_never_ends_by_itself() -> None:
    """Forty discounted invoices later a forever coupon is still active; ended_at stays None."""
    red, c = held(percent("always", "10"))
    for month in range(40):
        red = after_invoice(red, c, True, T0 + timedelta(days=31 * month))
    assert (red.periods_applied, red.ended_at, is_active(red, c)) == (40, None, True)


def test_is_active() -> None:
    """Active: not ended and periods left. Ended by hand (a removed coupon) is inactive even when forever."""
    red, c = held(percent("rep", "10", duration="repeating", duration_periods=2))
    assert is_active(red, c) and is_active(replace(red, periods_applied=1), c)
    assert not is_active(replace(red, periods_applied=2), c)
    forever = percent("f", "10")
    assert not is_active(replace(red, coupon_id="f", ended_at=T0), forever)


# ---- redeeming -------------------------------------------------------------------------------------------


def promotion(c: Coupon, **fields: Any) -> PromotionCode:
    return parse_promotion_code("ten_1", "promo_1", {"code": "summer-25", "coupon_id": c.id, **fields}, T0)


AT = T0 + timedelta(days=10)


@pytest.mark.parametrize(
    ("change_coupon", "promotion_fields", "currency", "code", "field"),
    [
        ({"archived_at": T0}, None, "EUR", "coupon_archived", "coupon"),
        ({"redeem_by": AT}, None, "EUR", "coupon_expired", "coupon"),  # the instant itself is too late
        ({"max_redemptions": 3, "times_redeemed": 3}, None, "EUR", "coupon_exhausted", "coupon"),
        ({}, {"active": False}, "EUR", "promotion_code_inactive", "promotion_code"),
        ({}, {"expires_at": "2026-01-05T00:00:00Z"}, "EUR", "promotion_code_expired", "promotion_code"),
        ({}, {"expires_at": AT.isoformat()}, "EUR", "promotion_code_expired", "promotion_code"),
        (
            {},
            {"max_redemptions": 1, "times_redeemed": 1},
            "EUR",
            "promotion_code_exhausted",
            "promotion_code",
        ),
        ({}, None, "USD", "coupon_currency_mismatch", "currency"),
    ],
)
def test_check_redeemable_errors(
    change_coupon: dict[str, Any],
    promotion_fields: dict[str, Any] | None,
    currency: str,
    code: str,
    field: str,
) -> None:
    """Each reason a coupon (or the promotion code for it) cannot be redeemed on AT has its own code."""
    c = replace(fixed("off", "5.00"), **change_coupon)
    promo = None
    if promotion_fields is not None:
        counter = promotion_fields.pop("times_redeemed", 0)
        promo = replace(promotion(c, **promotion_fields), times_redeemed=counter)
    with pytest.raises(DomainError) as error:
        check_redeemable(c, promo, currency, AT)
    assert (error.value.code, error.value.field) == (code, field)


def test_redeemable_just_inside_the_limits() -> None:
    """A second before redeem_by, one redemption left on coupon and code, a percent coupon in any currency."""
    c = replace(fixed("off", "5.00", redeem_by="2026-01-11T00:00:01Z", max_redemptions=3), times_redeemed=2)
    promo = promotion(c, max_redemptions=5, expires_at="2026-01-11T00:00:01Z")
    check_redeemable(c, promo, "EUR", AT)
    check_redeemable(percent("pct", "10"), None, "CHF", AT)


def test_redeem_counts_on_coupon_and_promotion_code() -> None:
    """redeem checks, then returns the redemption and both counters one higher."""
    c = fixed("off", "5.00")
    red, c2, promo2 = redeem(c, promotion(c), redemption_id="red_9", customer_id="cus_1",
                             subscription_id="sub_1", currency="EUR", at=AT)  # fmt: skip
    assert (red.coupon_id, red.subscription_id, red.promotion_code_id, red.created_at) == (
        "off",
        "sub_1",
        "promo_1",
        AT,
    )
    assert (c2.times_redeemed, promo2 and promo2.times_redeemed) == (1, 1)


def test_promotion_codes_are_stored_upper_case_and_matched_case_insensitively() -> None:
    """'summer-25' is stored as SUMMER-25; what a customer types is looked up by the same key."""
    assert promotion(fixed("off", "5.00")).code == "SUMMER-25"
    assert promotion_code_key(" Summer-25 ") == "SUMMER-25"
    assert promotion_code_key("ſummer-25") is None  # "ſ".upper() is "S": no look-alike letters match


# ---- parsing ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"type": "percent", "percent_off": 12.5}, "float_amount", "percent_off"),
        ({"type": "fixed", "amounts_off": [{"amount": 5.0, "currency": "EUR"}]}, "float_amount", "amounts_off.0.amount"),
        ({"type": "fixed", "amounts_off": [{"currency": "EUR"}]}, "required", "amounts_off.0.amount"),
        ({"type": "fixed"}, "required", "amounts_off"),
        ({"type": "fixed", "amounts_off": [{"amount": "0", "currency": "EUR"}]}, "invalid_amount", "amounts_off.0.amount"),
        ({"type": "fixed", "amounts_off": [{"amount": "5", "currency": "EUR"}, {"amount": "6", "currency": "EUR"}]},
         "duplicate_currency", "amounts_off.1.currency"),
        ({"type": "fixed", "amounts_off": [{"amount": "5", "currency": "eur"}]}, "unknown_currency", "amounts_off.0.currency"),
        ({"type": "percent", "percent_off": "100.01"}, "invalid_percent_off", "percent_off"),
        ({"type": "percent", "percent_off": "0"}, "invalid_percent_off", "percent_off"),
        ({"type": "percent", "percent_off": "12.34567"}, "invalid_percent_off", "percent_off"),
        ({"type": "percent", "percent_off": "10", "amounts_off": []}, "field_not_allowed", "amounts_off"),
        ({"type": "percent", "percent_off": "10", "duration": "repeating"}, "required", "duration_periods"),
        ({"type": "percent", "percent_off": "10", "duration": "repeating", "duration_periods": 121},
         "invalid_duration_periods", "duration_periods"),
        ({"type": "percent", "percent_off": "10", "duration_periods": 3}, "field_not_allowed", "duration_periods"),
        ({"type": "percent", "percent_off": "10", "code": "no spaces"}, "invalid_coupon_code", "code"),
        ({"type": "percent", "percent_off": "10", "applies_to": ["Pro"]}, "invalid_product_code", "applies_to.0"),
        ({"type": "percent", "percent_off": "10", "redeem_by": "2026-01-01T00:00:00Z"}, "redeem_by_in_past", "redeem_by"),
        ({"type": "percent", "percent_off": "10", "redeem_by": "2026-02-01"}, "invalid_timestamp", "redeem_by"),
        ({"type": "percent", "percent_off": "10", "max_redemptions": 0}, "invalid_max_redemptions", "max_redemptions"),
        ({"type": "percent", "percent_off": "10", "times_redeemed": 4}, "unknown_field", "times_redeemed"),
        ({"type": "bogus"}, "invalid_discount_type", "type"),
    ],
)  # fmt: skip
def test_parse_coupon_errors(fields: dict[str, Any], code: str, field: str) -> None:
    """Each bad body gets a stable code and the path of the field at fault."""
    with pytest.raises(DomainError) as error:
        coupon("bad", **fields)
    assert (error.value.code, error.value.field) == (code, field)


def test_parse_coupon_reads_ints_and_strings_and_round_trips_through_to_json() -> None:
    """Amounts as ints or strings; "5" EUR is stored as 5.00; to_json minus ids/counters parses back equal."""
    c = coupon(
        "rt", type="fixed", amounts_off=[{"amount": 5, "currency": "EUR"}, {"amount": "700", "currency": "JPY"}],
        duration="repeating", duration_periods=3, applies_to=["pro", "api_calls", "pro"],
        max_redemptions=100, redeem_by="2026-03-01T00:00:00+01:00", metadata={"campaign": "spring"},
    )  # fmt: skip
    body = c.to_json()
    assert body["amounts_off"] == [
        {"amount": "5.00", "currency": "EUR"},
        {"amount": "700", "currency": "JPY"},
    ]
    assert (body["applies_to"], body["redeem_by"], body["type"]) == (
        ["pro", "api_calls"], "2026-02-28T23:00:00+00:00", "fixed",
    )  # fmt: skip
    for key in ("id", "times_redeemed", "created_at", "archived_at"):
        del body[key]
    assert parse_coupon("ten_1", "rt", body, T0) == c
    pct = percent("p", "12.50")
    assert pct.to_json()["percent_off"] == "12.5" and pct.type is DiscountType.PERCENT
    assert pct.duration is Duration.FOREVER and pct.amounts_off == {}
