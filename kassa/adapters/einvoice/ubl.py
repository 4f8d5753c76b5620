"""EN 16931 as OASIS UBL 2.1 for Peppol BIS Billing 3.0: write and read (Invoice, and CreditNote for 381).

Elements are written in the order the UBL 2.1 XSD requires; `facturx.check_ubl` validates the result.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lxml import etree

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
    Xml,
    credit_note_document,
    document,
    number,
    parse,
)
from kassa.core.errors import DomainError

if TYPE_CHECKING:
    from kassa.core.credit_notes import CreditNote
    from kassa.core.invoicing import Invoice

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS = {"cac": CAC, "cbc": CBC}
_x = Xml(NS)


def invoice_ubl(invoice: Invoice, *, issue_date: date | None = None) -> bytes:
    """The finalized invoice as a Peppol BIS Billing 3.0 UBL Invoice (UTF-8)."""
    return write_ubl(peppol(document(invoice, issue_date=issue_date)))


def credit_note_ubl(note: CreditNote, invoice: Invoice, *, issue_date: date | None = None) -> bytes:
    """A credit note against `invoice` as a Peppol BIS Billing 3.0 UBL CreditNote."""
    return write_ubl(peppol(credit_note_document(note, invoice, issue_date=issue_date)))


def peppol(doc: EInvoice) -> EInvoice:
    """The document with Peppol's identifiers (BT-24, BT-23) and one note: Peppol allows a second note
    only between two German parties (PEPPOL-EN16931-R002), so several are joined into one."""
    notes = ("\n".join(doc.notes),) if len(doc.notes) > 1 else doc.notes
    return replace(doc, specification=PEPPOL_BILLING, process=PEPPOL_PROCESS, notes=notes)


def write_ubl(doc: EInvoice) -> bytes:
    credit = doc.type_code == CREDIT_NOTE
    namespace, name = (CREDIT_NOTE_NS, "CreditNote") if credit else (INVOICE_NS, "Invoice")
    nsmap: dict[str | None, str] = {None: namespace, "cac": CAC, "cbc": CBC}
    root = etree.Element(f"{{{namespace}}}{name}", nsmap=nsmap)
    cur = doc.currency
    _x.sub(root, "cbc:CustomizationID", doc.specification)
    _x.sub(root, "cbc:ProfileID", doc.process)
    _x.sub(root, "cbc:ID", doc.number)
    _x.sub(root, "cbc:IssueDate", _day(doc.issue_date))
    if not credit:
        _x.sub(root, "cbc:DueDate", _day(doc.due_date))
    _x.sub(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode", doc.type_code)
    for note in doc.notes:
        _x.sub(root, "cbc:Note", note)
    _x.sub(root, "cbc:DocumentCurrencyCode", cur)
    _x.sub(root, "cbc:BuyerReference", doc.buyer_reference)
    _period(root, doc.period_start, doc.period_end)
    if doc.preceding_invoice:
        reference = _x.sub(_x.sub(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        _x.sub(reference, "cbc:ID", doc.preceding_invoice)
    _party(_x.sub(root, "cac:AccountingSupplierParty"), doc.seller, seller=True)
    _party(_x.sub(root, "cac:AccountingCustomerParty"), doc.buyer, seller=False)
    if doc.deliver_to_country:
        location = _x.sub(_x.sub(root, "cac:Delivery"), "cac:DeliveryLocation")
        _address(location, "cac:Address", Address(country=doc.deliver_to_country))
    if doc.payment or (credit and doc.due_date):
        _payment(root, doc.payment or Payment(), doc.due_date if credit else None)
    if doc.payment_terms:
        _x.sub(_x.sub(root, "cac:PaymentTerms"), "cbc:Note", doc.payment_terms)
    for allowance in doc.allowances:
        _allowance(root, allowance, cur, header=True)
    totals = doc.totals or Totals()
    tax_total = _x.sub(root, "cac:TaxTotal")
    _x.sub(tax_total, "cbc:TaxAmount", number(totals.tax_total), currencyID=cur)
    for row in doc.vat:
        subtotal = _x.sub(tax_total, "cac:TaxSubtotal")
        _x.sub(subtotal, "cbc:TaxableAmount", number(row.taxable), currencyID=cur)
        _x.sub(subtotal, "cbc:TaxAmount", number(row.tax), currencyID=cur)
        _category(subtotal, "cac:TaxCategory", row.category, row.rate, row.reason_code, row.reason)
    _totals(root, totals, cur)
    for line in doc.lines:
        _line(root, line, cur, credit)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _period(parent: Any, start: date | None, end: date | None) -> None:
    if start or end:
        period = _x.sub(parent, "cac:InvoicePeriod")
        _x.sub(period, "cbc:StartDate", _day(start))
        _x.sub(period, "cbc:EndDate", _day(end))


def _category(
    parent: Any, tag: str, code: str | None, rate: Decimal | None, reason_code: str | None = None,
    reason: str | None = None,
) -> None:  # fmt: skip
    element = _x.sub(parent, tag)
    _x.sub(element, "cbc:ID", code)
    _x.sub(element, "cbc:Percent", number(rate))
    _x.sub(element, "cbc:TaxExemptionReasonCode", reason_code)
    _x.sub(element, "cbc:TaxExemptionReason", reason)
    _x.sub(_x.sub(element, "cac:TaxScheme"), "cbc:ID", "VAT")


def _party(parent: Any, party: Party | None, *, seller: bool) -> None:
    party = party or Party()
    element = _x.sub(parent, "cac:Party")
    _x.sub(element, "cbc:EndpointID", party.endpoint, schemeID=EMAIL)
    if party.identifier:
        _x.sub(_x.sub(element, "cac:PartyIdentification"), "cbc:ID", party.identifier)
    if party.trading_name:
        _x.sub(_x.sub(element, "cac:PartyName"), "cbc:Name", party.trading_name)
    if party.address:
        _address(element, "cac:PostalAddress", party.address)
    for value, scheme in ((party.vat_id, "VAT"), (party.tax_registration if seller else None, "TAX")):
        if value:
            tax = _x.sub(element, "cac:PartyTaxScheme")
            _x.sub(tax, "cbc:CompanyID", value)
            _x.sub(_x.sub(tax, "cac:TaxScheme"), "cbc:ID", scheme)
    legal = _x.sub(element, "cac:PartyLegalEntity")
    _x.sub(legal, "cbc:RegistrationName", party.name)
    _x.sub(legal, "cbc:CompanyID", party.legal_registration)


def _address(parent: Any, tag: str, address: Address) -> None:
    element = _x.sub(parent, tag)
    _x.sub(element, "cbc:StreetName", address.line1)
    _x.sub(element, "cbc:AdditionalStreetName", address.line2)
    _x.sub(element, "cbc:CityName", address.city)
    _x.sub(element, "cbc:PostalZone", address.postal_code)
    _x.sub(element, "cbc:CountrySubentity", address.subdivision)
    _x.sub(_x.sub(element, "cac:Country"), "cbc:IdentificationCode", address.country)


def _payment(parent: Any, payment: Payment, due: date | None) -> None:
    element = _x.sub(parent, "cac:PaymentMeans")
    _x.sub(element, "cbc:PaymentMeansCode", payment.code or "1")  # 1: not defined, for a credit note's date
    _x.sub(element, "cbc:PaymentDueDate", _day(due))
    _x.sub(element, "cbc:PaymentID", payment.remittance)
    if payment.iban:
        account = _x.sub(element, "cac:PayeeFinancialAccount")
        _x.sub(account, "cbc:ID", payment.iban)
        _x.sub(account, "cbc:Name", payment.account_name)
        if payment.bic:
            _x.sub(_x.sub(account, "cac:FinancialInstitutionBranch"), "cbc:ID", payment.bic)


def _allowance(parent: Any, allowance: Allowance, cur: str | None, *, header: bool) -> None:
    element = _x.sub(parent, "cac:AllowanceCharge")
    _x.sub(element, "cbc:ChargeIndicator", "true" if allowance.charge else "false")
    _x.sub(element, "cbc:AllowanceChargeReasonCode", allowance.reason_code)
    _x.sub(element, "cbc:AllowanceChargeReason", allowance.reason)
    _x.sub(element, "cbc:Amount", number(allowance.amount), currencyID=cur)
    if header:
        _category(element, "cac:TaxCategory", allowance.category, allowance.rate)


def _totals(parent: Any, totals: Totals, cur: str | None) -> None:
    element = _x.sub(parent, "cac:LegalMonetaryTotal")
    for tag, value in (
        ("LineExtensionAmount", totals.line_total), ("TaxExclusiveAmount", totals.tax_exclusive),
        ("TaxInclusiveAmount", totals.tax_inclusive), ("AllowanceTotalAmount", totals.allowance_total),
        ("ChargeTotalAmount", totals.charge_total), ("PrepaidAmount", totals.prepaid),
        ("PayableRoundingAmount", totals.rounding), ("PayableAmount", totals.payable),
    ):  # fmt: skip
        _x.sub(element, f"cbc:{tag}", number(value), currencyID=cur)


def _line(parent: Any, line: Line, cur: str | None, credit: bool) -> None:
    element = _x.sub(parent, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    _x.sub(element, "cbc:ID", line.id)
    _x.sub(
        element,
        "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity",
        number(line.quantity),
        unitCode=line.unit,
    )
    _x.sub(element, "cbc:LineExtensionAmount", number(line.net_amount), currencyID=cur)
    _period(element, line.period_start, line.period_end)
    for allowance in line.allowances:
        _allowance(element, allowance, cur, header=False)
    item = _x.sub(element, "cac:Item")
    _x.sub(item, "cbc:Name", line.name)
    _category(item, "cac:ClassifiedTaxCategory", line.category, line.rate)
    price = _x.sub(element, "cac:Price")
    _x.sub(price, "cbc:PriceAmount", number(line.price), currencyID=cur)
    _x.sub(price, "cbc:BaseQuantity", number(line.base_quantity), unitCode=line.unit)


# ---- reading -------------------------------------------------------------------------------------------


def read_ubl(xml: bytes) -> EInvoice:
    """The business terms a UBL Invoice or CreditNote states; what it lacks stays None."""
    root = parse(xml)
    credit = root.tag == f"{{{CREDIT_NOTE_NS}}}CreditNote"
    if not credit and root.tag != f"{{{INVOICE_NS}}}Invoice":
        raise DomainError("not_ubl", f"Not a UBL Invoice or CreditNote: the root is {root.tag}.", "xml")
    means = _x.one(root, "cac:PaymentMeans")
    sums = _x.one(root, "cac:LegalMonetaryTotal")
    tax_total = next((t for t in _x.all(root, "cac:TaxTotal") if _x.one(t, "cac:TaxSubtotal") is not None),
                     _x.one(root, "cac:TaxTotal"))  # fmt: skip
    return EInvoice(
        specification=_x.text(root, "cbc:CustomizationID"), process=_x.text(root, "cbc:ProfileID"),
        number=_x.text(root, "cbc:ID"), type_code=_x.text(root, "cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode"),
        issue_date=_date(root, "cbc:IssueDate"), currency=_x.text(root, "cbc:DocumentCurrencyCode"),
        due_date=_date(means, "cbc:PaymentDueDate") if credit else _date(root, "cbc:DueDate"),
        buyer_reference=_x.text(root, "cbc:BuyerReference"),
        preceding_invoice=_x.text(root, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"),
        notes=tuple(n.text or "" for n in _x.all(root, "cbc:Note")),
        period_start=_date(root, "cac:InvoicePeriod/cbc:StartDate"),
        period_end=_date(root, "cac:InvoicePeriod/cbc:EndDate"),
        seller=_read_party(_x.one(root, "cac:AccountingSupplierParty/cac:Party")),
        buyer=_read_party(_x.one(root, "cac:AccountingCustomerParty/cac:Party")),
        deliver_to_country=_x.text(root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"),
        payment=None if means is None or (credit and _x.text(means, "cbc:PaymentMeansCode") == "1") else Payment(
            code=_x.text(means, "cbc:PaymentMeansCode"), remittance=_x.text(means, "cbc:PaymentID"),
            iban=_x.text(means, "cac:PayeeFinancialAccount/cbc:ID"),
            account_name=_x.text(means, "cac:PayeeFinancialAccount/cbc:Name"),
            bic=_x.text(means, "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"),
        ),
        payment_terms=_x.text(root, "cac:PaymentTerms/cbc:Note"),
        lines=tuple(_read_line(e, credit) for e in _x.all(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")),
        allowances=tuple(_read_allowance(e) for e in _x.all(root, "cac:AllowanceCharge")),
        vat=tuple(VatBreakdown(
            category=_x.text(e, "cac:TaxCategory/cbc:ID"), rate=_x.decimal(e, "cac:TaxCategory/cbc:Percent"),
            taxable=_x.decimal(e, "cbc:TaxableAmount"), tax=_x.decimal(e, "cbc:TaxAmount"),
            reason=_x.text(e, "cac:TaxCategory/cbc:TaxExemptionReason"),
            reason_code=_x.text(e, "cac:TaxCategory/cbc:TaxExemptionReasonCode"),
        ) for e in _x.all(tax_total, "cac:TaxSubtotal")),
        totals=None if sums is None else Totals(
            line_total=_x.decimal(sums, "cbc:LineExtensionAmount"), allowance_total=_x.decimal(sums, "cbc:AllowanceTotalAmount"),
            charge_total=_x.decimal(sums, "cbc:ChargeTotalAmount"), tax_exclusive=_x.decimal(sums, "cbc:TaxExclusiveAmount"),
            tax_total=_x.decimal(tax_total, "cbc:TaxAmount"), tax_inclusive=_x.decimal(sums, "cbc:TaxInclusiveAmount"),
            prepaid=_x.decimal(sums, "cbc:PrepaidAmount"), rounding=_x.decimal(sums, "cbc:PayableRoundingAmount"),
            payable=_x.decimal(sums, "cbc:PayableAmount"),
        ),
    )  # fmt: skip


def _date(node: Any, path: str) -> date | None:
    text = _x.text(node, path)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("invalid_xml", f"{path} is not a YYYY-MM-DD date: {text[:40]!r}.", "xml") from None


def _read_party(node: Any) -> Party | None:
    if node is None:
        return None
    address = _x.one(node, "cac:PostalAddress")
    schemes = {
        _x.text(e, "cac:TaxScheme/cbc:ID"): _x.text(e, "cbc:CompanyID")
        for e in _x.all(node, "cac:PartyTaxScheme")
    }
    return Party(
        name=_x.text(node, "cac:PartyLegalEntity/cbc:RegistrationName"), trading_name=_x.text(node, "cac:PartyName/cbc:Name"),
        identifier=_x.text(node, "cac:PartyIdentification/cbc:ID"), vat_id=schemes.pop("VAT", None),
        legal_registration=_x.text(node, "cac:PartyLegalEntity/cbc:CompanyID"),
        tax_registration=next(iter(schemes.values()), None), endpoint=_x.text(node, "cbc:EndpointID"),
        address=None if address is None else Address(
            line1=_x.text(address, "cbc:StreetName"), line2=_x.text(address, "cbc:AdditionalStreetName"),
            city=_x.text(address, "cbc:CityName"), postal_code=_x.text(address, "cbc:PostalZone"),
            subdivision=_x.text(address, "cbc:CountrySubentity"),
            country=_x.text(address, "cac:Country/cbc:IdentificationCode"),
        ),
    )  # fmt: skip


def _read_allowance(node: Any) -> Allowance:
    return Allowance(
        charge=_x.text(node, "cbc:ChargeIndicator") == "true", amount=_x.decimal(node, "cbc:Amount"),
        reason=_x.text(node, "cbc:AllowanceChargeReason"), reason_code=_x.text(node, "cbc:AllowanceChargeReasonCode"),
        category=_x.text(node, "cac:TaxCategory/cbc:ID"), rate=_x.decimal(node, "cac:TaxCategory/cbc:Percent"),
    )  # fmt: skip


def _read_line(node: Any, credit: bool) -> Line:
    quantity = _x.one(node, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity")
    return Line(
        id=_x.text(node, "cbc:ID"), name=_x.text(node, "cac:Item/cbc:Name"),
        quantity=_x.decimal(node, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"),
        unit=None if quantity is None else quantity.get("unitCode"), net_amount=_x.decimal(node, "cbc:LineExtensionAmount"),
        price=_x.decimal(node, "cac:Price/cbc:PriceAmount"), base_quantity=_x.decimal(node, "cac:Price/cbc:BaseQuantity"),
        category=_x.text(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
        rate=_x.decimal(node, "cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"),
        period_start=_date(node, "cac:InvoicePeriod/cbc:StartDate"),
        period_end=_date(node, "cac:InvoicePeriod/cbc:EndDate"),
        allowances=tuple(_read_allowance(e) for e in _x.all(node, "cac:AllowanceCharge")),
    )  # fmt: skip
