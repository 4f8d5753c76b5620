"""Tickets and SLA policies over HTTP (issue 9): a policy put and read back in normal form, a ticket opened
on a test clock with its exact deadlines, answered, its time logged as a cost, solved, listed with filters;
problem+json errors with their codes and fields."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
POLICY: dict[str, Any] = {
    "name": "Standard support",
    "calendar": {
        "time_zone": "Europe/Berlin",
        "hours": {day: [{"start": "09:00", "end": "17:00"}] for day in WEEKDAYS},
        "holidays": ["2026-05-25"],
    },
    "targets": {
        p: {"first_response_minutes": f, "resolution_minutes": r}
        for p, f, r in (("urgent", 60, 480), ("high", 120, 960), ("normal", 240, 2400), ("low", 480, 4800))
    },
    "warn_percent": 75,
    "cost_per_hour": {"amount": "50.00", "currency": "EUR"},
}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _customer_on_clock(client: TestClient) -> str:
    clock = _ok(
        client.post("/v1/test_clocks", json={"name": "t", "frozen_time": "2026-05-22T14:30:00Z"}), 201
    )
    body = {"external_id": "acme", "name": "ACME", "test_clock_id": clock["id"]}
    customer: str = _ok(client.post("/v1/customers", json=body), 201)["id"]
    return customer


def test_policy_put_and_read(client: TestClient) -> None:
    put = _ok(client.put("/v1/sla_policies/standard", json=POLICY))
    assert put["object"] == "sla_policy" and put["code"] == "standard"
    assert put["targets"]["urgent"] == {"first_response_minutes": 60, "resolution_minutes": 480}
    assert put["cost_per_hour"] == {"amount": "50.00", "currency": "EUR"}
    assert _ok(client.get("/v1/sla_policies/standard")) == put
    assert [p["code"] for p in _ok(client.get("/v1/sla_policies"))["data"]] == ["standard"]
    missing = client.get("/v1/sla_policies/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "sla_policy_not_found")


def test_policy_errors_are_problems_with_a_field(client: TestClient) -> None:
    bad = {
        **POLICY,
        "targets": {**POLICY["targets"], "low": {"first_response_minutes": 90, "resolution_minutes": 60}},
    }
    response = client.put("/v1/sla_policies/standard", json=bad)
    problem = response.json()
    assert response.status_code == 422
    assert (problem["code"], problem["field"]) == ("invalid_sla_policy", "targets.low.resolution_minutes")
    missing = {**POLICY, "targets": {"urgent": POLICY["targets"]["urgent"]}}
    problem = client.put("/v1/sla_policies/standard", json=missing).json()
    assert (problem["code"], problem["field"]) == ("invalid_sla_policy", "targets.low")
    zone = {**POLICY, "calendar": {**POLICY["calendar"], "time_zone": "Mars/Olympus"}}
    problem = client.put("/v1/sla_policies/standard", json=zone).json()
    assert (problem["code"], problem["field"]) == ("invalid_sla_policy", "calendar.time_zone")
    assert client.get("/v1/sla_policies").json()["data"] == []


def test_a_ticket_end_to_end(client: TestClient) -> None:
    _ok(client.put("/v1/sla_policies/standard", json=POLICY))
    customer = _customer_on_clock(client)
    body = {"customer_id": customer, "subject": "Invoices do not load", "channel": "email", "priority": "urgent",
            "sla_policy": "standard", "description": "Since this morning."}  # fmt: skip
    ticket = _ok(client.post("/v1/tickets", json=body), 201)
    assert {k: ticket[k] for k in ("status", "opened_at", "first_response_due_at", "resolution_due_at")} == {
        "status": "new",
        "opened_at": "2026-05-22T14:30:00Z",
        "first_response_due_at": "2026-05-26T07:30:00Z",
        "resolution_due_at": "2026-05-26T14:30:00Z",
    }
    answered = _ok(client.post(f"/v1/tickets/{ticket['id']}/responses", json={"message": "On it."}))
    assert (answered["status"], answered["first_responded_at"], answered["first_response_breached"]) == (
        "open", "2026-05-22T14:30:00Z", False)  # fmt: skip
    cost = _ok(client.post(f"/v1/tickets/{ticket['id']}/time", json={"minutes": 25}), 201)
    assert (cost["kind"], cost["minutes"], cost["cost"]) == (
        "support",
        25,
        {"amount": "20.83", "currency": "EUR"},
    )
    costs = _ok(client.get(f"/v1/customers/{customer}/costs"))["data"]
    assert [c["id"] for c in costs] == [cost["id"]]
    solved = _ok(client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "solved"}))
    assert (solved["status"], solved["resolved_at"], solved["minutes_spent"]) == (
        "solved",
        "2026-05-22T14:30:00Z",
        25,
    )
    assert _ok(client.get(f"/v1/tickets/{ticket['id']}")) == solved
    listed = _ok(client.get("/v1/tickets", params={"status": "solved", "customer_id": customer}))["data"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    assert _ok(client.get("/v1/tickets", params={"status": "open"}))["data"] == []
    timeline = _ok(client.get(f"/v1/customers/{customer}/timeline?limit=100"))["data"]
    types = {e["type"] for e in timeline}
    assert {"ticket.created", "ticket.responded", "ticket.updated", "cost.recorded"} <= types


def test_ticket_errors(client: TestClient) -> None:
    customer = _customer_on_clock(client)
    base = {"customer_id": customer, "subject": "Help", "channel": "email"}
    problem = client.post("/v1/tickets", json={**base, "sla_policy": "nope"}).json()
    assert (problem["code"], problem["field"]) == ("unknown_sla_policy", "sla_policy")
    problem = client.post("/v1/tickets", json={**base, "assignee_id": "usr_nobody"}).json()
    assert (problem["code"], problem["field"]) == ("invalid_assignee", "assignee_id")
    response = client.post("/v1/tickets", json={**base, "channel": "fax"})
    assert response.status_code == 422
    ticket = _ok(client.post("/v1/tickets", json=base), 201)
    _ok(client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "closed"}))
    problem = client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "open"}).json()
    assert (problem["code"], problem["field"]) == ("invalid_status_transition", "status")
    response = client.post(f"/v1/tickets/{ticket['id']}/responses", json={"message": "hello"})
    assert (response.status_code, response.json()["code"]) == (409, "ticket_closed")
    response = client.get("/v1/tickets/tkt_missing")
    assert (response.status_code, response.json()["code"]) == (404, "ticket_not_found")


def test_the_sla_attainment_report(client: TestClient) -> None:
    """Issue 9: the urgent ticket answered and solved at once meets both targets; JSON and CSV agree."""
    _ok(client.put("/v1/sla_policies/standard", json=POLICY))
    customer = _customer_on_clock(client)
    body = {"customer_id": customer, "subject": "Down", "channel": "chat", "priority": "urgent",
            "sla_policy": "standard"}  # fmt: skip
    ticket = _ok(client.post("/v1/tickets", json=body), 201)
    _ok(client.post(f"/v1/tickets/{ticket['id']}/responses", json={"message": "Looking."}))
    _ok(client.patch(f"/v1/tickets/{ticket['id']}", json={"status": "solved"}))
    _ok(client.post("/v1/tickets", json={**body, "priority": "low", "sla_policy": None}), 201)
    report = _ok(client.get("/v1/reports/sla_attainment", params={"from": "2026-05", "to": "2026-05"}))
    rows = {r["priority"]: r for r in report["rows"]}
    assert rows["urgent"] | {} == {
        "month": "2026-05", "priority": "urgent", "tickets": 1, "with_sla": 1,
        "first_response_met": 1, "first_response_breached": 0, "first_response_running": 0,
        "first_response_attainment": "100.0", "resolution_met": 1, "resolution_breached": 0,
        "resolution_running": 0, "resolution_attainment": "100.0",
        "median_first_response_minutes": "0", "median_resolution_minutes": "0",
    }  # fmt: skip
    assert (rows["low"]["tickets"], rows["low"]["with_sla"], rows["low"]["first_response_attainment"]) == (
        1,
        0,
        None,
    )
    csv = client.get(
        "/v1/reports/sla_attainment", params={"from": "2026-05", "to": "2026-05", "format": "csv"}
    )
    assert csv.text.splitlines()[1].startswith("2026-05,low,1,0,")
    problem = client.get("/v1/reports/sla_attainment", params={"from": "2026-06", "to": "2026-05"}).json()
    assert (problem["code"], problem["field"]) == ("invalid_month", "to")
