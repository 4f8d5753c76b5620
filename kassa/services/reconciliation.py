"""Remittance and reconciliation: bank statements in, each line matched to the invoices it pays or the
gateway payout it settles; confident matches booked, doubtful ones queued for a person; gateway payout
reports; accounts receivable aging.

An import is one transaction (a file that fails to parse, or any error, imports nothing) and exactly once:
the same file is recognized by its digest, and each line by its key (kassa.core.statements), so an
overlapping statement adds only the lines not seen before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from kassa.adapters.bank_files.base import CsvMapping
from kassa.core import ledger
from kassa.core.audit import Actor
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.ledger import Role, SourceType
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.payments import Allocation, aging
from kassa.core.periods import local_day
from kassa.core.reconciliation import Decision, ExpectedCredit, ExpectedKind, OpenItem, Proposal, match_lines
from kassa.core.statements import StatementFormat, StatementLine
from kassa.services import audit, payments, sepa
from kassa.services.context import ServiceContext
from kassa.services.ledger import post
from kassa.store.reconciliation import StoredLine, StoredPayout, StoredStatement
from kassa.store.uow import UnitOfWork

MAX_FILE = 10 * 1024 * 1024


def _proposal_json(p: Proposal) -> dict[str, Any]:
    def money(m: Money) -> dict[str, str]:
        return {"amount": m.amount_text(), "currency": m.currency}

    return {
        "decision": p.decision.value, "confidence": str(p.confidence), "customer_id": p.customer_id,
        "allocations": [{"invoice_id": a.invoice_id, "paid": money(a.amount)} for a in p.allocations],
        "expected_id": p.expected_id, "unapplied": money(p.unapplied), "reasons": list(p.reasons),
        "alternatives": [{"customer_id": a.customer_id, "invoice_ids": list(a.invoice_ids), "expected_id": a.expected_id,
                          "confidence": str(a.confidence)} for a in p.alternatives],
    }  # fmt: skip


def _candidates(uow: UnitOfWork, tenant_id: str) -> tuple[list[OpenItem], list[ExpectedCredit]]:
    invoices = uow.invoices.open(tenant_id)
    ibans = uow.payments.known_ibans(tenant_id)
    customers = {c.id: c for c in uow.customers.many(tenant_id, sorted({i.customer_id for i in invoices}))}
    items = [
        OpenItem(invoice_id=i.id, number=i.number or i.id, customer_id=i.customer_id,
                 customer_name=customers[i.customer_id].legal_name or customers[i.customer_id].name,
                 customer_reference=customers[i.customer_id].external_id,
                 ibans=frozenset(ibans.get(i.customer_id, ())), remaining=i.amount_remaining,
                 due_date=i.due_date or date.min)
        for i in invoices if i.amount_remaining.amount > 0
    ]  # fmt: skip
    expected = [ExpectedCredit(id=p.id, kind=ExpectedKind.PAYOUT, ref=p.ref, amount=p.net, expected_on=p.arrival_on)
                for p in uow.statements.unsettled_payouts(tenant_id)]  # fmt: skip
    expected += sepa.expected_batches(uow, tenant_id)
    return items, expected


def import_statement(ctx: ServiceContext, actor: Actor, content: bytes, *, format: str | None = None,
                     mapping: Mapping[str, Any] | None = None) -> tuple[StoredStatement, bool]:  # fmt: skip
    """Read, match and book one statement file; (statement, False) when this very file was imported before."""
    if ctx.bank_files is None:
        raise DomainError("bank_files_unavailable", "No bank file reader is configured.")
    if len(content) > MAX_FILE:
        raise DomainError(
            "file_too_large", f"A statement file is at most {MAX_FILE // (1024 * 1024)} MB.", "file"
        )
    try:
        fmt = StatementFormat(format) if format else None
    except ValueError:
        raise DomainError(
            "invalid_format", f"format is one of {', '.join(StatementFormat)}.", "format"
        ) from None
    csv_mapping = CsvMapping.from_json(mapping) if mapping is not None else None
    digest = hashlib.sha256(content).hexdigest()
    with ctx.uow(read_only=True) as uow:
        seen = uow.statements.by_sha256(actor.tenant_id, digest)
    if seen is not None:
        return seen, False
    statement = ctx.bank_files.read(content, format=fmt, mapping=csv_mapping)
    with ctx.uow() as uow:
        seen = uow.statements.by_sha256(actor.tenant_id, digest)
        if seen is not None:
            return seen, False
        now = ctx.clock.now()
        account = statement.account or ""
        known = uow.statements.known_keys(actor.tenant_id, account, [ln.key for ln in statement.lines])
        fresh = [ln for ln in statement.lines if ln.key not in known]
        stored = StoredStatement(
            tenant_id=actor.tenant_id, id=ctx.new_id("bst"), format=statement.format.value, account=statement.account,
            currency=statement.currency, statement_ref=statement.statement_id, sha256=digest,
            opening=statement.opening_balance, closing=statement.closing_balance, opened_on=statement.opened_on,
            closed_on=statement.closed_on, line_count=len(statement.lines), new_lines=len(fresh), imported_at=now,
        )  # fmt: skip
        uow.statements.add(stored)
        items, expected = _candidates(uow, actor.tenant_id)
        counts = {"applied": 0, "review": 0, "unmatched": 0, "ignored": 0}
        for line, proposal in zip(fresh, match_lines(fresh, items, expected), strict=True):
            status = _book(ctx, uow, actor, stored, account, line, proposal, now)
            counts[status] += 1
        audit.changed(ctx, uow, actor, EventType.BANK_STATEMENT_IMPORTED, object_type="bank_statement",
                      object_id=stored.id, before=None, after=stored.to_json() | {"lines": counts}, at=now)  # fmt: skip
        uow.commit()
    return stored, True


def _book(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, statement: StoredStatement, account: str,
          line: StatementLine, proposal: Proposal, now: datetime) -> str:  # fmt: skip
    if proposal.decision is Decision.APPLY:
        status = "applied"
    elif proposal.queued:
        status = "review" if proposal.decision is Decision.REVIEW else "unmatched"
    else:
        status = "ignored"  # money out: not a receivable
    stored = StoredLine(tenant_id=actor.tenant_id, id=ctx.new_id("bsl"), statement_id=statement.id, account=account,
                        line=line, status=status, confidence=str(proposal.confidence), customer_id=proposal.customer_id,
                        payment_id=None, payout_id=None, proposal=_proposal_json(proposal), created_at=now,
                        resolved_at=now if status == "applied" else None)  # fmt: skip
    uow.statements.add_line(stored)
    if status == "applied":
        _apply_line(ctx, uow, actor, stored, customer_id=proposal.customer_id, allocations=proposal.allocations,
                    payout_id=proposal.expected_id, now=now)  # fmt: skip
    return status


def _apply_line(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, stored: StoredLine, *, customer_id: str | None,
                allocations: tuple[Allocation, ...] | None, payout_id: str | None, now: datetime,
                invoice_ids: list[str] | None = None) -> StoredLine:  # fmt: skip
    line = stored.line
    if line.amount.amount <= 0:
        raise DomainError("not_a_receipt", "Only money in pays invoices or settles payouts.", "line")
    payment_id = None
    if payout_id is not None and payout_id.startswith(sepa.BATCH_PREFIX):
        sepa.settle_batch(
            ctx, uow, actor, payout_id.removeprefix(sepa.BATCH_PREFIX), line.amount, stored.id, now
        )
    elif payout_id is not None:
        _settle_payout(ctx, uow, actor, uow.statements.payout(actor.tenant_id, payout_id), stored, now)
    elif customer_id is not None:
        body: dict[str, Any] = {"customer_id": customer_id, "amount": line.amount.amount_text(),
                                "method_type": "bank_transfer", "received_on": line.booked_on.isoformat(),
                                "reference": (line.reference or line.description or "")[:500] or None,
                                "payer_name": (line.counterparty_name or "")[:200] or None,
                                "payer_iban": line.counterparty_iban, "invoice_ids": invoice_ids or []}  # fmt: skip
        customer = uow.customers.get(actor.tenant_id, customer_id)
        if customer.currency != line.amount.currency:
            raise DomainError("currency_mismatch", f"The customer pays in {customer.currency}, the line is in "
                              f"{line.amount.currency}.", "customer_id")  # fmt: skip
        payment = payments.record_in(ctx, uow, actor, body, allocations=allocations,
                                     key=f"statement:{stored.account}:{line.key}")  # fmt: skip
        payment_id = payment.id
    else:
        raise DomainError(
            "required", "Name the customer (customer_id) or the payout (payout_id) this line pays."
        )
    applied = replace(stored, status="applied", customer_id=customer_id, payment_id=payment_id, payout_id=payout_id,
                      resolved_at=now)  # fmt: skip
    uow.statements.save_line(applied)
    return applied


def _settle_payout(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, payout: StoredPayout, stored: StoredLine,
                   now: datetime) -> None:  # fmt: skip
    """The payout arrived: its gross leaves payments in transit; what the bank got is cash, the difference
    (the gateway's fees, as the report gave them or as the bank shows them) is an expense."""
    if payout.statement_line_id is not None:
        raise Conflict("payout_settled", f"Payout {payout.ref} is already matched to a statement line.")
    received = stored.line.amount
    if received.currency != payout.gross.currency:
        raise DomainError(
            "currency_mismatch", f"Payout {payout.ref} is in {payout.gross.currency}.", "payout_id"
        )
    fees = payout.gross - received
    uow.statements.settle_payout(actor.tenant_id, payout.id, stored.id)
    post(uow, lambda: ledger.role_entry(
        uow.ledger.chart(actor.tenant_id), tenant_id=actor.tenant_id, id=ctx.new_id("je"), posted_at=now,
        source_type=SourceType.PAYOUT, source_id=payout.id, description=f"Payout {payout.ref} from {payout.gateway}",
        currency=received.currency, amounts=[(Role.CASH, received), (Role.PAYMENT_FEES, fees),
                                             (Role.PAYMENTS_IN_TRANSIT, -payout.gross)]))  # fmt: skip
    audit.changed(ctx, uow, actor, EventType.PAYOUT_RECONCILED, object_type="payout", object_id=payout.id, before=None,
                  after=payout.to_json() | {"statement_line_id": stored.id}, at=now)  # fmt: skip


def resolve_line(ctx: ServiceContext, actor: Actor, line_id: str, body: Mapping[str, Any]) -> StoredLine:
    """The exceptions queue: confirm the suggestion, or say whose money it is (customer, invoices) or which
    payout it settles; or ignore the line (not a receivable: a refund from a supplier, interest)."""
    for name in body:
        if name not in ("action", "customer_id", "invoice_ids", "payout_id"):
            raise DomainError("unknown_field", f"Unknown field {name!r}.", name)
    action = body.get("action", "apply")
    if action not in ("apply", "ignore"):
        raise DomainError("invalid_action", "action is apply or ignore.", "action")
    with ctx.uow() as uow:
        stored = uow.statements.line(actor.tenant_id, line_id, for_update=True)
        if stored.status in ("applied", "ignored"):
            raise Conflict("invalid_state", f"The line is already {stored.status}.")
        now = ctx.clock.now()
        before = stored.to_json()
        if action == "ignore":
            resolved = replace(stored, status="ignored", resolved_at=now)
            uow.statements.save_line(resolved)
        else:
            suggestion = stored.proposal
            customer_id = body.get("customer_id")
            payout_id = body.get("payout_id")
            invoice_ids = body.get("invoice_ids")
            if invoice_ids is not None and (
                not isinstance(invoice_ids, list) or not all(isinstance(i, str) for i in invoice_ids)
            ):
                raise DomainError(
                    "invalid_invoice_ids", "invoice_ids is a list of invoice ids.", "invoice_ids"
                )
            allocations = None
            if (
                customer_id is None and payout_id is None and invoice_ids is None
            ):  # confirm the suggestion as made
                customer_id, payout_id = suggestion.get("customer_id"), suggestion.get("expected_id")
                allocations = tuple(
                    Allocation(invoice_id=a["invoice_id"], amount=Money.parse(a["paid"]["amount"], a["paid"]["currency"]))
                    for a in suggestion.get("allocations", [])
                )  # fmt: skip
                if customer_id is not None and not _still_owed(uow, actor.tenant_id, allocations):
                    raise Conflict("suggestion_outdated", "The invoices suggested were paid meanwhile: say which "
                                   "invoices this line pays (invoice_ids).")  # fmt: skip
            if customer_id is None and invoice_ids:
                customer_id = uow.invoices.get(actor.tenant_id, invoice_ids[0]).customer_id
            resolved = _apply_line(ctx, uow, actor, stored, customer_id=customer_id, allocations=allocations,
                                   payout_id=payout_id, now=now, invoice_ids=invoice_ids)  # fmt: skip
        audit.changed(ctx, uow, actor, EventType.STATEMENT_LINE_RESOLVED, object_type="statement_line",
                      object_id=stored.id, before=before, after=resolved.to_json(), at=now)  # fmt: skip
        uow.commit()
    return resolved


def _still_owed(uow: UnitOfWork, tenant_id: str, allocations: tuple[Allocation, ...]) -> bool:
    for a in allocations:
        invoice = uow.invoices.get(tenant_id, a.invoice_id)
        if invoice.amount_remaining < a.amount:
            return False
    return True


def list_statements(
    ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None
) -> Page[StoredStatement]:
    with ctx.uow(read_only=True) as uow:
        return uow.statements.list(actor.tenant_id, limit=limit, cursor=cursor)


def get_statement(ctx: ServiceContext, actor: Actor, statement_id: str) -> StoredStatement:
    with ctx.uow(read_only=True) as uow:
        return uow.statements.get(actor.tenant_id, statement_id)


def list_lines(ctx: ServiceContext, actor: Actor, *, statement_id: str | None, status: str | None, limit: int,
               cursor: str | None) -> Page[StoredLine]:  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        return uow.statements.lines(actor.tenant_id, statement_id=statement_id, status=status, limit=limit,
                                    cursor=cursor)  # fmt: skip


# ---- gateway payout reports ----------------------------------------------------------------------------


def import_payout_report(
    ctx: ServiceContext, actor: Actor, gateway_name: str, content: bytes
) -> list[StoredPayout]:
    """A gateway's settlement report: each payout, to be matched when the bank statement shows it; a payout
    imported before is skipped."""
    if gateway_name not in ctx.gateways:
        raise DomainError("unknown_gateway", f"No gateway {gateway_name!r} is configured.", "gateway")
    found = ctx.gateways[gateway_name].parse_payout_report(content)
    out = []
    with ctx.uow() as uow:
        now = ctx.clock.now()
        for payout in found:
            stored = StoredPayout(
                tenant_id=actor.tenant_id, id=ctx.new_id("po"), gateway=gateway_name, ref=payout.ref, gross=payout.gross,
                fee=payout.fees, arrival_on=payout.arrival_on, statement_line_id=None, created_at=now,
                items=[{"charge_ref": i.charge_ref, "gross": i.gross.amount_text(), "fee": i.fee.amount_text(),
                        "currency": i.gross.currency} for i in payout.items],
            )  # fmt: skip
            if uow.statements.add_payout(stored):
                out.append(stored)
        uow.commit()
    return out


def list_payouts(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None) -> Page[StoredPayout]:
    with ctx.uow(read_only=True) as uow:
        return uow.statements.payouts(actor.tenant_id, limit=limit, cursor=cursor)


# ---- accounts receivable aging -------------------------------------------------------------------------


def receivables_aging(ctx: ServiceContext, actor: Actor, on: date | None = None) -> dict[str, Any]:
    """What customers owe by how late it is (current, 1-30, 31-60, 61-90, 90+ days past due), per customer
    and in total, per currency, on `on` (default: today in the tenant's time zone)."""
    with ctx.uow(read_only=True) as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        day = on or local_day(ctx.clock.now(), tenant.settings.time_zone)
        invoices = [i for i in uow.invoices.open(actor.tenant_id) if i.amount_remaining.amount > 0]
        names = {
            c.id: c.name
            for c in uow.customers.many(actor.tenant_id, sorted({i.customer_id for i in invoices}))
        }
    report = aging([(i.customer_id, i.due_date or day, i.amount_remaining) for i in invoices], day)
    return {"object": "receivables_aging", "on": day.isoformat(), **report.to_json(names)}
