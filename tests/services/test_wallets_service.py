"""Prepaid wallets on SQLite and PostgreSQL (issue 9): a run of events on a test clock with the exact
balance after each step (top-up, grant, in-advance usage held, an invoice paid from the wallet, the
balance falling below 20.00 with an alert and an auto top-up, an invoice paid partly from the wallet and
partly by card, the held usage paid by the next invoice and never twice), the ledger of each movement,
expiry with breakage, top-ups by SEPA and by hand, declines, and the advice of charge.

The tenant keeps kassa's defaults (no tax). The customer is in Berlin, billed in EUR, on a test clock from
2026-03-02 08:00 UTC, pays by card (tok_sandbox_success) with payment terms 0. The plan "prepaid" costs
5.00 a month in advance and each "calls" event 1.00 as it arrives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.core.audit import Actor
from kassa.core.errors import Conflict, DomainError
from kassa.core.ledger import Account, AccountType, Role, default_chart, wallet_entry
from kassa.core.money import Money
from kassa.core.payments import PaymentStatus
from kassa.services import (
    billable_metrics,
    catalog,
    credits,
    invoicing,
    metering,
    offers,
    payments,
    rating,
    subscriptions,
    wallets,
)
from kassa.services.context import ServiceContext
from kassa.store.tables import events
from tests.services.test_collections_examples import (
    advance,
    at,
    balances,
    credit_balance,
    new_clock,
    new_customer,
    new_invoice,
    owed,
)

PREPAID: dict[str, Any] = {
    "products": [{"code": "api", "name": "API", "plans": [
        {"code": "prepaid", "name": "Prepaid", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "5.00"}}}],
         "charges": [{"metric": "calls", "model": "per_unit", "timing": "in_advance",
                      "prices": {"EUR": {"unit": "1.00"}}}]},
    ]}],
}  # fmt: skip


def setup_plan(ctx: ServiceContext, actor: Actor) -> None:
    billable_metrics.create_metric(ctx, actor, {"code": "calls", "name": "Calls", "aggregation": "count"})
    catalog.apply_catalog(ctx, actor, PREPAID, effective_at=datetime(2025, 1, 1, tzinfo=UTC))


def calls(ctx: ServiceContext, actor: Actor, prefix: str, n: int, when: datetime) -> None:
    stamp = when.isoformat().replace("+00:00", "Z")
    result = metering.ingest_usage(ctx, actor, [
        {"id": f"{prefix}-{i}", "metric": "calls", "external_customer_id": "c1", "timestamp": stamp, "properties": {}}
        for i in range(n)
    ])  # fmt: skip
    assert (len(result.accepted), result.errors) == (n, [])


def shown(ctx: ServiceContext, actor: Actor, wallet_id: str) -> tuple[str, str, str]:
    """(total, paid, free) of the wallet now."""
    b = wallets.get_wallet(ctx, actor, wallet_id)["balance"]
    return b["total"]["amount"], b["paid"]["amount"], b["free"]["amount"]


def log(ctx: ServiceContext, actor: Actor, wallet_id: str) -> list[tuple[str, str, str, str]]:
    """(kind, amount, paid, balance after) of every transaction, oldest first; holds summed per kind run."""
    page = wallets.list_transactions(ctx, actor, wallet_id, limit=100, cursor=None)
    return [(t.kind.value, t.amount.amount_text(), t.paid.amount_text(), t.balance.amount_text())
            for t in reversed(page.items)]  # fmt: skip


def wallet_events(ctx: ServiceContext, tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
    e = events.c
    with ctx.uow(read_only=True) as uow:
        rows = uow.conn.execute(sa.select(e.type, e.data).where(e.tenant_id == tenant_id, e.type.like("wallet.%"))
                                .order_by(e.occurred_at, e.id)).all()  # fmt: skip
    return [(r.type, r.data) for r in rows]


def test_a_run_of_events_leaves_the_exact_balance_after_each_step(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 9, the worked example of docs/wallets.md.

    08:00 wallet (auto top-up below 20.00 buys 50.00; alerts at 20.00 and 5.00); a card top-up of 50.00 ->
    50.00; a grant of 10.00 expiring 10 March -> 60.00 (50.00 paid, 10.00 free); 4 calls held at once from
    the free lot (it expires first) -> 56.00. 09:00 INV-2026-00001 (5.00 flat + 4.00 calls) is paid from
    the wallet: the 4.00 held and 5.00 fresh from the free lot -> 51.00 (50.00 paid, 1.00 free). 10:00 32
    calls held: 1.00 free, then 31.00 paid -> 19.00: alert at 20.00; the auto top-up buys 50.00 -> 69.00.
    10:05 a one-off invoice of 100.00: the wallet pays 69.00 (the 32.00 held are not this invoice's) -> 0.00,
    alerts at 20.00 and 5.00, the card pays 31.00, the auto top-up buys 50.00 again -> 50.00. 2 April: the
    April invoice, 5.00 flat + the 32.00 of calls held in March, takes the holds and 5.00 fresh -> 45.00."""
    setup_plan(ctx, actor)
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_success")
    wallet = wallets.create_wallet(ctx, actor, {"customer_id": cid, "auto_top_up": {"threshold": "20.00", "amount": "50.00"},
                                                "alert_thresholds": ["5.00", "20.00"]})  # fmt: skip
    wid = wallet["id"]
    assert (wallet["currency"], wallet["alert_thresholds"]) == ("EUR", ["20.00", "5.00"])
    payment = wallets.top_up(ctx, actor, wid, {"amount": "50.00"})
    assert (payment.status, payment.invoice_id, payment.amount.amount_text()) == (
        PaymentStatus.SUCCEEDED,
        None,
        "50.00",
    )
    assert shown(ctx, actor, wid) == ("50.00", "50.00", "0.00")
    wallets.grant_credits(ctx, actor, wid, {"amount": "10.00", "expires_at": "2026-03-10T00:00:00+00:00"})
    assert shown(ctx, actor, wid) == ("60.00", "50.00", "10.00")

    subscriptions.create_subscription(
        ctx, actor, {"customer_id": cid, "plan": "prepaid", "start_date": "2026-03-02"}
    )
    calls(ctx, actor, "a", 4, at(3, 2, 8))
    assert shown(ctx, actor, wid) == ("56.00", "50.00", "6.00")

    advance(ctx, actor, clock_id, at(3, 2, 9))
    [first] = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (first.number, first.total.amount_text(), owed(first)) == (
        "INV-2026-00001",
        "9.00",
        ("paid", "9.00", "0.00"),
    )
    assert shown(ctx, actor, wid) == ("51.00", "50.00", "1.00")

    calls(ctx, actor, "b", 32, at(3, 2, 9))
    advance(ctx, actor, clock_id, at(3, 2, 10))  # the auto top-up job ran
    assert shown(ctx, actor, wid) == ("69.00", "69.00", "0.00")

    consulting = new_invoice(ctx, actor, cid)  # 100.00, finalized at 10:00, due at once
    assert owed(invoicing.get_invoice(ctx, actor, consulting.id)) == ("open", "69.00", "31.00")
    assert shown(ctx, actor, wid) == ("0.00", "0.00", "0.00")
    advance(ctx, actor, clock_id, at(3, 2, 10, 5))  # the card pays the rest; the auto top-up buys again
    assert owed(invoicing.get_invoice(ctx, actor, consulting.id)) == ("paid", "100.00", "0.00")
    assert shown(ctx, actor, wid) == ("50.00", "50.00", "0.00")

    advance(ctx, actor, clock_id, at(4, 2, 9))
    april = [i for i in invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
             if i.number == "INV-2026-00003"]  # fmt: skip
    assert [(i.total.amount_text(), owed(i)) for i in april] == [("37.00", ("paid", "37.00", "0.00"))]
    assert shown(ctx, actor, wid) == ("45.00", "45.00", "0.00")

    entries = log(ctx, actor, wid)
    holds = [e for e in entries if e[0] == "hold"]
    assert len(holds) == 36  # every call held once, none split
    assert [e for e in entries if e[0] != "hold"] == [
        ("top_up", "50.00", "50.00", "50.00"),
        ("grant", "10.00", "0.00", "60.00"),
        ("draw", "-5.00", "0.00", "51.00"),  # INV-2026-00001: 5.00 fresh (+ 4.00 of holds)
        ("top_up", "50.00", "50.00", "69.00"),
        ("draw", "-69.00", "-69.00", "0.00"),  # the one-off invoice
        ("top_up", "50.00", "50.00", "50.00"),
        ("draw", "-5.00", "-5.00", "45.00"),  # April: 5.00 fresh (+ 32.00 of holds)
    ]
    assert holds[:4] == [("hold", "-1.00", "0.00", b) for b in ("59.00", "58.00", "57.00", "56.00")]
    assert holds[4] == ("hold", "-1.00", "0.00", "50.00") and holds[5] == ("hold", "-1.00", "-1.00", "49.00")
    assert holds[-1] == ("hold", "-1.00", "-1.00", "19.00")

    low = [
        (t, d["threshold"], d["balance"])
        for t, d in wallet_events(ctx, actor.tenant_id)
        if t == "wallet.balance_low"
    ]
    assert low == [("wallet.balance_low", "20.00", "19.00"), ("wallet.balance_low", "20.00", "0.00"),
                   ("wallet.balance_low", "5.00", "0.00")]  # fmt: skip
    topped = [
        (d["amount"], d["auto"]) for t, d in wallet_events(ctx, actor.tenant_id) if t == "wallet.topped_up"
    ]
    assert topped == [("50.00", False), ("50.00", True), ("50.00", True)]
    drawn = [(d["invoice_id"] is not None, d["amount"], d["paid"], d["free"], d.get("from_holds"))
             for t, d in wallet_events(ctx, actor.tenant_id) if t == "wallet.drawn"]  # fmt: skip
    assert drawn == [
        (False, "4.00", "0.00", "4.00", None),
        (True, "9.00", "0.00", "9.00", "4.00"),
        (False, "32.00", "31.00", "1.00", None),
        (True, "69.00", "69.00", "0.00", "0.00"),
        (True, "37.00", "36.00", "1.00", "32.00"),  # the first March hold was the free 1.00
    ]
    # Ledger: three card top-ups (150.00) and the card's 31.00 in transit; the wallet paid 10.00 of free
    # credits (a goodwill expense) and 69.00 + 36.00 = 105.00 of paid ones, so 45.00 is still owed in
    # credits; every invoice is paid.
    ledger = balances(ctx, actor)
    assert (ledger["1050"], ledger["2400"], ledger["6100"], ledger.get("1100")) == (
        "181.00",
        "-45.00",
        "10.00",
        None,
    )


def balance_of(ctx: ServiceContext, actor: Actor, wallet_id: str) -> str:
    return shown(ctx, actor, wallet_id)[0]


def manual_wallet(
    ctx: ServiceContext, actor: Actor, token: str | None = None, **fields: Any
) -> tuple[str, str, str]:
    """(clock, customer, wallet) at 2026-03-02 08:00 UTC."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token=token)
    return clock_id, cid, wallets.create_wallet(ctx, actor, {"customer_id": cid, **fields})["id"]


def test_expired_credits_leave_the_wallet_and_paid_ones_are_breakage(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: 30.00 received by bank transfer expiring 5 March, 10.00 granted expiring 4 March; a one-off
    invoice of 4.00 takes the free credits first (they expire first): 36.00 left, 30.00 paid and 6.00 free.
    On 4 March 00:00 the 6.00 free expire (no entry: never booked), on 5 March the 30.00 paid (breakage:
    Dr 2400, Cr 4000). Ledger: cash 30.00 received; the invoice's 4.00 revenue paid by goodwill credits."""
    clock_id, cid, wid = manual_wallet(ctx, actor)
    wallets.top_up(
        ctx, actor, wid, {"amount": "30.00", "paid_outside": True, "expires_at": "2026-03-05T00:00:00Z"}
    )
    wallets.grant_credits(ctx, actor, wid, {"amount": "10.00", "expires_at": "2026-03-04T00:00:00Z"})
    inv = new_invoice(ctx, actor, cid, unit_price="4.00")
    assert owed(invoicing.get_invoice(ctx, actor, inv.id)) == ("paid", "4.00", "0.00")
    assert shown(ctx, actor, wid) == ("36.00", "30.00", "6.00")
    advance(ctx, actor, clock_id, at(3, 4, 12))
    assert shown(ctx, actor, wid) == ("30.00", "30.00", "0.00")
    advance(ctx, actor, clock_id, at(3, 6, 0))
    assert shown(ctx, actor, wid) == ("0.00", "0.00", "0.00")
    assert [e for e in log(ctx, actor, wid)] == [
        ("top_up", "30.00", "30.00", "30.00"), ("grant", "10.00", "0.00", "40.00"), ("draw", "-4.00", "0.00", "36.00"),
        ("expiry", "-6.00", "0.00", "30.00"), ("expiry", "-30.00", "-30.00", "0.00"),
    ]  # fmt: skip
    expired = [
        (d["credit_kind"], d["amount"])
        for t, d in wallet_events(ctx, actor.tenant_id)
        if t == "wallet.credits_expired"
    ]
    assert expired == [("free", "-6.00"), ("paid", "-30.00")]
    assert balances(ctx, actor) == {"1000": "30.00", "4000": "-34.00", "6100": "4.00"}


def test_a_declined_top_up_buys_nothing_and_the_auto_top_up_waits_for_a_new_rule(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: a declined card top-up leaves no lot and says wallet.top_up_failed. With 25.00 received by
    hand and the rule "below 20.00 buy 10.00", an invoice of 10.00 leaves 15.00: the auto top-up is declined;
    a further draw (14.00) tries nothing; after the rule changes the next draw (13.00) tries again."""
    clock_id, cid, wid = manual_wallet(ctx, actor, token="tok_sandbox_decline",
                                       auto_top_up={"threshold": "20.00", "amount": "10.00"})  # fmt: skip
    declined = wallets.top_up(ctx, actor, wid, {"amount": "50.00"})
    assert (declined.status, balance_of(ctx, actor, wid)) == (PaymentStatus.FAILED, "0.00")
    assert wallets.get_wallet(ctx, actor, wid)["lots"] == []
    wallets.top_up(ctx, actor, wid, {"amount": "25.00", "paid_outside": True})
    new_invoice(ctx, actor, cid, unit_price="10.00")
    advance(ctx, actor, clock_id, at(3, 2, 8, 10))
    new_invoice(ctx, actor, cid, unit_price="1.00")
    advance(ctx, actor, clock_id, at(3, 2, 8, 20))
    wallets.update_wallet(ctx, actor, wid, {"auto_top_up": {"threshold": "20.00", "amount": "15.00"}})
    advance(ctx, actor, clock_id, at(3, 2, 8, 30))
    new_invoice(ctx, actor, cid, unit_price="1.00")
    advance(ctx, actor, clock_id, at(3, 2, 8, 40))
    assert balance_of(ctx, actor, wid) == "13.00"
    failed = [(d["amount"], d["auto"], d["decline_code"]) for t, d in wallet_events(ctx, actor.tenant_id)
              if t == "wallet.top_up_failed"]  # fmt: skip
    assert failed == [("50.00", False, "generic_decline"), ("10.00", True, "generic_decline"),
                      ("15.00", True, "generic_decline")]  # fmt: skip


def test_a_pending_top_up_is_credited_when_confirmed_and_never_pays_invoices(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: an open invoice of 100.00 (paid by hand: no card yet); then the card tok_sandbox_async
    (pending, succeeded when asked an hour later) and a top-up of 40.00. Until confirmed the wallet holds
    0.00 and the auto top-up counts it as on its way; then 40.00, booked Dr 1050 Cr 2400. The invoice is
    still owed in full and nothing reached the credit balance: a top-up buys credits, it pays no invoice."""
    clock_id, cid, wid = manual_wallet(ctx, actor)
    inv = new_invoice(ctx, actor, cid)
    payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": "tok_sandbox_async"})
    pending = wallets.top_up(ctx, actor, wid, {"amount": "40.00"})
    assert (pending.status, balance_of(ctx, actor, wid)) == (PaymentStatus.PENDING, "0.00")
    with ctx.uow(read_only=True) as uow:
        assert uow.wallets.waiting_top_up(actor.tenant_id, wid)
    advance(ctx, actor, clock_id, at(3, 2, 10))
    assert balance_of(ctx, actor, wid) == "40.00"
    assert owed(invoicing.get_invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    assert credit_balance(ctx, actor, cid) == "0.00"
    assert balances(ctx, actor) == {"1050": "40.00", "1100": "100.00", "2400": "-40.00", "4000": "-100.00"}


def test_held_credits_the_invoice_did_not_need_come_back(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 9: 20.00 in the wallet, a credit balance of 7.00; 4 calls held (16.00 left). The first invoice
    (5.00 flat + 4.00 calls = 9.00) takes 7.00 from the credit balance; the wallet pays the 2.00 left from
    the holds and releases the other 2.00 held as a new paid lot: 18.00. Nothing is paid twice."""
    setup_plan(ctx, actor)
    clock_id, cid, wid = manual_wallet(ctx, actor)
    wallets.top_up(ctx, actor, wid, {"amount": "20.00", "paid_outside": True})
    credits.grant_credit(ctx, actor, cid, {"amount": "7.00", "description": "Outage in February"})
    subscriptions.create_subscription(
        ctx, actor, {"customer_id": cid, "plan": "prepaid", "start_date": "2026-03-02"}
    )
    calls(ctx, actor, "a", 4, at(3, 2, 8))
    assert balance_of(ctx, actor, wid) == "16.00"
    advance(ctx, actor, clock_id, at(3, 2, 9))
    [first] = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (first.total.amount_text(), first.credit_applied.amount_text(), owed(first)) == (
        "9.00", "7.00", ("paid", "2.00", "0.00"))  # fmt: skip
    assert shown(ctx, actor, wid) == ("18.00", "18.00", "0.00")
    assert [e for e in log(ctx, actor, wid) if e[0] not in ("hold",)] == [
        ("top_up", "20.00", "20.00", "20.00"), ("release", "2.00", "2.00", "18.00")]  # fmt: skip
    assert balances(ctx, actor)["2400"] == "-18.00"


def test_an_invoice_the_credit_balance_pays_whole_gives_its_holds_back(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9 (review): 20.00 in the wallet, a credit balance of 30.00; 4 calls held (16.00 left). The
    first invoice (9.00) is paid whole by the credit balance, so it never asks the wallet: the 4.00 held
    for its calls come back (they stayed held for ever)."""
    setup_plan(ctx, actor)
    clock_id, cid, wid = manual_wallet(ctx, actor)
    wallets.top_up(ctx, actor, wid, {"amount": "20.00", "paid_outside": True})
    credits.grant_credit(ctx, actor, cid, {"amount": "30.00", "description": "Outage in February"})
    subscriptions.create_subscription(
        ctx, actor, {"customer_id": cid, "plan": "prepaid", "start_date": "2026-03-02"}
    )
    calls(ctx, actor, "a", 4, at(3, 2, 8))
    assert balance_of(ctx, actor, wid) == "16.00"
    advance(ctx, actor, clock_id, at(3, 2, 9))
    [first] = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (first.credit_applied.amount_text(), owed(first)) == ("9.00", ("paid", "0.00", "0.00"))
    assert shown(ctx, actor, wid) == ("20.00", "20.00", "0.00")
    assert [e for e in log(ctx, actor, wid) if e[0] != "hold"] == [
        ("top_up", "20.00", "20.00", "20.00"), ("release", "4.00", "4.00", "20.00")]  # fmt: skip
    assert balances(ctx, actor)["2400"] == "-20.00"


def test_a_low_balance_alert_carries_the_promotion_offer_when_it_applies(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: alerts at 10.00; promotion "refill" (offered to everyone): 15.00 -> 9.00 raises
    wallet.balance_low with offer "refill". With "fr-only" (customers in France; this one has no address)
    the next fall below 10.00 raises the alert without an offer."""
    offers.put_offer(ctx, actor, "refill", {"name": "Refill bonus", "benefit": {"type": "plan", "plan": "prepaid"},
                                            "conditions": {"all": []}})  # fmt: skip
    offers.put_offer(ctx, actor, "fr-only", {"name": "France", "benefit": {"type": "plan", "plan": "prepaid"},
                                             "conditions": {"field": "customer.country", "op": "eq", "value": "FR"}})  # fmt: skip
    clock_id, cid, wid = manual_wallet(ctx, actor, alert_thresholds=["10.00"], promotion_offer="refill")
    wallets.top_up(ctx, actor, wid, {"amount": "15.00", "paid_outside": True})
    new_invoice(ctx, actor, cid, unit_price="6.00")
    wallets.update_wallet(ctx, actor, wid, {"promotion_offer": "fr-only"})
    wallets.top_up(ctx, actor, wid, {"amount": "10.00", "paid_outside": True})
    new_invoice(ctx, actor, cid, unit_price="10.00")
    low = [d for t, d in wallet_events(ctx, actor.tenant_id) if t == "wallet.balance_low"]
    assert low == [
        {"wallet_id": wid, "threshold": "10.00", "balance": "9.00", "currency": "EUR", "offer": "refill"},
        {"wallet_id": wid, "threshold": "10.00", "balance": "9.00", "currency": "EUR"},
    ]
    with pytest.raises(DomainError) as error:
        wallets.update_wallet(ctx, actor, wid, {"promotion_offer": "nope"})
    assert (error.value.code, error.value.field) == ("unknown_offer", "promotion_offer")


def test_one_wallet_per_customer_and_currency_and_bad_input_changes_nothing(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: a second EUR wallet is a conflict, a USD one is not; bad amounts, thresholds, rules and
    instants are refused with their field."""
    _, cid, wid = manual_wallet(ctx, actor)
    with pytest.raises(Conflict):
        wallets.create_wallet(ctx, actor, {"customer_id": cid})
    assert wallets.create_wallet(ctx, actor, {"customer_id": cid, "currency": "USD"})["currency"] == "USD"
    assert [w["currency"] for w in wallets.customer_wallets(ctx, actor, cid)] == ["EUR", "USD"]
    bad = [
        (lambda: wallets.grant_credits(ctx, actor, wid, {"amount": "0.00"}), "invalid_amount", "amount"),
        (lambda: wallets.grant_credits(ctx, actor, wid, {"amount": "1.005"}), "invalid_amount", "amount"),
        (lambda: wallets.grant_credits(ctx, actor, wid, {"amount": "1.00", "expires_at": "2026-03-01T00:00:00Z"}),
         "invalid_expires_at", "expires_at"),
        (lambda: wallets.update_wallet(ctx, actor, wid, {"alert_thresholds": ["-1.00"]}), "invalid_alert_thresholds",
         "alert_thresholds.0"),
        (lambda: wallets.update_wallet(ctx, actor, wid, {"auto_top_up": {"threshold": "5.00", "amount": "0.00"}}),
         "invalid_auto_top_up", "amount"),
        (lambda: wallets.top_up(ctx, actor, wid, {"amount": "5.00"}), "no_payment_method", None),
    ]  # fmt: skip
    for call, code, field in bad:
        with pytest.raises(DomainError) as error:
            call()
        assert (error.value.code, error.value.field) == (code, field)
    assert log(ctx, actor, wid) == []


def test_the_advice_of_charge_tells_the_wallet_balance(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 9: 3 more calls cost 3.00; the wallet paying them holds 20.00."""
    setup_plan(ctx, actor)
    _, cid, wid = manual_wallet(ctx, actor)
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": cid, "plan": "prepaid", "start_date": "2026-03-02"}
    )
    assert rating.estimate(ctx, actor, {"subscription_id": sub.id, "metric": "calls", "units": "3"}).wallet_balance == (
        Money.zero("EUR"))  # fmt: skip
    wallets.top_up(ctx, actor, wid, {"amount": "20.00", "paid_outside": True})
    estimate = rating.estimate(ctx, actor, {"subscription_id": sub.id, "metric": "calls", "units": "3"})
    assert (estimate.cost.amount_text(), estimate.wallet_balance) == ("3.00", Money.parse("20.00", "EUR"))


def test_the_accounting_example_of_docs_wallets() -> None:
    """Issue 9, docs/wallets.md "Accounting": a top-up of 30.00 by card, and 6.00 free + 17.80 paid credits
    paying an invoice of 23.80; 5.00 of paid credits expiring is breakage, here routed to 4500 "Other
    income" by the override revenue:wallet_breakage."""
    chart = default_chart()
    chart = replace(chart, accounts=(*chart.accounts, Account(code="4500", name="Other income", type=AccountType.REVENUE)),
                    overrides={"revenue:wallet_breakage": "4500"})  # fmt: skip

    def entry(**amounts: Any) -> list[tuple[str, str, str]]:
        built = wallet_entry(chart, tenant_id="ten_1", id="je_1", posted_at=at(3, 2, 8), transaction_id="wtx_1",
                             description="x", currency="EUR", **amounts)  # fmt: skip
        return [(p.account, p.side.value, p.amount.amount_text()) for p in built.postings]

    def eur(text: str) -> Money:
        return Money.parse(text, "EUR")

    assert entry(top_up=eur("30.00"), cash=Role.PAYMENTS_IN_TRANSIT) == [
        ("1050", "debit", "30.00"), ("2400", "credit", "30.00")]  # fmt: skip
    assert entry(paid=eur("17.80"), free=eur("6.00")) == [
        ("2400", "debit", "17.80"), ("6100", "debit", "6.00"), ("1100", "credit", "23.80")]  # fmt: skip
    assert entry(breakage=eur("5.00")) == [("2400", "debit", "5.00"), ("4500", "credit", "5.00")]
