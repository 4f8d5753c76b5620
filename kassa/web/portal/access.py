"""Opening a magic link: the signed link becomes a portal session cookie, and the customer lands on the
portal's home page (the link leaves the address bar, so it is not kept in history or shared by accident)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.portal_links import SESSION_LIFETIME
from kassa.services import portal
from kassa.web.portal.auth import SESSION_COOKIE, context

router = APIRouter()


@router.get("/open/{token}")
async def open_link(request: Request, token: str) -> Response:
    _, session = await run_in_threadpool(portal.open_link, context(request), token)
    response = RedirectResponse("/portal/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session, max_age=int(SESSION_LIFETIME.total_seconds()), path="/portal", httponly=True,
        samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
