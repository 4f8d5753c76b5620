"""/v1/customers through the HTTP API: every field, partial updates, pages, filters, archiving, the rules
of the account hierarchy and the timeline. Runs on SQLite and PostgreSQL (the `client` fixture)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.server import create_app
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess, make_tenant

FULL: dict[str, Any] = {
    "external_id": "crm-1001",
    "name": "Müller GmbH",
    "legal_name": "Müller Maschinenbau GmbH",
    "emails": ["billing@mueller.example", "ap@mueller.example"],
    "address": {
        "line1": "Hauptstraße 1",
        "line2": "3. OG",
        "city": "Berlin",
        "postal_code": "10115",
        "state": "BE",
        "country": "DE",
    },
    "currency": "EUR",
    "locale": "de_DE",
    "time_zone": "Europe/Berlin",
    "tax_ids": [{"type": "eu_vat", "value": "DE 136 695 976"}],
    "payment_terms_days": 30,
    "credit_limit": {"amount": "5000.00", "currency": "EUR"},
    "metadata": {"segment": "enterprise", "crm": "hubspot"},
}


def create(client: TestClient, external_id: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/customers", json={"external_id": external_id, "name": external_id, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: Any, status: int, code: str, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["code"], body["field"]) == (code, field), body


def test_create_with_every_field_then_get(client: TestClient) -> None:
    response = client.post("/v1/customers", json=FULL)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["id"].startswith("cus_")
    assert created == {
        "id": created["id"],
        "external_id": "crm-1001",
        "name": "Müller GmbH",
        "legal_name": "Müller Maschinenbau GmbH",
        "emails": ["billing@mueller.example", "ap@mueller.example"],
        "address": {
            "line1": "Hauptstraße 1",
            "line2": "3. OG",
            "city": "Berlin",
            "postal_code": "10115",
            "state": "BE",
            "country": "DE",
        },
        "currency": "EUR",
        "locale": "de_DE",
        "time_zone": "Europe/Berlin",
        "tax_ids": [{"type": "eu_vat", "value": "DE136695976", "country": "DE"}],
        "payment_terms_days": 30,
        "parent_id": None,
        "bill_to_parent": False,
        "tax_exempt": False,
        "credit_limit": {"amount": "5000.00", "currency": "EUR"},
        "bill_cycle_day": None,
        "metadata": {"segment": "enterprise", "crm": "hubspot"},
        "test_clock_id": None,
        "created_at": "2026-01-01T09:00:00Z",
        "updated_at": "2026-01-01T09:00:00Z",
        "archived_at": None,
    }
    got = client.get(f"/v1/customers/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created


def test_defaults_come_from_the_tenant_settings(client: TestClient) -> None:
    client.patch(
        "/v1/settings", json={"default_currency": "CHF", "locale": "fr_CH", "time_zone": "Europe/Zurich"}
    )
    created = create(client, "plain")
    assert {k: created[k] for k in ("currency", "locale", "time_zone", "emails", "tax_ids", "metadata")} == {
        "currency": "CHF",
        "locale": "fr_CH",
        "time_zone": "Europe/Zurich",
        "emails": [],
        "tax_ids": [],
        "metadata": {},
    }
    assert (created["payment_terms_days"], created["credit_limit"], created["address"]) == (0, None, None)


def test_patch_changes_only_the_fields_sent(client: TestClient, clock: SettableClock) -> None:
    created = client.post("/v1/customers", json=FULL).json()
    clock.advance(timedelta(hours=2))
    response = client.patch(
        f"/v1/customers/{created['id']}", json={"name": "Müller AG", "payment_terms_days": 14}
    )
    assert response.status_code == 200, response.text
    expected = {
        **created,
        "name": "Müller AG",
        "payment_terms_days": 14,
        "updated_at": "2026-01-01T11:00:00Z",
    }
    assert response.json() == expected
    assert client.get(f"/v1/customers/{created['id']}").json() == expected


def test_patch_explicit_null_clears_legal_name(client: TestClient) -> None:
    created = client.post("/v1/customers", json=FULL).json()
    response = client.patch(f"/v1/customers/{created['id']}", json={"legal_name": None})
    assert response.status_code == 200, response.text
    assert response.json()["legal_name"] is None
    assert response.json()["name"] == "Müller GmbH"  # untouched
    assert client.get(f"/v1/customers/{created['id']}").json()["legal_name"] is None


def test_patch_null_for_a_required_field_is_refused(client: TestClient) -> None:
    created = create(client, "named")
    refused(client.patch(f"/v1/customers/{created['id']}", json={"name": None}), 422, "invalid_text", "name")
    assert client.get(f"/v1/customers/{created['id']}").json()["name"] == "named"


def test_get_unknown_customer_is_404(client: TestClient) -> None:
    refused(client.get("/v1/customers/cus_01KDWCJ2M0000000000000000"), 404, "customer_not_found", None)


def test_another_tenants_customer_is_invisible(ctx: ServiceContext, client: TestClient) -> None:
    theirs = make_tenant(ctx, "Other")
    with TestClient(create_app(ctx), headers=theirs.headers) as other:
        their_customer = create(other, "secret")
    refused(client.get(f"/v1/customers/{their_customer['id']}"), 404, "customer_not_found", None)
    refused(
        client.patch(f"/v1/customers/{their_customer['id']}", json={"name": "x"}),
        404,
        "customer_not_found",
        None,
    )
    assert client.get("/v1/customers").json()["data"] == []


def test_list_pages_newest_first_with_a_cursor(client: TestClient, clock: SettableClock) -> None:
    ids = []
    for n in range(1, 6):
        ids.append(create(client, f"c{n}")["id"])
        clock.advance(timedelta(seconds=1))  # ids sort by creation millisecond
    c1, c2, c3, c4, c5 = ids

    first = client.get("/v1/customers", params={"limit": 2}).json()
    assert [c["id"] for c in first["data"]] == [c5, c4]
    assert (first["has_more"], first["next_cursor"]) == (True, c4)

    second = client.get("/v1/customers", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["id"] for c in second["data"]] == [c3, c2]
    assert (second["has_more"], second["next_cursor"]) == (True, c2)

    last = client.get("/v1/customers", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [c["id"] for c in last["data"]] == [c1]
    assert (last["has_more"], last["next_cursor"]) == (False, None)

    exact = client.get("/v1/customers", params={"limit": 5}).json()
    assert [c["id"] for c in exact["data"]] == [c5, c4, c3, c2, c1]
    assert (exact["has_more"], exact["next_cursor"]) == (False, None)


@pytest.mark.parametrize("limit", [0, 101])
def test_list_limit_out_of_range(client: TestClient, limit: int) -> None:
    refused(client.get("/v1/customers", params={"limit": limit}), 422, "invalid_value", "limit")


def test_list_filters(client: TestClient, clock: SettableClock) -> None:
    parent = create(
        client, "parent", currency="EUR", address={"line1": "a", "city": "Paris", "country": "FR"}
    )
    clock.advance(timedelta(seconds=1))
    child = create(client, "child", currency="EUR", parent_id=parent["id"])
    clock.advance(timedelta(seconds=1))
    usd = create(client, "usd", currency="USD", address={"line1": "b", "city": "Boston", "country": "US"})
    clock.advance(timedelta(seconds=1))
    gone = create(client, "gone", currency="USD")
    assert client.post(f"/v1/customers/{gone['id']}/archive").status_code == 200

    def ids(**params: Any) -> list[str]:
        response = client.get("/v1/customers", params=params)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["data"]]

    assert ids() == [usd["id"], child["id"], parent["id"]]  # archived ones are left out by default
    assert ids(external_id="usd") == [usd["id"]]
    assert ids(external_id="nobody") == []
    assert ids(currency="EUR") == [child["id"], parent["id"]]
    assert ids(currency="USD") == [usd["id"]]
    assert ids(country="FR") == [parent["id"]]
    assert ids(country="US") == [usd["id"]]
    assert ids(parent_id=parent["id"]) == [child["id"]]
    assert ids(archived="true") == [gone["id"]]
    assert ids(archived="false") == [usd["id"], child["id"], parent["id"]]
    assert ids(archived="true", currency="EUR") == []
    assert ids(external_id="gone") == []
    assert ids(external_id="gone", archived="true") == [gone["id"]]


def test_archive_then_archive_again_is_a_no_op(client: TestClient, clock: SettableClock) -> None:
    created = create(client, "leaving")
    clock.advance(timedelta(days=1))
    first = client.post(f"/v1/customers/{created['id']}/archive")
    assert first.status_code == 200, first.text
    assert first.json()["archived_at"] == "2026-01-02T09:00:00Z"
    assert first.json()["updated_at"] == "2026-01-02T09:00:00Z"
    clock.advance(timedelta(days=1))
    again = client.post(f"/v1/customers/{created['id']}/archive")
    assert again.status_code == 200
    assert again.json() == first.json()
    archived_events = client.get("/v1/events", params={"type": "customer.archived"}).json()["data"]
    assert len(archived_events) == 1


def test_archived_customer_cannot_be_updated(client: TestClient) -> None:
    created = create(client, "frozen")
    client.post(f"/v1/customers/{created['id']}/archive")
    refused(
        client.patch(f"/v1/customers/{created['id']}", json={"name": "New"}), 409, "customer_archived", None
    )
    assert client.get(f"/v1/customers/{created['id']}").json()["name"] == "frozen"


def test_parent_with_active_children_cannot_be_archived(client: TestClient) -> None:
    parent = create(client, "holding")
    child = create(client, "subsidiary", parent_id=parent["id"])
    refused(client.post(f"/v1/customers/{parent['id']}/archive"), 409, "customer_has_children", None)
    assert client.get(f"/v1/customers/{parent['id']}").json()["archived_at"] is None
    assert client.post(f"/v1/customers/{child['id']}/archive").status_code == 200
    assert client.post(f"/v1/customers/{parent['id']}/archive").status_code == 200


def test_archived_customer_cannot_become_a_parent(client: TestClient) -> None:
    parent = create(client, "closed")
    client.post(f"/v1/customers/{parent['id']}/archive")
    response = client.post(
        "/v1/customers", json={"external_id": "kid", "name": "Kid", "parent_id": parent["id"]}
    )
    refused(response, 422, "parent_archived", "parent_id")


def test_unknown_parent_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/customers",
        json={"external_id": "kid", "name": "Kid", "parent_id": "cus_01KDWCJ2M0000000000000000"},
    )
    refused(response, 422, "parent_not_found", "parent_id")


def test_external_id_is_unique_per_tenant(ctx: ServiceContext, client: TestClient) -> None:
    first = create(client, "dup")
    response = client.post("/v1/customers", json={"external_id": "dup", "name": "Second"})
    refused(response, 409, "external_id_taken", "external_id")
    other = create(client, "other")
    refused(
        client.patch(f"/v1/customers/{other['id']}", json={"external_id": "dup"}),
        409,
        "external_id_taken",
        "external_id",
    )
    assert [c["id"] for c in client.get("/v1/customers", params={"external_id": "dup"}).json()["data"]] == [
        first["id"]
    ]

    theirs = make_tenant(ctx, "Other Co")
    with TestClient(create_app(ctx), headers=theirs.headers) as other_client:
        response = other_client.post("/v1/customers", json={"external_id": "dup", "name": "Theirs"})
        assert response.status_code == 201, response.text
        assert response.json()["id"] != first["id"]


def test_invalid_tax_id_names_the_value_field(client: TestClient) -> None:
    response = client.post(
        "/v1/customers",
        json={"external_id": "t", "name": "T", "tax_ids": [{"type": "eu_vat", "value": "DE 136 695 977"}]},
    )
    refused(response, 422, "invalid_tax_id", "tax_ids.0.value")
    second = client.post(
        "/v1/customers",
        json={
            "external_id": "t",
            "name": "T",
            "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}, {"type": "gb_vat", "value": "GB 123"}],
        },
    )
    refused(second, 422, "invalid_tax_id", "tax_ids.1.value")
    unknown = client.post(
        "/v1/customers", json={"external_id": "t", "name": "T", "tax_ids": [{"type": "xx_vat", "value": "1"}]}
    )
    refused(unknown, 422, "unknown_tax_id_type", "tax_ids.0.type")
    assert client.get("/v1/customers").json()["data"] == []


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"address": {"line1": "x", "city": "y", "country": "ZZ"}}, "invalid_country", "address.country"),
        ({"address": {"line1": "x", "city": "y", "country": "de"}}, "invalid_value", "address.country"),
        ({"address": {"city": "y", "country": "DE"}}, "required", "address.line1"),
        ({"currency": "ZZZ"}, "unknown_currency", "currency"),
        ({"currency": "DEM"}, "unknown_currency", "currency"),  # withdrawn from ISO 4217
        ({"currency": "XAU"}, "unknown_currency", "currency"),  # no minor unit
        ({"time_zone": "Mars/Olympus_Mons"}, "invalid_time_zone", "time_zone"),
        ({"locale": "xx_XX"}, "invalid_locale", "locale"),
        ({"locale": "german"}, "invalid_locale", "locale"),
        ({"emails": ["not-an-email"]}, "invalid_email", "emails.0"),
        ({"payment_terms_days": 366}, "invalid_value", "payment_terms_days"),
        ({"bill_to_parent": True}, "parent_required", "bill_to_parent"),
        (
            {"credit_limit": {"amount": "10.00", "currency": "USD"}},
            "currency_mismatch",
            "credit_limit.currency",
        ),
        ({"nickname": "x"}, "unknown_field", "nickname"),
    ],
)
def test_bad_fields_are_refused_with_their_path(
    client: TestClient, fields: dict[str, Any], code: str, field: str
) -> None:
    response = client.post(
        "/v1/customers", json={"external_id": "bad", "name": "Bad", "currency": "EUR", **fields}
    )
    refused(response, 422, code, field)
    assert client.get("/v1/customers").json()["data"] == []


def test_metadata_too_large_is_refused(client: TestClient) -> None:
    big = {f"key{i}": "v" * 500 for i in range(20)}  # 20 keys within limits, but more than 8 KiB as JSON
    refused(
        client.post("/v1/customers", json={"external_id": "m", "name": "M", "metadata": big}),
        422,
        "metadata_too_large",
        "metadata",
    )
    many = {f"key{i}": "v" for i in range(51)}  # at most 50 keys
    refused(
        client.post("/v1/customers", json={"external_id": "m", "name": "M", "metadata": many}),
        422,
        "metadata_too_large",
        "metadata",
    )
    long_key = {"k" * 41: "v"}
    refused(
        client.post("/v1/customers", json={"external_id": "m", "name": "M", "metadata": long_key}),
        422,
        "invalid_metadata",
        f"metadata.{'k' * 41}",
    )
    long_value = {"note": "v" * 501}
    refused(
        client.post("/v1/customers", json={"external_id": "m", "name": "M", "metadata": long_value}),
        422,
        "invalid_metadata",
        "metadata.note",
    )
    assert client.get("/v1/customers").json()["data"] == []
    fits = {f"key{i}": "v" for i in range(50)}
    assert (
        client.post("/v1/customers", json={"external_id": "m", "name": "M", "metadata": fits}).status_code
        == 201
    )


def test_parent_cycles_are_refused(client: TestClient) -> None:
    a = create(client, "a")
    b = create(client, "b", parent_id=a["id"])
    c = create(client, "c", parent_id=b["id"])
    refused(
        client.patch(f"/v1/customers/{a['id']}", json={"parent_id": c["id"]}),
        422,
        "parent_cycle",
        "parent_id",
    )
    refused(
        client.patch(f"/v1/customers/{a['id']}", json={"parent_id": b["id"]}),
        422,
        "parent_cycle",
        "parent_id",
    )
    refused(
        client.patch(f"/v1/customers/{a['id']}", json={"parent_id": a["id"]}),
        422,
        "parent_cycle",
        "parent_id",
    )
    assert client.get(f"/v1/customers/{a['id']}").json()["parent_id"] is None


def test_bill_to_parent_needs_the_parents_currency(client: TestClient) -> None:
    parent = create(client, "group", currency="EUR")
    response = client.post(
        "/v1/customers",
        json={
            "external_id": "us-sub",
            "name": "US",
            "currency": "USD",
            "parent_id": parent["id"],
            "bill_to_parent": True,
        },
    )
    refused(response, 422, "currency_mismatch", "currency")
    # a child that pays for itself may bill in its own currency
    own = create(client, "us-own", currency="USD", parent_id=parent["id"])
    assert (own["parent_id"], own["bill_to_parent"]) == (parent["id"], False)
    refused(
        client.patch(f"/v1/customers/{own['id']}", json={"bill_to_parent": True}),
        422,
        "currency_mismatch",
        "currency",
    )
    same = create(client, "de-sub", currency="EUR", parent_id=parent["id"], bill_to_parent=True)
    assert (same["parent_id"], same["bill_to_parent"], same["currency"]) == (parent["id"], True, "EUR")


def test_a_parent_paying_for_children_keeps_their_currency(client: TestClient) -> None:
    parent = create(client, "payer", currency="EUR")
    child = create(client, "paid-for", currency="EUR", parent_id=parent["id"], bill_to_parent=True)
    refused(
        client.patch(f"/v1/customers/{parent['id']}", json={"currency": "USD"}),
        422,
        "currency_mismatch",
        "currency",
    )
    assert client.get(f"/v1/customers/{parent['id']}").json()["currency"] == "EUR"
    # once the child pays for itself, the parent may change currency
    assert client.patch(f"/v1/customers/{child['id']}", json={"bill_to_parent": False}).status_code == 200
    assert client.patch(f"/v1/customers/{parent['id']}", json={"currency": "USD"}).json()["currency"] == "USD"


def test_timeline_is_newest_first(client: TestClient, clock: SettableClock) -> None:
    created = create(client, "history")
    clock.advance(timedelta(minutes=1))
    client.patch(f"/v1/customers/{created['id']}", json={"name": "Renamed"})
    clock.advance(timedelta(minutes=1))
    client.post(f"/v1/customers/{created['id']}/archive")
    create(client, "someone-else")  # not on this customer's timeline

    response = client.get(f"/v1/customers/{created['id']}/timeline")
    assert response.status_code == 200, response.text
    page = response.json()
    assert [(e["type"], e["occurred_at"]) for e in page["data"]] == [
        ("customer.archived", "2026-01-01T09:02:00Z"),
        ("customer.updated", "2026-01-01T09:01:00Z"),
        ("customer.created", "2026-01-01T09:00:00Z"),
    ]
    assert {(e["object_id"], e["customer_id"]) for e in page["data"]} == {(created["id"], created["id"])}
    assert page["data"][1]["data"]["previous"] == {
        "name": "history",
        "updated_at": "2026-01-01T09:00:00+00:00",
    }
    assert (page["has_more"], page["next_cursor"]) == (False, None)

    first = client.get(f"/v1/customers/{created['id']}/timeline", params={"limit": 1}).json()
    assert [e["type"] for e in first["data"]] == ["customer.archived"]
    rest = client.get(
        f"/v1/customers/{created['id']}/timeline", params={"limit": 5, "cursor": first["next_cursor"]}
    ).json()
    assert [e["type"] for e in rest["data"]] == ["customer.updated", "customer.created"]


def test_timeline_order_holds_within_one_millisecond(ctx: ServiceContext, client: TestClient) -> None:
    """Issue 3: ids count up within a millisecond, so a create and its update keep their order."""
    counter = iter(range(255, 0, -1))
    ctx.random_bytes = lambda n: bytes([next(counter)]) * n  # each id's random part smaller than the last
    created = create(client, "fast")
    client.patch(f"/v1/customers/{created['id']}", json={"name": "Faster"})
    types = [e["type"] for e in client.get(f"/v1/customers/{created['id']}/timeline").json()["data"]]
    assert types == ["customer.updated", "customer.created"]


def test_moving_a_subtree_under_a_deep_chain_is_refused(client: TestClient) -> None:
    """Issue 3: the depth limit counts the children a customer brings along."""
    parent = None
    for i in range(9):
        parent = create(client, f"p{i}", **({"parent_id": parent["id"]} if parent else {}))
    assert parent is not None
    root = create(client, "r")
    create(client, "r-child", parent_id=root["id"])
    moved = client.patch(f"/v1/customers/{root['id']}", json={"parent_id": parent["id"]})
    assert moved.status_code == 422
    assert (moved.json()["code"], moved.json()["field"]) == ("hierarchy_too_deep", "parent_id")


def test_a_cursor_that_is_not_an_id_is_refused(client: TestClient) -> None:
    """Issue 3: a garbage cursor is a 422 naming the parameter, not a silently empty page."""
    refused(client.get("/v1/customers?cursor=garbage"), 422, "invalid_value", "cursor")


def test_concurrent_creates_of_one_external_id_give_one_customer_and_409s(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    """Issue 3: the unique external_id race between check and insert is a 409, never a 500."""
    answers: list[int] = []
    start = threading.Barrier(4)

    def create_one() -> None:
        with TestClient(create_app(ctx), headers=tenant.headers, raise_server_exceptions=False) as own:
            start.wait()
            answers.append(
                own.post("/v1/customers", json={"external_id": "race", "name": "Race"}).status_code
            )

    threads = [threading.Thread(target=create_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [201, 409, 409, 409]
