"""Revenue recognition end to end on a test clock (issue 8): schedules written with invoices, the daily
run, the reports, and the identity between them and the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kassa.core.audit import Actor
from kassa.core.reports import to_json
from kassa.services import accounting_periods, invoicing, ledger, revenue_reports, subscriptions
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock
from tests.services.test_collections_examples import advance, at, balances, new_clock, subscriber


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
