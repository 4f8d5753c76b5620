"""Collections: payment methods, charging invoices on their due date, what gateways tell us afterwards,
money received by hand with cash application, refunds and chargebacks.

Every money movement moves the invoice, the credit balance and the ledger together, in one transaction:

    payment      Dr cash (by hand) or payments in transit (gateway)   Cr receivable (applied), Cr customer credit (rest)
    refund       Dr customer credit                                    Cr cash / payments in transit
    chargeback   Dr receivable (the invoices owed again), Dr fees      Cr payments in transit
    payout       Dr cash (net), Dr payment fees                        Cr payments in transit (gross)

Exactly once: an attempt is stored under `<invoice>:<attempt>` and sent to the gateway under the same key, so
a job that runs twice (a crash after the gateway answered) finds the same charge; gateway webhooks are
recorded by event id and a replay changes nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from stdnum import iban as stdnum_iban

from kassa.adapters.payments.base import (
    ChargeRequest,
    Gateway,
    GatewayCharge,
    GatewayEvent,
    GatewayEventType,
    WebhookRejected,
)
from kassa.core import ledger
from kassa.core.audit import Actor, system_actor
from kassa.core.credit_notes import CreditNote
from kassa.core.customers import Customer
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice, InvoiceStatus
from kassa.core.jobs import Job
from kassa.core.ledger import Role, SourceType
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.payment_terms import route
from kassa.core.payments import (
    Allocation,
    Chargeback,
    ChargebackStatus,
    OpenInvoice,
    Payment,
    PaymentMethod,
    PaymentMethodType,
    PaymentStatus,
    Refund,
    apply_cash,
    paid,
)
from kassa.core.periods import local_day
from kassa.core.statements import normalize_iban
from kassa.core.tenants import Tenant
from kassa.services import audit, jobs
from kassa.services.billing import bill_instant
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.emails import NOTICE_JOB
from kassa.services.ledger import post
from kassa.store.credit_balances import CreditMovement
from kassa.store.uow import UnitOfWork


class InvalidSignature(DomainError):
    status = 400

    def __init__(self) -> None:
        super().__init__("invalid_signature", "The webhook's signature does not verify.")


COLLECT_JOB = "payments.collect"
CONFIRM_JOB = "payments.confirm"  # ask the gateway how a pending charge ended, if no webhook told us
CONFIRM_AFTER = timedelta(hours=1)
CONFIRM_TRIES = 72

# Hooks the later stages register (dunning, payment terms): called in the transaction that made the change.
ON_FAILED: list[Callable[[ServiceContext, UnitOfWork, Payment, datetime], None]] = []
ON_PAID: list[Callable[[ServiceContext, UnitOfWork, Invoice, datetime], None]] = []
ON_OPEN: list[Callable[[ServiceContext, UnitOfWork, Invoice, datetime], None]] = []  # finalized and owed
# finalized and owing nothing (the credit balance paid it): what was set aside for it is given back
ON_NOTHING_OWED: list[Callable[[ServiceContext, UnitOfWork, Invoice, datetime], None]] = []
ON_METHOD_UPDATED: list[Callable[[ServiceContext, UnitOfWork, str, str, datetime], None]] = []
# A succeeded payment that buys something other than invoices (a wallet top-up) is booked by the hook that
# claims it (returns True) instead of being applied to invoices.
ON_SUCCEEDED: list[Callable[[ServiceContext, UnitOfWork, Payment, datetime], bool]] = []

_CARD_NUMBER = re.compile(r"\d[\d -]{11,22}\d")


# ---- payment methods -----------------------------------------------------------------------------------


def _text(body: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 200) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DomainError("invalid_payment_method", f"{name} is text of 1 to {limit} characters.", name)
    return value.strip()


def _int(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DomainError("invalid_payment_method", f"{name} is {low} to {high}.", name)
    return value


_FIELDS: Mapping[PaymentMethodType, frozenset[str]] = {
    PaymentMethodType.CARD: frozenset({"token", "gateway", "brand", "last4", "exp_month", "exp_year"}),
    PaymentMethodType.SEPA_DEBIT: frozenset(
        {"iban", "bic", "mandate_id", "mandate_signed_on", "account_holder"}
    ),
    PaymentMethodType.PROVIDER_ACCOUNT: frozenset({"token", "gateway", "provider", "email"}),
    PaymentMethodType.BANK_TRANSFER: frozenset(),
    PaymentMethodType.CHEQUE: frozenset(),
    PaymentMethodType.CASH: frozenset(),
}


def _method_fields(
    ctx: ServiceContext, tenant: Tenant, customer: Customer, body: Mapping[str, Any]
) -> dict[str, Any]:
    try:
        kind = PaymentMethodType(str(body.get("type")))
    except ValueError:
        raise DomainError(
            "invalid_payment_method", f"type is one of {', '.join(PaymentMethodType)}.", "type"
        ) from None
    for name in body:
        if name in ("number", "card_number", "cvc", "cvv"):
            raise DomainError("card_number_refused", "kassa never takes card numbers: tokenize the card at the "
                              "gateway and send its token.", name)  # fmt: skip
        if name not in _FIELDS[kind] | {"type", "set_default"}:
            raise DomainError("unknown_field", f"Unknown field {name!r} for a {kind} method.", name)
    values: dict[str, Any] = {"type": kind}
    if kind in (PaymentMethodType.CARD, PaymentMethodType.PROVIDER_ACCOUNT):
        token = _text(body, "token", required=True)
        assert token is not None
        if _CARD_NUMBER.fullmatch(token):
            raise DomainError(
                "card_number_refused", "That looks like a card number: send the gateway's token.", "token"
            )
        country = customer.address.country if customer.address else None
        gateway = _text(body, "gateway") or route(tenant.settings.gateway_routes, customer.currency, country,
                                                  next(iter(ctx.gateways), "sandbox"))  # fmt: skip
        if gateway not in ctx.gateways:
            raise DomainError("unknown_gateway", f"No gateway {gateway!r} is configured.", "gateway")
        values |= {"token": token, "gateway": gateway}
    if kind is PaymentMethodType.CARD:
        last4 = _text(body, "last4")
        if last4 is not None and not (len(last4) == 4 and last4.isdigit()):
            raise DomainError("invalid_payment_method", "last4 is four digits.", "last4")
        values |= {"brand": _text(body, "brand", limit=40), "last4": last4, "exp_month": _int(body, "exp_month", 1, 12),
                   "exp_year": _int(body, "exp_year", 2000, 2100)}  # fmt: skip
    if kind is PaymentMethodType.PROVIDER_ACCOUNT:
        values |= {
            "provider": _text(body, "provider", limit=40) or "paypal",
            "email": _text(body, "email", limit=320),
        }
    if kind is PaymentMethodType.SEPA_DEBIT:
        raw = _text(body, "iban", required=True)
        iban = normalize_iban(raw)
        if not iban or not stdnum_iban.is_valid(iban):
            raise DomainError("invalid_iban", "The IBAN's checksum or length is wrong.", "iban")
        mandate = _text(body, "mandate_id", required=True, limit=35)
        signed = body.get("mandate_signed_on")
        try:
            signed_on = date.fromisoformat(signed) if isinstance(signed, str) else None
        except ValueError:
            signed_on = None
        if signed_on is None:
            raise DomainError(
                "invalid_payment_method", "mandate_signed_on is a date (YYYY-MM-DD).", "mandate_signed_on"
            )
        values |= {"iban": iban, "bic": _text(body, "bic", limit=11), "mandate_id": mandate,
                   "mandate_signed_on": signed_on,
                   "account_holder": _text(body, "account_holder") or customer.legal_name or customer.name}  # fmt: skip
    return values


def add_payment_method(
    ctx: ServiceContext, actor: Actor, customer_id: str, body: Mapping[str, Any]
) -> PaymentMethod:
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id, for_update=True)
        tenant = uow.tenants.get(actor.tenant_id)
        values = _method_fields(ctx, tenant, customer, body)
        now = now_for(ctx, uow, customer)
        existing = uow.payment_methods.of_customer(actor.tenant_id, customer.id)
        make_default = body.get("set_default", not existing)
        if not isinstance(make_default, bool):
            raise DomainError("invalid_payment_method", "set_default is true or false.", "set_default")
        if make_default:
            uow.payment_methods.clear_default(actor.tenant_id, customer.id)
        method = PaymentMethod(tenant_id=actor.tenant_id, id=ctx.new_id("pm"), customer_id=customer.id,
                               is_default=make_default, created_at=now, **values)  # fmt: skip
        uow.payment_methods.add(method)
        audit.changed(ctx, uow, actor, EventType.PAYMENT_METHOD_ATTACHED, object_type="payment_method",
                      object_id=method.id, before=None, after=method.to_json(), at=now, customer_id=customer.id)  # fmt: skip
        if make_default:
            _method_changed(ctx, uow, actor.tenant_id, customer.id, now)
        uow.commit()
    return method


def _method_changed(
    ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str, now: datetime
) -> None:
    for hook in ON_METHOD_UPDATED:
        hook(ctx, uow, tenant_id, customer_id, now)


def list_payment_methods(ctx: ServiceContext, actor: Actor, customer_id: str) -> list[PaymentMethod]:
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        return uow.payment_methods.of_customer(actor.tenant_id, customer.id)


def update_payment_method(
    ctx: ServiceContext, actor: Actor, method_id: str, body: Mapping[str, Any]
) -> PaymentMethod:
    """Make it the default, or record a card's new expiry (a card updater, the customer): either way
    retries waiting for a better method run again at once."""
    with ctx.uow() as uow:
        method = uow.payment_methods.get(actor.tenant_id, method_id)
        if method.detached_at is not None:
            raise Conflict("payment_method_detached", "This payment method was detached.")
        for name in body:
            if name not in ("set_default", "exp_month", "exp_year"):
                raise DomainError("unknown_field", f"Unknown field {name!r}.", name)
        customer = uow.customers.get(actor.tenant_id, method.customer_id, for_update=True)
        now = now_for(ctx, uow, customer)
        updated = method
        if body.get("set_default") is True:
            uow.payment_methods.clear_default(actor.tenant_id, customer.id)
            updated = replace(updated, is_default=True)
        if "exp_month" in body or "exp_year" in body:
            if method.type is not PaymentMethodType.CARD:
                raise DomainError("invalid_payment_method", "Only a card has an expiry.", "exp_month")
            updated = replace(updated, exp_month=_int(body, "exp_month", 1, 12) or method.exp_month,
                              exp_year=_int(body, "exp_year", 2000, 2100) or method.exp_year)  # fmt: skip
        uow.payment_methods.save(updated)
        audit.changed(ctx, uow, actor, EventType.PAYMENT_METHOD_UPDATED, object_type="payment_method",
                      object_id=method.id, before=method.to_json(), after=updated.to_json(), at=now,
                      customer_id=customer.id)  # fmt: skip
        if updated.is_default:
            _method_changed(ctx, uow, actor.tenant_id, customer.id, now)
        uow.commit()
    return updated


def detach_payment_method(ctx: ServiceContext, actor: Actor, method_id: str) -> PaymentMethod:
    with ctx.uow() as uow:
        method = uow.payment_methods.get(actor.tenant_id, method_id)
        if method.detached_at is not None:
            return method
        now = now_for(ctx, uow, uow.customers.get(actor.tenant_id, method.customer_id))
        detached = replace(method, detached_at=now, is_default=False)
        uow.payment_methods.save(detached)
        audit.changed(ctx, uow, actor, EventType.PAYMENT_METHOD_DETACHED, object_type="payment_method",
                      object_id=method.id, before=method.to_json(), after=detached.to_json(), at=now,
                      customer_id=method.customer_id)  # fmt: skip
        uow.commit()
    return detached


# ---- automatic collection ------------------------------------------------------------------------------


def schedule_collection(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    """At finalization: a customer paying automatically is charged on the due date (at once when due on
    receipt); anyone else pays by hand from the invoice's instructions."""
    if invoice.status is not InvoiceStatus.OPEN or invoice.amount_remaining.amount <= 0:
        if invoice.status is InvoiceStatus.PAID:
            for settled in ON_NOTHING_OWED:
                settled(ctx, uow, invoice, now)
        return
    for hook in ON_OPEN:
        hook(ctx, uow, invoice, now)
    method = uow.payment_methods.default(invoice.tenant_id, invoice.customer_id)
    if method is None or not method.automatic:
        return
    payer = uow.customers.get(invoice.tenant_id, invoice.customer_id)
    assert invoice.due_date is not None
    if method.expires_before(invoice.due_date + timedelta(days=31)):  # ask for a new card before it fails
        _card_expiring(ctx, uow, invoice, method, now)
    due = max(now, bill_instant(invoice.due_date, payer))
    jobs.schedule(ctx, uow, invoice.tenant_id, COLLECT_JOB, due, dedupe_key=f"{invoice.id}:1",
                  customer_id=invoice.customer_id, payload={"invoice_id": invoice.id, "attempt": 1})  # fmt: skip


def _card_expiring(
    ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, method: PaymentMethod, now: datetime
) -> None:
    """Once per card and expiry: an event, and the customer is asked (with the invoice) for a new card."""
    key = f"{method.id}:{method.exp_year}-{method.exp_month}"
    if jobs.schedule(ctx, uow, invoice.tenant_id, NOTICE_JOB, now, dedupe_key=f"{key}:card_expiring",
                     customer_id=invoice.customer_id,
                     payload={"invoice_id": invoice.id, "kind": "card_expiring", "action_url": None}):  # fmt: skip
        audit.changed(ctx, uow, system_actor(invoice.tenant_id, "collections"), EventType.PAYMENT_METHOD_EXPIRING,
                      object_type="payment_method", object_id=method.id, before=None, after=method.to_json(), at=now,
                      customer_id=method.customer_id)  # fmt: skip


@jobs.handles(COLLECT_JOB)
def _collect_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    invoice = uow.invoices.get(job.tenant_id, job.payload["invoice_id"], for_update=True)
    collect(ctx, uow, invoice, int(job.payload["attempt"]), now)


def collect(
    ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, attempt: int, now: datetime
) -> Payment | None:
    """Charge what the invoice still owes on the customer's default method; None when there is nothing to
    charge (paid meanwhile, voided, or no automatic method)."""
    if invoice.status is not InvoiceStatus.OPEN or invoice.amount_remaining.amount <= 0:
        return None
    key = f"{invoice.id}:{attempt}"
    found = uow.payments.by_key(invoice.tenant_id, key)
    if found is not None:
        return found
    method = uow.payment_methods.default(invoice.tenant_id, invoice.customer_id)
    if method is None or not method.automatic:
        return None
    zero = Money.zero(invoice.currency)
    # issue 9: what open disputes on its lines contest waits for an agent; a wholly disputed invoice waits
    owed = invoice.amount_remaining - uow.disputes.open_amount(
        invoice.tenant_id, invoice.id, invoice.currency
    )
    if owed.amount <= 0:
        return None
    if (
        method.type is PaymentMethodType.SEPA_DEBIT
    ):  # collected by file: pending until the bank credits the batch
        payment_id = ctx.new_id("pay")
        payment = Payment(
            tenant_id=invoice.tenant_id, id=payment_id, customer_id=invoice.customer_id,
            amount=owed, status=PaymentStatus.PENDING, method_type=method.type,
            payment_method_id=method.id, invoice_id=invoice.id, attempt=attempt, gateway="sepa", gateway_ref=payment_id,
            refunded=zero, disputed=zero, created_at=now,
        )  # fmt: skip
        uow.payments.add(payment, idempotency_key=key)
        _event(
            ctx,
            uow,
            system_actor(invoice.tenant_id, "collections"),
            EventType.PAYMENT_CREATED,
            None,
            payment,
            now,
        )
        return payment
    gateway = _gateway(ctx, method)
    request = ChargeRequest(
        idempotency_key=f"{invoice.tenant_id}:{key}", amount=owed, method=method,
        description=f"Invoice {invoice.number}", customer_ref=invoice.customer_id,
        metadata={"invoice": invoice.number or invoice.id, "attempt": str(attempt)},
    )  # fmt: skip
    started = time.perf_counter()
    result = gateway.charge(request)  # GatewayUnavailable fails the job: it is retried with the same key
    latency = round((time.perf_counter() - started) * 1000)
    payment = Payment(
        tenant_id=invoice.tenant_id, id=ctx.new_id("pay"), customer_id=invoice.customer_id, amount=result.amount,
        status=PaymentStatus.PENDING, method_type=method.type, payment_method_id=method.id, invoice_id=invoice.id,
        attempt=attempt, gateway=gateway.name, gateway_ref=result.ref, latency_ms=latency,
        refunded=zero, disputed=zero, created_at=now,
    )  # fmt: skip
    uow.payments.add(payment, idempotency_key=key)
    actor = system_actor(invoice.tenant_id, "collections")
    audit.changed(ctx, uow, actor, EventType.PAYMENT_CREATED, object_type="payment", object_id=payment.id,
                  before=None, after=payment.to_json(), at=now, customer_id=payment.customer_id)  # fmt: skip
    return settle(ctx, uow, payment, result, now)


def _gateway(ctx: ServiceContext, method: PaymentMethod) -> Gateway:
    if method.gateway is None or method.gateway not in ctx.gateways:
        raise DomainError("unknown_gateway", f"No gateway {method.gateway!r} is configured.", "gateway")
    return ctx.gateways[method.gateway]


def settle(
    ctx: ServiceContext, uow: UnitOfWork, payment: Payment, result: GatewayCharge, now: datetime
) -> Payment:
    """Bring a stored payment to what the gateway says; only a change of status does anything."""
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED):
        return payment
    actor = system_actor(payment.tenant_id, "collections")
    updated = replace(payment, status=result.status, decline_code=result.decline_code, failure_message=result.message,
                      action_url=result.action_url, fee=result.fee or payment.fee)  # fmt: skip
    if result.status is payment.status and updated == payment:
        if payment.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION):
            _confirm_later(ctx, uow, payment, now)  # a charge answered pending is stored pending: ask later
        return payment
    if result.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED):
        updated = replace(updated, settled_at=now)
    uow.payments.save(updated)
    if result.status is PaymentStatus.SUCCEEDED:
        named = [payment.invoice_id] if payment.invoice_id else []
        if not any(claim(ctx, uow, updated, now) for claim in ON_SUCCEEDED):
            _apply(ctx, uow, updated, now, named=named, actor=actor)
        _event(ctx, uow, actor, EventType.PAYMENT_SUCCEEDED, payment, updated, now)
    elif result.status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
        _event(ctx, uow, actor, EventType.PAYMENT_FAILED, payment, updated, now)
        for hook in ON_FAILED:
            hook(ctx, uow, updated, now)
    elif result.status is PaymentStatus.REQUIRES_ACTION:
        _event(ctx, uow, actor, EventType.PAYMENT_REQUIRES_ACTION, payment, updated, now)
        if payment.invoice_id is not None:  # the customer gets the link to authenticate
            jobs.schedule(ctx, uow, payment.tenant_id, NOTICE_JOB, now, dedupe_key=f"{payment.id}:requires_action",
                          customer_id=payment.customer_id, payload={"invoice_id": payment.invoice_id,
                          "kind": "requires_action", "action_url": updated.action_url})  # fmt: skip
    if result.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION):
        _confirm_later(ctx, uow, payment, now)
    return updated


def _confirm_later(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    """Ask the gateway how a pending charge ended if no webhook has told by then (once per payment)."""
    if payment.gateway in ctx.gateways:
        jobs.schedule(ctx, uow, payment.tenant_id, CONFIRM_JOB, now + CONFIRM_AFTER, dedupe_key=f"{payment.id}:1",
                      customer_id=payment.customer_id, payload={"payment_id": payment.id, "try": 1})  # fmt: skip


def _event(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, kind: EventType, before: Payment | None,
           after: Payment, now: datetime) -> None:  # fmt: skip
    audit.changed(ctx, uow, actor, kind, object_type="payment", object_id=after.id,
                  before=before.to_json() if before else None, after=after.to_json(), at=now,
                  customer_id=after.customer_id)  # fmt: skip


@jobs.handles(CONFIRM_JOB)
def _confirm_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    payment = uow.payments.get(job.tenant_id, job.payload["payment_id"], for_update=True)
    if (
        payment.status is not PaymentStatus.PENDING
        or payment.gateway is None
        or payment.gateway not in ctx.gateways
        or not payment.gateway_ref
    ):
        return  # settled by a webhook meanwhile; requires_action waits for the customer
    result = ctx.gateways[payment.gateway].fetch(payment.gateway_ref)
    after = settle(ctx, uow, payment, result, now)
    tries = int(job.payload["try"])
    if after.status is PaymentStatus.PENDING and tries < CONFIRM_TRIES:
        jobs.schedule(ctx, uow, job.tenant_id, CONFIRM_JOB, now + CONFIRM_AFTER, dedupe_key=f"{payment.id}:{tries + 1}",
                      customer_id=payment.customer_id, payload={"payment_id": payment.id, "try": tries + 1})  # fmt: skip


def confirm_payment(ctx: ServiceContext, actor: Actor, payment_id: str) -> Payment:
    """The customer completed authentication (3-D Secure): ask the gateway how the charge ended."""
    with ctx.uow() as uow:
        payment = uow.payments.get(actor.tenant_id, payment_id, for_update=True)
        if payment.status is not PaymentStatus.REQUIRES_ACTION:
            raise Conflict(
                "invalid_state", f"The payment is {payment.status}, not waiting for authentication."
            )
        assert payment.gateway is not None and payment.gateway_ref is not None
        now = now_for(ctx, uow, uow.customers.get(actor.tenant_id, payment.customer_id))
        updated = settle(ctx, uow, payment, ctx.gateways[payment.gateway].confirm(payment.gateway_ref), now)
        uow.commit()
    return updated


def pay_invoice(ctx: ServiceContext, actor: Actor, invoice_id: str) -> Payment:
    """Charge an open invoice now on the default method (a retry by hand, or "pay now" in the portal)."""
    with ctx.uow() as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        if invoice.status is not InvoiceStatus.OPEN or invoice.amount_remaining.amount <= 0:
            raise Conflict(
                "invalid_state",
                f"Invoice {invoice.number or invoice.id} is {invoice.status}: nothing to pay.",
            )
        method = uow.payment_methods.default(actor.tenant_id, invoice.customer_id)
        if method is None or not method.automatic:
            raise DomainError(
                "no_payment_method",
                "The customer has no default card, provider account (PayPal) or direct debit.",
            )
        now = now_for(ctx, uow, uow.customers.get(actor.tenant_id, invoice.customer_id))
        attempt = len(uow.payments.of_invoice(actor.tenant_id, invoice.id)) + 1
        payment = collect(ctx, uow, invoice, attempt, now)
        if payment is None:  # issue 9: all it still owes is disputed
            raise Conflict("invoice_disputed", f"All invoice {invoice.number} still owes is disputed.")
        uow.commit()
    return payment


# ---- applying money to invoices ------------------------------------------------------------------------


def _cash_role(payment: Payment, *, leaving: bool = False) -> Role:
    """Where a payment's money is: a gateway holds it until its payout (refunds and chargebacks are netted
    there); a SEPA debit's is in the bank once the batch was credited, so money leaving it leaves cash."""
    if payment.gateway == "sepa" and leaving:
        return Role.CASH
    return Role.PAYMENTS_IN_TRANSIT if payment.gateway else Role.CASH


def open_invoices(uow: UnitOfWork, tenant_id: str, customer_id: str, currency: str) -> list[Invoice]:
    return [i for i in uow.invoices.open_of_customer(tenant_id, customer_id)
            if i.currency == currency and i.amount_remaining.amount > 0]  # fmt: skip


def _apply(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, now: datetime, *, named: Sequence[str],
           actor: Actor, allocations: Sequence[Allocation] | None = None) -> Money:  # fmt: skip
    """Pay invoices with a succeeded payment (the named ones first, then oldest first), the rest to the credit
    balance; post the entry. Returns what went to the credit balance."""
    invoices = {
        i.id: i for i in open_invoices(uow, payment.tenant_id, payment.customer_id, payment.amount.currency)
    }
    if allocations is None:
        opened = [OpenInvoice.of(i) for i in invoices.values()]
        allocations, rest = apply_cash(payment.amount, opened, named=named)
    else:
        rest = payment.amount - sum((a.amount for a in allocations), Money.zero(payment.amount.currency))
    applied = Money.zero(payment.amount.currency)
    recovered = Money.zero(payment.amount.currency)
    for allocation in allocations:
        locked = uow.invoices.get(payment.tenant_id, allocation.invoice_id, for_update=True)
        after = paid(locked, allocation.amount, now)
        uow.invoices.save(after)
        uow.payments.allocate(payment.tenant_id, ctx.new_id("pal"), payment.id, allocation, source_type="payment",
                              source_id=payment.id, created_at=now)  # fmt: skip
        applied = applied + allocation.amount
        if locked.status is InvoiceStatus.UNCOLLECTIBLE:
            recovered = recovered + allocation.amount
        if after.status is InvoiceStatus.PAID:
            audit.changed(ctx, uow, actor, EventType.INVOICE_PAID, object_type="invoice", object_id=after.id,
                          before=locked.to_json(), after=after.to_json(), at=now, customer_id=after.customer_id)  # fmt: skip
            for hook in ON_PAID:
                hook(ctx, uow, after, now)
    if rest.amount:
        uow.credit_balances.add(CreditMovement(
            tenant_id=payment.tenant_id, id=ctx.new_id("cbt"), customer_id=payment.customer_id, amount=rest,
            source_type="payment", source_id=payment.id, description="Paid beyond the invoices owed",
            created_at=now))  # fmt: skip
    chart = uow.ledger.chart(payment.tenant_id)
    post(uow, lambda: ledger.role_entry(
        chart, tenant_id=payment.tenant_id, id=ctx.new_id("je"), posted_at=now, source_type=SourceType.PAYMENT,
        source_id=payment.id, description=f"Payment {payment.id}", currency=payment.amount.currency,
        amounts=[(_cash_role(payment), payment.amount), (Role.ACCOUNTS_RECEIVABLE, -applied),
                 (Role.CUSTOMER_CREDIT, -rest),
                 # an invoice written off and paid after all: the bad debt comes back
                 (Role.ACCOUNTS_RECEIVABLE, recovered), (Role.BAD_DEBT, -recovered)]))  # fmt: skip
    return rest


_METHODS_BY_HAND = frozenset(
    {PaymentMethodType.BANK_TRANSFER, PaymentMethodType.CHEQUE, PaymentMethodType.CASH}
)


def record_payment(ctx: ServiceContext, actor: Actor, body: Mapping[str, Any]) -> Payment:
    """Money received outside any gateway (bank transfer, cheque, cash), applied to the invoices it names
    (ids in `invoice_ids`, or invoice numbers found in `reference`), then to the oldest."""
    with ctx.uow() as uow:
        payment = record_in(ctx, uow, actor, body)
        uow.commit()
    return payment


def record_in(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, body: Mapping[str, Any], *,
              allocations: Sequence[Allocation] | None = None, key: str | None = None) -> Payment:  # fmt: skip
    known = {"customer_id", "amount", "method_type", "received_on", "reference", "invoice_ids", "payer_name",
             "payer_iban"}  # fmt: skip
    for name in body:
        if name not in known:
            raise DomainError("unknown_field", f"Unknown field {name!r}.", name)
    try:
        kind = PaymentMethodType(str(body.get("method_type", "bank_transfer")))
    except ValueError:
        kind = None
    if kind not in _METHODS_BY_HAND:
        raise DomainError(
            "invalid_method_type", "method_type is bank_transfer, cheque or cash.", "method_type"
        )
    assert kind is not None
    named = body.get("invoice_ids") or []
    if not isinstance(named, list) or not all(isinstance(i, str) for i in named) or len(named) > 100:
        raise DomainError(
            "invalid_invoice_ids", "invoice_ids is a list of up to 100 invoice ids.", "invoice_ids"
        )
    customer_id = body.get("customer_id")
    if customer_id is None and named:
        customer_id = uow.invoices.get(actor.tenant_id, named[0]).customer_id
    if not isinstance(customer_id, str):
        raise DomainError("required", "Name the customer (customer_id) or the invoices paid (invoice_ids).",
                          "customer_id")  # fmt: skip
    customer = uow.customers.get(actor.tenant_id, customer_id, for_update=True)
    for i, invoice_id in enumerate(named):
        invoice = uow.invoices.get(actor.tenant_id, invoice_id)
        if invoice.customer_id != customer.id:
            raise DomainError(
                "invoice_of_another_customer", "The invoice is not this customer's.", f"invoice_ids.{i}"
            )
    amount = body.get("amount")
    if not isinstance(amount, str):
        raise DomainError("invalid_amount", "amount is a decimal string.", "amount")
    money = Money.parse(amount, customer.currency, field="amount")
    if money.amount <= 0 or not money.is_rounded:
        raise DomainError(
            "invalid_amount", f"A positive amount in {customer.currency}'s minor units.", "amount"
        )
    reference = body.get("reference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 500):
        raise DomainError("invalid_reference", "reference is text of at most 500 characters.", "reference")
    now = now_for(ctx, uow, customer)
    received = body.get("received_on")
    try:
        received_on = (
            date.fromisoformat(received) if isinstance(received, str) else local_day(now, customer.time_zone)
        )
    except ValueError:
        raise DomainError("invalid_date", "received_on is a date (YYYY-MM-DD).", "received_on") from None
    if reference and not named:
        named = _numbers_in(uow, actor.tenant_id, customer.id, reference)
    payment = Payment(
        tenant_id=actor.tenant_id, id=ctx.new_id("pay"), customer_id=customer.id, amount=money,
        status=PaymentStatus.SUCCEEDED, method_type=kind, reference=reference,
        payer_name=_text(body, "payer_name"), payer_iban=normalize_iban(_text(body, "payer_iban", limit=40)),
        received_on=received_on, refunded=Money.zero(money.currency), disputed=Money.zero(money.currency),
        created_at=now, settled_at=now,
    )  # fmt: skip
    if not uow.payments.add(payment, idempotency_key=key or f"manual:{payment.id}"):
        existing = uow.payments.by_key(actor.tenant_id, key or "")
        assert existing is not None
        return existing
    _apply(ctx, uow, payment, now, named=named, actor=actor, allocations=allocations)
    _event(ctx, uow, actor, EventType.PAYMENT_SUCCEEDED, None, payment, now)
    return payment


def _numbers_in(uow: UnitOfWork, tenant_id: str, customer_id: str, text: str) -> list[str]:
    """The customer's open invoices whose numbers the remittance text names, in the order named."""
    squashed = re.sub(r"[\s\-/_.]", "", text).upper()
    found = []
    for invoice in uow.invoices.open_of_customer(tenant_id, customer_id):
        number = re.sub(r"[\s\-/_.]", "", invoice.number or "").upper()
        if number and number in squashed:
            found.append((squashed.index(number), invoice.id))
    return [i for _, i in sorted(found)]


def list_payments(ctx: ServiceContext, actor: Actor, *, customer_id: str | None, status: str | None, limit: int,
                  cursor: str | None) -> Page[Payment]:  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        return uow.payments.list(
            actor.tenant_id, customer_id=customer_id, status=status, limit=limit, cursor=cursor
        )


def get_payment(
    ctx: ServiceContext, actor: Actor, payment_id: str
) -> tuple[Payment, list[Allocation], list[Refund]]:
    with ctx.uow(read_only=True) as uow:
        payment = uow.payments.get(actor.tenant_id, payment_id)
        return (payment, uow.payments.allocations(actor.tenant_id, payment.id),
                uow.payments.refunds_of(actor.tenant_id, payment.id))  # fmt: skip


# ---- refunds -------------------------------------------------------------------------------------------


def refund_in(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, payment: Payment, amount: Money, now: datetime, *,
              reason: str | None, credit_note: CreditNote | None = None) -> Refund:  # fmt: skip
    """Send money back from the customer's credit balance (an overpayment, a credit note) through the
    payment it came with. A paid invoice is refunded by crediting it first (a credit note to the credit
    balance): an invoice is never silently un-paid."""
    if amount.amount <= 0 or not amount.is_rounded:
        raise DomainError("invalid_amount", "A refund is a positive amount in minor units.", "amount")
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise Conflict("invalid_state", f"The payment is {payment.status}: nothing to refund.")
    if amount > payment.refundable:
        raise DomainError("refund_exceeds_payment", f"At most {payment.refundable} of this payment can be "
                          "refunded.", "amount")  # fmt: skip
    balance = uow.credit_balances.balance(payment.tenant_id, payment.customer_id, amount.currency)
    if amount > balance:
        raise DomainError("refund_exceeds_credit_balance", f"The customer's credit balance is {balance}: credit "
                          "the invoice first (a credit note with refund: true).", "amount")  # fmt: skip
    refund_id = ctx.new_id("re")
    gateway_ref = None
    status = PaymentStatus.SUCCEEDED
    if payment.gateway is not None and payment.gateway_ref is not None:
        result = ctx.gateways[payment.gateway].refund(payment.gateway_ref, amount, idempotency_key=refund_id)
        gateway_ref, status = result.ref, result.status
        if status is PaymentStatus.FAILED:
            raise DomainError("refund_failed", result.message or "The gateway refused the refund.")
    refund = Refund(tenant_id=payment.tenant_id, id=refund_id, payment_id=payment.id, customer_id=payment.customer_id,
                    amount=amount, status=status, gateway_ref=gateway_ref, reason=reason,
                    credit_note_id=credit_note.id if credit_note else None, created_at=now)  # fmt: skip
    uow.payments.add_refund(refund)
    after = replace(payment, refunded=payment.refunded + amount)
    uow.payments.save(after)
    uow.credit_balances.add(CreditMovement(
        tenant_id=payment.tenant_id, id=ctx.new_id("cbt"), customer_id=payment.customer_id, amount=-amount,
        source_type="refund", source_id=refund.id, description=f"Refunded to the {payment.method_type.value.replace('_', ' ')}",
        created_at=now))  # fmt: skip
    post(uow, ledger.role_entry(
        uow.ledger.chart(payment.tenant_id), tenant_id=payment.tenant_id, id=ctx.new_id("je"), posted_at=now,
        source_type=SourceType.REFUND, source_id=refund.id, description=f"Refund of payment {payment.id}",
        currency=amount.currency, amounts=[(Role.CUSTOMER_CREDIT, amount), (_cash_role(payment, leaving=True), -amount)]))  # fmt: skip
    audit.changed(ctx, uow, actor, EventType.PAYMENT_REFUNDED, object_type="payment", object_id=payment.id,
                  before=payment.to_json(), after=after.to_json(), at=now, customer_id=payment.customer_id,
                  data={"payment": after.to_json(), "refund": refund.to_json()})  # fmt: skip
    return refund


def refund_payment(ctx: ServiceContext, actor: Actor, payment_id: str, body: Mapping[str, Any]) -> Refund:
    with ctx.uow() as uow:
        payment = uow.payments.get(actor.tenant_id, payment_id, for_update=True)
        customer = uow.customers.get(actor.tenant_id, payment.customer_id, for_update=True)
        amount_text = body.get("amount")
        if amount_text is None:
            balance = uow.credit_balances.balance(
                actor.tenant_id, payment.customer_id, payment.amount.currency
            )
            amount = min(balance, payment.refundable)
        elif isinstance(amount_text, str):
            amount = Money.parse(amount_text, payment.amount.currency, field="amount")
        else:
            raise DomainError("invalid_amount", "amount is a decimal string.", "amount")
        reason = body.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
            raise DomainError("invalid_reason", "reason is text of at most 500 characters.", "reason")
        now = now_for(ctx, uow, customer)
        refund = refund_in(ctx, uow, actor, payment, amount, now, reason=reason)
        uow.commit()
    return refund


def refund_credit_note(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, invoice: Invoice, note: CreditNote,
                       now: datetime) -> list[Refund]:  # fmt: skip
    """A credit note with refund: what it put on the credit balance goes back through the payments that paid
    the invoice, the latest first."""
    left = note.to_credit_balance
    out = []
    for payment_id, _ in reversed(uow.payments.paid_by(invoice.tenant_id, invoice.id)):
        if not left.amount:
            break
        payment = uow.payments.get(invoice.tenant_id, payment_id, for_update=True)
        part = min(left, payment.refundable)
        if part.amount > 0:
            out.append(refund_in(ctx, uow, actor, payment, part, now, reason=f"Credit note {note.number}",
                                 credit_note=note))  # fmt: skip
            left = left - part
    if left.amount:
        raise DomainError("nothing_to_refund", f"{left} of the credit note was not paid by any payment: it stays "
                          "on the credit balance.", "refund")  # fmt: skip
    return out


# ---- gateway webhooks: confirmations, chargebacks, card updates ----------------------------------------


def handle_gateway_webhook(ctx: ServiceContext, tenant_id: str, gateway_name: str, body: bytes,
                           headers: Mapping[str, str]) -> str:  # fmt: skip
    """Verify and apply one gateway webhook; returns what happened ("applied", "duplicate", "ignored").
    WebhookRejected (bad signature) propagates: the API answers 400."""
    if gateway_name not in ctx.gateways:
        raise DomainError("unknown_gateway", f"No gateway {gateway_name!r} is configured.")
    try:
        event = ctx.gateways[gateway_name].parse_webhook(body, headers)
    except WebhookRejected as error:
        if getattr(error, "ignorable", False):  # a kind of event kassa does not act on
            return "ignored"
        raise InvalidSignature() from None
    with ctx.uow() as uow:
        tenant = uow.tenants.get(tenant_id)
        now = ctx.clock.now()
        if not uow.payments.record_event(tenant.id, gateway_name, event.id, event.type.value, now):
            return "duplicate"
        outcome = _on_gateway_event(ctx, uow, tenant.id, gateway_name, event)
        uow.commit()
    return outcome


def _on_gateway_event(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, gateway_name: str,
                      event: GatewayEvent) -> str:  # fmt: skip
    kind = event.type
    if kind is GatewayEventType.PAYMENT_METHOD_UPDATED:
        changed = False
        for method in uow.payment_methods.by_token(tenant_id, event.token or ""):
            updated = replace(method, exp_month=event.exp_month or method.exp_month,
                              exp_year=event.exp_year or method.exp_year)  # fmt: skip
            if updated != method:
                uow.payment_methods.save(updated)
                now = now_for(ctx, uow, uow.customers.get(tenant_id, method.customer_id))
                _method_changed(ctx, uow, tenant_id, method.customer_id, now)
                changed = True
        return "applied" if changed else "ignored"
    if event.charge_ref is None:
        return "ignored"
    payment = uow.payments.by_gateway_ref(tenant_id, gateway_name, event.charge_ref, for_update=True)
    if payment is None:
        return "ignored"  # not a charge kassa made
    now = now_for(ctx, uow, uow.customers.get(tenant_id, payment.customer_id))
    if kind in (GatewayEventType.PAYMENT_SUCCEEDED, GatewayEventType.PAYMENT_FAILED,
                GatewayEventType.PAYMENT_REQUIRES_ACTION):  # fmt: skip
        status = {GatewayEventType.PAYMENT_SUCCEEDED: PaymentStatus.SUCCEEDED,
                  GatewayEventType.PAYMENT_FAILED: PaymentStatus.FAILED,
                  GatewayEventType.PAYMENT_REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION}[kind]  # fmt: skip
        result = GatewayCharge(ref=event.charge_ref, status=status, amount=payment.amount,
                               decline_code=event.decline_code, message=event.message, fee=event.fee)  # fmt: skip
        settle(ctx, uow, payment, result, now)
        return "applied"
    if kind is GatewayEventType.CHARGEBACK_OPENED:
        return chargeback_opened(ctx, uow, payment, event, now)
    if kind in (GatewayEventType.CHARGEBACK_WON, GatewayEventType.CHARGEBACK_LOST):
        return _chargeback_closed(ctx, uow, payment, event, now)
    return "ignored"


def chargeback_opened(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, event: GatewayEvent,
                       now: datetime) -> str:  # fmt: skip
    """The network took the money back: the invoices it paid are owed again (latest first), any rest comes
    off the credit balance, and the fee is an expense."""
    assert event.chargeback_ref is not None
    if uow.payments.chargeback(payment.tenant_id, event.chargeback_ref) is not None:
        return "duplicate"
    cur = payment.amount.currency
    amount = min(event.amount or payment.refundable, payment.refundable)
    fee = event.fee or Money.zero(cur)
    cb = Chargeback(tenant_id=payment.tenant_id, id=ctx.new_id("cb"), payment_id=payment.id,
                    customer_id=payment.customer_id, amount=amount, fee=fee, status=ChargebackStatus.OPEN,
                    reason=event.reason, gateway_ref=event.chargeback_ref, created_at=now)  # fmt: skip
    uow.payments.save_chargeback(cb, new=True)
    reopened = _unapply(ctx, uow, payment, amount, now, source_type="chargeback", source_id=cb.id)
    from_balance = amount - reopened
    if from_balance.amount:
        uow.credit_balances.add(CreditMovement(
            tenant_id=payment.tenant_id, id=ctx.new_id("cbt"), customer_id=payment.customer_id, amount=-from_balance,
            source_type="chargeback", source_id=cb.id, description="Taken back by a chargeback", created_at=now))  # fmt: skip
    after = replace(payment, disputed=payment.disputed + amount)
    uow.payments.save(after)
    post(uow, ledger.role_entry(
        uow.ledger.chart(payment.tenant_id), tenant_id=payment.tenant_id, id=ctx.new_id("je"), posted_at=now,
        source_type=SourceType.CHARGEBACK, source_id=cb.id, description=f"Chargeback on payment {payment.id}",
        currency=cur, amounts=[(Role.ACCOUNTS_RECEIVABLE, reopened), (Role.CUSTOMER_CREDIT, from_balance),
                               (Role.PAYMENT_FEES, fee), (_cash_role(payment, leaving=True), -(amount + fee))]))  # fmt: skip
    audit.changed(ctx, uow, system_actor(payment.tenant_id, "collections"), EventType.CHARGEBACK_OPENED,
                  object_type="chargeback", object_id=cb.id, before=None, after=cb.to_json(), at=now,
                  customer_id=cb.customer_id)  # fmt: skip
    return "applied"


def _unapply(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, amount: Money, now: datetime, *,
             source_type: str, source_id: str) -> Money:  # fmt: skip
    """Take up to `amount` back from the invoices the payment paid, latest first; the invoices are open again."""
    left = amount
    for allocation in reversed(uow.payments.allocations(payment.tenant_id, payment.id)):
        if not left.amount or allocation.amount.amount <= 0:
            continue
        part = min(left, allocation.amount)
        invoice = uow.invoices.get(payment.tenant_id, allocation.invoice_id, for_update=True)
        part = min(part, invoice.amount_paid)
        if part.amount <= 0:
            continue
        uow.invoices.save(paid(invoice, -part, now))
        uow.payments.allocate(payment.tenant_id, ctx.new_id("pal"), payment.id,
                              Allocation(invoice_id=invoice.id, amount=-part), source_type=source_type,
                              source_id=source_id, created_at=now)  # fmt: skip
        left = left - part
    return amount - left


def _chargeback_closed(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, event: GatewayEvent,
                       now: datetime) -> str:  # fmt: skip
    assert event.chargeback_ref is not None
    cb = uow.payments.chargeback(payment.tenant_id, event.chargeback_ref)
    if cb is None or cb.status is not ChargebackStatus.OPEN:
        return "ignored"
    won = event.type is GatewayEventType.CHARGEBACK_WON
    closed = replace(cb, status=ChargebackStatus.WON if won else ChargebackStatus.LOST, closed_at=now)
    uow.payments.save_chargeback(closed, new=False)
    actor = system_actor(payment.tenant_id, "collections")
    if won:  # the money is back: it pays again, the invoices it had paid first
        after = replace(payment, disputed=payment.disputed - cb.amount)
        uow.payments.save(after)
        taken = [a.invoice_id for a in uow.payments.allocations(payment.tenant_id, payment.id)]
        invoices = {
            i.id: i for i in open_invoices(uow, payment.tenant_id, payment.customer_id, cb.amount.currency)
        }
        allocations, rest = apply_cash(cb.amount, [OpenInvoice.of(i) for i in invoices.values()], named=taken)
        applied = cb.amount - rest
        for allocation in allocations:
            invoice = uow.invoices.get(payment.tenant_id, allocation.invoice_id, for_update=True)
            uow.invoices.save(paid(invoice, allocation.amount, now))
            uow.payments.allocate(payment.tenant_id, ctx.new_id("pal"), payment.id, allocation,
                                  source_type="chargeback", source_id=cb.id, created_at=now)  # fmt: skip
        if rest.amount:
            uow.credit_balances.add(CreditMovement(
                tenant_id=payment.tenant_id, id=ctx.new_id("cbt"), customer_id=payment.customer_id, amount=rest,
                source_type="chargeback", source_id=cb.id, description="Chargeback won", created_at=now))  # fmt: skip
        post(uow, ledger.role_entry(
            uow.ledger.chart(payment.tenant_id), tenant_id=payment.tenant_id, id=ctx.new_id("je"), posted_at=now,
            source_type=SourceType.CHARGEBACK, source_id=cb.id, description=f"Chargeback won on payment {payment.id}",
            currency=cb.amount.currency, amounts=[(_cash_role(payment, leaving=True), cb.amount), (Role.ACCOUNTS_RECEIVABLE, -applied),
                                                  (Role.CUSTOMER_CREDIT, -rest)]))  # fmt: skip
    audit.changed(ctx, uow, actor, EventType.CHARGEBACK_CLOSED, object_type="chargeback", object_id=cb.id,
                  before=cb.to_json(), after=closed.to_json(), at=now, customer_id=cb.customer_id)  # fmt: skip
    return "applied"
