"""Issue 6: a finalized invoice is emailed by the worker through a real SMTP server (aiosmtpd on loopback),
the PDF attached. A permanent refusal (5xx) is a bounce: recorded on the invoice, announced as
`invoice.email_bounced`, never retried. A temporary one (4xx) fails the job, which is retried with backoff
until the server takes the message. Runs on SQLite and PostgreSQL.

The invoice: one line, 1 × 100.00 consulting, sold from Berlin to a customer in Munich: 19 % VAT 19.00,
total 119.00, INV-2026-00001 (the `clock` fixture's present is 1 Jan 2026, 09:00 UTC)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from kassa.adapters.mail.smtp import SmtpMailer
from kassa.core.audit import Actor
from kassa.core.invoicing import Invoice
from kassa.core.jobs import JobStatus, retry_delay
from kassa.services import customers, events, invoicing, jobs, tenants
from kassa.services.context import ServiceContext
from kassa.services.emails import EMAIL_JOB
from kassa.store.tables import jobs as jobs_table
from tests.conftest import SettableClock

RECIPIENT = "ap@customer.test"


@dataclass
class Inbox:
    """What the server received, and how it answers (tests change the answers before the worker runs)."""

    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    rcpt_reply: str = "250 OK"
    data_reply: str = "250 2.0.0 Ok: queued as Q1"


class Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.inbox.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.inbox.rcpt_reply

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.inbox.data_reply.startswith("250"):
            assert isinstance(envelope.original_content, bytes)
            parsed = message_from_bytes(
                envelope.original_content.replace(b"\r\n", b"\n"), policy=policy.default
            )
            assert isinstance(parsed, EmailMessage)
            self.inbox.received.append((list(envelope.rcpt_tos), parsed))
        return self.inbox.data_reply


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Inbox(port=port)
    controller = Controller(Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def mailing(ctx: ServiceContext, inbox: Inbox) -> ServiceContext:
    """The test context with a real SMTP mailer pointed at the inbox."""
    return replace(ctx, mailer=SmtpMailer(f"smtp://127.0.0.1:{inbox.port}"))


def finalized_invoice(ctx: ServiceContext, actor: Actor) -> Invoice:
    tenants.update_settings(ctx, actor, {
        "legal_name": "Nordlicht GmbH",
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
    })  # fmt: skip
    cid = customers.create_customer(ctx, actor, {
        "external_id": "acme", "name": "Acme AG", "currency": "EUR", "emails": [RECIPIENT],
        "address": {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"},
    }).id  # fmt: skip
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": cid, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": "100.00"}]})  # fmt: skip
    final = invoicing.finalize_invoice(ctx, actor, draft.id)
    assert (final.number, final.total.amount_text(), final.email_status) == ("INV-2026-00001", "119.00", None)
    return final


def email_job(ctx: ServiceContext, invoice_id: str) -> tuple[JobStatus, int, str | None]:
    c = jobs_table.c
    with ctx.uow(read_only=True) as uow:
        row = uow.conn.execute(
            sa.select(jobs_table).where(c.kind == EMAIL_JOB, c.dedupe_key == invoice_id)
        ).one()
    return JobStatus(row.status), row.attempts, row.last_error


def event_types(ctx: ServiceContext, actor: Actor, invoice_id: str) -> list[str]:
    page = events.list_events(ctx, actor.tenant_id, object_id=invoice_id, limit=100)
    return sorted(e.type for e in page.items)


def test_the_worker_emails_the_finalized_invoice_with_its_pdf(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """After finalization the email job sends one message to the buyer: the number in the subject, the
    amount due in the text, the PDF attached under the invoice's number; then email_status is "sent"
    and an invoice.emailed event says so. Running the jobs again sends nothing more."""
    invoice = finalized_invoice(mailing, actor)

    assert jobs.run_due_jobs(mailing) == 1
    [(rcpt_tos, message)] = inbox.received
    assert rcpt_tos == [RECIPIENT]
    assert message["To"] == RECIPIENT
    assert message["Subject"] == "Invoice INV-2026-00001 from Acme Billing"
    assert message["Message-ID"] == f"<{invoice.id}@localhost>"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and "Amount due: 119.00 EUR" in body.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "INV-2026-00001.pdf"
    content = attachment.get_content()
    assert isinstance(content, bytes) and content.startswith(b"%PDF")
    assert invoicing.get_invoice(mailing, actor, invoice.id).email_status == "sent"
    assert "invoice.emailed" in event_types(mailing, actor, invoice.id)
    assert email_job(mailing, invoice.id) == (JobStatus.DONE, 1, None)

    assert jobs.run_due_jobs(mailing) == 0
    assert len(inbox.received) == 1


def test_a_550_is_a_bounce_recorded_and_announced_not_retried(
    mailing: ServiceContext, actor: Actor, inbox: Inbox, clock: SettableClock
) -> None:
    """The server refuses the only recipient for good (550 no such user): email_status "bounced", an
    invoice.email_bounced event with the code and the address, the job done; an hour later nothing is
    sent again."""
    invoice = finalized_invoice(mailing, actor)
    inbox.rcpt_reply = "550 5.1.1 no such user"

    assert jobs.run_due_jobs(mailing) == 1
    assert inbox.received == []
    assert invoicing.get_invoice(mailing, actor, invoice.id).email_status == "bounced"
    [bounced] = events.list_events(mailing, actor.tenant_id, type="invoice.email_bounced", limit=10).items
    assert (bounced.object_id, bounced.data) == (
        invoice.id,
        {"invoice_id": invoice.id, "code": 550, "recipients": [RECIPIENT]},
    )
    assert "invoice.emailed" not in event_types(mailing, actor, invoice.id)
    assert email_job(mailing, invoice.id) == (JobStatus.DONE, 1, None)

    inbox.rcpt_reply = "250 OK"
    clock.advance(timedelta(hours=1))
    jobs.run_due_jobs(mailing)  # the finalize job of the draft is due now; it finds the invoice final
    assert inbox.received == []
    assert invoicing.get_invoice(mailing, actor, invoice.id).email_status == "bounced"


def test_a_451_fails_the_job_which_is_retried_until_the_server_takes_it(
    mailing: ServiceContext, actor: Actor, inbox: Inbox, clock: SettableClock
) -> None:
    """451 to the message: nothing delivered, the job failed once and waits retry_delay(1) = 1 minute,
    the invoice's email status still unset. A minute later the server takes it: one message, "sent"."""
    invoice = finalized_invoice(mailing, actor)
    inbox.data_reply = "451 4.3.0 try again later"

    assert jobs.run_due_jobs(mailing) == 1
    assert inbox.received == []
    status, attempts, error = email_job(mailing, invoice.id)
    assert (status, attempts) == (JobStatus.PENDING, 1)
    assert error is not None and "451" in error
    assert invoicing.get_invoice(mailing, actor, invoice.id).email_status is None
    assert event_types(mailing, actor, invoice.id) == ["invoice.created", "invoice.finalized"]

    inbox.data_reply = "250 2.0.0 Ok: queued as Q2"
    clock.advance(retry_delay(1) - timedelta(seconds=1))
    assert jobs.run_due_jobs(mailing) == 0
    clock.advance(timedelta(seconds=1))
    assert jobs.run_due_jobs(mailing) == 1
    assert len(inbox.received) == 1
    assert invoicing.get_invoice(mailing, actor, invoice.id).email_status == "sent"
    assert email_job(mailing, invoice.id) == (JobStatus.DONE, 2, None)


def test_a_sender_with_a_display_name_gives_the_message_id_its_bare_domain(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """Issue 9 review: the Message-ID domain was `mail_from.rpartition("@")`, which keeps the closing ">" of
    KASSA_MAIL_FROM "Acme Billing <billing@acme.test>": OutgoingEmail refused `<id@acme.test>>` and the invoice
    email never went out. The domain is the sender address's own (adapters/mail/base.py message_id_domain)."""
    sending = replace(
        mailing, settings=replace(mailing.settings, mail_from="Acme Billing <billing@acme.test>")
    )
    invoice = finalized_invoice(sending, actor)

    assert jobs.run_due_jobs(sending) == 1
    [(_, message)] = inbox.received
    assert (message["From"], message["Message-ID"]) == (
        "Acme Billing <billing@acme.test>",
        f"<{invoice.id}@acme.test>",
    )
    assert email_job(sending, invoice.id) == (JobStatus.DONE, 1, None)
