"""Leads (issue 9): prospects by source and campaign, their statuses, conversion into a customer and a
first subscription, and the feedback report per source or campaign. See docs/leads-and-offers.md."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.customers import CustomerCreate, CustomerOut, Metadata
from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.reports import RESPONSES, Currency, Format, From, ReportDoc, To, render
from kassa.api.schemas import Id, Input, PageOut, Text200, page_of
from kassa.api.subscriptions import Addons, AnchorIn, Code, Quantity, SubscriptionOut
from kassa.core.leads import MAX_LOST_REASON, MAX_TAG, Lead, LeadStatus
from kassa.services import leads

router = APIRouter(tags=["leads"])

Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TAG)]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Status = Literal["new", "contacted", "qualified", "converted", "lost"]


class LeadCreate(Input):
    email: Email
    name: Text200 | None = None
    company: Text200 | None = None
    country: Country | None = Field(None, description="ISO 3166-1 alpha-2.")
    source: Tag = Field(examples=["webinar"], description="Where the lead was found; reports group by it.")
    campaign: Tag | None = Field(None, examples=["spring-2026"])
    metadata: Metadata | None = None


class LeadUpdate(Input):
    status: Literal["new", "contacted", "qualified", "lost"] | None = Field(
        None, description="Along new → contacted → qualified; lost needs lost_reason; converted: convert.")  # fmt: skip
    lost_reason: Annotated[str, StringConstraints(min_length=1, max_length=MAX_LOST_REASON)] | None = None
    email: Email | None = None
    name: Text200 | None = None
    company: Text200 | None = None
    country: Country | None = None
    campaign: Tag | None = None
    metadata: Metadata | None = None


class SubscriptionStart(Input):
    """The body of POST /v1/subscriptions without customer_id."""

    plan: Code
    quantity: Quantity = 1
    addons: Addons | None = None
    start_date: date | None = Field(None, description="Local day in the customer's time zone; default today.")
    trial_days: Annotated[int, Field(ge=0, le=730)] | None = None
    billing_anchor: AnchorIn | None = None
    metadata: Metadata | None = None


class ConvertIn(Input):
    customer_id: Id | None = Field(None, description="An existing customer; or give `customer`.")
    customer: CustomerCreate | None = Field(
        None, description="Create the customer (POST /v1/customers' body)."
    )
    subscription: SubscriptionStart | None = Field(None, description="Start the first subscription.")


class LeadOut(BaseModel):
    id: str
    object: Literal["lead"]
    email: str
    name: str | None
    company: str | None
    country: str | None
    source: str
    campaign: str | None
    status: Status
    lost_reason: str | None
    customer_id: str | None
    subscription_id: str | None
    converted_at: datetime | None
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        return cls.model_validate({"object": "lead", **lead.to_json()})


class ConversionOut(BaseModel):
    lead: LeadOut
    customer: CustomerOut
    subscription: SubscriptionOut | None


@router.post("/leads", status_code=201, response_model=LeadOut)
def create_lead(body: LeadCreate, ctx: Ctx, actor: Caller) -> LeadOut:
    return LeadOut.of(leads.create_lead(ctx, actor, body.model_dump(exclude_none=True)))


@router.get("/leads", response_model=PageOut[LeadOut])
def list_leads(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    source: Annotated[Tag | None, Query()] = None,
    campaign: Annotated[Tag | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
) -> PageOut[LeadOut]:
    """Leads, newest first, optionally of one source, campaign or status."""
    found = leads.list_leads(ctx, actor, limit=limit, cursor=cursor, source=source, campaign=campaign,
                             status=None if status is None else LeadStatus(status))  # fmt: skip
    return page_of(found, LeadOut.of)


@router.get("/leads/{lead_id}", response_model=LeadOut)
def get_lead(lead_id: Id, ctx: Ctx, actor: Caller) -> LeadOut:
    return LeadOut.of(leads.get_lead(ctx, actor, lead_id))


@router.patch("/leads/{lead_id}", response_model=LeadOut)
def update_lead(lead_id: Id, body: LeadUpdate, ctx: Ctx, actor: Caller) -> LeadOut:
    """Move the status, correct contact details or the campaign; an explicit null clears an optional field."""
    return LeadOut.of(leads.update_lead(ctx, actor, lead_id, body.model_dump(exclude_unset=True)))


@router.post("/leads/{lead_id}/convert", response_model=ConversionOut)
def convert_lead(lead_id: Id, body: ConvertIn, ctx: Ctx, actor: Caller) -> ConversionOut:
    """Convert into an existing or a new customer, optionally starting its first subscription. Converting
    twice is a conflict (409); a refused subscription leaves the lead unconverted."""
    fields: dict[str, Any] = {}
    if body.customer_id is not None:
        fields["customer_id"] = body.customer_id
    if body.customer is not None:
        fields["customer"] = body.customer.model_dump(exclude_unset=True)
    if body.subscription is not None:
        fields["subscription"] = body.subscription.model_dump(exclude_unset=True)
        if body.subscription.billing_anchor is not None:
            fields["subscription"]["billing_anchor"] = body.subscription.billing_anchor.model_dump()
    done = leads.convert_lead(ctx, actor, lead_id, fields)
    return ConversionOut(lead=LeadOut.of(done.lead), customer=CustomerOut.of(done.customer),
                         subscription=None if done.subscription is None else SubscriptionOut.of(done.subscription))  # fmt: skip


@router.get("/reports/leads", response_model=ReportDoc, responses=RESPONSES)
def leads_report(ctx: Ctx, actor: Caller, group_by: Literal["source", "campaign"] = "source",
                 currency: Currency = None, from_: From = None, to: To = None,
                 format: Format = "json") -> Response:  # fmt: skip
    """Per lead source or campaign: leads, conversions, churned customers, billed and recognized revenue,
    and lifetime value. `from`/`to` (months) limit the leads to those created then."""
    return render(leads.feedback_report(ctx, actor, group_by, currency, from_, to), format)
