"""The customer's invoices and credit notes (theirs only: an id of anyone else's answers 404), one invoice
with its lines, the PDFs, and "Pay now" on the default payment method."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.errors import DomainError, NotFound
from kassa.core.payments import Payment
from kassa.services import payments, portal
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{quote(name)}"'})  # fmt: skip


@router.get("/invoices")
def invoice_list(request: Request, visit: Visit, cursor: str | None = None) -> Response:
    ctx = context(request)
    page = portal.invoices(ctx, visit, cursor or None)
    return render(
        request, "portal/invoices.html", invoices=page.items,
        next_link=f"/portal/invoices?cursor={quote(page.next_cursor)}" if page.has_more and page.next_cursor else None,
        first_link="/portal/invoices" if cursor else None,
        credit_notes=portal.credit_notes(ctx, visit) if not cursor else [],
    )  # fmt: skip


def _payment(request: Request, visit: PortalVisit, payment_id: str | None) -> Payment | None:
    """The payment a "Pay" just made, to say how it went; only the customer's own."""
    if not payment_id:
        return None
    try:
        payment, _, _ = payments.get_payment(context(request), visit.actor, payment_id)
    except NotFound:
        return None
    return payment if payment.customer_id == visit.customer.id else None


def _invoice_page(request: Request, visit: PortalVisit, invoice_id: str, *, payment: Payment | None = None,
                  error: str | None = None, status_code: int = 200) -> Response:  # fmt: skip
    ctx = context(request)
    invoice = portal.invoice(ctx, visit, invoice_id)
    notes = [n for n in portal.credit_notes(ctx, visit) if n.invoice_id == invoice.id]
    methods = [m for m in portal.payment_methods(ctx, visit) if m.is_default and m.automatic]
    return render(
        request, "portal/invoice.html", status_code=status_code, invoice=invoice, credit_notes=notes,
        default_method=methods[0] if methods else None, payment=payment, error=error,
    )  # fmt: skip


@router.get("/invoices/{invoice_id}")
def invoice_view(request: Request, visit: Visit, invoice_id: str, payment: str | None = None) -> Response:
    return _invoice_page(request, visit, invoice_id, payment=_payment(request, visit, payment))


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(request: Request, visit: Visit, invoice_id: str) -> Response:
    return _pdf(*portal.invoice_pdf(context(request), visit, invoice_id))


@router.get("/credit_notes/{credit_note_id}/pdf")
def credit_note_pdf(request: Request, visit: Visit, credit_note_id: str) -> Response:
    return _pdf(*portal.credit_note_pdf(context(request), visit, credit_note_id))


@router.post("/invoices/{invoice_id}/pay")
def pay(request: Request, visit: Visit, invoice_id: str) -> Response:
    try:
        payment = portal.pay(context(request), visit, invoice_id)
    except NotFound:
        raise
    except DomainError as error:  # no card on file, already paid, disputed: said on the invoice's page
        return _invoice_page(request, visit, invoice_id, error=error.message, status_code=error.status)
    # Post/Redirect/Get: a reload does not charge again
    return RedirectResponse(
        f"/portal/invoices/{quote(invoice_id)}?payment={quote(payment.id)}", status_code=303
    )
