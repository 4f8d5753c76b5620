"""Errors are RFC 9457 problem+json with a stable code, a field path and the request id; amounts travel as
strings; a refused request writes nothing. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from kassa.store.tables import audit_events, customers, events

PROBLEM = "application/problem+json"


def counts(ctx: ServiceContext) -> tuple[int, ...]:
    with ctx.engine.connect() as conn:
        return tuple(
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (customers, audit_events, events)
        )


def test_a_problem_has_type_title_status_detail_code_field_and_request_id(client: TestClient) -> None:
    response = client.post(
        "/v1/customers",
        json={"external_id": "x", "name": "X", "address": {"line1": "a", "city": "b", "country": "QQ"}},
        headers={"X-Request-Id": "req-4711"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "req-4711"
    assert response.json() == {
        "type": "https://kassa.dev/problems/invalid_country",
        "title": "Invalid request",
        "status": 422,
        "detail": "'QQ' is not an ISO 3166-1 alpha-2 country code.",
        "code": "invalid_country",
        "field": "address.country",
        "request_id": "req-4711",
    }


def test_a_schema_error_lists_every_field(client: TestClient) -> None:
    response = client.post(
        "/v1/customers", json={"name": "", "currency": "eur", "address": {"city": "b", "country": "DE"}}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_value", "name")  # the first, in schema order
    assert body["request_id"] == response.headers["x-request-id"]
    assert sorted((e["code"], e["field"]) for e in body["errors"]) == [
        ("invalid_value", "currency"),
        ("invalid_value", "name"),
        ("required", "address.line1"),
        ("required", "external_id"),
    ]


def test_a_json_number_amount_is_refused(client: TestClient, ctx: ServiceContext) -> None:
    before = counts(ctx)
    for amount in (12.5, 12, 5000.00):
        response = client.post(
            "/v1/customers",
            json={"external_id": "x", "name": "X", "credit_limit": {"amount": amount, "currency": "EUR"}},
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert (body["code"], body["field"]) == ("amount_must_be_string", "credit_limit.amount")
        assert body["detail"] == 'Amounts are strings like "12.34", never JSON numbers (a float is inexact).'
    assert counts(ctx) == before


@pytest.mark.parametrize("amount", ["12,50", "1e3", "+12.50", " 12.50", "12.", ".50", "12.50 EUR", ""])
def test_an_amount_in_another_spelling_is_refused(client: TestClient, amount: str) -> None:
    response = client.post(
        "/v1/customers",
        json={"external_id": "x", "name": "X", "credit_limit": {"amount": amount, "currency": "EUR"}},
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_value", "credit_limit.amount")
    assert client.get("/v1/customers").json()["data"] == []


@pytest.mark.parametrize(
    ("credit_limit", "code", "field"),
    [
        (
            {"amount": "12.345", "currency": "EUR"},
            "invalid_credit_limit",
            "credit_limit",
        ),  # finer than a cent
        ({"amount": "-1.00", "currency": "EUR"}, "invalid_credit_limit", "credit_limit"),
        ({"amount": "10.00", "currency": "eur"}, "invalid_value", "credit_limit.currency"),
        ({"amount": "10.00"}, "required", "credit_limit.currency"),
        ({"amount": "10.00", "currency": "EUR", "cents": 3}, "unknown_field", "credit_limit.cents"),
    ],
)
def test_a_credit_limit_must_be_whole_minor_units(
    client: TestClient, credit_limit: dict[str, Any], code: str, field: str
) -> None:
    response = client.post(
        "/v1/customers", json={"external_id": "x", "name": "X", "credit_limit": credit_limit}
    )
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == (code, field)


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [("EUR", "5000", "5000.00"), ("EUR", "0.10", "0.10"), ("JPY", "5000", "5000"), ("KWD", "1.250", "1.250")],
)
def test_amounts_come_back_as_strings_in_the_currencys_minor_units(
    client: TestClient, currency: str, amount: str, shown: str
) -> None:
    response = client.post(
        "/v1/customers",
        json={
            "external_id": "x",
            "name": "X",
            "currency": currency,
            "credit_limit": {"amount": amount, "currency": currency},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["credit_limit"] == {"amount": shown, "currency": currency}
    assert client.get(f"/v1/customers/{response.json()['id']}").json()["credit_limit"] == {
        "amount": shown,
        "currency": currency,
    }


def test_a_refused_request_writes_nothing(client: TestClient, ctx: ServiceContext) -> None:
    parent = client.post("/v1/customers", json={"external_id": "p", "name": "P", "currency": "EUR"}).json()
    before = counts(ctx)
    assert before == (1, 3, 3)  # customers: the parent; audit and events: tenant, key, customer
    refusals = [
        client.post(  # refused by the rules, after the request parsed
            "/v1/customers",
            json={
                "external_id": "c",
                "name": "C",
                "currency": "USD",
                "parent_id": parent["id"],
                "bill_to_parent": True,
            },
        ),
        client.post("/v1/customers", json={"external_id": "p", "name": "Again"}),  # 409
        client.post(  # refused by the schema
            "/v1/customers",
            json={"external_id": "c", "name": "C", "credit_limit": {"amount": 1, "currency": "EUR"}},
        ),
        client.patch(
            f"/v1/customers/{parent['id']}",
            json={"name": "New", "tax_ids": [{"type": "eu_vat", "value": "DE1"}]},
        ),
        client.patch("/v1/settings", json={"legal_name": "L", "bank": {"iban": "DE00"}}),
    ]
    assert [r.status_code for r in refusals] == [422, 409, 422, 422, 422]
    assert counts(ctx) == before
    assert client.get(f"/v1/customers/{parent['id']}").json()["name"] == "P"
    assert client.get("/v1/settings").json()["legal_name"] is None


def test_malformed_json_is_400_invalid_json(client: TestClient, ctx: ServiceContext) -> None:
    before = counts(ctx)
    response = client.post(
        "/v1/customers", content=b'{"external_id": "x",', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "invalid_json"
    assert response.json()["title"] == "Bad request"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert counts(ctx) == before


def test_malformed_json_names_no_field(client: TestClient) -> None:
    """A body that is not JSON has no field at fault (pydantic's location is a character offset)."""
    response = client.post("/v1/customers", content=b"{bad", headers={"content-type": "application/json"})
    assert response.json()["field"] is None


def test_unknown_routes_and_methods_are_problems(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert (missing.status_code, missing.headers["content-type"], missing.json()["code"]) == (
        404,
        PROBLEM,
        "not_found",
    )
    wrong = client.delete("/v1/customers")
    assert (wrong.status_code, wrong.headers["content-type"], wrong.json()["code"]) == (
        405,
        PROBLEM,
        "method_not_allowed",
    )


def test_an_amount_beyond_a_bigint_is_a_422_not_a_500(client: TestClient) -> None:
    """Issue 3: amounts of record are BIGINT minor units; one that cannot be stored is refused by name."""
    body = {
        "external_id": "big",
        "name": "Big",
        "credit_limit": {"amount": "99999999999999999999999", "currency": "EUR"},
    }
    response = client.post("/v1/customers", json=body)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("amount_too_large", "credit_limit.amount")
    largest = {**body, "credit_limit": {"amount": "92233720368547758.07", "currency": "EUR"}}
    assert (
        client.post("/v1/customers", json=largest).json()["credit_limit"]["amount"] == "92233720368547758.07"
    )
