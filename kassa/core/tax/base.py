"""What every regime strategy builds its answer from."""

from __future__ import annotations

from datetime import date

from kassa.core.tax.model import NOT_SUBJECT, STANDARD_RATED, TaxCategory, TaxTreatment
from kassa.core.tax.table import TaxTable


def taxed(
    table: TaxTable,
    jurisdictions: tuple[str, ...],
    category: TaxCategory,
    tax_point: date,
    *,
    where: str | None = None,
) -> TaxTreatment:
    """Taxed (code S, which EN 16931 also uses for reduced rates): one tax per jurisdiction, charged side
    by side on the same net, due in `where` (by default the last, most local, jurisdiction)."""
    rates = tuple(table.rate(code, category, tax_point) for code in jurisdictions)
    return TaxTreatment(rates=rates, code=STANDARD_RATED, jurisdiction=where or jurisdictions[-1], note=None)


def not_subject(note: str) -> TaxTreatment:
    return TaxTreatment(rates=(), code=NOT_SUBJECT, jurisdiction=None, note=note)
