"""US sales tax for a US seller: the buyer's state's rate, for the few example states the table lists
(state level only: no county or city taxes, no product taxability, no nexus thresholds). A state not in
the table, or a buyer outside the US, gets no tax (O)."""

from __future__ import annotations

from datetime import date

from kassa.core.errors import DomainError
from kassa.core.tax.base import not_subject, taxed
from kassa.core.tax.model import TaxCategory, TaxParty, TaxTreatment
from kassa.core.tax.regions import US_STATES, region_code
from kassa.core.tax.table import TaxTable

OUTSIDE_NOTE = "Not subject to US sales tax: the customer is established outside the United States."


def treat(
    seller: TaxParty, buyer: TaxParty, category: TaxCategory, tax_point: date, table: TaxTable
) -> TaxTreatment:
    if buyer.country != "US":
        return not_subject(OUTSIDE_NOTE)
    state = region_code("US", buyer.region, US_STATES, "buyer.region")
    if state is None:
        raise DomainError(
            "customer_region_required",
            "A US customer's state decides the sales tax: set the address's state to its code (NY, TX…).",
            "buyer.region",
        )
    code = f"US-{state}"
    if code not in table.jurisdictions:
        return not_subject(f"Sales tax not collected for {code}.")
    return taxed(table, (code,), category, tax_point)
