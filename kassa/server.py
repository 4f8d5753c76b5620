"""The one ASGI app: /v1 (the API), /console (staff) and /portal (customers), /assets, /metrics
(Prometheus), /healthz and /readyz, /docs and /openapi.json."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kassa import __version__, web
from kassa.api import (
    api_keys,
    audit_events,
    billable_metrics,
    catalog,
    costs,
    coupons,
    customers,
    disputes,
    entitlements,
    events,
    exchange_rates,
    exports,
    health,
    invoices,
    leads,
    ledger,
    messages,
    offers,
    payments,
    portal_links,
    problems,
    provisioning,
    rating,
    recurring_revenue,
    reports,
    settings,
    subscriptions,
    test_clocks,
    tickets,
    usage_events,
    users,
    wallets,
    webhooks,
)
from kassa.api.deps import actor, refuse_nul
from kassa.api.idempotency import IdempotencyMiddleware
from kassa.api.observability import Metrics, ObservabilityMiddleware, RequestIdFilter
from kassa.services.context import ServiceContext

DESCRIPTION = """kassa's API. Authenticate with `Authorization: Bearer <api key>`. Amounts are strings
(`{"amount": "12.34", "currency": "EUR"}`); errors are RFC 9457 problem+json with a stable `code` and the
`field` at fault; every POST takes an `Idempotency-Key`; lists page with `limit` and `cursor`."""


def create_app(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(title="kassa", version=__version__, description=DESCRIPTION, openapi_url="/openapi.json")
    app.state.ctx = ctx
    app.include_router(health.router)
    for module in (
        customers, catalog, subscriptions, billable_metrics, usage_events, rating, invoices, coupons, ledger, events,
        settings, api_keys, users, test_clocks, audit_events, webhooks, payments, reports, costs,
        recurring_revenue,
        exchange_rates, exports, tickets, messages, provisioning, disputes, leads, offers, entitlements,
        wallets, portal_links,
    ):  # fmt: skip
        app.include_router(
            module.router,
            prefix="/v1",
            responses=problems.PROBLEM_RESPONSES,
            dependencies=[Depends(actor), Depends(refuse_nul)],
        )
    app.include_router(
        reports.revenue_router,
        prefix="/v1",
        responses=problems.PROBLEM_RESPONSES,
        dependencies=[Depends(actor), Depends(refuse_nul)],
    )
    app.include_router(
        payments.gateway_router,
        prefix="/v1",
        responses=problems.PROBLEM_RESPONSES,
        dependencies=[Depends(refuse_nul)],
    )  # signed by the gateway, not by an API key
    # the unsubscribe page emails link to: the signed token is the authority, no API key
    app.include_router(messages.public_router, dependencies=[Depends(refuse_nul)])
    problems.install(app)
    web.mount(app, ctx)

    metrics = Metrics()

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(IdempotencyMiddleware, context=lambda: ctx)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
    return app


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key to retry safely: the first response is replayed (header "
    "`idempotent-replayed: true`) instead of doing the work twice. Reusing a key for another request "
    "is a 409. Visible ASCII, e.g. a UUID.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with every error response as application/problem+json of the Problem schema
    (FastAPI would declare application/json and its own validation error shape)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for route, path in schema["paths"].items():
        for method, operation in path.items():
            if method == "post" and route.startswith("/v1/"):
                # IdempotencyMiddleware reads the header, so FastAPI cannot document it by itself
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")) and status != "503":
                    response["content"] = {problems.PROBLEM_TYPE: {"schema": problem_ref}}
                    response["description"] = problems.TITLES.get(
                        int(status), response.get("description", "Error")
                    )
            if "parameters" in operation or "requestBody" in operation:
                responses.setdefault(
                    "422",
                    {
                        "description": "Invalid request",
                        "content": {problems.PROBLEM_TYPE: {"schema": problem_ref}},
                    },
                )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    app.openapi_schema = schema
    return schema


def app_from_environment() -> FastAPI:
    """The app of one server process of several (`kassa serve --workers N`): each builds its own context
    from the environment, as the first did."""
    from kassa import bootstrap, config

    settings = config.load()
    bootstrap.setup_logging(settings)
    return create_app(bootstrap.build_context(settings))


def serve(ctx: ServiceContext, *, host: str, port: int, with_worker: bool = True, processes: int = 1) -> None:
    """Serve the app until Ctrl-C; with a worker thread beside it, so one process is a whole kassa. With
    several server processes (one request at a time is bound to a core by Python), the job worker still runs
    once, in this supervising process."""
    import threading

    import uvicorn

    from kassa import worker

    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(ctx, stop), name="kassa-worker", daemon=True)
    if with_worker:
        thread.start()
    try:
        if processes > 1:
            uvicorn.run("kassa.server:app_from_environment", factory=True, workers=processes, host=host, port=port,
                        log_config=None, access_log=False)  # fmt: skip
        else:
            uvicorn.run(create_app(ctx), host=host, port=port, log_config=None, access_log=False)
    finally:
        stop.set()
        if with_worker:
            thread.join(timeout=10)
