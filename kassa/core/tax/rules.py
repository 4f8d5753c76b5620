"""Which taxes a line carries: `treatment(seller, buyer, category, tax_point, table)`.

In this order: the seller's country picks the regime; a ZERO or EXEMPT product is zero-rated or exempt
wherever the buyer is; the buyer's country is needed from here on; a tax-exempt buyer pays no tax; then
the regime's strategy (one module each, registered in REGIMES) places the sale and the table gives the
rates in force on the tax point. Not tax advice: see docs/taxes.md for what is simplified.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from kassa.core.errors import DomainError
from kassa.core.parties import COUNTRIES
from kassa.core.tax import canada, domestic, eu, us
from kassa.core.tax.model import EXEMPT, ZERO_RATED, TaxCategory, TaxParty, TaxRegime, TaxTreatment
from kassa.core.tax.regions import vat_country
from kassa.core.tax.table import TaxTable

Strategy = Callable[[TaxParty, TaxParty, TaxCategory, date, TaxTable], TaxTreatment]

REGIMES: dict[TaxRegime, Strategy] = {
    TaxRegime.EU_VAT: eu.treat,
    TaxRegime.DOMESTIC: domestic.treat,
    TaxRegime.CANADA: canada.treat,
    TaxRegime.US_SALES_TAX: us.treat,
}

EXEMPT_SUPPLY_NOTE = "Exempt supply: no tax charged."
EXEMPT_CUSTOMER_NOTE = "Tax exempt customer"


def treatment(
    seller: TaxParty, buyer: TaxParty, category: TaxCategory, tax_point: date, table: TaxTable
) -> TaxTreatment:
    """The taxes of a line of `category` sold by `seller` to `buyer` with the tax point `tax_point` (the
    invoice's finalization date, a calendar date where the account lives)."""
    if isinstance(tax_point, datetime) or not isinstance(tax_point, date):
        raise DomainError(
            "invalid_tax_point", "The tax point is a calendar date, not an instant.", "tax_point"
        )
    category = TaxCategory(category)
    home = _country(seller, "seller", "seller_address_required", "The seller's (tenant's) address")
    regime = table.regime(vat_country(home))
    if regime is None:
        raise DomainError(
            "no_tax_regime",
            f"kassa's tax tables do not cover sellers established in {home}.",
            "seller.country",
        )
    if category is TaxCategory.ZERO:
        return TaxTreatment(rates=(), code=ZERO_RATED, jurisdiction=vat_country(home), note=None)
    if category is TaxCategory.EXEMPT:
        return TaxTreatment(rates=(), code=EXEMPT, jurisdiction=vat_country(home), note=EXEMPT_SUPPLY_NOTE)
    _country(buyer, "buyer", "customer_address_required", "The customer's address")
    if buyer.exempt:
        return TaxTreatment(rates=(), code=EXEMPT, jurisdiction=vat_country(home), note=EXEMPT_CUSTOMER_NOTE)
    return REGIMES[regime](seller, buyer, category, tax_point, table)


def _country(party: TaxParty, role: str, missing: str, what: str) -> str:
    code = party.country
    if not code:
        raise DomainError(missing, f"{what} needs a country to tax this sale.", f"{role}.country")
    if code not in COUNTRIES:
        raise DomainError(
            "invalid_country", f"{code!r} is not an ISO 3166-1 alpha-2 code.", f"{role}.country"
        )
    return code
