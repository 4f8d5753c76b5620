"""Issue 10: the console's billing lists (subscriptions, invoices with their PDF, payments), the
reconciliation queue and statement upload, and bill runs and usage imports with their progress — through
the console's routes with a TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

import pytest

from kassa.core.access import Role
from kassa.core.invoicing import InvoiceStatus
from kassa.services import bill_runs, invoicing, payments, reconciliation
from kassa.services.context import ServiceContext
from kassa.web.console.runs import REGISTRY, Run
from tests.conftest import TenantAccess
from tests.web.billing_seed import IBAN_ACME, IBAN_GLOBEX, IBAN_STRANGER, business, camt053, invoice
from tests.web.console_helpers import Console

DAY = date(2026, 1, 1)


def _finished(tenant_id: str, run_id: str) -> Run:
    deadline = time.monotonic() + 30
    while True:
        run = REGISTRY.get(tenant_id, run_id)
        if not run.running:
            return run
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.05)


def _numbers(html: str) -> list[str | None]:
    """The invoice numbers a list shows, in order."""
    return list(re.findall(r"<strong>(INV-2026-\d+)</strong>", html))


def _hx_post(console: Console, path: str) -> Any:
    """A POST as htmx sends it: the CSRF header and HX-Request."""
    csrf = console.client.cookies.get("kassa_console_csrf") or ""
    return console.client.post(path, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})


def _run_id(answer: object) -> str:
    location = answer.headers["location"]  # type: ignore[attr-defined]
    found = re.fullmatch(r"/console/runs/(run_\w+)", location)
    assert found, location
    return found.group(1)


# ---- lists ---------------------------------------------------------------------------------------------


def test_lists_filter_page_and_the_invoice_pdf_downloads(ctx: ServiceContext, tenant: TenantAccess) -> None:
    shop = business(ctx, tenant.actor)
    first = invoice(ctx, tenant.actor, shop.acme, "100.00")
    second = invoice(ctx, tenant.actor, shop.globex, "250.00")
    payments.record_payment(ctx, tenant.actor, {"customer_id": shop.acme, "amount": "100.00",
                                                "reference": first.number})  # fmt: skip
    console = Console(ctx, tenant, Role.READ_ONLY)

    subs = console.get("/console/subscriptions?status=active&plan=team-monthly")
    assert subs.status_code == 200
    assert "<h1>Subscriptions</h1>" in subs.text
    assert all(sid in subs.text for sid in shop.subscriptions.values())
    assert "Acme GmbH" in subs.text and "Globex Corporation" in subs.text
    assert shop.subscriptions[shop.acme] in console.get(f"/console/subscriptions?customer={shop.acme}").text
    assert (
        shop.subscriptions[shop.acme]
        not in console.get(f"/console/subscriptions?customer={shop.globex}").text
    )
    assert "No subscriptions match." in console.get("/console/subscriptions?status=canceled").text

    listed = console.get("/console/invoices")
    assert listed.status_code == 200
    assert _numbers(listed.text) == [second.number, first.number]
    assert _numbers(console.get("/console/invoices?status=paid").text) == [first.number]
    assert _numbers(console.get(f"/console/invoices?q={second.number}").text) == [second.number]
    assert _numbers(console.get(f"/console/invoices?q={second.id}").text) == [second.number]
    assert "No invoices match." in console.get("/console/invoices?q=NOPE-1").text
    bad = console.get("/console/invoices?status=settled")
    assert bad.status_code == 422 and "status is one of draft, open, paid, void, uncollectible" in bad.text

    pdf = console.get(f"/console/invoices/{first.id}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{first.number}.pdf"'
    assert pdf.content.startswith(b"%PDF-")
    assert f'href="/console/invoices/{first.id}/pdf"' in listed.text
    assert console.get("/console/invoices/inv_doesnotexist/pdf").status_code == 404

    pays = console.get("/console/payments?status=succeeded")
    assert pays.status_code == 200 and "100.00" in pays.text and "bank transfer" in pays.text
    assert "No payments match." in console.get("/console/payments?status=failed").text


def test_the_invoice_list_pages_by_cursor(ctx: ServiceContext, tenant: TenantAccess) -> None:
    shop = business(ctx, tenant.actor)
    made = [invoice(ctx, tenant.actor, shop.acme, f"{n}.00") for n in range(1, 28)]  # 27: two pages of 25
    console = Console(ctx, tenant, Role.FINANCE)

    page1 = console.get("/console/invoices?status=open").text
    assert _numbers(page1) == [i.number for i in reversed(made[2:])]  # newest first, 25 of them
    link = re.search(r'href="(/console/invoices\?[^"]*cursor=[^"]+)" rel="next"', page1)
    assert link, page1
    page2 = console.get(link.group(1).replace("&amp;", "&")).text
    assert _numbers(page2) == [made[1].number, made[0].number]
    assert 'rel="next"' not in page2 and ">First page</a>" in page2


# ---- roles ---------------------------------------------------------------------------------------------


def test_read_only_staff_may_look_but_not_act(ctx: ServiceContext, tenant: TenantAccess) -> None:
    console = Console(ctx, tenant, Role.READ_ONLY)
    for path in ("/console/reconciliation", "/console/runs"):
        page = console.get(path)
        assert page.status_code == 200
        assert "Import statement" not in page.text and "Start bill run" not in page.text
    assert console.post("/console/reconciliation/lines/bsl_x/confirm").status_code == 403
    assert (
        console.post("/console/reconciliation/lines/bsl_x/assign", data={"invoice_id": "inv_x"}).status_code
        == 403
    )
    assert console.post("/console/reconciliation/lines/bsl_x/ignore").status_code == 403
    assert (
        console.post("/console/reconciliation/statements", files={"file": ("s.xml", b"<x/>")}).status_code
        == 403
    )
    assert console.post("/console/runs/bill").status_code == 403
    assert (
        console.post("/console/runs/usage", files={"file": ("u.csv", b"id,metric,timestamp\n")}).status_code
        == 403
    )
    assert REGISTRY.of_tenant(tenant.id) == []


def test_actions_need_the_csrf_token(ctx: ServiceContext, tenant: TenantAccess) -> None:
    console = Console(ctx, tenant, Role.FINANCE)
    answer = console.client.post("/console/runs/bill")
    assert answer.status_code == 403
    assert REGISTRY.of_tenant(tenant.id) == []


# ---- reconciliation ------------------------------------------------------------------------------------


def test_upload_confirm_assign_and_ignore_statement_lines(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """Acme owes 100.00 and Globex 250.00. The statement: 250.00 from "GLOBEX CORP." naming nothing (a
    suggestion to confirm), 100.00 from a stranger naming nothing (suggested by its amount alone: assigned to
    Acme's invoice by hand), 5.00 of interest (unmatched: ignored)."""
    shop = business(ctx, tenant.actor)
    acme_invoice = invoice(ctx, tenant.actor, shop.acme, "100.00")
    globex_invoice = invoice(ctx, tenant.actor, shop.globex, "250.00")
    console = Console(ctx, tenant, Role.FINANCE)
    content = camt053([(DAY, "250.00", "January services", "GLOBEX CORP.", IBAN_GLOBEX),
                       (DAY, "100.00", "Thanks", "Jane Stranger", IBAN_STRANGER),
                       (DAY, "5.00", "Interest", "The Bank", None)])  # fmt: skip

    answer = console.post("/console/reconciliation/statements", files={"file": ("jan.xml", content)},
                          data={"format": "camt053"})  # fmt: skip
    assert answer.status_code == 303
    shown = console.get(answer.headers["location"]).text
    assert "Imported CAMT053 statement STMT-1: 3 lines, 3 new." in shown
    assert "Applied 0 · to confirm 2 · unmatched 1 · ignored 0" in shown
    again = console.post("/console/reconciliation/statements", files={"file": ("jan.xml", content)})
    assert "This file was imported before" in console.get(again.headers["location"]).text

    review = reconciliation.list_lines(
        ctx, tenant.actor, statement_id=None, status="review", limit=10, cursor=None
    )
    by_amount = {ln.line.amount.amount_text(): ln for ln in review.items}
    suggested, stranger = by_amount["250.00"], by_amount["100.00"]
    assert suggested.proposal["customer_id"] == shop.globex
    page = console.get("/console/reconciliation").text
    assert "Suggested matches to confirm" in page and "GLOBEX CORP." in page and "Confirm match" in page
    assert (
        f'<option value="{acme_invoice.id}">{acme_invoice.number} · Acme GmbH · owes €100.00</option>' in page
    )

    row = _hx_post(console, f"/console/reconciliation/lines/{suggested.id}/confirm")
    assert row.status_code == 200
    assert row.text.lstrip().startswith(f'<tr id="line-{suggested.id}">')
    assert "Paid by Globex Corporation" in row.text
    assert invoicing.get_invoice(ctx, tenant.actor, globex_invoice.id).status is InvoiceStatus.PAID

    lines = reconciliation.list_lines(
        ctx, tenant.actor, statement_id=None, status="unmatched", limit=10, cursor=None
    )
    [interest] = lines.items
    missing = console.post(f"/console/reconciliation/lines/{stranger.id}/assign", data={"invoice_id": ""})
    assert missing.status_code == 422 and "Choose the invoice this line pays." in missing.text
    assigned = console.post(f"/console/reconciliation/lines/{stranger.id}/assign",
                            data={"invoice_id": acme_invoice.id})  # fmt: skip
    assert assigned.status_code == 303
    assert assigned.headers["location"] == f"/console/reconciliation?resolved={stranger.id}"
    acme_now = invoicing.get_invoice(ctx, tenant.actor, acme_invoice.id)
    assert (acme_now.status, acme_now.amount_remaining.amount_text()) == (InvoiceStatus.PAID, "0.00")
    [payment] = payments.list_payments(ctx, tenant.actor, customer_id=shop.acme, status=None, limit=5,
                                       cursor=None).items  # fmt: skip
    assert (payment.amount.amount_text(), payment.payer_name, payment.payer_iban) == (
        "100.00", "Jane Stranger", IBAN_STRANGER)  # fmt: skip

    ignored = _hx_post(console, f"/console/reconciliation/lines/{interest.id}/ignore")
    assert ignored.status_code == 200 and "Set aside: no payment recorded." in ignored.text
    twice = _hx_post(console, f"/console/reconciliation/lines/{interest.id}/ignore")
    assert twice.status_code == 409 and "The line is already ignored." in twice.text
    assert twice.headers["hx-retarget"] == "#flash"
    final = console.get("/console/reconciliation").text
    assert "No suggestions waiting." in final and "No unmatched lines." in final
    assert IBAN_ACME  # Acme's own IBAN is never on the statement: the stranger paid for it


def test_a_broken_statement_is_refused_next_to_the_form(ctx: ServiceContext, tenant: TenantAccess) -> None:
    console = Console(ctx, tenant, Role.ADMIN)
    answer = console.post("/console/reconciliation/statements", files={"file": ("x.xml", b"not a statement")})
    assert answer.status_code == 422
    assert 'id="statement-error" role="alert"' in answer.text
    assert reconciliation.list_statements(ctx, tenant.actor, limit=5, cursor=None).items == []
    empty = console.post("/console/reconciliation/statements", files={"file": ("x.xml", b"")})
    assert empty.status_code == 422 and "Choose a statement file to upload." in empty.text


# ---- bill runs and usage imports ---------------------------------------------------------------------------


def test_a_bill_run_bills_the_due_customers_once_and_reports_progress(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    shop = business(ctx, tenant.actor)
    console = Console(ctx, tenant, Role.FINANCE)
    answer = console.post("/console/runs/bill")
    assert answer.status_code == 303
    run_id = _run_id(answer)
    run = _finished(tenant.id, run_id)
    assert run.error is None
    assert (run.total, run.done, run.result.failed, len(run.result.invoices)) == (2, 2, 0, 2)
    billed = {b.customer_id: (b.bill_date, b.status, b.total.amount_text()) for b in run.result.invoices}
    assert billed == {shop.acme: (DAY, "draft", "49.00"), shop.globex: (DAY, "draft", "49.00")}
    fragment = console.get(f"/console/runs/{run_id}/progress")
    assert fragment.status_code == 200
    assert "hx-trigger" not in fragment.text  # finished: the page stops polling
    assert '<progress id="run-bar" max="2" value="2">100%</progress>' in fragment.text
    assert "<dt>Invoices composed</dt><dd>2</dd>" in fragment.text and "Acme GmbH" in fragment.text
    drafts = invoicing.list_invoices(ctx, tenant.actor, limit=10, cursor=None, status="draft").items
    assert sorted(i.customer_id for i in drafts) == sorted([shop.acme, shop.globex])

    again = _finished(tenant.id, _run_id(console.post("/console/runs/bill")))
    assert (again.total, again.done, again.result.invoices) == (0, 0, [])
    page = console.get(f"/console/runs/{again.id}").text
    assert "No customer's bill date has come: nothing to bill now." in page
    listing = console.get("/console/runs").text
    assert listing.count('<span class="badge ok">done</span>') == 2
    other = Console(ctx, _other_tenant(ctx), Role.ADMIN)
    assert other.get(f"/console/runs/{run_id}").status_code == 404


def _other_tenant(ctx: ServiceContext) -> TenantAccess:
    from tests.conftest import make_tenant

    return make_tenant(ctx, "Other Co")


def test_a_running_bill_run_shows_its_progress_and_polls(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """While a run is under way its fragment says how far it is and asks again every second."""
    console = Console(ctx, tenant, Role.FINANCE)
    run = Run(id="run_progressing", tenant_id=tenant.id, kind="bill_run", title="Bill run", started_by="Finance",
              started_at=ctx.clock.now(), total=4, done=1, result=bill_runs.BillRun(total=4, done=1))  # fmt: skip
    REGISTRY.add(run)
    fragment = console.get("/console/runs/run_progressing/progress").text
    assert (
        'hx-get="/console/runs/run_progressing/progress" hx-trigger="every 1s" hx-swap="outerHTML"'
        in fragment
    )
    assert '<progress id="run-bar" max="4" value="1">25%</progress>' in fragment
    assert "Running…" in fragment and "1 of 4 customers billed" in fragment


def test_the_service_reports_after_each_customer(ctx: ServiceContext, tenant: TenantAccess) -> None:
    business(ctx, tenant.actor)
    seen: list[tuple[int, int, int]] = []
    result = bill_runs.run_due_bills(
        ctx, tenant.actor, lambda r: seen.append((r.total, r.done, len(r.invoices)))
    )
    assert seen == [(2, 0, 0), (2, 1, 1), (2, 2, 2)]
    assert result.nothing_new == 0 and result.failed == 0


def test_a_usage_import_stores_counts_and_lists_refused_lines(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    business(ctx, tenant.actor)
    console = Console(ctx, tenant, Role.FINANCE)
    csv_file = (b"id,metric,external_customer_id,timestamp\n"
                b"e-1,api_calls,acme,2026-01-01T08:00:00Z\n"
                b"e-2,api_calls,acme,2026-01-01T08:30:00Z\n"
                b"e-3,no_such_metric,acme,2026-01-01T08:30:00Z\n"
                b"e-4,api_calls,acme\n")  # fmt: skip
    answer = console.post("/console/runs/usage", files={"file": ("usage.csv", csv_file)})
    assert answer.status_code == 303
    run = _finished(tenant.id, _run_id(answer))
    assert run.error is None
    assert (run.total, run.done) == (4, 4)
    result = run.result
    assert (result.records, result.accepted, result.duplicates, result.rejected) == (4, 2, 0, 2)
    assert [(line, e.code) for line, e in result.errors] == [(5, "invalid_csv"), (4, "metric_not_found")]
    page = console.get(f"/console/runs/{run.id}").text
    assert "<dt>Stored</dt><dd>2</dd>" in page and "<dt>Refused</dt><dd>2</dd>" in page
    assert "Expected 4 cells, found 3." in page

    again = _finished(
        tenant.id, _run_id(console.post("/console/runs/usage", files={"file": ("usage.csv", csv_file)}))
    )
    assert (again.result.accepted, again.result.duplicates, again.result.rejected) == (0, 2, 2)


def test_a_usage_file_that_cannot_be_read_is_refused_before_it_starts(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    console = Console(ctx, tenant, Role.FINANCE)
    header = console.post(
        "/console/runs/usage", files={"file": ("u.csv", b"metric,timestamp\napi_calls,x\n")}
    )
    assert header.status_code == 422 and "The header needs the column &#39;id&#39;." in header.text
    latin = console.post("/console/runs/usage", files={"file": ("u.ndjson", '{"id": "é"}'.encode("latin-1"))})
    assert latin.status_code == 422 and "The file is not UTF-8 text (line 1)." in latin.text
    empty = console.post("/console/runs/usage", files={"file": ("u.csv", b"")})
    assert empty.status_code == 422 and "Choose a usage file to upload." in empty.text
    assert REGISTRY.of_tenant(tenant.id) == []


@pytest.fixture(autouse=True)
def _forget_runs() -> None:
    """The registry is per process: each test starts with none of the runs of tests before it."""
    with REGISTRY.lock:
        REGISTRY.runs.clear()
