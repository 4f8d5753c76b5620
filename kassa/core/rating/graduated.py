"""Graduated tiers: each tier's units at that tier's price, plus the flat fee of each tier reached.
{tiers: [{up_to: "1000", unit: "0", flat: "0"}, {up_to: null, unit: "0.001"}]}"""

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
    return tiering.graduated_cost(params.tiers, usage.end) - tiering.graduated_cost(params.tiers, usage.start)


def tier(params: Params, total: Decimal) -> int | None:
    return tiering.index(params.tiers, total)
