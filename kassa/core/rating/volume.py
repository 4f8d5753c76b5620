"""Volume tiers: the period's total decides one tier, and every unit is billed at that tier's price,
plus that tier's flat fee once. {tiers: [{up_to: "100", unit: "1.00"}, {up_to: null, unit: "0.80"}]}

Across a price change in the middle of the period each part's units are billed at its own prices for the
tier the period's total reached; the flat fee at the prices that close the period."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kassa.core.rating import tiers as tiering
from kassa.core.rating.base import Slice
from kassa.core.rating.parsing import decimal, obj


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    tiers: tuple[tiering.Tier, ...]

    def to_json(self) -> dict[str, Any]:
        return {"tiers": [t.to_json("unit") for t in self.tiers]}


def parse(value: Any, path: str) -> Params:
    body = obj(value, path, {"tiers"}, set())
    return Params(tiers=tiering.parse_tiers(body["tiers"], f"{path}.tiers", "unit", decimal))


def price(params: Params, usage: Slice) -> Decimal:
    reached = params.tiers[tiering.index(params.tiers, usage.total)]
    flat = reached.flat if usage.last and usage.total > 0 else Decimal(0)
    return (usage.end - usage.start) * reached.unit + flat


def tier(params: Params, total: Decimal) -> int | None:
    return tiering.index(params.tiers, total)
