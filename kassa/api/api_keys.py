"""/v1/api_keys: create (the key is shown once), list (prefix only), rotate, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import Field

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, Output, PageOut, Text200, page_of
from kassa.core.access import ApiKey
from kassa.services import tenants

router = APIRouter(prefix="/api_keys", tags=["api keys"])
# The new key is in the body: no cache keeps it, and the idempotency layer stores no copy of it.
NO_STORE = "no-store"


class ApiKeyCreate(Input):
    name: Text200


class ApiKeyRotate(Input):
    grace_hours: Annotated[int, Field(ge=0, le=720)] = Field(
        24, description="How long the old key keeps working."
    )


class ApiKeyOut(Output):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="The whole key. Shown this once: kassa keeps only a hash of it.")


def _new(key: ApiKey, token: str) -> NewApiKeyOut:
    return NewApiKeyOut(**ApiKeyOut.of(key).model_dump(), key=token)


@router.post("", status_code=201, response_model=NewApiKeyOut)
def create_api_key(body: ApiKeyCreate, ctx: Ctx, actor: Caller, response: Response) -> NewApiKeyOut:
    response.headers["Cache-Control"] = NO_STORE
    return _new(*tenants.create_api_key(ctx, actor, body.name))


@router.get("", response_model=PageOut[ApiKeyOut])
def list_api_keys(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> PageOut[ApiKeyOut]:
    return page_of(tenants.list_api_keys(ctx, actor, limit=limit, cursor=cursor), ApiKeyOut.of)


@router.post("/{key_id}/rotate", status_code=201, response_model=NewApiKeyOut)
def rotate_api_key(
    key_id: Id, body: ApiKeyRotate, ctx: Ctx, actor: Caller, response: Response
) -> NewApiKeyOut:
    response.headers["Cache-Control"] = NO_STORE
    return _new(*tenants.rotate_api_key(ctx, actor, key_id, grace_hours=body.grace_hours))


@router.post("/{key_id}/revoke", response_model=ApiKeyOut)
def revoke_api_key(key_id: Id, ctx: Ctx, actor: Caller) -> ApiKeyOut:
    return ApiKeyOut.of(tenants.revoke_api_key(ctx, actor, key_id))
