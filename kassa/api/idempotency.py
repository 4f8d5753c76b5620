"""Idempotency-Key on every POST under /v1, as ASGI middleware so the response can be stored whole."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kassa.api.problems import PROBLEM_TYPE, problem_body
from kassa.core.errors import DomainError
from kassa.services import idempotency
from kassa.services.context import ServiceContext
from kassa.services.tenants import authenticate

REPLAYED = b"idempotent-replayed"


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, context: Callable[[], ServiceContext]) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        key_header = headers.get(b"idempotency-key")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or key_header is None
            or not scope["path"].startswith("/v1/")
        ):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        ctx = self.context()
        state = scope.setdefault("state", {})
        try:
            actor = await run_in_threadpool(
                authenticate,
                ctx,
                headers.get(b"authorization", b"").decode("latin-1"),
                state.get("request_id"),
            )
        except DomainError:
            actor = None  # the route answers 401 itself
        if actor is None:
            await self.app(scope, _replay_body(body), send)
            return
        state["actor"] = actor
        key = key_header.decode("latin-1")
        digest = hashlib.sha256(
            b"\0".join(
                [scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body]
            )
        ).hexdigest()
        try:
            replay = await run_in_threadpool(idempotency.begin, ctx, actor.tenant_id, key, digest)
        except DomainError as error:
            await _problem(send, error, state.get("request_id"))
            return
        if replay is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": replay.status,
                    "headers": [
                        (b"content-type", (replay.content_type or "application/json").encode()),
                        (REPLAYED, b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": replay.body})
            return

        status = 500
        content_type: str | None = None
        no_store = False
        chunks: list[bytes] = []
        finished = False

        async def finish() -> None:
            if status >= 500:  # our failure wrote nothing: let the client retry with the same key
                await run_in_threadpool(idempotency.release, ctx, actor.tenant_id, key)
                return
            stored, stored_type, stored_status = b"".join(chunks), content_type, status
            if no_store:  # it carried a secret shown once (a new API key): remember that, not the secret
                problem = problem_body(
                    409, "secret_not_replayed",
                    "The first response to this Idempotency-Key held a secret that is shown only once; it is not "
                    "replayed. The object was created: find it in its list, and revoke it if the secret is lost.",
                    request_id=state.get("request_id"),
                )  # fmt: skip
                stored, stored_type, stored_status = json.dumps(problem).encode(), PROBLEM_TYPE, 409
            await run_in_threadpool(
                idempotency.complete, ctx, actor.tenant_id, key, stored_status, stored, stored_type
            )

        async def capture(message: Message) -> None:
            nonlocal status, content_type, no_store, finished
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", ()))
                content_type = headers.get(b"content-type", b"").decode("latin-1") or None
                no_store = b"no-store" in headers.get(b"cache-control", b"")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body") and not finished:
                # Recorded as soon as the answer is out: background work after it (a test clock advance
                # answered 202) must not keep the key busy.
                finished = True
                await finish()

        try:
            await self.app(scope, _replay_body(body), capture)
        finally:
            if not finished:  # no complete answer went out: nothing to replay, the client may retry
                status = 500
                await finish()


def _replay_body(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _problem(send: Send, error: DomainError, request_id: str | None) -> None:
    body = problem_body(error.status, error.code, error.message, field=error.field, request_id=request_id)
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [(b"content-type", PROBLEM_TYPE.encode())],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})
