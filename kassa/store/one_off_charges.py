"""Charges added by hand (professional services, hardware), billed with the customer's next invoice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kassa.core.money import Money
from kassa.store.tables import one_off_charges


@dataclass(frozen=True, slots=True, kw_only=True)
class OneOffCharge:
    tenant_id: str
    id: str
    customer_id: str
    description: str
    product: str
    quantity: Decimal
    unit_price: Decimal
    amount: Money
    tax_category: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "one_off_charge", "customer_id": self.customer_id,
                "description": self.description, "product": self.product, "quantity": str(self.quantity),
                "unit_price": str(self.unit_price), "charged": {"amount": self.amount.amount_text(), "currency": self.amount.currency},
                "tax_category": self.tax_category,
                "created_at": self.created_at.isoformat().replace("+00:00", "Z")}  # fmt: skip


class OneOffCharges:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, charge: OneOffCharge) -> None:
        self.conn.execute(one_off_charges.insert().values(
            tenant_id=charge.tenant_id, id=charge.id, customer_id=charge.customer_id, description=charge.description,
            product=charge.product, quantity=charge.quantity, unit_price=charge.unit_price,
            currency=charge.amount.currency, amount_minor=charge.amount.to_minor_units(),
            tax_category=charge.tax_category, created_at=charge.created_at,
        ))  # fmt: skip

    def of_customers(self, tenant_id: str, customer_ids: list[str]) -> list[OneOffCharge]:
        c = one_off_charges.c
        query = sa.select(one_off_charges).where(c.tenant_id == tenant_id, c.customer_id.in_(customer_ids))
        return [OneOffCharge(tenant_id=r.tenant_id, id=r.id, customer_id=r.customer_id, description=r.description,
                             product=r.product, quantity=r.quantity, unit_price=r.unit_price,
                             amount=Money.from_minor_units(r.amount_minor, r.currency), tax_category=r.tax_category,
                             created_at=r.created_at)
                for r in self.conn.execute(query.order_by(c.id))]  # fmt: skip
