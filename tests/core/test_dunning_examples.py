"""Worked examples of the dunning policy (issue 7): retry instants in the customer's time zone, the steps
due on a day, the recovery report and the policy document's errors with their exact paths."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from kassa.core.dunning import (
    NEVER,
    DunningAction,
    DunningPolicy,
    RecoveryAttempt,
    RetryRule,
    Step,
    default_policy,
    due_steps,
    next_retry_at,
    parse_policy,
    policy_to_json,
    rate_text,
    recovery_report,
    report_to_json,
    retry_days,
    step_date,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import DeclineCode

AMS = "Europe/Amsterdam"
POLICY = default_policy()
G = DeclineCode.GENERIC_DECLINE
NSF = DeclineCode.INSUFFICIENT_FUNDS


def z(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone))


def retries(
    policy: DunningPolicy, code: DeclineCode | None, first_failed_at: datetime, zone: str = AMS
) -> list[datetime | None]:
    """next_retry_at after 1, 2, ... failed attempts until it says None (included)."""
    out: list[datetime | None] = []
    for attempts in range(1, 20):
        out.append(
            next_retry_at(
                policy, attempts=attempts, decline_code=code, first_failed_at=first_failed_at, time_zone=zone
            )
        )
        if out[-1] is None:
            return out
    raise AssertionError("no end to the retries")


# ---- retries -----------------------------------------------------------------------------------------------


def test_a_generic_decline_is_retried_after_1_3_5_7_10_14_local_days_at_10_00() -> None:
    """Declined 2026-03-10 09:00 Amsterdam (CET, +01:00): retries at 10:00 local; from 29 March the
    Netherlands are on CEST (+02:00), so 10:00 local is 08:00Z."""
    assert retries(POLICY, G, local(AMS, 2026, 3, 10, 9)) == [
        z(2026, 3, 11, 9),
        z(2026, 3, 13, 9),
        z(2026, 3, 15, 9),
        z(2026, 3, 17, 9),
        z(2026, 3, 20, 9),
        z(2026, 3, 24, 9),
        None,  # 7 attempts made: the rule has no 7th retry (max_attempts 8 would allow one more)
    ]


def test_a_retry_across_the_dst_change_keeps_the_local_hour() -> None:
    """First failure 2026-03-26 14:00 CET; Europe moves to summer time on Sunday 2026-03-29."""
    first = local(AMS, 2026, 3, 26, 14)
    assert retries(POLICY, G, first)[:3] == [z(2026, 3, 27, 9), z(2026, 3, 29, 8), z(2026, 3, 31, 8)]
    back = local(AMS, 2026, 10, 22, 14)  # and back to CET on Sunday 2026-10-25
    assert retries(POLICY, G, back)[:2] == [z(2026, 10, 23, 8), z(2026, 10, 25, 9)]


def test_days_count_in_the_customers_local_calendar() -> None:
    """2026-03-10 23:30Z is already 11 March 08:30 in Tokyo: the first retry is 12 March 10:00 JST."""
    assert retries(POLICY, G, z(2026, 3, 10, 23, 30), "Asia/Tokyo")[0] == z(2026, 3, 12, 1)
    # The same instant in New York (EDT since 8 March) is 10 March 19:30: retry 11 March 10:00 EDT.
    assert retries(POLICY, G, z(2026, 3, 10, 23, 30), "America/New_York")[0] == z(2026, 3, 11, 14)


def test_insufficient_funds_waits_for_the_first_of_the_month() -> None:
    """Failed 2026-03-20: days 2, 5 and 9 (22, 25, 29 March) all move to 1 April; the later ones go one
    day past the previous retry: 1, 2 and 3 April at 10:00 CEST."""
    assert retries(POLICY, NSF, local(AMS, 2026, 3, 20, 9)) == [
        z(2026, 4, 1, 8),
        z(2026, 4, 2, 8),
        z(2026, 4, 3, 8),
        None,
    ]
    # Failed 2026-03-28: day 2 (30 March) -> 1 April; day 5 (2 April) and day 9 (6 April) -> 1 and 2 May.
    assert retries(POLICY, NSF, local(AMS, 2026, 3, 28, 9)) == [
        z(2026, 4, 1, 8),
        z(2026, 5, 1, 8),
        z(2026, 5, 2, 8),
        None,
    ]


def test_a_day_of_month_the_month_lacks_is_its_last_day() -> None:
    rule = RetryRule(days=(1, 2), day_of_month=31)
    assert retry_days(rule, date(2026, 4, 5)) == [date(2026, 4, 30), date(2026, 5, 1)]
    # Both scheduled days (2 and 3 Feb) meet on 28 Feb: the second goes one day past it.
    assert retry_days(rule, date(2026, 2, 1)) == [date(2026, 2, 28), date(2026, 3, 1)]
    assert retry_days(rule, date(2028, 2, 1)) == [date(2028, 2, 29), date(2028, 3, 1)]  # leap year
    assert retry_days(RetryRule(days=(1, 40), day_of_month=31), date(2026, 2, 1)) == [
        date(2026, 2, 28),
        date(2026, 3, 31),
    ]
    assert retry_days(RetryRule(days=(1,), day_of_month=15), date(2026, 3, 14)) == [date(2026, 3, 15)]


@pytest.mark.parametrize(
    "code", [DeclineCode.STOLEN_CARD, DeclineCode.LOST_CARD, DeclineCode.AUTHENTICATION_REQUIRED]
)
def test_a_card_only_the_customer_can_fix_is_never_retried(code: DeclineCode) -> None:
    assert retries(POLICY, code, local(AMS, 2026, 3, 10, 9)) == [None]


def test_a_hard_decline_the_policy_does_not_name_is_never_retried() -> None:
    policy = DunningPolicy(id="p", name="Plain", default_retry=RetryRule(days=(1, 2)))
    first = z(2026, 3, 10, 8)
    assert retries(policy, DeclineCode.STOLEN_CARD, first) == [None]
    assert retries(policy, DeclineCode.DO_NOT_HONOR, first) == [z(2026, 3, 11, 9), z(2026, 3, 12, 9), None]
    assert retries(policy, None, first) == [z(2026, 3, 11, 9), z(2026, 3, 12, 9), None]  # no code: default
    # Named explicitly (a tenant with a card updater retries expired cards): the rule applies.
    named = DunningPolicy(
        id="p",
        name="Updater",
        default_retry=RetryRule(days=(1,)),
        retries={DeclineCode.EXPIRED_CARD: RetryRule(days=(4,), hour=6)},
    )
    assert retries(named, DeclineCode.EXPIRED_CARD, first) == [z(2026, 3, 14, 5), None]


def test_max_attempts_stops_the_retries() -> None:
    policy = DunningPolicy(id="p", name="Three", default_retry=RetryRule(days=(1, 3, 5, 7)), max_attempts=3)
    assert retries(policy, G, local(AMS, 2026, 3, 10, 9)) == [z(2026, 3, 11, 9), z(2026, 3, 13, 9), None]
    once = DunningPolicy(id="p", name="One", default_retry=RetryRule(days=(1,)), max_attempts=1)
    assert retries(once, G, local(AMS, 2026, 3, 10, 9)) == [None]


def test_an_hour_skipped_or_repeated_by_dst() -> None:
    """02:00 does not exist on 2026-03-29 in Amsterdam: read with the winter offset, 01:00Z (03:00 CEST).
    02:00 on 2026-10-25 happens twice: the first one, 00:00Z (CEST)."""
    rule = RetryRule(days=(1,), hour=2)
    policy = DunningPolicy(id="p", name="Night", default_retry=rule)
    assert retries(policy, G, local(AMS, 2026, 3, 28, 12))[0] == z(2026, 3, 29, 1)
    assert retries(policy, G, local(AMS, 2026, 10, 24, 12))[0] == z(2026, 10, 25, 0)


def test_bad_retry_arguments() -> None:
    first = z(2026, 3, 10, 8)
    with pytest.raises(DomainError) as caught:
        next_retry_at(POLICY, attempts=0, decline_code=G, first_failed_at=first, time_zone=AMS)
    assert (caught.value.code, caught.value.field) == ("invalid_attempts", "attempts")
    with pytest.raises(DomainError) as caught:
        next_retry_at(POLICY, attempts=1, decline_code=G, first_failed_at=first, time_zone="Mars/Olympus")
    assert (caught.value.code, caught.value.field) == ("invalid_time_zone", "time_zone")
    with pytest.raises(ValueError, match="naive"):
        next_retry_at(
            POLICY,
            attempts=1,
            decline_code=G,
            first_failed_at=datetime(2026, 3, 10),  # noqa: DTZ001
            time_zone=AMS,
        )


# ---- steps -------------------------------------------------------------------------------------------------


def test_due_steps_returns_the_steps_whose_day_has_come_and_are_not_done() -> None:
    due = date(2026, 3, 1)
    reminder1, reminder7, notice, past_due, cancel, _ = POLICY.steps
    assert due_steps(POLICY, due_date=due, today=date(2026, 3, 1), done=set()) == []
    assert due_steps(POLICY, due_date=due, today=date(2026, 3, 2), done=set()) == [reminder1]
    assert due_steps(POLICY, due_date=due, today=date(2026, 3, 15), done={0}) == [reminder7, notice, past_due]
    assert due_steps(POLICY, due_date=due, today=date(2026, 3, 31), done={0, 1, 2, 3}) == [cancel]
    assert due_steps(POLICY, due_date=due, today=date(2026, 4, 14), done={0, 1, 2, 3, 4}) == []
    assert due_steps(POLICY, due_date=due, today=date(2026, 4, 15), done=range(5)) == [POLICY.steps[5]]


def test_step_date_counts_calendar_days_past_the_due_date() -> None:
    assert step_date(date(2026, 1, 31), Step(day=30, action=DunningAction.CANCEL)) == date(2026, 3, 2)
    assert step_date(date(2028, 2, 15), Step(day=14, action=DunningAction.PAST_DUE)) == date(2028, 2, 29)
    assert step_date(date(2026, 5, 5), Step(day=0, action=DunningAction.REMINDER)) == date(2026, 5, 5)


# ---- the policy document -----------------------------------------------------------------------------------


def test_the_default_policy_document() -> None:
    doc = policy_to_json(POLICY)
    assert doc["max_attempts"] == 8
    assert doc["retries"]["default"] == {"days": [1, 3, 5, 7, 10, 14]}
    assert doc["retries"]["insufficient_funds"] == {"days": [2, 5, 9], "day_of_month": 1}
    assert doc["retries"]["stolen_card"] == {"never": True}
    assert "generic_decline" not in doc["retries"]
    assert doc["steps"] == [
        {"day": 1, "action": "reminder"},
        {"day": 7, "action": "reminder"},
        {"day": 10, "action": "suspension_notice"},
        {"day": 14, "action": "past_due"},
        {"day": 30, "action": "cancel"},
        {"day": 45, "action": "write_off"},
    ]
    assert parse_policy(json.loads(json.dumps(doc))) == POLICY


def test_a_minimal_document_gets_its_id_from_the_caller() -> None:
    doc = {"name": " Gentle ", "retries": {"default": {"days": [3, 10], "hour": 18}}, "steps": []}
    policy = parse_policy(doc, policy_id="dnp_1")
    assert policy == DunningPolicy(id="dnp_1", name="Gentle", default_retry=RetryRule(days=(3, 10), hour=18))
    assert policy.max_attempts == 8
    assert parse_policy(policy_to_json(policy) | {"id": "dnp_1"}, policy_id="dnp_1") == policy


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(policy_to_json(POLICY)))
    doc.update(changes)
    return doc


def _retries(**rules: Any) -> dict[str, Any]:
    current: dict[str, Any] = _doc()["retries"]
    return {**current, **rules}


def _steps(*steps: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"day": day, "action": action} for day, action in steps]


DEFAULT_DAYS = {"days": [1, 3, 5, 7, 10, 14]}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (["not", "an", "object"], None),
        (_doc(colour="red"), "colour"),
        ({k: v for k, v in _doc().items() if k != "name"}, "name"),
        (_doc(name="   "), "name"),
        (_doc(id="has space"), "id"),
        ({k: v for k, v in _doc().items() if k != "id"}, "id"),  # no id and none given
        (_doc(max_attempts=True), "max_attempts"),
        (_doc(max_attempts=0), "max_attempts"),
        (_doc(max_attempts=17), "max_attempts"),  # Visa: at most 15 reattempts in 30 days
        (_doc(retries=[]), "retries"),
        (_doc(retries={"insufficient_funds": {"days": [1]}}), "retries.default"),
        (_doc(retries=_retries(card_melted={"days": [1]})), "retries.card_melted"),
        (_doc(retries=_retries(insufficient_funds={"days": [2, 5, 5]})), "retries.insufficient_funds.days.2"),
        (_doc(retries=_retries(default={"days": [1, True]})), "retries.default.days.1"),
        (_doc(retries=_retries(default={"days": [1, 2.5]})), "retries.default.days.1"),
        (_doc(retries=_retries(default={"days": [0, 2]})), "retries.default.days.0"),
        (_doc(retries=_retries(default={"days": [1, 366]})), "retries.default.days.1"),
        (_doc(retries=_retries(default={"days": []})), "retries.default.days"),
        (_doc(retries=_retries(default={"days": list(range(1, 17))})), "retries.default.days"),
        (_doc(retries=_retries(default={"days": "1,3"})), "retries.default.days"),
        (_doc(retries=_retries(default={})), "retries.default.days"),
        (_doc(retries=_retries(default=[1, 3])), "retries.default"),
        (_doc(retries=_retries(default=DEFAULT_DAYS | {"tries": 3})), "retries.default.tries"),
        (_doc(retries=_retries(default=DEFAULT_DAYS | {"hour": 24})), "retries.default.hour"),
        (_doc(retries=_retries(default=DEFAULT_DAYS | {"hour": "10"})), "retries.default.hour"),
        (
            _doc(retries=_retries(insufficient_funds={"days": [2], "day_of_month": 32})),
            "retries.insufficient_funds.day_of_month",
        ),
        (
            _doc(retries=_retries(insufficient_funds={"days": [2], "day_of_month": False})),
            "retries.insufficient_funds.day_of_month",
        ),
        (_doc(retries=_retries(stolen_card={"never": True, "days": [1]})), "retries.stolen_card.days"),
        (_doc(retries=_retries(stolen_card={"never": "yes"})), "retries.stolen_card.never"),
        (_doc(retries=_retries(stolen_card={"never": True, "hour": 9})), "retries.stolen_card.hour"),
        (_doc(steps={"day": 1}), "steps"),
        (_doc(steps=["reminder"]), "steps.0"),
        (_doc(steps=_steps((1, "reminder"), (3, "sue"))), "steps.1.action"),
        (_doc(steps=_steps((-1, "reminder"))), "steps.0.day"),
        (_doc(steps=_steps((1, "reminder"), (True, "reminder"))), "steps.1.day"),
        (_doc(steps=[{"day": 1, "action": "reminder", "when": "later"}]), "steps.0.when"),
        (_doc(steps=[{"action": "reminder"}]), "steps.0.day"),
        (
            _doc(steps=_steps((1, "reminder"), (7, "reminder"), (10, "cancel"), (9, "write_off"))),
            "steps.3.day",
        ),
        (_doc(steps=_steps((1, "reminder"), (1, "reminder"))), "steps.1"),
        (_doc(steps=_steps((30, "cancel"), (31, "cancel"))), "steps.1.action"),
    ],
)
def test_parse_policy_refuses_with_the_exact_path(doc: Any, field: str | None) -> None:
    with pytest.raises(DomainError) as caught:
        parse_policy(doc)
    assert (caught.value.code, caught.value.field) == ("invalid_dunning_policy", field)


def test_the_documents_id_must_match_the_callers() -> None:
    with pytest.raises(DomainError) as caught:
        parse_policy(_doc(), policy_id="other")
    assert (caught.value.code, caught.value.field) == ("invalid_dunning_policy", "id")


def test_a_policy_built_in_code_is_checked_too() -> None:
    with pytest.raises(DomainError) as caught:
        rules: Any = {"nope": NEVER}
        DunningPolicy(id="p", name="P", default_retry=NEVER, retries=rules)
    assert caught.value.field == "retries.nope"
    with pytest.raises(DomainError) as caught:
        RetryRule(days=[1, 2])  # type: ignore[arg-type]
    assert caught.value.field == "days"


# ---- recovery report ---------------------------------------------------------------------------------------


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def attempt(invoice: str, n: int, code: DeclineCode | None, amount: Money, ok: bool) -> RecoveryAttempt:
    return RecoveryAttempt(invoice_id=invoice, attempt=n, decline_code=code, amount=amount, succeeded=ok)


JPY_5000 = Money(Decimal(5000), "JPY")
ATTEMPTS = [
    # in_1: the 3rd retry (attempt 4, after an insufficient-funds decline) pays 30.00 EUR
    attempt("in_1", 1, None, eur("30.00"), False),
    attempt("in_1", 2, G, eur("30.00"), False),
    attempt("in_1", 3, G, eur("30.00"), False),
    attempt("in_1", 4, NSF, eur("30.00"), True),
    attempt("in_2", 1, None, eur("10.00"), True),  # paid at once: never in dunning
    attempt("in_3", 1, None, eur("12.34"), False),
    attempt("in_3", 2, NSF, eur("12.34"), True),
    attempt("in_4", 1, None, eur("99.00"), False),  # a stolen card: in dunning, never retried
    attempt("in_5", 2, None, eur("7.00"), False),  # attempt 1 outside the data: attempt 2 implies it failed
    attempt("in_6", 1, None, JPY_5000, False),
    attempt("in_6", 2, G, JPY_5000, True),
]


def test_the_recovery_report() -> None:
    report = recovery_report(reversed(ATTEMPTS))  # order does not matter
    assert (report.invoices, report.invoices_in_dunning, report.invoices_recovered) == (6, 5, 3)
    assert report.recovery_rate == Fraction(3, 5)
    assert report.recovered_amount == {"EUR": eur("42.34"), "JPY": JPY_5000}
    assert list(report.by_attempt) == [2, 3, 4]
    assert list(report.by_decline_code) == [G, NSF, None]
    assert report_to_json(report) == {
        "invoices": 6,
        "invoices_in_dunning": 5,
        "invoices_recovered": 3,
        "recovered_amount": {
            "EUR": {"amount": "42.34", "currency": "EUR"},
            "JPY": {"amount": "5000", "currency": "JPY"},
        },
        "recovery_rate": "0.6000",
        "by_attempt": [
            {
                "attempt": 2,
                "attempts": 4,
                "recovered": 2,
                "recovered_amount": {
                    "EUR": {"amount": "12.34", "currency": "EUR"},
                    "JPY": {"amount": "5000", "currency": "JPY"},
                },
                "rate": "0.4000",
                "success_rate": "0.5000",
            },
            {
                "attempt": 3,
                "attempts": 1,
                "recovered": 0,
                "recovered_amount": {},
                "rate": "0.0000",
                "success_rate": "0.0000",
            },
            {
                "attempt": 4,
                "attempts": 1,
                "recovered": 1,
                "recovered_amount": {"EUR": {"amount": "30.00", "currency": "EUR"}},
                "rate": "0.2000",
                "success_rate": "1.0000",
            },
        ],
        "by_decline_code": [
            {
                "decline_code": "generic_decline",
                "attempts": 3,
                "recovered": 1,
                "recovered_amount": {"JPY": {"amount": "5000", "currency": "JPY"}},
                "rate": "0.2000",
                "success_rate": "0.3333",
            },
            {
                "decline_code": "insufficient_funds",
                "attempts": 2,
                "recovered": 2,
                "recovered_amount": {"EUR": {"amount": "42.34", "currency": "EUR"}},
                "rate": "0.4000",
                "success_rate": "1.0000",
            },
            {
                "decline_code": None,
                "attempts": 1,
                "recovered": 0,
                "recovered_amount": {},
                "rate": "0.0000",
                "success_rate": "0.0000",
            },
        ],
    }


def test_a_report_without_dunning_has_no_rates() -> None:
    report = recovery_report([attempt("in_2", 1, None, eur("10.00"), True)])
    assert (report.invoices, report.invoices_in_dunning, report.recovery_rate) == (1, 0, None)
    assert report_to_json(recovery_report([]))["recovery_rate"] is None


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Fraction(4, 15), "0.2667"),
        (Fraction(1, 3), "0.3333"),
        (Fraction(27, 100), "0.2700"),
        (Fraction(1, 20000), "0.0001"),  # half up
        (Fraction(1, 20001), "0.0000"),
        (Fraction(0), "0.0000"),
        (Fraction(1), "1.0000"),
        (None, None),
    ],
)
def test_rates_print_with_four_decimals_half_up(rate: Fraction | None, text: str | None) -> None:
    assert rate_text(rate) == text


def test_inconsistent_attempts_are_refused() -> None:
    with pytest.raises(DomainError) as caught:
        recovery_report(
            [attempt("in_1", 1, None, eur("1.00"), False), attempt("in_1", 1, None, eur("1.00"), True)]
        )
    assert caught.value.code == "invalid_recovery_attempts"
    with pytest.raises(DomainError) as caught:
        recovery_report([attempt("in_1", 2, G, eur("1.00"), True), attempt("in_1", 3, G, eur("1.00"), False)])
    assert caught.value.code == "invalid_recovery_attempts"
    with pytest.raises(DomainError) as caught:
        recovery_report([attempt("in_1", 0, None, eur("1.00"), True)])
    assert (caught.value.code, caught.value.field) == ("invalid_recovery_attempts", "attempt")
