"""The vocabulary of tax: product categories, the parties, a rate in force, and the treatment of a line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from kassa.core.errors import DomainError
from kassa.core.tax_ids import TaxId

HUNDRED = Decimal(100)


class TaxCategory(StrEnum):
    """What a catalog plan, add-on or charge is, as far as tax cares."""

    STANDARD = "standard"
    REDUCED = "reduced"  # the jurisdiction's main reduced rate (docs/taxes.md lists them)
    ZERO = "zero"
    EXEMPT = "exempt"
    DIGITAL_SERVICE = "digital_service"  # taxed where the consumer is, inside the EU (OSS)


class TaxRegime(StrEnum):
    """How a seller's country decides the tax of a sale; one strategy module each (see rules.REGIMES)."""

    EU_VAT = "eu_vat"
    DOMESTIC = "domestic"  # a VAT/GST that taxes domestic buyers only (GB, CH, NO, AU)
    CANADA = "canada"  # GST, plus or replaced by the buyer's province's tax
    US_SALES_TAX = "us_sales_tax"  # the buyer's state's sales tax


# EN 16931 VAT category codes (UNCL5305) a treatment carries.
STANDARD_RATED = "S"
ZERO_RATED = "Z"
EXEMPT = "E"
REVERSE_CHARGE = "AE"
INTRA_EU = "K"
EXPORT = "G"
NOT_SUBJECT = "O"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxParty:
    """The seller (tenant settings) or the buyer (the paying account), as tax sees them."""

    country: str  # ISO 3166-1 alpha-2; "" when the address is missing
    region: str | None = None  # state/province where it matters: "QC", "BC", "NY", "CA"
    tax_ids: tuple[TaxId, ...] = ()  # checksums already verified by the tax id adapter
    exempt: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxRate:
    id: str  # stable: "DE:VAT:standard:2020-07-01"
    jurisdiction: str  # "DE", "CA-QC", "US-NY"
    name: str  # "VAT", "GST", "HST", "PST", "QST", "Sales tax"
    percent: Decimal
    category: TaxCategory
    valid_from: date
    valid_to: date | None  # exclusive

    def __post_init__(self) -> None:
        # compute_taxes divides by 100 + the line's percents: a negative or absurd rate must not get there.
        if not isinstance(self.percent, Decimal) or not self.percent.is_finite():
            raise DomainError("invalid_tax_rate", f"A tax rate is a finite Decimal, not {self.percent!r}.")
        if not 0 <= self.percent < HUNDRED:
            raise DomainError("invalid_tax_rate", f"A tax rate is 0 to below 100 %, not {self.percent}.")

    def in_force(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxTreatment:
    """How one line is taxed: the taxes on it (none, one, or several in Canada), and why."""

    rates: tuple[TaxRate, ...]
    code: str  # EN 16931 VAT category (UNCL5305)
    jurisdiction: str | None  # where the tax is due; None when no tax system claims the sale
    note: str | None  # text the invoice must carry (reverse-charge mention, exemption reason)
