"""The SLA attainment report (issue 9): per month and priority, targets met, breached and running, the
attainment share and the median working minutes to first response and to resolution. See
kassa/core/sla_attainment.py for the definitions and docs/support.md for the report."""

from __future__ import annotations

from typing import Any

from kassa.core.audit import Actor
from kassa.core.periods import start_of
from kassa.core.reports import Report, next_month
from kassa.core.sla_attainment import COLUMNS, attainment
from kassa.services.context import ServiceContext
from kassa.services.revenue_reports import span

NOTES = (
    "Months are those the tickets were opened in, in the tenant's time zone.",
    "A target is breached when done late or when its deadline passed undone; running while undone before it.",
    "Attainment is met / (met + breached); medians are in the policy's working minutes.",
)


def sla_attainment_report(ctx: ServiceContext, actor: Actor, first: Any, last: Any) -> Report:
    months = span(ctx, actor, first, last)
    with ctx.uow(read_only=True) as uow:
        zone = uow.tenants.get(actor.tenant_id).settings.time_zone
        start, end = start_of(months[0], zone), start_of(next_month(months[-1]), zone)
        tickets = uow.tickets.opened_between(actor.tenant_id, start, end)
        calendars = {p.code: p.calendar for p in uow.sla_policies.list(actor.tenant_id)}
    rows = attainment(tickets, calendars, zone, ctx.clock.now())
    return Report(name="sla_attainment", columns=COLUMNS, rows=tuple(rows), notes=NOTES)
