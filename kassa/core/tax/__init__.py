"""Tax: which taxes a line carries (`treatment`), and what they come to (`compute_taxes`, `reverse_taxes`).

Pure: the rate tables are JSON documents shipped as package data (`TABLE_FILES` under
kassa/core/tax/data/); the service reads them with importlib.resources and passes the parsed JSON to
`load_table`. The rules, the rounding and the shipped rates are described in docs/taxes.md (not tax
advice).
"""

from kassa.core.tax.compute import (
    BreakdownRow,
    LineTax,
    TaxableLine,
    TaxAmount,
    compute_taxes,
    reverse_taxes,
)
from kassa.core.tax.model import TaxCategory, TaxParty, TaxRate, TaxRegime, TaxTreatment
from kassa.core.tax.rules import REGIMES, treatment
from kassa.core.tax.table import TABLE_FILES, Jurisdiction, TaxTable, load_table

__all__ = [
    "REGIMES",
    "TABLE_FILES",
    "BreakdownRow",
    "Jurisdiction",
    "LineTax",
    "TaxAmount",
    "TaxCategory",
    "TaxParty",
    "TaxRate",
    "TaxRegime",
    "TaxTable",
    "TaxTreatment",
    "TaxableLine",
    "compute_taxes",
    "load_table",
    "reverse_taxes",
    "treatment",
]
