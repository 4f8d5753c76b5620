"""Logging in and out, and setting a password from an invitation link."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.errors import DomainError
from kassa.services import staff_auth
from kassa.web.console.auth import CSRF_COOKIE, SESSION_COOKIE, context
from kassa.web.templating import render

router = APIRouter()
SESSION_MAX_AGE = 7 * 24 * 3600  # the session's absolute lifetime; the server ends it sooner when idle


def _next(value: str | None) -> str:
    """Only a console path: a login must never redirect to another site."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"


def _cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name, value, max_age=SESSION_MAX_AGE, path="/console", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip


@router.get("/login")
async def login_page(request: Request, tenant: str = "", next: str = "") -> Response:
    return render(request, "console/login.html", tenant=tenant, email="", next=_next(next), error=None)


@router.post("/login")
async def login(
    request: Request,
    tenant: Annotated[str, Form()],
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    ip = request.client.host if request.client else None
    try:
        _, token, csrf = await run_in_threadpool(
            staff_auth.log_in, context(request), tenant.strip(), email, password, ip=ip
        )
    except DomainError as error:
        return render(request, "console/login.html", status_code=error.status, tenant=tenant, email=email,
                      next=_next(next), error=error.message)  # fmt: skip
    response = RedirectResponse(_next(next), status_code=303)
    _cookie(response, request, SESSION_COOKIE, token)
    _cookie(response, request, CSRF_COOKIE, csrf)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(staff_auth.log_out, context(request), token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console")
    response.delete_cookie(CSRF_COOKIE, path="/console")
    return response


@router.get("/invitations/{token}")
async def invitation_page(request: Request, token: str) -> Response:
    return render(request, "console/invitation.html", token=token, error=None)


@router.post("/invitations/{token}")
async def accept_invitation(request: Request, token: str, password: Annotated[str, Form()]) -> Response:
    try:
        user = await run_in_threadpool(staff_auth.accept_invitation, context(request), token, password)
    except DomainError as error:
        return render(request, "console/invitation.html", status_code=error.status, token=token,
                      error=error.message)  # fmt: skip
    return RedirectResponse(f"/console/login?tenant={user.tenant_id}", status_code=303)
