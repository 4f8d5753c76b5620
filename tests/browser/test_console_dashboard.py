"""Issue 10: the console dashboard in a real browser: the charts draw from a business billed through the
services (tests/web/dashboard_data.py), the MRR tile shows the MRR report's figure, the period filter
re-renders the figures with htmx, and a read-only user sees the page; no JavaScript error (the page fixture
asserts it)."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import Page, expect

from kassa.core.access import Role
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import SettableClock, TenantAccess
from tests.web.dashboard_data import build


def test_dashboard_draws_the_business(
    page: Page, server: Server, tenant: TenantAccess, clock: SettableClock
) -> None:
    build(server.ctx, tenant.actor)
    clock.at = datetime(2026, 3, 10, 10, tzinfo=UTC)
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.FINANCE))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator('[data-kpi="MRR"]')).to_have_text("€849.00")  # the 12 months to March 2026
    expect(page.locator('[data-kpi="Overdue"]')).to_have_text("€400.00")
    expect(page.locator("canvas")).to_have_count(8)
    page.wait_for_function("document.querySelectorAll('canvas').length === 8 && "
                           "[...document.querySelectorAll('canvas')].every(c => window.Chart.getChart(c))")  # fmt: skip
    expect(page.get_by_role("img", name="MRR at each month's end")).to_be_visible()
    page.get_by_label("From month").fill("2026-01")
    page.get_by_label("To month").fill("2026-02")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{server.url}/console/?first=2026-01&last=2026-02&currency=EUR")
    expect(page.locator('[data-kpi="MRR"]')).to_have_text("€849.00")
    expect(page.locator('[data-kpi="Collected"]')).to_have_text("€1,258.00")  # 499.00 + 759.00
    page.wait_for_function("[...document.querySelectorAll('canvas')].every(c => window.Chart.getChart(c))")
    labels = page.evaluate("window.Chart.getChart(document.getElementById('chart-mrr')).data.labels")
    assert labels == ["2026-01", "2026-02"]
    page.get_by_label("From month").fill("2026-01")
    page.get_by_label("To month").fill("2026-03")
    page.get_by_role("button", name="Show").click()
    expect(page.locator('[data-kpi="Collected"]')).to_have_text("€2,017.00")
    page.wait_for_function("[...document.querySelectorAll('canvas')].every(c => window.Chart.getChart(c))")
    page.wait_for_timeout(600)  # the charts' short animation
    shot(page, "console-dashboard")


def test_read_only_sees_an_empty_dashboard(page: Page, server: Server, tenant: TenantAccess) -> None:
    log_in(page, server, tenant, staff_user(server.ctx, tenant, Role.READ_ONLY))
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_text("No data yet")).to_have_count(8)
    expect(page.locator('[data-kpi="MRR"]')).to_have_text("€0.00")
    shot(page, "console-dashboard-empty")
