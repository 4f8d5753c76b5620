"""Issue 10, the portal's own pages in a real browser: on a phone in German, the overview, the usage chart,
the invoices and payment methods fit the screen; a card is added with its token and made the default; a
declined card's payment says why. The business is the portal journey's (tests/browser/test_portal_journey.py)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from kassa.services import invoicing, payments
from tests.browser.conftest import Server, shot
from tests.browser.test_portal_journey import seed
from tests.conftest import SettableClock, TenantAccess

PHONE = {"width": 390, "height": 844}


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_portal_pages_on_a_phone_in_german(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    journey = seed(server.ctx, tenant.actor, clock, locale="de_DE")
    page.emulate_media(reduced_motion="reduce")
    page.set_viewport_size(PHONE)
    page.goto(f"{server.url}/portal/open/{journey.link}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Guten Tag, Ada Lovelace")
    expect(page.get_by_role("button", name="Rechnung INV-2026-00001 bezahlen")).to_have_text(
        "124,99 € bezahlen"
    )
    expect(page.get_by_text("1.500 von 1.000 inklusive")).to_be_visible()
    _fits(page)
    shot(page, "portal-a-overview-de-phone")

    nav = page.get_by_role("navigation", name="Portal")
    nav.get_by_role("link", name="Verbrauch").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("01.01.2026 – 31.01.2026")
    expect(page.locator("canvas[data-usage-chart]")).to_be_visible()
    _fits(page)
    shot(page, "portal-a-usage-de-phone")

    nav.get_by_role("link", name="Rechnungen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rechnungen")
    expect(page.get_by_role("cell", name="Offen")).to_be_visible()
    _fits(page)
    shot(page, "portal-a-invoices-de-phone")

    nav.get_by_role("link", name="Zahlungsmethoden").click()
    page.get_by_label("Karten-Token des Zahlungsanbieters").fill("4242424242424242")
    page.get_by_role("button", name="Karte hinzufügen").click()
    expect(page.get_by_role("alert")).to_contain_text("card number")
    page.get_by_label("Karten-Token des Zahlungsanbieters").fill("tok_sandbox_decline")
    page.get_by_label("Als meine Standard-Zahlungsmethode verwenden").check()
    page.get_by_role("button", name="Karte hinzufügen").click()
    expect(page.get_by_text("Karte hinzugefügt.")).to_be_visible()
    _fits(page)
    shot(page, "portal-a-payment-methods-de-phone")

    # the declined card is now the default: paying says why, and nothing is paid
    nav.get_by_role("link", name="Übersicht").click()
    page.get_by_role("button", name="Rechnung INV-2026-00001 bezahlen").click()
    expect(page.get_by_role("alert")).to_contain_text("Die Zahlung ist nicht durchgegangen")
    assert invoicing.get_invoice(server.ctx, tenant.actor, journey.invoice_id).status.value == "open"
    shot(page, "portal-a-declined-de-phone")

    # back to the card that works, then pay
    nav.get_by_role("link", name="Zahlungsmethoden").click()
    page.get_by_role("button", name="Als Standard festlegen").click()
    expect(page.get_by_text("Standard-Zahlungsmethode geändert.")).to_be_visible()
    default = [
        m
        for m in payments.list_payment_methods(server.ctx, tenant.actor, journey.customer_id)
        if m.is_default
    ]
    assert [m.token for m in default] == ["tok_sandbox_success"]
    nav.get_by_role("link", name="Übersicht").click()
    page.get_by_role("button", name="Rechnung INV-2026-00001 bezahlen").click()
    expect(page.get_by_text("Vielen Dank: 124,99 € wurden bezahlt.")).to_be_visible()
    assert invoicing.get_invoice(server.ctx, tenant.actor, journey.invoice_id).status.value == "paid"

    nav.get_by_role("link", name="Benachrichtigungen").click()
    page.get_by_label("Verbrauchswarnungen").uncheck()
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_text("Ihre Auswahl ist gespeichert.")).to_be_visible()
    expect(page.get_by_label("Verbrauchswarnungen")).not_to_be_checked()
    _fits(page)
    shot(page, "portal-a-preferences-de-phone")
