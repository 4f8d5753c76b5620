"""Collections: payment methods, payments and refunds, dunning policies and the recovery report; remittance
and reconciliation: bank statements, the exceptions queue, gateway payouts, receivables aging. Gateway
webhooks have their own router: the gateway signs them, no API key."""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Amount, Id, Input, Obj, ObjPage
from kassa.core.dunning import DunningPolicy, policy_to_json, report_to_json
from kassa.core.errors import DomainError
from kassa.core.payments import Payment
from kassa.services import dunning, payments, reconciliation, sepa

router = APIRouter(tags=["collections"])
gateway_router = APIRouter(tags=["collections"])

Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
GatewayName = Annotated[str, StringConstraints(pattern=r"^[a-z]{1,20}$")]
PolicyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class Report(BaseModel):
    model_config = {"extra": "allow"}
    object: str


def _page(page: Any) -> ObjPage:
    return ObjPage(data=[Obj.model_validate(i.to_json()) for i in page.items], has_more=page.has_more,
                   next_cursor=page.next_cursor)  # fmt: skip


# ---- payment methods -----------------------------------------------------------------------------------


class PaymentMethodCreate(Input):
    type: Literal["card", "sepa_debit", "bank_transfer", "cheque", "cash", "provider_account"]
    set_default: bool | None = Field(None, description="Default: true for the customer's first method.")
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="card, provider_account: the gateway's token. Card numbers are refused.")  # fmt: skip
    gateway: GatewayName | None = Field(None, description="Default: the tenant's gateway routes.")
    brand: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    last4: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")] | None = None
    exp_month: Annotated[int, Field(ge=1, le=12)] | None = None
    exp_year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    iban: Annotated[str, StringConstraints(min_length=5, max_length=42)] | None = None
    bic: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")] | None = None
    mandate_id: Annotated[str, StringConstraints(min_length=1, max_length=35)] | None = None
    mandate_signed_on: date | None = None
    account_holder: Text | None = None
    provider: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)] | None = None


class PaymentMethodUpdate(Input):
    set_default: Literal[True] | None = None
    exp_month: Annotated[int, Field(ge=1, le=12)] | None = None
    exp_year: Annotated[int, Field(ge=2000, le=2100)] | None = None


@router.post("/customers/{customer_id}/payment_methods", status_code=201, response_model=Obj)
def add_payment_method(customer_id: Id, body: PaymentMethodCreate, ctx: Ctx, actor: Caller) -> Obj:
    """Attach a card (a gateway token), a SEPA mandate, a provider account (PayPal), or a manual way to pay."""
    doc = body.model_dump(mode="json", exclude_none=True)
    return Obj.model_validate(payments.add_payment_method(ctx, actor, customer_id, doc).to_json())


@router.get("/customers/{customer_id}/payment_methods", response_model=ObjPage)
def list_payment_methods(customer_id: Id, ctx: Ctx, actor: Caller) -> ObjPage:
    found = payments.list_payment_methods(ctx, actor, customer_id)
    return ObjPage(data=[Obj.model_validate(m.to_json()) for m in found], has_more=False, next_cursor=None)


@router.patch("/payment_methods/{method_id}", response_model=Obj)
def update_payment_method(method_id: Id, body: PaymentMethodUpdate, ctx: Ctx, actor: Caller) -> Obj:
    """Make it the default or record a card's new expiry: failed charges are retried at once."""
    doc = body.model_dump(exclude_none=True)
    return Obj.model_validate(payments.update_payment_method(ctx, actor, method_id, doc).to_json())


@router.post("/payment_methods/{method_id}/detach", response_model=Obj)
def detach_payment_method(method_id: Id, ctx: Ctx, actor: Caller) -> Obj:
    return Obj.model_validate(payments.detach_payment_method(ctx, actor, method_id).to_json())


# ---- payments and refunds ------------------------------------------------------------------------------


class PaymentCreate(Input):
    """Money received outside a gateway."""

    customer_id: Id | None = Field(None, description="Or name the invoices: their customer.")
    amount: Amount = Field(description="In the customer's currency.")
    method_type: Literal["bank_transfer", "cheque", "cash"] = "bank_transfer"
    received_on: date | None = None
    reference: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        None, description="Remittance information; invoice numbers in it are paid first.")  # fmt: skip
    invoice_ids: Annotated[list[Id], Field(max_length=100)] | None = Field(
        None, description="Pay these first, in this order; the rest goes oldest first.")  # fmt: skip
    payer_name: Text | None = None
    payer_iban: Annotated[str, StringConstraints(min_length=5, max_length=42)] | None = None


class RefundCreate(Input):
    amount: Amount = Field(description="At most the customer's credit balance and what the payment has left.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None


def _payment(payment: Payment, allocations: Any = (), refunds: Any = ()) -> Obj:
    doc = payment.to_json() | {
        "allocations": [{"invoice_id": a.invoice_id, "paid": {"amount": a.amount.amount_text(),
                                                               "currency": a.amount.currency}} for a in allocations],
        "refunds": [r.to_json() for r in refunds],
    }  # fmt: skip
    return Obj.model_validate(doc)


@router.post("/payments", status_code=201, response_model=Obj)
def record_payment(body: PaymentCreate, ctx: Ctx, actor: Caller) -> Obj:
    """Record a bank transfer, cheque or cash: applied to the invoices named, then the oldest; any rest goes
    to the customer's credit balance."""
    payment = payments.record_payment(ctx, actor, body.model_dump(mode="json", exclude_none=True))
    return _payment(*payments.get_payment(ctx, actor, payment.id))


@router.get("/payments", response_model=ObjPage)
def list_payments(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None, customer_id: Id | None = None,
                  status: Literal["pending", "requires_action", "succeeded", "failed", "canceled"] | None = None
                  ) -> ObjPage:  # fmt: skip
    return _page(payments.list_payments(ctx, actor, customer_id=customer_id, status=status, limit=limit,
                                        cursor=cursor))  # fmt: skip


@router.get("/payments/{payment_id}", response_model=Obj)
def get_payment(payment_id: Id, ctx: Ctx, actor: Caller) -> Obj:
    return _payment(*payments.get_payment(ctx, actor, payment_id))


@router.post("/payments/{payment_id}/confirm", response_model=Obj)
def confirm_payment(payment_id: Id, ctx: Ctx, actor: Caller) -> Obj:
    """After the customer authenticated (3-D Secure) at the payment's action_url."""
    payments.confirm_payment(ctx, actor, payment_id)
    return _payment(*payments.get_payment(ctx, actor, payment_id))


@router.post("/payments/{payment_id}/refunds", status_code=201, response_model=Obj)
def refund_payment(payment_id: Id, body: RefundCreate, ctx: Ctx, actor: Caller) -> Obj:
    """Send back what the customer's credit balance holds (an overpayment, a credit note's amount). To refund
    a paid invoice, credit it with refund: true."""
    return Obj.model_validate(
        payments.refund_payment(ctx, actor, payment_id, body.model_dump(exclude_none=True)).to_json()
    )


@router.post("/invoices/{invoice_id}/pay", status_code=201, response_model=Obj)
def pay_invoice(invoice_id: Id, ctx: Ctx, actor: Caller) -> Obj:
    """Charge what the invoice owes now, on the customer's default card, provider account (PayPal) or direct debit."""
    payment = payments.pay_invoice(ctx, actor, invoice_id)
    return _payment(*payments.get_payment(ctx, actor, payment.id))


# ---- dunning -------------------------------------------------------------------------------------------


class RetryRuleIn(Input):
    days: Annotated[list[Annotated[int, Field(ge=1, le=365)]], Field(min_length=1, max_length=19)] | None = (
        None
    )
    never: bool | None = None
    day_of_month: Annotated[int, Field(ge=1, le=31)] | None = None
    hour: Annotated[int, Field(ge=0, le=23)] | None = None


class StepIn(Input):
    day: Annotated[int, Field(ge=0, le=365)]
    action: Literal["reminder", "suspension_notice", "past_due", "cancel", "write_off"]


class PolicyIn(Input):
    name: Text
    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None
    retries: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,40}$")], RetryRuleIn]
    steps: Annotated[list[StepIn], Field(max_length=20)] = []
    default: bool = Field(True, description="Use it for every invoice from now on.")


def _policy(policy: DunningPolicy, is_default: bool) -> Obj:
    return Obj.model_validate({"id": policy.id, "object": "dunning_policy", **policy_to_json(policy),
                               "default": is_default})  # fmt: skip


@router.get("/dunning_policies", response_model=ObjPage)
def list_dunning_policies(ctx: Ctx, actor: Caller) -> ObjPage:
    found = dunning.list_policies(ctx, actor)
    return ObjPage(data=[_policy(p, d) for p, d in found], has_more=False, next_cursor=None)


@router.put("/dunning_policies/{policy_id}", response_model=Obj)
def put_dunning_policy(policy_id: PolicyId, body: PolicyIn, ctx: Ctx, actor: Caller) -> Obj:
    """Retry cadence (by decline code) and escalation steps (days past due); see docs/dunning.md."""
    return _policy(*dunning.put_policy(ctx, actor, policy_id, body.model_dump(exclude_none=True)))


@router.get("/reports/dunning_recovery", response_model=Report)
def dunning_recovery(ctx: Ctx, actor: Caller) -> Report:
    """Recovered amount and recovery rate by attempt and by decline reason."""
    return Report.model_validate(
        {"object": "dunning_recovery", **report_to_json(dunning.recovery(ctx, actor))}
    )


@router.get("/reports/receivables_aging", response_model=Report)
def receivables_aging(ctx: Ctx, actor: Caller, on: date | None = None) -> Report:
    """Open receivables by days past due (current, 1-30, 31-60, 61-90, 90+), per customer and in total."""
    return Report.model_validate(reconciliation.receivables_aging(ctx, actor, on))


# ---- bank statements and payouts -----------------------------------------------------------------------


class StatementImport(Input):
    content: Annotated[str, StringConstraints(min_length=1, max_length=14_000_000)] = Field(
        description="The file, base64-encoded.")  # fmt: skip
    format: Literal["camt053", "mt940", "ofx", "csv"] | None = Field(None, description="Default: detected.")
    csv_mapping: dict[str, Any] | None = Field(
        None, description="csv: which column is what (docs/bank-files.md)."
    )


class LineResolve(Input):
    action: Literal["apply", "ignore"] = "apply"
    customer_id: Id | None = None
    invoice_ids: Annotated[list[Id], Field(max_length=100)] | None = None
    payout_id: Id | None = None


class PayoutReportImport(Input):
    gateway: GatewayName
    content: Annotated[str, StringConstraints(min_length=1, max_length=14_000_000)] = Field(
        description="The report file, base64-encoded.")  # fmt: skip


def _decoded(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("invalid_base64", "content is the file in base64.", "content") from None


@router.post("/bank_statements", status_code=201, response_model=Obj)
def import_statement(body: StatementImport, ctx: Ctx, actor: Caller) -> Obj:
    """Import a statement (CAMT.053, MT940, OFX, CSV) and reconcile it; the same file again changes nothing
    (`"duplicate": true`)."""
    statement, new = reconciliation.import_statement(ctx, actor, _decoded(body.content), format=body.format,
                                                     mapping=body.csv_mapping)  # fmt: skip
    return Obj.model_validate(statement.to_json() | {"duplicate": not new})


@router.get("/bank_statements", response_model=ObjPage)
def list_statements(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> ObjPage:
    return _page(reconciliation.list_statements(ctx, actor, limit=limit, cursor=cursor))


@router.get("/bank_statements/{statement_id}", response_model=Obj)
def get_statement(statement_id: Id, ctx: Ctx, actor: Caller) -> Obj:
    return Obj.model_validate(reconciliation.get_statement(ctx, actor, statement_id).to_json())


@router.get("/statement_lines", response_model=ObjPage)
def list_lines(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None, statement_id: Id | None = None,
               status: Literal["applied", "review", "unmatched", "ignored"] | None = None) -> ObjPage:  # fmt: skip
    """The exceptions queue is `status=review` and `status=unmatched`."""
    return _page(reconciliation.list_lines(ctx, actor, statement_id=statement_id, status=status, limit=limit,
                                           cursor=cursor))  # fmt: skip


@router.post("/statement_lines/{line_id}/resolve", response_model=Obj)
def resolve_line(line_id: Id, body: LineResolve, ctx: Ctx, actor: Caller) -> Obj:
    """Confirm the suggestion (no body), say whose money it is, or ignore the line."""
    return Obj.model_validate(
        reconciliation.resolve_line(ctx, actor, line_id, body.model_dump(exclude_none=True)).to_json()
    )


@router.post("/payouts", status_code=201, response_model=ObjPage)
def import_payout_report(body: PayoutReportImport, ctx: Ctx, actor: Caller) -> ObjPage:
    """A gateway's payout report: payouts to match when the bank statement shows them."""
    found = reconciliation.import_payout_report(ctx, actor, body.gateway, _decoded(body.content))
    return ObjPage(data=[Obj.model_validate(p.to_json()) for p in found], has_more=False, next_cursor=None)


@router.get("/payouts", response_model=ObjPage)
def list_payouts(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> ObjPage:
    return _page(reconciliation.list_payouts(ctx, actor, limit=limit, cursor=cursor))


# ---- SEPA direct debit files ----------------------------------------------------------------------------


class SepaBatchCreate(Input):
    collection_date: date | None = Field(None, description="Default: two business days from today.")


class SepaReturnsImport(Input):
    content: Annotated[str, StringConstraints(min_length=1, max_length=14_000_000)] = Field(
        description="A pain.002 or camt.054 file, base64-encoded.")  # fmt: skip


@router.post("/sepa_batches", status_code=201, response_class=Response,
             responses={201: {"content": {"application/xml": {}}}})  # fmt: skip
def export_sepa_batch(body: SepaBatchCreate, ctx: Ctx, actor: Caller) -> Response:
    """The pain.008 file of the pending direct debits, to upload to the bank."""
    message_id, content, count = sepa.export_batch(
        ctx, actor, body.model_dump(mode="json", exclude_none=True)
    )
    return Response(content, status_code=201, media_type="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{message_id}.xml"',
                             "Kassa-Debits": str(count)})  # fmt: skip


@router.post("/sepa_returns", response_model=Report)
def import_sepa_returns(body: SepaReturnsImport, ctx: Ctx, actor: Caller) -> Report:
    """Rejects fail pending debits (dunning retries them); returns and refunds take credited ones back."""
    return Report.model_validate(
        {"object": "sepa_returns", **sepa.import_returns(ctx, actor, _decoded(body.content))}
    )


# ---- gateway webhooks (signed by the gateway; no API key) ----------------------------------------------


class WebhookAck(BaseModel):
    received: bool
    outcome: str


@gateway_router.post("/gateways/{gateway}/webhooks/{tenant_id}", response_model=WebhookAck)
async def gateway_webhook(gateway: GatewayName, tenant_id: Id, request: Request, ctx: Ctx) -> WebhookAck:
    """Where a gateway sends its events for one tenant: verified by the gateway's signature; a replay is
    recognized by the event id and changes nothing."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    outcome = await run_in_threadpool(payments.handle_gateway_webhook, ctx, tenant_id, gateway, body, headers)
    return WebhookAck(received=True, outcome=outcome)
