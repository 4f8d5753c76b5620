"""Liveness and readiness, outside /v1 and without authentication."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kassa.api.deps import Ctx
from kassa.services.health import readiness

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    problems: dict[str, str] = {}


@router.get("/healthz", response_model=Health)
def live() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
def ready(ctx: Ctx) -> JSONResponse:
    """The database answers and its schema is current: safe to send traffic."""
    problems = readiness(ctx)
    body = Health(status="not_ready" if problems else "ready", problems=problems)
    return JSONResponse(body.model_dump(), status_code=503 if problems else 200)
