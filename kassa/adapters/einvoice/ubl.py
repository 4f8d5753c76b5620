"""EN 16931 as OASIS UBL 2.1 for Peppol BIS Billing 3.0: write and read (Invoice, and CreditNote for 381).

Elements are written in the order the UBL 2.1 XSD requires; `facturx.check_ubl` validates the result.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lxml import etree  # type: ignore[import-untyped]

from kassa.adapters.einvoice import (
    CREDIT_NOTE,
    EMAIL,
    PEPPOL_BILLING,
    PEPPOL_PROCESS,
    Address,
    Allowance,
    EInvoice,
    Line,
    Party,
    Payment,
    Totals,
    VatBreakdown,
    document,
)
from kassa.adapters.einvoice.cii import parse
from kassa.core.errors import DomainError

if TYPE_CHECKING:
    from kassa.core.invoicing import Invoice

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}


def invoice_ubl(invoice: Invoice, *, issue_date: date | None = None) -> bytes:
    """The finalized invoice as a Peppol BIS Billing 3.0 UBL Invoice (UTF-8)."""
    return write_ubl(peppol(document(invoice, issue_date=issue_date)))


def peppol(doc: EInvoice) -> EInvoice:
    """The document with Peppol's identifiers (BT-24, BT-23) and one note: Peppol allows a second note
    only between two German parties (PEPPOL-EN16931-R002), so several are joined into one."""
    notes = ("\n".join(doc.notes),) if len(doc.notes) > 1 else doc.notes
    return replace(doc, specification=PEPPOL_BILLING, process=PEPPOL_PROCESS, notes=notes)


def write_ubl(doc: EInvoice) -> bytes:
    credit = doc.type_code == CREDIT_NOTE
    root = etree.Element(f"{{{CREDIT_NOTE_NS if credit else INVOICE_NS}}}{'CreditNote' if credit else 'Invoice'}",
                         nsmap={None: CREDIT_NOTE_NS if credit else INVOICE_NS, **NS})  # fmt: skip
    cur = doc.currency
    _sub(root, "cbc:CustomizationID", doc.specification)
    _sub(root, "cbc:ProfileID", doc.process)
    _sub(root, "cbc:ID", doc.number)
    _sub(root, "cbc:IssueDate", _day(doc.issue_date))
    if not credit:
        _sub(root, "cbc:DueDate", _day(doc.due_date))
    _sub(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode", doc.type_code)
    for note in doc.notes:
        _sub(root, "cbc:Note", note)
    _sub(root, "cbc:DocumentCurrencyCode", cur)
    _sub(root, "cbc:BuyerReference", doc.buyer_reference)
    _period(root, doc.period_start, doc.period_end)
    if doc.preceding_invoice:
        reference = _sub(_sub(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        _sub(reference, "cbc:ID", doc.preceding_invoice)
    _party(_sub(root, "cac:AccountingSupplierParty"), doc.seller, seller=True)
    _party(_sub(root, "cac:AccountingCustomerParty"), doc.buyer, seller=False)
    if doc.deliver_to_country:
        location = _sub(_sub(root, "cac:Delivery"), "cac:DeliveryLocation")
        _address(location, "cac:Address", Address(country=doc.deliver_to_country))
    if doc.payment or (credit and doc.due_date):
        _payment(root, doc.payment or Payment(), doc.due_date if credit else None)
    if doc.payment_terms:
        _sub(_sub(root, "cac:PaymentTerms"), "cbc:Note", doc.payment_terms)
    for allowance in doc.allowances:
        _allowance(root, allowance, cur, header=True)
    totals = doc.totals or Totals()
    tax_total = _sub(root, "cac:TaxTotal")
    _sub(tax_total, "cbc:TaxAmount", _num(totals.tax_total), currencyID=cur)
    for row in doc.vat:
        subtotal = _sub(tax_total, "cac:TaxSubtotal")
        _sub(subtotal, "cbc:TaxableAmount", _num(row.taxable), currencyID=cur)
        _sub(subtotal, "cbc:TaxAmount", _num(row.tax), currencyID=cur)
        _category(subtotal, "cac:TaxCategory", row.category, row.rate, row.reason_code, row.reason)
    _totals(root, totals, cur)
    for line in doc.lines:
        _line(root, line, cur, credit)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _sub(parent: Any, tag: str, text: str | None = "", **attrs: str | None) -> Any:
    """A child element; None text means the business term is absent, so no element is written."""
    if text is None:
        return None
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}")
    for key, value in attrs.items():
        if value is not None:
            element.set(key, value)
    if text:
        element.text = text
    return element


def _num(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _period(parent: Any, start: date | None, end: date | None) -> None:
    if start or end:
        period = _sub(parent, "cac:InvoicePeriod")
        _sub(period, "cbc:StartDate", _day(start))
        _sub(period, "cbc:EndDate", _day(end))


def _category(
    parent: Any, tag: str, code: str | None, rate: Decimal | None, reason_code: str | None = None,
    reason: str | None = None,
) -> None:  # fmt: skip
    element = _sub(parent, tag)
    _sub(element, "cbc:ID", code)
    _sub(element, "cbc:Percent", _num(rate))
    _sub(element, "cbc:TaxExemptionReasonCode", reason_code)
    _sub(element, "cbc:TaxExemptionReason", reason)
    _sub(_sub(element, "cac:TaxScheme"), "cbc:ID", "VAT")


def _party(parent: Any, party: Party | None, *, seller: bool) -> None:
    party = party or Party()
    element = _sub(parent, "cac:Party")
    _sub(element, "cbc:EndpointID", party.endpoint, schemeID=EMAIL)
    if party.identifier:
        _sub(_sub(element, "cac:PartyIdentification"), "cbc:ID", party.identifier)
    if party.trading_name:
        _sub(_sub(element, "cac:PartyName"), "cbc:Name", party.trading_name)
    if party.address:
        _address(element, "cac:PostalAddress", party.address)
    for value, scheme in ((party.vat_id, "VAT"), (party.tax_registration if seller else None, "TAX")):
        if value:
            tax = _sub(element, "cac:PartyTaxScheme")
            _sub(tax, "cbc:CompanyID", value)
            _sub(_sub(tax, "cac:TaxScheme"), "cbc:ID", scheme)
    _sub(_sub(element, "cac:PartyLegalEntity"), "cbc:RegistrationName", party.name)


def _address(parent: Any, tag: str, address: Address) -> None:
    element = _sub(parent, tag)
    _sub(element, "cbc:StreetName", address.line1)
    _sub(element, "cbc:AdditionalStreetName", address.line2)
    _sub(element, "cbc:CityName", address.city)
    _sub(element, "cbc:PostalZone", address.postal_code)
    _sub(element, "cbc:CountrySubentity", address.subdivision)
    _sub(_sub(element, "cac:Country"), "cbc:IdentificationCode", address.country)


def _payment(parent: Any, payment: Payment, due: date | None) -> None:
    element = _sub(parent, "cac:PaymentMeans")
    _sub(element, "cbc:PaymentMeansCode", payment.code or "1")  # 1: not defined, for a credit note's date
    _sub(element, "cbc:PaymentDueDate", _day(due))
    _sub(element, "cbc:PaymentID", payment.remittance)
    if payment.iban:
        account = _sub(element, "cac:PayeeFinancialAccount")
        _sub(account, "cbc:ID", payment.iban)
        _sub(account, "cbc:Name", payment.account_name)
        if payment.bic:
            _sub(_sub(account, "cac:FinancialInstitutionBranch"), "cbc:ID", payment.bic)


def _allowance(parent: Any, allowance: Allowance, cur: str | None, *, header: bool) -> None:
    element = _sub(parent, "cac:AllowanceCharge")
    _sub(element, "cbc:ChargeIndicator", "true" if allowance.charge else "false")
    _sub(element, "cbc:AllowanceChargeReasonCode", allowance.reason_code)
    _sub(element, "cbc:AllowanceChargeReason", allowance.reason)
    _sub(element, "cbc:Amount", _num(allowance.amount), currencyID=cur)
    if header:
        _category(element, "cac:TaxCategory", allowance.category, allowance.rate)


def _totals(parent: Any, totals: Totals, cur: str | None) -> None:
    element = _sub(parent, "cac:LegalMonetaryTotal")
    for tag, value in (
        ("LineExtensionAmount", totals.line_total), ("TaxExclusiveAmount", totals.tax_exclusive),
        ("TaxInclusiveAmount", totals.tax_inclusive), ("AllowanceTotalAmount", totals.allowance_total),
        ("ChargeTotalAmount", totals.charge_total), ("PrepaidAmount", totals.prepaid),
        ("PayableRoundingAmount", totals.rounding), ("PayableAmount", totals.payable),
    ):  # fmt: skip
        _sub(element, f"cbc:{tag}", _num(value), currencyID=cur)


def _line(parent: Any, line: Line, cur: str | None, credit: bool) -> None:
    element = _sub(parent, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    _sub(element, "cbc:ID", line.id)
    _sub(
        element,
        "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
        _num(line.quantity),
        unitCode=line.unit,
    )
    _sub(element, "cbc:LineExtensionAmount", _num(line.net_amount), currencyID=cur)
    _period(element, line.period_start, line.period_end)
    for allowance in line.allowances:
        _allowance(element, allowance, cur, header=False)
    item = _sub(element, "cac:Item")
    _sub(item, "cbc:Name", line.name)
    _category(item, "cac:ClassifiedTaxCategory", line.category, line.rate)
    price = _sub(element, "cac:Price")
    _sub(price, "cbc:PriceAmount", _num(line.price), currencyID=cur)
    _sub(price, "cbc:BaseQuantity", _num(line.base_quantity), unitCode=line.unit)


# ---- reading -------------------------------------------------------------------------------------------


def read_ubl(xml: bytes) -> EInvoice:
    """The business terms a UBL Invoice or CreditNote states; what it lacks stays None."""
    root = parse(xml)
    credit = root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote"
    if not credit and root.tag != f"{{{INVOICE_NS}}}Invoice":
        raise DomainError("not_ubl", f"Not a UBL Invoice or CreditNote: the root is {root.tag}.", "xml")
    means = _one(root, "cac:PaymentMeans")
    sums = _one(root, "cac:LegalMonetaryTotal")
    tax_total = next((t for t in _all(root, "cac:TaxTotal") if _one(t, "cac:TaxSubtotal") is not None),
                     _one(root, "cac:TaxTotal"))  # fmt: skip
    return EInvoice(
        specification=_text(root, "cbc:CustomizationID"), process=_text(root, "cbc:ProfileID"),
        number=_text(root, "cbc:ID"), type_code=_text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        issue_date=_date(root, "cbc:IssueDate"), currency=_text(root, "cbc:DocumentCurrencyCode"),
        due_date=_date(means, "cbc:PaymentDueDate") if credit else _date(root, "cbc:DueDate"),
        buyer_reference=_text(root, "cbc:BuyerReference"),
        preceding_invoice=_text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        notes=tuple(n.text or "" for n in _all(root, "cbc:Note")),
        period_start=_date(root, "cac:InvoicePeriod/cbc:StartDate"),
        period_end=_date(root, "cac:InvoicePeriod/cbc:EndDate"),
        seller=_read_party(_one(root, "cac:AccountingSupplierParty/cac:Party")),
        buyer=_read_party(_one(root, "cac:AccountingCustomerParty/cac:Party")),
        deliver_to_country=_text(root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"),
        payment=None if means is None or (credit and _text(means, "cbc:PaymentMeansCode") == "1") else Payment(
            code=_text(means, "cbc:PaymentMeansCode"), remittance=_text(means, "cbc:PaymentID"),
            iban=_text(means, "cac:PayeeFinancialAccount/cbc:ID"),
            account_name=_text(means, "cac:PayeeFinancialAccount/cbc:Name"),
            bic=_text(means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"),
        ),
        payment_terms=_text(root, "cac:PaymentTerms/cbc:Note"),
        lines=tuple(_read_line(e, credit) for e in _all(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")),
        allowances=tuple(_read_allowance(e) for e in _all(root, "cac:AllowanceCharge")),
        vat=tuple(VatBreakdown(
            category=_text(e, "cac:TaxCategory/cbc:ID"), rate=_dec(e, "cac:TaxCategory/cbc:Percent"),
            taxable=_dec(e, "cbc:TaxableAmount"), tax=_dec(e, "cbc:TaxAmount"),
            reason=_text(e, "cac:TaxCategory/cbc:TaxExemptionReason"),
            reason_code=_text(e, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
        ) for e in _all(tax_total, "cac:TaxSubtotal")),
        totals=None if sums is None else Totals(
            line_total=_dec(sums, "cbc:LineExtensionAmount"), allowance_total=_dec(sums, "cbc:AllowanceTotalAmount"),
            charge_total=_dec(sums, "cbc:ChargeTotalAmount"), tax_exclusive=_dec(sums, "cbc:TaxExclusiveAmount"),
            tax_total=_dec(tax_total, "cbc:TaxAmount"), tax_inclusive=_dec(sums, "cbc:TaxInclusiveAmount"),
            prepaid=_dec(sums, "cbc:PrepaidAmount"), rounding=_dec(sums, "cbc:PayableRoundingAmount"),
            payable=_dec(sums, "cbc:PayableAmount"),
        ),
    )  # fmt: skip


def _all(node: Any, path: str) -> list[Any]:
    return [] if node is None else list(node.iterfind(path, NS))


def _one(node: Any, path: str) -> Any:
    return None if node is None else node.find(path, NS)


def _text(node: Any, path: str) -> str | None:
    found = _one(node, path)
    return None if found is None or found.text is None else str(found.text).strip() or None


def _dec(node: Any, path: str) -> Decimal | None:
    text = _text(node, path)
    try:
        return None if text is None else Decimal(text)
    except ArithmeticError:
        raise DomainError("invalid_xml", f"{path} is not a number: {text[:40]!r}.", "xml") from None


def _date(node: Any, path: str) -> date | None:
    text = _text(node, path)
    try:
        return None if text is None else date.fromisoformat(text)
    except ValueError:
        raise DomainError("invalid_xml", f"{path} is not a YYYY-MM-DD date: {text[:40]!r}.", "xml") from None


def _read_party(node: Any) -> Party | None:
    if node is None:
        return None
    address = _one(node, "cac:PostalAddress")
    schemes = {
        _text(e, "cac:TaxScheme/cbc:ID"): _text(e, "cbc:CompanyID") for e in _all(node, "cac:PartyTaxScheme")
    }
    return Party(
        name=_text(node, "cac:PartyLegalEntity/cbc:RegistrationName"), trading_name=_text(node, "cac:PartyName/cbc:Name"),
        identifier=_text(node, "cac:PartyIdentification/cbc:ID"), vat_id=schemes.pop("VAT", None),
        tax_registration=next(iter(schemes.values()), None), endpoint=_text(node, "cbc:EndpointID"),
        address=None if address is None else Address(
            line1=_text(address, "cbc:StreetName"), line2=_text(address, "cbc:AdditionalStreetName"),
            city=_text(address, "cbc:CityName"), postal_code=_text(address, "cbc:PostalZone"),
            subdivision=_text(address, "cbc:CountrySubentity"),
            country=_text(address, "cac:Country/cbc:IdentificationCode"),
        ),
    )  # fmt: skip


def _read_allowance(node: Any) -> Allowance:
    return Allowance(
        charge=_text(node, "cbc:ChargeIndicator") == "true", amount=_dec(node, "cbc:Amount"),
        reason=_text(node, "cbc:AllowanceChargeReason"), reason_code=_text(node, "cbc:AllowanceChargeReasonCode"),
        category=_text(node, "cac:TaxCategory/cbc:ID"), rate=_dec(node, "cac:TaxCategory/cbc:Percent"),
    )  # fmt: skip


def _read_line(node: Any, credit: bool) -> Line:
    quantity = _one(node, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity")
    return Line(
        id=_text(node, "cbc:ID"), name=_text(node, "cac:Item/cbc:Name"),
        quantity=_dec(node, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"),
        unit=None if quantity is None else quantity.get("unitCode"), net_amount=_dec(node, "cbc:LineExtensionAmount"),
        price=_dec(node, "cac:Price/cbc:PriceAmount"), base_quantity=_dec(node, "cac:Price/cbc:BaseQuantity"),
        category=_text(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
        rate=_dec(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"),
        period_start=_date(node, "cac:InvoicePeriod/cbc:StartDate"),
        period_end=_date(node, "cac:InvoicePeriod/cbc:EndDate"),
        allowances=tuple(_read_allowance(e) for e in _all(node, "cac:AllowanceCharge")),
    )  # fmt: skip
