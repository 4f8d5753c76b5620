"""Staff users: the people the audit log, tickets and tasks name. Console login comes with the console."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kassa.core import parties
from kassa.core.access import User, role
from kassa.core.audit import Actor
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.pages import Page, check_limit
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork


def _view(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "deactivated_at": user.deactivated_at.isoformat() if user.deactivated_at else None,
    }


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise DomainError("invalid_text", "name is 1 to 200 characters.", "name")
    return value.strip()


def create_user(ctx: ServiceContext, actor: Actor, *, email: str, name: str, role_name: str) -> User:
    now = ctx.clock.now()
    user = User(
        tenant_id=actor.tenant_id,
        id=ctx.new_id("usr"),
        email=parties.email(email, "email").lower(),
        name=_name(name),
        role=role(role_name),
        created_at=now,
        updated_at=now,
    )
    with ctx.uow() as uow:
        uow.tenants.get(actor.tenant_id)  # the CLI names tenants by hand: an unknown one is a clear 404
        uow.users.add(user)
        audit.changed(
            ctx, uow, actor, EventType.USER_CREATED, object_type="user", object_id=user.id,
            before=None, after=_view(user), at=now, data={"id": user.id, **_view(user)},
        )  # fmt: skip
        uow.commit()
    return user


def get_user(ctx: ServiceContext, actor: Actor, user_id: str) -> User:
    with ctx.uow(read_only=True) as uow:
        return uow.users.get(actor.tenant_id, user_id)


def list_users(
    ctx: ServiceContext, actor: Actor, *, limit: int = 20, cursor: str | None = None
) -> Page[User]:
    with ctx.uow(read_only=True) as uow:
        return uow.users.list(actor.tenant_id, limit=check_limit(limit), cursor=cursor)


def update_user(ctx: ServiceContext, actor: Actor, user_id: str, changes: dict[str, Any]) -> User:
    unknown = set(changes) - {"email", "name", "role", "active"}
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown user field {name!r}.", name)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        user = uow.users.get(actor.tenant_id, user_id)
        updated = user
        if "email" in changes:
            updated = replace(updated, email=parties.email(changes["email"], "email").lower())
        if "name" in changes:
            updated = replace(updated, name=_name(changes["name"]))
        if "role" in changes:
            updated = replace(updated, role=role(changes["role"]))
        if "active" in changes:
            if not isinstance(changes["active"], bool):
                raise DomainError("invalid_boolean", "active is true or false.", "active")
            updated = replace(
                updated, deactivated_at=None if changes["active"] else (user.deactivated_at or now)
            )
        if updated != user:
            updated = replace(updated, updated_at=now)
            uow.users.update(updated)
            audit.changed(
                ctx, uow, actor, EventType.USER_UPDATED, object_type="user", object_id=user.id,
                before=_view(user), after=_view(updated), at=now, data={"id": user.id, **_view(updated)},
            )  # fmt: skip
        uow.commit()
    return updated


def assignee(uow: UnitOfWork, tenant_id: str, user_id: Any, what: str) -> str | None:
    """An active staff user of the tenant to assign `what` (a ticket, a dispute) to, or None to leave it
    unassigned."""
    if user_id is None:
        return None
    if isinstance(user_id, str) and len(user_id) <= 40:
        try:
            user = uow.users.get(tenant_id, user_id)
        except NotFound:
            user = None
        if user is not None and user.deactivated_at is None:
            return user.id
    raise DomainError(
        "invalid_assignee", f"No active user {user_id!r} to assign the {what} to.", "assignee_id"
    )
