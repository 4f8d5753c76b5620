"""Lifecycle messages on their way out: an outbox hook turns events into one job per message (never sending
inside the emitting transaction), and plans the trial-ending and renewal reminders of subscriptions; the
jobs send by email through ctx.mailer and announce `message.sent` (the webhook channel, on the customer's
timeline). See docs/messages.md.

A temporary SMTP failure raises, so the job runner retries; a bounce is a failed message and
`message.failed`; without an SMTP server the message fails as not_sent at once (no retry loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from kassa.adapters.mail.base import MailRejected, NoMailer, OutgoingEmail, message_id_domain
from kassa.core.billing_schedule import Timeline, timeline
from kassa.core.customers import Customer
from kassa.core.errors import DomainError
from kassa.core.events import Event, EventType
from kassa.core.jobs import Job
from kassa.core.messages import (
    Channel,
    Message,
    MessageKind,
    MessageStatus,
    UnsubscribeToken,
    by_email,
    essential,
    kind_for,
    subscribed,
)
from kassa.core.money import Money, format_money
from kassa.core.periods import local_day, start_of
from kassa.core.subscriptions import Status, Subscription
from kassa.services import catalog, events, invoicing, jobs
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.message_rendering import (
    Rendered,
    RenderError,
    render,
    settings_of,
    template_for,
    unsubscribe_url,
)
from kassa.store.uow import UnitOfWork

SEND_JOB = "messages.send"
TRIAL_JOB = "messages.trial_ending"
RENEWAL_JOB = "messages.renewal_upcoming"
HORIZON = timedelta(days=800)
NOT_SENT = "not_sent: no SMTP server configured (KASSA_SMTP_URL)"

# Subscription events after which the reminders are planned again (a dedupe key per subscription and day
# keeps it one job).
_PLANNING = frozenset({
    EventType.SUBSCRIPTION_CREATED, EventType.SUBSCRIPTION_TRIAL_STARTED, EventType.SUBSCRIPTION_TRIAL_CONVERTED,
    EventType.SUBSCRIPTION_ACTIVATED, EventType.SUBSCRIPTION_CHANGED, EventType.SUBSCRIPTION_CHANGE_SCHEDULED,
    EventType.SUBSCRIPTION_CHANGE_WITHDRAWN, EventType.SUBSCRIPTION_RESUMED, EventType.SUBSCRIPTION_RENEWED,
})  # fmt: skip


def on_event(ctx: ServiceContext, uow: UnitOfWork, event: Event) -> None:
    """The outbox hook: a job per message the event sends, due at the customer's present, once the tenant
    turned messages on."""
    if event.customer_id is None:
        return
    kind = kind_for(event.type, event.data)
    planning = event.type in _PLANNING and event.object_type == "subscription"
    if (kind is None and not planning) or not settings_of(uow, event.tenant_id).enabled:
        return
    if kind is not None:
        now = now_for(ctx, uow, uow.customers.get(event.tenant_id, event.customer_id))
        jobs.schedule(ctx, uow, event.tenant_id, SEND_JOB, now, dedupe_key=f"{event.id}:{kind.value}",
                      customer_id=event.customer_id, payload={"event_id": event.id, "kind": kind.value})  # fmt: skip
    if planning:
        plan_reminders(ctx, uow, uow.subscriptions.get(event.tenant_id, event.object_id))


events.ON_EMIT.append(on_event)


# ---- trial-ending and renewal reminders ----------------------------------------------------------------


def _timeline(uow: UnitOfWork, sub: Subscription, today: date) -> Timeline:
    return timeline(sub, catalog.versions(uow, sub.tenant_id), max(today, sub.start) + HORIZON)


def _trial_end(tl: Timeline) -> date | None:
    return next((s.trial_end for s in tl.segments if s.status is Status.TRIALING and s.trial_end), None)


def _renewal_after(tl: Timeline, day: date) -> date | None:
    """The next period boundary after `day` while the subscription is active and does not end by it."""
    segment = tl.on(day)
    if segment is None or segment.status is not Status.ACTIVE:
        return None
    renewal = segment.grid.next_boundary(day)
    return None if tl.end is not None and tl.end <= renewal else renewal


def plan_reminders(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription) -> None:
    """A job N days (message settings) before the trial ends, and before the next renewal, at the start of
    that local day. A reminder whose instant has passed is not sent late. One job per subscription and
    trial end (or renewal day): a changed lead time moves the pending one instead of adding a second."""
    if sub.status in (Status.CANCELED, Status.ENDED):
        return
    settings = settings_of(uow, sub.tenant_id)
    now = now_for(ctx, uow, uow.customers.get(sub.tenant_id, sub.customer_id))
    today = local_day(now, sub.time_zone)
    tl = _timeline(uow, sub, today)
    trial_end = _trial_end(tl)
    if trial_end is not None and trial_end > today:
        days = settings.trial_ending_days
        at = start_of(trial_end - timedelta(days=days), sub.time_zone)
        if at > now:
            jobs.schedule(ctx, uow, sub.tenant_id, TRIAL_JOB, at, dedupe_key=f"{sub.id}:{trial_end}", move=True,
                          customer_id=sub.customer_id,
                          payload={"subscription_id": sub.id, "trial_end": trial_end.isoformat(), "days": days})  # fmt: skip
    _plan_renewal(ctx, uow, sub, tl, today, now, settings.renewal_upcoming_days)


def _plan_renewal(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, tl: Timeline, today: date,
                  now: datetime, days: int) -> None:  # fmt: skip
    renewal = _renewal_after(tl, today)
    for _ in range(2):  # a period shorter than the lead time: remind of the one after
        if renewal is None:
            return
        at = start_of(renewal - timedelta(days=days), sub.time_zone)
        if at > now:
            jobs.schedule(ctx, uow, sub.tenant_id, RENEWAL_JOB, at, dedupe_key=f"{sub.id}:{renewal}", move=True,
                          customer_id=sub.customer_id,
                          payload={"subscription_id": sub.id, "renews_on": renewal.isoformat(), "days": days})  # fmt: skip
            return
        renewal = _renewal_after(tl, renewal)


@jobs.handles(TRIAL_JOB)
def _trial_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    """subscription.trial_ending, if the trial still ends on the day the job was planned for."""
    sub = uow.subscriptions.get(job.tenant_id, job.payload["subscription_id"])
    today = local_day(now, sub.time_zone)
    trial_end = _trial_end(_timeline(uow, sub, today))
    if sub.status not in (Status.TRIALING, Status.PENDING) or str(trial_end) != job.payload["trial_end"]:
        return
    assert trial_end is not None
    events.emit(ctx, uow, sub.tenant_id, EventType.SUBSCRIPTION_TRIAL_ENDING, object_type="subscription",
                object_id=sub.id, customer_id=sub.customer_id, at=now,
                data={"object": sub.to_json(), "trial_end": trial_end.isoformat(), "days": (trial_end - today).days})  # fmt: skip


@jobs.handles(RENEWAL_JOB)
def _renewal_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    """subscription.renewal_upcoming with the upcoming invoice's total, if the subscription still renews
    that day; then the reminder of the renewal after it."""
    sub = uow.subscriptions.get(job.tenant_id, job.payload["subscription_id"])
    today = local_day(now, sub.time_zone)
    tl = _timeline(uow, sub, today)
    renewal = _renewal_after(tl, today)
    if sub.status is not Status.ACTIVE or str(renewal) != job.payload["renews_on"]:
        return
    assert renewal is not None
    upcoming = invoicing.upcoming_in(ctx, uow, sub.tenant_id, sub.customer_id)
    amount = (
        None
        if upcoming is None
        else {"amount": upcoming.total.amount_text(), "currency": upcoming.total.currency}
    )
    events.emit(ctx, uow, sub.tenant_id, EventType.SUBSCRIPTION_RENEWAL_UPCOMING, object_type="subscription",
                object_id=sub.id, customer_id=sub.customer_id, at=now,
                data={"object": sub.to_json(), "renews_on": renewal.isoformat(), "days": (renewal - today).days,
                      "amount": amount})  # fmt: skip
    _plan_renewal(ctx, uow, sub, tl, renewal, now, settings_of(uow, sub.tenant_id).renewal_upcoming_days)


# ---- sending -------------------------------------------------------------------------------------------


@jobs.handles(SEND_JOB)
def _send_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    event = uow.events.get(job.tenant_id, job.payload["event_id"])
    kind = MessageKind(job.payload["kind"])
    if uow.messages.of_event(job.tenant_id, event.id, kind):
        return  # recorded already (sent, failed or suppressed)
    assert event.customer_id is not None
    deliver(ctx, uow, event, kind, uow.customers.get(job.tenant_id, event.customer_id), now)


def deliver(ctx: ServiceContext, uow: UnitOfWork, event: Event, kind: MessageKind, customer: Customer,
            now: datetime) -> Message:  # fmt: skip
    tenant = uow.tenants.get(customer.tenant_id)
    template = template_for(uow, tenant.id, kind, customer.locale, tenant.settings.locale)
    channel = Channel.EMAIL if by_email(kind, event.data) and customer.emails else Channel.WEBHOOK

    def record(status: MessageStatus, subject: str | None, error: str | None = None) -> Message:
        message = Message(
            tenant_id=tenant.id, id=ctx.new_id("msg"), customer_id=customer.id, kind=kind, channel=channel,
            locale=template.locale, recipient=_recipient(customer) if channel is Channel.EMAIL else None,
            subject=subject, status=status, error=error, event_id=event.id, created_at=now,
        )  # fmt: skip
        uow.messages.add(message)
        return message

    if not subscribed(uow.message_preferences.of(tenant.id, customer.id), kind):
        return record(MessageStatus.SUPPRESSED, None)
    link = None if essential(kind) else unsubscribe_url(
        ctx, uow, UnsubscribeToken(tenant_id=tenant.id, customer_id=customer.id, kind=kind))  # fmt: skip
    try:
        values = variables(uow, kind, event, customer, tenant.settings.legal_name or tenant.name, link)
        rendered = render(template, values)
    except RenderError as error:
        return _failed(ctx, uow, event, record(MessageStatus.FAILED, None, f"template_error: {error}"), now)
    if channel is Channel.EMAIL:
        if isinstance(ctx.mailer, NoMailer):
            return _failed(ctx, uow, event, record(MessageStatus.FAILED, rendered.subject, NOT_SENT), now)
        try:
            ctx.mailer.send(_email(ctx, event, kind, customer, rendered, link, now))  # MailDeferred: retried
        except MailRejected as bounce:
            failed = record(MessageStatus.FAILED, rendered.subject, f"bounced: {bounce.code} {bounce}")
            return _failed(ctx, uow, event, failed, now)
    message = record(MessageStatus.SENT, rendered.subject)
    events.emit(ctx, uow, tenant.id, EventType.MESSAGE_SENT, object_type="message", object_id=message.id,
                customer_id=customer.id, at=now,
                data={**message.to_json(), "to": list(customer.emails) if channel is Channel.EMAIL else [],
                      "source_event_type": event.type, "text": rendered.text, "html": rendered.html})  # fmt: skip
    return message


def _failed(ctx: ServiceContext, uow: UnitOfWork, event: Event, message: Message, now: datetime) -> Message:
    events.emit(ctx, uow, message.tenant_id, EventType.MESSAGE_FAILED, object_type="message", object_id=message.id,
                customer_id=message.customer_id, at=now, data={**message.to_json(), "source_event_type": event.type})  # fmt: skip
    return message


def _recipient(customer: Customer) -> str:
    joined = ", ".join(customer.emails)
    return joined if len(joined) <= 320 else customer.emails[0]


def _email(ctx: ServiceContext, event: Event, kind: MessageKind, customer: Customer, rendered: Rendered,
           link: str | None, now: datetime) -> OutgoingEmail:  # fmt: skip
    """The Message-ID comes from the event and kind, so a copy sent again after a lost answer is one message
    to the receiver. Non-essential ones carry RFC 8058 one-click unsubscribe headers."""
    domain = message_id_domain(ctx.settings.mail_from)
    headers = {"Date": format_datetime(now), "Auto-Submitted": "auto-generated"}
    if link is not None:
        headers |= {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    return OutgoingEmail(sender=ctx.settings.mail_from, to=customer.emails, subject=rendered.subject,
                         text=rendered.text, html=rendered.html, message_id=f"<{event.id}.{kind.value}@{domain}>",
                         headers=headers)  # fmt: skip


# ---- the variables a template sees ---------------------------------------------------------------------


def _money(value: Any, locale: str) -> str | None:
    if isinstance(value, dict) and "amount" in value and "currency" in value:
        try:
            return format_money(Money.parse(str(value["amount"]), str(value["currency"])), locale)
        except DomainError:  # not an amount kassa wrote: shown as it came
            return f"{value['amount']} {value['currency']}"
    return None if value is None else str(value)


def _day(value: Any, locale: str) -> str | None:
    if value is None:
        return None
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return format_date(day, format="medium", locale=locale)


def _display_locale(customer: Customer, template_locale: str) -> str:
    """Dates and amounts in the customer's own conventions (de_AT: "€ 49,00") when Babel knows them."""
    try:
        Locale.parse(customer.locale)
        return customer.locale
    except (UnknownLocaleError, ValueError):
        return template_locale


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def variables(uow: UnitOfWork, kind: MessageKind, event: Event, customer: Customer, company: str,
              unsubscribe: str | None) -> dict[str, Any]:  # fmt: skip
    """The documented variables of the kind (core/messages.py VARIABLES), from the event and what it names."""
    loc = _display_locale(customer, "en")
    data = event.data
    values: dict[str, Any] = {
        "customer_name": customer.name,
        "company_name": company,
        "unsubscribe_url": unsubscribe,
    }
    sub = _mapping(data.get("object"))
    if kind is MessageKind.TRIAL_ENDING:
        values |= {
            "plan": sub.get("plan"),
            "days": data.get("days"),
            "trial_end": _day(data.get("trial_end"), loc),
        }
    elif kind is MessageKind.RENEWAL_UPCOMING:
        values |= {
            "plan": sub.get("plan"),
            "renews_on": _day(data.get("renews_on"), loc),
            "amount": _money(data.get("amount"), loc),
        }
    elif kind in (MessageKind.INVOICE_ISSUED, MessageKind.DUNNING_STEP):
        invoice = uow.invoices.get(event.tenant_id, event.object_id)
        values |= {
            "invoice_number": invoice.number,
            "amount_due": format_money(invoice.amount_remaining, loc),
            "due_date": _day(invoice.due_date, loc),
        }
        if kind is MessageKind.DUNNING_STEP:
            values |= {"days_past_due": data.get("days_past_due"), "action": data.get("action")}
    elif kind in (MessageKind.PAYMENT_SUCCEEDED, MessageKind.PAYMENT_FAILED):
        invoice_id = data.get("invoice_id")
        number = uow.invoices.get(event.tenant_id, invoice_id).number if invoice_id else None
        values |= {"amount": _money(data.get("amount"), loc), "invoice_number": number}
        if kind is MessageKind.PAYMENT_FAILED:
            values |= {
                "failure_message": data.get("failure_message"),
                "update_payment_method_url": settings_of(uow, event.tenant_id).update_payment_method_url,
            }
    elif kind is MessageKind.CARD_EXPIRING:
        values |= {name: data.get(name) for name in ("brand", "last4", "exp_month", "exp_year")}
        values["update_payment_method_url"] = settings_of(uow, event.tenant_id).update_payment_method_url
    elif kind is MessageKind.USAGE_THRESHOLD:
        values |= {
            "metric": data.get("metric"),
            "threshold": data.get("value"),
            "quantity": data.get("quantity"),
            "period_end": _day(data.get("period_end"), loc),
        }
    elif kind is MessageKind.LOW_BALANCE:
        values |= {
            "balance": _money(data.get("balance"), loc),
            "threshold": _money(data.get("threshold"), loc),
        }
    elif kind is MessageKind.PLAN_CHANGED:
        previous = _mapping(data.get("previous"))
        values |= {
            "plan": sub.get("plan"),
            "previous_plan": previous.get("plan"),
            "quantity": sub.get("quantity"),
        }
    elif kind is MessageKind.SUBSCRIPTION_CANCELED:
        values["plan"] = sub.get("plan")
    elif kind is MessageKind.DISPUTE_RESOLVED:
        values |= {
            "outcome": data.get("outcome"),
            "resolution": data.get("resolution"),
            "credited": _money(data.get("credited"), loc),
        }
    return values
