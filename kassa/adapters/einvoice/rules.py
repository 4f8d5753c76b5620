"""EN 16931 business rules, checked in Python on what an invoice's XML states (CII or UBL, read back).

The rule ids and meanings are EN 16931-1's (BR-xx presence rules, BR-CO-xx calculations, one family per
VAT category: BR-S-, BR-Z-, BR-E-, BR-AE-, BR-IC- for K, BR-G-, BR-O-). This is not the CEN schematron:
code-list, decimal-count and syntax-binding rules are left to the XSD and to a schematron run. Sums are
checked exactly, except where the CEN schematron itself allows one currency unit of slack: a category's
tax against its taxable amount times the rate (BR-CO-17, BR-S-09), since tax rounded per line may drift
from tax rounded per category.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from kassa.adapters.einvoice import EInvoice, Party, Totals, parse
from kassa.adapters.einvoice.cii import RSM, read_cii
from kassa.adapters.einvoice.ubl import CREDIT_NOTE_NS, INVOICE_NS, read_ubl
from kassa.core.errors import DomainError

ZERO = Decimal(0)
CENT = Decimal("0.01")
CREDIT_TRANSFERS = frozenset({"30", "58", "31"})  # BR-61: credit transfer, SEPA, non-SEPA international


@dataclass(frozen=True, slots=True)
class _Category:
    family: str  # the rule id's middle part
    rate: Callable[[Decimal | None], bool]  # what BT-152/BT-96/BT-103 must be (rules -05, -06, -07)
    reason: bool  # whether the breakdown must (True) or must not (False) give an exemption reason (-10)
    seller_ids: Callable[[Party], bool]  # the seller identification rules -02..-04 ask for
    buyer_vat: bool  # rules -02..-04 also ask for the buyer's VAT id
    one_row: bool  # rule -01: exactly one breakdown row of the category (S: at least one)


def _zero(rate: Decimal | None) -> bool:
    return rate is not None and rate == 0


def _vat_or_registration(party: Party) -> bool:
    return bool(party.vat_id or party.tax_registration)


def _vat(party: Party) -> bool:
    return bool(party.vat_id)


CATEGORIES: dict[str, _Category] = {
    "S": _Category("S", lambda r: r is not None and r > 0, False, _vat_or_registration, False, False),
    "Z": _Category("Z", _zero, False, _vat_or_registration, False, True),
    "E": _Category("E", _zero, True, _vat_or_registration, False, True),
    "AE": _Category("AE", _zero, True, _vat_or_registration, True, True),
    "K": _Category("IC", _zero, True, _vat, True, True),
    "G": _Category("G", _zero, True, _vat, False, True),
    "O": _Category("O", lambda r: r is None, True, lambda p: True, False, True),
}


def read(xml: bytes) -> EInvoice:
    """The business terms of a CII or UBL invoice, whichever it is."""
    root = parse(xml)
    namespace = root.tag.partition("}")[0].lstrip("{")
    if namespace == RSM:
        return read_cii(xml)
    if namespace in (INVOICE_NS, CREDIT_NOTE_NS):
        return read_ubl(xml)
    raise DomainError("unknown_einvoice_syntax", f"Neither CII nor UBL: the root is {root.tag}.", "xml")


def check_en16931(facts: bytes | EInvoice) -> list[str]:
    """The ids of the business rules the invoice breaks, in rule order of first failure; [] when none.
    `facts` is the XML (CII or UBL) or what `read` made of it."""
    doc = facts if isinstance(facts, EInvoice) else read(facts)
    failed: dict[str, None] = {}

    def rule(rule_id: str, holds: bool) -> None:
        if not holds:
            failed.setdefault(rule_id)

    _presence(doc, rule)
    _calculations(doc, rule)
    _vat_categories(doc, rule)
    return list(failed)


def _presence(doc: EInvoice, rule: Callable[[str, bool], None]) -> None:
    seller, buyer, totals = doc.seller or Party(), doc.buyer or Party(), doc.totals or Totals()
    rule("BR-01", bool(doc.specification))
    rule("BR-02", bool(doc.number))
    rule("BR-03", doc.issue_date is not None)
    rule("BR-04", bool(doc.type_code))
    rule("BR-05", bool(doc.currency))
    rule("BR-06", bool(seller.name))
    rule("BR-07", bool(buyer.name))
    rule("BR-08", seller.address is not None)
    rule("BR-09", seller.address is not None and bool(seller.address.country))
    rule("BR-10", buyer.address is not None)
    rule("BR-11", buyer.address is not None and bool(buyer.address.country))
    rule("BR-12", totals.line_total is not None)
    rule("BR-13", totals.tax_exclusive is not None)
    rule("BR-14", totals.tax_inclusive is not None)
    rule("BR-15", totals.payable is not None)
    rule("BR-16", bool(doc.lines))
    for line in doc.lines:
        rule("BR-21", bool(line.id))
        rule("BR-22", line.quantity is not None)
        rule("BR-23", bool(line.unit))
        rule("BR-24", line.net_amount is not None)
        rule("BR-25", bool(line.name))
        rule("BR-26", line.price is not None)
        rule("BR-27", line.price is None or line.price >= 0)
        rule("BR-30", not (line.period_start and line.period_end) or line.period_end >= line.period_start)
        rule("BR-CO-04", bool(line.category))
        for a in line.allowances:
            rule("BR-43" if a.charge else "BR-41", a.amount is not None)
            rule("BR-44" if a.charge else "BR-42", bool(a.reason or a.reason_code))
    for a in doc.allowances:
        rule("BR-36" if a.charge else "BR-31", a.amount is not None)
        rule("BR-37" if a.charge else "BR-32", bool(a.category))
        rule("BR-38" if a.charge else "BR-33", bool(a.reason or a.reason_code))
    for row in doc.vat:
        rule("BR-45", row.taxable is not None)
        rule("BR-46", row.tax is not None)
        rule("BR-47", bool(row.category))
        rule("BR-48", row.rate is not None or row.category == "O")
    rule("BR-CO-09", all(v[:2].isalpha() and v[:2].isupper() for v in (seller.vat_id, buyer.vat_id) if v))
    rule("BR-CO-18", bool(doc.vat))
    rule("BR-CO-26", bool(seller.identifier or seller.legal_registration or seller.vat_id))
    if doc.payment and doc.payment.code in CREDIT_TRANSFERS:
        rule("BR-61", bool(doc.payment.iban))
    if totals.payable is not None and totals.payable > 0:
        rule("BR-CO-25", doc.due_date is not None or bool(doc.payment_terms))


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((v for v in values if v is not None), ZERO)


def _calculations(doc: EInvoice, rule: Callable[[str, bool], None]) -> None:
    t = doc.totals or Totals()
    allowances = _sum(a.amount for a in doc.allowances if not a.charge)
    charges = _sum(a.amount for a in doc.allowances if a.charge)
    if t.line_total is not None:
        rule("BR-CO-10", t.line_total == _sum(line.net_amount for line in doc.lines))
    if t.allowance_total is not None or allowances:
        rule("BR-CO-11", (t.allowance_total or ZERO) == allowances)
    if t.charge_total is not None or charges:
        rule("BR-CO-12", (t.charge_total or ZERO) == charges)
    if t.tax_exclusive is not None and t.line_total is not None:
        expected = t.line_total - (t.allowance_total or ZERO) + (t.charge_total or ZERO)
        rule("BR-CO-13", t.tax_exclusive == expected)
    rule("BR-CO-14", (t.tax_total or ZERO) == _sum(row.tax for row in doc.vat))
    if t.tax_inclusive is not None and t.tax_exclusive is not None:
        rule("BR-CO-15", t.tax_inclusive == t.tax_exclusive + (t.tax_total or ZERO))
    if t.payable is not None and t.tax_inclusive is not None:
        rule("BR-CO-16", t.payable == t.tax_inclusive - (t.prepaid or ZERO) + (t.rounding or ZERO))
    for row in doc.vat:
        if row.rate is not None and row.tax is not None and row.taxable is not None:
            rule("BR-CO-17", _rate_holds(row.taxable, row.rate, row.tax))


def _rate_holds(taxable: Decimal, rate: Decimal, tax: Decimal) -> bool:
    """The CEN schematron's test: within one unit of the taxable amount times the rate, rounded to cents."""
    if rate.to_integral_value(ROUND_HALF_UP) == 0:  # the schematron rounds the rate before comparing it
        return tax.to_integral_value(ROUND_HALF_UP) == 0
    expected = (abs(taxable) * rate / 100).quantize(CENT, ROUND_HALF_UP)
    return abs(abs(tax) - expected) < 1


def _vat_categories(doc: EInvoice, rule: Callable[[str, bool], None]) -> None:
    seller, buyer = doc.seller or Party(), doc.buyer or Party()
    header = doc.allowances
    for code, cat in CATEGORIES.items():
        family = f"BR-{cat.family}-"
        lines = [line for line in doc.lines if line.category == code]
        allowances = [a for a in header if a.category == code and not a.charge]
        charges = [a for a in header if a.category == code and a.charge]
        rows = [row for row in doc.vat if row.category == code]
        if lines or allowances or charges:
            rule(family + "01", len(rows) == 1 if cat.one_row else len(rows) >= 1)
        if code == "O":
            ids = not (seller.vat_id or buyer.vat_id)
        else:
            buyer_ids = buyer.vat_id or (code == "AE" and buyer.legal_registration)  # BT-47 only for AE
            ids = cat.seller_ids(seller) and (not cat.buyer_vat or bool(buyer_ids))
        for suffix, present in (("02", lines), ("03", allowances), ("04", charges)):
            if present:
                rule(family + suffix, ids)
        for line in lines:
            rule(family + "05", cat.rate(line.rate))
        for suffix, group in (("06", allowances), ("07", charges)):
            for a in group:
                rule(family + suffix, cat.rate(a.rate))
        for row in rows:
            same = _same_rate(code, row.rate)
            base = _sum(line.net_amount for line in lines if same(line.rate))
            base += _sum(a.amount for a in charges if same(a.rate)) - _sum(
                a.amount for a in allowances if same(a.rate)
            )
            rule(family + "08", row.taxable == base)
            if code == "S":
                holds = row.tax is not None and row.taxable is not None and row.rate is not None
                rule("BR-S-09", holds and _rate_holds(row.taxable or ZERO, row.rate or ZERO, row.tax or ZERO))
            else:
                rule(family + "09", row.tax == 0)
            rule(family + "10", bool(row.reason or row.reason_code) == cat.reason)
        if code == "K" and rows:
            rule("BR-IC-11", bool(doc.period_start or doc.period_end))
            rule("BR-IC-12", bool(doc.deliver_to_country))
        if code == "O" and rows:
            rule("BR-O-11", all(row.category == "O" for row in doc.vat))
            rule("BR-O-12", all(line.category == "O" for line in doc.lines))
            rule("BR-O-13", all(a.category == "O" for a in header if not a.charge))
            rule("BR-O-14", all(a.category == "O" for a in header if a.charge))


def _same_rate(code: str, rate: Decimal | None) -> Callable[[Decimal | None], bool]:
    """Standard-rated amounts are summed per rate (BR-S-08); every other category over all its rates."""
    if code != "S":
        return lambda _: True
    return lambda other: other is not None and rate is not None and other == rate
