"""Who may call: bearer API keys on every /v1 route, keys shown once and stored as a hash, revocation and
rotation with a grace period on the clock, and staff users. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.server import create_app
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess, make_tenant

KEY_SHAPE = re.compile(r"^(kassa_[a-z2-7]{12})_[A-Za-z0-9_-]{43}$")
SOME_ID = "abc_01KDWCJ2M0000000000000000"


# Signed by the gateway, not by an API key (issue 7): without a valid signature it is a 400 for any caller.
GATEWAY_WEBHOOKS = "/v1/gateways/{gateway}/webhooks/{tenant_id}"


def v1_operations(ctx: ServiceContext) -> list[tuple[str, str]]:
    with TestClient(create_app(ctx)) as anonymous:
        paths: dict[str, dict[str, Any]] = anonymous.get("/openapi.json").json()["paths"]
    operations = []
    for path, item in paths.items():
        if not path.startswith("/v1/") or path == GATEWAY_WEBHOOKS:
            continue
        for method in item:
            operations.append((method.upper(), re.sub(r"\{[^}]+\}", SOME_ID, path)))
    return sorted(operations)


def unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"
    assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-kassa-key",
        "Bearer kassa_aaaaaaaaaaaa_" + "A" * 43,  # well formed, unknown
    ],
)
def test_every_v1_route_needs_a_valid_key(
    ctx: ServiceContext, tenant: TenantAccess, authorization: str | None
) -> None:
    operations = v1_operations(ctx)
    assert len(operations) >= 20  # customers, settings, keys, users, audit, events, clocks, webhooks
    assert ("GET", "/v1/customers") in operations and ("PATCH", "/v1/settings") in operations
    headers = {} if authorization is None else {"Authorization": authorization}
    with TestClient(create_app(ctx), headers=headers) as anonymous:
        for method, path in operations:
            response = anonymous.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.text)
            unauthorized(response)
            if authorization is None:
                assert response.json()["detail"] == "Send an API key as 'Authorization: Bearer <key>'."
        forged = anonymous.post(f"/v1/gateways/sandbox/webhooks/{tenant.id}", content=b'{"id": "evt_1"}')
        assert (forged.status_code, forged.json()["code"]) == (400, "invalid_signature")


def test_a_wrong_secret_for_a_real_prefix_is_refused(ctx: ServiceContext, tenant: TenantAccess) -> None:
    match = KEY_SHAPE.match(tenant.key)
    assert match is not None
    forged = f"{match.group(1)}_{'B' * 43}"
    with TestClient(create_app(ctx), headers={"Authorization": f"Bearer {forged}"}) as forger:
        unauthorized(forger.get("/v1/customers"))


def test_create_shows_the_key_once_and_lists_only_its_prefix(
    ctx: ServiceContext, client: TestClient, tenant: TenantAccess
) -> None:
    response = client.post("/v1/api_keys", json={"name": "ci deploy"})
    assert response.status_code == 201, response.text
    created = response.json()
    match = KEY_SHAPE.match(created["key"])
    assert match is not None, created["key"]
    secret = created["key"].removeprefix(match.group(1) + "_")
    assert created == {
        "id": created["id"],
        "name": "ci deploy",
        "prefix": match.group(1),
        "created_at": "2026-01-01T09:00:00Z",
        "expires_at": None,
        "revoked_at": None,
        "last_used_at": None,
        "key": created["key"],
    }

    listed = client.get("/v1/api_keys")
    assert listed.status_code == 200
    assert secret not in listed.text and created["key"] not in listed.text
    own = KEY_SHAPE.match(tenant.key)
    assert own is not None
    assert tenant.key.removeprefix(own.group(1) + "_") not in listed.text
    items = {k["id"]: k for k in listed.json()["data"]}
    assert set(items) == {created["id"], tenant.actor.id}
    assert items[created["id"]] == {k: v for k, v in created.items() if k != "key"}

    with TestClient(create_app(ctx), headers={"Authorization": f"Bearer {created['key']}"}) as second:
        assert second.get("/v1/customers").status_code == 200
    # the key is not shown again anywhere: not in the audit log nor in the events
    assert secret not in client.get("/v1/audit_events").text
    assert secret not in client.get("/v1/events").text


def test_a_revoked_key_stops_working_at_once(
    ctx: ServiceContext, client: TestClient, clock: SettableClock
) -> None:
    created = client.post("/v1/api_keys", json={"name": "laptop"}).json()
    with TestClient(create_app(ctx), headers={"Authorization": f"Bearer {created['key']}"}) as laptop:
        assert laptop.get("/v1/customers").status_code == 200
        clock.advance(timedelta(minutes=1))
        revoked = client.post(f"/v1/api_keys/{created['id']}/revoke")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] == "2026-01-01T09:01:00Z"
        unauthorized(laptop.get("/v1/customers"))
        unauthorized(laptop.post("/v1/customers", json={"external_id": "x", "name": "x"}))
    # revoking twice keeps the first time
    clock.advance(timedelta(minutes=1))
    assert client.post(f"/v1/api_keys/{created['id']}/revoke").json()["revoked_at"] == "2026-01-01T09:01:00Z"
    assert client.get("/v1/customers").status_code == 200  # the caller's own key is untouched


def test_rotate_keeps_the_old_key_for_the_grace_period(
    ctx: ServiceContext, client: TestClient, clock: SettableClock
) -> None:
    old = client.post("/v1/api_keys", json={"name": "backend"}).json()
    rotated = client.post(f"/v1/api_keys/{old['id']}/rotate", json={"grace_hours": 1})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert (new["name"], new["expires_at"]) == ("backend", None)
    assert new["id"] != old["id"] and new["key"] != old["key"] and KEY_SHAPE.match(new["key"])

    listed = {k["id"]: k for k in client.get("/v1/api_keys").json()["data"]}
    assert listed[old["id"]]["expires_at"] == "2026-01-01T10:00:00Z"
    assert listed[old["id"]]["revoked_at"] is None

    app = create_app(ctx)
    with (
        TestClient(app, headers={"Authorization": f"Bearer {old['key']}"}) as old_client,
        TestClient(app, headers={"Authorization": f"Bearer {new['key']}"}) as new_client,
    ):
        assert old_client.get("/v1/customers").status_code == 200
        assert new_client.get("/v1/customers").status_code == 200
        clock.advance(timedelta(minutes=59, seconds=59))
        assert old_client.get("/v1/customers").status_code == 200
        clock.advance(timedelta(seconds=1))  # exactly one hour: expired
        unauthorized(old_client.get("/v1/customers"))
        assert new_client.get("/v1/customers").status_code == 200
        clock.advance(timedelta(days=30))
        unauthorized(old_client.get("/v1/customers"))
        assert new_client.get("/v1/customers").status_code == 200


def test_rotating_again_never_extends_the_old_keys_grace(
    ctx: ServiceContext, client: TestClient, clock: SettableClock
) -> None:
    old = client.post("/v1/api_keys", json={"name": "worker"}).json()
    client.post(f"/v1/api_keys/{old['id']}/rotate", json={"grace_hours": 1})
    again = client.post(f"/v1/api_keys/{old['id']}/rotate", json={"grace_hours": 24})
    assert again.status_code == 201, again.text
    listed = {k["id"]: k for k in client.get("/v1/api_keys").json()["data"]}
    assert listed[old["id"]]["expires_at"] == "2026-01-01T10:00:00Z"
    clock.advance(timedelta(hours=1))
    with TestClient(create_app(ctx), headers={"Authorization": f"Bearer {old['key']}"}) as old_client:
        unauthorized(old_client.get("/v1/customers"))


def test_rotate_with_no_grace_revokes_at_once_and_a_dead_key_cannot_be_rotated(
    ctx: ServiceContext, client: TestClient
) -> None:
    old = client.post("/v1/api_keys", json={"name": "cron"}).json()
    new = client.post(f"/v1/api_keys/{old['id']}/rotate", json={"grace_hours": 0}).json()
    with TestClient(create_app(ctx), headers={"Authorization": f"Bearer {old['key']}"}) as old_client:
        unauthorized(old_client.get("/v1/customers"))
    again = client.post(f"/v1/api_keys/{old['id']}/rotate", json={"grace_hours": 0})
    assert again.status_code == 422
    assert again.json()["code"] == "api_key_not_usable"
    assert client.post(f"/v1/api_keys/{new['id']}/rotate", json={}).json()["name"] == "cron"


def test_rotate_grace_hours_are_bounded(client: TestClient, tenant: TenantAccess) -> None:
    response = client.post(f"/v1/api_keys/{tenant.actor.id}/rotate", json={"grace_hours": 721})
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == ("invalid_value", "grace_hours")


def test_keys_are_walled_per_tenant(ctx: ServiceContext, client: TestClient) -> None:
    other = make_tenant(ctx, "Other")
    refused = client.post(f"/v1/api_keys/{other.actor.id}/revoke")
    assert (refused.status_code, refused.json()["code"]) == (404, "api_key_not_found")
    with TestClient(create_app(ctx), headers=other.headers) as other_client:
        assert other_client.get("/v1/customers").status_code == 200
        assert [k["id"] for k in other_client.get("/v1/api_keys").json()["data"]] == [other.actor.id]


# users


def create_user(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/users", json={"email": "ann@example.com", "name": "Ann", "role": "finance", **fields}
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


def test_user_create_get_and_list(client: TestClient, clock: SettableClock) -> None:
    ann = create_user(client, email="Ann@Example.com")
    assert ann == {
        "id": ann["id"],
        "email": "ann@example.com",
        "name": "Ann",
        "role": "finance",
        "active": True,
        "created_at": "2026-01-01T09:00:00Z",
        "updated_at": "2026-01-01T09:00:00Z",
        "deactivated_at": None,
    }
    assert ann["id"].startswith("usr_")
    assert client.get(f"/v1/users/{ann['id']}").json() == ann
    clock.advance(timedelta(seconds=1))
    bob = create_user(client, email="bob@example.com", name="Bob", role="support")
    page = client.get("/v1/users").json()
    assert [u["id"] for u in page["data"]] == [bob["id"], ann["id"]]
    assert (page["has_more"], page["next_cursor"]) == (False, None)
    first = client.get("/v1/users", params={"limit": 1}).json()
    assert ([u["id"] for u in first["data"]], first["has_more"], first["next_cursor"]) == (
        [bob["id"]],
        True,
        bob["id"],
    )
    missing = client.get("/v1/users/usr_01KDWCJ2M0000000000000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")


def test_user_email_is_unique_per_tenant(ctx: ServiceContext, client: TestClient) -> None:
    create_user(client)
    duplicate = client.post(
        "/v1/users", json={"email": "ANN@example.com", "name": "Ann Two", "role": "admin"}
    )
    assert duplicate.status_code == 409
    assert (duplicate.json()["code"], duplicate.json()["field"]) == ("email_taken", "email")
    bob = create_user(client, email="bob@example.com")
    taken = client.patch(f"/v1/users/{bob['id']}", json={"email": "ann@example.com"})
    assert (taken.status_code, taken.json()["code"]) == (409, "email_taken")
    assert len(client.get("/v1/users").json()["data"]) == 2
    other = make_tenant(ctx, "Other")
    with TestClient(create_app(ctx), headers=other.headers) as other_client:
        assert create_user(other_client)["email"] == "ann@example.com"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"email": "ann@example.com", "name": "Ann", "role": "owner"}, "invalid_value", "role"),
        ({"email": "ann@example.com", "name": "Ann"}, "required", "role"),
        ({"email": "not-an-email", "name": "Ann", "role": "admin"}, "invalid_email", "email"),
        ({"email": "ann@example.com", "name": "   ", "role": "admin"}, "invalid_text", "name"),
    ],
)
def test_invalid_users_are_refused(client: TestClient, body: dict[str, Any], code: str, field: str) -> None:
    response = client.post("/v1/users", json=body)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == (code, field)
    assert client.get("/v1/users").json()["data"] == []


def test_user_update_and_deactivate(client: TestClient, clock: SettableClock) -> None:
    ann = create_user(client)
    clock.advance(timedelta(hours=1))
    changed = client.patch(f"/v1/users/{ann['id']}", json={"name": "Ann Smith", "role": "admin"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        **ann,
        "name": "Ann Smith",
        "role": "admin",
        "updated_at": "2026-01-01T10:00:00Z",
    }

    bad_role = client.patch(f"/v1/users/{ann['id']}", json={"role": "root"})
    assert (bad_role.status_code, bad_role.json()["field"]) == (422, "role")

    clock.advance(timedelta(hours=1))
    off = client.patch(f"/v1/users/{ann['id']}", json={"active": False}).json()
    assert (off["active"], off["deactivated_at"], off["updated_at"]) == (
        False,
        "2026-01-01T11:00:00Z",
        "2026-01-01T11:00:00Z",
    )
    clock.advance(timedelta(hours=1))
    # deactivating again keeps the first time
    assert client.patch(f"/v1/users/{ann['id']}", json={"active": False}).json() == off
    on = client.patch(f"/v1/users/{ann['id']}", json={"active": True}).json()
    assert (on["active"], on["deactivated_at"]) == (True, None)
    assert client.get(f"/v1/users/{ann['id']}").json() == on
