"""Invoices by email: the worker renders the PDF and sends it through SMTP, off the bill run's path.

A temporary failure (server down, 4xx) fails the job, which the job runner retries with backoff; a bounce
(a permanent refusal of the message) is recorded on the invoice and announced, not retried. Without an
SMTP server configured the invoice is marked `not_sent` instead of retrying forever.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from kassa.adapters.mail.base import Attachment, MailRejected, NoMailer, OutgoingEmail, message_id_domain
from kassa.core.audit import system_actor
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice
from kassa.core.jobs import Job
from kassa.services import audit, events, jobs
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

EMAIL_JOB = "invoicing.email"


def invoice_email(
    ctx: ServiceContext, invoice: Invoice, pdf: bytes, sent_at: datetime
) -> OutgoingEmail | None:
    buyer = invoice.parties.get("buyer", {})
    recipients = tuple(buyer.get("emails") or ())
    if not recipients:
        return None
    seller = invoice.parties.get("seller", {}).get("name") or "kassa"
    due = invoice.amount_remaining
    text = (f"Hello {buyer.get('name', '')},\n\nplease find attached invoice {invoice.number} from {seller}.\n"
            f"Amount due: {due.amount_text()} {due.currency}"
            + (f", due on {invoice.due_date.isoformat()}" if invoice.due_date and due.amount > 0 else "") + ".\n")  # fmt: skip
    domain = message_id_domain(ctx.settings.mail_from)
    return OutgoingEmail(
        sender=ctx.settings.mail_from, to=recipients, subject=f"Invoice {invoice.number} from {seller}", text=text,
        attachments=(Attachment(filename=f"{invoice.number}.pdf", content_type="application/pdf", content=pdf),),
        message_id=f"<{invoice.id}@{domain}>", headers={"Date": format_datetime(sent_at)},
    )  # fmt: skip


@jobs.handles(EMAIL_JOB)
def _send(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    invoice = uow.invoices.get(job.tenant_id, job.payload["invoice_id"])
    if invoice.email_status in ("sent", "bounced"):
        return
    actor = system_actor(job.tenant_id, "mailer")
    if isinstance(ctx.mailer, NoMailer):
        uow.invoices.set_email_status(job.tenant_id, invoice.id, "not_sent")
        return
    locale = invoice.parties.get("buyer", {}).get("locale") or "en"
    template = uow.tenants.get(job.tenant_id).settings.invoice_template
    email = invoice_email(
        ctx, invoice, ctx.documents.invoice_pdf(invoice, locale=locale, template=template), now
    )
    if email is None:
        uow.invoices.set_email_status(job.tenant_id, invoice.id, "no_recipient")
        return
    try:
        reply = ctx.mailer.send(email)  # MailDeferred propagates: the job is retried later
    except MailRejected as bounce:
        uow.invoices.set_email_status(job.tenant_id, invoice.id, "bounced")
        audit.record(ctx, uow, actor, EventType.INVOICE_EMAIL_BOUNCED.value, object_type="invoice", object_id=invoice.id,
                     before=None, after={"code": bounce.code, "recipients": list(bounce.recipients)}, at=now)  # fmt: skip
        events.emit(ctx, uow, job.tenant_id, EventType.INVOICE_EMAIL_BOUNCED.value, object_type="invoice",
                    object_id=invoice.id, data={"invoice_id": invoice.id, "code": bounce.code,
                                                "recipients": list(bounce.recipients)},
                    at=now, customer_id=invoice.customer_id)  # fmt: skip
        return
    uow.invoices.set_email_status(job.tenant_id, invoice.id, "sent")
    events.emit(ctx, uow, job.tenant_id, EventType.INVOICE_EMAILED.value, object_type="invoice", object_id=invoice.id,
                data={"invoice_id": invoice.id, "to": list(email.to), "reply": reply}, at=now,
                customer_id=invoice.customer_id)  # fmt: skip


# ---- dunning notices -----------------------------------------------------------------------------------

NOTICE_JOB = "dunning.notice"
_NOTICES = {
    "reminder": ("Reminder: invoice {number} is overdue",
                 "our records show that invoice {number} of {amount}, due on {due}, is not paid yet."),
    "suspension_notice": ("Invoice {number}: service will be suspended",
                          "invoice {number} of {amount} was due on {due}. Unless it is paid, the service will be "
                          "suspended."),
    "card_expiring": ("Your card expires before invoice {number} is due",
                      "the card we charge for invoice {number} ({amount}, due on {due}) expires before then. Please "
                      "add a new card or payment method."),
    "requires_action": ("Invoice {number}: please confirm your payment",
                        "your bank asks you to confirm the payment of invoice {number} ({amount})."),
}  # fmt: skip


def notice_email(ctx: ServiceContext, invoice: Invoice, kind: str, action_url: str | None,
                 sent_at: datetime) -> OutgoingEmail | None:  # fmt: skip
    """A dunning reminder, a suspension notice, or a request to authenticate a payment: plain text, with
    the link to complete authentication when a charge waits for it, else how to pay by transfer."""
    buyer = invoice.parties.get("buyer", {})
    recipients = tuple(buyer.get("emails") or ())
    if not recipients or kind not in _NOTICES:
        return None
    seller = invoice.parties.get("seller", {})
    due = invoice.amount_remaining
    subject, body = _NOTICES[kind]
    fields = {"number": invoice.number, "amount": f"{due.amount_text()} {due.currency}",
              "due": invoice.due_date.isoformat() if invoice.due_date else ""}  # fmt: skip
    bank = seller.get("bank") or {}
    how = (f"Please confirm it here: {action_url}" if action_url else
           f"Please transfer it to IBAN {bank['iban']} with the reference {invoice.number}." if bank.get("iban") else
           "Please pay it at your earliest convenience.")  # fmt: skip
    text = f"Hello {buyer.get('name', '')},\n\n{body.format(**fields)}\n{how}\n\n{seller.get('name') or ''}\n"
    domain = message_id_domain(ctx.settings.mail_from)
    return OutgoingEmail(sender=ctx.settings.mail_from, to=recipients, subject=subject.format(**fields), text=text,
                         message_id=f"<{invoice.id}.{kind}.{int(sent_at.timestamp())}@{domain}>",
                         headers={"Date": format_datetime(sent_at)})  # fmt: skip


@jobs.handles(NOTICE_JOB)
def _send_notice(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    invoice = uow.invoices.get(job.tenant_id, job.payload["invoice_id"])
    send_notice(ctx, invoice, job.payload["kind"], job.payload.get("action_url"), now)


def send_notice(
    ctx: ServiceContext, invoice: Invoice, kind: str, action_url: str | None, now: datetime
) -> None:
    """MailDeferred propagates (the job runs again later); a bounce is dropped: the next step, or the invoice
    email's own bounce, tells the tenant."""
    if isinstance(ctx.mailer, NoMailer):
        return
    email = notice_email(ctx, invoice, kind, action_url, now)
    if email is None:
        return
    try:
        ctx.mailer.send(email)
    except MailRejected:
        return
