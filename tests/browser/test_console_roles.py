"""Issue 10, "login and roles": admin, finance, support and read_only staff log in to the console and find
what their role lets them do: everyone reads the queues and logs; support works tickets but may not touch
the catalog; finance uploads catalogs (an invalid one is shown with its error in place); only an admin sees
the users page, and an invitation link they make sets a password in another browser."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import Browser, Page, expect

from kassa.core.access import Role
from kassa.core.support import TicketStatus
from kassa.core.webhooks import DeliveryStatus
from kassa.services import catalog, console_lists, customers, disputes, invoicing, support, tenants, webhooks
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import SettableClock, TenantAccess
from tests.web.test_console_admin import BROKEN_YAML, CATALOG_YAML
from tests.web.test_console_support import ALWAYS


def business(server: Server, tenant: TenantAccess, clock: SettableClock) -> dict[str, Any]:
    """A catalog, two customers with tickets under a 24/7 SLA, an open dispute and a failed webhook delivery."""
    import yaml

    ctx, actor = server.ctx, tenant.actor
    tenants.update_settings(
        ctx, actor, {"legal_name": "Nordlicht GmbH", "webhook_allowed_networks": ["127.0.0.0/8"]}
    )
    catalog.apply_catalog(ctx, actor, yaml.safe_load(CATALOG_YAML), effective_at=None)
    webhooks.create_endpoint(
        ctx, actor, url="http://127.0.0.1:9/kassa-hook", enabled_events=["customer.created"]
    )
    support.put_sla_policy(ctx, actor, "always", ALWAYS)
    ada = customers.create_customer(
        ctx, actor, {"external_id": "ada", "name": "Ada Lovelace", "currency": "EUR"}
    ).id
    bob = customers.create_customer(
        ctx, actor, {"external_id": "bob", "name": "Bob Byte", "currency": "EUR"}
    ).id
    for _ in range(20):  # the deliveries of customer.created fail on a closed port until retries run out
        webhooks.deliver_due(ctx)
        rows = console_lists.deliveries_page(ctx, actor, limit=10, cursor=None, status_filter="pending").items
        if not rows:
            break
        due = min(r.delivery.next_attempt_at for r in rows if r.delivery.next_attempt_at)
        clock.advance(max(due - clock.now(), timedelta(0)))
    tickets = {}
    for cid, subject, level in ((ada, "Cannot log in", "urgent"), (bob, "Invoice question", "normal"),
                                (ada, "Feature request: dark mode", "low")):  # fmt: skip
        fields = {
            "customer_id": cid,
            "subject": subject,
            "channel": "email",
            "priority": level,
            "sla_policy": "always",
        }
        tickets[subject] = support.create_ticket(ctx, actor, fields).id
    lines = [{"description": "Consulting", "quantity": "1", "unit_price": "120.00"}]
    invoice = invoicing.finalize_invoice(
        ctx, actor, invoicing.create_invoice(ctx, actor, {"customer_id": bob, "lines": lines}).id
    )
    dispute = disputes.open_dispute(ctx, actor, invoice.id, {"line": 1, "reason": "duplicate", "opened_by": "customer",
                                                             "description": "Billed twice this month"})  # fmt: skip
    clock.advance(timedelta(minutes=80))  # the urgent ticket's first response is 20 minutes late
    return {"tickets": tickets, "dispute": dispute.id}


def post_as_browser(page: Page, server: Server, path: str, form: dict[str, str] | None = None) -> int:
    """A form POST with the page's session and CSRF token, as a crafted request would send it."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "kassa_console_csrf")
    answer = page.request.post(f"{server.url}{path}", form={"csrf": csrf, **(form or {})}, max_redirects=0)
    return answer.status


def test_read_only_reads_everything_and_acts_on_nothing(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    made = business(server, tenant, clock)
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.READ_ONLY))
    for path, heading, row in (("/console/tickets", "Tickets", "Cannot log in"),
                               ("/console/disputes", "Disputes", "Billed twice this month"),
                               ("/console/webhooks", "Webhook deliveries", "http://127.0.0.1:9/kassa-hook"),
                               ("/console/audit", "Audit log", "ticket.created"),
                               ("/console/catalog", "Catalog", "Team, monthly")):  # fmt: skip
        page.goto(f"{server.url}{path}")
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.get_by_role("main").get_by_text(row).first).to_be_visible()
        expect(
            page.get_by_role(
                "button", name=re.compile(r"^(Assign|Send again|Apply as a new version|Reject)$")
            )
        ).to_have_count(0)
    page.goto(f"{server.url}/console/settings")
    expect(page.get_by_text("Only an admin may change settings.")).to_be_visible()
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    ticket = made["tickets"]["Cannot log in"]
    assert post_as_browser(page, server, f"/console/tickets/{ticket}/close") == 403
    assert (
        post_as_browser(page, server, f"/console/disputes/{made['dispute']}/reject", {"resolution": "no"})
        == 403
    )
    assert support.get_ticket(server.ctx, tenant.actor, ticket).status is TicketStatus.NEW
    page.goto(f"{server.url}/console/users")
    expect(page.get_by_role("alert")).to_contain_text("may not do this")
    shot(page, "console-forbidden")


def test_support_works_tickets_but_not_the_catalog(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    made = business(server, tenant, clock)
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.SUPPORT))
    page.goto(f"{server.url}/console/tickets")
    urgent = page.get_by_role("row", name=re.compile("Cannot log in"))
    expect(urgent.get_by_text("breached 20 min ago")).to_be_visible()
    expect(
        page.get_by_role("row", name=re.compile("Invoice question")).get_by_text("due in 2 h 40 min")
    ).to_be_visible()
    urgent.get_by_label("Assignee").select_option(label="Support")
    urgent.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status").get_by_text("Assigned.")).to_be_visible()
    assert (
        support.get_ticket(server.ctx, tenant.actor, made["tickets"]["Cannot log in"]).assignee_id is not None
    )
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile("Invoice question"))).to_have_count(0)
    expect(page.get_by_role("row", name=re.compile("Cannot log in"))).to_be_visible()
    page.get_by_label("Priority").select_option("")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row", name=re.compile("Invoice question"))
    row.get_by_text("Respond or change status").click()
    row.get_by_label("Response to the customer").fill("We are looking into it.")
    shot(page, "console-tickets")
    row.get_by_role("button", name="Send response").click()
    expect(page.get_by_role("status").get_by_text("Response sent.")).to_be_visible()
    expect(
        page.get_by_role("row", name=re.compile("Invoice question")).get_by_text("met", exact=True)
    ).to_be_visible()

    page.goto(f"{server.url}/console/catalog")
    expect(page.get_by_role("heading", name="Upload a new version")).to_have_count(0)
    assert post_as_browser(page, server, "/console/catalog", {"document": CATALOG_YAML}) == 403
    assert len(catalog.list_versions(server.ctx, tenant.actor)) == 1
    page.goto(f"{server.url}/console/users")
    expect(page.get_by_role("heading", name="Users")).to_have_count(0)


def test_finance_uploads_a_catalog_and_resolves_disputes(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    made = business(server, tenant, clock)
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.FINANCE))
    page.goto(f"{server.url}/console/catalog")
    editor = page.get_by_label("Catalog document (YAML or JSON)")
    editor.fill(BROKEN_YAML.replace("Price list 2026", "Price list 2027"))
    page.get_by_role("button", name="Apply as a new version").click()
    problem = page.get_by_role("alert")
    expect(problem).to_contain_text("products.0.plans.0.billing_period")
    expect(problem).to_contain_text("Line 8 of the document")
    expect(editor).to_have_value(re.compile("billing_period: fortnight"))
    expect(editor).to_have_attribute("aria-invalid", "true")
    shot(page, "console-catalog-error")
    editor.fill(CATALOG_YAML.replace("Price list 2026", "Price list 2027").replace('"14.00"', '"15.00"'))
    page.get_by_role("button", name="Apply as a new version").click()
    expect(page.get_by_text("Catalog version applied.")).to_be_visible()
    expect(page.get_by_text("Version 2 · Price list 2027")).to_be_visible()
    expect(page.get_by_role("cell", name="€15.00", exact=True)).to_be_visible()
    shot(page, "console-catalog")

    page.goto(f"{server.url}/console/disputes")
    row = page.get_by_role("row", name=re.compile("Billed twice this month"))
    row.get_by_text("Resolve").click()
    row.get_by_label("Amount to credit (EUR; blank: all)").fill("60.00")
    row.get_by_label("Resolution (accept)").fill("Half of it was billed twice.")
    shot(page, "console-disputes")
    row.get_by_role("button", name="Accept and credit").click()
    expect(page.get_by_text("Dispute accepted: a credit note was issued.")).to_be_visible()
    assert disputes.get_dispute(server.ctx, tenant.actor, made["dispute"]).credit_note_id is not None

    page.goto(f"{server.url}/console/webhooks?status=failed")
    failed = page.get_by_role("row", name=re.compile("kassa-hook")).first
    expect(failed.get_by_text("failed")).to_be_visible()
    shot(page, "console-webhooks")
    failed.get_by_role("button", name=re.compile("Send .* again")).click()
    expect(page.get_by_text("The delivery is sent again now.")).to_be_visible()
    pending = webhooks.list_deliveries(server.ctx, tenant.actor, limit=10).items
    assert any(d.status is DeliveryStatus.PENDING for d in pending)
    page.goto(f"{server.url}/console/users")
    expect(page.get_by_role("alert")).to_contain_text("may not do this")


def test_admin_manages_users_and_invites(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock, browser: Browser
) -> None:
    business(server, tenant, clock)
    for role in (Role.FINANCE, Role.SUPPORT, Role.READ_ONLY):
        staff_user(server.ctx, tenant, role)
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.ADMIN))
    page.goto(f"{server.url}/console/users")
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    page.get_by_label("Role of Read Only").select_option("support")
    page.get_by_role("row", name=re.compile("read-only@example.com")).get_by_role(
        "button", name="Change role"
    ).click()
    expect(page.get_by_text("Role changed.")).to_be_visible()
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Role", exact=True).select_option("finance")
    page.get_by_role("button", name="Create user").click()
    link_field = page.get_by_label("Invitation link")
    expect(link_field).to_have_value(re.compile(r"/console/invitations/[A-Za-z0-9_-]{20,}$"))
    expect(page.get_by_role("row", name=re.compile("grace@example.com"))).to_be_visible()
    shot(page, "console-users")
    link = link_field.input_value()
    page.reload()  # the link is shown once
    expect(page.get_by_label("Invitation link")).to_have_count(0)

    other = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        guest = other.new_page()
        guest.goto(link)
        guest.get_by_label("New password").fill("grace's own password 1906")
        guest.get_by_role("button", name="Set password").click()
        expect(guest).to_have_url(re.compile(r"/console/login\?tenant="))
        guest.get_by_label("Email").fill("grace@example.com")
        guest.get_by_label("Password").fill("grace's own password 1906")
        guest.get_by_role("button", name="Log in").click()
        expect(guest.get_by_text("Grace Hopper · finance")).to_be_visible()
    finally:
        other.close()

    page.goto(f"{server.url}/console/settings")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#err-time_zone")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("Mars/Olympus")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Invoice number prefix").fill("RE-")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.get_by_text("RE-")).to_be_visible()
    shot(page, "console-settings")
    assert tenants.get_settings(server.ctx, tenant.actor).time_zone == "Europe/Berlin"

    page.goto(f"{server.url}/console/audit?action=settings.updated")
    expect(page.get_by_role("cell", name="settings.updated").first).to_be_visible()
    page.goto(f"{server.url}/console/audit")
    expect(page.get_by_role("link", name="user.updated").first).to_be_visible()
    shot(page, "console-audit")
