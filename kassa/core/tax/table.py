"""Rate tables: JSON documents (shipped in kassa/core/tax/data/) parsed strictly into an immutable table.

A document covers one regime and lists jurisdictions, each with one tax name and its rates over time:

    {"format": "kassa.tax_table.v1", "regime": "eu_vat", "title": "...", "checked_on": "2026-11-24",
     "sources": ["https://..."],
     "jurisdictions": [{"code": "DE", "tax": "VAT", "rates": [
         {"category": "standard", "percent": "16", "valid_from": "2020-07-01", "valid_to": "2021-01-01"}]}]}

`valid_to` is exclusive and may be left out (in force until further notice). A provincial tax charged on
top of a federal one names it in `adds_to` (Canada's PST and QST add to the GST; the HST replaces it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.parties import COUNTRIES
from kassa.core.tax.model import TaxCategory, TaxRate, TaxRegime
from kassa.core.tax.regions import CA_PROVINCES, EU_MEMBER_STATES, US_STATES

FORMAT = "kassa.tax_table.v1"
TABLE_FILES: tuple[str, ...] = ("eu.json", "gb.json", "ch.json", "no.json", "au.json", "ca.json", "us.json")

# A table holds the rates of a level; zero and exempt are treatments, not rows, and a digital service
# is taxed at the standard rate.
_ROW_CATEGORIES = {c.value: c for c in (TaxCategory.STANDARD, TaxCategory.REDUCED)}
_PERCENT = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,4})?")
_CODE = re.compile(r"([A-Z]{2})(?:-([A-Z]{2}))?")
_NAME = re.compile(r"[A-Za-z][A-Za-z ]{0,29}")
_DOCUMENT_KEYS = ({"format", "regime", "title", "checked_on", "sources", "jurisdictions"}, {"notes"})
_JURISDICTION_KEYS = ({"code", "tax", "rates"}, {"adds_to", "comment"})
_RATE_KEYS = ({"category", "percent", "valid_from"}, {"valid_to", "comment"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Jurisdiction:
    code: str  # "DE", "CA-QC", "US-NY"
    name: str  # the tax's name there
    regime: TaxRegime
    adds_to: str | None = None  # the jurisdiction whose tax this one is charged on top of

    @property
    def country(self) -> str:
        return self.code[:2]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxTable:
    """Every rate of every jurisdiction over time. Built by `load_table`; looked up by tax point."""

    jurisdictions: Mapping[str, Jurisdiction]
    rates: tuple[TaxRate, ...]
    _by_key: Mapping[tuple[str, TaxCategory], tuple[TaxRate, ...]] = field(repr=False, compare=False)
    _regimes: Mapping[str, TaxRegime] = field(repr=False, compare=False)

    def regime(self, country: str) -> TaxRegime | None:
        """How sales by a seller in `country` are taxed, or None when no table covers it."""
        return self._regimes.get(country)

    def rate(self, jurisdiction: str, category: TaxCategory, tax_point: date) -> TaxRate:
        """The rate of `category` in force on `tax_point`. A jurisdiction without a reduced rate (Denmark,
        Australia, Canada, the US states) taxes REDUCED products at its standard rate."""
        level = TaxCategory.REDUCED if category is TaxCategory.REDUCED else TaxCategory.STANDARD
        rows = self._by_key.get((jurisdiction, level))
        if rows is None and level is TaxCategory.REDUCED:
            level = TaxCategory.STANDARD
            rows = self._by_key.get((jurisdiction, level))
        for row in rows or ():
            if row.in_force(tax_point):
                return row
        raise DomainError(
            "no_tax_rate",
            f"The tax table has no {level.value} rate for {jurisdiction} on {tax_point.isoformat()}.",
            "tax_point",
        )


def load_table(documents: Iterable[Mapping[str, Any]]) -> TaxTable:
    """The table of the parsed JSON `documents`; any malformed or contradictory entry is refused."""
    jurisdictions: dict[str, Jurisdiction] = {}
    regimes: dict[str, TaxRegime] = {}
    by_key: dict[tuple[str, TaxCategory], list[TaxRate]] = {}
    for i, document in enumerate(documents):
        path = f"documents.{i}"
        body = _object(document, path, *_DOCUMENT_KEYS)
        regime = _document_header(body, path)
        entries = body["jurisdictions"]
        if not isinstance(entries, list) or not entries:
            raise _bad(f"{path}.jurisdictions", "Expected a non-empty list of jurisdictions.")
        parsed = [
            _jurisdiction(entry, regime, f"{path}.jurisdictions.{j}") for j, entry in enumerate(entries)
        ]
        codes = {place.code for place, _ in parsed}
        for j, (place, rows) in enumerate(parsed):
            where = f"{path}.jurisdictions.{j}"
            if place.code in jurisdictions:
                raise _bad(f"{where}.code", f"{place.code} is listed twice.")
            if regimes.setdefault(place.country, regime) is not regime:
                raise _bad(
                    f"{where}.code", f"{place.country} is already taxed under {regimes[place.country]}."
                )
            if place.adds_to is not None and (place.adds_to not in codes or place.adds_to == place.code):
                raise _bad(
                    f"{where}.adds_to", f"{place.adds_to} is not another jurisdiction of this document."
                )
            jurisdictions[place.code] = place
            for row in rows:
                by_key.setdefault((place.code, row.category), []).append(row)
        for place, _ in parsed:
            base = jurisdictions[place.adds_to] if place.adds_to else None
            if base is not None and (base.adds_to is not None or base.country != place.country):
                raise _bad(path, f"{place.code} must add to a national tax of its own country.")
    ordered = {key: tuple(sorted(rows, key=lambda r: r.valid_from)) for key, rows in by_key.items()}
    return TaxTable(
        jurisdictions=MappingProxyType(jurisdictions),
        rates=tuple(row for rows in ordered.values() for row in rows),
        _by_key=MappingProxyType(ordered),
        _regimes=MappingProxyType(regimes),
    )


def _document_header(body: Mapping[str, Any], path: str) -> TaxRegime:
    if body["format"] != FORMAT:
        raise _bad(f"{path}.format", f"Expected {FORMAT!r}.")
    try:
        regime = TaxRegime(body["regime"])
    except ValueError:
        raise _bad(f"{path}.regime", f"A regime is one of {', '.join(TaxRegime)}.") from None
    for key in ("title", "notes"):
        if key in body and (not isinstance(body[key], str) or not body[key].strip()):
            raise _bad(f"{path}.{key}", "Expected text.")
    _date(body["checked_on"], f"{path}.checked_on")
    sources = body["sources"]
    if not isinstance(sources, list) or not sources or not all(_is_url(s) for s in sources):
        raise _bad(f"{path}.sources", "Expected a non-empty list of https:// addresses.")
    return regime


def _jurisdiction(entry: Any, regime: TaxRegime, path: str) -> tuple[Jurisdiction, list[TaxRate]]:
    body = _object(entry, path, *_JURISDICTION_KEYS)
    code = body["code"]
    match = _CODE.fullmatch(code) if isinstance(code, str) else None
    if match is None or match.group(1) not in COUNTRIES:
        raise _bad(
            f"{path}.code", 'A jurisdiction is a country code, optionally with a region: "DE", "CA-QC".'
        )
    _check_place(regime, match.group(1), match.group(2), f"{path}.code")
    name = body["tax"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _bad(f"{path}.tax", 'The tax\'s name, in letters: "VAT", "GST", "Sales tax".')
    adds_to = body.get("adds_to")
    if adds_to is not None and not isinstance(adds_to, str):
        raise _bad(f"{path}.adds_to", "Expected the code of another jurisdiction.")
    if "comment" in body and not isinstance(body["comment"], str):
        raise _bad(f"{path}.comment", "Expected text.")
    place = Jurisdiction(code=code, name=name, regime=regime, adds_to=adds_to)
    rows = body["rates"]
    if not isinstance(rows, list) or not rows:
        raise _bad(f"{path}.rates", "Expected a non-empty list of rates.")
    rates = [_rate(row, place, f"{path}.rates.{k}") for k, row in enumerate(rows)]
    if not any(r.category is TaxCategory.STANDARD for r in rates):
        raise _bad(f"{path}.rates", f"{code} needs a standard rate.")
    for category in _ROW_CATEGORIES.values():
        spans = sorted((r for r in rates if r.category is category), key=lambda r: r.valid_from)
        for before, after in zip(spans, spans[1:], strict=False):
            if before.valid_to is None or before.valid_to > after.valid_from:
                raise _bad(
                    f"{path}.rates", f"The {category.value} rates of {code} overlap on {after.valid_from}."
                )
    return place, rates


def _check_place(regime: TaxRegime, country: str, region: str | None, path: str) -> None:
    if regime is TaxRegime.EU_VAT:
        ok = country in EU_MEMBER_STATES and region is None
    elif regime is TaxRegime.DOMESTIC:
        ok = country not in EU_MEMBER_STATES and region is None
    elif regime is TaxRegime.CANADA:
        ok = country == "CA" and (region is None or region in CA_PROVINCES)
    else:
        ok = country == "US" and region in US_STATES
    if not ok:
        raise _bad(path, f"{country}{'-' + region if region else ''} is not a jurisdiction of {regime}.")


def _rate(entry: Any, place: Jurisdiction, path: str) -> TaxRate:
    body = _object(entry, path, *_RATE_KEYS)
    category = _ROW_CATEGORIES.get(body["category"]) if isinstance(body["category"], str) else None
    if category is None:
        raise _bad(f"{path}.category", "A rate's category is standard or reduced.")
    percent = body["percent"]
    if not isinstance(percent, str) or not _PERCENT.fullmatch(percent):
        raise _bad(f"{path}.percent", 'A percent is text with up to 4 decimals, below 100: "19", "9.975".')
    valid_from = _date(body["valid_from"], f"{path}.valid_from")
    valid_to = _date(body["valid_to"], f"{path}.valid_to") if body.get("valid_to") is not None else None
    if valid_to is not None and valid_to <= valid_from:
        raise _bad(f"{path}.valid_to", "valid_to (exclusive) must come after valid_from.")
    if "comment" in body and not isinstance(body["comment"], str):
        raise _bad(f"{path}.comment", "Expected text.")
    return TaxRate(
        id=f"{place.code}:{place.name}:{category.value}:{valid_from.isoformat()}",
        jurisdiction=place.code,
        name=place.name,
        percent=Decimal(percent),
        category=category,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _object(value: Any, path: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(path, "Expected an object.")
    missing = sorted(required - value.keys())
    if missing:
        raise _bad(f"{path}.{missing[0]}", f"{missing[0]} is required.")
    unknown = sorted(set(value) - required - optional)
    if unknown:
        raise _bad(f"{path}.{unknown[0]}", f"Unknown field {unknown[0]!r}.")
    return value


def _date(value: Any, path: str) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise _bad(path, 'Expected a date as "YYYY-MM-DD".')
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _bad(path, f"{value} is not a calendar date.") from None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("https://") and " " not in value


def _bad(path: str, message: str) -> DomainError:
    return DomainError("invalid_tax_table", message, path)
