"""Issue 10: a customer 360 action in a real browser: a support agent finds the customer in the list, opens
the 360, chooses the bigger plan, sees the prorated credit and charge before confirming, and confirms.

The clock: the customer subscribed to Basic (30.00 EUR a month) on 1 January 2026 and the change is made on
11 January, so 21 of January's 31 days are left: the unused Basic is credited 30.00 x 21/31 = 20.32, Pro is
charged 90.00 x 21/31 = 60.97 for the same days, and February is billed 90.00 on Pro instead of 30.00 on
Basic: the difference is -20.32 + 60.97 + 90.00 - 30.00 = 100.65."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from kassa.core.access import Role
from kassa.services import subscriptions
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import SettableClock, TenantAccess
from tests.web.customer_seed import activity, seed


def test_plan_change_with_preview(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    acme, sub = seed(server.ctx, tenant)
    clock.advance(timedelta(days=10))
    activity(server.ctx, tenant, acme, calls=1300)
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.SUPPORT))

    page.goto(f"{server.url}/console/customers")
    page.get_by_label("Search").fill("robot")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table")
    expect(results.get_by_role("link", name="Acme Robotics")).to_be_visible()
    expect(results.get_by_text("Zeta Foods")).to_have_count(0)
    shot(page, "console-customers")

    results.get_by_role("link", name="Acme Robotics").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Robotics")
    subscription = page.locator(f"#sub-{sub.id}")
    expect(subscription.get_by_test_id("sub-plan")).to_have_text("basic-monthly")
    expect(page.get_by_role("heading", name="Timeline & notes")).to_be_visible()
    expect(page.get_by_text("subscription.created")).to_be_visible()  # the lazily loaded timeline
    usage = page.get_by_role("region", name="Usage this period")
    expect(
        usage.get_by_role("img", name=re.compile("Usage per metric"))
    ).to_be_visible()  # the chart's canvas
    expect(usage.get_by_role("row").filter(has_text="api_calls")).to_contain_text("1300")
    expect(
        page.get_by_role("region", name="Invoices").get_by_role("cell", name="€30.00").first
    ).to_be_visible()
    expect(page.get_by_role("link", name="Export is slow")).to_be_visible()
    shot(page, "console-customer-360")

    subscription.get_by_label("New plan").select_option("pro-monthly")
    subscription.get_by_role("button", name="Preview change").click()
    preview = subscription.get_by_role("region", name="Preview: basic-monthly → pro-monthly")
    expect(preview).to_be_visible()
    expect(preview.get_by_test_id("preview-effective")).to_have_text("Jan 11, 2026")
    rows = preview.get_by_role("row")
    expect(rows.filter(has_text="Credit for the unused part: Basic, monthly")).to_contain_text("-€20.32")
    expect(
        rows.filter(has_text="Pro, monthly").filter(has_text="Jan 11, 2026 – Feb 1, 2026")
    ).to_contain_text("€60.97")
    expect(rows.filter(has_text="Pro, monthly").filter(has_text="Feb 1, 2026 – Mar 1, 2026")).to_contain_text(
        "€90.00"
    )
    expect(preview.get_by_test_id("preview-net")).to_have_text("€100.65")
    assert subscriptions.get_subscription(server.ctx, tenant.actor, sub.id).terms.plan == "basic-monthly"
    shot(page, "console-plan-change-preview")

    preview.get_by_role("button", name="Confirm plan change").click()
    expect(page).to_have_url(re.compile(rf"/console/customers/{acme.id}\?done=plan_changed$"))
    expect(page.get_by_role("status")).to_have_text("Plan changed.")
    expect(page.locator(f"#sub-{sub.id}").get_by_test_id("sub-plan")).to_have_text("pro-monthly")
    shot(page, "console-plan-changed")
    assert subscriptions.get_subscription(server.ctx, tenant.actor, sub.id).terms.plan == "pro-monthly"
