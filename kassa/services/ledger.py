"""The general ledger: every money movement posts one balanced entry in the transaction that made it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.ledger import ChartOfAccounts, JournalEntry, chart_to_json, parse_chart
from kassa.core.pages import Page
from kassa.core.periods import local_day
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork


def post(uow: UnitOfWork, entry: Callable[[], JournalEntry] | JournalEntry) -> None:
    """Post one entry; an entry that moves nothing (a zero invoice, charges netting to zero) is not one."""
    if callable(entry):
        try:
            entry = entry()
        except DomainError as error:
            if error.code == "empty_entry":
                return
            raise
    if entry.booked_on is None:
        tenant = uow.tenants.get(entry.tenant_id)
        entry = replace(entry, booked_on=local_day(entry.posted_at, tenant.settings.time_zone))
    uow.ledger.post(entry)


def get_chart(ctx: ServiceContext, actor: Actor) -> ChartOfAccounts:
    with ctx.uow(read_only=True) as uow:
        return uow.ledger.chart(actor.tenant_id)


def set_chart(ctx: ServiceContext, actor: Actor, doc: Any) -> ChartOfAccounts:
    chart = parse_chart(doc)
    with ctx.uow() as uow:
        before = uow.ledger.chart(actor.tenant_id)
        now = ctx.clock.now()
        uow.ledger.set_chart(actor.tenant_id, chart, now)
        audit.record(ctx, uow, actor, "ledger_chart.updated", object_type="ledger_chart", object_id=actor.tenant_id,
                     before=chart_to_json(before), after=chart_to_json(chart), at=now)  # fmt: skip
        uow.commit()
    return chart


def list_entries(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None) -> Page[JournalEntry]:
    with ctx.uow(read_only=True) as uow:
        return uow.ledger.entries(actor.tenant_id, limit=limit, cursor=cursor)


def trial_balance(ctx: ServiceContext, actor: Actor) -> list[dict[str, Any]]:
    """Per account and currency, debit-positive, with the account's name and type from the chart."""
    with ctx.uow(read_only=True) as uow:
        chart = uow.ledger.chart(actor.tenant_id)
        names = {a.code: a for a in chart.accounts}
        rows = uow.ledger.balances(actor.tenant_id)
    return [{"account": code, "name": names[code].name if code in names else code,
             "type": names[code].type.value if code in names else None,
             "balance": {"amount": money.amount_text(), "currency": money.currency}}
            for (code, _), money in sorted(rows.items())]  # fmt: skip
