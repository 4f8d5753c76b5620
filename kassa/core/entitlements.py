"""Entitlements: what a customer may use right now. A plan or add-on in the catalog grants features
(on/off), limits (whole numbers) and metered allowances (a quantity of a billable metric per billing
period); a customer's overrides replace what the plans give; a suspended subscription gives nothing.

Catalog shape (on a plan or an add-on), keyed by the feature's code:
  entitlements:
    sso: true                                        # a feature, on (false: explicitly off)
    projects: 10                                     # a limit
    api-calls: {metric: api_calls, quantity: "10000"}  # an allowance per billing period
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError

FEATURE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_FEATURES = 200
MAX_LIMIT = 10**12


class GrantKind(StrEnum):
    FEATURE = "feature"
    LIMIT = "limit"
    ALLOWANCE = "allowance"


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """One feature as a plan, an add-on or an override gives it."""

    feature: str
    kind: GrantKind
    enabled: bool = True  # a feature: on or off
    limit: int | None = None  # a limit
    metric: str | None = None  # an allowance: the billable metric it counts
    quantity: Decimal | None = None  # an allowance: units per billing period

    def to_doc(self) -> Any:
        if self.kind is GrantKind.FEATURE:
            return self.enabled
        if self.kind is GrantKind.LIMIT:
            return self.limit
        return {"metric": self.metric, "quantity": str(self.quantity)}


def _fail(path: str, message: str) -> DomainError:
    return DomainError("invalid_entitlement", message, path)


def feature_code(value: Any, path: str) -> str:
    if not isinstance(value, str) or not FEATURE.fullmatch(value):
        raise _fail(path, "A feature code is 1 to 64 lowercase letters, digits, '.', '_' or '-'.")
    return value


def parse_grant(feature: str, value: Any, path: str) -> Grant:
    """One entitlement from its document value: true/false, a whole number, or {metric, quantity}."""
    if isinstance(value, bool):
        return Grant(feature=feature, kind=GrantKind.FEATURE, enabled=value)
    if isinstance(value, int):
        if not 0 <= value <= MAX_LIMIT:
            raise _fail(path, f"A limit is a whole number from 0 to {MAX_LIMIT}.")
        return Grant(feature=feature, kind=GrantKind.LIMIT, limit=value)
    if isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - {"metric", "quantity"})
        if unknown:
            raise _fail(f"{path}.{unknown[0]}", f"Unknown field {unknown[0]!r}.")
        if "metric" not in value or "quantity" not in value:
            raise _fail(path, 'An allowance is {metric: api_calls, quantity: "10000"}.')
        metric = value["metric"]
        if not isinstance(metric, str) or not FEATURE.fullmatch(metric):
            raise _fail(f"{path}.metric", "The code of a billable metric.")
        raw = value["quantity"]
        try:
            quantity = Decimal(str(raw)) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
        except InvalidOperation:
            quantity = None
        if quantity is None or not quantity.is_finite() or not 0 <= quantity <= MAX_LIMIT:
            raise _fail(f"{path}.quantity", f'A quantity from 0 to {MAX_LIMIT}, as a string like "10000".')
        return Grant(feature=feature, kind=GrantKind.ALLOWANCE, metric=metric, quantity=quantity)
    raise _fail(
        path, "An entitlement is true/false (a feature), a whole number (a limit) or {metric, quantity}."
    )


def parse_grants(value: Any, path: str) -> Mapping[str, Grant]:
    """The `entitlements` of a plan or an add-on."""
    if not isinstance(value, dict) or len(value) > MAX_FEATURES:
        raise _fail(path, f"Entitlements map up to {MAX_FEATURES} feature codes to values: {{sso: true}}.")
    return {feature_code(k, f"{path}.{k}"): parse_grant(k, v, f"{path}.{k}") for k, v in value.items()}
