"""Test clocks: how far an advance has come, and which advances are allowed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.errors import Conflict, DomainError
from kassa.core.test_clocks import MAX_JUMP, ClockStatus, TestClock, check_advance

START = datetime(2026, 1, 1, tzinfo=UTC)
READY = TestClock(
    tenant_id="ten_1", id="clk_1", name="Sim", frozen_time=START, created_at=START, updated_at=START
)


def _advancing(to: datetime, at: datetime, status: ClockStatus = ClockStatus.ADVANCING) -> TestClock:
    return replace(READY, status=status, started_time=START, target_time=to, frozen_time=at)


# --- progress ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "frozen", "expected"),
    [
        (datetime(2026, 1, 31, tzinfo=UTC), START, Decimal("0.0000")),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 1, 11, tzinfo=UTC), Decimal("0.3333")),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 1, 21, tzinfo=UTC), Decimal("0.6667")),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 1, 16, tzinfo=UTC), Decimal("0.5000")),
        (datetime(2026, 1, 31, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC), Decimal("1.0000")),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), Decimal("0.0849")),  # 31/365
        (datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), Decimal("0.0000")),
        (
            datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC),
            datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC),
            Decimal("0.6667"),
        ),
    ],
)
def test_progress_of_a_running_advance(target: datetime, frozen: datetime, expected: Decimal) -> None:
    progress = _advancing(target, frozen).progress()
    assert progress == expected
    assert str(progress) == str(expected)  # four places, always


def test_progress_is_one_when_ready_or_when_there_is_nothing_to_measure() -> None:
    assert READY.progress() == Decimal(1)
    done = replace(_advancing(datetime(2026, 2, 1, tzinfo=UTC), START), status=ClockStatus.READY)
    assert done.progress() == Decimal(1)
    assert replace(READY, status=ClockStatus.ADVANCING).progress() == Decimal(1)  # no target yet
    assert _advancing(START, START).progress() == Decimal(1)  # an empty span


def test_a_failed_advance_shows_where_it_stopped() -> None:
    failed = _advancing(
        datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), ClockStatus.FAILED
    )
    assert failed.progress() == Decimal("0.2500")


@given(st.integers(1, 10**12), st.data())
def test_progress_stays_between_zero_and_one_and_grows(span_us: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(0, span_us))
    second = data.draw(st.integers(first, span_us))
    target = START + timedelta(microseconds=span_us)
    p1 = _advancing(target, START + timedelta(microseconds=first)).progress()
    p2 = _advancing(target, START + timedelta(microseconds=second)).progress()
    assert Decimal(0) <= p1 <= p2 <= Decimal(1)


def test_progress_is_computed_exactly() -> None:
    day = datetime(2026, 1, 2, tzinfo=UTC)
    # 64.8 s of 86400 s is exactly 0.00075: half-up and half-even both give 0.0008
    assert _advancing(day, START + timedelta(seconds=64, milliseconds=800)).progress() == Decimal("0.0008")


# --- check_advance -------------------------------------------------------------------------------------


def _refusal(clock: TestClock, to: datetime) -> tuple[type[DomainError], str, str | None, int]:
    with pytest.raises(DomainError) as caught:
        check_advance(clock, to)
    error = caught.value
    return type(error), error.code, error.field, error.status


def test_a_ready_clock_moves_forward() -> None:
    assert check_advance(READY, START + timedelta(microseconds=1)) is None
    assert check_advance(READY, datetime(2026, 12, 31, tzinfo=UTC)) is None


def test_a_clock_never_goes_back_or_stands_still() -> None:
    assert _refusal(READY, START) == (DomainError, "clock_cannot_go_back", "frozen_time", 422)
    assert _refusal(READY, START - timedelta(days=1)) == (
        DomainError,
        "clock_cannot_go_back",
        "frozen_time",
        422,
    )


def test_one_advance_covers_at_most_a_hundred_years() -> None:
    assert MAX_JUMP == timedelta(days=36_600)
    assert check_advance(READY, START + MAX_JUMP) is None
    assert _refusal(READY, START + MAX_JUMP + timedelta(microseconds=1)) == (
        DomainError,
        "jump_too_long",
        "frozen_time",
        422,
    )


def test_an_advancing_clock_accepts_only_its_own_target_again() -> None:
    target = datetime(2026, 3, 1, tzinfo=UTC)
    running = _advancing(target, datetime(2026, 2, 1, tzinfo=UTC))
    assert check_advance(running, target) is None  # the same request again: idempotent
    assert _refusal(running, datetime(2026, 4, 1, tzinfo=UTC)) == (
        Conflict,
        "clock_advancing",
        "frozen_time",
        409,
    )
    assert _refusal(running, datetime(2026, 1, 15, tzinfo=UTC)) == (
        Conflict,
        "clock_advancing",
        "frozen_time",
        409,
    )
    with pytest.raises(Conflict, match=r"advancing to 2026-03-01T00:00:00\+00:00"):
        check_advance(running, datetime(2026, 4, 1, tzinfo=UTC))


def test_a_failed_clock_can_be_advanced_again_from_where_it_stopped() -> None:
    failed = _advancing(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), ClockStatus.FAILED
    )
    assert check_advance(failed, datetime(2026, 3, 1, tzinfo=UTC)) is None
    assert check_advance(failed, datetime(2026, 2, 1, 0, 0, 1, tzinfo=UTC)) is None
    assert _refusal(failed, datetime(2026, 2, 1, tzinfo=UTC)) == (
        DomainError,
        "clock_cannot_go_back",
        "frozen_time",
        422,
    )
