"""Issue 10: the console's disputes and tickets queues (without a browser): filters, pages, SLA timers from
the clock, and the agents' actions, refused to roles without CUSTOMER_CARE."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from kassa.core.access import Role
from kassa.core.disputes import DisputeStatus
from kassa.core.support import TicketStatus
from kassa.services import customers, disputes, invoicing, support, tenants
from kassa.services.context import ServiceContext
from kassa.web.console.listing import sla_timer, span
from tests.conftest import SettableClock, TenantAccess
from tests.web.console_helpers import Console

ALWAYS: dict[str, Any] = {  # business hours all week round, so targets are plain wall-clock minutes
    "name": "Around the clock",
    "calendar": {"time_zone": "UTC", "hours": {d: [{"start": "00:00", "end": "24:00"}] for d in
                 ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}},
    "targets": {
        "urgent": {"first_response_minutes": 60, "resolution_minutes": 480},
        "high": {"first_response_minutes": 120, "resolution_minutes": 960},
        "normal": {"first_response_minutes": 240, "resolution_minutes": 2400},
        "low": {"first_response_minutes": 480, "resolution_minutes": 4800},
    },
}  # fmt: skip


def customer(ctx: ServiceContext, tenant: TenantAccess, n: int = 1) -> str:
    return customers.create_customer(
        ctx, tenant.actor, {"external_id": f"c{n}", "name": f"Customer {n}", "currency": "EUR"}
    ).id


def ticket(ctx: ServiceContext, tenant: TenantAccess, cid: str, subject: str, level: str) -> str:
    fields = {
        "customer_id": cid,
        "subject": subject,
        "channel": "email",
        "priority": level,
        "sla_policy": "always",
    }
    return support.create_ticket(ctx, tenant.actor, fields).id


def test_sla_timer_texts() -> None:
    now = datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert sla_timer(None, None, False, now).text == "no SLA"
    soon = sla_timer(now + timedelta(hours=3), None, False, now)
    assert (soon.text, soon.badge) == ("due in 3 h", "ok")
    assert sla_timer(now + timedelta(minutes=45), None, False, now).badge == "warn"
    late = sla_timer(now - timedelta(minutes=20), None, True, now)
    assert (late.text, late.badge) == ("breached 20 min ago", "bad")
    assert sla_timer(now, now - timedelta(minutes=1), False, now).text == "met"
    assert sla_timer(now - timedelta(minutes=5), now, True, now).text == "met late"
    assert span(timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert span(timedelta(days=3, hours=2)) == "3 d"
    assert span(timedelta(seconds=30)) == "less than a minute"


def test_tickets_show_timers_from_the_clock_filter_and_act(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    support.put_sla_policy(ctx, tenant.actor, "always", ALWAYS)
    cid = customer(ctx, tenant)
    urgent = ticket(ctx, tenant, cid, "Cannot log in", "urgent")
    normal = ticket(ctx, tenant, cid, "Invoice question", "normal")
    agent = Console(ctx, tenant, Role.SUPPORT)
    page = agent.get("/console/tickets")
    assert page.status_code == 200
    assert "due in 1 h" in page.text and "due in 4 h" in page.text

    clock.advance(timedelta(minutes=80))
    page = agent.get("/console/tickets", params={"priority": "urgent"})
    assert "Cannot log in" in page.text and "Invoice question" not in page.text
    assert "breached 20 min ago" in page.text

    moved = agent.post(f"/console/tickets/{urgent}/assign", data={"assignee_id": agent.user_id},
                       referer="http://testserver/console/tickets?priority=urgent")  # fmt: skip
    assert moved.status_code == 303
    assert moved.headers["location"] == "/console/tickets?priority=urgent&done=assigned"
    assert support.get_ticket(ctx, tenant.actor, urgent).assignee_id == agent.user_id
    assert "Assigned." in agent.get(moved.headers["location"]).text
    mine = agent.get("/console/tickets", params={"assignee": agent.user_id})
    assert "Cannot log in" in mine.text and "Invoice question" not in mine.text

    assert (
        agent.post(f"/console/tickets/{normal}/reply", data={"message": "Looking into it."}).status_code
        == 303
    )
    answered = support.get_ticket(ctx, tenant.actor, normal)
    assert answered.status is TicketStatus.OPEN and answered.first_responded_at == clock.now()
    assert agent.post(f"/console/tickets/{normal}/close").status_code == 303
    assert support.get_ticket(ctx, tenant.actor, normal).status is TicketStatus.CLOSED
    closed = agent.get("/console/tickets", params={"status": "closed"})
    assert "Invoice question" in closed.text and "Cannot log in" not in closed.text

    refused = agent.post(f"/console/tickets/{normal}/reply", data={"message": "Again"})
    assert refused.status_code == 409 and "is closed" in refused.text
    empty = agent.post(f"/console/tickets/{urgent}/reply", data={"message": "  "})
    assert empty.status_code == 400 or empty.status_code == 422


def test_priority_filter_pages_on_without_skipping(ctx: ServiceContext, tenant: TenantAccess) -> None:
    support.put_sla_policy(ctx, tenant.actor, "always", ALWAYS)
    cid = customer(ctx, tenant)
    for n in range(30):
        ticket(ctx, tenant, cid, f"High {n:02d}", "high")
        ticket(ctx, tenant, cid, f"Low {n:02d}", "low")
    viewer = Console(ctx, tenant, Role.READ_ONLY)
    first = viewer.get("/console/tickets", params={"priority": "high"})
    seen = re.findall(r"High (\d\d)", first.text)
    assert len(seen) == 25 and "Low " not in first.text
    nxt = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert nxt is not None
    second = viewer.get(nxt.group(1).replace("&amp;", "&"))
    rest = re.findall(r"High (\d\d)", second.text)
    assert sorted(seen + rest) == [f"{n:02d}" for n in range(30)]
    assert 'rel="next"' not in second.text


def test_read_only_sees_no_buttons_and_is_refused(ctx: ServiceContext, tenant: TenantAccess) -> None:
    support.put_sla_policy(ctx, tenant.actor, "always", ALWAYS)
    tid = ticket(ctx, tenant, customer(ctx, tenant), "Printer on fire", "high")
    viewer = Console(ctx, tenant, Role.READ_ONLY)
    page = viewer.get("/console/tickets")
    assert "Printer on fire" in page.text
    assert (
        ">Assign<" not in page.text and "Send response" not in page.text and "Close ticket" not in page.text
    )
    refused = viewer.post(f"/console/tickets/{tid}/close")
    assert refused.status_code == 403
    assert support.get_ticket(ctx, tenant.actor, tid).status is TicketStatus.NEW


def test_a_post_without_the_csrf_token_is_refused(ctx: ServiceContext, tenant: TenantAccess) -> None:
    support.put_sla_policy(ctx, tenant.actor, "always", ALWAYS)
    tid = ticket(ctx, tenant, customer(ctx, tenant), "Printer on fire", "high")
    agent = Console(ctx, tenant, Role.SUPPORT)
    refused = agent.client.post(f"/console/tickets/{tid}/close")
    assert refused.status_code == 403
    assert support.get_ticket(ctx, tenant.actor, tid).status is TicketStatus.NEW


def queued_dispute(ctx: ServiceContext, tenant: TenantAccess, cid: str, line: int = 1) -> str:
    lines = [{"description": "Consulting", "quantity": "1", "unit_price": "120.00"},
             {"description": "Add-on", "quantity": "1", "unit_price": "4.99"}]  # fmt: skip
    made = invoicing.create_invoice(ctx, tenant.actor, {"customer_id": cid, "lines": lines})
    invoice = invoicing.finalize_invoice(ctx, tenant.actor, made.id)
    body = {"line": line, "reason": "duplicate", "opened_by": "agent", "description": "Billed twice"}
    return disputes.open_dispute(ctx, tenant.actor, invoice.id, body).id


def test_disputes_queue_assign_accept_and_reject(ctx: ServiceContext, tenant: TenantAccess) -> None:
    tenants.update_settings(ctx, tenant.actor, {"legal_name": "Nordlicht GmbH"})
    cid = customer(ctx, tenant)
    first = queued_dispute(ctx, tenant, cid)
    second = queued_dispute(ctx, tenant, cid)
    finance = Console(ctx, tenant, Role.FINANCE)
    page = finance.get("/console/disputes")
    assert page.status_code == 200 and first in page.text and second in page.text
    assert "Accept and credit" in page.text

    assert (
        finance.post(f"/console/disputes/{first}/assign", data={"assignee_id": finance.user_id}).status_code
        == 303
    )
    assert disputes.get_dispute(ctx, tenant.actor, first).assignee_id == finance.user_id

    no_reason = finance.post(f"/console/disputes/{first}/accept", data={"resolution": ""})
    assert no_reason.status_code in (400, 422) and "resolution" in no_reason.text
    too_much = finance.post(
        f"/console/disputes/{first}/accept", data={"resolution": "ok", "amount": "9999.00"}
    )
    assert too_much.status_code in (400, 422)
    done = finance.post(
        f"/console/disputes/{first}/accept", data={"resolution": "Billed twice indeed", "amount": "50.00"}
    )
    assert done.status_code == 303
    accepted = disputes.get_dispute(ctx, tenant.actor, first)
    assert accepted.status is DisputeStatus.ACCEPTED and str(accepted.credited.amount) == "50.00"
    assert (
        finance.post(f"/console/disputes/{second}/reject", data={"resolution": "Not a duplicate"}).status_code
        == 303
    )
    assert disputes.get_dispute(ctx, tenant.actor, second).status is DisputeStatus.REJECTED

    open_now = finance.get("/console/disputes")
    assert first not in open_now.text and "No disputes with status open" in open_now.text
    every = finance.get("/console/disputes", params={"status": "all"})
    assert first in every.text and second in every.text and "Not a duplicate" in every.text


def test_read_only_cannot_resolve_a_dispute(ctx: ServiceContext, tenant: TenantAccess) -> None:
    did = queued_dispute(ctx, tenant, customer(ctx, tenant))
    viewer = Console(ctx, tenant, Role.READ_ONLY)
    page = viewer.get("/console/disputes")
    assert did in page.text and "Accept and credit" not in page.text
    assert viewer.post(f"/console/disputes/{did}/reject", data={"resolution": "no"}).status_code == 403
    assert disputes.get_dispute(ctx, tenant.actor, did).status is DisputeStatus.OPEN
