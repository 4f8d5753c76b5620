"""Payment terms a tenant sets: what paying late costs, what paying early saves, and which gateway takes a
customer's card.

- A **late fee** is charged once per invoice still open `grace_days` after its due date: a fixed amount, a
  percentage of what is still owed, or both. **Interest** accrues per day late at an annual rate (actual/365,
  the EU late-payment directive's way) and is charged when the invoice is finally paid. Either goes on the
  customer's next invoice as its own line.
- An **early-payment discount** (e.g. 2 % within 10 days, "2/10 net 30") is granted when an invoice is paid in
  full within `within_days` of its finalization day: a credit note of `percent` of each line, its tax reversed
  with it (the tax base shrinks with the price the customer actually paid).
- **Gateway routes** pick the gateway for a customer's new card or provider account by currency and country, first match
  wins; no route: the tenant's only gateway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.money import Money, RoundingMode, currency_code

GATEWAYS = frozenset({"sandbox", "stripe"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LateFee:
    fixed: Decimal = Decimal(0)  # in the invoice's currency
    percent: Decimal = Decimal(0)  # of what is still owed when the grace ends
    annual_interest_percent: Decimal = Decimal(0)  # per day late, actual/365, charged when paid
    grace_days: int = 0

    def fee(self, remaining: Money, mode: RoundingMode) -> Money:
        """The once-per-invoice fee for an invoice still owing `remaining` when the grace ends."""
        fixed = Money(self.fixed, remaining.currency)
        return (fixed + remaining * (self.percent / 100)).round(mode)

    def interest(self, overdue: Money, due_date: date, paid_on: date, mode: RoundingMode) -> Money:
        """Interest on `overdue` for the days from the due date to the day it was paid."""
        days = max((paid_on - due_date).days, 0)
        with localcontext() as exact:
            exact.prec = 60  # one division, rounded once: a tie stays a tie
            value = overdue.amount * self.annual_interest_percent * days / Decimal(36500)
        return Money.rounded(value, overdue.currency, mode)

    def to_json(self) -> dict[str, Any]:
        return {"fixed": _text(self.fixed), "percent": _text(self.percent),
                "annual_interest_percent": _text(self.annual_interest_percent), "grace_days": self.grace_days}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class EarlyPaymentDiscount:
    percent: Decimal
    within_days: int

    def applies(self, finalized_on: date, paid_on: date) -> bool:
        return (paid_on - finalized_on).days <= self.within_days

    def to_json(self) -> dict[str, Any]:
        return {"percent": _text(self.percent), "within_days": self.within_days}


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayRoute:
    gateway: str
    currencies: frozenset[str] = frozenset()  # empty: any
    countries: frozenset[str] = frozenset()  # empty: any

    def to_json(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "currencies": sorted(self.currencies),
            "countries": sorted(self.countries),
        }


def route(routes: Sequence[GatewayRoute], currency: str, country: str | None, fallback: str) -> str:
    for r in routes:
        if (not r.currencies or currency in r.currencies) and (not r.countries or country in r.countries):
            return r.gateway
    return fallback


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _fields(doc: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise DomainError("invalid_payment_terms", "Expected an object.", path)
    for key in doc:
        if key not in allowed:
            raise DomainError("unknown_field", f"Unknown field {key!r}.", f"{path}.{key}")
    return doc


def _decimal(value: Any, path: str, limit: Decimal) -> Decimal:
    if not isinstance(value, str):
        raise DomainError("invalid_payment_terms", 'A decimal string, like "1.5".', path)
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise DomainError("invalid_payment_terms", f"{value!r} is not a decimal.", path) from None
    if not number.is_finite() or not 0 <= number <= limit or number.as_tuple().exponent < -6:  # type: ignore[operator]
        raise DomainError("invalid_payment_terms", f"Expected 0 to {limit} with at most 6 decimals.", path)
    return number


def _days(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 365:
        raise DomainError("invalid_payment_terms", "Expected 0 to 365 days.", path)
    return value


def parse_late_fee(doc: Any, path: str = "late_fee") -> LateFee | None:
    if doc is None:
        return None
    doc = {k: v for k, v in _fields(doc, path, {"fixed", "percent", "annual_interest_percent", "grace_days"}).items()
           if v is not None}  # fmt: skip
    fee = LateFee(
        fixed=_decimal(doc.get("fixed", "0"), f"{path}.fixed", Decimal(1_000_000)),
        percent=_decimal(doc.get("percent", "0"), f"{path}.percent", Decimal(100)),
        annual_interest_percent=_decimal(doc.get("annual_interest_percent", "0"),
                                         f"{path}.annual_interest_percent", Decimal(100)),
        grace_days=_days(doc.get("grace_days", 0), f"{path}.grace_days"),
    )  # fmt: skip
    if not (fee.fixed or fee.percent or fee.annual_interest_percent):
        raise DomainError("invalid_payment_terms", "Set fixed, percent or annual_interest_percent.", path)
    return fee


def parse_early_payment_discount(
    doc: Any, path: str = "early_payment_discount"
) -> EarlyPaymentDiscount | None:
    if doc is None:
        return None
    doc = _fields(doc, path, {"percent", "within_days"})
    percent = _decimal(doc.get("percent"), f"{path}.percent", Decimal(100))
    if not percent:
        raise DomainError("invalid_payment_terms", "The discount is more than 0 %.", f"{path}.percent")
    return EarlyPaymentDiscount(
        percent=percent, within_days=_days(doc.get("within_days"), f"{path}.within_days")
    )


def parse_routes(doc: Any, path: str = "gateway_routes") -> tuple[GatewayRoute, ...]:
    if not isinstance(doc, list) or len(doc) > 50:
        raise DomainError("invalid_payment_terms", "Expected a list of at most 50 routes.", path)
    routes = []
    for i, item in enumerate(doc):
        item = _fields(item, f"{path}.{i}", {"gateway", "currencies", "countries"})
        gateway = item.get("gateway")
        if gateway not in GATEWAYS:
            raise DomainError("invalid_payment_terms", f"gateway is one of {', '.join(sorted(GATEWAYS))}.",
                              f"{path}.{i}.gateway")  # fmt: skip
        currencies = item.get("currencies", [])
        countries = item.get("countries", [])
        if not isinstance(currencies, list) or not isinstance(countries, list):
            raise DomainError("invalid_payment_terms", "currencies and countries are lists.", f"{path}.{i}")
        codes = frozenset(currency_code(c, f"{path}.{i}.currencies.{j}") for j, c in enumerate(currencies))
        for j, c in enumerate(countries):
            if not isinstance(c, str) or len(c) != 2 or not c.isalpha() or not c.isupper():
                raise DomainError("invalid_payment_terms", "A country is an ISO 3166 alpha-2 code.",
                                  f"{path}.{i}.countries.{j}")  # fmt: skip
        routes.append(GatewayRoute(gateway=gateway, currencies=codes, countries=frozenset(countries)))
    return tuple(routes)
