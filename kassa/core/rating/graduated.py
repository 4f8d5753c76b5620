"""Graduated tiers: each tier's units at that tier's price, plus the flat fee of each tier reached.
{tiers: [{up_to: "1000", unit: "0", flat: "0"}, {up_to: null, unit: "0.001"}]}"""

from __future__ import annotations

from decimal import Decimal

from kassa.core.rating import tiers as tiering
from kassa.core.rating.base import Slice

Params = tiering.UnitTiers
parse = tiering.parse_unit_tiers


def price(params: Params, usage: Slice) -> Decimal:
    return tiering.graduated_cost(params.tiers, usage.end) - tiering.graduated_cost(params.tiers, usage.start)


def tier(params: Params, total: Decimal) -> int | None:
    return tiering.index(params.tiers, total)
