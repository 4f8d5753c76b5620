"""Per unit: every unit at one price. {unit: "0.002"}"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kassa.core.rating.base import Slice
from kassa.core.rating.parsing import decimal, obj


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    unit: Decimal

    def to_json(self) -> dict[str, Any]:
        return {"unit": str(self.unit)}


def parse(value: Any, path: str) -> Params:
    body = obj(value, path, {"unit"}, set())
    return Params(unit=decimal(body["unit"], f"{path}.unit"))


def price(params: Params, usage: Slice) -> Decimal:
    return (usage.end - usage.start) * params.unit


def tier(params: Params, total: Decimal) -> int | None:
    return None
