"""Offers (issue 9): rule documents by code, versioned; and the offers that apply to a customer now, with
the reasons. See docs/leads-and-offers.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictInt, StringConstraints

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Id, Input
from kassa.core.offers import MAX_PRIORITY, Decision, OfferVersion, to_doc
from kassa.services import offers

router = APIRouter(tags=["offers"])

OfferCode = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$", description="The offer's code."),
]
Stamp = Annotated[str, StringConstraints(min_length=11, max_length=40)]


class OfferIn(Input):
    """The rule document core.offers validates; errors name the path in it (`conditions.all.0.op`)."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Optional; the path's code when given.")  # fmt: skip
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(min_length=1, max_length=1000)] | None = None
    priority: Annotated[StrictInt, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY)] = Field(
        0, description="Higher first when several apply.")  # fmt: skip
    starts_at: Stamp | None = Field(None, examples=["2026-06-01T00:00:00+02:00"], description="Included.")
    ends_at: Stamp | None = Field(None, description="Excluded.")
    benefit: dict[str, Any] = Field(
        examples=[{"type": "coupon", "coupon": "LOYAL10"}],
        description="plan {plan}, coupon {coupon}, trial {plan, days} or price {plan, price}.",
    )
    conditions: dict[str, Any] = Field(
        examples=[{"all": [{"field": "customer.tenure_days", "op": "gte", "value": 60}]}],
        description='all / any / not over {field, op, value}; {"all": []}: every customer.',
    )


class OfferOut(BaseModel):
    object: Literal["offer"]
    code: str
    version: int
    name: str
    description: str | None
    priority: int
    starts_at: str | None
    ends_at: str | None
    benefit: dict[str, Any]
    conditions: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, found: OfferVersion) -> OfferOut:
        assert found.offer is not None  # the service answers 404 for a withdrawn offer
        return cls.model_validate({"object": "offer", **to_doc(found.offer), "version": found.version,
                                   "created_at": found.created_at})  # fmt: skip


class OfferList(BaseModel):
    data: list[OfferOut]
    has_more: bool
    next_cursor: str | None


class VersionOut(BaseModel):
    version: int
    withdrawn: bool
    created_at: datetime
    offer: OfferOut | None


class VersionList(BaseModel):
    data: list[VersionOut]
    has_more: bool
    next_cursor: str | None


class DecisionOut(BaseModel):
    code: str
    applies: bool
    reasons: list[str]
    offer: OfferOut

    @classmethod
    def of(cls, decision: Decision, versions: dict[str, OfferVersion]) -> DecisionOut:
        return cls(code=decision.code, applies=decision.applies, reasons=list(decision.reasons),
                   offer=OfferOut.of(versions[decision.code]))  # fmt: skip


class CustomerOffers(BaseModel):
    object: Literal["customer_offers"]
    customer_id: str
    at: Annotated[datetime, Field(description="The instant decided at: the customer's test clock, or now.")]
    data: list[DecisionOut] = Field(description="Best first: priority, then code.")


@router.put("/offers/{offer_code}", response_model=OfferOut,
            responses={201: {"model": OfferOut, "description": "A new version was stored."}})  # fmt: skip
def put_offer(offer_code: OfferCode, body: OfferIn, ctx: Ctx, actor: Caller, response: Response) -> OfferOut:
    """Store the document as the offer's next version (201); the same document again stores nothing (200)."""
    stored, new = offers.put_offer(ctx, actor, offer_code, body.model_dump(exclude_unset=True))
    response.status_code = 201 if new else 200
    return OfferOut.of(stored)


@router.get("/offers", response_model=OfferList)
def list_offers(ctx: Ctx, actor: Caller) -> OfferList:
    """The offers in force (not withdrawn), each at its current version, by code."""
    return OfferList(data=[OfferOut.of(v) for v in offers.list_offers(ctx, actor)], has_more=False,
                     next_cursor=None)  # fmt: skip


@router.get("/offers/{offer_code}", response_model=OfferOut)
def get_offer(offer_code: OfferCode, ctx: Ctx, actor: Caller) -> OfferOut:
    return OfferOut.of(offers.get_offer(ctx, actor, offer_code))


@router.get("/offers/{offer_code}/versions", response_model=VersionList)
def offer_versions(offer_code: OfferCode, ctx: Ctx, actor: Caller) -> VersionList:
    """Every version, oldest first; a withdrawal is a version without an offer."""
    found = [VersionOut(version=v.version, withdrawn=v.offer is None, created_at=v.created_at,
                        offer=None if v.offer is None else OfferOut.of(v))
             for v in offers.offer_versions(ctx, actor, offer_code)]  # fmt: skip
    return VersionList(data=found, has_more=False, next_cursor=None)


@router.delete("/offers/{offer_code}", status_code=204)
def withdraw_offer(offer_code: OfferCode, ctx: Ctx, actor: Caller) -> Response:
    """Withdraw the offer: a version without a document. GET answers 404 until it is put again."""
    offers.withdraw_offer(ctx, actor, offer_code)
    return Response(status_code=204)


@router.get("/customers/{customer_id}/offers", response_model=CustomerOffers)
def customer_offers(
    customer_id: Id,
    ctx: Ctx,
    actor: Caller,
    all: Annotated[bool, Query(description="Also the offers that do not apply, with why not.")] = False,
) -> CustomerOffers:
    """The offers that apply to the customer now and why."""
    found = offers.offers_for(ctx, actor, customer_id)
    data = [DecisionOut.of(d, found.versions) for d in found.decisions if all or d.applies]
    return CustomerOffers(object="customer_offers", customer_id=customer_id, at=found.at, data=data)
