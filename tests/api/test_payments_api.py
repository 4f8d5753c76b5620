"""Issue 7: collections and reconciliation through the ASGI app — payment methods (no card numbers), money
received by hand with cash application, a gateway webhook signed by the sandbox (a replay changes nothing),
refunds, dunning policies, bank statements imported once, the SEPA file, the aging report. Runs on SQLite
and PostgreSQL; the customers are on the system clock, held at 1 Jan 2026, 09:00 UTC."""

from __future__ import annotations

import base64
from typing import Any

from fastapi.testclient import TestClient

from kassa.adapters.clock import SystemClock
from kassa.adapters.payments.base import GatewayEventType
from kassa.adapters.payments.sandbox import SandboxGateway
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body["field"]) == (code, field), body


def _customer(client: TestClient, name: str = "acme") -> str:
    return str(ok(client.post("/v1/customers", json={"external_id": name, "name": name.title(),
                                                     "payment_terms_days": 14}), 201)["id"])  # fmt: skip


def _invoice(client: TestClient, customer_id: str, amount: str) -> dict[str, Any]:
    draft = ok(client.post("/v1/invoices", json={"customer_id": customer_id, "lines": [
        {"description": "Consulting", "unit_price": amount}]}), 201)  # fmt: skip
    return dict(ok(client.post(f"/v1/invoices/{draft['id']}/finalize")))


def test_a_card_is_a_token_never_a_number(client: TestClient) -> None:
    cid = _customer(client)
    refused(client.post(f"/v1/customers/{cid}/payment_methods", json={"type": "card", "token": "4242 4242 4242 4242"}),
            422, "card_number_refused", "token")  # fmt: skip
    refused(client.post(f"/v1/customers/{cid}/payment_methods",
                        json={"type": "sepa_debit", "iban": "DE89370400440532013001", "mandate_id": "M1",
                              "mandate_signed_on": "2026-01-01"}), 422, "invalid_iban", "iban")  # fmt: skip
    card = ok(client.post(f"/v1/customers/{cid}/payment_methods",
                          json={"type": "card", "token": "tok_sandbox_success", "brand": "visa", "last4": "4242",
                                "exp_month": 12, "exp_year": 2029}), 201)  # fmt: skip
    mandate = ok(client.post(f"/v1/customers/{cid}/payment_methods",
                             json={"type": "sepa_debit", "iban": "DE89 3704 0044 0532 0130 00", "mandate_id": "M1",
                                   "mandate_signed_on": "2026-01-01"}), 201)  # fmt: skip
    assert (card["is_default"], card["gateway"], mandate["is_default"]) == (True, "sandbox", False)
    assert mandate["iban"] == "DE89••••••••••••••3000"
    ok(client.patch(f"/v1/payment_methods/{mandate['id']}", json={"set_default": True}))
    listed = ok(client.get(f"/v1/customers/{cid}/payment_methods"))["data"]
    assert [(m["type"], m["is_default"]) for m in listed] == [("sepa_debit", True), ("card", False)]


def test_a_transfer_pays_the_invoices_it_names_then_the_oldest(client: TestClient) -> None:
    """Two invoices of 100.00 and 50.00; 180.00 arrives naming the second: it pays 50.00, then 100.00 of the
    first, and 30.00 goes to the credit balance; a refund of 30.00 sends that back."""
    cid = _customer(client)
    first, second = _invoice(client, cid, "100.00"), _invoice(client, cid, "50.00")
    payment = ok(client.post("/v1/payments", json={"customer_id": cid, "amount": "180.00",
                                                   "reference": f"Invoice {second['number']}"}), 201)  # fmt: skip
    assert [(a["invoice_id"], a["paid"]["amount"]) for a in payment["allocations"]] == [
        (second["id"], "50.00"), (first["id"], "100.00")]  # fmt: skip
    assert ok(client.get(f"/v1/invoices/{first['id']}"))["status"] == "paid"
    assert ok(client.get(f"/v1/customers/{cid}/credit_balance"))["balance"] == {
        "amount": "30.00",
        "currency": "EUR",
    }
    refused(client.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": "30.01"}), 422,
            "refund_exceeds_credit_balance", "amount")  # fmt: skip
    refund = ok(client.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": "30.00"}), 201)
    assert (refund["status"], refund["amount"]["amount"]) == ("succeeded", "30.00")
    assert ok(client.get(f"/v1/customers/{cid}/credit_balance"))["balance"]["amount"] == "0.00"
    refused(client.post("/v1/payments", json={"customer_id": cid, "amount": 10.5}), 422, "amount_must_be_string",
            "amount")  # fmt: skip


def test_a_gateway_webhook_is_verified_and_applied_once(ctx: ServiceContext, client: TestClient,
                                                        tenant: TenantAccess) -> None:  # fmt: skip
    """A card charged on the invoice (due on receipt) gets a chargeback: the signed webhook reopens the
    invoice; the same webhook again is a duplicate; a tampered one is 400 invalid_signature."""
    cid = ok(client.post("/v1/customers", json={"external_id": "cb", "name": "Cb"}), 201)["id"]
    ok(
        client.post(
            f"/v1/customers/{cid}/payment_methods", json={"type": "card", "token": "tok_sandbox_chargeback"}
        ),
        201,
    )
    invoice = _invoice(client, cid, "80.00")  # due on receipt: the worker would charge it; "pay" does it now
    payment = ok(client.post(f"/v1/invoices/{invoice['id']}/pay"), 201)
    assert (payment["status"], ok(client.get(f"/v1/invoices/{invoice['id']}"))["status"]) == (
        "succeeded",
        "paid",
    )
    sandbox = ctx.gateways["sandbox"]
    assert isinstance(sandbox, SandboxGateway)
    now = SystemClock().now()
    body, headers = sandbox.event(GatewayEventType.CHARGEBACK_OPENED, charge_ref=payment["gateway_ref"],
                                  created_at=now, signed_at=now)  # fmt: skip
    url = f"/v1/gateways/sandbox/webhooks/{tenant.id}"
    assert ok(client.post(url, content=body, headers=headers)) == {"received": True, "outcome": "applied"}
    assert ok(client.post(url, content=body, headers=headers)) == {"received": True, "outcome": "duplicate"}
    refused(client.post(url, content=body.replace(b"chargeback", b"chargeBack"), headers=headers), 400,
            "invalid_signature")  # fmt: skip
    reopened = ok(client.get(f"/v1/invoices/{invoice['id']}"))
    assert (reopened["status"], reopened["amount_remaining"]["amount"]) == ("open", "80.00")


def test_a_statement_is_imported_once_and_its_doubtful_line_waits(client: TestClient) -> None:
    cid = _customer(client, "globex")
    invoice = _invoice(client, cid, "120.00")
    csv_file = (f"date,amount,label,name\n2026-01-05,120.00,{invoice['number']},Globex\n"
                "2026-01-06,99.00,thanks,Someone\n2026-01-07,-10.00,fees,Bank\n").encode()  # fmt: skip
    body = {"content": base64.b64encode(csv_file).decode(), "format": "csv",
            "csv_mapping": {"date": "date", "amount": "amount", "reference": "label", "counterparty_name": "name",
                            "currency": "EUR"}}  # fmt: skip
    statement = ok(client.post("/v1/bank_statements", json=body), 201)
    assert (statement["line_count"], statement["new_lines"], statement["duplicate"]) == (3, 3, False)
    again = ok(client.post("/v1/bank_statements", json=body), 201)
    assert (again["id"], again["duplicate"]) == (statement["id"], True)
    lines = ok(client.get("/v1/statement_lines", params={"statement_id": statement["id"]}))["data"]
    assert sorted(ln["status"] for ln in lines) == ["applied", "ignored", "unmatched"]
    assert ok(client.get(f"/v1/invoices/{invoice['id']}"))["status"] == "paid"
    waiting = next(ln for ln in lines if ln["status"] == "unmatched")
    resolved = ok(client.post(f"/v1/statement_lines/{waiting['id']}/resolve", json={"customer_id": cid}))
    assert resolved["status"] == "applied"
    assert ok(client.get(f"/v1/customers/{cid}/credit_balance"))["balance"]["amount"] == "99.00"
    bad = {**body, "content": base64.b64encode(b"date,amount\nyesterday,1\n").decode()}
    response = client.post("/v1/bank_statements", json=bad)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_bank_file")
    refused(
        client.post("/v1/bank_statements", json={**body, "content": "%%%"}), 422, "invalid_base64", "content"
    )


def test_dunning_policies_and_the_reports(client: TestClient) -> None:
    listed = ok(client.get("/v1/dunning_policies"))["data"]
    assert [(p["id"], p["default"], p["max_attempts"]) for p in listed] == [("default", True, 8)]
    policy = {"name": "Strict", "retries": {"default": {"days": [1, 2]}, "insufficient_funds": {"days": [3, 1]}},
              "steps": [{"day": 5, "action": "write_off"}]}  # fmt: skip
    refused(client.put("/v1/dunning_policies/strict", json=policy), 422, "invalid_dunning_policy",
            "retries.insufficient_funds.days.1")  # fmt: skip
    policy["retries"]["insufficient_funds"] = {"never": True}
    saved = ok(client.put("/v1/dunning_policies/strict", json=policy))
    assert (saved["id"], saved["default"], saved["steps"]) == (
        "strict",
        True,
        [{"day": 5, "action": "write_off"}],
    )
    report = ok(client.get("/v1/reports/dunning_recovery"))
    assert (report["object"], report["invoices_in_dunning"], report["recovery_rate"]) == (
        "dunning_recovery",
        0,
        None,
    )
    cid = _customer(client, "initech")
    _invoice(client, cid, "40.00")  # due 15 Jan
    aging = ok(client.get("/v1/reports/receivables_aging", params={"on": "2026-02-20"}))
    assert aging["totals"] == [{"currency": "EUR", "current": "0.00", "1_30": "0.00", "31_60": "40.00",
                                "61_90": "0.00", "over_90": "0.00", "total": "40.00"}]  # fmt: skip


def test_the_sepa_file_of_the_pending_debits(client: TestClient) -> None:
    ok(client.patch("/v1/settings", json={"legal_name": "Nordlicht GmbH", "sepa_creditor_id": "DE98ZZZ09999999999",
                                          "bank": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}}))  # fmt: skip
    refused(client.post("/v1/sepa_batches", json={}), 422, "nothing_to_collect")
    cid = ok(client.post("/v1/customers", json={"external_id": "sdd", "name": "Debtor GmbH"}), 201)["id"]
    ok(client.post(f"/v1/customers/{cid}/payment_methods", json={
        "type": "sepa_debit", "iban": "DE02120300000000202051", "mandate_id": "M-7", "mandate_signed_on": "2025-12-01"}), 201)  # fmt: skip
    debit = ok(client.post(f"/v1/invoices/{_invoice(client, cid, '75.00')['id']}/pay"), 201)
    assert (debit["status"], debit["gateway"], debit["method_type"]) == ("pending", "sepa", "sepa_debit")
    response = client.post("/v1/sepa_batches", json={"collection_date": "2026-01-08"})
    assert response.status_code == 201, response.text
    assert (response.status_code, response.headers["content-type"], response.headers["kassa-debits"]) == (
        201, "application/xml", "1")  # fmt: skip
    assert (
        b'<InstdAmt Ccy="EUR">75.00</InstdAmt>' in response.content
        and b"<MndtId>M-7</MndtId>" in response.content
    )
