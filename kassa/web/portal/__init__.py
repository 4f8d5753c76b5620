"""The customers' self-service portal at /portal, reached by a signed, expiring magic link."""

from __future__ import annotations

from fastapi import FastAPI

from kassa.services.context import ServiceContext
from kassa.web import errors
from kassa.web.portal import (
    access,
    home,
    invoices,
    payment_methods,
    plan,
    preferences,
    support,
    usage,
    wallet,
)

PAGES = (access, home, invoices, payment_methods, usage, plan, wallet, support, preferences)


def create(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    for page in PAGES:
        app.include_router(page.router)
    errors.install(app, template="portal/error.html")
    return app
