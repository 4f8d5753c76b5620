"""Idempotency-Key on POST through the HTTP API: replay, conflict, per-tenant keys, expiry on the clock,
and what happens to a refused request. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.core.access import split_key
from kassa.server import create_app
from kassa.services import customers, idempotency, jobs
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess, make_tenant

BODY = {"external_id": "ext-1", "name": "Once Only"}


def post(client: TestClient, key: str, body: dict[str, Any], path: str = "/v1/customers") -> Any:
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def customer_ids(client: TestClient) -> list[str]:
    return [c["id"] for c in client.get("/v1/customers", params={"limit": 100}).json()["data"]]


def audit_count(client: TestClient) -> int:
    return len(client.get("/v1/audit_events", params={"limit": 100}).json()["data"])


def test_same_key_same_body_replays_the_first_response(client: TestClient, clock: SettableClock) -> None:
    first = post(client, "key-1", BODY)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    audited = audit_count(client)

    clock.advance(timedelta(minutes=10))
    second = post(client, "key-1", BODY)
    assert second.status_code == 201
    assert second.content == first.content  # byte for byte, created_at and all
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == "application/json"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]  # a new request all the same

    assert customer_ids(client) == [first.json()["id"]]
    assert audit_count(client) == audited
    assert len(client.get("/v1/events", params={"type": "customer.created"}).json()["data"]) == 1


def test_same_key_different_body_is_a_conflict(client: TestClient) -> None:
    first = post(client, "key-1", BODY)
    response = post(client, "key-1", {**BODY, "name": "Someone Else"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    # nor may the key be reused on another route
    other_route = post(client, "key-1", {"name": "ops"}, path="/v1/api_keys")
    assert (other_route.status_code, other_route.json()["code"]) == (409, "idempotency_key_reused")
    assert customer_ids(client) == [first.json()["id"]]
    assert client.get(f"/v1/customers/{first.json()['id']}").json()["name"] == "Once Only"


def test_keys_belong_to_one_tenant(ctx: ServiceContext, client: TestClient) -> None:
    mine = post(client, "shared-key", BODY)
    other = make_tenant(ctx, "Other Co")
    with TestClient(create_app(ctx), headers=other.headers) as other_client:
        theirs = post(other_client, "shared-key", BODY)
        assert theirs.status_code == 201, theirs.text
        assert "idempotent-replayed" not in theirs.headers
        assert theirs.json()["id"] != mine.json()["id"]
        assert customer_ids(other_client) == [theirs.json()["id"]]
        # and each tenant's key still replays its own first answer
        assert post(other_client, "shared-key", BODY).content == theirs.content
    again = post(client, "shared-key", BODY)
    assert (again.content, again.headers["idempotent-replayed"]) == (mine.content, "true")
    assert customer_ids(client) == [mine.json()["id"]]


def test_a_key_is_forgotten_after_the_ttl(client: TestClient, clock: SettableClock) -> None:
    first = post(client, "nightly-sync", BODY)
    clock.advance(timedelta(hours=23, minutes=59))
    assert post(client, "nightly-sync", BODY).headers.get("idempotent-replayed") == "true"
    reused = post(client, "nightly-sync", {**BODY, "external_id": "ext-2"})
    assert (reused.status_code, reused.json()["code"]) == (409, "idempotency_key_reused")

    clock.advance(timedelta(minutes=1))  # 24 h after the first request: the key is free again
    fresh = post(client, "nightly-sync", {**BODY, "external_id": "ext-2"})
    assert fresh.status_code == 201, fresh.text
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["created_at"] == "2026-01-02T09:00:00Z"
    assert customer_ids(client) == [fresh.json()["id"], first.json()["id"]]
    # and the new request is what the key replays now
    assert post(client, "nightly-sync", {**BODY, "external_id": "ext-2"}).content == fresh.content


def test_a_refused_request_is_replayed_as_the_same_refusal(client: TestClient) -> None:
    """Choice: a 4xx answer is stored and replayed like a success. The key names one request, and the
    answer to that request was "422 invalid_country"; replaying it keeps "same key, same answer" true
    even if the rules change in between, and a client retrying on a timeout never has to guess whether
    its first attempt was seen. To send a corrected request the client uses a new key (the corrected body
    under the old key is a different request: 409 idempotency_key_reused). Only our own failures (5xx)
    release the key, since they wrote nothing and a retry may succeed."""
    bad = {**BODY, "address": {"line1": "x", "city": "y", "country": "ZZ"}}
    first = post(client, "key-422", bad)
    assert first.status_code == 422
    assert first.json()["code"] == "invalid_country"
    assert "idempotent-replayed" not in first.headers

    second = post(client, "key-422", bad)
    assert second.status_code == 422
    assert second.content == first.content  # the first request's request_id included
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == "application/problem+json"

    corrected = {**BODY, "address": {"line1": "x", "city": "y", "country": "DE"}}
    assert post(client, "key-422", corrected).json()["code"] == "idempotency_key_reused"
    assert customer_ids(client) == []
    assert post(client, "key-423", corrected).status_code == 201


def test_a_schema_refusal_is_replayed_too(client: TestClient) -> None:
    bad = {**BODY, "credit_limit": {"amount": 12.5, "currency": "EUR"}}
    first = post(client, "key-schema", bad)
    assert (first.status_code, first.json()["code"]) == (422, "amount_must_be_string")
    second = post(client, "key-schema", bad)
    assert (second.status_code, second.content, second.headers["idempotent-replayed"]) == (
        422,
        first.content,
        "true",
    )


def test_without_a_key_every_post_is_new(client: TestClient) -> None:
    assert client.post("/v1/customers", json=BODY).status_code == 201
    again = client.post("/v1/customers", json=BODY)
    assert (again.status_code, again.json()["code"]) == (409, "external_id_taken")
    assert "idempotent-replayed" not in again.headers


def test_an_unusable_key_is_refused(client: TestClient) -> None:
    response = post(client, "k" * 256, BODY)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_idempotency_key"
    assert customer_ids(client) == []


def test_an_unauthenticated_post_with_a_key_is_401_and_keeps_nothing(
    ctx: ServiceContext, client: TestClient
) -> None:
    with TestClient(create_app(ctx)) as anonymous:
        response = post(anonymous, "key-anon", BODY)
        assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
    assert post(client, "key-anon", BODY).status_code == 201


def test_our_own_failure_releases_the_key(
    ctx: ServiceContext, tenant: TenantAccess, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = customers.create_customer

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(customers, "create_customer", broken)
    with TestClient(create_app(ctx), headers=tenant.headers, raise_server_exceptions=False) as fragile:
        failed = post(fragile, "key-500", BODY)
    assert (failed.status_code, failed.json()["code"]) == (500, "internal_error")
    monkeypatch.setattr(customers, "create_customer", real)

    retried = post(client, "key-500", BODY)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert customer_ids(client) == [retried.json()["id"]]


def test_a_request_still_in_progress_is_not_run_twice(
    ctx: ServiceContext, tenant: TenantAccess, client: TestClient
) -> None:
    body = b'{"external_id":"slow","name":"Slow"}'
    digest = hashlib.sha256(b"\0".join([b"POST", b"/v1/customers", b"", body])).hexdigest()
    assert idempotency.begin(ctx, tenant.id, "key-busy", digest) is None  # the first attempt, still running
    response = client.post(
        "/v1/customers",
        content=body,
        headers={"Idempotency-Key": "key-busy", "content-type": "application/json"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_use"
    assert customer_ids(client) == []


def test_the_audit_entry_carries_the_first_requests_id(client: TestClient) -> None:
    first = client.post(
        "/v1/customers", json=BODY, headers={"Idempotency-Key": "key-rid", "X-Request-Id": "rid-1"}
    )
    client.post("/v1/customers", json=BODY, headers={"Idempotency-Key": "key-rid", "X-Request-Id": "rid-2"})
    audit = client.get("/v1/audit_events", params={"object_id": first.json()["id"]}).json()["data"]
    assert [(e["action"], e["request_id"]) for e in audit] == [("customer.created", "rid-1")]


def test_a_new_api_key_is_not_kept_for_replay(client: TestClient, ctx: ServiceContext) -> None:
    """Issue 3: the idempotency store keeps no copy of a key shown once; a retry learns it was created."""
    headers = {"Idempotency-Key": "new-key-1"}
    first = client.post("/v1/api_keys", json={"name": "ci"}, headers=headers)
    assert (first.status_code, first.headers["cache-control"]) == (201, "no-store")
    split = split_key(first.json()["key"])  # the secret is base64url: it may hold "_" itself
    assert split is not None
    secret = split[1]
    with ctx.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT response_body FROM idempotency_keys").scalars().all()
    assert len(stored) == 1 and secret.encode() not in stored[0]
    again = client.post("/v1/api_keys", json={"name": "ci"}, headers=headers)
    assert (again.status_code, again.json()["code"], again.headers["idempotent-replayed"]) == (
        409, "secret_not_replayed", "true",
    )  # fmt: skip
    names = [k["name"] for k in client.get("/v1/api_keys").json()["data"]]
    assert names.count("ci") == 1


def test_the_answer_is_recorded_before_background_work_runs(client: TestClient, ctx: ServiceContext) -> None:
    """Issue 3: the response is recorded when it is sent, not after the background work (a test clock
    advance answered 202 goes on after the answer): a job run in the background already sees it done."""
    seen: list[str] = []

    def look(ctx: ServiceContext, uow: Any, job: Any, now: Any) -> None:
        seen.append(uow.conn.exec_driver_sql("SELECT status FROM idempotency_keys").scalar())

    jobs.handles("test.look")(look)
    try:
        clock = client.post(
            "/v1/test_clocks", json={"name": "c", "frozen_time": "2026-01-01T00:00:00Z"}
        ).json()
        customer = client.post(
            "/v1/customers", json={"external_id": "x", "name": "x", "test_clock_id": clock["id"]}
        )
        tenant_id = tenant_of(ctx)
        with ctx.uow() as uow:
            for day in (2, 3):
                jobs.schedule(ctx, uow, tenant_id, "test.look",
                              datetime(2026, 1, day, tzinfo=UTC), dedupe_key=str(day), customer_id=customer.json()["id"])  # fmt: skip
            uow.commit()
        ctx.settings = replace(
            ctx.settings, advance_budget_seconds=0
        )  # one tick inline, the rest after the 202
        answer = client.post(
            f"/v1/test_clocks/{clock['id']}/advance", json={"frozen_time": "2026-02-01T00:00:00Z"},
            headers={"Idempotency-Key": "advance-1"},
        )  # fmt: skip
        assert answer.status_code == 202
        assert seen == ["in_progress", "done"]
    finally:
        jobs.HANDLERS.pop("test.look", None)


def tenant_of(ctx: ServiceContext) -> str:
    with ctx.engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT id FROM tenants").scalar())
