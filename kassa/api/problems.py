"""RFC 9457 problem details: every error is application/problem+json with a stable code and field path."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from kassa.core.errors import DomainError

PROBLEM_TYPE = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorized", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
          413: "Payload too large", 415: "Unsupported media type", 422: "Invalid request", 500: "Internal error"}  # fmt: skip
log = logging.getLogger("kassa.api")


class FieldError(BaseModel):
    code: str
    field: str | None
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    request_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": f"https://kassa.dev/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "field": field,
        "request_id": request_id,
        **extra,
    }


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    request: Request | None = None,
    **extra: Any,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body = problem_body(status, code, detail, field=field, request_id=request_id, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE)


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _code(error: dict[str, Any]) -> tuple[str, str]:
    """Pydantic's error, in kassa's words. A JSON number where an amount string belongs is the one
    clients get wrong most, so it gets its own code."""
    kind = error.get("type", "")
    loc = error.get("loc", ())
    if kind == "string_type" and loc and loc[-1] == "amount":
        return (
            "amount_must_be_string",
            'Amounts are strings like "12.34", never JSON numbers (a float is inexact).',
        )
    if kind == "missing":
        return "required", "This field is required."
    if kind == "extra_forbidden":
        return "unknown_field", "This field is not part of the request."
    if kind == "json_invalid":
        return "invalid_json", f"The body is not valid JSON: {error.get('ctx', {}).get('error', '')}".strip()
    return "invalid_value", str(error.get("msg", "Invalid value."))


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> JSONResponse:
        return problem(error.status, error.code, error.message, field=error.field, request=request)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, str | None]] = []
        for item in error.errors():
            code, message = _code(item)
            # a JSON syntax error's loc is ("body", <character offset>): a position, not a field
            field = None if code == "invalid_json" else _field(tuple(item.get("loc", ())))
            errors.append({"code": code, "field": field, "message": message})
        first = (
            errors[0] if errors else {"code": "invalid_request", "message": "Invalid request.", "field": None}
        )
        code, message = str(first["code"]), str(first["message"])
        status = 400 if code == "invalid_json" else 422
        return problem(status, code, message, field=first["field"], request=request, errors=errors)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # FastAPI's only 400 is a body it could not parse (not UTF-8, nested too deep): bad JSON, as
        # for a syntax error, so clients branch on one code
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            error.status_code, "http_error"
        )
        response = problem(error.status_code, code, str(error.detail), request=request)
        if error.headers:
            response.headers.update(error.headers)
        return response

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(
            500, "internal_error", "Something went wrong on our side; nothing was written.", request=request
        )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_TYPE: {}}, "description": TITLES[status]}
    for status in (400, 401, 404, 409, 422)
}
