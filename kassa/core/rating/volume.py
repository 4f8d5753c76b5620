"""Volume tiers: the period's total decides one tier, and every unit is billed at that tier's price,
plus that tier's flat fee once. {tiers: [{up_to: "100", unit: "1.00"}, {up_to: null, unit: "0.80"}]}

Across a price change in the middle of the period each part's units are billed at its own prices for the
tier the period's total reached; the flat fee at the prices that close the period."""

from __future__ import annotations

from decimal import Decimal

from kassa.core.rating import tiers as tiering
from kassa.core.rating.base import Slice

Params = tiering.UnitTiers
parse = tiering.parse_unit_tiers


def price(params: Params, usage: Slice) -> Decimal:
    reached = params.tiers[tiering.index(params.tiers, usage.total)]
    flat = reached.flat if usage.last and usage.total > 0 else Decimal(0)
    return (usage.end - usage.start) * reached.unit + flat


def tier(params: Params, total: Decimal) -> int | None:
    return tiering.index(params.tiers, total)
