"""/v1/invoices and /v1/credit_notes: bill-run invoices, invoices by hand, their lifecycle, documents,
corrections; and per customer: the upcoming invoice, one-off charges, billing now."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Amount, Id, Input
from kassa.core.errors import DomainError, NotFound
from kassa.core.invoicing import invoice_json
from kassa.services import invoicing, tenants

router = APIRouter(tags=["billing"])

Number = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,15}(\.[0-9]{1,12})?$"), Field(strict=True)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_./-]{1,64}$")]  # an invoice id or number
TaxCategory = Literal["standard", "reduced", "zero", "exempt", "digital_service"]
Status = Literal["draft", "open", "paid", "void", "uncollectible"]


class InvoiceOut(BaseModel):
    """An invoice: money as `{"amount": "12.34", "currency": "EUR"}`; lines with their discounts and taxes."""

    model_config = {"extra": "allow"}
    id: str
    object: str
    number: str | None
    status: str
    customer_id: str
    currency: str


class InvoicePage(BaseModel):
    data: list[InvoiceOut]
    has_more: bool
    next_cursor: str | None


class CreditNoteOut(BaseModel):
    model_config = {"extra": "allow"}
    id: str
    object: str
    number: str
    invoice_id: str
    customer_id: str


class CreditNotePage(BaseModel):
    data: list[CreditNoteOut]
    has_more: bool
    next_cursor: str | None


class LineIn(Input):
    description: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    quantity: Number = "1"
    unit_price: Amount = Field(description="Per unit, up to 12 decimals; negative for a discount line.")
    product: Code | None = Field(None, description="Revenue account and what coupons name; default one_off.")
    tax_category: TaxCategory = "standard"


class InvoiceCreate(Input):
    customer_id: Id
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=500)]
    memo: Annotated[str, StringConstraints(max_length=2000)] | None = None
    refund: bool | None = Field(
        None, description="Refund the credit through the payments that paid the invoice."
    )


class CreditLineIn(Input):
    position: Annotated[int, Field(ge=1, le=100000)]
    net: Amount | None = Field(None, description="Tax-exclusive amount to credit; omit for all that is left.")
    quantity: Number | None = None


class CreditNoteCreate(Input):
    lines: Annotated[list[CreditLineIn], Field(min_length=1, max_length=500)] | None = Field(
        None, description="Omit to credit the whole invoice."
    )
    reason: Literal[
        "duplicate", "fraudulent", "order_change", "product_unsatisfactory", "goodwill", "other"
    ] = "other"
    target: Literal["invoice", "credit_balance"] | None = Field(
        None, description="invoice: reduce what is due; credit_balance: owe it back. Default: due first."
    )
    memo: Annotated[str, StringConstraints(max_length=2000)] | None = None


class OneOffChargeCreate(LineIn):
    bill_now: bool = Field(False, description="Invoice it today instead of with the next bill date.")


def _out(invoice: Any) -> InvoiceOut:
    return InvoiceOut.model_validate(invoice_json(invoice))


def _line(body: LineIn) -> dict[str, Any]:
    return body.model_dump(exclude_none=True, exclude={"bill_now"})


@router.post("/invoices", status_code=201, response_model=InvoiceOut)
def create_invoice(body: InvoiceCreate, ctx: Ctx, actor: Caller) -> InvoiceOut:
    """A one-off invoice by hand: a draft until finalized (or the tenant's grace period passes)."""
    return _out(invoicing.create_invoice(ctx, actor, {"customer_id": body.customer_id, "memo": body.memo,
                                                      "lines": [_line(line) for line in body.lines]}))  # fmt: skip


@router.get("/invoices", response_model=InvoicePage)
def list_invoices(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None,
                  customer_id: Annotated[Id | None, Query()] = None,
                  status: Annotated[Status | None, Query()] = None) -> InvoicePage:  # fmt: skip
    page = invoicing.list_invoices(
        ctx, actor, limit=limit, cursor=cursor, customer_id=customer_id, status=status
    )
    return InvoicePage(
        data=[_out(i) for i in page.items], has_more=page.has_more, next_cursor=page.next_cursor
    )


@router.get("/invoices/{invoice_id}.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})  # fmt: skip
def invoice_pdf(invoice_id: Annotated[Reference, Path()], ctx: Ctx, actor: Caller) -> Response:
    invoice = invoicing.with_parties(ctx, invoicing.get_invoice(ctx, actor, invoice_id))
    locale = invoice.parties.get("buyer", {}).get("locale") or "en"
    pdf = ctx.documents.invoice_pdf(
        invoice, locale=locale, template=tenants.get_settings(ctx, actor).invoice_template
    )
    name = invoice.number or invoice.id
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}.pdf"'}
    )


@router.get("/invoices/{invoice_id}.html", response_class=HTMLResponse)
def invoice_html(invoice_id: Annotated[Reference, Path()], ctx: Ctx, actor: Caller) -> HTMLResponse:
    invoice = invoicing.with_parties(ctx, invoicing.get_invoice(ctx, actor, invoice_id))
    locale = invoice.parties.get("buyer", {}).get("locale") or "en"
    template = tenants.get_settings(ctx, actor).invoice_template
    return HTMLResponse(ctx.documents.invoice_html(invoice, locale=locale, template=template))


EINVOICE_TYPES = {"ubl": ("application/xml", "xml"), "cii": ("application/xml", "xml"),
                  "facturx": ("application/pdf", "pdf")}  # fmt: skip


@router.get("/invoices/{invoice_id}/einvoice", response_class=Response,
            responses={200: {"content": {"application/xml": {}, "application/pdf": {}}}})  # fmt: skip
def invoice_einvoice(invoice_id: Annotated[Reference, Path()], ctx: Ctx, actor: Caller,
                     syntax: Annotated[Literal["ubl", "cii", "facturx"], Query()] = "ubl") -> Response:  # fmt: skip
    """The finalized invoice as EN 16931 data: UBL 2.1 (Peppol BIS Billing 3.0), CII, or a Factur-X PDF."""
    invoice = invoicing.get_invoice(ctx, actor, invoice_id)
    if not invoice.finalized:
        raise DomainError("invoice_not_finalized", "An e-invoice is made of a finalized invoice.")
    locale = invoice.parties.get("buyer", {}).get("locale") or "en"
    content = ctx.documents.invoice_einvoice(invoice, syntax=syntax, locale=locale)
    media, extension = EINVOICE_TYPES[syntax]
    return Response(content, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{invoice.number}-{syntax}.{extension}"'})  # fmt: skip


@router.get("/invoices/{invoice_id}", response_model=InvoiceOut)
def get_invoice(invoice_id: Annotated[Reference, Path(description="The id or the number.")], ctx: Ctx,
                actor: Caller) -> InvoiceOut:  # fmt: skip
    return _out(invoicing.get_invoice(ctx, actor, invoice_id))


@router.post("/invoices/{invoice_id}/finalize", response_model=InvoiceOut)
def finalize_invoice(invoice_id: Id, ctx: Ctx, actor: Caller) -> InvoiceOut:
    return _out(invoicing.finalize_invoice(ctx, actor, invoice_id))


@router.post("/invoices/{invoice_id}/void", response_model=InvoiceOut)
def void_invoice(invoice_id: Id, ctx: Ctx, actor: Caller) -> InvoiceOut:
    return _out(invoicing.void_invoice(ctx, actor, invoice_id))


@router.post("/invoices/{invoice_id}/mark_uncollectible", response_model=InvoiceOut)
def mark_uncollectible(invoice_id: Id, ctx: Ctx, actor: Caller) -> InvoiceOut:
    return _out(invoicing.mark_invoice_uncollectible(ctx, actor, invoice_id))


@router.post("/invoices/{invoice_id}/lines", status_code=201, response_model=InvoiceOut)
def add_line(invoice_id: Id, body: LineIn, ctx: Ctx, actor: Caller) -> InvoiceOut:
    """Write a line on a draft by hand."""
    return _out(invoicing.add_invoice_line(ctx, actor, invoice_id, _line(body)))


@router.post("/invoices/{invoice_id}/credit_notes", status_code=201, response_model=CreditNoteOut)
def create_credit_note(invoice_id: Id, body: CreditNoteCreate, ctx: Ctx, actor: Caller) -> CreditNoteOut:
    doc = body.model_dump(exclude_none=True)
    note = invoicing.credit_invoice(ctx, actor, invoice_id, doc)
    return CreditNoteOut.model_validate(note.to_json())


@router.get("/credit_notes", response_model=CreditNotePage)
def list_credit_notes(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None,
                      customer_id: Annotated[Id | None, Query()] = None,
                      invoice_id: Annotated[Id | None, Query()] = None) -> CreditNotePage:  # fmt: skip
    page = invoicing.list_credit_notes(ctx, actor, limit=limit, cursor=cursor, customer_id=customer_id,
                                       invoice_id=invoice_id)  # fmt: skip
    return CreditNotePage(data=[CreditNoteOut.model_validate(n.to_json()) for n in page.items], has_more=page.has_more,
                          next_cursor=page.next_cursor)  # fmt: skip


@router.get("/credit_notes/{credit_note_id}", response_model=CreditNoteOut)
def get_credit_note(credit_note_id: Id, ctx: Ctx, actor: Caller) -> CreditNoteOut:
    return CreditNoteOut.model_validate(invoicing.get_credit_note(ctx, actor, credit_note_id).to_json())


@router.get("/customers/{customer_id}/upcoming_invoice", response_model=InvoiceOut,
            responses={404: {"description": "Nothing to bill at the next bill date."}})  # fmt: skip
def upcoming_invoice(customer_id: Id, ctx: Ctx, actor: Caller) -> InvoiceOut:
    """What the next bill date would invoice if nothing changed before it; nothing is written."""
    invoice = invoicing.upcoming_invoice(ctx, actor, customer_id)
    if invoice is None:
        raise NotFound("upcoming_invoice", customer_id)
    return _out(invoice)


@router.post("/customers/{customer_id}/one_off_charges", status_code=201)
def create_one_off_charge(
    customer_id: Id, body: OneOffChargeCreate, ctx: Ctx, actor: Caller
) -> dict[str, Any]:
    """A charge by hand (professional services, hardware), billed with the customer's next invoice."""
    charge, invoice = invoicing.create_one_off_charge(
        ctx, actor, customer_id, _line(body), bill_now=body.bill_now
    )
    return {**charge.to_json(), "invoice": invoice_json(invoice) if invoice else None}


@router.post("/customers/{customer_id}/bill", response_model=InvoiceOut | None)
def bill_now(customer_id: Id, ctx: Ctx, actor: Caller) -> InvoiceOut | None:
    """Bill the customer today: whatever is due and not yet billed goes on today's draft."""
    invoice = invoicing.bill_now(ctx, actor, customer_id)
    return _out(invoice) if invoice else None
