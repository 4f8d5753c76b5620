"""Disputes on invoice lines on SQLite and PostgreSQL (issue 9), each driven by a test clock.

A German seller and buyer (19 % VAT per line, half-up); the customer in Berlin pays by card (the sandbox's
succeeding card) with 14 days' terms. The clock starts 2026-03-02 08:00 UTC; the invoice made then is
INV-2026-00001: line 1 "Consulting" 120.00 + 22.80 = 142.80, line 2 "Add-on" 4.99 + 0.95 = 5.94, total
148.74, due 2026-03-16, so charged at Berlin midnight, 2026-03-15 23:00 UTC. The dispute policy accepts at
once a dispute below 10.00 EUR of a customer in good standing (at most 3 in 90 days).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.core.audit import Actor
from kassa.core.credit_notes import CreditReason
from kassa.core.disputes import Dispute, DisputeStatus
from kassa.core.errors import DomainError, NotFound
from kassa.core.invoicing import Invoice
from kassa.services import disputes, invoicing, payments, tenants, users
from kassa.services.context import ServiceContext
from kassa.store.tables import events
from tests.conftest import make_tenant
from tests.services.test_collections_examples import (
    BUYER,
    SELLER,
    advance,
    at,
    attempts,
    balances,
    charged,
    credit_balance,
    invoice,
    new_clock,
    new_customer,
    owed,
    payments_of,
    subscriber,
)

POLICY: dict[str, Any] = {"auto_accept_below": {"EUR": "10.00"}}
CARD = "tok_sandbox_success"


def setup(
    ctx: ServiceContext, actor: Actor, *, policy: Any = POLICY, token: str | None = CARD, terms: int = 14
) -> tuple[str, str, Invoice]:
    """(clock id, customer id, INV-2026-00001)."""
    tenants.update_settings(ctx, actor, {**SELLER, "dispute_policy": policy})
    clock_id = new_clock(ctx, actor)
    cid = new_customer(ctx, actor, clock_id, token=token, terms=terms, address=BUYER)
    return clock_id, cid, two_lines(ctx, actor, cid)


def two_lines(ctx: ServiceContext, actor: Actor, cid: str) -> Invoice:
    lines = [{"description": "Consulting", "quantity": "1", "unit_price": "120.00"},
             {"description": "Add-on", "quantity": "1", "unit_price": "4.99"}]  # fmt: skip
    made = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": lines})
    return invoicing.finalize_invoice(ctx, actor, made.id)


def dispute(ctx: ServiceContext, actor: Actor, inv: Invoice, line: int, **fields: Any) -> Dispute:
    body = {"line": line, "reason": "duplicate", "opened_by": "customer", **fields}
    return disputes.open_dispute(ctx, actor, inv.id, body)


def dispute_events(
    ctx: ServiceContext, tenant_id: str
) -> list[tuple[str, datetime, str | None, dict[str, Any]]]:
    """(type, occurred_at, customer_id, data) of the tenant's dispute events, in order."""
    e = events.c
    with ctx.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            sa.select(e.type, e.occurred_at, e.customer_id, e.data)
            .where(e.tenant_id == tenant_id, e.type.like("dispute.%"))
            .order_by(e.occurred_at, e.id)
        ).all()
    return [(r.type, r.occurred_at, r.customer_id, r.data) for r in rows]


def overdue_events(ctx: ServiceContext, tenant_id: str) -> int:
    e = events.c
    with ctx.uow(read_only=True) as uow:
        query = sa.select(sa.func.count()).where(e.tenant_id == tenant_id, e.type == "invoice.overdue")
        return int(uow.conn.execute(query).scalar_one())


def state(d: Dispute) -> tuple[str, bool, str, str]:
    return d.status.value, d.auto_resolved, d.amount.amount_text(), d.credited.amount_text()


def test_a_small_dispute_is_credited_at_once(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 9: the 4.99 line disputed whole (5.94 tax included, below 10.00): accepted at once, a credit
    note CN-2026-00001 for line 2, net 4.99 + tax 0.95 = 5.94, all against the open invoice (148.74 ->
    142.80 owed); the customer is told through dispute.resolved (outcome accepted, auto), no dispute.opened.
    On the due date the card is charged 142.80. Ledger: the invoice Dr 1100 148.74 / Cr 4000 124.99 / Cr 2100
    23.75; the note Dr 4000 4.99 / Dr 2100 0.95 / Cr 1100 5.94; the charge Dr 1050 / Cr 1100 142.80."""
    clock_id, cid, inv = setup(ctx, actor)
    assert [(ln.position, ln.total.amount_text()) for ln in inv.lines] == [(1, "142.80"), (2, "5.94")]
    found = dispute(ctx, actor, inv, 2)
    assert state(found) == ("accepted", True, "5.94", "5.94")
    assert found.resolution == "Accepted automatically: 5.94 EUR is below 10.00 EUR."
    assert (found.opened_at, found.resolved_at) == (at(3, 2, 8), at(3, 2, 8))
    [note] = invoicing.list_credit_notes(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (note.id, note.number, note.reason, note.automatic, note.memo) == (
        found.credit_note_id, "CN-2026-00001", CreditReason.DUPLICATE, False, f"Dispute {found.id} on line 2"
    )  # fmt: skip
    assert [(ln.position, ln.net.amount_text(), ln.tax.amount_text()) for ln in note.lines] == [
        (2, "4.99", "0.95")
    ]
    assert (note.to_invoice.amount_text(), note.to_credit_balance.amount_text()) == ("5.94", "0.00")
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "142.80")
    [(kind, when, customer, data)] = dispute_events(ctx, actor.tenant_id)
    assert (kind, when, customer, data["outcome"], data["auto"], data["status"], data["credited"]) == (
        "dispute.resolved", at(3, 2, 8), cid, "accepted", True, "accepted", {"amount": "5.94", "currency": "EUR"}
    )  # fmt: skip
    advance(ctx, actor, clock_id, at(3, 16, 9))
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-15T23:00:00+00:00")]
    assert payments_of(ctx, actor, cid)[0].amount.amount_text() == "142.80"
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "142.80", "0.00")
    assert balances(ctx, actor) == {"1050": "142.80", "2100": "-22.80", "4000": "-120.00"}


def test_a_large_dispute_waits_and_only_the_rest_is_charged_until_it_is_rejected(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: the 120.00 line disputed whole (142.80): queued (dispute.opened). On the due date the card is
    charged only the undisputed 5.94. The reminder due 03-17 is skipped: all still owed is disputed. The
    agent rejects on 03-18 09:00: the next attempt, 2, charges the 142.80 at once, and the invoice is paid."""
    clock_id, cid, inv = setup(ctx, actor)
    found = dispute(ctx, actor, inv, 1, reason="not_received", description="Never delivered")
    assert state(found) == ("open", False, "142.80", "0.00")
    [(kind, _, customer, data)] = dispute_events(ctx, actor.tenant_id)
    assert (kind, customer, data["decision"]) == (
        "dispute.opened",
        cid,
        "Not small: 142.80 EUR is not below 10.00 EUR.",
    )
    advance(ctx, actor, clock_id, at(3, 18, 9))
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-15T23:00:00+00:00")]
    assert payments_of(ctx, actor, cid)[0].amount.amount_text() == "5.94"
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "5.94", "142.80")
    assert overdue_events(ctx, actor.tenant_id) == 0
    rejected = disputes.reject_dispute(ctx, actor, found.id, {"resolution": "Delivered on 03-05, signed."})
    assert (rejected.status, rejected.resolved_at, rejected.resolution) == (
        DisputeStatus.REJECTED,
        at(3, 18, 9),
        "Delivered on 03-05, signed.",
    )
    resolved = dispute_events(ctx, actor.tenant_id)[-1]
    assert (resolved[0], resolved[2], resolved[3]["outcome"], resolved[3]["auto"]) == (
        "dispute.resolved",
        cid,
        "rejected",
        False,
    )
    advance(ctx, actor, clock_id, at(3, 18, 10))
    assert attempts(ctx, actor, cid) == [
        (1, "succeeded", None, "2026-03-15T23:00:00+00:00"),
        (2, "succeeded", None, "2026-03-18T09:00:00+00:00"),
    ]
    assert [p.amount.amount_text() for p in payments_of(ctx, actor, cid)] == ["5.94", "142.80"]
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "148.74", "0.00")


def test_a_customer_with_an_overdue_invoice_is_never_auto_resolved(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 9: paying by hand, due on receipt: INV-2026-00001 is overdue from 03-03. A 5.94 dispute on
    INV-2026-00002, made 03-04, is small but waits for an agent; once the first is paid, the next is
    accepted at once."""
    clock_id, cid, first = setup(ctx, actor, token=None, terms=0)
    advance(ctx, actor, clock_id, at(3, 4, 9))
    second = two_lines(ctx, actor, cid)
    queued = dispute(ctx, actor, second, 2)
    assert state(queued) == ("open", False, "5.94", "0.00")
    assert (
        dispute_events(ctx, actor.tenant_id)[-1][3]["decision"]
        == "Not in good standing: 1 overdue invoice(s)."
    )
    payments.record_payment(ctx, actor, {"customer_id": cid, "amount": "148.74", "reference": first.number})
    disputes.reject_dispute(ctx, actor, queued.id, {"resolution": "Not a duplicate."})
    assert state(dispute(ctx, actor, second, 2)) == ("accepted", True, "5.94", "5.94")


def test_an_agent_accepts_part_and_the_rest_is_collected_on_the_due_date(
    ctx: ServiceContext, actor: Actor
) -> None:
    """The 142.80 dispute accepted for 50.00 on 03-05: a credit note, net 42.02 + tax 7.98 (22.80 x 42.02 /
    120.00 = 7.9838) = 50.00, against the invoice (98.74 owed); on the due date one charge of 98.74."""
    clock_id, cid, inv = setup(ctx, actor)
    found = dispute(ctx, actor, inv, 1, reason="incorrect_amount")
    advance(ctx, actor, clock_id, at(3, 5, 12))
    with pytest.raises(DomainError) as error:
        disputes.accept_dispute(ctx, actor, found.id, {"amount": {"amount": "142.81", "currency": "EUR"},
                                                       "resolution": "x"})  # fmt: skip
    assert (error.value.code, error.value.field) == ("accept_exceeds_dispute", "amount.amount")
    accepted = disputes.accept_dispute(ctx, actor, found.id, {"amount": {"amount": "50.00", "currency": "EUR"},
                                                              "resolution": "Half a day was not worked."})  # fmt: skip
    assert state(accepted) == ("accepted", False, "142.80", "50.00")
    assert accepted.resolved_at == at(3, 5, 12)
    note = invoicing.get_credit_note(ctx, actor, accepted.credit_note_id or "")
    assert (note.reason, note.net.amount_text(), note.tax.amount_text(), note.total.amount_text()) == (
        CreditReason.OTHER,
        "42.02",
        "7.98",
        "50.00",
    )
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "0.00", "98.74")
    with pytest.raises(DomainError) as error:
        disputes.reject_dispute(ctx, actor, found.id, {"resolution": "Changed my mind."})
    assert (error.value.code, error.value.status) == ("dispute_resolved", 409)
    advance(ctx, actor, clock_id, at(3, 16, 9))
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-15T23:00:00+00:00")]
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "98.74", "0.00")


def test_a_dispute_on_a_paid_invoice_credits_the_balance(ctx: ServiceContext, actor: Actor) -> None:
    """Paid on the due date, the 5.94 line disputed on 03-20: the credit goes to the credit balance."""
    clock_id, cid, inv = setup(ctx, actor)
    advance(ctx, actor, clock_id, at(3, 20, 9))
    assert state(dispute(ctx, actor, inv, 2)) == ("accepted", True, "5.94", "5.94")
    assert owed(invoice(ctx, actor, inv.id)) == ("paid", "148.74", "0.00")
    assert credit_balance(ctx, actor, cid) == "5.94"


def test_a_wholly_disputed_invoice_is_neither_charged_nor_dunned(ctx: ServiceContext, actor: Actor) -> None:
    """Without a policy both lines' disputes wait (142.80 and 5.94). Past the due date and two reminder
    dates (03-17, 03-23) nothing is charged and no step runs; "pay now" is refused. Rejecting the 5.94 one
    on 03-24 charges its 5.94 at once, attempt 1."""
    clock_id, cid, inv = setup(ctx, actor, policy=None)
    big, small = dispute(ctx, actor, inv, 1), dispute(ctx, actor, inv, 2)
    assert [state(big), state(small)] == [("open", False, "142.80", "0.00"), ("open", False, "5.94", "0.00")]
    advance(ctx, actor, clock_id, at(3, 24, 9))
    assert (attempts(ctx, actor, cid), overdue_events(ctx, actor.tenant_id)) == ([], 0)
    with pytest.raises(DomainError) as error:
        payments.pay_invoice(ctx, actor, inv.id)
    assert (error.value.code, error.value.status) == ("invoice_disputed", 409)
    disputes.reject_dispute(ctx, actor, small.id, {"resolution": "Ordered twice, both delivered."})
    advance(ctx, actor, clock_id, at(3, 24, 10))
    assert attempts(ctx, actor, cid) == [(1, "succeeded", None, "2026-03-24T09:00:00+00:00")]
    assert owed(invoice(ctx, actor, inv.id)) == ("open", "5.94", "142.80")


def test_what_cannot_be_disputed(ctx: ServiceContext, actor: Actor) -> None:
    _, cid, inv = setup(ctx, actor, policy=None)

    def refused(invoice_id: str, **fields: Any) -> tuple[str, str | None]:
        body = {"line": 1, "reason": "other", "opened_by": "agent", **fields}
        with pytest.raises(DomainError) as error:
            disputes.open_dispute(ctx, actor, invoice_id, body)
        return error.value.code, error.value.field

    made = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
        {"description": "Draft", "quantity": "1", "unit_price": "1.00"}]})  # fmt: skip
    assert refused(made.id) == ("invoice_not_disputable", None)
    assert refused(inv.id, line=3) == ("no_such_line", "line")
    assert refused(inv.id, reason="too_expensive") == ("invalid_reason", "reason")
    assert refused(inv.id, opened_by="bot") == ("invalid_opened_by", "opened_by")
    assert refused(inv.id, amount={"amount": "1.00", "currency": "USD"}) == (
        "currency_mismatch",
        "amount.currency",
    )
    assert refused(inv.id, amount={"amount": "0.00", "currency": "EUR"}) == (
        "invalid_amount",
        "amount.amount",
    )
    assert refused(inv.id, amount={"amount": "142.81", "currency": "EUR"}) == (
        "dispute_exceeds_line",
        "amount.amount",
    )
    dispute(ctx, actor, inv, 1, amount={"amount": "100.00", "currency": "EUR"})
    assert refused(inv.id, amount={"amount": "42.81", "currency": "EUR"}) == (
        "dispute_exceeds_line",
        "amount.amount",
    )
    assert state(dispute(ctx, actor, inv, 1)) == ("open", False, "42.80", "0.00")  # the rest of the line
    assert refused(inv.id) == ("nothing_to_dispute", None)
    invoicing.void_invoice(ctx, actor, inv.id)
    assert refused(inv.id, line=2) == ("invoice_not_disputable", None)


def test_the_queue_assignment_and_tenant_walls(ctx: ServiceContext, actor: Actor, clock: Any) -> None:
    """Oldest first; assigned to an active user (dispute.updated); another tenant sees nothing."""
    clock_id, _, inv = setup(ctx, actor, policy=None)
    first = dispute(ctx, actor, inv, 2)
    advance(ctx, actor, clock_id, at(3, 3, 9))
    second = dispute(ctx, actor, inv, 1, amount={"amount": "10.00", "currency": "EUR"})
    agent = users.create_user(ctx, actor, email="agent@example.com", name="Agent", role_name="support")
    assigned = disputes.update_dispute(ctx, actor, second.id, {"assignee_id": agent.id})
    assert (assigned.assignee_id, assigned.updated_at) == (agent.id, at(3, 3, 9))
    assert dispute_events(ctx, actor.tenant_id)[-1][0] == "dispute.updated"
    queue = disputes.list_disputes(ctx, actor, limit=1, cursor=None, status_filter="open")
    assert ([d.id for d in queue.items], queue.has_more) == ([first.id], True)
    rest = disputes.list_disputes(ctx, actor, limit=1, cursor=queue.next_cursor, status_filter="open")
    assert ([d.id for d in rest.items], rest.has_more) == ([second.id], False)
    mine = disputes.list_disputes(
        ctx, actor, limit=10, cursor=None, status_filter="open", assignee_id=agent.id
    )
    assert [d.id for d in mine.items] == [second.id]
    assert [d.id for d in disputes.invoice_disputes(ctx, actor, inv.id)] == [first.id, second.id]
    with pytest.raises(DomainError) as error:
        disputes.update_dispute(ctx, actor, first.id, {"assignee_id": "usr_nobody"})
    assert error.value.code == "invalid_assignee"
    other = make_tenant(ctx, "Other")
    with pytest.raises(NotFound):
        disputes.get_dispute(ctx, other.actor, first.id)
    with pytest.raises(NotFound):
        disputes.open_dispute(ctx, other.actor, inv.id, {"line": 1, "reason": "other", "opened_by": "agent"})
    assert disputes.list_disputes(ctx, other.actor, limit=10, cursor=None).items == []


def test_the_anti_abuse_cap_counts_90_days(ctx: ServiceContext, actor: Actor) -> None:
    """At most one auto-accepted dispute in 90 days: the second small one waits; the window's count."""
    _, cid, inv = setup(ctx, actor, policy={**POLICY, "max_auto_accepted": 1})
    assert state(dispute(ctx, actor, inv, 2, amount={"amount": "1.00", "currency": "EUR"}))[:2] == (
        "accepted",
        True,
    )
    waiting = dispute(ctx, actor, inv, 2, amount={"amount": "1.00", "currency": "EUR"})
    assert waiting.status is DisputeStatus.OPEN
    assert dispute_events(ctx, actor.tenant_id)[-1][3]["decision"] == (
        "Not in good standing: 1 disputes auto-accepted in the last 90 days."
    )
    with ctx.uow(read_only=True) as uow:
        since = uow.disputes.standing(actor.tenant_id, cid, today=at(3, 2, 8).date(), since=at(3, 2, 8))
        after = uow.disputes.standing(actor.tenant_id, cid, today=at(3, 2, 8).date(),
                                      since=at(3, 2, 8) + timedelta(seconds=1))  # fmt: skip
    assert (since.auto_accepted_recently, after.auto_accepted_recently) == (1, 0)


def test_the_report_per_month_and_currency(ctx: ServiceContext, actor: Actor) -> None:
    """March: 5.94 auto-accepted at 08:00 (0 h), 142.80 opened 08:00 and rejected 03-02 11:00 (3 h), 10.00
    opened 03-03 09:00 and still open: opened 3, auto 1 (33.3 %), accepted 1, rejected 1, open 1, credited
    5.94, median and average of 0 and 3 hours: 1.50. April: nothing."""
    tenants.update_settings(ctx, actor, {"time_zone": "Europe/Berlin"})
    clock_id, _, inv = setup(ctx, actor)
    dispute(ctx, actor, inv, 2)
    big = dispute(ctx, actor, inv, 1, amount={"amount": "132.80", "currency": "EUR"})
    advance(ctx, actor, clock_id, at(3, 2, 11))
    disputes.reject_dispute(ctx, actor, big.id, {"resolution": "No."})
    advance(ctx, actor, clock_id, at(3, 3, 9))
    dispute(ctx, actor, inv, 1, amount={"amount": "10.00", "currency": "EUR"})
    report = disputes.disputes_report(ctx, actor, "2026-03", "2026-04")
    assert report.columns[:4] == ("month", "currency", "opened", "auto_resolved")
    assert [tuple(str(v) for v in row.values()) for row in report.rows] == [
        ("2026-03", "EUR", "3", "1", "33.3", "1", "1", "1", "5.94 EUR", "1.50", "1.50")
    ]


def test_the_late_fee_leaves_out_the_disputed_money(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 9 (review): late fee 5.00 + 2 % after 3 grace days on INV-2026-00001 (100.00, paid by hand),
    60.00 of it disputed and waiting for an agent: the fee is 5.00 + 2 % of the undisputed 40.00 = 5.80."""
    tenants.update_settings(ctx, actor, {"late_fee": {"fixed": "5.00", "percent": "2", "grace_days": 3}})
    clock_id = new_clock(ctx, actor)
    cid, _, first = subscriber(ctx, actor, clock_id)
    disputes.open_dispute(ctx, actor, first.id, {"line": 1, "amount": {"amount": "60.00", "currency": "EUR"},
                                                 "reason": "incorrect_amount", "opened_by": "agent"})  # fmt: skip
    advance(ctx, actor, clock_id, at(3, 5, 23))
    fee = ("one_off", "Late fee for invoice INV-2026-00001", "5.80")
    assert fee in charged(invoicing.upcoming_invoice(ctx, actor, cid))
