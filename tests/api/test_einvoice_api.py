"""Issue 6: a finalized invoice served as EN 16931 e-invoices: UBL (Peppol BIS Billing 3.0) and CII valid
against the official XSDs and the business rules, and a Factur-X PDF/A-3 carrying the CII."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kassa.adapters.einvoice.facturx import check_cii, check_ubl, embedded_xml
from kassa.adapters.einvoice.rules import check_en16931


def _finalized(client: TestClient) -> dict[str, Any]:
    client.patch("/v1/settings", json={
        "legal_name": "Nordlicht GmbH", "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}],
        "address": {"line1": "Torstraße 1", "city": "Berlin", "postal_code": "10119", "country": "DE"},
        "bank": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX"},
    }).raise_for_status()  # fmt: skip
    customer = client.post("/v1/customers", json={
        "external_id": "fr-1", "name": "Société Exemple SARL", "emails": ["compta@exemple.fr"],
        "address": {"line1": "1 rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"},
        "tax_ids": [{"type": "eu_vat", "value": "FR40303265045"}],
    }).json()  # fmt: skip
    invoice = client.post("/v1/invoices", json={"customer_id": customer["id"], "lines": [
        {"description": "Implementation workshop", "quantity": "2", "unit_price": "600.00"},
        {"description": "Travel", "unit_price": "180.50"},
    ]}).json()  # fmt: skip
    return dict(client.post(f"/v1/invoices/{invoice['id']}/finalize").json())


def test_the_einvoice_of_a_reverse_charge_invoice_passes_the_xsd_and_the_business_rules(
    client: TestClient,
) -> None:
    """DE seller, FR business buyer with a VAT id: reverse charge (AE), 1,380.50 net, no VAT, 1,380.50 due."""
    invoice = _finalized(client)
    assert (invoice["total"]["amount"], invoice["tax"]["amount"]) == ("1380.50", "0.00")
    ubl = client.get(f"/v1/invoices/{invoice['number']}/einvoice", params={"syntax": "ubl"})
    assert ubl.status_code == 200 and ubl.headers["content-type"].startswith("application/xml")
    assert check_ubl(ubl.content) == [] and check_en16931(ubl.content) == []
    assert b"<cbc:ID>AE</cbc:ID>" in ubl.content and b"1380.50" in ubl.content
    cii = client.get(f"/v1/invoices/{invoice['id']}/einvoice", params={"syntax": "cii"}).content
    assert check_cii(cii) == [] and check_en16931(cii) == []
    pdf = client.get(f"/v1/invoices/{invoice['id']}/einvoice", params={"syntax": "facturx"})
    assert pdf.content.startswith(b"%PDF") and embedded_xml(pdf.content) == cii


def test_a_draft_has_no_einvoice(client: TestClient) -> None:
    customer = client.post("/v1/customers", json={"external_id": "d", "name": "D"}).json()
    draft = client.post("/v1/invoices", json={"customer_id": customer["id"], "lines": [
        {"description": "x", "unit_price": "1.00"}]}).json()  # fmt: skip
    response = client.get(f"/v1/invoices/{draft['id']}/einvoice")
    assert (response.status_code, response.json()["code"]) == (422, "invoice_not_finalized")


def test_a_tenant_template_shapes_the_html_and_the_pdf(client: TestClient) -> None:
    """The tenant's own layout (settings.invoice_template) is the one rendered; null restores kassa's."""
    invoice = _finalized(client)
    template = (
        "<html><body><h1>Rechnung {{ invoice.number }}</h1><p>Nordlicht custom layout</p></body></html>"
    )
    client.patch("/v1/settings", json={"invoice_template": template}).raise_for_status()
    html = client.get(f"/v1/invoices/{invoice['id']}.html").text
    assert f"Rechnung {invoice['number']}" in html and "Nordlicht custom layout" in html
    assert client.get(f"/v1/invoices/{invoice['id']}.pdf").content.startswith(b"%PDF")
    client.patch("/v1/settings", json={"invoice_template": None}).raise_for_status()
    assert "Nordlicht custom layout" not in client.get(f"/v1/invoices/{invoice['id']}.html").text
