"""Cost to serve through the ASGI app, on SQLite and PostgreSQL: a cost recorded and listed, a CSV file
imported (a text/csv body; wrong lines answered as one problem listing each line), and the margin report in
JSON and CSV per customer and per plan. The clock stands at 1 Jan 2026, 09:00 UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from kassa.store.tables import revenue_schedules
from tests.conftest import TenantAccess

CSV = {"Content-Type": "text/csv"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["code"], body["field"]) == (code, field), body
    assert response.headers["content-type"] == "application/problem+json"
    return body


def _customer(client: TestClient, key: str) -> str:
    return str(ok(client.post("/v1/customers", json={"external_id": key, "name": key.title()}), 201)["id"])


def _revenue(
    ctx: ServiceContext, tenant_id: str, customer_id: str, plan: str, month: date, minor: int
) -> None:
    with ctx.uow() as uow:
        uow.conn.execute(revenue_schedules.insert(), [{
            "tenant_id": tenant_id, "id": f"rs_{plan}_{customer_id[-8:]}", "customer_id": customer_id,
            "subscription_id": None, "invoice_id": "inv_1", "source_type": "invoice", "source_id": "inv_1",
            "position": 1, "product": "saas", "plan": plan, "line_kind": "recurring", "pattern": "ratable",
            "currency": "EUR", "billed_on": month, "month": month, "starts_on": month, "ends_on": month.replace(day=28),
            "amount_minor": minor, "discount_minor": 0, "recognized_minor": minor, "pending": False,
            "mrr_minor": minor, "created_at": datetime(2026, 1, 1, tzinfo=UTC)}])  # fmt: skip
        uow.commit()


def test_record_and_list_costs(client: TestClient) -> None:
    """POST answers 201 with the cost as stored; GET lists the customer's costs newest first."""
    cid = _customer(client, "acme")
    body = {"occurred_on": "2026-03-05", "kind": "support", "cost": {"amount": "45.00", "currency": "EUR"},
            "minutes": 30, "description": "Onboarding call"}  # fmt: skip
    made = ok(client.post(f"/v1/customers/{cid}/costs", json=body), 201)
    assert made == {"id": made["id"], "object": "cost_entry", "customer_id": cid, "occurred_on": "2026-03-05",
                    "kind": "support", "cost": {"amount": "45.00", "currency": "EUR"}, "minutes": 30,
                    "description": "Onboarding call", "source": "api", "external_id": None,
                    "created_at": "2026-01-01T09:00:00Z"}  # fmt: skip
    assert made["id"].startswith("cost_")
    listed = ok(client.get(f"/v1/customers/{cid}/costs", params={"limit": 5}))
    assert (listed["data"], listed["has_more"], listed["next_cursor"]) == ([made], False, None)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"cost": {"amount": 45.0, "currency": "EUR"}}, "amount_must_be_string", "cost.amount"),
        ({"cost": {"amount": "-1.00", "currency": "EUR"}}, "invalid_amount", "cost.amount"),
        ({"cost": {"amount": "1.005", "currency": "EUR"}}, "invalid_amount", "cost.amount"),
        ({"minutes": 100_001}, "invalid_value", "minutes"),
        ({"kind": "travel"}, "invalid_value", "kind"),
        ({"customer_id": "cus_x"}, "unknown_field", "customer_id"),
    ],
)
def test_a_bad_cost_is_refused(client: TestClient, change: dict[str, Any], code: str, field: str) -> None:
    """Amounts are strings, zero or more, in minor units; minutes up to 100,000; a known kind; no other field."""
    cid = _customer(client, "acme")
    body = {"occurred_on": "2026-03-05", "kind": "support", "cost": {"amount": "1.00", "currency": "EUR"}}
    refused(client.post(f"/v1/customers/{cid}/costs", json=body | change), 422, code, field)
    assert ok(client.get(f"/v1/customers/{cid}/costs"))["data"] == []


def test_an_unknown_customer_is_404(client: TestClient) -> None:
    """Recording for or listing a customer that does not exist (or is another tenant's) is 404."""
    body = {"occurred_on": "2026-03-05", "kind": "other", "cost": {"amount": "1.00", "currency": "EUR"}}
    refused(client.post("/v1/customers/cus_nobody/costs", json=body), 404, "customer_not_found")
    refused(client.get("/v1/customers/cus_nobody/costs"), 404, "customer_not_found")


def test_import_a_csv_body_once(client: TestClient) -> None:
    """A text/csv body: rows counted, added, and skipped when sent again; an Idempotency-Key replays."""
    cid = _customer(client, "acme")
    content = "customer,date,amount,currency,id\nacme,2026-03-31,120.00,EUR,aws-03\n"
    first = ok(client.post("/v1/costs/import", content=content, headers=CSV | {"Idempotency-Key": "imp-1"}))
    assert first == {"object": "cost_import", "rows": 1, "added": 1, "skipped": 0}
    replay = client.post("/v1/costs/import", content=content, headers=CSV | {"Idempotency-Key": "imp-1"})
    assert (replay.json(), replay.headers["idempotent-replayed"]) == (first, "true")
    assert ok(client.post("/v1/costs/import", content=content, headers=CSV)) == {
        "object": "cost_import", "rows": 1, "added": 0, "skipped": 1
    }  # fmt: skip
    listed = ok(client.get(f"/v1/customers/{cid}/costs"))["data"]
    assert [(c["external_id"], c["kind"], c["source"]) for c in listed] == [
        ("aws-03", "infrastructure", "import")
    ]


def test_a_wrong_file_is_one_problem_listing_each_line(client: TestClient) -> None:
    """422 invalid_cost_file naming the first wrong line, `errors` listing every one; nothing imported."""
    cid = _customer(client, "acme")
    content = "customer,date,amount,currency\nacme,2026-03-31,1.00,EUR\nnobody,2026-03-31,1.00,EUR\nacme,31.03.2026,1,EUR\n"
    body = refused(client.post("/v1/costs/import", content=content, headers=CSV), 422, "invalid_cost_file",
                   "line 3.customer")  # fmt: skip
    assert body["errors"] == [
        {"code": "customer_not_found", "field": "line 3.customer",
         "message": "No customer with the id or external id 'nobody'."},
        {"code": "invalid_date", "field": "line 4.date", "message": "A day is written YYYY-MM-DD, like 2026-03-31."},
    ]  # fmt: skip
    assert body["detail"] == (
        "Line 3: No customer with the id or external id 'nobody'. (1 more lines are wrong) Nothing was imported."
    )
    refused(client.post("/v1/costs/import", content=b"\xff\xfe", headers=CSV), 422, "invalid_csv", "file")
    refused(client.post("/v1/costs/import", content=b"", headers=CSV), 422, "invalid_csv", "line 1")
    assert ok(client.get(f"/v1/customers/{cid}/costs"))["data"] == []


def test_margin_report_json_and_csv(client: TestClient, ctx: ServiceContext, tenant: TenantAccess) -> None:
    """February: ACME 200.00 on pro, 50.00 + 30.00 of cost; Globex 80.00 on basic, no cost. Per customer in
    JSON, per plan in CSV (a download named after the report)."""
    acme, globex = _customer(client, "acme"), _customer(client, "globex")
    _revenue(ctx, tenant.id, acme, "pro", date(2026, 2, 1), 20_000)
    _revenue(ctx, tenant.id, globex, "basic", date(2026, 2, 1), 8_000)
    ok(client.post("/v1/costs/import", content="customer,date,amount,currency\nacme,2026-02-10,50.00,EUR\n",
                   headers=CSV))  # fmt: skip
    ok(client.post(f"/v1/customers/{acme}/costs", json={"occurred_on": "2026-02-20", "kind": "support",
                   "cost": {"amount": "30.00", "currency": "EUR"}}), 201)  # fmt: skip
    doc = ok(client.get("/v1/reports/margin", params={"from": "2026-02", "to": "2026-02"}))
    assert [(r["external_id"], r["revenue"]["amount"], r["cost"]["amount"], r["margin"]["amount"],
             r["margin_percent"]) for r in doc["rows"]] == [
        ("acme", "200.00", "80.00", "120.00", "60.00"), ("globex", "80.00", "0.00", "80.00", "100.00")]  # fmt: skip
    assert (doc["report"], doc["currency"], doc["summary"]["margin"]) == (
        "margin_by_customer", "EUR", {"amount": "200.00", "currency": "EUR"})  # fmt: skip
    response = client.get("/v1/reports/margin", params={"from": "2026-01", "to": "2026-03", "by": "plan",
                                                        "format": "csv", "currency": "EUR"})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="margin_by_plan.csv"'
    assert response.text == (
        "plan,customers,revenue,cost,margin,margin_percent\r\n"
        "basic,1,80.00,0.00,80.00,100.00\r\n"
        "pro,1,200.00,80.00,120.00,60.00\r\n"
    )


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"from": "2026-2", "to": "2026-02"}, "invalid_value", "from"),
        ({"from": "2026-13", "to": "2026-12"}, "invalid_month", "from"),
        ({"from": "2026-03", "to": "2026-02"}, "invalid_month", "to"),
        ({"from": "2026-02", "to": "2026-02", "by": "product"}, "invalid_value", "by"),
        ({"from": "2026-02", "to": "2026-02", "currency": "eur"}, "invalid_value", "currency"),
        ({"from": "2026-02", "to": "2026-02", "currency": "XXX"}, "unknown_currency", "currency"),
    ],
)
def test_margin_report_parameters(client: TestClient, params: dict[str, str], code: str, field: str) -> None:
    """from and to as YYYY-MM, in order; by customer or plan; an ISO currency."""
    refused(client.get("/v1/reports/margin", params=params), 422, code, field)


def test_the_period_defaults_to_the_twelve_months_up_to_this_one(client: TestClient) -> None:
    """Without from and to: this month in the tenant's time zone (January 2026 on the clock) and the eleven
    before it; with only `to`, the eleven months before it."""
    summary = ok(client.get("/v1/reports/margin"))["summary"]
    assert (summary["from"], summary["to"], summary["customers"]) == ("2025-02", "2026-01", 0)
    summary = ok(client.get("/v1/reports/margin", params={"to": "2026-12"}))["summary"]
    assert (summary["from"], summary["to"]) == ("2026-01", "2026-12")


def test_the_import_documents_its_csv_body(client: TestClient) -> None:
    """OpenAPI: the import takes text/csv; the report answers JSON or CSV."""
    paths = ok(client.get("/openapi.json"))["paths"]
    assert list(paths["/v1/costs/import"]["post"]["requestBody"]["content"]) == ["text/csv"]
    assert set(paths["/v1/reports/margin"]["get"]["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
    }
    assert [p["name"] for p in paths["/v1/reports/margin"]["get"]["parameters"]] == [
        "from", "to", "by", "currency", "format"
    ]  # fmt: skip
