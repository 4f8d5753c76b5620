"""Issue 10: the console dashboard (GET /console/) on SQLite and PostgreSQL, through a TestClient: every role
may see it, its figures are the reports' figures, an empty tenant gets "No data yet", a bad month is
refused next to its field, and the dashboard's own reads (kassa.services.dashboard) are exact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from kassa.core.access import Role
from kassa.core.errors import DomainError
from kassa.core.reports import to_json
from kassa.server import create_app
from kassa.services import dashboard, staff_auth, users
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess
from tests.web.dashboard_data import build

PASSWORD = "correct horse battery staple"
NOW = datetime(2026, 3, 10, 10, tzinfo=UTC)


def console(ctx: ServiceContext, tenant: TenantAccess, role: Role) -> TestClient:
    email = f"{role.value.replace('_', '-')}@example.com"
    user = users.create_user(ctx, tenant.actor, email=email, name=role.value.title(), role_name=role.value)
    _, token = staff_auth.invite(ctx, tenant.actor, user.id)
    staff_auth.accept_invitation(ctx, token, PASSWORD)
    client = TestClient(create_app(ctx), follow_redirects=False)
    answer = client.post("/console/login", data={"tenant": tenant.id, "email": email, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


@pytest.fixture
def business(ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock) -> None:
    build(ctx, tenant.actor)
    clock.at = NOW


def kpi(html: str, label: str) -> str:
    marker = f'data-kpi="{label}">'
    start = html.index(marker) + len(marker)
    return html[start : html.index("<", start)]


def test_needs_a_session(ctx: ServiceContext) -> None:
    answer = TestClient(create_app(ctx), follow_redirects=False).get("/console/")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?next=%2Fconsole%2F"


def test_an_empty_tenant_says_no_data_yet(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """A read-only user sees the dashboard; nothing billed yet: every chart says so, the tiles are zero."""
    page = console(ctx, tenant, Role.READ_ONLY).get("/console/")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Dashboard</h1>" in html
    assert html.count("No data yet") == 8 and "<canvas" not in html
    assert (
        kpi(html, "MRR") == "€0.00"
        and kpi(html, "Overdue") == "€0.00"
        and kpi(html, "Dunning recovery") == "–"
    )
    assert 'id="first" name="first" type="month" value="2025-02"' in html  # the 12 months to January 2026
    assert 'id="last" name="last" type="month" value="2026-01"' in html
    assert '<script type="application/json" id="dashboard-data">[]</script>' in html


def test_the_figures_are_the_reports(ctx: ServiceContext, tenant: TenantAccess, business: None) -> None:
    html = console(ctx, tenant, Role.FINANCE).get("/console/?first=2026-01&last=2026-03&currency=EUR").text
    got = {label: kpi(html, label) for label in ("MRR", "ARR", "Net new MRR", "Paying customers", "Customer churn",
                                                  "Billed", "Recognized", "Deferred revenue", "Collected", "Due",
                                                  "Overdue", "Dunning recovery")}  # fmt: skip
    assert got == {
        "MRR": "€849.00", "ARR": "€10,188.00", "Net new MRR": "€0.00", "Paying customers": "6",
        "Customer churn": "0.00 %", "Billed": "€2,417.00", "Recognized": "€1,841.89", "Deferred revenue": "€575.11",
        "Collected": "€2,017.00", "Due": "€0.00", "Overdue": "€400.00", "Dunning recovery": "33.33 %",
    }  # fmt: skip
    assert html.count("<canvas") == 8 and "No data yet" not in html
    assert '<th scope="row">Birke Bau</th><td class="num">€250.00</td>' in html  # the top customers' table
    assert "2 invoices entered dunning" not in html and "6 invoices entered dunning, 2 were recovered" in html


def test_a_bad_month_is_refused_next_to_its_field(ctx: ServiceContext, tenant: TenantAccess) -> None:
    client = console(ctx, tenant, Role.SUPPORT)
    answer = client.get("/console/?first=2026-05&last=2026-01")
    assert answer.status_code == 422
    assert (
        "`to` is not before `from`." in answer.text
        and 'id="last" name="last" type="month" value="2026-01"' in answer.text
    )
    assert 'aria-invalid="true"' in answer.text
    assert client.get("/console/?currency=XYZ").status_code == 422


def test_another_currency_without_rates_says_why(
    ctx: ServiceContext, tenant: TenantAccess, business: None
) -> None:
    """USD asked, no EUR→USD rate imported: each money panel says so; usage and dunning still draw."""
    html = console(ctx, tenant, Role.ADMIN).get("/console/?first=2026-01&last=2026-03&currency=USD").text
    assert html.count('class="flash error"') == 6
    assert 'id="chart-usage"' in html and 'id="chart-dunning"' in html


def test_collections_usage_and_top_customers(
    ctx: ServiceContext, tenant: TenantAccess, business: None
) -> None:
    collections = to_json(dashboard.collections_report(ctx, tenant.actor, "2026-01", "2026-03"))
    assert [(r["month"], r["payments"], r["collected"]["amount"]) for r in collections["rows"]] == [
        ("2026-01", 4, "499.00"), ("2026-02", 5, "759.00"), ("2026-03", 5, "759.00")]  # fmt: skip
    summary = {k: v["amount"] if isinstance(v, dict) else v for k, v in collections["summary"].items()}
    assert summary == {"on": "2026-03-10", "collected": "2017.00", "due": "0.00", "overdue": "400.00",
                       "open": "400.00", "aging_current": "0.00", "aging_1_30": "200.00", "aging_31_60": "100.00",
                       "aging_61_90": "100.00", "aging_over_90": "0.00"}  # fmt: skip
    usage = to_json(dashboard.usage_report(ctx, tenant.actor, "2025-12", "2026-03"))
    assert [(r["month"], r["metric"], r["events"]) for r in usage["rows"]] == [
        ("2025-12", "api_calls", 0), ("2026-01", "api_calls", 11), ("2026-02", "api_calls", 9),
        ("2026-03", "api_calls", 3)]  # fmt: skip
    top = to_json(dashboard.top_customers_report(ctx, tenant.actor, "2026-03", limit=3))
    assert [(r["name"], r["mrr"]["amount"]) for r in top["rows"]] == [
        ("Birke Bau", "250.00"), ("Cobalt Care", "250.00"), ("Alba Apps", "100.00")]  # fmt: skip
    assert top["summary"] == {"month": "2026-03", "customers": 6}
    before = to_json(dashboard.top_customers_report(ctx, tenant.actor, "2025-12"))
    assert before["rows"] == []
    with pytest.raises(DomainError) as refused:
        dashboard.top_customers_report(ctx, tenant.actor, "2026-03", limit=0)
    assert refused.value.code == "invalid_limit"
    assert dashboard.currencies(ctx, tenant.actor) == ["EUR"]
