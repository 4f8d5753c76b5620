"""Tax amounts of an invoice's lines, and of a credit against one line.

Every (line, rate) tax is first computed exactly, in minor units as a fraction:
- tax-exclusive: net × percent / 100;
- tax-inclusive: the line's gross holds all its taxes, so its exact net is gross × 100 / (100 + the sum of
  its percents) and each tax is that net × percent / 100.
Then it is rounded, with the tenant's mode:
- PER_LINE: each (line, rate) tax once;
- PER_INVOICE: per rate, the exact taxes of all lines are summed and rounded once, and that total is
  given back to the lines: each line gets its exact tax rounded down, and the cents still missing go to
  the largest remainders (the earlier line on a tie). So every line's tax is its exact tax rounded down
  or up, and the lines' taxes of a rate sum to the rate's rounded total.
A tax-inclusive line's net is its gross minus its rounded taxes, so net + taxes == gross exactly.

Negative lines (credits on an invoice) are taxed like positive ones, with negative taxes. Per invoice they
net against the positive lines of the same rate before the one rounding; the sharing-out runs on
magnitudes (in the direction of the rate's total), so a fully negated invoice gets exactly negated taxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode, currency
from kassa.core.tax.model import TaxRate, TaxTreatment
from kassa.core.tenants import TaxRounding

_HALF = Fraction(1, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxableLine:
    key: str
    amount: Money  # rounded, after discounts; the net, or the gross when prices include tax
    treatment: TaxTreatment


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxAmount:
    rate: TaxRate
    taxable: Money  # the net the tax is on
    amount: Money  # rounded


@dataclass(frozen=True, slots=True, kw_only=True)
class LineTax:
    key: str
    net: Money  # the line's tax-exclusive amount
    taxes: tuple[TaxAmount, ...]

    @property
    def tax(self) -> Money:
        return sum((t.amount for t in self.taxes), Money.zero(self.net.currency))


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakdownRow:
    """One row of the invoice's tax breakdown, per (category code, rate)."""

    code: str
    rate: TaxRate | None  # None for lines without tax (Z, E, AE, O)
    taxable: Money
    amount: Money
    note: str | None


def compute_taxes(
    lines: Sequence[TaxableLine], *, currency: str, inclusive: bool, rounding: TaxRounding, mode: RoundingMode
) -> tuple[tuple[LineTax, ...], tuple[BreakdownRow, ...]]:
    """Each line's net and taxes, and the invoice's breakdown (rows in the order they first appear)."""
    code, scale = _currency(currency)
    _check_lines(lines, code)
    exact = [_exact_taxes(line, scale, inclusive) for line in lines]
    if TaxRounding(rounding) is TaxRounding.PER_LINE:
        units = [[round_units(value, mode) for value in row] for row in exact]
    else:
        units = _per_invoice(lines, exact, mode)
    line_taxes = []
    for line, row in zip(lines, units, strict=True):
        net = line.amount - _money(sum(row), code) if inclusive else line.amount
        taxes = tuple(
            TaxAmount(rate=rate, taxable=net, amount=_money(tax, code))
            for rate, tax in zip(line.treatment.rates, row, strict=True)
        )
        line_taxes.append(LineTax(key=line.key, net=net, taxes=taxes))
    return tuple(line_taxes), _breakdown(lines, line_taxes, code)


def reverse_taxes(
    line: LineTax, credited_net: Money, mode: RoundingMode, *, previously_credited: Money | None = None
) -> tuple[TaxAmount, ...]:
    """The taxes to give back when `credited_net` of `line`'s net is credited.

    Each tax is the line's tax in the proportion credited_net / net, rounded once with `mode`: crediting
    the whole net gives back exactly the line's taxes, and a part never more than the line charged. With
    `previously_credited` (the net of earlier credits of this line), the tax is the difference of the
    cumulative amounts, so credits that add up to the line's net add up to its taxes to the cent.
    """
    code, _ = _currency(line.net.currency)
    before = previously_credited if previously_credited is not None else Money.zero(code)
    for value, name in ((credited_net, "credited_net"), (before, "previously_credited")):
        if value.currency != code:
            raise DomainError("currency_mismatch", f"The line is in {code}, not {value.currency}.", name)
        if not value.is_rounded:
            raise DomainError("not_rounded", f"{value} is not rounded to the currency's minor unit.", name)
    if line.net.amount <= 0:
        raise DomainError("nothing_to_credit", "Only a line with a positive net can be credited.", "line")
    if credited_net.amount <= 0 or before.amount < 0:
        raise DomainError("invalid_credit_amount", "A credited net is positive.", "credited_net")
    if before + credited_net > line.net:
        raise DomainError(
            "credit_exceeds_line",
            f"The line's net is {line.net}; {before} was credited already.",
            "credited_net",
        )
    net = line.net.to_minor_units()
    start, end = before.to_minor_units(), (before + credited_net).to_minor_units()
    result = []
    for tax in line.taxes:
        charged = tax.amount.to_minor_units()
        share = round_units(Fraction(charged * end, net), mode) - round_units(
            Fraction(charged * start, net), mode
        )
        result.append(TaxAmount(rate=tax.rate, taxable=credited_net, amount=_money(share, code)))
    return tuple(result)


def round_units(value: Fraction, mode: RoundingMode) -> int:
    """`value` (minor units) to a whole number with `mode`; exact, since a quotient by 100 + a percent need
    not end and rounding a truncated decimal could misjudge a tie."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest == 0:
        return floor
    ceiling = floor + 1
    away, toward = (ceiling, floor) if value > 0 else (floor, ceiling)
    mode = RoundingMode(mode)
    if mode is RoundingMode.FLOOR:
        return floor
    if mode is RoundingMode.CEILING:
        return ceiling
    if mode is RoundingMode.UP:
        return away
    if mode is RoundingMode.DOWN:
        return toward
    if rest != _HALF:
        return floor if rest < _HALF else ceiling
    if mode is RoundingMode.HALF_UP:
        return away
    if mode is RoundingMode.HALF_DOWN:
        return toward
    return floor if floor % 2 == 0 else ceiling


def settle(exact: Sequence[Fraction], total: int) -> list[int]:
    """Whole shares of `total` close to `exact`: each rounded down, then the units still missing one each
    to the largest remainders, the earlier on a tie. When `total` is a rounding of sum(exact) every share
    is its exact value rounded down or up. Runs on magnitudes when the exact sum is negative, so that
    negating every input negates every share."""
    sign = -1 if sum(exact, Fraction(0)) < 0 else 1
    values = [value * sign for value in exact]
    shares = [value.numerator // value.denominator for value in values]
    left = total * sign - sum(shares)
    order = sorted(range(len(values)), key=lambda i: (shares[i] - values[i], i))
    whole, extra = divmod(left, len(values))  # left is within 0..len(values) when total is a rounding
    for rank, i in enumerate(order):
        shares[i] += whole + (1 if rank < extra else 0)
    return [share * sign for share in shares]


def _per_invoice(
    lines: Sequence[TaxableLine], exact: list[list[Fraction]], mode: RoundingMode
) -> list[list[int]]:
    places: dict[TaxRate, list[tuple[int, int]]] = {}
    for i, line in enumerate(lines):
        for j, rate in enumerate(line.treatment.rates):
            places.setdefault(rate, []).append((i, j))
    units = [[0] * len(row) for row in exact]
    for spots in places.values():
        values = [exact[i][j] for i, j in spots]
        total = round_units(sum(values, Fraction(0)), mode)
        for (i, j), share in zip(spots, settle(values, total), strict=True):
            units[i][j] = share
    return units


def _exact_taxes(line: TaxableLine, scale: int, inclusive: bool) -> list[Fraction]:
    amount = Fraction(line.amount.amount) * scale
    percents = [Fraction(rate.percent) for rate in line.treatment.rates]
    base = amount * 100 / (100 + sum(percents, Fraction(0))) if inclusive else amount
    return [base * percent / 100 for percent in percents]


def _breakdown(
    lines: Sequence[TaxableLine], line_taxes: list[LineTax], code: str
) -> tuple[BreakdownRow, ...]:
    zero = Money.zero(code)
    rows: dict[tuple[str, TaxRate | None], tuple[Money, Money, list[str]]] = {}

    def add(key: tuple[str, TaxRate | None], taxable: Money, amount: Money, note: str | None) -> None:
        base, tax, notes = rows.get(key, (zero, zero, []))
        if note is not None and note not in notes:
            notes.append(note)
        rows[key] = (base + taxable, tax + amount, notes)

    for line, computed in zip(lines, line_taxes, strict=True):
        category, note = line.treatment.code, line.treatment.note
        if not computed.taxes:
            add((category, None), computed.net, zero, note)
        for tax in computed.taxes:
            add((category, tax.rate), tax.taxable, tax.amount, note)
    return tuple(
        BreakdownRow(code=key[0], rate=key[1], taxable=base, amount=tax, note=" ".join(notes) or None)
        for key, (base, tax, notes) in rows.items()
    )


def _check_lines(lines: Sequence[TaxableLine], code: str) -> None:
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.key in seen:
            raise DomainError("duplicate_line_key", f"Two lines have the key {line.key!r}.", f"lines.{i}.key")
        seen.add(line.key)
        if line.amount.currency != code:
            raise DomainError(
                "currency_mismatch",
                f"The invoice is in {code}, the line in {line.amount.currency}.",
                f"lines.{i}.amount",
            )
        if not line.amount.is_rounded:
            raise DomainError("not_rounded", f"{line.amount} is not rounded.", f"lines.{i}.amount")
        if len(set(line.treatment.rates)) != len(line.treatment.rates):
            raise DomainError("duplicate_tax_rate", "A line carries each rate once.", f"lines.{i}.treatment")


def _currency(code: str) -> tuple[str, int]:
    info = currency(code)
    return info.code, 10**info.exponent


def _money(units: int, code: str) -> Money:
    return Money.from_minor_units(units, code)
