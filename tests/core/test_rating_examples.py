"""Worked examples of rating: what a period's usage costs under each charge model, hand-computed first.

The rules (kassa/core/rating): `up_to` is inclusive and the last tier open; graduated bills each tier's
units at its price plus the flat fee of every tier reached; volume bills every unit at the price of the
tier the period's total reached, plus that tier's flat fee once; package bills each started package after
the free units; percentage bills rate × amount + a fixed fee per transaction, each transaction's fee kept
between the minimum and the maximum, free transactions and free amount consumed in time order; `included`
units are consumed first and the model prices what is left from zero; a tiered charge bills its first
tier's flat fee at zero billable usage unless `flat_fee_at_zero` is false. A price change in the middle of
a period gives one Part per price: each part's units at its own prices, tiers counted over the period.
Amounts are exact; the line is rounded once (half-up) to the currency's minor unit.

Every price goes through the parsing path: a document-shaped dict (prices as strings) → parse_charge /
the model's `parse`. Each case shows its arithmetic in a comment: inputs → expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from kassa.core.catalog import parse_catalog
from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode, currency_code
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

# ---- price documents -----------------------------------------------------------------------------------

# Graduated: 1–100 at 1.00 (+5.00 once reached), 101–1000 at 0.50 (+10.00), 1001+ at 0.10 (+25.00).
# cost(q): q ≤ 100: q + 5; q ≤ 1000: 105 + (q − 100) × 0.50 + 10; beyond: 565 + (q − 1000) × 0.10 + 25.
GRAD = {
    "tiers": [
        {"up_to": "100", "unit": "1.00", "flat": "5.00"},
        {"up_to": "1000", "unit": "0.50", "flat": "10.00"},
        {"up_to": None, "unit": "0.10", "flat": "25.00"},
    ]
}
# The next catalog version: tier 1 at 1.20 (+6.00), tier 2 at 0.60 (+10.00), tier 3 unchanged.
GRAD_NEW = {
    "tiers": [
        {"up_to": "100", "unit": "1.20", "flat": "6.00"},
        {"up_to": "1000", "unit": "0.60", "flat": "10.00"},
        {"up_to": None, "unit": "0.10", "flat": "25.00"},
    ]
}
# Volume: ≤ 100 → every unit 1.00 (+2.00); ≤ 1000 → every unit 0.80 (+5.00); beyond → 0.50 (+20.00).
VOL = {
    "tiers": [
        {"up_to": "100", "unit": "1.00", "flat": "2.00"},
        {"up_to": "1000", "unit": "0.80", "flat": "5.00"},
        {"up_to": None, "unit": "0.50", "flat": "20.00"},
    ]
}
VOL_NEW = {
    "tiers": [
        {"up_to": "100", "unit": "1.00", "flat": "2.00"},
        {"up_to": "1000", "unit": "0.70", "flat": "6.00"},
        {"up_to": None, "unit": "0.50", "flat": "20.00"},
    ]
}
# Package: 5.00 per started 1000 units, after 100 free units.
PACK = {"size": "1000", "price": "5.00", "free_units": "100"}
PACK_NEW = {"size": 1000, "price": "6.00", "free_units": "100"}  # size as a JSON integer
# Graduated percentage: 3 % of the first 10,000, 2 % beyond (+0.50 once reached).
GP = {"tiers": [{"up_to": "10000", "rate": "3"}, {"up_to": None, "rate": "2", "flat": "0.50"}]}
GP_FLAT = {
    "tiers": [{"up_to": "10000", "rate": "3", "flat": "1.00"}, {"up_to": None, "rate": "2", "flat": "0.50"}]
}
GP_NEW = {"tiers": [{"up_to": "10000", "rate": "4"}, {"up_to": None, "rate": "2.5", "flat": "0.50"}]}
# Kuwaiti dinar (3 decimals): 1–10 at 0.0125, 11+ at 0.010 (+0.100 once reached).
KWD_TIERS = {"tiers": [{"up_to": "10", "unit": "0.0125"}, {"up_to": None, "unit": "0.010", "flat": "0.100"}]}


def unit(price: str) -> dict[str, Any]:
    return {"unit": price}


def pct(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items()}


# ---- the table -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    model: str
    prices: tuple[dict[str, Any], ...]  # one per part, in time order; a single one prices every part
    quantities: tuple[str, ...]  # one per part
    amount: str  # exact
    tier: int | None  # 1-based tier the period reached (tiered models)
    billable: str | None = None  # the period's units after `included`; default: all of them
    included: str = "0"
    at_zero: bool = True
    transactions: tuple[tuple[str, ...], ...] = ()  # percentage: each part's transactions
    currency: str = "EUR"
    rounded: str | None = None  # the line rounded half-up, when the exact amount has more decimals


def C(
    case_id: str, model: str, prices: Any, quantities: Any, amount: str, tier: int | None, **kw: Any
) -> Case:
    prices_t = prices if isinstance(prices, tuple) else (prices,)
    quantities_t = quantities if isinstance(quantities, tuple) else (quantities,)
    return Case(case_id, model, prices_t, quantities_t, amount, tier, **kw)


PU, GR, VO, PK, PC, GPC = "per_unit", "graduated", "volume", "package", "percentage", "graduated_percentage"

# fmt: off
CASES: list[Case] = [
    # ---- per unit
    # 1234 × 0.002 = 2.468 → 2.47
    C("per-unit", PU, unit("0.002"), "1234", "2.468", None, rounded="2.47"),
    # 0 × 0.002 = 0
    C("per-unit-zero", PU, unit("0.002"), "0", "0", None, rounded="0.00"),
    # 100.5 × 0.15 = 15.075 → 15.08 (a half-up tie)
    C("per-unit-fractional-tie", PU, unit("0.15"), "100.5", "15.075", None, rounded="15.08"),
    # 1500 − 1000 included = 500 × 0.01 = 5.00
    C("per-unit-included", PU, unit("0.01"), "1500", "5.00", None, billable="500", included="1000"),
    # 800 ≤ 1000 included → 0
    C("per-unit-within-included", PU, unit("0.01"), "800", "0", None, billable="0", included="1000"),
    # 300 × 0.01 + 200 × 0.02 = 3.00 + 4.00 = 7.00
    C("per-unit-price-change", PU, (unit("0.01"), unit("0.02")), ("300", "200"), "7.00", None),
    # included 400: the first part's 300 are free, 100 of the second's; 100 × 0.02 = 2.00
    C("per-unit-included-spans-change", PU, (unit("0.01"), unit("0.02")), ("300", "200"), "2.00", None,
      billable="100", included="400"),
    # ---- graduated
    # zero usage: tier 1's flat fee 5.00 (flat_fee_at_zero defaults to true)
    C("graduated-zero-flat-at-zero", GR, GRAD, "0", "5.00", 1),
    # zero usage, flat_fee_at_zero false → 0
    C("graduated-zero-no-flat-at-zero", GR, GRAD, "0", "0", 1, at_zero=False),
    # 1 × 1.00 + 5.00 = 6.00
    C("graduated-one-unit", GR, GRAD, "1", "6.00", 1),
    # exactly at up_to (inclusive): 100 × 1.00 + 5.00 = 105.00, still tier 1
    C("graduated-at-first-bound", GR, GRAD, "100", "105.00", 1),
    # one above: 105.00 + 1 × 0.50 + 10.00 = 115.50
    C("graduated-one-above-first-bound", GR, GRAD, "101", "115.50", 2),
    # half a unit above: 105.00 + 0.5 × 0.50 + 10.00 = 115.25
    C("graduated-fractional-above-bound", GR, GRAD, "100.5", "115.25", 2),
    # 105.00 + 900 × 0.50 + 10.00 = 565.00
    C("graduated-at-second-bound", GR, GRAD, "1000", "565.00", 2),
    # 565.00 + 1 × 0.10 + 25.00 = 590.10
    C("graduated-one-above-second-bound", GR, GRAD, "1001", "590.10", 3),
    # 565.00 + 1500 × 0.10 + 25.00 = 740.00
    C("graduated-open-tier", GR, GRAD, "2500", "740.00", 3),
    # 250 − 100 included = 150: 100 × 1.00 + 5.00 + 50 × 0.50 + 10.00 = 140.00
    C("graduated-included", GR, GRAD, "250", "140.00", 2, billable="150", included="100"),
    # all 100 included → billable 0 → tier 1's flat fee at zero, 5.00
    C("graduated-all-included-flat-at-zero", GR, GRAD, "100", "5.00", 1, billable="0", included="100"),
    # all included, flat_fee_at_zero false → 0
    C("graduated-all-included-no-flat", GR, GRAD, "100", "0", 1, billable="0", included="100", at_zero=False),
    # 60 + 41 at the same prices = 101 in one part: 115.50
    C("graduated-split-same-prices", GR, GRAD, ("60", "41"), "115.50", 2),
    # old 80: 80 × 1.00 + 5.00 = 85.00; new units 81–150: 20 × 1.20 + 50 × 0.60 + 10.00 = 64.00 → 149.00
    C("graduated-price-change", GR, (GRAD, GRAD_NEW), ("80", "70"), "149.00", 2),
    # old 100: 105.00; new unit 101: 0.60 + 10.00 = 10.60 → 115.60
    C("graduated-price-change-at-bound", GR, (GRAD, GRAD_NEW), ("100", "1"), "115.60", 2),
    # included 50: old 30 billable: 30 + 5.00 = 35.00; new units 31–100: 70 × 1.20 = 84.00 → 119.00
    C("graduated-price-change-included", GR, (GRAD, GRAD_NEW), ("80", "70"), "119.00", 1,
      billable="100", included="50"),
    # included 100: old 60 all free; new 100 − 40 free = 60: 60 × 1.20 + 6.00 (tier 1 reached now) = 78.00
    C("graduated-included-spans-change", GR, (GRAD, GRAD_NEW), ("60", "100"), "78.00", 1,
      billable="60", included="100"),
    # zero usage across a price change: tier 1's flat fee at the closing prices, 6.00
    C("graduated-zero-across-change", GR, (GRAD, GRAD_NEW), ("0", "0"), "6.00", 1),
    # ---- volume
    # 100 ≤ 100: 100 × 1.00 + 2.00 = 102.00
    C("volume-at-bound", VO, VOL, "100", "102.00", 1),
    # 101 > 100: every unit at 0.80: 80.80 + 5.00 = 85.80
    C("volume-one-above-bound", VO, VOL, "101", "85.80", 2),
    # 1000 × 0.80 + 5.00 = 805.00
    C("volume-at-second-bound", VO, VOL, "1000", "805.00", 2),
    # 1001 × 0.50 + 20.00 = 520.50
    C("volume-open-tier", VO, VOL, "1001", "520.50", 3),
    # 100.5 > 100: 100.5 × 0.80 + 5.00 = 85.40
    C("volume-fractional-above-bound", VO, VOL, "100.5", "85.40", 2),
    # zero: tier 1's flat fee, 2.00
    C("volume-zero-flat-at-zero", VO, VOL, "0", "2.00", 1),
    # zero, flat_fee_at_zero false → 0
    C("volume-zero-no-flat-at-zero", VO, VOL, "0", "0", 1, at_zero=False),
    # 60 + 50 = 110 → tier 2: 110 × 0.80 + 5.00 once = 93.00
    C("volume-split-flat-once", VO, VOL, ("60", "50"), "93.00", 2),
    # 110 → tier 2 at each part's prices: 60 × 0.80 + 50 × 0.70 + 6.00 (closing flat) = 89.00
    C("volume-price-change", VO, (VOL, VOL_NEW), ("60", "50"), "89.00", 2),
    # 250 − 100 included = 150 → tier 2: 150 × 0.80 + 5.00 = 125.00
    C("volume-included", VO, VOL, "250", "125.00", 2, billable="150", included="100"),
    # ---- package
    # 1250 − 100 free = 1150 → 2 started packages × 5.00 = 10.00
    C("package-partial-rounds-up", PK, PACK, "1250", "10.00", None),
    # 100 ≤ 100 free → 0
    C("package-within-free-units", PK, PACK, "100", "0", None),
    # 1100 − 100 = 1000 → exactly 1 package: 5.00
    C("package-exactly-one", PK, PACK, "1100", "5.00", None),
    # 1101 − 100 = 1001 → 2 packages: 10.00
    C("package-one-over", PK, PACK, "1101", "10.00", None),
    # 101 − 100 = 1 → 1 package: 5.00
    C("package-one-billable-unit", PK, PACK, "101", "5.00", None),
    # 100.5 − 100 = 0.5 → 1 package: 5.00
    C("package-fractional", PK, PACK, "100.5", "5.00", None),
    # 1700 − 500 included = 1200; − 100 free = 1100 → 2 packages: 10.00
    C("package-included-and-free-units", PK, PACK, "1700", "10.00", None, billable="1200", included="500"),
    # 600 then 650 at the same prices = 1250 in one part: 10.00
    C("package-split-same-prices", PK, PACK, ("600", "650"), "10.00", None),
    # old 600: 1 package × 5.00; new up to 1250: 2 packages − 1 already started = 1 × 6.00 → 11.00
    C("package-price-change", PK, (PACK, PACK_NEW), ("600", "650"), "11.00", None),
    # ---- percentage (the metric sums the amounts; each transaction rated on its own)
    # 2.9 % of 100.00 + 2.9 % of 50.00 = 2.90 + 1.45 = 4.35
    C("percentage-rate", PC, pct(rate="2.9"), "150.00", "4.35", None, transactions=(("100.00", "50.00"),)),
    # (2.90 + 0.30) + (1.45 + 0.30) = 4.95
    C("percentage-fixed-fee", PC, pct(rate="2.9", fixed_fee="0.30"), "150.00", "4.95", None,
      transactions=(("100.00", "50.00"),)),
    # 1 % of 10.00 = 0.10 → minimum 0.50; 1 % of 100.00 = 1.00 → 1.50
    C("percentage-minimum", PC, pct(rate="1", min_per_transaction="0.50"), "110.00", "1.50", None,
      transactions=(("10.00", "100.00"),)),
    # 2.9 % of 1000.00 = 29.00 → maximum 20.00; 2.9 % of 100.00 = 2.90 → 22.90
    C("percentage-maximum", PC, pct(rate="2.9", max_per_transaction="20.00"), "1100.00", "22.90", None,
      transactions=(("1000.00", "100.00"),)),
    # the first transaction pays no fixed fee: 1.00 + (1.00 + 0.30) = 2.30
    C("percentage-free-transactions", PC, pct(rate="1", fixed_fee="0.30", free_transactions=1), "200", "2.30",
      None, transactions=(("100", "100"),)),
    # free amount 1000: 800 free (owes 0: stays free, no minimum); 500 spans: 300 × 2 % = 6.00; 100 × 2 % = 2.00
    C("percentage-free-amount-spanning", PC, pct(rate="2", min_per_transaction="0.50", free_amount="1000"),
      "1400", "8.00", None, transactions=(("800", "500", "100"),)),
    # free amount 1000 with a fixed fee: 0 + 0.30; 300 × 2 % + 0.30 = 6.30 → 6.60
    C("percentage-free-amount-fixed-fee", PC, pct(rate="2", fixed_fee="0.30", free_amount="1000"), "1300",
      "6.60", None, transactions=(("800", "500"),)),
    # fixed fee waived (free transaction) but 1 % of 10 = 0.10 owed → minimum 0.50
    C("percentage-minimum-after-free-fee", PC,
      pct(rate="1", fixed_fee="0.30", free_transactions=5, min_per_transaction="0.50"), "10", "0.50", None,
      transactions=(("10",),)),
    # only the fixed fee, 0.30 → minimum 0.50
    C("percentage-fixed-fee-below-minimum", PC, pct(rate="0", fixed_fee="0.30", min_per_transaction="0.50"),
      "10", "0.50", None, transactions=(("10",),)),
    # no transactions → 0
    C("percentage-no-transactions", PC, pct(rate="2.9", fixed_fee="0.30"), "0", "0", None, rounded="0.00"),
    # 1.5 % of 1.00 = 0.015 → 0.02 (a half-up tie)
    C("percentage-tie", PC, pct(rate="1.5"), "1.00", "0.015", None, transactions=(("1.00",),), rounded="0.02"),
    # free transactions count over the period: old 1 % of 100 (1st, fee-free) = 1.00; new 2 % of 100 + 0.50 = 2.50
    C("percentage-price-change-counts-transactions", PC,
      (pct(rate="1", fixed_fee="0.30", free_transactions=1), pct(rate="2", fixed_fee="0.50", free_transactions=1)),
      ("100", "100"), "3.50", None, transactions=(("100",), ("100",))),
    # free amount over the period: old 600 all free; new 600 from position 600: 200 over 1000 × 3 % = 6.00
    C("percentage-price-change-free-amount", PC,
      (pct(rate="2", free_amount="1000"), pct(rate="3", free_amount="1000")), ("600", "600"), "6.00", None,
      transactions=(("600",), ("600",))),
    # ---- graduated percentage
    # 3 % of 5000 = 150.00
    C("graduated-percentage-first-tier", GPC, GP, "5000", "150.00", 1),
    # 3 % of 10000 = 300.00, still tier 1
    C("graduated-percentage-at-bound", GPC, GP, "10000", "300.00", 1),
    # 300.00 + 2 % of 2000 = 40.00 + 0.50 = 340.50
    C("graduated-percentage-above-bound", GPC, GP, "12000", "340.50", 2),
    # 300.00 + 2 % of 0.01 = 0.0002 + 0.50 = 300.5002 → 300.50
    C("graduated-percentage-cent-above-bound", GPC, GP, "10000.01", "300.5002", 2, rounded="300.50"),
    # zero: tier 1's flat fee, 1.00
    C("graduated-percentage-zero-flat-at-zero", GPC, GP_FLAT, "0", "1.00", 1),
    # zero, flat_fee_at_zero false → 0
    C("graduated-percentage-zero-no-flat", GPC, GP_FLAT, "0", "0", 1, at_zero=False),
    # old 8000 × 3 % = 240.00; new 8000–12000: 2000 × 4 % = 80.00 + 2000 × 2.5 % = 50.00 + 0.50 → 370.50
    C("graduated-percentage-price-change", GPC, (GP, GP_NEW), ("8000", "4000"), "370.50", 2),
    # 12000 − 2000 included = 10000 → 3 % = 300.00
    C("graduated-percentage-included", GPC, GP, "12000", "300.00", 1, billable="10000", included="2000"),
    # ---- three-decimal currency (KWD), half-up ties
    # 5 × 0.0005 = 0.0025 → 0.003 (half-up; half-even would give 0.002)
    C("kwd-per-unit-tie-up", PU, unit("0.0005"), "5", "0.0025", None, currency="KWD", rounded="0.003"),
    # 3 × 0.0005 = 0.0015 → 0.002
    C("kwd-per-unit-tie", PU, unit("0.0005"), "3", "0.0015", None, currency="KWD", rounded="0.002"),
    # 1 × 0.0125 = 0.0125 → 0.013 (half-up; half-even would give 0.012)
    C("kwd-graduated-tie", GR, KWD_TIERS, "1", "0.0125", 1, currency="KWD", rounded="0.013"),
    # 10 × 0.0125 + 2 × 0.010 + 0.100 = 0.125 + 0.020 + 0.100 = 0.245
    C("kwd-graduated", GR, KWD_TIERS, "12", "0.245", 2, currency="KWD", rounded="0.245"),
    # volume: 12 > 10 → 12 × 0.010 + 0.100 = 0.220
    C("kwd-volume", VO, KWD_TIERS, "12", "0.220", 2, currency="KWD", rounded="0.220"),
    # 0.0125 × 3 = 0.0375 → 0.038
    C("kwd-graduated-three-units", GR, KWD_TIERS, "3", "0.0375", 1, currency="KWD", rounded="0.038"),
]
# fmt: on


def charge_of(case: Case) -> UsageCharge:
    doc = {
        "metric": "m",
        "model": case.model,
        "prices": {case.currency: case.prices[-1]},
        "included": case.included,
        "flat_fee_at_zero": case.at_zero,
    }
    return parse_charge(doc, "charges.0", currency_code)


def parts_of(case: Case) -> list[Part]:
    model = MODELS[ChargeModel(case.model)]
    prices = case.prices if len(case.prices) == len(case.quantities) else case.prices * len(case.quantities)
    assert len(prices) == len(case.quantities)
    moves = case.transactions or ((),) * len(case.quantities)
    return [
        Part(
            quantity=Decimal(q),
            params=model.parse(p, f"prices.{case.currency}"),
            transactions=tuple(Decimal(t) for t in m),
        )
        for q, p, m in zip(case.quantities, prices, moves, strict=True)
    ]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_rate(case: Case) -> None:
    rated = rate(charge_of(case), parts_of(case))
    quantity = sum((Decimal(q) for q in case.quantities), Decimal(0))
    assert rated.quantity == quantity
    assert rated.billable == (Decimal(case.billable) if case.billable is not None else quantity)
    assert rated.amount == Decimal(case.amount)
    assert rated.tier == case.tier
    if case.rounded is not None:
        line = Money.rounded(rated.amount, case.currency, RoundingMode.HALF_UP)
        assert line.amount_text() == case.rounded


def test_enough_cases_with_unique_ids() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.model for c in CASES} == {m.value for m in ChargeModel}


def test_kwd_rounds_to_three_decimals_half_up() -> None:
    assert Money.rounded(Decimal("0.0125"), "KWD", RoundingMode.HALF_UP).amount_text() == "0.013"
    assert Money.rounded(Decimal("0.0125"), "KWD", RoundingMode.HALF_EVEN).amount_text() == "0.012"
    assert Money.rounded(Decimal("0.0125"), "KWD").exponent == 3


# ---- increment: advice of charge -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inc:
    id: str
    model: str
    prices: tuple[dict[str, Any], ...]
    quantities: tuple[str, ...]  # the usage so far, one per part
    units: str  # used now
    expected: str
    transaction: str | None = None
    included: str = "0"
    at_zero: bool = True
    transactions: tuple[tuple[str, ...], ...] = ()


# fmt: off
INCREMENTS: list[Inc] = [
    # 90 used; 20 more = units 91–110: 10 × 1.00 + 10 × 0.50 + tier 2's flat 10.00 = 25.00
    Inc("graduated-crosses-tier", GR, (GRAD,), ("90",), "20", "25.00"),
    # 2000 used; 100 more in the open tier: 100 × 0.10 = 10.00
    Inc("graduated-open-tier", GR, (GRAD,), ("2000",), "100", "10.00"),
    # 0 more units cost nothing
    Inc("graduated-zero-units", GR, (GRAD,), ("90",), "0", "0"),
    # 50 of 100 included used; 10 more still included: billable 0 → 0 (the flat fee at zero is billed already)
    Inc("within-allowance", GR, (GRAD,), ("50",), "10", "0", included="100"),
    # 95 of 100 included used; 10 more: 5 billable × 1.00 = 5.00 (tier 1's flat fee was billed at zero)
    Inc("leaves-allowance", GR, (GRAD,), ("95",), "10", "5.00", included="100"),
    # the same without a flat fee at zero: 5 × 1.00 + 5.00 = 10.00
    Inc("leaves-allowance-no-flat-at-zero", GR, (GRAD,), ("95",), "10", "10.00", included="100", at_zero=False),
    # 80 at old prices, 10 at new; 20 more at new prices = units 91–110: 10 × 1.20 + 10 × 0.60 + 10.00 = 28.00
    Inc("graduated-after-price-change", GR, (GRAD, GRAD_NEW), ("80", "10"), "20", "28.00"),
    # 990 of 1000 included used; 20 more: 10 billable × 0.01 = 0.10
    Inc("per-unit-included", PU, (unit("0.01"),), ("990",), "20", "0.10", included="1000"),
    # 600 used (500 billable, 1 package started); 400 more = 900 billable: still 1 package → 0
    Inc("package-within-started", PK, (PACK,), ("600",), "400", "0"),
    # 1100 used (exactly 1 package); 1 more opens the second: 5.00
    Inc("package-opens-next", PK, (PACK,), ("1100",), "1", "5.00"),
    # volume cliff: 100 → 101 moves every unit to 0.80: 85.80 − 102.00 = −16.20 (more usage, less cost)
    Inc("volume-cliff", VO, (VOL,), ("100",), "1", "-16.20"),
    # 9000 used; 2000 more: 1000 × 3 % = 30.00 + 1000 × 2 % = 20.00 + 0.50 = 50.50
    Inc("graduated-percentage", GPC, (GP,), ("9000",), "2000", "50.50"),
    # 900 of free amount 1000 used; a 300 transaction: 200 × 2 % = 4.00 + 0.30 = 4.30
    Inc("percentage-past-free-amount", PC, (pct(rate="2", fixed_fee="0.30", free_amount="1000"),), ("900",),
        "300", "4.30", transaction="300", transactions=(("900",),)),
]
# fmt: on


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in INCREMENTS])
def test_increment(case: Inc) -> None:
    table = Case(case.id, case.model, case.prices, case.quantities, "0", None, included=case.included,
                 at_zero=case.at_zero, transactions=case.transactions)  # fmt: skip
    transaction = None if case.transaction is None else Decimal(case.transaction)
    got = increment(charge_of(table), parts_of(table), Decimal(case.units), transaction)
    assert got == Decimal(case.expected)


# ---- forecast ------------------------------------------------------------------------------------------

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("quantity", "elapsed", "length", "additive", "expected"),
    [
        # 100 in 10 of 30 days → 100 × 30 / 10 = 300
        pytest.param("100", 10 * DAY, 30 * DAY, True, "300", id="additive-pace"),
        # a level or a distinct count stays where it is
        pytest.param("100", 10 * DAY, 30 * DAY, False, "100", id="not-additive"),
        # nothing elapsed: no pace to project
        pytest.param("100", timedelta(0), 30 * DAY, True, "100", id="nothing-elapsed"),
        # the period is over: the quantity is final
        pytest.param("100", 30 * DAY, 30 * DAY, True, "100", id="period-over"),
        pytest.param("100", 31 * DAY, 30 * DAY, True, "100", id="past-the-end"),
        # 5 in 12 hours of a day → 10
        pytest.param("5", timedelta(hours=12), DAY, True, "10", id="half-a-day"),
        # 0.5 in 90 minutes of a day → 0.5 × 1440 / 90 = 8
        pytest.param("0.5", timedelta(minutes=90), DAY, True, "8", id="fractional"),
        pytest.param("0", 10 * DAY, 30 * DAY, True, "0", id="zero"),
    ],
)
def test_forecast(
    quantity: str, elapsed: timedelta, length: timedelta, additive: bool, expected: str
) -> None:
    assert forecast(Decimal(quantity), elapsed, length, additive=additive) == Decimal(expected)


def test_forecast_keeps_a_repeating_quotient_exact_far_below_a_cent() -> None:
    # 7 in 3 of 31 days → 217 / 3 = 72.333… → 72.33
    got = forecast(Decimal(7), 3 * DAY, 31 * DAY, additive=True)
    assert Money.rounded(got, "EUR").amount_text() == "72.33"
    assert abs(got * 3 - 217) < Decimal("1e-50")


# ---- minimum spend true-up -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "charged", "part_days", "period_days", "expected"),
    [
        # a whole period: 100.00 − 30.00 = 70.00
        pytest.param("100.00", "30.00", 30, 30, "70.00", id="whole-period"),
        # usage above the minimum: nothing to true up
        pytest.param("100.00", "120.00", 30, 30, "0", id="above-minimum"),
        pytest.param("100.00", "100.00", 30, 30, "0", id="exactly-minimum"),
        pytest.param("100.00", "0", 28, 28, "100.00", id="no-usage"),
        # 15 of 30 days: 100.00 × 15/30 = 50.00 − 20.00 = 30.00
        pytest.param("100.00", "20.00", 15, 30, "30.00", id="half-period"),
        # 15 of 30 days, 60.00 charged: 50.00 owed → 0
        pytest.param("100.00", "60.00", 15, 30, "0", id="half-period-above-prorated"),
    ],
)
def test_minimum_true_up(minimum: str, charged: str, part_days: int, period_days: int, expected: str) -> None:
    got = minimum_true_up(Decimal(minimum), Decimal(charged), part_days=part_days, period_days=period_days)
    assert got == Decimal(expected)


def test_minimum_true_up_repeating_proration_rounds_once() -> None:
    # 10 of 31 days: 100.00 × 10/31 = 32.2580645… → 32.26
    got = minimum_true_up(Decimal("100.00"), Decimal(0), part_days=10, period_days=31)
    assert Money.rounded(got, "EUR").amount_text() == "32.26"
    assert abs(got * 31 - 1000) < Decimal("1e-50")


@pytest.mark.parametrize(("part_days", "period_days"), [(0, 30), (10, 0), (-1, 30)])
def test_minimum_true_up_needs_a_day(part_days: int, period_days: int) -> None:
    with pytest.raises(DomainError) as caught:
        minimum_true_up(Decimal(100), Decimal(0), part_days=part_days, period_days=period_days)
    assert caught.value.code == "invalid_period"


# ---- parsing: what parse_charge refuses ----------------------------------------------------------------

P = "charges.0"


def _charge(model: str, prices: Any, **extra: Any) -> dict[str, Any]:
    return {"metric": "api_calls", "model": model, "prices": {"EUR": prices}, **extra}


def _tiers(*bounds: str | None, name: str = "unit") -> dict[str, Any]:
    return {"tiers": [{"up_to": b, name: "1.00"} for b in bounds]}


# fmt: off
CHARGE_ERRORS = [
    # the second bound equals the first: bounds rise
    ("non-rising-up-to", _charge(GR, _tiers("100", "100", None)), "invalid_catalog", f"{P}.prices.EUR.tiers.1.up_to"),
    ("falling-up-to", _charge(VO, _tiers("100", "50", None)), "invalid_catalog", f"{P}.prices.EUR.tiers.1.up_to"),
    # up_to 0 is not above the implicit start at 0
    ("zero-up-to", _charge(GR, _tiers("0", None)), "invalid_catalog", f"{P}.prices.EUR.tiers.0.up_to"),
    ("open-tier-not-last", _charge(GR, _tiers(None, None)), "invalid_catalog", f"{P}.prices.EUR.tiers.0.up_to"),
    ("last-tier-closed", _charge(GR, _tiers("100", "200")), "invalid_catalog", f"{P}.prices.EUR.tiers.1.up_to"),
    ("no-tiers", _charge(GR, {"tiers": []}), "invalid_catalog", f"{P}.prices.EUR.tiers"),
    ("unknown-tier-field", _charge(GR, {"tiers": [{"up_to": None, "unit": "1", "price": "2"}]}), "invalid_catalog",
     f"{P}.prices.EUR.tiers.0.price"),
    ("float-unit-price", _charge(PU, {"unit": 0.002}), "invalid_amount", f"{P}.prices.EUR.unit"),
    ("float-flat-fee", _charge(GR, {"tiers": [{"up_to": None, "unit": "1", "flat": 5.0}]}), "invalid_amount",
     f"{P}.prices.EUR.tiers.0.flat"),
    ("negative-price", _charge(PU, {"unit": "-0.01"}), "invalid_amount", f"{P}.prices.EUR.unit"),
    ("thirteen-decimals", _charge(PU, {"unit": "0.0000000000001"}), "invalid_amount", f"{P}.prices.EUR.unit"),
    ("not-a-number", _charge(PU, {"unit": "ten"}), "invalid_amount", f"{P}.prices.EUR.unit"),
    ("missing-unit", _charge(PU, {}), "invalid_catalog", f"{P}.prices.EUR.unit"),
    ("percentage-rate-above-100", _charge(PC, {"rate": "100.01"}), "invalid_amount", f"{P}.prices.EUR.rate"),
    ("graduated-percentage-rate-above-100",
     _charge(GPC, {"tiers": [{"up_to": "10", "rate": "3"}, {"up_to": None, "rate": "101"}]}), "invalid_amount",
     f"{P}.prices.EUR.tiers.1.rate"),
    ("included-on-percentage", _charge(PC, {"rate": "2.9"}, included="100"), "invalid_catalog", f"{P}.included"),
    ("negative-included", _charge(PU, {"unit": "1"}, included="-5"), "invalid_amount", f"{P}.included"),
    ("package-size-zero", _charge(PK, {"size": "0", "price": "5.00"}), "invalid_amount", f"{P}.prices.EUR.size"),
    ("minimum-above-maximum", _charge(PC, {"rate": "1", "min_per_transaction": "5", "max_per_transaction": "1"}),
     "invalid_catalog", f"{P}.prices.EUR.max_per_transaction"),
    ("free-transactions-as-text", _charge(PC, {"rate": "1", "free_transactions": "10"}), "invalid_catalog",
     f"{P}.prices.EUR.free_transactions"),
    ("unknown-model", _charge("tiered", {"unit": "1"}), "invalid_catalog", f"{P}.model"),
    ("unknown-timing", _charge(PU, {"unit": "1"}, timing="monthly"), "invalid_catalog", f"{P}.timing"),
    ("flat-fee-at-zero-not-bool", _charge(PU, {"unit": "1"}, flat_fee_at_zero="yes"), "invalid_catalog",
     f"{P}.flat_fee_at_zero"),
    ("unknown-currency", {"metric": "m", "model": PU, "prices": {"EURO": {"unit": "1"}}}, "unknown_currency",
     f"{P}.prices.EURO"),
    ("no-prices", {"metric": "m", "model": PU, "prices": {}}, "invalid_catalog", f"{P}.prices"),
    ("no-metric", {"metric": "", "model": PU, "prices": {"EUR": {"unit": "1"}}}, "invalid_catalog", f"{P}.metric"),
    ("unknown-charge-field", _charge(PU, {"unit": "1"}, unit="1"), "invalid_catalog", f"{P}.unit"),
]
# fmt: on


@pytest.mark.parametrize(
    ("doc", "code", "field"), [pytest.param(d, c, f, id=i) for i, d, c, f in CHARGE_ERRORS]
)
def test_parse_charge_refuses(doc: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_charge(doc, P, currency_code)
    assert (caught.value.code, caught.value.field) == (code, field)


# ---- parsing in a catalog ------------------------------------------------------------------------------

TIERED_EUR = {"EUR": GRAD}


def _catalog(
    *, charges: Any = None, minimum: Any = None, currencies: tuple[str, ...] = ("EUR",)
) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "code": "metered",
        "name": "Metered",
        "billing_period": "month",
        "phases": [
            {
                "type": "evergreen",
                "timing": "in_arrears",
                "prices": {c: {"flat": "10.00"} for c in currencies},
            }
        ],
    }
    if charges is not None:
        plan["charges"] = charges
    if minimum is not None:
        plan["minimum_spend"] = minimum
    return {"products": [{"code": "api", "name": "API", "plans": [plan]}]}


PLAN = "products.0.plans.0"
# fmt: off
CATALOG_ERRORS = [
    # the same metric priced twice on one plan
    ("duplicate-metric", _catalog(charges=[_charge(GR, GRAD), _charge(PU, {"unit": "0.01"})]), "duplicate_code",
     f"{PLAN}.charges.1.metric"),
    # the plan is sold in EUR and USD; the charge has no USD price
    ("missing-currency-price", _catalog(charges=[_charge(GR, GRAD)], currencies=("EUR", "USD")), "price_missing",
     f"{PLAN}.charges.0.prices"),
    # a GBP price on a plan not sold in GBP
    ("extra-currency-price",
     _catalog(charges=[{"metric": "m", "model": PU, "prices": {"EUR": {"unit": "1"}, "GBP": {"unit": "1"}}}]),
     "invalid_catalog", f"{PLAN}.charges.0.prices.GBP"),
    # a tier error keeps its full path inside the catalog
    ("tier-error-path", _catalog(charges=[_charge(GR, _tiers("100", "100", None))]), "invalid_catalog",
     f"{PLAN}.charges.0.prices.EUR.tiers.1.up_to"),
    ("charges-not-a-list", _catalog(charges={"metric": "m"}), "invalid_catalog", f"{PLAN}.charges"),
    # minimum spend in a currency the plan is not sold in
    ("minimum-spend-other-currency", _catalog(minimum={"USD": "100.00"}), "invalid_catalog", f"{PLAN}.minimum_spend"),
    ("minimum-spend-float", _catalog(minimum={"EUR": 100.0}), "invalid_amount", f"{PLAN}.minimum_spend.EUR"),
    ("minimum-spend-negative", _catalog(minimum={"EUR": "-1.00"}), "invalid_amount", f"{PLAN}.minimum_spend.EUR"),
]
# fmt: on


@pytest.mark.parametrize(
    ("doc", "code", "field"), [pytest.param(d, c, f, id=i) for i, d, c, f in CATALOG_ERRORS]
)
def test_parse_catalog_refuses(doc: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        parse_catalog(doc)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_parse_catalog_reads_charges_and_minimum_spend() -> None:
    doc = _catalog(
        charges=[
            _charge(GR, GRAD, included="100", flat_fee_at_zero=False),
            {"metric": "payments", "model": PC, "prices": {"EUR": {"rate": "2.9", "fixed_fee": "0.30"}},
             "timing": "in_advance"},
        ],
        minimum={"EUR": "20.00"},
    )  # fmt: skip
    plan = parse_catalog(doc).plan("metered")
    assert plan.minimum_spend == {"EUR": Decimal("20.00")}
    calls = plan.charge("api_calls")
    assert calls is not None
    assert (calls.model, calls.included, calls.flat_fee_at_zero, calls.timing.value) == (
        ChargeModel.GRADUATED, Decimal(100), False, "in_arrears",
    )  # fmt: skip
    assert [t.up_to for t in calls.prices["EUR"].tiers] == [Decimal(100), Decimal(1000), None]
    payments = plan.charge("payments")
    assert payments is not None and payments.transactional and payments.timing.value == "in_advance"
    assert plan.charge("storage") is None


@pytest.mark.parametrize(
    ("model", "prices"),
    [
        (PU, unit("0.002")),
        (GR, GRAD),
        (VO, VOL),
        (PK, PACK),
        (PC, pct(rate="2.9", fixed_fee="0.30", min_per_transaction="0.50", free_transactions=3)),
        (GPC, GP),
    ],
)
def test_to_json_parses_back_to_the_same_params(model: str, prices: dict[str, Any]) -> None:
    charge = parse_charge(_charge(model, prices), P, currency_code)
    again = parse_charge(charge.to_json() | {"metric": "api_calls"}, P, currency_code)
    assert again == charge
