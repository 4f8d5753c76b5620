"""The customer credit balance: grants by hand, and the list of its movements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kassa.core import ledger
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.ledger import post
from kassa.store.credit_balances import CreditMovement


def grant_credit(
    ctx: ServiceContext, actor: Actor, customer_id: str, body: Mapping[str, Any]
) -> CreditMovement:
    """Credit granted by hand (goodwill, a service outage): it pays the next invoices after tax."""
    description = body.get("description")
    if not isinstance(description, str) or not description.strip() or len(description) > 500:
        raise DomainError(
            "invalid_description", "Say why the credit is granted (1 to 500 characters).", "description"
        )
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        amount = body.get("amount")
        if not isinstance(amount, str):
            raise DomainError("invalid_amount", "amount is a decimal string.", "amount")
        money = Money.parse(amount, customer.currency, field="amount")
        if money.amount <= 0 or not money.is_rounded:
            raise DomainError(
                "invalid_amount", f"Grant a positive amount in {customer.currency}'s minor units.", "amount"
            )
        now = now_for(ctx, uow, customer)
        movement = CreditMovement(tenant_id=actor.tenant_id, id=ctx.new_id("cbt"), customer_id=customer.id, amount=money,
                                  source_type="grant", source_id=actor.id, description=description.strip(),
                                  created_at=now)  # fmt: skip
        uow.credit_balances.add(movement)
        post(uow, ledger.credit_grant_entry(uow.ledger.chart(actor.tenant_id), tenant_id=actor.tenant_id,
                                            id=ctx.new_id("je"), posted_at=now, grant_id=movement.id,
                                            currency=money.currency, amount=money, reason=movement.description))  # fmt: skip
        audit.changed(ctx, uow, actor, EventType.CREDIT_GRANTED, object_type="credit_balance_transaction",
                      object_id=movement.id, before=None, after=movement.to_json(), at=now, customer_id=customer.id)  # fmt: skip
        uow.commit()
    return movement


def credit_balance(ctx: ServiceContext, actor: Actor, customer_id: str, *, limit: int,
                   cursor: str | None) -> tuple[Money, Page[CreditMovement]]:  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        balance = uow.credit_balances.balance(actor.tenant_id, customer.id, customer.currency)
        return balance, uow.credit_balances.list(actor.tenant_id, customer.id, limit=limit, cursor=cursor)
