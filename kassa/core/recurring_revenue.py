"""MRR, ARR and how they moved; logo and revenue churn, net and gross revenue retention, lifetime value;
cohort retention. Pure: the store hands in each account's MRR at month ends, this module classifies the
changes, sums them per currency, converts into the reporting currency and rounds once.

MRR comes from invoiced recurring lines (as ChartMogul does it): an account's MRR on a day is the sum of
`mrr_minor` of its revenue schedule rows with `starts_on <= day < ends_on`. A month's MRR is the MRR on its
last day. An *account* is a (customer, currency) pair; a customer is billed in one currency, so in practice
an account is a customer. Every formula, and where vendors differ, is in docs/recurring-revenue.md.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from kassa.core.errors import DomainError
from kassa.core.exchange_rates import RateBook
from kassa.core.money import Money
from kassa.core.money import currency as currency_info
from kassa.core.reports import RateUsed, Report, Value, month_name, month_of, months

Account = tuple[str, str]  # (customer id, currency)
# MRR on each month's last day, minor units, keyed by the month (its first or its last day); a month
# missing is 0
Series = Mapping[Account, Mapping[date, int]]

LTV_MONTHS = 3  # LTV divides by the logo churn of the month and the two before it, pooled
RETENTION_MONTHS = 12  # the trailing NRR and GRR compare a month with the same month a year before


def month_end(month: date) -> date:
    """The last day of `month`'s month: the day a month's MRR is taken on."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


# ---- the oracle of the SQL ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MrrRow:
    """What MRR reads of one revenue schedule row."""

    customer_id: str
    currency: str
    starts_on: date
    ends_on: date  # exclusive
    mrr_minor: int | None  # None: not a recurring line (usage, setup, one-off...)


def mrr_on(rows: Iterable[MrrRow], days: Sequence[date]) -> dict[Account, dict[date, int]]:
    """Each account's MRR on each day: the sum of `mrr_minor` over its recurring rows covering the day.
    An (account, day) with no covering row is absent; one whose rows sum to zero is there with 0."""
    out: dict[Account, dict[date, int]] = {}
    wanted = sorted(set(days))
    for row in rows:
        if row.mrr_minor is None:
            continue
        for day in wanted:
            if row.starts_on <= day < row.ends_on:
                by_day = out.setdefault((row.customer_id, row.currency), {})
                by_day[day] = by_day.get(day, 0) + row.mrr_minor
    return out


# ---- movements -------------------------------------------------------------------------------------------


class Movement(StrEnum):
    NEW = "new"  # 0 -> >0, never paid before
    EXPANSION = "expansion"  # more than last month
    CONTRACTION = "contraction"  # less, but still paying
    CHURN = "churn"  # >0 -> 0
    REACTIVATION = "reactivation"  # 0 -> >0, paid in some month before


def movement(previous: int, current: int, paid_before: bool) -> tuple[Movement, int] | None:
    """How one account's MRR moved from one month end to the next, and by how much (always >= 0).
    `paid_before`: the account had MRR at an earlier month end. Negative MRR counts as 0."""
    previous, current = max(previous, 0), max(current, 0)
    if previous == current:
        return None
    if previous == 0:
        return (Movement.REACTIVATION if paid_before else Movement.NEW), current
    if current == 0:
        return Movement.CHURN, previous
    if current > previous:
        return Movement.EXPANSION, current - previous
    return Movement.CONTRACTION, previous - current


@dataclass(frozen=True, slots=True, kw_only=True)
class MrrMonth:
    """One month of the MRR report, in the reporting currency. Movements are positive amounts:
    opening + new + expansion + reactivation - contraction - churn + fx = mrr."""

    month: date
    opening: Money  # last month's closing MRR, as reported last month
    new: Money
    expansion: Money
    reactivation: Money
    contraction: Money
    churn: Money
    fx: Money  # what exchange rates (and rounding) moved: zero in a one-currency business
    mrr: Money  # on the month's last day
    customers_at_start: int
    customers: int
    new_customers: int
    reactivated_customers: int
    expanded_customers: int
    contracted_customers: int
    churned_customers: int
    arpa: Money | None  # mrr / customers
    logo_churn_pct: Decimal | None
    revenue_churn_pct: Decimal | None
    nrr_pct: Decimal | None
    grr_pct: Decimal | None
    nrr_12m_pct: Decimal | None
    grr_12m_pct: Decimal | None
    ltv: Money | None

    @property
    def net_new(self) -> Money:
        return self.new + self.expansion + self.reactivation - self.contraction - self.churn

    @property
    def arr(self) -> Money:
        return self.mrr * 12


@dataclass(frozen=True, slots=True, kw_only=True)
class MrrMovements:
    currency: str
    months: tuple[MrrMonth, ...]
    rates: tuple[RateUsed, ...] = ()


def percent(part: Fraction, whole: Fraction) -> Decimal | None:
    """part / whole in percent, rounded half-up to 2 places; None when whole is 0."""
    if whole == 0:
        return None
    return _half_up(part * 100 / whole, 2)


def _round_half_up(value: Fraction) -> int:
    """To the nearest integer, halves away from zero (kassa's default rounding)."""
    units = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return units if value >= 0 else -units


def _half_up(value: Fraction, places: int) -> Decimal:
    return Decimal(_round_half_up(value * 10**places)).scaleb(-places)


def _money(value: Fraction, code: str) -> Money:
    """An exact amount in major units, rounded once to the currency's minor unit."""
    return Money.from_minor_units(_round_half_up(value * 10 ** currency_info(code).exponent), code)


@dataclass(slots=True)
class _Converter:
    """Into the reporting currency at the rate of a month's last day; remembers the rates it used."""

    rates: RateBook
    to: str
    used: dict[tuple[str, date], RateUsed] = field(default_factory=dict)

    def rate(self, code: str, month: date) -> Fraction:
        if code == self.to:
            return Fraction(1)
        key = (code, month)
        if key not in self.used:
            self.used[key] = self.rates.rate(code, self.to, month_end(month))
        return Fraction(self.used[key].rate)

    def money(self, minor: int, code: str, month: date) -> Money:
        if minor == 0:
            return Money.zero(self.to)
        amount = Money.from_minor_units(minor, code)
        if code == self.to:
            return amount
        self.rate(code, month)  # recorded once per currency and month
        converted, _ = self.rates.convert(amount, self.to, month_end(month))
        return converted

    def exact(self, minor: int, code: str, month: date) -> Fraction:
        """The unrounded value, for ratios (both sides at one month's rates: constant currency)."""
        if minor == 0:
            return Fraction(0)
        return Fraction(minor, 10 ** currency_info(code).exponent) * self.rate(code, month)

    def rates_used(self) -> tuple[RateUsed, ...]:
        return tuple(sorted(set(self.used.values()), key=lambda r: (r.day, r.currency)))


_KINDS = tuple(Movement)


@dataclass(slots=True)
class _Sums:
    """One currency's sums per history month (index)."""

    mrr: list[int]
    moved: dict[Movement, list[int]]
    kept_12m: list[int]  # sum of MRR now of accounts paying 12 months before (NRR 12m numerator)
    floor_12m: list[int]  # sum of min(now, 12 months before) of those accounts (GRR 12m numerator)

    @classmethod
    def empty(cls, n: int) -> _Sums:
        return cls([0] * n, {k: [0] * n for k in _KINDS}, [0] * n, [0] * n)


def _span(first: date, last: date) -> tuple[date, date]:
    if month_of(last) < month_of(first):
        raise DomainError("invalid_month", "`to` is not before `from`.", "to")
    return month_of(first), month_of(last)


def _index(history: Sequence[date]) -> dict[date, int]:
    """Month -> position, reachable by the month's first or last day (the store keys MRR by month end)."""
    at = {m: i for i, m in enumerate(history)}
    at.update({month_end(m): i for i, m in enumerate(history)})
    return at


def _values(by_month: Mapping[date, int], at: Mapping[date, int], n: int) -> list[int]:
    """One account's MRR per history month, negative counted as 0; days outside the history ignored."""
    values = [0] * n
    for day, v in by_month.items():
        if v > 0:
            i = at.get(day)
            if i is None:
                i = at.get(month_of(day))
            if i is not None:
                values[i] += v
    return values


def _history(series: Series, first: date) -> date:
    earliest = min((min(values) for values in series.values() if values), default=first)
    return min(month_of(earliest), month_of(first))


def mrr_movements(series: Series, *, first: date, last: date, currency: str, rates: RateBook) -> MrrMovements:
    """The MRR report for the months `first`..`last`. `series` must reach back to the tenant's first month
    with MRR: new and reactivation differ by what came before, and LTV and the 12-month retention look
    back. Each account is classified as `movement()` says (inlined here: it runs once per account and
    month, 1.2 million times for 50,000 customers over two years)."""
    first, last = _span(first, last)
    history = list(months(_history(series, first), last))
    n = len(history)
    at = _index(history)
    lo = at[first]
    sums: dict[str, _Sums] = {}
    customers, at_start = [0] * n, [0] * n
    counts: dict[Movement, list[int]] = {k: [0] * n for k in _KINDS}
    n_new, n_exp, n_con = counts[Movement.NEW], counts[Movement.EXPANSION], counts[Movement.CONTRACTION]
    n_churn, n_react = counts[Movement.CHURN], counts[Movement.REACTIVATION]
    for (_customer, code), by_month in series.items():
        s = sums.get(code) or sums.setdefault(code, _Sums.empty(n))
        mrr = s.mrr
        new, exp, con = s.moved[Movement.NEW], s.moved[Movement.EXPANSION], s.moved[Movement.CONTRACTION]
        churn, react = s.moved[Movement.CHURN], s.moved[Movement.REACTIVATION]
        values = _values(by_month, at, n)
        previous, paid = 0, False
        for i, v in enumerate(values):
            if v:
                mrr[i] += v
                customers[i] += 1
                if previous:
                    at_start[i] += 1
                    if v > previous:
                        exp[i] += v - previous
                        n_exp[i] += 1
                    elif v < previous:
                        con[i] += previous - v
                        n_con[i] += 1
                elif paid:
                    react[i] += v
                    n_react[i] += 1
                else:
                    new[i] += v
                    n_new[i] += 1
                    paid = True
            elif previous:
                at_start[i] += 1
                churn[i] += previous
                n_churn[i] += 1
            previous = v
        for i in range(max(lo, RETENTION_MONTHS), n):
            before = values[i - RETENTION_MONTHS]
            if before:
                s.kept_12m[i] += values[i]
                s.floor_12m[i] += min(values[i], before)
    conv = _Converter(rates, currency)
    codes = sorted(sums)

    def total(values: Mapping[str, int], month: date) -> Money:
        return sum((conv.money(v, c, month) for c, v in values.items()), Money.zero(currency))

    def exact(values: Mapping[str, int], month: date) -> Fraction:
        return sum((conv.exact(v, c, month) for c, v in values.items()), Fraction(0))

    out = []
    opening = (
        total({c: sums[c].mrr[lo - 1] for c in codes}, history[lo - 1]) if lo > 0 else Money.zero(currency)
    )
    for i in range(lo, n):
        month = history[i]
        moved = {k: total({c: sums[c].moved[k][i] for c in codes}, month) for k in _KINDS}
        closing = total({c: sums[c].mrr[i] for c in codes}, month)
        net_new = (moved[Movement.NEW] + moved[Movement.EXPANSION] + moved[Movement.REACTIVATION]
                   - moved[Movement.CONTRACTION] - moved[Movement.CHURN])  # fmt: skip
        # ratios at constant currency: the month's opening and its movements at the same (this month's) rates
        base = exact({c: sums[c].mrr[i - 1] for c in codes}, month) if i > 0 else Fraction(0)
        lost = exact(
            {c: sums[c].moved[Movement.CHURN][i] + sums[c].moved[Movement.CONTRACTION][i] for c in codes},
            month,
        )
        gained = exact({c: sums[c].moved[Movement.EXPANSION][i] for c in codes}, month)
        if i >= RETENTION_MONTHS:
            base_12m = exact({c: sums[c].mrr[i - RETENTION_MONTHS] for c in codes}, month)
            nrr_12m = percent(exact({c: sums[c].kept_12m[i] for c in codes}, month), base_12m)
            grr_12m = percent(exact({c: sums[c].floor_12m[i] for c in codes}, month), base_12m)
        else:
            nrr_12m = grr_12m = None
        arpa = Fraction(closing.amount) / customers[i] if customers[i] else None
        window = range(max(0, i - LTV_MONTHS + 1), i + 1)
        churned, exposed = sum(counts[Movement.CHURN][j] for j in window), sum(at_start[j] for j in window)
        ltv = _money(arpa * exposed / churned, currency) if arpa is not None and churned else None
        out.append(MrrMonth(
            month=month, opening=opening, new=moved[Movement.NEW], expansion=moved[Movement.EXPANSION],
            reactivation=moved[Movement.REACTIVATION], contraction=moved[Movement.CONTRACTION],
            churn=moved[Movement.CHURN], fx=closing - opening - net_new, mrr=closing,
            customers_at_start=at_start[i], customers=customers[i], new_customers=counts[Movement.NEW][i],
            reactivated_customers=counts[Movement.REACTIVATION][i], expanded_customers=counts[Movement.EXPANSION][i],
            contracted_customers=counts[Movement.CONTRACTION][i], churned_customers=counts[Movement.CHURN][i],
            arpa=_money(arpa, currency) if arpa is not None else None,
            logo_churn_pct=percent(Fraction(counts[Movement.CHURN][i]), Fraction(at_start[i])),
            revenue_churn_pct=percent(lost, base), nrr_pct=percent(base + gained - lost, base),
            grr_pct=percent(base - lost, base), nrr_12m_pct=nrr_12m, grr_12m_pct=grr_12m, ltv=ltv,
        ))  # fmt: skip
        opening = closing
    return MrrMovements(currency=currency, months=tuple(out), rates=conv.rates_used())


# ---- cohorts ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CohortCell:
    """One cohort (the accounts whose first MRR month is `cohort`) seen at the end of `month`."""

    cohort: date
    month: date
    age: int  # months since the cohort's month: 0 is the cohort's own month
    customers: int  # the cohort's size
    active: int  # of them, paying on the month's last day
    logo_retention_pct: Decimal
    starting_mrr: Money  # the cohort's MRR at the end of its own month (at that month's rates)
    mrr: Money  # the cohort's MRR at the end of `month` (at that month's rates)
    mrr_retention_pct: Decimal | None  # mrr / starting_mrr, both at `month`'s rates


@dataclass(frozen=True, slots=True, kw_only=True)
class Cohorts:
    currency: str
    cells: tuple[CohortCell, ...]
    rates: tuple[RateUsed, ...] = ()


def cohorts(series: Series, *, first: date, last: date, currency: str, rates: RateBook) -> Cohorts:
    """The cohorts whose month is in `first`..`last`, each followed to `last`. An account belongs to the
    cohort of its first month-end with MRR, for good: one that churns and comes back counts as retained
    again in the months it pays."""
    first, last = _span(first, last)
    history = list(months(_history(series, first), last))
    n = len(history)
    at = _index(history)
    lo = at[first]
    size: dict[date, int] = {}
    start_mrr: dict[date, dict[str, int]] = {}
    active: dict[tuple[date, date], int] = {}
    mrr: dict[tuple[date, date], dict[str, int]] = {}
    for (_customer, code), by_month in series.items():
        values = _values(by_month, at, n)
        start = next((i for i, v in enumerate(values) if v), None)
        if start is None or start < lo:
            continue
        cohort = history[start]
        size[cohort] = size.get(cohort, 0) + 1
        first_mrr = start_mrr.setdefault(cohort, {})
        first_mrr[code] = first_mrr.get(code, 0) + values[start]
        for i in range(start, n):
            if values[i]:
                key = (cohort, history[i])
                active[key] = active.get(key, 0) + 1
                cell = mrr.setdefault(key, {})
                cell[code] = cell.get(code, 0) + values[i]
    conv = _Converter(rates, currency)
    cells = []
    for cohort in sorted(size):
        starting = _conv_sum(conv, start_mrr[cohort], cohort, currency)
        for age, month in enumerate(months(cohort, last)):
            held = mrr.get((cohort, month), {})
            base = sum((conv.exact(v, c, month) for c, v in start_mrr[cohort].items()), Fraction(0))
            now = sum((conv.exact(v, c, month) for c, v in held.items()), Fraction(0))
            kept = active.get((cohort, month), 0)
            cells.append(CohortCell(
                cohort=cohort, month=month, age=age, customers=size[cohort], active=kept,
                logo_retention_pct=percent(Fraction(kept), Fraction(size[cohort])) or Decimal("0.00"),
                starting_mrr=starting, mrr=_conv_sum(conv, held, month, currency),
                mrr_retention_pct=percent(now, base),
            ))  # fmt: skip
    return Cohorts(currency=currency, cells=tuple(cells), rates=conv.rates_used())


def _conv_sum(conv: _Converter, values: Mapping[str, int], month: date, currency: str) -> Money:
    return sum((conv.money(v, c, month) for c, v in sorted(values.items())), Money.zero(currency))


# ---- reports ---------------------------------------------------------------------------------------------

MRR_COLUMNS = (
    "month", "opening_mrr", "new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr",
    "net_new_mrr", "fx_mrr", "mrr", "arr", "customers_at_start", "new_customers", "reactivated_customers",
    "expanded_customers", "contracted_customers", "churned_customers", "customers", "arpa", "logo_churn_pct",
    "revenue_churn_pct", "nrr_pct", "grr_pct", "nrr_12m_pct", "grr_12m_pct", "ltv",
)  # fmt: skip

MRR_NOTES = (
    "MRR is taken on each month's last day from invoiced recurring lines (mrr of revenue schedules); usage, "
    "setup and one-off lines are not MRR.",
    "net_new_mrr = new + expansion + reactivation - contraction - churned; opening + net_new + fx = mrr.",
    "fx_mrr: the change exchange rates made (opening at last month's rates, movements and mrr at this "
    "month's); zero in one currency.",
    "logo_churn_pct = churned customers / customers at start; revenue_churn_pct = (churned + contraction) / "
    "opening MRR.",
    "nrr_pct = (opening + expansion - contraction - churned) / opening (reactivation excluded); grr_pct = "
    "(opening - contraction - churned) / opening, at most 100; ratios at constant currency (this month's rates).",
    "nrr_12m_pct / grr_12m_pct: the customers paying 12 months before, their MRR now (GRR: each capped at "
    "its MRR then) / their MRR then.",
    "ltv = arpa / (customers churned / customers at start, pooled over this month and the 2 before).",
)  # fmt: skip


def mrr_report(result: MrrMovements) -> Report:
    rows: list[dict[str, Value]] = []
    for m in result.months:
        rows.append({
            "month": month_name(m.month), "opening_mrr": m.opening, "new_mrr": m.new, "expansion_mrr": m.expansion,
            "reactivation_mrr": m.reactivation, "contraction_mrr": m.contraction, "churned_mrr": m.churn,
            "net_new_mrr": m.net_new, "fx_mrr": m.fx, "mrr": m.mrr, "arr": m.arr,
            "customers_at_start": m.customers_at_start, "new_customers": m.new_customers,
            "reactivated_customers": m.reactivated_customers, "expanded_customers": m.expanded_customers,
            "contracted_customers": m.contracted_customers, "churned_customers": m.churned_customers,
            "customers": m.customers, "arpa": m.arpa, "logo_churn_pct": m.logo_churn_pct,
            "revenue_churn_pct": m.revenue_churn_pct, "nrr_pct": m.nrr_pct, "grr_pct": m.grr_pct,
            "nrr_12m_pct": m.nrr_12m_pct, "grr_12m_pct": m.grr_12m_pct, "ltv": m.ltv,
        })  # fmt: skip
    summary: dict[str, Value] = {}
    if result.months:
        head, tail = result.months[0], result.months[-1]
        zero = Money.zero(result.currency)
        summary = {
            "from": month_name(head.month), "to": month_name(tail.month), "opening_mrr": head.opening,
            "new_mrr": sum((m.new for m in result.months), zero),
            "expansion_mrr": sum((m.expansion for m in result.months), zero),
            "reactivation_mrr": sum((m.reactivation for m in result.months), zero),
            "contraction_mrr": sum((m.contraction for m in result.months), zero),
            "churned_mrr": sum((m.churn for m in result.months), zero),
            "net_new_mrr": sum((m.net_new for m in result.months), zero),
            "fx_mrr": sum((m.fx for m in result.months), zero),
            "mrr": tail.mrr, "arr": tail.arr, "customers": tail.customers, "arpa": tail.arpa, "ltv": tail.ltv,
        }  # fmt: skip
    return Report(name="mrr", columns=MRR_COLUMNS, rows=tuple(rows), currency=result.currency,
                  rates=result.rates, notes=MRR_NOTES, summary=summary)  # fmt: skip


COHORT_COLUMNS = (
    "cohort", "month", "months_since", "customers", "active_customers", "logo_retention_pct", "starting_mrr",
    "mrr", "mrr_retention_pct",
)  # fmt: skip

COHORT_NOTES = (
    "A cohort is the customers whose first month-end with MRR falls in that month; one row per cohort and "
    "later month.",
    "logo_retention_pct = customers of the cohort paying at the month's end / the cohort's size (a customer "
    "who churned and came back counts again).",
    "mrr_retention_pct = the cohort's MRR at the month's end / its MRR at the end of its first month, both at "
    "the month's rates; above 100 when expansion outweighs churn.",
)  # fmt: skip


def cohort_report(result: Cohorts) -> Report:
    rows: list[dict[str, Value]] = [
        {"cohort": month_name(c.cohort), "month": month_name(c.month), "months_since": c.age, "customers": c.customers,
         "active_customers": c.active, "logo_retention_pct": c.logo_retention_pct, "starting_mrr": c.starting_mrr,
         "mrr": c.mrr, "mrr_retention_pct": c.mrr_retention_pct}
        for c in result.cells
    ]  # fmt: skip
    return Report(name="cohorts", columns=COHORT_COLUMNS, rows=tuple(rows), currency=result.currency,
                  rates=result.rates, notes=COHORT_NOTES,
                  summary={"cohorts": len({c.cohort for c in result.cells})})  # fmt: skip
