"""The self-service portal's access: magic links for one customer, and the portal session they open.

A link is signed with the tenant's key (the one unsubscribe links use, made on first use and never shown) and
expires; opening it starts a portal session of two hours, carried by a signed cookie. Nothing is stored per
link, so a link cannot be revoked one by one: it expires (72 hours by default, 30 days at most)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import format_datetime as email_date
from zoneinfo import ZoneInfo as zone

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

from kassa.adapters.mail.base import MailDeferred, MailRejected, NoMailer, OutgoingEmail, message_id_domain
from kassa.core import portal_links as links
from kassa.core.audit import Actor, ActorType
from kassa.core.credit_notes import CreditNote
from kassa.core.customers import Customer
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice, InvoiceStatus
from kassa.core.messages import Channel, Message, MessageKind, MessageStatus
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.payments import Payment, PaymentMethod
from kassa.core.subscriptions import Status as SubscriptionStatus
from kassa.core.subscriptions import Subscription
from kassa.services import audit, events, invoicing, payments, rating, tenants
from kassa.services import wallets as wallets_service
from kassa.services.context import ServiceContext
from kassa.services.message_delivery import NOT_SENT
from kassa.services.message_rendering import (
    RenderError,
    public_url,
    render,
    settings_of,
    signing_key,
    stored_key,
    template_for,
)
from kassa.services.rating import CurrentUsage, Estimate
from kassa.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalLink:
    url: str
    token: str
    expires_at: datetime
    message: Message | None = None  # the email, when one was asked for


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalVisit:
    """Who is in the portal: the customer (as an actor scoped to their own account) and their locale."""

    actor: Actor
    customer: Customer
    expires_at: datetime


def create_link(
    ctx: ServiceContext,
    actor: Actor,
    customer_id: str,
    *,
    expires_in_hours: object = None,
    send_email: bool = False,
) -> PortalLink:
    """A magic link to the customer's portal, for an email or for embedding in the tenant's own app. With
    `send_email` the customer gets it as the essential portal_link message: sent even while the tenant's
    lifecycle messages are off, because an operator asked for it now."""
    now = ctx.clock.now()
    lifetime = links.link_lifetime(expires_in_hours)
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        claims = links.PortalClaims(
            tenant_id=actor.tenant_id,
            customer_id=customer.id,
            purpose=links.Purpose.LINK,
            expires_at=now + lifetime,
        )
        token = links.sign(signing_key(ctx, uow, actor.tenant_id), claims)
        base = public_url(ctx, settings_of(uow, actor.tenant_id))
        url = f"{base}/portal/open/{token}"
        if send_email and not customer.emails:
            raise DomainError("no_email_address", "The customer has no email address to send the link to.",
                              "send_email")  # fmt: skip
        audit.record(
            ctx, uow, actor, "portal.link_created", object_type="customer", object_id=customer.id,
            before=None, after={"expires_at": claims.expires_at.isoformat()}, at=now,
        )  # fmt: skip
        message = _email_link(ctx, uow, customer, url, claims.expires_at, now) if send_email else None
        uow.commit()
    return PortalLink(url=url, token=token, expires_at=claims.expires_at, message=message)


def _email_link(ctx: ServiceContext, uow: UnitOfWork, customer: Customer, url: str, expires_at: datetime,
                now: datetime) -> Message:  # fmt: skip
    """Send the link now, in the customer's language, and record the message. The link is a credential: the
    message.sent event carries no text (other messages' events do), so webhooks never see it."""
    tenant = uow.tenants.get(customer.tenant_id)
    kind = MessageKind.PORTAL_LINK
    template = template_for(uow, tenant.id, kind, customer.locale, tenant.settings.locale)
    try:  # dates in the customer's own conventions (de_AT) when Babel knows them
        display = str(Locale.parse(customer.locale))
    except (UnknownLocaleError, ValueError):
        display = template.locale
    message_id = ctx.new_id("msg")
    values = {
        "customer_name": customer.name, "company_name": tenant.settings.legal_name or tenant.name,
        "unsubscribe_url": None, "portal_url": url,
        "expires_at": format_datetime(expires_at, format="medium", tzinfo=zone(customer.time_zone), locale=display),
    }  # fmt: skip
    status, error, subject = MessageStatus.SENT, None, None
    try:
        rendered = render(template, values)
        subject = rendered.subject
        if isinstance(ctx.mailer, NoMailer):
            status, error = MessageStatus.FAILED, NOT_SENT
        else:
            domain = message_id_domain(ctx.settings.mail_from)
            ctx.mailer.send(OutgoingEmail(
                sender=ctx.settings.mail_from, to=customer.emails, subject=rendered.subject, text=rendered.text,
                html=rendered.html, message_id=f"<{message_id}.{kind.value}@{domain}>",
                headers={"Date": email_date(now), "Auto-Submitted": "auto-generated"},
            ))  # fmt: skip
    except RenderError as failure:
        status, error = MessageStatus.FAILED, f"template_error: {failure}"
    except MailRejected as bounce:
        status, error = MessageStatus.FAILED, f"bounced: {bounce.code} {bounce}"
    except MailDeferred as later:  # asked for now: the operator sees it failed and asks again
        status, error = MessageStatus.FAILED, f"deferred: {later}"
    message = Message(
        tenant_id=tenant.id, id=message_id, customer_id=customer.id, kind=kind, channel=Channel.EMAIL,
        locale=template.locale, recipient=", ".join(customer.emails)[:320], subject=subject, status=status, error=error,
        created_at=now,
    )  # fmt: skip
    uow.messages.add(message)
    sent = status is MessageStatus.SENT
    events.emit(ctx, uow, tenant.id, EventType.MESSAGE_SENT if sent else EventType.MESSAGE_FAILED,
                object_type="message", object_id=message.id, customer_id=customer.id, at=now,
                data={**message.to_json(), "to": list(customer.emails), "source_event_type": None})  # fmt: skip
    return message


def _key(ctx: ServiceContext, tenant_id: str, purpose: links.Purpose) -> bytes:
    with ctx.uow(read_only=True) as uow:
        key = stored_key(uow, tenant_id)
    if key is None:  # a tenant that never made a link has no key: nothing it could have signed
        raise links.invalid(purpose)
    return key


def open_link(ctx: ServiceContext, token: str) -> tuple[PortalVisit, str]:
    """The visit a magic link opens and the session token for its cookie."""
    now = ctx.clock.now()
    claims = links.read(token, links.Purpose.LINK)
    claims = links.verify(_key(ctx, claims.tenant_id, links.Purpose.LINK), token, links.Purpose.LINK, now)
    session = links.PortalClaims(
        tenant_id=claims.tenant_id, customer_id=claims.customer_id, purpose=links.Purpose.SESSION,
        expires_at=now + links.SESSION_LIFETIME,
    )  # fmt: skip
    visit = replace(_visit(ctx, claims), expires_at=session.expires_at)  # refused as a link, not a session
    return visit, links.sign(_key(ctx, claims.tenant_id, links.Purpose.SESSION), session)


def visit(ctx: ServiceContext, session_token: str) -> PortalVisit:
    """The visit behind a portal session cookie, or PortalLinkInvalid("portal_session_invalid")."""
    claims = links.read(session_token, links.Purpose.SESSION)
    key = _key(ctx, claims.tenant_id, links.Purpose.SESSION)
    return _visit(ctx, links.verify(key, session_token, links.Purpose.SESSION, ctx.clock.now()))


def _visit(ctx: ServiceContext, claims: links.PortalClaims) -> PortalVisit:
    with ctx.uow(read_only=True) as uow:
        try:
            customer = uow.customers.get(claims.tenant_id, claims.customer_id)
        except NotFound:
            raise links.invalid(claims.purpose) from None
    if customer.archived_at is not None:
        raise links.invalid(claims.purpose)
    actor = Actor(tenant_id=claims.tenant_id, type=ActorType.CUSTOMER, id=customer.id)
    return PortalVisit(actor=actor, customer=customer, expires_at=claims.expires_at)


# ---- what the portal shows: only ever the visiting customer's own objects ---------------------------------
# The portal's actor is the customer; the services below it do not check roles, so every read and write here
# first checks that the object named in the URL is this customer's and answers 404 otherwise (never 403: a
# customer learns nothing about other customers' ids).


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanHeld:
    subscription: Subscription
    plan_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    plans: list[PlanHeld]
    usage: list[CurrentUsage]
    open_invoices: list[Invoice]
    wallet_balances: list[Money]


_LIVE = (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)
_PAGE = 100


def overview(ctx: ServiceContext, visit: PortalVisit) -> Overview:
    customer_id = visit.customer.id
    with ctx.uow(read_only=True) as uow:
        subs = uow.subscriptions.many(visit.actor.tenant_id, customer_ids=[customer_id])
        plans = []
        for sub in subs:
            if sub.status in _LIVE:
                plan = rating.current_plan(ctx, uow, sub)
                plans.append(PlanHeld(subscription=sub, plan_name=plan.name if plan else sub.terms.plan))
        open_invoices = uow.invoices.list(
            visit.actor.tenant_id, limit=_PAGE, cursor=None, customer_id=customer_id,
            status=InvoiceStatus.OPEN.value,
        ).items  # fmt: skip
    wallets = wallets_service.customer_wallets(ctx, visit.actor, customer_id)
    balances = [Money.parse(w["balance"]["total"]["amount"], w["currency"]) for w in wallets]
    return Overview(
        plans=plans, usage=rating.current_usage(ctx, visit.actor, customer_id),
        open_invoices=[i for i in open_invoices if i.amount_remaining.amount > 0], wallet_balances=balances,
    )  # fmt: skip


def invoices(ctx: ServiceContext, visit: PortalVisit, cursor: str | None) -> Page[Invoice]:
    """A page of the customer's invoices, newest first; drafts are the tenant's work in progress, not shown."""
    page = invoicing.list_invoices(ctx, visit.actor, limit=25, cursor=cursor, customer_id=visit.customer.id)
    shown = [i for i in page.items if i.status is not InvoiceStatus.DRAFT]
    return Page(items=shown, has_more=page.has_more, next_cursor=page.next_cursor)


def credit_notes(ctx: ServiceContext, visit: PortalVisit) -> list[CreditNote]:
    page = invoicing.list_credit_notes(
        ctx, visit.actor, limit=_PAGE, cursor=None, customer_id=visit.customer.id
    )
    return list(page.items)


def invoice(ctx: ServiceContext, visit: PortalVisit, invoice_id: str) -> Invoice:
    """The customer's own finalized invoice (by id or number), with its parties; else 404."""
    try:
        found = invoicing.get_invoice(ctx, visit.actor, invoice_id)
    except NotFound:
        raise NotFound("invoice", invoice_id) from None
    if found.customer_id != visit.customer.id or found.status is InvoiceStatus.DRAFT:
        raise NotFound("invoice", invoice_id)
    return invoicing.with_parties(ctx, found)


def credit_note(ctx: ServiceContext, visit: PortalVisit, credit_note_id: str) -> CreditNote:
    try:
        note = invoicing.get_credit_note(ctx, visit.actor, credit_note_id)
    except NotFound:
        raise NotFound("credit_note", credit_note_id) from None
    if note.customer_id != visit.customer.id:
        raise NotFound("credit_note", credit_note_id)
    return note


def _document_locale(invoice: Invoice, visit: PortalVisit) -> str:
    return str(invoice.parties.get("buyer", {}).get("locale") or visit.customer.locale or "en")


def invoice_pdf(ctx: ServiceContext, visit: PortalVisit, invoice_id: str) -> tuple[bytes, str]:
    """The invoice's PDF, as the API serves it, and its file name."""
    found = invoice(ctx, visit, invoice_id)
    template = tenants.get_settings(ctx, visit.actor).invoice_template
    pdf = ctx.documents.invoice_pdf(found, locale=_document_locale(found, visit), template=template)
    return pdf, f"{found.number or found.id}.pdf"


def credit_note_pdf(ctx: ServiceContext, visit: PortalVisit, credit_note_id: str) -> tuple[bytes, str]:
    note = credit_note(ctx, visit, credit_note_id)
    against = invoicing.with_parties(ctx, invoicing.get_invoice(ctx, visit.actor, note.invoice_id))
    template = tenants.get_settings(ctx, visit.actor).invoice_template
    pdf = ctx.documents.credit_note_pdf(
        note, against, locale=_document_locale(against, visit), template=template
    )
    return pdf, f"{note.number}.pdf"


def pay(ctx: ServiceContext, visit: PortalVisit, invoice_id: str) -> Payment:
    """ "Pay now": charge the customer's own open invoice on their default payment method."""
    found = invoice(ctx, visit, invoice_id)
    return payments.pay_invoice(ctx, visit.actor, found.id)


def payment_methods(ctx: ServiceContext, visit: PortalVisit) -> list[PaymentMethod]:
    return payments.list_payment_methods(ctx, visit.actor, visit.customer.id)


def add_card(ctx: ServiceContext, visit: PortalVisit, token: str, *, make_default: bool) -> PaymentMethod:
    """A card the gateway tokenized in the customer's browser (the sandbox: one of its test tokens); kassa
    never sees the number. Only the token and the default choice come from the form."""
    body: dict[str, object] = {"type": "card", "token": token.strip()}
    if make_default:  # unasked, the first method becomes the default and later ones do not
        body["set_default"] = True
    return payments.add_payment_method(ctx, visit.actor, visit.customer.id, body)


def make_default(ctx: ServiceContext, visit: PortalVisit, method_id: str) -> PaymentMethod:
    owned = {m.id for m in payment_methods(ctx, visit)}
    if method_id not in owned:
        raise NotFound("payment_method", method_id)
    return payments.update_payment_method(ctx, visit.actor, method_id, {"set_default": True})


def usage(ctx: ServiceContext, visit: PortalVisit) -> list[CurrentUsage]:
    """The open period's usage of each live subscription, with the forecast to the period's end."""
    return rating.current_usage(ctx, visit.actor, visit.customer.id)


def estimate(
    ctx: ServiceContext, visit: PortalVisit, subscription_id: str, metric: str, units: str
) -> Estimate:
    """Advice of charge on the customer's own subscription: what `units` more of a metric would cost now."""
    with ctx.uow(read_only=True) as uow:
        owned = {
            s.id for s in uow.subscriptions.many(visit.actor.tenant_id, customer_ids=[visit.customer.id])
        }
    if subscription_id not in owned:
        raise NotFound("subscription", subscription_id)
    body = {"subscription_id": subscription_id, "metric": metric, "units": units.strip()}
    return rating.estimate(ctx, visit.actor, body)
