"""Properties of tax computation and of the shipped tables, checked with hypothesis.

Invoices are drawn as lines of whole minor units (positive and negative) in currencies with 0, 2 and 3
decimals, each line under one of a few treatments (one rate, two rates side by side, none), with any
rounding mode. The oracles are independent of kassa's code: exact fractions and `Money.rounded`.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from importlib.resources import files
from math import ceil, floor

from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.money import Money, RoundingMode, currency
from kassa.core.tax import (
    TABLE_FILES,
    LineTax,
    TaxableLine,
    TaxCategory,
    TaxParty,
    TaxRate,
    TaxTreatment,
    compute_taxes,
    load_table,
    reverse_taxes,
    treatment,
)
from kassa.core.tax.regions import CA_PROVINCES
from kassa.core.tenants import TaxRounding

TODAY = date(2026, 11, 24)
TABLE = load_table(
    [
        json.loads(files("kassa.core.tax").joinpath("data", name).read_text(encoding="utf-8"))
        for name in TABLE_FILES
    ]
)


def _rate(jurisdiction: str, name: str, percent: str) -> TaxRate:
    return TaxRate(
        id=f"{jurisdiction}:{name}:standard:2020-01-01",
        jurisdiction=jurisdiction,
        name=name,
        percent=Decimal(percent),
        category=TaxCategory.STANDARD,
        valid_from=date(2020, 1, 1),
        valid_to=None,
    )


GST, QST = _rate("CA", "GST", "5"), _rate("CA-QC", "QST", "9.975")
TREATMENTS = [
    TaxTreatment(rates=(_rate("DE", "VAT", "19"),), code="S", jurisdiction="DE", note=None),
    TaxTreatment(rates=(_rate("DE", "VAT", "7"),), code="S", jurisdiction="DE", note=None),
    TaxTreatment(rates=(_rate("CH", "VAT", "8.1"),), code="S", jurisdiction="CH", note=None),
    TaxTreatment(rates=(GST, QST), code="S", jurisdiction="CA-QC", note=None),
    TaxTreatment(rates=(GST,), code="S", jurisdiction="CA-AB", note=None),
    TaxTreatment(rates=(), code="AE", jurisdiction="FR", note="Reverse charge"),
]
CURRENCIES = ["EUR", "JPY", "KWD"]
modes = st.sampled_from(list(RoundingMode))
SYMMETRIC = [m for m in RoundingMode if m not in (RoundingMode.FLOOR, RoundingMode.CEILING)]


@st.composite
def invoices(draw: st.DrawFn, max_lines: int = 8) -> tuple[str, list[TaxableLine]]:
    code = draw(st.sampled_from(CURRENCIES))
    count = draw(st.integers(1, max_lines))
    lines = [
        TaxableLine(
            key=f"l{i}",
            amount=Money.from_minor_units(draw(st.integers(-2_000_000, 5_000_000)), code),
            treatment=draw(st.sampled_from(TREATMENTS)),
        )
        for i in range(count)
    ]
    return code, lines


def _units(money: Money) -> int:
    return money.to_minor_units()


def _exact(line: TaxableLine, rate: TaxRate, inclusive: bool) -> Fraction:
    """The line's exact tax at `rate`, in minor units."""
    scale = 10 ** currency(line.amount.currency).exponent
    amount = Fraction(line.amount.amount) * scale
    if inclusive:
        amount = amount * 100 / (100 + sum((Fraction(r.percent) for r in line.treatment.rates), Fraction(0)))
    return amount * Fraction(rate.percent) / 100


def _compute(
    code: str, lines: list[TaxableLine], inclusive: bool, rounding: TaxRounding, mode: RoundingMode
) -> tuple[LineTax, ...]:
    return compute_taxes(lines, currency=code, inclusive=inclusive, rounding=rounding, mode=mode)[0]


@settings(max_examples=300)
@given(invoices(), modes)
def test_per_invoice_line_taxes_sum_to_each_rates_total_rounded_once(
    invoice: tuple[str, list[TaxableLine]], mode: RoundingMode
) -> None:
    """Exclusive, per invoice: for each rate, the lines' taxes sum exactly to Money.rounded of the rate's
    exact total (Σ net × percent / 100), which is also the breakdown row's amount."""
    code, lines = invoice
    computed, breakdown = compute_taxes(
        lines, currency=code, inclusive=False, rounding=TaxRounding.PER_INVOICE, mode=mode
    )
    rates = {rate for line in lines for rate in line.treatment.rates}
    for rate in rates:
        exact = sum(
            (line.amount.amount * rate.percent / 100 for line in lines if rate in line.treatment.rates),
            Decimal(0),
        )
        total = Money.rounded(exact, code, mode)
        shares = [t.amount for line in computed for t in line.taxes if t.rate == rate]
        assert sum(shares, Money.zero(code)) == total
        assert [row.amount for row in breakdown if row.rate == rate] == [total]


@settings(max_examples=300)
@given(invoices(), modes, st.booleans())
def test_per_invoice_gives_each_line_its_exact_tax_rounded_down_or_up(
    invoice: tuple[str, list[TaxableLine]], mode: RoundingMode, inclusive: bool
) -> None:
    """However the rate's total is shared back, no line's tax is more than a minor unit off its exact
    tax, and never on the other side of zero."""
    code, lines = invoice
    computed = _compute(code, lines, inclusive, TaxRounding.PER_INVOICE, mode)
    for line, result in zip(lines, computed, strict=True):
        for rate, tax in zip(line.treatment.rates, result.taxes, strict=True):
            exact = _exact(line, rate, inclusive)
            assert floor(exact) <= _units(tax.amount) <= ceil(exact)


@settings(max_examples=300)
@given(invoices(), modes, st.sampled_from(list(TaxRounding)))
def test_inclusive_net_plus_taxes_is_the_gross(
    invoice: tuple[str, list[TaxableLine]], mode: RoundingMode, rounding: TaxRounding
) -> None:
    """Tax-inclusive, either rounding: each line's net plus its taxes is exactly its gross, and every
    tax is on that net."""
    code, lines = invoice
    for line, result in zip(lines, _compute(code, lines, True, rounding, mode), strict=True):
        assert result.net + result.tax == line.amount
        assert all(t.taxable == result.net for t in result.taxes)


@settings(max_examples=300)
@given(invoices(), modes)
def test_per_line_exclusive_tax_is_the_net_times_the_rate_rounded_once(
    invoice: tuple[str, list[TaxableLine]], mode: RoundingMode
) -> None:
    """Exclusive, per line: each tax is Money.rounded(net × percent / 100) with the tenant's mode, and the
    net is the line's amount."""
    code, lines = invoice
    for line, result in zip(lines, _compute(code, lines, False, TaxRounding.PER_LINE, mode), strict=True):
        assert result.net == line.amount
        expected = [
            Money.rounded(line.amount.amount * r.percent / 100, code, mode) for r in line.treatment.rates
        ]
        assert [t.amount for t in result.taxes] == expected


@settings(max_examples=200)
@given(invoices(), st.sampled_from(SYMMETRIC), st.booleans(), st.sampled_from(list(TaxRounding)))
def test_negating_every_line_negates_every_tax(
    invoice: tuple[str, list[TaxableLine]], mode: RoundingMode, inclusive: bool, rounding: TaxRounding
) -> None:
    """With a mode symmetric around zero, a credit invoice that mirrors an invoice gets mirrored taxes."""
    code, lines = invoice
    mirrored = [TaxableLine(key=line.key, amount=-line.amount, treatment=line.treatment) for line in lines]
    original = _compute(code, lines, inclusive, rounding, mode)
    negated = _compute(code, mirrored, inclusive, rounding, mode)
    for a, b in zip(original, negated, strict=True):
        assert b.net == -a.net
        assert [t.amount for t in b.taxes] == [-t.amount for t in a.taxes]


@settings(max_examples=300)
@given(invoices(max_lines=4), modes, st.booleans(), st.sampled_from(list(TaxRounding)), st.data())
def test_reverse_taxes_of_the_whole_net_and_of_parts_that_add_up(
    invoice: tuple[str, list[TaxableLine]],
    mode: RoundingMode,
    inclusive: bool,
    rounding: TaxRounding,
    data: st.DataObject,
) -> None:
    """Crediting a line's whole net gives back exactly its taxes; crediting it in parts, each passed the
    earlier parts, gives back parts that add up to its taxes, none beyond what the line charged."""
    code, lines = invoice
    for line in _compute(code, lines, inclusive, rounding, mode):
        net = _units(line.net)
        if net <= 0:
            continue
        assert reverse_taxes(line, line.net, mode) == line.taxes
        cuts = sorted(data.draw(st.sets(st.integers(1, net - 1), max_size=3)) if net > 1 else set())
        bounds = [0, *cuts, net]
        returned = [Money.zero(code)] * len(line.taxes)
        for start, end in zip(bounds, bounds[1:], strict=False):
            part = reverse_taxes(
                line,
                Money.from_minor_units(end - start, code),
                mode,
                previously_credited=Money.from_minor_units(start, code),
            )
            returned = [total + t.amount for total, t in zip(returned, part, strict=True)]
            for total, charged in zip(returned, line.taxes, strict=True):
                assert abs(total) <= abs(charged.amount)
        assert returned == [t.amount for t in line.taxes]


JURISDICTIONS = sorted(TABLE.jurisdictions)


def _parties(code: str) -> tuple[TaxParty, TaxParty]:
    """A seller and a buyer whose sale is taxed in `code`."""
    country, _, region = code.partition("-")
    if country == "CA" and not region:  # the GST alone: a province without a tax of its own
        region = min(p for p in CA_PROVINCES if f"CA-{p}" not in TABLE.jurisdictions)
    return TaxParty(country=country), TaxParty(country=country, region=region or None)


@settings(max_examples=200)
@given(
    st.sampled_from(JURISDICTIONS),
    st.sampled_from([TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.DIGITAL_SERVICE]),
)
def test_every_shipped_jurisdiction_has_a_rate_today(code: str, category: TaxCategory) -> None:
    """Every jurisdiction in the shipped tables taxes a domestic sale on 2026-11-24 with a rate of its own
    in force that day, for standard, reduced and digital products."""
    seller, buyer = _parties(code)
    how = treatment(seller, buyer, category, TODAY, TABLE)
    assert how.code == "S"
    mine = [rate for rate in how.rates if rate.jurisdiction == code]
    assert len(mine) == 1 and mine[0].in_force(TODAY) and Decimal(0) < mine[0].percent < 100


def test_the_jurisdiction_walk_covers_every_table() -> None:
    """The property above draws from all shipped jurisdictions: 27 EU states, GB, CH, NO, AU, Canada's
    GST and its 9 provincial taxes, 5 US states."""
    assert len(JURISDICTIONS) == 27 + 4 + 10 + 5
