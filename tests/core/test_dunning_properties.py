"""Properties of the dunning policy (issue 7), checked with hypothesis: retries move forward in time and
stay within their rule's window in any time zone; a policy document round-trips; a bad document is
refused with the policy's own error; a recovery report's rates are fractions that add up."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.dunning import (
    MAX_ATTEMPTS,
    DunningAction,
    DunningPolicy,
    RecoveryAttempt,
    RetryRule,
    Step,
    next_retry_at,
    parse_policy,
    policy_to_json,
    recovery_report,
    report_to_json,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import DeclineCode

# Zones with DST at 02:00, at midnight (Santiago), by 30 minutes (Lord Howe), south of the equator, none.
ZONES = [
    "Europe/Amsterdam",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
]

days_lists = st.lists(st.integers(1, 365), min_size=1, max_size=MAX_ATTEMPTS - 1, unique=True).map(
    lambda days: tuple(sorted(days))
)
rules = st.one_of(
    st.just(RetryRule(never=True)),
    st.builds(
        RetryRule,
        days=days_lists,
        day_of_month=st.none() | st.integers(1, 31),
        hour=st.integers(0, 23),
    ),
)
T0 = datetime(2000, 1, 1, tzinfo=UTC)
instants = st.integers(0, 41 * 365 * 86400).map(lambda seconds: T0 + timedelta(seconds=seconds))


def _exists(day: date, hour: int, zone: ZoneInfo) -> bool:
    wall = datetime.combine(day, time(hour), tzinfo=zone)
    return wall.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None)


@settings(max_examples=300)
@given(
    rule=rules, first=instants, zone_name=st.sampled_from(ZONES), code=st.sampled_from([*DeclineCode, None])
)
def test_retries_move_forward_within_the_rules_window(
    rule: RetryRule, first: datetime, zone_name: str, code: DeclineCode | None
) -> None:
    policy = DunningPolicy(
        id="p",
        name="P",
        default_retry=rule,
        retries={code: rule} if code is not None else {},
        max_attempts=MAX_ATTEMPTS,
    )
    zone = ZoneInfo(zone_name)
    first_day = first.astimezone(zone).date()
    found = [
        next_retry_at(policy, attempts=n, decline_code=code, first_failed_at=first, time_zone=zone_name)
        for n in range(1, len(rule.days) + 2)
    ]
    retries = [at for at in found if at is not None]
    assert found[len(retries) :] == [None] * (len(found) - len(retries))  # None ends the schedule
    assert len(retries) == (0 if rule.never else len(rule.days))
    previous = first
    for k, at in enumerate(retries):
        assert at.tzinfo is UTC
        assert at > previous  # never before the first failure, and strictly increasing
        previous = at
        day = at.astimezone(zone).date()
        scheduled = first_day + timedelta(days=rule.days[k])
        if rule.day_of_month is None:
            assert day == scheduled or not _exists(scheduled, rule.hour, zone)
        else:
            assert scheduled <= day <= first_day + timedelta(days=rule.days[-1] + 31)
        if _exists(day, rule.hour, zone):
            assert at.astimezone(zone).hour == rule.hour


@given(rule=rules.filter(lambda r: not r.never), cap=st.integers(1, MAX_ATTEMPTS), first=instants)
def test_max_attempts_caps_every_rule(rule: RetryRule, cap: int, first: datetime) -> None:
    policy = DunningPolicy(id="p", name="P", default_retry=rule, max_attempts=cap)
    made = [
        n
        for n in range(1, MAX_ATTEMPTS + 1)
        if next_retry_at(policy, attempts=n, decline_code=None, first_failed_at=first, time_zone="UTC")
    ]
    assert made == list(range(1, min(cap - 1, len(rule.days)) + 1))


def _steps(items: list[tuple[int, DunningAction]]) -> tuple[Step, ...]:
    seen: set[tuple[int, DunningAction]] = set()
    once: set[DunningAction] = set()
    steps = []
    for day, action in sorted(items):
        if (day, action) in seen or action in once:
            continue
        seen.add((day, action))
        if action in {DunningAction.PAST_DUE, DunningAction.CANCEL, DunningAction.WRITE_OFF}:
            once.add(action)
        steps.append(Step(day=day, action=action))
    return tuple(steps)


policies = st.builds(
    DunningPolicy,
    id=st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
    name=st.text(min_size=1, max_size=200).filter(lambda s: s.strip() == s and s),
    default_retry=rules,
    retries=st.dictionaries(st.sampled_from(DeclineCode), rules, max_size=6),
    max_attempts=st.integers(1, MAX_ATTEMPTS),
    steps=st.lists(st.tuples(st.integers(0, 365), st.sampled_from(DunningAction)), max_size=12).map(_steps),
)


@given(policy=policies)
def test_a_policy_document_round_trips(policy: DunningPolicy) -> None:
    doc = policy_to_json(policy)
    assert parse_policy(doc) == policy
    assert parse_policy(json.loads(json.dumps(doc))) == policy
    assert policy_to_json(parse_policy(doc)) == doc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 400) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)


@given(policy=policies, path=st.lists(st.integers(0, 5), min_size=1, max_size=4), junk=json_values)
def test_a_damaged_document_is_refused_with_the_policys_error_or_parses(
    policy: DunningPolicy, path: list[int], junk: Any
) -> None:
    doc = policy_to_json(policy)
    node: Any = doc
    for i, step in enumerate(path):  # walk down the document, replacing one value on the way
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = keys[step % len(keys)]
        if i == len(path) - 1 or not isinstance(node[key], dict | list):
            node[key] = junk
            break
        node = node[key]
    try:
        parsed = parse_policy(doc)
    except DomainError as error:
        assert error.code == "invalid_dunning_policy"
    else:
        assert policy_to_json(parsed) == policy_to_json(parse_policy(policy_to_json(parsed)))


@st.composite
def invoice_attempts(draw: st.DrawFn) -> list[RecoveryAttempt]:
    out: list[RecoveryAttempt] = []
    for i in range(draw(st.integers(0, 12))):
        currency = draw(st.sampled_from(["EUR", "JPY", "USD"]))
        amount = Money.from_minor_units(draw(st.integers(1, 10**6)), currency)
        count = draw(st.integers(1, 6))
        paid = draw(st.booleans())
        start = draw(st.sampled_from([1, 1, 2]))  # sometimes attempt 1 is outside the data
        for n in range(start, start + count):
            code = None if n == 1 else draw(st.sampled_from([*DeclineCode, None]))
            ok = paid and n == start + count - 1
            out.append(
                RecoveryAttempt(
                    invoice_id=f"in_{i}", attempt=n, decline_code=code, amount=amount, succeeded=ok
                )
            )
    return draw(st.permutations(out))


@given(attempts=invoice_attempts())
def test_report_rates_are_fractions_that_add_up(attempts: list[RecoveryAttempt]) -> None:
    report = recovery_report(attempts)
    entered = {a.invoice_id for a in attempts if a.attempt > 1 or not a.succeeded}
    recovered = [a for a in attempts if a.attempt > 1 and a.succeeded]
    assert report.invoices_in_dunning == len(entered)
    assert report.invoices_recovered == len(recovered)
    rates = [report.recovery_rate]
    for groups in (report.by_attempt, report.by_decline_code):
        rates += [s.rate for s in groups.values()] + [s.success_rate for s in groups.values()]
        if entered:
            assert sum((s.rate or Fraction(0) for s in groups.values()), Fraction(0)) == report.recovery_rate
        assert sum(s.attempts for s in groups.values()) == sum(1 for a in attempts if a.attempt > 1)
        for code in {"EUR", "JPY", "USD"}:
            total = sum(
                (s.recovered_amount.get(code, Money.zero(code)) for s in groups.values()), Money.zero(code)
            )
            assert total == report.recovered_amount.get(code, Money.zero(code))
    for rate in rates:
        assert rate is None or 0 <= rate <= 1
    assert (report.recovery_rate is None) == (not entered)
    text = report_to_json(report)
    assert json.loads(json.dumps(text)) == text
    if report.recovery_rate is not None:
        assert abs(
            Decimal(text["recovery_rate"])
            - Decimal(report.recovery_rate.numerator) / report.recovery_rate.denominator
        ) <= Decimal("0.00005")
