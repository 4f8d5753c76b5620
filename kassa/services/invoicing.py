"""Bill runs and the invoice lifecycle: compose (recompute and diff), finalize, void, write off.

A bill run is due work: each paying customer's bill date is a job (`billing.bill`, one per customer and
day), run by the worker or a test clock's advance, each in its own transaction. The invoice for a bill
date is unique per customer, so a re-run or a second worker composes the same draft again and finds
nothing new; jobs are claimed with SKIP LOCKED on PostgreSQL, so workers share a run without overlap.
A draft finalizes by itself after the tenant's grace period (composed once more first, so usage that
arrived in the grace is on it), takes a gapless number, applies the credit balance, posts its journal
entry, and is emailed by the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kassa.core import ledger
from kassa.core.audit import Actor, system_actor
from kassa.core.billing_schedule import next_bill_date, timeline
from kassa.core.credit_notes import (
    CreditNote,
    CreditReason,
    CreditRequest,
    CreditTarget,
    credit_note,
    discounts_reversed,
    taxes_reversed,
)
from kassa.core.credit_notes import revenue_by_product as credited_revenue
from kassa.core.customers import Customer
from kassa.core.discounts import Coupon, Redemption, after_invoice, is_active
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.invoicing import (
    Composition,
    Invoice,
    InvoiceStatus,
    Item,
    LineKind,
    Pricing,
    Reduction,
    compose_invoice,
    draft,
    finalize,
    mark_uncollectible,
    recomposed,
    reconcile,
    revenue_by_product,
    tax_by_jurisdiction,
    void,
)
from kassa.core.jobs import Job
from kassa.core.money import Money
from kassa.core.periods import local_day, start_of
from kassa.core.revenue import void_entry
from kassa.core.subscriptions import Subscription
from kassa.core.tax import TaxCategory
from kassa.core.tenants import Tenant
from kassa.services import audit, catalog, jobs, payments, revenue
from kassa.services.billing import (
    Scope,
    bill_instant,
    buyer_party,
    items_due,
    parties_snapshot,
    payer_of,
    plan_names,
    scope_of,
    seller_party,
    tax_table,
)
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.emails import EMAIL_JOB
from kassa.services.ledger import post
from kassa.store.credit_balances import CreditMovement
from kassa.store.one_off_charges import OneOffCharge
from kassa.store.uow import UnitOfWork

BILL_JOB = "billing.bill"
FINALIZE_JOB = "invoicing.finalize"
HORIZON = timedelta(days=800)


# ---- scheduling ----------------------------------------------------------------------------------------


def schedule_bill(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, tl_today: date) -> None:
    """Register the next bill date of `sub` (from `tl_today` on) with its paying customer's clock."""
    versions = catalog.versions(uow, sub.tenant_id)
    tl = timeline(sub, versions, max(tl_today, sub.start) + HORIZON)
    payer = payer_of(uow, uow.customers.get(sub.tenant_id, sub.customer_id))
    if sub.start <= tl_today:  # begun (or back-dated): bill what is due so far today, the run catches up
        _schedule_bill_day(ctx, uow, payer, tl_today)
    day = next_bill_date(tl, tl_today + timedelta(days=1))
    if day is not None:
        _schedule_bill_day(ctx, uow, payer, day)


def _schedule_bill_day(ctx: ServiceContext, uow: UnitOfWork, payer: Customer, day: date) -> None:
    jobs.schedule(ctx, uow, payer.tenant_id, BILL_JOB, bill_instant(day, payer), dedupe_key=f"{payer.id}:{day}",
                  customer_id=payer.id, payload={"customer_id": payer.id, "bill_date": day.isoformat()})  # fmt: skip


@jobs.handles(BILL_JOB)
def _bill_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    payer = uow.customers.get(job.tenant_id, job.payload["customer_id"], for_update=True)
    bill_date = date.fromisoformat(job.payload["bill_date"])
    versions = catalog.versions(uow, job.tenant_id)
    scope = scope_of(uow, payer, versions)
    bill(ctx, uow, uow.tenants.get(job.tenant_id), scope, bill_date, now)
    for day in _bill_dates(
        scope, bill_date + timedelta(days=1)
    ):  # the dedupe key: one job per customer and day
        _schedule_bill_day(ctx, uow, payer, day)


def _bill_dates(scope: Scope, on_or_after: date) -> set[date]:
    """Each subscription's next bill date from `on_or_after` on."""
    out = set()
    for sub in scope.subscriptions:
        tl = timeline(sub, scope.versions, max(on_or_after, sub.start) + HORIZON)
        day = next_bill_date(tl, on_or_after)
        if day is not None:
            out.add(day)
    return out


# ---- composing -----------------------------------------------------------------------------------------


def _pricing(tenant: Tenant, payer: Customer, tax_point: date) -> Pricing:
    s = tenant.settings
    seller = seller_party(s)
    return Pricing(currency=payer.currency, rounding=s.rounding_mode, tax_rounding=s.tax_rounding,
                   tax_inclusive=s.tax_inclusive, seller=seller, buyer=buyer_party(payer, seller), table=tax_table(),
                   tax_point=tax_point, payer_id=payer.id)  # fmt: skip


def _redemptions(uow: UnitOfWork, scope: Scope) -> list[tuple[Redemption, Coupon]]:
    found: list[Redemption] = []
    for account in scope.accounts:
        found.extend(uow.coupons.redemptions(scope.payer.tenant_id, account.id, active_only=True))
    coupons = uow.coupons.many(scope.payer.tenant_id, [r.coupon_id for r in found])
    pairs = [(r, coupons[r.coupon_id]) for r in found if is_active(r, coupons[r.coupon_id])]
    return sorted(pairs, key=lambda p: (p[0].created_at, p[0].id))


def _compose(
    uow: UnitOfWork,
    tenant: Tenant,
    scope: Scope,
    items: Sequence[Item],
    tax_point: date,
    *,
    with_balance: bool,
) -> Composition:
    balance = (uow.credit_balances.balance(tenant.id, scope.payer.id, scope.payer.currency)
               if with_balance else None)  # fmt: skip
    return compose_invoice(items, _pricing(tenant, scope.payer, tax_point), redemptions=_redemptions(uow, scope),
                           credit_balance=balance)  # fmt: skip


def _delta(
    uow: UnitOfWork, tenant: Tenant, scope: Scope, bill_date: date, cutoff: datetime, existing: Invoice | None
) -> tuple[list[Item], list[Reduction]]:
    should = items_due(uow, scope, tenant.settings, bill_date, cutoff)
    billed = uow.invoices.billed(tenant.id, scope.payer.id, excluding=existing.id if existing else None)
    items, reductions = reconcile(should, billed)
    manual = [line.item for line in existing.lines if line.item.kind is LineKind.MANUAL] if existing else []
    return manual + items, reductions


def bill(ctx: ServiceContext, uow: UnitOfWork, tenant: Tenant, scope: Scope, bill_date: date,
         now: datetime) -> Invoice | None:  # fmt: skip
    """Compose the paying customer's invoice for `bill_date` (a draft), and credit notes for what finalized
    invoices charged too much. Nothing new: no invoice."""
    payer = scope.payer
    existing = uow.invoices.for_bill_date(tenant.id, payer.id, bill_date)
    if existing is not None and existing.finalized:
        return existing  # what changed since goes on the next one
    items, reductions = _delta(uow, tenant, scope, bill_date, now, existing)
    _correct(ctx, uow, tenant, reductions, now)
    if not items:
        if existing is not None:
            uow.invoices.delete_draft(tenant.id, existing.id)
        return None
    composition = _compose(uow, tenant, scope, items, bill_date, with_balance=False)
    actor = system_actor(tenant.id, "billing")
    if existing is not None:
        invoice = recomposed(existing, composition)
        if invoice == existing:
            return existing  # composed again to the same lines: nothing to write or announce
        uow.invoices.save(invoice, replace_lines=True)
        _changed(ctx, uow, actor, EventType.INVOICE_UPDATED, existing, invoice, now)
        return invoice
    finalize_at = max(now, bill_instant(bill_date, payer)) + timedelta(
        hours=tenant.settings.draft_grace_period_hours
    )
    invoice = draft(tenant_id=tenant.id, invoice_id=ctx.new_id("inv"), customer_id=payer.id, currency=payer.currency,
                    bill_date=bill_date, composition=composition, tax_inclusive=tenant.settings.tax_inclusive,
                    created_at=now, finalize_at=finalize_at)  # fmt: skip
    uow.invoices.add(invoice)
    _changed(ctx, uow, actor, EventType.INVOICE_CREATED, None, invoice, now)
    _schedule_finalize(ctx, uow, invoice)
    return invoice


def _schedule_finalize(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice) -> None:
    assert invoice.finalize_at is not None
    jobs.schedule(ctx, uow, invoice.tenant_id, FINALIZE_JOB, invoice.finalize_at, dedupe_key=invoice.id,
                  customer_id=invoice.customer_id, payload={"invoice_id": invoice.id})  # fmt: skip


def _changed(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, event: EventType, before: Invoice | None,
             after: Invoice, now: datetime) -> None:  # fmt: skip
    audit.changed(ctx, uow, actor, event, object_type="invoice", object_id=after.id,
                  before=before.to_json() if before else None, after=after.to_json(), at=now,
                  customer_id=after.customer_id)  # fmt: skip


# ---- corrections: credit notes the bill run writes ------------------------------------------------------


def _correct(ctx: ServiceContext, uow: UnitOfWork, tenant: Tenant, reductions: Sequence[Reduction],
             now: datetime) -> None:  # fmt: skip
    by_invoice: dict[str, list[Reduction]] = {}
    for r in reductions:
        by_invoice.setdefault(r.invoice_id, []).append(r)
    for invoice_id, parts in by_invoice.items():
        invoice = uow.invoices.get(tenant.id, invoice_id, for_update=True)
        if invoice.status is InvoiceStatus.UNCOLLECTIBLE:
            continue  # written off: what it still owed, the reduction included, is bad debt already
        lines = {line.position: line for line in invoice.lines}
        requests = []
        for r in parts:
            line = lines[r.position]
            gross = -r.item.amount  # before discounts: the line's share after them is what is credited
            net = (
                gross
                if not line.discount.amount
                else Money.rounded(
                    gross.amount * line.net.amount / line.item.amount.amount,
                    gross.currency,
                    tenant.settings.rounding_mode,
                )
            )
            requests.append(CreditRequest(position=r.position, amount=net, key=r.item.key))
        issue_credit_note(ctx, uow, tenant, invoice, requests, reason=CreditReason.BILLING_CORRECTION, target=None,
                          memo="Correction by the bill run", now=now, automatic=True,
                          actor=system_actor(tenant.id, "billing"))  # fmt: skip


def issue_credit_note(
    ctx: ServiceContext, uow: UnitOfWork, tenant: Tenant, invoice: Invoice, requests: Sequence[CreditRequest], *,
    reason: CreditReason, target: CreditTarget | None, memo: str | None, now: datetime, automatic: bool, actor: Actor,
) -> CreditNote:  # fmt: skip
    earlier = uow.credit_notes.of_invoice(tenant.id, invoice.id)
    day = local_day(now, tenant.settings.time_zone)
    number = _number(uow, tenant, "credit_note", day)
    note = credit_note(invoice, requests, earlier=earlier, credit_note_id=ctx.new_id("cn"), number=number,
                       reason=reason, target=target, memo=memo, at=now, rounding=tenant.settings.rounding_mode,
                       automatic=automatic)  # fmt: skip
    uow.credit_notes.add(note)
    if note.to_invoice.amount:
        credited = (invoice.amount_credited or Money.zero(invoice.currency)) + note.to_invoice
        after = replace(invoice, amount_credited=credited)
        if after.amount_remaining.amount <= 0 and after.status is InvoiceStatus.OPEN:
            after = replace(after, status=InvoiceStatus.PAID, paid_at=now)
        uow.invoices.save(after)
        if after.status is InvoiceStatus.PAID:
            audit.changed(ctx, uow, actor, EventType.INVOICE_PAID, object_type="invoice", object_id=after.id,
                          before=invoice.to_json(), after=after.to_json(), at=now,
                          customer_id=after.customer_id)  # fmt: skip
    if note.to_credit_balance.amount:
        uow.credit_balances.add(CreditMovement(
            tenant_id=tenant.id, id=ctx.new_id("cbt"), customer_id=invoice.customer_id, amount=note.to_credit_balance,
            source_type="credit_note", source_id=note.id, description=f"Credit note {note.number}", created_at=now))  # fmt: skip
    chart = uow.ledger.chart(tenant.id)
    reversed_ = revenue.on_credit_note(ctx, uow, invoice, note, day, now)
    post(uow, lambda: ledger.credit_note_entry(
        chart, tenant_id=tenant.id, id=ctx.new_id("je"), posted_at=now, credit_note_id=note.id, number=note.number,
        currency=note.currency, revenue=_negated(reversed_.revenue) if reversed_ else credited_revenue(note),
        discounts=-reversed_.discounts if reversed_ else discounts_reversed(note), taxes=taxes_reversed(note),
        to_receivable=note.to_invoice, to_credit_balance=note.to_credit_balance,
        deferred=-reversed_.deferred if reversed_ else None))  # fmt: skip
    audit.changed(ctx, uow, actor, EventType.CREDIT_NOTE_CREATED, object_type="credit_note", object_id=note.id,
                  before=None, after=note.to_json(), at=now, customer_id=note.customer_id)  # fmt: skip
    return note


def _negated(amounts: Mapping[str, Money]) -> dict[str, Money]:
    return {k: -v for k, v in amounts.items()}


# ---- numbering -----------------------------------------------------------------------------------------


def _number(uow: UnitOfWork, tenant: Tenant, kind: str, day: date) -> str:
    numbering = tenant.settings.invoice_numbering
    text = numbering.format(0, day.year, day.month)
    series_prefix = text[: len(text) - numbering.digits]
    if kind == "credit_note":
        series_prefix = "CN-" + series_prefix.removeprefix(numbering.prefix)
    seq = uow.invoices.next_number(tenant.id, f"{kind}:{series_prefix}")
    return f"{series_prefix}{seq:0{numbering.digits}d}"


# ---- finalizing ----------------------------------------------------------------------------------------


@jobs.handles(FINALIZE_JOB)
def _finalize_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    invoice = uow.invoices.get(job.tenant_id, job.payload["invoice_id"], for_update=True)
    if invoice.status is InvoiceStatus.DRAFT:
        finalize_in(
            ctx, uow, uow.tenants.get(job.tenant_id), invoice, now, system_actor(job.tenant_id, "billing")
        )


def finalize_in(ctx: ServiceContext, uow: UnitOfWork, tenant: Tenant, invoice: Invoice, now: datetime,
                actor: Actor) -> Invoice | None:  # fmt: skip
    """Compose the draft a last time (late usage within the grace, the credit balance now), number it,
    post it, and send it."""
    payer = uow.customers.get(tenant.id, invoice.customer_id, for_update=True)
    scope = scope_of(uow, payer, catalog.versions(uow, tenant.id))
    day = local_day(now, payer.time_zone)
    if invoice.bill_date is not None:
        items, reductions = _delta(uow, tenant, scope, invoice.bill_date, now, invoice)
        _correct(ctx, uow, tenant, reductions, now)
    else:
        items = [line.item for line in invoice.lines]
    composition = _compose(uow, tenant, scope, items, day, with_balance=True)
    if invoice.bill_date is not None and not composition.lines:
        # everything on it was undone before it finalized (a trial ended without a way to pay, a change
        # withdrawn): there is nothing to invoice, and an empty invoice would only use up a number
        uow.invoices.delete_draft(tenant.id, invoice.id)
        audit.record(ctx, uow, actor, "invoice.deleted", object_type="invoice", object_id=invoice.id,
                     before=invoice.to_json(), after=None, at=now)  # fmt: skip
        return None
    composed = recomposed(invoice, composition)
    number = _number(uow, tenant, "invoice", day)
    final = finalize(composed, number=number, at=now, finalized_on=day, payment_terms_days=payer.payment_terms_days,
                     parties=parties_snapshot(tenant.settings, tenant.name, payer, scope.accounts, plan_names(scope)))  # fmt: skip
    uow.invoices.save(final, replace_lines=final.lines != invoice.lines)  # most drafts compose the same lines
    _settle_credit(ctx, uow, final, now)
    _count_redemptions(uow, scope, composition, now)
    chart = uow.ledger.chart(tenant.id)
    all_taxes = [t for line in final.lines for t in line.taxes]
    recognized = revenue.on_invoice(ctx, uow, final, plan_names(scope), day, now)
    # booked on the invoice's own date, the day its revenue schedule starts from
    post(uow, lambda: replace(ledger.invoice_entry(
        chart, tenant_id=tenant.id, id=ctx.new_id("je"), posted_at=now, invoice_id=final.id, number=number,
        currency=final.currency, revenue=recognized.revenue if recognized else revenue_by_product(final.lines),
        discounts=recognized.discounts if recognized else final.discount, taxes=tax_by_jurisdiction(all_taxes),
        credit_applied=final.credit_applied - final.credit_granted, amount_due=final.amount_due,
        deferred=recognized.deferred if recognized else None,
        unbilled=recognized.unbilled if recognized else None), booked_on=day))  # fmt: skip
    _changed(ctx, uow, actor, EventType.INVOICE_FINALIZED, invoice, final, now)
    if final.status is InvoiceStatus.PAID:
        _changed(ctx, uow, actor, EventType.INVOICE_PAID, final, final, now)
    jobs.schedule(ctx, uow, tenant.id, EMAIL_JOB, now, dedupe_key=final.id, customer_id=final.customer_id,
                  payload={"invoice_id": final.id})  # fmt: skip
    payments.schedule_collection(ctx, uow, final, now)
    return final


def _settle_credit(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    for amount, text in ((-invoice.credit_applied, "Applied to"), (invoice.credit_granted, "Owed back on")):
        if amount.amount:
            uow.credit_balances.add(CreditMovement(
                tenant_id=invoice.tenant_id, id=ctx.new_id("cbt"), customer_id=invoice.customer_id, amount=amount,
                source_type="invoice", source_id=invoice.id, description=f"{text} invoice {invoice.number}",
                created_at=now))  # fmt: skip


def _count_redemptions(uow: UnitOfWork, scope: Scope, composition: Composition, now: datetime) -> None:
    used = set(composition.redemptions_used)
    for redemption, coupon in _redemptions(uow, scope):
        after = after_invoice(redemption, coupon, redemption.id in used, now)
        if after != redemption:
            uow.coupons.save_redemption(after)


# ---- use cases -----------------------------------------------------------------------------------------


def _now(ctx: ServiceContext, uow: UnitOfWork, customer_id: str, tenant_id: str) -> datetime:
    return now_for(ctx, uow, uow.customers.get(tenant_id, customer_id))


def finalize_invoice(ctx: ServiceContext, actor: Actor, invoice_id: str) -> Invoice:
    with ctx.uow() as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        if invoice.status is not InvoiceStatus.DRAFT:
            raise DomainError("invoice_finalized", f"Invoice {invoice.number} is already finalized.")
        now = _now(ctx, uow, invoice.customer_id, actor.tenant_id)
        final = finalize_in(ctx, uow, uow.tenants.get(actor.tenant_id), invoice, now, actor)
        if final is None:
            uow.commit()
            raise Conflict("invoice_empty", "Nothing is left to bill on this draft: it was deleted.")
        uow.commit()
    return final


def void_invoice(ctx: ServiceContext, actor: Actor, invoice_id: str) -> Invoice:
    with ctx.uow() as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        now = _now(ctx, uow, invoice.customer_id, actor.tenant_id)
        voided = void(invoice, now)
        if uow.credit_notes.of_invoice(actor.tenant_id, invoice.id):
            raise DomainError(
                "invoice_credited", "An invoice with credit notes cannot be voided: credit the rest."
            )
        uow.invoices.save(voided)
        day = local_day(now, uow.customers.get(invoice.tenant_id, invoice.customer_id).time_zone)
        taken_back = revenue.on_void(ctx, uow, invoice, day, now)
        for entry in uow.ledger.entries_for(actor.tenant_id, "invoice", invoice.id):
            if taken_back is None:  # finalized before revenue recognition: its entry is simply reversed
                post(
                    uow,
                    ledger.void_entry(entry, id=ctx.new_id("je"), posted_at=now, number=invoice.number or ""),
                )
            else:
                post(uow, replace(void_entry(uow.ledger.chart(actor.tenant_id), invoice, taken_back, entry,
                                             id=ctx.new_id("je"), posted_at=now), booked_on=day))  # fmt: skip
        net = invoice.credit_applied - invoice.credit_granted  # the balance it used comes back (or goes)
        if net.amount:
            uow.credit_balances.add(CreditMovement(
                tenant_id=actor.tenant_id, id=ctx.new_id("cbt"), customer_id=invoice.customer_id, amount=net,
                source_type="invoice", source_id=invoice.id, description=f"Void of invoice {invoice.number}",
                created_at=now))  # fmt: skip
        audit.changed(ctx, uow, actor, EventType.INVOICE_VOIDED, object_type="invoice", object_id=invoice.id,
                      before=invoice.to_json(), after=voided.to_json(), at=now, customer_id=invoice.customer_id)  # fmt: skip
        uow.commit()
    return voided


def mark_invoice_uncollectible(ctx: ServiceContext, actor: Actor, invoice_id: str) -> Invoice:
    with ctx.uow() as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        now = _now(ctx, uow, invoice.customer_id, actor.tenant_id)
        written_off = write_off(ctx, uow, actor, invoice, now)
        uow.commit()
    return written_off


def write_off(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, invoice: Invoice, now: datetime) -> Invoice:
    """Uncollectible: what is still owed becomes bad debt in the ledger (paid after all, it comes back)."""
    written_off = mark_uncollectible(invoice)
    uow.invoices.save(written_off)
    if invoice.amount_remaining.amount > 0:
        day = local_day(now, uow.customers.get(invoice.tenant_id, invoice.customer_id).time_zone)
        released = revenue.on_write_off(ctx, uow, invoice, invoice.amount_remaining, day, now)
        post(uow, lambda: replace(ledger.uncollectible_entry(
            uow.ledger.chart(actor.tenant_id), tenant_id=actor.tenant_id, id=ctx.new_id("je"), posted_at=now,
            invoice_id=invoice.id, number=invoice.number or "", currency=invoice.currency,
            amount=invoice.amount_remaining, deferred=released), booked_on=day))  # fmt: skip
    audit.changed(ctx, uow, actor, EventType.INVOICE_MARKED_UNCOLLECTIBLE, object_type="invoice",
                  object_id=invoice.id, before=invoice.to_json(), after=written_off.to_json(), at=now,
                  customer_id=invoice.customer_id)  # fmt: skip
    return written_off


def get_invoice(ctx: ServiceContext, actor: Actor, invoice_id: str) -> Invoice:
    with ctx.uow(read_only=True) as uow:
        if invoice_id.startswith("inv_"):
            return uow.invoices.get(actor.tenant_id, invoice_id)
        return uow.invoices.by_number(actor.tenant_id, invoice_id)


def with_parties(ctx: ServiceContext, invoice: Invoice) -> Invoice:
    """A draft shows the parties as they are now; a finalized invoice as they were."""
    if invoice.parties:
        return invoice
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(invoice.tenant_id)
        payer = uow.customers.get(invoice.tenant_id, invoice.customer_id)
        scope = scope_of(uow, payer, catalog.versions(uow, tenant.id))
        return replace(invoice, parties=parties_snapshot(tenant.settings, tenant.name, payer, scope.accounts,
                                                         plan_names(scope)))  # fmt: skip


def list_invoices(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None,
                  customer_id: str | None = None, status: str | None = None) -> Any:  # fmt: skip
    if status is not None and status not in {s.value for s in InvoiceStatus}:
        raise DomainError(
            "invalid_status", f"status is one of {', '.join(s.value for s in InvoiceStatus)}.", "status"
        )
    with ctx.uow(read_only=True) as uow:
        return uow.invoices.list(
            actor.tenant_id, limit=limit, cursor=cursor, customer_id=customer_id, status=status
        )


def upcoming_invoice(ctx: ServiceContext, actor: Actor, customer_id: str) -> Invoice | None:
    """What the customer's next bill date would invoice if nothing changed before it; nothing is written."""
    with ctx.uow(read_only=True) as uow:
        return upcoming_in(ctx, uow, actor.tenant_id, customer_id)


def upcoming_in(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str) -> Invoice | None:
    """upcoming_invoice inside the caller's unit of work: a job sees its own test clock instant and writes."""
    tenant = uow.tenants.get(tenant_id)
    payer = payer_of(uow, uow.customers.get(tenant_id, customer_id))
    now = now_for(ctx, uow, payer)
    today = local_day(now, payer.time_zone)
    versions = catalog.versions(uow, tenant.id)
    scope = scope_of(uow, payer, versions)
    days = _bill_dates(scope, today)
    drafts = [i for i in uow.invoices.of_customer(tenant.id, payer.id) if i.status is InvoiceStatus.DRAFT]
    if not days and not drafts:
        return None
    # today's bill date may be invoiced already: then the one after it is the upcoming one
    candidates = sorted(days | _bill_dates(scope, today + timedelta(days=1)))
    items: list[Item] = []
    bill_date = today
    for bill_date in candidates[:2] or [today]:
        existing = next((i for i in drafts if i.bill_date == bill_date), None)
        cutoff = max(now, start_of(bill_date, payer.time_zone))
        items, _ = _delta(uow, tenant, scope, bill_date, cutoff, existing)
        if items:
            break
    if not items:
        return None
    composition = _compose(uow, tenant, scope, items, bill_date, with_balance=True)
    return draft(tenant_id=tenant.id, invoice_id="upcoming", customer_id=payer.id, currency=payer.currency,
                 bill_date=bill_date, composition=composition, tax_inclusive=tenant.settings.tax_inclusive,
                 created_at=now, finalize_at=None)  # fmt: skip


# ---- invoices and charges by hand ----------------------------------------------------------------------


def manual_item(customer_id: str, index: int, body: Mapping[str, Any], currency: str, rounding: Any,
                prefix: str) -> Item:  # fmt: skip
    path = f"lines.{index}"
    description = body.get("description")
    if not isinstance(description, str) or not description.strip() or len(description) > 500:
        raise DomainError(
            "invalid_description", "A line has a description (1 to 500 characters).", f"{path}.description"
        )
    quantity = _decimal(body.get("quantity", "1"), f"{path}.quantity")
    unit_price = _decimal(body.get("unit_price"), f"{path}.unit_price", negative=True)
    if quantity <= 0:
        raise DomainError("invalid_quantity", "quantity is positive.", f"{path}.quantity")
    try:
        category = TaxCategory(body.get("tax_category", "standard"))
    except ValueError:
        raise DomainError("invalid_tax_category", "Unknown tax_category.", f"{path}.tax_category") from None
    product = body.get("product", "one_off")
    if not isinstance(product, str) or not 1 <= len(product) <= 64:
        raise DomainError("invalid_product", "product is a code of 1 to 64 characters.", f"{path}.product")
    amount = Money.rounded(quantity * unit_price, currency, rounding)
    return Item(key=f"{prefix}|{index}", kind=LineKind.MANUAL, account_id=customer_id, product=product,
                description=description.strip(), quantity=quantity, unit_price=unit_price, amount=amount,
                tax_category=category)  # fmt: skip


def _decimal(value: Any, path: str, *, negative: bool = False) -> Decimal:
    if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, str | int):
        raise DomainError("invalid_number", "Give a decimal number as a string.", path)
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise DomainError("invalid_number", f"{value!r} is not a number.", path) from None
    if not number.is_finite() or (not negative and number < 0) or abs(number.as_tuple().exponent) > 12:  # type: ignore[arg-type]
        raise DomainError("invalid_number", f"{value!r} is out of range.", path)
    return number


def create_invoice(ctx: ServiceContext, actor: Actor, body: Mapping[str, Any]) -> Invoice:
    """A one-off invoice by hand (professional services, hardware): a draft until finalized."""
    customer_id = body.get("customer_id")
    lines = body.get("lines")
    if not isinstance(lines, list) or not 1 <= len(lines) <= 500:
        raise DomainError("invalid_lines", "lines is a list of 1 to 500 lines.", "lines")
    with ctx.uow() as uow:
        if not isinstance(customer_id, str):
            raise DomainError("invalid_customer", "customer_id is required.", "customer_id")
        payer = uow.customers.get(actor.tenant_id, customer_id)
        tenant = uow.tenants.get(actor.tenant_id)
        now = now_for(ctx, uow, payer)
        invoice_id = ctx.new_id("inv")
        items = [manual_item(payer.id, i, line, payer.currency, tenant.settings.rounding_mode, invoice_id)
                 for i, line in enumerate(lines)]  # fmt: skip
        scope = scope_of(uow, payer, [])
        composition = _compose(uow, tenant, scope, items, local_day(now, payer.time_zone), with_balance=False)
        memo = body.get("memo")
        invoice = draft(tenant_id=tenant.id, invoice_id=invoice_id, customer_id=payer.id, currency=payer.currency,
                        bill_date=None, composition=composition, tax_inclusive=tenant.settings.tax_inclusive,
                        created_at=now, memo=memo if isinstance(memo, str) else None,
                        finalize_at=now + timedelta(hours=tenant.settings.draft_grace_period_hours))  # fmt: skip
        uow.invoices.add(invoice)
        _changed(ctx, uow, actor, EventType.INVOICE_CREATED, None, invoice, now)
        _schedule_finalize(ctx, uow, invoice)
        uow.commit()
    return invoice


def add_invoice_line(ctx: ServiceContext, actor: Actor, invoice_id: str, body: Mapping[str, Any]) -> Invoice:
    """Write a line on a draft by hand; it stays through every recompose until finalization."""
    with ctx.uow() as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        if invoice.status is not InvoiceStatus.DRAFT:
            raise DomainError(
                "invoice_finalized", f"Invoice {invoice.number} is finalized and never changes."
            )
        tenant = uow.tenants.get(actor.tenant_id)
        payer = uow.customers.get(actor.tenant_id, invoice.customer_id)
        now = now_for(ctx, uow, payer)
        items = [line.item for line in invoice.lines]
        taken = {i.key for i in items}
        n = len(items)
        while f"{invoice.id}|{n}" in taken:
            n += 1
        items.append(
            manual_item(payer.id, n, body, payer.currency, tenant.settings.rounding_mode, invoice.id)
        )
        scope = scope_of(uow, payer, catalog.versions(uow, tenant.id))
        composed = recomposed(invoice, _compose(uow, tenant, scope, items, invoice.bill_date or local_day(now, payer.time_zone),
                                                with_balance=False))  # fmt: skip
        uow.invoices.save(composed, replace_lines=True)
        _changed(ctx, uow, actor, EventType.INVOICE_UPDATED, invoice, composed, now)
        uow.commit()
    return composed


def bill_now(ctx: ServiceContext, actor: Actor, customer_id: str) -> Invoice | None:
    """Bill a customer today, outside its schedule (one-off charges that should not wait)."""
    with ctx.uow() as uow:
        payer = payer_of(uow, uow.customers.get(actor.tenant_id, customer_id))
        payer = uow.customers.get(actor.tenant_id, payer.id, for_update=True)
        now = now_for(ctx, uow, payer)
        scope = scope_of(uow, payer, catalog.versions(uow, actor.tenant_id))
        invoice = bill(
            ctx, uow, uow.tenants.get(actor.tenant_id), scope, local_day(now, payer.time_zone), now
        )
        uow.commit()
    return invoice


def credit_invoice(ctx: ServiceContext, actor: Actor, invoice_id: str, body: Mapping[str, Any]) -> CreditNote:
    with ctx.uow() as uow:
        invoice = uow.invoices.get(actor.tenant_id, invoice_id, for_update=True)
        tenant = uow.tenants.get(actor.tenant_id)
        now = _now(ctx, uow, invoice.customer_id, actor.tenant_id)
        requests = _credit_requests(invoice, body.get("lines"))
        try:
            reason = CreditReason(body.get("reason", "other"))
        except ValueError:
            raise DomainError("invalid_reason", "Unknown reason.", "reason") from None
        if reason in (CreditReason.BILLING_CORRECTION, CreditReason.EARLY_PAYMENT_DISCOUNT):
            raise DomainError("invalid_reason", f"{reason} is kassa's own reason.", "reason")
        target_text = body.get("target")
        try:
            target = CreditTarget(target_text) if target_text is not None else None
        except ValueError:
            raise DomainError("invalid_target", "target is invoice or credit_balance.", "target") from None
        refund = body.get("refund", False)
        if not isinstance(refund, bool):
            raise DomainError("invalid_refund", "refund is true or false.", "refund")
        if refund and target is CreditTarget.INVOICE:
            raise DomainError("invalid_target", "A refund is paid from the credit balance: target credit_balance.",
                              "target")  # fmt: skip
        memo = body.get("memo")
        note = issue_credit_note(ctx, uow, tenant, invoice, requests, reason=reason,
                                 target=CreditTarget.CREDIT_BALANCE if refund else target,
                                 memo=memo if isinstance(memo, str) else None, now=now, automatic=False, actor=actor)  # fmt: skip
        if refund:
            payments.refund_credit_note(ctx, uow, actor, invoice, note, now)
        uow.commit()
    return note


def _credit_requests(invoice: Invoice, lines: Any) -> list[CreditRequest]:
    if lines is None:  # the whole invoice
        return [CreditRequest(position=line.position) for line in invoice.lines if line.net.amount > 0]
    if not isinstance(lines, list) or not lines:
        raise DomainError(
            "invalid_lines", "lines is a non-empty list, or absent to credit everything.", "lines"
        )
    out = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or not isinstance(line.get("position"), int):
            raise DomainError(
                "invalid_line", "Each line names an invoice line position.", f"lines.{i}.position"
            )
        amount = line.get("net")
        quantity = line.get("quantity")
        out.append(CreditRequest(
            position=line["position"],
            amount=Money.parse(amount, invoice.currency, field=f"lines.{i}.net") if amount is not None else None,
            quantity=_decimal(quantity, f"lines.{i}.quantity") if quantity is not None else None,
        ))  # fmt: skip
    return out


def list_credit_notes(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None,
                      customer_id: str | None = None, invoice_id: str | None = None) -> Any:  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        return uow.credit_notes.list(actor.tenant_id, limit=limit, cursor=cursor, customer_id=customer_id,
                                     invoice_id=invoice_id)  # fmt: skip


def get_credit_note(ctx: ServiceContext, actor: Actor, credit_note_id: str) -> CreditNote:
    with ctx.uow(read_only=True) as uow:
        return uow.credit_notes.get(actor.tenant_id, credit_note_id)


def create_one_off_charge(ctx: ServiceContext, actor: Actor, customer_id: str, body: Mapping[str, Any], *,
                          bill_now: bool = False) -> tuple[OneOffCharge, Invoice | None]:  # fmt: skip
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        tenant = uow.tenants.get(actor.tenant_id)
        now = now_for(ctx, uow, customer)
        charge_id = ctx.new_id("chg")
        item = manual_item(customer.id, 0, body, customer.currency, tenant.settings.rounding_mode, charge_id)
        charge = OneOffCharge(tenant_id=actor.tenant_id, id=charge_id, customer_id=customer.id,
                              description=item.description, product=item.product, quantity=item.quantity,
                              unit_price=item.unit_price or Decimal(0), amount=item.amount,
                              tax_category=item.tax_category.value, created_at=now)  # fmt: skip
        uow.one_off_charges.add(charge)
        audit.changed(ctx, uow, actor, EventType.ONE_OFF_CHARGE_CREATED, object_type="one_off_charge",
                      object_id=charge.id, before=None, after=charge.to_json(), at=now, customer_id=customer.id)  # fmt: skip
        invoice = None
        payer = uow.customers.get(actor.tenant_id, payer_of(uow, customer).id, for_update=True)
        if bill_now:
            # a moment later than the charge, so the cutoff includes it
            scope = scope_of(uow, payer, catalog.versions(uow, actor.tenant_id))
            invoice = bill(
                ctx, uow, tenant, scope, local_day(now, payer.time_zone), now + timedelta(microseconds=1)
            )
        else:
            _schedule_next_bill(ctx, uow, payer, local_day(now, payer.time_zone))
        uow.commit()
    return charge, invoice


def _schedule_next_bill(ctx: ServiceContext, uow: UnitOfWork, payer: Customer, today: date) -> None:
    """A one-off charge waits for the next bill date; a customer without subscriptions gets one tomorrow."""
    days = _bill_dates(
        scope_of(uow, payer, catalog.versions(uow, payer.tenant_id)), today + timedelta(days=1)
    )
    _schedule_bill_day(ctx, uow, payer, min(days) if days else today + timedelta(days=1))
