"""Customers likely to churn: three signals — declining usage, failed payments, downgrades — scored and
explained. Pure: the store measures the signals with set-based queries, this module weighs them.

The thresholds and points are documented in docs/recurring-revenue.md ("Churn risk"); they are a
starting point a tenant can read and argue with, not a trained model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from kassa.core.money import Money
from kassa.core.recurring_revenue import percent
from kassa.core.reports import Report, Value

USAGE_WINDOW_DAYS = 30  # the last 30 days against the 30 days before them
USAGE_DECLINE_BELOW = Fraction(1, 2)  # declining: the last window used less than 50 % of the one before
FAILED_PAYMENT_DAYS = 60
DOWNGRADE_DAYS = 90  # MRR today against MRR 90 days ago

POINTS_USAGE_STOPPED = 35
POINTS_USAGE_DECLINING = 25
POINTS_PER_FAILED_PAYMENT = 10
MAX_POINTS_FAILED_PAYMENTS = 30
POINTS_IN_DUNNING = 25
POINTS_DOWNGRADE = 20
POINTS_DOWNGRADE_HALF = 30  # lost at least half of its MRR
HIGH, MEDIUM = 60, 30  # level thresholds on the 0-100 score

MAX_LIMIT = 1000


class Signal(StrEnum):
    USAGE_STOPPED = "usage_stopped"
    USAGE_DECLINING = "usage_declining"
    FAILED_PAYMENTS = "failed_payments"
    IN_DUNNING = "in_dunning"
    DOWNGRADED = "downgraded"


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageTrend:
    """A metric's usage quantity (the sum of its events' values; the number of events for metrics that
    count) in the window before and the last window."""

    metric: str
    before: Decimal
    recent: Decimal

    @property
    def change_pct(self) -> Decimal | None:
        return percent(Fraction(self.recent - self.before), Fraction(self.before))


@dataclass(frozen=True, slots=True, kw_only=True)
class MrrChange:
    before: Money  # MRR DOWNGRADE_DAYS ago
    now: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """What the store measured for one customer."""

    customer_id: str
    usage: tuple[UsageTrend, ...] = ()
    failed_payments: int = 0  # failed payment attempts in the last FAILED_PAYMENT_DAYS
    invoices_in_dunning: int = 0  # open invoices with a failed attempt or past their due date
    mrr: tuple[MrrChange, ...] = ()  # one per currency the customer has MRR in


@dataclass(frozen=True, slots=True, kw_only=True)
class Risk:
    customer_id: str
    score: int  # 0..100
    level: str  # high, medium, low
    signals: tuple[Signal, ...]
    reasons: tuple[str, ...]  # one sentence per signal, with its figures
    worst_usage: UsageTrend | None
    failed_payments: int
    invoices_in_dunning: int
    mrr: MrrChange | None


def declining(trend: UsageTrend) -> bool:
    """The last window used less than USAGE_DECLINE_BELOW of the window before."""
    return trend.before > 0 and Fraction(trend.recent) < USAGE_DECLINE_BELOW * Fraction(trend.before)


def assess(signals: Signals) -> Risk | None:
    """The customer's score and reasons; None when no signal fires."""
    fired: list[Signal] = []
    reasons: list[str] = []
    score = 0
    falling = sorted((t for t in signals.usage if declining(t)),
                       key=lambda t: (Fraction(t.recent) / Fraction(t.before), t.metric))  # fmt: skip
    worst = falling[0] if falling else None
    if worst is not None:
        stopped = worst.recent <= 0
        fired.append(Signal.USAGE_STOPPED if stopped else Signal.USAGE_DECLINING)
        score += POINTS_USAGE_STOPPED if stopped else POINTS_USAGE_DECLINING
        for t in falling:
            reasons.append(f"usage of {t.metric} {'stopped' if t.recent <= 0 else 'fell'}: {_number(t.recent)} in "
                           f"the last {USAGE_WINDOW_DAYS} days against {_number(t.before)} in the "
                           f"{USAGE_WINDOW_DAYS} before ({t.change_pct} %)")  # fmt: skip
    if signals.failed_payments > 0:
        fired.append(Signal.FAILED_PAYMENTS)
        score += min(MAX_POINTS_FAILED_PAYMENTS, POINTS_PER_FAILED_PAYMENT * signals.failed_payments)
        reasons.append(f"{signals.failed_payments} failed payment attempt{'s' if signals.failed_payments > 1 else ''}"
                       f" in the last {FAILED_PAYMENT_DAYS} days")  # fmt: skip
    if signals.invoices_in_dunning > 0:
        fired.append(Signal.IN_DUNNING)
        score += POINTS_IN_DUNNING
        n = signals.invoices_in_dunning
        reasons.append(f"{n} invoice{'s' if n > 1 else ''} in dunning")
    downgrades = [m for m in signals.mrr if 0 < m.now.amount < m.before.amount]
    if downgrades:
        fired.append(Signal.DOWNGRADED)
        half = any(m.now.amount * 2 <= m.before.amount for m in downgrades)
        score += POINTS_DOWNGRADE_HALF if half else POINTS_DOWNGRADE
        for m in downgrades:
            reasons.append(f"MRR down from {m.before} to {m.now} in the last {DOWNGRADE_DAYS} days")
    if not fired:
        return None
    score = min(score, 100)
    shown = downgrades[0] if downgrades else next(iter(signals.mrr), None)
    return Risk(customer_id=signals.customer_id, score=score, level=_level(score), signals=tuple(fired),
                reasons=tuple(reasons), worst_usage=worst, failed_payments=signals.failed_payments,
                invoices_in_dunning=signals.invoices_in_dunning, mrr=shown)  # fmt: skip


def _level(score: int) -> str:
    return "high" if score >= HIGH else "medium" if score >= MEDIUM else "low"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def rank(signals: Iterable[Signals], limit: int) -> list[Risk]:
    """The customers with a signal, highest score first (ties: by customer id), at most `limit`."""
    risks = [r for r in (assess(s) for s in signals) if r is not None]
    risks.sort(key=lambda r: (-r.score, r.customer_id))
    return risks[:limit]


COLUMNS = (
    "customer_id", "customer_name", "score", "level", "signals", "currency", "mrr", "mrr_change", "usage_metric",
    "usage_change_pct", "failed_payments", "invoices_in_dunning", "reasons",
)  # fmt: skip

NOTES = (
    f"usage_declining: a metric's quantity in the last {USAGE_WINDOW_DAYS} days is below 50 % of the "
    f"{USAGE_WINDOW_DAYS} days before ({POINTS_USAGE_DECLINING} points; {POINTS_USAGE_STOPPED} when it fell to 0).",
    f"failed_payments: failed attempts in the last {FAILED_PAYMENT_DAYS} days ({POINTS_PER_FAILED_PAYMENT} "
    f"points each, at most {MAX_POINTS_FAILED_PAYMENTS}); in_dunning: open invoices with a failed attempt or past "
    f"due ({POINTS_IN_DUNNING} points).",
    f"downgraded: MRR today below MRR {DOWNGRADE_DAYS} days ago but above 0 ({POINTS_DOWNGRADE} points; "
    f"{POINTS_DOWNGRADE_HALF} when it lost half or more).",
    f"score = the points, at most 100; level high >= {HIGH}, medium >= {MEDIUM}, else low.",
)  # fmt: skip


def report(risks: Sequence[Risk], names: dict[str, str]) -> Report:
    rows: list[dict[str, Value]] = []
    for r in risks:
        rows.append({
            "customer_id": r.customer_id, "customer_name": names.get(r.customer_id), "score": r.score,
            "level": r.level, "signals": " ".join(r.signals),
            "currency": r.mrr.now.currency if r.mrr else None, "mrr": r.mrr.now if r.mrr else None,
            "mrr_change": (r.mrr.now - r.mrr.before) if r.mrr else None,
            "usage_metric": r.worst_usage.metric if r.worst_usage else None,
            "usage_change_pct": r.worst_usage.change_pct if r.worst_usage else None,
            "failed_payments": r.failed_payments, "invoices_in_dunning": r.invoices_in_dunning,
            "reasons": "; ".join(r.reasons),
        })  # fmt: skip
    levels = [r.level for r in risks]
    summary: dict[str, Value] = {"customers": len(risks), "high": levels.count("high"),
                                 "medium": levels.count("medium"), "low": levels.count("low")}  # fmt: skip
    return Report(name="churn_risk", columns=COLUMNS, rows=tuple(rows), currency=None, notes=NOTES,
                  summary=summary)  # fmt: skip
