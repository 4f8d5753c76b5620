"""Support tickets with SLAs on SQLite and PostgreSQL (issue 9): the worked example (an urgent ticket opened
Friday 22 May 2026 16:30 Berlin before Whit Monday) on a test clock advanced past each warning and deadline
with the exact events; a response in time means no breach; solving judges the resolution; a priority
change recomputes the deadlines and retires the old jobs; logged time is a support cost in the margin
report's table; assignment only to the tenant's active users; another tenant sees nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.core.audit import Actor
from kassa.core.customers import Customer
from kassa.core.errors import DomainError, NotFound
from kassa.core.money import Money
from kassa.core.support import TicketStatus
from kassa.services import cost_to_serve, customers, jobs, support, test_clocks, users
from kassa.services.context import ServiceContext
from kassa.store.tables import audit_events, events
from tests.conftest import SettableClock, make_tenant

OPENED = datetime(2026, 5, 22, 14, 30, tzinfo=UTC)  # Friday 16:30 in Berlin
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
POLICY: dict[str, Any] = {
    "name": "Standard support",
    "calendar": {
        "time_zone": "Europe/Berlin",
        "hours": {day: [{"start": "09:00", "end": "17:00"}] for day in WEEKDAYS},
        "holidays": ["2026-05-25"],
    },
    "targets": {
        "urgent": {"first_response_minutes": 60, "resolution_minutes": 480},
        "high": {"first_response_minutes": 120, "resolution_minutes": 960},
        "normal": {"first_response_minutes": 240, "resolution_minutes": 2400},
        "low": {"first_response_minutes": 480, "resolution_minutes": 4800},
    },
    "warn_percent": 75,
    "cost_per_hour": {"amount": "50.00", "currency": "EUR"},
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def on_clock(ctx: ServiceContext, actor: Actor) -> tuple[str, Customer]:
    """A test clock at Friday 22 May 2026 14:30 UTC and a customer on it; the standard policy."""
    clock = test_clocks.create_test_clock(ctx, actor, name="support", frozen_time=OPENED)
    customer = customers.create_customer(
        ctx, actor, {"external_id": "acme", "name": "ACME", "test_clock_id": clock.id}
    )
    support.put_sla_policy(ctx, actor, "standard", POLICY)
    return clock.id, customer


def _ticket(ctx: ServiceContext, actor: Actor, customer: Customer, **fields: Any) -> Any:
    body = {"customer_id": customer.id, "subject": "Invoices do not load", "channel": "email",
            "priority": "urgent", "sla_policy": "standard", **fields}  # fmt: skip
    return support.create_ticket(ctx, actor, body)


def _events(ctx: ServiceContext, tenant_id: str, prefix: str = "ticket.") -> list[tuple[str, datetime, Any]]:
    """(type, occurred_at, data.target) of the tenant's events of that prefix, in order."""
    e = events.c
    with ctx.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            sa.select(e.type, e.occurred_at, e.data, e.customer_id)
            .where(e.tenant_id == tenant_id, e.type.like(f"{prefix}%"))
            .order_by(e.occurred_at, e.id)
        ).all()
    return [(r.type, r.occurred_at, r.data.get("target")) for r in rows]


def test_the_worked_example_warns_and_breaches_at_the_exact_instants(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    """Deadlines (see tests/core/test_support.py): first response warning Tue 07:15 UTC, due 07:30;
    resolution warning 12:30, due 14:30. Nobody answers: advancing the clock past each gives exactly the
    warning, then the breach, of each target, at those instants, and sets the breached flags."""
    clock_id, customer = on_clock
    ticket = _ticket(ctx, actor, customer)
    assert ticket.opened_at == OPENED and ticket.status is TicketStatus.NEW
    assert ticket.first_response_due_at == utc(2026, 5, 26, 7, 30)
    assert ticket.resolution_due_at == utc(2026, 5, 26, 14, 30)
    assert _events(ctx, actor.tenant_id) == [("ticket.created", OPENED, None)]

    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 26, 7, 20))
    assert _events(ctx, actor.tenant_id)[1:] == [
        ("ticket.sla_warning", utc(2026, 5, 26, 7, 15), "first_response")
    ]
    assert not support.get_ticket(ctx, actor, ticket.id).first_response_breached

    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 27))
    assert _events(ctx, actor.tenant_id)[1:] == [
        ("ticket.sla_warning", utc(2026, 5, 26, 7, 15), "first_response"),
        ("ticket.sla_breached", utc(2026, 5, 26, 7, 30), "first_response"),
        ("ticket.sla_warning", utc(2026, 5, 26, 12, 30), "resolution"),
        ("ticket.sla_breached", utc(2026, 5, 26, 14, 30), "resolution"),
    ]
    after = support.get_ticket(ctx, actor, ticket.id)
    assert (after.first_response_breached, after.resolution_breached) == (True, True)
    with ctx.uow(read_only=True) as uow:  # on the customer's timeline
        customer_ids = uow.conn.execute(
            sa.select(events.c.customer_id).where(
                events.c.tenant_id == actor.tenant_id, events.c.type.like("ticket.%")
            )
        ).scalars()
        assert set(customer_ids) == {customer.id}

    # a late first response is recorded as late; the breach is not announced again
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 28))
    late = support.respond(ctx, actor, ticket.id, {"message": "Sorry for the wait."})
    assert (late.first_responded_at, late.first_response_breached, late.status) == (
        utc(2026, 5, 28), True, TicketStatus.OPEN)  # fmt: skip
    assert [t for t, _, _ in _events(ctx, actor.tenant_id)].count("ticket.sla_breached") == 2


def test_a_response_and_a_solution_in_time_mean_no_breach(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    """Answered Tuesday 07:10 UTC (before the first-response warning) and solved 12:00 (before the
    resolution warning): no warning, no breach, ever."""
    clock_id, customer = on_clock
    ticket = _ticket(ctx, actor, customer)
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 26, 7, 10))
    answered = support.respond(ctx, actor, ticket.id, {"message": "Looking into it."})
    assert (answered.first_responded_at, answered.first_response_breached) == (utc(2026, 5, 26, 7, 10), False)
    assert answered.status is TicketStatus.OPEN
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 26, 12))
    solved = support.update_ticket(ctx, actor, ticket.id, {"status": "solved"})
    assert (solved.resolved_at, solved.resolution_breached) == (utc(2026, 5, 26, 12), False)
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 6, 30))
    assert [t for t, _, _ in _events(ctx, actor.tenant_id)] == [
        "ticket.created", "ticket.responded", "ticket.updated"]  # fmt: skip
    final = support.get_ticket(ctx, actor, ticket.id)
    assert (final.first_response_breached, final.resolution_breached) == (False, False)


def test_reopening_after_the_deadline_breaches_at_once(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    """Solved Tuesday 10:00 UTC, reopened Wednesday: the resolution deadline (Tue 14:30) passed while it
    was solved, so the breach is announced at the reopening; closing is then final."""
    clock_id, customer = on_clock
    ticket = _ticket(ctx, actor, customer)
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 26, 7))
    support.respond(ctx, actor, ticket.id, {"message": "Fixed, please check."})
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 26, 10))
    support.update_ticket(ctx, actor, ticket.id, {"status": "solved"})
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 27, 9))
    reopened = support.update_ticket(ctx, actor, ticket.id, {"status": "open"})
    assert (reopened.resolved_at, reopened.resolution_breached) == (None, True)
    assert _events(ctx, actor.tenant_id, "ticket.sla")[-1] == (
        "ticket.sla_breached",
        utc(2026, 5, 27, 9),
        "resolution",
    )
    support.update_ticket(ctx, actor, ticket.id, {"status": "closed"})
    with pytest.raises(DomainError) as refused:
        support.update_ticket(ctx, actor, ticket.id, {"status": "open"})
    assert (refused.value.code, refused.value.field) == ("invalid_status_transition", "status")
    with pytest.raises(DomainError) as closed:
        support.respond(ctx, actor, ticket.id, {"message": "Still broken"})
    assert closed.value.code == "ticket_closed"


def test_a_priority_change_recomputes_deadlines_from_opened_at(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    """Urgent lowered to normal on Saturday: deadlines from Friday 16:30 Berlin are now first response
    Tue 10:30 UTC (warning 09:30) and resolution Mon 1 June 14:30 UTC (warning Fri 29 May 12:30); the
    urgent jobs find another deadline on the ticket and stay silent."""
    clock_id, customer = on_clock
    ticket = _ticket(ctx, actor, customer)
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 5, 23))
    lowered = support.update_ticket(ctx, actor, ticket.id, {"priority": "normal"})
    assert lowered.first_response_due_at == utc(2026, 5, 26, 10, 30)
    assert lowered.resolution_due_at == utc(2026, 6, 1, 14, 30)
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 6, 2))
    assert _events(ctx, actor.tenant_id, "ticket.sla") == [
        ("ticket.sla_warning", utc(2026, 5, 26, 9, 30), "first_response"),
        ("ticket.sla_breached", utc(2026, 5, 26, 10, 30), "first_response"),
        ("ticket.sla_warning", utc(2026, 5, 29, 12, 30), "resolution"),
        ("ticket.sla_breached", utc(2026, 6, 1, 14, 30), "resolution"),
    ]


def test_on_the_system_clock_the_worker_breaches_an_unanswered_ticket(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """A customer without a test clock: its ticket's jobs run when the worker finds them due."""
    clock.at = OPENED
    customer = customers.create_customer(ctx, actor, {"external_id": "sys", "name": "Sys"})
    support.put_sla_policy(ctx, actor, "standard", POLICY)
    ticket = _ticket(ctx, actor, customer)
    clock.at = utc(2026, 5, 26, 7, 16)
    assert jobs.run_due_jobs(ctx) == 1
    clock.at = utc(2026, 5, 26, 7, 31)
    assert jobs.run_due_jobs(ctx) == 1
    assert _events(ctx, actor.tenant_id, "ticket.sla") == [
        ("ticket.sla_warning", utc(2026, 5, 26, 7, 16), "first_response"),
        ("ticket.sla_breached", utc(2026, 5, 26, 7, 31), "first_response"),
    ]
    assert support.get_ticket(ctx, actor, ticket.id).first_response_breached


def test_a_ticket_without_a_policy_has_no_deadlines_and_no_jobs(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    customer = customers.create_customer(ctx, actor, {"external_id": "np", "name": "No policy"})
    ticket = support.create_ticket(
        ctx, actor, {"customer_id": customer.id, "subject": "Hi", "channel": "chat"}
    )
    assert (ticket.priority.value, ticket.sla_policy, ticket.first_response_due_at) == ("normal", None, None)
    clock.advance(timedelta(days=400))
    assert jobs.run_due_jobs(ctx) == 0


def test_logged_time_is_a_support_cost_priced_at_the_policy_rate(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    """25 minutes at 50.00 EUR an hour = 20.8333… = 20.83 EUR; 20 more = 16.67 (16.666…); 45 minutes in all.
    Without a rate the entry costs 0.00 in the customer's currency."""
    _, customer = on_clock
    ticket = _ticket(ctx, actor, customer)
    after, entry = support.log_time(ctx, actor, ticket.id, {"minutes": 25, "description": "Reproduced it"})
    assert (entry.kind.value, entry.minutes, entry.amount) == ("support", 25, Money(Decimal("20.83"), "EUR"))
    assert (entry.customer_id, entry.occurred_on.isoformat(), entry.description) == (
        customer.id, "2026-05-22", "Reproduced it")  # fmt: skip
    after, second = support.log_time(ctx, actor, ticket.id, {"minutes": 20})
    assert second.amount == Money(Decimal("16.67"), "EUR") and after.minutes_spent == 45
    assert second.description == f"Ticket {ticket.id}: Invoices do not load"
    listed = cost_to_serve.list_costs(ctx, actor, customer.id, limit=10, cursor=None).items
    assert sorted(e.amount.amount_text() for e in listed) == ["16.67", "20.83"]
    plain = support.create_ticket(
        ctx, actor, {"customer_id": customer.id, "subject": "No SLA", "channel": "web"}
    )
    _, free = support.log_time(ctx, actor, plain.id, {"minutes": 30})
    assert free.amount.amount_text() == "0.00" and free.amount.currency == customer.currency
    with pytest.raises(DomainError) as refused:
        support.log_time(ctx, actor, ticket.id, {"minutes": 0})
    assert (refused.value.code, refused.value.field) == ("invalid_minutes", "minutes")


def test_assignment_takes_only_an_active_user_of_the_tenant(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    _, customer = on_clock
    agent = users.create_user(ctx, actor, email="agent@example.com", name="Agent", role_name="support")
    ticket = _ticket(ctx, actor, customer, assignee_id=agent.id)
    assert ticket.assignee_id == agent.id
    other = make_tenant(ctx, "Other")
    stranger = users.create_user(ctx, other.actor, email="x@example.com", name="X", role_name="support")
    with pytest.raises(DomainError) as refused:
        support.update_ticket(ctx, actor, ticket.id, {"assignee_id": stranger.id})
    assert (refused.value.code, refused.value.field) == ("invalid_assignee", "assignee_id")
    assert support.update_ticket(ctx, actor, ticket.id, {"assignee_id": None}).assignee_id is None


def test_policy_changes_are_audited_and_refused_documents_change_nothing(
    ctx: ServiceContext, actor: Actor
) -> None:
    support.put_sla_policy(ctx, actor, "standard", POLICY)
    support.put_sla_policy(ctx, actor, "standard", {**POLICY, "warn_percent": 90})
    with pytest.raises(DomainError) as refused:
        support.put_sla_policy(ctx, actor, "standard", {**POLICY, "warn_percent": 190})
    assert (refused.value.code, refused.value.field) == ("invalid_sla_policy", "warn_percent")
    assert support.get_sla_policy(ctx, actor, "standard").warn_percent == 90
    with ctx.uow(read_only=True) as uow:
        actions = uow.conn.execute(
            sa.select(audit_events.c.action).where(audit_events.c.object_type == "sla_policy")
        ).scalars()
        assert list(actions) == ["sla_policy.updated", "sla_policy.updated"]


def test_another_tenants_tickets_and_policies_are_invisible(
    ctx: ServiceContext, actor: Actor, on_clock: tuple[str, Customer]
) -> None:
    _, customer = on_clock
    ticket = _ticket(ctx, actor, customer)
    other = make_tenant(ctx, "Other")
    with pytest.raises(NotFound):
        support.get_ticket(ctx, other.actor, ticket.id)
    with pytest.raises(NotFound):
        support.update_ticket(ctx, other.actor, ticket.id, {"status": "solved"})
    with pytest.raises(NotFound):
        support.respond(ctx, other.actor, ticket.id, {"message": "hi"})
    with pytest.raises(NotFound):
        support.log_time(ctx, other.actor, ticket.id, {"minutes": 5})
    assert support.list_tickets(ctx, other.actor, limit=10, cursor=None).items == []
    assert support.list_sla_policies(ctx, other.actor) == []
    with pytest.raises(DomainError) as refused:  # its customer and policy are not the other tenant's either
        support.create_ticket(
            ctx, other.actor, {"customer_id": customer.id, "subject": "x", "channel": "web"}
        )
    assert refused.value.code == "customer_not_found"
    assert [t.id for t in support.list_tickets(ctx, actor, limit=10, cursor=None).items] == [ticket.id]
