"""/v1/webhook_endpoints and /v1/webhook_deliveries through the ASGI app: the address policy, the secret
shown once, filters checked, disabling by hand stops pending deliveries, replay, tenant walls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kassa import worker
from kassa.services.context import ServiceContext
from tests.conftest import make_tenant
from tests.services.test_webhook_delivery import (
    Receiver,
    allow_loopback,
    create_customer,
    create_endpoint,
    deliveries,
    delivery,
    event_of,
    running_receiver,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hooks", "neither a public address nor in the allowed networks"),
        ("http://[::1]:8080/hooks", "neither a public address nor in the allowed networks"),
        ("http://169.254.169.254/latest/meta-data", "neither a public address nor in the allowed networks"),
        ("http://93.184.216.34/hooks", "Use https"),
        ("ftp://93.184.216.34/hooks", "Only http and https"),
    ],
)
def test_an_endpoint_url_our_side_of_the_network_is_refused(client: TestClient, url: str, why: str) -> None:
    refused = client.post("/v1/webhook_endpoints", json={"url": url, "enabled_events": ["customer.*"]})
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == ("invalid_webhook_url", "url")
    assert why in refused.json()["detail"]
    assert client.get("/v1/webhook_endpoints").json()["data"] == []


def test_loopback_is_accepted_once_allowed_and_the_secret_is_shown_on_request_only(
    client: TestClient, receiver: Receiver
) -> None:
    allow_loopback(client)
    created = create_endpoint(client, receiver.url, ["customer.*", "customer.*", "user.created"])
    assert created["enabled_events"] == ["customer.*", "user.created"]  # duplicates dropped, order kept
    assert (created["status"], created["disabled_reason"], created["failing_since"]) == (
        "enabled",
        None,
        None,
    )
    shown = client.get(f"/v1/webhook_endpoints/{created['id']}").json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    assert all("secret" not in e for e in client.get("/v1/webhook_endpoints").json()["data"])
    assert client.get(f"/v1/webhook_endpoints/{created['id']}/secret").json()["secret"] == created["secret"]

    moved = client.patch(f"/v1/webhook_endpoints/{created['id']}", json={"url": "http://10.0.0.7/hooks"})
    assert (moved.status_code, moved.json()["code"]) == (422, "invalid_webhook_url")
    bad_filter = client.post(
        "/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["customer"]}
    )
    assert bad_filter.status_code == 422
    assert (bad_filter.json()["code"], bad_filter.json()["field"]) == (
        "invalid_event_filter",
        "enabled_events.0",
    )


def test_disabling_by_hand_stops_pending_deliveries_and_replay_needs_it_enabled(
    ctx: ServiceContext, client: TestClient, receiver: Receiver
) -> None:
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.created"])
    customer = create_customer(client, "cus-1")
    (pending,) = deliveries(client, endpoint["id"])
    assert (pending["status"], pending["attempts"]) == ("pending", 0)

    off = client.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"status": "disabled"})
    assert (off.json()["status"], off.json()["disabled_reason"]) == ("disabled", "disabled by hand")
    assert (delivery(client, pending["id"])["status"], delivery(client, pending["id"])["next_attempt_at"]) == (
        "failed", None,
    )  # fmt: skip
    create_customer(client, "cus-2")  # a disabled endpoint gets no new deliveries either
    assert worker.run_once(ctx) == 0
    assert receiver.requests == []
    refused = client.post(f"/v1/webhook_deliveries/{pending['id']}/replay")
    assert (refused.status_code, refused.json()["code"]) == (409, "endpoint_disabled")

    assert (
        client.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"status": "enabled"}).status_code == 200
    )
    replayed = client.post(f"/v1/webhook_deliveries/{pending['id']}/replay")
    assert (replayed.status_code, replayed.json()["status"]) == (200, "pending")
    assert worker.run_once(ctx) == 1
    (sent,) = receiver.requests
    assert sent.headers["webhook-id"] == event_of(client, "customer.created", customer["id"])["id"]
    done = delivery(client, pending["id"])
    assert (done["status"], done["attempts"], [a["status_code"] for a in done["attempt_log"]]) == (
        "succeeded", 1, [200],
    )  # fmt: skip
    assert len(deliveries(client, endpoint["id"])) == 1


def test_deliveries_and_endpoints_are_walled_by_tenant(
    ctx: ServiceContext, client: TestClient, receiver: Receiver
) -> None:
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.*"])
    create_customer(client, "cus-1")
    (only,) = deliveries(client, endpoint["id"])
    other = make_tenant(ctx, "Other Co").headers
    for response in (
        client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=other),
        client.get(f"/v1/webhook_endpoints/{endpoint['id']}/secret", headers=other),
        client.get(f"/v1/webhook_endpoints/{endpoint['id']}/deliveries", headers=other),
        client.get(f"/v1/webhook_deliveries/{only['id']}", headers=other),
        client.post(f"/v1/webhook_deliveries/{only['id']}/replay", headers=other),
        client.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"status": "disabled"}, headers=other),
        client.delete(f"/v1/webhook_endpoints/{endpoint['id']}", headers=other),
    ):
        assert response.status_code == 404, response.text
    assert client.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()["status"] == "enabled"

    assert client.delete(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 204
    assert client.get(f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 404
    assert client.get(f"/v1/webhook_deliveries/{only['id']}").status_code == 404
    assert worker.run_once(ctx) == 0
    assert receiver.requests == []
