"""Staff logins for the console (issue 10): invitations, passwords, sessions and CSRF tokens.

An admin invites an existing staff user; the link's token (shown once, stored as SHA-256) lets the user
set a password, kept as an argon2 hash. Logging in opens a session: a session token for the cookie and a
CSRF token for forms, both random, both stored hashed. The user's role is read afresh on every request,
so a role change or deactivation takes effect at once.

Who may invite: an admin user, or an API key or the system (the CLI): API keys carry no role and act for
the tenant's operator with full API access, so they count as admin here.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import replace
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kassa.core import staff_auth as rules
from kassa.core.access import Role, User, hash_secret
from kassa.core.audit import Actor, ActorType
from kassa.core.errors import Forbidden, NotFound
from kassa.core.staff_auth import ConsoleSession, Invitation, LoginRefused, StaffCredential
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


@cache
def _dummy_hash() -> str:
    """What an unknown email is checked against, so it costs as long as a known one."""
    return _HASHER.hash("kassa: no such user, this hash only burns time")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def require_role(uow: UnitOfWork, actor: Actor, *roles: Role) -> None:
    """Refuse a staff user whose role is not one of `roles` (403). API keys and the system act as admin; an
    end customer in the portal is never staff."""
    if actor.type is ActorType.CUSTOMER:
        raise Forbidden("forbidden", "This is for the business's staff.", None)
    if actor.type is not ActorType.USER:
        return
    try:
        user = uow.users.get(actor.tenant_id, actor.id)
    except NotFound:
        user = None
    if user is None or user.deactivated_at is not None or user.role not in roles:
        raise Forbidden("forbidden", f"This needs the role {' or '.join(r.value for r in roles)}.", None)


def invite(ctx: ServiceContext, actor: Actor, user_id: str) -> tuple[Invitation, str]:
    """A new invitation for the user to set a password; the token is returned once and never stored.
    Older unused invitations of the user stop working."""
    now = ctx.clock.now()
    token = secrets.token_urlsafe(32)
    with ctx.uow() as uow:
        require_role(uow, actor, Role.ADMIN)
        user = uow.users.get(actor.tenant_id, user_id)
        if user.deactivated_at is not None:
            raise Forbidden("user_deactivated", f"User {user.id!r} is deactivated.", "user_id")
        invitation = Invitation(
            tenant_id=actor.tenant_id, id=ctx.new_id("inv"), user_id=user.id, token_hash=hash_secret(token),
            created_at=now, expires_at=rules.invitation_expires_at(now),
        )  # fmt: skip
        voided = uow.staff_invitations.void_unused(actor.tenant_id, user.id, now)
        uow.staff_invitations.add(invitation)
        audit.record(
            ctx, uow, actor, "staff.invited", object_type="user", object_id=user.id, before=None,
            after={"invitation_id": invitation.id, "expires_at": invitation.expires_at.isoformat(),
                   "voided_invitations": voided},
            at=now,
        )  # fmt: skip
        uow.commit()
    return invitation, token


def accept_invitation(ctx: ServiceContext, token: str, password: str) -> User:
    """Set the invited user's password. The invitation works once, within 72 hours; the user's open
    sessions end (a new password is a fresh start)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        invitation = uow.staff_invitations.find_by_token_hash(hash_secret(token))
        if invitation is None:
            raise LoginRefused("invitation_invalid", "This invitation link is not valid.", "token")
        if invitation.used_at is not None:
            raise LoginRefused("invitation_used", "This invitation link has been used.", "token")
        if now >= invitation.expires_at:
            raise LoginRefused("invitation_expired", "This invitation link has expired.", "token")
        user = uow.users.get(invitation.tenant_id, invitation.user_id)
        if user.deactivated_at is not None:
            raise LoginRefused("invitation_invalid", "This invitation link is not valid.", "token")
        rules.check_password(password, user.email)
        if not uow.staff_invitations.mark_used(invitation.tenant_id, invitation.id, now):
            raise LoginRefused("invitation_used", "This invitation link has been used.", "token")
        had = uow.staff_credentials.get(user.tenant_id, user.id)
        uow.staff_credentials.save(
            StaffCredential(
                tenant_id=user.tenant_id, user_id=user.id, password_hash=_HASHER.hash(password), set_at=now
            )
        )
        uow.console_sessions.revoke_for_user(user.tenant_id, user.id, now)
        audit.record(
            ctx, uow, _user_actor(user), "staff.password_set", object_type="user", object_id=user.id,
            before={"password_set_at": had.set_at.isoformat() if had else None},
            after={"password_set_at": now.isoformat(), "invitation_id": invitation.id}, at=now,
        )  # fmt: skip
        uow.commit()
    return user


def log_in(
    ctx: ServiceContext, tenant_id: str, email: str, password: str, *, ip: str | None
) -> tuple[ConsoleSession, str, str]:
    """A new session: (session, session token, CSRF token); both tokens are returned once.

    Every refusal but a lockout is the same `invalid_credentials`, and an unknown email costs the same
    argon2 verification as a known one, so neither tells whether an account exists. The fifth wrong
    password in a row locks the login for 15 minutes (`login_locked`), even for the right password."""
    now = ctx.clock.now()
    refused = LoginRefused("invalid_credentials", "The email or password is wrong.", None)
    with ctx.uow() as uow:
        user = uow.users.find_by_email(tenant_id, email) if isinstance(email, str) else None
        credential = uow.staff_credentials.get(tenant_id, user.id) if user is not None else None
        if user is None or credential is None:
            _verify(_dummy_hash(), password)
            raise refused
        if rules.is_locked(credential, now):
            raise LoginRefused(
                "login_locked", f"Too many wrong passwords: try again after {credential.locked_until:%H:%M} UTC.",
                None,
            )  # fmt: skip
        if not _verify(credential.password_hash, password):
            failed = rules.after_failure(credential, now)
            uow.staff_credentials.save(failed)
            if failed.locked_until is not None and failed.locked_until != credential.locked_until:
                audit.record(
                    ctx, uow, _user_actor(user), "staff.login_locked", object_type="user", object_id=user.id,
                    before=None, after={"locked_until": failed.locked_until.isoformat(), "ip": ip}, at=now,
                )  # fmt: skip
            uow.commit()  # the failure counts even though the login is refused
            raise refused
        if user.deactivated_at is not None:
            raise refused
        succeeded = rules.after_success(credential)
        if _HASHER.check_needs_rehash(credential.password_hash):
            succeeded = replace(succeeded, password_hash=_HASHER.hash(password))
        if succeeded != credential:
            uow.staff_credentials.save(succeeded)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = ConsoleSession(
            tenant_id=tenant_id, id=ctx.new_id("ses"), user_id=user.id, token_hash=hash_secret(token),
            csrf_token_hash=hash_secret(csrf), created_at=now,
            expires_at=rules.session_absolute_expiry(now), last_seen_at=now,
        )  # fmt: skip
        uow.console_sessions.add(session)
        audit.record(
            ctx, uow, _user_actor(user), "staff.logged_in", object_type="user", object_id=user.id,
            before=None, after={"session_id": session.id, "ip": ip}, at=now,
        )  # fmt: skip
        uow.commit()
    return session, token, csrf


def session_for(
    ctx: ServiceContext, token: str, *, tenant_id: str | None = None
) -> tuple[Actor, User, ConsoleSession]:
    """The actor, user and session behind a session token, or LoginRefused("session_invalid").

    `tenant_id`, when the caller knows the tenant (from the URL), refuses another tenant's session."""
    now = ctx.clock.now()
    refused = LoginRefused("session_invalid", "Log in again: the session has ended.", None)
    with ctx.uow() as uow:
        session = uow.console_sessions.find_by_token_hash(hash_secret(token))
        if session is None or (tenant_id is not None and session.tenant_id != tenant_id):
            raise refused
        if not rules.session_active(session, now):
            raise refused
        user = uow.users.get(session.tenant_id, session.user_id)
        if user.deactivated_at is not None:
            raise refused
        if rules.needs_touch(session, now):
            session = replace(session, last_seen_at=now)
            uow.console_sessions.touch(session.tenant_id, session.id, now)
            uow.commit()
    return _user_actor(user), user, session


def check_csrf(session: ConsoleSession, token: str | None) -> None:
    """Refuse (403 `csrf_mismatch`) a form whose CSRF token is not the session's."""
    given = hash_secret(token) if isinstance(token, str) else ""
    if not hmac.compare_digest(given, session.csrf_token_hash):
        raise Forbidden("csrf_mismatch", "The form is stale or forged: reload the page and try again.", None)


def log_out(ctx: ServiceContext, token: str) -> None:
    """End the session; an unknown or ended one is already logged out."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        session = uow.console_sessions.find_by_token_hash(hash_secret(token))
        if session is None or session.revoked_at is not None:
            return
        uow.console_sessions.revoke(session.tenant_id, session.id, now)
        user = uow.users.get(session.tenant_id, session.user_id)
        audit.record(
            ctx, uow, _user_actor(user), "staff.logged_out", object_type="user", object_id=user.id,
            before=None, after={"session_id": session.id}, at=now,
        )  # fmt: skip
        uow.commit()


def _user_actor(user: User) -> Actor:
    return Actor(tenant_id=user.tenant_id, type=ActorType.USER, id=user.id)
