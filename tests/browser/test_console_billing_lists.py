"""Issue 10: the console's billing lists in a browser — subscriptions, invoices (searched, filtered, with a
PDF to download) and payments."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from kassa.core.access import Role
from kassa.services import payments
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import TenantAccess
from tests.web.billing_seed import business, invoice


def test_subscriptions_invoices_with_pdf_and_payments(
    page: Page, server: Server, tenant: TenantAccess
) -> None:
    ctx = server.ctx
    shop = business(ctx, tenant.actor)
    first = invoice(ctx, tenant.actor, shop.acme, "100.00", "Onboarding workshop")
    second = invoice(ctx, tenant.actor, shop.globex, "250.00", "Data migration")
    payments.record_payment(ctx, tenant.actor, {"customer_id": shop.acme, "amount": "100.00",
                                                "reference": f"Invoice {first.number}"})  # fmt: skip
    log_in(page, server, tenant, staff_user(ctx, tenant, Role.READ_ONLY))
    nav = page.get_by_role("navigation", name="Console")

    nav.get_by_role("link", name="Subscriptions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Subscriptions")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Customer id").fill(shop.globex)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Globex Corporation")
    page.get_by_role("link", name="Clear").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    shot(page, "console-subscriptions")

    nav.get_by_role("link", name="Invoices").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invoices")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=str(first.number))).to_contain_text("paid")
    expect(rows.filter(has_text=str(second.number))).to_contain_text("€250.00")
    shot(page, "console-invoices")
    page.get_by_label("Invoice number or id").fill(str(second.number))
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"PDF of invoice {second.number}").click()
    download = download_info.value
    assert download.suggested_filename == f"{second.number}.pdf"
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    answer = page.request.get(f"{server.url}/console/invoices/{second.id}/pdf")
    assert (answer.status, answer.headers["content-type"]) == (200, "application/pdf")

    nav.get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("bank transfer")
    expect(page.locator("tbody tr")).to_contain_text(f"Invoice {first.number}")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No payments match.")).to_be_visible()
    page.get_by_label("Status").select_option("")
    page.get_by_role("button", name="Filter").click()
    shot(page, "console-payments")
