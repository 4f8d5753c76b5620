"""Percentage: a rate of each transaction's amount (the metric sums the amounts), plus a fixed fee per
transaction, each transaction's fee kept between a minimum and a maximum.
{rate: "2.9", fixed_fee: "0.30", min_per_transaction: "0.50", max_per_transaction: "20.00",
 free_transactions: 10, free_amount: "1000"}

Free allowances are consumed in time order over the whole period: the first `free_transactions`
transactions pay no fixed fee, and the first `free_amount` of amount carries no rate. A transaction that
owes nothing after its allowances stays free; one that owes something pays at least the minimum and at
most the maximum."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kassa.core.rating.base import Slice
from kassa.core.rating.parsing import decimal, fail, obj, percent, whole

ZERO = Decimal(0)
HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True, slots=True, kw_only=True)
class Params:
    rate: Decimal  # percent
    fixed_fee: Decimal = ZERO
    min_per_transaction: Decimal | None = None
    max_per_transaction: Decimal | None = None
    free_transactions: int = 0
    free_amount: Decimal = ZERO

    def to_json(self) -> dict[str, Any]:
        return {
            "rate": str(self.rate), "fixed_fee": str(self.fixed_fee),
            "min_per_transaction": None if self.min_per_transaction is None else str(self.min_per_transaction),
            "max_per_transaction": None if self.max_per_transaction is None else str(self.max_per_transaction),
            "free_transactions": self.free_transactions, "free_amount": str(self.free_amount),
        }  # fmt: skip


def parse(value: Any, path: str) -> Params:
    body = obj(value, path, {"rate"}, {"fixed_fee", "min_per_transaction", "max_per_transaction",
                                       "free_transactions", "free_amount"})  # fmt: skip
    low = body.get("min_per_transaction")
    high = body.get("max_per_transaction")
    params = Params(
        rate=percent(body["rate"], f"{path}.rate"),
        fixed_fee=decimal(body.get("fixed_fee", "0"), f"{path}.fixed_fee"),
        min_per_transaction=None if low is None else decimal(low, f"{path}.min_per_transaction"),
        max_per_transaction=None if high is None else decimal(high, f"{path}.max_per_transaction"),
        free_transactions=whole(body.get("free_transactions", 0), f"{path}.free_transactions"),
        free_amount=decimal(body.get("free_amount", "0"), f"{path}.free_amount"),
    )
    low_fee, high_fee = params.min_per_transaction, params.max_per_transaction
    if low_fee is not None and high_fee is not None and low_fee > high_fee:
        raise fail(f"{path}.max_per_transaction", "The maximum is not below the minimum.")
    return params


def price(params: Params, usage: Slice) -> Decimal:
    position = usage.start  # amount of the period before this transaction
    total = ZERO
    for offset, amount in enumerate(usage.transactions):
        number = usage.count_before + offset  # 0-based, over the period
        chargeable = max(ZERO, position + amount - max(position, params.free_amount))
        chargeable = min(chargeable, amount)
        fee = chargeable * params.rate * HUNDREDTH
        if number >= params.free_transactions:
            fee += params.fixed_fee
        if fee > 0:
            if params.min_per_transaction is not None:
                fee = max(fee, params.min_per_transaction)
            if params.max_per_transaction is not None:
                fee = min(fee, params.max_per_transaction)
        total += fee
        position += amount
    return total


def tier(params: Params, total: Decimal) -> int | None:
    return None
