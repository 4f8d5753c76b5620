"""Issue 10, the portal's self-service (part B) through HTTP without a browser, on SQLite and PostgreSQL:
plan change with the price difference before confirming, cancel at the end of the period with the end date
shown first, wallet top-up with the amount checked in place, disputing an invoice line, support tickets —
and that nothing of another customer can be reached by putting its id in the URL.

The business: a catalog (effective 2025) with the family "app" of Basic (10.00 EUR a month) and Pro (30.00
EUR a month), upgrades at once and prorated, downgrades at the end of the period (the defaults); a seller
with no tax; Ada (locale en, EUR, UTC, a sandbox card that succeeds) on Basic since 2026-01-01, billed on
the 1st. The clock is 2026-01-10 09:00 UTC, so the period is 1-31 January (31 days), 22 days of it left.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.core.audit import Actor
from kassa.server import create_app
from kassa.services import (
    catalog,
    customers,
    disputes,
    invoicing,
    payments,
    portal,
    subscriptions,
    support,
    tenants,
    wallets,
)
from kassa.services.context import ServiceContext
from kassa.web.portal.auth import SESSION_COOKIE, csrf_for
from tests.conftest import SettableClock, TenantAccess

CATALOG: dict[str, Any] = {
    "products": [{"code": "app", "name": "App", "plans": [
        {"code": "basic", "name": "Basic", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}]},
        {"code": "pro", "name": "Pro", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "30.00"}}}]},
    ]}],
    "families": [{"code": "app", "name": "App", "plans": ["basic", "pro"]}],
}  # fmt: skip


class Portal:
    """A TestClient holding a customer's portal session; `post` sends the form's CSRF token."""

    def __init__(self, ctx: ServiceContext, actor: Actor, customer_id: str) -> None:
        link = portal.create_link(ctx, actor, customer_id)
        self.client = TestClient(create_app(ctx), follow_redirects=False)
        opened = self.client.get(f"/portal/open/{link.token}")
        assert opened.status_code == 303, opened.text
        self.csrf = csrf_for(self.client.cookies.get(SESSION_COOKIE) or "")

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.post(path, data={"csrf": self.csrf, **(data or {})}, **kw)


def customer(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    *,
    locale: str = "en",
    card: str | None = "tok_sandbox_success",
) -> str:
    cid = customers.create_customer(ctx, actor, {"external_id": name.lower(), "name": name, "currency": "EUR",
                                                 "locale": locale, "payment_terms_days": 14}).id  # fmt: skip
    if card is not None:
        payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": card})
    return cid


def business(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, *, locale: str = "en"
) -> tuple[str, str]:
    """(Ada's id, her subscription's id), the clock at 2026-01-10 09:00 UTC."""
    tenants.update_settings(ctx, actor, {"dispute_policy": {"auto_accept_below": {"EUR": "10.00"}}})
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    cid = customer(ctx, actor, "Ada", locale=locale)
    sub = subscriptions.create_subscription(ctx, actor, {"customer_id": cid, "plan": "basic",
                                                         "start_date": "2026-01-01"})  # fmt: skip
    clock.advance(timedelta(days=9))
    return cid, sub.id


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces squeezed (what a reader sees, near enough)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_plan_change_shows_the_price_difference_before_it_is_made(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    """Basic -> Pro on 10 January: Pro for 10-31 January, 22 of 31 days of 30.00 = 21.29, less the unused
    22 days of Basic, 10.00 × 22/31 = 7.10 back; from February Pro's 30.00 instead of Basic's 10.00. The
    difference to 1 March: 21.29 - 7.10 + 30.00 - 10.00 = 34.19. Confirmed, the plan is Pro at once."""
    cid, sub_id = business(ctx, tenant.actor, clock)
    visit = Portal(ctx, tenant.actor, cid)
    page = text_of(visit.get("/portal/plan").text)
    assert "Basic" in page and "€10.00 per month" in page and "Next renewal Feb 1, 2026" in page
    assert re.search(r"<option value=\"pro\">Pro — €30.00 per month</option>", visit.get("/portal/plan").text)
    shown = visit.get(
        f"/portal/plan/{sub_id}/preview", params={"plan": "pro"}, headers={"HX-Request": "true"}
    )
    assert shown.status_code == 200
    assert "<html" not in shown.text  # a fragment for htmx
    preview = text_of(shown.text)
    assert "From Basic to Pro" in preview and "The change takes effect on Jan 10, 2026." in preview
    assert "€21.29" in preview and "-€7.10" in preview
    assert "New price: €30.00 per month instead of €10.00 per month." in preview
    assert "Price difference on your bills until Mar 1, 2026: you pay €34.19 more." in preview
    assert subscriptions.get_subscription(ctx, tenant.actor, sub_id).terms.plan == "basic"  # nothing made yet
    done = visit.post(f"/portal/plan/{sub_id}/change", {"plan": "pro"})
    assert (done.status_code, done.headers["location"]) == (303, "/portal/plan?done=changed")
    assert subscriptions.get_subscription(ctx, tenant.actor, sub_id).terms.plan == "pro"
    page = text_of(visit.get("/portal/plan?done=changed").text)
    assert "Your plan was changed." in page and "€30.00 per month" in page


def test_a_downgrade_is_scheduled_for_the_end_of_the_period(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, sub_id = business(ctx, tenant.actor, clock)
    subscriptions.change_subscription(ctx, tenant.actor, sub_id, {"plan": "pro"})
    visit = Portal(ctx, tenant.actor, cid)
    preview = text_of(visit.get(f"/portal/plan/{sub_id}/preview", params={"plan": "basic"}).text)
    assert "The change takes effect on Feb 1, 2026." in preview
    # two bills compared: February's and March's, 20.00 less each
    assert "Price difference on your bills until Apr 1, 2026: you pay €40.00 less." in preview
    done = visit.post(f"/portal/plan/{sub_id}/change", {"plan": "basic"})
    assert done.headers["location"] == "/portal/plan?done=scheduled"
    page = text_of(visit.get("/portal/plan").text)
    assert "Scheduled change To Basic on Feb 1, 2026" in page


def test_cancel_shows_the_end_date_first_then_cancels_at_the_end_of_the_period(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, sub_id = business(ctx, tenant.actor, clock)
    visit = Portal(ctx, tenant.actor, cid)
    confirm = text_of(visit.get(f"/portal/plan/{sub_id}/cancel").text)
    assert (
        "If you cancel now, Basic ends on Feb 1, 2026, at the end of the current billing period." in confirm
    )
    assert subscriptions.get_subscription(ctx, tenant.actor, sub_id).pending_cancellation is None
    done = visit.post(f"/portal/plan/{sub_id}/cancel")
    assert done.headers["location"] == "/portal/plan?done=canceled"
    pending = subscriptions.get_subscription(ctx, tenant.actor, sub_id).pending_cancellation
    assert pending is not None and pending.effective == date(2026, 2, 1)
    page = text_of(visit.get("/portal/plan").text)
    assert "Ends on Feb 1, 2026" in page and "Keep my subscription" in page
    visit.post(f"/portal/plan/{sub_id}/keep")
    assert subscriptions.get_subscription(ctx, tenant.actor, sub_id).pending_cancellation is None


def test_another_customers_subscription_and_invoice_answer_404(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, _ = business(ctx, tenant.actor, clock)
    other = customer(ctx, tenant.actor, "Bob")
    theirs = subscriptions.create_subscription(ctx, tenant.actor, {"customer_id": other, "plan": "basic"})
    made = invoicing.create_invoice(ctx, tenant.actor, {"customer_id": other, "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "50.00"}]})  # fmt: skip
    invoice = invoicing.finalize_invoice(ctx, tenant.actor, made.id)
    visit = Portal(ctx, tenant.actor, cid)
    assert visit.get(f"/portal/plan/{theirs.id}/preview", params={"plan": "pro"}).status_code == 404
    assert visit.get(f"/portal/plan/{theirs.id}/cancel").status_code == 404
    assert visit.post(f"/portal/plan/{theirs.id}/cancel").status_code == 404
    assert visit.post(f"/portal/plan/{theirs.id}/change", {"plan": "pro"}).status_code == 404
    assert visit.get(f"/portal/invoices/{invoice.id}/dispute").status_code == 404
    answer = visit.post(f"/portal/invoices/{invoice.id}/dispute", {"line": "1", "reason": "duplicate"})
    assert answer.status_code == 404
    assert subscriptions.get_subscription(ctx, tenant.actor, theirs.id).pending_cancellation is None
    assert disputes.invoice_disputes(ctx, tenant.actor, invoice.id) == []


def test_a_write_without_the_form_token_is_refused(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, sub_id = business(ctx, tenant.actor, clock)
    visit = Portal(ctx, tenant.actor, cid)
    answer = visit.client.post(f"/portal/plan/{sub_id}/cancel", data={"csrf": "forged"})
    assert answer.status_code == 403
    assert subscriptions.get_subscription(ctx, tenant.actor, sub_id).pending_cancellation is None


def test_wallet_top_up_checks_the_amount_in_place_then_charges_the_card(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, _ = business(ctx, tenant.actor, clock)
    visit = Portal(ctx, tenant.actor, cid)
    assert "Your wallet is empty." in text_of(visit.get("/portal/wallet").text)
    wrong = visit.post("/portal/wallet/top_up", {"amount": "ten"}, headers={"HX-Request": "true"})
    assert wrong.status_code == 422
    assert 'id="top-up-error" role="alert">Enter a positive amount, like 50.00.' in wrong.text
    assert 'aria-invalid="true"' in wrong.text and "<html" not in wrong.text
    assert wallets.customer_wallets(ctx, tenant.actor, cid) == []  # no empty wallet left behind
    for amount in ("-5", "0.001"):
        assert visit.post("/portal/wallet/top_up", {"amount": amount}).status_code == 422
    done = visit.post("/portal/wallet/top_up", {"amount": "25,50"}, headers={"HX-Request": "true"})
    assert (done.status_code, done.headers["hx-redirect"]) == (200, "/portal/wallet?done=topped_up")
    [found] = wallets.customer_wallets(ctx, tenant.actor, cid)
    assert found["balance"]["total"] == {"amount": "25.50", "currency": "EUR"}
    page = text_of(visit.get("/portal/wallet?done=topped_up").text)
    assert "Your wallet was topped up." in page and "Balance €25.50" in page
    assert "Top-up €25.50 €25.50" in page  # the movement: amount and balance after


def test_a_top_up_without_a_payment_method_says_so(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    business(ctx, tenant.actor, clock)
    cid = customer(ctx, tenant.actor, "Cleo", card=None)
    answer = Portal(ctx, tenant.actor, cid).post("/portal/wallet/top_up", {"amount": "20.00"})
    assert answer.status_code == 422
    assert "Add a payment method first" in text_of(answer.text)


def test_a_declined_card_buys_nothing_and_an_authentication_gives_the_banks_link(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    business(ctx, tenant.actor, clock)
    declined = customer(ctx, tenant.actor, "Dora", card="tok_sandbox_decline")
    answer = Portal(ctx, tenant.actor, declined).post("/portal/wallet/top_up", {"amount": "20.00"},
                                                      headers={"HX-Request": "true"})  # fmt: skip
    assert answer.status_code == 422
    assert re.search(r'id="top-up-error" role="alert">The payment was declined: \S', answer.text)
    [found] = wallets.customer_wallets(ctx, tenant.actor, declined)
    assert found["balance"]["total"]["amount"] == "0.00"
    strong = customer(ctx, tenant.actor, "Emil", card="tok_sandbox_authentication_required")
    answer = Portal(ctx, tenant.actor, strong).post("/portal/wallet/top_up", {"amount": "20.00"},
                                                    headers={"HX-Request": "true"})  # fmt: skip
    assert answer.status_code == 200
    assert "Your bank asks you to confirm this payment" in answer.text
    assert re.search(r'<a href="[^"]+">Confirm the payment</a>', answer.text)


def test_dispute_a_line_small_is_credited_at_once_large_waits(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    """Lines 120.00 and 4.99 (no tax): the 4.99 is below the policy's 10.00, accepted with CN-2026-00001;
    30.00 of the 120.00 waits in the queue."""
    cid, _ = business(ctx, tenant.actor, clock)
    made = invoicing.create_invoice(ctx, tenant.actor, {"customer_id": cid, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": "120.00"},
        {"description": "Add-on", "quantity": "1", "unit_price": "4.99"}]})  # fmt: skip
    invoice = invoicing.finalize_invoice(ctx, tenant.actor, made.id)
    visit = Portal(ctx, tenant.actor, cid)
    form = visit.get(f"/portal/invoices/{invoice.id}/dispute").text
    assert '<option value="2">2. Add-on — €4.99</option>' in form
    wrong = visit.post(f"/portal/invoices/{invoice.id}/dispute", {"line": "1", "amount": "500", "reason": "duplicate"},
                       headers={"HX-Request": "true"})  # fmt: skip
    assert wrong.status_code == 422
    assert (
        'id="dispute-amount-error" role="alert">That is more than is left to dispute on this line.'
        in wrong.text
    )
    small = visit.post(f"/portal/invoices/{invoice.id}/dispute", {"line": "2", "reason": "duplicate"})
    assert small.status_code == 303
    page = text_of(visit.get(small.headers["location"]).text)
    assert "Accepted. We credited €4.99 with credit note CN-2026-00001." in page
    large = visit.post(f"/portal/invoices/{invoice.id}/dispute",
                       {"line": "1", "amount": "30.00", "reason": "incorrect_amount", "description": "Too many hours"})  # fmt: skip
    page = text_of(visit.get(large.headers["location"]).text)
    assert "Received. Our team reviews your dispute of €30.00" in page
    found = sorted(disputes.invoice_disputes(ctx, tenant.actor, invoice.id), key=lambda d: d.line_position)
    assert [(d.line_position, d.amount.amount_text(), d.status.value, d.opened_by.value) for d in found] == [
        (1, "30.00", "open", "customer"), (2, "4.99", "accepted", "customer")]  # fmt: skip
    assert "Every line" not in page and '<option value="2">' not in page  # line 2 is credited in full


def test_support_ticket_needs_a_subject_then_is_listed(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, _ = business(ctx, tenant.actor, clock)
    visit = Portal(ctx, tenant.actor, cid)
    assert "You have not asked us anything yet." in text_of(visit.get("/portal/support").text)
    blank = visit.post(
        "/portal/support", {"subject": "  ", "description": "Hello"}, headers={"HX-Request": "true"}
    )
    assert (
        blank.status_code == 422
        and "Please fill this in." in blank.text
        and ">Hello</textarea>" in blank.text
    )
    done = visit.post("/portal/support", {"subject": "Invoice address", "description": "Please change it."})
    assert (done.status_code, done.headers["location"]) == (303, "/portal/support?done=opened")
    [ticket] = support.list_tickets(ctx, tenant.actor, limit=10, cursor=None, customer_id=cid).items
    assert (ticket.subject, ticket.description, ticket.channel.value, ticket.status.value) == (
        "Invoice address", "Please change it.", "web", "new")  # fmt: skip
    page = text_of(visit.get("/portal/support?done=opened").text)
    assert "Invoice address" in page and "Received" in page


@pytest.mark.parametrize("path", ["/portal/plan", "/portal/wallet", "/portal/support"])
def test_pages_speak_the_customers_language(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock, path: str
) -> None:
    cid, _ = business(ctx, tenant.actor, clock, locale="de_DE")
    page = text_of(Portal(ctx, tenant.actor, cid).get(path).text)
    expected = {"/portal/plan": "Nächste Verlängerung 01.02.2026", "/portal/wallet": "Guthaben aufladen",
                "/portal/support": "Anfrage senden"}[path]  # fmt: skip
    assert expected in page
    if path == "/portal/plan":
        assert "10,00 € pro Monat" in page
