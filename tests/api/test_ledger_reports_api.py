"""The ledger's reports and accounting periods through the ASGI app: the trial balance as of a day (debit
and credit columns that agree), the general ledger of one account (opening balance, running balance,
closing balance, pages), closing a month and reopening it with a reason (audited), and an invoice for a
closed month booked in the first open one. The seller is in Berlin, the customers in Munich (19 % VAT); the
clock starts at 1 Jan 2026, 09:00 UTC."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import SettableClock

MUNICH = {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["code"], body["field"]) == (code, field), body


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def _invoice(
    client: TestClient, external_id: str, price: str, test_clock_id: str | None = None
) -> dict[str, Any]:
    body = {"external_id": external_id, "name": external_id.title(), "currency": "EUR", "address": MUNICH}
    if test_clock_id:
        body["test_clock_id"] = test_clock_id
    cid = ok(client.post("/v1/customers", json=body), 201)["id"]
    draft = ok(client.post("/v1/invoices", json={"customer_id": cid, "lines": [
        {"description": "Consulting", "unit_price": price}]}), 201)  # fmt: skip
    return dict(ok(client.post(f"/v1/invoices/{draft['id']}/finalize")))


def _books(client: TestClient, clock: SettableClock) -> tuple[dict[str, Any], dict[str, Any]]:
    """1 Jan: 100.00 + 19.00 invoiced, 40.00 paid; 2 Jan: 50.00 + 9.50 invoiced."""
    ok(client.patch("/v1/settings", json={
        "legal_name": "Nordlicht GmbH",
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    }))  # fmt: skip
    first = _invoice(client, "acme", "100.00")
    ok(client.post("/v1/payments", json={"customer_id": first["customer_id"], "amount": "40.00",
                                         "reference": first["number"]}), 201)  # fmt: skip
    clock.advance(timedelta(days=1))
    return first, _invoice(client, "beta", "50.00")


def test_the_trial_balance_as_of_a_day_has_columns_that_agree(
    client: TestClient, clock: SettableClock
) -> None:
    """As of 1 Jan: cash 40.00 Dr, receivable 79.00 Dr, tax 19.00 Cr, revenue 100.00 Cr: 119.00 = 119.00. As of
    2 Jan (and with no day): receivable 138.50, tax 28.50, revenue 150.00: 178.50 = 178.50. As of 31 Dec 2025:
    nothing."""
    _books(client, clock)
    first = ok(client.get("/v1/ledger/balances?as_of=2026-01-01"))
    assert first["as_of"] == "2026-01-01"
    assert first["data"] == [
        {"account": "1000", "name": "Cash", "type": "asset", "balance": eur("40.00"), "debit": eur("40.00"),
         "credit": eur("0.00")},
        {"account": "1100", "name": "Accounts receivable", "type": "asset", "balance": eur("79.00"),
         "debit": eur("79.00"), "credit": eur("0.00")},
        {"account": "2100", "name": "Tax payable", "type": "liability", "balance": eur("-19.00"),
         "debit": eur("0.00"), "credit": eur("19.00")},
        {"account": "4000", "name": "Revenue", "type": "revenue", "balance": eur("-100.00"), "debit": eur("0.00"),
         "credit": eur("100.00")},
    ]  # fmt: skip
    assert (first["totals"], first["balanced"]) == (
        [{"currency": "EUR", "debit": eur("119.00"), "credit": eur("119.00"), "balanced": True}], True)  # fmt: skip
    second = ok(client.get("/v1/ledger/balances?as_of=2026-01-02"))
    assert {r["account"]: r["balance"]["amount"] for r in second["data"]} == {
        "1000": "40.00", "1100": "138.50", "2100": "-28.50", "4000": "-150.00"}  # fmt: skip
    assert second["totals"] == [
        {"currency": "EUR", "debit": eur("178.50"), "credit": eur("178.50"), "balanced": True}
    ]
    everything = ok(client.get("/v1/ledger/balances"))
    assert (everything["as_of"], everything["data"], everything["totals"]) == (
        None,
        second["data"],
        second["totals"],
    )
    assert ok(client.get("/v1/ledger/balances?as_of=2025-12-31")) == {
        "as_of": "2025-12-31", "data": [], "totals": [], "balanced": True}  # fmt: skip
    assert client.get("/v1/ledger/balances?as_of=2026-02-30").status_code == 422


def test_the_general_ledger_of_an_account_runs_its_balance_across_pages(
    client: TestClient, clock: SettableClock
) -> None:
    """Receivable 1100 from 2 Jan: opening 79.00 (119.00 − 40.00), INV 2 +59.50 → 138.50, closing 138.50.
    The month in pages of 2: +119.00 → 119.00, −40.00 → 79.00; then +59.50 → 138.50. No `to`: today; no
    `from`: the first of `to`'s month. Unknown account:
    404 account_not_found."""
    first, second = _books(client, clock)
    found = ok(client.get("/v1/ledger/accounts/1100?from=2026-01-02&to=2026-01-31"))
    assert found["account"] == {
        "code": "1100",
        "name": "Accounts receivable",
        "type": "asset",
        "normal_side": "debit",
    }
    assert (found["from"], found["to"], found["opening_balances"], found["closing_balances"]) == (
        "2026-01-02", "2026-01-31", [eur("79.00")], [eur("138.50")])  # fmt: skip
    [line] = found["entries"]
    assert line == {
        "entry_id": line["entry_id"], "booked_on": "2026-01-02", "effective_on": None,
        "posted_at": "2026-01-02T09:00:00Z", "source_type": "invoice", "source_id": second["id"],
        "description": f"Invoice {second['number']}", "memo": None, "note": None, "debit": eur("59.50"),
        "credit": eur("0.00"), "balance": eur("138.50"),
    }  # fmt: skip
    page = ok(client.get("/v1/ledger/accounts/1100?from=2026-01-01&to=2026-01-31&limit=2"))
    assert [(e["source_id"], e["debit"]["amount"], e["credit"]["amount"], e["balance"]["amount"])
            for e in page["entries"]] == [(first["id"], "119.00", "0.00", "119.00"),
                                          (page["entries"][1]["source_id"], "0.00", "40.00", "79.00")]  # fmt: skip
    assert (page["has_more"], page["opening_balances"], page["closing_balances"]) == (True, [eur("0.00")],
                                                                                      [eur("138.50")])  # fmt: skip
    rest = ok(
        client.get(
            f"/v1/ledger/accounts/1100?from=2026-01-01&to=2026-01-31&limit=2&cursor={page['next_cursor']}"
        )
    )
    assert ([e["balance"]["amount"] for e in rest["entries"]], rest["has_more"], rest["next_cursor"]) == (
        ["138.50"], False, None)  # fmt: skip
    refused(client.get("/v1/ledger/accounts/7777?from=2026-01-01&to=2026-01-31"), 404, "account_not_found")
    refused(client.get("/v1/ledger/accounts/1100?from=2026-02-01&to=2026-01-31"), 422, "invalid_range", "to")
    # no `to`: today (2 Jan); no `from` either: the first of this month
    assert ok(client.get("/v1/ledger/accounts/1100?from=2026-01-01"))["to"] == "2026-01-02"
    assert ok(client.get("/v1/ledger/accounts/1100")) == ok(
        client.get("/v1/ledger/accounts/1100?from=2026-01-01")
    )
    assert client.get("/v1/ledger/accounts/1100?from=2026-01-01&to=2026-01-31&cursor=nope").status_code == 422


def test_closing_december_sends_its_late_invoice_to_january_and_reopening_is_audited(
    client: TestClient, clock: SettableClock
) -> None:
    """On 1 Jan: January cannot close (period_not_ended); December closes (closed_through 2025-12) and cannot
    close twice (409). An invoice (10.00, no seller address: no tax) for a customer on a test clock at 20 Dec
    books on 1 Jan with effective_on
    20 Dec and the note. Reopening needs a reason (reason_required); with one, December is open again and the
    audit log has the reason."""
    assert ok(client.get("/v1/ledger/periods")) == {"closed_through": None, "data": []}
    refused(client.post("/v1/ledger/periods", json={"month": "2026-01"}), 422, "period_not_ended", "month")
    assert client.post("/v1/ledger/periods", json={"month": "2025-1"}).status_code == 422
    refused(client.post("/v1/ledger/periods", json={"month": "2025-13"}), 422, "invalid_month", "month")
    closed = ok(client.post("/v1/ledger/periods", json={"month": "2025-12"}))
    [december] = closed["data"]
    assert closed["closed_through"] == "2025-12"
    assert {k: december[k] for k in ("month", "first_day", "last_day", "status", "closed_at", "reopened_at")} == {
        "month": "2025-12", "first_day": "2025-12-01", "last_day": "2025-12-31", "status": "closed",
        "closed_at": "2026-01-01T09:00:00Z", "reopened_at": None}  # fmt: skip
    assert december["closed_by"].startswith("api_key:key_")
    refused(
        client.post("/v1/ledger/periods", json={"month": "2025-12"}), 409, "period_already_closed", "month"
    )
    refused(
        client.post("/v1/ledger/periods", json={"month": "2025-11"}), 409, "period_already_closed", "month"
    )

    clock_id = ok(client.post("/v1/test_clocks", json={"name": "late", "frozen_time": "2025-12-20T10:00:00Z"}),
                  201)["id"]  # fmt: skip
    late = _invoice(client, "late", "10.00", clock_id)
    found = ok(client.get("/v1/ledger/accounts/1100?from=2025-12-01&to=2026-01-31"))
    assert [(e["source_id"], e["booked_on"], e["effective_on"], e["note"], e["debit"]["amount"])
            for e in found["entries"]] == [
        (late["id"], "2026-01-01", "2025-12-20", "2025-12 is closed: booked in 2026-01", "10.00")]  # fmt: skip
    assert ok(client.get("/v1/ledger/balances?as_of=2025-12-31"))["data"] == []

    refused(client.post("/v1/ledger/periods/2025-12/reopen", json={}), 422, "reason_required", "reason")
    refused(
        client.post("/v1/ledger/periods/2025-12/reopen", json={"reason": "  "}),
        422,
        "reason_required",
        "reason",
    )
    refused(
        client.post("/v1/ledger/periods/2026-01/reopen", json={"reason": "x"}),
        409,
        "period_not_closed",
        "month",
    )
    assert client.post("/v1/ledger/periods/2025-12-01/reopen", json={"reason": "x"}).status_code == 422
    clock.advance(timedelta(hours=2))
    reopened = ok(client.post("/v1/ledger/periods/2025-12/reopen", json={"reason": "Credit note missed"}))
    assert reopened["closed_through"] is None
    assert [(p["month"], p["status"], p["reopened_at"], p["reopen_reason"]) for p in reopened["data"]] == [
        ("2025-12", "open", "2026-01-01T11:00:00Z", "Credit note missed")]  # fmt: skip
    assert reopened == ok(client.get("/v1/ledger/periods"))
    audited = ok(client.get("/v1/audit_events?object_type=accounting_period"))["data"]
    assert [(e["action"], e["object_id"]) for e in audited] == [
        ("accounting_period.reopened", "2025-12"), ("accounting_period.closed", "2025-12")]  # fmt: skip
    assert audited[0]["changes"]["reason"] == {"before": None, "after": "Credit note missed"}
    assert audited[1]["changes"]["closed_through"] == {"before": None, "after": "2025-12"}
