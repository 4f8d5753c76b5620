"""Issue 10: the whole portal journey in a real browser — open the magic link, see usage, change plan (the
price difference before confirming), pay the open invoice, dispute a line, top up the wallet, open a support
ticket — in English, and once in German; and the pages on a phone.

The business, made through the services: a billable metric api_calls (the sum of `calls`); the family
"api" of Starter (29.00 EUR a month, 1,000 calls included, then 0.01 each) and Growth (99.00 EUR a month,
10,000 included, then 0.005); a seller with no tax whose dispute policy accepts at once a dispute below
10.00 EUR. Ada (EUR, UTC, a sandbox card that succeeds, 14 days' terms) is on Starter since 2026-01-01;
on 2–9 January she made 1,500 calls (300 a day on five days); an invoice INV-2026-00001 is open: Onboarding
120.00 and Extra seat 4.99, total 124.99. The clock is 2026-01-10 09:00 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from kassa.core.audit import Actor
from kassa.services import (
    billable_metrics,
    catalog,
    customers,
    disputes,
    invoicing,
    metering,
    payments,
    portal,
    subscriptions,
    support,
    tenants,
    wallets,
)
from kassa.services.context import ServiceContext
from tests.browser.conftest import Server, shot
from tests.conftest import SettableClock, TenantAccess

CATALOG: dict[str, Any] = {
    "products": [{"code": "api", "name": "API", "plans": [
        {"code": "starter", "name": "Starter", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "29.00"}}}],
         "charges": [{"metric": "api_calls", "model": "per_unit", "description": "API calls", "included": "1000",
                      "prices": {"EUR": {"unit": "0.01"}}}]},
        {"code": "growth", "name": "Growth", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "99.00"}}}],
         "charges": [{"metric": "api_calls", "model": "per_unit", "description": "API calls", "included": "10000",
                      "prices": {"EUR": {"unit": "0.005"}}}]},
    ]}],
    "families": [{"code": "api", "name": "API", "plans": ["starter", "growth"]}],
}  # fmt: skip
START = datetime(2026, 1, 1, 9, tzinfo=UTC)


@dataclass
class Journey:
    customer_id: str
    subscription_id: str
    invoice_id: str
    link: str


def seed(ctx: ServiceContext, actor: Actor, clock: SettableClock, *, locale: str) -> Journey:
    tenants.update_settings(ctx, actor, {"dispute_policy": {"auto_accept_below": {"EUR": "10.00"}}})
    billable_metrics.create_metric(ctx, actor, {"code": "api_calls", "name": "API calls", "aggregation": "sum",
                                                "field_name": "calls"})  # fmt: skip
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    cid = customers.create_customer(ctx, actor, {"external_id": "ada", "name": "Ada Lovelace", "currency": "EUR",
                                                 "locale": locale, "payment_terms_days": 14}).id  # fmt: skip
    payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": "tok_sandbox_success"})
    sub = subscriptions.create_subscription(ctx, actor, {"customer_id": cid, "plan": "starter",
                                                         "start_date": "2026-01-01"})  # fmt: skip
    clock.advance(timedelta(days=9))
    sent = metering.ingest_usage(ctx, actor, [
        {"id": f"calls-{day}", "metric": "api_calls", "subscription_id": sub.id,
         "timestamp": (START + timedelta(days=day)).isoformat(), "properties": {"calls": 300}}
        for day in (1, 3, 5, 7, 8)
    ])  # fmt: skip
    assert not sent.errors, sent.errors
    made = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
        {"description": "Onboarding", "quantity": "1", "unit_price": "120.00"},
        {"description": "Extra seat", "quantity": "1", "unit_price": "4.99"}]})  # fmt: skip
    invoice = invoicing.finalize_invoice(ctx, actor, made.id)
    assert (invoice.number, invoice.status.value) == ("INV-2026-00001", "open")
    link = portal.create_link(ctx, actor, cid)
    return Journey(customer_id=cid, subscription_id=sub.id, invoice_id=invoice.id, link=link.token)


def test_the_whole_portal_journey(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    ctx, actor = server.ctx, tenant.actor
    journey = seed(ctx, actor, clock, locale="en")
    page.emulate_media(reduced_motion="reduce")  # charts drawn at once, so the screenshots show final values

    # the magic link opens the overview, and leaves the address bar
    page.goto(f"{server.url}/portal/open/{journey.link}")
    expect(page).to_have_url(f"{server.url}/portal/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ada Lovelace")
    shot(page, "portal-overview")

    # usage against the allowance
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage")
    expect(page.get_by_role("cell", name="1,500", exact=True)).to_be_visible()
    expect(page.locator("canvas[data-usage-chart]")).to_be_visible()
    shot(page, "portal-usage")

    # change plan: the price difference first, then confirm
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your plan")
    expect(page.get_by_text("Next renewal")).to_be_visible()
    page.get_by_label("New plan").select_option(label="Growth — €99.00 per month")
    page.get_by_role("button", name="Show the price difference").click()
    preview = page.get_by_test_id("plan-preview")
    expect(preview).to_contain_text("From Starter to Growth")
    expect(preview).to_contain_text("The change takes effect on Jan 10, 2026.")
    # Growth for 22 of 31 days: 70.26; Starter's unused 22 days back: 20.58; February 99.00 for 29.00
    expect(page.get_by_test_id("price-difference")).to_have_text(
        "Price difference on your bills until Mar 1, 2026: you pay €119.68 more."
    )
    assert subscriptions.get_subscription(ctx, actor, journey.subscription_id).terms.plan == "starter"
    shot(page, "portal-plan-preview")
    page.get_by_role("button", name="Confirm the change to Growth").click()
    expect(page.get_by_text("Your plan was changed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Growth")).to_be_visible()
    assert subscriptions.get_subscription(ctx, actor, journey.subscription_id).terms.plan == "growth"
    shot(page, "portal-plan-changed")

    # the cancel step shows its end date before anything happens (not confirmed here)
    page.get_by_role("link", name="Cancel subscription…").click()
    expect(page.get_by_test_id("cancel-confirm")).to_contain_text("Growth ends on Feb 1, 2026")
    assert subscriptions.get_subscription(ctx, actor, journey.subscription_id).pending_cancellation is None

    # pay the open invoice
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Invoices").click()
    page.get_by_role("link", name="INV-2026-00001").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invoice INV-2026-00001")
    shot(page, "portal-invoice")
    page.get_by_role("button", name="Pay invoice INV-2026-00001").click()
    expect(page.get_by_text("Thank you: €124.99 was paid.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paid")
    shot(page, "portal-paid")

    # dispute a line: the 4.99 seat is below the policy's 10.00, so it is credited at once
    page.get_by_role("link", name="Dispute a charge on this invoice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dispute invoice INV-2026-00001")
    page.get_by_label("Line").select_option(label="2. Extra seat — €4.99")
    page.get_by_label("Reason").select_option(label="I was charged twice")
    page.get_by_label("What happened?").fill("The seat was billed on the last invoice already.")
    page.get_by_role("button", name="Send dispute").click()
    expect(page.get_by_test_id("dispute-outcome")).to_have_text(
        re.compile(r"Accepted\.\s+We credited €4\.99 with credit note CN-2026-00001\.")
    )
    [found] = disputes.invoice_disputes(ctx, actor, journey.invoice_id)
    assert (found.line_position, found.status.value, found.opened_by.value) == (2, "accepted", "customer")
    shot(page, "portal-dispute")

    # top up the wallet: a wrong amount is refused in place, then 50.00 is charged on the card
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Wallet").click()
    page.get_by_label("Amount (EUR)").fill("fifty")
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_role("alert")).to_have_text("Enter a positive amount, like 50.00.")
    page.get_by_label("Amount (EUR)").fill("50.00")
    page.get_by_role("button", name="Top up").click()
    expect(page.get_by_text("Your wallet was topped up.")).to_be_visible()
    expect(page.get_by_test_id("wallet-balance")).to_have_text("€50.00")
    assert (
        wallets.customer_wallets(ctx, actor, journey.customer_id)[0]["balance"]["total"]["amount"] == "50.00"
    )
    shot(page, "portal-wallet")

    # open a support ticket
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Support").click()
    page.get_by_label("Subject").fill("Invoice address")
    page.get_by_label("How can we help?").fill("Please send future invoices to accounts@example.com.")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_text("Your request was received; we will answer by email.")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("^Invoice address"))).to_be_visible()
    [ticket] = support.list_tickets(ctx, actor, limit=10, cursor=None, customer_id=journey.customer_id).items
    assert (ticket.subject, ticket.channel.value) == ("Invoice address", "web")
    shot(page, "portal-support")

    # the same portal on a phone: one column, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Plan").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "portal-phone")


def test_the_journey_in_german(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    """A customer with locale de_DE: texts in German, money and dates in German style."""
    ctx, actor = server.ctx, tenant.actor
    journey = seed(ctx, actor, clock, locale="de_DE")
    page.goto(f"{server.url}/portal/open/{journey.link}")
    expect(page.locator("html")).to_have_attribute("lang", "de-DE")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Tarif").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ihr Tarif")
    expect(page.get_by_text("29,00 € pro Monat")).to_be_visible()
    page.get_by_label("Neuer Tarif").select_option(label="Growth — 99,00 € pro Monat")
    page.get_by_role("button", name="Preisunterschied anzeigen").click()
    expect(page.get_by_test_id("price-difference")).to_have_text(
        "Preisunterschied auf Ihren Rechnungen bis 01.03.2026: Sie zahlen 119,68 € mehr."
    )
    shot(page, "portal-plan-preview-de")
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Guthaben").click()
    page.get_by_label("Betrag (EUR)").fill("25,50")
    page.get_by_role("button", name="Guthaben aufladen").click()
    expect(page.get_by_text("Ihr Guthaben wurde aufgeladen.")).to_be_visible()
    expect(page.get_by_test_id("wallet-balance")).to_have_text("25,50 €")
    page.goto(f"{server.url}/portal/invoices/{journey.invoice_id}/dispute")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rechnung INV-2026-00001 beanstanden")
    page.get_by_role("button", name="Beanstandung senden").click()  # line 1, 120.00: waits for an agent
    expect(page.get_by_test_id("dispute-outcome")).to_contain_text(
        "Unser Team prüft Ihre Beanstandung über 120,00 €"
    )
    shot(page, "portal-dispute-de")
