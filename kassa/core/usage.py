"""A subscription's usage period and its priced lines.

Usage is billed per billing period of the subscription's grid, in arrears. The period is cut into price
slices, one per timeline segment inside it: a slice carries the plan (at the catalog version in force)
and whether usage in it is billable — usage during a trial or a pause is free. Additive usage (count, sum,
weighted sum) is measured per slice and each slice's units are priced at its prices, tiers counted over
the period; a level, a maximum or a distinct count is measured over the whole period and priced at the
prices in force at the period's end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from kassa.core.billing_schedule import Timeline
from kassa.core.catalog import Plan
from kassa.core.metering import BillableMetric
from kassa.core.money import Money, RoundingMode
from kassa.core.periods import days
from kassa.core.rating import Part, Rated, UsageCharge, rate
from kassa.core.subscriptions import Status


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceSlice:
    start: date
    end: date  # exclusive
    plan: Plan
    version: int
    billable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class UsagePeriod:
    start: date  # the billing period, clipped to the subscription's life
    end: date
    slices: tuple[PriceSlice, ...]
    full_days: int  # of the whole billing period: a minimum spend is prorated by days(start, end) / this

    def charges(self) -> dict[str, UsageCharge]:
        """Each metric's charge as priced at the period's end (the last slice that prices it)."""
        out: dict[str, UsageCharge] = {}
        for piece in self.slices:
            for charge in piece.plan.charges:
                out[charge.metric] = charge
        return out

    @property
    def plan(self) -> Plan:
        return self.slices[-1].plan


def usage_period(tl: Timeline, day: date) -> UsagePeriod | None:
    """The usage period that contains `day`, or None when the subscription is not live that day."""
    segment = tl.on(day)
    if segment is None or (tl.end is not None and day >= tl.end):
        return None
    start, end = segment.grid.enclosing(day)
    full_days = days(start, end)
    index = tl.segments.index(segment)
    first = index
    while first > 0 and tl.segments[first - 1].grid == segment.grid and tl.segments[first - 1].end > start:
        first -= 1
    start = max(start, tl.segments[first].start)
    if tl.end is not None:
        end = min(end, tl.end)
    slices = []
    for piece in tl.segments[first:]:
        if piece.start >= end or piece.grid != segment.grid:
            break
        slices.append(PriceSlice(start=max(piece.start, start), end=min(piece.end, end), plan=piece.plan,
                                 version=piece.version, billable=piece.status is Status.ACTIVE))  # fmt: skip
    end = min(end, slices[-1].end)
    return UsagePeriod(start=start, end=end, slices=tuple(slices), full_days=full_days)


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageLine:
    metric: str
    group: str  # "" when the metric is not grouped
    charge: UsageCharge
    rated: Rated
    amount: Money  # rated.amount rounded once


def price_usage(
    period: UsagePeriod,
    metric: BillableMetric,
    quantities: Sequence[Mapping[str, Decimal]],
    currency: str,
    rounding: RoundingMode,
    transactions: Sequence[Mapping[str, tuple[Decimal, ...]]] = (),
) -> list[UsageLine]:
    """The lines for one metric. `quantities` holds each slice's quantity per group for additive metrics,
    or a single mapping for the whole period otherwise; `transactions` the same shape, for percentage
    charges."""
    charge = period.charges().get(metric.code)
    if charge is None:
        return []
    pricing = [(i, s) for i, s in enumerate(period.slices) if s.billable and s.plan.charge(metric.code)]
    if not pricing:
        return []
    whole = not metric.aggregation.additive
    groups = sorted({g for q in quantities for g in q})
    if not groups and metric.group_by is None:
        groups = [""]
    lines = []
    for group in groups:
        parts: list[Part] = []
        if whole:
            _, last = pricing[-1]
            own = last.plan.charge(metric.code)
            assert own is not None
            quantity = sum((q.get(group, Decimal(0)) for q in quantities), Decimal(0))
            moves = tuple(t for m in transactions for t in m.get(group, ()))
            parts.append(Part(quantity=quantity, params=own.prices[currency], transactions=moves))
        else:
            for i, piece in pricing:
                own = piece.plan.charge(metric.code)
                assert own is not None
                moves = transactions[i].get(group, ()) if transactions else ()
                parts.append(Part(quantity=quantities[i].get(group, Decimal(0)), params=own.prices[currency],
                                  transactions=moves))  # fmt: skip
        rated = rate(charge, parts)
        lines.append(UsageLine(metric=metric.code, group=group, charge=charge, rated=rated,
                               amount=Money.rounded(rated.amount, currency, rounding)))  # fmt: skip
    return lines
