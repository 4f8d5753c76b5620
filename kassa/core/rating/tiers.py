"""Tiers shared by the tiered models: `up_to` is inclusive (units 1–1000 are the first tier of
`up_to: 1000`) and the last tier is open (`up_to: null`). Units may be fractional: a tier holds the
quantity between the previous bound and its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kassa.core.rating.parsing import decimal, fail, listed, obj

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    up_to: Decimal | None  # inclusive; None: no upper bound
    unit: Decimal  # price per unit, or a percentage rate in the percentage models
    flat: Decimal = ZERO  # billed once the tier is reached

    def to_json(self, unit_name: str) -> dict[str, Any]:
        return {"up_to": None if self.up_to is None else str(self.up_to), unit_name: str(self.unit),
                "flat": str(self.flat)}  # fmt: skip


def parse_tiers(
    value: Any, path: str, unit_name: str, amount: Callable[[Any, str], Decimal]
) -> tuple[Tier, ...]:
    items = listed(value, path, limit=100)
    tiers = []
    previous = ZERO
    for i, item in enumerate(items):
        where = f"{path}.{i}"
        body = obj(item, where, {"up_to", unit_name}, {"flat"})
        last = i == len(items) - 1
        bound = body["up_to"]
        if bound is None:
            if not last:
                raise fail(f"{where}.up_to", "Only the last tier is open-ended (up_to: null).")
            up_to = None
        else:
            up_to = decimal(bound, f"{where}.up_to")
            if up_to <= previous:
                raise fail(f"{where}.up_to", "Tier bounds rise: each up_to is above the previous one.")
            previous = up_to
        if last and up_to is not None:
            raise fail(f"{where}.up_to", "The last tier is open-ended: up_to is null.")
        tiers.append(Tier(up_to=up_to, unit=amount(body[unit_name], f"{where}.{unit_name}"),
                          flat=amount(body.get("flat", "0"), f"{where}.flat")))  # fmt: skip
    return tuple(tiers)


def spans(tiers: Sequence[Tier]) -> list[tuple[Decimal, Decimal | None, Tier]]:
    """(lower, upper, tier) for each tier: the tier holds the quantity in (lower, upper]."""
    out = []
    lower = ZERO
    for tier in tiers:
        out.append((lower, tier.up_to, tier))
        lower = tier.up_to if tier.up_to is not None else lower
    return out


def index(tiers: Sequence[Tier], total: Decimal) -> int:
    """The 0-based tier that `total` falls in (0 for zero usage)."""
    for i, (_, upper, _) in enumerate(spans(tiers)):
        if upper is None or total <= upper:
            return i
    return len(tiers) - 1


def graduated_cost(tiers: Sequence[Tier], quantity: Decimal, scale: Decimal = Decimal(1)) -> Decimal:
    """Each tier's units at its own price (× scale), plus the flat fee of every tier reached."""
    cost = ZERO
    for lower, upper, tier in spans(tiers):
        if quantity <= lower:
            break
        inside = (quantity if upper is None else min(quantity, upper)) - lower
        cost += inside * tier.unit * scale + tier.flat
    return cost


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitTiers:
    """The prices of the tiered per-unit models (graduated, volume): {tiers: [{up_to, unit, flat?}]}."""

    tiers: tuple[Tier, ...]

    def to_json(self) -> dict[str, Any]:
        return {"tiers": [t.to_json("unit") for t in self.tiers]}


def parse_unit_tiers(value: Any, path: str) -> UnitTiers:
    body = obj(value, path, {"tiers"}, set())
    return UnitTiers(tiers=parse_tiers(body["tiers"], f"{path}.tiers", "unit", decimal))
