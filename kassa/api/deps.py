"""Request dependencies: the service context and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from kassa.core.audit import Actor
from kassa.services.context import ServiceContext
from kassa.services.tenants import authenticate

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer kassa_…`")


# Dependencies are async so they run on the event loop: a sync dependency costs a thread hop each.
async def context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


async def actor(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    known: Actor | None = getattr(request.state, "actor", None)  # the idempotency layer may have done it
    if known is not None:
        return known
    ctx: ServiceContext = request.app.state.ctx
    found = await run_in_threadpool(
        authenticate, ctx, request.headers.get("authorization"), getattr(request.state, "request_id", None)
    )
    request.state.actor = found
    return found


Ctx = Annotated[ServiceContext, Depends(context)]
Caller = Annotated[Actor, Depends(actor)]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
Cursor = Annotated[str | None, Query(max_length=40, description="`next_cursor` of the previous page.")]
