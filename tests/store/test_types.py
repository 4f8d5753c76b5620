"""The column types that make SQLite and PostgreSQL agree: instants, exact decimals, minor units."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kassa.store.engine import create_engine
from kassa.store.types import ExactDecimal, UTCDateTime, decimal_sum

BIGINT_MAX = 9_223_372_036_854_775_807
BIGINT_MIN = -9_223_372_036_854_775_808


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def probe(engine: Engine) -> Iterator[sa.Table]:
    """A table of its own, on a MetaData of its own, dropped afterwards (PostgreSQL's schema is shared)."""
    table = sa.Table(
        f"type_probe_{uuid.uuid4().hex[:8]}",
        sa.MetaData(),
        sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime),
        sa.Column("amount", ExactDecimal),
        sa.Column("minor", sa.BigInteger),
    )
    table.create(engine)
    yield table
    table.drop(engine)


def _insert(engine: Engine, table: sa.Table, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)


def _column(engine: Engine, table: sa.Table, name: str) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(table.c[name]).order_by(table.c.n)).scalars())


# --- UTCDateTime ---------------------------------------------------------------------------------------


def test_instants_round_trip_to_the_microsecond_and_come_back_in_utc(engine: Engine, probe: sa.Table) -> None:
    given = [
        datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=ZoneInfo("Europe/Berlin")),  # just after the DST jump
        datetime(1999, 12, 31, 23, 59, 59, 123_456, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
        datetime(2038, 1, 19, 3, 14, 8, 654_321, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    ]
    _insert(engine, probe, [{"n": i, "at": at} for i, at in enumerate(given)])
    back = _column(engine, probe, "at")
    assert back == given  # the same instants
    assert [b.tzinfo for b in back] == [UTC] * 4  # ... always told in UTC
    assert back == [
        datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2000, 1, 1, 9, 29, 59, 123_456, tzinfo=UTC),
        datetime(2038, 1, 18, 21, 29, 8, 654_321, tzinfo=UTC),
    ]
    assert [b.isoformat() for b in back][1] == "2026-03-29T01:00:00.000001+00:00"


def test_naive_datetimes_are_refused(engine: Engine, probe: sa.Table) -> None:
    with pytest.raises(sa.exc.StatementError) as caught:
        _insert(engine, probe, [{"n": 1, "at": datetime(2026, 1, 1, 12, 0)}])  # noqa: DTZ001
    assert isinstance(caught.value.orig, ValueError)
    assert "naive datetime" in str(caught.value.orig)
    assert _column(engine, probe, "at") == []


def test_instants_given_in_other_offsets_sort_by_instant(engine: Engine, probe: sa.Table) -> None:
    """Wall-clock text of the given offsets would sort 10:00+05:00 last; as UTC it is first."""
    rows = {
        "a": datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=5))),  # 05:00Z
        "b": datetime(2026, 1, 1, 1, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),  # 06:00:00.000001Z
        "c": datetime(2026, 1, 1, 5, 30, tzinfo=UTC),  # 05:30Z
        "d": datetime(2026, 1, 1, 6, 0, tzinfo=UTC),  # 06:00Z
        "e": datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    }
    _insert(engine, probe, [{"n": i, "at": at} for i, at in enumerate(rows.values())])
    names = list(rows)
    with engine.connect() as conn:
        ordered = conn.execute(sa.select(probe.c.n).order_by(probe.c.at)).scalars().all()
        after = conn.execute(
            sa.select(probe.c.n).where(
                probe.c.at > datetime(2026, 1, 1, 11, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
            )
        ).scalars()  # 05:30Z, exclusive
        first = conn.execute(sa.select(sa.func.min(probe.c.at))).scalar()
        if engine.dialect.name == "sqlite":
            stored = conn.exec_driver_sql(f"SELECT at FROM {probe.name} WHERE n = 0").scalar()
    assert [names[n] for n in ordered] == ["e", "a", "c", "d", "b"]
    assert sorted(names[n] for n in after) == ["b", "d"]
    assert first == rows["e"]
    if engine.dialect.name == "sqlite":
        assert stored == "2026-01-01 05:00:00.000000"  # fixed-width UTC text: sorts as it reads


# --- ExactDecimal --------------------------------------------------------------------------------------

EXACT = [
    Decimal("0.000000000001"),
    Decimal("123456789012345678.123456789012"),
    Decimal("-123456789012345678.123456789012"),
    Decimal("-0.000000000001"),
    Decimal("-7.5"),
    Decimal("0"),
    Decimal("1.10"),
]


def test_exact_decimals_round_trip_exactly(engine: Engine, probe: sa.Table) -> None:
    _insert(engine, probe, [{"n": i, "amount": d} for i, d in enumerate(EXACT)])
    back = _column(engine, probe, "amount")
    assert back == EXACT
    assert [type(b) for b in back] == [Decimal] * len(EXACT)
    assert [str(b) for b in back] == [
        "1E-12",
        "123456789012345678.123456789012",
        "-123456789012345678.123456789012",
        "-1E-12",
        "-7.5",
        "0",
        "1.10",
    ]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            stored = conn.exec_driver_sql(
                f"SELECT amount, typeof(amount) FROM {probe.name} WHERE n = 0"
            ).one()
        assert tuple(stored) == ("0.000000000001", "text")  # canonical text, never a float


@pytest.mark.parametrize("bad", [1.5, "1.5", Decimal("NaN"), Decimal("Infinity")])
def test_exact_decimal_refuses_floats_text_and_non_finite_values(
    engine: Engine, probe: sa.Table, bad: object
) -> None:
    with pytest.raises(sa.exc.StatementError) as caught:
        _insert(engine, probe, [{"n": 1, "amount": bad}])
    assert isinstance(caught.value.orig, TypeError)


def test_decimal_sum_is_exact_where_sqlite_sum_is_a_float(engine: Engine, probe: sa.Table) -> None:
    _insert(engine, probe, [{"n": i, "amount": Decimal("0.1")} for i in range(10_000)])
    dialect = engine.dialect.name
    with engine.connect() as conn:
        exact = conn.execute(sa.select(decimal_sum(probe.c.amount, dialect))).scalar()
        plain = conn.execute(sa.select(sa.func.sum(sa.type_coerce(probe.c.amount, sa.Text)))).scalar()
        empty = conn.execute(sa.select(decimal_sum(probe.c.amount, dialect)).where(probe.c.n < 0)).scalar()
    assert exact == Decimal("1000.0")
    assert str(exact) == "1000.0"
    assert empty is None  # like SUM over no rows
    if dialect == "sqlite":
        # Why the aggregate exists: SQLite's own SUM converts the text to doubles and drifts.
        assert isinstance(plain, float)
        assert plain != 1000
        assert plain == 1000.0000000001588
    else:
        assert plain == Decimal("1000.0")  # NUMERIC sums exactly on PostgreSQL


def test_decimal_sum_keeps_twelve_decimals_and_signs(engine: Engine, probe: sa.Table) -> None:
    """Regression: the SQLite aggregate added in the default 28-digit context and returned
    -246913578024691356.2469135780, two decimals short; it now adds without rounding."""
    values = [Decimal("0.000000000001")] * 3 + [Decimal("-123456789012345678.123456789012")] * 2
    _insert(engine, probe, [{"n": i, "amount": d} for i, d in enumerate(values)])
    with engine.connect() as conn:
        total = conn.execute(sa.select(decimal_sum(probe.c.amount, engine.dialect.name))).scalar()
    assert total == Decimal("-246913578024691356.246913578021")


# --- BIGINT minor units --------------------------------------------------------------------------------


def test_bigint_minor_units_hold_the_full_64_bit_range(engine: Engine, probe: sa.Table) -> None:
    values = [BIGINT_MAX, BIGINT_MIN, 0, -1, 2**53 + 1]  # 2**53 + 1 is where a double would lose it
    _insert(engine, probe, [{"n": i, "minor": v} for i, v in enumerate(values)])
    assert _column(engine, probe, "minor") == values
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(probe.c.minor)).where(probe.c.n.in_([0, 3]))).scalar()
    assert total == BIGINT_MAX - 1
    assert isinstance(total, int | Decimal) and not isinstance(total, float)
