"""Coupons, promotion codes and redemptions (the discounts themselves are priced in core.discounts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kassa.core.audit import Actor
from kassa.core.discounts import (
    Coupon,
    PromotionCode,
    Redemption,
    parse_coupon,
    parse_promotion_code,
    promotion_code_key,
    redeem,
)
from kassa.core.errors import Conflict, DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.pages import Page
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for


def create_coupon(ctx: ServiceContext, actor: Actor, body: Mapping[str, Any]) -> Coupon:
    now = ctx.clock.now()
    coupon = parse_coupon(actor.tenant_id, ctx.new_id("cpn"), body, now)
    with ctx.uow() as uow:
        try:
            uow.coupons.get(actor.tenant_id, coupon.code)
            raise Conflict("duplicate_code", f"A coupon with code {coupon.code!r} exists.", "code")
        except NotFound:
            pass
        uow.coupons.add(coupon)
        audit.changed(ctx, uow, actor, EventType.COUPON_CREATED, object_type="coupon", object_id=coupon.id,
                      before=None, after=coupon.to_json(), at=now)  # fmt: skip
        uow.commit()
    return coupon


def get_coupon(ctx: ServiceContext, actor: Actor, coupon_id: str) -> Coupon:
    with ctx.uow(read_only=True) as uow:
        return uow.coupons.get(actor.tenant_id, coupon_id)


def list_coupons(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None) -> Page[Coupon]:
    with ctx.uow(read_only=True) as uow:
        return uow.coupons.list(actor.tenant_id, limit=limit, cursor=cursor)


def archive_coupon(ctx: ServiceContext, actor: Actor, coupon_id: str) -> Coupon:
    """No new redemptions; what was redeemed runs its course."""
    with ctx.uow() as uow:
        coupon = uow.coupons.get(actor.tenant_id, coupon_id, for_update=True)
        if coupon.archived_at is not None:
            return coupon
        now = ctx.clock.now()
        archived = replace(coupon, archived_at=now)
        uow.coupons.save(archived)
        audit.changed(ctx, uow, actor, EventType.COUPON_UPDATED, object_type="coupon", object_id=coupon.id,
                      before=coupon.to_json(), after=archived.to_json(), at=now)  # fmt: skip
        uow.commit()
    return archived


def create_promotion_code(ctx: ServiceContext, actor: Actor, body: Mapping[str, Any]) -> PromotionCode:
    now = ctx.clock.now()
    promotion = parse_promotion_code(actor.tenant_id, ctx.new_id("promo"), body, now)
    with ctx.uow() as uow:
        coupon = uow.coupons.get(actor.tenant_id, promotion.coupon_id)
        promotion = replace(promotion, coupon_id=coupon.id)
        try:
            uow.coupons.promotion(actor.tenant_id, promotion.code)
            raise Conflict("duplicate_code", f"The promotion code {promotion.code!r} exists.", "code")
        except NotFound:
            pass
        uow.coupons.add_promotion(promotion)
        audit.changed(ctx, uow, actor, EventType.PROMOTION_CODE_CREATED, object_type="promotion_code",
                      object_id=promotion.id, before=None, after=promotion.to_json(), at=now)  # fmt: skip
        uow.commit()
    return promotion


def list_promotion_codes(
    ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None
) -> Page[PromotionCode]:
    with ctx.uow(read_only=True) as uow:
        return uow.coupons.promotions(actor.tenant_id, limit=limit, cursor=cursor)


def redeem_coupon(ctx: ServiceContext, actor: Actor, customer_id: str, body: Mapping[str, Any]) -> Redemption:
    """Apply a coupon (by id or code) or a promotion code a customer typed, to the customer or one of its
    subscriptions. Counters are taken under row locks, so limits hold under concurrency."""
    coupon_ref, typed = body.get("coupon"), body.get("promotion_code")
    if (coupon_ref is None) == (typed is None):
        raise DomainError("coupon_or_promotion_code", "Give a coupon or a promotion_code.", "coupon")
    subscription_id = body.get("subscription_id")
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        if subscription_id is not None:
            sub = uow.subscriptions.get(actor.tenant_id, str(subscription_id))
            if sub.customer_id != customer.id:
                raise DomainError("subscription_not_of_customer", "The subscription is another customer's.",
                                  "subscription_id")  # fmt: skip
        promotion = None
        if typed is not None:
            key = promotion_code_key(typed)
            if key is None:
                raise NotFound("promotion_code", str(typed))
            promotion = uow.coupons.promotion(actor.tenant_id, key, for_update=True)
            coupon = uow.coupons.get(actor.tenant_id, promotion.coupon_id, for_update=True)
        else:
            coupon = uow.coupons.get(actor.tenant_id, str(coupon_ref), for_update=True)
        if any(r.coupon_id == coupon.id and r.subscription_id == subscription_id and r.ended_at is None
               for r in uow.coupons.redemptions(actor.tenant_id, customer.id)):  # fmt: skip
            raise Conflict("already_redeemed", f"Coupon {coupon.code!r} is already applied here.", "coupon")
        now = now_for(ctx, uow, customer)
        redemption, counted, promoted = redeem(coupon, promotion, redemption_id=ctx.new_id("red"),
                                               customer_id=customer.id, subscription_id=subscription_id,
                                               currency=customer.currency, at=now)  # fmt: skip
        uow.coupons.add_redemption(redemption)
        uow.coupons.save(counted)
        if promoted is not None:
            uow.coupons.save_promotion(promoted)
        audit.changed(ctx, uow, actor, EventType.COUPON_REDEEMED, object_type="coupon_redemption",
                      object_id=redemption.id, before=None, after=redemption.to_json(), at=now,
                      customer_id=customer.id)  # fmt: skip
        uow.commit()
    return redemption


def list_redemptions(ctx: ServiceContext, actor: Actor, customer_id: str) -> list[Redemption]:
    with ctx.uow(read_only=True) as uow:
        uow.customers.get(actor.tenant_id, customer_id)
        return uow.coupons.redemptions(actor.tenant_id, customer_id)
