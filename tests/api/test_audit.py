"""/v1/audit_events: every write through the API leaves who, what and the before/after difference; the
log is read only, through the API and in the database itself. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kassa.server import create_app
from kassa.services.context import ServiceContext
from kassa.store.tables import audit_events
from tests.conftest import SettableClock, TenantAccess, make_tenant


def entries(client: TestClient, **filters: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit_events", params={"limit": 100, **filters})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def only(client: TestClient, **filters: Any) -> dict[str, Any]:
    found = entries(client, **filters)
    assert len(found) == 1, found
    return found[0]


def test_customer_writes_are_audited(client: TestClient, tenant: TenantAccess, clock: SettableClock) -> None:
    created = client.post(
        "/v1/customers",
        json={
            "external_id": "crm-7",
            "name": "Audited Ltd",
            "currency": "GBP",
            "emails": ["ap@audited.example"],
            "credit_limit": {"amount": "100.00", "currency": "GBP"},
        },
        headers={"X-Request-Id": "req-create-7"},
    ).json()
    cid = created["id"]

    entry = only(client, object_id=cid)
    assert entry == {
        "id": entry["id"],
        "at": "2026-01-01T09:00:00Z",
        "actor_type": "api_key",
        "actor_id": tenant.actor.id,
        "action": "customer.created",
        "object_type": "customer",
        "object_id": cid,
        "changes": {
            "id": {"before": None, "after": cid},
            "external_id": {"before": None, "after": "crm-7"},
            "name": {"before": None, "after": "Audited Ltd"},
            "emails": {"before": None, "after": ["ap@audited.example"]},
            "currency": {"before": None, "after": "GBP"},
            "locale": {"before": None, "after": "en"},
            "time_zone": {"before": None, "after": "UTC"},
            "tax_ids": {"before": None, "after": []},
            "payment_terms_days": {"before": None, "after": 0},
            "bill_to_parent": {"before": None, "after": False},
            "tax_exempt": {"before": None, "after": False},
            "credit_limit": {"before": None, "after": {"amount": "100.00", "currency": "GBP"}},
            "metadata": {"before": None, "after": {}},
            "created_at": {"before": None, "after": "2026-01-01T09:00:00+00:00"},
            "updated_at": {"before": None, "after": "2026-01-01T09:00:00+00:00"},
        },
        "request_id": "req-create-7",
    }
    assert entry["id"].startswith("aud_")

    clock.advance(timedelta(hours=1))
    client.patch(f"/v1/customers/{cid}", json={"name": "Audited plc", "legal_name": "Audited Public Ltd"})
    updated = only(client, object_id=cid, action="customer.updated")
    assert (updated["actor_type"], updated["actor_id"], updated["at"]) == (
        "api_key",
        tenant.actor.id,
        "2026-01-01T10:00:00Z",
    )
    assert updated["changes"] == {
        "name": {"before": "Audited Ltd", "after": "Audited plc"},
        "legal_name": {"before": None, "after": "Audited Public Ltd"},
        "updated_at": {"before": "2026-01-01T09:00:00+00:00", "after": "2026-01-01T10:00:00+00:00"},
    }

    # a PATCH that changes nothing leaves no entry
    client.patch(f"/v1/customers/{cid}", json={"name": "Audited plc"})
    assert len(entries(client, object_id=cid, action="customer.updated")) == 1

    clock.advance(timedelta(hours=1))
    client.post(f"/v1/customers/{cid}/archive")
    client.post(f"/v1/customers/{cid}/archive")  # a no-op: no second entry
    archived = only(client, object_id=cid, action="customer.archived")
    assert (archived["object_type"], archived["actor_id"]) == ("customer", tenant.actor.id)
    assert archived["changes"] == {
        "archived_at": {"before": None, "after": "2026-01-01T11:00:00+00:00"},
        "updated_at": {"before": "2026-01-01T10:00:00+00:00", "after": "2026-01-01T11:00:00+00:00"},
    }
    assert [e["action"] for e in entries(client, object_id=cid)] == [
        "customer.archived",
        "customer.updated",
        "customer.created",
    ]


def test_settings_user_and_api_key_writes_are_audited(
    client: TestClient, tenant: TenantAccess, clock: SettableClock
) -> None:
    client.patch("/v1/settings", json={"draft_grace_period_hours": 24})
    settings = only(client, action="settings.updated")
    assert (settings["object_type"], settings["object_id"], settings["actor_type"], settings["actor_id"]) == (
        "tenant",
        tenant.id,
        "api_key",
        tenant.actor.id,
    )
    assert settings["changes"] == {"draft_grace_period_hours": {"before": 1, "after": 24}}

    user = client.post(
        "/v1/users", json={"email": "eve@example.com", "name": "Eve", "role": "support"}
    ).json()
    user_created = only(client, action="user.created")
    assert (user_created["object_type"], user_created["object_id"], user_created["actor_id"]) == (
        "user",
        user["id"],
        tenant.actor.id,
    )
    assert user_created["changes"] == {
        "email": {"before": None, "after": "eve@example.com"},
        "name": {"before": None, "after": "Eve"},
        "role": {"before": None, "after": "support"},
    }
    clock.advance(timedelta(minutes=1))
    client.patch(f"/v1/users/{user['id']}", json={"role": "read_only", "active": False})
    assert only(client, action="user.updated")["changes"] == {
        "role": {"before": "support", "after": "read_only"},
        "deactivated_at": {"before": None, "after": "2026-01-01T09:01:00+00:00"},
    }

    key = client.post("/v1/api_keys", json={"name": "reporting"}).json()
    key_created = only(client, action="api_key.created", object_id=key["id"])
    assert (key_created["object_type"], key_created["actor_type"], key_created["actor_id"]) == (
        "api_key",
        "api_key",
        tenant.actor.id,
    )
    assert key_created["changes"] == {
        "name": {"before": None, "after": "reporting"},
        "prefix": {"before": None, "after": key["prefix"]},
    }
    assert key["key"] not in str(key_created)

    rotated = client.post(f"/v1/api_keys/{key['id']}/rotate", json={"grace_hours": 2}).json()
    assert only(client, action="api_key.rotated")["changes"] == {
        "expires_at": {"before": None, "after": "2026-01-01T11:01:00+00:00"},
        "replaced_by": {"before": None, "after": rotated["id"]},
    }
    assert only(client, action="api_key.created", object_id=rotated["id"])["changes"]["name"] == {
        "before": None,
        "after": "reporting",
    }
    client.post(f"/v1/api_keys/{rotated['id']}/revoke")
    revoked = only(client, action="api_key.revoked")
    assert (revoked["object_id"], revoked["changes"]) == (
        rotated["id"],
        {"revoked_at": {"before": None, "after": "2026-01-01T09:01:00+00:00"}},
    )


def test_rotation_entries_tell_what_happened_to_the_old_key(client: TestClient, clock: SettableClock) -> None:
    key = client.post("/v1/api_keys", json={"name": "batch"}).json()
    first = client.post(f"/v1/api_keys/{key['id']}/rotate", json={"grace_hours": 1}).json()
    clock.advance(timedelta(minutes=10))
    second = client.post(f"/v1/api_keys/{key['id']}/rotate", json={"grace_hours": 24}).json()
    clock.advance(timedelta(minutes=10))
    third = client.post(f"/v1/api_keys/{key['id']}/rotate", json={"grace_hours": 0}).json()
    assert [e["changes"] for e in entries(client, action="api_key.rotated")] == [
        {
            "revoked_at": {"before": None, "after": "2026-01-01T09:20:00+00:00"},
            "replaced_by": {"before": None, "after": third["id"]},
        },
        {"replaced_by": {"before": None, "after": second["id"]}},  # the earlier end stands
        {
            "expires_at": {"before": None, "after": "2026-01-01T10:00:00+00:00"},
            "replaced_by": {"before": None, "after": first["id"]},
        },
    ]


def test_filters(ctx: ServiceContext, client: TestClient, tenant: TenantAccess, clock: SettableClock) -> None:
    first = client.post("/v1/customers", json={"external_id": "a", "name": "A"}).json()
    clock.advance(timedelta(seconds=1))
    second_key = client.post("/v1/api_keys", json={"name": "second"}).json()
    clock.advance(timedelta(seconds=1))
    with TestClient(create_app(ctx), headers={"Authorization": f"Bearer {second_key['key']}"}) as other:
        second = other.post("/v1/customers", json={"external_id": "b", "name": "B"}).json()
        clock.advance(timedelta(seconds=1))
        other.patch(f"/v1/customers/{first['id']}", json={"name": "A2"})

    by_second = entries(client, actor_id=second_key["id"])
    assert [(e["action"], e["object_id"]) for e in by_second] == [
        ("customer.updated", first["id"]),
        ("customer.created", second["id"]),
    ]
    assert [(e["action"], e["object_id"]) for e in entries(client, actor_id=tenant.actor.id)] == [
        ("api_key.created", second_key["id"]),
        ("customer.created", first["id"]),
    ]
    assert [e["action"] for e in entries(client, object_id=first["id"])] == [
        "customer.updated",
        "customer.created",
    ]
    assert [e["object_id"] for e in entries(client, action="customer.created")] == [second["id"], first["id"]]
    assert [e["object_id"] for e in entries(client, object_type="customer", actor_id=second_key["id"])] == [
        first["id"],
        second["id"],
    ]
    assert entries(client, action="customer.deleted") == []
    assert [e["action"] for e in entries(client, at_gte="2026-01-01T09:00:02Z")] == [
        "customer.updated",
        "customer.created",
    ]
    page = client.get("/v1/audit_events", params={"limit": 2}).json()
    assert (len(page["data"]), page["has_more"], page["next_cursor"]) == (2, True, page["data"][1]["id"])


def test_another_tenants_entries_are_invisible(ctx: ServiceContext, client: TestClient) -> None:
    other = make_tenant(ctx, "Other")
    with TestClient(create_app(ctx), headers=other.headers) as other_client:
        other_client.post("/v1/customers", json={"external_id": "x", "name": "X"})
    # both written in the same millisecond when the tenant was made: their order is not defined
    assert sorted(e["action"] for e in entries(client)) == ["api_key.created", "tenant.created"]
    assert entries(client, actor_id=other.actor.id) == []


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_no_route_alters_the_log(client: TestClient, method: str) -> None:
    entry_id = entries(client)[0]["id"]
    response = client.request(method, "/v1/audit_events", json={"changes": {}})
    assert response.status_code == 405, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"
    one = client.request(method, f"/v1/audit_events/{entry_id}", json={"changes": {}})
    assert one.status_code == 404  # there is no route for a single entry at all
    assert [e["id"] for e in entries(client)][0] == entry_id


def test_the_database_refuses_update_and_delete(
    ctx: ServiceContext, client: TestClient, tenant: TenantAccess
) -> None:
    client.post("/v1/customers", json={"external_id": "kept", "name": "Kept"})
    before = entries(client)
    target = before[0]["id"]
    attempts = [
        audit_events.update().where(audit_events.c.id == target).values(action="customer.forged"),
        audit_events.update().values(changes={}),
        audit_events.delete().where(audit_events.c.id == target),
        audit_events.delete(),
    ]
    for statement in attempts:
        with pytest.raises(sa.exc.DBAPIError, match="audit_events cannot be altered"):
            with ctx.engine.begin() as conn:
                conn.execute(statement)
    assert entries(client) == before
    with ctx.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(audit_events).where(audit_events.c.tenant_id == tenant.id)
        ).scalar_one()
    assert count == 3


def test_every_audited_change_also_emits_its_event(client: TestClient) -> None:
    """Issue 3: every state change emits an event under the same name as its audit entry, so webhook
    receivers see what the audit log sees (rotations, deletions, replays, the tenant itself)."""
    key = client.post("/v1/api_keys", json={"name": "k"}).json()
    client.post(f"/v1/api_keys/{key['id']}/rotate", json={"grace_hours": 0})
    client.patch("/v1/settings", json={"webhook_allowed_networks": ["127.0.0.0/8"]})
    hook = client.post("/v1/webhook_endpoints", json={"url": "http://127.0.0.1:9/h"}).json()
    client.delete(f"/v1/webhook_endpoints/{hook['id']}")
    clock = client.post("/v1/test_clocks", json={"name": "c", "frozen_time": "2026-01-01T00:00:00Z"}).json()
    client.post(f"/v1/test_clocks/{clock['id']}/advance", json={"frozen_time": "2026-01-02T00:00:00Z"})
    actions = {e["action"] for e in client.get("/v1/audit_events?limit=100").json()["data"]}
    types = {e["type"] for e in client.get("/v1/events?limit=100").json()["data"]}
    assert actions <= types, actions - types
    assert {
        "tenant.created",
        "api_key.rotated",
        "webhook_endpoint.deleted",
        "test_clock.advancing",
    } <= actions
