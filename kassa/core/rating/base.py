"""What every charge model receives: a slice of a period's usage.

A period's usage may be priced in parts (a price change in the middle of the period): each part's units
occupy positions [start, end) of the period's total, so tiers count over the whole period while each
unit is priced at the price in force when it was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Slice:
    start: Decimal  # units of the period before this slice
    end: Decimal  # start + this slice's units
    total: Decimal  # the period's units
    last: bool  # the slice that closes the period (volume pricing bills its flat fee there)
    transactions: tuple[Decimal, ...] = ()  # percentage models: each event's amount, in time order
    count_before: int = 0  # percentage models: transactions of the period before this slice
