"""Worked examples of tax: which taxes a line carries, and what they come to, hand-computed first.

The rules (kassa/core/tax, docs/taxes.md): the seller's country picks the regime (EU VAT; a domestic
VAT/GST in GB, CH, NO, AU; Canada's GST/HST/PST/QST; US state sales tax); ZERO and EXEMPT products are
Z and E wherever the buyer is; an exempt customer gets E; then the regime places the sale. Each (line,
rate) tax is exact first (net × percent / 100; inclusive: gross × percent / (100 + Σ percents)), then
rounded half-up: per line, or per rate over the invoice and shared back by largest remainder.
Every rate comes from the shipped tables, read as package data the way the service reads them.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from importlib.resources import files
from typing import Any

import pytest

from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode
from kassa.core.tax import (
    TABLE_FILES,
    TaxableLine,
    TaxCategory,
    TaxParty,
    TaxTable,
    TaxTreatment,
    compute_taxes,
    load_table,
    reverse_taxes,
    treatment,
)
from kassa.core.tax.eu import REVERSE_CHARGE_NOTE
from kassa.core.tax_ids import TaxId
from kassa.core.tenants import TaxRounding

TODAY = date(2026, 11, 24)
STANDARD = TaxCategory.STANDARD
REDUCED = TaxCategory.REDUCED
DIGITAL = TaxCategory.DIGITAL_SERVICE
PER_LINE = TaxRounding.PER_LINE
PER_INVOICE = TaxRounding.PER_INVOICE


def _documents() -> list[dict[str, Any]]:
    data = files("kassa.core.tax").joinpath("data")
    return [json.loads(data.joinpath(name).read_text(encoding="utf-8")) for name in TABLE_FILES]


TABLE: TaxTable = load_table(_documents())


def party(
    country: str, region: str | None = None, *, vat: str | None = None, exempt: bool = False
) -> TaxParty:
    tax_ids = (TaxId(type="eu_vat", value=vat, country=country),) if vat else ()
    return TaxParty(country=country, region=region, tax_ids=tax_ids, exempt=exempt)


def treat(
    seller: TaxParty, buyer: TaxParty, category: TaxCategory = STANDARD, on: date = TODAY
) -> TaxTreatment:
    return treatment(seller, buyer, category, on, TABLE)


def taxes(
    amounts: list[str],
    how: TaxTreatment,
    currency: str = "EUR",
    *,
    inclusive: bool = False,
    rounding: TaxRounding = PER_LINE,
) -> list[tuple[str, list[str]]]:
    """(net, [tax per rate]) of each line, as text."""
    lines = [
        TaxableLine(key=f"l{i}", amount=Money(Decimal(a), currency), treatment=how)
        for i, a in enumerate(amounts)
    ]
    computed, _ = compute_taxes(
        lines, currency=currency, inclusive=inclusive, rounding=rounding, mode=RoundingMode.HALF_UP
    )
    return [(line.net.amount_text(), [t.amount.amount_text() for t in line.taxes]) for line in computed]


DE, FR = party("DE"), party("FR")


# ---- the EU ----------------------------------------------------------------------------------------------


def test_eu_domestic_sale_is_taxed_at_the_seller_country_rate_also_b2b() -> None:
    """A German seller, a German business with a VAT number: 19 % German VAT, code S. 100.00 → 19.00."""
    how = treat(DE, party("DE", vat="DE136695976"))
    assert (how.code, how.jurisdiction, how.note) == ("S", "DE", None)
    assert [r.id for r in how.rates] == ["DE:VAT:standard:2021-01-01"]
    assert taxes(["100.00"], how) == [("100.00", ["19.00"])]


def test_germany_2020_temporary_rates() -> None:
    """Germany cut 19 %/7 % to 16 %/5 % from 2020-07-01 to 2020-12-31: the tax point picks the rate.
    100.00 → 19.00 on 2020-06-30, 16.00 on 2020-07-01 and 2020-12-31, 19.00 again on 2021-01-01;
    reduced 100.00 → 5.00 in the cut, 7.00 after."""
    on = {
        day: treat(DE, DE, STANDARD, date.fromisoformat(day))
        for day in ("2020-06-30", "2020-07-01", "2020-12-31", "2021-01-01")
    }
    assert {day: taxes(["100.00"], how)[0][1] for day, how in on.items()} == {
        "2020-06-30": ["19.00"],
        "2020-07-01": ["16.00"],
        "2020-12-31": ["16.00"],
        "2021-01-01": ["19.00"],
    }
    assert on["2020-07-01"].rates[0].id == "DE:VAT:standard:2020-07-01"
    assert taxes(["100.00"], treat(DE, DE, REDUCED, date(2020, 9, 15))) == [("100.00", ["5.00"])]
    assert taxes(["100.00"], treat(DE, DE, REDUCED, date(2021, 1, 1))) == [("100.00", ["7.00"])]


@pytest.mark.parametrize(
    ("country", "before", "on", "old", "new"),
    [
        ("EE", "2025-06-30", "2025-07-01", "22", "24"),
        ("EE", "2023-12-31", "2024-01-01", "20", "22"),
        ("FI", "2024-08-31", "2024-09-01", "24", "25.5"),
        ("SK", "2024-12-31", "2025-01-01", "20", "23"),
        ("RO", "2025-07-31", "2025-08-01", "19", "21"),
    ],
)
def test_eu_standard_rate_changes_take_effect_on_their_day(
    country: str, before: str, on: str, old: str, new: str
) -> None:
    """Shipped history: Estonia 22 % → 24 % on 2025-07-01 (20 → 22 on 2024-01-01), Finland 25.5 % from
    2024-09-01, Slovakia 23 % from 2025-01-01, Romania 21 % from 2025-08-01."""
    seller = party(country)
    assert treat(seller, seller, STANDARD, date.fromisoformat(before)).rates[0].percent == Decimal(old)
    assert treat(seller, seller, STANDARD, date.fromisoformat(on)).rates[0].percent == Decimal(new)


def test_eu_b2c_digital_service_is_taxed_where_the_consumer_is_other_products_at_home() -> None:
    """German seller, French consumer (no VAT number): a digital service pays French VAT under the OSS,
    20 % of 50.00 = 10.00; a standard product pays German VAT, 19 % of 50.00 = 9.50."""
    digital = treat(DE, FR, DIGITAL)
    assert (digital.code, digital.jurisdiction, [r.id for r in digital.rates]) == (
        "S",
        "FR",
        ["FR:VAT:standard:2020-01-01"],
    )
    assert taxes(["50.00"], digital) == [("50.00", ["10.00"])]
    standard = treat(DE, FR, STANDARD)
    assert (standard.jurisdiction, taxes(["50.00"], standard)) == ("DE", [("50.00", ["9.50"])])


def test_eu_b2b_with_a_vat_number_of_the_buyers_state_is_reverse_charged() -> None:
    """German seller, French business with a French VAT number: reverse charge, code AE, no VAT, the
    Directive's mention; the breakdown has one AE row with the net and 0.00."""
    how = treat(DE, party("FR", vat="FR40303265045"))
    assert how == TaxTreatment(rates=(), code="AE", jurisdiction="FR", note=REVERSE_CHARGE_NOTE)
    assert "Art. 196 Council Directive 2006/112/EC" in REVERSE_CHARGE_NOTE
    line = TaxableLine(key="a", amount=Money(Decimal("1000.00"), "EUR"), treatment=how)
    computed, breakdown = compute_taxes(
        [line], currency="EUR", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    assert computed[0].taxes == () and computed[0].net == Money(Decimal("1000.00"), "EUR")
    assert [(b.code, b.rate, b.taxable.amount_text(), b.amount.amount_text(), b.note) for b in breakdown] == [
        ("AE", None, "1000.00", "0.00", REVERSE_CHARGE_NOTE)
    ]


def test_greek_vat_numbers_use_el_but_the_country_is_gr() -> None:
    """A Greek business (country GR, VAT number EL094259216) buying from Germany is reverse charged, also
    when the tax id carries the prefix EL as its country; a VAT number of another state is not enough."""
    assert treat(DE, party("GR", vat="EL094259216")).code == "AE"
    el_tagged = TaxParty(country="GR", tax_ids=(TaxId(type="eu_vat", value="EL094259216", country="EL"),))
    assert treat(DE, el_tagged).code == "AE"
    french_buyer_with_german_number = TaxParty(
        country="FR", tax_ids=(TaxId(type="eu_vat", value="DE136695976", country="DE"),)
    )
    assert treat(DE, french_buyer_with_german_number).code == "S"


def test_eu_seller_with_a_buyer_outside_the_eu_is_not_subject() -> None:
    """German seller, buyers in the US, the UK, Switzerland: code O, no tax, a note; a Monaco buyer is
    inside the French VAT area, so a digital service to a consumer there pays French VAT (20 %)."""
    for country in ("US", "GB", "CH"):
        how = treat(DE, party(country), DIGITAL)
        assert (how.code, how.rates, how.jurisdiction) == ("O", (), None)
        assert how.note == "Not subject to EU VAT: the customer is established outside the EU."
    assert taxes(["10.00"], treat(DE, party("MC"), DIGITAL)) == [("10.00", ["2.00"])]


def test_a_country_without_a_reduced_rate_taxes_reduced_products_at_its_standard_rate() -> None:
    """Denmark has no reduced VAT rate: a REDUCED product pays 25 %; France's main reduced rate is 5.5 %."""
    dk = party("DK")
    assert taxes(["100.00"], treat(dk, dk, REDUCED)) == [("100.00", ["25.00"])]
    assert taxes(["100.00"], treat(FR, FR, REDUCED)) == [("100.00", ["5.50"])]


# ---- the UK, Switzerland, Norway, Australia ---------------------------------------------------------------


def test_uk_domestic_and_foreign_buyers() -> None:
    """A UK seller: a UK buyer pays 20 % (250.00 → 50.00), reduced 5 %; a German buyer is not subject (O)."""
    gb = party("GB")
    assert taxes(["250.00"], treat(gb, gb), "GBP") == [("250.00", ["50.00"])]
    assert taxes(["250.00"], treat(gb, gb, REDUCED), "GBP") == [("250.00", ["12.50"])]
    abroad = treat(gb, DE)
    assert (abroad.code, abroad.note) == (
        "O",
        "Not subject to GB VAT: the customer is established outside GB.",
    )


def test_switzerland_before_and_after_2024() -> None:
    """Swiss VAT was 7.7 % (reduced 2.5 %) until 2023-12-31 and is 8.1 % (2.6 %) from 2024-01-01:
    100.00 CHF → 7.70 / 8.10, reduced → 2.50 / 2.60. A Liechtenstein buyer is inside the Swiss VAT area."""
    ch = party("CH")
    assert taxes(["100.00"], treat(ch, ch, STANDARD, date(2023, 12, 31)), "CHF") == [("100.00", ["7.70"])]
    assert taxes(["100.00"], treat(ch, ch, STANDARD, date(2024, 1, 1)), "CHF") == [("100.00", ["8.10"])]
    assert taxes(["100.00"], treat(ch, ch, REDUCED, date(2023, 12, 31)), "CHF") == [("100.00", ["2.50"])]
    assert taxes(["100.00"], treat(ch, ch, REDUCED, date(2024, 1, 1)), "CHF") == [("100.00", ["2.60"])]
    assert taxes(["100.00"], treat(ch, party("LI")), "CHF") == [("100.00", ["8.10"])]
    assert treat(ch, party("AT")).code == "O"


def test_norway_and_australia() -> None:
    """Norway: 25 % (80.00 NOK → 20.00), reduced 15 % (→ 12.00). Australia: GST 10 %, 99.99 → 9.999 →
    10.00; Australia has no reduced rate, so REDUCED pays 10 % too; a New Zealand buyer is not subject."""
    no, au = party("NO"), party("AU")
    assert taxes(["80.00"], treat(no, no), "NOK") == [("80.00", ["20.00"])]
    assert taxes(["80.00"], treat(no, no, REDUCED), "NOK") == [("80.00", ["12.00"])]
    assert taxes(["99.99"], treat(au, au), "AUD") == [("99.99", ["10.00"])]
    assert treat(au, au, REDUCED).rates[0].id == "AU:GST:standard:2000-07-01"
    assert treat(au, party("NZ")).code == "O"


# ---- Canada ------------------------------------------------------------------------------------------------

CA = party("CA")


def test_quebec_gst_and_qst_are_two_taxes_on_the_same_net() -> None:
    """Quebec: GST 5 % and QST 9.975 %, each on the net, not compounded: 100.00 → 5.00 + 9.975 → 9.98.
    The breakdown has one row per tax, each on the full net. "CA-QC" is accepted as the region too."""
    how = treat(CA, party("CA", "QC"))
    assert [(r.name, r.percent) for r in how.rates] == [("GST", Decimal("5")), ("QST", Decimal("9.975"))]
    assert how.jurisdiction == "CA-QC"
    assert taxes(["100.00"], how, "CAD") == [("100.00", ["5.00", "9.98"])]
    assert treat(CA, party("CA", "CA-QC")) == how
    line = TaxableLine(key="a", amount=Money(Decimal("100.00"), "CAD"), treatment=how)
    _, breakdown = compute_taxes(
        [line], currency="CAD", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    assert [
        (b.rate.name if b.rate else None, b.taxable.amount_text(), b.amount.amount_text()) for b in breakdown
    ] == [
        ("GST", "100.00", "5.00"),
        ("QST", "100.00", "9.98"),
    ]


def test_british_columbia_gst_and_pst_ontario_hst_alberta_gst_only() -> None:
    """BC: GST 5 % + PST 7 % (100.00 → 5.00 + 7.00); Ontario: HST 13 % instead of GST (→ 13.00); Alberta:
    GST only (→ 5.00), due in CA-AB; a buyer outside Canada is not subject."""
    assert taxes(["100.00"], treat(CA, party("CA", "BC")), "CAD") == [("100.00", ["5.00", "7.00"])]
    ontario = treat(CA, party("CA", "ON"))
    assert [r.id for r in ontario.rates] == ["CA-ON:HST:standard:2010-07-01"]
    assert taxes(["100.00"], ontario, "CAD") == [("100.00", ["13.00"])]
    alberta = treat(CA, party("CA", "AB"))
    assert (alberta.jurisdiction, taxes(["100.00"], alberta, "CAD")) == ("CA-AB", [("100.00", ["5.00"])])
    assert treat(CA, party("US", "NY")).code == "O"


def test_nova_scotia_hst_went_from_15_to_14_percent_on_2025_04_01() -> None:
    """Nova Scotia's HST: 15 % up to 2025-03-31, 14 % from 2025-04-01: 100.00 → 15.00, then 14.00."""
    ns = party("CA", "NS")
    assert taxes(["100.00"], treat(CA, ns, STANDARD, date(2025, 3, 31)), "CAD") == [("100.00", ["15.00"])]
    assert taxes(["100.00"], treat(CA, ns, STANDARD, date(2025, 4, 1)), "CAD") == [("100.00", ["14.00"])]


def test_a_canadian_buyer_needs_a_province() -> None:
    """Without a province the tax cannot be known: customer_region_required; an unknown one is refused."""
    with pytest.raises(DomainError) as missing:
        treat(CA, party("CA"))
    assert (missing.value.code, missing.value.field) == ("customer_region_required", "buyer.region")
    with pytest.raises(DomainError) as unknown:
        treat(CA, party("CA", "XX"))
    assert unknown.value.code == "invalid_region"


# ---- the United States -------------------------------------------------------------------------------------


def test_us_sales_tax_of_a_listed_state_and_an_unlisted_one() -> None:
    """A US seller: New York 4 % (250.00 → 10.00), California 7.25 % (19.99 → 1.449275 → 1.45);
    Oregon is not in the example table: no tax, code O, a note."""
    us = party("US", "NY")
    assert taxes(["250.00"], treat(us, party("US", "NY")), "USD") == [("250.00", ["10.00"])]
    assert taxes(["19.99"], treat(us, party("US", "CA")), "USD") == [("19.99", ["1.45"])]
    oregon = treat(us, party("US", "OR"))
    assert (oregon.code, oregon.rates, oregon.note) == ("O", (), "Sales tax not collected for US-OR.")


# ---- categories, exemptions, missing data ------------------------------------------------------------------


def test_zero_exempt_categories_and_an_exempt_customer() -> None:
    """ZERO → Z at 0 %; EXEMPT → E with a reason; a tax-exempt customer → E "Tax exempt customer". A ZERO or
    EXEMPT product needs no buyer address; anything else does."""
    assert treat(DE, FR, TaxCategory.ZERO) == TaxTreatment(rates=(), code="Z", jurisdiction="DE", note=None)
    exempt = treat(DE, FR, TaxCategory.EXEMPT)
    assert (exempt.code, exempt.rates, exempt.note) == ("E", (), "Exempt supply: no tax charged.")
    customer = treat(DE, party("DE", exempt=True))
    assert (customer.code, customer.rates, customer.note) == ("E", (), "Tax exempt customer")
    nowhere = TaxParty(country="")
    assert treat(DE, nowhere, TaxCategory.ZERO).code == "Z"
    with pytest.raises(DomainError) as missing:
        treat(DE, nowhere, STANDARD)
    assert (missing.value.code, missing.value.field) == ("customer_address_required", "buyer.country")
    with pytest.raises(DomainError) as seller:
        treat(nowhere, DE, TaxCategory.ZERO)
    assert (seller.value.code, seller.value.field) == ("seller_address_required", "seller.country")


def test_a_tax_point_without_a_rate_row_and_a_seller_country_without_a_table() -> None:
    """The tables start in 2020 (Germany in 2007, Ontario's HST on 2010-07-01): earlier tax points get
    no_tax_rate. A seller in Japan has no table: no_tax_regime."""
    with pytest.raises(DomainError) as early:
        treat(DE, DE, STANDARD, date(2006, 12, 31))
    assert early.value.code == "no_tax_rate"
    with pytest.raises(DomainError) as ontario:
        treat(CA, party("CA", "ON"), STANDARD, date(2010, 6, 30))
    assert ontario.value.code == "no_tax_rate"
    with pytest.raises(DomainError) as japan:
        treat(party("JP"), party("JP"))
    assert (japan.value.code, japan.value.field) == ("no_tax_regime", "seller.country")


# ---- inclusive prices, rounding, negative lines --------------------------------------------------------------


def test_inclusive_price_contains_its_tax() -> None:
    """119.00 gross at 19 %: tax 119 × 19 / 119 = 19.00, net 100.00. 10.00 gross at 19 %: tax 1.5966… →
    1.60, net 8.40 (8.40 × 1.19 = 9.996, yet net + tax is exactly the gross)."""
    how = treat(DE, DE)
    assert taxes(["119.00", "10.00"], how, inclusive=True) == [("100.00", ["19.00"]), ("8.40", ["1.60"])]


def test_inclusive_price_with_two_taxes_still_adds_up_to_the_gross() -> None:
    """Quebec, 10.00 gross: net exact 10 / 1.14975 = 8.6975…, GST 0.43487… → 0.43, QST 0.86758… → 0.87,
    net 10.00 − 1.30 = 8.70; 1.00 gross → 0.04 + 0.09, net 0.87."""
    how = treat(CA, party("CA", "QC"))
    assert taxes(["10.00", "1.00"], how, "CAD", inclusive=True) == [
        ("8.70", ["0.43", "0.87"]),
        ("0.87", ["0.04", "0.09"]),
    ]


def test_per_line_and_per_invoice_rounding_differ_by_a_cent() -> None:
    """Three lines of 10.03 at 19 %: each exact tax 1.9057. Per line: 1.91 × 3 = 5.73. Per invoice: 5.7171
    → 5.72, shared back as 1.90 each plus the two missing cents to the first two (equal remainders, earlier
    first): 1.91, 1.91, 1.90. Inclusive 3 × 10.00: per line 1.60 × 3 = 4.80; per invoice 4.7899… → 4.79,
    nets 8.40, 8.40, 8.41."""
    how = treat(DE, DE)
    assert taxes(["10.03"] * 3, how) == [("10.03", ["1.91"])] * 3
    assert taxes(["10.03"] * 3, how, rounding=PER_INVOICE) == [
        ("10.03", ["1.91"]),
        ("10.03", ["1.91"]),
        ("10.03", ["1.90"]),
    ]
    assert taxes(["10.00"] * 3, how, inclusive=True, rounding=PER_INVOICE) == [
        ("8.40", ["1.60"]),
        ("8.40", ["1.60"]),
        ("8.41", ["1.59"]),
    ]
    lines = [TaxableLine(key=str(i), amount=Money(Decimal("10.03"), "EUR"), treatment=how) for i in range(3)]
    per_line = compute_taxes(
        lines, currency="EUR", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    per_invoice = compute_taxes(
        lines, currency="EUR", inclusive=False, rounding=PER_INVOICE, mode=RoundingMode.HALF_UP
    )
    assert [row.amount.amount_text() for row in per_line[1]] == ["5.73"]
    assert [row.amount.amount_text() for row in per_invoice[1]] == ["5.72"]


def test_negative_lines_get_negative_taxes_and_net_against_positive_ones() -> None:
    """A 100.00 line and a −20.00 credit line at 19 %: 19.00 and −3.80; the breakdown row: 80.00, 15.20.
    Per invoice, 0.05 + 0.05 − 0.05 (exact 0.0095 each) round once: 0.0095 → 0.01, shared 0.01, 0.01,
    −0.01; the negated invoice gets exactly the negated taxes."""
    how = treat(DE, DE)
    lines = [
        TaxableLine(key="plan", amount=Money(Decimal("100.00"), "EUR"), treatment=how),
        TaxableLine(key="credit", amount=Money(Decimal("-20.00"), "EUR"), treatment=how),
    ]
    computed, breakdown = compute_taxes(
        lines, currency="EUR", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    assert [line.taxes[0].amount.amount_text() for line in computed] == ["19.00", "-3.80"]
    assert [(b.taxable.amount_text(), b.amount.amount_text()) for b in breakdown] == [("80.00", "15.20")]
    assert taxes(["0.05", "0.05", "-0.05"], how, rounding=PER_INVOICE) == [
        ("0.05", ["0.01"]),
        ("0.05", ["0.01"]),
        ("-0.05", ["-0.01"]),
    ]
    assert taxes(["-0.05", "-0.05", "0.05"], how, rounding=PER_INVOICE) == [
        ("-0.05", ["-0.01"]),
        ("-0.05", ["-0.01"]),
        ("0.05", ["0.01"]),
    ]


def test_breakdown_has_one_row_per_code_and_rate() -> None:
    """Lines at 19 %, 7 %, reverse charge and out of scope: rows S/19 %, S/7 %, AE and O in order of first
    appearance, the two 19 % lines summed (100.00 + 50.00 → 28.50), the untaxed rows with their notes."""
    outside = treat(DE, party("US", "NY"))
    spec = [
        ("a", "100.00", treat(DE, DE)),
        ("b", "10.00", treat(DE, DE, REDUCED)),
        ("c", "300.00", treat(DE, party("FR", vat="FR40303265045"))),
        ("d", "50.00", treat(DE, DE)),
        ("e", "20.00", outside),
    ]
    lines = [TaxableLine(key=k, amount=Money(Decimal(a), "EUR"), treatment=t) for k, a, t in spec]
    _, breakdown = compute_taxes(
        lines, currency="EUR", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    assert [
        (b.code, b.rate.percent if b.rate else None, b.taxable.amount_text(), b.amount.amount_text(), b.note)
        for b in breakdown
    ] == [
        ("S", Decimal("19"), "150.00", "28.50", None),
        ("S", Decimal("7"), "10.00", "0.70", None),
        ("AE", None, "300.00", "0.00", REVERSE_CHARGE_NOTE),
        ("O", None, "20.00", "0.00", outside.note),
    ]


def test_zero_decimal_currency_rounds_to_whole_units() -> None:
    """Yen have no minor unit: 1,234 JPY at 10 % is 123.4 → 123 (Japan is not shipped: a hand-made rate)."""
    rate = treat(party("AU"), party("AU")).rates[0]
    how = TaxTreatment(rates=(rate,), code="S", jurisdiction="AU", note=None)
    assert taxes(["1234"], how, "JPY") == [("1234", ["123"])]


# ---- credit notes --------------------------------------------------------------------------------------------


def test_reverse_taxes_of_part_and_of_the_whole_line() -> None:
    """A 100.00 line with 19.00 VAT: crediting 33.33 gives back 19.00 × 33.33 / 100 = 6.3327 → 6.33;
    crediting 100.00 gives back exactly 19.00. Three credits 33.33 + 33.33 + 33.34 with the earlier ones
    passed as previously_credited: 6.33, 12.67 − 6.33 = 6.34, 19.00 − 12.67 = 6.33, which sum to 19.00."""
    how = treat(DE, DE)
    line = TaxableLine(key="a", amount=Money(Decimal("100.00"), "EUR"), treatment=how)
    (computed,), _ = compute_taxes(
        [line], currency="EUR", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    eur = lambda text: Money(Decimal(text), "EUR")  # noqa: E731
    (part,) = reverse_taxes(computed, eur("33.33"), RoundingMode.HALF_UP)
    assert (part.taxable, part.amount, part.rate) == (eur("33.33"), eur("6.33"), how.rates[0])
    assert reverse_taxes(computed, eur("100.00"), RoundingMode.HALF_UP) == computed.taxes
    credits = [
        reverse_taxes(computed, eur(amount), RoundingMode.HALF_UP, previously_credited=eur(before))[0].amount
        for amount, before in (("33.33", "0.00"), ("33.33", "33.33"), ("33.34", "66.66"))
    ]
    assert [c.amount_text() for c in credits] == ["6.33", "6.34", "6.33"]
    with pytest.raises(DomainError) as too_much:
        reverse_taxes(computed, eur("0.01"), RoundingMode.HALF_UP, previously_credited=eur("100.00"))
    assert too_much.value.code == "credit_exceeds_line"


def test_reverse_taxes_of_a_quebec_line_gives_back_both_taxes() -> None:
    """A 100.00 Quebec line (GST 5.00, QST 9.98): crediting 50.00 gives back 2.50 and 9.98 / 2 = 4.99."""
    how = treat(CA, party("CA", "QC"))
    line = TaxableLine(key="a", amount=Money(Decimal("100.00"), "CAD"), treatment=how)
    (computed,), _ = compute_taxes(
        [line], currency="CAD", inclusive=False, rounding=PER_LINE, mode=RoundingMode.HALF_UP
    )
    back = reverse_taxes(computed, Money(Decimal("50.00"), "CAD"), RoundingMode.HALF_UP)
    assert [(t.rate.name, t.amount.amount_text()) for t in back] == [("GST", "2.50"), ("QST", "4.99")]


# ---- the shipped tables ---------------------------------------------------------------------------------------


def test_every_table_file_is_package_data_and_parses() -> None:
    """Each TABLE_FILES name is a file under kassa/core/tax/data (read with importlib.resources), is JSON,
    and loads on its own; all 27 EU member states are in the EU table."""
    data = files("kassa.core.tax").joinpath("data")
    for name in TABLE_FILES:
        resource = data.joinpath(name)
        assert resource.is_file(), name
        document = json.loads(resource.read_text(encoding="utf-8"))
        assert document["checked_on"] == "2026-11-24"
        assert load_table([document]).jurisdictions
    eu = load_table([json.loads(data.joinpath("eu.json").read_text(encoding="utf-8"))])
    assert len(eu.jurisdictions) == 27


def _doc(**rate: Any) -> dict[str, Any]:
    row = {"category": "standard", "percent": "19", "valid_from": "2020-01-01", **rate}
    return {
        "format": "kassa.tax_table.v1",
        "regime": "eu_vat",
        "title": "test",
        "checked_on": "2026-11-24",
        "sources": ["https://example.org/rates"],
        "jurisdictions": [{"code": "DE", "tax": "VAT", "rates": [row]}],
    }


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (_doc(percent=19), "documents.0.jurisdictions.0.rates.0.percent"),  # a number, not text
        (_doc(percent="100"), "documents.0.jurisdictions.0.rates.0.percent"),
        (_doc(category="zero"), "documents.0.jurisdictions.0.rates.0.category"),
        (_doc(valid_to="2019-12-31"), "documents.0.jurisdictions.0.rates.0.valid_to"),
        (_doc(valid_from="2020-02-30"), "documents.0.jurisdictions.0.rates.0.valid_from"),
        (_doc(rate="19"), "documents.0.jurisdictions.0.rates.0.rate"),  # unknown field
        ({**_doc(), "regime": "vat"}, "documents.0.regime"),
        (
            {**_doc(), "jurisdictions": [{"code": "GB", "tax": "VAT", "rates": []}]},
            "documents.0.jurisdictions.0.code",
        ),
    ],
)
def test_load_table_refuses_malformed_documents(document: dict[str, Any], field: str) -> None:
    """Strict parsing: percents are text below 100, a row is standard or reduced, dates are real and in
    order, unknown fields are refused, the regime is known, the EU table holds only member states."""
    with pytest.raises(DomainError) as refused:
        load_table([document])
    assert (refused.value.code, refused.value.field) == ("invalid_tax_table", field)


def test_load_table_refuses_overlaps_and_duplicates() -> None:
    """Two standard rates of one jurisdiction may not overlap, and no jurisdiction is listed twice."""
    overlapping = _doc()
    overlapping["jurisdictions"][0]["rates"].append(
        {"category": "standard", "percent": "16", "valid_from": "2020-07-01", "valid_to": "2021-01-01"}
    )
    with pytest.raises(DomainError) as overlap:
        load_table([overlapping])
    assert overlap.value.field == "documents.0.jurisdictions.0.rates"
    with pytest.raises(DomainError) as twice:
        load_table([_doc(), _doc()])
    assert twice.value.field == "documents.1.jurisdictions.0.code"
