"""Errors on web pages: a domain error is shown as a message on the page (for htmx, in the page's flash
area), never as problem+json, and never as a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from kassa.core.errors import DomainError
from kassa.web.templating import render

log = logging.getLogger(__name__)


def show(request: Request, status: int, code: str, message: str, *, template: str) -> HTMLResponse:
    htmx = request.headers.get("hx-request") == "true"
    response = render(
        request, "error_flash.html" if htmx else template, status_code=status, code=code, message=message
    )
    if htmx:  # the flash area of whatever page sent the request, whatever it targeted
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def install(app: FastAPI, *, template: str) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> HTMLResponse:
        message = error.message + (f" ({error.field})" if error.field else "")
        return show(request, error.status, error.code, message, template=template)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> HTMLResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        message = f"{first.get('msg', 'Invalid input')}" + (f" ({where})" if where else "")
        return show(request, 422, "invalid_request", message, template=template)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> HTMLResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return show(request, error.status_code, code, str(error.detail), template=template)

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> HTMLResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return show(request, 500, "internal_error", "Something went wrong on our side; nothing was written.",
                    template=template)  # fmt: skip
