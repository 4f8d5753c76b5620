"""Closing and reopening accounting months (docs/ledger.md). A closed month takes no new postings: what is
posted for a day in it books in the first open month (`kassa.services.ledger.post`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from kassa.core import accounting_periods as periods
from kassa.core.accounting_periods import AccountingPeriod, last_day
from kassa.core.audit import Actor
from kassa.core.events import EventType
from kassa.core.periods import local_day
from kassa.core.reports import month_name
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

# Work that must be in the books before a month closes, run inside the closing transaction before its rows
# are written: called with (ctx, uow, tenant_id, the last day of the month being closed). Revenue
# recognition registers itself here, so everything through the month end is recognized first.
BEFORE_CLOSE: list[Callable[[ServiceContext, UnitOfWork, str, date], None]] = []

OBJECT_TYPE = "accounting_period"


def _actor_name(actor: Actor) -> str:
    return f"{actor.type.value}:{actor.id}"


def list_periods(ctx: ServiceContext, actor: Actor) -> tuple[date | None, list[AccountingPeriod]]:
    """The books are closed through the first returned month (None: nothing closed); every month's row."""
    with ctx.uow(read_only=True) as uow:
        rows = uow.accounting_periods.periods(actor.tenant_id)
    return periods.closed_through(rows), rows


def close_period(ctx: ServiceContext, actor: Actor, month: Any) -> tuple[date, list[AccountingPeriod]]:
    """Close `month` (YYYY-MM) and every open month before it, once it has ended in the tenant's calendar.
    Returns the new closed-through month and the rows written."""
    target = periods.parse_month(month)
    tenant_id = actor.tenant_id
    with ctx.uow() as uow:
        uow.accounting_periods.lock_books(tenant_id, exclusive=True)
        tenant = uow.tenants.get(tenant_id)
        now = ctx.clock.now()
        existing = uow.accounting_periods.periods(tenant_id)
        # refuse before any hook runs: nothing is recognized for a month that cannot close
        periods.close(tenant_id, existing, target, today=local_day(now, tenant.settings.time_zone),
                      first_booked=None, at=now, by=_actor_name(actor))  # fmt: skip
        for hook in BEFORE_CLOSE:
            hook(ctx, uow, tenant_id, last_day(target))
        rows = periods.close(tenant_id, existing, target, today=local_day(now, tenant.settings.time_zone),
                             first_booked=uow.ledger.first_booked_on(tenant_id), at=now, by=_actor_name(actor))  # fmt: skip
        uow.accounting_periods.save(rows)
        before = {"closed_through": _through(existing), "months": {month_name(p.month): "open" for p in rows}}
        after = {
            "closed_through": month_name(target),
            "months": {month_name(p.month): "closed" for p in rows},
        }
        audit.changed(ctx, uow, actor, EventType.ACCOUNTING_PERIOD_CLOSED, object_type=OBJECT_TYPE,
                      object_id=month_name(target), before=before, after=after, at=now,
                      data={"month": month_name(target), "closed_through": month_name(target),
                            "months": [month_name(p.month) for p in rows]})  # fmt: skip
        uow.commit()
    return target, rows


def reopen_period(
    ctx: ServiceContext, actor: Actor, month: Any, reason: Any
) -> tuple[date | None, list[AccountingPeriod]]:
    """Reopen `month` and every closed month after it, with the reason (an audited admin act). Returns
    the new closed-through month (None: nothing closed any more) and the rows written."""
    target = periods.parse_month(month)
    tenant_id = actor.tenant_id
    with ctx.uow() as uow:
        uow.accounting_periods.lock_books(tenant_id, exclusive=True)
        now = ctx.clock.now()
        existing = uow.accounting_periods.periods(tenant_id)
        rows = periods.reopen(existing, target, reason=reason, at=now, by=_actor_name(actor))
        uow.accounting_periods.save(rows)
        through = periods.closed_through([p for p in existing if p.month < target])
        before = {
            "closed_through": _through(existing),
            "months": {month_name(p.month): "closed" for p in rows},
        }
        after = {"closed_through": None if through is None else month_name(through),
                 "months": {month_name(p.month): "open" for p in rows}, "reason": rows[0].reopen_reason}  # fmt: skip
        audit.changed(ctx, uow, actor, EventType.ACCOUNTING_PERIOD_REOPENED, object_type=OBJECT_TYPE,
                      object_id=month_name(target), before=before, after=after, at=now,
                      data={"month": month_name(target), "closed_through": after["closed_through"],
                            "months": [month_name(p.month) for p in rows], "reason": rows[0].reopen_reason})  # fmt: skip
        uow.commit()
    return through, rows


def _through(rows: list[AccountingPeriod]) -> str | None:
    through = periods.closed_through(rows)
    return None if through is None else month_name(through)
