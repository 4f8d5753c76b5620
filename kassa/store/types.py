"""Column types that behave the same on SQLite and PostgreSQL: aware UTC instants and exact decimals."""

from __future__ import annotations

import decimal
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from kassa.core.clock import utc


class UTCDateTime(sa.TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite the UTC wall time as fixed-width text, which sorts correctly."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ExactDecimal(sa.TypeDecorator[Decimal]):
    """Sub-minor values (unit prices, quantities, precise line amounts): NUMERIC on PostgreSQL, canonical
    text on SQLite, because SQLite's NUMERIC affinity would turn them into floats."""

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.NUMERIC())
        return dialect.type_descriptor(sa.Text())

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"ExactDecimal takes a finite Decimal, not {value!r}")
        return value if dialect.name == "postgresql" else format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


# The default decimal context keeps 28 digits and silently rounds beyond them: a sum of 18-digit amounts
# with 12 decimals would lose its last digits. This one never rounds an addition.
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Overflow],
)


class _DecimalSum:
    """SQLite aggregate `decimal_sum(text)`: an exact sum of decimal text (SQLite's SUM would be a float)."""

    def __init__(self) -> None:
        self.total = Decimal(0)
        self.seen = False

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total = _EXACT.add(self.total, Decimal(value))
            self.seen = True

    def finalize(self) -> str | None:
        return format(self.total, "f") if self.seen else None


class _DecimalMax:
    """SQLite aggregate `decimal_max(text)`: MAX over decimal text compares numbers, not strings."""

    def __init__(self) -> None:
        self.best: Decimal | None = None

    def step(self, value: str | None) -> None:
        if value is not None:
            number = Decimal(value)
            if self.best is None or number > self.best:
                self.best = number

    def finalize(self) -> str | None:
        return None if self.best is None else format(self.best, "f")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class _WeightedSeconds:
    """SQLite aggregate `weighted_seconds(level, from, to)`: the exact sum of level × seconds between two
    stored instants (julianday() would be a float)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, level: str | None, start: str | None, end: str | None) -> None:
        if level is None or start is None or end is None:
            return
        span = _instant(end) - _instant(start)
        seconds = Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds).scaleb(-6)
        self.total = _EXACT.add(self.total, _EXACT.multiply(Decimal(level), seconds))

    def finalize(self) -> str:
        return format(self.total, "f")


def register_sqlite_functions(connection: sqlite3.Connection) -> None:
    connection.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]
    connection.create_aggregate("decimal_max", 1, _DecimalMax)  # type: ignore[arg-type]
    connection.create_aggregate("weighted_seconds", 3, _WeightedSeconds)  # type: ignore[arg-type]


def decimal_sum(column: sa.ColumnElement[Decimal], dialect_name: str) -> sa.ColumnElement[Decimal]:
    """SUM over an ExactDecimal column that stays exact on both databases."""
    if dialect_name == "sqlite":
        return sa.type_coerce(sa.func.decimal_sum(column), ExactDecimal())
    return sa.type_coerce(sa.func.sum(column), ExactDecimal())


JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
