"""Prepaid wallets (issue 9): credits bought or granted in lots, drawn soonest-expiring first (free before
paid on the same expiry, then oldest), expired lots leave the balance, the auto top-up rule and low-balance
alerts. Worked examples with exact amounts, then invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.wallets import (
    AutoTopUp,
    CreditKind,
    Lot,
    auto_top_up,
    auto_top_up_from_doc,
    balance,
    crossed,
    draw,
    expired,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
DAY = timedelta(days=1)


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def lot(id: str, kind: CreditKind, amount: str, *, granted: datetime = T0, expires: datetime | None = None,
        remaining: str | None = None) -> Lot:  # fmt: skip
    return Lot(id=id, kind=kind, amount=eur(amount), remaining=eur(remaining or amount), granted_at=granted,
               expires_at=expires)  # fmt: skip


PAID, FREE = CreditKind.PAID, CreditKind.FREE


def test_the_balance_counts_live_lots_paid_and_free_apart() -> None:
    """50.00 bought, 10.00 granted until 31 March, 5.00 granted that expired on 1 March 10:00: on 15 March
    the balance is 60.00, 50.00 of it paid and 10.00 free."""
    lots = [lot("a", PAID, "50.00"), lot("b", FREE, "10.00", expires=datetime(2026, 3, 31, tzinfo=UTC)),
            lot("c", FREE, "5.00", expires=T0 + timedelta(hours=1))]  # fmt: skip
    b = balance(lots, "EUR", T0 + 14 * DAY)
    assert (b.total, b.paid, b.free) == (eur("60.00"), eur("50.00"), eur("10.00"))
    assert balance(lots, "EUR", T0).total == eur("65.00")  # before c expires


def test_a_draw_takes_the_soonest_expiring_first_free_before_paid_then_oldest() -> None:
    """Lots: paid 30.00 (no expiry, 1 March), free 10.00 expiring 31 March, paid 20.00 expiring 31 March
    (bought 2 March), paid 25.00 (no expiry, 3 March). A draw of 45.00 on 10 March takes the free 10.00 and
    the paid 20.00 (both expire first; free first on the same day), then 15.00 of the oldest lot without an
    expiry, and leaves 15.00 of p1 and 25.00 of p3: 40.00."""
    end = datetime(2026, 3, 31, tzinfo=UTC)
    lots = [
        lot("p1", PAID, "30.00"),
        lot("f1", FREE, "10.00", expires=end),
        lot("p2", PAID, "20.00", granted=T0 + DAY, expires=end),
        lot("p3", PAID, "25.00", granted=T0 + 2 * DAY),
    ]
    taken = draw(lots, eur("45.00"), T0 + 9 * DAY)
    assert [(d.lot_id, d.kind, d.amount) for d in taken.draws] == [
        ("f1", FREE, eur("10.00")), ("p2", PAID, eur("20.00")), ("p1", PAID, eur("15.00"))]  # fmt: skip
    assert taken.short == eur("0.00")
    assert (taken.paid, taken.free) == (eur("35.00"), eur("10.00"))
    assert balance(taken.lots, "EUR", T0 + 9 * DAY).total == eur("40.00")


def test_a_draw_beyond_the_balance_takes_everything_and_says_what_is_short() -> None:
    """12.00 of credits and an invoice of 20.00: 12.00 drawn, 8.00 short (left for the payment method)."""
    taken = draw([lot("a", PAID, "12.00")], eur("20.00"), T0)
    assert ([d.amount for d in taken.draws], taken.short) == ([eur("12.00")], eur("8.00"))
    assert taken.lots[0].remaining == eur("0.00")


def test_expired_lots_are_not_drawn_and_are_reported_once() -> None:
    """A free 5.00 lot expiring at 1 March 10:00 is not drawn at 11:00; `expired` names it with its 5.00
    left; a lot used up before it expires has nothing to expire."""
    lots = [
        lot("old", FREE, "5.00", expires=T0 + timedelta(hours=1)),
        lot("gone", FREE, "3.00", expires=T0 + timedelta(hours=1), remaining="0.00"),
        lot("a", PAID, "8.00"),
    ]
    taken = draw(lots, eur("6.00"), T0 + timedelta(hours=2))
    assert [(d.lot_id, d.amount) for d in taken.draws] == [("a", eur("6.00"))]
    assert [(e.lot_id, e.amount) for e in expired(lots, T0 + timedelta(hours=2))] == [("old", eur("5.00"))]
    assert expired(lots, T0) == []


def test_the_auto_top_up_buys_when_the_balance_falls_below_its_threshold() -> None:
    """Rule: below 20.00, buy 50.00. At 25.00 nothing; at 19.99 buy 50.00; with a top-up already pending,
    nothing more."""
    rule = auto_top_up_from_doc({"threshold": "20.00", "amount": "50.00"}, "EUR")
    assert rule == AutoTopUp(threshold=eur("20.00"), amount=eur("50.00"))
    assert auto_top_up(rule, eur("25.00"), pending=False) is None
    assert auto_top_up(rule, eur("19.99"), pending=False) == eur("50.00")
    assert auto_top_up(rule, eur("19.99"), pending=True) is None
    assert auto_top_up(None, eur("0.00"), pending=False) is None


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"threshold": "20.00"}, "amount"),
        ({"threshold": "-1.00", "amount": "50.00"}, "threshold"),
        ({"threshold": "20.00", "amount": "0.00"}, "amount"),
        ({"threshold": "20.001", "amount": "50.00"}, "threshold"),
        ({"threshold": 20.0, "amount": "50.00"}, "threshold"),
        ({"threshold": "20.00", "amount": "50.00", "every": "day"}, "every"),
    ],
)
def test_a_wrong_auto_top_up_rule_is_refused_with_its_field(doc: dict[str, object], field: str) -> None:
    with pytest.raises(DomainError) as refused:
        auto_top_up_from_doc(doc, "EUR")
    assert (refused.value.code, refused.value.field) == ("invalid_auto_top_up", field)


def test_low_balance_alerts_fire_for_each_threshold_crossed_downwards() -> None:
    """Thresholds 50.00, 20.00 and 5.00: from 60.00 to 15.00 crosses 50.00 and 20.00 (highest first); from
    15.00 to 18.00 (a top-up) none; from 21.00 to 20.00 none (reaching a threshold is not falling below it),
    so from 20.00 to 4.99 both 20.00 and 5.00."""
    th = [eur("5.00"), eur("50.00"), eur("20.00")]
    assert crossed(th, eur("60.00"), eur("15.00")) == [eur("50.00"), eur("20.00")]
    assert crossed(th, eur("15.00"), eur("18.00")) == []
    assert crossed(th, eur("21.00"), eur("20.00")) == []
    assert crossed(th, eur("20.00"), eur("4.99")) == [eur("20.00"), eur("5.00")]


def test_lots_in_another_currency_are_refused() -> None:
    with pytest.raises(DomainError) as refused:
        draw([lot("a", PAID, "5.00")], Money(Decimal("1.00"), "USD"), T0)
    assert refused.value.code == "currency_mismatch"


# ---- invariants ----------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=50_000)


@st.composite
def wallets(draw_: st.DrawFn) -> list[Lot]:
    n = draw_(st.integers(0, 6))
    out = []
    for i in range(n):
        amount = draw_(st.integers(1, 20_000))
        left = draw_(st.integers(0, amount))
        expires = draw_(st.one_of(st.none(), st.integers(-5, 30)))
        out.append(Lot(id=f"l{i}", kind=draw_(st.sampled_from([PAID, FREE])), amount=Money.from_minor_units(amount, "EUR"),
                       remaining=Money.from_minor_units(left, "EUR"), granted_at=T0 + draw_(st.integers(0, 5)) * DAY,
                       expires_at=None if expires is None else T0 + expires * DAY))  # fmt: skip
    return out


@settings(deadline=None)
@given(wallets(), cents, st.integers(0, 10))
def test_a_draw_loses_nothing_and_never_overdraws(lots: list[Lot], minor: int, day: int) -> None:
    at = T0 + day * DAY
    want = Money.from_minor_units(minor, "EUR")
    before = balance(lots, "EUR", at).total
    taken = draw(lots, want, at)
    drawn = sum((d.amount for d in taken.draws), eur("0"))
    assert drawn + taken.short == want
    assert drawn == min(want, before)
    assert taken.paid + taken.free == drawn
    assert balance(taken.lots, "EUR", at).total == before - drawn
    assert all(x.remaining.amount >= 0 and x.remaining <= x.amount for x in taken.lots)
    assert {d.lot_id for d in taken.draws} <= {
        x.id for x in lots if x.expires_at is None or x.expires_at > at
    }
