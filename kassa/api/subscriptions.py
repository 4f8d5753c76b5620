"""/v1/subscriptions: what customers bought, its changes, its billing schedule and the advice of charge
for a change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.customers import Metadata
from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, Instant, MoneyModel, PageOut, page_of
from kassa.core.billing_schedule import Charge
from kassa.core.money import Money
from kassa.core.subscriptions import MAX_QUANTITY, Change, Status, Subscription, SubscriptionFilter
from kassa.services import subscriptions
from kassa.services.subscriptions import Preview

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Addons = Annotated[
    dict[Code, Quantity], Field(max_length=100, description='Add-on codes and quantities: {"storage": 2}.')
]
When = Literal["now", "end_of_period", "date"]
Proration = Literal["prorate", "none"]


class AnchorIn(Input):
    type: Literal["anniversary", "day_of_month", "account"] = "anniversary"
    day: Annotated[int, Field(ge=1, le=31)] | None = Field(None, description="day_of_month only.")


class SubscriptionCreate(Input):
    customer_id: Id
    plan: Code
    quantity: Quantity = 1
    addons: Addons | None = None
    start_date: date | None = Field(None, description="Local day in the customer's time zone; default today.")
    trial_days: Annotated[int, Field(ge=0, le=730)] | None = Field(
        None, description="Overrides the plan's trial; 0: no trial."
    )
    billing_anchor: AnchorIn | None = None
    metadata: Metadata | None = None


class ChangeIn(Input):
    plan: Code | None = None
    quantity: Quantity | None = None
    addons: Addons | None = Field(
        None, description="The add-ons to have after the change (absent ones are removed)."
    )
    when: When | None = Field(None, description="Default: the plan's change policy.")
    effective_date: date | None = Field(None, description='With when="date".')
    proration: Proration | None = Field(None, description="Default: the plan's change policy.")


class PreviewIn(ChangeIn):
    at: Instant | None = Field(None, description="The instant the change would be made; default now.")


class CancelIn(Input):
    when: When = "now"
    effective_date: date | None = None
    proration: Proration = Field("prorate", description="prorate: credit the unused part of what was billed.")


class EffectiveIn(Input):
    effective_date: date | None = Field(None, description="Default today.")


class ChangeOut(BaseModel):
    id: str
    kind: str
    effective_date: date
    prorate: bool
    plan: str | None
    quantity: int | None
    addons: dict[str, int] | None
    status: str
    requested_at: datetime

    @classmethod
    def of(cls, c: Change) -> ChangeOut:
        return cls(
            id=c.id, kind=c.kind.value, effective_date=c.effective, prorate=c.prorate,
            plan=c.terms.plan if c.terms else None, quantity=c.terms.quantity if c.terms else None,
            addons=dict(c.terms.addons) if c.terms else None, status=c.status.value, requested_at=c.requested_at,
        )  # fmt: skip


class AnchorOut(BaseModel):
    type: str
    day: int | None


class SubscriptionOut(BaseModel):
    id: str
    customer_id: str
    status: str
    plan: str
    quantity: int
    addons: dict[str, int]
    currency: str
    time_zone: str
    start_date: date
    trial_days: int | None
    billing_anchor: AnchorOut
    changes: list[ChangeOut] = Field(description="The start and every change, oldest first.")
    cancel_at: date | None = Field(description="The day a pending cancellation takes effect.")
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    canceled_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        pending = s.pending_cancellation
        return cls(
            id=s.id, customer_id=s.customer_id, status=s.status.value, plan=s.terms.plan,
            quantity=s.terms.quantity, addons=dict(s.terms.addons), currency=s.currency, time_zone=s.time_zone,
            start_date=s.start, trial_days=s.trial_days,
            billing_anchor=AnchorOut(type=s.anchor.type.value, day=s.anchor.day),
            changes=[ChangeOut.of(c) for c in s.changes], cancel_at=pending.effective if pending else None,
            metadata=dict(s.metadata), created_at=s.created_at, updated_at=s.updated_at,
            canceled_at=s.canceled_at, ended_at=s.ended_at,
        )  # fmt: skip


class ChargeOut(BaseModel):
    due_date: date = Field(description="The local day it becomes billable.")
    kind: str = Field(description="recurring, setup or credit.")
    key: str = Field(description="What is charged: plan.flat, plan.per_unit, addon.<code>.per_unit, …")
    description: str
    timing: str
    period_start: date
    period_end: date
    service_start: date
    service_end: date
    prorated: bool
    quantity: int
    unit_price: str = Field(description="Per billing period and unit.")
    total: MoneyModel = Field(description="The line's amount, rounded once; negative for a credit.")

    @classmethod
    def of(cls, c: Charge) -> ChargeOut:
        line = c.line
        return cls(
            due_date=c.due, kind=c.kind.value, key=line.key, description=line.description,
            timing=line.timing.value, period_start=line.period_start, period_end=line.period_end,
            service_start=line.start, service_end=line.end, prorated=c.prorated, quantity=line.quantity,
            unit_price=format(line.unit_price, "f"), total=MoneyModel(amount=line.amount.amount_text(), currency=line.amount.currency),
        )  # fmt: skip


class ScheduleOut(BaseModel):
    subscription_id: str
    start: date
    end: date
    charges: list[ChargeOut]


class PreviewOut(BaseModel):
    effective_date: date
    charges: list[ChargeOut] = Field(description="What the change would bill, credits negative.")
    removed: list[ChargeOut] = Field(description="What would no longer be billed.")
    net: MoneyModel

    @classmethod
    def of(cls, p: Preview) -> PreviewOut:
        net = Money(p.net, p.currency)
        return cls(
            effective_date=p.effective, charges=[ChargeOut.of(c) for c in p.added],
            removed=[ChargeOut.of(c) for c in p.removed],
            net=MoneyModel(amount=net.amount_text(), currency=net.currency),
        )  # fmt: skip


def _fields(body: Input) -> dict[str, object]:
    return body.model_dump(exclude_unset=True)


@router.post("", status_code=201, response_model=SubscriptionOut)
def create_subscription(body: SubscriptionCreate, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    fields = _fields(body)
    if body.billing_anchor is not None:
        fields["billing_anchor"] = body.billing_anchor.model_dump()
    return SubscriptionOut.of(subscriptions.create_subscription(ctx, actor, fields))


@router.get("", response_model=PageOut[SubscriptionOut])
def list_subscriptions(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    customer_id: Annotated[Id | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    plan: Annotated[Code | None, Query()] = None,
) -> PageOut[SubscriptionOut]:
    where = SubscriptionFilter(customer_id=customer_id, status=status, plan=plan)
    return page_of(
        subscriptions.list_subscriptions(ctx, actor, where, limit=limit, cursor=cursor), SubscriptionOut.of
    )


@router.get("/{subscription_id}", response_model=SubscriptionOut)
def get_subscription(subscription_id: Id, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    return SubscriptionOut.of(subscriptions.get_subscription(ctx, actor, subscription_id))


@router.post("/{subscription_id}/change", response_model=SubscriptionOut)
def change_subscription(subscription_id: Id, body: ChangeIn, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    """Plan, quantity or add-ons: now, at the end of the period or on a date, prorated or not (default:
    the plan's change policy for an upgrade or a downgrade)."""
    return SubscriptionOut.of(subscriptions.change_subscription(ctx, actor, subscription_id, _fields(body)))


@router.post("/{subscription_id}/preview_change", response_model=PreviewOut)
def preview_change(subscription_id: Id, body: PreviewIn, ctx: Ctx, actor: Caller) -> PreviewOut:
    """What the change would credit and charge if made at `at`, without making it."""
    fields = body.model_dump(exclude_unset=True, exclude={"at"})
    return PreviewOut.of(subscriptions.preview_change(ctx, actor, subscription_id, fields, at=body.at))


@router.post("/{subscription_id}/cancel", response_model=SubscriptionOut)
def cancel_subscription(subscription_id: Id, body: CancelIn, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    return SubscriptionOut.of(
        subscriptions.cancel_subscription(ctx, actor, subscription_id, body.model_dump())
    )


@router.post("/{subscription_id}/undo_cancellation", response_model=SubscriptionOut)
def undo_cancellation(subscription_id: Id, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    return SubscriptionOut.of(subscriptions.undo_cancellation(ctx, actor, subscription_id))


@router.post("/{subscription_id}/pause", response_model=SubscriptionOut)
def pause_subscription(subscription_id: Id, body: EffectiveIn, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    """Billing stops from the day (the unused part of what was billed is credited)."""
    return SubscriptionOut.of(subscriptions.pause_subscription(ctx, actor, subscription_id, _fields(body)))


@router.post("/{subscription_id}/resume", response_model=SubscriptionOut)
def resume_subscription(subscription_id: Id, body: EffectiveIn, ctx: Ctx, actor: Caller) -> SubscriptionOut:
    return SubscriptionOut.of(subscriptions.resume_subscription(ctx, actor, subscription_id, _fields(body)))


@router.get("/{subscription_id}/schedule", response_model=ScheduleOut)
def billing_schedule(
    subscription_id: Id,
    ctx: Ctx,
    actor: Caller,
    start: Annotated[date | None, Query(alias="from", description="Default: the start date.")] = None,
    end: Annotated[
        date | None, Query(alias="to", description="Exclusive; default a year after from.")
    ] = None,
) -> ScheduleOut:
    """The charges due in [from, to): in advance at period starts, in arrears at period ends, prorations."""
    sub, first, last, charges = subscriptions.get_schedule(ctx, actor, subscription_id, start=start, end=end)
    return ScheduleOut(
        subscription_id=sub.id, start=first, end=last, charges=[ChargeOut.of(c) for c in charges]
    )
