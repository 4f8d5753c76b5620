"""Provisioning steps and onboarding over HTTP (issue 9): a subscription on a test clock starts a webhook, an
email and a task; without an SMTP server and without an endpoint to sign with, two fail; listed with filters
and pages; the webhook retried once an endpoint exists and delivered to a real local HTTP server; the task
completed, the email confirmed: onboarding complete. Errors are problem+json with their codes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_subscriptions_api import advance
from tests.services.test_webhook_delivery import allow_loopback, running_receiver

OWNER = "ops@acme.test"


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body.get("field")) == (code, field), body


def setup(client: TestClient, url: str) -> tuple[str, str, str]:
    """The catalog, Olga, and a customer on a clock at Monday 2 Mar 2026 09:00 subscribed to starter:
    (clock id, customer id, Olga's id)."""
    steps = [
        {"code": "create-workspace", "on": ["started"], "webhook": {"url": url}, "max_attempts": 1},
        {
            "code": "welcome",
            "on": ["started"],
            "email": {"to": "customer", "subject": "Welcome", "body": "Hi!"},
        },
        {"code": "kickoff-call", "on": ["started"], "task": {"owner": OWNER, "due_in_hours": 48}},
    ]
    plan = {"code": "starter", "name": "Starter", "billing_period": "month", "provisioning": steps,
            "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}]}  # fmt: skip
    document = {"products": [{"code": "app", "name": "App", "plans": [plan]}]}
    ok(client.post("/v1/catalog", json={"document": document, "effective_at": "2025-01-01T00:00:00Z"}), 201)
    olga = ok(client.post("/v1/users", json={"email": OWNER, "name": "Olga", "role": "support"}), 201)["id"]
    clock = ok(
        client.post("/v1/test_clocks", json={"name": "t", "frozen_time": "2026-03-02T09:00:00Z"}), 201
    )["id"]
    customer = ok(client.post("/v1/customers", json={"external_id": "zoe", "name": "Zoë", "currency": "EUR",
                                                     "emails": ["zoe@customer.test"], "test_clock_id": clock}), 201)["id"]  # fmt: skip
    ok(client.post("/v1/subscriptions", json={"customer_id": customer, "plan": "starter"}), 201)
    return clock, customer, olga


def test_steps_are_listed_retried_completed_and_onboarding_completes(client: TestClient) -> None:
    with running_receiver() as receiver:
        allow_loopback(client)
        clock, customer, olga = setup(client, receiver.url)
        onboarding = ok(client.get(f"/v1/customers/{customer}/onboarding"))
        assert {k: onboarding[k] for k in ("object", "customer_id", "status", "pending", "done", "failed",
                                           "overdue_tasks")} == {
            "object": "onboarding", "customer_id": customer, "status": "in_progress", "pending": 3, "done": 0,
            "failed": 0, "overdue_tasks": 0}  # fmt: skip
        steps = {s["step"]: s for s in onboarding["steps"]}
        task = steps["kickoff-call"]
        assert (task["object"], task["action"], task["trigger"], task["owner_id"], task["due_at"]) == (
            "provisioning_step", "task", "started", olga, "2026-03-04T09:00:00Z")  # fmt: skip

        advance(client, clock, "2026-03-02T09:00:30Z")
        failed = ok(
            client.get("/v1/provisioning_steps", params={"customer_id": customer, "status": "failed"})
        )
        assert sorted((s["step"], s["attempts"], s["last_error"][:29]) for s in failed["data"]) == [
            ("create-workspace", 1, "No webhook endpoint on http:/"), ("welcome", 1, "no SMTP server configured")]  # fmt: skip
        assert ok(client.get(f"/v1/customers/{customer}/onboarding"))["status"] == "failed"
        mine = ok(client.get("/v1/provisioning_steps", params={"owner_id": olga}))["data"]
        assert [s["id"] for s in mine] == [task["id"]]
        first = ok(client.get("/v1/provisioning_steps", params={"limit": 2}))
        second = ok(client.get("/v1/provisioning_steps", params={"limit": 2, "cursor": first["next_cursor"]}))
        assert (first["has_more"], second["has_more"], len(second["data"])) == (True, False, 1)
        every = {s["id"] for s in first["data"] + second["data"]}
        assert every == {s["id"] for s in onboarding["steps"]}

        ok(
            client.post("/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["invoice.*"]}),
            201,
        )
        hook = steps["create-workspace"]["id"]
        again = ok(client.post(f"/v1/provisioning_steps/{hook}/retry"))
        assert (again["status"], again["attempts"], again["next_attempt_at"]) == (
            "pending", 0, "2026-03-02T09:00:30Z")  # fmt: skip
        problem(client.post(f"/v1/provisioning_steps/{hook}/retry"), 409, "step_not_failed")
        problem(client.post(f"/v1/provisioning_steps/{task['id']}/retry"), 409, "step_not_retryable")
        advance(client, clock, "2026-03-02T10:00:00Z")
        done = ok(client.get(f"/v1/provisioning_steps/{hook}"))
        assert (done["status"], done["attempts"], done["completed_at"]) == ("done", 1, "2026-03-02T09:00:30Z")
        assert [r.path for r in receiver.requests] == ["/hooks"]

    completed = ok(client.post(f"/v1/provisioning_steps/{task['id']}/complete"))
    assert (completed["status"], completed["completed_at"]) == ("done", "2026-03-02T10:00:00Z")
    problem(client.post(f"/v1/provisioning_steps/{task['id']}/complete"), 409, "step_done")
    problem(client.post(f"/v1/provisioning_steps/{steps['welcome']['id']}/fail", json={"reason": "x"}), 409,
            "step_failed")  # fmt: skip
    ok(client.post(f"/v1/provisioning_steps/{steps['welcome']['id']}/complete"))  # sent by hand
    final = ok(client.get(f"/v1/customers/{customer}/onboarding"))
    assert (final["status"], final["done"], final["failed"]) == ("complete", 3, 0)


def test_a_pending_task_failed_by_hand_and_errors(client: TestClient) -> None:
    clock, customer, _ = setup(client, "https://ops.example.com/provision")
    [task] = ok(client.get("/v1/provisioning_steps", params={"customer_id": customer, "status": "pending",
                                                             "owner_id": ok(client.get("/v1/users"))["data"][0]["id"]}))["data"]  # fmt: skip
    problem(client.post(f"/v1/provisioning_steps/{task['id']}/fail", json={"reason": ""}), 422, "invalid_value",
            "reason")  # fmt: skip
    problem(client.post(f"/v1/provisioning_steps/{task['id']}/fail", json={}), 422, "required", "reason")
    gone = ok(client.post(f"/v1/provisioning_steps/{task['id']}/fail", json={"reason": "Customer declined"}))
    assert (gone["status"], gone["last_error"]) == ("failed", "Customer declined")
    problem(client.get("/v1/provisioning_steps/prv_nope"), 404, "provisioning_step_not_found")
    problem(client.post("/v1/provisioning_steps/prv_nope/complete"), 404, "provisioning_step_not_found")
    problem(client.get("/v1/customers/cus_nope/onboarding"), 404, "customer_not_found")
    assert client.get("/v1/provisioning_steps", params={"status": "lost"}).status_code == 422
