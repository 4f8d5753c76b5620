"""The staff console at /console: Jinja2 pages with htmx, each page module a router."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from kassa.services.context import ServiceContext
from kassa.web import errors
from kassa.web.console import (
    admin,
    billing,
    catalog,
    customers,
    dashboard,
    reconciliation,
    runs,
    session,
    support,
)
from kassa.web.console.auth import NeedsLogin

PAGES = (session, dashboard, customers, billing, reconciliation, runs, support, catalog, admin)


def create(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    for page in PAGES:
        app.include_router(page.router)
    errors.install(app, template="console/error.html")

    @app.exception_handler(NeedsLogin)
    async def needs_login(request: Request, error: NeedsLogin) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": error.next_url})
        return RedirectResponse(error.next_url, status_code=303)

    return app
