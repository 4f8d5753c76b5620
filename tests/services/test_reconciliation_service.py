"""Issue 7: reconciliation, SEPA direct debit and receivables aging on SQLite and PostgreSQL.

Statements are written here (CAMT.053, MT940, CSV) against real finalized invoices, imported through
`reconciliation.import_statement`, and every outcome is checked exactly: which lines were applied, which
wait in the exceptions queue and with what suggestion, what the queue's resolutions book, that a file or a
line is imported once, that a broken file imports nothing, that a payout settles payments in transit into
cash and fees, that a SEPA batch is settled by the bank's credit and undone by the bank's returns, and the
aging buckets on a given day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa

from kassa.adapters.payments.sandbox import SandboxGateway
from kassa.core.audit import Actor
from kassa.core.errors import Conflict, DomainError
from kassa.core.invoicing import Invoice, InvoiceStatus
from kassa.core.payments import DeclineCode, Payment, PaymentStatus
from kassa.services import customers, invoicing, ledger, payments, reconciliation, sepa, tenants, test_clocks
from kassa.services.context import ServiceContext
from kassa.store.reconciliation import StoredLine
from kassa.store.tables import (
    audit_events,
    bank_statements,
    journal_entries,
    payment_allocations,
    statement_lines,
)
from kassa.store.tables import (
    payments as payments_table,
)
from tests.conftest import SettableClock

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)  # 09:00 in Berlin: invoices are finalized on 2 March
TENANT_IBAN = "DE02120300000000202051"  # the tenant's own account: the statements' account
IBAN_ACME = "NL91ABNA0417164300"
IBAN_GLOBEX = "FR1420041010050500013M02606"
IBAN_STRANGER = "GB29NWBK60161331926819"
DEBTOR_IBAN = "DE89370400440532013000"
CREDITOR_ID = "DE98ZZZ09999999999"

Row = tuple[date, str, str | None, str | None, str | None]  # booked on, signed amount, reference, name, IBAN


# ---- files written the way banks write them ------------------------------------------------------------


def camt053(rows: Sequence[Row], *, statement_id: str = "STMT-1", account: str = TENANT_IBAN) -> bytes:
    """A camt.053.001.02 statement of `account` in EUR, one booked entry per row (a negative amount is a
    debit), with the opening balance 1000.00 and the closing balance it implies."""
    closing = Decimal("1000.00") + sum((Decimal(r[1]) for r in rows), Decimal(0))
    first = min((r[0] for r in rows), default=date(2026, 3, 1))
    last = max((r[0] for r in rows), default=first)

    def balance(code: str, amount: Decimal, day: date) -> str:
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{abs(amount)}</Amt>"
                f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")  # fmt: skip

    entries = []
    for booked_on, amount, reference, name, iban in rows:
        credit = not amount.startswith("-")
        party = "Dbtr" if credit else "Cdtr"
        parties = (f"<{party}><Nm>{escape(name)}</Nm></{party}>" if name else "") + (
            f"<{party}Acct><Id><IBAN>{iban}</IBAN></Id></{party}Acct>" if iban else ""
        )
        remittance = f"<RmtInf><Ustrd>{escape(reference)}</Ustrd></RmtInf>" if reference else ""
        entries.append(
            f"<Ntry><Amt Ccy=\"EUR\">{amount.lstrip('-')}</Amt><CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{booked_on}</Dt></BookgDt><ValDt><Dt>{booked_on}</Dt></ValDt>"
            f"<NtryDtls><TxDtls><RltdPties>{parties}</RltdPties>{remittance}</TxDtls></NtryDtls></Ntry>"
        )  # fmt: skip
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{last}T18:00:00+01:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><CreDtTm>{last}T18:00:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{balance('OPBD', Decimal('1000.00'), first)}{balance('CLBD', closing, last)}"
        f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def camt054_returns(returns: Sequence[tuple[str, str, str]], *, booked_on: date) -> bytes:
    """A camt.054.001.02 debit notification: one booked return entry per (end-to-end id, amount, reason)."""
    entries = "".join(
        f"<Ntry><Amt Ccy=\"EUR\">{amount}</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>"
        f"<BookgDt><Dt>{booked_on}</Dt></BookgDt><NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>"
        f"<AmtDtls><InstdAmt><Amt Ccy=\"EUR\">{amount}</Amt></InstdAmt></AmtDtls>"
        f"<RtrInf><Rsn><Cd>{reason}</Cd></Rsn></RtrInf></TxDtls></NtryDtls></Ntry>"
        for e2e, amount, reason in returns
    )  # fmt: skip
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"><BkToCstmrDbtCdtNtfctn>'
        f"<GrpHdr><MsgId>NTF-{booked_on}</MsgId><CreDtTm>{booked_on}T06:30:00+01:00</CreDtTm></GrpHdr>"
        f"<Ntfctn><Id>NTF-{booked_on}-1</Id><CreDtTm>{booked_on}T06:30:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{TENANT_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>{entries}</Ntfctn>"
        "</BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def pain002_rejects(message_id: str, rejects: Sequence[tuple[str, str, str]], *, created: date) -> bytes:
    """A pain.002.001.03 status report on the file `message_id`: each (end-to-end id, amount, reason)
    rejected before settlement."""
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
        f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>"
        f"<OrgnlTxRef><Amt><InstdAmt Ccy=\"EUR\">{amount}</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts>"
        for e2e, amount, reason in rejects
    )  # fmt: skip
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        f"<GrpHdr><MsgId>STS-{created}</MsgId><CreDtTm>{created}T10:15:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId>"
        "<GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{message_id}-1</OrgnlPmtInfId><PmtInfSts>PART</PmtInfSts>"
        f"{transactions}</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()


# ---- setup ------------------------------------------------------------------------------------------------


@pytest.fixture
def clock_id(ctx: ServiceContext, actor: Actor, clock: SettableClock) -> str:
    """The customers' test clock at T0; the system clock (imports, exports) is set to the same instant."""
    clock.at = T0
    return test_clocks.create_test_clock(ctx, actor, name="recon", frozen_time=T0).id


def _customer(ctx: ServiceContext, actor: Actor, clock_id: str | None, name: str, **fields: Any) -> str:
    body = {"external_id": name.split()[0].lower() + "-ext", "name": name, "currency": "EUR",
            "time_zone": "Europe/Berlin", "payment_terms_days": 14, **fields}  # fmt: skip
    if clock_id is not None:
        body["test_clock_id"] = clock_id
    return customers.create_customer(ctx, actor, body).id


def _invoice(ctx: ServiceContext, actor: Actor, customer_id: str, amount: str) -> Invoice:
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": customer_id, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": amount}]})  # fmt: skip
    return invoicing.finalize_invoice(ctx, actor, draft.id)


def _lines(ctx: ServiceContext, actor: Actor, status: str | None = None, statement_id: str | None = None
           ) -> list[StoredLine]:  # fmt: skip
    page = reconciliation.list_lines(
        ctx, actor, statement_id=statement_id, status=status, limit=100, cursor=None
    )
    return sorted(page.items, key=lambda line: (line.line.booked_on, line.line.amount.amount))


def _payments(ctx: ServiceContext, actor: Actor, customer_id: str) -> list[Payment]:
    return list(
        payments.list_payments(ctx, actor, customer_id=customer_id, status=None, limit=50, cursor=None).items
    )


def _balances(ctx: ServiceContext, actor: Actor) -> dict[str, str]:
    return {row["account"]: row["balance"]["amount"] for row in ledger.trial_balance(ctx, actor, None)}


def _status(ctx: ServiceContext, actor: Actor, invoice_id: str) -> tuple[InvoiceStatus, str]:
    invoice = invoicing.get_invoice(ctx, actor, invoice_id)
    return invoice.status, invoice.amount_remaining.amount_text()


_COUNTED = (
    bank_statements,
    statement_lines,
    payments_table,
    payment_allocations,
    journal_entries,
    audit_events,
)


def _rows(ctx: ServiceContext) -> dict[str, int]:
    with ctx.engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in _COUNTED
        }


# ---- statements: applied, reviewed, unidentified, money out -------------------------------------------------


def test_a_camt053_statement_applies_reviews_queues_and_ignores(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Acme owes INV-2026-00001 (100.00), Globex Corporation INV-2026-00002 (250.00), both due 16 March.
    The statement of 5 March: 100.00 naming INV-2026-00001 (1.00: applied, a bank transfer received on
    5 March); 250.00 from "GLOBEX CORP." naming nothing (a similar name 0.30 + the amount 0.40 = 0.70:
    review, suggesting INV-2026-00002); 55.55 from a stranger (unidentified: queued as unmatched); -89.90
    to the phone company (money out: ignored)."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    globex = _customer(ctx, actor, clock_id, "Globex Corporation")
    inv1, inv2 = _invoice(ctx, actor, acme, "100.00"), _invoice(ctx, actor, globex, "250.00")
    assert (inv1.number, inv2.number, inv1.due_date) == (
        "INV-2026-00001",
        "INV-2026-00002",
        date(2026, 3, 16),
    )
    day = date(2026, 3, 5)
    content = camt053([
        (day, "100.00", "Invoice INV-2026-00001", "Acme", IBAN_ACME),
        (day, "250.00", "March services", "GLOBEX CORP.", IBAN_GLOBEX),
        (day, "55.55", "Thanks", "Jane Stranger", IBAN_STRANGER),
        (day, "-89.90", "Phone March", "Telecom AG", "DE75512108001245126199"),
    ])  # fmt: skip

    statement, new = reconciliation.import_statement(ctx, actor, content, format="camt053")

    assert new is True
    assert (statement.format, statement.account, statement.currency, statement.statement_ref) == (
        "camt053", TENANT_IBAN, "EUR", "STMT-1")  # fmt: skip
    assert (statement.line_count, statement.new_lines) == (4, 4)
    assert (statement.opening.amount_text() if statement.opening else None,
            statement.closing.amount_text() if statement.closing else None) == ("1000.00", "1315.65")  # fmt: skip
    lines = _lines(ctx, actor, statement_id=statement.id)
    assert [(ln.line.amount.amount_text(), ln.status, ln.confidence, ln.customer_id) for ln in lines] == [
        ("-89.90", "ignored", "0.00", None),
        ("55.55", "unmatched", "0.00", None),
        ("100.00", "applied", "1.00", acme),
        ("250.00", "review", "0.70", globex),
    ]
    applied = lines[2]
    assert _status(ctx, actor, inv1.id) == (InvoiceStatus.PAID, "0.00")
    [payment] = _payments(ctx, actor, acme)
    assert applied.payment_id == payment.id
    assert (payment.amount.amount_text(), payment.status, payment.method_type.value, payment.received_on,
            payment.reference, payment.payer_name, payment.payer_iban) == (
        "100.00", PaymentStatus.SUCCEEDED, "bank_transfer", day, "Invoice INV-2026-00001", "Acme", IBAN_ACME)  # fmt: skip
    _, allocations, _ = payments.get_payment(ctx, actor, payment.id)
    assert [(a.invoice_id, a.amount.amount_text()) for a in allocations] == [(inv1.id, "100.00")]
    # the review line booked nothing: Globex still owes everything and has no payment
    assert _status(ctx, actor, inv2.id) == (InvoiceStatus.OPEN, "250.00")
    assert _payments(ctx, actor, globex) == []
    review = reconciliation.list_lines(
        ctx, actor, statement_id=None, status="review", limit=10, cursor=None
    ).items
    assert [ln.id for ln in review] == [lines[3].id]
    proposal = review[0].proposal
    assert (proposal["decision"], proposal["confidence"], proposal["customer_id"], proposal["allocations"],
            proposal["unapplied"]) == ("review", "0.70", globex, [{"invoice_id": inv2.id, "paid": {
                "amount": "250.00", "currency": "EUR"}}], {"amount": "0.00", "currency": "EUR"})  # fmt: skip
    assert "confidence 0.70 is below 0.90" in proposal["reasons"]
    unmatched = reconciliation.list_lines(
        ctx, actor, statement_id=None, status="unmatched", limit=10, cursor=None
    )
    assert [ln.line.amount.amount_text() for ln in unmatched.items] == ["55.55"]
    assert unmatched.items[0].proposal["reasons"] == [
        "unidentified: no invoice, customer or expected credit matches"
    ]
    assert (applied.resolved_at is not None, lines[3].resolved_at, lines[1].resolved_at) == (True, None, None)
    balances = _balances(ctx, actor)
    assert (balances["1000"], balances["1100"]) == ("100.00", "250.00")


def test_confirming_a_review_suggestion_pays_the_suggested_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """The 250.00 from "GLOBEX CORP." (review, 0.70) confirmed as suggested: a payment of 250.00 received
    on the booking day 6 March pays INV-2026-00001; the line is applied and leaves the queue."""
    globex = _customer(ctx, actor, clock_id, "Globex Corporation")
    inv = _invoice(ctx, actor, globex, "250.00")
    content = camt053([(date(2026, 3, 6), "250.00", "March services", "GLOBEX CORP.", IBAN_GLOBEX)])
    reconciliation.import_statement(ctx, actor, content)
    [line] = _lines(ctx, actor, "review")

    resolved = reconciliation.resolve_line(ctx, actor, line.id, {})

    [payment] = _payments(ctx, actor, globex)
    assert (resolved.status, resolved.customer_id, resolved.payment_id) == ("applied", globex, payment.id)
    assert resolved.resolved_at == T0  # the system clock's now
    assert (payment.amount.amount_text(), payment.received_on, payment.payer_iban) == (
        "250.00", date(2026, 3, 6), IBAN_GLOBEX)  # fmt: skip
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")
    assert _lines(ctx, actor, "review") == []
    assert [ln.id for ln in _lines(ctx, actor, "applied")] == [line.id]
    # the payer's IBAN is known now: the next transfer from it with the amount is applied by itself (0.90)
    inv2 = _invoice(ctx, actor, globex, "80.00")
    second = camt053([(date(2026, 3, 20), "80.00", "April", "Globex", IBAN_GLOBEX)], statement_id="STMT-2")
    reconciliation.import_statement(ctx, actor, second)
    assert _status(ctx, actor, inv2.id) == (InvoiceStatus.PAID, "0.00")
    with pytest.raises(Conflict) as error:
        reconciliation.resolve_line(ctx, actor, line.id, {})
    assert error.value.code == "invalid_state"


def test_confirming_a_suggestion_books_it_as_proposed(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Issue 7: 150.00 from a stranger names INV-2026-00001 (100.00) of Acme, which also owes INV-2026-00002
    (80.00): reviewed at 0.60 with 100.00 to the first and 50.00 unapplied. Confirmed as proposed, the second
    invoice stays owed and the 50.00 goes to Acme's credit balance (2200 = -50.00)."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv1, inv2 = _invoice(ctx, actor, acme, "100.00"), _invoice(ctx, actor, acme, "80.00")
    content = camt053([(date(2026, 3, 5), "150.00", "INV-2026-00001", "P. Unknown", IBAN_STRANGER)])
    reconciliation.import_statement(ctx, actor, content)
    [line] = _lines(ctx, actor, "review")
    assert (line.confidence, line.proposal["allocations"], line.proposal["unapplied"]) == (
        "0.60", [{"invoice_id": inv1.id, "paid": {"amount": "100.00", "currency": "EUR"}}],
        {"amount": "50.00", "currency": "EUR"})  # fmt: skip

    reconciliation.resolve_line(ctx, actor, line.id, {})

    assert _status(ctx, actor, inv1.id) == (InvoiceStatus.PAID, "0.00")
    assert _status(ctx, actor, inv2.id) == (InvoiceStatus.OPEN, "80.00")
    assert _balances(ctx, actor)["2200"] == "-50.00"


def test_a_review_line_assigned_to_another_customers_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Alpha and Beta each owe 121.00 and the line (121.00 from "Holding Services", no reference) names
    neither: review at 0.40 suggesting one, the other offered as an alternative. Assigned to Beta's
    invoice, it pays Beta's invoice; Alpha's stays open."""
    alpha = _customer(ctx, actor, clock_id, "Alpha")
    beta = _customer(ctx, actor, clock_id, "Beta")
    inv_a, inv_b = _invoice(ctx, actor, alpha, "121.00"), _invoice(ctx, actor, beta, "121.00")
    content = camt053([(date(2026, 3, 4), "121.00", "payment", "Holding Services", IBAN_STRANGER)])
    reconciliation.import_statement(ctx, actor, content)
    [line] = _lines(ctx, actor, "review")
    first, second = sorted([(alpha, inv_a.id), (beta, inv_b.id)])
    assert (line.confidence, line.customer_id) == ("0.40", first[0])
    assert line.proposal["alternatives"] == [
        {"customer_id": second[0], "invoice_ids": [second[1]], "expected_id": None, "confidence": "0.40"}
    ]

    resolved = reconciliation.resolve_line(ctx, actor, line.id, {"invoice_ids": [inv_b.id]})

    assert (resolved.status, resolved.customer_id) == ("applied", beta)
    assert _status(ctx, actor, inv_b.id) == (InvoiceStatus.PAID, "0.00")
    assert _status(ctx, actor, inv_a.id) == (InvoiceStatus.OPEN, "121.00")
    assert _payments(ctx, actor, alpha) == []
    [payment] = _payments(ctx, actor, beta)
    assert (resolved.payment_id, payment.amount.amount_text(), payment.received_on) == (
        payment.id, "121.00", date(2026, 3, 4))  # fmt: skip


def test_an_unidentified_line_assigned_to_a_customer_pays_its_oldest_invoice_and_credits_the_rest(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """60.00 nobody could place, assigned to Acme (owing 50.00 on INV-2026-00001): 50.00 pays the invoice,
    10.00 goes to Acme's credit balance (2200 customer credit balances, credit-side: -10.00)."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv = _invoice(ctx, actor, acme, "50.00")
    reconciliation.import_statement(ctx, actor, camt053([(date(2026, 3, 3), "60.00", "x", "J. Doe", None)]))
    [line] = _lines(ctx, actor, "unmatched")

    resolved = reconciliation.resolve_line(ctx, actor, line.id, {"customer_id": acme})

    assert (resolved.status, resolved.customer_id) == ("applied", acme)
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")
    [payment] = _payments(ctx, actor, acme)
    _, allocations, _ = payments.get_payment(ctx, actor, payment.id)
    assert [(a.invoice_id, a.amount.amount_text()) for a in allocations] == [(inv.id, "50.00")]
    balances = _balances(ctx, actor)
    assert (balances["1000"], balances["1100"], balances["2200"]) == ("60.00", "0.00", "-10.00")


def test_ignoring_a_line_books_nothing_and_closes_it(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Interest of 0.12 credited by the bank is no receivable: ignored, no payment, no journal entry; an
    ignored line cannot be applied afterwards."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    _invoice(ctx, actor, acme, "100.00")
    reconciliation.import_statement(
        ctx, actor, camt053([(date(2026, 3, 3), "0.12", "Interest", "Bank", None)])
    )
    [line] = _lines(ctx, actor, "unmatched")
    before = _rows(ctx)

    resolved = reconciliation.resolve_line(ctx, actor, line.id, {"action": "ignore"})

    assert (resolved.status, resolved.payment_id, resolved.resolved_at) == ("ignored", None, T0)
    assert _lines(ctx, actor, "unmatched") == []
    after = _rows(ctx)
    assert after == before | {"audit_events": before["audit_events"] + 1}
    with pytest.raises(Conflict) as error:
        reconciliation.resolve_line(ctx, actor, line.id, {"customer_id": acme})
    assert error.value.code == "invalid_state"
    with pytest.raises(DomainError) as bad:
        reconciliation.resolve_line(ctx, actor, line.id, {"action": "delete"})
    assert (bad.value.code, bad.value.field) == ("invalid_action", "action")


# ---- exactly once ------------------------------------------------------------------------------------------


def test_the_same_file_imported_twice_changes_nothing_the_second_time(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv = _invoice(ctx, actor, acme, "100.00")
    content = camt053([
        (date(2026, 3, 5), "100.00", "INV-2026-00001", "Acme", IBAN_ACME),
        (date(2026, 3, 5), "42.00", "?", "Someone", None),
    ])  # fmt: skip
    first, new = reconciliation.import_statement(ctx, actor, content)
    assert new is True
    before = _rows(ctx)

    again, new_again = reconciliation.import_statement(ctx, actor, content)

    assert (new_again, again.id, again.new_lines) == (False, first.id, 2)
    assert _rows(ctx) == before
    assert len(_payments(ctx, actor, acme)) == 1
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")


def test_an_overlapping_statement_imports_only_its_new_lines(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Statement 1 (5 March): 100.00 for INV-2026-00001 and 42.00 unidentified. Statement 2 repeats both and
    adds 75.00 for INV-2026-00002 on 6 March: 3 lines, 1 new; one payment more, one line more."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv1, inv2 = _invoice(ctx, actor, acme, "100.00"), _invoice(ctx, actor, acme, "75.00")
    old = [
        (date(2026, 3, 5), "100.00", "INV-2026-00001", "Acme", IBAN_ACME),
        (date(2026, 3, 5), "42.00", "?", "Someone", None),
    ]
    reconciliation.import_statement(ctx, actor, camt053(old, statement_id="STMT-1"))
    before = _rows(ctx)
    content = camt053(
        [*old, (date(2026, 3, 6), "75.00", "INV-2026-00002", "Acme", IBAN_ACME)], statement_id="STMT-2"
    )

    second, new = reconciliation.import_statement(ctx, actor, content)

    assert (new, second.line_count, second.new_lines) == (True, 3, 1)
    after = _rows(ctx)
    assert (after["bank_statements"], after["statement_lines"], after["payments"]) == (
        before["bank_statements"] + 1, before["statement_lines"] + 1, before["payments"] + 1)  # fmt: skip
    assert [
        (ln.line.amount.amount_text(), ln.status) for ln in _lines(ctx, actor, statement_id=second.id)
    ] == [("75.00", "applied")]
    assert (_status(ctx, actor, inv1.id), _status(ctx, actor, inv2.id)) == (
        (InvoiceStatus.PAID, "0.00"), (InvoiceStatus.PAID, "0.00"))  # fmt: skip
    assert sorted(p.amount.amount_text() for p in _payments(ctx, actor, acme)) == ["100.00", "75.00"]
    assert [ln.line.amount.amount_text() for ln in _lines(ctx, actor, "unmatched")] == ["42.00"]


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(lambda xml: xml.replace(b"<Amt Ccy=\"EUR\">33.00</Amt>", b"<Amt Ccy=\"EUR\">33,00</Amt>"),
                     id="bad-amount"),
        pytest.param(lambda xml: xml[: len(xml) - 40], id="truncated"),
        pytest.param(lambda xml: xml.replace(b"<BookgDt><Dt>2026-03-06</Dt></BookgDt><ValDt><Dt>2026-03-06</Dt>"
                                             b"</ValDt>", b""), id="no-booking-date"),
    ],
)  # fmt: skip
def test_a_malformed_file_imports_nothing(
    ctx: ServiceContext, actor: Actor, clock_id: str, breakage: Any
) -> None:
    """The first line would pay INV-2026-00001; the last one is broken: not one row is written and the
    invoice stays open."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv = _invoice(ctx, actor, acme, "100.00")
    content = camt053([
        (date(2026, 3, 5), "100.00", "INV-2026-00001", "Acme", IBAN_ACME),
        (date(2026, 3, 6), "33.00", "other", "Someone", None),
    ])  # fmt: skip
    broken = breakage(content)
    assert broken != content
    before = _rows(ctx)

    with pytest.raises(DomainError) as error:
        reconciliation.import_statement(ctx, actor, broken, format="camt053")

    assert error.value.code == "invalid_bank_file"
    assert _rows(ctx) == before
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.OPEN, "100.00")
    # ... and the good file still imports afterwards: the failure left no digest behind
    _, new = reconciliation.import_statement(ctx, actor, content)
    assert new is True
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")


# ---- other formats --------------------------------------------------------------------------------------------


def test_an_mt940_statement_reconciles(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """An MT940 line of 100.00 on 4 March with Dutch SEPA details naming INV-2026-00001: applied."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv = _invoice(ctx, actor, acme, "100.00")
    content = (
        ":20:STARTUMS\r\n:25:DE02120300000000202051\r\n:28C:00042/001\r\n:60F:C260303EUR1000,00\r\n"
        ":61:2603040304C100,00NTRFNONREF//B6030400001\r\n"
        f":86:/EREF/NOTPROVIDED/IBAN/{IBAN_ACME}/NAME/Acme/REMI/USTD//INV-2026-00001/\r\n"
        ":62F:C260304EUR1100,00\r\n-\r\n"
    ).encode()

    statement, new = reconciliation.import_statement(ctx, actor, content, format="mt940")

    assert (new, statement.format, statement.account, statement.line_count) == (True, "mt940", TENANT_IBAN, 1)
    [line] = _lines(ctx, actor, statement_id=statement.id)
    assert (line.status, line.confidence, line.line.bank_reference) == ("applied", "1.00", "B6030400001")
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")
    [payment] = _payments(ctx, actor, acme)
    assert (payment.received_on, payment.payer_iban, payment.amount.amount_text()) == (
        date(2026, 3, 4), IBAN_ACME, "100.00")  # fmt: skip


def test_a_csv_statement_with_a_mapping_reconciles(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """A German CSV export (semicolons, 1.234,56 amounts, dd.mm.yyyy) read through its mapping: 1.234,56
    from a payer kassa does not know by name or IBAN, naming INV-2026-00001 tolerantly ("INV 2026 1": 0.50)
    with its amount (0.40) is 0.90, applied; the bank's fee (money out) is ignored."""
    acme = _customer(ctx, actor, clock_id, "Acme")
    inv = _invoice(ctx, actor, acme, "1234.56")
    content = (
        "Buchungstag;Betrag;Verwendungszweck;Name;IBAN\n"
        f"07.03.2026;1.234,56;Rechnung INV 2026 1;M. Mustermann;{IBAN_ACME}\n"
        "07.03.2026;-12,00;Kontogebuehr;Bank;\n"
    ).encode()
    mapping = {"date": "Buchungstag", "date_format": "%d.%m.%Y", "amount": "Betrag", "currency": "EUR",
               "reference": "Verwendungszweck", "counterparty_name": "Name", "counterparty_iban": "IBAN",
               "decimal_separator": ",", "thousands_separator": ".", "delimiter": ";"}  # fmt: skip

    statement, new = reconciliation.import_statement(ctx, actor, content, format="csv", mapping=mapping)

    assert (new, statement.format, statement.line_count) == (True, "csv", 2)
    assert [(ln.line.amount.amount_text(), ln.status, ln.confidence) for ln in _lines(ctx, actor)] == [
        ("-12.00", "ignored", "0.00"),
        ("1234.56", "applied", "0.90"),
    ]
    assert "reference names INV-2026-00001 (spelled differently)" in _lines(ctx, actor)[1].proposal["reasons"]
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")
    [payment] = _payments(ctx, actor, acme)
    assert (payment.received_on, payment.amount.amount_text()) == (date(2026, 3, 7), "1234.56")


# ---- gateway payouts --------------------------------------------------------------------------------------------


def test_a_payout_on_the_statement_settles_payments_in_transit_into_cash_and_fees(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Two card payments (100.00 and 50.00) sit in 1050 payments in transit. The sandbox pays them out on
    5 March as po_sbx_0001: fees 1.4 % + 0.25 each = 1.65 + 0.95 = 2.60, net 147.40. The statement's
    147.40 naming the payout settles it: 1000 cash 147.40, 6300 fees 2.60, 1050 back to 0.00."""
    refs = []
    for name, amount in (("Acme", "100.00"), ("Globex", "50.00")):
        cid = _customer(ctx, actor, clock_id, name, payment_terms_days=0)
        payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": "tok_sandbox_success"})
        _invoice(ctx, actor, cid, amount)
        refs.append(cid)
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 2, 9, tzinfo=UTC))
    charges = []
    for cid in refs:
        [payment] = _payments(ctx, actor, cid)
        assert payment.status is PaymentStatus.SUCCEEDED and payment.gateway_ref
        charges.append((payment.gateway_ref, payment.amount))
    assert _balances(ctx, actor)["1050"] == "150.00"
    gateway = ctx.gateways["sandbox"]
    assert isinstance(gateway, SandboxGateway)
    report = gateway.payout_report(charges, arrival_on=date(2026, 3, 5), payout_ref="po_sbx_0001")

    [payout] = reconciliation.import_payout_report(ctx, actor, "sandbox", report)

    assert (payout.ref, payout.gross.amount_text(), payout.fee.amount_text(), payout.net.amount_text(),
            payout.arrival_on, payout.statement_line_id) == (
        "po_sbx_0001", "150.00", "2.60", "147.40", date(2026, 3, 5), None)  # fmt: skip
    assert reconciliation.import_payout_report(ctx, actor, "sandbox", report) == []  # known: skipped
    content = camt053([(date(2026, 3, 6), "147.40", "SANDBOX PAYOUT po_sbx_0001", "Sandbox Payments", None)])

    reconciliation.import_statement(ctx, actor, content)

    [line] = _lines(ctx, actor)
    assert (line.status, line.confidence, line.payout_id, line.customer_id, line.payment_id) == (
        "applied", "1.00", payout.id, None, None)  # fmt: skip
    [settled] = reconciliation.list_payouts(ctx, actor, limit=10, cursor=None).items
    assert settled.statement_line_id == line.id
    balances = _balances(ctx, actor)
    assert (balances["1000"], balances["6300"], balances["1050"], balances["1100"]) == (
        "147.40", "2.60", "0.00", "0.00")  # fmt: skip


# ---- SEPA direct debit ----------------------------------------------------------------------------------------


def _sepa_customer(ctx: ServiceContext, actor: Actor, clock_id: str, name: str, mandate: str) -> str:
    cid = _customer(ctx, actor, clock_id, name, payment_terms_days=0)
    payments.add_payment_method(ctx, actor, cid, {"type": "sepa_debit", "iban": DEBTOR_IBAN, "mandate_id": mandate,
                                                  "mandate_signed_on": "2026-02-01"})  # fmt: skip
    return cid


@pytest.fixture
def creditor(ctx: ServiceContext, actor: Actor) -> None:
    tenants.update_settings(ctx, actor, {"legal_name": "Nordlicht GmbH", "sepa_creditor_id": CREDITOR_ID,
                                         "bank": {"iban": TENANT_IBAN, "bic": "BYLADEM1001"}})  # fmt: skip


def _pending_debit(ctx: ServiceContext, actor: Actor, customer_id: str) -> Payment:
    [payment] = _payments(ctx, actor, customer_id)
    assert (payment.status, payment.gateway, payment.method_type.value) == (
        PaymentStatus.PENDING, "sepa", "sepa_debit")  # fmt: skip
    return payment


def test_a_sepa_batch_is_exported_and_settled_by_the_banks_credit(
    ctx: ServiceContext, actor: Actor, clock_id: str, creditor: None
) -> None:
    """Acme pays by SEPA direct debit: its 100.00 invoice (due on receipt) becomes a pending debit, the
    pain.008 file carries it (FRST, collected 4 March, two business days after Monday 2 March), and the
    bank's credit of 100.00 naming the file's message id on 4 March settles it: the payment succeeds, the
    invoice is paid, 1000 cash 100.00 and 1050 in transit 0.00. Acme's next debit goes out as RCUR."""
    acme = _sepa_customer(ctx, actor, clock_id, "Acme", "MNDT-0001")
    inv = _invoice(ctx, actor, acme, "100.00")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 2, 9, tzinfo=UTC))
    debit = _pending_debit(ctx, actor, acme)
    assert (debit.amount.amount_text(), debit.invoice_id, debit.gateway_ref) == ("100.00", inv.id, debit.id)

    message_id, xml, count = sepa.export_batch(ctx, actor, {})

    assert count == 1 and message_id.startswith("sdd_")
    text = xml.decode()
    for fragment in (f"<MsgId>{message_id}</MsgId>", "<NbOfTxs>1</NbOfTxs>", "<CtrlSum>100.00</CtrlSum>",
                     f"<EndToEndId>{debit.id}</EndToEndId>", '<InstdAmt Ccy="EUR">100.00</InstdAmt>',
                     "<MndtId>MNDT-0001</MndtId>", "<DtOfSgntr>2026-02-01</DtOfSgntr>", "<SeqTp>FRST</SeqTp>",
                     "<ReqdColltnDt>2026-03-04</ReqdColltnDt>", f"<Id>{CREDITOR_ID}</Id>",
                     f"<IBAN>{DEBTOR_IBAN}</IBAN>", f"<IBAN>{TENANT_IBAN}</IBAN>", "<Ustrd>INV-2026-00001</Ustrd>"):  # fmt: skip
        assert fragment in text, fragment
    assert _pending_debit(ctx, actor, acme).reference == message_id
    with pytest.raises(DomainError) as nothing:
        sepa.export_batch(ctx, actor, {})  # a debit goes into one file only
    assert nothing.value.code == "nothing_to_collect"
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.OPEN, "100.00")
    content = camt053([(date(2026, 3, 4), "100.00", f"SEPA-SAMMLER {message_id}", "Nordlicht GmbH", None)])

    reconciliation.import_statement(ctx, actor, content)

    [line] = _lines(ctx, actor)
    assert (line.status, line.confidence, line.payout_id) == ("applied", "1.00", f"sepa:{message_id}")
    [paid] = _payments(ctx, actor, acme)
    assert (paid.id, paid.status) == (debit.id, PaymentStatus.SUCCEEDED)
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")
    balances = _balances(ctx, actor)
    assert (balances["1000"], balances["1050"], balances["1100"]) == ("100.00", "0.00", "0.00")
    # the mandate has been collected under: Acme's next debit is a recurring one
    _invoice(ctx, actor, acme, "20.00")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 2, 10, tzinfo=UTC))
    [following] = [p for p in _payments(ctx, actor, acme) if p.status is PaymentStatus.PENDING]
    _, xml2, count2 = sepa.export_batch(ctx, actor, {})
    assert count2 == 1
    assert (
        "<SeqTp>RCUR</SeqTp>" in xml2.decode() and f"<EndToEndId>{following.id}</EndToEndId>" in xml2.decode()
    )


def test_sepa_rejects_and_returns_fail_pending_debits_with_their_decline_codes(
    ctx: ServiceContext, actor: Actor, clock_id: str, creditor: None
) -> None:
    """One file of three debits: Acme 50.00, Beta 40.00, Gamma 30.00. The bank's pain.002 rejects Beta's
    (AC04: account_closed), its camt.054 returns Gamma's (AM04: insufficient_funds) and names a debit kassa
    never made (unknown); both fail. The bank then credits only Acme's 50.00 for the file: the batch
    expected is what is still pending, so the credit applies and settles Acme's debit alone."""
    ids = {
        name: _sepa_customer(ctx, actor, clock_id, name, f"MNDT-{name}") for name in ("Acme", "Beta", "Gamma")
    }
    invoices = {name: _invoice(ctx, actor, ids[name], amount)
                for name, amount in (("Acme", "50.00"), ("Beta", "40.00"), ("Gamma", "30.00"))}  # fmt: skip
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 2, 9, tzinfo=UTC))
    debits = {name: _pending_debit(ctx, actor, cid) for name, cid in ids.items()}
    message_id, _, count = sepa.export_batch(ctx, actor, {"collection_date": "2026-03-05"})
    assert count == 3

    rejected = sepa.import_returns(ctx, actor, pain002_rejects(message_id, [(debits["Beta"].id, "40.00", "AC04")],
                                                               created=date(2026, 3, 3)))  # fmt: skip
    returned = sepa.import_returns(ctx, actor, camt054_returns(
        [(debits["Gamma"].id, "30.00", "AM04"), ("pay_NOT_OURS", "9.99", "AC01")], booked_on=date(2026, 3, 6)))  # fmt: skip

    assert rejected == {"failed": 1, "reversed": 0, "unknown": 0, "duplicate": 0}
    assert returned == {"failed": 1, "reversed": 0, "unknown": 1, "duplicate": 0}
    beta, gamma = (payments.get_payment(ctx, actor, debits[n].id)[0] for n in ("Beta", "Gamma"))
    assert (beta.status, beta.decline_code, beta.failure_message) == (
        PaymentStatus.FAILED, DeclineCode.ACCOUNT_CLOSED, "SEPA reject AC04")  # fmt: skip
    assert (gamma.status, gamma.decline_code, gamma.failure_message) == (
        PaymentStatus.FAILED, DeclineCode.INSUFFICIENT_FUNDS, "SEPA return AM04")  # fmt: skip
    assert _status(ctx, actor, invoices["Beta"].id) == (InvoiceStatus.OPEN, "40.00")
    assert _status(ctx, actor, invoices["Gamma"].id) == (InvoiceStatus.OPEN, "30.00")
    # the same report again: nothing more fails
    again = sepa.import_returns(ctx, actor, camt054_returns([(debits["Gamma"].id, "30.00", "AM04")],
                                                            booked_on=date(2026, 3, 6)))  # fmt: skip
    assert again == {"failed": 0, "reversed": 0, "unknown": 0, "duplicate": 1}

    reconciliation.import_statement(ctx, actor, camt053(
        [(date(2026, 3, 5), "50.00", f"SEPA {message_id}", "Nordlicht GmbH", None)]))  # fmt: skip

    [line] = _lines(ctx, actor)
    assert (line.status, line.payout_id) == ("applied", f"sepa:{message_id}")
    acme = payments.get_payment(ctx, actor, debits["Acme"].id)[0]
    assert acme.status is PaymentStatus.SUCCEEDED
    assert _status(ctx, actor, invoices["Acme"].id) == (InvoiceStatus.PAID, "0.00")
    balances = _balances(ctx, actor)
    assert (balances["1000"], balances["1050"], balances["1100"]) == ("50.00", "0.00", "70.00")


def _credited_debit(ctx: ServiceContext, actor: Actor, clock_id: str) -> tuple[str, Invoice, Payment]:
    acme = _sepa_customer(ctx, actor, clock_id, "Acme", "MNDT-0001")
    inv = _invoice(ctx, actor, acme, "50.00")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 2, 9, tzinfo=UTC))
    debit = _pending_debit(ctx, actor, acme)
    message_id, _, _ = sepa.export_batch(ctx, actor, {})
    reconciliation.import_statement(ctx, actor, camt053(
        [(date(2026, 3, 4), "50.00", f"SEPA {message_id}", "Nordlicht GmbH", None)]))  # fmt: skip
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.PAID, "0.00")
    return acme, inv, debit


def test_a_refund_of_a_credited_debit_reverses_it(ctx: ServiceContext, actor: Actor, clock_id: str,
                                                  creditor: None) -> None:  # fmt: skip
    """Acme's 50.00 debit was credited with its batch; eight weeks' refund right (MD06) comes back on a
    camt.054: the payment is reversed like a chargeback (disputed 50.00) and the invoice is owed again."""
    _, inv, debit = _credited_debit(ctx, actor, clock_id)

    counts = sepa.import_returns(
        ctx, actor, camt054_returns([(debit.id, "50.00", "MD06")], booked_on=date(2026, 3, 9))
    )

    assert counts == {"failed": 0, "reversed": 1, "unknown": 0, "duplicate": 0}
    reversed_ = payments.get_payment(ctx, actor, debit.id)[0]
    assert (reversed_.status, reversed_.disputed.amount_text()) == (PaymentStatus.SUCCEEDED, "50.00")
    assert _status(ctx, actor, inv.id) == (InvoiceStatus.OPEN, "50.00")
    assert _balances(ctx, actor)["1100"] == "50.00"
    again = sepa.import_returns(
        ctx, actor, camt054_returns([(debit.id, "50.00", "MD06")], booked_on=date(2026, 3, 9))
    )
    assert again == {"failed": 0, "reversed": 0, "unknown": 0, "duplicate": 1}


def test_a_return_after_the_batch_was_credited_leaves_cash(ctx: ServiceContext, actor: Actor, clock_id: str,
                                                          creditor: None) -> None:  # fmt: skip
    """Issue 7: the batch's credit moved Acme's 50.00 into cash (1000); the bank takes the MD06 refund from
    that account, so cash goes back to 0.00, payments in transit stays 0.00 and the receivable is 50.00."""
    _, _, debit = _credited_debit(ctx, actor, clock_id)
    assert (_balances(ctx, actor)["1000"], _balances(ctx, actor)["1050"]) == ("50.00", "0.00")

    sepa.import_returns(
        ctx, actor, camt054_returns([(debit.id, "50.00", "MD06")], booked_on=date(2026, 3, 9))
    )

    balances = _balances(ctx, actor)
    assert (balances["1000"], balances["1050"], balances["1100"]) == ("0.00", "0.00", "50.00")


# ---- receivables aging ------------------------------------------------------------------------------------------


def test_receivables_aging_buckets_on_a_given_day(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """On 30 June 2026, Acme owes 100.00 due that day (current), 200.00 due 10 days before (1-30) and
    300.00 due 45 days before (31-60); Beta owes 400.00 due 75 days before (61-90) and 500.00 due 120 days
    before (over 90), of which it paid 50.00. A paid invoice does not count."""
    on = date(2026, 6, 30)
    acme = _customer(ctx, actor, None, "Acme", payment_terms_days=0, time_zone="UTC")
    beta = _customer(ctx, actor, None, "Beta", payment_terms_days=0, time_zone="UTC")
    made = {}
    for cid, days, amount in ((acme, 0, "100.00"), (acme, 10, "200.00"), (acme, 45, "300.00"),
                              (beta, 75, "400.00"), (beta, 120, "500.00"), (acme, 50, "999.00")):  # fmt: skip
        clock.at = datetime.combine(
            date.fromordinal(on.toordinal() - days), datetime.min.time(), UTC
        ).replace(hour=12)
        made[(cid, days)] = inv = _invoice(ctx, actor, cid, amount)
        assert inv.due_date == date.fromordinal(on.toordinal() - days)
    payments.record_payment(
        ctx, actor, {"customer_id": beta, "amount": "50.00", "invoice_ids": [made[(beta, 120)].id]}
    )
    payments.record_payment(
        ctx, actor, {"customer_id": acme, "amount": "999.00", "invoice_ids": [made[(acme, 50)].id]}
    )

    report = reconciliation.receivables_aging(ctx, actor, on)

    zero = {"current": "0.00", "1_30": "0.00", "31_60": "0.00", "61_90": "0.00", "over_90": "0.00"}
    assert report == {
        "object": "receivables_aging",
        "on": "2026-06-30",
        "totals": [{"currency": "EUR", "current": "100.00", "1_30": "200.00", "31_60": "300.00",
                    "61_90": "400.00", "over_90": "450.00", "total": "1450.00"}],
        "customers": sorted([
            {"customer_id": acme, "name": "Acme", "currency": "EUR", **zero, "current": "100.00", "1_30": "200.00",
             "31_60": "300.00", "total": "600.00"},
            {"customer_id": beta, "name": "Beta", "currency": "EUR", **zero, "61_90": "400.00", "over_90": "450.00",
             "total": "850.00"},
        ], key=lambda row: row["customer_id"]),
    }  # fmt: skip
    # a day later everything has aged by one day: the invoice due on 30 June is 1 day late
    later = reconciliation.receivables_aging(ctx, actor, date(2026, 7, 1))
    assert {k: later["totals"][0][k] for k in ("current", "1_30")} == {"current": "0.00", "1_30": "300.00"}
