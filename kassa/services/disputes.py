"""Disputes on invoice lines (issue 9): a customer (portal) or an agent contests part or all of a line of an
open or paid invoice. The tenant's dispute policy accepts small ones at once (a credit note, the customer
told through the dispute.resolved event); the rest wait in the agents' queue, and collections hold their
amount back until an agent accepts (a credit note) or rejects them, when collection resumes. The report
counts them per month. See docs/disputes.md.

A *dispute* is not a *chargeback* (a card network's dispute of a payment, in services/payments.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from kassa.core.audit import Actor, system_actor
from kassa.core.dispute_policy import ABUSE_WINDOW, decide
from kassa.core.disputes import (
    CREDIT_REASONS,
    MAX_DESCRIPTION,
    MAX_RESOLUTION,
    REPORT_COLUMNS,
    Dispute,
    DisputeReason,
    DisputeStatus,
    OpenedBy,
    credit_request,
    disputable,
    member,
    report_rows,
    text,
)
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice, InvoiceLine, InvoiceStatus
from kassa.core.money import Money
from kassa.core.pages import Page, check_limit
from kassa.core.payments import PaymentStatus
from kassa.core.periods import local_day, start_of
from kassa.core.reports import Report, month_name, next_month
from kassa.core.tenants import Tenant
from kassa.services import audit, invoicing, jobs, payments, users
from kassa.services.billing import bill_instant
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.revenue_reports import span
from kassa.store.uow import UnitOfWork

DISPUTABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID})
_OPEN_FIELDS = {"line", "amount", "reason", "description", "opened_by"}


def _known(fields: Mapping[str, Any], names: set[str]) -> None:
    if not isinstance(fields, Mapping):
        raise DomainError("invalid_dispute", "A dispute is an object.")
    for key in fields:
        if key not in names:
            raise DomainError("invalid_dispute", f"Unknown field {key!r}.", str(key))


def _amount(value: Any, currency: str) -> Money | None:
    """{"amount": "4.99", "currency": "EUR"} in the invoice's currency, more than zero; None: not given."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"amount", "currency"}:
        raise DomainError(
            "invalid_amount", 'amount is money: {"amount": "4.99", "currency": "EUR"}.', "amount"
        )
    if value["currency"] != currency:
        raise DomainError("currency_mismatch", f"The invoice is in {currency}, not {value['currency']}.",
                          "amount.currency")  # fmt: skip
    amount = Money.parse(value["amount"], currency, field="amount.amount")
    if amount.amount <= 0 or not amount.is_rounded:
        raise DomainError("invalid_amount", f"amount is more than zero, in whole {currency} minor units.",
                          "amount.amount")  # fmt: skip
    return amount


def _line(invoice: Invoice, position: Any) -> InvoiceLine:
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise DomainError("invalid_line", "line is the position of an invoice line (1, 2, ...).", "line")
    line = next((ln for ln in invoice.lines if ln.position == position), None)
    if line is None:
        raise DomainError("no_such_line", f"Invoice {invoice.number} has no line {position}.", "line")
    if line.net.amount <= 0:
        raise DomainError("line_not_disputable", f"Line {position} charges nothing to dispute.", "line")
    return line


def _event(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, kind: EventType, before: Dispute | None,
           after: Dispute, now: datetime, **data: Any) -> None:  # fmt: skip
    audit.changed(ctx, uow, actor, kind, object_type="dispute", object_id=after.id,
                  before=None if before is None else before.to_json(), after=after.to_json(), at=now,
                  customer_id=after.customer_id, data={**after.to_json(), **data})  # fmt: skip


def open_dispute(ctx: ServiceContext, actor: Actor, invoice_id: str, fields: Mapping[str, Any]) -> Dispute:
    """Dispute a line of an open or paid invoice: {line, amount? (tax included; default all of the line
    not yet credited or disputed), reason, description?, opened_by}. Accepted at once when the tenant's
    policy calls it small (a credit note, dispute.resolved with auto true); otherwise queued
    (dispute.opened) and its amount is not collected while it is open."""
    _known(fields, _OPEN_FIELDS)
    reason = member(DisputeReason, fields.get("reason"), "reason", "invalid_reason")
    opened_by = member(OpenedBy, fields.get("opened_by"), "opened_by", "invalid_opened_by")
    description = text(fields.get("description"), "description", limit=MAX_DESCRIPTION, required=False)
    with ctx.uow() as uow:
        # the customer first: two disputes of one customer at once count its auto-accepted ones in turn,
        # so both cannot pass the anti-abuse cap (and the lock order matches finalization's)
        payer_id = uow.invoices.get(actor.tenant_id, invoice_id).customer_id
        customer = uow.customers.get(actor.tenant_id, payer_id, for_update=True)
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        if invoice.status not in DISPUTABLE:
            raise Conflict("invoice_not_disputable", f"A {invoice.status} invoice cannot be disputed: only "
                           "a finalized invoice that is open or paid.")  # fmt: skip
        line = _line(invoice, fields.get("line"))
        held = uow.disputes.open_amount(actor.tenant_id, invoice.id, invoice.currency, position=line.position)
        left = disputable(line, uow.credit_notes.of_invoice(actor.tenant_id, invoice.id), held)
        if left.amount <= 0:
            raise Conflict("nothing_to_dispute", f"Line {line.position} is all credited or disputed already.")
        amount = _amount(fields.get("amount"), invoice.currency) or left
        if amount > left:
            raise DomainError("dispute_exceeds_line", f"Line {line.position} has {left} left to dispute, not "
                              f"{amount}.", "amount.amount")  # fmt: skip
        tenant = uow.tenants.get(actor.tenant_id)
        now = now_for(ctx, uow, customer)
        standing = uow.disputes.standing(actor.tenant_id, customer.id, today=local_day(now, customer.time_zone),
                                         since=now - ABUSE_WINDOW)  # fmt: skip
        decision = decide(tenant.settings.dispute_policy, amount, line.total, standing)
        dispute = Dispute(
            tenant_id=actor.tenant_id, id=ctx.new_id("dsp"), customer_id=customer.id, invoice_id=invoice.id,
            line_position=line.position, amount=amount, reason=reason, description=description,
            status=DisputeStatus.OPEN, opened_by=opened_by, credited=Money.zero(invoice.currency), opened_at=now,
            created_at=now, updated_at=now,
        )  # fmt: skip
        uow.disputes.add(dispute)
        if decision.auto:
            system = system_actor(actor.tenant_id, "disputes")
            dispute = _accept(
                ctx, uow, system, tenant, invoice, dispute, amount, decision.why, now, auto=True
            )
        else:
            _event(ctx, uow, actor, EventType.DISPUTE_OPENED, None, dispute, now, decision=decision.why)
        uow.commit()
    return dispute


def _accept(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, tenant: Tenant, invoice: Invoice, dispute: Dispute,
            amount: Money, resolution: str, now: datetime, *, auto: bool) -> Dispute:  # fmt: skip
    """Credit `amount` (tax included) of the disputed line: against what the invoice still owes when it is
    open, the rest (a paid invoice: all of it) to the customer's credit balance."""
    line = _line(invoice, dispute.line_position)
    notes = uow.credit_notes.of_invoice(tenant.id, invoice.id)
    request = credit_request(line, amount, notes, tenant.settings.rounding_mode)
    note = invoicing.issue_credit_note(ctx, uow, tenant, invoice, [request], reason=CREDIT_REASONS[dispute.reason],
                                       target=None, memo=f"Dispute {dispute.id} on line {line.position}", now=now,
                                       automatic=False, actor=actor)  # fmt: skip
    after = replace(dispute, status=DisputeStatus.ACCEPTED, auto_resolved=auto, resolution=resolution,
                    credit_note_id=note.id, credited=note.total, resolved_at=now, updated_at=now)  # fmt: skip
    uow.disputes.update(after)
    _event(ctx, uow, actor, EventType.DISPUTE_RESOLVED, dispute, after, now, outcome="accepted", auto=auto,
           credit_note=note.to_json())  # fmt: skip
    return after


def get_dispute(ctx: ServiceContext, actor: Actor, dispute_id: str) -> Dispute:
    with ctx.uow(read_only=True) as uow:
        return uow.disputes.get(actor.tenant_id, dispute_id)


def list_disputes(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None,
                  status_filter: str | None = None, assignee_id: str | None = None,
                  customer_id: str | None = None) -> Page[Dispute]:  # fmt: skip
    """The queue: oldest first, optionally of one status, assignee or customer."""
    check_limit(limit)
    wanted = (
        None if status_filter is None else member(DisputeStatus, status_filter, "status", "invalid_status")
    )
    with ctx.uow(read_only=True) as uow:
        return uow.disputes.list(actor.tenant_id, limit=limit, cursor=cursor, status=wanted,
                                 assignee_id=assignee_id, customer_id=customer_id)  # fmt: skip


def invoice_disputes(ctx: ServiceContext, actor: Actor, invoice_id: str) -> list[Dispute]:
    with ctx.uow(read_only=True) as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id)
        return uow.disputes.of_invoice(actor.tenant_id, invoice.id)


def _load(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, dispute_id: str) -> tuple[Dispute, datetime]:
    dispute = uow.disputes.get(actor.tenant_id, dispute_id, for_update=True)
    if dispute.status is not DisputeStatus.OPEN:
        raise Conflict("dispute_resolved", f"Dispute {dispute.id} was {dispute.status} already.")
    return dispute, now_for(ctx, uow, uow.customers.get(actor.tenant_id, dispute.customer_id))


def update_dispute(ctx: ServiceContext, actor: Actor, dispute_id: str, changes: Mapping[str, Any]) -> Dispute:
    """Assign an open dispute {assignee_id (null: unassign)?, description?}: dispute.updated."""
    _known(changes, {"assignee_id", "description"})
    with ctx.uow() as uow:
        dispute, now = _load(ctx, uow, actor, dispute_id)
        after = dispute
        if "assignee_id" in changes:
            after = replace(
                after, assignee_id=users.assignee(uow, actor.tenant_id, changes["assignee_id"], "dispute")
            )
        if "description" in changes:
            note = text(changes["description"], "description", limit=MAX_DESCRIPTION, required=False)
            after = replace(after, description=note)
        if after != dispute:
            after = replace(after, updated_at=now)
            uow.disputes.update(after)
            _event(ctx, uow, actor, EventType.DISPUTE_UPDATED, dispute, after, now)
        uow.commit()
    return after


def accept_dispute(ctx: ServiceContext, actor: Actor, dispute_id: str, body: Mapping[str, Any]) -> Dispute:
    """An agent accepts {amount? (at most the disputed amount; default all of it), resolution}: a credit
    note on the line, dispute.resolved (outcome accepted), and what is still owed is collected again."""
    _known(body, {"amount", "resolution"})
    resolution = text(body.get("resolution"), "resolution", limit=MAX_RESOLUTION, required=True)
    assert resolution is not None
    with ctx.uow() as uow:
        dispute, now = _load(ctx, uow, actor, dispute_id)
        amount = _amount(body.get("amount"), dispute.amount.currency) or dispute.amount
        if amount > dispute.amount:
            raise DomainError("accept_exceeds_dispute", f"{amount} is more than the {dispute.amount} disputed.",
                              "amount.amount")  # fmt: skip
        invoice = uow.invoices.get(actor.tenant_id, dispute.invoice_id, for_update=True)
        tenant = uow.tenants.get(actor.tenant_id)
        after = _accept(ctx, uow, actor, tenant, invoice, dispute, amount, resolution, now, auto=False)
        _resume_collection(ctx, uow, after, now)
        uow.commit()
    return after


def reject_dispute(ctx: ServiceContext, actor: Actor, dispute_id: str, body: Mapping[str, Any]) -> Dispute:
    """An agent rejects {resolution}: dispute.resolved (outcome rejected), and the disputed amount is
    collected again."""
    _known(body, {"resolution"})
    resolution = text(body.get("resolution"), "resolution", limit=MAX_RESOLUTION, required=True)
    with ctx.uow() as uow:
        dispute, now = _load(ctx, uow, actor, dispute_id)
        after = replace(dispute, status=DisputeStatus.REJECTED, resolution=resolution, resolved_at=now,
                        updated_at=now)  # fmt: skip
        uow.disputes.update(after)
        _event(
            ctx, uow, actor, EventType.DISPUTE_RESOLVED, dispute, after, now, outcome="rejected", auto=False
        )
        _resume_collection(ctx, uow, after, now)
        uow.commit()
    return after


def _resume_collection(ctx: ServiceContext, uow: UnitOfWork, dispute: Dispute, now: datetime) -> None:
    """An open invoice that still owes more than its open disputes hold back, of a customer paying
    automatically, is charged again: on its due date, or at once when that has passed. The charge takes
    the next attempt number, so a collection job for the same attempt (the due date's own, a retry) and
    this one make one charge between them. Nothing while a charge is still pending."""
    invoice = uow.invoices.get(dispute.tenant_id, dispute.invoice_id)
    held = uow.disputes.open_amount(dispute.tenant_id, invoice.id, invoice.currency)
    if invoice.status is not InvoiceStatus.OPEN or (invoice.amount_remaining - held).amount <= 0:
        return
    method = uow.payment_methods.default(invoice.tenant_id, invoice.customer_id)
    tried = uow.payments.of_invoice(invoice.tenant_id, invoice.id)
    waiting = (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION)
    if method is None or not method.automatic or any(p.status in waiting for p in tried):
        return
    assert invoice.due_date is not None
    attempt = max((p.attempt for p in tried), default=0) + 1
    due = max(now, bill_instant(invoice.due_date, uow.customers.get(invoice.tenant_id, invoice.customer_id)))
    jobs.schedule(ctx, uow, invoice.tenant_id, payments.COLLECT_JOB, due,
                  dedupe_key=f"{invoice.id}:{attempt}:{dispute.id}", customer_id=invoice.customer_id,
                  payload={"invoice_id": invoice.id, "attempt": attempt})  # fmt: skip


# ---- the report ----------------------------------------------------------------------------------------

NOTES = (
    "Months are those the disputes were opened in, in the tenant's time zone; one row per month and currency.",
    "accepted, rejected and credited count what became of that month's disputes so far; open is the rest.",
    "auto_resolved_share is auto-resolved / opened in %; handling hours run from opening to resolution "
    "(0 for an auto-resolved dispute), over the resolved ones.",
)


def disputes_report(ctx: ServiceContext, actor: Actor, first: Any, last: Any) -> Report:
    months = span(ctx, actor, first, last)
    with ctx.uow(read_only=True) as uow:
        zone = uow.tenants.get(actor.tenant_id).settings.time_zone
        bounds = [start_of(m, zone) for m in months] + [start_of(next_month(months[-1]), zone)]
        counts = uow.disputes.month_counts(actor.tenant_id, bounds)
        hours = uow.disputes.handling_hours(actor.tenant_id, bounds)
    rows = report_rows([month_name(m) for m in months], counts, hours)
    return Report(name="disputes", columns=REPORT_COLUMNS, rows=tuple(rows), notes=NOTES)
