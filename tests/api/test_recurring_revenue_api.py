"""/v1/reports/mrr, /v1/reports/cohorts and /v1/reports/churn_risk through the ASGI app, on SQLite and
PostgreSQL: JSON and CSV, the default months, bad parameters as problems. The clock stands at 1 Jan 2026,
09:00 UTC."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from kassa.store.tables import revenue_schedules
from tests.conftest import TenantAccess, make_tenant
from tests.store.test_recurring_revenue_sql import schedule_row

NOV, DEC, JAN = date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1)


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["field"]) == (code, field), body


@pytest.fixture
def history(ctx: ServiceContext, client: TestClient, tenant: TenantAccess) -> None:
    """Acme pays 100.00 in November and December and 150.00 in January; Globex pays 40.00 in November only."""
    acme = client.post("/v1/customers", json={"external_id": "acme", "name": "Acme"}).json()["id"]
    globex = client.post("/v1/customers", json={"external_id": "globex", "name": "Globex"}).json()["id"]
    rows = [
        schedule_row(tenant.id, acme, NOV, DEC, 10000),
        schedule_row(tenant.id, acme, DEC, JAN, 10000),
        schedule_row(tenant.id, acme, JAN, date(2026, 2, 1), 15000),
        schedule_row(tenant.id, globex, NOV, DEC, 4000),
    ]
    with ctx.uow() as uow:
        uow.conn.execute(revenue_schedules.insert(), rows)
        uow.commit()


def test_mrr_json(client: TestClient, history: None) -> None:
    """The MRR report as JSON: one row per month, amounts as money objects, the notes saying the formulas."""
    doc = ok(client.get("/v1/reports/mrr", params={"from": "2025-11", "to": "2026-01"}))
    assert doc["report"] == "mrr" and doc["currency"] == "EUR"
    assert [(r["month"], r["mrr"]["amount"], r["churned_mrr"]["amount"], r["expansion_mrr"]["amount"])
            for r in doc["rows"]] == [("2025-11", "140.00", "0.00", "0.00"),
                                      ("2025-12", "100.00", "40.00", "0.00"),
                                      ("2026-01", "150.00", "0.00", "50.00")]  # fmt: skip
    assert doc["rows"][1]["logo_churn_pct"] == "50.00"
    assert doc["summary"]["arr"] == {"amount": "1800.00", "currency": "EUR"}
    assert any("net_new_mrr" in note for note in doc["notes"])


def test_mrr_csv(client: TestClient, history: None) -> None:
    """?format=csv: a download with one header line and plain amounts."""
    response = client.get("/v1/reports/mrr", params={"from": "2025-12", "to": "2025-12", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="mrr.csv"'
    header, row = response.text.splitlines()
    assert header.split(",")[:10] == ["month", "opening_mrr", "new_mrr", "expansion_mrr", "reactivation_mrr",
                                      "contraction_mrr", "churned_mrr", "net_new_mrr", "fx_mrr", "mrr"]  # fmt: skip
    assert row.split(",")[:10] == ["2025-12", "140.00", "0.00", "0.00", "0.00", "0.00", "40.00", "-40.00",
                                   "0.00", "100.00"]  # fmt: skip


def test_default_months(client: TestClient) -> None:
    """Without from and to: the twelve months up to this one (January 2026 on the clock)."""
    doc = ok(client.get("/v1/reports/mrr"))
    assert (doc["summary"]["from"], doc["summary"]["to"], len(doc["rows"])) == (
        "2025-02",
        "2026-01",
        12,
    )


def test_cohorts(client: TestClient, history: None) -> None:
    """November's cohort: both customers, then Acme alone with more MRR than the cohort started with."""
    doc = ok(client.get("/v1/reports/cohorts", params={"from": "2025-11", "to": "2026-01"}))
    assert [(r["month"], r["active_customers"], r["logo_retention_pct"], r["mrr_retention_pct"])
            for r in doc["rows"]] == [("2025-11", 2, "100.00", "100.00"), ("2025-12", 1, "50.00", "71.43"),
                                      ("2026-01", 1, "50.00", "107.14")]  # fmt: skip


def test_churn_risk(client: TestClient, history: None) -> None:
    """Nobody downgraded within 90 days of 1 January (Acme went up; Globex churned, which is not a
    downgrade), no usage, no failed payment: an empty list, with the columns and the notes."""
    doc = ok(client.get("/v1/reports/churn_risk", params={"limit": 5}))
    assert doc["rows"] == [] and doc["columns"][:4] == ["customer_id", "customer_name", "score", "level"]
    assert doc["summary"] == {"customers": 0, "high": 0, "medium": 0, "low": 0}
    csv = client.get("/v1/reports/churn_risk", params={"format": "csv"})
    assert csv.text.startswith("customer_id,customer_name,score,level,signals,")


@pytest.mark.parametrize(
    ("path", "params", "code", "field"),
    [
        ("mrr", {"from": "2026-1"}, "invalid_value", "from"),
        ("mrr", {"from": "2026-13", "to": "2026-12"}, "invalid_month", "from"),
        ("mrr", {"from": "2026-03", "to": "2026-02"}, "invalid_month", "to"),
        ("mrr", {"to": "0001-01"}, "invalid_month", "to"),
        ("mrr", {"currency": "eur"}, "invalid_value", "currency"),
        ("mrr", {"currency": "XXX"}, "unknown_currency", "currency"),
        ("mrr", {"format": "xml"}, "invalid_value", "format"),
        ("cohorts", {"from": "2026-03", "to": "2026-02"}, "invalid_month", "to"),
        ("churn_risk", {"limit": 0}, "invalid_value", "limit"),
        ("churn_risk", {"limit": 1001}, "invalid_value", "limit"),
        # issue 8 (review): months past the year range were a 500 on these
        ("margin", {"from": "9999-01", "to": "9999-12"}, "invalid_month", "from"),
        ("revenue", {"from": "9999-01", "to": "9999-12"}, "invalid_month", "from"),
        ("deferred_revenue", {"from": "0001-01", "to": "0001-01"}, "invalid_month", "from"),
    ],
)
def test_bad_parameters(client: TestClient, path: str, params: dict[str, Any], code: str, field: str) -> None:
    """Months as YYYY-MM in order, an ISO currency, json or csv, limit 1 to 1000: else a 422 problem."""
    refused(client.get(f"/v1/reports/{path}", params=params), 422, code, field)


def test_missing_rate_is_a_problem(ctx: ServiceContext, client: TestClient, history: None) -> None:
    """Reporting in a currency without imported rates: 422 missing_exchange_rate."""
    response = client.get("/v1/reports/mrr", params={"from": "2025-11", "to": "2025-11", "currency": "USD"})
    assert response.status_code == 422
    assert response.json()["code"] == "missing_exchange_rate"


def test_another_tenant_sees_nothing(ctx: ServiceContext, client: TestClient, history: None) -> None:
    """A second tenant's key reads its own (empty) MRR."""
    other = make_tenant(ctx, "Other Co")
    doc = ok(
        client.get("/v1/reports/mrr", params={"from": "2025-11", "to": "2026-01"}, headers=other.headers)
    )
    assert {r["mrr"]["amount"] for r in doc["rows"]} == {"0.00"}


def test_unauthenticated(ctx: ServiceContext, client: TestClient) -> None:
    """No key, no report."""
    response = client.get("/v1/reports/mrr", headers={"Authorization": ""})
    assert response.status_code == 401
