"""Issue 4: worked examples of the billing schedule, hand-computed from the rules before running the code.

The rules: proration by whole local days over half-open periods [start, end); a part of a period costs
price × days(part) ÷ days(enclosing billing period); a change on day D gives [period start, D) to the old
terms and [D, period end) to the new; the credit for an in-advance line already billed is that line's
amount × its remaining days ÷ the days it covered; in-arrears lines get no credit and are billed for the
part used at the period end; each amount is rounded once to the currency's minor unit (half-up unless the
tenant says otherwise). Month-based periods keep their anchor day (31st → 28/29 Feb → 31 Mar).

Every case below lists the whole expected schedule up to `until` (exclusive) as
(due, kind, key, line start, line end, amount), with the arithmetic in a comment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kassa.core.billing_schedule import Charge, billing_schedule, compare, timeline
from kassa.core.catalog import CatalogVersion, parse_catalog
from kassa.core.money import RoundingMode
from kassa.core.periods import BillingPeriod, Grid, PeriodUnit, days, local_day, start_of
from kassa.core.subscriptions import (
    AnchorType,
    BillingAnchor,
    Change,
    ChangeKind,
    ChangeStatus,
    Status,
    Subscription,
    Terms,
)

# ---- catalogs ------------------------------------------------------------------------------------------

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def _plan(code: str, period: Any, phases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"code": code, "name": code.title(), "billing_period": period, "phases": phases, **extra}


def _evergreen(prices: dict[str, Any], timing: str = "in_advance") -> dict[str, Any]:
    return {"type": "evergreen", "timing": timing, "prices": prices}


def _eur(flat: str | None = None, per_unit: str | None = None, setup: str | None = None) -> dict[str, Any]:
    body = {k: v for k, v in (("flat", flat), ("per_unit", per_unit), ("setup", setup)) if v is not None}
    return {"EUR": body}


ADDONS = {"available": ["storage", "support"]}

MAIN: dict[str, Any] = {
    "name": "Main",
    "addons": [
        {
            "code": "storage",
            "name": "Storage",
            "billing_period": "month",
            "prices": {"EUR": {"per_unit": "3.00"}, "JPY": {"per_unit": "300"}, "BHD": {"per_unit": "1.000"}},
        },
        {
            "code": "support",
            "name": "Support",
            "billing_period": "month",
            "prices": {
                "EUR": {"flat": "10.00", "setup": "20.00"},
                "JPY": {"flat": "1000"},
                "BHD": {"flat": "3.000"},
            },
        },
    ],
    "products": [
        {
            "code": "app",
            "name": "App",
            "plans": [
                _plan(
                    "basic",
                    "month",
                    [
                        _evergreen(
                            {"EUR": {"flat": "30.00"}, "JPY": {"flat": "3000"}, "BHD": {"flat": "10.000"}}
                        )
                    ],
                    addons=ADDONS,
                ),
                _plan(
                    "pro",
                    "month",
                    [
                        _evergreen(
                            {"EUR": {"flat": "60.00"}, "JPY": {"flat": "6000"}, "BHD": {"flat": "20.000"}}
                        )
                    ],
                    addons=ADDONS,
                ),
                _plan("team", "month", [_evergreen(_eur("20.00", "5.00"))]),
                _plan("meter", "month", [_evergreen(_eur("31.00"), "in_arrears")]),
                _plan("meter-pro", "month", [_evergreen(_eur("62.00"), "in_arrears")]),
                _plan(
                    "trial14",
                    "month",
                    [{"type": "trial", "duration": {"days": 14}}, _evergreen(_eur("30.00"))],
                ),
                _plan(
                    "trial1m",
                    "month",
                    [{"type": "trial", "duration": {"months": 1}}, _evergreen(_eur("30.00"))],
                ),
                _plan(
                    "trial-intro",
                    "month",
                    [
                        {"type": "trial", "duration": {"days": 14}},
                        {"type": "discount", "cycles": 2, "prices": _eur("15.00", setup="5.00")},
                        _evergreen(_eur("30.00")),
                    ],
                ),
                _plan(
                    "intro",
                    "month",
                    [
                        {"type": "discount", "cycles": 2, "prices": _eur("15.00", setup="5.00")},
                        _evergreen(_eur("30.00")),
                    ],
                ),
                _plan("onboard", "month", [_evergreen(_eur("30.00", setup="50.00"))]),
                _plan(
                    "term-renew",
                    "month",
                    [
                        {
                            "type": "fixed_term",
                            "cycles": 3,
                            "at_end": "renew",
                            "prices": _eur("30.00", setup="10.00"),
                        }
                    ],
                ),
                _plan(
                    "term-end",
                    "month",
                    [{"type": "fixed_term", "cycles": 3, "at_end": "end", "prices": _eur("30.00")}],
                ),
                _plan("weekly", "week", [_evergreen(_eur("7.00"))]),
                _plan("quarterly", "quarter", [_evergreen(_eur("90.00"))]),
                _plan("annual", "year", [_evergreen(_eur("365.00"))]),
                _plan("annual-pro", "year", [_evergreen(_eur("730.00"))]),
                _plan("tie", "month", [_evergreen(_eur("30.15"))]),
            ],
        }
    ],
    "families": [
        {"code": "tier", "plans": ["basic", "pro"]},
        {"code": "metered", "plans": ["meter", "meter-pro"]},
        {"code": "yearly", "plans": ["annual", "annual-pro"]},
    ],
}


def _repriced(existing_from: str | None = None) -> dict[str, Any]:
    """MAIN with basic at 33.00 and term-renew at 36.00 (a catalog's next version)."""
    doc = copy.deepcopy(MAIN)
    for plan in doc["products"][0]["plans"]:
        if plan["code"] == "basic":
            plan["phases"][0]["prices"]["EUR"] = {"flat": "33.00"}
        if plan["code"] == "term-renew":
            plan["phases"][0]["prices"]["EUR"] = {"flat": "36.00", "setup": "10.00"}
    if existing_from is not None:
        doc["existing_subscriptions_from"] = existing_from
    return doc


V1 = CatalogVersion(number=1, effective_at=T0, catalog=parse_catalog(MAIN))
ONE = (V1,)
# A new version from 10 March 2026: existing subscriptions get it at their renewal.
RENEW = (
    V1,
    CatalogVersion(
        number=2, effective_at=datetime(2026, 3, 10, tzinfo=UTC), catalog=parse_catalog(_repriced())
    ),
)
# The same prices, but reaching existing subscriptions on 1 April 2026 whatever their renewal.
EXISTING = (
    V1,
    CatalogVersion(
        number=2,
        effective_at=datetime(2026, 3, 10, tzinfo=UTC),
        catalog=parse_catalog(_repriced("2026-04-01")),
    ),
)
# Effective at 2026-03-14T23:00Z: midnight of 15 March in Berlin, still 14 March in UTC.
MIDNIGHT = (
    V1,
    CatalogVersion(
        number=2, effective_at=datetime(2026, 3, 14, 23, tzinfo=UTC), catalog=parse_catalog(_repriced())
    ),
)

# ---- cases ---------------------------------------------------------------------------------------------


Row = tuple[str, str, str, str, str, str]  # due, kind, key, line start, line end, amount
F, U = "plan.flat", "plan.per_unit"
R, C, S = "recurring", "credit", "setup"
DOM1 = BillingAnchor(type=AnchorType.DAY_OF_MONTH, day=1)


@dataclass(frozen=True, slots=True)
class Step:
    kind: ChangeKind
    on: str | datetime  # a local day, or an instant whose day is taken in the account's zone
    terms: Terms | None = None
    prorate: bool = True


def change(on: str | datetime, plan: str, quantity: int = 1, prorate: bool = True, **addons: int) -> Step:
    return Step(ChangeKind.CHANGE, on, Terms(plan=plan, quantity=quantity, addons=addons), prorate)


def cancel(on: str, prorate: bool = True) -> Step:
    return Step(ChangeKind.CANCEL, on, prorate=prorate)


def pause(on: str) -> Step:
    return Step(ChangeKind.PAUSE, on)


def resume(on: str) -> Step:
    return Step(ChangeKind.RESUME, on)


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    plan: str
    start: str
    until: str
    expected: tuple[Row, ...]
    anchor: BillingAnchor = BillingAnchor()
    trial: int | None = None
    tz: str = "Europe/Berlin"
    currency: str = "EUR"
    quantity: int = 1
    addons: dict[str, int] = field(default_factory=dict)
    changes: tuple[Step, ...] = ()
    versions: tuple[CatalogVersion, ...] = ONE
    rounding: RoundingMode = RoundingMode.HALF_UP


CASES: list[Case] = [
    # ---- month ends, anchors, leap years
    Case(
        "anniversary-31st-leap-year",
        "basic",
        "2024-01-31",
        "2024-06-01",
        (
            # anchor 31 clamps to 29 Feb 2024 and comes back to 31 Mar; every period is whole: 30.00
            ("2024-01-31", R, F, "2024-01-31", "2024-02-29", "30.00"),
            ("2024-02-29", R, F, "2024-02-29", "2024-03-31", "30.00"),
            ("2024-03-31", R, F, "2024-03-31", "2024-04-30", "30.00"),
            ("2024-04-30", R, F, "2024-04-30", "2024-05-31", "30.00"),
            ("2024-05-31", R, F, "2024-05-31", "2024-06-30", "30.00"),
        ),
    ),
    Case(
        "anniversary-31st-common-year",
        "basic",
        "2025-01-31",
        "2025-04-01",
        (
            # 31 Jan → 28 Feb → 31 Mar (not 28 Mar: boundaries come from the origin)
            ("2025-01-31", R, F, "2025-01-31", "2025-02-28", "30.00"),
            ("2025-02-28", R, F, "2025-02-28", "2025-03-31", "30.00"),
            ("2025-03-31", R, F, "2025-03-31", "2025-04-30", "30.00"),
        ),
    ),
    Case(
        "anniversary-30th",
        "basic",
        "2026-01-30",
        "2026-04-01",
        (
            # 30 Jan → 28 Feb → 30 Mar
            ("2026-01-30", R, F, "2026-01-30", "2026-02-28", "30.00"),
            ("2026-02-28", R, F, "2026-02-28", "2026-03-30", "30.00"),
            ("2026-03-30", R, F, "2026-03-30", "2026-04-30", "30.00"),
        ),
    ),
    Case(
        "calendar-1st-partial-first-period",
        "basic",
        "2026-03-15",
        "2026-05-02",
        (
            # [15 Mar, 1 Apr) of [1 Mar, 1 Apr): 30.00 × 17/31 = 16.4516 → 16.45
            ("2026-03-15", R, F, "2026-03-15", "2026-04-01", "16.45"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "30.00"),
        ),
        anchor=DOM1,
    ),
    Case(
        "calendar-31st-through-february",
        "basic",
        "2026-02-10",
        "2026-04-01",
        (
            # grid on the 31st: [31 Jan, 28 Feb) is 28 days; [10 Feb, 28 Feb) 18: 30.00 × 18/28 = 19.2857 → 19.29
            ("2026-02-10", R, F, "2026-02-10", "2026-02-28", "19.29"),
            ("2026-02-28", R, F, "2026-02-28", "2026-03-31", "30.00"),
            ("2026-03-31", R, F, "2026-03-31", "2026-04-30", "30.00"),
        ),
        anchor=BillingAnchor(type=AnchorType.DAY_OF_MONTH, day=31),
    ),
    Case(
        "calendar-start-on-anchor-day",
        "basic",
        "2026-04-01",
        "2026-05-02",
        (
            # starts on the anchor: no partial period
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "30.00"),
        ),
        anchor=DOM1,
    ),
    Case(
        "account-anchor-day-20",
        "basic",
        "2026-02-03",
        "2026-04-01",
        (
            # bill cycle day 20: [20 Jan, 20 Feb) is 31 days; [3 Feb, 20 Feb) 17: 30.00 × 17/31 = 16.45
            ("2026-02-03", R, F, "2026-02-03", "2026-02-20", "16.45"),
            ("2026-02-20", R, F, "2026-02-20", "2026-03-20", "30.00"),
            ("2026-03-20", R, F, "2026-03-20", "2026-04-20", "30.00"),
        ),
        anchor=BillingAnchor(type=AnchorType.ACCOUNT, day=20),
    ),
    Case(
        "calendar-29th-leap-february",
        "basic",
        "2024-02-10",
        "2024-04-01",
        (
            # [29 Jan, 29 Feb 2024) is 31 days; [10 Feb, 29 Feb) 19: 30.00 × 19/31 = 18.3871 → 18.39
            ("2024-02-10", R, F, "2024-02-10", "2024-02-29", "18.39"),
            ("2024-02-29", R, F, "2024-02-29", "2024-03-29", "30.00"),
            ("2024-03-29", R, F, "2024-03-29", "2024-04-29", "30.00"),
        ),
        anchor=BillingAnchor(type=AnchorType.DAY_OF_MONTH, day=29),
    ),
    Case(
        "calendar-29th-common-february",
        "basic",
        "2026-02-10",
        "2026-03-30",
        (
            # [29 Jan, 28 Feb 2026) is 30 days; [10 Feb, 28 Feb) 18: 30.00 × 18/30 = 18.00
            ("2026-02-10", R, F, "2026-02-10", "2026-02-28", "18.00"),
            ("2026-02-28", R, F, "2026-02-28", "2026-03-29", "30.00"),
            ("2026-03-29", R, F, "2026-03-29", "2026-04-29", "30.00"),
        ),
        anchor=BillingAnchor(type=AnchorType.DAY_OF_MONTH, day=29),
    ),
    # ---- annual periods and leap years
    Case(
        "annual-leap-year-anniversary",
        "annual",
        "2024-01-01",
        "2025-01-02",
        (
            # a whole 366-day period is the full price
            ("2024-01-01", R, F, "2024-01-01", "2025-01-01", "365.00"),
            ("2025-01-01", R, F, "2025-01-01", "2026-01-01", "365.00"),
        ),
    ),
    Case(
        "annual-feb29-anniversary",
        "annual",
        "2024-02-29",
        "2028-03-01",
        (
            # anchor 29 Feb: 28 Feb in common years, 29 Feb again in 2028
            ("2024-02-29", R, F, "2024-02-29", "2025-02-28", "365.00"),
            ("2025-02-28", R, F, "2025-02-28", "2026-02-28", "365.00"),
            ("2026-02-28", R, F, "2026-02-28", "2027-02-28", "365.00"),
            ("2027-02-28", R, F, "2027-02-28", "2028-02-29", "365.00"),
            ("2028-02-29", R, F, "2028-02-29", "2029-02-28", "365.00"),
        ),
    ),
    Case(
        "annual-upgrade-in-366-day-period",
        "annual",
        "2024-01-01",
        "2024-07-02",
        (
            ("2024-01-01", R, F, "2024-01-01", "2025-01-01", "365.00"),
            # [1 Jul 2024, 1 Jan 2025) = 184 of 366 days: 365 × 184/366 = 183.4973 → 183.50
            ("2024-07-01", C, F, "2024-07-01", "2025-01-01", "-183.50"),
            # 730 × 184/366 = 366.9945 → 366.99
            ("2024-07-01", R, F, "2024-07-01", "2025-01-01", "366.99"),
        ),
        changes=(change("2024-07-01", "annual-pro"),),
    ),
    Case(
        "annual-upgrade-in-365-day-period",
        "annual",
        "2025-01-01",
        "2025-07-02",
        (
            ("2025-01-01", R, F, "2025-01-01", "2026-01-01", "365.00"),
            # 184 of 365 days: 365 × 184/365 = 184.00; 730 × 184/365 = 368.00
            ("2025-07-01", C, F, "2025-07-01", "2026-01-01", "-184.00"),
            ("2025-07-01", R, F, "2025-07-01", "2026-01-01", "368.00"),
        ),
        changes=(change("2025-07-01", "annual-pro"),),
    ),
    # ---- weekly and quarterly periods
    Case(
        "weekly",
        "weekly",
        "2026-03-04",
        "2026-03-26",
        (
            ("2026-03-04", R, F, "2026-03-04", "2026-03-11", "7.00"),
            ("2026-03-11", R, F, "2026-03-11", "2026-03-18", "7.00"),
            ("2026-03-18", R, F, "2026-03-18", "2026-03-25", "7.00"),
            ("2026-03-25", R, F, "2026-03-25", "2026-04-01", "7.00"),
        ),
    ),
    Case(
        "weekly-cancel-with-credit",
        "weekly",
        "2026-03-04",
        "2026-04-01",
        (
            ("2026-03-04", R, F, "2026-03-04", "2026-03-11", "7.00"),
            ("2026-03-11", R, F, "2026-03-11", "2026-03-18", "7.00"),
            # [13 Mar, 18 Mar) = 5 of 7 days: 7.00 × 5/7 = 5.00
            ("2026-03-13", C, F, "2026-03-13", "2026-03-18", "-5.00"),
        ),
        changes=(cancel("2026-03-13"),),
    ),
    Case(
        "quarterly-anniversary",
        "quarterly",
        "2026-01-15",
        "2026-08-01",
        (
            ("2026-01-15", R, F, "2026-01-15", "2026-04-15", "90.00"),
            ("2026-04-15", R, F, "2026-04-15", "2026-07-15", "90.00"),
            ("2026-07-15", R, F, "2026-07-15", "2026-10-15", "90.00"),
        ),
    ),
    Case(
        "quarterly-from-nov-30",
        "quarterly",
        "2025-11-30",
        "2026-09-01",
        (
            # 30 Nov → 28 Feb → 30 May → 30 Aug
            ("2025-11-30", R, F, "2025-11-30", "2026-02-28", "90.00"),
            ("2026-02-28", R, F, "2026-02-28", "2026-05-30", "90.00"),
            ("2026-05-30", R, F, "2026-05-30", "2026-08-30", "90.00"),
            ("2026-08-30", R, F, "2026-08-30", "2026-11-30", "90.00"),
        ),
    ),
    Case(
        "quarterly-cancel-with-credit",
        "quarterly",
        "2026-02-15",
        "2026-06-01",
        (
            ("2026-02-15", R, F, "2026-02-15", "2026-05-15", "90.00"),
            # [15 Feb, 15 May) = 89 days; [1 Apr, 15 May) = 44: 90 × 44/89 = 44.4944 → 44.49
            ("2026-04-01", C, F, "2026-04-01", "2026-05-15", "-44.49"),
        ),
        changes=(cancel("2026-04-01"),),
    ),
    # ---- trials
    Case(
        "trial-14-days",
        "trial14",
        "2026-01-10",
        "2026-04-01",
        (
            # trial [10 Jan, 24 Jan); the anniversary is the trial's end
            ("2026-01-24", R, F, "2026-01-24", "2026-02-24", "30.00"),
            ("2026-02-24", R, F, "2026-02-24", "2026-03-24", "30.00"),
            ("2026-03-24", R, F, "2026-03-24", "2026-04-24", "30.00"),
        ),
    ),
    Case(
        "trial-1-month",
        "trial1m",
        "2026-01-15",
        "2026-04-01",
        (
            # trial [15 Jan, 15 Feb)
            ("2026-02-15", R, F, "2026-02-15", "2026-03-15", "30.00"),
            ("2026-03-15", R, F, "2026-03-15", "2026-04-15", "30.00"),
        ),
    ),
    Case(
        "trial-override-10-days",
        "basic",
        "2026-03-01",
        "2026-05-01",
        (
            # the subscription's own 10-day trial on a plan without one: paid from 11 Mar
            ("2026-03-11", R, F, "2026-03-11", "2026-04-11", "30.00"),
            ("2026-04-11", R, F, "2026-04-11", "2026-05-11", "30.00"),
        ),
        trial=10,
    ),
    Case(
        "trial-override-zero",
        "trial14",
        "2026-03-01",
        "2026-04-02",
        (
            # trial_days = 0: no trial despite the plan's
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
        ),
        trial=0,
    ),
    Case(
        "trial-then-calendar-partial",
        "trial14",
        "2026-03-10",
        "2026-04-02",
        (
            # trial to 24 Mar; [24 Mar, 1 Apr) = 8 of 31 days: 30.00 × 8/31 = 7.7419 → 7.74
            ("2026-03-24", R, F, "2026-03-24", "2026-04-01", "7.74"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
        ),
        anchor=DOM1,
    ),
    Case(
        "upgrade-during-trial",
        "trial14",
        "2026-01-10",
        "2026-03-01",
        (
            # the trial runs to 24 Jan, then the new plan is billed
            ("2026-01-24", R, F, "2026-01-24", "2026-02-24", "60.00"),
            ("2026-02-24", R, F, "2026-02-24", "2026-03-24", "60.00"),
        ),
        changes=(change("2026-01-15", "pro"),),
    ),
    # ---- discount phases, setup fees, fixed terms
    Case(
        "discount-two-cycles-with-setup",
        "intro",
        "2026-01-10",
        "2026-04-11",
        (
            # setup 5.00 once when the discount phase begins; 2 cycles at 15.00, then 30.00
            ("2026-01-10", R, F, "2026-01-10", "2026-02-10", "15.00"),
            ("2026-01-10", S, "plan.setup", "2026-01-10", "2026-01-11", "5.00"),
            ("2026-02-10", R, F, "2026-02-10", "2026-03-10", "15.00"),
            ("2026-03-10", R, F, "2026-03-10", "2026-04-10", "30.00"),
            ("2026-04-10", R, F, "2026-04-10", "2026-05-10", "30.00"),
        ),
    ),
    Case(
        "trial-then-discount-then-evergreen",
        "trial-intro",
        "2026-01-10",
        "2026-04-01",
        (
            # trial to 24 Jan; the discount phase (and its setup) begins then
            ("2026-01-24", R, F, "2026-01-24", "2026-02-24", "15.00"),
            ("2026-01-24", S, "plan.setup", "2026-01-24", "2026-01-25", "5.00"),
            ("2026-02-24", R, F, "2026-02-24", "2026-03-24", "15.00"),
            ("2026-03-24", R, F, "2026-03-24", "2026-04-24", "30.00"),
        ),
    ),
    Case(
        "discount-partial-first-period-counts-as-cycle",
        "intro",
        "2026-01-20",
        "2026-03-02",
        (
            # cycle 1 = [20 Jan, 1 Feb): 15.00 × 12/31 = 5.8065 → 5.81; cycle 2 = February; then 30.00
            ("2026-01-20", R, F, "2026-01-20", "2026-02-01", "5.81"),
            ("2026-01-20", S, "plan.setup", "2026-01-20", "2026-01-21", "5.00"),
            ("2026-02-01", R, F, "2026-02-01", "2026-03-01", "15.00"),
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
        ),
        anchor=DOM1,
    ),
    Case(
        "setup-fee-once",
        "onboard",
        "2026-02-01",
        "2026-04-02",
        (
            ("2026-02-01", R, F, "2026-02-01", "2026-03-01", "30.00"),
            ("2026-02-01", S, "plan.setup", "2026-02-01", "2026-02-02", "50.00"),
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
        ),
    ),
    Case(
        "fixed-term-renews-without-second-setup",
        "term-renew",
        "2026-01-01",
        "2026-08-01",
        (
            # 3-month terms from 1 Jan, 1 Apr, 1 Jul; the setup fee only when the phase first begins
            ("2026-01-01", R, F, "2026-01-01", "2026-02-01", "30.00"),
            ("2026-01-01", S, "plan.setup", "2026-01-01", "2026-01-02", "10.00"),
            ("2026-02-01", R, F, "2026-02-01", "2026-03-01", "30.00"),
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "30.00"),
            ("2026-06-01", R, F, "2026-06-01", "2026-07-01", "30.00"),
            ("2026-07-01", R, F, "2026-07-01", "2026-08-01", "30.00"),
        ),
    ),
    Case(
        "fixed-term-ends",
        "term-end",
        "2026-01-01",
        "2026-06-01",
        (
            # 3 cycles, then ended on 1 Apr: nothing more
            ("2026-01-01", R, F, "2026-01-01", "2026-02-01", "30.00"),
            ("2026-02-01", R, F, "2026-02-01", "2026-03-01", "30.00"),
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
        ),
    ),
    Case(
        "fixed-term-renews-at-new-price",
        "term-renew",
        "2026-01-01",
        "2026-06-01",
        (
            # version 2 (36.00) from 10 Mar reaches the term at its end, 1 Apr
            ("2026-01-01", R, F, "2026-01-01", "2026-02-01", "30.00"),
            ("2026-01-01", S, "plan.setup", "2026-01-01", "2026-01-02", "10.00"),
            ("2026-02-01", R, F, "2026-02-01", "2026-03-01", "30.00"),
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "36.00"),
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "36.00"),
        ),
        versions=RENEW,
    ),
    # ---- plan changes in advance
    Case(
        "upgrade-mid-period-in-advance",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            # [14 Mar, 1 Apr) = 18 of 31: credit 30 × 18/31 = 17.4194 → 17.42; charge 60 × 18/31 = 34.8387 → 34.84
            ("2026-03-14", C, F, "2026-03-14", "2026-04-01", "-17.42"),
            ("2026-03-14", R, F, "2026-03-14", "2026-04-01", "34.84"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        changes=(change("2026-03-14", "pro"),),
    ),
    Case(
        "downgrade-mid-period-in-advance",
        "pro",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "60.00"),
            # credit 60 × 18/31 = 34.84; charge 30 × 18/31 = 17.42
            ("2026-03-14", C, F, "2026-03-14", "2026-04-01", "-34.84"),
            ("2026-03-14", R, F, "2026-03-14", "2026-04-01", "17.42"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
        ),
        changes=(change("2026-03-14", "basic"),),
    ),
    Case(
        "two-changes-second-credit-against-prorated-line",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            # 11 Mar, 21 of 31 days left: credit 30 × 21/31 = 20.3226 → 20.32; charge 60 × 21/31 = 40.6452 → 40.65
            ("2026-03-11", C, F, "2026-03-11", "2026-04-01", "-20.32"),
            ("2026-03-11", R, F, "2026-03-11", "2026-04-01", "40.65"),
            # 22 Mar: the 40.65 line covered 21 days, 10 left: 40.65 × 10/21 = 19.3571 → 19.36
            # (not 60 × 10/31 = 19.35); charge 30 × 10/31 = 9.6774 → 9.68
            ("2026-03-22", C, F, "2026-03-22", "2026-04-01", "-19.36"),
            ("2026-03-22", R, F, "2026-03-22", "2026-04-01", "9.68"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
        ),
        changes=(change("2026-03-11", "pro"), change("2026-03-22", "basic")),
    ),
    Case(
        "upgrade-without-proration",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            # no proration: nothing on 14 Mar, the new price from the next period
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        changes=(change("2026-03-14", "pro", prorate=False),),
    ),
    Case(
        "upgrade-on-period-boundary",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            # effective on the boundary: [1 Apr, 1 Apr) left of March, so no credit and no charge for it
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        changes=(change("2026-04-01", "pro"),),
    ),
    Case(
        "upgrade-then-cancel-with-credit",
        "basic",
        "2026-03-01",
        "2026-05-01",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-03-11", C, F, "2026-03-11", "2026-04-01", "-20.32"),  # 30 × 21/31
            ("2026-03-11", R, F, "2026-03-11", "2026-04-01", "40.65"),  # 60 × 21/31
            # the cancellation credits the prorated line: 40.65 × 10/21 = 19.3571 → 19.36
            ("2026-03-22", C, F, "2026-03-22", "2026-04-01", "-19.36"),
        ),
        changes=(change("2026-03-11", "pro"), cancel("2026-03-22")),
    ),
    Case(
        "upgrade-in-partial-first-period",
        "basic",
        "2026-03-15",
        "2026-04-02",
        (
            ("2026-03-15", R, F, "2026-03-15", "2026-04-01", "16.45"),  # 30 × 17/31 = 16.4516
            # the 16.45 line covered 17 days, 12 left from 20 Mar: 16.45 × 12/17 = 11.6118 → 11.61
            ("2026-03-20", C, F, "2026-03-20", "2026-04-01", "-11.61"),
            ("2026-03-20", R, F, "2026-03-20", "2026-04-01", "23.23"),  # 60 × 12/31 = 23.2258
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        anchor=DOM1,
        changes=(change("2026-03-20", "pro"),),
    ),
    Case(
        "cancel-after-unprorated-upgrade-credits-what-was-billed",
        "basic",
        "2026-03-01",
        "2026-05-01",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            # March was billed on basic (the upgrade was not prorated): 30 × 10/31 = 9.6774 → 9.68
            ("2026-03-22", C, F, "2026-03-22", "2026-04-01", "-9.68"),
        ),
        changes=(change("2026-03-11", "pro", prorate=False), cancel("2026-03-22")),
    ),
    # ---- in arrears
    Case(
        "arrears-full-periods",
        "meter",
        "2026-03-01",
        "2026-05-02",
        (
            # billed at each period's end
            ("2026-04-01", R, F, "2026-03-01", "2026-04-01", "31.00"),
            ("2026-05-01", R, F, "2026-04-01", "2026-05-01", "31.00"),
        ),
    ),
    Case(
        "arrears-upgrade-mid-period",
        "meter",
        "2026-04-01",
        "2026-05-02",
        (
            # no credit; each part used at the end: 31 × 10/30 = 10.3333 → 10.33; 62 × 20/30 = 41.3333 → 41.33
            ("2026-05-01", R, F, "2026-04-01", "2026-04-11", "10.33"),
            ("2026-05-01", R, F, "2026-04-11", "2026-05-01", "41.33"),
        ),
        changes=(change("2026-04-11", "meter-pro"),),
    ),
    Case(
        "arrears-downgrade-mid-period",
        "meter-pro",
        "2026-04-01",
        "2026-05-02",
        (
            # 62 × 20/30 = 41.33; 31 × 10/30 = 10.33
            ("2026-05-01", R, F, "2026-04-01", "2026-04-21", "41.33"),
            ("2026-05-01", R, F, "2026-04-21", "2026-05-01", "10.33"),
        ),
        changes=(change("2026-04-21", "meter"),),
    ),
    Case(
        "arrears-two-changes-one-period",
        "meter",
        "2026-03-01",
        "2026-04-02",
        (
            # 31 × 10/31 = 10.00; 62 × 10/31 = 20.00; 31 × 11/31 = 11.00
            ("2026-04-01", R, F, "2026-03-01", "2026-03-11", "10.00"),
            ("2026-04-01", R, F, "2026-03-11", "2026-03-21", "20.00"),
            ("2026-04-01", R, F, "2026-03-21", "2026-04-01", "11.00"),
        ),
        changes=(change("2026-03-11", "meter-pro"), change("2026-03-21", "meter")),
    ),
    Case(
        "arrears-cancel-now",
        "meter",
        "2026-03-01",
        "2026-05-01",
        (
            # billed at the cancellation for [1 Mar, 20 Mar): 31 × 19/31 = 19.00
            ("2026-03-20", R, F, "2026-03-01", "2026-03-20", "19.00"),
        ),
        changes=(cancel("2026-03-20"),),
    ),
    Case(
        "arrears-cancel-now-without-credit-flag",
        "meter",
        "2026-03-01",
        "2026-05-01",
        (
            # in arrears there is nothing to credit either way: 19.00
            ("2026-03-20", R, F, "2026-03-01", "2026-03-20", "19.00"),
        ),
        changes=(cancel("2026-03-20", prorate=False),),
    ),
    Case(
        "arrears-upgrade-without-proration",
        "meter",
        "2026-04-01",
        "2026-06-02",
        (
            # the old price for all of April, the new from May
            ("2026-05-01", R, F, "2026-04-01", "2026-05-01", "31.00"),
            ("2026-06-01", R, F, "2026-05-01", "2026-06-01", "62.00"),
        ),
        changes=(change("2026-04-11", "meter-pro", prorate=False),),
    ),
    # ---- quantity
    Case(
        "quantity-up",
        "team",
        "2026-04-01",
        "2026-05-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "20.00"),
            ("2026-04-01", R, U, "2026-04-01", "2026-05-01", "15.00"),  # 5.00 × 3
            # 20 of 30 days left; the flat fee is unchanged and left alone
            ("2026-04-11", C, U, "2026-04-11", "2026-05-01", "-10.00"),  # 15 × 20/30
            ("2026-04-11", R, U, "2026-04-11", "2026-05-01", "16.67"),  # 25 × 20/30 = 16.6667
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "20.00"),
            ("2026-05-01", R, U, "2026-05-01", "2026-06-01", "25.00"),
        ),
        quantity=3,
        changes=(change("2026-04-11", "team", 5),),
    ),
    Case(
        "quantity-down",
        "team",
        "2026-04-01",
        "2026-05-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "20.00"),
            ("2026-04-01", R, U, "2026-04-01", "2026-05-01", "25.00"),
            ("2026-04-11", C, U, "2026-04-11", "2026-05-01", "-16.67"),  # 25 × 20/30
            ("2026-04-11", R, U, "2026-04-11", "2026-05-01", "6.67"),  # 10 × 20/30 = 6.6667
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "20.00"),
            ("2026-05-01", R, U, "2026-05-01", "2026-06-01", "10.00"),
        ),
        quantity=5,
        changes=(change("2026-04-11", "team", 2),),
    ),
    Case(
        "quantity-up-without-proration",
        "team",
        "2026-04-01",
        "2026-05-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "20.00"),
            ("2026-04-01", R, U, "2026-04-01", "2026-05-01", "15.00"),
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "20.00"),
            ("2026-05-01", R, U, "2026-05-01", "2026-06-01", "25.00"),
        ),
        quantity=3,
        changes=(change("2026-04-11", "team", 5, prorate=False),),
    ),
    Case(
        "quantity-two-changes-exact-tie",
        "team",
        "2026-04-01",
        "2026-05-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "20.00"),
            ("2026-04-01", R, U, "2026-04-01", "2026-05-01", "15.00"),
            ("2026-04-11", C, U, "2026-04-11", "2026-05-01", "-10.00"),  # 15 × 20/30
            ("2026-04-11", R, U, "2026-04-11", "2026-05-01", "16.67"),  # 25 × 20/30
            # the 16.67 line covered 20 days, 10 left: 16.67 × 10/20 = 8.335, a tie: half-up → 8.34
            ("2026-04-21", C, U, "2026-04-21", "2026-05-01", "-8.34"),
            ("2026-04-21", R, U, "2026-04-21", "2026-05-01", "5.00"),  # 15 × 10/30
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "20.00"),
            ("2026-05-01", R, U, "2026-05-01", "2026-06-01", "15.00"),
        ),
        quantity=3,
        changes=(change("2026-04-11", "team", 5), change("2026-04-21", "team", 3)),
    ),
    # ---- add-ons
    Case(
        "addon-added",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            # 4 × 3.00 = 12.00 a month; 12 × 18/31 = 6.9677 → 6.97; the plan's fee untouched
            ("2026-03-14", R, "addon.storage.per_unit", "2026-03-14", "2026-04-01", "6.97"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-04-01", R, "addon.storage.per_unit", "2026-04-01", "2026-05-01", "12.00"),
        ),
        changes=(change("2026-03-14", "basic", storage=4),),
    ),
    Case(
        "addon-removed",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-03-01", R, "addon.storage.per_unit", "2026-03-01", "2026-04-01", "12.00"),
            ("2026-03-14", C, "addon.storage.per_unit", "2026-03-14", "2026-04-01", "-6.97"),  # 12 × 18/31
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
        ),
        addons={"storage": 4},
        changes=(change("2026-03-14", "basic"),),
    ),
    Case(
        "addon-with-setup-added",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            (
                "2026-03-14",
                R,
                "addon.support.flat",
                "2026-03-14",
                "2026-04-01",
                "5.81",
            ),  # 10 × 18/31 = 5.8065
            ("2026-03-14", S, "addon.support.setup", "2026-03-14", "2026-03-15", "20.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-04-01", R, "addon.support.flat", "2026-04-01", "2026-05-01", "10.00"),
        ),
        changes=(change("2026-03-14", "basic", support=1),),
    ),
    # ---- cancellation
    Case(
        "cancel-now-with-credit",
        "basic",
        "2026-03-01",
        "2026-05-01",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-03-14", C, F, "2026-03-14", "2026-04-01", "-17.42"),  # 30 × 18/31
        ),
        changes=(cancel("2026-03-14"),),
    ),
    Case(
        "cancel-now-without-credit",
        "basic",
        "2026-03-01",
        "2026-05-01",
        (("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),),
        changes=(cancel("2026-03-14", prorate=False),),
    ),
    Case(
        "cancel-at-end-of-period",
        "basic",
        "2026-03-01",
        "2026-05-01",
        (
            # effective at the period's end: nothing to credit, nothing billed for April
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
        ),
        changes=(cancel("2026-04-01"),),
    ),
    Case(
        "cancel-now-credits-every-component",
        "team",
        "2026-04-01",
        "2026-06-01",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "20.00"),
            ("2026-04-01", R, U, "2026-04-01", "2026-05-01", "15.00"),
            ("2026-04-11", C, F, "2026-04-11", "2026-05-01", "-13.33"),  # 20 × 20/30 = 13.3333
            ("2026-04-11", C, U, "2026-04-11", "2026-05-01", "-10.00"),  # 15 × 20/30
        ),
        quantity=3,
        changes=(cancel("2026-04-11"),),
    ),
    # ---- pause and resume
    Case(
        "pause-resume-next-period",
        "basic",
        "2026-04-01",
        "2026-06-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-04-11", C, F, "2026-04-11", "2026-05-01", "-20.00"),  # 30 × 20/30
            # nothing on 1 May (paused); resumed 21 May: 30 × 11/31 = 10.6452 → 10.65
            ("2026-05-21", R, F, "2026-05-21", "2026-06-01", "10.65"),
            ("2026-06-01", R, F, "2026-06-01", "2026-07-01", "30.00"),
        ),
        changes=(pause("2026-04-11"), resume("2026-05-21")),
    ),
    Case(
        "pause-resume-same-period",
        "basic",
        "2026-04-01",
        "2026-05-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00"),
            ("2026-04-11", C, F, "2026-04-11", "2026-05-01", "-20.00"),  # 30 × 20/30
            ("2026-04-21", R, F, "2026-04-21", "2026-05-01", "10.00"),  # 30 × 10/30
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "30.00"),
        ),
        changes=(pause("2026-04-11"), resume("2026-04-21")),
    ),
    Case(
        "pause-resume-in-arrears",
        "meter",
        "2026-04-01",
        "2026-06-02",
        (
            # only the days used: [1 Apr, 11 Apr) 31 × 10/30 = 10.33; [21 May, 1 Jun) 31 × 11/31 = 11.00
            ("2026-05-01", R, F, "2026-04-01", "2026-04-11", "10.33"),
            ("2026-06-01", R, F, "2026-05-21", "2026-06-01", "11.00"),
        ),
        changes=(pause("2026-04-11"), resume("2026-05-21")),
    ),
    # ---- currencies with 0 and 3 decimals
    Case(
        "jpy-calendar-partial",
        "basic",
        "2026-03-15",
        "2026-04-02",
        (
            ("2026-03-15", R, F, "2026-03-15", "2026-04-01", "1645"),  # 3000 × 17/31 = 1645.16 → 1645
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "3000"),
        ),
        anchor=DOM1,
        currency="JPY",
    ),
    Case(
        "jpy-upgrade",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "3000"),
            ("2026-03-14", C, F, "2026-03-14", "2026-04-01", "-1742"),  # 3000 × 18/31 = 1741.94
            ("2026-03-14", R, F, "2026-03-14", "2026-04-01", "3484"),  # 6000 × 18/31 = 3483.87
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "6000"),
        ),
        currency="JPY",
        changes=(change("2026-03-14", "pro"),),
    ),
    Case(
        "bhd-calendar-partial",
        "basic",
        "2026-03-15",
        "2026-04-02",
        (
            ("2026-03-15", R, F, "2026-03-15", "2026-04-01", "5.484"),  # 10 × 17/31 = 5.48387
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "10.000"),
        ),
        anchor=DOM1,
        currency="BHD",
    ),
    Case(
        "bhd-upgrade",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "10.000"),
            ("2026-03-14", C, F, "2026-03-14", "2026-04-01", "-5.806"),  # 10 × 18/31 = 5.80645
            ("2026-03-14", R, F, "2026-03-14", "2026-04-01", "11.613"),  # 20 × 18/31 = 11.6129
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "20.000"),
        ),
        currency="BHD",
        changes=(change("2026-03-14", "pro"),),
    ),
    # ---- rounding of exact ties
    Case(
        "tie-half-up",
        "tie",
        "2026-04-30",
        "2026-05-02",
        (
            ("2026-04-30", R, F, "2026-04-30", "2026-05-01", "1.01"),  # 30.15 × 1/30 = 1.005 exactly → 1.01
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "30.15"),
        ),
        anchor=DOM1,
    ),
    Case(
        "tie-half-even",
        "tie",
        "2026-04-30",
        "2026-05-02",
        (
            ("2026-04-30", R, F, "2026-04-30", "2026-05-01", "1.00"),  # 1.005 → 1.00 (to even)
            ("2026-05-01", R, F, "2026-05-01", "2026-06-01", "30.15"),
        ),
        anchor=DOM1,
        rounding=RoundingMode.HALF_EVEN,
    ),
    Case(
        "tie-credit-half-up-away-from-zero",
        "tie",
        "2026-04-01",
        "2026-05-02",
        (
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.15"),
            ("2026-04-30", C, F, "2026-04-30", "2026-05-01", "-1.01"),  # -1.005 → -1.01
        ),
        changes=(cancel("2026-04-30"),),
    ),
    # ---- time zones
    Case(
        "dst-berlin-change-on-dst-day",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            # Berlin springs forward on 29 Mar; [29 Mar, 1 Apr) is still 3 of 31 whole days
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-03-29", C, F, "2026-03-29", "2026-04-01", "-2.90"),  # 30 × 3/31 = 2.9032
            ("2026-03-29", R, F, "2026-03-29", "2026-04-01", "5.81"),  # 60 × 3/31 = 5.8065
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        changes=(change("2026-03-29", "pro"),),
    ),
    Case(
        "dst-new-york-change-on-dst-day",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            # New York springs forward on 8 Mar; [8 Mar, 1 Apr) = 24 of 31 days
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-03-08", C, F, "2026-03-08", "2026-04-01", "-23.23"),  # 30 × 24/31 = 23.2258
            ("2026-03-08", R, F, "2026-03-08", "2026-04-01", "46.45"),  # 60 × 24/31 = 46.4516
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        tz="America/New_York",
        changes=(change("2026-03-08", "pro"),),
    ),
    Case(
        "change-instant-in-berlin-is-next-day",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            # 2026-03-31T22:30Z is 00:30 on 1 Apr in Berlin: a boundary, nothing prorated
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        changes=(change(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "pro"),),
    ),
    Case(
        "change-instant-in-new-york-is-same-day",
        "basic",
        "2026-03-01",
        "2026-04-02",
        (
            # the same instant is 18:30 on 31 Mar in New York: 1 of 31 days
            ("2026-03-01", R, F, "2026-03-01", "2026-04-01", "30.00"),
            ("2026-03-31", C, F, "2026-03-31", "2026-04-01", "-0.97"),  # 30/31 = 0.9677
            ("2026-03-31", R, F, "2026-03-31", "2026-04-01", "1.94"),  # 60/31 = 1.9355
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ),
        tz="America/New_York",
        changes=(change(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), "pro"),),
    ),
    # ---- catalog versions
    Case(
        "price-version-at-renewal",
        "basic",
        "2026-01-15",
        "2026-05-01",
        (
            # version 2 (33.00) from 10 Mar: the existing subscription gets it at its renewal on 15 Mar
            ("2026-01-15", R, F, "2026-01-15", "2026-02-15", "30.00"),
            ("2026-02-15", R, F, "2026-02-15", "2026-03-15", "30.00"),
            ("2026-03-15", R, F, "2026-03-15", "2026-04-15", "33.00"),
            ("2026-04-15", R, F, "2026-04-15", "2026-05-15", "33.00"),
        ),
        versions=RENEW,
    ),
    Case(
        "price-version-new-sale",
        "basic",
        "2026-03-12",
        "2026-05-01",
        (
            ("2026-03-12", R, F, "2026-03-12", "2026-04-12", "33.00"),
            ("2026-04-12", R, F, "2026-04-12", "2026-05-12", "33.00"),
        ),
        versions=RENEW,
    ),
    Case(
        "price-version-existing-subscriptions-from",
        "basic",
        "2026-01-15",
        "2026-05-01",
        (
            ("2026-01-15", R, F, "2026-01-15", "2026-02-15", "30.00"),
            ("2026-02-15", R, F, "2026-02-15", "2026-03-15", "30.00"),
            # not at the 15 Mar renewal: existing subscriptions get the new price from 1 Apr
            ("2026-03-15", R, F, "2026-03-15", "2026-04-15", "30.00"),
            # [1 Apr, 15 Apr) = 14 of 31 days: credit 30 × 14/31 = 13.5484 → 13.55; 33 × 14/31 = 14.9032 → 14.90
            ("2026-04-01", C, F, "2026-04-01", "2026-04-15", "-13.55"),
            ("2026-04-01", R, F, "2026-04-01", "2026-04-15", "14.90"),
            ("2026-04-15", R, F, "2026-04-15", "2026-05-15", "33.00"),
        ),
        versions=EXISTING,
    ),
    Case(
        "price-version-day-in-account-zone",
        "basic",
        "2026-03-14",
        "2026-04-15",
        (
            # version 2 is effective on 15 Mar in Berlin (14 Mar in UTC): a sale on 14 Mar is at 30.00,
            # and the renewal on 14 Apr brings 33.00
            ("2026-03-14", R, F, "2026-03-14", "2026-04-14", "30.00"),
            ("2026-04-14", R, F, "2026-04-14", "2026-05-14", "33.00"),
        ),
        versions=MIDNIGHT,
    ),
]

# ---- harness -------------------------------------------------------------------------------------------


def _day(text: str) -> date:
    return date.fromisoformat(text)


def subscription(case: Case) -> Subscription:
    terms = Terms(plan=case.plan, quantity=case.quantity, addons=dict(case.addons))
    changes = [
        Change(
            id="c0",
            kind=ChangeKind.START,
            effective=_day(case.start),
            terms=terms,
            status=ChangeStatus.APPLIED,
            requested_at=T0,
        )
    ]
    for i, step in enumerate(case.changes, 1):
        effective = local_day(step.on, case.tz) if isinstance(step.on, datetime) else _day(step.on)
        changes.append(
            Change(
                id=f"c{i}",
                kind=step.kind,
                effective=effective,
                terms=step.terms,
                prorate=step.prorate,
                requested_at=T0,
            )
        )
    return Subscription(
        tenant_id="t",
        id="s",
        customer_id="c",
        currency=case.currency,
        time_zone=case.tz,
        status=Status.ACTIVE,
        terms=terms,
        start=_day(case.start),
        anchor=case.anchor,
        trial_days=case.trial,
        changes=tuple(changes),
        created_at=T0,
        updated_at=T0,
    )


def schedule(case: Case) -> list[Charge]:
    until = _day(case.until)
    sub = subscription(case)
    return billing_schedule(timeline(sub, case.versions, until), sub.currency, case.rounding, until=until)


def rows(charges: list[Charge]) -> list[Row]:
    return [
        (
            c.due.isoformat(),
            c.kind.value,
            c.line.key,
            c.line.start.isoformat(),
            c.line.end.isoformat(),
            c.line.amount.amount_text(),
        )
        for c in charges
    ]


def _param(case: Case) -> Any:
    return pytest.param(case, id=case.id)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_schedule(case: Case) -> None:
    charges = schedule(case)
    assert sorted(rows(charges)) == sorted(case.expected)
    assert [c.due for c in charges] == sorted(c.due for c in charges)  # in the order they fall due
    assert all(c.line.amount.currency == case.currency for c in charges)


def test_enough_cases_with_unique_ids() -> None:
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)


# ---- around the table ----------------------------------------------------------------------------------


def _case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def test_fixed_term_end_ends_the_subscription() -> None:
    case = _case("fixed-term-ends")
    tl = timeline(subscription(case), case.versions, _day(case.until))
    assert (tl.end, tl.end_status) == (date(2026, 4, 1), Status.ENDED)
    assert tl.status_on(date(2026, 3, 31)) is Status.ACTIVE
    assert tl.status_on(date(2026, 4, 1)) is Status.ENDED


def test_end_of_period_is_where_the_end_of_period_cancellation_lands() -> None:
    plain = Case("plain", "basic", "2026-03-01", "2026-05-01", ())
    tl = timeline(subscription(plain), ONE, date(2026, 5, 1))
    assert tl.period_end(date(2026, 3, 14)) == date(2026, 4, 1)
    canceled = _case("cancel-at-end-of-period")
    tl = timeline(subscription(canceled), ONE, date(2026, 5, 1))
    assert (tl.end, tl.end_status) == (date(2026, 4, 1), Status.CANCELED)


def test_trial_period_end_is_the_trial_end() -> None:
    case = _case("trial-14-days")
    tl = timeline(subscription(case), ONE, _day(case.until))
    assert tl.status_on(date(2026, 1, 23)) is Status.TRIALING
    assert tl.period_end(date(2026, 1, 12)) == date(2026, 1, 24)
    assert tl.status_on(date(2026, 1, 24)) is Status.ACTIVE


def test_pause_status() -> None:
    case = _case("pause-resume-next-period")
    tl = timeline(subscription(case), ONE, _day(case.until))
    assert tl.status_on(date(2026, 4, 10)) is Status.ACTIVE
    assert tl.status_on(date(2026, 5, 1)) is Status.PAUSED
    assert tl.status_on(date(2026, 5, 21)) is Status.ACTIVE


def test_compare_shows_what_a_change_adds_and_removes() -> None:
    before = schedule(Case("before", "basic", "2026-03-01", "2026-04-02", ()))
    after = schedule(_case("upgrade-mid-period-in-advance"))
    added, removed = compare(before, after)
    assert sorted(rows(added)) == sorted(
        [
            ("2026-03-14", C, F, "2026-03-14", "2026-04-01", "-17.42"),
            ("2026-03-14", R, F, "2026-03-14", "2026-04-01", "34.84"),
            ("2026-04-01", R, F, "2026-04-01", "2026-05-01", "60.00"),
        ]
    )
    assert rows(removed) == [("2026-04-01", R, F, "2026-04-01", "2026-05-01", "30.00")]


# ---- local days across DST -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "jump", "hours_short"),
    [("Europe/Berlin", date(2026, 3, 29), 1), ("America/New_York", date(2026, 3, 8), 1)],
)
def test_period_across_dst_counts_whole_days(zone: str, jump: date, hours_short: int) -> None:
    grid = Grid.anchored(BillingPeriod(unit=PeriodUnit.MONTH), date(2026, 3, 1))
    start, end = grid.enclosing(jump)
    assert (start, end) == (date(2026, 3, 1), date(2026, 4, 1))
    assert days(start, end) == 31
    # in real time the period is an hour short of 31 days; in local days it is 31
    assert start_of(end, zone) - start_of(start, zone) == timedelta(days=31, hours=-hours_short)
    assert start_of(jump + timedelta(days=1), zone) - start_of(jump, zone) == timedelta(hours=23)
    day = start
    while day < end:
        assert local_day(start_of(day, zone), zone) == day
        assert local_day(start_of(day + timedelta(days=1), zone) - timedelta(microseconds=1), zone) == day
        day += timedelta(days=1)


def test_local_day_of_an_instant_is_the_account_zones() -> None:
    instant = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
    assert local_day(instant, "Europe/Berlin") == date(2026, 4, 1)
    assert local_day(instant, "America/New_York") == date(2026, 3, 31)
    assert local_day(instant, "UTC") == date(2026, 3, 31)
    assert start_of(date(2026, 3, 29), "Europe/Berlin") == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert start_of(date(2026, 3, 30), "Europe/Berlin") == datetime(2026, 3, 29, 22, tzinfo=UTC)


# ---- the grid itself ----------------------------------------------------------------------------------

MONTH = BillingPeriod(unit=PeriodUnit.MONTH)
QUARTER = BillingPeriod(unit=PeriodUnit.QUARTER)
YEAR = BillingPeriod(unit=PeriodUnit.YEAR)
WEEK = BillingPeriod(unit=PeriodUnit.WEEK)


@pytest.mark.parametrize(
    ("grid", "first", "boundaries"),
    [
        pytest.param(
            Grid.anchored(MONTH, date(2024, 1, 31)),
            -2,
            [
                "2023-11-30",
                "2023-12-31",
                "2024-01-31",
                "2024-02-29",
                "2024-03-31",
                "2024-04-30",
                "2024-05-31",
            ],
            id="month-31st-leap",
        ),
        pytest.param(
            Grid.anchored(MONTH, date(2025, 1, 31)),
            0,
            ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"],
            id="month-31st-common",
        ),
        pytest.param(
            Grid.anchored(MONTH, date(2026, 3, 15), 31),
            -1,
            ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"],
            id="month-anchor-31-from-mid-month",
        ),
        pytest.param(
            Grid.anchored(QUARTER, date(2025, 11, 30)),
            0,
            ["2025-11-30", "2026-02-28", "2026-05-30", "2026-08-30", "2026-11-30"],
            id="quarter-from-nov-30",
        ),
        pytest.param(
            Grid.anchored(QUARTER, date(2023, 11, 30)),
            0,
            ["2023-11-30", "2024-02-29", "2024-05-30"],
            id="quarter-from-nov-30-leap",
        ),
        pytest.param(
            Grid.anchored(YEAR, date(2024, 2, 29)),
            0,
            ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"],
            id="year-from-feb-29",
        ),
        pytest.param(
            Grid.anchored(WEEK, date(2026, 3, 4)),
            -1,
            ["2026-02-25", "2026-03-04", "2026-03-11"],
            id="week",
        ),
    ],
)
def test_grid_boundaries(grid: Grid, first: int, boundaries: list[str]) -> None:
    got = [grid.boundary(k).isoformat() for k in range(first, first + len(boundaries))]
    assert got == boundaries
    for k in range(first, first + len(boundaries)):
        assert grid.index(grid.boundary(k)) == k
        assert grid.is_boundary(grid.boundary(k))


@pytest.mark.parametrize(
    ("grid", "day", "period", "next_boundary"),
    [
        (Grid.anchored(MONTH, date(2024, 1, 31)), "2024-02-29", ("2024-02-29", "2024-03-31"), "2024-03-31"),
        (Grid.anchored(MONTH, date(2024, 1, 31)), "2024-02-28", ("2024-01-31", "2024-02-29"), "2024-02-29"),
        (Grid.anchored(MONTH, date(2024, 1, 31)), "2024-03-30", ("2024-02-29", "2024-03-31"), "2024-03-31"),
        (
            Grid.anchored(QUARTER, date(2025, 11, 30)),
            "2026-05-29",
            ("2026-02-28", "2026-05-30"),
            "2026-05-30",
        ),
        (
            Grid.anchored(MONTH, date(2026, 3, 15), 1),
            "2026-03-15",
            ("2026-03-01", "2026-04-01"),
            "2026-04-01",
        ),
    ],
)
def test_grid_enclosing(grid: Grid, day: str, period: tuple[str, str], next_boundary: str) -> None:
    d = _day(day)
    assert grid.enclosing(d) == (_day(period[0]), _day(period[1]))
    assert grid.next_boundary(d) == _day(next_boundary)
    assert grid.boundary_from(d) == (d if grid.is_boundary(d) else _day(next_boundary))


def test_grid_after_counts_a_partial_first_period_as_a_cycle() -> None:
    grid = Grid.anchored(MONTH, date(2026, 1, 20), 1)
    assert grid.after(date(2026, 1, 20), 2) == date(2026, 3, 1)
    assert grid.after(date(2026, 2, 1), 2) == date(2026, 4, 1)
