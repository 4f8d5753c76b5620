"""A VAT or GST that taxes the seller's own market only (United Kingdom, Switzerland, Norway, Australia):
a buyer in the seller's country pays the domestic rate; a buyer abroad is not subject to it (O)."""

from __future__ import annotations

from datetime import date

from kassa.core.tax.base import not_subject, taxed
from kassa.core.tax.model import TaxCategory, TaxParty, TaxTreatment
from kassa.core.tax.regions import vat_country
from kassa.core.tax.table import TaxTable


def treat(
    seller: TaxParty, buyer: TaxParty, category: TaxCategory, tax_point: date, table: TaxTable
) -> TaxTreatment:
    home = vat_country(seller.country)
    if vat_country(buyer.country) == home:
        return taxed(table, (home,), category, tax_point)
    name = table.jurisdictions[home].name if home in table.jurisdictions else "tax"
    return not_subject(f"Not subject to {home} {name}: the customer is established outside {home}.")
