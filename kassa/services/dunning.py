"""Dunning: retries after a failed charge and the escalation steps for an invoice left unpaid, run as jobs
on the customer's clock; and the payment terms that follow from when an invoice is paid (late fee,
interest, early-payment discount). The policy itself is pure (`kassa.core.dunning`, docs/dunning.md).

Every job re-reads the invoice: one paid meanwhile makes a pending retry or step do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from kassa.core.audit import Actor, system_actor
from kassa.core.credit_notes import CreditReason, CreditRequest, CreditTarget
from kassa.core.customers import Customer
from kassa.core.dunning import (
    DunningAction,
    DunningPolicy,
    RecoveryAttempt,
    RecoveryReport,
    default_policy,
    next_retry_at,
    parse_policy,
    policy_to_json,
    recovery_report,
    step_date,
)
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice, InvoiceStatus
from kassa.core.jobs import Job
from kassa.core.payments import Payment, PaymentStatus
from kassa.core.periods import local_day
from kassa.core.tax import TaxCategory
from kassa.services import audit, invoicing, jobs, payments, subscriptions
from kassa.services.billing import bill_instant
from kassa.services.context import ServiceContext
from kassa.services.emails import send_notice
from kassa.store.one_off_charges import OneOffCharge
from kassa.store.uow import UnitOfWork

STEP_JOB = "dunning.step"
LATE_FEE_JOB = "dunning.late_fee"


# Until a tenant saves a policy, the default's retries and notices run but not its actions on the account:
# suspending, canceling and writing off are the tenant's choice, never a default nobody chose.
_NOTICES = frozenset({DunningAction.REMINDER, DunningAction.SUSPENSION_NOTICE})


def policy_of(uow: UnitOfWork, tenant_id: str) -> tuple[DunningPolicy, bool]:
    """The tenant's default policy, and whether the tenant chose it (saved it) rather than kassa's default."""
    row = uow.dunning_policies.default(tenant_id)
    return (default_policy(), False) if row is None else (parse_policy(row.doc, policy_id=row.id), True)


# ---- retries -------------------------------------------------------------------------------------------


def _on_failed(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    if payment.invoice_id is None:
        return
    attempts = uow.payments.of_invoice(payment.tenant_id, payment.invoice_id)
    first = min(
        (p.created_at for p in attempts if p.status is PaymentStatus.FAILED), default=payment.created_at
    )
    customer = uow.customers.get(payment.tenant_id, payment.customer_id)
    at = next_retry_at(policy_of(uow, payment.tenant_id)[0], attempts=payment.attempt, decline_code=payment.decline_code,
                       first_failed_at=first, time_zone=customer.time_zone)  # fmt: skip
    if at is None:
        return
    nxt = payment.attempt + 1
    jobs.schedule(ctx, uow, payment.tenant_id, payments.COLLECT_JOB, max(at, now), dedupe_key=f"{payment.invoice_id}:{nxt}",
                  customer_id=payment.customer_id, payload={"invoice_id": payment.invoice_id, "attempt": nxt})  # fmt: skip


def _on_method_updated(
    ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str, now: datetime
) -> None:
    """A new or renewed card: the invoices whose last charge failed are tried again at once (the retry
    scheduled for later then finds the attempt made and does nothing)."""
    for invoice in uow.invoices.open_of_customer(tenant_id, customer_id):
        if invoice.status is not InvoiceStatus.OPEN:
            continue
        tried = uow.payments.of_invoice(tenant_id, invoice.id)
        if not tried or tried[-1].status is not PaymentStatus.FAILED:
            continue
        nxt = tried[-1].attempt + 1
        jobs.schedule(ctx, uow, tenant_id, payments.COLLECT_JOB, now, dedupe_key=f"{invoice.id}:{nxt}:updated",
                      customer_id=customer_id, payload={"invoice_id": invoice.id, "attempt": nxt})  # fmt: skip


# ---- escalation steps ----------------------------------------------------------------------------------


def _on_open(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    assert invoice.due_date is not None
    payer = uow.customers.get(invoice.tenant_id, invoice.customer_id)
    _schedule_step(ctx, uow, invoice, payer, 0, now)
    fee = uow.tenants.get(invoice.tenant_id).settings.late_fee
    if fee is not None and (fee.fixed or fee.percent):
        day = invoice.due_date.toordinal() + fee.grace_days + 1
        at = bill_instant(type(invoice.due_date).fromordinal(day), payer)
        jobs.schedule(ctx, uow, invoice.tenant_id, LATE_FEE_JOB, max(at, now), dedupe_key=invoice.id,
                      customer_id=invoice.customer_id, payload={"invoice_id": invoice.id})  # fmt: skip


def _schedule_step(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, payer: Customer, start: int,
                   now: datetime) -> None:  # fmt: skip
    """One step waits at a time: each schedules the next, so an invoice paid on time leaves one job behind."""
    assert invoice.due_date is not None
    policy, chosen = policy_of(uow, invoice.tenant_id)
    for i, step in enumerate(policy.steps[start:], start):
        if not chosen and step.action not in _NOTICES:
            continue
        at = bill_instant(step_date(invoice.due_date, step), payer)
        jobs.schedule(ctx, uow, invoice.tenant_id, STEP_JOB, max(at, now), dedupe_key=f"{invoice.id}:{i}",
                      customer_id=invoice.customer_id,
                      payload={"invoice_id": invoice.id, "index": i, "day": step.day, "action": step.action.value})  # fmt: skip
        return


@jobs.handles(STEP_JOB)
def _step_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    invoice = uow.invoices.get(job.tenant_id, job.payload["invoice_id"], for_update=True)
    if invoice.status is not InvoiceStatus.OPEN or invoice.amount_remaining.amount <= 0:
        return
    action = DunningAction(job.payload["action"])
    actor = system_actor(job.tenant_id, "dunning")
    _schedule_step(ctx, uow, invoice, uow.customers.get(job.tenant_id, invoice.customer_id),
                   int(job.payload["index"]) + 1, now)  # fmt: skip
    held = uow.disputes.open_amount(job.tenant_id, invoice.id, invoice.currency)
    if (invoice.amount_remaining - held).amount <= 0:
        return  # issue 9: all it owes is disputed: no step on it (the next one is scheduled as usual)
    waiting = [
        p
        for p in uow.payments.of_invoice(job.tenant_id, invoice.id)
        if p.status is PaymentStatus.REQUIRES_ACTION
    ]
    data: dict[str, Any] = {"invoice": invoice.to_json(), "action": action.value, "days_past_due": job.payload["day"],
                            "action_url": waiting[-1].action_url if waiting else None}  # fmt: skip
    audit.changed(ctx, uow, actor, EventType.INVOICE_OVERDUE, object_type="invoice", object_id=invoice.id,
                  before=None, after={"action": action.value, "days_past_due": job.payload["day"]}, at=now,
                  customer_id=invoice.customer_id, data=data)  # fmt: skip
    if action in (DunningAction.REMINDER, DunningAction.SUSPENSION_NOTICE):
        send_notice(ctx, invoice, action.value, data["action_url"], now)  # deferred: this step runs again
    elif action is DunningAction.PAST_DUE:
        subscriptions.set_past_due(ctx, uow, actor, invoice.customer_id, now, past_due=True)
    elif action is DunningAction.CANCEL:
        subscriptions.cancel_for_nonpayment(ctx, uow, actor, invoice.customer_id, now)
    elif action is DunningAction.WRITE_OFF:
        invoicing.write_off(ctx, uow, actor, invoice, now)


# ---- payment terms -------------------------------------------------------------------------------------


def _charge(
    uow: UnitOfWork, ctx: ServiceContext, invoice: Invoice, description: str, amount: Any, now: datetime
) -> None:
    if amount.amount <= 0:
        return
    uow.one_off_charges.add(OneOffCharge(
        tenant_id=invoice.tenant_id, id=ctx.new_id("ooc"), customer_id=invoice.customer_id, description=description,
        product="late_fee", quantity=Decimal(1), unit_price=amount.amount, amount=amount,
        tax_category=TaxCategory.EXEMPT.value, created_at=now))  # fmt: skip


@jobs.handles(LATE_FEE_JOB)
def _late_fee_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    invoice = uow.invoices.get(job.tenant_id, job.payload["invoice_id"], for_update=True)
    settings = uow.tenants.get(job.tenant_id).settings
    if (
        invoice.status is not InvoiceStatus.OPEN
        or invoice.amount_remaining.amount <= 0
        or settings.late_fee is None
    ):
        return
    # issue 9: money an open dispute contests is not late while an agent looks at it
    undisputed = invoice.amount_remaining - uow.disputes.open_amount(
        job.tenant_id, invoice.id, invoice.currency
    )
    if undisputed.amount <= 0:
        return
    fee = settings.late_fee.fee(undisputed, settings.rounding_mode)
    _charge(uow, ctx, invoice, f"Late fee for invoice {invoice.number}", fee, now)


def _on_paid(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    tenant = uow.tenants.get(invoice.tenant_id)
    payer = uow.customers.get(invoice.tenant_id, invoice.customer_id)
    paid_on = local_day(now, payer.time_zone)
    terms = tenant.settings
    assert invoice.due_date is not None and invoice.finalized_at is not None
    if terms.late_fee is not None and terms.late_fee.annual_interest_percent and paid_on > invoice.due_date:
        interest = terms.late_fee.interest(invoice.amount_due, invoice.due_date, paid_on, terms.rounding_mode)
        days = (paid_on - invoice.due_date).days
        _charge(uow, ctx, invoice, f"Interest on invoice {invoice.number}: {days} days late at "
                f"{terms.late_fee.annual_interest_percent} % a year", interest, now)  # fmt: skip
    early = terms.early_payment_discount
    finalized_on = local_day(invoice.finalized_at, payer.time_zone)
    if early is not None and early.applies(finalized_on, paid_on) and not invoice.amount_credited:
        full = uow.invoices.get(invoice.tenant_id, invoice.id)  # with its lines
        requests = [CreditRequest(position=line.position, amount=(line.net * (early.percent / 100)).round(terms.rounding_mode))
                    for line in full.lines if line.net.amount > 0]  # fmt: skip
        requests = [r for r in requests if r.amount is not None and r.amount.amount > 0]
        if requests:
            invoicing.issue_credit_note(
                ctx, uow, tenant, full, requests, reason=CreditReason.EARLY_PAYMENT_DISCOUNT,
                target=CreditTarget.CREDIT_BALANCE, memo=f"{early.percent} % for paying within {early.within_days} days",
                now=now, automatic=False, actor=system_actor(tenant.id, "payment_terms"))  # fmt: skip
    overdue = [i for i in uow.invoices.open_of_customer(invoice.tenant_id, invoice.customer_id)
               if i.status is InvoiceStatus.OPEN and i.due_date is not None and i.due_date < paid_on]  # fmt: skip
    if not overdue:
        subscriptions.set_past_due(
            ctx, uow, system_actor(tenant.id, "dunning"), invoice.customer_id, now, past_due=False
        )


payments.ON_FAILED.append(_on_failed)
payments.ON_OPEN.append(_on_open)
payments.ON_PAID.append(_on_paid)
payments.ON_METHOD_UPDATED.append(_on_method_updated)


# ---- policies and the recovery report ------------------------------------------------------------------


def list_policies(ctx: ServiceContext, actor: Actor) -> list[tuple[DunningPolicy, bool]]:
    with ctx.uow(read_only=True) as uow:
        rows = uow.dunning_policies.list(actor.tenant_id)
        if not rows:
            return [(default_policy(), True)]
        return [(parse_policy(r.doc, policy_id=r.id), bool(r.is_default)) for r in rows]


def put_policy(
    ctx: ServiceContext, actor: Actor, policy_id: str, body: Mapping[str, Any]
) -> tuple[DunningPolicy, bool]:
    if not isinstance(body, Mapping):
        raise DomainError("invalid_dunning_policy", "A policy is an object.")
    doc = dict(body)
    make_default = doc.pop("default", True)
    if not isinstance(make_default, bool):
        raise DomainError("invalid_dunning_policy", "default is true or false.", "default")
    doc.pop("id", None)
    policy = parse_policy(doc, policy_id=policy_id)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        before = [r for r in uow.dunning_policies.list(actor.tenant_id) if r.id == policy_id]
        stored = policy_to_json(policy)
        uow.dunning_policies.put(
            actor.tenant_id, policy.id, policy.name, stored, is_default=make_default, at=now
        )
        if uow.dunning_policies.default(actor.tenant_id) is None:
            raise DomainError("no_default_policy", "One policy stays the default: set default: true on another first.",
                              "default")  # fmt: skip
        audit.changed(ctx, uow, actor, EventType.DUNNING_POLICY_UPDATED, object_type="dunning_policy",
                      object_id=policy.id, before=before[0].doc if before else None, after=stored, at=now)  # fmt: skip
        uow.commit()
    return policy, make_default


def recovery(ctx: ServiceContext, actor: Actor) -> RecoveryReport:
    """Recovered amount and rate by attempt and by decline reason, over every collection attempt."""
    with ctx.uow(read_only=True) as uow:
        attempts = uow.payments.attempts(actor.tenant_id)
    previous: dict[str, Payment] = {}
    items = []
    for p in attempts:
        if p.invoice_id is None or p.status not in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELED,
        ):
            continue
        before = previous.get(p.invoice_id)
        if before is not None and before.attempt >= p.attempt:
            continue
        items.append(RecoveryAttempt(invoice_id=p.invoice_id, attempt=p.attempt,
                                     decline_code=before.decline_code if before else None, amount=p.amount,
                                     succeeded=p.status is PaymentStatus.SUCCEEDED))  # fmt: skip
        previous[p.invoice_id] = p
    return recovery_report(items)
