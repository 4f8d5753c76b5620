"""Issue 10: long work started from the console — a bill run and a usage import — showing progress while
it runs (a progress bar polled every second) and the result when it is done."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import FilePayload, Page, expect

from kassa.core.access import Role
from kassa.services import bill_runs, customers, invoicing, subscriptions
from kassa.web.console.runs import REGISTRY, Run
from tests.browser.conftest import Server, log_in, shot, staff_user
from tests.conftest import TenantAccess
from tests.web.billing_seed import business

DAY = date(2026, 1, 1)


def test_a_bill_run_shows_progress_then_its_result(page: Page, server: Server, tenant: TenantAccess) -> None:
    ctx = server.ctx
    shop = business(ctx, tenant.actor)
    more = []
    for n in range(1, 11):  # twelve customers due in all: a run with some steps to watch
        cid = customers.create_customer(ctx, tenant.actor, {"external_id": f"c{n}", "name": f"Customer {n:02d}",
                                                            "currency": "EUR", "time_zone": "UTC"}).id  # fmt: skip
        subscriptions.create_subscription(ctx, tenant.actor, {"customer_id": cid, "plan": "team-monthly",
                                                              "start_date": "2026-01-01"})  # fmt: skip
        more.append(cid)
    log_in(page, server, tenant, staff_user(ctx, tenant, Role.FINANCE))

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Bill runs & imports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bill runs & imports")
    expect(page.get_by_text("No runs since this server started.")).to_be_visible()
    page.get_by_role("button", name="Start bill run").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Bill run")
    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    expect(bar).to_have_attribute("max", "12")
    expect(bar).to_have_attribute("value", "12")
    expect(page.get_by_text("12 of 12 customers billed")).to_be_visible()
    result = page.get_by_label("Result")
    expect(result).to_contain_text("Invoices composed12")
    expect(result).to_contain_text("Failed0")
    expect(page.locator("#run-progress tbody tr")).to_have_count(12)
    expect(page.locator("#run-progress")).to_contain_text("Acme GmbH")
    shot(page, "console-bill-run")
    drafts = invoicing.list_invoices(ctx, tenant.actor, limit=50, cursor=None, status="draft").items
    assert sorted(i.customer_id for i in drafts) == sorted([shop.acme, shop.globex, *more])
    assert {(i.bill_date, i.total.amount_text()) for i in drafts} == {(DAY, "49.00")}

    page.get_by_role("link", name="← Bill runs & imports").click()
    expect(page.get_by_role("row").filter(has_text="Bill run")).to_contain_text("12 of 12")
    page.get_by_role("button", name="Start bill run").click()
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    expect(page.get_by_text("No customer's bill date has come: nothing to bill now.")).to_be_visible()


def test_a_usage_import_from_the_console(page: Page, server: Server, tenant: TenantAccess) -> None:
    ctx = server.ctx
    business(ctx, tenant.actor)
    log_in(page, server, tenant, staff_user(ctx, tenant, Role.ADMIN))
    page.goto(f"{server.url}/console/runs")
    rows = ["id,metric,external_customer_id,timestamp"] + [
        f"e-{n},api_calls,{'acme' if n % 2 else 'globex'},2026-01-01T08:{n % 60:02d}:00Z" for n in range(1, 121)
    ] + ["e-bad,api_calls,nobody,2026-01-01T08:00:00Z"]  # fmt: skip
    page.get_by_label("Usage file").set_input_files(
        files=[FilePayload(name="january.csv", mimeType="text/csv", buffer="\n".join(rows).encode())]
    )
    page.get_by_role("button", name="Import usage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage import of january.csv")
    expect(page.get_by_role("heading", name="Done")).to_be_visible()
    expect(page.get_by_text("121 of 121 records read")).to_be_visible()
    result = page.get_by_label("Result")
    expect(result).to_contain_text("Stored120")
    expect(result).to_contain_text("Refused1")
    expect(page.get_by_role("row").filter(has_text="e-bad")).to_contain_text("122")
    shot(page, "console-usage-import")

    page.goto(f"{server.url}/console/runs")
    page.get_by_label("Usage file").set_input_files(
        files=[FilePayload(name="broken.csv", mimeType="text/csv", buffer=b"metric,timestamp\napi_calls,x\n")]
    )
    page.get_by_role("button", name="Import usage").click()
    expect(page.get_by_role("alert")).to_have_text("The header needs the column 'id'.")


def test_the_run_page_polls_until_the_run_is_done(page: Page, server: Server, tenant: TenantAccess) -> None:
    """The page follows a run by itself: the progress fragment is fetched every second until it is done.
    The run's counters are set here, as the service's reports would set them, so each state can be seen."""
    ctx = server.ctx
    log_in(page, server, tenant, staff_user(ctx, tenant, Role.FINANCE))
    run = Run(id="run_watched", tenant_id=tenant.id, kind="bill_run", title="Bill run", started_by="Finance",
              started_at=ctx.clock.now(), total=40, done=0, result=bill_runs.BillRun(total=40))  # fmt: skip
    REGISTRY.add(run)
    try:
        page.goto(f"{server.url}/console/runs/run_watched")
        expect(page.get_by_role("heading", name="Running…")).to_be_visible()
        REGISTRY.update("run_watched", done=10, result=bill_runs.BillRun(total=40, done=10))
        expect(page.get_by_text("10 of 40 customers billed")).to_be_visible()
        expect(page.get_by_role("progressbar")).to_have_attribute("value", "10")
        shot(page, "console-bill-run-progress")
        REGISTRY.update("run_watched", done=40, finished_at=ctx.clock.now(),
                        result=bill_runs.BillRun(total=40, done=40, nothing_new=40))  # fmt: skip
        expect(page.get_by_role("heading", name="Done")).to_be_visible()
        expect(page.get_by_label("Result")).to_contain_text("Nothing new to bill40")
        expect(page.locator("#run-progress")).not_to_have_attribute("hx-trigger", "every 1s")
    finally:
        with REGISTRY.lock:
            REGISTRY.runs.pop("run_watched", None)
