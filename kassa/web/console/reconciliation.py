"""Reconciliation in the console: the exceptions queue of bank statement lines the matcher could not book by
itself (a suggestion to confirm, or no match at all), resolved by confirming, assigning the line to an invoice
or ignoring it; and a bank statement upload that imports and matches a file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.access import Permission
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.services import console_billing, invoicing, payments, reconciliation
from kassa.services.context import ServiceContext
from kassa.web.console.auth import Staff, allowed, context, viewer
from kassa.web.console.billing import clean, page_link
from kassa.web.templating import render

router = APIRouter()
PAGE_SIZE = 20
FORMATS = ("camt053", "mt940", "ofx", "csv")
MAX_UPLOAD = reconciliation.MAX_FILE

Viewer = Annotated[Staff, Depends(viewer)]
Biller = Annotated[Staff, Depends(allowed(Permission.BILLING))]


def _row(ctx: ServiceContext, staff: Staff, line: Any) -> dict[str, Any]:
    """A queue row: the line, the names of the customers it mentions, the invoices it may be assigned to."""
    proposal = line.proposal or {}
    ids = [i for i in [line.customer_id, proposal.get("customer_id")] if i]
    ids += [a.get("customer_id") for a in proposal.get("alternatives", []) if a.get("customer_id")]
    choices = []
    if line.status in ("review", "unmatched") and line.line.amount.amount > 0:
        choices = console_billing.open_invoices(ctx, staff.actor, line.line.amount.currency,
                                                line.line.amount.to_minor_units())  # fmt: skip
        ids += [i.customer_id for i in choices]
    paid = []
    if line.status == "applied" and line.payment_id:  # just resolved: say which invoices the money paid
        _, allocations, _ = payments.get_payment(ctx, staff.actor, line.payment_id)
        paid = [(invoicing.get_invoice(ctx, staff.actor, a.invoice_id).number or a.invoice_id, a.amount)
                for a in allocations]  # fmt: skip
    numbers = {i.id: i.number or i.id for i in choices}
    pays = [(numbers.get(a["invoice_id"], a["invoice_id"]), Money.parse(a["paid"]["amount"], a["paid"]["currency"]))
            for a in proposal.get("allocations", [])]  # fmt: skip
    return {"line": line, "proposal": proposal, "choices": choices, "pays": pays, "paid": paid,
            "names": console_billing.customer_names(ctx, staff.actor, ids),
            "confirmable": bool(proposal.get("customer_id") or proposal.get("expected_id"))}  # fmt: skip


def _queue(
    request: Request, ctx: ServiceContext, staff: Staff, status: str, cursor_name: str
) -> dict[str, Any]:
    page = reconciliation.list_lines(ctx, staff.actor, statement_id=None, status=status, limit=PAGE_SIZE,
                                     cursor=clean(request.query_params.get(cursor_name)))  # fmt: skip
    return {"rows": [_row(ctx, staff, line) for line in page.items],
            "next_url": page_link(request, page.next_cursor, cursor_name) if page.has_more and page.next_cursor else None}  # fmt: skip


def _page(
    request: Request, staff: Staff, *, status_code: int = 200, upload_error: str | None = None
) -> HTMLResponse:
    ctx = context(request)
    imported = None
    statement_id = clean(request.query_params.get("statement"))
    if statement_id is not None:
        statement = reconciliation.get_statement(ctx, staff.actor, statement_id)
        imported = {"statement": statement, "counts": console_billing.statement_counts(ctx, staff.actor, statement_id),
                    "duplicate": request.query_params.get("duplicate") == "1"}  # fmt: skip
    return render(request, "console/reconciliation.html", status_code=status_code, formats=FORMATS,
                  review=_queue(request, ctx, staff, "review", "review_cursor"),
                  unmatched=_queue(request, ctx, staff, "unmatched", "unmatched_cursor"),
                  imported=imported, upload_error=upload_error,
                  resolved=request.query_params.get("resolved"))  # fmt: skip


@router.get("/reconciliation", response_class=HTMLResponse)
def reconciliation_page(request: Request, staff: Viewer) -> HTMLResponse:
    return _page(request, staff)


def _resolved(request: Request, staff: Staff, line_id: str, body: dict[str, Any]) -> Response:
    """Resolve the line; htmx gets the row as it is now (in place of the form), a plain form a redirect."""
    ctx = context(request)
    line = reconciliation.resolve_line(ctx, staff.actor, line_id, body)
    if request.headers.get("hx-request") == "true":
        return render(request, "console/reconciliation_row.html", row=_row(ctx, staff, line))
    return RedirectResponse(f"/console/reconciliation?resolved={line.id}", status_code=303)


@router.post("/reconciliation/lines/{line_id}/confirm")
def confirm_line(line_id: str, request: Request, staff: Biller) -> Response:
    """Book the line as the matcher suggested it."""
    return _resolved(request, staff, line_id, {})


@router.post("/reconciliation/lines/{line_id}/assign")
def assign_line(
    line_id: str, request: Request, staff: Biller, invoice_id: Annotated[str, Form()] = ""
) -> Response:
    """Book the line as a payment of the invoice chosen (its customer's; the rest to the oldest, then the
    credit balance)."""
    chosen = clean(invoice_id)
    if chosen is None:
        raise DomainError("required", "Choose the invoice this line pays.", "invoice_id")
    return _resolved(request, staff, line_id, {"invoice_ids": [chosen]})


@router.post("/reconciliation/lines/{line_id}/ignore")
def ignore_line(line_id: str, request: Request, staff: Biller) -> Response:
    """Not a receivable (a supplier's refund, interest): set aside, no payment recorded."""
    return _resolved(request, staff, line_id, {"action": "ignore"})


@router.post("/reconciliation/statements")
async def upload_statement(request: Request, staff: Biller, file: Annotated[UploadFile, File()],
                           statement_format: Annotated[str, Form(alias="format")] = "") -> Response:  # fmt: skip
    """Import a bank statement file and match its lines; the page then shows what happened to them."""
    chosen = clean(statement_format)
    error = None
    if chosen is not None and chosen not in FORMATS:
        error = f"The format is one of {', '.join(FORMATS)}, or detected when left empty."
    content = await file.read(MAX_UPLOAD + 1)
    if error is None and not content:
        error = "Choose a statement file to upload."
    if error is None:
        try:
            statement, new = await run_in_threadpool(
                reconciliation.import_statement, context(request), staff.actor, content, format=chosen
            )
        except DomainError as refused:  # shown next to the upload form, the queue as it was
            error = refused.message
    if error is not None:
        return await run_in_threadpool(_page, request, staff, status_code=422, upload_error=error)
    return RedirectResponse(f"/console/reconciliation?statement={statement.id}{'' if new else '&duplicate=1'}",
                            status_code=303)  # fmt: skip
