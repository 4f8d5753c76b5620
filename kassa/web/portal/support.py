"""Help for the customer: their support tickets and a form to open one, and a dispute of an invoice line
(`/portal/invoices/{id}/dispute`), which the tenant's policy accepts at once with a credit note or puts in
the agents' queue. Only the visit's customer's invoices can be disputed: another id answers 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.disputes import DisputeReason
from kassa.core.errors import DomainError
from kassa.services import invoicing, support
from kassa.services import portal_self_service as self_service
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]

MAX_TICKETS = 50
# Reasons in the customer's words (English keys, translated in the template).
REASONS = {
    DisputeReason.INCORRECT_AMOUNT.value: "The amount is wrong",
    DisputeReason.DUPLICATE.value: "I was charged twice",
    DisputeReason.NOT_RECEIVED.value: "I did not receive it",
    DisputeReason.NOT_AS_DESCRIBED.value: "It was not as described",
    DisputeReason.UNAUTHORIZED.value: "I did not order it",
    DisputeReason.OTHER.value: "Something else",
}
# The services' messages are for integrators; a customer gets these for the usual mistakes, by field.
MESSAGES = {
    "invalid_text": "This is too long.",
    "invalid_amount": "Enter an amount more than zero, like 4.99.",
    "too_many_decimals": "Enter an amount more than zero, like 4.99.",
    "dispute_exceeds_line": "That is more than is left to dispute on this line.",
    "nothing_to_dispute": "This line is already credited or disputed in full.",
    "invalid_reason": "Choose a reason.",
    "invalid_line": "Choose a line.",
}


def _message(error: DomainError) -> str:
    return MESSAGES.get(error.code, error.message)


def _field(error: DomainError) -> str:
    """The form field an error belongs next to."""
    where = (error.field or "").split(".")[0]
    return {"line": "line", "amount": "amount", "reason": "reason", "description": "description",
            "subject": "subject"}.get(where, "form")  # fmt: skip


# ---- support tickets -----------------------------------------------------------------------------------


def _support_page(request: Request, visit: PortalVisit, *, status_code: int = 200, done: bool = False,
                  errors: dict[str, str] | None = None, subject: str = "", description: str = "") -> Response:  # fmt: skip
    found = support.list_tickets(
        context(request), visit.actor, limit=MAX_TICKETS, cursor=None, customer_id=visit.customer.id
    )
    htmx = request.headers.get("hx-request") == "true"
    template = "portal/support_form.html" if htmx and errors else "portal/support.html"
    return render(request, template, status_code=status_code, tickets=found.items, done=done,
                  errors=errors or {}, subject=subject, description=description)  # fmt: skip


@router.get("/support")
def support_page(request: Request, visit: Visit, done: str = "") -> Response:
    return _support_page(request, visit, done=done == "opened")


@router.post("/support")
def open_ticket(
    request: Request,
    visit: Visit,
    subject: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    fields = {"customer_id": visit.customer.id, "subject": subject.strip() or None,
              "description": description.strip() or None, "channel": "web"}  # fmt: skip
    if fields["subject"] is None:  # the service's message says "1 to 200 characters"; a person wants this
        return _support_page(request, visit, status_code=422, errors={"subject": "Please fill this in."},
                             subject=subject, description=description)  # fmt: skip
    try:
        support.create_ticket(context(request), visit.actor, fields)
    except DomainError as error:
        return _support_page(request, visit, status_code=422, errors={_field(error): _message(error)},
                             subject=subject, description=description)  # fmt: skip
    return _navigate(request, "/portal/support?done=opened")


# ---- disputes ------------------------------------------------------------------------------------------


def _dispute_page(request: Request, visit: PortalVisit, invoice_id: str, *, status_code: int = 200,
                  done: str | None = None, errors: dict[str, str] | None = None,
                  values: dict[str, str] | None = None) -> Response:  # fmt: skip
    ctx = context(request)
    form = self_service.dispute_form(ctx, visit.actor, visit.customer.id, invoice_id)
    notes = {d.credit_note_id: invoicing.get_credit_note(ctx, visit.actor, d.credit_note_id).number
             for d in form.disputes if d.credit_note_id}  # fmt: skip
    outcome = next((d for d in form.disputes if d.id == done), None)
    htmx = request.headers.get("hx-request") == "true"
    template = "portal/dispute_form.html" if htmx and errors else "portal/dispute.html"
    return render(request, template, status_code=status_code, form=form, notes=notes, outcome=outcome,
                  reasons=REASONS, errors=errors or {}, values=values or {})  # fmt: skip


@router.get("/invoices/{invoice_id}/dispute")
def dispute_page(request: Request, visit: Visit, invoice_id: str, done: str = "") -> Response:
    return _dispute_page(request, visit, invoice_id, done=done or None)


@router.post("/invoices/{invoice_id}/dispute")
def open_dispute(
    request: Request,
    visit: Visit,
    invoice_id: str,
    line: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    values = {"line": line, "amount": amount, "reason": reason, "description": description}
    form = self_service.dispute_form(context(request), visit.actor, visit.customer.id, invoice_id)
    fields: dict[str, object] = {"line": int(line) if line.strip().isdigit() else line, "reason": reason or None,
                                 "description": description.strip() or None}  # fmt: skip
    typed = amount.strip().replace(" ", "")
    if typed:  # empty: all that is left of the line
        typed = typed.replace(",", ".") if "," in typed and "." not in typed else typed
        fields["amount"] = {"amount": typed, "currency": form.invoice.currency}
    try:
        found = self_service.open_dispute(
            context(request), visit.actor, visit.customer.id, invoice_id, fields
        )
    except DomainError as error:
        if error.status == 404:
            raise
        return _dispute_page(request, visit, invoice_id, status_code=422, errors={_field(error): _message(error)},
                             values=values)  # fmt: skip
    return _navigate(request, f"/portal/invoices/{form.invoice.id}/dispute?done={found.id}")


def _navigate(request: Request, target: str) -> Response:
    """After a write: the page to show next (htmx navigates to it; a plain form follows the redirect)."""
    if request.headers.get("hx-request") == "true":
        return Response(headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
