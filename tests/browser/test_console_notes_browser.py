"""Issue 10: support writes notes on the customer 360 in a real browser; an empty note is refused in place."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from kassa.core.access import Role
from kassa.services import customers
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import TenantAccess


def test_support_adds_notes_and_an_empty_one_is_refused(
    page: Page, server: Server, tenant: TenantAccess
) -> None:
    customer = customers.create_customer(
        server.ctx, tenant.actor, {"external_id": "acme", "name": "Acme Robotics"}
    )
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.SUPPORT))
    page.goto(f"{server.url}/console/customers/{customer.id}#notes")
    expect(page.get_by_text("No notes yet.")).to_be_visible()

    box = page.get_by_label("New note")
    box.fill("   ")
    box.evaluate("node => node.removeAttribute('required')")  # let the server judge the blank note
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be empty")
    expect(page.get_by_label("New note")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("New note").fill("Asked for annual billing.\nCall back in May.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Note added.")).to_be_visible()
    notes = page.get_by_role("list", name="Notes, newest first")
    expect(notes.get_by_role("listitem")).to_have_count(1)
    expect(notes).to_contain_text("Call back in May.")
    expect(notes).to_contain_text("Support ·")
    page.locator("#timeline").scroll_into_view_if_needed()
    shot(page, "console-customer-notes", full_page=False)
