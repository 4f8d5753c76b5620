"""Disputes on invoice lines over HTTP (issue 9): the dispute policy as a setting, a small dispute accepted
at once and a large one queued, assigned, accepted in part and rejected; the report as JSON and CSV;
problem+json errors with their codes and fields. German seller and buyer, 19 % VAT: line 1 120.00 + 22.80
= 142.80, line 2 4.99 + 0.95 = 5.94."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

SELLER = {"legal_name": "Nordlicht GmbH",
          "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}}  # fmt: skip
BUYER = {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"}
POLICY = {"auto_accept_below": {"EUR": "10.00"}, "auto_accept_share_percent": "100"}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _problem(response: Any, status: int) -> tuple[str, str | None]:
    assert response.status_code == status, response.text
    body = response.json()
    return body["code"], body.get("field")


def _invoice(client: TestClient) -> str:
    """INV-2026-00001 of a customer on a test clock at 2026-03-02 08:00 UTC, paying by hand."""
    _ok(client.patch("/v1/settings", json={**SELLER, "dispute_policy": POLICY}))
    clock = _ok(
        client.post("/v1/test_clocks", json={"name": "t", "frozen_time": "2026-03-02T08:00:00Z"}), 201
    )
    customer = _ok(client.post("/v1/customers", json={"external_id": "c1", "name": "Acme", "currency": "EUR",
                                                      "time_zone": "Europe/Berlin", "address": BUYER,
                                                      "test_clock_id": clock["id"], "payment_terms_days": 14}), 201)  # fmt: skip
    lines = [
        {"description": "Consulting", "unit_price": "120.00"},
        {"description": "Add-on", "unit_price": "4.99"},
    ]
    invoice = _ok(client.post("/v1/invoices", json={"customer_id": customer["id"], "lines": lines}), 201)
    _ok(client.post(f"/v1/invoices/{invoice['id']}/finalize"))
    return str(invoice["id"])


def test_the_policy_is_a_setting(client: TestClient) -> None:
    settings = _ok(client.patch("/v1/settings", json={"dispute_policy": POLICY}))
    assert settings["dispute_policy"] == {"auto_accept_below": {"EUR": "10.00"}, "auto_accept_share_percent": "100",
                                          "require_good_standing": True, "max_auto_accepted": 3}  # fmt: skip
    assert _ok(client.get("/v1/settings"))["dispute_policy"] == settings["dispute_policy"]
    bad = {"dispute_policy": {"auto_accept_share_percent": "150"}}
    assert _problem(client.patch("/v1/settings", json=bad), 422) == (
        "invalid_dispute_policy",
        "dispute_policy.auto_accept_share_percent",
    )
    assert _ok(client.patch("/v1/settings", json={"dispute_policy": None}))["dispute_policy"] is None


def test_disputes_end_to_end(client: TestClient) -> None:
    invoice_id = _invoice(client)
    small = _ok(client.post(f"/v1/invoices/{invoice_id}/disputes",
                            json={"line": 2, "reason": "duplicate", "opened_by": "customer"}), 201)  # fmt: skip
    assert {k: small[k] for k in ("object", "line", "amount", "status", "auto_resolved", "credited", "opened_at")} == {
        "object": "dispute", "line": 2, "amount": {"amount": "5.94", "currency": "EUR"}, "status": "accepted",
        "auto_resolved": True, "credited": {"amount": "5.94", "currency": "EUR"}, "opened_at": "2026-03-02T08:00:00Z",
    }  # fmt: skip
    note = _ok(client.get(f"/v1/credit_notes/{small['credit_note_id']}"))
    assert (note["net"]["amount"], note["tax"]["amount"], note["to_invoice"]["amount"]) == (
        "4.99",
        "0.95",
        "5.94",
    )
    body = {"line": 1, "amount": {"amount": "100.00", "currency": "EUR"}, "reason": "not_as_described",
            "description": "Half of it was wrong.", "opened_by": "agent"}  # fmt: skip
    large = _ok(client.post(f"/v1/invoices/{invoice_id}/disputes", json=body), 201)
    assert (large["status"], large["auto_resolved"], large["description"]) == (
        "open",
        False,
        "Half of it was wrong.",
    )
    queue = _ok(client.get("/v1/disputes", params={"status": "open"}))
    assert ([d["id"] for d in queue["data"]], queue["has_more"]) == ([large["id"]], False)
    user = _ok(
        client.post("/v1/users", json={"email": "agent@example.com", "name": "Agent", "role": "support"}), 201
    )
    assigned = _ok(client.patch(f"/v1/disputes/{large['id']}", json={"assignee_id": user["id"]}))
    assert assigned["assignee_id"] == user["id"]
    mine = _ok(client.get("/v1/disputes", params={"status": "open", "assignee_id": user["id"]}))
    assert [d["id"] for d in mine["data"]] == [large["id"]]
    too_much = {"amount": {"amount": "100.01", "currency": "EUR"}, "resolution": "x"}
    assert _problem(client.post(f"/v1/disputes/{large['id']}/accept", json=too_much), 422) == (
        "accept_exceeds_dispute",
        "amount.amount",
    )
    part = {"amount": {"amount": "50.00", "currency": "EUR"}, "resolution": "Half of the half."}
    accepted = _ok(client.post(f"/v1/disputes/{large['id']}/accept", json=part))
    assert (accepted["status"], accepted["credited"]["amount"], accepted["resolution"]) == (
        "accepted",
        "50.00",
        "Half of the half.",
    )
    assert _problem(client.post(f"/v1/disputes/{large['id']}/reject", json={"resolution": "No."}), 409) == (
        "dispute_resolved",
        None,
    )
    invoice = _ok(client.get(f"/v1/invoices/{invoice_id}"))
    assert invoice["amount_remaining"]["amount"] == "92.80"  # 148.74 - 5.94 - 50.00
    last = _ok(client.post(f"/v1/invoices/{invoice_id}/disputes",
                           json={"line": 1, "reason": "other", "opened_by": "customer"}), 201)  # fmt: skip
    assert (last["amount"]["amount"], last["status"]) == ("92.80", "open")
    rejected = _ok(client.post(f"/v1/disputes/{last['id']}/reject", json={"resolution": "Delivered."}))
    assert rejected["status"] == "rejected"
    listed = _ok(client.get(f"/v1/invoices/{invoice_id}/disputes"))
    assert [(d["id"], d["status"]) for d in listed["data"]] == [
        (small["id"], "accepted"), (large["id"], "accepted"), (last["id"], "rejected")
    ]  # fmt: skip
    assert _ok(client.get(f"/v1/disputes/{last['id']}")) == rejected
    report = _ok(client.get("/v1/reports/disputes", params={"from": "2026-03", "to": "2026-03"}))
    assert report["report"] == "disputes"
    [row] = report["rows"]
    assert {k: row[k] for k in ("month", "currency", "opened", "auto_resolved", "auto_resolved_share", "accepted",
                                "rejected", "open", "credited")} == {
        "month": "2026-03", "currency": "EUR", "opened": 3, "auto_resolved": 1, "auto_resolved_share": "33.3",
        "accepted": 2, "rejected": 1, "open": 0, "credited": {"amount": "55.94", "currency": "EUR"},
    }  # fmt: skip
    csv = client.get("/v1/reports/disputes", params={"from": "2026-03", "to": "2026-03", "format": "csv"})
    assert csv.text.splitlines()[1] == "2026-03,EUR,3,1,33.3,2,1,0,55.94,0.00,0.00"


def test_errors_are_problems(client: TestClient) -> None:
    invoice_id = _invoice(client)
    url = f"/v1/invoices/{invoice_id}/disputes"
    assert _problem(client.post(url, json={"line": 9, "reason": "other", "opened_by": "agent"}), 422) == (
        "no_such_line",
        "line",
    )
    over = {
        "line": 2,
        "amount": {"amount": "5.95", "currency": "EUR"},
        "reason": "other",
        "opened_by": "agent",
    }
    assert _problem(client.post(url, json=over), 422) == ("dispute_exceeds_line", "amount.amount")
    float_amount = {**over, "amount": {"amount": 5.0, "currency": "EUR"}}
    assert client.post(url, json=float_amount).status_code == 422
    assert client.post(url, json={"line": 1, "reason": "angry", "opened_by": "agent"}).status_code == 422
    assert _problem(client.get("/v1/disputes/dsp_missing"), 404) == ("dispute_not_found", None)
    assert _problem(client.get("/v1/invoices/inv_missing/disputes"), 404) == ("invoice_not_found", None)
