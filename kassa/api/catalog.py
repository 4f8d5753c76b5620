"""/v1/catalog: apply a catalog document (a new version) and read the versions back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Input, Instant
from kassa.core.errors import DomainError, prefixed
from kassa.services import catalog
from kassa.services.catalog import AppliedCatalog

router = APIRouter(prefix="/catalog", tags=["catalog"])

Number = Annotated[int, Path(ge=1, le=2_000_000_000)]


class CatalogApply(Input):
    document: dict[str, Any] = Field(
        description="The catalog (docs/catalog.md): products with plans and phases, add-ons, families. "
        "Prices are strings. An error's `field` is the path in here, like `document.products.0.plans.1.code`."
    )
    effective_at: Instant | None = Field(
        None, description="When the version takes effect (default: now); not before the latest version's."
    )


class CatalogVersionOut(BaseModel):
    number: int
    name: str | None
    effective_at: datetime
    created_at: datetime
    document: dict[str, Any]

    @classmethod
    def of(cls, applied: AppliedCatalog) -> CatalogVersionOut:
        return cls(
            number=applied.number, name=applied.name, effective_at=applied.effective_at,
            created_at=applied.created_at, document=applied.document,
        )  # fmt: skip


class CatalogVersionList(BaseModel):
    items: list[CatalogVersionOut]


@router.post("", status_code=201, response_model=CatalogVersionOut)
def apply_catalog(body: CatalogApply, ctx: Ctx, actor: Caller) -> CatalogVersionOut:
    try:
        applied = catalog.apply_catalog(ctx, actor, body.document, effective_at=body.effective_at)
    except DomainError as error:
        if error.field != "effective_at":
            raise prefixed(error, "document") from None
        raise
    return CatalogVersionOut.of(applied)


@router.get("", response_model=CatalogVersionOut)
def get_catalog(
    ctx: Ctx,
    actor: Caller,
    moment: Annotated[Instant | None, Query(alias="at", description="Default: now.")] = None,
) -> CatalogVersionOut:
    """The version in effect at `at`."""
    return CatalogVersionOut.of(catalog.get_catalog(ctx, actor, at=moment))


@router.get("/versions", response_model=CatalogVersionList)
def list_versions(ctx: Ctx, actor: Caller) -> CatalogVersionList:
    """Every applied version, newest first."""
    return CatalogVersionList(items=[CatalogVersionOut.of(a) for a in catalog.list_versions(ctx, actor)])


@router.get("/versions/{number}", response_model=CatalogVersionOut)
def get_version(number: Number, ctx: Ctx, actor: Caller) -> CatalogVersionOut:
    return CatalogVersionOut.of(catalog.get_version(ctx, actor, number))
