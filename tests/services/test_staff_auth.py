"""Staff logins (issue 10): invitations, passwords, sessions, CSRF and roles, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from kassa.core.access import User
from kassa.core.audit import Actor, ActorType
from kassa.core.errors import DomainError
from kassa.core.staff_auth import StaffCredential
from kassa.services import audit, staff_auth, users
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess, make_tenant

PASSWORD = "correct horse battery"


def _staff(ctx: ServiceContext, actor: Actor, email: str = "ops@example.com", role: str = "admin") -> User:
    return users.create_user(ctx, actor, email=email, name="Ops", role_name=role)


def _with_password(ctx: ServiceContext, actor: Actor, user: User, password: str = PASSWORD) -> User:
    _, token = staff_auth.invite(ctx, actor, user.id)
    return staff_auth.accept_invitation(ctx, token, password)


def _code(error: pytest.ExceptionInfo[DomainError]) -> tuple[str, int]:
    return error.value.code, error.value.status


def test_invite_accept_log_in_use_the_session_and_log_out(
    ctx: ServiceContext, clock: SettableClock, tenant: TenantAccess, actor: Actor
) -> None:
    user = _staff(ctx, actor)
    invitation, token = staff_auth.invite(ctx, actor, user.id)
    assert invitation.expires_at == clock.now() + timedelta(hours=72)
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    assert staff_auth.accept_invitation(ctx, token, PASSWORD) == user
    with ctx.uow(read_only=True) as uow:
        credential = uow.staff_credentials.get(tenant.id, user.id)
    assert credential is not None and credential.password_hash.startswith("$argon2id$")
    assert PASSWORD not in credential.password_hash

    clock.advance(timedelta(minutes=5))
    session, session_token, csrf = staff_auth.log_in(
        ctx, tenant.id, "OPS@example.com", PASSWORD, ip="192.0.2.7"
    )
    assert (session.user_id, session.created_at, session.expires_at) == (
        user.id, clock.now(), clock.now() + timedelta(days=7)
    )  # fmt: skip
    assert session.token_hash == hashlib.sha256(session_token.encode()).hexdigest()
    found_actor, found_user, found = staff_auth.session_for(ctx, session_token, tenant_id=tenant.id)
    assert found_actor == Actor(tenant_id=tenant.id, type=ActorType.USER, id=user.id)
    assert (found_user, found) == (user, session)

    staff_auth.check_csrf(found, csrf)
    for forged in (session_token, "", None):
        with pytest.raises(DomainError) as refused:
            staff_auth.check_csrf(found, forged)
        assert _code(refused) == ("csrf_mismatch", 403)

    staff_auth.log_out(ctx, session_token)
    with pytest.raises(DomainError) as ended:
        staff_auth.session_for(ctx, session_token)
    assert _code(ended) == ("session_invalid", 401)
    staff_auth.log_out(ctx, session_token)  # twice is fine

    actions = [e.action for e in audit.list_audit_events(ctx, actor, object_id=user.id, limit=50).items]
    assert sorted(actions) == sorted(
        ["user.created", "staff.invited", "staff.password_set", "staff.logged_in", "staff.logged_out"]
    )


def test_an_invitation_works_once_within_72_hours_and_a_new_one_voids_the_old(
    ctx: ServiceContext, clock: SettableClock, actor: Actor
) -> None:
    user = _staff(ctx, actor)
    _, expired = staff_auth.invite(ctx, actor, user.id)
    clock.advance(timedelta(hours=72))
    with pytest.raises(DomainError) as refused:
        staff_auth.accept_invitation(ctx, expired, PASSWORD)
    assert _code(refused) == ("invitation_expired", 401)

    _, older = staff_auth.invite(ctx, actor, user.id)
    clock.advance(timedelta(hours=71, minutes=59))
    _, token = staff_auth.invite(ctx, actor, user.id)  # voids `older`, a minute before it would expire
    with pytest.raises(DomainError) as voided:
        staff_auth.accept_invitation(ctx, older, PASSWORD)
    assert _code(voided) == ("invitation_expired", 401)

    with pytest.raises(DomainError) as weak:
        staff_auth.accept_invitation(ctx, token, "ops@example.com")
    assert (weak.value.code, weak.value.field) == ("weak_password", "password")
    staff_auth.accept_invitation(ctx, token, PASSWORD)  # the weak attempt did not use it up
    with pytest.raises(DomainError) as reused:
        staff_auth.accept_invitation(ctx, token, "another good password")
    assert _code(reused) == ("invitation_used", 401)
    with pytest.raises(DomainError) as unknown:
        staff_auth.accept_invitation(ctx, "not-a-token", PASSWORD)
    assert _code(unknown) == ("invitation_invalid", 401)


def test_five_wrong_passwords_lock_the_login_until_exactly_fifteen_minutes_later(
    ctx: ServiceContext, clock: SettableClock, tenant: TenantAccess, actor: Actor
) -> None:
    user = _with_password(ctx, actor, _staff(ctx, actor))
    for _ in range(5):
        clock.advance(timedelta(seconds=10))
        with pytest.raises(DomainError) as wrong:
            staff_auth.log_in(ctx, tenant.id, user.email, "wrong password!", ip=None)
        assert _code(wrong) == ("invalid_credentials", 401)
    fifth = clock.now()
    with ctx.uow(read_only=True) as uow:
        credential = uow.staff_credentials.get(tenant.id, user.id)
    assert credential is not None and credential.locked_until == fifth + timedelta(minutes=15)

    clock.advance(timedelta(minutes=15) - timedelta(microseconds=1))
    with pytest.raises(DomainError) as locked:
        staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)  # even the right password
    assert _code(locked) == ("login_locked", 401)
    clock.advance(timedelta(microseconds=1))
    session, _, _ = staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)
    assert session.created_at == fifth + timedelta(minutes=15)
    with ctx.uow(read_only=True) as uow:
        assert uow.staff_credentials.get(tenant.id, user.id) == StaffCredential(
            tenant_id=tenant.id, user_id=user.id, password_hash=credential.password_hash,
            set_at=credential.set_at, failed_attempts=0, locked_until=None,
        )  # fmt: skip


def test_unknown_email_and_user_without_password_get_the_same_refusal(
    ctx: ServiceContext, tenant: TenantAccess, actor: Actor
) -> None:
    invited = _staff(ctx, actor)
    for email in ("nobody@example.com", invited.email):
        with pytest.raises(DomainError) as refused:
            staff_auth.log_in(ctx, tenant.id, email, PASSWORD, ip=None)
        assert _code(refused) == ("invalid_credentials", 401)


def test_another_tenants_token_and_login_find_nothing(
    ctx: ServiceContext, tenant: TenantAccess, actor: Actor
) -> None:
    user = _with_password(ctx, actor, _staff(ctx, actor))
    other = make_tenant(ctx, "Other Tenant")
    _, token, _ = staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)
    with pytest.raises(DomainError) as cross:
        staff_auth.session_for(ctx, token, tenant_id=other.id)
    assert _code(cross) == ("session_invalid", 401)
    assert staff_auth.session_for(ctx, token, tenant_id=tenant.id)[1] == user
    with pytest.raises(DomainError) as login:
        staff_auth.log_in(ctx, other.id, user.email, PASSWORD, ip=None)
    assert _code(login) == ("invalid_credentials", 401)
    with pytest.raises(DomainError) as invite:
        staff_auth.invite(ctx, other.actor, user.id)
    assert _code(invite) == ("user_not_found", 404)


def test_a_deactivated_user_cannot_log_in_and_loses_open_sessions(
    ctx: ServiceContext, tenant: TenantAccess, actor: Actor
) -> None:
    user = _with_password(ctx, actor, _staff(ctx, actor))
    _, token, _ = staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)
    users.update_user(ctx, actor, user.id, {"active": False})
    with pytest.raises(DomainError) as refused:
        staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)
    assert _code(refused) == ("invalid_credentials", 401)
    with pytest.raises(DomainError) as ended:
        staff_auth.session_for(ctx, token)
    assert _code(ended) == ("session_invalid", 401)


def test_sessions_end_after_12_idle_hours_and_last_seen_is_written_once_a_minute(
    ctx: ServiceContext, clock: SettableClock, tenant: TenantAccess, actor: Actor
) -> None:
    user = _with_password(ctx, actor, _staff(ctx, actor))
    session, token, _ = staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)
    clock.advance(timedelta(seconds=59))
    assert staff_auth.session_for(ctx, token)[2].last_seen_at == session.created_at
    clock.advance(timedelta(seconds=1))
    assert staff_auth.session_for(ctx, token)[2].last_seen_at == clock.now()
    seen = clock.now()
    with ctx.uow(read_only=True) as uow:
        stored = uow.console_sessions.get(tenant.id, session.id)
    assert stored is not None and stored.last_seen_at == seen
    clock.advance(timedelta(hours=12) - timedelta(microseconds=1))
    staff_auth.session_for(ctx, token)
    clock.advance(timedelta(hours=12))
    with pytest.raises(DomainError) as idle:
        staff_auth.session_for(ctx, token)
    assert _code(idle) == ("session_invalid", 401)


def test_only_an_admin_may_invite_and_an_api_key_counts_as_admin(
    ctx: ServiceContext, tenant: TenantAccess, actor: Actor
) -> None:
    target = _staff(ctx, actor, "new@example.com", "support")
    for n, role in enumerate(("finance", "support", "read_only")):
        staff = _with_password(ctx, actor, _staff(ctx, actor, f"staff{n}@example.com", role))
        _, token, _ = staff_auth.log_in(ctx, tenant.id, staff.email, PASSWORD, ip=None)
        as_staff = staff_auth.session_for(ctx, token)[0]
        with pytest.raises(DomainError) as refused:
            staff_auth.invite(ctx, as_staff, target.id)
        assert _code(refused) == ("forbidden", 403), role
    admin = _with_password(ctx, actor, _staff(ctx, actor, "admin@example.com", "admin"))
    _, token, _ = staff_auth.log_in(ctx, tenant.id, admin.email, PASSWORD, ip=None)
    as_admin = staff_auth.session_for(ctx, token)[0]
    assert staff_auth.invite(ctx, as_admin, target.id)[0].user_id == target.id
    users.update_user(ctx, actor, admin.id, {"role": "read_only"})  # the role is read on every call
    with pytest.raises(DomainError) as demoted:
        staff_auth.invite(ctx, as_admin, target.id)
    assert _code(demoted) == ("forbidden", 403)


def test_a_hash_with_old_parameters_is_upgraded_at_login(
    ctx: ServiceContext, tenant: TenantAccess, actor: Actor
) -> None:
    user = _with_password(ctx, actor, _staff(ctx, actor))
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    with ctx.uow() as uow:
        old = uow.staff_credentials.get(tenant.id, user.id)
        assert old is not None
        uow.staff_credentials.save(replace(old, password_hash=weak_hash))
        uow.commit()
    staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)
    with ctx.uow(read_only=True) as uow:
        new = uow.staff_credentials.get(tenant.id, user.id)
    assert new is not None and new.password_hash != weak_hash
    assert not PasswordHasher().check_needs_rehash(new.password_hash)
    staff_auth.log_in(ctx, tenant.id, user.email, PASSWORD, ip=None)  # the new hash verifies
