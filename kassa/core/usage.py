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
        runs: list[tuple[UsageCharge, list[Part]]] = []  # consecutive slices priced by one charge model
        if whole:
            _, last = pricing[-1]
            own = last.plan.charge(metric.code)
            assert own is not None
            quantity = sum((q.get(group, Decimal(0)) for q in quantities), Decimal(0))
            moves = tuple(t for m in transactions for t in m.get(group, ()))
            runs.append((own, [Part(quantity=quantity, params=own.prices[currency], transactions=moves)]))
        else:
            for i, piece in pricing:
                own = piece.plan.charge(metric.code)
                assert own is not None
                moves = transactions[i].get(group, ()) if transactions else ()
                part = Part(quantity=quantities[i].get(group, Decimal(0)), params=own.prices[currency],
                            transactions=moves)  # fmt: skip
                if runs and _same_terms(runs[-1][0], own):
                    runs[-1] = (own, [*runs[-1][1], part])
                else:
                    runs.append((own, [part]))
        if metric.group_by is not None and not any(p.quantity for _, parts in runs for p in parts):
            continue  # a group with nothing used has no line (its flat fee at zero would be a surprise)
        rated = _across(runs, currency)
        lines.append(UsageLine(metric=metric.code, group=group, charge=charge, rated=rated,
                               amount=Money.rounded(rated.amount, currency, rounding)))  # fmt: skip
    return lines


def _same_terms(a: UsageCharge, b: UsageCharge) -> bool:
    """Slices priced on the same terms are rated together; after a change of model or allowance mid-period
    the new terms price their units on top of those used before (see _across)."""
    return (a.model, a.included, a.flat_fee_at_zero) == (b.model, b.included, b.flat_fee_at_zero)


def _across(runs: Sequence[tuple[UsageCharge, list[Part]]], currency: str) -> Rated:
    """The period's rating across runs of different terms: each run adds what its units cost at its own
    terms on top of the units used before it (so tiers and allowance count over the whole period)."""
    amount = Decimal(0)
    before = Decimal(0)
    moves: tuple[Decimal, ...] = ()
    rated: Rated | None = None
    for index, (own, parts) in enumerate(runs):
        used = any(p.quantity or p.transactions for p in parts)
        if not used and index < len(runs) - 1:
            continue
        if before or moves:
            head = Part(quantity=before, params=own.prices[currency], transactions=moves)
            rated = rate(own, [head, *parts])
            amount += rated.amount - rate(own, [head]).amount
        else:
            rated = rate(own, parts)
            amount += rated.amount
        before += sum((p.quantity for p in parts), Decimal(0))
        moves += tuple(t for p in parts for t in p.transactions)
    assert rated is not None
    return Rated(quantity=before, billable=rated.billable, amount=amount, tier=rated.tier)
