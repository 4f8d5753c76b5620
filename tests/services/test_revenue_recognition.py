"""Revenue recognition end to end on a test clock (issue 8): schedules written with invoices, the daily
run, the reports, and the identity between them and the ledger."""

from __future__ import annotations

from decimal import Decimal

from kassa.core.audit import Actor
from kassa.core.reports import to_json
from kassa.services import invoicing, ledger, revenue_reports
from kassa.services.context import ServiceContext
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
