"""Dunning: when to retry a failed payment, which collection steps are due, and how much dunning recovered.

A `DunningPolicy` holds two independent schedules. *Retries* charge the payment method again; they count
from the first failed attempt, in the customer's local days, and the rule depends on why the last attempt
failed. *Steps* (reminder, suspension notice, past due, cancel, write-off) count from the invoice's due
date. A rule that never retries stops the retries, not the steps: the customer can still pay by hand.
See docs/dunning.md.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from kassa.core.clock import utc
from kassa.core.errors import DomainError, prefixed
from kassa.core.money import Money
from kassa.core.parties import time_zone as _checked_zone
from kassa.core.payments import HARD_DECLINES, DeclineCode
from kassa.core.periods import local_day

ERROR = "invalid_dunning_policy"
MAX_DAY = 365
# Visa's rules allow at most 15 reattempts of a declined payment in 30 days; more would cost fees.
MAX_ATTEMPTS = 16
MAX_STEPS = 32
DEFAULT_HOUR = 10
DEFAULT_KEY = "default"  # the JSON key of the rule for codes the policy does not name
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# A state change happens once: a second cancel or write-off would have nothing left to do.
_ONCE = frozenset({"past_due", "cancel", "write_off"})


class DunningAction(StrEnum):
    REMINDER = "reminder"
    SUSPENSION_NOTICE = "suspension_notice"
    PAST_DUE = "past_due"
    CANCEL = "cancel"
    WRITE_OFF = "write_off"


_ACTIONS = frozenset(a.value for a in DunningAction)
_CODES = frozenset(c.value for c in DeclineCode)


def _error(path: str | None, message: str) -> DomainError:
    return DomainError(ERROR, message, path or None)


def _int(value: Any, path: str, low: int, high: int, what: str) -> int:
    # bool is an int in Python, and `true` is never a number of days in a JSON document.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _error(path, f"{what} is a whole number from {low} to {high}.")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryRule:
    """Retry `days[k]` local days after the first failure (k = retries already made), at `hour` local
    time; or never. With `day_of_month`, each retry moves to the next such day of the month on or after
    its scheduled day (a day the month lacks means its last day), and one day past the previous retry
    when they would meet: salaries arrive near one day of the month, and often a day or two late."""

    days: tuple[int, ...] = ()
    never: bool = False
    day_of_month: int | None = None
    hour: int = DEFAULT_HOUR

    def __post_init__(self) -> None:
        if not isinstance(self.never, bool):
            raise _error("never", "never is true or false.")
        if not isinstance(self.days, tuple):
            raise _error("days", "days is a list of whole numbers.")
        _int(self.hour, "hour", 0, 23, "The hour")
        if self.never:
            if self.days or self.day_of_month is not None or self.hour != DEFAULT_HOUR:
                path = "days" if self.days else "day_of_month" if self.day_of_month is not None else "hour"
                raise _error(path, "A rule that never retries has no days, day_of_month or hour.")
            return
        if not 1 <= len(self.days) <= MAX_ATTEMPTS - 1:
            raise _error("days", f"Give 1 to {MAX_ATTEMPTS - 1} retry days, or never: true.")
        previous = 0
        for i, day in enumerate(self.days):
            _int(day, f"days.{i}", 1, MAX_DAY, "A retry day")
            if day <= previous:
                raise _error(f"days.{i}", "Retry days are strictly increasing.")
            previous = day
        if self.day_of_month is not None:
            _int(self.day_of_month, "day_of_month", 1, 31, "The day of the month")

    def to_json(self) -> dict[str, Any]:
        if self.never:
            return {"never": True}
        doc: dict[str, Any] = {"days": list(self.days)}
        if self.day_of_month is not None:
            doc["day_of_month"] = self.day_of_month
        if self.hour != DEFAULT_HOUR:
            doc["hour"] = self.hour
        return doc


NEVER = RetryRule(never=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    day: int  # days past the due date; 0 is the due date itself
    action: DunningAction

    def __post_init__(self) -> None:
        _int(self.day, "day", 0, MAX_DAY, "A step's day")
        if not isinstance(self.action, str) or self.action not in _ACTIONS:
            raise _error("action", f"The action is one of {', '.join(DunningAction)}.")
        object.__setattr__(self, "action", DunningAction(self.action))


@dataclass(frozen=True, slots=True, kw_only=True)
class DunningPolicy:
    """`default_retry` covers every failure whose code `retries` does not name (and a failure without a
    code), except a hard decline (payments.HARD_DECLINES), which is never retried unless named: retrying
    a lost or stolen card costs network fees and cannot succeed. `max_attempts` counts the first charge.
    `steps` are in day order; due_steps' `done` indexes into them."""

    id: str
    name: str
    default_retry: RetryRule
    retries: Mapping[DeclineCode, RetryRule] = field(default_factory=dict)
    max_attempts: int = 8
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _ID.fullmatch(self.id):
            raise _error("id", "A policy id is 1 to 64 letters, digits, '.', '_' or '-'.")
        if not isinstance(self.name, str) or not 1 <= len(self.name.strip()) <= 200:
            raise _error("name", "A policy name is 1 to 200 characters.")
        object.__setattr__(self, "name", self.name.strip())
        _int(self.max_attempts, "max_attempts", 1, MAX_ATTEMPTS, "max_attempts")
        if not isinstance(self.default_retry, RetryRule):
            raise _error(f"retries.{DEFAULT_KEY}", "Expected a retry rule.")
        if not isinstance(self.retries, Mapping):
            raise _error("retries", "Expected a mapping of decline codes to retry rules.")
        by_code: dict[DeclineCode, RetryRule] = {}
        for key, rule in self.retries.items():
            if not isinstance(key, str) or key not in _CODES:
                raise _error(f"retries.{key}", f"{key!r} is not a decline code (or {DEFAULT_KEY!r}).")
            if not isinstance(rule, RetryRule):
                raise _error(f"retries.{key}", "Expected a retry rule.")
            by_code[DeclineCode(key)] = rule
        # Enum order, so the JSON document reads the same whatever order the rules came in.
        object.__setattr__(self, "retries", {code: by_code[code] for code in DeclineCode if code in by_code})
        self._check_steps()

    def _check_steps(self) -> None:
        if not isinstance(self.steps, tuple) or len(self.steps) > MAX_STEPS:
            raise _error("steps", f"steps is a list of at most {MAX_STEPS} steps.")
        seen: set[tuple[int, DunningAction]] = set()
        for i, step in enumerate(self.steps):
            if not isinstance(step, Step):
                raise _error(f"steps.{i}", "Expected a step.")
            if i and step.day < self.steps[i - 1].day:
                # Refused rather than sorted: `done` holds indexes, which must mean what the document says.
                raise _error(f"steps.{i}.day", "Steps are in day order.")
            if (step.day, step.action) in seen:
                raise _error(f"steps.{i}", f"{step.action} on day {step.day} is already a step.")
            if step.action in _ONCE and any(s.action is step.action for s in self.steps[:i]):
                raise _error(f"steps.{i}.action", f"{step.action} happens once.")
            seen.add((step.day, step.action))

    def rule_for(self, decline_code: DeclineCode | None) -> RetryRule:
        if decline_code is not None and decline_code in self.retries:
            return self.retries[decline_code]
        return NEVER if decline_code in HARD_DECLINES else self.default_retry


def default_policy() -> DunningPolicy:
    """The documented default (docs/dunning.md): 7 tries in 14 days for most failures, salary-day retries
    for insufficient funds, never for failures only the customer can cure."""
    never = HARD_DECLINES | {
        DeclineCode.AUTHENTICATION_REQUIRED,  # the customer must authenticate: an off-session retry cannot
        DeclineCode.AUTHENTICATION_FAILED,
        DeclineCode.INCORRECT_CVC,  # the stored details are wrong; the same details fail again
        DeclineCode.DEBTOR_REFUSED,  # the customer said no to the debit
    }
    retries = {code: NEVER for code in never}
    retries[DeclineCode.INSUFFICIENT_FUNDS] = RetryRule(days=(2, 5, 9), day_of_month=1)
    return DunningPolicy(
        id="default",
        name="Default",
        default_retry=RetryRule(days=(1, 3, 5, 7, 10, 14)),
        retries=retries,
        max_attempts=8,
        steps=(
            Step(day=1, action=DunningAction.REMINDER),
            Step(day=7, action=DunningAction.REMINDER),
            Step(day=10, action=DunningAction.SUSPENSION_NOTICE),
            Step(day=14, action=DunningAction.PAST_DUE),
            Step(day=30, action=DunningAction.CANCEL),
            Step(day=45, action=DunningAction.WRITE_OFF),
        ),
    )


# ---- the policy document ---------------------------------------------------------------------------------


def parse_policy(doc: Mapping[str, Any], *, policy_id: str | None = None) -> DunningPolicy:
    """A policy from its JSON document ({id?, name, max_attempts?, retries: {default: rule, "<decline
    code>": rule}, steps: [{day, action}]}, a rule being {days, day_of_month?, hour?} or {never: true}).
    The id is the document's or else `policy_id` (a new policy's id is the caller's to assign). The first
    problem is reported with its path, e.g. `retries.insufficient_funds.days.2`."""
    if not isinstance(doc, Mapping):
        raise _error(None, "A dunning policy is an object.")
    _known_fields(doc, "", {"id", "name", "max_attempts", "retries", "steps"})
    given_id = doc.get("id")
    if given_id is not None and policy_id is not None and given_id != policy_id:
        raise _error("id", f"The document's id {given_id!r} is not the policy's id {policy_id!r}.")
    if "name" not in doc:
        raise _error("name", "name is required.")
    retries = doc.get("retries")
    if not isinstance(retries, Mapping):
        raise _error("retries", "retries is an object of rules by decline code.")
    if DEFAULT_KEY not in retries:
        raise _error(f"retries.{DEFAULT_KEY}", "The default rule is required.")
    rules = {key: _rule(value, f"retries.{key}") for key, value in retries.items()}
    steps = doc.get("steps")
    if not isinstance(steps, list):
        raise _error("steps", "steps is a list of {day, action}.")
    return DunningPolicy(
        id=given_id if given_id is not None else policy_id,  # type: ignore[arg-type]  # checked by the policy
        name=doc["name"],
        default_retry=rules.pop(DEFAULT_KEY),
        retries=rules,  # keys checked by the policy
        max_attempts=doc.get("max_attempts", 8),
        steps=tuple(_step(item, f"steps.{i}") for i, item in enumerate(steps)),
    )


def _known_fields(doc: Mapping[str, Any], path: str, names: set[str]) -> None:
    for key in doc:
        if key not in names:
            raise _error(f"{path}{key}", f"Unknown field {key!r}.")


def _rule(value: Any, path: str) -> RetryRule:
    if not isinstance(value, Mapping):
        raise _error(path, "A retry rule is an object: {days: [...]} or {never: true}.")
    _known_fields(value, f"{path}.", {"days", "never", "day_of_month", "hour"})
    days = value.get("days", [])
    if not isinstance(days, list):
        raise _error(f"{path}.days", "days is a list of whole numbers.")
    try:
        return RetryRule(
            days=tuple(days),
            never=value.get("never", False),
            day_of_month=value.get("day_of_month"),
            hour=value.get("hour", DEFAULT_HOUR),
        )
    except DomainError as error:
        raise prefixed(error, path) from None


def _step(value: Any, path: str) -> Step:
    if not isinstance(value, Mapping):
        raise _error(path, "A step is an object: {day, action}.")
    _known_fields(value, f"{path}.", {"day", "action"})
    try:
        return Step(day=value.get("day"), action=value.get("action"))  # type: ignore[arg-type]
    except DomainError as error:
        raise prefixed(error, path) from None


def policy_to_json(policy: DunningPolicy) -> dict[str, Any]:
    retries = {DEFAULT_KEY: policy.default_retry.to_json()}
    retries.update({code.value: rule.to_json() for code, rule in policy.retries.items()})
    return {
        "id": policy.id,
        "name": policy.name,
        "max_attempts": policy.max_attempts,
        "retries": retries,
        "steps": [{"day": s.day, "action": s.action.value} for s in policy.steps],
    }


# ---- retries and steps -----------------------------------------------------------------------------------


def next_retry_at(
    policy: DunningPolicy,
    *,
    attempts: int,
    decline_code: DeclineCode | None,
    first_failed_at: datetime,
    time_zone: str,
) -> datetime | None:
    """When to charge again after `attempts` failed attempts (the first charge is attempt 1), as a UTC
    instant at the rule's local hour in `time_zone`; None when the rule never retries, is exhausted, or
    `max_attempts` is reached. `decline_code` is the latest failure's: its rule decides. An instant in the
    past (the latest code's rule is earlier than the one before) means the retry is due now.

    An hour that a DST jump skips is read with the offset before the jump (02:30 on a spring-forward
    night is 03:30 new time); an hour that occurs twice is its first occurrence."""
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise DomainError("invalid_attempts", "attempts counts failed attempts: 1 or more.", "attempts")
    zone = ZoneInfo(_checked_zone(time_zone, "time_zone"))
    rule = policy.rule_for(decline_code)
    if attempts >= policy.max_attempts or rule.never or attempts > len(rule.days):
        return None
    day = retry_days(rule, local_day(first_failed_at, time_zone))[attempts - 1]
    return utc(datetime.combine(day, time(hour=rule.hour), tzinfo=zone))


def retry_days(rule: RetryRule, first_failed_on: date) -> list[date]:
    """The local days of all the rule's retries for a first failure on `first_failed_on`."""
    days: list[date] = []
    for offset in rule.days:
        day = first_failed_on + timedelta(days=offset)
        if rule.day_of_month is not None:
            day = _next_day_of_month(day, rule.day_of_month)
            if days and day <= days[-1]:
                day = days[-1] + timedelta(days=1)
        days.append(day)
    return days


def _next_day_of_month(day: date, day_of_month: int) -> date:
    """The first day on or after `day` that is `day_of_month` (or its month's last day, if shorter)."""
    year, month = day.year, day.month
    while True:
        target = date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))
        if target >= day:
            return target
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def step_date(due_date: date, step: Step) -> date:
    return due_date + timedelta(days=step.day)


def due_steps(policy: DunningPolicy, *, due_date: date, today: date, done: Collection[int]) -> list[Step]:
    """The steps whose day has come and whose index (into policy.steps) is not in `done`, in order. After
    a pause every step missed is returned: whether to send two reminders at once is the caller's call."""
    return [
        step for i, step in enumerate(policy.steps) if i not in done and step_date(due_date, step) <= today
    ]


# ---- recovery report -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryAttempt:
    """One attempt to collect an invoice: `attempt` 1 is the first charge; `decline_code` is the code of
    the failure that led to this attempt (None for attempt 1, or when the gateway gave no code)."""

    invoice_id: str
    attempt: int
    decline_code: DeclineCode | None
    amount: Money
    succeeded: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryStats:
    """Retries in one group (one attempt number, or one decline code).

    attempts: retries in the group. recovered: those that succeeded, i.e. invoices recovered by a retry of
    this group. recovered_amount: their amounts, per currency.
    rate = recovered / invoices_in_dunning of the whole report, so the groups' rates sum to the recovery
        rate (None when no invoice entered dunning).
    success_rate = recovered / attempts of this group (None when 0 attempts).
    """

    attempts: int
    recovered: int
    recovered_amount: Mapping[str, Money]
    rate: Fraction | None
    success_rate: Fraction | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryReport:
    """invoices: distinct invoices attempted. invoices_in_dunning: those whose first attempt failed (known
    from a failed attempt 1 or from any attempt numbered 2 or more). invoices_recovered: those of them a
    retry paid. recovery_rate = invoices_recovered / invoices_in_dunning, exact (None when none entered).
    by_attempt: per attempt number (2 and up, ascending); by_decline_code: per code of the failure that
    led to the retry (None: no code), in DeclineCode order with None last."""

    invoices: int
    invoices_in_dunning: int
    invoices_recovered: int
    recovered_amount: Mapping[str, Money]
    recovery_rate: Fraction | None
    by_attempt: Mapping[int, RecoveryStats]
    by_decline_code: Mapping[DeclineCode | None, RecoveryStats]


def recovery_report(attempts: Iterable[RecoveryAttempt]) -> RecoveryReport:
    by_invoice: dict[str, dict[int, RecoveryAttempt]] = defaultdict(dict)
    for item in attempts:
        if isinstance(item.attempt, bool) or not isinstance(item.attempt, int) or item.attempt < 1:
            raise DomainError("invalid_recovery_attempts", "An attempt number is 1 or more.", "attempt")
        if item.attempt in by_invoice[item.invoice_id]:
            raise DomainError(
                "invalid_recovery_attempts", f"{item.invoice_id} has attempt {item.attempt} twice.", "attempt"
            )
        by_invoice[item.invoice_id][item.attempt] = item
    in_dunning = 0
    retries: list[RecoveryAttempt] = []
    for invoice_id, numbered in by_invoice.items():
        successes = [n for n, a in numbered.items() if a.succeeded]
        if len(successes) > 1 or (successes and successes[0] != max(numbered)):
            raise DomainError(
                "invalid_recovery_attempts", f"{invoice_id} was attempted again after it was paid.", "attempt"
            )
        first = numbered.get(1)
        if max(numbered) > 1 or (first is not None and not first.succeeded):
            in_dunning += 1
        retries.extend(a for n, a in numbered.items() if n > 1)

    def stats(group: list[RecoveryAttempt]) -> RecoveryStats:
        won = [a for a in group if a.succeeded]
        return RecoveryStats(
            attempts=len(group),
            recovered=len(won),
            recovered_amount=_by_currency(won),
            rate=Fraction(len(won), in_dunning) if in_dunning else None,
            success_rate=Fraction(len(won), len(group)) if group else None,
        )

    by_attempt: dict[int, list[RecoveryAttempt]] = defaultdict(list)
    by_code: dict[DeclineCode | None, list[RecoveryAttempt]] = defaultdict(list)
    for retry in retries:
        by_attempt[retry.attempt].append(retry)
        by_code[retry.decline_code].append(retry)
    total = stats(retries)
    codes = [code for code in (*DeclineCode, None) if code in by_code]
    return RecoveryReport(
        invoices=len(by_invoice),
        invoices_in_dunning=in_dunning,
        invoices_recovered=total.recovered,
        recovered_amount=total.recovered_amount,
        recovery_rate=total.rate,
        by_attempt={n: stats(by_attempt[n]) for n in sorted(by_attempt)},
        by_decline_code={code: stats(by_code[code]) for code in codes},
    )


def _by_currency(items: Iterable[RecoveryAttempt]) -> dict[str, Money]:
    sums: dict[str, Money] = {}
    for item in items:
        sums[item.amount.currency] = (
            sums.get(item.amount.currency, Money.zero(item.amount.currency)) + item.amount
        )
    return dict(sorted(sums.items()))


def rate_text(rate: Fraction | None) -> str | None:
    """Four decimals, half up: 4/15 -> "0.2667"."""
    if rate is None:
        return None
    units = (rate.numerator * 20000 + rate.denominator) // (2 * rate.denominator)
    return f"{units // 10000}.{units % 10000:04d}"


def _stats_json(stats: RecoveryStats) -> dict[str, Any]:
    return {
        "attempts": stats.attempts,
        "recovered": stats.recovered,
        "recovered_amount": _money_json(stats.recovered_amount),
        "rate": rate_text(stats.rate),
        "success_rate": rate_text(stats.success_rate),
    }


def _money_json(amounts: Mapping[str, Money]) -> dict[str, dict[str, str]]:
    return {code: {"amount": m.amount_text(), "currency": m.currency} for code, m in amounts.items()}


def report_to_json(report: RecoveryReport) -> dict[str, Any]:
    return {
        "invoices": report.invoices,
        "invoices_in_dunning": report.invoices_in_dunning,
        "invoices_recovered": report.invoices_recovered,
        "recovered_amount": _money_json(report.recovered_amount),
        "recovery_rate": rate_text(report.recovery_rate),
        "by_attempt": [{"attempt": n} | _stats_json(s) for n, s in report.by_attempt.items()],
        "by_decline_code": [
            {"decline_code": code.value if code else None} | _stats_json(s)
            for code, s in report.by_decline_code.items()
        ],
    }
