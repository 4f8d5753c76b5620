"""Churn risk (kassa.core.churn_risk): which signals fire, the points each adds, the level, the reasons, and
the order of the list. Thresholds: usage below 50 % of the 30 days before, failed attempts in 60 days,
invoices in dunning, MRR below its level 90 days ago."""

from __future__ import annotations

from decimal import Decimal

from kassa.core.churn_risk import MrrChange, Signal, Signals, UsageTrend, assess, rank, report
from kassa.core.money import Money
from kassa.core.reports import Report, to_csv, to_json


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def usage(metric: str, before: str, recent: str) -> UsageTrend:
    return UsageTrend(metric=metric, before=Decimal(before), recent=Decimal(recent))


def test_no_signal_no_risk() -> None:
    """Steady usage (exactly 50 % is not below 50 %), no failures, MRR up: not listed."""
    signals = Signals(customer_id="c", usage=(usage("api_calls", "1000", "500"), usage("new", "0", "10")),
                      mrr=(MrrChange(before=eur("100.00"), now=eur("120.00")),))  # fmt: skip
    assert assess(signals) is None


def test_declining_usage() -> None:
    """Usage below half of the window before: 25 points, low; the reason names the metric and figures."""
    risk = assess(Signals(customer_id="c", usage=(usage("api_calls", "1000", "499"),)))
    assert risk is not None
    assert (risk.score, risk.level, risk.signals) == (25, "low", (Signal.USAGE_DECLINING,))
    assert risk.reasons == ("usage of api_calls fell: 499 in the last 30 days against 1000 in the 30 before "
                            "(-50.10 %)",)  # fmt: skip


def test_stopped_usage_counts_more_and_once() -> None:
    """Usage that fell to zero is 35 points; several declining metrics still count once (the worst)."""
    risk = assess(Signals(customer_id="c", usage=(usage("seats", "10", "4"), usage("api_calls", "2.5", "0"))))
    assert risk is not None
    assert (risk.score, risk.signals) == (35, (Signal.USAGE_STOPPED,))
    assert risk.worst_usage == usage("api_calls", "2.5", "0")
    assert len(risk.reasons) == 2


def test_failed_payments_and_dunning() -> None:
    """10 points per failed attempt, at most 30; 25 for invoices in dunning: 4 failures + dunning = 55, medium."""
    risk = assess(Signals(customer_id="c", failed_payments=4, invoices_in_dunning=2))
    assert risk is not None
    assert (risk.score, risk.level) == (55, "medium")
    assert risk.reasons == ("4 failed payment attempts in the last 60 days", "2 invoices in dunning")
    one = assess(Signals(customer_id="c", failed_payments=1))
    assert one is not None and (one.score, one.reasons) == (
        10,
        ("1 failed payment attempt in the last 60 days",),
    )


def test_downgrade() -> None:
    """MRR below its level 90 days ago but above 0: 20 points, 30 when it lost half or more; a customer
    who churned (MRR 0) is not a downgrade."""
    small = assess(Signals(customer_id="c", mrr=(MrrChange(before=eur("100.00"), now=eur("80.00")),)))
    half = assess(Signals(customer_id="c", mrr=(MrrChange(before=eur("100.00"), now=eur("50.00")),)))
    gone = assess(Signals(customer_id="c", mrr=(MrrChange(before=eur("100.00"), now=eur("0.00")),)))
    assert small is not None and half is not None and gone is None
    assert (small.score, half.score) == (20, 30)
    assert small.reasons == ("MRR down from 100.00 EUR to 80.00 EUR in the last 90 days",)


def test_everything_at_once_is_capped_at_100() -> None:
    """35 + 30 + 25 + 30 = 120 points: the score is capped at 100, high."""
    risk = assess(Signals(customer_id="c", usage=(usage("m", "5", "0"),), failed_payments=5, invoices_in_dunning=1,
                          mrr=(MrrChange(before=eur("100.00"), now=eur("10.00")),)))  # fmt: skip
    assert risk is not None
    assert (risk.score, risk.level) == (100, "high")
    assert risk.signals == (
        Signal.USAGE_STOPPED,
        Signal.FAILED_PAYMENTS,
        Signal.IN_DUNNING,
        Signal.DOWNGRADED,
    )


def test_rank_and_report() -> None:
    """Highest score first, ties by customer id, cut at the limit; the report row carries the figures."""
    signals = [
        Signals(customer_id="b", failed_payments=1),
        Signals(customer_id="a", failed_payments=1),
        Signals(
            customer_id="z", invoices_in_dunning=1, mrr=(MrrChange(before=eur("90.00"), now=eur("60.00")),)
        ),
        Signals(customer_id="quiet"),
    ]
    risks = rank(signals, 2)
    assert [(r.customer_id, r.score) for r in risks] == [("z", 45), ("a", 10)]
    doc = to_json(report(risks, {"z": "Zeta GmbH"}))
    assert doc["rows"][0] | {"reasons": None} == {
        "customer_id": "z", "customer_name": "Zeta GmbH", "score": 45, "level": "medium",
        "signals": "in_dunning downgraded", "currency": "EUR", "mrr": {"amount": "60.00", "currency": "EUR"},
        "mrr_change": {"amount": "-30.00", "currency": "EUR"}, "usage_metric": None, "usage_change_pct": None,
        "failed_payments": 0, "invoices_in_dunning": 1, "reasons": None,
    }  # fmt: skip
    assert doc["summary"] == {"customers": 2, "high": 0, "medium": 1, "low": 1}
    assert to_csv(report(risks, {})).splitlines()[2] == (
        "a,,10,low,failed_payments,,,,,,1,0,1 failed payment attempt in the last 60 days"
    )


def test_text_in_a_csv_cell_cannot_start_a_formula() -> None:
    """Issue 8 (review): a name typed by a customer is defused in report CSVs as in the exports: a cell
    starting with = + - @ gets an apostrophe; amounts and numbers are written as they are."""
    report = Report(name="x", columns=("customer", "amount", "note"),
                    rows=({"customer": '=HYPERLINK("http://evil","x")', "amount": Money(Decimal("-1.50"), "EUR"),
                           "note": "@SUM(1+1)"},), currency="EUR")  # fmt: skip
    assert to_csv(report).splitlines()[1] == '"\'=HYPERLINK(""http://evil"",""x"")",-1.50,\'@SUM(1+1)'
