"""Validation helpers for charge parameters: each problem names its path in the catalog document."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from kassa.core.errors import DomainError

MAX_DECIMALS = 12  # unit prices and rates keep up to 12 decimals


def fail(path: str, message: str, code: str = "invalid_catalog") -> DomainError:
    return DomainError(code, message, path)


def obj(value: Any, path: str, required: set[str], optional: set[str]) -> Mapping[str, Any]:
    """An object with the required fields and no others; `path` "" is the document itself."""
    if not isinstance(value, dict):
        raise fail(path, "Expected an object.")
    for key in value:
        if key not in required | optional:
            raise fail(f"{path}.{key}" if path else str(key), f"Unknown field {key!r}.")
    for key in sorted(required):
        if key not in value:
            raise fail(f"{path}.{key}" if path else key, f"{key} is required.")
    return value


def listed(value: Any, path: str, *, limit: int) -> list[Any]:
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise fail(path, f"Expected a list of 1 to {limit} items.")
    return value


def decimal(value: Any, path: str, *, positive: bool = False) -> Decimal:
    """A non-negative decimal given as a string or an integer (a float would not be exact)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise fail(
            path, 'Expected a decimal string like "0.0025" (a float would not be exact).', "invalid_amount"
        )
    try:
        result = Decimal(value)
    except InvalidOperation:
        result = None
    if result is None or not result.is_finite() or result < 0 or (positive and result == 0):
        kind = "positive" if positive else "non-negative"
        raise fail(path, f"Expected a {kind} decimal, not {value!r}.", "invalid_amount")
    exponent = result.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise fail(path, f"At most {MAX_DECIMALS} decimals.", "invalid_amount")
    return result


def whole(value: Any, path: str, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= 10**12:
        raise fail(path, f"Expected a whole number of at least {minimum}.")
    return value


def percent(value: Any, path: str) -> Decimal:
    rate = decimal(value, path)
    if rate > 100:
        raise fail(path, "A rate is a percentage from 0 to 100.", "invalid_amount")
    return rate
