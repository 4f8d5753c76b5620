"""Issue 6: bill runs end to end on SQLite and PostgreSQL, driven by a test clock: one invoice per customer
per bill date, finalized after the grace period with a gapless number, taxes from the seller's and the
buyer's addresses, the credit balance applied, and a ledger entry that balances."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kassa.core.audit import Actor
from kassa.core.invoicing import InvoiceStatus
from kassa.services import catalog, credits, customers, invoicing, ledger, subscriptions, tenants, test_clocks
from kassa.services.context import ServiceContext

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
CATALOG: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def seller(ctx: ServiceContext, actor: Actor) -> None:
    tenants.update_settings(ctx, actor, {
        "legal_name": "Nordlicht GmbH", "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115",
                                                    "country": "DE"},
        "time_zone": "Europe/Berlin", "draft_grace_period_hours": 1,
    })  # fmt: skip
    catalog.apply_catalog(ctx, actor, copy.deepcopy(CATALOG), effective_at=datetime(2025, 1, 1, tzinfo=UTC))


def _customer(ctx: ServiceContext, actor: Actor, clock_id: str, external_id: str, **fields: Any) -> str:
    body = {"external_id": external_id, "name": external_id, "currency": "EUR", "time_zone": "Europe/Berlin",
            "emails": [f"{external_id}@example.com"], "test_clock_id": clock_id,
            "address": {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"}, **fields}  # fmt: skip
    return customers.create_customer(ctx, actor, body).id


def test_a_month_of_business_monthly_is_one_invoice_with_vat_finalized_after_the_grace(
    ctx: ServiceContext, actor: Actor, seller: None
) -> None:
    """Business monthly, 2 seats from 1 Jan (Berlin): 1 Jan bills setup 250 + flat 50 + 2 × 22 = 344.00 net,
    19 % VAT 65.36, total 409.36; finalized at 01:00 as INV-2026-00001, due on 1 Jan (net 0), posted to the
    ledger with receivable 409.36. On 1 Feb: 94.00 + 17.86 = 111.86, INV-2026-00002."""
    clock = test_clocks.create_test_clock(
        ctx, actor, name="t", frozen_time=datetime(2025, 12, 31, 22, tzinfo=UTC)
    )
    cid = _customer(ctx, actor, clock.id, "acme")
    subscriptions.create_subscription(ctx, actor, {"customer_id": cid, "plan": "business-monthly", "quantity": 2,
                                                   "start_date": "2026-01-01"})  # fmt: skip
    test_clocks.advance_test_clock(ctx, actor, clock.id, datetime(2026, 1, 1, 2, tzinfo=UTC))
    page = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid)
    assert len(page.items) == 1
    inv = page.items[0]
    assert inv.status is InvoiceStatus.OPEN
    assert inv.number == "INV-2026-00001"
    assert [(line.item.description, line.item.amount.amount_text()) for line in inv.lines] == [
        ("Business, monthly", "50.00"),
        ("Business, monthly, per seat", "44.00"),
        ("Business, monthly setup", "250.00"),
    ] or sorted(line.item.amount.amount_text() for line in inv.lines) == ["250.00", "44.00", "50.00"]
    assert (inv.subtotal.amount_text(), inv.tax.amount_text(), inv.total.amount_text()) == (
        "344.00",
        "65.36",
        "409.36",
    )
    assert inv.amount_due.amount_text() == "409.36"
    balances = {row["account"]: row["balance"]["amount"] for row in ledger.trial_balance(ctx, actor, None)}
    assert balances["1100"] == "409.36"
    test_clocks.advance_test_clock(ctx, actor, clock.id, datetime(2026, 2, 1, 2, tzinfo=UTC))
    page = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid)
    numbers = sorted((i.number, i.total.amount_text()) for i in page.items)
    assert numbers == [("INV-2026-00001", "409.36"), ("INV-2026-00002", "111.86")]


def test_credit_balance_pays_part_of_the_next_invoice(
    ctx: ServiceContext, actor: Actor, seller: None
) -> None:
    """A 100.00 goodwill credit on a 409.36 invoice: credit applied 100.00, amount due 309.36, balance 0."""
    clock = test_clocks.create_test_clock(
        ctx, actor, name="t", frozen_time=datetime(2025, 12, 31, 22, tzinfo=UTC)
    )
    cid = _customer(ctx, actor, clock.id, "acme")
    credits.grant_credit(ctx, actor, cid, {"amount": "100.00", "description": "Outage in December"})
    subscriptions.create_subscription(ctx, actor, {"customer_id": cid, "plan": "business-monthly", "quantity": 2,
                                                   "start_date": "2026-01-01"})  # fmt: skip
    test_clocks.advance_test_clock(ctx, actor, clock.id, datetime(2026, 1, 1, 2, tzinfo=UTC))
    (inv,) = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (inv.credit_applied.amount_text(), inv.amount_due.amount_text()) == ("100.00", "309.36")
    balance, _ = credits.credit_balance(ctx, actor, cid, limit=10, cursor=None)
    assert balance.amount_text() == "0.00"


def test_receivable_in_the_ledger_equals_what_open_invoices_still_ask(
    ctx: ServiceContext, actor: Actor, seller: None
) -> None:
    """After finalizing three invoices, crediting part of one, voiding one and writing one off, the accounts
    receivable balance equals the sum of what open invoices still ask, and every entry balanced (the store
    refuses one that does not)."""
    clock = test_clocks.create_test_clock(
        ctx, actor, name="t", frozen_time=datetime(2026, 1, 1, 9, tzinfo=UTC)
    )
    cid = _customer(ctx, actor, clock.id, "acme")
    made = []
    for price in ("100.00", "250.00", "40.00"):
        draft = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
            {"description": "Consulting", "unit_price": price}]})  # fmt: skip
        made.append(invoicing.finalize_invoice(ctx, actor, draft.id))
    invoicing.credit_invoice(
        ctx, actor, made[1].id, {"lines": [{"position": 1, "net": "50.00"}], "target": "invoice"}
    )
    invoicing.void_invoice(ctx, actor, made[0].id)
    invoicing.mark_invoice_uncollectible(ctx, actor, made[2].id)
    open_invoices = invoicing.list_invoices(ctx, actor, limit=100, cursor=None, status="open").items
    assert [i.amount_remaining.amount_text() for i in open_invoices] == ["238.00"]  # 297.50 - 59.50
    balances = {row["account"]: row["balance"]["amount"] for row in ledger.trial_balance(ctx, actor, None)}
    assert balances["1100"] == "238.00"
