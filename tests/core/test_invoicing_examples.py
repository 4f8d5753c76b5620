"""Issue 6: worked billing examples through the pure core, every amount computed by hand from the rules.

The order an invoice is computed in (DESIGN.md, kassa/core/invoicing.py): each line's amount, rounded →
coupons in redemption order, each on what remains (a fixed coupon spread with allocate(), never below
zero) → minimum-spend true-up (never discounted) → tax per line on the discounted amount → total → the
credit balance. `reconcile()` bills only the difference between what should have been billed and what
was; `credit_note()` credits a finalized invoice's lines and reverses their tax line by line.
All amounts are EUR with half-up rounding and per-line tax rounding unless a test says otherwise; the
seller is German and the tax point is 2026-03-01. docs/invoices.md ("Worked examples") lists them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.resources import files

import pytest

from kassa.core.credit_notes import CreditNote, CreditReason, CreditRequest, CreditTarget, credit_note
from kassa.core.discounts import Coupon, DiscountType, Duration, Redemption
from kassa.core.errors import DomainError
from kassa.core.invoicing import (
    Billed,
    Composition,
    Invoice,
    InvoiceStatus,
    Item,
    LineKind,
    Pricing,
    compose_invoice,
    draft,
    finalize,
    reconcile,
)
from kassa.core.money import Money, RoundingMode
from kassa.core.tax import TABLE_FILES, TaxCategory, TaxParty, TaxTable, load_table
from kassa.core.tax_ids import TaxId
from kassa.core.tenants import TaxRounding

TABLE: TaxTable = load_table(
    json.loads(files("kassa.core.tax").joinpath("data").joinpath(name).read_text(encoding="utf-8"))
    for name in TABLE_FILES
)
ON = date(2026, 3, 1)
AT = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
DE = TaxParty(country="DE")
STANDARD, REDUCED, DIGITAL = TaxCategory.STANDARD, TaxCategory.REDUCED, TaxCategory.DIGITAL_SERVICE
REVERSE_CHARGE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Council Directive 2006/112/EC)"
)


def item(key: str, amount: str, *, currency: str = "EUR", kind: LineKind = LineKind.RECURRING,
         product: str = "workspace", codes: Sequence[str] = (), category: TaxCategory = STANDARD,
         quantity: str = "1", unit_price: str | None = None, origin: str | None = None) -> Item:  # fmt: skip
    return Item(
        key=key, kind=kind, account_id="cus_1", subscription_id="sub_1", product=product, codes=frozenset(codes),
        description=key, quantity=Decimal(quantity), unit_price=Decimal(unit_price) if unit_price else None,
        amount=Money(Decimal(amount), currency), tax_category=category, origin=origin,
    )  # fmt: skip


def pricing(*, seller: TaxParty = DE, buyer: TaxParty = DE, currency: str = "EUR", on: date = ON,
            inclusive: bool = False, rounding: TaxRounding = TaxRounding.PER_LINE) -> Pricing:  # fmt: skip
    return Pricing(currency=currency, rounding=RoundingMode.HALF_UP, tax_rounding=rounding, tax_inclusive=inclusive,
                   seller=seller, buyer=buyer, table=TABLE, tax_point=on)  # fmt: skip


def coupon(code: str, *, percent: str | None = None, fixed: str | None = None, applies_to: Sequence[str] = (),
           duration: Duration = Duration.FOREVER) -> Coupon:  # fmt: skip
    return Coupon(
        tenant_id="ten_1", id=f"cpn_{code}", code=code, name=code,
        type=DiscountType.PERCENT if percent else DiscountType.FIXED,
        percent_off=Decimal(percent) if percent else None, amounts_off={"EUR": Decimal(fixed)} if fixed else {},
        duration=duration, applies_to=tuple(applies_to), created_at=AT - timedelta(days=30),
    )  # fmt: skip


def held(*coupons: Coupon) -> list[tuple[Redemption, Coupon]]:
    """The coupons redeemed by the customer one minute apart, in the order given."""
    return [(Redemption(tenant_id="ten_1", id=f"red_{i}", coupon_id=c.id, customer_id="cus_1",
                        created_at=AT - timedelta(days=10) + timedelta(minutes=i)), c)
            for i, c in enumerate(coupons)]  # fmt: skip


def lines_of(c: Composition) -> list[tuple[str, str, str, str]]:
    """(charged, discount, net, tax) of each line, as text."""
    return [(ln.item.amount.amount_text(), ln.discount.amount_text(), ln.net.amount_text(), ln.tax.amount_text())
            for ln in c.lines]  # fmt: skip


def totals(c: Composition) -> dict[str, str]:
    return {name: getattr(c, name).amount_text() for name in
            ("subtotal", "discount", "tax", "total", "credit_applied", "credit_granted", "amount_due")}  # fmt: skip


def rows(c: Composition) -> list[tuple[str, str | None, str | None, str, str]]:
    """The tax breakdown: (code, jurisdiction, percent, taxable, tax)."""
    return [(r.code, r.rate.jurisdiction if r.rate else None, str(r.rate.percent) if r.rate else None,
             r.taxable.amount_text(), r.amount.amount_text()) for r in c.breakdown]  # fmt: skip


def expect(c: Composition, *, subtotal: str, tax: str, total: str, discount: str = "0.00", applied: str = "0.00",
           granted: str = "0.00", due: str | None = None) -> None:  # fmt: skip
    assert totals(c) == {"subtotal": subtotal, "discount": discount, "tax": tax, "total": total,
                         "credit_applied": applied, "credit_granted": granted, "amount_due": due or total}  # fmt: skip


# ---- coupons -------------------------------------------------------------------------------------------


def test_percent_coupon_on_all_lines_rounds_each_line_once_before_tax() -> None:
    """Lines 49.99, 20.00, 12.35 with 10 % off everything: discounts 5.00 (4.999), 2.00 and 1.24 (1.235
    half-up) = 8.24; nets 44.99, 18.00, 11.11; 19 % VAT on the nets 8.55 (8.5481), 3.42, 2.11 (2.1109)
    = 14.08; subtotal 82.34, total 74.10 + 14.08 = 88.18."""
    c = compose_invoice([item("a", "49.99"), item("b", "20.00"), item("c", "12.35")], pricing(),
                        redemptions=held(coupon("TEN", percent="10")))  # fmt: skip
    assert lines_of(c) == [("49.99", "5.00", "44.99", "8.55"), ("20.00", "2.00", "18.00", "3.42"),
                           ("12.35", "1.24", "11.11", "2.11")]  # fmt: skip
    expect(c, subtotal="82.34", discount="8.24", tax="14.08", total="88.18")
    assert c.redemptions_used == ("red_0",)


def test_percent_coupon_restricted_to_a_product() -> None:
    """20 % off product `managed-it` on an invoice with Workspace 34.00, a Workspace add-on 8.00 and Managed
    IT 150.00: only the last is discounted, 30.00; VAT 6.46 + 1.52 + 22.80 = 30.78; total 162.00 + 30.78
    = 192.78."""
    items = [item("plan", "34.00", codes=["team-monthly"]),
             item("addon", "8.00", codes=["team-monthly", "storage-100gb-monthly"]),
             item("it", "150.00", product="managed-it", codes=["essentials-monthly"])]  # fmt: skip
    c = compose_invoice(
        items, pricing(), redemptions=held(coupon("IT20", percent="20", applies_to=["managed-it"]))
    )
    assert lines_of(c) == [("34.00", "0.00", "34.00", "6.46"), ("8.00", "0.00", "8.00", "1.52"),
                           ("150.00", "30.00", "120.00", "22.80")]  # fmt: skip
    expect(c, subtotal="192.00", discount="30.00", tax="30.78", total="192.78")


def test_percent_coupon_restricted_to_a_plan_reaches_its_add_ons_too() -> None:
    """25 % off plan `team-monthly`: the plan line 34.00 loses 8.50 and its add-on line 8.00 (which belongs to
    the plan) 2.00; Managed IT 150.00 is untouched. VAT 4.85 (4.845) + 1.14 + 28.50 = 34.49; total 181.50 +
    34.49 = 215.99."""
    items = [item("plan", "34.00", codes=["team-monthly"]),
             item("addon", "8.00", codes=["team-monthly", "storage-100gb-monthly"]),
             item("it", "150.00", product="managed-it", codes=["essentials-monthly"])]  # fmt: skip
    c = compose_invoice(
        items, pricing(), redemptions=held(coupon("TEAM25", percent="25", applies_to=["team-monthly"]))
    )
    assert lines_of(c) == [("34.00", "8.50", "25.50", "4.85"), ("8.00", "2.00", "6.00", "1.14"),
                           ("150.00", "0.00", "150.00", "28.50")]  # fmt: skip
    expect(c, subtotal="192.00", discount="10.50", tax="34.49", total="215.99")


def test_fixed_coupon_is_spread_by_largest_remainder() -> None:
    """10.00 off lines 12.00, 18.00, 25.00: shares 218.18, 327.27 and 454.55 cents; floors 999, the last cent
    to the largest remainder (the third line): 2.18, 3.27, 4.55. Nets 9.82, 14.73, 20.45; VAT 1.87 (1.8658),
    2.80 (2.7987), 3.89 (3.8855) = 8.56; total 45.00 + 8.56 = 53.56."""
    c = compose_invoice([item("a", "12.00"), item("b", "18.00"), item("c", "25.00")], pricing(),
                        redemptions=held(coupon("TENOFF", fixed="10.00")))  # fmt: skip
    assert lines_of(c) == [("12.00", "2.18", "9.82", "1.87"), ("18.00", "3.27", "14.73", "2.80"),
                           ("25.00", "4.55", "20.45", "3.89")]  # fmt: skip
    expect(c, subtotal="55.00", discount="10.00", tax="8.56", total="53.56")


def test_fixed_coupon_larger_than_the_invoice_stops_at_zero() -> None:
    """50.00 off an invoice of 12.00 + 8.00: it takes 20.00 (12.00 and 8.00), no line below zero, no tax,
    total and amount due 0.00; the 30.00 left is not carried anywhere."""
    c = compose_invoice([item("a", "12.00"), item("b", "8.00")], pricing(),
                        redemptions=held(coupon("BIG", fixed="50.00")))  # fmt: skip
    assert lines_of(c) == [("12.00", "12.00", "0.00", "0.00"), ("8.00", "8.00", "0.00", "0.00")]
    expect(c, subtotal="20.00", discount="20.00", tax="0.00", total="0.00")


def test_two_coupons_percent_then_fixed() -> None:
    """Lines 60.00 and 40.00; 20 % redeemed first takes 12.00 and 8.00, then 10.00 off is spread over the
    48.00 and 32.00 left: 6.00 and 4.00. Discount 30.00, nets 42.00 and 28.00, VAT 7.98 + 5.32 = 13.30,
    total 83.30."""
    c = compose_invoice([item("a", "60.00"), item("b", "40.00")], pricing(),
                        redemptions=held(coupon("P20", percent="20"), coupon("F10", fixed="10.00")))  # fmt: skip
    assert lines_of(c) == [("60.00", "18.00", "42.00", "7.98"), ("40.00", "12.00", "28.00", "5.32")]
    expect(c, subtotal="100.00", discount="30.00", tax="13.30", total="83.30")


def test_two_coupons_fixed_then_percent() -> None:
    """The same coupons redeemed the other way round: 10.00 off first (6.00 and 4.00), then 20 % of the 54.00
    and 36.00 left (10.80 and 7.20). Discount 28.00, nets 43.20 and 28.80, VAT 8.21 (8.208) + 5.47 (5.472) =
    13.68, total 85.68: 2.38 more than percent first."""
    c = compose_invoice([item("a", "60.00"), item("b", "40.00")], pricing(),
                        redemptions=held(coupon("F10", fixed="10.00"), coupon("P20", percent="20")))  # fmt: skip
    assert lines_of(c) == [("60.00", "16.80", "43.20", "8.21"), ("40.00", "11.20", "28.80", "5.47")]
    expect(c, subtotal="100.00", discount="28.00", tax="13.68", total="85.68")


def test_minimum_spend_true_up_is_not_discounted() -> None:
    """Usage 30.00 against a 100.00 minimum spend adds a 70.00 true-up; 50 % off everything takes 15.00 off
    the usage only. Nets 15.00 and 70.00, VAT 2.85 + 13.30 = 16.15, total 85.00 + 16.15 = 101.15."""
    items = [item("usage", "30.00", kind=LineKind.USAGE, codes=["metered", "api_calls"]),
             item("minimum", "70.00", kind=LineKind.MINIMUM, codes=["metered"])]  # fmt: skip
    c = compose_invoice(items, pricing(), redemptions=held(coupon("HALF", percent="50")))
    assert lines_of(c) == [("30.00", "15.00", "15.00", "2.85"), ("70.00", "0.00", "70.00", "13.30")]
    expect(c, subtotal="100.00", discount="15.00", tax="16.15", total="101.15")


# ---- the credit balance ----------------------------------------------------------------------------------


def test_credit_balance_pays_part_of_an_invoice() -> None:
    """100.00 + 19.00 VAT = 119.00 with 50.00 on the credit balance: credit applied 50.00 (after tax),
    amount due 69.00."""
    c = compose_invoice([item("a", "100.00")], pricing(), credit_balance=Money(Decimal("50.00"), "EUR"))
    expect(c, subtotal="100.00", tax="19.00", total="119.00", applied="50.00", due="69.00")


def test_credit_balance_larger_than_the_invoice_pays_it_all() -> None:
    """119.00 with 200.00 on the balance: 119.00 applied, 0.00 due; the other 81.00 stays on the balance."""
    c = compose_invoice([item("a", "100.00")], pricing(), credit_balance=Money(Decimal("200.00"), "EUR"))
    expect(c, subtotal="100.00", tax="19.00", total="119.00", applied="119.00", due="0.00")


def test_negative_invoice_grants_credit_and_uses_none() -> None:
    """A proration credit of −50.00 and a one-off charge of 20.00: VAT −9.50 + 3.80 = −5.70, total −35.70.
    Nothing is taken from the 10.00 balance; 35.70 is granted to it and 0.00 is due."""
    items = [item("credit", "-50.00", kind=LineKind.PRORATION, origin="x"),
             item("oneoff", "20.00", kind=LineKind.ONE_OFF)]  # fmt: skip
    c = compose_invoice(items, pricing(), credit_balance=Money(Decimal("10.00"), "EUR"))
    assert lines_of(c) == [("-50.00", "0.00", "-50.00", "-9.50"), ("20.00", "0.00", "20.00", "3.80")]
    expect(c, subtotal="-30.00", tax="-5.70", total="-35.70", granted="35.70", due="0.00")


# ---- taxes through compose_invoice ----------------------------------------------------------------------


def test_tax_germany_domestic_19() -> None:
    """DE seller, DE buyer: 84.00 × 19 % = 15.96 (code S, due in DE); total 99.96."""
    c = compose_invoice([item("a", "84.00")], pricing())
    assert [(ln.tax_code, ln.tax_note) for ln in c.lines] == [("S", None)]
    assert rows(c) == [("S", "DE", "19", "84.00", "15.96")]
    expect(c, subtotal="84.00", tax="15.96", total="99.96")


def test_tax_eu_b2c_digital_service_is_taxed_where_the_consumer_is() -> None:
    """DE seller, French consumer without a VAT number: the digital service 84.00 at French VAT 20 % =
    16.80 (OSS); a standard workshop line 100.00 at the seller's 19 % = 19.00. Total 184.00 + 35.80 =
    219.80."""
    c = compose_invoice([item("saas", "84.00", category=DIGITAL), item("workshop", "100.00")],
                        pricing(buyer=TaxParty(country="FR")))  # fmt: skip
    assert rows(c) == [("S", "FR", "20", "84.00", "16.80"), ("S", "DE", "19", "100.00", "19.00")]
    expect(c, subtotal="184.00", tax="35.80", total="219.80")


def test_tax_eu_reverse_charge_to_a_business_in_another_member_state() -> None:
    """DE seller, French business with a French VAT number: no VAT (AE), 84.00 due, and the invoice carries
    the reverse-charge mention."""
    buyer = TaxParty(country="FR", tax_ids=(TaxId(type="eu_vat", value="FR40303265045", country="FR"),))
    c = compose_invoice([item("saas", "84.00", category=DIGITAL)], pricing(buyer=buyer))
    assert [(ln.tax_code, ln.taxes) for ln in c.lines] == [("AE", ())]
    assert c.notes == (REVERSE_CHARGE,)
    assert rows(c) == [("AE", None, None, "84.00", "0.00")]
    expect(c, subtotal="84.00", tax="0.00", total="84.00")


def test_tax_eu_seller_to_a_buyer_outside_the_eu_is_not_subject() -> None:
    """DE seller, US buyer: code O, no VAT, total 84.00, with the note saying why."""
    c = compose_invoice([item("a", "84.00")], pricing(buyer=TaxParty(country="US", region="NY")))
    assert [ln.tax_code for ln in c.lines] == ["O"]
    assert c.notes == ("Not subject to EU VAT: the customer is established outside the EU.",)
    expect(c, subtotal="84.00", tax="0.00", total="84.00")


@pytest.mark.parametrize(
    ("country", "currency", "amount", "percent", "tax", "total"),
    [
        ("GB", "GBP", "43.00", "20", "8.60", "51.60"),  # 43.00 × 20 %
        ("CH", "CHF", "99.00", "8.1", "8.02", "107.02"),  # 8.019 → 8.02
        ("NO", "NOK", "399.00", "25", "99.75", "498.75"),  # 399.00 × 25 %
        ("AU", "AUD", "54.85", "10", "5.49", "60.34"),  # 5.485 half-up → 5.49 (half-even would give 5.48)
    ],
)
def test_tax_domestic_regimes(
    country: str, currency: str, amount: str, percent: str, tax: str, total: str
) -> None:
    """GB VAT 20 %, Swiss VAT 8.1 % (2024 on), Norwegian VAT 25 %, Australian GST 10 %: a domestic sale."""
    home = TaxParty(country=country)
    c = compose_invoice(
        [item("a", amount, currency=currency)], pricing(seller=home, buyer=home, currency=currency)
    )
    assert rows(c) == [("S", country, percent, amount, tax)]
    expect(c, subtotal=amount, tax=tax, total=total)


def test_tax_domestic_regime_buyer_abroad_is_not_subject() -> None:
    """A GB seller's buyer in Germany: O, no VAT, note naming GB VAT; 43.00 due."""
    c = compose_invoice([item("a", "43.00", currency="GBP")],
                        pricing(seller=TaxParty(country="GB"), buyer=DE, currency="GBP"))  # fmt: skip
    assert [ln.tax_code for ln in c.lines] == ["O"]
    assert c.notes == ("Not subject to GB VAT: the customer is established outside GB.",)
    expect(c, subtotal="43.00", tax="0.00", total="43.00")


CA = TaxParty(country="CA", region="ON")


def test_tax_quebec_gst_and_qst_on_one_line() -> None:
    """CA seller, Quebec buyer, 59.99 CAD: GST 5 % = 2.9995 → 3.00 and QST 9.975 % = 5.9840025 → 5.98, each
    on the full net (not compounded), two breakdown rows; tax 8.98, total 68.97."""
    c = compose_invoice([item("a", "59.99", currency="CAD")],
                        pricing(seller=CA, buyer=TaxParty(country="CA", region="QC"), currency="CAD"))  # fmt: skip
    assert [[(t.rate.name, t.amount.amount_text()) for t in ln.taxes] for ln in c.lines] == [
        [("GST", "3.00"), ("QST", "5.98")]
    ]
    assert rows(c) == [("S", "CA", "5", "59.99", "3.00"), ("S", "CA-QC", "9.975", "59.99", "5.98")]
    expect(c, subtotal="59.99", tax="8.98", total="68.97")


def test_tax_british_columbia_gst_and_pst() -> None:
    """BC buyer, 59.99 CAD: GST 3.00 (2.9995) + PST 7 % 4.20 (4.1993) = 7.20; total 67.19."""
    c = compose_invoice([item("a", "59.99", currency="CAD")],
                        pricing(seller=CA, buyer=TaxParty(country="CA", region="BC"), currency="CAD"))  # fmt: skip
    assert rows(c) == [("S", "CA", "5", "59.99", "3.00"), ("S", "CA-BC", "7", "59.99", "4.20")]
    expect(c, subtotal="59.99", tax="7.20", total="67.19")


def test_tax_ontario_hst_replaces_the_gst() -> None:
    """Ontario buyer, 59.99 CAD: HST 13 % = 7.7987 → 7.80 and no GST; total 67.79."""
    c = compose_invoice([item("a", "59.99", currency="CAD")],
                        pricing(seller=CA, buyer=TaxParty(country="CA", region="ON"), currency="CAD"))  # fmt: skip
    assert [[t.rate.name for t in ln.taxes] for ln in c.lines] == [["HST"]]
    assert rows(c) == [("S", "CA-ON", "13", "59.99", "7.80")]
    expect(c, subtotal="59.99", tax="7.80", total="67.79")


def test_tax_us_state_sales_tax() -> None:
    """US seller (Washington), Texas buyer, 250.00 USD: Texas sales tax 6.25 % = 15.625 → 15.63; total
    265.63."""
    c = compose_invoice([item("a", "250.00", currency="USD")],
                        pricing(seller=TaxParty(country="US", region="WA"), buyer=TaxParty(country="US", region="TX"),
                                currency="USD"))  # fmt: skip
    assert rows(c) == [("S", "US-TX", "6.25", "250.00", "15.63")]
    expect(c, subtotal="250.00", tax="15.63", total="265.63")


def test_tax_inclusive_prices() -> None:
    """Prices include 19 % VAT: 49.99 holds 49.99 × 19/119 = 7.9816 → 7.98, net 42.01; 119.00 holds 19.00,
    net 100.00. Subtotal (gross) 168.99, tax 26.98, total 168.99: the customer pays the sticker price."""
    c = compose_invoice([item("a", "49.99"), item("b", "119.00")], pricing(inclusive=True))
    assert lines_of(c) == [("49.99", "0.00", "42.01", "7.98"), ("119.00", "0.00", "100.00", "19.00")]
    assert rows(c) == [("S", "DE", "19", "142.01", "26.98")]
    expect(c, subtotal="168.99", tax="26.98", total="168.99")


def test_tax_per_invoice_rounding_differs_from_per_line_by_a_cent() -> None:
    """Four lines of 1.15 at 19 %: exact tax 0.2185 each. Per line: 0.22 × 4 = 0.88, total 5.48. Per
    invoice: 0.874 → 0.87 once, shared back as floors 0.21 and the 3 missing cents to the earliest of the
    equal remainders: 0.22, 0.22, 0.22, 0.21; total 5.47."""
    items = [item(f"l{i}", "1.15") for i in range(4)]
    per_line = compose_invoice(items, pricing())
    per_invoice = compose_invoice(items, pricing(rounding=TaxRounding.PER_INVOICE))
    assert [ln.tax.amount_text() for ln in per_line.lines] == ["0.22", "0.22", "0.22", "0.22"]
    assert [ln.tax.amount_text() for ln in per_invoice.lines] == ["0.22", "0.22", "0.22", "0.21"]
    expect(per_line, subtotal="4.60", tax="0.88", total="5.48")
    expect(per_invoice, subtotal="4.60", tax="0.87", total="5.47")


def test_tax_exempt_customer() -> None:
    """A German customer with an exemption certificate: code E, no VAT, note "Tax exempt customer"; 84.00."""
    c = compose_invoice([item("a", "84.00")], pricing(buyer=TaxParty(country="DE", exempt=True)))
    assert [(ln.tax_code, ln.taxes) for ln in c.lines] == [("E", ())]
    assert c.notes == ("Tax exempt customer",)
    expect(c, subtotal="84.00", tax="0.00", total="84.00")


def test_tax_germany_2020_temporary_rates_follow_the_tax_point() -> None:
    """Tax point 2020-09-15 (the 2020 cut): standard 84.00 × 16 % = 13.44, reduced 20.00 × 5 % = 1.00, total
    104.00 + 14.44 = 118.44. The same lines on 2021-01-01: 15.96 + 1.40 = 17.36, total 121.36."""
    items = [item("a", "84.00"), item("book", "20.00", category=REDUCED)]
    cut = compose_invoice(items, pricing(on=date(2020, 9, 15)))
    assert rows(cut) == [("S", "DE", "16", "84.00", "13.44"), ("S", "DE", "5", "20.00", "1.00")]
    expect(cut, subtotal="104.00", tax="14.44", total="118.44")
    after = compose_invoice(items, pricing(on=date(2021, 1, 1)))
    expect(after, subtotal="104.00", tax="17.36", total="121.36")


# ---- credit notes --------------------------------------------------------------------------------------


def invoice() -> Invoice:
    """Finalized, open: 1 Team plan 100.00 (19.00), 2 seats 5 × 14.00 = 70.00 (13.30), 3 handbooks at the
    reduced rate 2 × 12.50 = 25.00 (7 %: 1.75). Subtotal 195.00, tax 34.05, total and due 229.05."""
    items = [item("plan", "100.00", unit_price="100.00"),
             item("seats", "70.00", quantity="5", unit_price="14.00"),
             item("book", "25.00", quantity="2", unit_price="12.50", category=REDUCED)]  # fmt: skip
    c = compose_invoice(items, pricing())
    assert (c.tax.amount_text(), c.total.amount_text()) == ("34.05", "229.05")
    composed = draft(tenant_id="ten_1", invoice_id="inv_1", customer_id="cus_1", currency="EUR", bill_date=ON,
                     composition=c, tax_inclusive=False, created_at=AT, finalize_at=None)  # fmt: skip
    return finalize(
        composed, number="INV-2026-00001", at=AT, finalized_on=ON, payment_terms_days=14, parties={}
    )


def credit(inv: Invoice, *requests: CreditRequest, earlier: Sequence[CreditNote] = (),
           target: CreditTarget | None = None) -> CreditNote:  # fmt: skip
    return credit_note(inv, requests, earlier=earlier, credit_note_id=f"cn_{len(earlier) + 1}",
                       number=f"CN-2026-{len(earlier) + 1:05d}", reason=CreditReason.ORDER_CHANGE, target=target,
                       memo=None, at=AT + timedelta(days=2), rounding=RoundingMode.HALF_UP)  # fmt: skip


def note_lines(note: CreditNote) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """(position, net, [(rate id, tax)]) of each credit note line."""
    return [(ln.position, ln.net.amount_text(), [(t.rate.id, t.amount.amount_text()) for t in ln.taxes])
            for ln in note.lines]  # fmt: skip


def money(note: CreditNote) -> tuple[str, str, str, str, str]:
    return (note.net.amount_text(), note.tax.amount_text(), note.total.amount_text(),
            note.to_invoice.amount_text(), note.to_credit_balance.amount_text())  # fmt: skip


def test_credit_note_whole_paid_invoice_goes_to_the_credit_balance() -> None:
    """The invoice was paid; crediting all three lines gives back 195.00 + 34.05 = 229.05, and since nothing
    is due any more it all goes to the customer's credit balance."""
    paid = replace(invoice(), status=InvoiceStatus.PAID, amount_paid=Money(Decimal("229.05"), "EUR"))
    note = credit(paid, CreditRequest(position=1), CreditRequest(position=2), CreditRequest(position=3))
    assert [(p, net, [t for _, t in taxes]) for p, net, taxes in note_lines(note)] == [
        (1, "100.00", ["19.00"]), (2, "70.00", ["13.30"]), (3, "25.00", ["1.75"])
    ]  # fmt: skip
    assert money(note) == ("195.00", "34.05", "229.05", "0.00", "229.05")


def test_credit_note_part_of_one_line_by_amount() -> None:
    """25.00 of the 100.00 plan line: VAT 19.00 × 25/100 = 4.75, total 29.75, set against what is due on
    the open invoice (229.05 → 199.30 left)."""
    inv = invoice()
    note = credit(inv, CreditRequest(position=1, amount=Money(Decimal("25.00"), "EUR")))
    assert money(note) == ("25.00", "4.75", "29.75", "29.75", "0.00")
    assert (inv.amount_remaining - note.to_invoice).amount_text() == "199.30"


def test_credit_note_by_quantity() -> None:
    """2 of the 5 seats: net 70.00 × 2/5 = 28.00, VAT 13.30 × 2/5 = 5.32, total 33.32."""
    note = credit(invoice(), CreditRequest(position=2, quantity=Decimal(2)))
    assert [(ln.position, ln.quantity) for ln in note.lines] == [(2, Decimal(2))]
    assert money(note) == ("28.00", "5.32", "33.32", "33.32", "0.00")


def test_credit_note_reverses_each_lines_own_tax() -> None:
    """10.00 of the plan line gives back 1.90 at 19 %; half the handbooks (12.50) 1.75 × ½ = 0.875 → 0.88 at
    7 %: total 22.50 + 2.78 = 25.28. The other half later gives back 1.75 − 0.88 = 0.87 (cumulative), so the
    handbook line's 1.75 comes back exactly."""
    inv = invoice()
    first = credit(inv, CreditRequest(position=1, amount=Money(Decimal("10.00"), "EUR")),
                   CreditRequest(position=3, amount=Money(Decimal("12.50"), "EUR")))  # fmt: skip
    assert note_lines(first) == [(1, "10.00", [("DE:VAT:standard:2021-01-01", "1.90")]),
                                 (3, "12.50", [("DE:VAT:reduced:2021-01-01", "0.88")])]  # fmt: skip
    assert money(first) == ("22.50", "2.78", "25.28", "25.28", "0.00")
    second = credit(inv, CreditRequest(position=3), earlier=[first])
    assert note_lines(second) == [(3, "12.50", [("DE:VAT:reduced:2021-01-01", "0.87")])]


def test_credit_note_refused_beyond_what_is_left_of_a_line() -> None:
    """After 25.00 of the plan line was credited, 75.01 more is refused (credit_exceeds_line, field
    lines.0.amount); exactly 75.00 is accepted with VAT 19.00 − 4.75 = 14.25."""
    inv = invoice()
    first = credit(inv, CreditRequest(position=1, amount=Money(Decimal("25.00"), "EUR")))
    with pytest.raises(DomainError) as refused:
        credit(inv, CreditRequest(position=1, amount=Money(Decimal("75.01"), "EUR")), earlier=[first])
    assert (refused.value.code, refused.value.field) == ("credit_exceeds_line", "lines.0.net")
    rest = credit(inv, CreditRequest(position=1, amount=Money(Decimal("75.00"), "EUR")), earlier=[first])
    assert money(rest) == ("75.00", "14.25", "89.25", "89.25", "0.00")


def test_credit_note_whole_open_invoice_is_set_against_what_is_due() -> None:
    """An open invoice credited in full: all 229.05 reduces what is due (nothing to the balance), which
    leaves 0.00 to pay; asking for it to go against the invoice explicitly gives the same."""
    inv = invoice()
    whole = [CreditRequest(position=p) for p in (1, 2, 3)]
    note = credit(inv, *whole)
    assert money(note) == ("195.00", "34.05", "229.05", "229.05", "0.00")
    assert (inv.amount_remaining - note.to_invoice).amount_text() == "0.00"
    assert money(credit(inv, *whole, target=CreditTarget.INVOICE)) == money(note)


# ---- recompute and diff --------------------------------------------------------------------------------

SEATS = "sub_1|recurring|plan.per_unit|2026-01-01|2026-01-01|2026-02-01"


def billed(key: str, amount: str, position: int, *, finalized: bool = True) -> Billed:
    return Billed(key=key, amount=Money(Decimal(amount), "EUR"), invoice_id="inv_1", position=position,
                  finalized=finalized, item=item(key, amount))  # fmt: skip


def test_reconcile_rerun_finds_nothing() -> None:
    """What should be billed (flat 50.00, seats 44.00, setup 250.00) is what was billed: no lines, no
    credits."""
    should = [item("flat", "50.00"), item(SEATS, "44.00"), item("setup", "250.00")]
    done = [billed("flat", "50.00", 1), billed(SEATS, "44.00", 2), billed("setup", "250.00", 3)]
    assert reconcile(should, done) == ([], [])


def test_reconcile_decrease_of_a_finalized_line_is_a_reduction_of_that_invoice() -> None:
    """Seats billed 3 × 22.00 = 66.00 on finalized inv_1 line 2 should have been 2 × 22.00 = 44.00: no new
    line; a reduction of −22.00 against inv_1 line 2 (a credit note)."""
    items, reductions = reconcile([item(SEATS, "44.00")], [billed(SEATS, "66.00", 2)])
    assert items == []
    assert [(r.invoice_id, r.position, r.item.key, r.item.amount.amount_text()) for r in reductions] == [
        ("inv_1", 2, SEATS, "-22.00")
    ]


def test_reconcile_increase_is_a_line_for_the_next_invoice() -> None:
    """Seats billed 44.00 should have been 88.00: a +44.00 line under the same key, nothing reduced."""
    items, reductions = reconcile([item(SEATS, "88.00")], [billed(SEATS, "44.00", 2)])
    assert [(i.key, i.amount.amount_text()) for i in items] == [(SEATS, "44.00")]
    assert reductions == []


def test_reconcile_late_usage_adds_the_difference() -> None:
    """January usage billed 10.00 is now 12.50 (a late event); February's 5.00 is new: lines +2.50 for
    January and 5.00 for February."""
    jan, feb = "sub_1|usage|api_calls||2026-01-01|2026-02-01", "sub_1|usage|api_calls||2026-02-01|2026-03-01"
    items, reductions = reconcile([item(jan, "12.50", kind=LineKind.USAGE), item(feb, "5.00", kind=LineKind.USAGE)],
                                  [billed(jan, "10.00", 4)])  # fmt: skip
    assert [(i.key, i.amount.amount_text()) for i in items] == [(jan, "2.50"), (feb, "5.00")]
    assert reductions == []


def test_reconcile_proration_credit_of_a_finalized_line_reduces_its_invoice() -> None:
    """An upgrade on 16 Jan: the seats line 44.00 (finalized, inv_1 line 2) is credited −22.71 for its 16
    unused days (origin = that line's key), and the new seats are charged 45.42. The charge is a line for the
    next invoice; the credit is a reduction of inv_1 line 2."""
    credit_key = "sub_1|proration|plan.per_unit|2026-01-01|2026-01-16|2026-02-01"
    new_key = "sub_1|recurring|plan.per_unit|2026-01-01|2026-01-16|2026-02-01"
    should = [item(SEATS, "44.00"), item(credit_key, "-22.71", kind=LineKind.PRORATION, origin=SEATS),
              item(new_key, "45.42")]  # fmt: skip
    items, reductions = reconcile(should, [billed(SEATS, "44.00", 2)])
    assert [(i.key, i.amount.amount_text()) for i in items] == [(new_key, "45.42")]
    assert [(r.invoice_id, r.position, r.item.key, r.item.amount.amount_text()) for r in reductions] == [
        ("inv_1", 2, credit_key, "-22.71")
    ]


def test_reconcile_credit_of_a_draft_line_nets_on_the_invoice_being_composed() -> None:
    """The same credit while the seats line is still on a draft: nothing is finalized to correct, so the
    −22.71 is a line of the invoice being composed."""
    credit_key = "sub_1|proration|plan.per_unit|2026-01-01|2026-01-16|2026-02-01"
    should = [item(SEATS, "44.00"), item(credit_key, "-22.71", kind=LineKind.PRORATION, origin=SEATS)]
    items, reductions = reconcile(should, [billed(SEATS, "44.00", 2, finalized=False)])
    assert [(i.key, i.amount.amount_text()) for i in items] == [(credit_key, "-22.71")]
    assert reductions == []
