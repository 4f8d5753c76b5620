"""Exchange rates for reporting: a book of daily reference rates and conversion into the reporting
currency at the latest rate on or before a day (the rate's date is reported with the figure).

Rates are stored as published: 1 `base` = `rate` × `currency` (the ECB publishes EUR-based rates). A
conversion between two quoted currencies crosses through the base.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode
from kassa.core.reports import RateUsed


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeRate:
    base: str
    currency: str
    day: date
    rate: Decimal  # 1 base = rate × currency; > 0


@dataclass(slots=True)
class RateBook:
    """Every rate a tenant imported, searchable by day."""

    rates: Iterable[ExchangeRate] = ()
    _days: dict[tuple[str, str], list[date]] = field(default_factory=dict, init=False)
    _values: dict[tuple[str, str], list[Decimal]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for r in sorted(self.rates, key=lambda r: r.day):
            self._days.setdefault((r.base, r.currency), []).append(r.day)
            self._values.setdefault((r.base, r.currency), []).append(r.rate)

    def _quote(self, base: str, currency: str, on: date) -> tuple[Decimal, date] | None:
        days = self._days.get((base, currency))
        if not days:
            return None
        i = bisect.bisect_right(days, on) - 1
        return None if i < 0 else (self._values[(base, currency)][i], days[i])

    def rate(self, currency: str, to: str, on: date) -> RateUsed:
        """1 `currency` = rate × `to`, from the latest rates on or before `on`."""
        if currency == to:
            return RateUsed(currency=currency, rate=Decimal(1), day=on)
        bases = {b for b, _ in self._days}
        for base in sorted(bases):
            direct = self._quote(base, to, on) if currency == base else None
            if direct:
                return RateUsed(currency=currency, rate=direct[0], day=direct[1])
            inverse = self._quote(base, currency, on) if to == base else None
            if inverse:
                return RateUsed(currency=currency, rate=Decimal(1) / inverse[0], day=inverse[1])
            a, b = self._quote(base, currency, on), self._quote(base, to, on)
            if a and b:
                return RateUsed(currency=currency, rate=b[0] / a[0], day=min(a[1], b[1]))
        raise DomainError(
            "missing_exchange_rate",
            f"No exchange rate from {currency} to {to} on or before {on.isoformat()}: import rates first.",
            "currency",
        )

    def convert(
        self, money: Money, to: str, on: date, rounding: RoundingMode = RoundingMode.HALF_UP
    ) -> tuple[Money, RateUsed]:
        used = self.rate(money.currency, to, on)
        return Money.rounded(money.amount * used.rate, to, rounding), used
