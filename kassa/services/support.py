"""Support tickets with SLAs (issue 9): SLA policies, tickets opened against a customer with deadlines
from their policy, responses, status changes, time logged as a cost to serve, and the due work that
warns before a deadline and marks a breach after it. See docs/support.md.

"Now" is the customer's present (its test clock, or the system clock), so a ticket of a customer on a
test clock is opened, answered and breached in that clock's time, and its SLA jobs run as it advances.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from kassa.core.audit import Actor, system_actor
from kassa.core.cost_to_serve import MAX_DESCRIPTION as MAX_COST_DESCRIPTION
from kassa.core.cost_to_serve import CostEntry, CostKind, CostSource
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.jobs import Job
from kassa.core.pages import Page, check_limit
from kassa.core.periods import local_day
from kassa.core.support import (
    MAX_DESCRIPTION,
    MAX_SUBJECT,
    RESOLVED,
    Deadlines,
    SlaPolicy,
    SlaTargetKind,
    Ticket,
    TicketPriority,
    TicketStatus,
    channel,
    check_transition,
    deadlines,
    is_late,
    logged_minutes,
    priority,
    sla_policy_from_doc,
    status,
    text,
    time_cost,
)
from kassa.services import audit, events, jobs, users
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.store.uow import UnitOfWork

SLA_JOB = "support.sla"
WARNING, BREACH = "warning", "breach"
MAX_MESSAGE = 10_000

# ---- policies ------------------------------------------------------------------------------------------


def put_sla_policy(ctx: ServiceContext, actor: Actor, code: str, doc: Any) -> SlaPolicy:
    """Create or replace the policy `code`. Open tickets keep the deadlines they were given; a later
    priority change computes new ones from the policy as it is then."""
    policy = sla_policy_from_doc(code, doc)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        before = uow.sla_policies.find(actor.tenant_id, code)
        uow.sla_policies.put(actor.tenant_id, policy, at=now)
        audit.changed(ctx, uow, actor, EventType.SLA_POLICY_UPDATED, object_type="sla_policy", object_id=code,
                      before=None if before is None else before.to_doc(), after=policy.to_doc(), at=now,
                      data={"code": code, **policy.to_doc()})  # fmt: skip
        uow.commit()
    return policy


def get_sla_policy(ctx: ServiceContext, actor: Actor, code: str) -> SlaPolicy:
    with ctx.uow(read_only=True) as uow:
        return uow.sla_policies.get(actor.tenant_id, code)


def list_sla_policies(ctx: ServiceContext, actor: Actor) -> list[SlaPolicy]:
    with ctx.uow(read_only=True) as uow:
        return uow.sla_policies.list(actor.tenant_id)


# ---- tickets -------------------------------------------------------------------------------------------


def _known(fields: Mapping[str, Any], names: set[str]) -> None:
    if not isinstance(fields, Mapping):
        raise DomainError("invalid_ticket", "A ticket is an object.")
    for key in fields:
        if key not in names:
            raise DomainError("invalid_ticket", f"Unknown field {key!r}.", str(key))


def _policy(uow: UnitOfWork, tenant_id: str, code: Any) -> SlaPolicy | None:
    if code is None:
        return None
    policy = uow.sla_policies.find(tenant_id, code) if isinstance(code, str) and len(code) <= 64 else None
    if policy is None:
        raise DomainError("unknown_sla_policy", f"No SLA policy {code!r}.", "sla_policy")
    return policy


def create_ticket(ctx: ServiceContext, actor: Actor, fields: Mapping[str, Any]) -> Ticket:
    """Open a ticket: {customer_id, subject, description?, channel, priority? (normal), sla_policy?,
    assignee_id?}. With a policy its deadlines are set and the warning and breach jobs scheduled."""
    _known(
        fields, {"customer_id", "subject", "description", "channel", "priority", "sla_policy", "assignee_id"}
    )
    subject = text(fields.get("subject"), "subject", limit=MAX_SUBJECT, required=True)
    description = text(fields.get("description"), "description", limit=MAX_DESCRIPTION, required=False)
    via = channel(fields.get("channel"))
    level = priority(fields.get("priority", TicketPriority.NORMAL.value))
    customer_id = fields.get("customer_id")
    if not isinstance(customer_id, str):
        raise DomainError("invalid_ticket", "customer_id is required.", "customer_id")
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        policy = _policy(uow, actor.tenant_id, fields.get("sla_policy"))
        assignee = users.assignee(uow, actor.tenant_id, fields.get("assignee_id"), "ticket")
        now = now_for(ctx, uow, customer)
        due = None if policy is None else deadlines(policy, level, now)
        assert subject is not None
        ticket = Ticket(
            tenant_id=actor.tenant_id, id=ctx.new_id("tkt"), customer_id=customer.id, subject=subject,
            description=description, channel=via, priority=level, status=TicketStatus.NEW, assignee_id=assignee,
            sla_policy=None if policy is None else policy.code, opened_at=now,
            first_response_due_at=None if due is None else due.first_response_due,
            resolution_due_at=None if due is None else due.resolution_due, created_at=now, updated_at=now,
        )  # fmt: skip
        uow.tickets.add(ticket)
        if due is not None:
            _schedule(ctx, uow, ticket, due, now)
        audit.changed(ctx, uow, actor, EventType.TICKET_CREATED, object_type="ticket", object_id=ticket.id,
                      before=None, after=ticket.to_json(), at=now, customer_id=customer.id)  # fmt: skip
        uow.commit()
    return ticket


def get_ticket(ctx: ServiceContext, actor: Actor, ticket_id: str) -> Ticket:
    with ctx.uow(read_only=True) as uow:
        return uow.tickets.get(actor.tenant_id, ticket_id)


def list_tickets(
    ctx: ServiceContext,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    customer_id: str | None = None,
    status_filter: str | None = None,
    assignee_id: str | None = None,
) -> Page[Ticket]:
    """The tenant's tickets, newest first, optionally of one customer, status or assignee."""
    check_limit(limit)
    wanted = None if status_filter is None else status(status_filter)
    with ctx.uow(read_only=True) as uow:
        return uow.tickets.list(actor.tenant_id, limit=limit, cursor=cursor, customer_id=customer_id,
                                status=wanted, assignee_id=assignee_id)  # fmt: skip


def _load(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, ticket_id: str) -> tuple[Ticket, datetime]:
    ticket = uow.tickets.get(actor.tenant_id, ticket_id, for_update=True)
    return ticket, now_for(ctx, uow, uow.customers.get(actor.tenant_id, ticket.customer_id))


def update_ticket(ctx: ServiceContext, actor: Actor, ticket_id: str, changes: Mapping[str, Any]) -> Ticket:
    """Change {status?, priority?, assignee_id?, subject?}. Solving (or closing) sets resolved_at and
    judges the resolution target; reopening a solved ticket clears it; a new priority recomputes both
    deadlines from opened_at under the ticket's policy."""
    _known(changes, {"status", "priority", "assignee_id", "subject"})
    with ctx.uow() as uow:
        ticket, now = _load(ctx, uow, actor, ticket_id)
        before = ticket
        values: dict[str, Any] = {}
        if "subject" in changes:
            values["subject"] = text(changes["subject"], "subject", limit=MAX_SUBJECT, required=True)
        if "assignee_id" in changes:
            values["assignee_id"] = users.assignee(uow, actor.tenant_id, changes["assignee_id"], "ticket")
        if "status" in changes:
            values |= _status_change(ctx, uow, ticket, status(changes["status"]), now)
        if "priority" in changes:
            level = priority(changes["priority"])
            values["priority"] = level
            policy = (
                _policy(uow, actor.tenant_id, ticket.sla_policy) if level is not ticket.priority else None
            )
            if policy is not None:
                due = deadlines(policy, level, ticket.opened_at)
                values |= {
                    "first_response_due_at": due.first_response_due,
                    "resolution_due_at": due.resolution_due,
                }
        ticket = _replace(ticket, values, now)
        if "priority" in values and ticket.sla_policy is not None and before.priority is not ticket.priority:
            policy = _policy(uow, actor.tenant_id, ticket.sla_policy)
            assert policy is not None
            _schedule(ctx, uow, ticket, deadlines(policy, ticket.priority, ticket.opened_at), now)
        if ticket != before:
            uow.tickets.update(ticket)
            audit.changed(ctx, uow, actor, EventType.TICKET_UPDATED, object_type="ticket", object_id=ticket.id,
                          before=before.to_json(), after=ticket.to_json(), at=now, customer_id=ticket.customer_id)  # fmt: skip
        uow.commit()
    return ticket


def _replace(ticket: Ticket, values: Mapping[str, Any], now: datetime) -> Ticket:
    changed = {k: v for k, v in values.items() if getattr(ticket, k) != v}
    return replace(ticket, **changed, updated_at=now) if changed else ticket


def _status_change(
    ctx: ServiceContext, uow: UnitOfWork, ticket: Ticket, new: TicketStatus, now: datetime
) -> dict[str, Any]:
    check_transition(ticket.status, new)
    values: dict[str, Any] = {"status": new}
    if new in RESOLVED and ticket.status not in RESOLVED:
        values["resolved_at"] = now
        values["resolution_breached"] = ticket.resolution_breached or is_late(ticket.resolution_due_at, now)
    elif new not in RESOLVED and ticket.status in RESOLVED:
        values["resolved_at"] = None
        values |= _rearm(ctx, uow, ticket, now)
    return values


def _rearm(ctx: ServiceContext, uow: UnitOfWork, ticket: Ticket, now: datetime) -> dict[str, Any]:
    """A solved ticket reopened: the resolution's jobs that fell due while it was solved found it met and
    did nothing, so what they would have done happens now (a breach, or else a warning); the jobs still
    to come were never cancelled and will run."""
    due, solved_at = ticket.resolution_due_at, ticket.resolved_at
    if due is None or solved_at is None or ticket.resolution_breached:
        return {}
    if solved_at < due <= now:
        _announce(ctx, uow, ticket, SlaTargetKind.RESOLUTION, BREACH, now)
        return {"resolution_breached": True}
    policy = uow.sla_policies.find(ticket.tenant_id, ticket.sla_policy) if ticket.sla_policy else None
    if policy is not None:
        warning = deadlines(policy, ticket.priority, ticket.opened_at).resolution_warning
        if solved_at < warning <= now and warning < due:
            _announce(ctx, uow, ticket, SlaTargetKind.RESOLUTION, WARNING, now)
    return {}


def respond(ctx: ServiceContext, actor: Actor, ticket_id: str, body: Mapping[str, Any]) -> Ticket:
    """A staff response {message}. The first one sets first_responded_at (judged against its deadline)
    and opens a new ticket; a closed ticket takes no more responses."""
    _known(body, {"message"})
    message = text(body.get("message"), "message", limit=MAX_MESSAGE, required=True)
    with ctx.uow() as uow:
        ticket, now = _load(ctx, uow, actor, ticket_id)
        if ticket.status is TicketStatus.CLOSED:
            raise Conflict("ticket_closed", f"Ticket {ticket.id} is closed.", None)
        before = ticket
        first = ticket.first_responded_at is None
        values: dict[str, Any] = {}
        if first:
            values["first_responded_at"] = now
            values["first_response_breached"] = ticket.first_response_breached or is_late(
                ticket.first_response_due_at, now
            )
        if ticket.status is TicketStatus.NEW:
            values["status"] = TicketStatus.OPEN
        ticket = _replace(ticket, values, now)
        if ticket != before:
            uow.tickets.update(ticket)
        audit.changed(ctx, uow, actor, EventType.TICKET_RESPONDED, object_type="ticket", object_id=ticket.id,
                      before=before.to_json(), after=ticket.to_json(), at=now, customer_id=ticket.customer_id,
                      data={"ticket": ticket.to_json(), "message": message, "first_response": first})  # fmt: skip
        uow.commit()
    return ticket


def log_time(
    ctx: ServiceContext, actor: Actor, ticket_id: str, body: Mapping[str, Any]
) -> tuple[Ticket, CostEntry]:
    """Time spent on a ticket {minutes, description?}: added to minutes_spent and recorded as a support
    cost to serve, priced at the policy's cost_per_hour (minutes x rate / 60, half-up), or 0 without one."""
    _known(body, {"minutes", "description"})
    minutes = logged_minutes(body.get("minutes"))
    note = text(body.get("description"), "description", limit=MAX_COST_DESCRIPTION, required=False)
    with ctx.uow() as uow:
        ticket, now = _load(ctx, uow, actor, ticket_id)
        customer = uow.customers.get(actor.tenant_id, ticket.customer_id)
        policy = uow.sla_policies.find(actor.tenant_id, ticket.sla_policy) if ticket.sla_policy else None
        amount = time_cost(minutes, None if policy is None else policy.cost_per_hour, customer.currency)
        entry = CostEntry(
            tenant_id=actor.tenant_id, id=ctx.new_id("cost"), customer_id=customer.id,
            occurred_on=local_day(now, customer.time_zone), kind=CostKind.SUPPORT, amount=amount, minutes=minutes,
            description=note or f"Ticket {ticket.id}: {ticket.subject}"[:MAX_COST_DESCRIPTION],
            source=CostSource.API, created_at=now,
        )  # fmt: skip
        uow.cost_entries.add(entry)
        before = ticket
        ticket = _replace(ticket, {"minutes_spent": ticket.minutes_spent + minutes}, now)
        uow.tickets.update(ticket)
        audit.record(ctx, uow, actor, "ticket.time_logged", object_type="ticket", object_id=ticket.id,
                     before={"minutes_spent": before.minutes_spent}, after={"minutes_spent": ticket.minutes_spent},
                     at=now)  # fmt: skip
        audit.changed(ctx, uow, actor, EventType.COST_RECORDED, object_type="cost_entry", object_id=entry.id,
                      before=None, after=entry.to_json(), at=now, customer_id=customer.id,
                      data={**entry.to_json(), "ticket_id": ticket.id})  # fmt: skip
        uow.commit()
    return ticket, entry


# ---- SLA jobs ------------------------------------------------------------------------------------------


def _schedule(ctx: ServiceContext, uow: UnitOfWork, ticket: Ticket, due: Deadlines, now: datetime) -> None:
    """A warning and a breach job per target still unmet. Each carries the deadline it belongs to: after
    a priority change the old jobs find a different deadline on the ticket and do nothing."""
    for target in SlaTargetKind:
        if ticket.met_at(target) is not None:
            continue
        deadline, warning = due.due(target), due.warning(target)
        for kind, at in ((WARNING, warning), (BREACH, deadline)):
            if kind == WARNING and warning >= deadline:
                continue  # a warning at the deadline says nothing the breach does not
            stamp = at.isoformat()
            jobs.schedule(ctx, uow, ticket.tenant_id, SLA_JOB, max(at, now),
                          dedupe_key=f"{ticket.id}:{target.value}:{kind}:{deadline.isoformat()}:{stamp}",
                          customer_id=ticket.customer_id,
                          payload={"ticket_id": ticket.id, "target": target.value, "kind": kind,
                                   "due_at": deadline.isoformat()})  # fmt: skip


def _due(ticket: Ticket, target: SlaTargetKind) -> datetime | None:
    return (
        ticket.first_response_due_at if target is SlaTargetKind.FIRST_RESPONSE else ticket.resolution_due_at
    )


def _announce(
    ctx: ServiceContext, uow: UnitOfWork, ticket: Ticket, target: SlaTargetKind, kind: str, now: datetime
) -> None:
    due = _due(ticket, target)
    assert due is not None
    data = {"ticket": ticket.to_json(), "target": target.value,
            "due_at": due.isoformat().replace("+00:00", "Z")}  # fmt: skip
    if kind == WARNING:
        events.emit(ctx, uow, ticket.tenant_id, EventType.TICKET_SLA_WARNING, object_type="ticket",
                    object_id=ticket.id, data=data, at=now, customer_id=ticket.customer_id)  # fmt: skip
        return
    flag = f"{target.value}_breached"
    audit.changed(ctx, uow, system_actor(ticket.tenant_id, "support"), EventType.TICKET_SLA_BREACHED,
                  object_type="ticket", object_id=ticket.id, before={flag: False}, after={flag: True}, at=now,
                  customer_id=ticket.customer_id, data=data)  # fmt: skip


@jobs.handles(SLA_JOB)
def _sla_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    """Warn or mark a breach, only when the target is still unmet and the deadline is still the one the
    job was scheduled for; a breach is announced once."""
    ticket = uow.tickets.get(job.tenant_id, job.payload["ticket_id"], for_update=True)
    target = SlaTargetKind(job.payload["target"])
    due = _due(ticket, target)
    if due is None or due.isoformat() != job.payload["due_at"] or ticket.met_at(target) is not None:
        return
    breached = (
        ticket.first_response_breached
        if target is SlaTargetKind.FIRST_RESPONSE
        else ticket.resolution_breached
    )
    if breached:
        return
    kind = job.payload["kind"]
    if kind == BREACH:
        ticket = replace(ticket, **{f"{target.value}_breached": True}, updated_at=now)  # type: ignore[arg-type]
        uow.tickets.update(ticket)
    _announce(ctx, uow, ticket, target, kind, now)
