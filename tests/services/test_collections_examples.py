"""Issue 7: worked examples of collections, on SQLite and PostgreSQL, each driven by a test clock.

The tenant keeps kassa's defaults (no seller address, so no tax, unless a test sets one; amounts half-up).
Every customer is in Berlin, billed in EUR, on a test clock that starts at 2026-03-02 08:00 UTC (09:00 in
Berlin, CET = UTC+1; summer time, UTC+2, starts on 29 March). A one-off invoice "Consulting" made and
finalized at that instant is INV-2026-00001, due the same day (payment terms 0) unless a test says otherwise;
a card customer is charged at once on the due date. Dunning follows the documented default policy
(docs/dunning.md): retries per decline code; steps at Berlin midnight of due date + 1, 7 (reminders), 10
(suspension notice), 14 (past due), 30 (cancel), 45 (write-off), the last three only once the tenant has
saved a policy.

Ledger (default chart): 1000 cash, 1050 payments in transit, 1100 receivable, 2100 tax payable, 2200 customer
credit, 4000 revenue, 6200 bad debt, 6300 payment fees. Balances are debit-positive; an account a test does
not list is 0.00, and the balances always sum to zero (every entry balances).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.adapters.clock import SystemClock
from kassa.adapters.payments.base import GatewayEventType
from kassa.adapters.payments.sandbox import SandboxGateway
from kassa.core.audit import Actor
from kassa.core.credit_notes import CreditReason
from kassa.core.dunning import default_policy, policy_to_json
from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, LineKind
from kassa.core.money import Money
from kassa.core.payments import Chargeback, ChargebackStatus, Payment, PaymentStatus
from kassa.core.subscriptions import Status
from kassa.services import (
    catalog,
    credits,
    customers,
    dunning,
    invoicing,
    ledger,
    payments,
    subscriptions,
    tenants,
    test_clocks,
)
from kassa.services.context import ServiceContext

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
ZONE = "Europe/Berlin"
BASIC: dict[str, Any] = {
    "products": [{"code": "basic", "name": "Basic", "plans": [
        {"code": "basic-monthly", "name": "Basic, monthly", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "100.00"}}}]},
    ]}],
}  # fmt: skip


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# ---- setup ---------------------------------------------------------------------------------------------


def new_clock(ctx: ServiceContext, actor: Actor) -> str:
    return test_clocks.create_test_clock(ctx, actor, name="collections", frozen_time=START).id


def new_customer(
    ctx: ServiceContext,
    actor: Actor,
    clock_id: str,
    *,
    token: str | None = None,
    terms: int = 0,
    **fields: Any,
) -> str:
    """A customer on the clock; with a card `token` it pays automatically, else by hand."""
    body = {
        "external_id": "c1",
        "name": "Acme",
        "currency": "EUR",
        "time_zone": ZONE,
        "test_clock_id": clock_id,
        "payment_terms_days": terms,
        **fields,
    }
    cid = customers.create_customer(ctx, actor, body).id
    if token is not None:
        payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": token})
    return cid


def new_invoice(ctx: ServiceContext, actor: Actor, cid: str, unit_price: str = "100.00") -> Invoice:
    """One line "Consulting", quantity 1, finalized now."""
    draft = invoicing.create_invoice(
        ctx,
        actor,
        {
            "customer_id": cid,
            "lines": [{"description": "Consulting", "quantity": "1", "unit_price": unit_price}],
        },
    )
    return invoicing.finalize_invoice(ctx, actor, draft.id)


def advance(ctx: ServiceContext, actor: Actor, clock_id: str, to: datetime) -> None:
    clock = test_clocks.advance_test_clock(ctx, actor, clock_id, to)
    assert clock.status.value == "ready", clock.error


def invoice(ctx: ServiceContext, actor: Actor, invoice_id: str) -> Invoice:
    return invoicing.get_invoice(ctx, actor, invoice_id)


def owed(inv: Invoice) -> tuple[str, str, str]:
    """(status, amount paid, amount remaining)."""
    return inv.status.value, inv.amount_paid.amount_text(), inv.amount_remaining.amount_text()


def payments_of(ctx: ServiceContext, actor: Actor, cid: str) -> list[Payment]:
    found = payments.list_payments(ctx, actor, customer_id=cid, status=None, limit=100, cursor=None).items
    return sorted(found, key=lambda p: (p.created_at, p.attempt, p.id))


def attempts(ctx: ServiceContext, actor: Actor, cid: str) -> list[tuple[int, str, str | None, str]]:
    """(attempt, status, decline code, instant) of each collection attempt."""
    return [
        (
            p.attempt,
            p.status.value,
            p.decline_code.value if p.decline_code else None,
            p.created_at.astimezone(UTC).isoformat(),
        )
        for p in payments_of(ctx, actor, cid)
    ]


def credit_balance(ctx: ServiceContext, actor: Actor, cid: str) -> str:
    amount, _ = credits.credit_balance(ctx, actor, cid, limit=1, cursor=None)
    return amount.amount_text()


def balances(ctx: ServiceContext, actor: Actor) -> dict[str, str]:
    """The trial balance's nonzero accounts, after checking that it nets to zero (debits == credits)."""
    rows = ledger.trial_balance(ctx, actor, None)
    total = sum(
        (Money.parse(r["balance"]["amount"], r["balance"]["currency"]) for r in rows), Money.zero("EUR")
    )
    assert total == Money.zero("EUR"), rows
    return {
        r["account"]: r["balance"]["amount"]
        for r in rows
        if Money.parse(r["balance"]["amount"], "EUR").amount
    }


def sandbox(ctx: ServiceContext) -> SandboxGateway:
    return cast(SandboxGateway, ctx.gateways["sandbox"])


def webhook(
    ctx: ServiceContext, actor: Actor, kind: GatewayEventType, charge_ref: str | None, created_at: datetime
) -> tuple[bytes, dict[str, str]]:
    """What the sandbox would send; signed now on the wall clock, which the receiver checks."""
    return sandbox(ctx).event(
        kind, charge_ref=charge_ref, created_at=created_at, signed_at=SystemClock().now()
    )


def deliver(ctx: ServiceContext, actor: Actor, message: tuple[bytes, dict[str, str]]) -> str:
    body, headers = message
    return payments.handle_gateway_webhook(ctx, actor.tenant_id, "sandbox", body, headers)


def chargeback_of(ctx: ServiceContext, actor: Actor, message: tuple[bytes, dict[str, str]]) -> Chargeback:
    """The chargeback a chargeback webhook names."""
    ref = json.loads(message[0])["data"]["chargeback_ref"]
    with ctx.uow(read_only=True) as uow:
        found = uow.payments.chargeback(actor.tenant_id, ref)
    assert found is not None
    return found


def subscriber(
    ctx: ServiceContext, actor: Actor, clock_id: str, token: str | None = None
) -> tuple[str, str, Invoice]:
    """A customer on Basic monthly (flat 100.00) from 2026-03-02; the clock moved to 09:00 UTC, when the bill
    run's draft finalizes after its hour of grace: INV-2026-00001, 100.00, due 03-02. Next bill date 04-02."""
    catalog.apply_catalog(ctx, actor, BASIC, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    cid = new_customer(ctx, actor, clock_id, token=token)
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": cid, "plan": "basic-monthly", "start_date": "2026-03-02"}
    )
    advance(ctx, actor, clock_id, at(3, 2, 9))
    [first] = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (first.number, first.total.amount_text(), str(first.due_date), first.finalized_at) == (
        "INV-2026-00001",
        "100.00",
        "2026-03-02",
        at(3, 2, 9),
    )
    return cid, sub.id, first


def charged(inv: Invoice | None) -> list[tuple[str, str, str]]:
    """(kind, description, amount) of each line, sorted."""
    assert inv is not None
    return sorted((ln.item.kind.value, ln.item.description, ln.item.amount.amount_text()) for ln in inv.lines)


# ---- automatic collection ------------------------------------------------------------------------------


def test_a_card_that_succeeds_pays_on_the_due_date(ctx: ServiceContext, actor: Actor) -> None:
    """tok_sandbox_success; INV-2026-00001 of 100.00 finalized and due 2026-03-02, charged at once.

    After the clock moves to 09:00 UTC: one payment, attempt 1, succeeded, 100.00, created 08:00 UTC, the
    sandbox fee 1.4 % + 0.25 = 1.65 recorded on it (it is booked when the payout arrives, not now); the
    invoice is paid at 08:00 UTC. Ledger: invoice Dr 1100 100.00 / Cr 4000 100.00; payment Dr 1050 100.00 /
    Cr 1100 100.00 -> 1050 100.00, 4000 -100.00.
    """
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_success")
    inv = new_invoice(ctx, actor, cid)
    assert (inv.number, inv.due_date and inv.due_date.isoformat(), owed(inv)) == (
        "INV-2026-00001",
        "2026-03-02",
        ("open", "0.00", "100.00"),
    )
    advance(ctx, actor, clock_id, at(3, 2, 9))
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-02T08:00:00+00:00")]
    [pay] = payments_of(ctx, actor, cid)
    assert (pay.amount.amount_text(), pay.fee and pay.fee.amount_text(), pay.gateway) == (
        "100.00",
        "1.65",
        "sandbox",
    )
    after = invoice(ctx, actor, inv.id)
    assert owed(after) == ("paid", "100.00", "0.00") and after.paid_at == at(3, 2, 8)
    assert balances(ctx, actor) == {"1050": "100.00", "4000": "-100.00"}


def test_insufficient_funds_recovered_on_the_third_retry(ctx: ServiceContext, actor: Actor) -> None:
    """tok_sandbox_insufficient_then_success_4: attempts 1-3 fail insufficient_funds, attempt 4 succeeds.

    The first charge fails on 2026-03-02 (Berlin). The default rule for insufficient_funds is days 2, 5, 9
    moved to the next 1st of the month, each a day after the one before when they meet, at 10:00 local:
    3-04 -> 04-01, 3-07 -> 04-01 -> 04-02, 3-11 -> 04-01 -> 04-03; 10:00 CEST (UTC+2) is 08:00 UTC. So the
    retries are 2026-04-01/02/03 08:00 UTC and the third retry (attempt 4) pays the invoice on 04-03.
    Before 04-01 08:00 nothing is retried. Ledger: 1050 100.00, 4000 -100.00.
    """
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_insufficient_then_success_4")
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(4, 1, 7, 59))
    assert attempts(ctx, actor, cid) == [(1, "failed", "insufficient_funds", "2026-03-02T08:00:00+00:00")]
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    advance(ctx, actor, clock_id, at(5, 1, 0))
    assert attempts(ctx, actor, cid) == [
        (1, "failed", "insufficient_funds", "2026-03-02T08:00:00+00:00"),
        (2, "failed", "insufficient_funds", "2026-04-01T08:00:00+00:00"),
        (3, "failed", "insufficient_funds", "2026-04-02T08:00:00+00:00"),
        (4, "succeeded", None, "2026-04-03T08:00:00+00:00"),
    ]
    after = invoice(ctx, actor, inv.id)
    assert owed(after) == ("paid", "100.00", "0.00") and after.paid_at == at(4, 3, 8)
    assert balances(ctx, actor) == {"1050": "100.00", "4000": "-100.00"}


def test_authentication_required_then_completed(ctx: ServiceContext, actor: Actor) -> None:
    """tok_sandbox_authentication_required: the charge at 08:00 UTC waits for 3-D Secure (requires_action,
    with the link https://sandbox.kassa.test/authenticate/<charge ref>); it is not retried off-session and
    the invoice stays open, nothing booked but the invoice. The customer authenticates at 10:00 UTC
    (confirm_payment): succeeded, the invoice paid at 10:00 UTC. Ledger: 1050 100.00, 4000 -100.00."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_authentication_required")
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(3, 2, 10))
    [waiting] = payments_of(ctx, actor, cid)
    assert (waiting.attempt, waiting.status, waiting.action_url) == (
        1,
        PaymentStatus.REQUIRES_ACTION,
        f"https://sandbox.kassa.test/authenticate/{waiting.gateway_ref}",
    )
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    assert balances(ctx, actor) == {"1100": "100.00", "4000": "-100.00"}
    done = payments.confirm_payment(ctx, actor, waiting.id)
    assert (done.id, done.status, done.settled_at) == (waiting.id, PaymentStatus.SUCCEEDED, at(3, 2, 10))
    after = invoice(ctx, actor, inv.id)
    assert owed(after) == ("paid", "100.00", "0.00") and after.paid_at == at(3, 2, 10)
    assert balances(ctx, actor) == {"1050": "100.00", "4000": "-100.00"}
    with pytest.raises(DomainError) as error:
        payments.confirm_payment(ctx, actor, waiting.id)
    assert error.value.code == "invalid_state"


def test_a_card_that_always_declines_ends_in_a_write_off(ctx: ServiceContext, actor: Actor) -> None:
    """tok_sandbox_decline (generic_decline) for a subscriber: Basic monthly, flat 100.00 from 2026-03-02.

    The bill run for 03-02 runs at 08:00 UTC (its midnight has passed) and the draft finalizes after the
    one-hour grace: INV-2026-00001, 100.00, due 03-02, charged at 09:00 UTC and declined. The default rule
    retries 1, 3, 5, 7, 10, 14 days after 03-02 at 10:00 CET = 09:00 UTC: 03-03, 05, 07, 09, 12, 16 (7
    attempts, then none: the rule has no more days). Steps at Berlin midnight from the due date: day 14,
    2026-03-16 00:00 CET = 03-15 23:00 UTC, past due (the subscription becomes past_due); day 30, 04-01
    00:00 CEST = 03-31 22:00 UTC, cancel; day 45, 04-16 00:00 CEST = 04-15 22:00 UTC, write-off: the
    invoice is uncollectible and 100.00 moves from 1100 to 6200 bad debt. The actions on the account run
    because the tenant saved the documented default policy as its own.
    """
    dunning.put_policy(ctx, actor, "default", policy_to_json(default_policy()))
    clock_id = new_clock(ctx, actor)
    cid, sub_id, inv = subscriber(ctx, actor, clock_id, token="tok_sandbox_decline")
    advance(ctx, actor, clock_id, at(3, 15, 22, 59))
    declined = [
        (n, "failed", "generic_decline", f"2026-03-{d:02d}T09:00:00+00:00")
        for n, d in ((1, 2), (2, 3), (3, 5), (4, 7), (5, 9), (6, 12))
    ]
    assert attempts(ctx, actor, cid) == declined
    assert subscriptions.get_subscription(ctx, actor, sub_id).status is Status.ACTIVE
    advance(ctx, actor, clock_id, at(3, 15, 23))
    assert subscriptions.get_subscription(ctx, actor, sub_id).status is Status.PAST_DUE
    advance(ctx, actor, clock_id, at(4, 15, 21, 59))
    assert attempts(ctx, actor, cid) == [
        *declined,
        (7, "failed", "generic_decline", "2026-03-16T09:00:00+00:00"),
    ]
    assert subscriptions.get_subscription(ctx, actor, sub_id).status is Status.CANCELED
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    assert balances(ctx, actor) == {"1100": "100.00", "4000": "-100.00"}
    advance(ctx, actor, clock_id, at(4, 15, 22))
    assert owed(invoice(ctx, actor, inv.id)) == ("uncollectible", "0.00", "100.00")
    assert balances(ctx, actor) == {"6200": "100.00", "4000": "-100.00"}


def test_without_a_saved_policy_nothing_is_written_off(ctx: ServiceContext, actor: Actor) -> None:
    """Until the tenant saves a policy only the default's retries and notices run: INV-2026-00001 (100.00,
    paid by hand, due 03-02) is still open on 2026-04-20, past day 45, and nothing is bad debt."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id)
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(4, 20, 0))
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    assert balances(ctx, actor) == {"1100": "100.00", "4000": "-100.00"}


# ---- money received by hand: cash application ----------------------------------------------------------


def test_partial_payment_then_overpayment_by_reference(ctx: ServiceContext, actor: Actor) -> None:
    """A customer paying by bank transfer; INV-2026-00001 100.00 and INV-2026-00002 60.00, both due 03-02.

    1. 40.00 with reference "Invoice INV-2026-00002, thanks": the named invoice first, though the other is
       older: INV-2026-00002 paid 40.00, 20.00 left; INV-2026-00001 untouched. Ledger: 1000 40.00,
       1100 120.00.
    2. 150.00 with reference "inv 2026 00002" (spaces and case do not matter): INV-2026-00002 takes its
       20.00, the rest goes oldest first, INV-2026-00001 takes 100.00, and the 30.00 left over is the
       customer's credit balance. Ledger: Dr 1000 150.00 / Cr 1100 120.00 / Cr 2200 30.00 -> 1000 190.00,
       2200 -30.00, 4000 -160.00.
    """
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id)
    first, second = new_invoice(ctx, actor, cid), new_invoice(ctx, actor, cid, "60.00")
    assert (first.number, second.number) == ("INV-2026-00001", "INV-2026-00002")
    partial = payments.record_payment(
        ctx, actor, {"customer_id": cid, "amount": "40.00", "reference": "Invoice INV-2026-00002, thanks"}
    )
    assert (partial.status, partial.method_type.value, str(partial.received_on)) == (
        PaymentStatus.SUCCEEDED,
        "bank_transfer",
        "2026-03-02",
    )
    assert owed(invoice(ctx, actor, first.id)) == ("open", "0.00", "100.00")
    assert owed(invoice(ctx, actor, second.id)) == ("open", "40.00", "20.00")
    assert balances(ctx, actor) == {"1000": "40.00", "1100": "120.00", "4000": "-160.00"}
    over = payments.record_payment(
        ctx, actor, {"customer_id": cid, "amount": "150.00", "reference": "inv 2026 00002"}
    )
    _, allocations, _ = payments.get_payment(ctx, actor, over.id)
    assert [(a.invoice_id, a.amount.amount_text()) for a in allocations] == [
        (second.id, "20.00"),
        (first.id, "100.00"),
    ]
    assert owed(invoice(ctx, actor, first.id)) == ("paid", "100.00", "0.00")
    assert owed(invoice(ctx, actor, second.id)) == ("paid", "60.00", "0.00")
    assert credit_balance(ctx, actor, cid) == "30.00"
    assert balances(ctx, actor) == {"1000": "190.00", "2200": "-30.00", "4000": "-160.00"}


def test_one_payment_pays_several_invoices_oldest_due_first(ctx: ServiceContext, actor: Actor) -> None:
    """INV-2026-00001 100.00 with 30 days' terms (due 04-01), then, after the terms change to 0,
    INV-2026-00002 50.00 and INV-2026-00003 40.00 (both due 03-02). 120.00 with no reference pays by due
    date, then number: INV-2026-00002 50.00, INV-2026-00003 40.00, INV-2026-00001 30.00 of its 100.00
    (70.00 left). Nothing to the credit balance. Ledger: 1000 120.00, 1100 70.00, 4000 -190.00."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, terms=30)
    late = new_invoice(ctx, actor, cid)
    customers.update_customer(ctx, actor, cid, {"payment_terms_days": 0})
    b, c = new_invoice(ctx, actor, cid, "50.00"), new_invoice(ctx, actor, cid, "40.00")
    assert [(i.number, str(i.due_date)) for i in (late, b, c)] == [
        ("INV-2026-00001", "2026-04-01"),
        ("INV-2026-00002", "2026-03-02"),
        ("INV-2026-00003", "2026-03-02"),
    ]
    pay = payments.record_payment(
        ctx, actor, {"customer_id": cid, "amount": "120.00", "method_type": "cheque"}
    )
    _, allocations, _ = payments.get_payment(ctx, actor, pay.id)
    assert [(a.invoice_id, a.amount.amount_text()) for a in allocations] == [
        (b.id, "50.00"),
        (c.id, "40.00"),
        (late.id, "30.00"),
    ]
    assert [owed(invoice(ctx, actor, i.id)) for i in (late, b, c)] == [
        ("open", "30.00", "70.00"),
        ("paid", "50.00", "0.00"),
        ("paid", "40.00", "0.00"),
    ]
    assert credit_balance(ctx, actor, cid) == "0.00"
    assert balances(ctx, actor) == {"1000": "120.00", "1100": "70.00", "4000": "-190.00"}


# ---- refunds -------------------------------------------------------------------------------------------


def test_an_overpayment_is_refunded(ctx: ServiceContext, actor: Actor) -> None:
    """INV-2026-00001 100.00 paid with a 130.00 transfer: 30.00 to the credit balance (Dr 1000 130.00 /
    Cr 1100 100.00 / Cr 2200 30.00). Refunding 30.01 is refused (the balance is 30.00) and changes
    nothing; refunding without an amount sends back the whole balance, 30.00, by hand (no gateway): the
    refund succeeded, the payment shows 30.00 refunded, the balance is 0.00. Ledger: Dr 2200 30.00 /
    Cr 1000 30.00 -> 1000 100.00, 4000 -100.00."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id)
    inv = new_invoice(ctx, actor, cid)
    pay = payments.record_payment(
        ctx, actor, {"customer_id": cid, "amount": "130.00", "reference": inv.number}
    )
    assert credit_balance(ctx, actor, cid) == "30.00"
    assert balances(ctx, actor) == {"1000": "130.00", "2200": "-30.00", "4000": "-100.00"}
    with pytest.raises(DomainError) as error:
        payments.refund_payment(ctx, actor, pay.id, {"amount": "30.01"})
    assert error.value.code == "refund_exceeds_credit_balance"
    assert credit_balance(ctx, actor, cid) == "30.00"
    refund = payments.refund_payment(ctx, actor, pay.id, {"reason": "Paid 30.00 too much"})
    assert (refund.amount.amount_text(), refund.status, refund.gateway_ref, refund.created_at) == (
        "30.00",
        PaymentStatus.SUCCEEDED,
        None,
        START,
    )
    after, _, refunds = payments.get_payment(ctx, actor, pay.id)
    assert (after.refunded.amount_text(), [r.id for r in refunds]) == ("30.00", [refund.id])
    assert credit_balance(ctx, actor, cid) == "0.00"
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "100.00", "0.00")
    assert balances(ctx, actor) == {"1000": "100.00", "4000": "-100.00"}


def test_a_credit_note_with_refund_goes_back_to_the_card(ctx: ServiceContext, actor: Actor) -> None:
    """INV-2026-00001 100.00 paid by card (tok_sandbox_success) at 08:00 UTC. A credit note of 40.00 on its
    line with refund: true: CN-2026-00001, net 40.00 (no tax), all of it to the credit balance, which the
    refund takes straight back through the card: refund 40.00, succeeded, gateway ref re_sbx_4000_EUR_...
    The invoice stays paid; the balance is 0.00. Ledger: note Dr 4000 40.00 / Cr 2200 40.00; refund
    Dr 2200 40.00 / Cr 1050 40.00 -> 1050 60.00, 4000 -60.00."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_success")
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(3, 2, 9))
    [pay] = payments_of(ctx, actor, cid)
    [line] = inv.lines
    note = invoicing.credit_invoice(
        ctx,
        actor,
        inv.id,
        {
            "refund": True,
            "reason": "product_unsatisfactory",
            "lines": [{"position": line.position, "net": "40.00"}],
        },
    )
    assert (
        note.number,
        note.reason,
        note.net.amount_text(),
        note.tax.amount_text(),
        note.to_invoice.amount_text(),
        note.to_credit_balance.amount_text(),
    ) == ("CN-2026-00001", CreditReason.PRODUCT_UNSATISFACTORY, "40.00", "0.00", "0.00", "40.00")
    after, _, [refund] = payments.get_payment(ctx, actor, pay.id)
    assert (refund.amount.amount_text(), refund.status, refund.credit_note_id) == (
        "40.00",
        PaymentStatus.SUCCEEDED,
        note.id,
    )
    assert refund.gateway_ref is not None and refund.gateway_ref.startswith("re_sbx_4000_EUR_")
    assert (after.refunded.amount_text(), after.refundable.amount_text()) == ("40.00", "60.00")
    assert credit_balance(ctx, actor, cid) == "0.00"
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "100.00", "0.00")
    assert balances(ctx, actor) == {"1050": "60.00", "4000": "-60.00"}


# ---- chargebacks (sandbox webhooks) --------------------------------------------------------------------


def _charged_back(
    ctx: ServiceContext, actor: Actor
) -> tuple[str, Invoice, Payment, tuple[bytes, dict[str, str]]]:
    """INV-2026-00001 100.00 paid by tok_sandbox_chargeback at 08:00 UTC; the clock at 09:00 UTC; then the
    network opens a chargeback of the whole charge."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_chargeback")
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(3, 2, 9))
    [pay] = payments_of(ctx, actor, cid)
    assert pay.status is PaymentStatus.SUCCEEDED and pay.gateway_ref is not None
    opened = webhook(ctx, actor, GatewayEventType.CHARGEBACK_OPENED, pay.gateway_ref, at(3, 2, 9))
    assert deliver(ctx, actor, opened) == "applied"
    return cid, inv, pay, opened


def test_a_chargeback_opened_then_won(ctx: ServiceContext, actor: Actor) -> None:
    """Opened (the sandbox's fee 15.00): the invoice is owed again (open, 0.00 paid, 100.00 left), the payment
    holds 100.00 disputed, and Dr 1100 100.00 / Dr 6300 15.00 / Cr 1050 115.00 -> 1050 -15.00, 1100 100.00,
    6300 15.00. Won: the money comes back and pays the invoice it paid before (paid again), Dr 1050 100.00 /
    Cr 1100 100.00; the fee stays an expense -> 1050 85.00, 6300 15.00, 4000 -100.00."""
    cid, inv, pay, opened = _charged_back(ctx, actor)
    cb = chargeback_of(ctx, actor, opened)
    assert (cb.status, cb.amount.amount_text(), cb.fee.amount_text(), cb.payment_id) == (
        ChargebackStatus.OPEN,
        "100.00",
        "15.00",
        pay.id,
    )
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    assert payments.get_payment(ctx, actor, pay.id)[0].disputed.amount_text() == "100.00"
    assert balances(ctx, actor) == {"1050": "-15.00", "1100": "100.00", "6300": "15.00", "4000": "-100.00"}
    assert pay.gateway_ref is not None
    assert deliver(
        ctx, actor, webhook(ctx, actor, GatewayEventType.CHARGEBACK_WON, pay.gateway_ref, at(3, 20, 9))
    ) == ("applied")
    assert chargeback_of(ctx, actor, opened).status is ChargebackStatus.WON
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "100.00", "0.00")
    assert payments.get_payment(ctx, actor, pay.id)[0].disputed.amount_text() == "0.00"
    assert credit_balance(ctx, actor, cid) == "0.00"
    assert balances(ctx, actor) == {"1050": "85.00", "6300": "15.00", "4000": "-100.00"}


def test_a_chargeback_opened_then_lost(ctx: ServiceContext, actor: Actor) -> None:
    """Opened as above (1050 -15.00, 1100 100.00, 6300 15.00); lost: the chargeback is closed lost and
    nothing else moves: the invoice stays open with 100.00 owed, the payment keeps 100.00 disputed (nothing
    left to refund)."""
    _, inv, pay, opened = _charged_back(ctx, actor)
    assert pay.gateway_ref is not None
    assert deliver(
        ctx, actor, webhook(ctx, actor, GatewayEventType.CHARGEBACK_LOST, pay.gateway_ref, at(3, 20, 9))
    ) == ("applied")
    assert chargeback_of(ctx, actor, opened).status is ChargebackStatus.LOST
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    after = payments.get_payment(ctx, actor, pay.id)[0]
    assert (after.disputed.amount_text(), after.refundable.amount_text()) == ("100.00", "0.00")
    assert balances(ctx, actor) == {"1050": "-15.00", "1100": "100.00", "6300": "15.00", "4000": "-100.00"}


# ---- payment terms: early-payment discount, late fee, interest -----------------------------------------

SELLER = {
    "legal_name": "Nordlicht GmbH",
    "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
}
BUYER = {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"}


def test_early_payment_discount_within_ten_days(ctx: ServiceContext, actor: Actor) -> None:
    """A German seller and buyer (19 % VAT per line, half-up), 2 % within 10 days, 30 days' terms.

    INV-2026-00001 and INV-2026-00002, each Consulting 123.45: tax 23.4555 -> 23.46, total 146.91, finalized
    2026-03-02. INV-2026-00001 paid by transfer on 03-12 (10 days): a credit note CN-2026-00001, reason
    early_payment_discount, automatic, net 2 % of 123.45 = 2.469 -> 2.47, tax 19 % of 2.47 = 0.4693 ->
    0.47, total 2.94, all to the credit balance. INV-2026-00002 paid on 03-13 (11 days): no discount.
    Ledger: invoices Dr 1100 293.82 / Cr 4000 246.90 / Cr 2100 46.92; payments Dr 1000 / Cr 1100 293.82;
    the note Dr 4000 2.47 / Dr 2100 0.47 / Cr 2200 2.94 -> 1000 293.82, 2100 -46.45, 2200 -2.94,
    4000 -244.43.
    """
    tenants.update_settings(
        ctx, actor, {**SELLER, "early_payment_discount": {"percent": "2", "within_days": 10}}
    )
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, terms=30, address=BUYER)
    first, second = new_invoice(ctx, actor, cid, "123.45"), new_invoice(ctx, actor, cid, "123.45")
    assert [
        (i.number, i.tax.amount_text(), i.total.amount_text(), str(i.due_date)) for i in (first, second)
    ] == [
        ("INV-2026-00001", "23.46", "146.91", "2026-04-01"),
        ("INV-2026-00002", "23.46", "146.91", "2026-04-01"),
    ]
    advance(ctx, actor, clock_id, at(3, 12, 9))
    payments.record_payment(ctx, actor, {"customer_id": cid, "amount": "146.91", "reference": first.number})
    [note] = invoicing.list_credit_notes(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (note.number, note.invoice_id, note.reason, note.automatic, note.memo) == (
        "CN-2026-00001",
        first.id,
        CreditReason.EARLY_PAYMENT_DISCOUNT,
        False,  # not a bill-run correction: the next recompute must not bill the discount back
        "2 % for paying within 10 days",
    )
    assert [(ln.position, ln.net.amount_text(), ln.tax.amount_text()) for ln in note.lines] == [
        (first.lines[0].position, "2.47", "0.47")
    ]
    assert (
        note.net.amount_text(),
        note.tax.amount_text(),
        note.total.amount_text(),
        note.to_invoice.amount_text(),
        note.to_credit_balance.amount_text(),
    ) == ("2.47", "0.47", "2.94", "0.00", "2.94")
    assert owed(invoice(ctx, actor, first.id)) == ("paid", "146.91", "0.00")
    advance(ctx, actor, clock_id, at(3, 13, 9))
    payments.record_payment(ctx, actor, {"customer_id": cid, "amount": "146.91", "reference": second.number})
    assert owed(invoice(ctx, actor, second.id)) == ("paid", "146.91", "0.00")
    assert [
        n.id for n in invoicing.list_credit_notes(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    ] == [note.id]
    assert credit_balance(ctx, actor, cid) == "2.94"
    assert balances(ctx, actor) == {"1000": "293.82", "2100": "-46.45", "2200": "-2.94", "4000": "-244.43"}


def test_late_fee_after_the_grace_days_goes_on_the_next_invoice(ctx: ServiceContext, actor: Actor) -> None:
    """Late fee 5.00 + 2 % of what is still owed, 3 grace days; a subscriber paying by hand (Basic monthly).

    INV-2026-00001 100.00, due 03-02; 40.00 paid at once, so 60.00 is owed when the grace ends. The fee is
    charged at Berlin midnight of due + 3 + 1 days, 2026-03-06 00:00 CET = 03-05 23:00 UTC: 5.00 + 1.20 =
    6.20, a one-off charge, untaxed. At 22:59 UTC the upcoming invoice has no fee yet. The next invoice is
    the bill run's for 04-02 (04-01 22:00 UTC, finalized 23:00 UTC): INV-2026-00002, Basic monthly 100.00
    plus "Late fee for invoice INV-2026-00001" 6.20 = 106.20. The first invoice still owes 60.00.
    Ledger: 1000 40.00, 1100 60.00 + 106.20 = 166.20, 4000 -206.20.
    """
    tenants.update_settings(ctx, actor, {"late_fee": {"fixed": "5.00", "percent": "2", "grace_days": 3}})
    clock_id = new_clock(ctx, actor)
    cid, _, first = subscriber(ctx, actor, clock_id)
    payments.record_payment(ctx, actor, {"customer_id": cid, "amount": "40.00", "reference": first.number})
    advance(ctx, actor, clock_id, at(3, 5, 22, 59))
    recurring = ("recurring", "Basic, monthly", "100.00")
    assert charged(invoicing.upcoming_invoice(ctx, actor, cid)) == [recurring]
    advance(ctx, actor, clock_id, at(3, 5, 23))
    fee = ("one_off", "Late fee for invoice INV-2026-00001", "6.20")
    assert charged(invoicing.upcoming_invoice(ctx, actor, cid)) == [fee, recurring]
    advance(ctx, actor, clock_id, at(4, 2, 0))
    found = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    [nxt] = [i for i in found if i.id != first.id]
    assert (nxt.number, nxt.finalized_at, nxt.tax.amount_text(), nxt.total.amount_text()) == (
        "INV-2026-00002",
        at(4, 1, 23),
        "0.00",
        "106.20",
    )
    assert charged(nxt) == [fee, recurring]
    assert [ln.item.product for ln in nxt.lines if ln.item.kind is LineKind.ONE_OFF] == ["late_fee"]
    assert owed(invoice(ctx, actor, first.id)) == ("open", "40.00", "60.00")
    # revenue recognition (issue 8): March in full, the fee, and April's first day of 30 (3.33) are earned
    assert balances(ctx, actor) == {"1000": "40.00", "1100": "166.20", "2300": "-96.67", "4000": "-109.53"}


def test_interest_for_paying_late_goes_on_the_next_invoice(ctx: ServiceContext, actor: Actor) -> None:
    """8 % a year, actual/365; a subscriber's INV-2026-00001 100.00 due 03-02, paid by hand on 2026-04-01
    at 08:00 UTC (10:00 CEST): 30 days late.

    Interest 100.00 x 8 % x 30 / 365 = 0.6575... -> 0.66, charged when the invoice is paid (and only then),
    billed on the next invoice, the bill run's for 04-02: INV-2026-00002, Basic monthly 100.00 plus
    "Interest on invoice INV-2026-00001: 30 days late at 8 % a year" 0.66 = 100.66.
    Ledger: 1000 100.00, 1100 100.66; revenue 4000 -103.99 (March's 100.00, the interest, and 3.33 for
    April's first day of 30), deferred revenue 2300 -96.67 (the rest of April).
    """
    tenants.update_settings(ctx, actor, {"late_fee": {"annual_interest_percent": "8"}})
    clock_id = new_clock(ctx, actor)
    cid, _, first = subscriber(ctx, actor, clock_id)
    advance(ctx, actor, clock_id, at(4, 1, 8))
    recurring = ("recurring", "Basic, monthly", "100.00")
    assert charged(invoicing.upcoming_invoice(ctx, actor, cid)) == [recurring]
    payments.record_payment(ctx, actor, {"customer_id": cid, "amount": "100.00", "reference": first.number})
    assert owed(invoice(ctx, actor, first.id)) == ("paid", "100.00", "0.00")
    interest = ("one_off", "Interest on invoice INV-2026-00001: 30 days late at 8 % a year", "0.66")
    advance(ctx, actor, clock_id, at(4, 2, 0))
    found = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    [nxt] = [i for i in found if i.id != first.id]
    assert (nxt.number, nxt.total.amount_text(), charged(nxt)) == (
        "INV-2026-00002",
        "100.66",
        [interest, recurring],
    )
    assert balances(ctx, actor) == {"1000": "100.00", "1100": "100.66", "2300": "-96.67", "4000": "-103.99"}


def test_a_late_fee_on_a_hand_made_invoice_billed_by_hand(ctx: ServiceContext, actor: Actor) -> None:
    """The late fee of the test above on a hand-made INV-2026-00001 (100.00, 40.00 paid): the fee 6.20 at
    03-05 23:00 UTC; before it, bill_now finds nothing to bill. The next invoice, billed by hand on 03-06
    (bill_now), is INV-2026-00002 with the one line "Late fee for invoice INV-2026-00001" 6.20. Billing it
    leaves INV-2026-00001 alone: no credit note, still 60.00 owed. Ledger: 1000 40.00, 1100 66.20,
    4000 -106.20."""
    tenants.update_settings(ctx, actor, {"late_fee": {"fixed": "5.00", "percent": "2", "grace_days": 3}})
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id)
    inv = new_invoice(ctx, actor, cid)
    payments.record_payment(ctx, actor, {"customer_id": cid, "amount": "40.00", "reference": inv.number})
    advance(ctx, actor, clock_id, at(3, 5, 22, 59))
    assert invoicing.bill_now(ctx, actor, cid) is None
    assert invoicing.list_credit_notes(ctx, actor, limit=10, cursor=None, customer_id=cid).items == []
    advance(ctx, actor, clock_id, at(3, 6, 9))
    draft = invoicing.bill_now(ctx, actor, cid)
    assert draft is not None
    nxt = invoicing.finalize_invoice(ctx, actor, draft.id)
    assert (nxt.number, nxt.total.amount_text(), charged(nxt)) == (
        "INV-2026-00002",
        "6.20",
        [("one_off", "Late fee for invoice INV-2026-00001", "6.20")],
    )
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "40.00", "60.00")
    assert invoicing.list_credit_notes(ctx, actor, limit=10, cursor=None, customer_id=cid).items == []
    assert balances(ctx, actor) == {"1000": "40.00", "1100": "66.20", "4000": "-106.20"}


# ---- exactly once --------------------------------------------------------------------------------------


def test_a_replayed_webhook_changes_nothing(ctx: ServiceContext, actor: Actor) -> None:
    """tok_sandbox_async: the charge at 08:00 UTC is pending; at 08:30 UTC the sandbox's payment.succeeded
    webhook settles it (applied: the invoice paid at 08:30, fee 1.65). The same body and headers again:
    "duplicate", and nothing changes: one payment, the same invoice, the same ledger (1050 100.00,
    4000 -100.00). The check the worker would make at 09:00 UTC finds the payment settled."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_async")
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(3, 2, 8, 30))
    [pending] = payments_of(ctx, actor, cid)
    assert pending.status is PaymentStatus.PENDING and pending.gateway_ref is not None
    assert balances(ctx, actor) == {"1100": "100.00", "4000": "-100.00"}
    message = webhook(ctx, actor, GatewayEventType.PAYMENT_SUCCEEDED, pending.gateway_ref, at(3, 2, 8, 30))
    assert deliver(ctx, actor, message) == "applied"
    settled = payments_of(ctx, actor, cid)
    paid = invoice(ctx, actor, inv.id)
    assert [(p.id, p.status, p.fee and p.fee.amount_text(), p.settled_at) for p in settled] == [
        (pending.id, PaymentStatus.SUCCEEDED, "1.65", at(3, 2, 8, 30))
    ]
    assert owed(paid) == ("paid", "100.00", "0.00") and paid.paid_at == at(3, 2, 8, 30)
    assert balances(ctx, actor) == {"1050": "100.00", "4000": "-100.00"}
    assert deliver(ctx, actor, message) == "duplicate"
    advance(ctx, actor, clock_id, at(3, 2, 10))
    assert payments_of(ctx, actor, cid) == settled
    assert invoice(ctx, actor, inv.id) == paid
    assert balances(ctx, actor) == {"1050": "100.00", "4000": "-100.00"}


def test_the_collect_job_run_twice_charges_once(ctx: ServiceContext, actor: Actor) -> None:
    """tok_sandbox_success; INV-2026-00001 100.00; collect attempt 1 at 08:00 UTC in one unit of work, then
    again in another with the invoice as the first read it (open: a job that crashed after the gateway
    answered). The second finds the attempt stored under <invoice>:1 and returns that payment; a third with
    the invoice read afresh (paid) returns None. One charge, one payment of 100.00; 1050 100.00."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_success")
    inv = new_invoice(ctx, actor, cid)
    with ctx.uow() as uow:
        stale = uow.invoices.get(actor.tenant_id, inv.id, for_update=True)
        first = payments.collect(ctx, uow, stale, 1, START)
        uow.commit()
    assert first is not None and first.status is PaymentStatus.SUCCEEDED
    with ctx.uow() as uow:
        again = payments.collect(ctx, uow, stale, 1, START)
        uow.commit()
    assert again is not None and (again.id, again.gateway_ref) == (first.id, first.gateway_ref)
    with ctx.uow() as uow:
        fresh = uow.invoices.get(actor.tenant_id, inv.id, for_update=True)
        assert payments.collect(ctx, uow, fresh, 1, START) is None
        uow.commit()
    advance(ctx, actor, clock_id, at(3, 2, 9))  # the scheduled job itself: attempt 1 is made already
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-02T08:00:00+00:00")]
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "100.00", "0.00")
    assert balances(ctx, actor) == {"1050": "100.00", "4000": "-100.00"}


# ---- the ledger always balances ------------------------------------------------------------------------


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prices=st.lists(st.integers(1, 50_000), min_size=1, max_size=3),
    paid=st.lists(st.integers(1, 60_000), min_size=1, max_size=3),
    refund=st.booleans(),
)
def test_cash_application_moves_money_and_ledger_together(
    ctx: ServiceContext, actor: Actor, prices: list[int], paid: list[int], refund: bool
) -> None:
    """Invoices of any amounts (in cents), transfers of any amounts without a reference, maybe a refund of
    the balance left: each transfer fills the invoices in number order (all due the same day), the rest is
    credit balance; and across everything the tenant ever did (examples share the database), the ledger nets
    to zero, 1100 is what the invoices still owe, 2200 is minus the credit balances, 1000 is what was
    received less what was refunded, 4000 is minus what was invoiced."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, external_id=ctx.new_id("ext"))
    invoices = [new_invoice(ctx, actor, cid, str(Money.from_minor_units(p, "EUR").amount)) for p in prices]
    made = [
        payments.record_payment(
            ctx, actor, {"customer_id": cid, "amount": str(Money.from_minor_units(p, "EUR").amount)}
        )
        for p in paid
    ]
    left = sum(paid)
    expected = []
    for price in prices:
        part = min(left, price)
        expected.append(price - part)
        left -= part
    if refund and left:
        back = payments.refund_payment(ctx, actor, made[-1].id, {})
        assert back.amount.to_minor_units() == min(left, paid[-1])
        left -= min(left, paid[-1])
    assert [invoice(ctx, actor, i.id).amount_remaining.to_minor_units() for i in invoices] == expected
    assert Money.parse(credit_balance(ctx, actor, cid), "EUR").to_minor_units() == left

    everything = invoicing.list_invoices(ctx, actor, limit=100, cursor=None).items
    received = payments.list_payments(ctx, actor, customer_id=None, status=None, limit=100, cursor=None).items
    people = {i.customer_id for i in everything}
    zero = Money.zero("EUR")
    owed_total = sum((i.amount_remaining for i in everything), zero)
    credit_total = sum((Money.parse(credit_balance(ctx, actor, c), "EUR") for c in people), zero)
    cash = sum((p.amount - p.refunded for p in received), zero)
    invoiced = sum((i.total for i in everything), zero)
    book = balances(ctx, actor)
    assert [book.get(code, "0.00") for code in ("1000", "1100", "2200", "4000")] == [
        cash.amount_text(),
        owed_total.amount_text(),
        (-credit_total).amount_text(),
        (-invoiced).amount_text(),
    ]


def test_a_pending_charge_without_a_webhook_is_confirmed_by_asking_the_gateway(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9 (found by the wallets work): tok_sandbox_async answers pending at 08:00 UTC and no webhook
    comes. The charge was stored pending before it was settled, so settling found no change and scheduled
    no check; the invoice stayed open forever. Now the check asks the sandbox (succeeded) and the invoice
    is paid, once."""
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_async")
    inv = new_invoice(ctx, actor, cid)
    advance(ctx, actor, clock_id, at(3, 2, 8, 30))
    assert [p.status for p in payments_of(ctx, actor, cid)] == [PaymentStatus.PENDING]
    advance(ctx, actor, clock_id, at(3, 3, 9))
    [settled] = payments_of(ctx, actor, cid)
    assert settled.status is PaymentStatus.SUCCEEDED
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "100.00", "0.00")
