"""Who is asking: the staff user behind the session cookie, their role checked on every page and action,
and the CSRF token every form and htmx request must send back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kassa.core.access import Permission, User, may
from kassa.core.audit import Actor
from kassa.core.errors import Forbidden
from kassa.core.staff_auth import ConsoleSession, LoginRefused
from kassa.services import staff_auth
from kassa.services.context import ServiceContext

SESSION_COOKIE = "kassa_console"
CSRF_COOKIE = "kassa_console_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Staff:
    actor: Actor
    user: User
    session: ConsoleSession

    def may(self, permission: Permission | str) -> bool:
        return may(self.user.role, Permission(permission))


class NeedsLogin(Exception):
    """No valid session: the console answers with the login page (htmx: a redirect header)."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def login_url(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/console/login?next={quote(here, safe='')}"


async def _staff(request: Request) -> Staff:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NeedsLogin(login_url(request))
    try:
        actor, user, session = await run_in_threadpool(staff_auth.session_for, context(request), token)
    except LoginRefused:
        raise NeedsLogin(login_url(request)) from None
    staff = Staff(actor=actor, user=user, session=session)
    request.state.staff = staff
    request.state.csrf = request.cookies.get(CSRF_COOKIE, "")
    request.state.locale = "en"
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None:
            form = await request.form()
            value = form.get("csrf")
            sent = value if isinstance(value, str) else None
        staff_auth.check_csrf(session, sent)
    return staff


def allowed(permission: Permission) -> Callable[[Request], Awaitable[Staff]]:
    """A dependency: the staff user, if their role may do `permission` (else 403), CSRF checked on writes."""

    async def dependency(request: Request) -> Staff:
        staff = await _staff(request)
        if not staff.may(permission):
            raise Forbidden("forbidden", f"Your role ({staff.user.role.value}) may not do this.", None)
        return staff

    return dependency


viewer = allowed(Permission.VIEW)
