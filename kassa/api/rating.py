"""Real-time rating: a customer's current usage, advice of charge, and usage thresholds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Id, Input, MoneyModel
from kassa.core.metering import quantity_text
from kassa.core.usage_thresholds import UsageThreshold
from kassa.services import rating
from kassa.services.rating import CurrentLine, CurrentUsage, Estimate, LateLine

router = APIRouter(tags=["usage"])


Quantity = Annotated[str, StringConstraints(pattern=r"^\d{1,18}(\.\d{1,12})?$")]


class CurrentLineOut(BaseModel):
    metric: str
    group: str | None
    model: str
    quantity: str
    billable_quantity: str = Field(description="After the plan's included units.")
    included: str
    tier: int | None = Field(description="The tier reached (1-based), for tiered models.")
    charged: MoneyModel = Field(description="What the period's usage costs so far.")
    forecast_quantity: str
    forecast: MoneyModel = Field(description="At the pace so far, to the period's end.")

    @classmethod
    def of(cls, c: CurrentLine) -> CurrentLineOut:
        line = c.line
        return cls(metric=line.metric, group=line.group or None, model=line.charge.model.value,
                   quantity=quantity_text(line.rated.quantity), billable_quantity=quantity_text(line.rated.billable),
                   included=quantity_text(line.charge.included), tier=line.rated.tier, charged=MoneyModel.of(line.amount),
                   forecast_quantity=quantity_text(c.forecast_quantity), forecast=MoneyModel.of(c.forecast))  # fmt: skip


class LateLineOut(BaseModel):
    metric: str
    group: str | None
    period_start: date
    period_end: date
    charged: MoneyModel

    @classmethod
    def of(cls, late: LateLine) -> LateLineOut:
        return cls(metric=late.metric, group=late.group or None, period_start=late.period_start,
                   period_end=late.period_end, charged=MoneyModel.of(late.amount))  # fmt: skip


class CurrentUsageOut(BaseModel):
    subscription_id: str
    plan: str
    period_start: date
    period_end: date
    as_of: datetime
    charges: list[CurrentLineOut]
    late_usage: list[LateLineOut] = Field(description="Usage of closed periods received in this one.")
    charged: MoneyModel
    forecast: MoneyModel
    minimum_spend: MoneyModel | None
    true_up: MoneyModel | None = Field(description="What the minimum spend adds if nothing more is used.")

    @classmethod
    def of(cls, u: CurrentUsage) -> CurrentUsageOut:
        return cls(subscription_id=u.subscription.id, plan=u.period.plan.code, period_start=u.period.start,
                   period_end=u.period.end, as_of=u.now, charges=[CurrentLineOut.of(c) for c in u.lines],
                   late_usage=[LateLineOut.of(late) for late in u.late], charged=MoneyModel.of(u.charged),
                   forecast=MoneyModel.of(u.forecast), minimum_spend=MoneyModel.of(u.minimum_spend),
                   true_up=MoneyModel.of(u.true_up))  # fmt: skip


class CurrentUsageList(BaseModel):
    data: list[CurrentUsageOut]


@router.get("/customers/{customer_id}/current_usage", response_model=CurrentUsageList)
def current_usage(
    customer_id: Id, ctx: Ctx, actor: Caller,
    subscription_id: Annotated[Id | None, Query(description="One subscription; default: all live ones.")] = None,
) -> CurrentUsageList:  # fmt: skip
    """The open period of each live subscription: each metric's quantity, the amount so far, the tier
    reached and the forecast to the period's end. An event counts here as soon as it is acknowledged (one
    stamped a little ahead of now, once its timestamp has passed)."""
    usage = rating.current_usage(ctx, actor, customer_id, subscription_id)
    return CurrentUsageList(data=[CurrentUsageOut.of(u) for u in usage])


class EstimateIn(Input):
    subscription_id: Id
    metric: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    units: Quantity | None = Field(None, description='How many more units, as a string: "1000".')
    properties: dict[str, Any] | None = Field(None, description="Or a usage event's properties.")


class EstimateOut(BaseModel):
    subscription_id: str
    metric: str
    group: str | None
    units: str
    cost: MoneyModel = Field(description="What these units add to the period's amount now.")
    quantity_before: str
    tier_before: int | None
    tier_after: int | None
    included_left: str
    wallet_balance: MoneyModel | None = Field(
        None, description="What the customer's prepaid wallet in this currency holds now; null without one."
    )
    fits_in_wallet: bool | None = Field(
        None, description="Whether the wallet covers the cost; null without one."
    )

    @classmethod
    def of(cls, e: Estimate) -> EstimateOut:
        return cls(subscription_id=e.subscription.id, metric=e.metric, group=e.group or None, units=quantity_text(e.units),
                   cost=MoneyModel.of(e.cost), quantity_before=quantity_text(e.quantity_before), tier_before=e.tier_before,
                   tier_after=e.tier_after, included_left=quantity_text(e.included_left),
                   wallet_balance=MoneyModel.of(e.wallet_balance),
                   fits_in_wallet=None if e.wallet_balance is None else e.cost <= e.wallet_balance)  # fmt: skip


@router.post("/rating/estimate", response_model=EstimateOut)
def estimate(body: EstimateIn, ctx: Ctx, actor: Caller) -> EstimateOut:
    """Advice of charge: what N more units, or one more usage event, would cost this subscription now,
    given the tiers its period has reached and the allowance it has used."""
    return EstimateOut.of(rating.estimate(ctx, actor, body.model_dump(exclude_none=True)))


class ThresholdIn(Input):
    kind: Literal["allowance_percent", "amount"]
    value: Quantity = Field(
        description='Percent of the allowance ("80"), or an amount in the currency ("50.00").'
    )
    metric: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="Required for allowance_percent; for amount, default all usage charges."
    )


class ThresholdOut(BaseModel):
    id: str
    subscription_id: str
    kind: str
    value: str
    metric: str | None
    created_at: datetime

    @classmethod
    def of(cls, t: UsageThreshold) -> ThresholdOut:
        return cls(id=t.id, subscription_id=t.subscription_id, kind=t.kind.value, value=str(t.value),
                   metric=t.metric, created_at=t.created_at)  # fmt: skip


class ThresholdList(BaseModel):
    data: list[ThresholdOut]


@router.post(
    "/subscriptions/{subscription_id}/usage_thresholds", status_code=201, response_model=ThresholdOut
)
def create_threshold(subscription_id: Id, body: ThresholdIn, ctx: Ctx, actor: Caller) -> ThresholdOut:
    """`usage.threshold_reached` is sent once per period when the threshold is reached."""
    return ThresholdOut.of(
        rating.create_threshold(ctx, actor, subscription_id, body.model_dump(exclude_none=True))
    )


@router.get("/subscriptions/{subscription_id}/usage_thresholds", response_model=ThresholdList)
def list_thresholds(subscription_id: Id, ctx: Ctx, actor: Caller) -> ThresholdList:
    return ThresholdList(
        data=[ThresholdOut.of(t) for t in rating.list_thresholds(ctx, actor, subscription_id)]
    )


@router.delete("/subscriptions/{subscription_id}/usage_thresholds/{threshold_id}", status_code=204)
def delete_threshold(subscription_id: Id, threshold_id: Id, ctx: Ctx, actor: Caller) -> None:
    rating.delete_threshold(ctx, actor, subscription_id, threshold_id)
