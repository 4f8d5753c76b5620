"""The portal's overview, invoices (with "Pay now"), payment methods, usage and notification pages, reached
through a real magic link made by the API: German for a German customer, 404 for another customer's
invoice, the 401 page for an expired link. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from kassa.core.audit import Actor
from kassa.server import create_app
from kassa.services.context import ServiceContext
from tests.browser.test_portal_journey import seed
from tests.conftest import SettableClock


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _customer(api: TestClient, name: str, **more: Any) -> str:
    body = {"external_id": name, "name": name.title(), "emails": [f"{name}@example.com"], **more}
    return str(ok(api.post("/v1/customers", json=body), 201)["id"])


def _invoice(api: TestClient, customer_id: str, amount: str) -> dict[str, Any]:
    draft = ok(api.post("/v1/invoices", json={"customer_id": customer_id, "lines": [
        {"description": "Consulting", "unit_price": amount}]}), 201)  # fmt: skip
    return dict(ok(api.post(f"/v1/invoices/{draft['id']}/finalize")))


def _card(api: TestClient, customer_id: str, token: str = "tok_sandbox_success") -> None:
    ok(api.post(f"/v1/customers/{customer_id}/payment_methods", json={"type": "card", "token": token}), 201)


def _visit(ctx: ServiceContext, api: TestClient, customer_id: str, **body: Any) -> TestClient:
    """A browser of its own that opened the customer's magic link (the session cookie it set)."""
    link = ok(api.post(f"/v1/customers/{customer_id}/portal_links", json=body), 201)
    path = re.sub(r"^https?://[^/]+", "", link["url"])
    browser = TestClient(create_app(ctx))
    opened = browser.get(path, follow_redirects=False)
    assert (opened.status_code, opened.headers["location"]) == (303, "/portal/"), opened.text
    return browser


def _csrf(html: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_overview_and_invoices_through_a_real_link(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client, "ada")
    invoice = _invoice(client, cid, "100.00")
    browser = _visit(ctx, client, cid)
    home = browser.get("/portal/")
    assert home.status_code == 200, home.text
    assert "<h1>" in home.text and invoice["number"] in home.text and "Pay" in home.text
    listed = browser.get("/portal/invoices")
    assert listed.status_code == 200 and invoice["number"] in listed.text
    view = browser.get(f"/portal/invoices/{invoice['id']}")
    assert view.status_code == 200 and "Consulting" in view.text
    pdf = browser.get(f"/portal/invoices/{invoice['id']}/pdf")
    assert (pdf.status_code, pdf.headers["content-type"], pdf.content[:4]) == (
        200,
        "application/pdf",
        b"%PDF",
    )


def test_pay_now_with_the_default_card(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client, "ada")
    invoice = _invoice(client, cid, "100.00")
    browser = _visit(ctx, client, cid)
    page = browser.get(f"/portal/invoices/{invoice['id']}")
    assert "add a card first" in page.text
    refused = browser.post(f"/portal/invoices/{invoice['id']}/pay", data={"csrf": _csrf(page.text)})
    assert refused.status_code == 422 and "no default card" in refused.text
    _card(client, cid)
    paid = browser.post(f"/portal/invoices/{invoice['id']}/pay", data={"csrf": _csrf(page.text)})
    assert paid.status_code == 200 and "was paid" in paid.text, paid.text
    assert ok(client.get(f"/v1/invoices/{invoice['id']}"))["status"] == "paid"
    again = browser.post(f"/portal/invoices/{invoice['id']}/pay", data={"csrf": _csrf(page.text)})
    assert again.status_code == 409


def test_a_declined_card_says_so(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client, "ada")
    invoice = _invoice(client, cid, "100.00")
    _card(client, cid, "tok_sandbox_decline")
    browser = _visit(ctx, client, cid)
    page = browser.get("/portal/")
    paid = browser.post(f"/portal/invoices/{invoice['id']}/pay", data={"csrf": _csrf(page.text)})
    assert paid.status_code == 200 and "did not go through" in paid.text
    assert ok(client.get(f"/v1/invoices/{invoice['id']}"))["status"] == "open"


def test_one_customer_cannot_see_or_pay_anothers_invoice(ctx: ServiceContext, client: TestClient) -> None:
    a, b = _customer(client, "ada"), _customer(client, "bob")
    theirs = _invoice(client, b, "50.00")
    _card(client, b)
    browser = _visit(ctx, client, a)
    csrf = _csrf(browser.get("/portal/payment_methods").text)
    for path in (f"/portal/invoices/{theirs['id']}", f"/portal/invoices/{theirs['number']}",
                 f"/portal/invoices/{theirs['id']}/pdf"):  # fmt: skip
        assert browser.get(path).status_code == 404, path
    assert theirs["number"] not in browser.get("/portal/invoices").text
    assert browser.post(f"/portal/invoices/{theirs['id']}/pay", data={"csrf": csrf}).status_code == 404
    assert ok(client.get(f"/v1/invoices/{theirs['id']}"))["status"] == "open"
    method = ok(client.get(f"/v1/customers/{b}/payment_methods"))["data"][0]["id"]
    assert browser.post(f"/portal/payment_methods/{method}/default", data={"csrf": csrf}).status_code == 404


def test_a_post_without_the_form_token_is_refused(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client, "ada")
    invoice = _invoice(client, cid, "10.00")
    _card(client, cid)
    browser = _visit(ctx, client, cid)
    assert browser.post(f"/portal/invoices/{invoice['id']}/pay", data={"csrf": "forged"}).status_code == 403
    assert ok(client.get(f"/v1/invoices/{invoice['id']}"))["status"] == "open"


def test_a_german_customer_reads_german(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client, "erika", locale="de_DE")
    _invoice(client, cid, "1234.50")
    browser = _visit(ctx, client, cid)
    home = browser.get("/portal/")
    assert 'lang="de-DE"' in home.text
    assert "Offene Rechnungen" in home.text and "1.234,50" in home.text
    for path, heading in (("/portal/invoices", "Rechnungen"), ("/portal/payment_methods", "Zahlungsmethoden"),
                          ("/portal/usage", "Verbrauch"), ("/portal/preferences", "Benachrichtigungen")):  # fmt: skip
        page = browser.get(path)
        assert page.status_code == 200 and f"<h1>{heading}</h1>" in page.text, (path, page.text[:2000])


def test_an_expired_link_shows_the_401_page(
    ctx: ServiceContext, client: TestClient, clock: SettableClock
) -> None:
    cid = _customer(client, "ada")
    link = ok(client.post(f"/v1/customers/{cid}/portal_links", json={"expires_in_hours": 1}), 201)
    clock.advance(timedelta(hours=2))
    browser = TestClient(create_app(ctx))
    opened = browser.get(re.sub(r"^https?://[^/]+", "", link["url"]))
    assert opened.status_code == 401
    assert "This portal link has expired: ask for a new one." in opened.text
    assert browser.get("/portal/").status_code == 401


def test_adding_a_card_and_choosing_the_default(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client, "ada")
    browser = _visit(ctx, client, cid)
    csrf = _csrf(browser.get("/portal/payment_methods").text)
    bad = browser.post("/portal/payment_methods", data={"csrf": csrf, "token": "4242 4242 4242 4242"})
    assert bad.status_code == 422 and "card number" in bad.text
    added = browser.post("/portal/payment_methods", data={"csrf": csrf, "token": "tok_sandbox_success"})
    assert added.status_code == 200 and "Card added." in added.text
    browser.post("/portal/payment_methods", data={"csrf": csrf, "token": "tok_sandbox_async"})
    methods = ok(client.get(f"/v1/customers/{cid}/payment_methods"))["data"]
    assert sorted(m["is_default"] for m in methods) == [False, True]
    second = next(m for m in methods if not m["is_default"])
    chose = browser.post(f"/portal/payment_methods/{second['id']}/default", data={"csrf": csrf})
    assert chose.status_code == 200 and "Default payment method changed." in chose.text
    assert [m["id"] for m in ok(client.get(f"/v1/customers/{cid}/payment_methods"))["data"] if m["is_default"]] == [
        second["id"]]  # fmt: skip


def test_usage_and_advice_of_charge_on_the_customers_own_subscription(
    ctx: ServiceContext, client: TestClient, actor: Actor, clock: SettableClock
) -> None:
    journey = seed(ctx, actor, clock, locale="de_DE")
    browser = TestClient(create_app(ctx))
    browser.get(f"/portal/open/{journey.link}")
    page = browser.get("/portal/usage")
    assert page.status_code == 200 and "1.500" in page.text and "39,60" in page.text
    asked = browser.get("/portal/usage", params={"subscription": journey.subscription_id, "metric": "api_calls",
                                                 "units": "1.000"})  # fmt: skip
    assert asked.status_code == 200 and "1.000 weitere würden jetzt 10,00\xa0€ kosten." in asked.text, (
        asked.text
    )
    wrong = browser.get("/portal/usage", params={"subscription": journey.subscription_id, "metric": "api_calls",
                                                 "units": "viele"})  # fmt: skip
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    other = _customer(client, "bob", currency="EUR")
    theirs = ok(client.post("/v1/subscriptions", json={"customer_id": other, "plan": "starter"}), 201)["id"]
    stolen = browser.get(
        "/portal/usage", params={"subscription": theirs, "metric": "api_calls", "units": "1"}
    )
    assert stolen.status_code == 404


def test_credit_notes_and_their_pdfs_are_the_customers_own(ctx: ServiceContext, client: TestClient) -> None:
    a, b = _customer(client, "ada"), _customer(client, "bob")
    mine, theirs = _invoice(client, a, "100.00"), _invoice(client, b, "50.00")
    note = ok(client.post(f"/v1/invoices/{mine['id']}/credit_notes", json={"reason": "goodwill"}), 201)
    other = ok(client.post(f"/v1/invoices/{theirs['id']}/credit_notes", json={"reason": "goodwill"}), 201)
    browser = _visit(ctx, client, a)
    listed = browser.get("/portal/invoices").text
    assert note["number"] in listed and other["number"] not in listed
    assert note["number"] in browser.get(f"/portal/invoices/{mine['id']}").text
    pdf = browser.get(f"/portal/credit_notes/{note['id']}/pdf")
    assert (pdf.status_code, pdf.content[:4]) == (200, b"%PDF")
    assert browser.get(f"/portal/credit_notes/{other['id']}/pdf").status_code == 404
    # a draft is the tenant's work in progress: not shown
    draft = ok(client.post("/v1/invoices", json={"customer_id": a, "lines": [
        {"description": "Draft", "unit_price": "1.00"}]}), 201)  # fmt: skip
    assert browser.get(f"/portal/invoices/{draft['id']}").status_code == 404
