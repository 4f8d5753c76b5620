"""A page of a list: cursor pagination walks ids, which sort by creation time (see ids.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kassa.core.errors import DomainError

MAX_LIMIT = 100


T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    items: Sequence[T]
    has_more: bool
    next_cursor: str | None


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise DomainError("invalid_limit", f"limit is 1 to {MAX_LIMIT}.", "limit")
    return limit
