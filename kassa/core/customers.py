"""Customer accounts: who is billed, where, in what currency and language, and who pays for whom."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from kassa.core import parties
from kassa.core.errors import DomainError, prefixed
from kassa.core.metadata import metadata
from kassa.core.money import Money, currency_code
from kassa.core.tax_ids import TaxId

MAX_EMAILS = 10
MAX_PAYMENT_TERMS_DAYS = 365
MAX_HIERARCHY_DEPTH = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    tenant_id: str
    id: str
    external_id: str
    name: str
    legal_name: str | None = None
    emails: tuple[str, ...] = ()
    address: parties.Address | None = None
    currency: str
    locale: str
    time_zone: str
    tax_ids: tuple[TaxId, ...] = ()
    payment_terms_days: int = 0
    parent_id: str | None = None
    bill_to_parent: bool = False  # the parent pays: this account's charges go on the parent's invoice
    tax_exempt: bool = False  # invoices carry no tax (exemption certificate on file)
    credit_limit: Money | None = None
    bill_cycle_day: int | None = None  # day of month "account"-anchored subscriptions renew on
    metadata: Mapping[str, str] = field(default_factory=dict)
    test_clock_id: str | None = None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def to_json(self) -> dict[str, Any]:
        """The audit/event view: JSON-shaped, money as strings."""
        return {
            "id": self.id,
            "external_id": self.external_id,
            "name": self.name,
            "legal_name": self.legal_name,
            "emails": list(self.emails),
            "address": self.address.to_json() if self.address else None,
            "currency": self.currency,
            "locale": self.locale,
            "time_zone": self.time_zone,
            "tax_ids": [t.to_json() for t in self.tax_ids],
            "payment_terms_days": self.payment_terms_days,
            "parent_id": self.parent_id,
            "bill_to_parent": self.bill_to_parent,
            "tax_exempt": self.tax_exempt,
            "bill_cycle_day": self.bill_cycle_day,
            "credit_limit": None
            if self.credit_limit is None
            else {"amount": self.credit_limit.amount_text(), "currency": self.credit_limit.currency},
            "metadata": dict(self.metadata),
            "test_clock_id": self.test_clock_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "archived_at": self.archived_at.isoformat() if self.archived_at else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerFilter:
    external_id: str | None = None
    parent_id: str | None = None
    currency: str | None = None
    country: str | None = None
    test_clock_id: str | None = None
    archived: bool | None = False  # None: both
    created_gte: datetime | None = None
    created_lt: datetime | None = None


# Fields a create or update may set; tax ids arrive checked by the adapter as TaxId values.
EDITABLE = frozenset(
    {
        "external_id", "name", "legal_name", "emails", "address", "currency", "locale", "time_zone",
        "tax_ids", "payment_terms_days", "parent_id", "bill_to_parent", "tax_exempt", "credit_limit", "metadata", "bill_cycle_day",
    }
)  # fmt: skip


def apply_changes(customer: Customer, changes: Mapping[str, Any]) -> Customer:
    """`customer` with `changes` validated and applied (a new customer is a blank one plus its fields)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown customer field {name!r}.", name)
    values = {name: _validate(name, value) for name, value in changes.items()}
    updated = replace(customer, **values)
    if updated.credit_limit is not None and updated.credit_limit.currency != updated.currency:
        raise DomainError(
            "currency_mismatch",
            f"The credit limit is in {updated.credit_limit.currency} but the customer is billed in {updated.currency}.",
            "credit_limit.currency",
        )
    if updated.bill_to_parent and updated.parent_id is None:
        raise DomainError("parent_required", "bill_to_parent needs a parent_id.", "bill_to_parent")
    return updated


def _validate(name: str, value: Any) -> Any:
    if name in ("external_id", "name"):
        return _text(value, name, limit=255 if name == "external_id" else 200)
    if name == "legal_name":
        return None if value is None else _text(value, name, limit=200)
    if name == "emails":
        if not isinstance(value, list | tuple) or len(value) > MAX_EMAILS:
            raise DomainError("invalid_emails", f"emails is a list of at most {MAX_EMAILS} addresses.", name)
        return tuple(parties.email(e, f"emails.{i}") for i, e in enumerate(value))
    if name == "address":
        return None if value is None else parties.address(value, name)
    if name == "currency":
        return currency_code(value, name)
    if name == "locale":
        return parties.locale(value, name)
    if name == "time_zone":
        return parties.time_zone(value, name)
    if name == "payment_terms_days":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PAYMENT_TERMS_DAYS:
            raise DomainError(
                "invalid_payment_terms", f"Payment terms are 0 to {MAX_PAYMENT_TERMS_DAYS} days net.", name
            )
        return value
    if name == "bill_cycle_day":
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 31
        ):
            raise DomainError("invalid_bill_cycle_day", "bill_cycle_day is a day of month, 1 to 31.", name)
        return value
    if name in ("bill_to_parent", "tax_exempt"):
        if not isinstance(value, bool):
            raise DomainError("invalid_boolean", f"{name} is true or false.", name)
        return value
    if name == "credit_limit":
        if value is not None and (not isinstance(value, Money) or value.amount < 0 or not value.is_rounded):
            raise DomainError(
                "invalid_credit_limit",
                "The credit limit is a non-negative amount in the currency's minor units.",
                name,
            )
        if value is not None:
            try:
                value.to_minor_units()
            except DomainError as error:
                raise prefixed(error, name) from None
        return value
    if name == "metadata":
        return metadata(value)
    # tax_ids (TaxId values) and parent_id (checked against the hierarchy by check_parent)
    return tuple(value) if name == "tax_ids" else value


def check_parent(
    customer_id: str, parent_id: str, parent_of: Callable[[str], str | None], levels_below: int = 0
) -> None:
    """Refuse a parent that would make a cycle or a hierarchy deeper than MAX_HIERARCHY_DEPTH.

    `parent_of` returns the parent id of an existing customer of the same tenant (None at the top);
    `levels_below` is how deep the customer's own subtree goes (0 without children), since it moves along.
    """
    seen = customer_id
    current: str | None = parent_id
    for _ in range(MAX_HIERARCHY_DEPTH - levels_below):
        if current is None:
            return
        if current == seen:
            raise DomainError("parent_cycle", "A customer cannot be its own ancestor.", "parent_id")
        current = parent_of(current)
    raise DomainError(
        "hierarchy_too_deep",
        f"Account hierarchies are at most {MAX_HIERARCHY_DEPTH} levels deep.",
        "parent_id",
    )


def _text(value: Any, name: str, *, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DomainError("invalid_text", f"{name} is non-empty text of at most {limit} characters.", name)
    return value.strip()
