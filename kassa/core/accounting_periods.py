"""Accounting periods: the months a tenant has closed, and where an entry dated in a closed month is booked
(see docs/ledger.md). Also the shapes of the ledger's reports: the trial balance and an account's movements
with their running balance.

Closed months always form a prefix of the calendar: closing a month closes every earlier one, reopening a
month reopens every later one. So one date says it all: `closed_through`, the first day of the last
closed month. A closed month takes no new postings; an entry dated in it is booked on the first day of the
first open month, keeps the day it belonged to as `effective_on`, and says why in its note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from kassa.core.errors import Conflict, DomainError
from kassa.core.ledger import Account
from kassa.core.money import Money
from kassa.core.reports import month_name, month_of, next_month

MAX_REASON = 500
_MONTH = re.compile(r"\d{4}-\d{2}")


def parse_month(value: Any, field: str = "month") -> date:
    """`2026-10` → 2026-10-01; anything else is `invalid_month`."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return month_of(value)
    if isinstance(value, str) and _MONTH.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip() + "-01")
        except ValueError:
            pass
    raise DomainError("invalid_month", "A month is written YYYY-MM, like 2026-10.", field)


def last_day(month: date) -> date:
    return next_month(month_of(month)) - timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountingPeriod:
    """A month the tenant closed at some point: a row exists from its first close on."""

    tenant_id: str
    month: date  # its first day
    closed: bool
    closed_at: datetime
    closed_by: str
    reopened_at: datetime | None = None  # the last reopening (the audit log keeps them all)
    reopened_by: str | None = None
    reopen_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "month": month_name(self.month),
            "first_day": self.month.isoformat(),
            "last_day": last_day(self.month).isoformat(),
            "status": "closed" if self.closed else "open",
            "closed_at": self.closed_at.isoformat(),
            "closed_by": self.closed_by,
            "reopened_at": None if self.reopened_at is None else self.reopened_at.isoformat(),
            "reopened_by": self.reopened_by,
            "reopen_reason": self.reopen_reason,
        }


def closed_through(periods: Iterable[AccountingPeriod]) -> date | None:
    """The first day of the last closed month, or None when no month is closed."""
    closed = [p.month for p in periods if p.closed]
    return max(closed) if closed else None


def close(
    tenant_id: str,
    periods: Sequence[AccountingPeriod],
    month: date,
    *,
    today: date,
    first_booked: date | None,
    at: datetime,
    by: str,
) -> list[AccountingPeriod]:
    """The rows to write to close `month` and every open month before it, oldest first.

    Refused: a month that has not ended in the tenant's calendar (`period_not_ended`: today must be after
    its last day) and one that is already closed (`period_already_closed`). The first close starts at the
    earliest month the books know of (the first entry's, or a row from an earlier close since reopened), so
    every month with postings has its row."""
    month = month_of(month)
    if today <= last_day(month):
        raise DomainError(
            "period_not_ended",
            f"{month_name(month)} ends on {last_day(month).isoformat()}: it can be closed from the next day.",
            "month",
        )
    through = closed_through(periods)
    if through is not None and month <= through:
        raise Conflict(
            "period_already_closed",
            f"{month_name(month)} is already closed (the books are closed through {month_name(through)}).",
            "month",
        )
    if through is not None:
        start = next_month(through)
    else:
        known = [month] + [p.month for p in periods] + ([month_of(first_booked)] if first_booked else [])
        start = min(known)
    existing = {p.month: p for p in periods}
    rows: list[AccountingPeriod] = []
    current = start
    while current <= month:
        row = existing.get(current)
        if row is None:
            rows.append(AccountingPeriod(tenant_id=tenant_id, month=current, closed=True,
                                         closed_at=at, closed_by=by))  # fmt: skip
        else:
            rows.append(replace(row, closed=True, closed_at=at, closed_by=by))
        current = next_month(current)
    return rows


def reopen_reason(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DomainError("reason_required", "Say why the month is reopened.", "reason")
    if not isinstance(value, str) or len(value.strip()) > MAX_REASON:
        raise DomainError("invalid_reason", f"The reason is text of 1 to {MAX_REASON} characters.", "reason")
    return value.strip()


def reopen(
    periods: Sequence[AccountingPeriod], month: date, *, reason: Any, at: datetime, by: str
) -> list[AccountingPeriod]:
    """The rows to write to reopen `month` and every closed month after it, oldest first.

    Refused: no reason (`reason_required`), and a month that is not closed (`period_not_closed`), which
    includes the months before the first one ever closed: nothing was ever posted to them."""
    why = reopen_reason(reason)
    month = month_of(month)
    row = next((p for p in periods if p.month == month), None)
    if row is None or not row.closed:
        raise Conflict("period_not_closed", f"{month_name(month)} is not closed.", "month")
    return [
        replace(p, closed=False, reopened_at=at, reopened_by=by, reopen_reason=why)
        for p in sorted(periods, key=lambda p: p.month)
        if p.closed and p.month >= month
    ]


def booking(day: date, through: date | None) -> tuple[date, date | None, str | None]:
    """Where an entry dated `day` is booked when the books are closed through the month `through`:
    (booked_on, effective_on, note). Open: the day itself, no effective_on, no note. Closed: the first
    day of the first open month, effective_on the day it belonged to, and the reason."""
    if through is None or day >= next_month(month_of(through)):
        return day, None, None
    first_open = next_month(month_of(through))
    return first_open, day, moved(day, first_open)


def moved(day: date, booked_on: date) -> str:
    """The reason on an entry for `day` booked on `booked_on`, in a later month, because `day`'s was closed."""
    return f"{month_name(month_of(day))} is closed: booked in {month_name(month_of(booked_on))}"


# ---- the trial balance ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialBalanceLine:
    account: str
    name: str
    type: str | None  # None: an account no longer in the chart that still has postings
    balance: Money  # debit-positive
    debit: Money  # the balance in the debit column (zero when the balance is a credit)
    credit: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialBalanceTotal:
    currency: str
    debit: Money
    credit: Money

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialBalance:
    as_of: date | None  # None: everything booked so far
    lines: tuple[TrialBalanceLine, ...]
    totals: tuple[TrialBalanceTotal, ...]  # one per currency

    @property
    def balanced(self) -> bool:
        return all(t.balanced for t in self.totals)


def trial_balance(
    balances: Mapping[tuple[str, str], Money], accounts: Mapping[str, Account], as_of: date | None
) -> TrialBalance:
    """Every (account, currency) balance in its debit or credit column, by account code then currency,
    and the column totals per currency: in a double-entry ledger they are equal."""
    lines: list[TrialBalanceLine] = []
    totals: dict[str, tuple[Money, Money]] = {}
    for (code, currency), balance in sorted(balances.items()):
        zero = Money.zero(currency)
        debit = balance if balance.amount > 0 else zero
        credit = -balance if balance.amount < 0 else zero
        account = accounts.get(code)
        lines.append(TrialBalanceLine(account=code, name=account.name if account else code,
                                      type=str(account.type) if account else None, balance=balance,
                                      debit=debit, credit=credit))  # fmt: skip
        was_debit, was_credit = totals.get(currency, (zero, zero))
        totals[currency] = (was_debit + debit, was_credit + credit)
    return TrialBalance(
        as_of=as_of,
        lines=tuple(lines),
        totals=tuple(
            TrialBalanceTotal(currency=c, debit=d, credit=k) for c, (d, k) in sorted(totals.items())
        ),
    )


# ---- an account's movements ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Movement:
    """One posting, as the general ledger and the exports list it."""

    entry_id: str
    n: int  # the posting's place in its entry
    account: str
    booked_on: date
    effective_on: date | None
    posted_at: datetime
    source_type: str
    source_id: str
    description: str
    currency: str
    debit: Money  # one of debit and credit is zero
    credit: Money
    memo: str | None = None
    note: str | None = None
    balance: Money | None = None  # the account's running balance after it (debit-positive), when asked

    @property
    def signed(self) -> Money:
        return self.debit - self.credit


def running(opening: Mapping[str, Money], movements: Iterable[Movement]) -> list[Movement]:
    """Each movement with the account's balance after it, per currency, starting from `opening`."""
    balances = dict(opening)
    out: list[Movement] = []
    for m in movements:
        balance = balances.get(m.currency, Money.zero(m.currency)) + m.signed
        balances[m.currency] = balance
        out.append(replace(m, balance=balance))
    return out
