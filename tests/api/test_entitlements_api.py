"""Entitlements over HTTP (issue 9): the list and a check in their exact shape for plan A with 2 x the
more-projects add-on, an unknown feature answered 200 with enabled false and source none, overrides put
(a limit, an allowance) and deleted, and problem+json errors with their codes and fields."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.services.test_entitlements import CATALOG


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _subscriber(client: TestClient) -> str:
    """Plan A with 2 x more-projects from 2026-01-01 (the test's clock is 2026-01-01 09:00 UTC)."""
    _ok(
        client.post(
            "/v1/billable_metrics", json={"code": "api_calls", "name": "API calls", "aggregation": "count"}
        ),
        201,
    )
    _ok(client.post("/v1/catalog", json={"document": CATALOG, "effective_at": "2025-01-01T00:00:00Z"}), 201)
    cid: str = _ok(
        client.post("/v1/customers", json={"external_id": "acme", "name": "Acme", "currency": "EUR"}), 201
    )["id"]
    _ok(client.post("/v1/subscriptions", json={"customer_id": cid, "plan": "plan-a", "start_date": "2026-01-01",
                                               "addons": {"more-projects": 2}}), 201)  # fmt: skip
    return cid


def entitlement(feature: str, **fields: Any) -> dict[str, Any]:
    return {"object": "entitlement", "feature": feature, "kind": None, "enabled": False, "limit": None,
            "allowance": None, "suspended": False, "reason": None, "source": "none", "override_reason": None,
            **fields}  # fmt: skip


SSO = entitlement("sso", kind="feature", enabled=True, source="plan")
PROJECTS = entitlement("projects", kind="limit", enabled=True, limit=20, source="plan")
CALLS = entitlement("api-calls", kind="allowance", enabled=True, source="plan",
                    allowance={"metric": "api_calls", "quantity": "10000", "used": "0", "remaining": "10000"})  # fmt: skip


def test_list_and_check(client: TestClient) -> None:
    cid = _subscriber(client)
    listed = _ok(client.get(f"/v1/customers/{cid}/entitlements"))
    assert (listed["object"], listed["customer_id"], listed["as_of"]) == ("list", cid, "2026-01-01T09:00:00Z")
    assert listed["data"] == [CALLS, PROJECTS, SSO]
    assert _ok(client.get(f"/v1/customers/{cid}/entitlements/sso")) == SSO
    assert _ok(client.get(f"/v1/customers/{cid}/entitlements/audit-log")) == entitlement("audit-log")


def test_overrides_put_and_deleted(client: TestClient) -> None:
    cid = _subscriber(client)
    url = f"/v1/customers/{cid}/entitlements"
    put = _ok(client.put(f"{url}/projects", json={"value": 50, "reason": "Enterprise deal"}))
    assert put == {**PROJECTS, "limit": 50, "source": "override", "override_reason": "Enterprise deal"}
    assert _ok(client.get(f"{url}/projects")) == put
    more = _ok(client.put(f"{url}/api-calls", json={"value": {"metric": "api_calls", "quantity": "25000"}}))
    assert more["allowance"] == {
        "metric": "api_calls",
        "quantity": "25000",
        "used": "0",
        "remaining": "25000",
    }
    beta = _ok(client.put(f"{url}/beta", json={"value": True}))
    assert beta == entitlement("beta", kind="feature", enabled=True, source="override")
    off = _ok(client.put(f"{url}/sso", json={"value": False}))
    assert off == {**SSO, "enabled": False, "source": "override"}
    assert [e["feature"] for e in _ok(client.get(url))["data"]] == ["api-calls", "beta", "projects", "sso"]
    assert _ok(client.delete(f"{url}/projects")) == PROJECTS
    again = client.delete(f"{url}/projects")
    assert (again.status_code, again.json()["code"]) == (404, "entitlement_override_not_found")
    events = _ok(client.get("/v1/events", params={"customer_id": cid, "limit": 100}))["data"]
    kinds = [e["type"] for e in events if e["type"].startswith("entitlement_override.")]
    assert sorted(kinds) == ["entitlement_override.deleted"] + ["entitlement_override.updated"] * 4


def test_errors(client: TestClient) -> None:
    cid = _subscriber(client)
    url = f"/v1/customers/{cid}/entitlements"
    for body, code, field in (
        ({"value": -1}, "invalid_entitlement", "value"),
        ({"value": 1.5}, "invalid_entitlement", "value"),
        ({"value": "yes"}, "invalid_entitlement", "value"),
        ({"value": {"metric": "api_calls"}}, "invalid_entitlement", "value"),
        ({"value": {"metric": "api_calls", "quantity": "-1"}}, "invalid_entitlement", "value.quantity"),
        ({"value": {"metric": "API", "quantity": "1"}}, "invalid_entitlement", "value.metric"),
        ({}, "required", "value"),
        ({"value": True, "why": "x"}, "unknown_field", "why"),
        ({"value": True, "reason": ""}, "invalid_value", "reason"),
    ):
        response = client.put(f"{url}/sso", json=body)
        problem = response.json()
        assert (response.status_code, problem["code"], problem["field"]) == (422, code, field), body
    assert _ok(client.get(f"{url}/sso")) == SSO  # nothing changed
    bad = client.get(f"{url}/Not%20a%20code")
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid_value", "feature")
    missing = client.get("/v1/customers/cus_missing/entitlements/sso")
    assert (missing.status_code, missing.json()["code"]) == (404, "customer_not_found")
