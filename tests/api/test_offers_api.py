"""Offers over HTTP (issue 9): PUT stores the next version (201), the same document again none (200);
GET with the version, the version history, DELETE withdraws (404 after it); validation errors as
problem+json with the path in the document; GET /v1/customers/{id}/offers answers which offers apply at the
customer's test clock time and why, `all=true` also those that do not."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

DACH = {
    "name": "Team for DACH SMBs",
    "priority": 10,
    "benefit": {"type": "plan", "plan": "team"},
    "conditions": {"all": [
        {"field": "customer.country", "op": "in", "value": ["DE", "AT", "CH"]},
        {"field": "customer.segment", "op": "eq", "value": "smb"},
    ]},
}  # fmt: skip
US = {
    "name": "Starter for 8 dollars",
    "benefit": {"type": "price", "plan": "starter", "price": {"amount": "8.00", "currency": "USD"}},
    "conditions": {"all": [{"field": "customer.country", "op": "eq", "value": "US"}]},
}
NEWCOMER = {
    "name": "Welcome coupon",
    "priority": 20,
    "ends_at": "2026-06-01T00:00:00+02:00",
    "benefit": {"type": "coupon", "coupon": "WELCOME"},
    "conditions": {"all": [{"field": "customer.tenure_days", "op": "lt", "value": 30}]},
}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_versions_over_http(client: TestClient) -> None:
    first = _ok(client.put("/v1/offers/dach", json=DACH), 201)
    assert {k: first[k] for k in ("object", "code", "version", "priority", "starts_at", "ends_at")} == {
        "object": "offer", "code": "dach", "version": 1, "priority": 10, "starts_at": None, "ends_at": None}  # fmt: skip
    assert first["conditions"] == DACH["conditions"] and first["benefit"] == DACH["benefit"]
    assert _ok(client.put("/v1/offers/dach", json=DACH), 200)["version"] == 1
    second = _ok(client.put("/v1/offers/dach", json={**DACH, "priority": 11}), 201)
    assert second["version"] == 2
    assert _ok(client.get("/v1/offers/dach")) == second
    _ok(client.put("/v1/offers/us", json=US), 201)
    assert [(o["code"], o["version"]) for o in _ok(client.get("/v1/offers"))["data"]] == [
        ("dach", 2),
        ("us", 1),
    ]

    assert client.delete("/v1/offers/dach").status_code == 204
    missing = client.get("/v1/offers/dach")
    assert (missing.status_code, missing.json()["code"]) == (404, "offer_not_found")
    assert client.delete("/v1/offers/dach").status_code == 404
    assert [o["code"] for o in _ok(client.get("/v1/offers"))["data"]] == ["us"]
    history = _ok(client.get("/v1/offers/dach/versions"))["data"]
    assert [(v["version"], v["withdrawn"], v["offer"] and v["offer"]["priority"]) for v in history] == [
        (1, False, 10), (2, False, 11), (3, True, None)]  # fmt: skip
    assert client.get("/v1/offers/never/versions").status_code == 404


def test_validation_errors_name_the_path(client: TestClient) -> None:
    bad_op = {**DACH, "conditions": {"all": [{"field": "customer.tenure_days", "op": "in", "value": [1]}]}}
    problem = client.put("/v1/offers/dach", json=bad_op)
    assert problem.status_code == 422
    assert (problem.json()["code"], problem.json()["field"]) == ("invalid_offer", "conditions.all.0.op")
    float_value = {**DACH, "conditions": {"field": "usage.api_calls", "op": "gt", "value": 1.5}}
    problem = client.put("/v1/offers/dach", json=float_value).json()
    assert (problem["code"], problem["field"]) == ("invalid_offer", "conditions.value")
    problem = client.put("/v1/offers/dach", json={**DACH, "code": "other"}).json()
    assert (problem["code"], problem["field"]) == ("code_mismatch", "code")
    problem = client.put("/v1/offers/dach", json={**DACH, "ends_at": "tomorrow"}).json()
    assert problem["field"] == "ends_at"
    assert client.put("/v1/offers/Bad!", json=DACH).status_code == 422
    assert _ok(client.get("/v1/offers"))["data"] == []


def test_a_customers_offers_at_its_test_clock(client: TestClient) -> None:
    clock = _ok(
        client.post("/v1/test_clocks", json={"name": "t", "frozen_time": "2026-05-10T12:00:00Z"}), 201
    )
    body = {"external_id": "acme", "name": "ACME", "currency": "EUR", "test_clock_id": clock["id"],
            "metadata": {"segment": "smb"},
            "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}}  # fmt: skip
    customer = _ok(client.post("/v1/customers", json=body), 201)["id"]
    for code, doc in (("dach", DACH), ("us", US), ("newcomer", NEWCOMER)):
        _ok(client.put(f"/v1/offers/{code}", json=doc), 201)

    found = _ok(client.get(f"/v1/customers/{customer}/offers"))
    assert (found["object"], found["customer_id"], found["at"]) == (
        "customer_offers",
        customer,
        "2026-05-10T12:00:00Z",
    )
    assert [(d["code"], d["applies"], d["reasons"], d["offer"]["version"]) for d in found["data"]] == [
        ("newcomer", True, ["valid until 2026-05-31T22:00:00+00:00", "customer.tenure_days is 0, below 30"], 1),
        ("dach", True, ["customer.country is DE (wanted one of DE, AT, CH)", "customer.segment is smb"], 1),
    ]  # fmt: skip
    everything = _ok(client.get(f"/v1/customers/{customer}/offers", params={"all": "true"}))["data"]
    assert [(d["code"], d["applies"]) for d in everything] == [
        ("newcomer", True),
        ("dach", True),
        ("us", False),
    ]
    assert everything[2]["reasons"] == [
        "customer.country is DE, not US",
        "the price is in USD, customer.currency is EUR",
    ]

    # a month on the clock: the customer is no newcomer, and the welcome offer has ended
    _ok(client.post(f"/v1/test_clocks/{clock['id']}/advance", json={"frozen_time": "2026-06-10T12:00:00Z"}))
    later = _ok(client.get(f"/v1/customers/{customer}/offers", params={"all": "true"}))
    assert later["at"] == "2026-06-10T12:00:00Z"
    newcomer = next(d for d in later["data"] if d["code"] == "newcomer")
    assert (newcomer["applies"], newcomer["reasons"]) == (False, [
        "no longer valid since 2026-05-31T22:00:00+00:00", "customer.tenure_days is 31, not below 30"])  # fmt: skip
    missing = client.get("/v1/customers/cus_nobody/offers")
    assert (missing.status_code, missing.json()["code"]) == (404, "customer_not_found")
