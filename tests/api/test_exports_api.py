"""Accounting exports through the ASGI app, parsed back as CSV with exact figures: the journal (one row per
posting), the invoices finalized in a range, and the general ledger as Xero manual journals. The seller is
in Berlin, the customers in Munich (19 % VAT); the clock starts at 1 Jan 2026, 09:00 UTC."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
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


def rows(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def _books(client: TestClient, clock: SettableClock) -> dict[str, Any]:
    """INV 1: 100.00 + 19.00 VAT on 1 Jan to Acme AG, 40.00 paid by transfer the same day; INV 2: 50.00 +
    9.50 VAT on 2 Jan to a customer whose name looks like a spreadsheet formula."""
    ok(client.patch("/v1/settings", json={
        "legal_name": "Nordlicht GmbH",
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    }))  # fmt: skip
    made: dict[str, Any] = {}
    for external_id, name, price in (("acme", "Acme AG", "100.00"), ("evil", "=HYPERLINK(1)", "50.00")):
        cid = ok(client.post("/v1/customers", json={"external_id": external_id, "name": name, "currency": "EUR",
                                                    "address": MUNICH}), 201)["id"]  # fmt: skip
        draft = ok(client.post("/v1/invoices", json={"customer_id": cid, "lines": [
            {"description": "Consulting", "unit_price": price}]}), 201)  # fmt: skip
        made[external_id] = ok(client.post(f"/v1/invoices/{draft['id']}/finalize"))
        made[external_id]["customer_id"] = cid
        if external_id == "acme":
            made["payment"] = ok(client.post("/v1/payments", json={
                "customer_id": cid, "amount": "40.00", "reference": made["acme"]["number"]}), 201)  # fmt: skip
            clock.advance(timedelta(days=1))
    return made


def _late_invoice(client: TestClient) -> dict[str, Any]:
    """December 2025 is closed; a customer on a test clock still at 20 Dec 2025 is invoiced 10.00 + 1.90."""
    ok(client.post("/v1/ledger/periods", json={"month": "2025-12"}))
    clock_id = ok(client.post("/v1/test_clocks", json={"name": "late", "frozen_time": "2025-12-20T10:00:00Z"}),
                  201)["id"]  # fmt: skip
    cid = ok(client.post("/v1/customers", json={"external_id": "late", "name": "Late GmbH", "currency": "EUR",
                                                "address": MUNICH, "test_clock_id": clock_id}), 201)["id"]  # fmt: skip
    draft = ok(client.post("/v1/invoices", json={"customer_id": cid, "lines": [
        {"description": "Consulting", "unit_price": "10.00"}]}), 201)  # fmt: skip
    return dict(ok(client.post(f"/v1/invoices/{draft['id']}/finalize")))


COLUMNS = ["entry_id", "booked_on", "effective_on", "posted_at", "source_type", "source_id", "description", "account",
           "account_name", "debit", "credit", "currency", "memo", "note"]  # fmt: skip


def test_the_journal_export_has_one_row_per_posting(client: TestClient, clock: SettableClock) -> None:
    """1 Jan: the invoice (Dr 1100 119.00; Cr 4000 100.00, Cr 2100 19.00) and the payment (Dr 1000 40.00,
    Cr 1100 40.00), then the invoice of 20 Dec that the closed December sent to 1 Jan (effective_on and the
    note). The range 1–1 Jan leaves out 2 Jan's invoice; debits equal credits."""
    made = _books(client, clock)
    late = _late_invoice(client)
    response = client.get("/v1/exports/journal_entries?from=2026-01-01&to=2026-01-01")
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="journal_entries_2026-01-01_2026-01-01.csv"'
    )
    found = rows(response)
    assert list(found[0]) == COLUMNS
    assert response.text.startswith(",".join(COLUMNS) + "\r\n")
    inv, pay = made["acme"]["id"], made["payment"]["id"]
    note = "2025-12 is closed: booked in 2026-01"
    assert [(r["booked_on"], r["effective_on"], r["source_type"], r["source_id"], r["description"], r["account"],
             r["account_name"], r["debit"], r["credit"], r["currency"], r["note"]) for r in found[:6]] == [
        ("2026-01-01", "", "invoice", inv, "Invoice INV-2026-00001", "1100", "Accounts receivable", "119.00", "", "EUR", ""),
        ("2026-01-01", "", "invoice", inv, "Invoice INV-2026-00001", "4000", "Revenue", "", "100.00", "EUR", ""),
        ("2026-01-01", "", "invoice", inv, "Invoice INV-2026-00001", "2100", "Tax payable", "", "19.00", "EUR", ""),
        ("2026-01-01", "", "payment", pay, f"Payment {pay}", "1000", "Cash", "40.00", "", "EUR", ""),
        ("2026-01-01", "", "payment", pay, f"Payment {pay}", "1100", "Accounts receivable", "", "40.00", "EUR", ""),
        ("2026-01-01", "2025-12-20", "invoice", late["id"], "Invoice INV-2025-00001", "1100", "Accounts receivable",
         "11.90", "", "EUR", note),
    ]  # fmt: skip
    assert [r["posted_at"] for r in found[:5]] == ["2026-01-01T09:00:00+00:00"] * 5
    assert found[5]["posted_at"] == "2025-12-20T10:00:00+00:00"
    # the late invoice's credits (tax 1.90, revenue 10.00, wherever revenue goes) carry the note too
    assert sorted((r["effective_on"], r["note"], r["credit"]) for r in found[6:]) == [("2025-12-20", note, "1.90"),
                                                                                ("2025-12-20", note, "10.00")]  # fmt: skip
    assert len({r["entry_id"] for r in found}) == 3
    assert sum(Decimal(r["debit"] or 0) for r in found) == sum(Decimal(r["credit"] or 0) for r in found) == Decimal(
        "170.90")  # fmt: skip
    assert len(rows(client.get("/v1/exports/journal_entries?from=2026-01-01&to=2026-01-31"))) == 11
    assert rows(client.get("/v1/exports/journal_entries?from=2025-12-01&to=2025-12-31")) == []


def test_the_invoice_export_lists_the_invoices_finalized_in_the_range(
    client: TestClient, clock: SettableClock
) -> None:
    """January: INV 1 (100.00 + 19.00, 40.00 paid, open) and INV 2 (50.00 + 9.50); a customer name that
    starts like a formula gets a leading apostrophe. 2 Jan alone: INV 2 only; a day in the tenant's time
    zone decides (the tenant is on UTC here)."""
    made = _books(client, clock)
    response = client.get("/v1/exports/invoices?from=2026-01-01&to=2026-01-31")
    found = rows(response)
    assert (
        response.headers["content-disposition"] == 'attachment; filename="invoices_2026-01-01_2026-01-31.csv"'
    )
    assert found == [
        {"number": "INV-2026-00001", "invoice_id": made["acme"]["id"], "finalized_on": "2026-01-01", "bill_date": "",
         "due_date": "2026-01-01", "customer_id": made["acme"]["customer_id"], "customer_name": "Acme AG",
         "currency": "EUR", "subtotal": "100.00", "discount": "0.00", "tax": "19.00", "total": "119.00",
         "credit_applied": "0.00", "amount_due": "119.00", "amount_paid": "40.00", "credited": "0.00",
         "status": "open"},
        {"number": "INV-2026-00002", "invoice_id": made["evil"]["id"], "finalized_on": "2026-01-02", "bill_date": "",
         "due_date": "2026-01-02", "customer_id": made["evil"]["customer_id"], "customer_name": "'=HYPERLINK(1)",
         "currency": "EUR", "subtotal": "50.00", "discount": "0.00", "tax": "9.50", "total": "59.50",
         "credit_applied": "0.00", "amount_due": "59.50", "amount_paid": "0.00", "credited": "0.00",
         "status": "open"},
    ]  # fmt: skip
    assert [r["number"] for r in rows(client.get("/v1/exports/invoices?from=2026-01-02&to=2026-01-02"))] == [
        "INV-2026-00002"]  # fmt: skip
    assert rows(client.get("/v1/exports/invoices?from=2026-01-03&to=2026-12-31")) == []


XERO = ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1", "TrackingOption1",
        "TrackingName2", "TrackingOption2"]  # fmt: skip


def test_the_general_ledger_exports_as_xero_manual_journals(client: TestClient, clock: SettableClock) -> None:
    """Xero's manual journal template: one journal per entry (its narration names the entry), dates
    dd/mm/yyyy, debits positive and credits negative, summing to zero per journal; the tax rate name can be
    set (UK organisations call it "No VAT"); other currencies' entries are left out."""
    made = _books(client, clock)
    response = client.get("/v1/exports/general_ledger?from=2026-01-01&to=2026-01-31&format=xero")
    assert response.headers["content-disposition"] == (
        'attachment; filename="general_ledger_xero_2026-01-01_2026-01-31.csv"')  # fmt: skip
    assert response.text.splitlines()[0] == ",".join(XERO)
    found = rows(response)
    pay = made["payment"]["id"]
    assert [(r["*Date"], r["Description"], r["*AccountCode"], r["*TaxRate"], r["*Amount"]) for r in found] == [
        ("01/01/2026", "Invoice INV-2026-00001", "1100", "Tax Exempt", "119.00"),
        ("01/01/2026", "Invoice INV-2026-00001", "4000", "Tax Exempt", "-100.00"),
        ("01/01/2026", "Invoice INV-2026-00001", "2100", "Tax Exempt", "-19.00"),
        ("01/01/2026", f"Payment {pay}", "1000", "Tax Exempt", "40.00"),
        ("01/01/2026", f"Payment {pay}", "1100", "Tax Exempt", "-40.00"),
        ("02/01/2026", "Invoice INV-2026-00002", "1100", "Tax Exempt", "59.50"),
        ("02/01/2026", "Invoice INV-2026-00002", "4000", "Tax Exempt", "-50.00"),
        ("02/01/2026", "Invoice INV-2026-00002", "2100", "Tax Exempt", "-9.50"),
    ]  # fmt: skip
    journals: dict[str, Decimal] = {}
    for r in found:
        journals[r["*Narration"]] = journals.get(r["*Narration"], Decimal(0)) + Decimal(r["*Amount"])
        assert all(r[c] == "" for c in XERO[6:])
    assert len(journals) == 3 and set(journals.values()) == {Decimal(0)}
    assert next(iter(journals)).startswith("Invoice INV-2026-00001 (je_")
    uk = rows(client.get("/v1/exports/general_ledger?from=2026-01-02&to=2026-01-02&tax_rate=No%20VAT"))
    assert [r["*TaxRate"] for r in uk] == ["No VAT"] * 3
    assert rows(client.get("/v1/exports/general_ledger?from=2026-01-01&to=2026-01-31&currency=USD")) == []


def test_bad_ranges_and_formats_are_refused(client: TestClient) -> None:
    """`to` before `from` is invalid_range (also when `from` defaults to the first of `to`'s month); a
    malformed day is refused by the request check;
    only the xero format exists; days before 1900 are invalid_date."""
    refused(
        client.get("/v1/exports/journal_entries?from=2026-02-01&to=2026-01-31"), 422, "invalid_range", "to"
    )
    refused(client.get("/v1/exports/invoices?from=2026-02-01&to=2026-01-31"), 422, "invalid_range", "to")
    refused(
        client.get("/v1/exports/general_ledger?from=2026-02-01&to=2026-01-31"), 422, "invalid_range", "to"
    )
    refused(
        client.get("/v1/exports/journal_entries?from=2026-02-01"), 422, "invalid_range", "to"
    )  # today: 1 Jan
    assert client.get("/v1/exports/journal_entries?from=2026-13-01&to=2026-01-31").status_code == 422
    assert (
        client.get("/v1/exports/general_ledger?from=2026-01-01&to=2026-01-31&format=quickbooks").status_code
        == 422
    )
    refused(client.get("/v1/exports/invoices?from=0001-01-01&to=2026-01-31"), 422, "invalid_date", "from")
    refused(client.get("/v1/exports/invoices?from=2026-01-01&to=9999-12-31"), 422, "invalid_date", "to")


def test_without_a_range_an_export_covers_this_month_to_date(
    client: TestClient, clock: SettableClock
) -> None:
    """On 2 Jan, no `from`/`to`: 1–2 Jan (both invoices, the payment: 8 postings); only `to` = 1 Jan:
    1–1 Jan (5 postings); only `from` = 2 Jan: 2 Jan to today (3 postings)."""
    _books(client, clock)
    assert len(rows(client.get("/v1/exports/journal_entries"))) == 8
    assert client.get("/v1/exports/invoices").headers["content-disposition"] == (
        'attachment; filename="invoices_2026-01-01_2026-01-02.csv"'
    )
    assert len(rows(client.get("/v1/exports/journal_entries?to=2026-01-01"))) == 5
    assert len(rows(client.get("/v1/exports/general_ledger?from=2026-01-02"))) == 3
