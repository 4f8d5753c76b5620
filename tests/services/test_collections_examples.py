"""Issue 7: worked examples of collections, on SQLite and PostgreSQL, each driven by a test clock.

The tenant keeps kassa's defaults (no seller address, so no tax, unless a test sets one; amounts half-up).
Every customer is in Berlin, billed in EUR, on a test clock that starts at 2026-03-02 08:00 UTC (09:00 in
Berlin, CET = UTC+1; summer time, UTC+2, starts on 29 March). A one-off invoice "Consulting" made and
finalized at that instant is INV-2026-00001, due the same day (payment terms 0) unless a test says otherwise;
a card customer is charged at once on the due date. The dunning policy is the documented default
(docs/dunning.md): steps at local midnight of due date + 1, 7, 10, 14 (past due), 30 (cancel), 45 (write-off).

Ledger (default chart): 1000 cash, 1050 payments in transit, 1100 receivable, 2100 tax payable, 2200 customer
credit, 4000 revenue, 6200 bad debt, 6300 payment fees. Balances are debit-positive; an account a test does
not list is 0.00, and the balances always sum to zero (every entry balances).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from kassa.adapters.clock import SystemClock
from kassa.adapters.payments.base import GatewayEventType
from kassa.adapters.payments.sandbox import SandboxGateway
from kassa.core.audit import Actor
from kassa.core.credit_notes import CreditReason
from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, InvoiceStatus, LineKind
from kassa.core.money import Money
from kassa.core.payments import Chargeback, ChargebackStatus, DeclineCode, Payment, PaymentStatus
from kassa.core.subscriptions import Status
from kassa.services import (
    catalog,
    credits,
    customers,
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


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A UTC instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# ---- setup ---------------------------------------------------------------------------------------------


def new_clock(ctx: ServiceContext, actor: Actor) -> str:
    return test_clocks.create_test_clock(ctx, actor, name="collections", frozen_time=START).id


def new_customer(ctx: ServiceContext, actor: Actor, clock_id: str, *, token: str | None = None, terms: int = 0,
                 **fields: Any) -> str:  # fmt: skip
    """A customer on the clock; with a card `token` it pays automatically, else by hand."""
    body = {"external_id": "c1", "name": "Acme", "currency": "EUR", "time_zone": ZONE, "test_clock_id": clock_id,
            "payment_terms_days": terms, **fields}  # fmt: skip
    cid = customers.create_customer(ctx, actor, body).id
    if token is not None:
        payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": token})
    return cid


def new_invoice(ctx: ServiceContext, actor: Actor, cid: str, unit_price: str = "100.00") -> Invoice:
    """One line "Consulting", quantity 1, finalized now."""
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": unit_price}]})  # fmt: skip
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
    return [(p.attempt, p.status.value, p.decline_code.value if p.decline_code else None,
             p.created_at.astimezone(UTC).isoformat()) for p in payments_of(ctx, actor, cid)]  # fmt: skip


def credit_balance(ctx: ServiceContext, actor: Actor, cid: str) -> str:
    amount, _ = credits.credit_balance(ctx, actor, cid, limit=1, cursor=None)
    return amount.amount_text()


def balances(ctx: ServiceContext, actor: Actor) -> dict[str, str]:
    """The trial balance's nonzero accounts, after checking that it nets to zero (debits == credits)."""
    rows = ledger.trial_balance(ctx, actor)
    total = sum((Money.parse(r["balance"]["amount"], r["balance"]["currency"]) for r in rows), Money.zero("EUR"))
    assert total == Money.zero("EUR"), rows
    return {r["account"]: r["balance"]["amount"] for r in rows if Money.parse(r["balance"]["amount"], "EUR").amount}


def sandbox(ctx: ServiceContext) -> SandboxGateway:
    return cast(SandboxGateway, ctx.gateways["sandbox"])


def webhook(ctx: ServiceContext, actor: Actor, kind: GatewayEventType, charge_ref: str | None,
            created_at: datetime) -> tuple[bytes, dict[str, str]]:  # fmt: skip
    """What the sandbox would send; signed now on the wall clock, which the receiver checks."""
    return sandbox(ctx).event(kind, charge_ref=charge_ref, created_at=created_at, signed_at=SystemClock().now())


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
        "INV-2026-00001", "2026-03-02", ("open", "0.00", "100.00"))  # fmt: skip
    advance(ctx, actor, clock_id, at(3, 2, 9))
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-02T08:00:00+00:00")]
    [pay] = payments_of(ctx, actor, cid)
    assert (pay.amount.amount_text(), pay.fee and pay.fee.amount_text(), pay.gateway) == ("100.00", "1.65", "sandbox")
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
        1, PaymentStatus.REQUIRES_ACTION, f"https://sandbox.kassa.test/authenticate/{waiting.gateway_ref}")  # fmt: skip
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
    invoice is uncollectible and 100.00 moves from 1100 to 6200 bad debt.
    """
    clock_id = new_clock(ctx, actor)
    catalog.apply_catalog(ctx, actor, BASIC, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    cid = new_customer(ctx, actor, clock_id, token="tok_sandbox_decline")
    sub = subscriptions.create_subscription(ctx, actor, {"customer_id": cid, "plan": "basic-monthly",
                                                         "start_date": "2026-03-02"})  # fmt: skip
    advance(ctx, actor, clock_id, at(3, 15, 22, 59))
    [inv] = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (inv.number, inv.total.amount_text(), inv.due_date and inv.due_date.isoformat()) == (
        "INV-2026-00001", "100.00", "2026-03-02")  # fmt: skip
    declined = [(n, "failed", "generic_decline", f"2026-03-{d:02d}T09:00:00+00:00")
                for n, d in ((1, 2), (2, 3), (3, 5), (4, 7), (5, 9), (6, 12))]  # fmt: skip
    assert attempts(ctx, actor, cid) == declined
    assert subscriptions.get_subscription(ctx, actor, sub.id).status is Status.ACTIVE
    advance(ctx, actor, clock_id, at(3, 15, 23))
    with ctx.uow(read_only=True) as uow:
        for j in uow.jobs.list_for_clock(actor.tenant_id, clock_id):
            print("JOB", j.kind, j.due_at, j.status, j.payload, getattr(j, "error", None))
    print("SUB", subscriptions.get_subscription(ctx, actor, sub.id))
    assert subscriptions.get_subscription(ctx, actor, sub.id).status is Status.PAST_DUE
    advance(ctx, actor, clock_id, at(4, 15, 21, 59))
    assert attempts(ctx, actor, cid) == [*declined, (7, "failed", "generic_decline", "2026-03-16T09:00:00+00:00")]
    assert subscriptions.get_subscription(ctx, actor, sub.id).status is Status.CANCELED
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "100.00")
    assert balances(ctx, actor) == {"1100": "100.00", "4000": "-100.00"}
    advance(ctx, actor, clock_id, at(4, 15, 22))
    assert owed(invoice(ctx, actor, inv.id)) == ("uncollectible", "0.00", "100.00")
    assert balances(ctx, actor) == {"6200": "100.00", "4000": "-100.00"}


BASIC: dict[str, Any] = {
    "products": [{"code": "basic", "name": "Basic", "plans": [
        {"code": "basic-monthly", "name": "Basic, monthly", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "100.00"}}}]},
    ]}],
}  # fmt: skip
