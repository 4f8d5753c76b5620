"""EN 16931 as UN/CEFACT Cross Industry Invoice (D16B), Factur-X/ZUGFeRD's EN 16931 profile: write and read.

Elements are written in the order the Factur-X XSD requires; `facturx.check_cii` validates the result.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lxml import etree  # type: ignore[import-untyped]

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
    document,
)
from kassa.core.errors import DomainError

if TYPE_CHECKING:
    from kassa.core.invoicing import Invoice

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NS = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}


def invoice_cii(invoice: Invoice, *, issue_date: date | None = None) -> bytes:
    """The finalized invoice as Factur-X EN 16931 CII XML (UTF-8)."""
    return write_cii(document(invoice, issue_date=issue_date))


def write_cii(doc: EInvoice) -> bytes:
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NS)
    context = _sub(root, "rsm:ExchangedDocumentContext")
    _sub(_sub(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", doc.specification)
    head = _sub(root, "rsm:ExchangedDocument")
    _sub(head, "ram:ID", doc.number)
    _sub(head, "ram:TypeCode", doc.type_code)
    _date(_sub(head, "ram:IssueDateTime"), doc.issue_date)
    for note in doc.notes:
        _sub(_sub(head, "ram:IncludedNote"), "ram:Content", note)
    trade = _sub(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(trade, line, doc.currency)
    agreement = _sub(trade, "ram:ApplicableHeaderTradeAgreement")
    _sub(agreement, "ram:BuyerReference", doc.buyer_reference)
    _party(agreement, "ram:SellerTradeParty", doc.seller)
    _party(agreement, "ram:BuyerTradeParty", doc.buyer)
    delivery = _sub(trade, "ram:ApplicableHeaderTradeDelivery")
    if doc.deliver_to_country:
        _address(_sub(delivery, "ram:ShipToTradeParty"), Address(country=doc.deliver_to_country))
    settlement = _sub(trade, "ram:ApplicableHeaderTradeSettlement")
    if doc.payment:
        _sub(settlement, "ram:PaymentReference", doc.payment.remittance)
    _sub(settlement, "ram:InvoiceCurrencyCode", doc.currency)
    if doc.payment:
        _payment(settlement, doc.payment)
    for row in doc.vat:
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", _num(row.tax))
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:ExemptionReason", row.reason)
        _sub(tax, "ram:BasisAmount", _num(row.taxable))
        _sub(tax, "ram:CategoryCode", row.category)
        _sub(tax, "ram:ExemptionReasonCode", row.reason_code)
        _sub(tax, "ram:RateApplicablePercent", _num(row.rate))
    _period(settlement, doc.period_start, doc.period_end)
    for allowance in doc.allowances:
        _allowance(settlement, allowance, header=True)
    if doc.payment_terms or doc.due_date:
        terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
        _sub(terms, "ram:Description", doc.payment_terms)
        if doc.due_date:
            _date(_sub(terms, "ram:DueDateDateTime"), doc.due_date)
    _totals(settlement, doc.totals or Totals(), doc.currency)
    if doc.preceding_invoice:
        _sub(_sub(settlement, "ram:InvoiceReferencedDocument"), "ram:IssuerAssignedID", doc.preceding_invoice)
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


def _date(parent: Any, value: date | None) -> None:
    if value is not None:
        _sub(parent, "udt:DateTimeString", value.strftime("%Y%m%d"), format="102")


def _period(parent: Any, start: date | None, end: date | None) -> None:
    if start or end:
        period = _sub(parent, "ram:BillingSpecifiedPeriod")
        if start:
            _date(_sub(period, "ram:StartDateTime"), start)
        if end:
            _date(_sub(period, "ram:EndDateTime"), end)


def _line(trade: Any, line: Line, cur: str | None) -> None:
    item = _sub(trade, "ram:IncludedSupplyChainTradeLineItem")
    _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.id)
    _sub(_sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.name)
    price = _sub(_sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _sub(price, "ram:ChargeAmount", _num(line.price))
    _sub(price, "ram:BasisQuantity", _num(line.base_quantity), unitCode=line.unit)
    _sub(
        _sub(item, "ram:SpecifiedLineTradeDelivery"),
        "ram:BilledQuantity",
        _num(line.quantity),
        unitCode=line.unit,
    )
    settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
    tax = _sub(settlement, "ram:ApplicableTradeTax")
    _sub(tax, "ram:TypeCode", "VAT")
    _sub(tax, "ram:CategoryCode", line.category)
    _sub(tax, "ram:RateApplicablePercent", _num(line.rate))
    _period(settlement, line.period_start, line.period_end)
    for allowance in line.allowances:
        _allowance(settlement, allowance, header=False)
    _sub(_sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount",
         _num(line.net_amount))  # fmt: skip


def _allowance(parent: Any, allowance: Allowance, *, header: bool) -> None:
    element = _sub(parent, "ram:SpecifiedTradeAllowanceCharge")
    _sub(_sub(element, "ram:ChargeIndicator"), "udt:Indicator", "true" if allowance.charge else "false")
    _sub(element, "ram:ActualAmount", _num(allowance.amount))
    _sub(element, "ram:ReasonCode", allowance.reason_code)
    _sub(element, "ram:Reason", allowance.reason)
    if header:
        tax = _sub(element, "ram:CategoryTradeTax")
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:CategoryCode", allowance.category)
        _sub(tax, "ram:RateApplicablePercent", _num(allowance.rate))


def _party(parent: Any, tag: str, party: Party | None) -> None:
    party = party or Party()
    element = _sub(parent, tag)
    _sub(element, "ram:ID", party.identifier)
    _sub(element, "ram:Name", party.name)
    if party.trading_name:
        _sub(_sub(element, "ram:SpecifiedLegalOrganization"), "ram:TradingBusinessName", party.trading_name)
    if party.address:
        _address(element, party.address)
    if party.endpoint:
        _sub(_sub(element, "ram:URIUniversalCommunication"), "ram:URIID", party.endpoint, schemeID=EMAIL)
    if party.vat_id:
        _sub(_sub(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id, schemeID="VA")
    if party.tax_registration:
        _sub(_sub(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.tax_registration, schemeID="FC")


def _address(parent: Any, address: Address) -> None:
    element = _sub(parent, "ram:PostalTradeAddress")
    _sub(element, "ram:PostcodeCode", address.postal_code)
    _sub(element, "ram:LineOne", address.line1)
    _sub(element, "ram:LineTwo", address.line2)
    _sub(element, "ram:CityName", address.city)
    _sub(element, "ram:CountryID", address.country)
    _sub(element, "ram:CountrySubDivisionName", address.subdivision)


def _payment(parent: Any, payment: Payment) -> None:
    element = _sub(parent, "ram:SpecifiedTradeSettlementPaymentMeans")
    _sub(element, "ram:TypeCode", payment.code)
    if payment.iban:
        account = _sub(element, "ram:PayeePartyCreditorFinancialAccount")
        _sub(account, "ram:IBANID", payment.iban)
        _sub(account, "ram:AccountName", payment.account_name)
    if payment.bic:
        _sub(_sub(element, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", payment.bic)


def _totals(parent: Any, totals: Totals, cur: str | None) -> None:
    element = _sub(parent, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(element, "ram:LineTotalAmount", _num(totals.line_total))
    _sub(element, "ram:ChargeTotalAmount", _num(totals.charge_total))
    _sub(element, "ram:AllowanceTotalAmount", _num(totals.allowance_total))
    _sub(element, "ram:TaxBasisTotalAmount", _num(totals.tax_exclusive))
    _sub(element, "ram:TaxTotalAmount", _num(totals.tax_total), currencyID=cur)
    _sub(element, "ram:RoundingAmount", _num(totals.rounding))
    _sub(element, "ram:GrandTotalAmount", _num(totals.tax_inclusive))
    _sub(element, "ram:TotalPrepaidAmount", _num(totals.prepaid))
    _sub(element, "ram:DuePayableAmount", _num(totals.payable))


# ---- reading -------------------------------------------------------------------------------------------

# No DTDs, no entities, no network: the XML may come from anyone.
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse(xml: bytes) -> Any:
    try:
        return etree.fromstring(xml, PARSER)
    except etree.XMLSyntaxError as error:
        raise DomainError("invalid_xml", f"Not well-formed XML: {error}", "xml") from None


def read_cii(xml: bytes) -> EInvoice:
    """The business terms a CII invoice states; what it lacks stays None for the rules to report."""
    root = parse(xml)
    if root.tag != f"{{{RSM}}}CrossIndustryInvoice":
        raise DomainError("not_cii", f"Not a CII invoice: the root is {root.tag}.", "xml")
    head, trade = _one(root, "rsm:ExchangedDocument"), _one(root, "rsm:SupplyChainTradeTransaction")
    agreement = _one(trade, "ram:ApplicableHeaderTradeAgreement")
    settlement = _one(trade, "ram:ApplicableHeaderTradeSettlement")
    means = _one(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    sums = _one(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    terms = _one(settlement, "ram:SpecifiedTradePaymentTerms")
    period = _one(settlement, "ram:BillingSpecifiedPeriod")
    return EInvoice(
        specification=_text(root, "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
        process=_text(root, "rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        number=_text(head, "ram:ID"), type_code=_text(head, "ram:TypeCode"),
        issue_date=_day(head, "ram:IssueDateTime"), currency=_text(settlement, "ram:InvoiceCurrencyCode"),
        due_date=_day(terms, "ram:DueDateDateTime"), buyer_reference=_text(agreement, "ram:BuyerReference"),
        preceding_invoice=_text(settlement, "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"),
        notes=tuple(n.text or "" for n in _all(head, "ram:IncludedNote/ram:Content")),
        period_start=_day(period, "ram:StartDateTime"), period_end=_day(period, "ram:EndDateTime"),
        seller=_read_party(_one(agreement, "ram:SellerTradeParty")),
        buyer=_read_party(_one(agreement, "ram:BuyerTradeParty")),
        deliver_to_country=_text(trade, "ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CountryID"),
        payment=None if means is None else Payment(
            code=_text(means, "ram:TypeCode"), remittance=_text(settlement, "ram:PaymentReference"),
            iban=_text(means, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"),
            account_name=_text(means, "ram:PayeePartyCreditorFinancialAccount/ram:AccountName"),
            bic=_text(means, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
        ),
        payment_terms=_text(terms, "ram:Description"),
        lines=tuple(_read_line(e) for e in _all(trade, "ram:IncludedSupplyChainTradeLineItem")),
        allowances=tuple(_read_allowance(e) for e in _all(settlement, "ram:SpecifiedTradeAllowanceCharge")),
        vat=tuple(VatBreakdown(
            category=_text(e, "ram:CategoryCode"), rate=_dec(e, "ram:RateApplicablePercent"),
            taxable=_dec(e, "ram:BasisAmount"), tax=_dec(e, "ram:CalculatedAmount"),
            reason=_text(e, "ram:ExemptionReason"), reason_code=_text(e, "ram:ExemptionReasonCode"),
        ) for e in _all(settlement, "ram:ApplicableTradeTax")),
        totals=None if sums is None else Totals(
            line_total=_dec(sums, "ram:LineTotalAmount"), allowance_total=_dec(sums, "ram:AllowanceTotalAmount"),
            charge_total=_dec(sums, "ram:ChargeTotalAmount"), tax_exclusive=_dec(sums, "ram:TaxBasisTotalAmount"),
            tax_total=_dec(sums, "ram:TaxTotalAmount"), tax_inclusive=_dec(sums, "ram:GrandTotalAmount"),
            prepaid=_dec(sums, "ram:TotalPrepaidAmount"), rounding=_dec(sums, "ram:RoundingAmount"),
            payable=_dec(sums, "ram:DuePayableAmount"),
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


def _day(node: Any, path: str) -> date | None:
    text = _text(node, f"{path}/udt:DateTimeString")
    try:
        return None if text is None else date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise DomainError("invalid_xml", f"{path} is not a YYYYMMDD date: {text[:40]!r}.", "xml") from None


def _read_party(node: Any) -> Party | None:
    if node is None:
        return None
    address = _one(node, "ram:PostalTradeAddress")
    registrations = {
        e.get("schemeID"): (e.text or "").strip() for e in _all(node, "ram:SpecifiedTaxRegistration/ram:ID")
    }
    return Party(
        name=_text(node, "ram:Name"), trading_name=_text(node, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
        identifier=_text(node, "ram:ID"), vat_id=registrations.get("VA") or None,
        tax_registration=registrations.get("FC") or None, endpoint=_text(node, "ram:URIUniversalCommunication/ram:URIID"),
        address=None if address is None else Address(
            line1=_text(address, "ram:LineOne"), line2=_text(address, "ram:LineTwo"),
            city=_text(address, "ram:CityName"), postal_code=_text(address, "ram:PostcodeCode"),
            subdivision=_text(address, "ram:CountrySubDivisionName"), country=_text(address, "ram:CountryID"),
        ),
    )  # fmt: skip


def _read_allowance(node: Any) -> Allowance:
    return Allowance(
        charge=_text(node, "ram:ChargeIndicator/udt:Indicator") == "true", amount=_dec(node, "ram:ActualAmount"),
        reason=_text(node, "ram:Reason"), reason_code=_text(node, "ram:ReasonCode"),
        category=_text(node, "ram:CategoryTradeTax/ram:CategoryCode"),
        rate=_dec(node, "ram:CategoryTradeTax/ram:RateApplicablePercent"),
    )  # fmt: skip


def _read_line(node: Any) -> Line:
    price = _one(node, "ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice")
    quantity = _one(node, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")
    settlement = _one(node, "ram:SpecifiedLineTradeSettlement")
    period = _one(settlement, "ram:BillingSpecifiedPeriod")
    return Line(
        id=_text(node, "ram:AssociatedDocumentLineDocument/ram:LineID"),
        name=_text(node, "ram:SpecifiedTradeProduct/ram:Name"),
        quantity=_dec(node, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"),
        unit=None if quantity is None else quantity.get("unitCode"),
        net_amount=_dec(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"),
        price=_dec(price, "ram:ChargeAmount"), base_quantity=_dec(price, "ram:BasisQuantity"),
        category=_text(settlement, "ram:ApplicableTradeTax/ram:CategoryCode"),
        rate=_dec(settlement, "ram:ApplicableTradeTax/ram:RateApplicablePercent"),
        period_start=_day(period, "ram:StartDateTime"), period_end=_day(period, "ram:EndDateTime"),
        allowances=tuple(_read_allowance(e) for e in _all(settlement, "ram:SpecifiedTradeAllowanceCharge")),
    )  # fmt: skip
