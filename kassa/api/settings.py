"""/v1/settings: the tenant's seller details and the rules its money, numbers and time follow."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.customers import AddressOut, Locale, TimeZone
from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import AddressModel, CurrencyCode, Input, TaxIdIn, TaxIdOut
from kassa.core.money import RoundingMode
from kassa.core.tenants import TenantSettings
from kassa.services import tenants

router = APIRouter(prefix="/settings", tags=["settings"])
Short = Annotated[str, StringConstraints(max_length=200)]


class BankModel(Input):
    iban: Annotated[str, StringConstraints(min_length=5, max_length=42)] = Field(
        examples=["DE89370400440532013000"]
    )
    bic: Annotated[str, StringConstraints(min_length=8, max_length=11)] | None = None
    account_holder: Short | None = None
    bank_name: Short | None = None


class NumberingModel(Input):
    prefix: Annotated[str, StringConstraints(max_length=20, pattern=r"^[A-Za-z0-9/_.-]*$")] = "INV-"
    reset: Literal["never", "yearly", "monthly"] = "yearly"
    digits: Annotated[int, Field(ge=3, le=12)] = 5


Decimal = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,7}(\.[0-9]{1,6})?$"), Field(strict=True)]


class LateFeeModel(Input):
    fixed: Decimal | None = Field(None, description="In the invoice's currency.")
    percent: Decimal | None = Field(None, description="Of what is still owed when the grace ends.")
    annual_interest_percent: Decimal | None = Field(
        None, description="Per day late (actual/365), charged when paid."
    )
    grace_days: Annotated[int, Field(ge=0, le=365)] | None = None


class EarlyDiscountModel(Input):
    percent: Decimal
    within_days: Annotated[int, Field(ge=0, le=365)]


class RouteModel(Input):
    gateway: Literal["sandbox", "stripe"]
    currencies: Annotated[list[CurrencyCode], Field(max_length=200)] = []
    countries: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]], Field(max_length=250)
    ] = []


class DisputePolicyModel(Input):
    auto_accept_below: dict[CurrencyCode, Decimal] = Field(
        {}, description="Accept at once a dispute below this amount (tax included), by currency.")  # fmt: skip
    auto_accept_share_percent: Decimal | None = Field(
        None, description="Or one of at most this share of the line's total.")  # fmt: skip
    require_good_standing: bool = Field(
        True, description="Only for customers with nothing overdue or past due."
    )
    max_auto_accepted: Annotated[int, Field(ge=0, le=1000)] = Field(
        3, description="At most this many disputes auto-accepted per customer in 90 days.")  # fmt: skip


class SettingsUpdate(Input):
    legal_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    address: AddressModel | None = None
    tax_ids: Annotated[list[TaxIdIn], Field(max_length=10)] | None = None
    bank: BankModel | None = None
    default_currency: CurrencyCode | None = None
    locale: Locale | None = None
    time_zone: TimeZone | None = None
    rounding_mode: RoundingMode | None = None
    tax_rounding: Literal["per_line", "per_invoice"] | None = None
    tax_inclusive: bool | None = Field(None, description="Catalog prices include the tax.")
    invoice_template: Annotated[str, StringConstraints(min_length=1, max_length=200_000)] | None = Field(
        None, description="Your own Jinja2 invoice layout (sandboxed; see docs/invoices.md); null: kassa's."
    )
    invoice_numbering: NumberingModel | None = None
    draft_grace_period_hours: Annotated[int, Field(ge=0, le=720)] | None = Field(
        None, description="Hours a draft invoice waits, and a closed period still takes usage events."
    )
    late_usage: Literal["next_invoice", "reject"] | None = Field(
        None, description="Usage for a period already closed: billed on the next invoice, or refused."
    )
    in_advance_usage_billing: Literal["next_invoice", "immediate"] | None = None
    reporting_currency: CurrencyCode | None = None
    late_fee: LateFeeModel | None = Field(
        None, description="Charged on the next invoice (docs/payments.md); null: none."
    )
    early_payment_discount: EarlyDiscountModel | None = Field(None, description="null: none.")
    gateway_routes: Annotated[list[RouteModel], Field(max_length=50)] | None = Field(
        None, description="Which gateway takes a new card or provider account, by currency and country; first match.")  # fmt: skip
    sepa_creditor_id: Annotated[str, StringConstraints(min_length=8, max_length=40)] | None = Field(
        None, description="SEPA creditor identifier, for direct debits collected by file.")  # fmt: skip
    dispute_policy: DisputePolicyModel | None = Field(
        None, description="Which disputes are accepted at once (docs/disputes.md); null: none.")  # fmt: skip
    webhook_allowed_networks: (
        Annotated[list[Annotated[str, StringConstraints(max_length=50)]], Field(max_length=20)] | None
    ) = Field(
        None, description="CIDR networks webhook URLs may reach besides public addresses, e.g. 127.0.0.0/8."
    )


class BankOut(BaseModel):
    iban: str
    bic: str | None
    account_holder: str | None
    bank_name: str | None


class NumberingOut(BaseModel):
    prefix: str
    reset: str
    digits: int
    example: str


class SettingsOut(BaseModel):
    legal_name: str | None
    address: AddressOut | None
    tax_ids: list[TaxIdOut]
    bank: BankOut | None
    default_currency: str
    locale: str
    time_zone: str
    rounding_mode: RoundingMode
    tax_rounding: str
    tax_inclusive: bool
    invoice_numbering: NumberingOut
    draft_grace_period_hours: int
    late_usage: str
    in_advance_usage_billing: str
    reporting_currency: str
    webhook_allowed_networks: list[str]
    invoice_template: str | None
    late_fee: dict[str, Any] | None
    early_payment_discount: dict[str, Any] | None
    gateway_routes: list[dict[str, Any]]
    sepa_creditor_id: str | None
    dispute_policy: dict[str, Any] | None

    @classmethod
    def of(cls, s: TenantSettings) -> SettingsOut:
        doc = s.to_json()
        doc["invoice_numbering"]["example"] = s.invoice_numbering.format(42, 2026, 1)
        return cls.model_validate(doc)


# Fields whose null means "none" (cleared) rather than "leave as is".
NULLABLE = {
    "legal_name",
    "address",
    "bank",
    "reporting_currency",
    "invoice_template",
    "late_fee",
    "early_payment_discount",
    "sepa_creditor_id",
    "dispute_policy",
}


@router.get("", response_model=SettingsOut)
def get_settings(ctx: Ctx, actor: Caller) -> SettingsOut:
    return SettingsOut.of(tenants.get_settings(ctx, actor))


@router.patch("", response_model=SettingsOut)
def update_settings(body: SettingsUpdate, ctx: Ctx, actor: Caller) -> SettingsOut:
    patch = {
        k: v
        for k, v in body.model_dump(exclude_unset=True, mode="json").items()
        if v is not None or k in NULLABLE
    }
    return SettingsOut.of(tenants.update_settings(ctx, actor, patch))
