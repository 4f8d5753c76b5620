"""Logging staff into the console with a TestClient (no browser): the session cookies stay on the client,
and `post` sends the CSRF token as the header the console checks."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kassa.core.access import Role
from kassa.server import create_app
from kassa.services import staff_auth, users
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess

PASSWORD = "correct horse battery staple"


def staff_user(ctx: ServiceContext, tenant: TenantAccess, role: Role) -> tuple[str, str]:
    """(user id, email) of a new staff user of `role` with the password PASSWORD."""
    email = f"{role.value.replace('_', '-')}@example.com"
    user = users.create_user(ctx, tenant.actor, email=email, name=role.value.replace("_", " ").title(),
                             role_name=role.value)  # fmt: skip
    _, token = staff_auth.invite(ctx, tenant.actor, user.id)
    staff_auth.accept_invitation(ctx, token, PASSWORD)
    return user.id, email


class Console:
    def __init__(self, ctx: ServiceContext, tenant: TenantAccess, role: Role) -> None:
        self.user_id, email = staff_user(ctx, tenant, role)
        self.client = TestClient(create_app(ctx), follow_redirects=False)
        answer = self.client.post(
            "/console/login", data={"tenant": tenant.id, "email": email, "password": PASSWORD}
        )
        assert answer.status_code == 303, answer.text

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        csrf = self.client.cookies.get("kassa_console_csrf")
        headers = {"X-CSRF-Token": csrf or "", "referer": kw.pop("referer", "")}
        return self.client.post(path, headers=headers, **kw)
