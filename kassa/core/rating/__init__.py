"""Rating: what usage costs. Pure; one small module per charge model, registered in `MODELS`.

A plan's usage charge (catalog `plans[].charges[]`) names a billable metric, a model, its prices per
currency, and how it bills:
- `included`: units free each period, consumed first (the models price what is left, from zero);
- `flat_fee_at_zero`: whether a tiered charge bills its first tier's flat fee when the period's
  billable usage is zero (Lago and Stripe do; the default here too, so a migrated plan bills the same);
- `timing`: in arrears (at the period's end) or in advance (each usage event is charged as it arrives).

`rate()` prices one period's usage, given in parts (one per price in force during the period), each part
at its own prices with tiers counted over the whole period. Amounts are exact; the caller rounds the line
once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Context, Decimal
from enum import StrEnum
from types import ModuleType
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.rating import graduated, graduated_percentage, package, per_unit, percentage, volume
from kassa.core.rating.base import Slice
from kassa.core.rating.parsing import decimal, fail, obj

ZERO = Decimal(0)
_PRECISION = Context(prec=60)


class ChargeModel(StrEnum):
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    PERCENTAGE = "percentage"
    GRADUATED_PERCENTAGE = "graduated_percentage"


MODELS: dict[ChargeModel, ModuleType] = {
    ChargeModel.PER_UNIT: per_unit,
    ChargeModel.GRADUATED: graduated,
    ChargeModel.VOLUME: volume,
    ChargeModel.PACKAGE: package,
    ChargeModel.PERCENTAGE: percentage,
    ChargeModel.GRADUATED_PERCENTAGE: graduated_percentage,
}
TIERED = frozenset({ChargeModel.GRADUATED, ChargeModel.VOLUME, ChargeModel.GRADUATED_PERCENTAGE})


class ChargeTiming(StrEnum):
    IN_ARREARS = "in_arrears"
    IN_ADVANCE = "in_advance"


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageCharge:
    metric: str
    model: ChargeModel
    prices: Mapping[str, Any]  # currency → the model's Params
    timing: ChargeTiming = ChargeTiming.IN_ARREARS
    included: Decimal = ZERO
    flat_fee_at_zero: bool = True
    description: str | None = None

    @property
    def transactional(self) -> bool:
        """Rated per transaction, so it needs each event's amount, not only the period's total."""
        return self.model is ChargeModel.PERCENTAGE

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "model": self.model.value, "timing": self.timing.value,
            "included": str(self.included), "flat_fee_at_zero": self.flat_fee_at_zero,
            "description": self.description,
            "prices": {code: params.to_json() for code, params in self.prices.items()},
        }  # fmt: skip


def parse_charge(value: Any, path: str, currency_code: Any) -> UsageCharge:
    body = obj(value, path, {"metric", "model", "prices"},
               {"timing", "included", "flat_fee_at_zero", "description"})  # fmt: skip
    metric = body["metric"]
    if not isinstance(metric, str) or not metric:
        raise fail(f"{path}.metric", "Name a billable metric by its code.")
    try:
        model = ChargeModel(body["model"])
    except ValueError:
        names = ", ".join(m.value for m in ChargeModel)
        raise fail(f"{path}.model", f"A charge model is one of {names}.") from None
    try:
        timing = ChargeTiming(body.get("timing", "in_arrears"))
    except ValueError:
        raise fail(f"{path}.timing", "timing is in_arrears or in_advance.") from None
    prices_in = body["prices"]
    if not isinstance(prices_in, dict) or not prices_in:
        raise fail(f"{path}.prices", 'Expected the model\'s prices per currency: {"EUR": {...}}.')
    prices = {}
    for key, item in prices_in.items():
        code = currency_code(key, f"{path}.prices.{key}")
        prices[code] = MODELS[model].parse(item, f"{path}.prices.{key}")
    included = decimal(body.get("included", "0"), f"{path}.included")
    if included and model is ChargeModel.PERCENTAGE:
        raise fail(f"{path}.included", "A percentage charge has its own free_amount and free_transactions.")
    if timing is ChargeTiming.IN_ADVANCE and model is ChargeModel.VOLUME:
        raise fail(
            f"{path}.timing", "A volume price is known only at the period's end: charge it in arrears."
        )
    at_zero = body.get("flat_fee_at_zero", True)
    if not isinstance(at_zero, bool):
        raise fail(f"{path}.flat_fee_at_zero", "Expected true or false.")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 200):
        raise fail(f"{path}.description", "Expected text of at most 200 characters.")
    return UsageCharge(metric=metric, model=model, prices=prices, timing=timing, included=included,
                       flat_fee_at_zero=at_zero, description=description)  # fmt: skip


# ---- rating a period ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """Usage priced at one set of prices (the period's usage while one catalog version was in force)."""

    quantity: Decimal
    params: Any  # the model's Params in the subscription's currency
    transactions: tuple[Decimal, ...] = ()  # percentage: each event's amount, in time order


@dataclass(frozen=True, slots=True, kw_only=True)
class Rated:
    quantity: Decimal  # the period's usage
    billable: Decimal  # after the included units
    amount: Decimal  # exact; rounded once by whoever writes the line
    tier: int | None  # 1-based tier the period reached, for tiered models


def rate(charge: UsageCharge, parts: Sequence[Part]) -> Rated:
    """The period's amount for `parts` in time order (at least one; a period without usage is one part of
    zero units at the prices in force at its end)."""
    if not parts:
        raise ValueError("rate() needs at least one part")
    model = MODELS[charge.model]
    quantity = sum((p.quantity for p in parts), ZERO)
    allowance = charge.included
    total = max(ZERO, quantity - allowance)
    amount = ZERO
    position = ZERO
    count = 0
    for i, part in enumerate(parts):
        free = min(allowance, part.quantity)
        allowance -= free
        units = part.quantity - free
        usage = Slice(start=position, end=position + units, total=total, last=i == len(parts) - 1,
                      transactions=part.transactions, count_before=count)  # fmt: skip
        amount += model.price(part.params, usage)
        position += units
        count += len(part.transactions)
    last = parts[-1].params
    if total == 0 and charge.model in TIERED and charge.flat_fee_at_zero:
        amount += last.tiers[0].flat
    reached = model.tier(last, total)
    return Rated(
        quantity=quantity, billable=total, amount=amount, tier=None if reached is None else reached + 1
    )


def with_more(parts: Sequence[Part], units: Decimal, transaction: Decimal | None = None) -> list[Part]:
    """`parts` with `units` more used now (at the current prices): what advice of charge prices."""
    last = parts[-1]
    extra = (transaction,) if transaction is not None else ()
    return [
        *parts[:-1],
        replace(last, quantity=last.quantity + units, transactions=last.transactions + extra),
    ]


def increment(
    charge: UsageCharge, parts: Sequence[Part], units: Decimal, transaction: Decimal | None = None
) -> Decimal:
    """What `units` more cost now, given the usage in `parts` (tiers reached, allowance used): advice of
    charge, and the amount an in-advance event is charged."""
    return rate(charge, with_more(parts, units, transaction)).amount - rate(charge, parts).amount


def forecast(quantity: Decimal, elapsed: timedelta, length: timedelta, *, additive: bool) -> Decimal:
    """The period's quantity if usage goes on at its pace so far (additive metrics); a level or a distinct
    count is forecast to stay where it is."""
    if not additive or elapsed <= timedelta(0) or elapsed >= length:
        return quantity
    return _PRECISION.divide(_PRECISION.multiply(quantity, _micro(length)), _micro(elapsed))


def _micro(span: timedelta) -> Decimal:
    return Decimal(span // timedelta(microseconds=1))


def minimum_true_up(minimum: Decimal, charged: Decimal, *, part_days: int, period_days: int) -> Decimal:
    """The line that lifts the period's usage charges (rounded, before discounts) to the plan's minimum
    spend, prorated by days when the subscription covers only part of the period."""
    if period_days <= 0 or part_days <= 0:
        raise DomainError("invalid_period", "A minimum spend needs a period of at least one day.")
    owed = _PRECISION.divide(_PRECISION.multiply(minimum, part_days), period_days)
    return max(ZERO, owed - charged)
