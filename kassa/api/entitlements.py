"""Entitlements (issue 9): a customer's features, limits and metered allowances, derived from its plans
and add-ons, and its overrides. A check of a feature nothing grants answers 200 with enabled false and
source none. See docs/entitlements.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StringConstraints, WithJsonSchema

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Id, Input
from kassa.core.entitlements import MAX_LIMIT, Entitlement
from kassa.services import entitlements

router = APIRouter(tags=["entitlements"])

CODE = r"^[a-z0-9][a-z0-9._-]{0,63}$"
Feature = Annotated[
    str, Path(min_length=1, max_length=64, pattern=CODE, description="The feature's code, as in the catalog.")
]


# The value is checked by the core (as the catalog's entitlements are), so errors name `value.quantity`
# rather than a branch of a union; the schema below documents its three shapes.
VALUE_SCHEMA: dict[str, Any] = {
    "description": "As in the catalog: true/false (a feature), a whole number (a limit) or {metric, quantity}.",
    "oneOf": [
        {"type": "boolean"},
        {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT},
        {
            "type": "object",
            "properties": {
                "metric": {"type": "string", "pattern": CODE},
                "quantity": {"type": "string", "pattern": r"^\d{1,13}(\.\d{1,12})?$", "examples": ["10000"]},
            },
            "required": ["metric", "quantity"],
            "additionalProperties": False,
        },
    ],
}


class OverrideIn(Input):
    value: Annotated[Any, WithJsonSchema(VALUE_SCHEMA)] = Field(
        examples=[True, 50, {"metric": "api_calls", "quantity": "20000"}]
    )
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None


class AllowanceOut(BaseModel):
    metric: str
    quantity: str
    used: str
    remaining: str


class EntitlementOut(BaseModel):
    object: Literal["entitlement"] = "entitlement"
    feature: str
    kind: Literal["feature", "limit", "allowance"] | None
    enabled: bool = Field(description="May the customer use it now: on, a limit above 0, an allowance left.")
    limit: int | None
    allowance: AllowanceOut | None
    suspended: bool
    reason: Literal["past_due", "paused"] | None = Field(description="Why it is suspended.")
    source: Literal["plan", "addon", "override", "none"]
    override_reason: str | None

    @classmethod
    def of(cls, e: Entitlement) -> EntitlementOut:
        a = e.allowance
        return cls(
            feature=e.feature,
            kind=None if e.kind is None else e.kind.value,
            enabled=e.enabled,
            limit=e.limit,
            allowance=None
            if a is None
            else AllowanceOut(
                metric=a.metric, quantity=str(a.quantity), used=str(a.used), remaining=str(a.remaining)
            ),
            suspended=e.suspended,
            reason=None if e.reason is None else e.reason.value,
            source=e.source.value,
            override_reason=e.override_reason,
        )


class EntitlementList(BaseModel):
    object: Literal["list"] = "list"
    customer_id: str
    as_of: Annotated[
        datetime, Field(description="The customer's present when they were derived (at most a second ago).")
    ]
    data: list[EntitlementOut]


@router.get("/customers/{customer_id}/entitlements", response_model=EntitlementList)
def list_entitlements(customer_id: Id, ctx: Ctx, actor: Caller) -> EntitlementList:
    """Every feature the customer's subscriptions or overrides grant, by code."""
    found = entitlements.list_entitlements(ctx, actor, customer_id)
    return EntitlementList(
        customer_id=found.customer_id,
        as_of=found.as_of,
        data=[EntitlementOut.of(e) for e in found.features.values()],
    )


@router.get("/customers/{customer_id}/entitlements/{feature}", response_model=EntitlementOut)
def check_entitlement(customer_id: Id, feature: Feature, ctx: Ctx, actor: Caller) -> EntitlementOut:
    """Check one feature: answered from memory, correct within a second of a change."""
    return EntitlementOut.of(entitlements.check(ctx, actor, customer_id, feature))


@router.put("/customers/{customer_id}/entitlements/{feature}", response_model=EntitlementOut)
def put_override(
    customer_id: Id, feature: Feature, body: OverrideIn, ctx: Ctx, actor: Caller
) -> EntitlementOut:
    """Override the feature for this customer (replaces what its plans give); answers the new value."""
    doc = {"value": body.value} if body.reason is None else {"value": body.value, "reason": body.reason}
    return EntitlementOut.of(entitlements.put_override(ctx, actor, customer_id, feature, doc))


@router.delete("/customers/{customer_id}/entitlements/{feature}", response_model=EntitlementOut)
def delete_override(customer_id: Id, feature: Feature, ctx: Ctx, actor: Caller) -> EntitlementOut:
    """Remove the customer's override; answers the value its subscriptions give again."""
    return EntitlementOut.of(entitlements.delete_override(ctx, actor, customer_id, feature))
