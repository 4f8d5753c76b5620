"""Revenue recognition end to end on a test clock (issue 8): schedules written with invoices, the daily
run, the reports, and the identity between them and the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.reports import to_json
from kassa.services import accounting_periods, customers, invoicing, ledger, revenue_reports, subscriptions
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock
from tests.services.test_collections_examples import advance, at, balances, new_clock, new_invoice, subscriber


def _figures(ctx: ServiceContext, actor: Actor) -> list[dict[str, object]]:
    doc = to_json(revenue_reports.revenue_report(ctx, actor, "2026-03", "2026-05"))
    return [{k: (v["amount"] if isinstance(v, dict) else v) for k, v in row.items()} for row in doc["rows"]]


def test_a_monthly_plan_is_recognized_day_by_day_and_the_reports_match_the_ledger(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Basic monthly 100.00 from 2026-03-02, billed on the 2nd; the clock at 2026-05-10 09:00 UTC.
    March: 30 of 31 days of the first period = 96.77 recognized, 3.23 deferred. April: 3.23 + 29/30 of
    100.00 (96.67) = 99.90, deferred 3.33. May to the 10th: 3.33 + 9/31 of 100.00 (29.03) = 32.36,
    deferred 70.97. Ledger: revenue 4000 -229.03, deferred revenue 2300 -70.97. Bookings: the first
    period is all an evergreen plan commits to: 100.00 in March, backlog 0 once billed."""
    clock_id = new_clock(ctx, actor)
    cid, _, _ = subscriber(ctx, actor, clock_id)
    advance(ctx, actor, clock_id, at(5, 10, 9))
    assert len(invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items) == 3
    rows = _figures(ctx, actor)
    assert [(r["month"], r["bookings"], r["billings"], r["recognized"], r["deferred_revenue"],
             r["unbilled_receivables"], r["unbilled_backlog"], r["rpo"]) for r in rows] == [
        ("2026-03", "100.00", "100.00", "96.77", "3.23", "0.00", "0.00", "3.23"),
        ("2026-04", "0.00", "100.00", "99.90", "3.33", "0.00", "0.00", "3.33"),
        ("2026-05", "0.00", "100.00", "32.36", "70.97", "0.00", "0.00", "70.97"),
    ]  # fmt: skip
    book = balances(ctx, actor)
    assert (book["4000"], book["2300"]) == ("-229.03", "-70.97")
    # the identity, month by month: billings - released = recognized + Δ deferred - Δ unbilled
    previous = (Decimal(0), Decimal(0))
    for r in rows:
        deferred, unbilled = Decimal(str(r["deferred_revenue"])), Decimal(str(r["unbilled_receivables"]))
        assert Decimal(str(r["billings"])) - Decimal(str(r["released"])) == (
            Decimal(str(r["recognized"])) + deferred - previous[0] - (unbilled - previous[1])
        )
        previous = (deferred, unbilled)
    assert ledger.trial_balance(ctx, actor, None)  # balanced: checked by balances()


def _march_books(ctx: ServiceContext, actor: Actor) -> list[tuple[str, str]]:
    return [(ln.account, ln.balance.amount_text())
            for ln in ledger.trial_balance_as_of(ctx, actor, date(2026, 3, 31)).lines]  # fmt: skip


def test_a_back_dated_sale_after_the_close_books_its_closed_months_revenue_in_the_first_open_one(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """Basic monthly 100.00 from 2026-03-02 (March 96.77 recognized, April to the 10th 3.23 + 9/30 x 100.00 =
    33.23). On 2026-04-10 March is closed; then a second Basic subscription is sold back-dated to 2026-03-16
    and billed at once: 100.00 for 16 March to 15 April (31 days). Its 16 March days earned 16/31 x 100.00 =
    51.61, booked on 2026-04-01 (March is closed) with effective_on 2026-03-31 and the reason; its 10 April
    days 83.87 - 51.61 = 32.26 recognized on the invoice; 16.13 deferred. March's figures and books do not
    move; April: billings 200.00, recognized 33.23 + 83.87 = 117.10, deferred 70.00 + 16.13 = 86.13; revenue in
    the books 96.77 + 117.10 = 213.87 of the 300.00 billed."""
    clock_id = new_clock(ctx, actor)
    cid, _, _ = subscriber(ctx, actor, clock_id)
    advance(ctx, actor, clock_id, at(4, 10, 9))
    clock.at = at(4, 10, 9)
    accounting_periods.close_period(ctx, actor, "2026-03")
    march = _march_books(ctx, actor)
    assert march == [("1100", "100.00"), ("2300", "-3.23"), ("4000", "-96.77")]
    subscriptions.create_subscription(
        ctx, actor, {"customer_id": cid, "plan": "basic-monthly", "start_date": "2026-03-16"}
    )
    advance(ctx, actor, clock_id, at(4, 10, 12))
    rows = _figures(ctx, actor)
    assert [(r["month"], r["bookings"], r["billings"], r["recognized"], r["deferred_revenue"],
             r["unbilled_receivables"]) for r in rows] == [
        ("2026-03", "100.00", "100.00", "96.77", "3.23", "0.00"),
        ("2026-04", "100.00", "200.00", "117.10", "86.13", "0.00"),
        ("2026-05", "0.00", "0.00", "0.00", "86.13", "0.00"),
    ]  # fmt: skip
    assert _march_books(ctx, actor) == march
    with ctx.uow(read_only=True) as uow:
        entries = uow.ledger.entries(actor.tenant_id, limit=100, cursor=None).items
    invoice = next(e for e in entries if e.booked_on == date(2026, 4, 10) and e.source_type == "invoice")
    assert [(p.account, p.side.value, p.amount.amount_text()) for p in invoice.postings] == [
        ("1100", "debit", "100.00"), ("4000", "credit", "32.26"), ("2300", "credit", "16.13"),
        ("1150", "credit", "51.61"),
    ]  # fmt: skip
    (moved,) = [e for e in entries if e.effective_on is not None]
    assert (moved.source_type, moved.booked_on, moved.effective_on, moved.note) == (
        "revenue_recognition",
        date(2026, 4, 1),
        date(2026, 3, 31),
        "2026-03 is closed: booked in 2026-04",
    )
    assert [(p.account, p.side.value, p.amount.amount_text()) for p in moved.postings] == [
        ("1150", "debit", "51.61"),
        ("4000", "credit", "51.61"),
    ]
    book = balances(ctx, actor)
    assert (book["4000"], book["2300"], book.get("1150", "0.00")) == ("-213.87", "-86.13", "0.00")


def _rows(ctx: ServiceContext, actor: Actor, first: str, last: str, *keys: str) -> list[tuple[object, ...]]:
    doc = to_json(revenue_reports.revenue_report(ctx, actor, first, last))
    return [
        tuple(r[k]["amount"] if isinstance(r[k], dict) else r[k] for k in ("month", *keys))
        for r in doc["rows"]
    ]


def test_a_write_off_after_a_credit_note_releases_only_what_is_still_unearned(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 8 (review): Basic 100.00 for 2 March to 2 April (31 days), unpaid. On 11 March (10 days earned,
    32.26) 31.00 is credited against the invoice: 10/31 of it at once (10.00), 21.00 mirrored from 12 March.
    Then the invoice is written off: its 69.00 still owed is 46.74 of revenue not yet earned (67.74 left on
    the invoice's rows less the credit's 21.00 to come), released from deferred revenue, and 22.26 of bad
    debt. Revenue stays at the 22.26 earned, nothing is recognized afterwards, and an uncollectible invoice
    takes no credit note (its unearned part is released already)."""
    clock_id = new_clock(ctx, actor)
    cid, _, first = subscriber(ctx, actor, clock_id)
    advance(ctx, actor, clock_id, at(3, 11, 9))
    invoicing.credit_invoice(ctx, actor, first.id, {"reason": "other", "target": "invoice",
                                                    "lines": [{"position": first.lines[0].position, "net": "31.00"}]})  # fmt: skip
    invoicing.mark_invoice_uncollectible(ctx, actor, first.id)
    assert balances(ctx, actor) == {"4000": "-22.26", "6200": "22.26"}
    advance(ctx, actor, clock_id, at(4, 1, 9))
    assert balances(ctx, actor) == {"4000": "-22.26", "6200": "22.26"}
    assert _rows(ctx, actor, "2026-03", "2026-04", "billings", "released", "recognized", "deferred_revenue") == [
        ("2026-03", "69.00", "46.74", "22.26", "0.00"), ("2026-04", "0.00", "0.00", "0.00", "0.00")]  # fmt: skip
    with pytest.raises(DomainError) as refused:
        invoicing.credit_invoice(ctx, actor, first.id, {"reason": "other", "target": "invoice"})
    assert refused.value.code == "invoice_not_creditable"


def test_an_invoice_is_booked_on_its_own_date_in_the_customers_time_zone(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """Issue 8 (review): the tenant keeps UTC books; a customer in Tokyo is invoiced 100.00 (one line, a
    point when billed) at 2026-01-31 20:00 UTC, 1 February in Tokyo: the invoice's date. Its entry, its
    schedule and the report all put it in February."""
    clock.at = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)
    cid = customers.create_customer(ctx, actor, {"external_id": "t", "name": "Tokyo KK", "currency": "EUR",
                                                 "time_zone": "Asia/Tokyo"}).id  # fmt: skip
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "100.00"}]})  # fmt: skip
    assert invoicing.finalize_invoice(ctx, actor, draft.id).due_date == date(2026, 2, 1)  # due on its date
    clock.at = datetime(2026, 3, 5, 9, tzinfo=UTC)
    assert _rows(ctx, actor, "2026-01", "2026-02", "billings", "recognized") == [
        ("2026-01", "0.00", "0.00"), ("2026-02", "100.00", "100.00")]  # fmt: skip
    assert [(ln.account, ln.balance.amount_text())
            for ln in ledger.trial_balance_as_of(ctx, actor, date(2026, 1, 31)).lines] == []  # fmt: skip
    assert [(ln.account, ln.balance.amount_text()) for ln in ledger.trial_balance_as_of(ctx, actor, date(2026, 2, 28)).lines] == [
        ("1100", "100.00"), ("4000", "-100.00")]  # fmt: skip


def test_an_invoice_dated_in_a_closed_month_is_billed_in_the_first_open_one(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """Issue 8 (review): March closed on 10 April while a test-clock customer is still on 20 March; an
    invoice of 50.00 finalized on its 20 March is booked on 1 April, and the report counts it there too:
    March's figures and books stay as they were closed. The charge is a point on its billing day, now 1
    April, so it is deferred until the customer's clock reaches April: 3.23 + 50.00 deferred."""
    clock_id = new_clock(ctx, actor)
    cid, _, _ = subscriber(ctx, actor, clock_id)
    advance(ctx, actor, clock_id, at(3, 20, 9))
    clock.at = at(4, 10, 9)
    accounting_periods.close_period(ctx, actor, "2026-03")
    march = _march_books(ctx, actor)
    before = _rows(ctx, actor, "2026-03", "2026-04", "billings", "recognized", "deferred_revenue")
    new_invoice(ctx, actor, cid, "50.00")
    assert _march_books(ctx, actor) == march
    assert _rows(ctx, actor, "2026-03", "2026-04", "billings", "recognized", "deferred_revenue") == [
        before[0], ("2026-04", "50.00", "0.00", "53.23")]  # fmt: skip
    assert before[1] == ("2026-04", "0.00", "0.00", "3.23")
