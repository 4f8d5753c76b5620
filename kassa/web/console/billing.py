"""The console's billing lists: subscriptions, invoices (with their PDF) and payments, each filtered and
paged by cursor (newest first) the way the API lists them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from kassa.core.errors import DomainError, NotFound
from kassa.core.invoicing import InvoiceStatus
from kassa.core.pages import Page
from kassa.core.payments import PaymentStatus
from kassa.core.subscriptions import Status, SubscriptionFilter
from kassa.services import console_billing, invoicing, payments, subscriptions, tenants
from kassa.services.context import ServiceContext
from kassa.web.console.auth import Staff, context, viewer
from kassa.web.templating import render

router = APIRouter()
PAGE_SIZE = 25
T = TypeVar("T")

Viewer = Annotated[Staff, Depends(viewer)]


def clean(value: str | None) -> str | None:
    """A filter from the form: blank means none."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def page_link(request: Request, cursor: str | None, name: str = "cursor") -> str:
    """This list with the same filters from `cursor` on (None: the first page)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != name and v]
    if cursor:
        params.append((name, cursor))
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def one_of(value: str | None, allowed: Sequence[str], field: str) -> str | None:
    """A filter value that must be one of `allowed`: a clear error, not an empty list, for anything else."""
    value = clean(value)
    if value is not None and value not in allowed:
        raise DomainError("invalid_filter", f"{field} is one of {', '.join(allowed)}.", field)
    return value


def listing(request: Request, ctx: ServiceContext, staff: Staff, page: Page[T],
            customer_of: Callable[[T], str]) -> dict[str, Any]:  # fmt: skip
    """What every list template gets: the rows, their customers' names, the pager's links."""
    return {
        "rows": page.items,
        "names": console_billing.customer_names(ctx, staff.actor, (customer_of(r) for r in page.items)),
        "next_url": page_link(request, page.next_cursor) if page.has_more and page.next_cursor else None,
        "first_url": page_link(request, None) if request.query_params.get("cursor") else None,
        "filters": {k: v for k, v in request.query_params.items() if k != "cursor"},
    }


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(request: Request, staff: Viewer, status: str | None = None, plan: str | None = None,
                       customer: str | None = None, cursor: str | None = None) -> HTMLResponse:  # fmt: skip
    ctx = context(request)
    chosen = one_of(status, [s.value for s in Status], "status")
    where = SubscriptionFilter(customer_id=clean(customer), status=Status(chosen) if chosen else None,
                               plan=clean(plan))  # fmt: skip
    page = subscriptions.list_subscriptions(ctx, staff.actor, where, limit=PAGE_SIZE, cursor=clean(cursor))
    return render(request, "console/billing_subscriptions.html", statuses=[s.value for s in Status],
                  **listing(request, ctx, staff, page, lambda s: s.customer_id))  # fmt: skip


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, staff: Viewer, status: str | None = None, customer: str | None = None,
                  q: str | None = None, cursor: str | None = None) -> HTMLResponse:  # fmt: skip
    """`q` finds one invoice by its number or id (exact); otherwise the list, by status and customer."""
    ctx = context(request)
    chosen = one_of(status, [s.value for s in InvoiceStatus], "status")
    wanted = clean(q)
    page: Page[Any]
    if wanted is not None:
        try:
            found = [invoicing.get_invoice(ctx, staff.actor, wanted)]
        except NotFound:
            found = []
        page = Page(items=found, has_more=False, next_cursor=None)
    else:
        page = invoicing.list_invoices(ctx, staff.actor, limit=PAGE_SIZE, cursor=clean(cursor),
                                       customer_id=clean(customer), status=chosen)  # fmt: skip
    return render(request, "console/billing_invoices.html", statuses=[s.value for s in InvoiceStatus],
                  **listing(request, ctx, staff, page, lambda i: i.customer_id))  # fmt: skip


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(invoice_id: str, request: Request, staff: Viewer) -> Response:
    """The invoice as the customer gets it (their locale, the tenant's template), to download."""
    ctx = context(request)
    if not invoice_id.startswith("inv_"):
        raise NotFound("invoice", invoice_id)
    invoice = invoicing.with_parties(ctx, invoicing.get_invoice(ctx, staff.actor, invoice_id))
    locale = invoice.parties.get("buyer", {}).get("locale") or "en"
    template = tenants.get_settings(ctx, staff.actor).invoice_template
    pdf = ctx.documents.invoice_pdf(invoice, locale=locale, template=template)
    name = invoice.number or invoice.id
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"', "Cache-Control": "no-store"})  # fmt: skip


@router.get("/payments", response_class=HTMLResponse)
def payments_page(request: Request, staff: Viewer, status: str | None = None, customer: str | None = None,
                  cursor: str | None = None) -> HTMLResponse:  # fmt: skip
    ctx = context(request)
    chosen = one_of(status, [s.value for s in PaymentStatus], "status")
    page = payments.list_payments(ctx, staff.actor, customer_id=clean(customer), status=chosen, limit=PAGE_SIZE,
                                  cursor=clean(cursor))  # fmt: skip
    return render(request, "console/billing_payments.html", statuses=[s.value for s in PaymentStatus],
                  **listing(request, ctx, staff, page, lambda p: p.customer_id))  # fmt: skip
