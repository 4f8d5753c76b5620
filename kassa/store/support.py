"""SLA policies (stored as their document) and tickets; every query is scoped by tenant."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.pages import Page
from kassa.core.support import (
    SlaPolicy,
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketStatus,
    sla_policy_from_doc,
)
from kassa.store.pages import page
from kassa.store.tables import sla_policies, tickets


class SlaPolicies:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def put(self, tenant_id: str, policy: SlaPolicy, *, at: datetime) -> None:
        """Insert the policy, or replace the one with its code (tickets keep the deadlines they were given)."""
        c = sla_policies.c
        doc = policy.to_doc()
        updated = self.conn.execute(
            sla_policies.update()
            .where(c.tenant_id == tenant_id, c.code == policy.code)
            .values(name=policy.name, doc=doc, updated_at=at)
        ).rowcount
        if not updated:
            self.conn.execute(sla_policies.insert().values(tenant_id=tenant_id, code=policy.code, name=policy.name,
                                                           doc=doc, created_at=at, updated_at=at))  # fmt: skip

    def find(self, tenant_id: str, code: str) -> SlaPolicy | None:
        c = sla_policies.c
        row = self.conn.execute(
            sa.select(sla_policies).where(c.tenant_id == tenant_id, c.code == code)
        ).first()
        return None if row is None else sla_policy_from_doc(row.code, row.doc)

    def get(self, tenant_id: str, code: str) -> SlaPolicy:
        policy = self.find(tenant_id, code)
        if policy is None:
            raise NotFound("sla_policy", code)
        return policy

    def list(self, tenant_id: str) -> builtins.list[SlaPolicy]:
        c = sla_policies.c
        rows = self.conn.execute(sa.select(sla_policies).where(c.tenant_id == tenant_id).order_by(c.code))
        return [sla_policy_from_doc(r.code, r.doc) for r in rows]


_COLUMNS = ("customer_id", "subject", "description", "assignee_id", "sla_policy", "opened_at",
            "first_response_due_at", "resolution_due_at", "first_responded_at", "resolved_at",
            "first_response_breached", "resolution_breached", "minutes_spent", "created_at", "updated_at")  # fmt: skip


def _values(t: Ticket) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(t, name) for name in _COLUMNS}
    return {"tenant_id": t.tenant_id, "id": t.id, "channel": t.channel.value, "priority": t.priority.value,
            "status": t.status.value, **values}  # fmt: skip


def _ticket(r: sa.Row[Any]) -> Ticket:
    return Ticket(tenant_id=r.tenant_id, id=r.id, channel=TicketChannel(r.channel),
                  priority=TicketPriority(r.priority), status=TicketStatus(r.status),
                  **{name: getattr(r, name) for name in _COLUMNS})  # fmt: skip


class Tickets:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, ticket: Ticket) -> None:
        self.conn.execute(tickets.insert().values(**_values(ticket)))

    def update(self, ticket: Ticket) -> None:
        c = tickets.c
        self.conn.execute(tickets.update().where(c.tenant_id == ticket.tenant_id, c.id == ticket.id)
                          .values(**_values(ticket)))  # fmt: skip

    def get(self, tenant_id: str, ticket_id: str, *, for_update: bool = False) -> Ticket:
        c = tickets.c
        query = sa.select(tickets).where(c.tenant_id == tenant_id, c.id == ticket_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("ticket", ticket_id)
        return _ticket(row)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None, customer_id: str | None = None,
             status: TicketStatus | None = None, assignee_id: str | None = None) -> Page[Ticket]:  # fmt: skip
        """The tenant's tickets, newest first, optionally of one customer, status or assignee."""
        c = tickets.c
        query = sa.select(tickets).where(c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        if status is not None:
            query = query.where(c.status == status.value)
        if assignee_id is not None:
            query = query.where(c.assignee_id == assignee_id)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_ticket)

    def opened_between(self, tenant_id: str, start: datetime, end: datetime) -> builtins.list[Ticket]:
        """The tickets opened in [start, end), for the SLA attainment report."""
        c = tickets.c
        query = sa.select(tickets).where(c.tenant_id == tenant_id, c.opened_at >= start, c.opened_at < end)
        return [_ticket(r) for r in self.conn.execute(query.order_by(c.opened_at, c.id))]
