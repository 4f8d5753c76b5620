"""Worked examples of accounting periods: closed months form a prefix, a month closes only once it has
ended, reopening needs a reason, and an entry dated in a closed month books in the first open one. Also the
trial balance's columns and an account's running balance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kassa.core.accounting_periods import (
    AccountingPeriod,
    Movement,
    booking,
    close,
    closed_through,
    last_day,
    month_name,
    parse_month,
    reopen,
    running,
    trial_balance,
)
from kassa.core.errors import Conflict, DomainError
from kassa.core.ledger import default_chart
from kassa.core.money import Money

T = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
TEN = "ten_1"


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def usd(text: str) -> Money:
    return Money(Decimal(text), "USD")


def closed(*months: str, at: datetime = T) -> list[AccountingPeriod]:
    return [AccountingPeriod(tenant_id=TEN, month=parse_month(m), closed=True, closed_at=at, closed_by="api_key:k")
            for m in months]  # fmt: skip


def summary(rows: list[AccountingPeriod]) -> list[tuple[str, bool]]:
    return [(month_name(p.month), p.closed) for p in rows]


def test_months_are_written_yyyy_mm() -> None:
    """A month is YYYY-MM (its first day); anything else is invalid_month; a month's last day follows the
    calendar (29 Feb in a leap year)."""
    assert parse_month("2026-10") == date(2026, 10, 1)
    assert parse_month(date(2026, 10, 17)) == date(2026, 10, 1)
    for bad in ("2026-13", "2026-1", "2026-10-01", "Oct 2026", "", None, 202610):
        with pytest.raises(DomainError) as error:
            parse_month(bad)
        assert (error.value.code, error.value.field) == ("invalid_month", "month")
    assert (last_day(date(2028, 2, 1)), last_day(date(2026, 2, 1)), last_day(date(2026, 12, 1))) == (
        date(2028, 2, 29), date(2026, 2, 28), date(2026, 12, 31))  # fmt: skip


def test_the_first_close_starts_at_the_first_month_with_entries() -> None:
    """Nothing closed, the first entry booked on 14 Aug 2026: closing October on 2 Nov writes rows for
    August, September and October, all closed by the caller at that instant."""
    rows = close(TEN, [], date(2026, 10, 1), today=date(2026, 11, 2), first_booked=date(2026, 8, 14), at=T,
                 by="api_key:k")  # fmt: skip
    assert summary(rows) == [("2026-08", True), ("2026-09", True), ("2026-10", True)]
    assert {(p.tenant_id, p.closed_at, p.closed_by) for p in rows} == {(TEN, T, "api_key:k")}
    assert closed_through(rows) == date(2026, 10, 1)


def test_without_entries_the_first_close_writes_one_row() -> None:
    """A tenant with no entries closes October: one row, October."""
    rows = close(TEN, [], date(2026, 10, 1), today=date(2026, 11, 1), first_booked=None, at=T, by="u")
    assert summary(rows) == [("2026-10", True)]


def test_closing_a_later_month_closes_the_open_months_between() -> None:
    """Closed through September; closing November on 5 Dec writes October and November: closed months stay a
    prefix."""
    rows = close(TEN, closed("2026-08", "2026-09"), date(2026, 11, 1), today=date(2026, 12, 5),
                 first_booked=date(2026, 8, 14), at=LATER, by="u")  # fmt: skip
    assert summary(rows) == [("2026-10", True), ("2026-11", True)]


def test_a_month_closes_only_after_its_last_day() -> None:
    """October 2026 ends on the 31st: on the 31st it cannot be closed (period_not_ended), on 1 Nov it can."""
    with pytest.raises(DomainError) as error:
        close(TEN, [], date(2026, 10, 1), today=date(2026, 10, 31), first_booked=None, at=T, by="u")
    assert (error.value.code, error.value.field, error.value.status) == ("period_not_ended", "month", 422)
    assert "2026-10-31" in error.value.message
    with pytest.raises(DomainError, match="ends on 2026-12-31"):
        close(TEN, [], date(2026, 12, 1), today=date(2026, 11, 2), first_booked=None, at=T, by="u")
    assert summary(close(TEN, [], date(2026, 10, 1), today=date(2026, 11, 1), first_booked=None, at=T, by="u")) == [
        ("2026-10", True)]  # fmt: skip


def test_a_closed_month_cannot_be_closed_again() -> None:
    """Closed through October: closing September or October again is period_already_closed (409)."""
    for month in (date(2026, 9, 1), date(2026, 10, 1)):
        with pytest.raises(Conflict) as error:
            close(
                TEN,
                closed("2026-09", "2026-10"),
                month,
                today=date(2026, 12, 1),
                first_booked=None,
                at=T,
                by="u",
            )
        assert (error.value.code, error.value.status) == ("period_already_closed", 409)


def test_reopening_a_month_reopens_every_later_one_with_the_reason() -> None:
    """Closed Aug–Oct; reopening September reopens September and October (not August), each with the
    reason, who and when; the books are then closed through August."""
    periods = closed("2026-08", "2026-09", "2026-10")
    rows = reopen(periods, date(2026, 9, 1), reason="  Late supplier invoice  ", at=LATER, by="user:u1")
    assert summary(rows) == [("2026-09", False), ("2026-10", False)]
    assert {(p.reopened_at, p.reopened_by, p.reopen_reason, p.closed_at) for p in rows} == {
        (LATER, "user:u1", "Late supplier invoice", T)}  # fmt: skip
    after = {p.month: p for p in periods} | {p.month: p for p in rows}
    assert closed_through(after.values()) == date(2026, 8, 1)


def test_reopening_needs_a_reason_and_a_closed_month() -> None:
    """No reason, or blanks: reason_required. A month not closed (after the last closed one, or before the
    first ever closed, or one reopened already): period_not_closed (409)."""
    periods = closed("2026-08", "2026-09")
    for reason in (None, "", "   "):
        with pytest.raises(DomainError) as error:
            reopen(periods, date(2026, 9, 1), reason=reason, at=LATER, by="u")
        assert (error.value.code, error.value.field) == ("reason_required", "reason")
    with pytest.raises(DomainError) as error:
        reopen(periods, date(2026, 9, 1), reason="x" * 501, at=LATER, by="u")
    assert error.value.code == "invalid_reason"
    reopened = [periods[0], *reopen(periods, date(2026, 9, 1), reason="why", at=LATER, by="u")]
    for month, where in (
        (date(2026, 10, 1), periods),
        (date(2026, 7, 1), periods),
        (date(2026, 9, 1), reopened),
    ):
        with pytest.raises(Conflict) as conflict:
            reopen(where, month, reason="why", at=LATER, by="u")
        assert (conflict.value.code, conflict.value.status) == ("period_not_closed", 409)


def test_closing_again_after_a_reopen_updates_the_rows_and_keeps_the_reopen_history() -> None:
    """Aug–Oct closed, September reopened (so closed through August); closing October again on 5 Dec closes
    September and October anew, keeping who reopened them and why."""
    periods = closed("2026-08", "2026-09", "2026-10")
    reopened = reopen(periods, date(2026, 9, 1), reason="fix", at=LATER, by="user:u1")
    current = [periods[0], *reopened]
    rows = close(TEN, current, date(2026, 10, 1), today=date(2026, 12, 5), first_booked=date(2026, 8, 3),
                 at=LATER, by="user:u2")  # fmt: skip
    assert summary(rows) == [("2026-09", True), ("2026-10", True)]
    assert {(p.closed_by, p.reopened_by, p.reopen_reason) for p in rows} == {("user:u2", "user:u1", "fix")}


def test_the_first_close_after_everything_was_reopened_starts_at_the_oldest_row() -> None:
    """Aug–Sep were closed then all reopened; the first entry is from September: closing September again
    starts at August, the oldest row, so the rows stay a gapless prefix."""
    periods = closed("2026-08", "2026-09")
    reopened = reopen(periods, date(2026, 8, 1), reason="redo", at=LATER, by="u")
    assert closed_through(reopened) is None
    rows = close(TEN, reopened, date(2026, 9, 1), today=date(2026, 12, 5), first_booked=date(2026, 9, 2), at=LATER,
                 by="u")  # fmt: skip
    assert summary(rows) == [("2026-08", True), ("2026-09", True)]


def test_an_entry_dated_in_a_closed_month_books_on_the_first_day_of_the_first_open_month() -> None:
    """Closed through October 2026: an entry for 15 Oct books on 1 Nov with effective_on 15 Oct and the note
    "2026-10 is closed: booked in 2026-11"; one for 3 Aug (long closed) also books on 1 Nov; 1 Nov and
    later book on their own day; with nothing closed every day is its own."""
    through = date(2026, 10, 1)
    assert booking(date(2026, 10, 15), through) == (
        date(2026, 11, 1), date(2026, 10, 15), "2026-10 is closed: booked in 2026-11")  # fmt: skip
    assert booking(date(2026, 10, 31), through)[0] == date(2026, 11, 1)
    assert booking(date(2026, 8, 3), through) == (
        date(2026, 11, 1), date(2026, 8, 3), "2026-08 is closed: booked in 2026-11")  # fmt: skip
    assert booking(date(2026, 11, 1), through) == (date(2026, 11, 1), None, None)
    assert booking(date(2026, 12, 24), through) == (date(2026, 12, 24), None, None)
    assert booking(date(2026, 10, 15), None) == (date(2026, 10, 15), None, None)
    assert booking(date(2026, 12, 31), date(2026, 12, 1)) == (
        date(2027, 1, 1), date(2026, 12, 31), "2026-12 is closed: booked in 2027-01")  # fmt: skip


def test_the_trial_balance_puts_each_balance_in_its_column_and_the_columns_agree() -> None:
    """Receivable 119.00 Dr, revenue 100.00 Cr, tax 19.00 Cr in EUR; a USD receivable 50.00 Dr against USD
    revenue; an account no longer in the chart ("9999") keeps its code as its name and has no type. EUR
    columns 119.00 = 119.00, USD 50.00 = 50.00: balanced."""
    balances = {("1100", "EUR"): eur("119.00"), ("4000", "EUR"): eur("-100.00"), ("2100", "EUR"): eur("-19.00"),
                ("1100", "USD"): usd("50.00"), ("9999", "USD"): usd("-50.00"), ("1000", "EUR"): eur("0.00")}  # fmt: skip
    found = trial_balance(balances, {a.code: a for a in default_chart().accounts}, date(2026, 10, 31))
    assert [(x.account, x.name, x.type, x.balance, x.debit, x.credit) for x in found.lines] == [
        ("1000", "Cash", "asset", eur("0.00"), eur("0.00"), eur("0.00")),
        ("1100", "Accounts receivable", "asset", eur("119.00"), eur("119.00"), eur("0.00")),
        ("1100", "Accounts receivable", "asset", usd("50.00"), usd("50.00"), usd("0.00")),
        ("2100", "Tax payable", "liability", eur("-19.00"), eur("0.00"), eur("19.00")),
        ("4000", "Revenue", "revenue", eur("-100.00"), eur("0.00"), eur("100.00")),
        ("9999", "9999", None, usd("-50.00"), usd("0.00"), usd("50.00")),
    ]
    assert [(t.currency, t.debit, t.credit, t.balanced) for t in found.totals] == [
        ("EUR", eur("119.00"), eur("119.00"), True), ("USD", usd("50.00"), usd("50.00"), True)]  # fmt: skip
    assert (found.balanced, found.as_of) == (True, date(2026, 10, 31))
    lopsided = trial_balance({("1100", "EUR"): eur("1.00")}, {}, None)
    assert (lopsided.balanced, lopsided.totals[0].credit) == (False, eur("0.00"))


def _movement(n: int, debit: Money, credit: Money) -> Movement:
    return Movement(entry_id=f"je_{n}", n=1, account="1100", booked_on=date(2026, 11, n), effective_on=None,
                    posted_at=T, source_type="invoice", source_id=f"inv_{n}", description=f"Invoice {n}",
                    currency=debit.currency, debit=debit, credit=credit)  # fmt: skip


def test_the_running_balance_starts_from_the_opening_balance_per_currency() -> None:
    """Opening EUR 100.00: +119.00 → 219.00, −50.00 → 169.00; a USD posting of 10.00 with no USD opening
    balance starts at 0 → 10.00."""
    rows = running({"EUR": eur("100.00")}, [
        _movement(1, eur("119.00"), eur("0")), _movement(2, eur("0"), eur("50.00")), _movement(3, usd("10.00"), usd("0"))])  # fmt: skip
    assert [m.balance for m in rows] == [eur("219.00"), eur("169.00"), usd("10.00")]
    assert [m.signed for m in rows] == [eur("119.00"), eur("-50.00"), usd("10.00")]
