"""Issue 4: /v1/subscriptions through the HTTP API, on customers attached to a test clock so that trials,
future starts, pending changes, cancellations and fixed terms happen when the clock is advanced. Every
amount in a billing schedule is computed by hand in the comments (price × quantity × days ÷ days of the
period, rounded half-up once). Runs on SQLite and PostgreSQL (the `client` fixture)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from tests.conftest import make_tenant

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
_EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
CLOCK_START = "2026-01-15T10:00:00Z"  # customers on the clock are in UTC unless said otherwise
UNKNOWN_SUB = "sub_01KDWCJ2M0ZRKS3XH416Q82C60"

# A small catalog of our own: a 3-month pilot that ends, and a plan priced in yen.
SMALL: dict[str, Any] = {
    "name": "Small",
    "products": [
        {
            "code": "pilot",
            "name": "Pilot",
            "plans": [
                {
                    "code": "pilot-3m",
                    "name": "Pilot, 3 months",
                    "billing_period": "month",
                    "phases": [
                        {
                            "type": "fixed_term",
                            "cycles": 3,
                            "at_end": "end",
                            "prices": {"EUR": {"flat": "100.00"}},
                        }
                    ],
                },
                {
                    "code": "basic-jpy",
                    "name": "Basic",
                    "billing_period": "month",
                    "phases": [{"type": "evergreen", "prices": {"JPY": {"flat": "1000", "per_unit": "500"}}}],
                },
            ],
        }
    ],
}


# ---- helpers -------------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["code"], body["field"]) == (code, field), body
    return body


def apply_catalog(client: TestClient, document: dict[str, Any]) -> None:
    ok(client.post("/v1/catalog", json={"document": document, "effective_at": "2025-01-01T00:00:00Z"}), 201)


def new_clock(client: TestClient, frozen_time: str = CLOCK_START) -> str:
    clock_id: str = ok(client.post("/v1/test_clocks", json={"name": "Sim", "frozen_time": frozen_time}), 201)[
        "id"
    ]
    return clock_id


def new_customer(client: TestClient, clock_id: str | None, external_id: str = "c1", **fields: Any) -> str:
    body: dict[str, Any] = {"external_id": external_id, "name": external_id.upper(), **fields}
    if clock_id is not None:
        body["test_clock_id"] = clock_id
    customer_id: str = ok(client.post("/v1/customers", json=body), 201)["id"]
    return customer_id


def subscribe(client: TestClient, customer_id: str, plan: str, **fields: Any) -> dict[str, Any]:
    return ok(
        client.post("/v1/subscriptions", json={"customer_id": customer_id, "plan": plan, **fields}), 201
    )


def advance(client: TestClient, clock_id: str, to: str) -> dict[str, Any]:
    response = client.post(f"/v1/test_clocks/{clock_id}/advance", json={"frozen_time": to})
    if (
        response.status_code == 202
    ):  # a loaded machine went past the advance budget: it goes on in the background
        deadline = time.monotonic() + 300
        while response.json()["status"] == "advancing" and time.monotonic() < deadline:
            time.sleep(0.2)
            response = client.get(f"/v1/test_clocks/{clock_id}")
    body = ok(response)
    assert (body["status"], body["error"], body["frozen_time"]) == ("ready", None, to), body
    return body


def get(client: TestClient, sub_id: str) -> dict[str, Any]:
    return ok(client.get(f"/v1/subscriptions/{sub_id}"))


def lines(client: TestClient, sub_id: str, **params: str) -> list[tuple[str, str, str, str, str, str]]:
    """The schedule as (due, kind, key, service start, service end, amount)."""
    body = ok(client.get(f"/v1/subscriptions/{sub_id}/schedule", params=params))
    return [
        (c["due_date"], c["kind"], c["key"], c["service_start"], c["service_end"], c["total"]["amount"])
        for c in body["charges"]
    ]


def changes(sub: dict[str, Any]) -> list[tuple[str, str, bool, str | None, int | None, str]]:
    return [
        (c["kind"], c["effective_date"], c["prorate"], c["plan"], c["quantity"], c["status"])
        for c in sub["changes"]
    ]


def timeline(client: TestClient, customer_id: str) -> list[tuple[str, str, str]]:
    """The customer's events as (type, occurred_at, object_id), oldest first."""
    body = ok(client.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 100}))
    return [(e["type"], e["occurred_at"], e["object_id"]) for e in reversed(body["data"])]


def events_of(client: TestClient, customer_id: str, sub_id: str) -> list[tuple[str, str]]:
    return [(kind, at) for kind, at, obj in timeline(client, customer_id) if obj == sub_id]


@pytest.fixture
def example_catalog(client: TestClient) -> None:
    apply_catalog(client, copy.deepcopy(_EXAMPLE_DOC))


@pytest.fixture
def clock_id(client: TestClient) -> str:
    return new_clock(client)


@pytest.fixture
def customer_id(client: TestClient, clock_id: str, example_catalog: None) -> str:
    return new_customer(client, clock_id)


# ---- creating ------------------------------------------------------------------------------------------


def test_create_on_a_trial_shows_the_trial_then_the_discount_prices(
    client: TestClient, customer_id: str
) -> None:
    created = subscribe(client, customer_id, "team-monthly", quantity=5, metadata={"crm": "42"})

    assert created["id"].startswith("sub_")
    assert created == {
        "id": created["id"],
        "customer_id": customer_id,
        "status": "trialing",
        "plan": "team-monthly",
        "quantity": 5,
        "addons": {},
        "currency": "EUR",
        "time_zone": "UTC",
        "start_date": "2026-01-15",
        "trial_days": None,
        "billing_anchor": {"type": "anniversary", "day": None},
        "changes": [
            {
                "id": created["changes"][0]["id"],
                "kind": "start",
                "effective_date": "2026-01-15",
                "prorate": True,
                "plan": "team-monthly",
                "quantity": 5,
                "addons": {},
                "status": "applied",
                "requested_at": "2026-01-15T10:00:00Z",
            }
        ],
        "cancel_at": None,
        "metadata": {"crm": "42"},
        "created_at": "2026-01-15T10:00:00Z",
        "updated_at": "2026-01-15T10:00:00Z",
        "canceled_at": None,
        "ended_at": None,
    }
    assert get(client, created["id"]) == created
    schedule = ok(client.get(f"/v1/subscriptions/{created['id']}/schedule", params={"to": "2026-06-01"}))
    assert (schedule["subscription_id"], schedule["start"], schedule["end"]) == (
        created["id"],
        "2026-01-15",
        "2026-06-01",
    )
    # 14 days of trial (nothing billed), then periods from 29 Jan (29 Feb does not exist: 28 Feb), three at
    # the discount (20 + 5 × 10), then 20 + 5 × 14 from 29 Apr
    assert lines(client, created["id"], to="2026-06-01") == [
        ("2026-01-29", "recurring", "plan.flat", "2026-01-29", "2026-02-28", "20.00"),
        ("2026-01-29", "recurring", "plan.per_unit", "2026-01-29", "2026-02-28", "50.00"),
        ("2026-02-28", "recurring", "plan.flat", "2026-02-28", "2026-03-29", "20.00"),
        ("2026-02-28", "recurring", "plan.per_unit", "2026-02-28", "2026-03-29", "50.00"),
        ("2026-03-29", "recurring", "plan.flat", "2026-03-29", "2026-04-29", "20.00"),
        ("2026-03-29", "recurring", "plan.per_unit", "2026-03-29", "2026-04-29", "50.00"),
        ("2026-04-29", "recurring", "plan.flat", "2026-04-29", "2026-05-29", "20.00"),
        ("2026-04-29", "recurring", "plan.per_unit", "2026-04-29", "2026-05-29", "70.00"),
        ("2026-05-29", "recurring", "plan.flat", "2026-05-29", "2026-06-29", "20.00"),
        ("2026-05-29", "recurring", "plan.per_unit", "2026-05-29", "2026-06-29", "70.00"),
    ]
    first = ok(client.get(f"/v1/subscriptions/{created['id']}/schedule", params={"to": "2026-02-01"}))[
        "charges"
    ]
    assert first[1] == {
        "due_date": "2026-01-29",
        "kind": "recurring",
        "key": "plan.per_unit",
        "description": "Team, monthly, per unit",
        "timing": "in_advance",
        "period_start": "2026-01-29",
        "period_end": "2026-02-28",
        "service_start": "2026-01-29",
        "service_end": "2026-02-28",
        "prorated": False,
        "quantity": 5,
        "unit_price": "10.00",
        "total": {"amount": "50.00", "currency": "EUR"},
    }
    assert events_of(client, customer_id, created["id"]) == [
        ("subscription.created", "2026-01-15T10:00:00Z"),
        ("subscription.trial_started", "2026-01-15T10:00:00Z"),
    ]


def pays_by_card(client: TestClient, customer_id: str) -> None:
    response = client.post(f"/v1/customers/{customer_id}/payment_methods",
                           json={"type": "card", "token": "tok_sandbox_success", "last4": "4242"})  # fmt: skip
    assert response.status_code == 201, response.text


def test_a_plan_that_requires_a_payment_method_ends_with_the_trial_without_one(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    """Issue 7: team-monthly requires a payment method at the end of its 14-day trial (29 Jan); the customer
    has none, so the subscription is canceled that day (no charge), the reason on the event."""
    sub = subscribe(client, customer_id, "team-monthly", quantity=5)
    advance(client, clock_id, "2026-01-29T02:00:00Z")  # past the draft's hour of grace
    ended = get(client, sub["id"])
    assert (ended["status"], ended["canceled_at"]) == ("canceled", "2026-01-29T00:00:00Z")
    scheduled = ok(
        client.get("/v1/events", params={"object_id": sub["id"], "type": "subscription.change_scheduled"})
    )
    assert [e["data"]["reason"] for e in scheduled["data"]] == ["missing_payment_method"]
    invoices = ok(client.get("/v1/invoices", params={"customer_id": customer_id}))["data"]
    assert [
        (i["status"], i["total"]["amount"], [ln["description"] for ln in i["lines"]]) for i in invoices
    ] == []


def test_the_trial_converts_when_the_clock_passes_its_end(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    pays_by_card(client, customer_id)  # team-monthly requires a payment method when the trial ends
    sub = subscribe(client, customer_id, "team-monthly", quantity=5)
    # the start day's bill run (nothing to bill in a trial)
    assert advance(client, clock_id, "2026-01-28T23:59:59Z")["jobs_run"] == 1
    assert get(client, sub["id"])["status"] == "trialing"

    # the conversion and the day's bill run; the conversion asks for that day's bill again (it finds nothing new)
    assert advance(client, clock_id, "2026-01-29T00:00:00Z")["jobs_run"] == 3

    converted = get(client, sub["id"])
    assert (converted["status"], converted["updated_at"]) == ("active", "2026-01-29T00:00:00Z")
    assert events_of(client, customer_id, sub["id"])[-1] == (
        "subscription.trial_converted",
        "2026-01-29T00:00:00Z",
    )
    event = ok(client.get(f"/v1/customers/{customer_id}/timeline", params={"limit": 1}))["data"][0]
    assert (event["type"], event["data"]["previous_status"], event["data"]["object"]["status"]) == (
        "subscription.trial_converted",
        "trialing",
        "active",
    )


def test_a_trial_of_zero_days_and_of_a_chosen_length(client: TestClient, customer_id: str) -> None:
    none = subscribe(client, customer_id, "team-monthly", quantity=1, trial_days=0)
    week = subscribe(client, customer_id, "starter-monthly", quantity=1, trial_days=7)

    assert (none["status"], none["trial_days"], week["status"], week["trial_days"]) == (
        "active",
        0,
        "trialing",
        7,
    )
    assert lines(client, none["id"], to="2026-02-16") == [  # the discount from the start: 20 + 10
        ("2026-01-15", "recurring", "plan.flat", "2026-01-15", "2026-02-15", "20.00"),
        ("2026-01-15", "recurring", "plan.per_unit", "2026-01-15", "2026-02-15", "10.00"),
        ("2026-02-15", "recurring", "plan.flat", "2026-02-15", "2026-03-15", "20.00"),
        ("2026-02-15", "recurring", "plan.per_unit", "2026-02-15", "2026-03-15", "10.00"),
    ]
    assert lines(client, week["id"], to="2026-02-23") == [
        ("2026-01-22", "recurring", "plan.per_unit", "2026-01-22", "2026-02-22", "8.00"),
        ("2026-02-22", "recurring", "plan.per_unit", "2026-02-22", "2026-03-22", "8.00"),
    ]


def test_a_future_start_is_pending_until_the_clock_reaches_it(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    paid = subscribe(client, customer_id, "business-monthly", quantity=3, start_date="2026-02-01")
    trial = subscribe(client, customer_id, "starter-monthly", quantity=2, start_date="2026-02-01")
    assert (paid["status"], trial["status"]) == ("pending", "pending")
    assert changes(paid) == [("start", "2026-02-01", True, "business-monthly", 3, "pending")]
    assert lines(client, paid["id"], to="2026-03-02") == [  # 50 + 3 × 22, and the setup fee
        ("2026-02-01", "recurring", "plan.flat", "2026-02-01", "2026-03-01", "50.00"),
        ("2026-02-01", "recurring", "plan.per_unit", "2026-02-01", "2026-03-01", "66.00"),
        ("2026-02-01", "setup", "plan.setup", "2026-02-01", "2026-02-02", "250.00"),
        ("2026-03-01", "recurring", "plan.flat", "2026-03-01", "2026-04-01", "50.00"),
        ("2026-03-01", "recurring", "plan.per_unit", "2026-03-01", "2026-04-01", "66.00"),
    ]
    listed = ok(client.get("/v1/subscriptions", params={"status": "pending"}))["data"]
    assert sorted(s["id"] for s in listed) == sorted([paid["id"], trial["id"]])

    # both starts, and one bill run for the customer's bill date
    assert advance(client, clock_id, "2026-02-01T00:00:00Z")["jobs_run"] == 3

    paid, trial = get(client, paid["id"]), get(client, trial["id"])
    assert (paid["status"], trial["status"]) == ("active", "trialing")
    assert changes(paid) == [("start", "2026-02-01", True, "business-monthly", 3, "applied")]
    assert events_of(client, customer_id, paid["id"]) == [
        ("subscription.created", "2026-01-15T10:00:00Z"),
        ("subscription.activated", "2026-02-01T00:00:00Z"),
    ]
    assert events_of(client, customer_id, trial["id"]) == [
        ("subscription.created", "2026-01-15T10:00:00Z"),
        ("subscription.trial_started", "2026-02-01T00:00:00Z"),
    ]
    assert lines(client, trial["id"], to="2026-03-01") == [  # 14 days of trial from 1 Feb
        ("2026-02-15", "recurring", "plan.per_unit", "2026-02-15", "2026-03-15", "16.00"),
    ]


# ---- billing anchors -----------------------------------------------------------------------------------


def test_a_day_of_month_anchor_prorates_the_first_period(client: TestClient, customer_id: str) -> None:
    sub = subscribe(
        client, customer_id, "business-monthly", quantity=3, billing_anchor={"type": "day_of_month", "day": 1}
    )

    assert (sub["status"], sub["billing_anchor"]) == ("active", {"type": "day_of_month", "day": 1})
    charges = ok(client.get(f"/v1/subscriptions/{sub['id']}/schedule", params={"to": "2026-03-02"}))[
        "charges"
    ]
    assert [(c["period_start"], c["period_end"], c["prorated"]) for c in charges[:2]] == [
        ("2026-01-01", "2026-02-01", True),
        ("2026-01-01", "2026-02-01", True),
    ]
    # 15 Jan to 1 Feb is 17 of January's 31 days: 50 × 17/31 = 27.419…, 66 × 17/31 = 36.193…
    assert lines(client, sub["id"], to="2026-03-02") == [
        ("2026-01-15", "recurring", "plan.flat", "2026-01-15", "2026-02-01", "27.42"),
        ("2026-01-15", "recurring", "plan.per_unit", "2026-01-15", "2026-02-01", "36.19"),
        ("2026-01-15", "setup", "plan.setup", "2026-01-15", "2026-01-16", "250.00"),
        ("2026-02-01", "recurring", "plan.flat", "2026-02-01", "2026-03-01", "50.00"),
        ("2026-02-01", "recurring", "plan.per_unit", "2026-02-01", "2026-03-01", "66.00"),
        ("2026-03-01", "recurring", "plan.flat", "2026-03-01", "2026-04-01", "50.00"),
        ("2026-03-01", "recurring", "plan.per_unit", "2026-03-01", "2026-04-01", "66.00"),
    ]
    no_day = client.post(
        "/v1/subscriptions",
        json={"customer_id": customer_id, "plan": "team-monthly", "billing_anchor": {"type": "day_of_month"}},
    )
    refused(no_day, 422, "invalid_billing_anchor", "billing_anchor.day")


def test_the_first_account_anchored_subscription_sets_the_day_the_others_renew_on(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    assert ok(client.get(f"/v1/customers/{customer_id}"))["bill_cycle_day"] is None
    pays_by_card(client, customer_id)
    first = subscribe(client, customer_id, "team-monthly", quantity=2, billing_anchor={"type": "account"})

    # billing begins when the 14-day trial ends, on 29 Jan: the customer's bill cycle day
    assert first["billing_anchor"] == {"type": "account", "day": 29}
    assert ok(client.get(f"/v1/customers/{customer_id}"))["bill_cycle_day"] == 29
    assert ("customer.updated", "2026-01-15T10:00:00Z", customer_id) in timeline(client, customer_id)
    advance(client, clock_id, "2026-02-10T12:00:00Z")

    second = subscribe(
        client, customer_id, "business-monthly", quantity=1, billing_anchor={"type": "account"}
    )

    assert (second["status"], second["start_date"], second["billing_anchor"]) == (
        "active",
        "2026-02-10",
        {"type": "account", "day": 29},
    )
    # its first period is the account's, 29 Jan to 28 Feb (30 days), from 10 Feb: 18 days
    # 50 × 18/30 = 30.00, 22 × 18/30 = 13.20
    assert lines(client, second["id"], to="2026-05-01") == [
        ("2026-02-10", "recurring", "plan.flat", "2026-02-10", "2026-02-28", "30.00"),
        ("2026-02-10", "recurring", "plan.per_unit", "2026-02-10", "2026-02-28", "13.20"),
        ("2026-02-10", "setup", "plan.setup", "2026-02-10", "2026-02-11", "250.00"),
        ("2026-02-28", "recurring", "plan.flat", "2026-02-28", "2026-03-29", "50.00"),
        ("2026-02-28", "recurring", "plan.per_unit", "2026-02-28", "2026-03-29", "22.00"),
        ("2026-03-29", "recurring", "plan.flat", "2026-03-29", "2026-04-29", "50.00"),
        ("2026-03-29", "recurring", "plan.per_unit", "2026-03-29", "2026-04-29", "22.00"),
        ("2026-04-29", "recurring", "plan.flat", "2026-04-29", "2026-05-29", "50.00"),
        ("2026-04-29", "recurring", "plan.per_unit", "2026-04-29", "2026-05-29", "22.00"),
    ]

    def periods(sub_id: str) -> list[tuple[str, str]]:
        body = ok(
            client.get(
                f"/v1/subscriptions/{sub_id}/schedule", params={"from": "2026-02-11", "to": "2026-06-01"}
            )
        )
        return sorted(
            {(c["period_start"], c["period_end"]) for c in body["charges"] if c["kind"] == "recurring"}
        )

    assert (
        periods(first["id"])
        == periods(second["id"])
        == [
            ("2026-02-28", "2026-03-29"),
            ("2026-03-29", "2026-04-29"),
            ("2026-04-29", "2026-05-29"),
            ("2026-05-29", "2026-06-29"),
        ]
    )
    given_day = client.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer_id,
            "plan": "team-monthly",
            "billing_anchor": {"type": "account", "day": 3},
        },
    )
    refused(given_day, 422, "invalid_billing_anchor", "billing_anchor.day")


# ---- changes -------------------------------------------------------------------------------------------

# starter-monthly × 5 from 15 Jan without a trial (5 × 8 = 40 a month); on 1 Feb, 14 of the period's 31 days
# are left: the credit is 40 × 14/31 = 18.064… and business-monthly × 5 costs 50 × 14/31 = 22.580… and
# 110 × 14/31 = 49.677…, plus its setup fee of 250.
UPGRADE_CHARGES = [
    {
        "due_date": "2026-02-01", "kind": "credit", "key": "plan.per_unit", "description": "Starter, monthly, per unit",
        "timing": "in_advance", "period_start": "2026-01-15", "period_end": "2026-02-15",
        "service_start": "2026-02-01", "service_end": "2026-02-15", "prorated": True, "quantity": 5,
        "unit_price": "8.00", "total": {"amount": "-18.06", "currency": "EUR"},
    },
    {
        "due_date": "2026-02-01", "kind": "recurring", "key": "plan.flat", "description": "Business, monthly",
        "timing": "in_advance", "period_start": "2026-01-15", "period_end": "2026-02-15",
        "service_start": "2026-02-01", "service_end": "2026-02-15", "prorated": True, "quantity": 1,
        "unit_price": "50.00", "total": {"amount": "22.58", "currency": "EUR"},
    },
    {
        "due_date": "2026-02-01", "kind": "recurring", "key": "plan.per_unit",
        "description": "Business, monthly, per unit", "timing": "in_advance", "period_start": "2026-01-15",
        "period_end": "2026-02-15", "service_start": "2026-02-01", "service_end": "2026-02-15", "prorated": True,
        "quantity": 5, "unit_price": "22.00", "total": {"amount": "49.68", "currency": "EUR"},
    },
    {
        "due_date": "2026-02-01", "kind": "setup", "key": "plan.setup", "description": "Business, monthly, setup",
        "timing": "in_advance", "period_start": "2026-02-01", "period_end": "2026-02-02",
        "service_start": "2026-02-01", "service_end": "2026-02-02", "prorated": False, "quantity": 1,
        "unit_price": "250.00", "total": {"amount": "250.00", "currency": "EUR"},
    },
    {
        "due_date": "2026-02-15", "kind": "recurring", "key": "plan.flat", "description": "Business, monthly",
        "timing": "in_advance", "period_start": "2026-02-15", "period_end": "2026-03-15",
        "service_start": "2026-02-15", "service_end": "2026-03-15", "prorated": False, "quantity": 1,
        "unit_price": "50.00", "total": {"amount": "50.00", "currency": "EUR"},
    },
    {
        "due_date": "2026-02-15", "kind": "recurring", "key": "plan.per_unit",
        "description": "Business, monthly, per unit", "timing": "in_advance", "period_start": "2026-02-15",
        "period_end": "2026-03-15", "service_start": "2026-02-15", "service_end": "2026-03-15", "prorated": False,
        "quantity": 5, "unit_price": "22.00", "total": {"amount": "110.00", "currency": "EUR"},
    },
]  # fmt: skip
STARTER_RENEWAL = {
    "due_date": "2026-02-15", "kind": "recurring", "key": "plan.per_unit", "description": "Starter, monthly, per unit",
    "timing": "in_advance", "period_start": "2026-02-15", "period_end": "2026-03-15", "service_start": "2026-02-15",
    "service_end": "2026-03-15", "prorated": False, "quantity": 5, "unit_price": "8.00",
    "total": {"amount": "40.00", "currency": "EUR"},
}  # fmt: skip


def test_an_upgrade_now_is_prorated(client: TestClient, clock_id: str, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "starter-monthly", quantity=5, trial_days=0)
    advance(client, clock_id, "2026-02-01T08:00:00Z")

    changed = ok(client.post(f"/v1/subscriptions/{sub['id']}/change", json={"plan": "business-monthly"}))

    assert (changed["status"], changed["plan"], changed["quantity"]) == ("active", "business-monthly", 5)
    assert changed["changes"][1] == {
        "id": changed["changes"][1]["id"],
        "kind": "change",
        "effective_date": "2026-02-01",
        "prorate": True,
        "plan": "business-monthly",
        "quantity": 5,
        "addons": {},
        "status": "applied",
        "requested_at": "2026-02-01T08:00:00Z",
    }
    charges = ok(client.get(f"/v1/subscriptions/{sub['id']}/schedule", params={"to": "2026-03-01"}))[
        "charges"
    ]
    assert charges[1:] == UPGRADE_CHARGES
    assert lines(client, sub["id"], to="2026-02-01")[0] == (
        "2026-01-15", "recurring", "plan.per_unit", "2026-01-15", "2026-02-15", "40.00",
    )  # fmt: skip
    assert events_of(client, customer_id, sub["id"])[-1] == ("subscription.changed", "2026-02-01T08:00:00Z")
    event = ok(client.get("/v1/events", params={"type": "subscription.changed", "object_id": sub["id"]}))[
        "data"
    ]
    assert event[0]["data"]["previous"] == {"plan": "starter-monthly", "quantity": 5, "addons": {}}


def test_preview_change_shows_the_credit_and_charges_and_changes_nothing(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    sub = subscribe(client, customer_id, "starter-monthly", quantity=5, trial_days=0)
    advance(client, clock_id, "2026-02-01T08:00:00Z")
    before_schedule = lines(client, sub["id"], to="2026-04-01")
    before_events = timeline(client, customer_id)

    preview = ok(
        client.post(f"/v1/subscriptions/{sub['id']}/preview_change", json={"plan": "business-monthly"})
    )

    # net: -18.06 + 22.58 + 49.68 + 250 + 50 + 110 - 40 (the starter renewal no longer billed)
    assert preview == {
        "effective_date": "2026-02-01",
        "charges": UPGRADE_CHARGES,
        "removed": [STARTER_RENEWAL],
        "net": {"amount": "424.20", "currency": "EUR"},
    }
    after = get(client, sub["id"])
    assert (after["plan"], len(after["changes"]), after["updated_at"]) == (
        "starter-monthly",
        1,
        sub["updated_at"],
    )
    assert lines(client, sub["id"], to="2026-04-01") == before_schedule
    assert timeline(client, customer_id) == before_events

    # made at 8 Feb instead: 7 days left; 40 × 7/31 = 9.032…, 50 × 7/31 = 11.290…, 110 × 7/31 = 24.838…
    later = ok(
        client.post(
            f"/v1/subscriptions/{sub['id']}/preview_change",
            json={"plan": "business-monthly", "at": "2026-02-08T00:00:00Z"},
        )
    )
    assert later["effective_date"] == "2026-02-08"
    assert [(c["due_date"], c["kind"], c["key"], c["total"]["amount"]) for c in later["charges"]] == [
        ("2026-02-08", "credit", "plan.per_unit", "-9.03"),
        ("2026-02-08", "recurring", "plan.flat", "11.29"),
        ("2026-02-08", "recurring", "plan.per_unit", "24.84"),
        ("2026-02-08", "setup", "plan.setup", "250.00"),
        ("2026-02-15", "recurring", "plan.flat", "50.00"),
        ("2026-02-15", "recurring", "plan.per_unit", "110.00"),
    ]
    assert later["net"] == {"amount": "397.10", "currency": "EUR"}
    assert len(get(client, sub["id"])["changes"]) == 1


def test_a_downgrade_waits_for_the_end_of_the_period(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    sub = subscribe(client, customer_id, "business-monthly", quantity=4)
    advance(client, clock_id, "2026-02-01T08:00:00Z")

    changed = ok(client.post(f"/v1/subscriptions/{sub['id']}/change", json={"plan": "team-monthly"}))

    # the plan's downgrade policy is end_of_period: nothing changes until 15 Feb
    assert (changed["status"], changed["plan"]) == ("active", "business-monthly")
    assert changes(changed)[1:] == [("change", "2026-02-15", True, "team-monthly", 4, "pending")]
    # team-monthly from its first paid phase: three periods at 20 + 4 × 10, then 20 + 4 × 14
    assert lines(client, sub["id"], **{"from": "2026-02-01", "to": "2026-06-01"}) == [
        ("2026-02-15", "recurring", "plan.flat", "2026-02-15", "2026-03-15", "20.00"),
        ("2026-02-15", "recurring", "plan.per_unit", "2026-02-15", "2026-03-15", "40.00"),
        ("2026-03-15", "recurring", "plan.flat", "2026-03-15", "2026-04-15", "20.00"),
        ("2026-03-15", "recurring", "plan.per_unit", "2026-03-15", "2026-04-15", "40.00"),
        ("2026-04-15", "recurring", "plan.flat", "2026-04-15", "2026-05-15", "20.00"),
        ("2026-04-15", "recurring", "plan.per_unit", "2026-04-15", "2026-05-15", "40.00"),
        ("2026-05-15", "recurring", "plan.flat", "2026-05-15", "2026-06-15", "20.00"),
        ("2026-05-15", "recurring", "plan.per_unit", "2026-05-15", "2026-06-15", "56.00"),
    ]
    assert events_of(client, customer_id, sub["id"])[-1] == (
        "subscription.change_scheduled",
        "2026-02-01T08:00:00Z",
    )

    advance(client, clock_id, "2026-02-15T00:00:00Z")

    applied = get(client, sub["id"])
    assert (applied["status"], applied["plan"], applied["quantity"], applied["updated_at"]) == (
        "active",
        "team-monthly",
        4,
        "2026-02-15T00:00:00Z",
    )
    assert changes(applied)[1:] == [("change", "2026-02-15", True, "team-monthly", 4, "applied")]
    assert events_of(client, customer_id, sub["id"])[-1] == ("subscription.changed", "2026-02-15T00:00:00Z")
    assert ok(client.get("/v1/subscriptions", params={"plan": "team-monthly"}))["data"][0]["id"] == sub["id"]


def test_a_later_request_replaces_a_pending_change_computed_from_older_terms(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    """Issue 4: a downgrade waiting for the period end held the whole terms of its day (business ×4 →
    team ×4); an upgrade of the quantity now would be undone by it on 15 Feb, so it is withdrawn."""
    sub = subscribe(client, customer_id, "business-monthly", quantity=4)
    advance(client, clock_id, "2026-02-01T08:00:00Z")
    ok(client.post(f"/v1/subscriptions/{sub['id']}/change", json={"plan": "team-monthly"}))

    upgraded = ok(client.post(f"/v1/subscriptions/{sub['id']}/change", json={"quantity": 6}))

    assert changes(upgraded)[1:] == [
        ("change", "2026-02-15", True, "team-monthly", 4, "withdrawn"),
        ("change", "2026-02-01", True, "business-monthly", 6, "applied"),
    ]
    assert events_of(client, customer_id, sub["id"])[-2:] == [
        ("subscription.change_withdrawn", "2026-02-01T08:00:00Z"),
        ("subscription.changed", "2026-02-01T08:00:00Z"),
    ]
    advance(client, clock_id, "2026-02-15T00:00:00Z")
    assert (get(client, sub["id"])["plan"], get(client, sub["id"])["quantity"]) == ("business-monthly", 6)


def test_a_change_on_a_date_with_and_without_proration(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    prorated = subscribe(client, customer_id, "business-monthly", quantity=2)
    flat = subscribe(client, customer_id, "business-monthly", quantity=2)
    advance(client, clock_id, "2026-02-01T08:00:00Z")

    body = {"quantity": 4, "when": "date", "effective_date": "2026-02-05"}
    with_proration = ok(client.post(f"/v1/subscriptions/{prorated['id']}/change", json=body))
    without = ok(client.post(f"/v1/subscriptions/{flat['id']}/change", json={**body, "proration": "none"}))

    assert changes(with_proration)[1:] == [("change", "2026-02-05", True, "business-monthly", 4, "pending")]
    assert changes(without)[1:] == [("change", "2026-02-05", False, "business-monthly", 4, "pending")]
    # 10 of 31 days left on 5 Feb: credit 44 × 10/31 = 14.193…, charge 88 × 10/31 = 28.387…
    assert lines(client, prorated["id"], **{"from": "2026-02-01", "to": "2026-03-01"}) == [
        ("2026-02-05", "credit", "plan.per_unit", "2026-02-05", "2026-02-15", "-14.19"),
        ("2026-02-05", "recurring", "plan.per_unit", "2026-02-05", "2026-02-15", "28.39"),
        ("2026-02-15", "recurring", "plan.flat", "2026-02-15", "2026-03-15", "50.00"),
        ("2026-02-15", "recurring", "plan.per_unit", "2026-02-15", "2026-03-15", "88.00"),
    ]
    # without proration the four seats are billed from the next period
    assert lines(client, flat["id"], **{"from": "2026-02-01", "to": "2026-03-01"}) == [
        ("2026-02-15", "recurring", "plan.flat", "2026-02-15", "2026-03-15", "50.00"),
        ("2026-02-15", "recurring", "plan.per_unit", "2026-02-15", "2026-03-15", "88.00"),
    ]

    advance(client, clock_id, "2026-02-05T00:00:00Z")

    for sub in (prorated, flat):
        now = get(client, sub["id"])
        assert (now["quantity"], changes(now)[1][5]) == (4, "applied")
        assert events_of(client, customer_id, sub["id"])[-1] == (
            "subscription.changed",
            "2026-02-05T00:00:00Z",
        )


def test_a_change_is_refused_with_the_field_at_fault(client: TestClient, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "team-monthly", quantity=2, trial_days=0)
    url = f"/v1/subscriptions/{sub['id']}/change"

    refused(client.post(url, json={"quantity": 0}), 422, "invalid_value", "quantity")
    refused(client.post(url, json={"plan": "enterprise-monthly"}), 422, "plan_not_found", "plan")
    refused(client.post(url, json={"plan": "team-annual"}), 422, "plan_change_not_allowed", "plan")
    refused(client.post(url, json={"addons": {"sso": 1}}), 422, "addon_not_available", "addons.sso")
    refused(client.post(url, json={"quantity": 2}), 422, "nothing_to_change")
    refused(client.post(url, json={}), 422, "nothing_to_change")
    refused(client.post(url, json={"quantity": 3, "when": "date"}), 422, "required", "effective_date")
    refused(
        client.post(url, json={"quantity": 3, "when": "date", "effective_date": "2026-01-14"}),
        422,
        "effective_in_past",
        "effective_date",
    )
    refused(client.post(url, json={"quantity": 3, "when": "later"}), 422, "invalid_value", "when")
    assert len(get(client, sub["id"])["changes"]) == 1


# ---- cancel, pause, resume -----------------------------------------------------------------------------


def test_cancel_now_credits_the_unused_part_or_nothing(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    credited = subscribe(client, customer_id, "business-monthly", quantity=2)
    uncredited = subscribe(client, customer_id, "business-monthly", quantity=2)
    advance(client, clock_id, "2026-02-01T08:00:00Z")

    canceled = ok(client.post(f"/v1/subscriptions/{credited['id']}/cancel", json={}))
    no_credit = ok(client.post(f"/v1/subscriptions/{uncredited['id']}/cancel", json={"proration": "none"}))

    for sub in (canceled, no_credit):
        assert (sub["status"], sub["canceled_at"], sub["cancel_at"]) == (
            "canceled",
            "2026-02-01T08:00:00Z",
            None,
        )
    assert changes(canceled)[1:] == [("cancel", "2026-02-01", True, None, None, "applied")]
    billed = [
        ("2026-01-15", "recurring", "plan.flat", "2026-01-15", "2026-02-15", "50.00"),
        ("2026-01-15", "recurring", "plan.per_unit", "2026-01-15", "2026-02-15", "44.00"),
        ("2026-01-15", "setup", "plan.setup", "2026-01-15", "2026-01-16", "250.00"),
    ]
    # 14 of 31 days unused: 50 × 14/31 = 22.580…, 44 × 14/31 = 19.870…
    assert lines(client, credited["id"]) == [
        *billed,
        ("2026-02-01", "credit", "plan.flat", "2026-02-01", "2026-02-15", "-22.58"),
        ("2026-02-01", "credit", "plan.per_unit", "2026-02-01", "2026-02-15", "-19.87"),
    ]
    assert lines(client, uncredited["id"]) == billed
    assert events_of(client, customer_id, credited["id"])[-1] == (
        "subscription.canceled",
        "2026-02-01T08:00:00Z",
    )

    again = refused(client.post(f"/v1/subscriptions/{credited['id']}/cancel", json={}), 409, "invalid_state")
    assert again["detail"] == "The subscription is canceled: cannot cancel it."
    for action, body in (
        ("change", {"quantity": 3}),
        ("pause", {}),
        ("resume", {}),
        ("undo_cancellation", None),
    ):
        refused(client.post(f"/v1/subscriptions/{credited['id']}/{action}", json=body), 409, "invalid_state")
    assert ok(client.get("/v1/subscriptions", params={"status": "canceled"}))["data"] != []


def test_cancel_at_the_end_of_the_period_undo_it_then_let_it_happen(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    sub = subscribe(client, customer_id, "business-monthly", quantity=2)
    advance(client, clock_id, "2026-02-01T08:00:00Z")
    url = f"/v1/subscriptions/{sub['id']}"

    pending = ok(client.post(f"{url}/cancel", json={"when": "end_of_period"}))

    assert (pending["status"], pending["cancel_at"], pending["canceled_at"]) == ("active", "2026-02-15", None)
    assert changes(pending)[1:] == [("cancel", "2026-02-15", True, None, None, "pending")]
    assert [line[0] for line in lines(client, sub["id"], to="2026-04-01")] == ["2026-01-15"] * 3  # no renewal

    undone = ok(client.post(f"{url}/undo_cancellation"))

    assert (undone["status"], undone["cancel_at"]) == ("active", None)
    assert changes(undone)[1:] == [("cancel", "2026-02-15", True, None, None, "withdrawn")]
    assert [line[0] for line in lines(client, sub["id"], to="2026-04-01")] == ["2026-01-15"] * 3 + [
        "2026-02-15",
        "2026-02-15",
        "2026-03-15",
        "2026-03-15",
    ]
    refused(client.post(f"{url}/undo_cancellation"), 409, "no_pending_cancellation")

    assert ok(client.post(f"{url}/cancel", json={"when": "end_of_period"}))["cancel_at"] == "2026-02-15"
    advance(client, clock_id, "2026-02-14T23:59:59Z")
    assert get(client, sub["id"])["status"] == "active"
    advance(client, clock_id, "2026-02-15T00:00:00Z")

    ended = get(client, sub["id"])
    assert (ended["status"], ended["canceled_at"], ended["cancel_at"]) == (
        "canceled",
        "2026-02-15T00:00:00Z",
        None,
    )
    assert events_of(client, customer_id, sub["id"])[2:] == [
        ("subscription.change_scheduled", "2026-02-01T08:00:00Z"),
        ("subscription.change_withdrawn", "2026-02-01T08:00:00Z"),
        ("subscription.change_scheduled", "2026-02-01T08:00:00Z"),
        ("subscription.canceled", "2026-02-15T00:00:00Z"),
    ]


def test_cancel_on_a_date_bills_the_in_arrears_add_on_for_the_part_used(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    sub = subscribe(
        client, customer_id, "essentials-monthly", quantity=10, addons={"after-hours-monthly": 10}
    )
    advance(client, clock_id, "2026-02-01T08:00:00Z")

    pending = ok(
        client.post(
            f"/v1/subscriptions/{sub['id']}/cancel", json={"when": "date", "effective_date": "2026-02-10"}
        )
    )

    assert pending["cancel_at"] == "2026-02-10"
    # 5 of 31 days unused: 150 × 5/31 = 24.193…, 250 × 5/31 = 40.322…; the add-on is billed in arrears for
    # the 26 days used: 60 × 26/31 = 50.322…
    assert lines(client, sub["id"]) == [
        ("2026-01-15", "recurring", "plan.flat", "2026-01-15", "2026-02-15", "150.00"),
        ("2026-01-15", "recurring", "plan.per_unit", "2026-01-15", "2026-02-15", "250.00"),
        ("2026-01-15", "setup", "plan.setup", "2026-01-15", "2026-01-16", "500.00"),
        ("2026-02-10", "credit", "plan.flat", "2026-02-10", "2026-02-15", "-24.19"),
        ("2026-02-10", "credit", "plan.per_unit", "2026-02-10", "2026-02-15", "-40.32"),
        (
            "2026-02-10",
            "recurring",
            "addon.after-hours-monthly.per_unit",
            "2026-01-15",
            "2026-02-10",
            "50.32",
        ),
    ]
    advance(client, clock_id, "2026-02-10T00:00:00Z")
    assert (get(client, sub["id"])["status"], get(client, sub["id"])["canceled_at"]) == (
        "canceled",
        "2026-02-10T00:00:00Z",
    )


def test_what_a_cancellation_prevented_is_not_reported_as_applied(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    sub = subscribe(client, customer_id, "business-monthly", quantity=2)
    never_started = subscribe(client, customer_id, "business-monthly", start_date="2026-03-01")
    advance(client, clock_id, "2026-02-01T08:00:00Z")
    body = {"quantity": 4, "when": "date", "effective_date": "2026-02-05"}
    ok(client.post(f"/v1/subscriptions/{sub['id']}/change", json=body))
    ok(client.post(f"/v1/subscriptions/{sub['id']}/cancel", json={}))
    ok(client.post(f"/v1/subscriptions/{never_started['id']}/cancel", json={}))

    advance(client, clock_id, "2026-03-02T00:00:00Z")

    canceled = get(client, sub["id"])
    assert (canceled["status"], canceled["quantity"]) == ("canceled", 2)
    assert changes(canceled)[1][:2] == ("change", "2026-02-05")
    assert changes(canceled)[1][5] != "applied"  # the subscription ended on 1 Feb: it never took effect
    not_begun = get(client, never_started["id"])
    assert not_begun["status"] == "canceled"
    assert changes(not_begun)[0][:2] == ("start", "2026-03-01")
    assert changes(not_begun)[0][5] != "applied"  # canceled on 15 Jan, it never began


def test_pause_and_resume(client: TestClient, clock_id: str, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "business-monthly", quantity=2)
    advance(client, clock_id, "2026-02-01T08:00:00Z")
    url = f"/v1/subscriptions/{sub['id']}"

    not_paused = refused(client.post(f"{url}/resume", json={}), 409, "invalid_state")
    assert not_paused["detail"] == "The subscription is active: cannot resume it."

    paused = ok(client.post(f"{url}/pause", json={}))

    assert paused["status"] == "paused"
    assert changes(paused)[1:] == [("pause", "2026-02-01", True, None, None, "applied")]
    twice = refused(client.post(f"{url}/pause", json={}), 409, "invalid_state")
    assert twice["detail"] == "The subscription is paused: cannot pause it."
    assert refused(client.post(f"{url}/change", json={"quantity": 3}), 409, "invalid_state")["detail"] == (
        "The subscription is paused: cannot change it."
    )
    advance(client, clock_id, "2026-03-01T08:00:00Z")  # nothing is billed while paused
    assert get(client, sub["id"])["status"] == "paused"

    resumed = ok(client.post(f"{url}/resume", json={}))

    assert resumed["status"] == "active"
    # paused on 1 Feb: 50 × 14/31 and 44 × 14/31 credited; resumed on 1 Mar, 14 of the 28 days from
    # 15 Feb to 15 Mar are left: 50 × 14/28 = 25.00, 44 × 14/28 = 22.00
    assert lines(client, sub["id"], **{"from": "2026-02-01", "to": "2026-04-01"}) == [
        ("2026-02-01", "credit", "plan.flat", "2026-02-01", "2026-02-15", "-22.58"),
        ("2026-02-01", "credit", "plan.per_unit", "2026-02-01", "2026-02-15", "-19.87"),
        ("2026-03-01", "recurring", "plan.flat", "2026-03-01", "2026-03-15", "25.00"),
        ("2026-03-01", "recurring", "plan.per_unit", "2026-03-01", "2026-03-15", "22.00"),
        ("2026-03-15", "recurring", "plan.flat", "2026-03-15", "2026-04-15", "50.00"),
        ("2026-03-15", "recurring", "plan.per_unit", "2026-03-15", "2026-04-15", "44.00"),
    ]
    assert events_of(client, customer_id, sub["id"])[2:] == [
        ("subscription.paused", "2026-02-01T08:00:00Z"),
        ("subscription.resumed", "2026-03-01T08:00:00Z"),
    ]


def test_a_trialing_subscription_cannot_be_paused(client: TestClient, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "team-monthly", quantity=1)
    body = refused(client.post(f"/v1/subscriptions/{sub['id']}/pause", json={}), 409, "invalid_state")
    assert body["detail"] == "The subscription is trialing: cannot pause it."


# ---- fixed terms ---------------------------------------------------------------------------------------


def test_a_fixed_term_contract_renews_at_its_end(client: TestClient, clock_id: str, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "professional-contract", quantity=10)

    # 225 + 10 × 35 every month; the 12-month term from 15 Jan 2026 renews on 15 Jan 2027 at the same prices
    assert lines(client, sub["id"], **{"from": "2026-12-01", "to": "2027-02-16"}) == [
        ("2026-12-15", "recurring", "plan.flat", "2026-12-15", "2027-01-15", "225.00"),
        ("2026-12-15", "recurring", "plan.per_unit", "2026-12-15", "2027-01-15", "350.00"),
        ("2027-01-15", "recurring", "plan.flat", "2027-01-15", "2027-02-15", "225.00"),
        ("2027-01-15", "recurring", "plan.per_unit", "2027-01-15", "2027-02-15", "350.00"),
        ("2027-02-15", "recurring", "plan.flat", "2027-02-15", "2027-03-15", "225.00"),
        ("2027-02-15", "recurring", "plan.per_unit", "2027-02-15", "2027-03-15", "350.00"),
    ]

    advance(client, clock_id, "2027-01-15T00:00:00Z")

    renewed = get(client, sub["id"])
    assert (renewed["status"], renewed["ended_at"]) == ("active", None)


def test_a_fixed_term_renewal_is_an_event(client: TestClient, clock_id: str, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "professional-contract", quantity=10)

    advance(client, clock_id, "2027-01-15T00:00:00Z")

    assert events_of(client, customer_id, sub["id"])[-1] == ("subscription.renewed", "2027-01-15T00:00:00Z")
    renewed = ok(client.get("/v1/events", params={"type": "subscription.renewed", "object_id": sub["id"]}))
    assert renewed["data"][0]["data"]["term_end"] == "2028-01-15"


def test_a_renewal_into_new_prices_is_a_renewal_too(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    """Issue 4: a fixed term that renews at a newer catalog version's prices is still `renewed`."""
    sub = subscribe(client, customer_id, "professional-contract", quantity=10)
    document = yaml.safe_load(EXAMPLE.read_text())
    contract = next(p for p in document["products"][1]["plans"] if p["code"] == "professional-contract")
    contract["phases"][0]["prices"]["EUR"]["per_unit"] = "37.00"
    ok(client.post("/v1/catalog", json={"document": document, "effective_at": "2026-06-01T00:00:00Z"}), 201)

    advance(client, clock_id, "2027-01-15T00:00:00Z")

    assert events_of(client, customer_id, sub["id"])[-1] == ("subscription.renewed", "2027-01-15T00:00:00Z")
    assert lines(client, sub["id"], **{"from": "2027-01-15", "to": "2027-01-16"}) == [
        ("2027-01-15", "recurring", "plan.flat", "2027-01-15", "2027-02-15", "225.00"),
        ("2027-01-15", "recurring", "plan.per_unit", "2027-01-15", "2027-02-15", "370.00"),
    ]


def test_a_term_that_ends_ends_the_subscription(client: TestClient, clock_id: str) -> None:
    apply_catalog(client, SMALL)
    customer_id = new_customer(client, clock_id)
    sub = subscribe(client, customer_id, "pilot-3m")

    assert lines(client, sub["id"], to="2026-07-01") == [
        ("2026-01-15", "recurring", "plan.flat", "2026-01-15", "2026-02-15", "100.00"),
        ("2026-02-15", "recurring", "plan.flat", "2026-02-15", "2026-03-15", "100.00"),
        ("2026-03-15", "recurring", "plan.flat", "2026-03-15", "2026-04-15", "100.00"),
    ]
    advance(client, clock_id, "2026-04-14T23:59:59Z")
    assert get(client, sub["id"])["status"] == "active"

    advance(client, clock_id, "2026-04-15T00:00:00Z")

    ended = get(client, sub["id"])
    assert (ended["status"], ended["ended_at"], ended["canceled_at"]) == (
        "ended",
        "2026-04-15T00:00:00Z",
        None,
    )
    assert events_of(client, customer_id, sub["id"])[-1] == ("subscription.ended", "2026-04-15T00:00:00Z")
    body = refused(client.post(f"/v1/subscriptions/{sub['id']}/cancel", json={}), 409, "invalid_state")
    assert body["detail"] == "The subscription is ended: cannot cancel it."
    refused(client.post(f"/v1/subscriptions/{sub['id']}/change", json={"quantity": 2}), 409, "invalid_state")


# ---- validation, lists, ids ----------------------------------------------------------------------------


def test_invalid_subscriptions_are_refused_with_the_field(
    client: TestClient, clock_id: str, customer_id: str
) -> None:
    usd = new_customer(client, clock_id, "usd", currency="USD")

    def create(**fields: Any) -> Any:
        return client.post(
            "/v1/subscriptions", json={"customer_id": customer_id, "plan": "team-monthly", **fields}
        )

    refused(create(quantity=0), 422, "invalid_value", "quantity")
    refused(create(quantity=1.5), 422, "invalid_value", "quantity")
    refused(create(plan="enterprise-monthly"), 422, "plan_not_found", "plan")
    refused(create(plan="Team Monthly"), 422, "invalid_value", "plan")
    refused(
        create(addons={"storage-100gb-annual": 1}), 422, "addon_not_available", "addons.storage-100gb-annual"
    )
    refused(create(addons={"sso": 1}), 422, "addon_not_available", "addons.sso")  # included in business only
    refused(create(addons={"storage-100gb-monthly": 0}), 422, "invalid_value", "addons.storage-100gb-monthly")
    refused(create(trial_days=-1), 422, "invalid_value", "trial_days")
    refused(create(start_date="2026-02-30"), 422, "invalid_value", "start_date")
    refused(create(colour="red"), 422, "unknown_field", "colour")
    no_price = client.post("/v1/subscriptions", json={"customer_id": usd, "plan": "essentials-monthly"})
    assert (no_price.status_code, no_price.json()["field"]) == (422, "plan")
    assert no_price.json()["code"] == "price_missing"
    assert ok(client.get("/v1/subscriptions"))["data"] == []


def test_a_plan_without_a_price_in_the_customers_currency_is_price_missing(
    client: TestClient, clock_id: str, example_catalog: None
) -> None:
    usd = new_customer(client, clock_id, "usd", currency="USD")
    no_price = client.post("/v1/subscriptions", json={"customer_id": usd, "plan": "essentials-monthly"})
    refused(no_price, 422, "price_missing", "plan")


def test_subscribing_without_a_catalog_is_refused(client: TestClient, clock_id: str) -> None:
    customer_id = new_customer(client, clock_id)
    response = client.post("/v1/subscriptions", json={"customer_id": customer_id, "plan": "team-monthly"})
    refused(response, 422, "no_catalog", "plan")


def test_list_filters_and_pages(client: TestClient, example_catalog: None) -> None:
    a = new_customer(client, None, "a")
    b = new_customer(client, None, "b")
    made = [
        subscribe(client, customer, plan)["id"]
        for customer, plan in [
            (a, "team-monthly"),
            (a, "business-monthly"),
            (b, "team-monthly"),
            (b, "starter-monthly"),
            (a, "team-monthly"),
        ]
    ]
    newest_first = list(reversed(made))

    def ids(**params: Any) -> list[str]:
        return [s["id"] for s in ok(client.get("/v1/subscriptions", params=params))["data"]]

    assert ids() == newest_first
    assert ids(customer_id=a) == [made[4], made[1], made[0]]
    assert ids(customer_id=b) == [made[3], made[2]]
    assert ids(status="trialing") == [made[4], made[3], made[2], made[0]]
    assert ids(status="active") == [made[1]]
    assert ids(status="canceled") == []
    assert ids(plan="team-monthly") == [made[4], made[2], made[0]]
    assert ids(customer_id=a, plan="team-monthly", status="trialing") == [made[4], made[0]]
    assert ids(customer_id="cus_01KDWCJ2M0ZRKS3XH416Q82C60") == []

    first = ok(client.get("/v1/subscriptions", params={"limit": 2}))
    second = ok(client.get("/v1/subscriptions", params={"limit": 2, "cursor": first["next_cursor"]}))
    third = ok(client.get("/v1/subscriptions", params={"limit": 2, "cursor": second["next_cursor"]}))
    assert [[s["id"] for s in p["data"]] for p in (first, second, third)] == [
        newest_first[:2],
        newest_first[2:4],
        newest_first[4:],
    ]
    assert (first["has_more"], second["has_more"], third["has_more"], third["next_cursor"]) == (
        True,
        True,
        False,
        None,
    )
    refused(client.get("/v1/subscriptions", params={"status": "asleep"}), 422, "invalid_value", "status")
    refused(client.get("/v1/subscriptions", params={"limit": 0}), 422, "invalid_value", "limit")


def test_unknown_ids_and_other_tenants_subscriptions_are_not_found(
    ctx: ServiceContext, client: TestClient, customer_id: str
) -> None:
    missing_customer = client.post(
        "/v1/subscriptions", json={"customer_id": "cus_01KDWCJ2M0ZRKS3XH416Q82C60", "plan": "team-monthly"}
    )
    refused(missing_customer, 422, "customer_not_found", "customer_id")  # a reference in the body
    url = f"/v1/subscriptions/{UNKNOWN_SUB}"
    for response in (
        client.get(url),
        client.get(f"{url}/schedule"),
        client.post(f"{url}/change", json={"quantity": 2}),
        client.post(f"{url}/preview_change", json={"quantity": 2}),
        client.post(f"{url}/cancel", json={}),
        client.post(f"{url}/undo_cancellation"),
        client.post(f"{url}/pause", json={}),
        client.post(f"{url}/resume", json={}),
    ):
        body = refused(response, 404, "subscription_not_found")
        assert body["detail"] == f"No subscription '{UNKNOWN_SUB}'."

    sub = subscribe(client, customer_id, "team-monthly")
    other = make_tenant(ctx, "Other Co")
    refused(
        client.get(f"/v1/subscriptions/{sub['id']}", headers=other.headers), 404, "subscription_not_found"
    )
    refused(
        client.post(f"/v1/subscriptions/{sub['id']}/cancel", json={}, headers=other.headers),
        404,
        "subscription_not_found",
    )
    assert ok(client.get("/v1/subscriptions", headers=other.headers))["data"] == []
    assert get(client, sub["id"])["status"] == "trialing"


def test_a_schedule_range_is_checked(client: TestClient, customer_id: str) -> None:
    sub = subscribe(client, customer_id, "team-monthly")
    url = f"/v1/subscriptions/{sub['id']}/schedule"
    refused(client.get(url, params={"from": "2026-03-01", "to": "2026-02-01"}), 422, "invalid_range", "to")
    refused(
        client.get(url, params={"from": "2026-03-01", "to": "2036-04-18"}), 422, "invalid_range", "to"
    )  # 3701 days
    default = ok(client.get(url))
    assert (default["start"], default["end"]) == ("2026-01-15", "2027-01-16")  # from the start, 366 days


# ---- currencies ----------------------------------------------------------------------------------------


def test_a_yen_subscription_has_amounts_without_decimals(client: TestClient, clock_id: str) -> None:
    apply_catalog(client, SMALL)
    customer_id = new_customer(client, clock_id, "tokyo", currency="JPY", time_zone="Asia/Tokyo")

    sub = subscribe(
        client, customer_id, "basic-jpy", quantity=3, billing_anchor={"type": "day_of_month", "day": 1}
    )

    assert (sub["currency"], sub["time_zone"], sub["start_date"]) == ("JPY", "Asia/Tokyo", "2026-01-15")
    charges = ok(client.get(f"/v1/subscriptions/{sub['id']}/schedule", params={"to": "2026-03-01"}))[
        "charges"
    ]
    # 17 of 31 days: 1000 × 17/31 = 548.38…, 1500 × 17/31 = 822.58…, rounded to whole yen
    assert [(c["due_date"], c["key"], c["unit_price"], c["total"]) for c in charges] == [
        ("2026-01-15", "plan.flat", "1000", {"amount": "548", "currency": "JPY"}),
        ("2026-01-15", "plan.per_unit", "500", {"amount": "823", "currency": "JPY"}),
        ("2026-02-01", "plan.flat", "1000", {"amount": "1000", "currency": "JPY"}),
        ("2026-02-01", "plan.per_unit", "500", {"amount": "1500", "currency": "JPY"}),
    ]
    advance(client, clock_id, "2026-02-10T03:00:00Z")  # noon on 10 Feb in Tokyo

    preview = ok(client.post(f"/v1/subscriptions/{sub['id']}/preview_change", json={"quantity": 4}))

    # 19 of February's 28 days left: credit 1500 × 19/28 = 1017.85…, charge 2000 × 19/28 = 1357.14…; then
    # 2000 instead of 1500 on 1 Mar: net -1018 + 1357 + 2000 - 1500 = 839
    assert preview["effective_date"] == "2026-02-10"
    assert [(c["due_date"], c["kind"], c["total"]["amount"]) for c in preview["charges"]] == [
        ("2026-02-10", "credit", "-1018"),
        ("2026-02-10", "recurring", "1357"),
        ("2026-03-01", "recurring", "2000"),
    ]
    assert [(c["due_date"], c["total"]["amount"]) for c in preview["removed"]] == [("2026-03-01", "1500")]
    assert preview["net"] == {"amount": "839", "currency": "JPY"}
