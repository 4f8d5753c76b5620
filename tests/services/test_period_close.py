"""Closing accounting months on the real databases: a closed month takes no new postings (what is posted for
a day in it books on the first day of the first open month, with effective_on and a note), reopening is an
audited act with a reason, the trial balance is as of any day, an account's general ledger pages with its
running balance, and the ledger always sums to zero. The tenant keeps its books in Europe/Berlin."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.ledger import JournalEntry, credit_grant_entry
from kassa.core.money import Money
from kassa.services import accounting_periods, audit, credits, customers, events, ledger, test_clocks
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork
from tests.conftest import SettableClock, TenantAccess, make_tenant

OCT_15 = datetime(2026, 10, 15, 10, 0, tzinfo=UTC)
NOV_2 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


@pytest.fixture
def books(ctx: ServiceContext, clock: SettableClock) -> Iterator[TenantAccess]:
    clock.at = OCT_15
    yield make_tenant(ctx, "Books GmbH", time_zone="Europe/Berlin")


def _customer(ctx: ServiceContext, actor: Actor, name: str, test_clock_id: str | None = None) -> str:
    fields = {"external_id": name, "name": name.title()} | (
        {"test_clock_id": test_clock_id} if test_clock_id else {}
    )
    return customers.create_customer(ctx, actor, fields).id


def _grant(ctx: ServiceContext, actor: Actor, customer_id: str, amount: str) -> None:
    credits.grant_credit(ctx, actor, customer_id, {"amount": amount, "description": f"Goodwill {amount}"})


def _post_for_day(ctx: ServiceContext, tenant_id: str, day: date, amount: str) -> None:
    """An entry that brings its own accounting day, as revenue recognition for a past day does."""
    with ctx.uow() as uow:
        entry = credit_grant_entry(uow.ledger.chart(tenant_id), tenant_id=tenant_id, id=ctx.new_id("je"),
                                   posted_at=ctx.clock.now(), grant_id=ctx.new_id("cbt"), currency="EUR",
                                   amount=eur(amount), reason=f"For {day}")  # fmt: skip
        ledger.post(uow, replace(entry, booked_on=day))
        uow.commit()


def _entries(ctx: ServiceContext, tenant_id: str) -> list[JournalEntry]:
    with ctx.uow(read_only=True) as uow:
        return list(reversed(uow.ledger.entries(tenant_id, limit=100, cursor=None).items))


def _booked(ctx: ServiceContext, tenant_id: str) -> list[tuple[str, date | None, date | None, str | None]]:
    return [(e.debits().amount_text(), e.booked_on, e.effective_on, e.note) for e in _entries(ctx, tenant_id)]


def _balances(ctx: ServiceContext, actor: Actor, as_of: date | None = None) -> dict[str, str]:
    found = ledger.trial_balance_as_of(ctx, actor, as_of)
    assert found.balanced, found  # the ledger sums to zero: debits == credits
    return {x.account: x.balance.amount_text() for x in found.lines}


def test_a_month_closes_once_it_has_ended_in_the_tenants_time_zone(
    ctx: ServiceContext, clock: SettableClock, books: TenantAccess
) -> None:
    """31 Oct 22:30 UTC is 23:30 in Berlin: October has not ended (period_not_ended), nothing is written.
    At 23:30 UTC it is 1 Nov 00:30 in Berlin: October closes; closing it again is period_already_closed."""
    clock.at = datetime(2026, 10, 31, 22, 30, tzinfo=UTC)
    with pytest.raises(DomainError) as error:
        accounting_periods.close_period(ctx, books.actor, "2026-10")
    assert (error.value.code, error.value.field) == ("period_not_ended", "month")
    assert accounting_periods.list_periods(ctx, books.actor) == (None, [])
    clock.at = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    through, rows = accounting_periods.close_period(ctx, books.actor, "2026-10")
    assert (through, [(p.month, p.closed, p.closed_at, p.closed_by) for p in rows]) == (
        date(2026, 10, 1), [(date(2026, 10, 1), True, clock.at, f"api_key:{books.actor.id}")])  # fmt: skip
    with pytest.raises(DomainError) as again:
        accounting_periods.close_period(ctx, books.actor, "2026-10")
    assert (again.value.code, again.value.status) == ("period_already_closed", 409)
    with pytest.raises(DomainError) as bad:
        accounting_periods.close_period(ctx, books.actor, "2026-13")
    assert bad.value.code == "invalid_month"


def test_an_entry_for_a_closed_month_books_on_the_first_of_the_next_month(
    ctx: ServiceContext, clock: SettableClock, books: TenantAccess
) -> None:
    """A grant of 100.00 on 15 Oct books on 15 Oct. On 2 Nov October is closed (rows from August: an entry of
    5.00 was booked for 20 Aug). Then a customer on a test clock still at 20 Oct is granted 30.00, and an entry
    for 25 Oct brings its own day (12.00): both book on 1 Nov, with effective_on their own day and the note
    "2026-10 is closed: booked in 2026-11". A grant on 2 Nov books on 2 Nov."""
    actor = books.actor
    _grant(ctx, actor, _customer(ctx, actor, "acme"), "100.00")
    _post_for_day(ctx, books.id, date(2026, 8, 20), "5.00")
    clock.at = NOV_2
    accounting_periods.close_period(ctx, actor, "2026-10")
    through, rows = accounting_periods.list_periods(ctx, actor)
    assert (through, [(p.month, p.closed) for p in rows]) == (
        date(2026, 10, 1), [(date(2026, 8, 1), True), (date(2026, 9, 1), True), (date(2026, 10, 1), True)])  # fmt: skip
    behind = test_clocks.create_test_clock(
        ctx, actor, name="behind", frozen_time=datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    )
    _grant(ctx, actor, _customer(ctx, actor, "late", behind.id), "30.00")
    _post_for_day(ctx, books.id, date(2026, 10, 25), "12.00")
    _grant(ctx, actor, _customer(ctx, actor, "now"), "7.00")
    note = "2026-10 is closed: booked in 2026-11"
    assert _booked(ctx, books.id) == [
        ("100.00", date(2026, 10, 15), None, None),
        ("5.00", date(2026, 8, 20), None, None),
        ("30.00", date(2026, 11, 1), date(2026, 10, 20), note),
        ("12.00", date(2026, 11, 1), date(2026, 10, 25), note),
        ("7.00", date(2026, 11, 2), None, None),
    ]
    assert _balances(ctx, actor, date(2026, 10, 31)) == {"6100": "105.00", "2200": "-105.00"}
    assert _balances(ctx, actor, date(2026, 11, 1)) == {"6100": "147.00", "2200": "-147.00"}
    assert _balances(ctx, actor) == {"6100": "154.00", "2200": "-154.00"}
    assert _balances(ctx, actor, date(2026, 8, 19)) == {}


def test_reopening_is_audited_and_lets_entries_book_on_their_own_day_again(
    ctx: ServiceContext, clock: SettableClock, books: TenantAccess
) -> None:
    """Closed through October; reopening without a reason is reason_required and changes nothing. Reopened
    with a reason: the audit log has who, the reason, and closed_through 2026-10 → none; the outbox has the
    event. An entry for 25 Oct then books on 25 Oct."""
    actor = books.actor
    _grant(ctx, actor, _customer(ctx, actor, "acme"), "100.00")
    clock.at = NOV_2
    accounting_periods.close_period(ctx, actor, "2026-10")
    for reason in (None, "  "):
        with pytest.raises(DomainError) as error:
            accounting_periods.reopen_period(ctx, actor, "2026-10", reason)
        assert (error.value.code, error.value.field) == ("reason_required", "reason")
    with pytest.raises(DomainError) as not_closed:
        accounting_periods.reopen_period(ctx, actor, "2026-11", "why")
    assert (not_closed.value.code, not_closed.value.status) == ("period_not_closed", 409)
    assert accounting_periods.list_periods(ctx, actor)[0] == date(2026, 10, 1)
    clock.at = NOV_2 + timedelta(hours=1)
    through, rows = accounting_periods.reopen_period(ctx, actor, "2026-10", "Missed a supplier credit")
    assert (through, [(p.month, p.closed, p.reopened_at, p.reopen_reason) for p in rows]) == (
        None, [(date(2026, 10, 1), False, clock.at, "Missed a supplier credit")])  # fmt: skip
    entries = audit.list_audit_events(ctx, actor, object_type="accounting_period").items
    assert [(e.action, e.object_id, e.actor_id) for e in entries] == [
        ("accounting_period.reopened", "2026-10", actor.id), ("accounting_period.closed", "2026-10", actor.id)]  # fmt: skip
    assert entries[0].changes == {
        "closed_through": {"before": "2026-10", "after": None},
        "months": {"before": {"2026-10": "closed"}, "after": {"2026-10": "open"}},
        "reason": {"before": None, "after": "Missed a supplier credit"},
    }
    outbox = events.list_events(ctx, books.id, limit=10, cursor=None).items
    assert [(e.type, e.data.get("reason")) for e in outbox[:2]] == [
        ("accounting_period.reopened", "Missed a supplier credit"), ("accounting_period.closed", None)]  # fmt: skip
    _post_for_day(ctx, books.id, date(2026, 10, 25), "12.00")
    assert _booked(ctx, books.id)[-1] == ("12.00", date(2026, 10, 25), None, None)
    assert _balances(ctx, actor, date(2026, 10, 31)) == {"6100": "112.00", "2200": "-112.00"}


def test_before_close_hooks_run_inside_the_close_and_their_entries_book_in_the_month(
    ctx: ServiceContext, clock: SettableClock, books: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook (as revenue recognition registers) is called with the tenant and 31 Oct, inside the closing
    transaction before the rows: what it posts for 31 Oct books in October. A hook that fails rolls the whole
    close back: nothing closed, nothing posted. A refused close runs no hook."""
    actor = books.actor
    calls: list[tuple[str, date]] = []
    failing = {"on": True}

    def recognize(hook_ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, through: date) -> None:
        calls.append((tenant_id, through))
        entry = credit_grant_entry(uow.ledger.chart(tenant_id), tenant_id=tenant_id, id=hook_ctx.new_id("je"),
                                   posted_at=hook_ctx.clock.now(), grant_id=hook_ctx.new_id("cbt"), currency="EUR",
                                   amount=eur("9.00"), reason="Recognized through month end")  # fmt: skip
        ledger.post(uow, replace(entry, booked_on=through))
        if failing["on"]:
            raise DomainError("recognition_failed", "boom")

    monkeypatch.setattr(accounting_periods, "BEFORE_CLOSE", [recognize])
    with pytest.raises(DomainError, match="period_not_ended|ends on"):
        accounting_periods.close_period(ctx, actor, "2026-10")  # still 15 Oct
    assert calls == []
    clock.at = NOV_2
    with pytest.raises(DomainError) as error:
        accounting_periods.close_period(ctx, actor, "2026-10")
    assert error.value.code == "recognition_failed"
    assert (accounting_periods.list_periods(ctx, actor), _entries(ctx, books.id)) == ((None, []), [])
    failing["on"] = False
    accounting_periods.close_period(ctx, actor, "2026-10")
    assert calls == [(books.id, date(2026, 10, 31))] * 2
    assert _booked(ctx, books.id) == [("9.00", date(2026, 10, 31), None, None)]
    assert accounting_periods.list_periods(ctx, actor)[0] == date(2026, 10, 1)


def test_the_general_ledger_of_an_account_pages_with_its_running_balance(
    ctx: ServiceContext, clock: SettableClock, books: TenantAccess
) -> None:
    """Customer credit (2200, normally a credit) gets 10.00, 20.00, 30.00, 40.00 on 15, 16, 17, 18 Oct.
    From 16 to 17 Oct: opening −10.00, then −30.00, −60.00, closing −60.00. The whole month in pages of
    3: −10, −30, −60 then −100; the closing balance is −100.00 on both pages. An unknown account is
    account_not_found."""
    actor = books.actor
    cid = _customer(ctx, actor, "acme")
    for n, amount in enumerate(("10.00", "20.00", "30.00", "40.00")):
        clock.at = OCT_15 + timedelta(days=n)
        _grant(ctx, actor, cid, amount)
    found = ledger.account_ledger(ctx, actor, "2200", date(2026, 10, 16), date(2026, 10, 17))
    assert (found.opening, found.closing, found.has_more, found.next_cursor) == (
        {"EUR": eur("-10.00")}, {"EUR": eur("-60.00")}, False, None)  # fmt: skip
    assert [(m.booked_on, m.credit.amount_text(), m.balance) for m in found.movements] == [
        (date(2026, 10, 16), "20.00", eur("-30.00")), (date(2026, 10, 17), "30.00", eur("-60.00"))]  # fmt: skip
    first = ledger.account_ledger(ctx, actor, "2200", date(2026, 10, 1), date(2026, 10, 31), limit=3)
    assert ([m.balance for m in first.movements], first.has_more) == (
        [eur("-10.00"), eur("-30.00"), eur("-60.00")], True)  # fmt: skip
    second = ledger.account_ledger(ctx, actor, "2200", date(2026, 10, 1), date(2026, 10, 31), limit=3,
                                   cursor=first.next_cursor)  # fmt: skip
    assert ([m.balance for m in second.movements], second.has_more, second.closing, first.closing) == (
        [eur("-100.00")], False, {"EUR": eur("-100.00")}, {"EUR": eur("-100.00")})  # fmt: skip
    assert (first.account is not None and first.account.name, first.opening) == (
        "Customer credit balances",
        {},
    )
    with pytest.raises(DomainError) as error:
        ledger.account_ledger(ctx, actor, "7777", date(2026, 10, 1), date(2026, 10, 31))
    assert (error.value.code, error.value.status) == ("account_not_found", 404)
    with pytest.raises(DomainError) as backwards:
        ledger.account_ledger(ctx, actor, "2200", date(2026, 10, 31), date(2026, 10, 1))
    assert (backwards.value.code, backwards.value.field) == ("invalid_range", "to")


def test_tenants_close_their_own_books(
    ctx: ServiceContext, clock: SettableClock, books: TenantAccess
) -> None:
    """Tenant B closing October changes nothing for tenant A: A's entry for 20 Oct books on 20 Oct."""
    other = make_tenant(ctx, "Other", time_zone="Europe/Berlin")
    clock.at = NOV_2
    accounting_periods.close_period(ctx, other.actor, "2026-10")
    _post_for_day(ctx, books.id, date(2026, 10, 20), "3.00")
    assert _booked(ctx, books.id) == [("3.00", date(2026, 10, 20), None, None)]
    assert accounting_periods.list_periods(ctx, books.actor) == (None, [])
