"""The one clock interface. Everything that needs "now" asks a Clock; only adapters/clock.py reads the wall."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC instant."""
        ...


@dataclass(frozen=True, slots=True)
class FrozenClock:
    """Time that stands still: a test clock's frozen time, or a fixed instant in tests."""

    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at))

    def now(self) -> datetime:
        return self.at


def utc(instant: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused because its meaning is a guess."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: kassa only takes aware instants")
    return instant.astimezone(UTC)
