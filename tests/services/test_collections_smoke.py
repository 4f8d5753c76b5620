"""Issue 7: the collection cycle on a test clock, smoke level (the worked examples are in test_collections_examples)."""

from __future__ import annotations

from datetime import UTC, datetime

from kassa.core.audit import Actor
from kassa.core.invoicing import InvoiceStatus
from kassa.services import customers, events, invoicing, ledger, payments, test_clocks
from kassa.services.context import ServiceContext


def _invoice(ctx: ServiceContext, actor: Actor, token: str, terms: int = 0) -> tuple[str, str, str]:
    clock = test_clocks.create_test_clock(
        ctx, actor, name="t", frozen_time=datetime(2026, 3, 2, 8, tzinfo=UTC)
    )
    cid = customers.create_customer(ctx, actor, {"external_id": "c1", "name": "Acme", "currency": "EUR",
                                                 "time_zone": "Europe/Amsterdam", "test_clock_id": clock.id,
                                                 "payment_terms_days": terms}).id  # fmt: skip
    payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": token, "last4": "4242"})
    inv = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": "100.00"}]})  # fmt: skip
    invoicing.finalize_invoice(ctx, actor, inv.id)
    return clock.id, cid, inv.id


def test_a_card_that_succeeds_pays_the_invoice_on_its_due_date(ctx: ServiceContext, actor: Actor) -> None:
    clock_id, cid, inv_id = _invoice(ctx, actor, "tok_sandbox_success")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 2, 9, tzinfo=UTC))
    inv = invoicing.get_invoice(ctx, actor, inv_id)
    assert inv.status is InvoiceStatus.PAID
    found = payments.list_payments(ctx, actor, customer_id=cid, status=None, limit=10, cursor=None).items
    assert [(p.status.value, p.amount.amount_text(), p.attempt) for p in found] == [
        ("succeeded", "100.00", 1)
    ]
    balances = {row["account"]: row["balance"]["amount"] for row in ledger.trial_balance(ctx, actor, None)}
    assert balances["1100"] == "0.00" and balances["1050"] == "100.00"


def test_insufficient_funds_then_success_on_the_third_retry(ctx: ServiceContext, actor: Actor) -> None:
    clock_id, cid, inv_id = _invoice(ctx, actor, "tok_sandbox_insufficient_then_success_4")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 5, 1, 9, tzinfo=UTC))
    found = payments.list_payments(ctx, actor, customer_id=cid, status=None, limit=10, cursor=None).items
    rows = sorted((p.attempt, p.status.value, p.decline_code.value if p.decline_code else None,
                   p.created_at.isoformat()) for p in found)  # fmt: skip
    assert rows[-1][:2] == (4, "succeeded"), rows
    assert invoicing.get_invoice(ctx, actor, inv_id).status is InvoiceStatus.PAID


def test_a_card_expiring_before_the_due_date_is_announced_once(ctx: ServiceContext, actor: Actor) -> None:
    """The card expires at the end of March 2026; an invoice due on 31 March (net 30) is finalized on 1 March:
    one payment_method.expiring event (a second invoice does not repeat it)."""
    clock = test_clocks.create_test_clock(
        ctx, actor, name="t", frozen_time=datetime(2026, 3, 1, 8, tzinfo=UTC)
    )
    cid = customers.create_customer(ctx, actor, {"external_id": "x", "name": "X", "currency": "EUR",
                                                 "test_clock_id": clock.id, "payment_terms_days": 30}).id  # fmt: skip
    method = payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": "tok_sandbox_success",
                                                           "exp_month": 3, "exp_year": 2026})  # fmt: skip
    for _ in range(2):
        inv = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
            {"description": "Consulting", "quantity": "1", "unit_price": "10.00"}]})  # fmt: skip
        invoicing.finalize_invoice(ctx, actor, inv.id)
    found = events.list_events(ctx, actor.tenant_id, limit=50, type="payment_method.expiring")
    assert [e.object_id for e in found.items] == [method.id]
