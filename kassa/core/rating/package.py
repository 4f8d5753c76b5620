"""Package: a price per started package of N units, after free units.
{size: 1000, price: "5.00", free_units: 100} — 1,250 units: 1,150 billable, 2 packages, 10.00."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from kassa.core.rating.base import Slice
from kassa.core.rating.parsing import decimal, obj


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    size: Decimal
    price: Decimal
    free_units: Decimal = Decimal(0)

    def to_json(self) -> dict[str, Any]:
        return {"size": str(self.size), "price": str(self.price), "free_units": str(self.free_units)}


def parse(value: Any, path: str) -> Params:
    body = obj(value, path, {"size", "price"}, {"free_units"})
    return Params(size=decimal(body["size"], f"{path}.size", positive=True),
                  price=decimal(body["price"], f"{path}.price"),
                  free_units=decimal(body.get("free_units", "0"), f"{path}.free_units"))  # fmt: skip


def _cost(params: Params, quantity: Decimal) -> Decimal:
    billable = max(Decimal(0), quantity - params.free_units)
    return (billable / params.size).to_integral_value(ROUND_CEILING) * params.price


def price(params: Params, usage: Slice) -> Decimal:
    return _cost(params, usage.end) - _cost(params, usage.start)


def tier(params: Params, total: Decimal) -> int | None:
    return None
