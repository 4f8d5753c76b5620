"""Who is in the portal: the customer behind the signed session cookie (opened by a magic link), their
locale for every text, and the CSRF token every form sends back."""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from kassa.core.access import hash_secret
from kassa.core.errors import Forbidden
from kassa.services import portal
from kassa.services.context import ServiceContext
from kassa.services.portal import PortalVisit

SESSION_COOKIE = "kassa_portal"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def csrf_for(session_token: str) -> str:
    """The form token of a session: derived from the cookie, which another site can neither read nor set."""
    return hash_secret("portal csrf\0" + session_token)[:40]


async def visitor(request: Request) -> PortalVisit:
    """The dependency of every portal page: the visit, or 401 `portal_session_invalid` (rendered as the
    "open your latest link" page); CSRF checked on writes."""
    token = request.cookies.get(SESSION_COOKIE, "")
    request.state.locale = "en"
    visit = await run_in_threadpool(portal.visit, context(request), token)
    request.state.visit = visit
    request.state.locale = visit.customer.locale
    request.state.csrf = csrf_for(token)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token")
        if sent is None:
            value = (await request.form()).get("csrf")
            sent = value if isinstance(value, str) else ""
        if not hmac.compare_digest(sent.encode(), request.state.csrf.encode()):
            raise Forbidden(
                "csrf_mismatch", "The form is stale or forged: reload the page and try again.", None
            )
    return visit
