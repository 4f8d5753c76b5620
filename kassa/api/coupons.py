"""/v1/coupons and /v1/promotion_codes, and per customer: redemptions and the credit balance."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Amount, Id, Input, Instant, MoneyModel, Obj, ObjPage
from kassa.core.discounts import Coupon
from kassa.services import coupons, credits

router = APIRouter(tags=["billing"])

CouponCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ProductCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Percent = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$"), Field(strict=True)]


class CouponCreate(Input):
    code: CouponCode
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: Literal["percent", "fixed"]
    percent_off: Percent | None = Field(None, description="percent: 0 < p <= 100.")
    amounts_off: Annotated[list[MoneyModel], Field(max_length=50)] | None = Field(
        None, description="fixed: an amount per currency."
    )
    duration: Literal["once", "repeating", "forever"]
    duration_periods: Annotated[int, Field(ge=1, le=120)] | None = Field(
        None, description="repeating: invoices."
    )
    applies_to: Annotated[list[ProductCode], Field(max_length=100)] | None = Field(
        None, description="Product, plan, add-on or billable metric codes; omit for every line."
    )
    max_redemptions: Annotated[int, Field(ge=1)] | None = None
    redeem_by: Instant | None = None
    metadata: (
        dict[
            Annotated[str, StringConstraints(max_length=40)],
            Annotated[str, StringConstraints(max_length=500)],
        ]
        | None
    ) = None


class PromotionCodeCreate(Input):
    code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,64}$")]
    coupon: CouponCode = Field(description="The coupon's id or code.")
    max_redemptions: Annotated[int, Field(ge=1)] | None = None
    expires_at: Instant | None = None


class RedemptionCreate(Input):
    coupon: CouponCode | None = Field(None, description="A coupon id or code.")
    promotion_code: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="What the customer typed (any case)."
    )
    subscription_id: Id | None = Field(None, description="Only this subscription's lines; omit for all.")


class CreditGrantCreate(Input):
    amount: Amount = Field(description="In the customer's currency.")
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CreditBalanceOut(BaseModel):
    balance: MoneyModel
    data: list[Obj]
    has_more: bool
    next_cursor: str | None


def _coupon(c: Coupon) -> Obj:
    return Obj.model_validate({**c.to_json(), "object": "coupon"})


@router.post("/coupons", status_code=201, response_model=Obj)
def create_coupon(body: CouponCreate, ctx: Ctx, actor: Caller) -> Obj:
    return _coupon(coupons.create_coupon(ctx, actor, body.model_dump(mode="json", exclude_none=True)))


@router.get("/coupons", response_model=ObjPage)
def list_coupons(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> ObjPage:
    page = coupons.list_coupons(ctx, actor, limit=limit, cursor=cursor)
    return ObjPage(
        data=[_coupon(c) for c in page.items], has_more=page.has_more, next_cursor=page.next_cursor
    )


@router.get("/coupons/{coupon_id}", response_model=Obj)
def get_coupon(coupon_id: CouponCode, ctx: Ctx, actor: Caller) -> Obj:
    return _coupon(coupons.get_coupon(ctx, actor, coupon_id))


@router.post("/coupons/{coupon_id}/archive", response_model=Obj)
def archive_coupon(coupon_id: CouponCode, ctx: Ctx, actor: Caller) -> Obj:
    """No new redemptions; the ones made run their course."""
    return _coupon(coupons.archive_coupon(ctx, actor, coupon_id))


@router.post("/promotion_codes", status_code=201, response_model=Obj)
def create_promotion_code(body: PromotionCodeCreate, ctx: Ctx, actor: Caller) -> Obj:
    doc: dict[str, Any] = body.model_dump(mode="json", exclude_none=True)
    doc["coupon_id"] = doc.pop("coupon")
    return Obj.model_validate(coupons.create_promotion_code(ctx, actor, doc).to_json())


@router.get("/promotion_codes", response_model=ObjPage)
def list_promotion_codes(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> ObjPage:
    page = coupons.list_promotion_codes(ctx, actor, limit=limit, cursor=cursor)
    return ObjPage(data=[Obj.model_validate(p.to_json()) for p in page.items], has_more=page.has_more,
                   next_cursor=page.next_cursor)  # fmt: skip


@router.post("/customers/{customer_id}/coupons", status_code=201, response_model=Obj)
def redeem(customer_id: Id, body: RedemptionCreate, ctx: Ctx, actor: Caller) -> Obj:
    """Apply a coupon or a promotion code to the customer, or to one of its subscriptions."""
    return Obj.model_validate(
        coupons.redeem_coupon(ctx, actor, customer_id, body.model_dump(exclude_none=True)).to_json()
    )


@router.get("/customers/{customer_id}/coupons", response_model=ObjPage)
def list_redemptions(customer_id: Id, ctx: Ctx, actor: Caller) -> ObjPage:
    found = coupons.list_redemptions(ctx, actor, customer_id)
    return ObjPage(data=[Obj.model_validate(r.to_json()) for r in found], has_more=False, next_cursor=None)


@router.post("/customers/{customer_id}/credit_grants", status_code=201, response_model=Obj)
def grant_credit(customer_id: Id, body: CreditGrantCreate, ctx: Ctx, actor: Caller) -> Obj:
    """Credit the customer's balance by hand: it pays the next invoices after tax."""
    return Obj.model_validate(credits.grant_credit(ctx, actor, customer_id, body.model_dump()).to_json())


@router.get("/customers/{customer_id}/credit_balance", response_model=CreditBalanceOut)
def credit_balance(
    customer_id: Id, ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None
) -> CreditBalanceOut:
    balance, page = credits.credit_balance(ctx, actor, customer_id, limit=limit, cursor=cursor)
    return CreditBalanceOut(balance=MoneyModel(amount=balance.amount_text(), currency=balance.currency),
                            data=[Obj.model_validate(m.to_json()) for m in page.items], has_more=page.has_more,
                            next_cursor=page.next_cursor)  # fmt: skip
