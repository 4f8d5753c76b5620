"""Webhook delivery end to end: events from the API reach a real HTTP receiver through the worker, signed
(checked with the standardwebhooks library), filtered, retried on the exact schedule, the endpoint disabled
after persistent failure, replayed by hand; nothing is sent for a change that rolled back."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from kassa import worker
from kassa.core.events import EventType
from kassa.core.webhooks import ENDPOINT_DISABLE_AFTER, RETRY_DELAYS
from kassa.services import events, webhooks
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver: records every request and answers `status`."""

    url: str
    status: int = 200
    requests: list[Request] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)  # set at each request
    release: threading.Event | None = None  # when set up, each answer waits for it


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            state.arrived.set()
            if state.release is not None:
                state.release.wait(10)
            answer = b"thanks" if state.status < 300 else b"down for maintenance"
            self.send_response(state.status)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


def allow_loopback(client: TestClient) -> None:
    response = client.patch("/v1/settings", json={"webhook_allowed_networks": ["127.0.0.0/8"]})
    assert response.status_code == 200, response.text
    assert response.json()["webhook_allowed_networks"] == ["127.0.0.0/8"]


def create_endpoint(client: TestClient, url: str, enabled_events: list[str]) -> dict[str, Any]:
    response = client.post("/v1/webhook_endpoints", json={"url": url, "enabled_events": enabled_events})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    return body


def create_customer(client: TestClient, external_id: str, name: str = "Zoë Zähler") -> dict[str, Any]:
    response = client.post("/v1/customers", json={"external_id": external_id, "name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def deliveries(client: TestClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries", params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["data"]))  # oldest first


def delivery(client: TestClient, delivery_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/webhook_deliveries/{delivery_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def event_of(client: TestClient, type: str, object_id: str) -> dict[str, Any]:
    response = client.get("/v1/events", params={"type": type, "object_id": object_id})
    assert response.status_code == 200, response.text
    (only,) = response.json()["data"]
    return dict(only)


def test_an_event_is_delivered_once_signed_and_filtered(
    ctx: ServiceContext, client: TestClient, tenant: TenantAccess, clock: SettableClock, receiver: Receiver
) -> None:
    # standardwebhooks refuses signatures more than 5 minutes from the real wall clock.
    clock.at = datetime.now(UTC).replace(microsecond=0)  # noqa: TID251
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.*"])
    users_endpoint = create_endpoint(client, receiver.url.replace("/hooks", "/users"), ["user.created"])
    customer = create_customer(client, "cus-1")
    user = client.post("/v1/users", json={"email": "ops@example.com", "name": "Ops", "role": "finance"})
    assert user.status_code == 201, user.text

    assert worker.run_once(ctx) == 2  # customer.created to one endpoint, user.created to the other

    by_path = {r.path: r for r in receiver.requests}
    assert sorted(r.path for r in receiver.requests) == ["/hooks", "/users"]
    sent = by_path["/hooks"]
    created = event_of(client, "customer.created", customer["id"])
    stored = events.get_event(ctx, tenant.id, created["id"])
    assert sent.body == json.dumps(stored.to_json(), separators=(",", ":")).encode()
    payload = json.loads(sent.body)
    assert {k: payload[k] for k in ("id", "type", "object_type", "object_id", "customer_id")} == {
        "id": created["id"],
        "type": "customer.created",
        "object_type": "customer",
        "object_id": customer["id"],
        "customer_id": customer["id"],
    }
    assert (payload["data"]["name"], payload["data"]["external_id"]) == ("Zoë Zähler", "cus-1")
    assert Webhook(endpoint["secret"]).verify(sent.body, sent.headers) == payload
    assert sent.headers["webhook-id"] == created["id"]
    assert sent.headers["webhook-timestamp"] == str(int(clock.now().timestamp()))
    assert sent.headers["content-type"] == "application/json"
    user_event = event_of(client, "user.created", user.json()["id"])
    to_users = by_path["/users"]
    assert Webhook(users_endpoint["secret"]).verify(to_users.body, to_users.headers)["id"] == user_event["id"]

    # Each endpoint got only what it subscribed to: one delivery each, succeeded on the first attempt.
    (only,) = deliveries(client, endpoint["id"])
    assert only["event_id"] == created["id"]
    shown = delivery(client, only["id"])
    assert (shown["status"], shown["attempts"], shown["next_attempt_at"]) == ("succeeded", 1, None)
    assert [(a["ok"], a["status_code"], a["error"], a["response_excerpt"]) for a in shown["attempt_log"]] == [
        (True, 200, None, "thanks")
    ]
    assert [d["event_id"] for d in deliveries(client, users_endpoint["id"])] == [user_event["id"]]
    assert worker.run_once(ctx) == 0
    assert len(receiver.requests) == 2


def test_a_failing_receiver_is_retried_on_the_exact_schedule_then_given_up(
    ctx: ServiceContext, client: TestClient, clock: SettableClock, receiver: Receiver
) -> None:
    receiver.status = 500
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.created"])
    create_customer(client, "cus-1")
    first = clock.now()

    assert worker.run_once(ctx) == 1
    (pending,) = deliveries(client, endpoint["id"])
    assert len(RETRY_DELAYS) == 12
    for retry, delay in enumerate(RETRY_DELAYS, start=1):
        shown = delivery(client, pending["id"])
        due = first + sum(RETRY_DELAYS[:retry], timedelta())
        assert (shown["status"], shown["attempts"], instant(shown["next_attempt_at"])) == (
            "pending",
            retry,
            due,
        )
        assert clock.now() + delay == due
        clock.advance(delay - timedelta(seconds=1))
        assert worker.run_once(ctx) == 0  # one second early: nothing
        clock.advance(timedelta(seconds=1))
        assert worker.run_once(ctx) == 1
        assert len(receiver.requests) == retry + 1

    given_up = delivery(client, pending["id"])
    assert (given_up["status"], given_up["attempts"], given_up["next_attempt_at"]) == ("failed", 13, None)
    assert clock.now() - first == timedelta(hours=72, minutes=35, seconds=5)
    log = given_up["attempt_log"]
    assert [instant(a["attempted_at"]) for a in log] == [
        first + sum(RETRY_DELAYS[:n], timedelta()) for n in range(13)
    ]
    assert {(a["ok"], a["status_code"], a["error"], a["response_excerpt"]) for a in log} == {
        (False, 500, "HTTP 500", "down for maintenance")
    }
    # Three days of failure is not yet enough to disable the endpoint.
    shown_endpoint = client.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()
    assert (shown_endpoint["status"], instant(shown_endpoint["failing_since"])) == ("enabled", first)
    clock.advance(timedelta(days=30))
    assert worker.run_once(ctx) == 0
    assert {r.headers["webhook-id"] for r in receiver.requests} == {pending["event_id"]}


def test_an_endpoint_failing_for_days_is_disabled_and_replay_resends_after_reenabling(
    ctx: ServiceContext, client: TestClient, clock: SettableClock, receiver: Receiver
) -> None:
    receiver.status = 503
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.*"])
    first_customer = create_customer(client, "cus-1")
    failing_since = clock.now()
    assert worker.run_once(ctx) == 1

    clock.at = failing_since + ENDPOINT_DISABLE_AFTER - timedelta(seconds=1)
    second_customer = create_customer(client, "cus-2")
    assert worker.run_once(ctx) == 2  # cus-1's retry, cus-2's first attempt: both fail, one second short
    assert client.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()["status"] == "enabled"

    clock.at = failing_since + ENDPOINT_DISABLE_AFTER
    assert worker.run_once(ctx) == 1  # cus-1's next retry is due; cus-2's (4 s later) is not
    assert len(receiver.requests) == 4

    disabled = client.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()
    reason = f"every delivery failed since {failing_since.isoformat()}; last error: HTTP 503"
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", reason)
    notice = client.get("/v1/events", params={"type": "webhook_endpoint.disabled"}).json()["data"]
    assert [(e["object_id"], e["data"]) for e in notice] == [
        (endpoint["id"], {"id": endpoint["id"], "url": receiver.url, "reason": reason})
    ]
    first_delivery, second_delivery = deliveries(client, endpoint["id"])
    assert first_delivery["event_id"] == event_of(client, "customer.created", first_customer["id"])["id"]
    second_event = event_of(client, "customer.created", second_customer["id"])["id"]
    assert second_delivery["event_id"] == second_event
    for d in (first_delivery, second_delivery):  # pending deliveries stopped with the endpoint
        assert (d["status"], d["next_attempt_at"]) == ("failed", None)
    assert (first_delivery["attempts"], second_delivery["attempts"]) == (3, 1)
    clock.advance(timedelta(days=1))
    assert worker.run_once(ctx) == 0
    assert len(receiver.requests) == 4

    refused = client.post(f"/v1/webhook_deliveries/{second_delivery['id']}/replay")
    assert refused.status_code == 409
    assert refused.json()["code"] == "endpoint_disabled"

    enabled = client.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"status": "enabled"})
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["status"], enabled.json()["disabled_reason"], enabled.json()["failing_since"]) == (
        "enabled", None, None,
    )  # fmt: skip
    receiver.status = 204
    replayed = client.post(f"/v1/webhook_deliveries/{second_delivery['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["status"], replayed.json()["attempts"]) == ("pending", 0)
    assert instant(replayed.json()["next_attempt_at"]) == clock.now()

    assert worker.run_once(ctx) == 1
    resent = receiver.requests[-1]
    original = next(r for r in receiver.requests[:-1] if r.headers["webhook-id"] == second_event)
    assert resent.headers["webhook-id"] == original.headers["webhook-id"] == second_event
    assert resent.body == original.body
    done = delivery(client, second_delivery["id"])
    assert (done["status"], done["attempts"], done["next_attempt_at"]) == ("succeeded", 1, None)
    assert [(a["ok"], a["status_code"]) for a in done["attempt_log"]] == [(False, 503), (True, 204)]
    assert delivery(client, first_delivery["id"])["status"] == "failed"  # not replayed: stays stopped
    assert worker.run_once(ctx) == 0
    assert len(receiver.requests) == 5


def test_an_event_in_a_transaction_that_rolls_back_is_never_delivered(
    ctx: ServiceContext, client: TestClient, tenant: TenantAccess, receiver: Receiver
) -> None:
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.*"])
    create_customer(client, "taken")
    assert worker.run_once(ctx) == 1
    refused = client.post("/v1/customers", json={"external_id": "taken", "name": "Again"})
    assert refused.status_code == 409, refused.text

    with pytest.raises(RuntimeError), ctx.uow() as uow:
        event = events.emit(
            ctx, uow, tenant.id, EventType.CUSTOMER_UPDATED, object_type="customer", object_id="cus_x",
            data={"id": "cus_x"}, at=ctx.clock.now(),
        )  # fmt: skip
        written = uow.webhook_deliveries.list(
            tenant.id, endpoint_id=None, event_id=event.id, limit=5, cursor=None
        )
        assert len(written.items) == 1  # the delivery is written with the event, in the same transaction
        raise RuntimeError("the use case failed after emitting")

    assert worker.run_once(ctx) == 0
    assert len(receiver.requests) == 1
    assert len(deliveries(client, endpoint["id"])) == 1
    assert client.get(f"/v1/events/{event.id}").status_code == 404
    assert [
        e["type"] for e in client.get("/v1/events", params={"type": "customer.created"}).json()["data"]
    ] == ["customer.created"]


def send_while(ctx: ServiceContext, receiver: Receiver, meanwhile: Callable[[], None]) -> None:
    """Run a worker pass whose delivery is in flight (the receiver holds the answer) while `meanwhile` runs."""
    receiver.release = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            worker.run_once(ctx)
        except BaseException as error:  # surfaced below
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    assert receiver.arrived.wait(10)
    meanwhile()
    receiver.release.set()
    thread.join(timeout=30)
    assert errors == []


def test_an_endpoint_disabled_while_a_delivery_is_in_flight_stops_it(
    ctx: ServiceContext, client: TestClient, clock: SettableClock, receiver: Receiver
) -> None:
    receiver.status = 500
    allow_loopback(client)
    endpoint = create_endpoint(client, receiver.url, ["customer.*"])
    create_customer(client, "cus-1")
    (pending,) = deliveries(client, endpoint["id"])

    def disable() -> None:
        off = client.patch(f"/v1/webhook_endpoints/{endpoint['id']}", json={"status": "disabled"})
        assert off.status_code == 200, off.text

    send_while(ctx, receiver, disable)

    stopped = delivery(client, pending["id"])
    assert (stopped["status"], stopped["attempts"], stopped["next_attempt_at"]) == ("failed", 1, None)
    assert [a["status_code"] for a in stopped["attempt_log"]] == [500]
    clock.advance(timedelta(hours=1))
    assert worker.run_once(ctx) == 0  # nothing left to claim, again and again
    assert len(receiver.requests) == 1


def test_an_endpoint_deleted_while_a_delivery_is_in_flight_does_not_break_the_worker(
    ctx: ServiceContext, client: TestClient, clock: SettableClock, receiver: Receiver
) -> None:
    allow_loopback(client)
    doomed = create_endpoint(client, receiver.url, ["customer.*"])
    create_customer(client, "cus-1")
    clock.advance(timedelta(seconds=1))  # the other endpoint's delivery comes second in the batch
    kept = create_endpoint(client, receiver.url.replace("/hooks", "/kept"), ["customer.*"])
    create_customer(client, "cus-2")

    def delete() -> None:
        assert client.delete(f"/v1/webhook_endpoints/{doomed['id']}").status_code == 204

    send_while(ctx, receiver, delete)

    assert [r.path for r in receiver.requests] == ["/hooks", "/kept"]  # the batch went on
    assert [(d["status"], d["attempts"]) for d in deliveries(client, kept["id"])] == [("succeeded", 1)]
    assert worker.run_once(ctx) == 0


def test_a_second_worker_does_not_take_deliveries_still_waiting_their_turn(
    ctx: ServiceContext, client: TestClient, clock: SettableClock, receiver: Receiver
) -> None:
    """Issue 3: a worker's claim lasts until it can have reached each delivery of its batch, so a second
    worker arriving after a slow first send does not send the rest of the batch a second time."""
    allow_loopback(client)
    create_endpoint(client, receiver.url, ["customer.*"])
    for name in ("cus-1", "cus-2", "cus-3"):
        create_customer(client, name)
        clock.advance(timedelta(seconds=1))
    first_send = threading.Event()

    def meanwhile() -> None:  # worker A's first send is slow: 70 s pass, worker B runs a pass
        clock.advance(timedelta(seconds=70))
        first_send.set()
        assert webhooks.deliver_due(ctx) == 0

    receiver.release = threading.Event()
    thread = threading.Thread(target=webhooks.deliver_due, args=(ctx,))
    thread.start()
    assert receiver.arrived.wait(10)
    meanwhile()
    receiver.release.set()
    thread.join(timeout=30)
    assert first_send.is_set()
    assert len(receiver.requests) == 3
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 3
