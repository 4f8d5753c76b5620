"""Issue 10: a reconciliation exception resolved in the console — a statement uploaded in the browser,
its doubtful lines confirmed or assigned to the right invoice, and the invoices shown paid."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import FilePayload, Page, expect

from kassa.core.access import Role
from kassa.core.invoicing import InvoiceStatus
from kassa.services import invoicing
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import TenantAccess
from tests.web.billing_seed import IBAN_GLOBEX, IBAN_STRANGER, business, camt053, invoice

DAY = date(2026, 1, 1)


def test_a_reconciliation_exception_is_resolved_and_the_invoices_are_paid(
    page: Page, server: Server, tenant: TenantAccess
) -> None:
    """Acme owes 100.00, Globex 250.00. The bank statement: 250.00 from "GLOBEX CORP." with no reference (a
    suggestion: confirmed), 100.00 from a stranger (matched by amount alone, so only suggested: assigned to
    Acme's invoice by hand), 5.00 of interest (unmatched: ignored)."""
    ctx = server.ctx
    shop = business(ctx, tenant.actor)
    acme_invoice = invoice(ctx, tenant.actor, shop.acme, "100.00")
    globex_invoice = invoice(ctx, tenant.actor, shop.globex, "250.00")
    log_in(page, server, tenant, staff_user(ctx, tenant, Role.FINANCE))

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Reconciliation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reconciliation")
    expect(page.get_by_text("No suggestions waiting.")).to_be_visible()
    content = camt053([(DAY, "250.00", "January services", "GLOBEX CORP.", IBAN_GLOBEX),
                       (DAY, "100.00", "Thanks", "Jane Stranger", IBAN_STRANGER),
                       (DAY, "5.00", "Interest", "The Bank", None)])  # fmt: skip
    page.get_by_label("Statement file (CAMT.053, MT940, OFX or CSV)").set_input_files(
        files=[FilePayload(name="january.xml", mimeType="application/xml", buffer=content)]
    )
    page.get_by_role("button", name="Import statement").click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("Imported CAMT053 statement STMT-1: 3 lines, 3 new.")
    expect(result).to_contain_text("Applied 0 · to confirm 2 · unmatched 1 · ignored 0")
    globex_row = page.get_by_role("row").filter(has_text="GLOBEX CORP.")
    stranger_row = page.get_by_role("row").filter(has_text="Jane Stranger")
    interest_row = page.get_by_role("row").filter(has_text="Interest")
    expect(globex_row).to_contain_text("Globex Corporation")
    expect(globex_row).to_contain_text("confidence 0.70")
    shot(page, "console-reconciliation")

    # The stranger's 100.00 pays Acme's invoice: chosen from the open invoices, closest amount first.
    choice = stranger_row.get_by_label("Invoice this line pays")
    choice.select_option(label=f"{acme_invoice.number} · Acme GmbH · owes €100.00")
    stranger_row.get_by_role("button", name="Assign").click()
    expect(stranger_row).to_contain_text("Paid by Acme GmbH")
    expect(stranger_row).to_contain_text(f"{acme_invoice.number}: €100.00")
    expect(stranger_row.get_by_role("button")).to_have_count(0)

    globex_row.get_by_role("button", name="Confirm match").click()
    expect(globex_row).to_contain_text("Paid by Globex Corporation")
    expect(globex_row).to_contain_text(f"{globex_invoice.number}: €250.00")
    interest_row.get_by_role("button", name="Ignore line").click()
    expect(interest_row).to_contain_text("Set aside: no payment recorded.")
    shot(page, "console-reconciliation-resolved")

    assert invoicing.get_invoice(ctx, tenant.actor, acme_invoice.id).status is InvoiceStatus.PAID
    assert invoicing.get_invoice(ctx, tenant.actor, globex_invoice.id).status is InvoiceStatus.PAID
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Invoices").click()
    page.get_by_label("Status").select_option("paid")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    for paid in (acme_invoice, globex_invoice):
        expect(rows.filter(has_text=str(paid.number))).to_contain_text("paid")

    page.goto(f"{server.url}/console/reconciliation")
    expect(page.get_by_text("No suggestions waiting.")).to_be_visible()
    expect(page.get_by_text("No unmatched lines.")).to_be_visible()
