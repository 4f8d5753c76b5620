"""/v1/customers: customer accounts and their timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.events import EventOut
from kassa.api.schemas import (
    AddressModel,
    CurrencyCode,
    Id,
    Input,
    Instant,
    MoneyModel,
    PageOut,
    TaxIdIn,
    TaxIdOut,
    Text200,
    page_of,
)
from kassa.core.customers import Customer, CustomerFilter
from kassa.core.metadata import MAX_KEY_LENGTH, MAX_KEYS, MAX_VALUE_LENGTH
from kassa.services import customers

router = APIRouter(prefix="/customers", tags=["customers"])

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254)]
Locale = Annotated[str, StringConstraints(min_length=2, max_length=20)]
TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# The limits are published in the schema but checked by core.metadata, so every breach answers with the
# same stable code whichever limit it hits (metadata_too_large, invalid_metadata), not pydantic's generic one.
Metadata = Annotated[
    dict[str, str],
    Field(
        json_schema_extra={
            "maxProperties": MAX_KEYS,
            "propertyNames": {"minLength": 1, "maxLength": MAX_KEY_LENGTH},
            "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
        }
    ),
]


class CustomerFields(Input):
    name: Text200 | None = None
    legal_name: Text200 | None = None
    emails: Annotated[list[Email], Field(max_length=10)] | None = None
    address: AddressModel | None = None
    currency: CurrencyCode | None = Field(
        None, description="ISO 4217; defaults to the tenant's default currency."
    )
    locale: Locale | None = Field(None, examples=["de_DE"])
    time_zone: TimeZone | None = Field(None, examples=["Europe/Berlin"])
    tax_ids: Annotated[list[TaxIdIn], Field(max_length=10)] | None = None
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] | None = Field(
        None, description="Net days to pay."
    )
    parent_id: Id | None = None
    bill_to_parent: bool | None = Field(
        None, description="The parent pays: charges go on the parent's invoice."
    )
    tax_exempt: bool | None = Field(None, description="Invoices carry no tax (an exemption on file).")
    credit_limit: MoneyModel | None = None
    bill_cycle_day: Annotated[int, Field(ge=1, le=31)] | None = Field(
        None,
        description='Day of month "account"-anchored subscriptions renew on (set by the first one if empty).',
    )
    metadata: Metadata | None = None


class CustomerCreate(CustomerFields):
    external_id: ExternalId = Field(description="Your id for the customer; unique within the tenant.")
    name: Text200
    test_clock_id: Id | None = Field(
        None, description="Attach the customer to a test clock (at creation only)."
    )


class CustomerUpdate(CustomerFields):
    external_id: ExternalId | None = None


class AddressOut(BaseModel):
    line1: str
    line2: str | None
    city: str
    postal_code: str | None
    state: str | None
    country: str


class CustomerOut(BaseModel):
    id: str
    external_id: str
    name: str
    legal_name: str | None
    emails: list[str]
    address: AddressOut | None
    currency: str
    locale: str
    time_zone: str
    tax_ids: list[TaxIdOut]
    payment_terms_days: int
    parent_id: str | None
    bill_to_parent: bool
    tax_exempt: bool
    credit_limit: MoneyModel | None
    bill_cycle_day: int | None
    metadata: dict[str, str]
    test_clock_id: str | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @classmethod
    def of(cls, c: Customer) -> CustomerOut:
        return cls(
            id=c.id,
            external_id=c.external_id,
            name=c.name,
            legal_name=c.legal_name,
            emails=list(c.emails),
            address=AddressOut(**c.address.to_json()) if c.address else None,
            currency=c.currency,
            locale=c.locale,
            time_zone=c.time_zone,
            tax_ids=[TaxIdOut(**t.to_json()) for t in c.tax_ids],
            payment_terms_days=c.payment_terms_days,
            parent_id=c.parent_id,
            bill_to_parent=c.bill_to_parent,
            tax_exempt=c.tax_exempt,
            credit_limit=MoneyModel.of(c.credit_limit),
            bill_cycle_day=c.bill_cycle_day,
            metadata=dict(c.metadata),
            test_clock_id=c.test_clock_id,
            created_at=c.created_at,
            updated_at=c.updated_at,
            archived_at=c.archived_at,
        )


def _fields(body: Input) -> dict[str, object]:
    # only what the client sent; an explicit null clears an optional field
    return body.model_dump(exclude_unset=True)


@router.post("", status_code=201, response_model=CustomerOut)
def create_customer(body: CustomerCreate, ctx: Ctx, actor: Caller) -> CustomerOut:
    return CustomerOut.of(customers.create_customer(ctx, actor, _fields(body)))


@router.get("", response_model=PageOut[CustomerOut])
def list_customers(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    external_id: Annotated[ExternalId | None, Query()] = None,
    parent_id: Annotated[Id | None, Query()] = None,
    currency: Annotated[CurrencyCode | None, Query()] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    test_clock_id: Annotated[Id | None, Query()] = None,
    archived: Annotated[bool | None, Query(description="true: only archived; omit: only active.")] = None,
    created_gte: Annotated[Instant | None, Query()] = None,
    created_lt: Annotated[Instant | None, Query()] = None,
) -> PageOut[CustomerOut]:
    where = CustomerFilter(
        external_id=external_id,
        parent_id=parent_id,
        currency=currency,
        country=country,
        test_clock_id=test_clock_id,
        archived=bool(archived),
        created_gte=created_gte,
        created_lt=created_lt,
    )
    return page_of(customers.list_customers(ctx, actor, where, limit=limit, cursor=cursor), CustomerOut.of)


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: Id, ctx: Ctx, actor: Caller) -> CustomerOut:
    return CustomerOut.of(customers.get_customer(ctx, actor, customer_id))


@router.patch("/{customer_id}", response_model=CustomerOut)
def update_customer(customer_id: Id, body: CustomerUpdate, ctx: Ctx, actor: Caller) -> CustomerOut:
    return CustomerOut.of(customers.update_customer(ctx, actor, customer_id, _fields(body)))


@router.post("/{customer_id}/archive", response_model=CustomerOut)
def archive_customer(customer_id: Id, ctx: Ctx, actor: Caller) -> CustomerOut:
    return CustomerOut.of(customers.archive_customer(ctx, actor, customer_id))


@router.get("/{customer_id}/timeline", response_model=PageOut[EventOut])
def customer_timeline(
    customer_id: Id, ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None
) -> PageOut[EventOut]:
    return page_of(customers.timeline(ctx, actor, customer_id, limit=limit, cursor=cursor), EventOut.of)
