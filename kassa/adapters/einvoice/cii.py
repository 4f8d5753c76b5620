"""EN 16931 as UN/CEFACT Cross Industry Invoice (D16B), Factur-X/ZUGFeRD's EN 16931 profile: write and read.

Elements are written in the order the Factur-X XSD requires; `facturx.check_cii` validates the result.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from lxml import etree

from kassa.adapters.einvoice import (
    EMAIL,
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

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
_x = Xml(NS)


def invoice_cii(invoice: Invoice, *, issue_date: date | None = None) -> bytes:
    """The finalized invoice as Factur-X EN 16931 CII XML (UTF-8)."""
    return write_cii(document(invoice, issue_date=issue_date))


def credit_note_cii(note: CreditNote, invoice: Invoice, *, issue_date: date | None = None) -> bytes:
    """A credit note against `invoice` as CII with type code 381."""
    return write_cii(credit_note_document(note, invoice, issue_date=issue_date))


def write_cii(doc: EInvoice) -> bytes:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NS)
    context = _x.sub(root, "rsm:ExchangedDocumentContext")
    _x.sub(_x.sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", doc.specification)
    head = _x.sub(root, "rsm:ExchangedDocument")
    _x.sub(head, "ram:ID", doc.number)
    _x.sub(head, "ram:TypeCode", doc.type_code)
    _date(_x.sub(head, "ram:IssueDateTime"), doc.issue_date)
    for note in doc.notes:
        _x.sub(_x.sub(head, "ram:IncludedNote"), "ram:Content", note)
    trade = _x.sub(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(trade, line)
    agreement = _x.sub(trade, "ram:ApplicableHeaderTradeAgreement")
    _x.sub(agreement, "ram:BuyerReference", doc.buyer_reference)
    _party(agreement, "ram:SellerTradeParty", doc.seller)
    _party(agreement, "ram:BuyerTradeParty", doc.buyer)
    delivery = _x.sub(trade, "ram:ApplicableHeaderTradeDelivery")
    if doc.deliver_to_country:
        _address(_x.sub(delivery, "ram:ShipToTradeParty"), Address(country=doc.deliver_to_country))
    settlement = _x.sub(trade, "ram:ApplicableHeaderTradeSettlement")
    if doc.payment:
        _x.sub(settlement, "ram:PaymentReference", doc.payment.remittance)
    _x.sub(settlement, "ram:InvoiceCurrencyCode", doc.currency)
    if doc.payment:
        _payment(settlement, doc.payment)
    for row in doc.vat:
        tax = _x.sub(settlement, "ram:ApplicableTradeTax")
        _x.sub(tax, "ram:CalculatedAmount", number(row.tax))
        _x.sub(tax, "ram:TypeCode", "VAT")
        _x.sub(tax, "ram:ExemptionReason", row.reason)
        _x.sub(tax, "ram:BasisAmount", number(row.taxable))
        _x.sub(tax, "ram:CategoryCode", row.category)
        _x.sub(tax, "ram:ExemptionReasonCode", row.reason_code)
        _x.sub(tax, "ram:RateApplicablePercent", number(row.rate))
    _period(settlement, doc.period_start, doc.period_end)
    for allowance in doc.allowances:
        _allowance(settlement, allowance, header=True)
    if doc.payment_terms or doc.due_date:
        terms = _x.sub(settlement, "ram:SpecifiedTradePaymentTerms")
        _x.sub(terms, "ram:Description", doc.payment_terms)
        if doc.due_date:
            _date(_x.sub(terms, "ram:DueDateDateTime"), doc.due_date)
    _totals(settlement, doc.totals or Totals(), doc.currency)
    if doc.preceding_invoice:
        _x.sub(
            _x.sub(settlement, "ram:InvoiceReferencedDocument"), "ram:IssuerAssignedID", doc.preceding_invoice
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _date(parent: Any, value: date | None) -> None:
    if value is not None:
        _x.sub(parent, "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _period(parent: Any, start: date | None, end: date | None) -> None:
    if start or end:
        period = _x.sub(parent, "ram:BillingSpecifiedPeriod")
        if start:
            _date(_x.sub(period, "ram:StartDateTime"), start)
        if end:
            _date(_x.sub(period, "ram:EndDateTime"), end)


def _line(trade: Any, line: Line) -> None:
    item = _x.sub(trade, "ram:IncludedSupplyChainTradeLineItem")
    _x.sub(_x.sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.id)
    _x.sub(_x.sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.name)
    price = _x.sub(_x.sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _x.sub(price, "ram:ChargeAmount", number(line.price))
    _x.sub(price, "ram:BasisQuantity", number(line.base_quantity), unitCode=line.unit)
    delivery = _x.sub(item, "ram:SpecifiedLineTradeDelivery")
    _x.sub(delivery, "ram:BilledQuantity", number(line.quantity), unitCode=line.unit)
    settlement = _x.sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _x.sub(settlement, "ram:ApplicableTradeTax")
    _x.sub(tax, "ram:TypeCode", "VAT")
    _x.sub(tax, "ram:CategoryCode", line.category)
    _x.sub(tax, "ram:RateApplicablePercent", number(line.rate))
    _period(settlement, line.period_start, line.period_end)
    for allowance in line.allowances:
        _allowance(settlement, allowance, header=False)
    summation = _x.sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _x.sub(summation, "ram:LineTotalAmount", number(line.net_amount))


def _allowance(parent: Any, allowance: Allowance, *, header: bool) -> None:
    element = _x.sub(parent, "ram:SpecifiedTradeAllowanceCharge")
    _x.sub(_x.sub(element, "ram:ChargeIndicator"), "udt:Indicator", "true" if allowance.charge else "false")
    _x.sub(element, "ram:ActualAmount", number(allowance.amount))
    _x.sub(element, "ram:ReasonCode", allowance.reason_code)
    _x.sub(element, "ram:Reason", allowance.reason)
    if header:
        tax = _x.sub(element, "ram:CategoryTradeTax")
        _x.sub(tax, "ram:TypeCode", "VAT")
        _x.sub(tax, "ram:CategoryCode", allowance.category)
        _x.sub(tax, "ram:RateApplicablePercent", number(allowance.rate))


def _party(parent: Any, tag: str, party: Party | None) -> None:
    party = party or Party()
    element = _x.sub(parent, tag)
    _x.sub(element, "ram:ID", party.identifier)
    _x.sub(element, "ram:Name", party.name)
    if party.legal_registration or party.trading_name:
        organization = _x.sub(element, "ram:SpecifiedLegalOrganization")
        _x.sub(organization, "ram:ID", party.legal_registration)
        _x.sub(organization, "ram:TradingBusinessName", party.trading_name)
    if party.address:
        _address(element, party.address)
    if party.endpoint:
        _x.sub(_x.sub(element, "ram:URIUniversalCommunication"), "ram:URIID", party.endpoint, schemeID=EMAIL)
    if party.vat_id:
        _x.sub(_x.sub(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id, schemeID="VA")
    if party.tax_registration:
        _x.sub(
            _x.sub(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.tax_registration, schemeID="FC"
        )


def _address(parent: Any, address: Address) -> None:
    element = _x.sub(parent, "ram:PostalTradeAddress")
    _x.sub(element, "ram:PostcodeCode", address.postal_code)
    _x.sub(element, "ram:LineOne", address.line1)
    _x.sub(element, "ram:LineTwo", address.line2)
    _x.sub(element, "ram:CityName", address.city)
    _x.sub(element, "ram:CountryID", address.country)
    _x.sub(element, "ram:CountrySubDivisionName", address.subdivision)


def _payment(parent: Any, payment: Payment) -> None:
    element = _x.sub(parent, "ram:SpecifiedTradeSettlementPaymentMeans")
    _x.sub(element, "ram:TypeCode", payment.code)
    if payment.iban:
        account = _x.sub(element, "ram:PayeePartyCreditorFinancialAccount")
        _x.sub(account, "ram:IBANID", payment.iban)
        _x.sub(account, "ram:AccountName", payment.account_name)
    if payment.bic:
        _x.sub(_x.sub(element, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", payment.bic)


def _totals(parent: Any, totals: Totals, cur: str | None) -> None:
    element = _x.sub(parent, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _x.sub(element, "ram:LineTotalAmount", number(totals.line_total))
    _x.sub(element, "ram:ChargeTotalAmount", number(totals.charge_total))
    _x.sub(element, "ram:AllowanceTotalAmount", number(totals.allowance_total))
    _x.sub(element, "ram:TaxBasisTotalAmount", number(totals.tax_exclusive))
    _x.sub(element, "ram:TaxTotalAmount", number(totals.tax_total), currencyID=cur)
    _x.sub(element, "ram:RoundingAmount", number(totals.rounding))
    _x.sub(element, "ram:GrandTotalAmount", number(totals.tax_inclusive))
    _x.sub(element, "ram:TotalPrepaidAmount", number(totals.prepaid))
    _x.sub(element, "ram:DuePayableAmount", number(totals.payable))


# ---- reading -------------------------------------------------------------------------------------------


def read_cii(xml: bytes) -> EInvoice:
    """The business terms a CII invoice states; what it lacks stays None for the rules to report."""
    root = parse(xml)
    if root.tag != f"{{{RSM}}}CrossIndustryInvoice":
        raise DomainError("not_cii", f"Not a CII invoice: the root is {root.tag}.", "xml")
    head, trade = _x.one(root, "rsm:ExchangedDocument"), _x.one(root, "rsm:SupplyChainTradeTransaction")
    agreement = _x.one(trade, "ram:ApplicableHeaderTradeAgreement")
    settlement = _x.one(trade, "ram:ApplicableHeaderTradeSettlement")
    means = _x.one(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    sums = _x.one(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    terms = _x.one(settlement, "ram:SpecifiedTradePaymentTerms")
    period = _x.one(settlement, "ram:BillingSpecifiedPeriod")
    return EInvoice(
        specification=_x.text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
        process=_x.text(root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        number=_x.text(head, "ram:ID"), type_code=_x.text(head, "ram:TypeCode"),
        issue_date=_day(head, "ram:IssueDateTime"), currency=_x.text(settlement, "ram:InvoiceCurrencyCode"),
        due_date=_day(terms, "ram:DueDateDateTime"), buyer_reference=_x.text(agreement, "ram:BuyerReference"),
        preceding_invoice=_x.text(settlement, "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
        notes=tuple(n.text or "" for n in _x.all(head, "ram:IncludedNote/ram:Content")),
        period_start=_day(period, "ram:StartDateTime"), period_end=_day(period, "ram:EndDateTime"),
        seller=_read_party(_x.one(agreement, "ram:SellerTradeParty")),
        buyer=_read_party(_x.one(agreement, "ram:BuyerTradeParty")),
        deliver_to_country=_x.text(trade, "ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CountryID"),
        payment=None if means is None else Payment(
            code=_x.text(means, "ram:TypeCode"), remittance=_x.text(settlement, "ram:PaymentReference"),
            iban=_x.text(means, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"),
            account_name=_x.text(means, "ram:PayeePartyCreditorFinancialAccount/ram:AccountName"),
            bic=_x.text(means, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
        ),
        payment_terms=_x.text(terms, "ram:Description"),
        lines=tuple(_read_line(e) for e in _x.all(trade, "ram:IncludedSupplyChainTradeLineItem")),
        allowances=tuple(_read_allowance(e) for e in _x.all(settlement, "ram:SpecifiedTradeAllowanceCharge")),
        vat=tuple(VatBreakdown(
            category=_x.text(e, "ram:CategoryCode"), rate=_x.decimal(e, "ram:RateApplicablePercent"),
            taxable=_x.decimal(e, "ram:BasisAmount"), tax=_x.decimal(e, "ram:CalculatedAmount"),
            reason=_x.text(e, "ram:ExemptionReason"), reason_code=_x.text(e, "ram:ExemptionReasonCode"),
        ) for e in _x.all(settlement, "ram:ApplicableTradeTax")),
        totals=None if sums is None else Totals(
            line_total=_x.decimal(sums, "ram:LineTotalAmount"), allowance_total=_x.decimal(sums, "ram:AllowanceTotalAmount"),
            charge_total=_x.decimal(sums, "ram:ChargeTotalAmount"), tax_exclusive=_x.decimal(sums, "ram:TaxBasisTotalAmount"),
            tax_total=_x.decimal(sums, "ram:TaxTotalAmount"), tax_inclusive=_x.decimal(sums, "ram:GrandTotalAmount"),
            prepaid=_x.decimal(sums, "ram:TotalPrepaidAmount"), rounding=_x.decimal(sums, "ram:RoundingAmount"),
            payable=_x.decimal(sums, "ram:DuePayableAmount"),
        ),
    )  # fmt: skip


def _day(node: Any, path: str) -> date | None:
    text = _x.text(node, f"{path}/udt:DateTimeString")
    if text is None:
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise DomainError("invalid_xml", f"{path} is not a YYYYMMDD date: {text[:40]!r}.", "xml") from None


def _read_party(node: Any) -> Party | None:
    if node is None:
        return None
    address = _x.one(node, "ram:PostalTradeAddress")
    registrations = {
        e.get("schemeID"): (e.text or "").strip() for e in _x.all(node, "ram:SpecifiedTaxRegistration/ram:ID")
    }
    return Party(
        name=_x.text(node, "ram:Name"), trading_name=_x.text(node, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
        identifier=_x.text(node, "ram:ID"), vat_id=registrations.get("VA") or None,
        legal_registration=_x.text(node, "ram:SpecifiedLegalOrganization/ram:ID"),
        tax_registration=registrations.get("FC") or None, endpoint=_x.text(node, "ram:URIUniversalCommunication/ram:URIID"),
        address=None if address is None else Address(
            line1=_x.text(address, "ram:LineOne"), line2=_x.text(address, "ram:LineTwo"),
            city=_x.text(address, "ram:CityName"), postal_code=_x.text(address, "ram:PostcodeCode"),
            subdivision=_x.text(address, "ram:CountrySubDivisionName"), country=_x.text(address, "ram:CountryID"),
        ),
    )  # fmt: skip


def _read_allowance(node: Any) -> Allowance:
    return Allowance(
        charge=_x.text(node, "ram:ChargeIndicator/udt:Indicator") == "true", amount=_x.decimal(node, "ram:ActualAmount"),
        reason=_x.text(node, "ram:Reason"), reason_code=_x.text(node, "ram:ReasonCode"),
        category=_x.text(node, "ram:CategoryTradeTax/ram:CategoryCode"),
        rate=_x.decimal(node, "ram:CategoryTradeTax/ram:RateApplicablePercent"),
    )  # fmt: skip


def _read_line(node: Any) -> Line:
    price = _x.one(node, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice")
    quantity = _x.one(node, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")
    settlement = _x.one(node, "ram:SpecifiedLineTradeSettlement")
    period = _x.one(settlement, "ram:BillingSpecifiedPeriod")
    return Line(
        id=_x.text(node, "ram:AssociatedDocumentLineDocument/ram:LineID"),
        name=_x.text(node, "ram:SpecifiedTradeProduct/ram:Name"),
        quantity=_x.decimal(node, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"),
        unit=None if quantity is None else quantity.get("unitCode"),
        net_amount=_x.decimal(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"),
        price=_x.decimal(price, "ram:ChargeAmount"), base_quantity=_x.decimal(price, "ram:BasisQuantity"),
        category=_x.text(settlement, "ram:ApplicableTradeTax/ram:CategoryCode"),
        rate=_x.decimal(settlement, "ram:ApplicableTradeTax/ram:RateApplicablePercent"),
        period_start=_day(period, "ram:StartDateTime"), period_end=_day(period, "ram:EndDateTime"),
        allowances=tuple(_read_allowance(e) for e in _x.all(settlement, "ram:SpecifiedTradeAllowanceCharge")),
    )  # fmt: skip
