"""Places tax rules name: the EU-27, Canada's provinces and territories, the US states, and territories
that belong to a neighbour's VAT area."""

from __future__ import annotations

from kassa.core.errors import DomainError

# Greece is GR here as everywhere in kassa; only its VAT numbers use the prefix EL.
EU_MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)

CA_PROVINCES = frozenset("AB BC MB NB NL NS NT NU ON PE QC SK YT".split())

US_STATES = frozenset(
    (
        "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ "
        "NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
    ).split()
)

# Territories inside a neighbour's VAT area: a sale to Monaco is a sale to France, to Liechtenstein one
# to Switzerland, to the Isle of Man one to the UK.
VAT_AREAS = {"MC": "FR", "LI": "CH", "IM": "GB"}

# Where a country's VAT numbers carry another prefix than its ISO code.
VAT_PREFIXES = {"EL": "GR"}


def vat_country(country: str) -> str:
    """The country whose tax system covers `country`."""
    return VAT_AREAS.get(country, country)


def region_code(country: str, region: str | None, known: frozenset[str], field: str) -> str | None:
    """The buyer's state or province as its short code ("QC"), also when given as ISO 3166-2 ("CA-QC")."""
    if region is None or not region.strip():
        return None
    code = region.strip().upper().removeprefix(f"{country}-")
    if code not in known:
        raise DomainError("invalid_region", f"{region!r} is not a state or province of {country}.", field)
    return code
