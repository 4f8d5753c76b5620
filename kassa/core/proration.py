"""Proration: what a change in the middle of a billing period credits and charges. Pure, by whole local days.

- Periods are half-open [start, end) in local days, so a day is a day whatever DST does to its hours.
- A charge for part of a period is price × quantity × days(part) ÷ days(enclosing billing period).
- The credit for an in-advance line already billed is the line's amount × its remaining days ÷ the days
  the line covered: never more than was billed, however many changes came before (each prorated line is
  credited against what it covered, not against the full period).
- An in-arrears line is never credited: it is billed at the end for the part used.
- Each amount is computed exactly and rounded once, to the currency's minor unit, with the tenant's mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal

from kassa.core.catalog import Timing
from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode
from kassa.core.periods import days

# Wide enough that a quotient of an amount by a day count is exact to far below any minor unit, so the
# single rounding to the currency is the only one (a tie like x.xx5 is exact, and stays a tie).
_PRECISION = Context(prec=60)


def _ratio(amount: Decimal, part: int, whole: int) -> Decimal:
    return _PRECISION.divide(_PRECISION.multiply(amount, part), whole)


@dataclass(frozen=True, slots=True, kw_only=True)
class Component:
    """One recurring price of a subscription's terms: the plan's flat fee, its per-seat fee, an add-on."""

    key: str  # what is charged: "plan.flat", "plan.per_unit", "addon.<code>"
    description: str
    unit_price: Decimal  # per billing period and unit
    quantity: int
    timing: Timing

    def same_price(self, other: Component) -> bool:
        return (self.unit_price, self.quantity, self.timing) == (
            other.unit_price,
            other.quantity,
            other.timing,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """A recurring amount billed (or to bill) for the service period [start, end)."""

    key: str
    description: str
    start: date
    end: date
    period_start: date  # the billing period it belongs to
    period_end: date
    unit_price: Decimal
    quantity: int
    timing: Timing
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Proration:
    credits: tuple[Line, ...]  # negative amounts, each against the line it credits
    charges: tuple[Line, ...]

    @property
    def net(self) -> Decimal:
        return sum((line.amount.amount for line in (*self.credits, *self.charges)), Decimal(0))


def charge(
    component: Component,
    start: date,
    end: date,
    period: tuple[date, date],
    currency: str,
    rounding: RoundingMode,
) -> Line:
    """The line for [start, end) of the billing period `period`: the full price for the whole period,
    else price × days(part) ÷ days(period), rounded once."""
    period_start, period_end = period
    if not period_start <= start < end <= period_end:
        raise DomainError(
            "invalid_period", f"[{start}, {end}) is not within the period [{period_start}, {period_end})."
        )
    full = component.unit_price * component.quantity
    exact = full if (start, end) == period else _ratio(full, days(start, end), days(period_start, period_end))
    return Line(
        key=component.key, description=component.description, start=start, end=end,
        period_start=period_start, period_end=period_end, unit_price=component.unit_price,
        quantity=component.quantity, timing=component.timing, amount=Money.rounded(exact, currency, rounding),
    )  # fmt: skip


def credit(line: Line, on: date, rounding: RoundingMode) -> Line:
    """The credit for the unused part [on, line.end) of an in-advance line: amount × remaining ÷ covered."""
    if line.timing is not Timing.IN_ADVANCE:
        raise DomainError(
            "not_creditable", "An in-arrears line is billed for the part used; it has nothing to credit."
        )
    if not line.start <= on < line.end:
        raise DomainError(
            "invalid_period", f"{on} is not within the line's period [{line.start}, {line.end})."
        )
    exact = _ratio(line.amount.amount, days(on, line.end), days(line.start, line.end))
    amount = Money.rounded(-exact, line.amount.currency, rounding)
    return Line(
        key=line.key, description=line.description, start=on, end=line.end,
        period_start=line.period_start, period_end=line.period_end, unit_price=line.unit_price,
        quantity=line.quantity, timing=line.timing, amount=amount,
    )  # fmt: skip


def prorate(
    billed: Sequence[Line],
    new: Sequence[Component],
    *,
    on: date,
    period: tuple[date, date],
    currency: str,
    rounding: RoundingMode,
) -> Proration:
    """A change of terms effective on day `on` within billing `period`: [period start, on) stays with the
    old terms, [on, period end) goes to the new. `billed` are the in-advance lines already billed that
    cover `on`; `new` the in-advance components of the new terms. A component whose price and quantity
    did not change is left alone (no credit, no re-charge)."""
    unchanged = {
        line.key
        for line in billed
        for component in new
        if component.key == line.key
        and component.unit_price == line.unit_price
        and component.quantity == line.quantity
    }
    credits = tuple(
        credit(line, on, rounding)
        for line in billed
        if line.key not in unchanged and line.start <= on < line.end
    )
    charges = tuple(
        charge(component, on, period[1], period, currency, rounding)
        for component in new
        if component.key not in unchanged
        and component.timing is Timing.IN_ADVANCE
        and (component.unit_price * component.quantity)
    )
    return Proration(credits=credits, charges=charges)
