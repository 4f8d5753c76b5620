"""The customer credit balance, kept as its movements (the balance is their sum: nothing is overwritten)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import credit_balance_transactions


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditMovement:
    tenant_id: str
    id: str
    customer_id: str
    amount: Money  # + credited to the customer, - used on an invoice
    source_type: str  # grant, credit_note, invoice
    source_id: str
    description: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "credit_balance_transaction", "customer_id": self.customer_id,
                "amount": {"amount": self.amount.amount_text(), "currency": self.amount.currency}, "source_type": self.source_type,
                "source_id": self.source_id, "description": self.description,
                "created_at": self.created_at.isoformat().replace("+00:00", "Z")}  # fmt: skip


def _movement(row: sa.Row[Any]) -> CreditMovement:
    return CreditMovement(tenant_id=row.tenant_id, id=row.id, customer_id=row.customer_id,
                          amount=Money.from_minor_units(row.amount_minor, row.currency), source_type=row.source_type,
                          source_id=row.source_id, description=row.description, created_at=row.created_at)  # fmt: skip


class CreditBalances:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, m: CreditMovement) -> None:
        self.conn.execute(credit_balance_transactions.insert().values(
            tenant_id=m.tenant_id, id=m.id, customer_id=m.customer_id, currency=m.amount.currency,
            amount_minor=m.amount.to_minor_units(), source_type=m.source_type, source_id=m.source_id,
            description=m.description, created_at=m.created_at,
        ))  # fmt: skip

    def balance(self, tenant_id: str, customer_id: str, currency: str) -> Money:
        c = credit_balance_transactions.c
        total = self.conn.execute(sa.select(sa.func.coalesce(sa.func.sum(c.amount_minor), 0)).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id, c.currency == currency)).scalar_one()  # fmt: skip
        return Money.from_minor_units(int(total), currency)

    def list(
        self, tenant_id: str, customer_id: str, *, limit: int, cursor: str | None
    ) -> Page[CreditMovement]:
        c = credit_balance_transactions.c
        query = sa.select(credit_balance_transactions).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id
        )
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_movement)
