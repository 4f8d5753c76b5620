"""Graduated percentage: a rate per tier of the period's amount, plus each reached tier's flat fee.
{tiers: [{up_to: "10000", rate: "3"}, {up_to: null, rate: "2", flat: "0.50"}]} — rates in percent."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kassa.core.rating import tiers as tiering
from kassa.core.rating.base import Slice
from kassa.core.rating.parsing import decimal, obj, percent

HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    tiers: tuple[tiering.Tier, ...]  # `unit` holds the rate in percent

    def to_json(self) -> dict[str, Any]:
        return {"tiers": [{**t.to_json("rate"), "rate": str(t.unit)} for t in self.tiers]}


def parse(value: Any, path: str) -> Params:
    body = obj(value, path, {"tiers"}, set())
    tiers = tiering.parse_tiers(body["tiers"], f"{path}.tiers", "rate", decimal)
    for i, item in enumerate(tiers):
        percent(str(item.unit), f"{path}.tiers.{i}.rate")
    return Params(tiers=tiers)


def price(params: Params, usage: Slice) -> Decimal:
    cost = tiering.graduated_cost
    return cost(params.tiers, usage.end, HUNDREDTH) - cost(params.tiers, usage.start, HUNDREDTH)


def tier(params: Params, total: Decimal) -> int | None:
    return tiering.index(params.tiers, total)
