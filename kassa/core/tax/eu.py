"""EU VAT for a seller established in a member state (Council Directive 2006/112/EC, simplified).

- buyer in the seller's country: that country's VAT, for consumers and businesses alike;
- buyer in another member state with an EU VAT number of that state: reverse charge (AE), no VAT;
- buyer in another member state without one: a digital service is taxed where the consumer is (the OSS
  rule), anything else at the seller's rate;
- buyer outside the EU: not subject to EU VAT (O).
"""

from __future__ import annotations

from datetime import date

from kassa.core.tax.base import not_subject, taxed
from kassa.core.tax.model import REVERSE_CHARGE, TaxCategory, TaxParty, TaxTreatment
from kassa.core.tax.regions import EU_MEMBER_STATES, VAT_PREFIXES, vat_country
from kassa.core.tax.table import TaxTable

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Council Directive 2006/112/EC)"
)
OUTSIDE_NOTE = "Not subject to EU VAT: the customer is established outside the EU."


def treat(
    seller: TaxParty, buyer: TaxParty, category: TaxCategory, tax_point: date, table: TaxTable
) -> TaxTreatment:
    home = vat_country(seller.country)
    there = vat_country(buyer.country)
    if there == home:
        return taxed(table, (home,), category, tax_point)
    if there not in EU_MEMBER_STATES:
        return not_subject(OUTSIDE_NOTE)
    if _has_vat_number(buyer, there):
        return TaxTreatment(rates=(), code=REVERSE_CHARGE, jurisdiction=there, note=REVERSE_CHARGE_NOTE)
    if category is TaxCategory.DIGITAL_SERVICE:
        return taxed(table, (there,), category, tax_point)
    return taxed(table, (home,), category, tax_point)


def _has_vat_number(buyer: TaxParty, country: str) -> bool:
    # Monaco's businesses have French VAT numbers, so the number is compared with the VAT area.
    return any(
        tax_id.type == "eu_vat" and vat_country(VAT_PREFIXES.get(tax_id.country, tax_id.country)) == country
        for tax_id in buyer.tax_ids
    )
