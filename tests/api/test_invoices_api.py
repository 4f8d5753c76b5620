"""Issue 6: the billing API through the ASGI app — invoices by hand and their lifecycle, documents, credit
notes, coupons and promotion codes, credit grants, the upcoming invoice, one-off charges, and the ledger
the invoices post to. Runs on SQLite and PostgreSQL (the `client` fixture).

The seller is in Berlin, the customers in Munich: 19 % German VAT, computed per line and rounded half-up
(the tenant's default), so 45.50 × 19 % = 8.645 → 8.65 (half-even would give 8.64). Customers are on the
system clock, which the `clock` fixture holds at 1 Jan 2026, 09:00 UTC: invoices finalized now are
numbered INV-2026-00001 on, credit notes CN-2026-00001 on."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.services import jobs
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock

MUNICH = {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"}
CATALOG: dict[str, Any] = {
    "products": [{"code": "hosting", "name": "Hosting", "plans": [
        {"code": "hosting-monthly", "name": "Hosting, monthly", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00", "per_unit": "2.50"}}}]},
    ]}],
}  # fmt: skip


# ---- helpers -------------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["code"], body["field"]) == (code, field), body
    return body


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def totals(invoice: dict[str, Any]) -> tuple[str, ...]:
    """(subtotal, discount, tax, total, amount due) as the API shows them."""
    keys = ("subtotal", "discount", "tax", "total", "amount_due")
    for key in keys:
        assert invoice[key]["currency"] == "EUR"
    return tuple(invoice[key]["amount"] for key in keys)


@pytest.fixture
def seller(client: TestClient) -> None:
    ok(client.patch("/v1/settings", json={
        "legal_name": "Nordlicht GmbH",
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    }))  # fmt: skip


def new_customer(client: TestClient, external_id: str = "acme") -> str:
    body = {"external_id": external_id, "name": f"{external_id.title()} AG", "currency": "EUR",
            "emails": [f"ap@{external_id}.test"], "address": MUNICH}  # fmt: skip
    customer_id: str = ok(client.post("/v1/customers", json=body), 201)["id"]
    return customer_id


def new_invoice(client: TestClient, customer_id: str, *lines: dict[str, Any]) -> dict[str, Any]:
    body = {"customer_id": customer_id, "lines": list(lines)}
    invoice: dict[str, Any] = ok(client.post("/v1/invoices", json=body), 201)
    return invoice


def finalize(client: TestClient, invoice_id: str) -> dict[str, Any]:
    invoice: dict[str, Any] = ok(client.post(f"/v1/invoices/{invoice_id}/finalize"))
    return invoice


CONSULTING = {"description": "Consulting", "quantity": "3", "unit_price": "120.00"}
TRAVEL = {"description": "Travel", "unit_price": "45.50"}


# ---- invoices by hand ----------------------------------------------------------------------------------


def test_a_manual_invoice_is_a_draft_with_exact_totals_until_finalized_and_numbered(
    client: TestClient, seller: None
) -> None:
    """3 × 120.00 consulting (VAT 68.40) + 45.50 travel (VAT 8.645 → 8.65): subtotal 405.50, tax 77.05,
    total 482.55, a draft without a number. Finalized: INV-2026-00001, open, due today (net 0 days);
    found by id and by number alike; finalizing again is refused."""
    cid = new_customer(client)
    draft = new_invoice(client, cid, CONSULTING, TRAVEL)
    assert (draft["status"], draft["number"], draft["bill_date"]) == ("draft", None, None)
    assert totals(draft) == ("405.50", "0.00", "77.05", "482.55", "482.55")
    assert [(line["position"], line["kind"], line["quantity"], line["unit_price"], line["net"]["amount"],
             line["tax"]["amount"], line["tax_code"]) for line in draft["lines"]] == [
        (1, "manual", "3", "120", "360.00", "68.40", "S"),
        (2, "manual", "1", "45.5", "45.50", "8.65", "S"),
    ]  # fmt: skip
    assert [
        (row["percent"], row["taxable"]["amount"], row["tax"]["amount"]) for row in draft["tax_breakdown"]
    ] == [("19", "405.50", "77.05")]

    final = finalize(client, draft["id"])
    assert (final["id"], final["number"], final["status"]) == (draft["id"], "INV-2026-00001", "open")
    assert (final["finalized_at"], final["due_date"]) == ("2026-01-01T09:00:00Z", "2026-01-01")
    assert totals(final) == totals(draft)
    assert final["amount_remaining"] == eur("482.55")
    assert ok(client.get(f"/v1/invoices/{draft['id']}")) == final
    assert ok(client.get("/v1/invoices/INV-2026-00001")) == final
    refused(client.post(f"/v1/invoices/{draft['id']}/finalize"), 422, "invoice_finalized")
    refused(client.get("/v1/invoices/INV-2026-00099"), 404, "invoice_not_found")


def test_the_invoice_as_pdf_and_as_html(client: TestClient, seller: None) -> None:
    """GET …/{id}.pdf is a PDF (application/pdf, starts with %PDF, named after the number); .html is the
    page it is printed from, carrying the number; a draft's page says DRAFT instead."""
    cid = new_customer(client)
    draft = new_invoice(client, cid, CONSULTING)
    assert "DRAFT" in client.get(f"/v1/invoices/{draft['id']}.html").text
    finalize(client, draft["id"])

    pdf = client.get(f"/v1/invoices/{draft['id']}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == 'inline; filename="INV-2026-00001.pdf"'
    assert pdf.content.startswith(b"%PDF")
    html = client.get(f"/v1/invoices/{draft['id']}.html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "INV-2026-00001" in html.text
    assert client.get("/v1/invoices/INV-2026-00001.pdf").content.startswith(b"%PDF")


def test_a_line_is_added_to_a_draft_and_refused_on_a_finalized_invoice(
    client: TestClient, seller: None
) -> None:
    """A draft of 100.00 (+19.00) takes a line of 2 × 12.345 = 24.69 (rounded once, half-up; VAT 4.6911 →
    4.69): subtotal 124.69, tax 23.69, total 148.38. Once finalized, a new line is refused with
    invoice_finalized and the invoice is unchanged."""
    cid = new_customer(client)
    draft = new_invoice(client, cid, {"description": "Licence", "unit_price": "100.00"})
    setup = {"description": "Setup", "quantity": "2", "unit_price": "12.345"}
    added = ok(client.post(f"/v1/invoices/{draft['id']}/lines", json=setup), 201)
    assert added["id"] == draft["id"]
    assert [(line["position"], line["description"], line["net"]["amount"]) for line in added["lines"]] == [
        (1, "Licence", "100.00"),
        (2, "Setup", "24.69"),
    ]
    assert totals(added) == ("124.69", "0.00", "23.69", "148.38", "148.38")

    final = finalize(client, draft["id"])
    assert totals(final) == totals(added)
    late = {"description": "Late", "unit_price": "1.00"}
    body = refused(client.post(f"/v1/invoices/{draft['id']}/lines", json=late), 422, "invoice_finalized")
    assert body["status"] == 422
    assert ok(client.get(f"/v1/invoices/{draft['id']}")) == final


def test_void_and_mark_uncollectible(client: TestClient, seller: None) -> None:
    """An open invoice is voided (status void, voided_at now) or written off (uncollectible); neither
    applies to a draft or twice; the receivable each had is gone from the ledger (1100 back to 0.00)."""
    cid = new_customer(client)
    first = finalize(client, new_invoice(client, cid, CONSULTING)["id"])
    second = finalize(client, new_invoice(client, cid, TRAVEL)["id"])
    draft = new_invoice(client, cid, TRAVEL)
    assert balances(client)["1100"] == "482.55"  # 428.40 + 54.15

    voided = ok(client.post(f"/v1/invoices/{first['id']}/void"))
    assert (voided["status"], voided["voided_at"], voided["number"]) == (
        "void",
        "2026-01-01T09:00:00Z",
        "INV-2026-00001",
    )
    written_off = ok(client.post(f"/v1/invoices/{second['id']}/mark_uncollectible"))
    assert (written_off["status"], written_off["number"]) == ("uncollectible", "INV-2026-00002")
    refused(client.post(f"/v1/invoices/{first['id']}/void"), 422, "invoice_not_open")
    refused(client.post(f"/v1/invoices/{second['id']}/void"), 422, "invoice_not_open")
    refused(client.post(f"/v1/invoices/{draft['id']}/void"), 422, "invoice_not_open")
    refused(client.post(f"/v1/invoices/{draft['id']}/mark_uncollectible"), 422, "invoice_not_open")
    rows = balances(client)
    assert rows["1100"] == "0.00"
    assert rows["6200"] == "54.15"  # bad debt: the written-off invoice, tax included
    listed = ok(client.get("/v1/invoices", params={"customer_id": cid, "status": "void"}))["data"]
    assert [i["id"] for i in listed] == [first["id"]]


EXAMPLES = itertools.count()
line_inputs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=50),  # quantity
        st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999.999"), places=3),  # unit price
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=line_inputs)
def test_any_invoice_by_hand_adds_up_and_posts_its_total_as_receivable(
    client: TestClient, seller: None, lines: list[tuple[int, Decimal]]
) -> None:
    """Whatever the lines: each is quantity × unit price rounded half-up once, its VAT 19 % of that rounded
    half-up; subtotal, tax and total are the sums of the rounded lines; finalized, the receivable grows by
    exactly the total (the trial balance still sums to zero)."""
    cent = Decimal("0.01")
    cid = new_customer(client, f"prop-{next(EXAMPLES)}")
    draft = new_invoice(client, cid, *({"description": f"Item {i}", "quantity": str(q), "unit_price": str(p)}
                                        for i, (q, p) in enumerate(lines)))  # fmt: skip
    nets = [(q * p).quantize(cent, ROUND_HALF_UP) for q, p in lines]
    taxes = [(n * Decimal("0.19")).quantize(cent, ROUND_HALF_UP) for n in nets]
    assert [(x["net"]["amount"], x["tax"]["amount"]) for x in draft["lines"]] == [
        (str(n), str(t)) for n, t in zip(nets, taxes, strict=True)
    ]
    total = sum(nets) + sum(taxes)
    assert totals(draft) == (str(sum(nets)), "0.00", str(sum(taxes)), str(total), str(total))
    receivable = Decimal(balances(client).get("1100", "0"))
    finalize(client, draft["id"])
    after = balances(client)
    assert Decimal(after.get("1100", "0")) - receivable == total  # a zero invoice posts nothing
    assert sum(Decimal(v) for v in after.values()) == 0


# ---- credit notes --------------------------------------------------------------------------------------


def test_credit_notes_one_line_by_amount_then_the_rest_of_the_invoice(
    client: TestClient, seller: None
) -> None:
    """INV-2026-00001 (482.55). CN-2026-00001 credits 100.00 of line 1 with its VAT 19.00: 119.00 off what
    is due (363.55 left). Crediting more than the 260.00 left on line 1 is credit_exceeds_line, a line 3
    is no_such_line. CN-2026-00002 credits the rest (260.00 + 45.50 net, 49.40 + 8.65 VAT = 363.55) and
    the invoice is settled (paid); nothing is left to credit on it. Both are listed under the invoice."""
    cid = new_customer(client)
    invoice = finalize(client, new_invoice(client, cid, CONSULTING, TRAVEL)["id"])
    url = f"/v1/invoices/{invoice['id']}/credit_notes"

    part = ok(client.post(url, json={"lines": [{"position": 1, "net": "100.00"}], "reason": "goodwill"}), 201)
    assert (part["number"], part["invoice_id"], part["invoice_number"], part["reason"]) == (
        "CN-2026-00001", invoice["id"], "INV-2026-00001", "goodwill")  # fmt: skip
    assert (part["net"], part["tax"], part["total"]) == (eur("100.00"), eur("19.00"), eur("119.00"))
    assert (part["to_invoice"], part["to_credit_balance"]) == (eur("119.00"), eur("0.00"))
    after = ok(client.get(f"/v1/invoices/{invoice['id']}"))
    assert (after["status"], after["amount_credited"], after["amount_remaining"]) == (
        "open", eur("119.00"), eur("363.55"))  # fmt: skip

    refused(client.post(url, json={"lines": [{"position": 1, "net": "260.01"}]}), 422, "credit_exceeds_line",
            "lines.0.net")  # fmt: skip
    refused(client.post(url, json={"lines": [{"position": 3}]}), 422, "no_such_line", "lines.0.position")

    rest = ok(client.post(url, json={}), 201)
    assert rest["number"] == "CN-2026-00002"
    assert [(line["position"], line["net"]["amount"], line["tax"]["amount"]) for line in rest["lines"]] == [
        (1, "260.00", "49.40"),
        (2, "45.50", "8.65"),
    ]
    assert (rest["net"], rest["tax"], rest["total"], rest["to_invoice"]) == (
        eur("305.50"), eur("58.05"), eur("363.55"), eur("363.55"))  # fmt: skip
    settled = ok(client.get(f"/v1/invoices/{invoice['id']}"))
    assert (settled["status"], settled["amount_remaining"]) == ("paid", eur("0.00"))
    refused(client.post(url, json={"lines": [{"position": 2, "net": "0.01"}]}), 422, "credit_exceeds_line",
            "lines.0.net")  # fmt: skip
    refused(client.post(url, json={"lines": [{"position": 2}]}), 422, "nothing_to_credit", "lines.0")

    listed = ok(client.get("/v1/credit_notes", params={"invoice_id": invoice["id"]}))
    assert sorted(n["number"] for n in listed["data"]) == ["CN-2026-00001", "CN-2026-00002"]
    other = finalize(client, new_invoice(client, cid, TRAVEL)["id"])
    assert ok(client.get("/v1/credit_notes", params={"invoice_id": other["id"]}))["data"] == []
    assert ok(client.get(f"/v1/credit_notes/{part['id']}")) == part


def test_a_draft_cannot_be_credited(client: TestClient, seller: None) -> None:
    """A credit note corrects a finalized invoice; a draft is edited instead."""
    draft = new_invoice(client, new_customer(client), TRAVEL)
    refused(client.post(f"/v1/invoices/{draft['id']}/credit_notes", json={}), 422, "invoice_not_creditable")


# ---- coupons, promotion codes, redemptions -------------------------------------------------------------


WELCOME = {"code": "WELCOME10", "name": "Welcome", "type": "percent", "percent_off": "10", "duration": "once"}
FIVE_OFF = {"code": "FIVEOFF", "name": "Five off", "type": "fixed", "amounts_off": [eur("5.00")],
            "duration": "forever"}  # fmt: skip


def test_coupons_are_created_once_per_code_and_amounts_are_strings(client: TestClient) -> None:
    """A percent and a fixed coupon; the same code again is a 409 duplicate_code; an amount off sent as a
    JSON number is refused (a float is inexact), and nothing is created by the refusals."""
    percent = ok(client.post("/v1/coupons", json=WELCOME), 201)
    shown = ("object", "code", "type", "percent_off", "amounts_off")
    assert tuple(percent[k] for k in shown) == ("coupon", "WELCOME10", "percent", "10", [])
    fixed = ok(client.post("/v1/coupons", json=FIVE_OFF), 201)
    assert (fixed["type"], fixed["percent_off"], fixed["amounts_off"], fixed["duration"]) == (
        "fixed", None, [eur("5.00")], "forever")  # fmt: skip

    refused(client.post("/v1/coupons", json={**WELCOME, "name": "Again"}), 409, "duplicate_code", "code")
    float_off = {**FIVE_OFF, "code": "FLOAT", "amounts_off": [{"amount": 5.5, "currency": "EUR"}]}
    refused(client.post("/v1/coupons", json=float_off), 422, "amount_must_be_string", "amounts_off.0.amount")
    both = {**WELCOME, "code": "BOTH", "amounts_off": [eur("1.00")]}
    refused(client.post("/v1/coupons", json=both), 422, "field_not_allowed", "amounts_off")
    listed = ok(client.get("/v1/coupons"))["data"]
    assert sorted(c["code"] for c in listed) == ["FIVEOFF", "WELCOME10"]
    assert ok(client.get("/v1/coupons/WELCOME10"))["id"] == percent["id"]


def test_a_promotion_code_typed_in_lower_case_discounts_the_next_invoice_once(
    client: TestClient, seller: None
) -> None:
    """Promotion code SPRING26 for WELCOME10 (10 %, once). The customer types "spring26": redeemed. Its
    next invoice, 200.00: discount 20.00, VAT on 180.00 = 34.20, total 214.20. The coupon is used up by
    that invoice, so the one after is 200.00 + 38.00 = 238.00. Redeeming it again is a 409."""
    ok(client.post("/v1/coupons", json=WELCOME), 201)
    promo = ok(client.post("/v1/promotion_codes", json={"code": "spring26", "coupon": "WELCOME10"}), 201)
    assert promo["code"] == "SPRING26"
    refused(client.post("/v1/promotion_codes", json={"code": "SPRING26", "coupon": "WELCOME10"}), 409,
            "duplicate_code", "code")  # fmt: skip
    cid = new_customer(client)

    redemption = ok(client.post(f"/v1/customers/{cid}/coupons", json={"promotion_code": "spring26"}), 201)
    assert (redemption["customer_id"], redemption["promotion_code_id"]) == (cid, promo["id"])
    redeem = f"/v1/customers/{cid}/coupons"
    refused(client.post(redeem, json={"coupon": "WELCOME10"}), 409, "already_redeemed", "coupon")
    refused(client.post(redeem, json={"promotion_code": "winter26"}), 404, "promotion_code_not_found")

    discounted = new_invoice(client, cid, {"description": "Licence", "unit_price": "200.00"})
    assert totals(discounted) == ("200.00", "20.00", "34.20", "214.20", "214.20")
    [line] = discounted["lines"]
    assert (line["discount"], line["net"], line["discounts"][0]["redemption_id"]) == (
        eur("20.00"), eur("180.00"), redemption["id"])  # fmt: skip
    final = finalize(client, discounted["id"])
    assert totals(final) == ("200.00", "20.00", "34.20", "214.20", "214.20")
    assert ok(client.get("/v1/coupons/WELCOME10"))["times_redeemed"] == 1

    full_price = new_invoice(client, cid, {"description": "Licence", "unit_price": "200.00"})
    assert totals(full_price) == ("200.00", "0.00", "38.00", "238.00", "238.00")


def test_a_fixed_coupon_is_spread_over_the_lines_by_largest_remainder(
    client: TestClient, seller: None
) -> None:
    """FIVEOFF (5.00, forever) on lines of 10.00 and 20.00: allocated 1.67 and 3.33 (1/3 and 2/3 of 5.00,
    the odd cent to the larger remainder); VAT 1.58 + 3.17 = 4.75 on 25.00; total 29.75."""
    ok(client.post("/v1/coupons", json=FIVE_OFF), 201)
    cid = new_customer(client)
    ok(client.post(f"/v1/customers/{cid}/coupons", json={"coupon": "FIVEOFF"}), 201)
    invoice = new_invoice(client, cid, {"description": "A", "unit_price": "10.00"},
                          {"description": "B", "unit_price": "20.00"})  # fmt: skip
    assert [
        (line["discount"]["amount"], line["net"]["amount"], line["tax"]["amount"])
        for line in invoice["lines"]
    ] == [
        ("1.67", "8.33", "1.58"),
        ("3.33", "16.67", "3.17"),
    ]
    assert totals(invoice) == ("30.00", "5.00", "4.75", "29.75", "29.75")


# ---- the credit balance --------------------------------------------------------------------------------


def test_a_credit_grant_shows_in_the_balance_and_pays_the_next_invoice(
    client: TestClient, seller: None
) -> None:
    """A 50.00 grant: balance 50.00, one movement. The next invoice (100.00 + 19.00) takes it after tax:
    credit applied 50.00, amount due 69.00; the balance is 0.00 with two movements (+50.00, -50.00).
    A grant sent as a JSON number is refused."""
    cid = new_customer(client)
    grant = ok(client.post(f"/v1/customers/{cid}/credit_grants",
                           json={"amount": "50.00", "description": "Outage in December"}), 201)  # fmt: skip
    balance = ok(client.get(f"/v1/customers/{cid}/credit_balance"))
    assert balance["balance"] == eur("50.00")
    assert [(m["id"], m["amount"], m["source_type"]) for m in balance["data"]] == [
        (grant["id"], eur("50.00"), "grant")
    ]
    refused(client.post(f"/v1/customers/{cid}/credit_grants", json={"amount": 10.5, "description": "x"}), 422,
            "amount_must_be_string", "amount")  # fmt: skip

    final = finalize(
        client, new_invoice(client, cid, {"description": "Licence", "unit_price": "100.00"})["id"]
    )
    assert (final["total"], final["credit_applied"], final["amount_due"]) == (
        eur("119.00"),
        eur("50.00"),
        eur("69.00"),
    )
    balance = ok(client.get(f"/v1/customers/{cid}/credit_balance"))
    assert balance["balance"] == eur("0.00")
    assert sorted(m["amount"]["amount"] for m in balance["data"]) == ["-50.00", "50.00"]


# ---- subscriptions: the upcoming invoice and one-off charges -------------------------------------------


def subscribed(client: TestClient, ctx: ServiceContext, clock: SettableClock) -> str:
    """A customer with 2 seats of Hosting, monthly from today (1 Jan): its 1 Jan invoice (10.00 + 5.00,
    VAT 2.85, total 17.85) is billed and, after the grace hour, finalized as INV-2026-00001."""
    ok(client.post("/v1/catalog", json={"document": CATALOG, "effective_at": "2025-01-01T00:00:00Z"}), 201)
    cid = new_customer(client)
    ok(client.post("/v1/subscriptions", json={"customer_id": cid, "plan": "hosting-monthly", "quantity": 2,
                                              "start_date": "2026-01-01"}), 201)  # fmt: skip
    upcoming = ok(client.get(f"/v1/customers/{cid}/upcoming_invoice"))
    assert (upcoming["id"], upcoming["status"], upcoming["bill_date"]) == ("upcoming", "draft", "2026-01-01")
    assert totals(upcoming) == ("15.00", "0.00", "2.85", "17.85", "17.85")
    jobs.run_due_jobs(ctx)
    clock.advance(timedelta(hours=1))
    jobs.run_due_jobs(ctx)
    [first] = ok(client.get("/v1/invoices", params={"customer_id": cid}))["data"]
    assert (first["number"], first["bill_date"], first["total"]) == (
        "INV-2026-00001",
        "2026-01-01",
        eur("17.85"),
    )
    return cid


def test_the_upcoming_invoice_is_the_next_bill_date_and_writes_nothing(
    client: TestClient, ctx: ServiceContext, clock: SettableClock, seller: None
) -> None:
    """On 2 Jan, after the 1 Jan invoice, the upcoming one is for 1 Feb: the same 17.85, per line 10.00
    and 5.00 for [1 Feb, 1 Mar). Asking writes nothing. A customer with nothing to bill gets a 404."""
    cid = subscribed(client, ctx, clock)
    clock.advance(timedelta(days=1))
    upcoming = ok(client.get(f"/v1/customers/{cid}/upcoming_invoice"))
    assert (upcoming["bill_date"], upcoming["number"]) == ("2026-02-01", None)
    assert totals(upcoming) == ("15.00", "0.00", "2.85", "17.85", "17.85")
    assert sorted(
        (line["net"]["amount"], line["period_start"], line["period_end"]) for line in upcoming["lines"]
    ) == [
        ("10.00", "2026-02-01", "2026-03-01"),
        ("5.00", "2026-02-01", "2026-03-01"),
    ]
    assert len(ok(client.get("/v1/invoices", params={"customer_id": cid}))["data"]) == 1

    idle = new_customer(client, "idle")
    refused(client.get(f"/v1/customers/{idle}/upcoming_invoice"), 404, "upcoming_invoice_not_found")


def test_on_a_bill_date_already_invoiced_the_upcoming_invoice_is_the_next_one(
    client: TestClient, ctx: ServiceContext, clock: SettableClock, seller: None
) -> None:
    """At 10:00 on 1 Jan, the 1 Jan invoice finalized, the customer's upcoming invoice is 1 Feb's 17.85
    (the same answer as on 2 Jan), not "nothing to bill". (Regression, issue 6: it was a 404.)"""
    cid = subscribed(client, ctx, clock)
    upcoming = ok(client.get(f"/v1/customers/{cid}/upcoming_invoice"))
    assert upcoming["bill_date"] == "2026-02-01"
    assert totals(upcoming) == ("15.00", "0.00", "2.85", "17.85", "17.85")


def test_a_one_off_charge_waits_for_the_next_invoice_unless_billed_now(
    client: TestClient, ctx: ServiceContext, clock: SettableClock, seller: None
) -> None:
    """On 2 Jan, hardware for 30.00 without bill_now: no invoice now; the upcoming 1 Feb invoice carries it
    (45.00 net, VAT 8.55, 53.55), and so does the invoice the 1 Feb bill run makes. On 1 Feb a workshop
    of 250.00 with bill_now=true, for a customer without subscriptions, is invoiced at once: a draft for
    that day, 250.00 + 47.50 = 297.50."""
    cid = subscribed(client, ctx, clock)
    clock.advance(timedelta(days=1))
    charge = ok(client.post(f"/v1/customers/{cid}/one_off_charges",
                            json={"description": "Hardware", "unit_price": "30.00"}), 201)  # fmt: skip
    assert (charge["invoice"], charge["charged"]) == (None, eur("30.00"))
    assert len(ok(client.get("/v1/invoices", params={"customer_id": cid}))["data"]) == 1
    upcoming = ok(client.get(f"/v1/customers/{cid}/upcoming_invoice"))
    assert upcoming["bill_date"] == "2026-02-01"
    assert totals(upcoming) == ("45.00", "0.00", "8.55", "53.55", "53.55")
    assert ("one_off", "Hardware", "30.00") in [
        (x["kind"], x["description"], x["net"]["amount"]) for x in upcoming["lines"]
    ]

    clock.at = datetime(2026, 2, 1, tzinfo=UTC)
    jobs.run_due_jobs(ctx)
    february = ok(client.get("/v1/invoices", params={"customer_id": cid, "status": "draft"}))["data"]
    assert [(i["bill_date"], totals(i)) for i in february] == [
        ("2026-02-01", ("45.00", "0.00", "8.55", "53.55", "53.55"))
    ]
    assert sorted(x["description"] for x in february[0]["lines"]) == [
        "Hardware", "Hosting, monthly", "Hosting, monthly, per unit"]  # fmt: skip

    walk_in = new_customer(client, "walkin")
    workshop = {"description": "Onboarding workshop", "unit_price": "250.00", "bill_now": True}
    now = ok(client.post(f"/v1/customers/{walk_in}/one_off_charges", json=workshop), 201)
    invoice = now["invoice"]
    assert (invoice["status"], invoice["bill_date"], invoice["customer_id"]) == (
        "draft",
        "2026-02-01",
        walk_in,
    )
    assert [(x["kind"], x["description"]) for x in invoice["lines"]] == [("one_off", "Onboarding workshop")]
    assert totals(invoice) == ("250.00", "0.00", "47.50", "297.50", "297.50")
    assert ok(client.get(f"/v1/invoices/{invoice['id']}"))["total"] == eur("297.50")


# ---- the ledger ----------------------------------------------------------------------------------------


def balances(client: TestClient) -> dict[str, str]:
    rows = ok(client.get("/v1/ledger/balances"))["data"]
    return {row["account"]: row["balance"]["amount"] for row in rows}


def test_a_finalized_invoice_posts_a_balanced_entry_receivable_equal_to_its_total(
    client: TestClient, seller: None
) -> None:
    """INV-2026-00001 (482.55): receivable 1100 is 482.55 (debit), revenue 4000 -405.50 and tax payable
    2100 -77.05 (credits); every journal entry's debits equal its credits, the trial balance sums to 0."""
    cid = new_customer(client)
    draft = new_invoice(client, cid, CONSULTING, TRAVEL)
    assert ok(client.get("/v1/ledger/entries"))["data"] == []  # a draft posts nothing
    finalize(client, draft["id"])
    rows = balances(client)
    assert (rows["1100"], rows["4000"], rows["2100"]) == ("482.55", "-405.50", "-77.05")
    assert sum(Decimal(v) for v in rows.values()) == 0
    ok(client.post(f"/v1/invoices/{draft['id']}/credit_notes", json={"lines": [{"position": 2}]}), 201)
    entries = ok(client.get("/v1/ledger/entries", params={"limit": 100}))["data"]
    assert sorted(e["source_type"] for e in entries) == ["credit_note", "invoice"]
    for entry in entries:
        sides = {"debit": Decimal(0), "credit": Decimal(0)}
        for posting in entry["postings"]:
            sides[posting["side"]] += Decimal(posting["amount"]["amount"])
        assert sides["debit"] == sides["credit"] > 0, entry
    assert balances(client)["1100"] == "428.40"  # 482.55 - 54.15 credited


def test_a_bad_chart_of_accounts_is_refused_with_a_code_and_changes_nothing(client: TestClient) -> None:
    """A chart missing roles (missing_role at roles.cash), or mapping the receivable to a revenue account
    (account_type_mismatch), is a 422; the chart in use stays the default one."""
    before = ok(client.get("/v1/ledger/chart"))
    lonely = {"accounts": [{"code": "1100", "name": "Receivables", "type": "asset"}], "roles": {}}
    refused(client.put("/v1/ledger/chart", json=lonely), 422, "missing_role", "roles.cash")
    mismatched = {**before, "roles": {**before["roles"], "accounts_receivable": "4000"}}
    refused(
        client.put("/v1/ledger/chart", json=mismatched),
        422,
        "account_type_mismatch",
        "roles.accounts_receivable",
    )
    refused(client.put("/v1/ledger/chart", json={"accounts": []}), 422, "invalid_chart", "accounts")
    assert ok(client.get("/v1/ledger/chart")) == before
    assert ok(client.put("/v1/ledger/chart", json=before)) == before  # the good one is accepted
