"""The general ledger: every money movement posts one balanced entry in the transaction that made it."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from kassa.core.accounting_periods import Movement, TrialBalance, booking, running
from kassa.core.accounting_periods import trial_balance as shape_trial_balance
from kassa.core.audit import Actor
from kassa.core.errors import DomainError, NotFound
from kassa.core.ledger import Account, ChartOfAccounts, JournalEntry, chart_to_json, parse_chart
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.periods import local_day
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.ledger import LedgerKey
from kassa.store.uow import UnitOfWork

MAX_LEDGER_LINES = 1000
_CURSOR = re.compile(r"(\d{4}-\d{2}-\d{2})~([A-Za-z0-9_]{1,40})~(\d{1,6})")


def post(uow: UnitOfWork, entry: Callable[[], JournalEntry] | JournalEntry) -> None:
    """Post one entry; an entry that moves nothing (a zero invoice, charges netting to zero) is not one."""
    if callable(entry):
        try:
            entry = entry()
        except DomainError as error:
            if error.code == "empty_entry":
                return
            raise
    day = entry.booked_on
    if day is None:
        day = local_day(entry.posted_at, uow.tenants.get(entry.tenant_id).settings.time_zone)
        entry = replace(entry, booked_on=day)
    # A closed month takes no postings: the entry books in the first open month, saying why. Read in this
    # transaction (never cached), under the books lock a concurrent close waits for.
    uow.accounting_periods.lock_books(entry.tenant_id, exclusive=False)
    booked_on, effective_on, note = booking(day, uow.accounting_periods.closed_through(entry.tenant_id))
    if effective_on is not None:
        entry = replace(entry, booked_on=booked_on, effective_on=entry.effective_on or effective_on,
                        note=f"{entry.note}; {note}" if entry.note else note)  # fmt: skip
    uow.ledger.post(entry)


def get_chart(ctx: ServiceContext, actor: Actor) -> ChartOfAccounts:
    with ctx.uow(read_only=True) as uow:
        return uow.ledger.chart(actor.tenant_id)


def set_chart(ctx: ServiceContext, actor: Actor, doc: Any) -> ChartOfAccounts:
    chart = parse_chart(doc)
    with ctx.uow() as uow:
        before = uow.ledger.chart(actor.tenant_id)
        now = ctx.clock.now()
        uow.ledger.set_chart(actor.tenant_id, chart, now)
        audit.record(ctx, uow, actor, "ledger_chart.updated", object_type="ledger_chart", object_id=actor.tenant_id,
                     before=chart_to_json(before), after=chart_to_json(chart), at=now)  # fmt: skip
        uow.commit()
    return chart


def list_entries(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None) -> Page[JournalEntry]:
    with ctx.uow(read_only=True) as uow:
        return uow.ledger.entries(actor.tenant_id, limit=limit, cursor=cursor)


def trial_balance_as_of(ctx: ServiceContext, actor: Actor, as_of: date | None) -> TrialBalance:
    """Every account's balance of the entries booked on or before `as_of` (None: all), in its debit or
    credit column, with the column totals per currency."""
    with ctx.uow(read_only=True) as uow:
        chart = uow.ledger.chart(actor.tenant_id)
        balances = uow.ledger.balances_as_of(actor.tenant_id, as_of)
    return shape_trial_balance(balances, {a.code: a for a in chart.accounts}, as_of)


def _money(money: Money) -> dict[str, str]:
    return {"amount": money.amount_text(), "currency": money.currency}


def trial_balance(ctx: ServiceContext, actor: Actor, as_of: date | None) -> list[dict[str, Any]]:
    """Per account and currency, debit-positive, with the account's name and type from the chart."""
    found = trial_balance_as_of(ctx, actor, as_of)
    return [{"account": line.account, "name": line.name, "type": line.type, "balance": _money(line.balance),
             "debit": _money(line.debit), "credit": _money(line.credit)} for line in found.lines]  # fmt: skip


# ---- the general ledger of one account -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountLedger:
    code: str
    account: Account | None  # None: an account since dropped from the chart, whose history remains
    start: date
    end: date
    opening: Mapping[str, Money]  # per currency, debit-positive, of everything booked before `start`
    movements: tuple[Movement, ...]  # this page, each with its running balance
    closing: Mapping[str, Money]  # of everything booked up to `end` (whatever page this is)
    has_more: bool
    next_cursor: str | None


def _cursor(value: str | None) -> LedgerKey | None:
    if value is None:
        return None
    match = _CURSOR.fullmatch(value)
    if match is None:
        raise DomainError("invalid_cursor", "Pass the next_cursor of the previous page.", "cursor")
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        raise DomainError("invalid_cursor", "Pass the next_cursor of the previous page.", "cursor") from None
    return day, match.group(2), int(match.group(3))


def check_range(start: date, end: date) -> None:
    if end < start:
        raise DomainError("invalid_range", "`to` is not before `from`.", "to")


def date_range(
    ctx: ServiceContext, tenant_id: str, start: date | None, end: date | None
) -> tuple[date, date]:
    """The days asked for; a missing `to` is today in the tenant's calendar, a missing `from` the first day
    of `to`'s month (so nothing asked for means this month to date)."""
    if end is None:
        with ctx.uow(read_only=True) as uow:
            end = local_day(ctx.clock.now(), uow.tenants.get(tenant_id).settings.time_zone)
    if start is None:
        start = end.replace(day=1)
    check_range(start, end)
    return start, end


def account_ledger(
    ctx: ServiceContext, actor: Actor, code: str, start: date | None, end: date | None, *, limit: int = 100,
    cursor: str | None = None,
) -> AccountLedger:  # fmt: skip
    """One account's postings booked from `start` to `end` (both included) with the opening balance, the
    running balance after each posting and the closing balance; a page of `limit` postings at a time."""
    start, end = date_range(ctx, actor.tenant_id, start, end)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LEDGER_LINES:
        raise DomainError("invalid_limit", f"limit is 1 to {MAX_LEDGER_LINES}.", "limit")
    after = _cursor(cursor)
    tenant_id = actor.tenant_id
    with ctx.uow(read_only=True) as uow:
        chart = uow.ledger.chart(tenant_id)
        account = next((a for a in chart.accounts if a.code == code), None)
        if account is None and not uow.ledger.has_postings(tenant_id, code):
            raise NotFound("account", code)
        opening = uow.ledger.account_balance(tenant_id, code, before=start)
        page_opening = (
            opening if after is None else uow.ledger.account_balance(tenant_id, code, through=after)
        )
        movements, has_more = uow.ledger.movements(tenant_id, code, start, end, after=after, limit=limit)
        closing = uow.ledger.account_balance(tenant_id, code, until=end)
    lines = running(page_opening, movements)
    last = lines[-1] if lines and has_more else None
    return AccountLedger(
        code=code, account=account, start=start, end=end, opening=opening, movements=tuple(lines), closing=closing,
        has_more=has_more,
        next_cursor=None if last is None else f"{last.booked_on.isoformat()}~{last.entry_id}~{last.n}",
    )  # fmt: skip
