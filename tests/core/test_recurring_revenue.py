"""MRR, its movements, churn, retention, LTV and cohorts (kassa.core.recurring_revenue).

A small scripted history of four customers over six months pins every figure of the MRR movement table by
hand (docs/recurring-revenue.md shows the same table); a second history pins the 12-month retention, a third
the fx line of a two-currency business. Hypothesis then checks the identities on random histories:
opening + net new + fx = closing, each month's opening is last month's closing, and the customer counts add up.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.errors import DomainError
from kassa.core.exchange_rates import ExchangeRate, RateBook
from kassa.core.money import Money
from kassa.core.recurring_revenue import (
    Movement,
    MrrMonth,
    MrrRow,
    Series,
    cohort_report,
    cohorts,
    month_end,
    movement,
    mrr_movements,
    mrr_on,
    mrr_report,
)
from kassa.core.reports import RateUsed, to_csv, to_json

JAN, FEB, MAR, APR, MAY, JUN = (date(2026, m, 1) for m in range(1, 7))
NO_RATES = RateBook()


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def pct(text: str) -> Decimal:
    return Decimal(text)


# month-end MRR in cents; a month missing from a customer's dict is 0
SCRIPT: Series = {
    ("cus_a", "EUR"): {JAN: 10000, FEB: 10000, MAR: 15000, APR: 15000},  # expands in March, churns in May
    ("cus_b", "EUR"): {
        JAN: 20000,
        FEB: 12000,
        MAR: 12000,
        APR: 12000,
        MAY: 12000,
        JUN: 12000,
    },  # contracts in Feb
    ("cus_c", "EUR"): {FEB: 5000, MAY: 8000, JUN: 8000},  # new in Feb, churns in March, reactivates in May
    ("cus_d", "EUR"): {APR: 30000, MAY: 30000, JUN: 33000},  # new in April, expands in June
}


def by_month(first: date = FEB, last: date = JUN) -> dict[date, MrrMonth]:
    result = mrr_movements(SCRIPT, first=first, last=last, currency="EUR", rates=NO_RATES)
    return {m.month: m for m in result.months}


# ---- the oracle of the SQL ---------------------------------------------------------------------------------


def test_mrr_on_sums_recurring_rows_covering_the_day() -> None:
    """A day's MRR is the sum of mrr_minor over rows with starts_on <= day < ends_on; rows without MRR
    (usage, one-off) are ignored; ends_on is exclusive; a proration credit nets against its line."""
    rows = [
        MrrRow(customer_id="c1", currency="EUR", starts_on=JAN, ends_on=FEB, mrr_minor=10000),
        MrrRow(customer_id="c1", currency="EUR", starts_on=date(2026, 1, 16), ends_on=FEB, mrr_minor=-10000),
        MrrRow(customer_id="c1", currency="EUR", starts_on=date(2026, 1, 16), ends_on=FEB, mrr_minor=20000),
        MrrRow(customer_id="c1", currency="EUR", starts_on=JAN, ends_on=FEB, mrr_minor=None),  # usage
        MrrRow(customer_id="c2", currency="USD", starts_on=JAN, ends_on=date(2026, 1, 31), mrr_minor=500),
    ]  # fmt: skip
    got = mrr_on(rows, [date(2026, 1, 15), date(2026, 1, 31)])
    assert got == {
        ("c1", "EUR"): {date(2026, 1, 15): 10000, date(2026, 1, 31): 20000},
        ("c2", "USD"): {date(2026, 1, 15): 500},  # ends on the 31st (exclusive): not paying on the 31st
    }


def test_month_end_is_the_last_day() -> None:
    """A month's MRR is taken on its last day (leap years included)."""
    assert [month_end(m) for m in (JAN, FEB, date(2028, 2, 1), APR, date(2026, 12, 1))] == [
        date(2026, 1, 31), date(2026, 2, 28), date(2028, 2, 29), date(2026, 4, 30), date(2026, 12, 31)]  # fmt: skip


@pytest.mark.parametrize(
    ("previous", "current", "paid_before", "expected"),
    [
        (0, 100, False, (Movement.NEW, 100)),
        (0, 100, True, (Movement.REACTIVATION, 100)),
        (100, 150, True, (Movement.EXPANSION, 50)),
        (150, 100, True, (Movement.CONTRACTION, 50)),
        (100, 0, True, (Movement.CHURN, 100)),
        (100, 100, True, None),
        (0, 0, True, None),
        (100, -20, True, (Movement.CHURN, 100)),  # negative MRR counts as none
    ],
)
def test_movement_classification(
    previous: int, current: int, paid_before: bool, expected: tuple[Movement, int] | None
) -> None:
    """0 -> >0 is new (never paid before) or reactivation; >0 -> 0 churn; up expansion; down contraction."""
    assert movement(previous, current, paid_before) == expected


# ---- the scripted history ----------------------------------------------------------------------------------


def test_movement_table_of_the_scripted_history() -> None:
    """The MRR movement table, exact: opening, new, expansion, reactivation, contraction, churn, net new and
    closing per month (January is history: February opens with its closing)."""
    table = [
        (m.month, m.opening, m.new, m.expansion, m.reactivation, m.contraction, m.churn, m.net_new, m.fx, m.mrr)
        for m in by_month().values()
    ]  # fmt: skip
    z = eur("0.00")
    assert table == [
        (FEB, eur("300.00"), eur("50.00"), z, z, eur("80.00"), z, eur("-30.00"), z, eur("270.00")),
        (MAR, eur("270.00"), z, eur("50.00"), z, z, eur("50.00"), z, z, eur("270.00")),
        (APR, eur("270.00"), eur("300.00"), z, z, z, z, eur("300.00"), z, eur("570.00")),
        (MAY, eur("570.00"), z, z, eur("80.00"), z, eur("150.00"), eur("-70.00"), z, eur("500.00")),
        (JUN, eur("500.00"), z, eur("30.00"), z, z, z, eur("30.00"), z, eur("530.00")),
    ]


def test_customers_and_counts_of_the_scripted_history() -> None:
    """customers = paying at month end; customers at start = paying at last month's end; one count per move."""
    counts = [
        (m.customers_at_start, m.new_customers, m.expanded_customers, m.reactivated_customers,
         m.contracted_customers, m.churned_customers, m.customers)
        for m in by_month().values()
    ]  # fmt: skip
    assert counts == [(2, 1, 0, 0, 1, 0, 3), (3, 0, 1, 0, 0, 1, 2), (2, 1, 0, 0, 0, 0, 3),
                      (3, 0, 0, 1, 0, 1, 3), (3, 0, 1, 0, 0, 0, 3)]  # fmt: skip


def test_rates_of_the_scripted_history() -> None:
    """ARR = 12 x MRR; ARPA = MRR / customers; logo churn = churned / customers at start; revenue churn =
    (churn + contraction) / opening; NRR = (opening + expansion - contraction - churn) / opening; GRR =
    (opening - contraction - churn) / opening; all rounded half-up to 2 places."""
    rows = [
        (m.arr, m.arpa, m.logo_churn_pct, m.revenue_churn_pct, m.nrr_pct, m.grr_pct)
        for m in by_month().values()
    ]
    assert rows == [
        (eur("3240.00"), eur("90.00"), pct("0.00"), pct("26.67"), pct("73.33"), pct("73.33")),
        (eur("3240.00"), eur("135.00"), pct("33.33"), pct("18.52"), pct("100.00"), pct("81.48")),
        (eur("6840.00"), eur("190.00"), pct("0.00"), pct("0.00"), pct("100.00"), pct("100.00")),
        (eur("6000.00"), eur("166.67"), pct("33.33"), pct("26.32"), pct("73.68"), pct("73.68")),
        (eur("6360.00"), eur("176.67"), pct("0.00"), pct("0.00"), pct("106.00"), pct("100.00")),
    ]


def test_nrr_leaves_reactivation_out() -> None:
    """May: C comes back (80.00 reactivation) while A churns (150.00): NRR counts only the customers paying
    at the start, so it is (570 - 150) / 570, not (570 - 150 + 80) / 570."""
    may = by_month()[MAY]
    assert may.reactivation == eur("80.00")
    assert may.nrr_pct == pct("73.68")


def test_ltv_is_arpa_over_pooled_three_month_logo_churn() -> None:
    """LTV = ARPA / (churned customers / customers at start, summed over the month and the 2 before).
    February: nobody churned since January, so None. March: 1 churned of 0+2+3 → 20 %, 135.00 / 0.2.
    April: 1 of 2+3+2 → 190.00 x 7. May: 2 of 3+2+3 → (500/3) x 4. June: 1 of 2+3+3 → (530/3) x 8."""
    ltv = [m.ltv for m in by_month().values()]
    assert ltv == [None, eur("675.00"), eur("1330.00"), eur("666.67"), eur("1413.33")]


def test_first_month_of_history_opens_at_zero() -> None:
    """A report from the tenant's first month opens at 0 and everything is new; rates on a zero base are None."""
    jan = by_month(JAN, JAN)[JAN]
    assert (jan.opening, jan.new, jan.mrr, jan.new_customers, jan.customers_at_start) == (
        eur("0.00"), eur("300.00"), eur("300.00"), 2, 0)  # fmt: skip
    assert (jan.logo_churn_pct, jan.revenue_churn_pct, jan.nrr_pct, jan.grr_pct, jan.ltv) == (None,) * 5


def test_no_customers_gives_zero_rows() -> None:
    """An empty history still has one row per month: zero MRR, no ARPA, no rates."""
    result = mrr_movements({}, first=JAN, last=FEB, currency="EUR", rates=NO_RATES)
    assert [(m.month, m.mrr, m.customers, m.arpa, m.nrr_pct) for m in result.months] == [
        (JAN, eur("0.00"), 0, None, None), (FEB, eur("0.00"), 0, None, None)]  # fmt: skip


def test_to_before_from_is_refused() -> None:
    """`to` before `from` is an invalid_month error naming `to`."""
    with pytest.raises(DomainError) as caught:
        mrr_movements(SCRIPT, first=MAR, last=FEB, currency="EUR", rates=NO_RATES)
    assert (caught.value.code, caught.value.field) == ("invalid_month", "to")


def test_report_shape_json_and_csv() -> None:
    """The report lists the documented columns; JSON amounts are money objects, CSV plain decimals."""
    report = mrr_report(mrr_movements(SCRIPT, first=MAY, last=JUN, currency="EUR", rates=NO_RATES))
    doc = to_json(report)
    assert doc["report"] == "mrr" and doc["currency"] == "EUR" and doc["rates"] == []
    assert doc["rows"][0]["month"] == "2026-05"
    assert doc["rows"][0]["churned_mrr"] == {"amount": "150.00", "currency": "EUR"}
    assert doc["rows"][0]["nrr_pct"] == "73.68"
    assert doc["rows"][1]["nrr_12m_pct"] is None
    assert doc["summary"]["opening_mrr"] == {"amount": "570.00", "currency": "EUR"}
    assert doc["summary"]["net_new_mrr"] == {"amount": "-40.00", "currency": "EUR"}
    assert doc["summary"]["mrr"] == {"amount": "530.00", "currency": "EUR"}
    lines = to_csv(report).splitlines()
    assert lines[0].startswith("month,opening_mrr,new_mrr,expansion_mrr,reactivation_mrr,contraction_mrr,")
    assert lines[1] == ("2026-05,570.00,0.00,0.00,80.00,0.00,150.00,-70.00,0.00,500.00,6000.00,3,0,1,0,0,1,3,"
                        "166.67,33.33,26.32,73.68,73.68,,,666.67")  # fmt: skip


# ---- trailing twelve months --------------------------------------------------------------------------------


def test_twelve_month_nrr_and_grr() -> None:
    """NRR 12m = MRR now of the customers paying 12 months before / their MRR then (new customers left out);
    GRR 12m caps each at its MRR then. X 100 -> 120, Y 100 -> 0, Z new: NRR 120/200, GRR 100/200."""
    year = [date(2025, m, 1) for m in range(1, 13)]
    series: Series = {
        ("x", "EUR"): {**dict.fromkeys(year, 10000), JAN: 12000},
        ("y", "EUR"): dict.fromkeys(year[:6], 10000),
        ("z", "EUR"): {JAN: 10000},
    }
    result = mrr_movements(series, first=date(2025, 12, 1), last=JAN, currency="EUR", rates=NO_RATES)
    dec, jan = result.months
    assert (dec.nrr_12m_pct, dec.grr_12m_pct) == (None, None)  # December 2024 had no MRR
    assert (jan.nrr_12m_pct, jan.grr_12m_pct) == (pct("60.00"), pct("50.00"))


# ---- currencies ------------------------------------------------------------------------------------------


def test_fx_line_of_a_two_currency_business() -> None:
    """Movements are found in each customer's currency and converted at the month's last-day rate; the
    opening is last month's closing as reported. January: 1 USD = 0.8 EUR, February: 0.625. The USD
    customer expands 100 -> 120 USD: expansion 12.50 EUR; closing 100 + 75 = 175.00; fx = 175 - 180 - 12.50.
    NRR is at constant currency (February's rate on both sides): 175 / 162.50."""
    rates = RateBook([
        ExchangeRate(base="EUR", currency="USD", day=date(2026, 1, 30), rate=Decimal("1.25")),
        ExchangeRate(base="EUR", currency="USD", day=date(2026, 2, 27), rate=Decimal("1.6")),
    ])  # fmt: skip
    series: Series = {("e", "EUR"): {JAN: 10000, FEB: 10000}, ("u", "USD"): {JAN: 10000, FEB: 12000}}
    result = mrr_movements(series, first=JAN, last=FEB, currency="EUR", rates=rates)
    jan, feb = result.months
    assert (jan.new, jan.mrr, jan.fx) == (eur("180.00"), eur("180.00"), eur("0.00"))
    assert (feb.opening, feb.expansion, feb.net_new, feb.fx, feb.mrr) == (
        eur("180.00"), eur("12.50"), eur("12.50"), eur("-17.50"), eur("175.00"))  # fmt: skip
    assert (feb.nrr_pct, feb.grr_pct) == (pct("107.69"), pct("100.00"))
    assert [(r.currency, r.rate, r.day) for r in result.rates] == [
        ("USD", Decimal("0.8"), date(2026, 1, 30)), ("USD", Decimal("0.625"), date(2026, 2, 27))]  # fmt: skip


def test_missing_rate_is_an_error() -> None:
    """MRR in a currency the book has no rate for fails with missing_exchange_rate."""
    with pytest.raises(DomainError) as caught:
        mrr_movements({("u", "USD"): {JAN: 100}}, first=JAN, last=JAN, currency="EUR", rates=NO_RATES)
    assert caught.value.code == "missing_exchange_rate"


# ---- cohorts ---------------------------------------------------------------------------------------------


def test_cohort_table_of_the_scripted_history() -> None:
    """Cohorts by first month with MRR; logo retention = paying / cohort size; MRR retention = MRR now /
    the cohort's first-month MRR (above 100 when it grew; a reactivated customer counts again)."""
    result = cohorts(SCRIPT, first=JAN, last=JUN, currency="EUR", rates=NO_RATES)
    table = [(c.cohort, c.month, c.age, c.customers, c.active, c.logo_retention_pct, c.starting_mrr, c.mrr,
              c.mrr_retention_pct) for c in result.cells]  # fmt: skip
    z = eur("0.00")
    assert table == [
        (JAN, JAN, 0, 2, 2, pct("100.00"), eur("300.00"), eur("300.00"), pct("100.00")),
        (JAN, FEB, 1, 2, 2, pct("100.00"), eur("300.00"), eur("220.00"), pct("73.33")),
        (JAN, MAR, 2, 2, 2, pct("100.00"), eur("300.00"), eur("270.00"), pct("90.00")),
        (JAN, APR, 3, 2, 2, pct("100.00"), eur("300.00"), eur("270.00"), pct("90.00")),
        (JAN, MAY, 4, 2, 1, pct("50.00"), eur("300.00"), eur("120.00"), pct("40.00")),
        (JAN, JUN, 5, 2, 1, pct("50.00"), eur("300.00"), eur("120.00"), pct("40.00")),
        (FEB, FEB, 0, 1, 1, pct("100.00"), eur("50.00"), eur("50.00"), pct("100.00")),
        (FEB, MAR, 1, 1, 0, pct("0.00"), eur("50.00"), z, pct("0.00")),
        (FEB, APR, 2, 1, 0, pct("0.00"), eur("50.00"), z, pct("0.00")),
        (FEB, MAY, 3, 1, 1, pct("100.00"), eur("50.00"), eur("80.00"), pct("160.00")),
        (FEB, JUN, 4, 1, 1, pct("100.00"), eur("50.00"), eur("80.00"), pct("160.00")),
        (APR, APR, 0, 1, 1, pct("100.00"), eur("300.00"), eur("300.00"), pct("100.00")),
        (APR, MAY, 1, 1, 1, pct("100.00"), eur("300.00"), eur("300.00"), pct("100.00")),
        (APR, JUN, 2, 1, 1, pct("100.00"), eur("300.00"), eur("330.00"), pct("110.00")),
    ]


def test_cohorts_outside_the_window_are_left_out() -> None:
    """Only cohorts whose month is in from..to: from March, January's and February's customers are not a
    cohort (they started before); April's is, followed to June."""
    result = cohorts(SCRIPT, first=MAR, last=JUN, currency="EUR", rates=NO_RATES)
    assert sorted({c.cohort for c in result.cells}) == [APR]
    report = to_json(cohort_report(result))
    assert report["columns"][:3] == ["cohort", "month", "months_since"]
    assert report["rows"][2]["mrr_retention_pct"] == "110.00"
    assert report["summary"] == {"cohorts": 1}


# ---- properties ------------------------------------------------------------------------------------------

MONTHS = [date(2025, m, 1) for m in range(7, 13)] + [JAN, FEB, MAR]
ACCOUNTS = [(f"c{i}", code) for i, code in enumerate(["EUR", "EUR", "USD", "EUR", "GBP", "USD"])]


@st.composite
def histories(draw: st.DrawFn) -> tuple[Series, RateBook]:
    series: Series = {
        account: {m: draw(st.sampled_from([0, 0, 999, 1000, 2500, 10001, -300])) for m in MONTHS}
        for account in draw(st.lists(st.sampled_from(ACCOUNTS), unique=True, max_size=6))
    }
    rates = [
        ExchangeRate(base="EUR", currency=code, day=month_end(m),
                     rate=Decimal(draw(st.sampled_from(["0.85", "1.1", "1.0837", "0.7", "3"]))))
        for m in MONTHS for code in ("USD", "GBP")
    ]  # fmt: skip
    return series, RateBook(rates)


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from(["EUR", "USD"]), st.integers(0, len(MONTHS) - 1))
def test_opening_plus_net_new_plus_fx_is_closing(
    history: tuple[Series, RateBook], currency: str, start: int
) -> None:
    """Every month: opening + net new + fx = closing; opening = last month's closing; customers = customers at
    start + new + reactivated - churned; GRR <= 100 <= NRR + revenue churn; in one currency fx is 0."""
    series, rates = history
    result = mrr_movements(series, first=MONTHS[start], last=MONTHS[-1], currency=currency, rates=rates)
    previous = None
    one_currency = {code for _, code in series} <= {currency}
    for m in result.months:
        assert m.opening + m.net_new + m.fx == m.mrr
        if previous is not None:
            assert m.opening == previous.mrr
        assert (
            m.customers
            == m.customers_at_start + m.new_customers + m.reactivated_customers - m.churned_customers
        )
        if m.grr_pct is not None:
            assert m.grr_pct <= 100
            assert m.revenue_churn_pct == 100 - m.grr_pct
        if one_currency:
            assert m.fx == Money.zero(currency)
        previous = m


@settings(max_examples=100, deadline=None)
@given(histories())
def test_cohort_sizes_add_up_to_new_customers(history: tuple[Series, RateBook]) -> None:
    """Each cohort's size is the number of new customers of its month; age 0 retains 100 % of logos."""
    series, rates = history
    movements = mrr_movements(series, first=MONTHS[0], last=MONTHS[-1], currency="EUR", rates=rates)
    table = cohorts(series, first=MONTHS[0], last=MONTHS[-1], currency="EUR", rates=rates)
    sizes = {c.cohort: c.customers for c in table.cells if c.age == 0}
    assert sizes == {m.month: m.new_customers for m in movements.months if m.new_customers}
    assert all(c.logo_retention_pct == 100 for c in table.cells if c.age == 0)
    assert isinstance(table.rates, tuple) and all(isinstance(r, RateUsed) for r in table.rates)


@settings(max_examples=100, deadline=None)
@given(histories())
def test_movements_are_the_sum_of_each_customers_movement(history: tuple[Series, RateBook]) -> None:
    """In one currency, each month's movement amounts and counts are what `movement()` gives each customer
    (from its previous month-end MRR and whether it paid before), summed; keying the series by month-end
    days instead of months changes nothing."""
    series = {account: values for account, values in history[0].items() if account[1] == "EUR"}
    expected: dict[tuple[date, Movement], tuple[int, int]] = {}
    for values in series.values():
        previous, paid = 0, False
        for m in MONTHS:
            step = movement(previous, values.get(m, 0), paid)
            if step is not None:
                amount, count = expected.get((m, step[0]), (0, 0))
                expected[(m, step[0])] = (amount + step[1], count + 1)
            previous = max(values.get(m, 0), 0)
            paid = paid or previous > 0
    result = mrr_movements(series, first=MONTHS[0], last=MONTHS[-1], currency="EUR", rates=NO_RATES)
    got = {}
    for m in result.months:
        for kind, amount, count in (
            (Movement.NEW, m.new, m.new_customers), (Movement.EXPANSION, m.expansion, m.expanded_customers),
            (Movement.CONTRACTION, m.contraction, m.contracted_customers),
            (Movement.CHURN, m.churn, m.churned_customers),
            (Movement.REACTIVATION, m.reactivation, m.reactivated_customers),
        ):  # fmt: skip
            if count:
                got[(m.month, kind)] = (amount.to_minor_units(), count)
    assert got == expected
    by_end = {account: {month_end(m): v for m, v in values.items()} for account, values in series.items()}
    assert mrr_movements(by_end, first=MONTHS[0], last=MONTHS[-1], currency="EUR", rates=NO_RATES) == result
