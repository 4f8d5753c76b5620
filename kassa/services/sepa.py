"""SEPA direct debit without a gateway: pending debits go out as a pain.008 file the tenant uploads to its
bank; the bank's credit for the batch, found on a statement, settles them; rejects and returns come back
as files (pain.002, camt.054) and fail or reverse the payments they name.

A debit is a `Payment` (gateway "sepa", its id the end-to-end id) pending from the charge until the
statement shows the batch; its `reference` holds the batch's message id once exported, so a debit goes
into one file only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from kassa.adapters.payments.base import GatewayCharge, GatewayEvent, GatewayEventType
from kassa.adapters.sepa.base import Creditor, DirectDebit
from kassa.core import ledger
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.ledger import Role, SourceType
from kassa.core.money import Money
from kassa.core.payments import Payment, PaymentStatus
from kassa.core.periods import local_day
from kassa.core.reconciliation import ExpectedCredit, ExpectedKind
from kassa.services import audit, payments
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.ledger import post
from kassa.store.uow import UnitOfWork

GATEWAY = "sepa"
BATCH_PREFIX = "sepa:"  # an expected credit's id: "sepa:<message id>"


def _pending(uow: UnitOfWork, tenant_id: str) -> list[Payment]:
    return [p for p in uow.payments.by_gateway(tenant_id, GATEWAY) if p.status is PaymentStatus.PENDING]


def export_batch(ctx: ServiceContext, actor: Actor, body: dict[str, Any]) -> tuple[str, bytes, int]:
    """The pain.008 file of every pending debit not yet exported, to be collected on `collection_date`
    (default: two business days from today); (message id, file, number of debits)."""
    if ctx.sepa is None:
        raise DomainError("sepa_unavailable", "No SEPA file adapter is configured.")
    with ctx.uow() as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        s = tenant.settings
        if s.bank is None or not s.sepa_creditor_id:
            raise DomainError("sepa_not_configured", "Set the tenant's bank (IBAN) and sepa_creditor_id first.",
                              "sepa_creditor_id")  # fmt: skip
        debits = [p for p in _pending(uow, actor.tenant_id) if p.reference is None]
        # the file is made at the debits' own present: a test clock's, when they all run on one
        nows = {
            now_for(ctx, uow, uow.customers.get(actor.tenant_id, c)) for c in {p.customer_id for p in debits}
        }
        now = nows.pop() if len(nows) == 1 else ctx.clock.now()
        today = local_day(now, s.time_zone)
        collection = body.get("collection_date")
        try:
            on = date.fromisoformat(collection) if isinstance(collection, str) else _business_days(today, 2)
        except ValueError:
            raise DomainError(
                "invalid_date", "collection_date is a date (YYYY-MM-DD).", "collection_date"
            ) from None
        if not debits:
            raise DomainError("nothing_to_collect", "No pending direct debit waits for a file.")
        message_id = ctx.new_id("sdd")[:30]
        first_of_mandate = uow.payments.mandates_used(actor.tenant_id)
        out = []
        for p in debits:
            method = uow.payment_methods.get(actor.tenant_id, p.payment_method_id or "")
            invoice = uow.invoices.get(actor.tenant_id, p.invoice_id) if p.invoice_id else None
            assert method.iban and method.mandate_id and method.mandate_signed_on
            out.append(DirectDebit(
                end_to_end_id=p.id, amount=p.amount, debtor_name=method.account_holder or "", debtor_iban=method.iban,
                debtor_bic=method.bic, mandate_id=method.mandate_id, mandate_signed_on=method.mandate_signed_on,
                sequence="RCUR" if method.mandate_id in first_of_mandate else "FRST",
                remittance=invoice.number if invoice and invoice.number else p.id, collection_date=on))  # fmt: skip
        creditor = Creditor(name=s.legal_name or tenant.name, iban=s.bank.iban, bic=s.bank.bic,
                            creditor_id=s.sepa_creditor_id)  # fmt: skip
        content = ctx.sepa.export_debits(creditor, out, message_id=message_id, created_at=now)
        for p in debits:
            uow.payments.save(replace(p, reference=message_id))
        audit.record(ctx, uow, actor, "sepa_batch.exported", object_type="sepa_batch", object_id=message_id,
                     before=None, after={"debits": [p.id for p in debits], "collection_date": on.isoformat()}, at=now)  # fmt: skip
        uow.commit()
    return message_id, content, len(debits)


def _business_days(day: date, n: int) -> date:
    while n:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def expected_batches(uow: UnitOfWork, tenant_id: str) -> list[ExpectedCredit]:
    """Exported batches the bank has not credited yet, for reconciliation to look for."""
    batches: dict[str, list[Payment]] = defaultdict(list)
    for p in _pending(uow, tenant_id):
        if p.reference:
            batches[p.reference].append(p)
    return [ExpectedCredit(id=BATCH_PREFIX + ref, kind=ExpectedKind.SEPA_BATCH, ref=ref,
                           amount=sum((p.amount for p in ps[1:]), ps[0].amount),
                           expected_on=local_day(max(p.created_at for p in ps), "UTC") + timedelta(days=3))
            for ref, ps in sorted(batches.items())]  # fmt: skip


def settle_batch(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, message_id: str, received: Money,
                 line_id: str, now: datetime) -> None:  # fmt: skip
    """The statement shows the bank's credit for the batch: its debits succeeded (they pay their invoices
    through payments in transit) and the money is cash."""
    batch = [p for p in _pending(uow, actor.tenant_id) if p.reference == message_id]
    if not batch:
        raise DomainError("unknown_batch", f"No pending SEPA batch {message_id}.", "payout_id")
    total = sum((p.amount for p in batch[1:]), batch[0].amount)
    for p in batch:
        payments.settle(ctx, uow, p, GatewayCharge(ref=p.gateway_ref or p.id, status=PaymentStatus.SUCCEEDED,
                                                   amount=p.amount), now)  # fmt: skip
    post(uow, lambda: ledger.role_entry(
        uow.ledger.chart(actor.tenant_id), tenant_id=actor.tenant_id, id=ctx.new_id("je"), posted_at=now,
        source_type=SourceType.PAYOUT, source_id=line_id, description=f"SEPA batch {message_id} credited",
        currency=received.currency, amounts=[(Role.CASH, received), (Role.PAYMENT_FEES, total - received),
                                             (Role.PAYMENTS_IN_TRANSIT, -total)]))  # fmt: skip


def import_returns(ctx: ServiceContext, actor: Actor, content: bytes) -> dict[str, int]:
    """A pain.002 (rejects) or camt.054 (returns, refunds) file: a debit still pending fails (dunning takes
    over with the reason as decline code); one already credited is taken back like a chargeback."""
    if ctx.sepa is None:
        raise DomainError("sepa_unavailable", "No SEPA file adapter is configured.")
    found = ctx.sepa.read_returns(content)
    counts = {"failed": 0, "reversed": 0, "unknown": 0, "duplicate": 0}
    with ctx.uow() as uow:
        now = ctx.clock.now()
        for r in found:
            payment = uow.payments.by_gateway_ref(actor.tenant_id, GATEWAY, r.end_to_end_id, for_update=True)
            if payment is None:
                counts["unknown"] += 1
            elif payment.status is PaymentStatus.PENDING:
                payments.settle(ctx, uow, payment, GatewayCharge(
                    ref=r.end_to_end_id, status=PaymentStatus.FAILED, amount=payment.amount,
                    decline_code=r.decline_code, message=f"SEPA {r.kind} {r.reason_code}"), now)  # fmt: skip
                counts["failed"] += 1
            elif payment.status is PaymentStatus.SUCCEEDED:
                event = GatewayEvent(id=f"sepa-return:{r.end_to_end_id}", type=GatewayEventType.CHARGEBACK_OPENED,
                                     created_at=now, charge_ref=r.end_to_end_id, amount=r.amount,
                                     chargeback_ref=f"sepa-return:{r.end_to_end_id}",
                                     reason=f"SEPA {r.kind} {r.reason_code}")  # fmt: skip
                outcome = payments.chargeback_opened(ctx, uow, payment, event, now)
                counts["reversed" if outcome == "applied" else "duplicate"] += 1
            else:
                counts["duplicate"] += 1
        audit.record(ctx, uow, actor, "sepa_returns.imported", object_type="sepa_returns", object_id=ctx.new_id("sdr"),
                     before=None, after=counts, at=now)  # fmt: skip
        uow.commit()
    return counts
