"""Staff logins (issue 10): the password policy, the lockout instants and the session lifetimes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kassa.core.errors import DomainError
from kassa.core.staff_auth import (
    ConsoleSession,
    StaffCredential,
    after_failure,
    after_success,
    check_password,
    invitation_expires_at,
    is_locked,
    needs_touch,
    session_absolute_expiry,
    session_active,
    session_ends_at,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short-pass1", "A password is 12 to 256 characters."),  # 11 characters
        ("x" * 257, "A password is 12 to 256 characters."),
        ("aaaaaaaaaaaaaaa", "A password is not one character repeated."),
        ("Ops.Lead@Example.com", "A password is not the email address."),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, message: str) -> None:
    with pytest.raises(DomainError) as raised:
        check_password(password, "ops.lead@example.com")
    assert (raised.value.code, raised.value.message, raised.value.field) == (
        "weak_password",
        message,
        "password",
    )


@pytest.mark.parametrize("password", ["twelve chars", "yz" * 128, "aaaaaaaaaaab"])
def test_passwords_at_the_limits_are_accepted(password: str) -> None:
    assert check_password(password, "ops@example.com") == password


def test_five_failures_in_a_row_lock_for_fifteen_minutes_from_the_fifth() -> None:
    credential = StaffCredential(tenant_id="ten_1", user_id="usr_1", password_hash="h", set_at=T0)
    for n in range(1, 5):
        credential = after_failure(credential, T0 + timedelta(minutes=n))
        assert (credential.failed_attempts, credential.locked_until) == (n, None)
        assert is_locked(credential, T0 + timedelta(minutes=n)) is False
    fifth = T0 + timedelta(minutes=5, seconds=30)
    credential = after_failure(credential, fifth)
    assert credential.failed_attempts == 0
    assert credential.locked_until == datetime(2026, 3, 2, 8, 20, 30, tzinfo=UTC)
    assert is_locked(credential, datetime(2026, 3, 2, 8, 20, 29, 999999, tzinfo=UTC)) is True
    assert is_locked(credential, datetime(2026, 3, 2, 8, 20, 30, tzinfo=UTC)) is False
    assert after_success(after_failure(credential, T0)) == StaffCredential(
        tenant_id="ten_1", user_id="usr_1", password_hash="h", set_at=T0
    )


def _session(created_at: datetime, last_seen_at: datetime) -> ConsoleSession:
    return ConsoleSession(
        tenant_id="ten_1", id="ses_1", user_id="usr_1", token_hash="t", csrf_token_hash="c",
        created_at=created_at, expires_at=session_absolute_expiry(created_at), last_seen_at=last_seen_at,
    )  # fmt: skip


def test_an_idle_session_ends_twelve_hours_after_the_last_request() -> None:
    session = _session(T0, T0 + timedelta(hours=1))
    assert session_ends_at(session) == datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
    assert session_active(session, datetime(2026, 3, 2, 20, 59, 59, tzinfo=UTC)) is True
    assert session_active(session, datetime(2026, 3, 2, 21, 0, tzinfo=UTC)) is False


def test_a_busy_session_still_ends_seven_days_after_login() -> None:
    session = _session(T0, datetime(2026, 3, 9, 7, 59, tzinfo=UTC))  # seen a minute before the limit
    assert session.expires_at == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert session_ends_at(session) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert session_active(session, datetime(2026, 3, 9, 7, 59, 59, tzinfo=UTC)) is True
    assert session_active(session, datetime(2026, 3, 9, 8, 0, tzinfo=UTC)) is False


def test_a_revoked_session_is_over_and_last_seen_is_written_once_a_minute() -> None:
    session = _session(T0, T0)
    assert session_active(replace(session, revoked_at=T0), T0) is False
    assert needs_touch(session, T0 + timedelta(seconds=59)) is False
    assert needs_touch(session, T0 + timedelta(minutes=1)) is True


def test_an_invitation_is_valid_for_72_hours() -> None:
    assert invitation_expires_at(T0) == datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
