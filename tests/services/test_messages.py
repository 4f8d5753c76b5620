"""Lifecycle messages through a real SMTP server (aiosmtpd on loopback), on SQLite and PostgreSQL (issue 9):
a new German customer's welcome email with its one-click unsubscribe headers; the trial-ending email exactly
3 days before a 14-day trial ends on a test clock; a payment-failed email with the tenant's update link; an
unsubscribed customer's renewal reminder suppressed while the payment-failed one still goes; the renewal
reminder 7 days before with the upcoming invoice's amount; a bounce, and no SMTP server, are failed messages;
every message sent is message.sent on the customer's timeline.

The test clock's present is 1 Jan 2026 09:00 UTC (the `clock` fixture) unless a test clock says otherwise."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from kassa.adapters.mail.smtp import SmtpMailer
from kassa.core.audit import Actor
from kassa.core.customers import Customer
from kassa.core.events import Event
from kassa.core.jobs import retry_delay
from kassa.services import (
    catalog,
    customers,
    events,
    invoicing,
    jobs,
    messages,
    payments,
    subscriptions,
    test_clocks,
)
from kassa.services.context import ServiceContext
from kassa.services.message_delivery import RENEWAL_JOB, TRIAL_JOB
from kassa.store.tables import jobs as jobs_table
from tests.conftest import SettableClock
from tests.services.test_invoice_email import Handler, Inbox
from tests.services.test_subscriptions import example


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


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
def on(ctx: ServiceContext, actor: Actor) -> None:
    """The tenant turned lifecycle messages on (they are off by default)."""
    messages.put_settings(ctx, actor, {"enabled": True})


@pytest.fixture
def mailing(ctx: ServiceContext, inbox: Inbox, on: None) -> ServiceContext:
    return replace(ctx, mailer=SmtpMailer(f"smtp://127.0.0.1:{inbox.port}"))


def received(inbox: Inbox, subject_start: str) -> list[EmailMessage]:
    return [m for _, m in inbox.received if str(m["Subject"]).startswith(subject_start)]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def timeline(ctx: ServiceContext, actor: Actor, customer_id: str, type: str) -> list[Event]:
    page = events.list_events(ctx, actor.tenant_id, customer_id=customer_id, type=type, limit=100)
    return list(reversed(page.items))


def on_clock(ctx: ServiceContext, actor: Actor, at: datetime, **fields: Any) -> tuple[str, Customer]:
    clock = test_clocks.create_test_clock(ctx, actor, name="messages", frozen_time=at)
    body = {"external_id": "erika", "name": "Erika Muster", "currency": "EUR", "emails": ["erika@customer.test"],
            "test_clock_id": clock.id, **fields}  # fmt: skip
    return clock.id, customers.create_customer(ctx, actor, body)


def test_a_new_customer_gets_the_german_welcome_email_with_one_click_unsubscribe(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """locale de_AT falls back to kassa's German text; welcome is non-essential, so the email carries the
    RFC 8058 headers and the link in its text; message.sent is on the customer's timeline with the text."""
    customer = customers.create_customer(mailing, actor, {
        "external_id": "erika", "name": "Erika Muster", "emails": ["erika@customer.test"], "locale": "de_AT",
    })  # fmt: skip
    assert inbox.received == []  # nothing is sent inside the creating transaction

    assert jobs.run_due_jobs(mailing) == 1
    [(rcpt, email)] = inbox.received
    assert rcpt == ["erika@customer.test"]
    assert email["Subject"] == "Willkommen bei Acme Billing"
    assert text_of(email).startswith(
        "Guten Tag Erika Muster,\n\nherzlich willkommen! Ihr Konto ist eingerichtet."
    )
    link = email["List-Unsubscribe"].strip("<>")
    assert link.startswith("http://127.0.0.1:8000/unsubscribe/")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in text_of(email)

    [message] = messages.list_messages(mailing, actor, limit=10, cursor=None, customer_id=customer.id).items
    assert (message.kind.value, message.channel.value, message.status.value, message.locale, message.recipient) == (
        "welcome", "email", "sent", "de", "erika@customer.test")  # fmt: skip
    [sent] = timeline(mailing, actor, customer.id, "message.sent")
    assert (sent.object_id, sent.data["kind"], sent.data["subject"]) == (
        message.id,
        "welcome",
        email["Subject"],
    )
    assert text_of(email).rstrip("\n") == sent.data["text"].rstrip("\n")

    assert jobs.run_due_jobs(mailing) == 0  # sent once
    assert len(inbox.received) == 1


def test_the_trial_ending_email_goes_exactly_three_days_before_the_trial_ends(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """starter-monthly from Thu 1 Jan 2026 (UTC): the 14-day trial ends on 15 Jan, so the reminder is due at
    12 Jan 00:00 UTC — not a second earlier — and says 3 days."""
    catalog.apply_catalog(mailing, actor, example(), effective_at=utc(2025, 1, 1))
    clock_id, customer = on_clock(mailing, actor, utc(2026, 1, 1, 9))
    sub = subscriptions.create_subscription(
        mailing, actor, {"customer_id": customer.id, "plan": "starter-monthly"}
    )

    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 1, 11, 23, 59, 59))
    assert timeline(mailing, actor, customer.id, "subscription.trial_ending") == []
    assert received(inbox, "Your trial") == []

    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 1, 12, 12))
    [ending] = timeline(mailing, actor, customer.id, "subscription.trial_ending")
    assert (ending.occurred_at, ending.object_id, ending.data["days"], ending.data["trial_end"]) == (
        utc(2026, 1, 12), sub.id, 3, "2026-01-15")  # fmt: skip
    [email] = received(inbox, "Your trial")
    assert email["Subject"] == "Your trial ends in 3 days"
    assert "your trial of starter-monthly ends on Jan 15, 2026." in text_of(email)
    assert email["List-Unsubscribe"] is None  # essential: no unsubscribe
    [sent] = [
        e for e in timeline(mailing, actor, customer.id, "message.sent") if e.data["kind"] == "trial_ending"
    ]
    assert sent.occurred_at == utc(2026, 1, 12)


def _declined_invoice(ctx: ServiceContext, actor: Actor) -> tuple[str, Customer, str]:
    """100.00 consulting, due at once, for a customer whose card is declined (collected at 09:00)."""
    clock_id, customer = on_clock(ctx, actor, utc(2026, 3, 2, 8))
    payments.add_payment_method(ctx, actor, customer.id, {"type": "card", "token": "tok_sandbox_decline"})
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": customer.id, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": "100.00"}]})  # fmt: skip
    return clock_id, customer, invoicing.finalize_invoice(ctx, actor, draft.id).number or ""


def test_a_failed_payment_email_links_to_the_tenants_update_page(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    messages.put_settings(mailing, actor, {"update_payment_method_url": "https://pay.acme.test/card"})
    clock_id, customer, number = _declined_invoice(mailing, actor)
    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 3, 2, 9))

    [email] = received(inbox, "Your payment of")
    assert email["Subject"] == "Your payment of €100.00 failed"
    text = text_of(email)
    assert f"we could not collect €100.00 for invoice {number}." in text
    assert "Please update your payment method: https://pay.acme.test/card" in text
    [failed] = [
        e for e in timeline(mailing, actor, customer.id, "message.sent") if e.data["kind"] == "payment_failed"
    ]
    assert "https://pay.acme.test/card" in failed.data["text"]
    # the invoice went out once, with its PDF; invoice_issued is the webhook channel only, never a second email
    assert len(received(inbox, f"Invoice {number}")) == 1
    issued = messages.list_messages(mailing, actor, limit=10, cursor=None, kind="invoice_issued").items
    assert [(m.channel.value, m.status.value, m.subject) for m in issued] == [
        ("webhook", "sent", f"Invoice {number}")
    ]


def test_an_unsubscribed_renewal_reminder_is_suppressed_while_payment_failed_still_goes(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """issue 9: the customer unsubscribed from every optional message ("*"). starter-monthly without a trial
    from 2 Mar renews on 2 Apr; its reminder (26 Mar, 7 days before) is recorded as suppressed, no email;
    the payment_failed email (essential) still goes."""
    catalog.apply_catalog(mailing, actor, example(), effective_at=utc(2025, 1, 1))
    clock_id, customer, _ = _declined_invoice(mailing, actor)
    messages.put_preferences(mailing, actor, customer.id, {"*": False})
    subscriptions.create_subscription(mailing, actor, {"customer_id": customer.id, "plan": "starter-monthly",
                                                       "trial_days": 0})  # fmt: skip
    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 3, 27))

    [upcoming] = timeline(mailing, actor, customer.id, "subscription.renewal_upcoming")
    assert (upcoming.occurred_at, upcoming.data["renews_on"]) == (utc(2026, 3, 26), "2026-04-02")
    found = messages.list_messages(mailing, actor, limit=100, cursor=None, customer_id=customer.id).items
    by_kind = {(m.kind.value, m.status.value) for m in found}
    assert ("renewal_upcoming", "suppressed") in by_kind
    assert ("payment_failed", "sent") in by_kind
    assert (
        "welcome",
        "suppressed",
    ) in by_kind  # on a test clock its job ran at the advance, after the opt-out
    assert received(inbox, "Your subscription renews") == []
    assert received(inbox, "Your payment of")
    kinds = [e.data["kind"] for e in timeline(mailing, actor, customer.id, "message.sent")]
    assert "renewal_upcoming" not in kinds and "payment_failed" in kinds


def test_the_renewal_reminder_says_the_upcoming_invoices_amount(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """starter-monthly (8.00 a seat) × 3 without a trial from 2 Mar: on 26 Mar the upcoming invoice (2 Apr)
    is 24.00; the next reminder is planned for 25 Apr (7 days before 2 May)."""
    catalog.apply_catalog(mailing, actor, example(), effective_at=utc(2025, 1, 1))
    clock_id, customer = on_clock(mailing, actor, utc(2026, 3, 2, 8))
    payments.add_payment_method(mailing, actor, customer.id, {"type": "card", "token": "tok_sandbox_success"})
    sub = subscriptions.create_subscription(mailing, actor, {"customer_id": customer.id, "plan": "starter-monthly",
                                                             "trial_days": 0, "quantity": 3})  # fmt: skip
    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 3, 27))

    [upcoming] = timeline(mailing, actor, customer.id, "subscription.renewal_upcoming")
    assert upcoming.data["amount"] == {"amount": "24.00", "currency": "EUR"}
    [email] = received(inbox, "Your subscription renews")
    assert email["Subject"] == "Your subscription renews on Apr 2, 2026"
    assert "The upcoming invoice comes to €24.00." in text_of(email)
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    c = jobs_table.c
    with mailing.uow(read_only=True) as uow:
        planned = uow.conn.execute(
            sa.select(c.due_at, c.dedupe_key, c.status).where(c.kind == RENEWAL_JOB).order_by(c.due_at)
        ).all()
    assert [(r.due_at.astimezone(UTC), r.dedupe_key, r.status) for r in planned] == [
        (utc(2026, 3, 26), f"{sub.id}:2026-04-02", "done"),
        (utc(2026, 4, 25), f"{sub.id}:2026-05-02", "pending"),
    ]


def test_a_canceled_trial_sends_no_trial_ending_reminder(mailing: ServiceContext, actor: Actor) -> None:
    """The reminder job finds the subscription canceled and does nothing."""
    catalog.apply_catalog(mailing, actor, example(), effective_at=utc(2025, 1, 1))
    clock_id, customer = on_clock(mailing, actor, utc(2026, 1, 1, 9))
    sub = subscriptions.create_subscription(
        mailing, actor, {"customer_id": customer.id, "plan": "starter-monthly"}
    )
    subscriptions.cancel_subscription(mailing, actor, sub.id, {"at": "immediately"})
    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 1, 13))
    assert timeline(mailing, actor, customer.id, "subscription.trial_ending") == []
    c = jobs_table.c
    with mailing.uow(read_only=True) as uow:
        assert uow.conn.execute(sa.select(c.status).where(c.kind == TRIAL_JOB)).scalars().all() == ["done"]


def test_a_bounce_is_a_failed_message_and_announced(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    inbox.rcpt_reply = "550 5.1.1 no such user"
    customer = customers.create_customer(mailing, actor, {"external_id": "x", "name": "X",
                                                          "emails": ["gone@customer.test"]})  # fmt: skip
    assert jobs.run_due_jobs(mailing) == 1
    [message] = messages.list_messages(mailing, actor, limit=10, cursor=None, status="failed").items
    assert message.error is not None and message.error.startswith("bounced: 550")
    [failed] = timeline(mailing, actor, customer.id, "message.failed")
    assert failed.object_id == message.id
    assert timeline(mailing, actor, customer.id, "message.sent") == []


def test_without_an_smtp_server_the_message_fails_as_not_sent_at_once(
    ctx: ServiceContext, actor: Actor, on: None
) -> None:
    """The NoMailer: a failed message (not_sent), no retry loop: the job is done."""
    customers.create_customer(ctx, actor, {"external_id": "x", "name": "X", "emails": ["x@customer.test"]})
    assert jobs.run_due_jobs(ctx) == 1
    [message] = messages.list_messages(ctx, actor, limit=10, cursor=None).items
    assert (message.status.value, message.error) == (
        "failed",
        "not_sent: no SMTP server configured (KASSA_SMTP_URL)",
    )
    assert jobs.run_due_jobs(ctx) == 0


def test_a_customer_without_an_email_address_gets_the_webhook_only(
    ctx: ServiceContext, actor: Actor, on: None
) -> None:
    customer = customers.create_customer(ctx, actor, {"external_id": "x", "name": "X"})
    assert jobs.run_due_jobs(ctx) == 1
    [message] = messages.list_messages(ctx, actor, limit=10, cursor=None).items
    assert (message.channel.value, message.status.value, message.recipient) == ("webhook", "sent", None)
    [sent] = timeline(ctx, actor, customer.id, "message.sent")
    assert sent.data["text"].startswith("Hello X,")


def test_the_tenants_own_template_is_used_and_a_temporary_failure_is_retried(
    mailing: ServiceContext, actor: Actor, inbox: Inbox, clock: SettableClock
) -> None:
    """The tenant's English welcome replaces kassa's; its HTML part escapes the customer's name. A 451 rolls
    the job back (no message row) and the runner retries it a minute later."""
    messages.put_template(mailing, actor, "welcome", "en", {
        "subject": "Hi {{ customer_name }}!", "body_text": "Welcome to {{ company_name }}.",
        "body_html": "<p>Welcome, {{ customer_name }}</p>"})  # fmt: skip
    inbox.data_reply = "451 4.3.0 try again later"
    customers.create_customer(mailing, actor, {"external_id": "x", "name": "<Ann & Bob>",
                                               "emails": ["ann@customer.test"]})  # fmt: skip
    assert jobs.run_due_jobs(mailing) == 1
    assert inbox.received == []
    assert messages.list_messages(mailing, actor, limit=10, cursor=None).items == []  # rolled back, retried

    inbox.data_reply = "250 2.0.0 Ok"
    clock.advance(retry_delay(1))
    assert jobs.run_due_jobs(mailing) == 1
    [(_, email)] = inbox.received
    assert email["Subject"] == "Hi <Ann & Bob>!"
    html = email.get_body(preferencelist=("html",))
    assert html is not None and "<p>Welcome, &lt;Ann &amp; Bob&gt;</p>" in str(html.get_content())


def test_messages_are_off_until_the_tenant_turns_them_on(ctx: ServiceContext, actor: Actor) -> None:
    """Off by default: no job, no message. Turning them on plans the reminders of the subscriptions already
    trialing (starter-monthly from 1 Jan: trial_ending at 12 Jan 00:00 UTC, 3 days before 15 Jan)."""
    catalog.apply_catalog(ctx, actor, example(), effective_at=utc(2025, 1, 1))
    customer = customers.create_customer(
        ctx, actor, {"external_id": "x", "name": "X", "emails": ["x@c.test"]}
    )
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": customer.id, "plan": "starter-monthly"}
    )
    c = jobs_table.c
    with ctx.uow(read_only=True) as uow:
        kinds = uow.conn.execute(sa.select(c.kind).where(c.kind.like("messages.%"))).scalars().all()
    assert kinds == []

    messages.put_settings(ctx, actor, {"enabled": True})
    with ctx.uow(read_only=True) as uow:
        planned = uow.conn.execute(
            sa.select(c.kind, c.due_at, c.dedupe_key).where(c.kind.like("messages.%"))
        ).all()
    assert [(r.kind, r.due_at.astimezone(UTC), r.dedupe_key) for r in planned] == [
        (TRIAL_JOB, utc(2026, 1, 12), f"{sub.id}:2026-01-15")
    ]
    assert messages.list_messages(ctx, actor, limit=10, cursor=None).items == []  # nothing retroactive
