"""Canada for a Canadian seller: the buyer's province decides. GST everywhere, plus the province's PST or
QST as a separate tax on the same net (not compounded), or the HST instead of both. A buyer outside Canada
is not subject to GST/HST here (O)."""

from __future__ import annotations

from datetime import date

from kassa.core.errors import DomainError
from kassa.core.tax.base import not_subject, taxed
from kassa.core.tax.model import TaxCategory, TaxParty, TaxTreatment
from kassa.core.tax.regions import CA_PROVINCES, region_code
from kassa.core.tax.table import TaxTable

FEDERAL = "CA"
OUTSIDE_NOTE = "Not subject to Canadian GST/HST: the customer is established outside Canada."


def treat(
    seller: TaxParty, buyer: TaxParty, category: TaxCategory, tax_point: date, table: TaxTable
) -> TaxTreatment:
    if buyer.country != "CA":
        return not_subject(OUTSIDE_NOTE)
    province = region_code("CA", buyer.region, CA_PROVINCES, "buyer.region")
    if province is None:
        raise DomainError(
            "customer_region_required",
            "A Canadian customer's province decides the tax: set the address's state to its code (QC, ON…).",
            "buyer.region",
        )
    local = table.jurisdictions.get(f"CA-{province}")
    if local is None:  # Alberta and the territories: GST only
        return taxed(table, (FEDERAL,), category, tax_point, where=f"CA-{province}")
    if local.adds_to is None:  # HST: one harmonized tax
        return taxed(table, (local.code,), category, tax_point)
    return taxed(table, (local.adds_to, local.code), category, tax_point)
