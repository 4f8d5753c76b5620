"""Issue 10: the console's customers list and customer 360 (without a browser): search, filters and pages;
the 360's sections; the actions with their roles (CUSTOMER_CARE for the subscription, BILLING for money),
CSRF, and errors shown in place."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.core.access import Role
from kassa.core.customers import CustomerFilter
from kassa.core.subscriptions import Status
from kassa.server import create_app
from kassa.services import (
    cost_to_serve,
    credits,
    customer_360,
    customers,
    invoicing,
    staff_auth,
    subscriptions,
    users,
)
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess
from tests.web.customer_seed import activity, seed

PASSWORD = "correct horse battery staple"
HTMX = {"HX-Request": "true"}


class Console:
    """A staff user of `role` logged in with a TestClient; posts send the CSRF token as the console wants."""

    def __init__(self, ctx: ServiceContext, tenant: TenantAccess, role: Role) -> None:
        email = f"{role.value.replace('_', '-')}@customers.example"
        user = users.create_user(
            ctx, tenant.actor, email=email, name=role.value.title(), role_name=role.value
        )
        _, token = staff_auth.invite(ctx, tenant.actor, user.id)
        staff_auth.accept_invitation(ctx, token, PASSWORD)
        self.client = TestClient(create_app(ctx), follow_redirects=False)
        answer = self.client.post(
            "/console/login", data={"tenant": tenant.id, "email": email, "password": PASSWORD}
        )
        assert answer.status_code == 303, answer.text

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, *, csrf: bool = True, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        sent = dict(headers or {})
        if csrf:
            sent["X-CSRF-Token"] = self.client.cookies.get("kassa_console_csrf") or ""
        return self.client.post(path, headers=sent, **kw)


def text(html: str) -> str:
    """The page's text without tags, spaces squeezed: what a reader sees, for assertions."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_the_list_searches_filters_and_pages(ctx: ServiceContext, tenant: TenantAccess) -> None:
    acme, _ = seed(ctx, tenant)
    for n in range(27):
        customers.create_customer(ctx, tenant.actor, {"external_id": f"bulk-{n:02}", "name": f"Bulk {n:02}",
                                                      "currency": "GBP"})  # fmt: skip
    viewer = Console(ctx, tenant, Role.READ_ONLY)

    for query in ("robot", "BILLING@ACME", "acme-42", acme.id):
        page = viewer.get("/console/customers", params={"q": query})
        assert page.status_code == 200
        assert "Acme Robotics" in page.text and "Zeta Foods" not in page.text, query
    assert "No customer matches." in viewer.get("/console/customers", params={"q": "nobody-at-all"}).text

    eur = viewer.get("/console/customers", params={"currency": "eur"}).text
    assert "Acme Robotics" in eur and "Zeta Foods" in eur and "Bulk" not in eur

    first = viewer.get("/console/customers", params={"currency": "GBP"}).text
    assert first.count("Bulk ") == 25 and "Bulk 26" in first and "Bulk 00" not in first  # newest first
    link = re.search(r'href="([^"]*cursor=[^"]*)">Next page', first)
    assert link is not None
    second = viewer.get(link.group(1).replace("&amp;", "&")).text
    assert "Bulk 01" in second and "Bulk 00" in second and "Bulk 26" not in second
    assert "Next page" not in second and "First page" in second

    # a search walks the pages too: two matches a page, the cursor goes on where the first page stopped
    found = customer_360.search_customers(
        ctx, tenant.actor, CustomerFilter(), query="bulk 1", limit=2, cursor=None
    )
    assert [c.name for c in found.items] == ["Bulk 19", "Bulk 18"] and found.has_more
    more = customer_360.search_customers(ctx, tenant.actor, CustomerFilter(), query="bulk 1", limit=20,
                                         cursor=found.next_cursor)  # fmt: skip
    assert [c.name for c in more.items] == [f"Bulk {n}" for n in range(17, 9, -1)] and not more.has_more

    bad = viewer.get("/console/customers", params={"currency": "EURO"})
    assert bad.status_code == 422 and "three-letter code" in bad.text


def test_the_360_shows_the_customer_and_read_only_staff_get_no_actions(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    acme, sub = seed(ctx, tenant)
    clock.advance(timedelta(days=10))
    activity(ctx, tenant, acme, calls=1300)
    credits.grant_credit(ctx, tenant.actor, acme.id, {"amount": "5.00", "description": "Welcome gift"})
    for day, amount in (("2026-01-05", "12.00"), ("2026-01-06", "0.50")):
        cost_to_serve.record_cost(ctx, tenant.actor, acme.id, {"occurred_on": day, "kind": "infrastructure",
                                                               "cost": {"amount": amount, "currency": "EUR"},
                                                               "description": f"GPU hours {day}"})  # fmt: skip
    viewer = Console(ctx, tenant, Role.READ_ONLY)

    page = viewer.get(f"/console/customers/{acme.id}")
    assert page.status_code == 200
    seen = text(page.text)
    assert "<h1>Acme Robotics" in page.text
    for part in ("Profile", "acme-42", "billing@acme.example", "Subscriptions", "basic-monthly", "Usage this period",
                 "Entitlements", "Invoices", "Payments", "Credit balance and wallet", "Welcome gift", "Tickets",
                 "Disputes", "Messages sent", "Cost to serve", "Timeline & notes"):  # fmt: skip
        assert part in seen, part
    assert "€5.00" in seen
    assert "Export is slow" in seen and "The CSV export takes minutes." in seen  # the ticket and its note
    assert re.search(r"api_calls 1300 1000 3884\.34 €3\.00 €28\.84", seen)  # used, allowance, forecasts
    assert "1300 of 1000 api_calls used" in seen and "exports" in seen  # entitlements
    assert "€30.00" in seen and "open" in seen  # January's invoice
    assert (
        "Cost to serve (EUR) €12.50" in seen and "In all: €12.50" in seen and "GPU hours 2026-01-06" in seen
    )
    charts = re.search(r'<script type="application/json" id="usage-charts">(.*?)</script>', page.text)
    assert charts is not None and json.loads(unescape(charts.group(1))) == [{
        "id": f"usage-{sub.id}", "labels": ["api_calls"], "used": ["1300"], "forecast": ["3884.34"],
        "allowance": ["1000"]}]  # fmt: skip
    for button in ("Preview change", "Pause subscription", "Cancel subscription", "Grant credit"):
        assert button not in page.text

    timeline = viewer.get(f"/console/customers/{acme.id}/timeline", headers=HTMX)
    assert "customer.created" in timeline.text and "subscription.created" in timeline.text

    base = f"/console/customers/{acme.id}"
    for path, data in ((f"{base}/subscriptions/{sub.id}/preview", {"plan": "pro-monthly"}),
                       (f"{base}/subscriptions/{sub.id}/change", {"plan": "pro-monthly"}),
                       (f"{base}/subscriptions/{sub.id}/pause", {}),
                       (f"{base}/subscriptions/{sub.id}/cancel", {"when": "now"}),
                       (f"{base}/credit", {"amount": "1.00", "description": "x"})):  # fmt: skip
        refused = viewer.post(path, data=data)
        assert refused.status_code == 403, path
    assert subscriptions.get_subscription(ctx, tenant.actor, sub.id).terms.plan == "basic-monthly"
    assert viewer.get(f"/console/customers/{'cus_unknown'}").status_code == 404


def test_plan_change_previews_the_proration_then_applies(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    acme, sub = seed(ctx, tenant)
    clock.advance(timedelta(days=10))  # 11 January: 21 of January's 31 days are left
    agent = Console(ctx, tenant, Role.SUPPORT)
    page = agent.get(f"/console/customers/{acme.id}").text
    assert "Preview change" in page and "Pro, monthly (pro-monthly)" in page
    assert "Grant credit" not in page  # support may not move money

    base = f"/console/customers/{acme.id}/subscriptions/{sub.id}"
    preview = agent.post(f"{base}/preview", data={"plan": "pro-monthly"}, headers=HTMX)
    assert preview.status_code == 200
    seen = text(preview.text)
    assert "Takes effect on Jan 11, 2026" in seen  # the console shows English dates
    for amount in ("-€20.32", "€60.97", "€90.00", "€30.00", "€100.65"):
        assert amount in seen, amount
    assert (
        subscriptions.get_subscription(ctx, tenant.actor, sub.id).terms.plan == "basic-monthly"
    )  # nothing written

    missing = agent.post(f"{base}/preview", data={"plan": ""}, headers=HTMX)
    assert (
        missing.status_code == 422
        and "Choose the new plan." in missing.text
        and 'role="alert"' in missing.text
    )

    no_csrf = agent.post(f"{base}/change", data={"plan": "pro-monthly"}, csrf=False, headers=HTMX)
    assert no_csrf.status_code == 403

    done = agent.post(f"{base}/change", data={"plan": "pro-monthly"}, headers=HTMX)
    assert (
        done.status_code == 204
        and done.headers["HX-Redirect"] == f"/console/customers/{acme.id}?done=plan_changed"
    )
    assert subscriptions.get_subscription(ctx, tenant.actor, sub.id).terms.plan == "pro-monthly"
    after = agent.get(done.headers["HX-Redirect"]).text
    assert "Plan changed." in after and 'data-testid="sub-plan">pro-monthly<' in after

    again = agent.post(f"{base}/change", data={"plan": "pro-monthly"}, headers=HTMX)
    assert again.status_code == 422 and "already has" in again.text


def test_pause_and_cancel_with_the_end_date(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    acme, sub = seed(ctx, tenant)
    clock.advance(timedelta(days=3))
    agent = Console(ctx, tenant, Role.SUPPORT)
    page = text(agent.get(f"/console/customers/{acme.id}").text)
    assert "At the end of the period: ends on Feb 1, 2026" in page
    base = f"/console/customers/{acme.id}/subscriptions/{sub.id}"

    past = agent.post(f"{base}/pause", data={"effective_date": "2025-12-01"}, headers=HTMX)
    assert past.status_code == 422 and "today or later" in past.text and "Pause subscription" in past.text

    bad_when = agent.post(f"{base}/cancel", data={"when": "someday"}, headers=HTMX)
    assert bad_when.status_code == 422 and "Cancel now or at the end of the period." in bad_when.text

    canceled = agent.post(f"{base}/cancel", data={"when": "end_of_period"})  # a plain form post: a redirect
    assert canceled.status_code == 303 and canceled.headers["location"].endswith("done=canceled")
    pending = subscriptions.get_subscription(ctx, tenant.actor, sub.id).pending_cancellation
    assert pending is not None and str(pending.effective) == "2026-02-01"

    paused = agent.post(f"{base}/pause", data={}, headers=HTMX)
    assert paused.status_code == 204
    assert subscriptions.get_subscription(ctx, tenant.actor, sub.id).status is Status.PAUSED


def test_money_actions_need_billing_and_show_errors_in_place(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    acme, sub = seed(ctx, tenant)
    draft = invoicing.bill_now(ctx, tenant.actor, acme.id)  # January's 30.00, in advance
    assert draft is not None
    invoice = invoicing.finalize_invoice(ctx, tenant.actor, draft.id)
    support_agent = Console(ctx, tenant, Role.SUPPORT)
    assert support_agent.post(f"/console/customers/{acme.id}/credit",
                              data={"amount": "5", "description": "x"}).status_code == 403  # fmt: skip
    finance = Console(ctx, tenant, Role.FINANCE)
    page = finance.get(f"/console/customers/{acme.id}").text
    assert "Grant credit" in page and "Issue credit note" in page

    wrong = finance.post(f"/console/customers/{acme.id}/credit", data={"amount": "-3", "description": "oops"},
                         headers=HTMX)  # fmt: skip
    assert wrong.status_code == 422 and "positive amount" in wrong.text and 'value="-3"' in wrong.text
    granted = finance.post(f"/console/customers/{acme.id}/credit",
                           data={"amount": "12.50", "description": "Outage on 3 Jan"}, headers=HTMX)  # fmt: skip
    assert granted.status_code == 204
    balance, _ = credits.credit_balance(ctx, tenant.actor, acme.id, limit=5, cursor=None)
    assert balance.amount_text() == "12.50"

    base = f"/console/customers/{acme.id}/invoices/{invoice.id}"
    too_much = finance.post(f"{base}/credit_note", data={"position": "1", "amount": "999.00", "reason": "goodwill"},
                            headers=HTMX)  # fmt: skip
    assert (
        too_much.status_code == 422
        and 'role="alert"' in too_much.text
        and "Issue credit note" in too_much.text
    )
    note = finance.post(f"{base}/credit_note", data={"position": "1", "amount": "10.00", "reason": "goodwill",
                                                     "memo": "Sorry"}, headers=HTMX)  # fmt: skip
    assert note.status_code == 204, note.text
    notes = invoicing.list_credit_notes(ctx, tenant.actor, limit=10, cursor=None)
    assert [n.total.amount_text() for n in notes.items if n.invoice_id == invoice.id]

    retry = finance.post(f"{base}/retry", headers=HTMX)  # nothing failed, or nothing to pay: said in place
    assert retry.status_code in (409, 422) and 'role="alert"' in retry.text

    other, _ = seed_other(ctx, tenant)
    assert finance.post(f"/console/customers/{other}/invoices/{invoice.id}/retry").status_code == 404


def seed_other(ctx: ServiceContext, tenant: TenantAccess) -> tuple[str, None]:
    return customers.create_customer(ctx, tenant.actor, {"external_id": "other", "name": "Other"}).id, None


@pytest.mark.parametrize("role", [Role.READ_ONLY, Role.SUPPORT])
def test_money_actions_refused_without_billing(ctx: ServiceContext, tenant: TenantAccess, role: Role) -> None:
    acme, _ = seed(ctx, tenant)
    console = Console(ctx, tenant, role)
    assert console.post(f"/console/customers/{acme.id}/invoices/inv_x/retry").status_code == 403
    assert (
        console.post(f"/console/customers/{acme.id}/invoices/inv_x/credit_note", data={}).status_code == 403
    )
