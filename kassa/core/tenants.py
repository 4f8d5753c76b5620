"""A tenant's settings: who the seller is and how its money, numbers and time behave."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from kassa.core import parties
from kassa.core.dispute_policy import DisputePolicy, parse_dispute_policy
from kassa.core.errors import DomainError
from kassa.core.money import RoundingMode, currency_code
from kassa.core.payment_terms import (
    EarlyPaymentDiscount,
    GatewayRoute,
    LateFee,
    parse_early_payment_discount,
    parse_late_fee,
    parse_routes,
)
from kassa.core.tax_ids import TaxId
from kassa.core.webhooks import validate_networks


class TaxRounding(StrEnum):
    PER_LINE = "per_line"  # each line's tax rounded; the default, and what credit notes need
    PER_INVOICE = "per_invoice"  # once per tax rate, allocated back to the lines


class LateUsage(StrEnum):
    NEXT_INVOICE = "next_invoice"  # billed with the next period, as its own line
    REJECT = "reject"  # refused with late_usage; the sender knows it was not billed


class InAdvanceBilling(StrEnum):
    NEXT_INVOICE = "next_invoice"  # in-advance usage charges wait for the next invoice
    IMMEDIATE = "immediate"  # each is invoiced at once


class NumberReset(StrEnum):
    NEVER = "never"
    YEARLY = "yearly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceNumbering:
    """INV-2026-00042: a prefix, the period the sequence restarts in, and the zero-padded sequence."""

    prefix: str = "INV-"
    reset: NumberReset = NumberReset.YEARLY
    digits: int = 5

    def format(self, sequence: int, year: int, month: int) -> str:
        period = {
            NumberReset.NEVER: "",
            NumberReset.YEARLY: f"{year}-",
            NumberReset.MONTHLY: f"{year}{month:02d}-",
        }
        return f"{self.prefix}{period[self.reset]}{sequence:0{self.digits}d}"


@dataclass(frozen=True, slots=True, kw_only=True)
class BankDetails:
    iban: str
    bic: str | None = None
    account_holder: str | None = None
    bank_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantSettings:
    legal_name: str | None = None
    address: parties.Address | None = None
    tax_ids: tuple[TaxId, ...] = ()
    bank: BankDetails | None = None
    default_currency: str = "EUR"
    locale: str = "en"
    time_zone: str = "UTC"
    rounding_mode: RoundingMode = RoundingMode.HALF_UP
    tax_rounding: TaxRounding = TaxRounding.PER_LINE
    tax_inclusive: bool = False  # catalog prices include the tax (B2C in Europe)
    invoice_numbering: InvoiceNumbering = field(default_factory=InvoiceNumbering)
    draft_grace_period_hours: int = 1  # also how long a period's usage stays open after its end
    late_usage: LateUsage = LateUsage.NEXT_INVOICE
    in_advance_usage_billing: InAdvanceBilling = InAdvanceBilling.NEXT_INVOICE
    reporting_currency: str | None = None  # None: the default currency
    webhook_allowed_networks: tuple[str, ...] = ()
    invoice_template: str | None = (
        None  # the tenant's own Jinja2 layout for invoices (sandboxed); None: kassa's
    )
    late_fee: LateFee | None = None
    early_payment_discount: EarlyPaymentDiscount | None = None
    gateway_routes: tuple[GatewayRoute, ...] = ()
    sepa_creditor_id: str | None = (
        None  # SEPA creditor identifier (AT-02): direct debits are collected under it
    )
    dispute_policy: DisputePolicy | None = None  # which disputes are accepted at once (core/disputes.py)

    def to_json(self) -> dict[str, Any]:
        return {
            "legal_name": self.legal_name,
            "address": self.address.to_json() if self.address else None,
            "tax_ids": [t.to_json() for t in self.tax_ids],
            "bank": None
            if self.bank is None
            else {
                "iban": self.bank.iban,
                "bic": self.bank.bic,
                "account_holder": self.bank.account_holder,
                "bank_name": self.bank.bank_name,
            },
            "default_currency": self.default_currency,
            "locale": self.locale,
            "time_zone": self.time_zone,
            "rounding_mode": self.rounding_mode.value,
            "tax_rounding": self.tax_rounding.value,
            "tax_inclusive": self.tax_inclusive,
            "invoice_numbering": {
                "prefix": self.invoice_numbering.prefix,
                "reset": self.invoice_numbering.reset.value,
                "digits": self.invoice_numbering.digits,
            },
            "draft_grace_period_hours": self.draft_grace_period_hours,
            "late_usage": self.late_usage.value,
            "in_advance_usage_billing": self.in_advance_usage_billing.value,
            "reporting_currency": self.reporting_currency or self.default_currency,
            "webhook_allowed_networks": list(self.webhook_allowed_networks),
            "invoice_template": self.invoice_template,
            "late_fee": self.late_fee.to_json() if self.late_fee else None,
            "early_payment_discount": self.early_payment_discount.to_json()
            if self.early_payment_discount
            else None,
            "gateway_routes": [r.to_json() for r in self.gateway_routes],
            "sepa_creditor_id": self.sepa_creditor_id,
            "dispute_policy": self.dispute_policy.to_json() if self.dispute_policy else None,
        }


_CREDITOR_ID = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{3}[A-Z0-9]{1,28}")

SETTINGS_FIELDS = frozenset(TenantSettings.__dataclass_fields__)


def apply_settings(current: TenantSettings, patch: dict[str, Any]) -> TenantSettings:
    """The settings with `patch` applied, every field validated; tax ids and bank details arrive
    already checked (their checksums live in an adapter), as TaxId and BankDetails values."""
    unknown = set(patch) - SETTINGS_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown setting {name!r}.", name)
    values: dict[str, Any] = {}
    for name, value in patch.items():
        values[name] = _validate(name, value)
    updated = replace(current, **values)
    if updated.reporting_currency == updated.default_currency:
        updated = replace(updated, reporting_currency=None)
    return updated


def _validate(name: str, value: Any) -> Any:
    if name == "legal_name":
        return _text(value, name, nullable=True)
    if name == "address":
        return None if value is None else parties.address(value, name)
    if name in ("default_currency", "reporting_currency"):
        if value is None and name == "reporting_currency":
            return None
        return currency_code(value, name)
    if name == "locale":
        return parties.locale(value, name)
    if name == "time_zone":
        return parties.time_zone(value, name)
    if name == "rounding_mode":
        return _enum(RoundingMode, value, name)
    if name == "tax_rounding":
        return _enum(TaxRounding, value, name)
    if name == "tax_inclusive":
        if not isinstance(value, bool):
            raise DomainError("invalid_boolean", "tax_inclusive is true or false.", name)
        return value
    if name == "late_usage":
        return _enum(LateUsage, value, name)
    if name == "in_advance_usage_billing":
        return _enum(InAdvanceBilling, value, name)
    if name == "invoice_numbering":
        return _numbering(value)
    if name == "draft_grace_period_hours":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 720:
            raise DomainError("invalid_grace_period", "The draft grace period is 0 to 720 hours.", name)
        return value
    if name == "webhook_allowed_networks":
        return validate_networks(value)
    if name == "invoice_template":
        if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 200_000):
            raise DomainError("invalid_invoice_template", "The template is Jinja2 text of at most 200,000 characters.",
                              name)  # fmt: skip
        return value
    if name == "late_fee":
        return parse_late_fee(value)
    if name == "early_payment_discount":
        return parse_early_payment_discount(value)
    if name == "gateway_routes":
        return parse_routes(value)
    if name == "dispute_policy":
        return parse_dispute_policy(value)
    if name == "sepa_creditor_id":
        text = value.replace(" ", "").upper() if isinstance(value, str) else value
        if text is not None and (not isinstance(text, str) or not _CREDITOR_ID.fullmatch(text)):
            raise DomainError(
                "invalid_creditor_id", "A SEPA creditor identifier, like DE98ZZZ09999999999.", name
            )
        return text
    # tax_ids and bank: validated by the caller with the tax id adapter
    return value


def _text(value: Any, name: str, *, nullable: bool = False, limit: int = 200) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DomainError(
            "invalid_text", f"{name} must be non-empty text of at most {limit} characters.", name
        )
    return value.strip()


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise DomainError("invalid_choice", f"{value!r} is not one of {choices}.", name) from None


def _numbering(value: Any) -> InvoiceNumbering:
    if not isinstance(value, dict):
        raise DomainError("invalid_numbering", "invoice_numbering is an object.", "invoice_numbering")
    base = InvoiceNumbering()
    prefix = value.get("prefix", base.prefix)
    if not isinstance(prefix, str) or len(prefix) > 20 or not all(c.isalnum() or c in "-/_." for c in prefix):
        raise DomainError(
            "invalid_numbering",
            "The prefix is at most 20 letters, digits or - / _ . characters.",
            "invoice_numbering.prefix",
        )
    digits = value.get("digits", base.digits)
    if not isinstance(digits, int) or isinstance(digits, bool) or not 3 <= digits <= 12:
        raise DomainError("invalid_numbering", "digits is 3 to 12.", "invoice_numbering.digits")
    unknown = set(value) - {"prefix", "reset", "digits"}
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown field {name!r}.", f"invoice_numbering.{name}")
    reset = _enum(NumberReset, value.get("reset", base.reset.value), "invoice_numbering.reset")
    return InvoiceNumbering(prefix=prefix, reset=reset, digits=digits)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    id: str
    name: str
    settings: TenantSettings
    created_at: datetime
    updated_at: datetime


def settings_from_json(doc: dict[str, Any]) -> TenantSettings:
    """Settings as stored (already validated when written)."""
    bank = doc.get("bank")
    numbering = doc.get("invoice_numbering") or {}
    address = doc.get("address")
    default_currency = doc.get("default_currency", "EUR")
    # to_json writes the effective reporting currency; the default's own code means "follow the default"
    # (as apply_settings records it), or changing the default currency would leave reporting behind.
    reporting_currency = doc.get("reporting_currency")
    return TenantSettings(
        legal_name=doc.get("legal_name"),
        address=parties.Address(**address) if address else None,
        tax_ids=tuple(TaxId.from_json(t) for t in doc.get("tax_ids", ())),
        bank=BankDetails(**bank) if bank else None,
        default_currency=default_currency,
        locale=doc.get("locale", "en"),
        time_zone=doc.get("time_zone", "UTC"),
        rounding_mode=RoundingMode(doc.get("rounding_mode", RoundingMode.HALF_UP.value)),
        tax_rounding=TaxRounding(doc.get("tax_rounding", TaxRounding.PER_LINE.value)),
        tax_inclusive=bool(doc.get("tax_inclusive", False)),
        invoice_numbering=InvoiceNumbering(
            prefix=numbering.get("prefix", "INV-"),
            reset=NumberReset(numbering.get("reset", NumberReset.YEARLY.value)),
            digits=numbering.get("digits", 5),
        ),
        draft_grace_period_hours=doc.get("draft_grace_period_hours", 1),
        late_usage=LateUsage(doc.get("late_usage", LateUsage.NEXT_INVOICE.value)),
        in_advance_usage_billing=InAdvanceBilling(doc.get("in_advance_usage_billing", "next_invoice")),
        reporting_currency=None if reporting_currency == default_currency else reporting_currency,
        webhook_allowed_networks=tuple(doc.get("webhook_allowed_networks", ())),
        invoice_template=doc.get("invoice_template"),
        late_fee=parse_late_fee(doc.get("late_fee")),
        early_payment_discount=parse_early_payment_discount(doc.get("early_payment_discount")),
        gateway_routes=parse_routes(doc.get("gateway_routes", [])),
        sepa_creditor_id=doc.get("sepa_creditor_id"),
        dispute_policy=parse_dispute_policy(doc.get("dispute_policy")),
    )
