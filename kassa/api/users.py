"""/v1/users: staff users (admin, finance, support, read_only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, PageOut, Text200, page_of
from kassa.core.access import Role, User
from kassa.services import users

router = APIRouter(prefix="/users", tags=["users"])
Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]


class UserCreate(Input):
    email: Email
    name: Text200
    role: Role


class UserUpdate(Input):
    email: Email | None = None
    name: Text200 | None = None
    role: Role | None = None
    active: bool | None = None


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    active: bool
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            id=u.id,
            email=u.email,
            name=u.name,
            role=u.role,
            active=u.deactivated_at is None,
            created_at=u.created_at,
            updated_at=u.updated_at,
            deactivated_at=u.deactivated_at,
        )


@router.post("", status_code=201, response_model=UserOut)
def create_user(body: UserCreate, ctx: Ctx, actor: Caller) -> UserOut:
    return UserOut.of(
        users.create_user(ctx, actor, email=body.email, name=body.name, role_name=body.role.value)
    )


@router.get("", response_model=PageOut[UserOut])
def list_users(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> PageOut[UserOut]:
    return page_of(users.list_users(ctx, actor, limit=limit, cursor=cursor), UserOut.of)


@router.get("/{user_id}", response_model=UserOut)
def get_user(user_id: Id, ctx: Ctx, actor: Caller) -> UserOut:
    return UserOut.of(users.get_user(ctx, actor, user_id))


@router.patch("/{user_id}", response_model=UserOut)
def update_user(user_id: Id, body: UserUpdate, ctx: Ctx, actor: Caller) -> UserOut:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True, mode="json").items() if v is not None}
    return UserOut.of(users.update_user(ctx, actor, user_id, changes))
