"""Tenants, their API keys and staff users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.access import ApiKey, Role, User
from kassa.core.errors import Conflict, NotFound
from kassa.core.pages import Page
from kassa.core.tenants import Tenant, TenantSettings, settings_from_json
from kassa.store.constraints import execute_unique
from kassa.store.pages import page
from kassa.store.tables import api_keys, tenants, users


class Tenants:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, tenant: Tenant) -> None:
        self.conn.execute(
            tenants.insert().values(
                id=tenant.id,
                name=tenant.name,
                settings=tenant.settings.to_json(),
                created_at=tenant.created_at,
                updated_at=tenant.updated_at,
            )
        )

    def get(self, tenant_id: str, *, for_update: bool = False) -> Tenant:
        query = sa.select(tenants).where(tenants.c.id == tenant_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("tenant", tenant_id)
        return Tenant(
            id=row.id,
            name=row.name,
            settings=settings_from_json(row.settings),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def save_settings(self, tenant_id: str, settings: TenantSettings, at: datetime) -> None:
        self.conn.execute(
            tenants.update()
            .where(tenants.c.id == tenant_id)
            .values(settings=settings.to_json(), updated_at=at)
        )

    def list_all(self) -> list[Tenant]:
        """Every tenant: for operators (CLI) only, never reachable through the API."""
        rows = self.conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id)).scalars().all()
        return [self.get(tenant_id) for tenant_id in rows]


def _api_key(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(
        tenant_id=row.tenant_id,
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class ApiKeys:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, key: ApiKey, secret_hash: str) -> None:
        self.conn.execute(
            api_keys.insert().values(
                tenant_id=key.tenant_id,
                id=key.id,
                name=key.name,
                prefix=key.prefix,
                secret_hash=secret_hash,
                created_at=key.created_at,
                expires_at=key.expires_at,
            )
        )

    def find_by_prefix(self, prefix: str) -> tuple[ApiKey, str] | None:
        """The one lookup not scoped by tenant: the key itself is what tells us the tenant."""
        row = self.conn.execute(sa.select(api_keys).where(api_keys.c.prefix == prefix)).first()
        return None if row is None else (_api_key(row), row.secret_hash)

    def get(self, tenant_id: str, key_id: str) -> ApiKey:
        row = self.conn.execute(
            sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
        ).first()
        if row is None:
            raise NotFound("api_key", key_id)
        return _api_key(row)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[ApiKey]:
        query = sa.select(api_keys).where(api_keys.c.tenant_id == tenant_id)
        return page(self.conn, query, api_keys.c.id, limit=limit, cursor=cursor, to_item=_api_key)

    def revoke(self, tenant_id: str, key_id: str, at: datetime) -> None:
        self.conn.execute(
            api_keys.update()
            .where(
                api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
            )
            .values(revoked_at=at)
        )

    def expire(self, tenant_id: str, key_id: str, at: datetime) -> None:
        """Set the key to stop working at `at`, unless it already stops earlier."""
        c = api_keys.c
        self.conn.execute(
            api_keys.update()
            .where(
                c.tenant_id == tenant_id, c.id == key_id, sa.or_(c.expires_at.is_(None), c.expires_at > at)
            )
            .values(expires_at=at)
        )

    def touch(self, tenant_id: str, key_id: str, at: datetime) -> None:
        self.conn.execute(
            api_keys.update()
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id)
            .values(last_used_at=at)
        )


def _user(row: sa.Row[Any]) -> User:
    return User(
        tenant_id=row.tenant_id,
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        updated_at=row.updated_at,
        deactivated_at=row.deactivated_at,
    )


class Users:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _write(self, user: User, statement: sa.Executable) -> None:
        taken = Conflict("email_taken", f"A user with email {user.email!r} exists.", "email")
        query = sa.select(users.c.id).where(
            users.c.tenant_id == user.tenant_id, users.c.email == user.email, users.c.id != user.id
        )
        if self.conn.execute(query).first() is not None:
            raise taken
        execute_unique(self.conn, statement, "email", taken)

    def add(self, user: User) -> None:
        self._write(user, users.insert().values(**_user_values(user)))

    def update(self, user: User) -> None:
        statement = users.update().where(users.c.tenant_id == user.tenant_id, users.c.id == user.id)
        self._write(user, statement.values(**_user_values(user)))

    def get(self, tenant_id: str, user_id: str) -> User:
        row = self.conn.execute(
            sa.select(users).where(users.c.tenant_id == tenant_id, users.c.id == user_id)
        ).first()
        if row is None:
            raise NotFound("user", user_id)
        return _user(row)

    def find_by_email(self, tenant_id: str, email: str) -> User | None:
        """The user with this email (compared lower-cased, as it is stored), or None: console login."""
        row = self.conn.execute(
            sa.select(users).where(users.c.tenant_id == tenant_id, users.c.email == email.strip().lower())
        ).first()
        return None if row is None else _user(row)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[User]:
        query = sa.select(users).where(users.c.tenant_id == tenant_id)
        return page(self.conn, query, users.c.id, limit=limit, cursor=cursor, to_item=_user)


def _user_values(user: User) -> dict[str, Any]:
    return {
        "tenant_id": user.tenant_id,
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "deactivated_at": user.deactivated_at,
    }
