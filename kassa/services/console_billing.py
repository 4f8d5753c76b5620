"""Reads the console's billing pages need beyond the API's lists: customers' names for a page of rows, the
open invoices a statement line can be assigned to, and what one statement import did to its lines."""

from __future__ import annotations

from collections.abc import Iterable

from kassa.core.audit import Actor
from kassa.core.invoicing import Invoice
from kassa.core.pages import MAX_LIMIT
from kassa.services.context import ServiceContext

STATUSES = ("applied", "review", "unmatched", "ignored")
MAX_CHOICES = 200  # open invoices offered for one line; the closest amounts first


def customer_names(ctx: ServiceContext, actor: Actor, ids: Iterable[str]) -> dict[str, str]:
    """id → name of the tenant's customers among `ids` (unknown ids are left out)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with ctx.uow(read_only=True) as uow:
        return {c.id: c.name for c in uow.customers.many(actor.tenant_id, wanted)}


def open_invoices(ctx: ServiceContext, actor: Actor, currency: str, amount_minor: int) -> list[Invoice]:
    """Finalized invoices still owed in `currency`, the ones owing exactly `amount_minor` first, then by
    how close what they owe is to it: the likely payers of a statement line of that amount."""
    with ctx.uow(read_only=True) as uow:
        found = [
            i
            for i in uow.invoices.open(actor.tenant_id)
            if i.currency == currency and i.amount_remaining.amount > 0
        ]
    found.sort(key=lambda i: (abs(i.amount_remaining.to_minor_units() - amount_minor), i.number or i.id))
    return found[:MAX_CHOICES]


def statement_counts(ctx: ServiceContext, actor: Actor, statement_id: str) -> dict[str, int]:
    """How many of a statement's lines are applied, in review, unmatched and ignored now."""
    counts = dict.fromkeys(STATUSES, 0)
    with ctx.uow(read_only=True) as uow:
        uow.statements.get(actor.tenant_id, statement_id)  # NotFound for another tenant's statement
        cursor: str | None = None
        while True:
            page = uow.statements.lines(
                actor.tenant_id, statement_id=statement_id, status=None, limit=MAX_LIMIT, cursor=cursor
            )
            for line in page.items:
                counts[line.status] = counts.get(line.status, 0) + 1
            if not page.has_more:
                return counts
            cursor = page.next_cursor
