"""Coupons, the promotion codes that map to them, and their redemptions."""

from __future__ import annotations

import builtins
from typing import Any

import sqlalchemy as sa

from kassa.core.discounts import Coupon, PromotionCode, Redemption, parse_coupon, parse_promotion_code
from kassa.core.errors import NotFound
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import coupon_redemptions, coupons, promotion_codes

_COUNTERS = ("id", "times_redeemed", "created_at", "archived_at", "object")


def _coupon(row: sa.Row[Any]) -> Coupon:
    # to_json writes every field; parse_coupon refuses the ones that do not belong to the coupon's type
    fields = {k: v for k, v in row.doc.items() if k not in _COUNTERS and v is not None and v != []}
    parsed = parse_coupon(row.tenant_id, row.id, fields, row.created_at)
    return Coupon(**{**{f: getattr(parsed, f) for f in Coupon.__dataclass_fields__},
                     "times_redeemed": row.times_redeemed, "archived_at": row.archived_at})  # fmt: skip


def _promotion(row: sa.Row[Any]) -> PromotionCode:
    fields = {k: v for k, v in row.doc.items()
              if k not in ("id", "times_redeemed", "created_at", "object") and v is not None}  # fmt: skip
    parsed = parse_promotion_code(row.tenant_id, row.id, fields, row.created_at)
    return PromotionCode(**{**{f: getattr(parsed, f) for f in PromotionCode.__dataclass_fields__},
                            "times_redeemed": row.times_redeemed})  # fmt: skip


def _redemption(row: sa.Row[Any]) -> Redemption:
    return Redemption(tenant_id=row.tenant_id, id=row.id, coupon_id=row.coupon_id, customer_id=row.customer_id,
                      subscription_id=row.subscription_id, promotion_code_id=row.promotion_code_id,
                      periods_applied=row.periods_applied, created_at=row.created_at, ended_at=row.ended_at)  # fmt: skip


class Coupons:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # coupons
    def add(self, c: Coupon) -> None:
        self.conn.execute(coupons.insert().values(tenant_id=c.tenant_id, id=c.id, code=c.code, doc=c.to_json(),
                                                  times_redeemed=c.times_redeemed, created_at=c.created_at,
                                                  archived_at=c.archived_at))  # fmt: skip

    def save(self, c: Coupon) -> None:
        t = coupons.c
        self.conn.execute(coupons.update().where(t.tenant_id == c.tenant_id, t.id == c.id).values(
            doc=c.to_json(), times_redeemed=c.times_redeemed, archived_at=c.archived_at))  # fmt: skip

    def get(self, tenant_id: str, coupon_id: str, *, for_update: bool = False) -> Coupon:
        t = coupons.c
        query = sa.select(coupons).where(
            t.tenant_id == tenant_id, sa.or_(t.id == coupon_id, t.code == coupon_id)
        )
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("coupon", coupon_id)
        return _coupon(row)

    def many(self, tenant_id: str, coupon_ids: list[str]) -> dict[str, Coupon]:
        if not coupon_ids:
            return {}
        t = coupons.c
        rows = self.conn.execute(
            sa.select(coupons).where(t.tenant_id == tenant_id, t.id.in_(sorted(set(coupon_ids))))
        )
        return {r.id: _coupon(r) for r in rows}

    def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[Coupon]:
        t = coupons.c
        return page(self.conn, sa.select(coupons).where(t.tenant_id == tenant_id), t.id, limit=limit, cursor=cursor,
                    to_item=_coupon)  # fmt: skip

    # promotion codes
    def add_promotion(self, p: PromotionCode) -> None:
        self.conn.execute(promotion_codes.insert().values(tenant_id=p.tenant_id, id=p.id, code=p.code,
                                                          coupon_id=p.coupon_id, doc=p.to_json(),
                                                          times_redeemed=p.times_redeemed, created_at=p.created_at))  # fmt: skip

    def save_promotion(self, p: PromotionCode) -> None:
        t = promotion_codes.c
        self.conn.execute(promotion_codes.update().where(t.tenant_id == p.tenant_id, t.id == p.id).values(
            doc=p.to_json(), times_redeemed=p.times_redeemed))  # fmt: skip

    def promotion(self, tenant_id: str, code: str, *, for_update: bool = False) -> PromotionCode:
        t = promotion_codes.c
        query = sa.select(promotion_codes).where(
            t.tenant_id == tenant_id, sa.or_(t.code == code, t.id == code)
        )
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("promotion_code", code)
        return _promotion(row)

    def promotions(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[PromotionCode]:
        t = promotion_codes.c
        return page(self.conn, sa.select(promotion_codes).where(t.tenant_id == tenant_id), t.id, limit=limit,
                    cursor=cursor, to_item=_promotion)  # fmt: skip

    # redemptions
    def add_redemption(self, r: Redemption) -> None:
        self.conn.execute(coupon_redemptions.insert().values(
            tenant_id=r.tenant_id, id=r.id, coupon_id=r.coupon_id, customer_id=r.customer_id,
            subscription_id=r.subscription_id, promotion_code_id=r.promotion_code_id,
            periods_applied=r.periods_applied, created_at=r.created_at, ended_at=r.ended_at))  # fmt: skip

    def save_redemption(self, r: Redemption) -> None:
        t = coupon_redemptions.c
        self.conn.execute(coupon_redemptions.update().where(t.tenant_id == r.tenant_id, t.id == r.id).values(
            periods_applied=r.periods_applied, ended_at=r.ended_at))  # fmt: skip

    def redemptions(
        self, tenant_id: str, customer_id: str, *, active_only: bool = False
    ) -> builtins.list[Redemption]:
        t = coupon_redemptions.c
        query = sa.select(coupon_redemptions).where(t.tenant_id == tenant_id, t.customer_id == customer_id)
        if active_only:
            query = query.where(t.ended_at.is_(None))
        return [_redemption(r) for r in self.conn.execute(query.order_by(t.created_at, t.id))]
