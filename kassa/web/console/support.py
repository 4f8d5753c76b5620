"""The agents' queues: disputes on invoice lines (accept with a credit note, reject, assign) and support
tickets with their SLA timers (assign, respond, change status, close). Every role sees the queues; the
actions need CUSTOMER_CARE."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.access import Permission
from kassa.core.disputes import DisputeReason, DisputeStatus
from kassa.core.support import TRANSITIONS, SlaTargetKind, Ticket, TicketPriority, TicketStatus
from kassa.services import console_lists, disputes, support
from kassa.web.console.auth import Staff, allowed, context, viewer
from kassa.web.console.listing import PAGE_SIZE, back_to, clean, done_message, page_link, sla_timer
from kassa.web.templating import render

router = APIRouter()
Viewer = Annotated[Staff, Depends(viewer)]
Agent = Annotated[Staff, Depends(allowed(Permission.CUSTOMER_CARE))]


def _names(request: Request, staff: Staff) -> tuple[list[Any], dict[str, str]]:
    people = console_lists.staff(context(request), staff.actor)
    return [u for u in people if u.deactivated_at is None], {u.id: u.name for u in people}


# ---- disputes ------------------------------------------------------------------------------------------


@router.get("/disputes")
def disputes_page(
    request: Request, staff: Viewer, status: str = "open", cursor: str | None = None
) -> Response:
    wanted = clean(status)
    found = disputes.list_disputes(context(request), staff.actor, limit=PAGE_SIZE, cursor=clean(cursor),
                                   status_filter=None if wanted == "all" else wanted)  # fmt: skip
    active, names = _names(request, staff)
    return render(
        request, "console/support_disputes.html", page=found,
        customers=console_lists.customer_names(context(request), staff.actor, [d.customer_id for d in found.items]),
        invoices=console_lists.invoice_numbers(context(request), staff.actor, [d.invoice_id for d in found.items]), status=wanted or "all",
        statuses=[s.value for s in DisputeStatus], reasons={r.value: r.value.replace("_", " ") for r in DisputeReason},
        assignable=active, names=names, next_link=page_link(request, found.next_cursor) if found.has_more else None,
        first_link=page_link(request, None) if cursor else None, done=done_message(request),
    )  # fmt: skip


def _money(amount: str | None, currency: str) -> dict[str, str] | None:
    amount = clean(amount)
    return None if amount is None else {"amount": amount, "currency": currency}


@router.post("/disputes/{dispute_id}/assign")
def assign_dispute(
    request: Request, staff: Agent, dispute_id: str, assignee_id: Annotated[str, Form()] = ""
) -> Response:
    disputes.update_dispute(context(request), staff.actor, dispute_id, {"assignee_id": clean(assignee_id)})
    return RedirectResponse(back_to(request, "/console/disputes", "assigned"), status_code=303)


@router.post("/disputes/{dispute_id}/accept")
def accept_dispute(
    request: Request,
    staff: Agent,
    dispute_id: str,
    resolution: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    body: dict[str, Any] = {"resolution": resolution.strip() or None}
    if clean(amount) is not None:
        dispute = disputes.get_dispute(ctx, staff.actor, dispute_id)
        body["amount"] = _money(amount, dispute.amount.currency)
    disputes.accept_dispute(ctx, staff.actor, dispute_id, body)
    return RedirectResponse(back_to(request, "/console/disputes", "accepted"), status_code=303)


@router.post("/disputes/{dispute_id}/reject")
def reject_dispute(
    request: Request, staff: Agent, dispute_id: str, resolution: Annotated[str, Form()] = ""
) -> Response:
    disputes.reject_dispute(
        context(request), staff.actor, dispute_id, {"resolution": resolution.strip() or None}
    )
    return RedirectResponse(back_to(request, "/console/disputes", "rejected"), status_code=303)


# ---- tickets -------------------------------------------------------------------------------------------


def _timers(ticket: Ticket, request: Request) -> dict[str, Any]:
    now = context(request).clock.now()
    return {
        "first": sla_timer(ticket.first_response_due_at, ticket.met_at(SlaTargetKind.FIRST_RESPONSE),
                           ticket.first_response_breached, now),
        "resolution": sla_timer(ticket.resolution_due_at, ticket.met_at(SlaTargetKind.RESOLUTION),
                                ticket.resolution_breached, now),
    }  # fmt: skip


@router.get("/tickets")
def tickets_page(
    request: Request,
    staff: Viewer,
    status: str = "",
    priority: str = "",
    assignee: str = "",
    cursor: str | None = None,
) -> Response:
    ctx = context(request)
    found = console_lists.tickets_page(
        ctx, staff.actor, limit=PAGE_SIZE, cursor=clean(cursor), status_filter=clean(status),
        priority_filter=clean(priority), assignee_id=clean(assignee),
    )  # fmt: skip
    active, names = _names(request, staff)
    rows = [{"ticket": t, "timers": _timers(t, request),
             "moves": sorted(s.value for s in TRANSITIONS[t.status])} for t in found.items]  # fmt: skip
    return render(
        request, "console/support_tickets.html", rows=rows, page=found,
        customers=console_lists.customer_names(ctx, staff.actor, [t.customer_id for t in found.items]), status=clean(status) or "",
        priority=clean(priority) or "", assignee=clean(assignee) or "", statuses=[s.value for s in TicketStatus],
        priorities=[p.value for p in TicketPriority], assignable=active, names=names,
        next_link=page_link(request, found.next_cursor) if found.has_more else None,
        first_link=page_link(request, None) if cursor else None, done=done_message(request),
    )  # fmt: skip


@router.post("/tickets/{ticket_id}/assign")
def assign_ticket(
    request: Request, staff: Agent, ticket_id: str, assignee_id: Annotated[str, Form()] = ""
) -> Response:
    support.update_ticket(context(request), staff.actor, ticket_id, {"assignee_id": clean(assignee_id)})
    return RedirectResponse(back_to(request, "/console/tickets", "assigned"), status_code=303)


@router.post("/tickets/{ticket_id}/reply")
def reply_ticket(
    request: Request, staff: Agent, ticket_id: str, message: Annotated[str, Form()] = ""
) -> Response:
    support.respond(context(request), staff.actor, ticket_id, {"message": message.strip() or None})
    return RedirectResponse(back_to(request, "/console/tickets", "replied"), status_code=303)


@router.post("/tickets/{ticket_id}/status")
def ticket_status(
    request: Request, staff: Agent, ticket_id: str, status: Annotated[str, Form()] = ""
) -> Response:
    support.update_ticket(context(request), staff.actor, ticket_id, {"status": status})
    done = "closed" if status == TicketStatus.CLOSED.value else "status"
    return RedirectResponse(back_to(request, "/console/tickets", done), status_code=303)


@router.post("/tickets/{ticket_id}/close")
def close_ticket(request: Request, staff: Agent, ticket_id: str) -> Response:
    support.update_ticket(context(request), staff.actor, ticket_id, {"status": TicketStatus.CLOSED.value})
    return RedirectResponse(back_to(request, "/console/tickets", "closed"), status_code=303)
