"""Request dependencies: the service context and the authenticated actor."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.ids import ID_PATTERN
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


# A JSON \u0000 escape that is not itself an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NUL_MESSAGE = "Text cannot contain the NUL character (U+0000)."


async def refuse_nul(request: Request) -> None:
    """PostgreSQL cannot store U+0000 in text and no kassa text needs it: refuse it up front, naming the
    field, rather than fail in the database with a 500 (SQLite would store it, so it must not get that far)."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise DomainError("invalid_text", _NUL_MESSAGE, name.replace("\x00", "") or None)
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise DomainError("invalid_text", _NUL_MESSAGE, name)
    body = await request.body()
    if not body or not _NUL_ESCAPE.search(body):  # the common case: one scan, no second parse
        return
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON: a route with a body refuses it itself, one without ignores it
    found = _nul_at(document)
    if found is not None:
        raise DomainError("invalid_text", _NUL_MESSAGE, ".".join(found) or None)


def _nul_at(document: Any) -> tuple[str, ...] | None:
    """The path of the first string (value or key) holding U+0000, or None. A loop, not recursion: the
    body may be nested as deep as the JSON parser allows."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(document, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return path
        elif isinstance(node, dict):
            if any("\x00" in key for key in node):
                return path
            stack.extend((value, (*path, key)) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((value, (*path, str(i))) for i, value in reversed(list(enumerate(node))))
    return None


Ctx = Annotated[ServiceContext, Depends(context)]
Caller = Annotated[Actor, Depends(actor)]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1 to 100.")]
Cursor = Annotated[
    str | None,
    Query(max_length=40, pattern=ID_PATTERN.pattern, description="`next_cursor` of the previous page."),
]
