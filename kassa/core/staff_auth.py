"""Staff logins for the console: the password policy, the lockout rule and session lifetimes (issue 10).

Pure: every instant is passed in. Hashing (argon2) and tokens live in services/staff_auth.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from kassa.core.errors import DomainError

PASSWORD_MIN = 12
PASSWORD_MAX = 256  # argon2 takes any length; the cap keeps a login request from costing much

MAX_FAILURES = 5  # the fifth wrong password in a row locks the login...
LOCKOUT = timedelta(minutes=15)  # ...for this long, counted from that fifth failure

INVITATION_LIFETIME = timedelta(hours=72)
SESSION_IDLE = timedelta(hours=12)  # no request for this long ends a session
SESSION_ABSOLUTE = timedelta(days=7)  # and none outlives this, however busy
LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # last_seen_at is written at most this often


class LoginRefused(DomainError):
    """Wrong credentials, a locked login, an unusable invitation or session: the caller must (re)authenticate."""

    status = 401


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffCredential:
    tenant_id: str
    user_id: str
    password_hash: str
    set_at: datetime
    failed_attempts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    tenant_id: str
    id: str
    user_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSession:
    tenant_id: str
    id: str
    user_id: str
    token_hash: str
    csrf_token_hash: str
    created_at: datetime
    expires_at: datetime  # the absolute limit
    last_seen_at: datetime
    revoked_at: datetime | None = None


def check_password(password: str, email: str) -> str:
    """The password if the policy allows it, else DomainError("weak_password")."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise DomainError(
            "weak_password", f"A password is {PASSWORD_MIN} to {PASSWORD_MAX} characters.", "password"
        )
    if len(set(password)) == 1:
        raise DomainError("weak_password", "A password is not one character repeated.", "password")
    if password.strip().casefold() == email.strip().casefold():
        raise DomainError("weak_password", "A password is not the email address.", "password")
    return password


def invitation_expires_at(created_at: datetime) -> datetime:
    return created_at + INVITATION_LIFETIME


def is_locked(credential: StaffCredential, at: datetime) -> bool:
    return credential.locked_until is not None and at < credential.locked_until


def after_failure(credential: StaffCredential, at: datetime) -> StaffCredential:
    """One more wrong password: the fifth in a row locks until `at` + 15 minutes and starts the count over."""
    failures = credential.failed_attempts + 1
    if failures >= MAX_FAILURES:
        return replace(credential, failed_attempts=0, locked_until=at + LOCKOUT)
    return replace(credential, failed_attempts=failures, locked_until=credential.locked_until)


def after_success(credential: StaffCredential) -> StaffCredential:
    return replace(credential, failed_attempts=0, locked_until=None)


def session_absolute_expiry(created_at: datetime) -> datetime:
    return created_at + SESSION_ABSOLUTE


def session_ends_at(session: ConsoleSession) -> datetime:
    """When the session stops working if no request comes: 12 h after the last one, 7 days at most."""
    return min(session.last_seen_at + SESSION_IDLE, session.expires_at)


def session_active(session: ConsoleSession, at: datetime) -> bool:
    return session.revoked_at is None and at < session_ends_at(session)


def needs_touch(session: ConsoleSession, at: datetime) -> bool:
    return at - session.last_seen_at >= LAST_SEEN_RESOLUTION
