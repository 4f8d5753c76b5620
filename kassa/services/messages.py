"""Lifecycle messages (issue 9): the tenant's templates per kind and locale (kassa's English and German
wording until then), its message settings, customers' preferences and the public unsubscribe, and the log
of every message. Sending is message_delivery's (imported here, so this stage registers its jobs and its
outbox hook). See docs/messages.md."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kassa.core.audit import Actor, system_actor
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.message_texts import BUILTIN_LOCALES, builtin
from kassa.core.messages import (
    ALL,
    MAX_BODY,
    MAX_SUBJECT,
    Message,
    MessageKind,
    MessageSettings,
    MessageTemplate,
    UnsubscribeToken,
    check_preferences,
    locale_chain,
    message_kind,
    message_status,
    read_unsubscribe,
    settings_from,
    subscribed,
    template_locale,
    template_text,
    verify_unsubscribe,
)
from kassa.core.pages import Page, check_limit
from kassa.core.subscriptions import Status, SubscriptionFilter
from kassa.services import audit, message_delivery
from kassa.services.context import ServiceContext
from kassa.services.message_rendering import check_template, resolve, settings_of, signing_key, stored_key
from kassa.store.uow import UnitOfWork

# ---- templates -----------------------------------------------------------------------------------------


def _template_doc(t: MessageTemplate) -> dict[str, Any]:
    return {"kind": t.kind.value, "locale": t.locale, "subject": t.subject, "body_text": t.body_text,
            "body_html": t.body_html}  # fmt: skip


def put_template(
    ctx: ServiceContext, actor: Actor, kind: str, locale: str, body: Mapping[str, Any]
) -> MessageTemplate:
    """Create or replace the tenant's template {subject, body_text, body_html?}; it is rendered against the
    kind's sample variables first, so a syntax error or an unknown variable is a 422 and nothing is saved."""
    which, where = message_kind(kind), template_locale(locale)
    subject = template_text(body.get("subject"), "subject", limit=MAX_SUBJECT, required=True)
    text = template_text(body.get("body_text"), "body_text", limit=MAX_BODY, required=True)
    html = template_text(body.get("body_html"), "body_html", limit=MAX_BODY, required=False)
    assert subject is not None and text is not None
    template = MessageTemplate(kind=which, locale=where, subject=subject, body_text=text, body_html=html)
    check_template(template)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        before = uow.message_templates.find(actor.tenant_id, which, where)
        uow.message_templates.put(actor.tenant_id, template, at=now)
        saved = uow.message_templates.find(actor.tenant_id, which, where)
        assert saved is not None
        audit.changed(ctx, uow, actor, EventType.MESSAGE_TEMPLATE_UPDATED, object_type="message_template",
                      object_id=f"{which.value}/{where}", before=None if before is None else _template_doc(before),
                      after=_template_doc(saved), at=now)  # fmt: skip
        uow.commit()
    return saved


def get_template(ctx: ServiceContext, actor: Actor, kind: str, locale: str) -> MessageTemplate:
    """The template a customer of that locale gets: the first of the locale, its parents and English that
    has one, the tenant's own before kassa's (`builtin` says which)."""
    which, where = message_kind(kind), template_locale(locale)
    with ctx.uow(read_only=True) as uow:
        found = resolve(uow, actor.tenant_id, which, locale_chain(where))
    assert found is not None
    return found


def list_templates(ctx: ServiceContext, actor: Actor, kind: str | None = None) -> list[MessageTemplate]:
    """The tenant's templates and kassa's built-in ones it has not replaced, by kind and locale."""
    which = None if kind is None else message_kind(kind)
    with ctx.uow(read_only=True) as uow:
        own = uow.message_templates.list(actor.tenant_id, which)
    taken = {(t.kind, t.locale) for t in own}
    kinds = list(MessageKind) if which is None else [which]
    defaults = [t for k in kinds for loc in BUILTIN_LOCALES
                if (k, loc) not in taken and (t := builtin(k, loc)) is not None]  # fmt: skip
    order = {k: i for i, k in enumerate(MessageKind)}
    return sorted([*own, *defaults], key=lambda t: (order[t.kind], t.locale))


def delete_template(ctx: ServiceContext, actor: Actor, kind: str, locale: str) -> None:
    """Back to kassa's wording (or the next locale of the chain)."""
    which, where = message_kind(kind), template_locale(locale)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        before = uow.message_templates.find(actor.tenant_id, which, where)
        if before is None or not uow.message_templates.delete(actor.tenant_id, which, where):
            raise NotFound("message_template", f"{which.value}/{where}")
        audit.changed(ctx, uow, actor, EventType.MESSAGE_TEMPLATE_UPDATED, object_type="message_template",
                      object_id=f"{which.value}/{where}", before=_template_doc(before), after=None, at=now,
                      data={"kind": which.value, "locale": where, "deleted": True})  # fmt: skip
        uow.commit()


# ---- settings ------------------------------------------------------------------------------------------


def get_settings(ctx: ServiceContext, actor: Actor) -> MessageSettings:
    with ctx.uow(read_only=True) as uow:
        return settings_of(uow, actor.tenant_id)


def put_settings(ctx: ServiceContext, actor: Actor, changes: Mapping[str, Any]) -> MessageSettings:
    """Change {enabled?, trial_ending_days?, renewal_upcoming_days?, update_payment_method_url?, public_url?}.
    Lead times apply to reminders planned from now on; those already planned keep theirs. Turning messages
    on plans the reminders of every trialing and active subscription."""
    with ctx.uow() as uow:
        now = ctx.clock.now()
        before = settings_of(uow, actor.tenant_id)
        after = settings_from(before, changes)
        signing_key(ctx, uow, actor.tenant_id)  # the row exists from here on
        uow.message_settings.update(actor.tenant_id, after, at=now)
        if after.enabled and not before.enabled:
            _plan_all(ctx, uow, actor.tenant_id)
        audit.record(ctx, uow, actor, "message_settings.updated", object_type="message_settings",
                     object_id=actor.tenant_id, before=before.to_json(), after=after.to_json(), at=now)  # fmt: skip
        uow.commit()
    return after


def _plan_all(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str) -> None:
    for status in (Status.TRIALING, Status.ACTIVE):
        cursor: str | None = None
        while True:
            page = uow.subscriptions.list(
                tenant_id, SubscriptionFilter(status=status), limit=100, cursor=cursor
            )
            for sub in page.items:
                message_delivery.plan_reminders(ctx, uow, sub)
            if not page.has_more:
                break
            cursor = page.next_cursor


# ---- preferences and unsubscribe -----------------------------------------------------------------------


def effective(preferences: Mapping[str, bool]) -> dict[str, bool]:
    return {k.value: subscribed(preferences, k) for k in MessageKind}


def get_preferences(ctx: ServiceContext, actor: Actor, customer_id: str) -> dict[str, bool]:
    """What the customer chose ({kind or "*": subscribed})."""
    with ctx.uow(read_only=True) as uow:
        uow.customers.get(actor.tenant_id, customer_id)
        return uow.message_preferences.of(actor.tenant_id, customer_id)


def put_preferences(ctx: ServiceContext, actor: Actor, customer_id: str, changes: Any) -> dict[str, bool]:
    """Set {kind: bool, "*": bool}; a kind not named keeps its choice. Essential kinds cannot be turned off
    (422 essential_message)."""
    wanted = check_preferences(changes)
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        after = _set_preferences(ctx, uow, actor, customer.id, wanted)
        uow.commit()
    return after


def _set_preferences(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, customer_id: str, wanted: Mapping[str, bool]
) -> dict[str, bool]:
    now = ctx.clock.now()
    before = uow.message_preferences.of(actor.tenant_id, customer_id)
    for key, value in wanted.items():
        uow.message_preferences.put(actor.tenant_id, customer_id, key, value, at=now)
    after = {**before, **wanted}
    audit.changed(ctx, uow, actor, EventType.MESSAGE_PREFERENCES_UPDATED, object_type="customer",
                  object_id=customer_id, before={"preferences": before}, after={"preferences": after}, at=now,
                  customer_id=customer_id, data={"customer_id": customer_id, "preferences": after})  # fmt: skip
    return after


def check_unsubscribe(ctx: ServiceContext, token: str) -> tuple[UnsubscribeToken, str, bool]:
    """The token's customer and kind once its signature checks, the tenant's name, and whether the customer
    still gets that kind. Any flaw (forged, another tenant's, a customer gone) is invalid_unsubscribe_token."""
    claims = read_unsubscribe(token)
    with ctx.uow(read_only=True) as uow:
        key = stored_key(uow, claims.tenant_id)
        invalid = DomainError("invalid_unsubscribe_token", "This unsubscribe link is not valid.", "token")
        if not key:  # no key yet: no link was ever signed for this tenant (and an empty key is forgeable)
            raise invalid
        verify_unsubscribe(key, token)
        try:
            uow.customers.get(claims.tenant_id, claims.customer_id)
        except NotFound:
            raise invalid from None
        tenant = uow.tenants.get(claims.tenant_id)
        gets = subscribed(uow.message_preferences.of(claims.tenant_id, claims.customer_id), claims.kind)
    return claims, tenant.settings.legal_name or tenant.name, gets


def unsubscribe(ctx: ServiceContext, token: str, *, everything: bool = False) -> UnsubscribeToken:
    """The customer's own act from the link: this kind (or every non-essential kind) stops."""
    claims, _, _ = check_unsubscribe(ctx, token)
    actor = system_actor(claims.tenant_id, "unsubscribe")
    with ctx.uow() as uow:
        _set_preferences(
            ctx, uow, actor, claims.customer_id, {ALL if everything else claims.kind.value: False}
        )
        uow.commit()
    return claims


# ---- the log -------------------------------------------------------------------------------------------


def list_messages(
    ctx: ServiceContext,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    customer_id: str | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> Page[Message]:
    check_limit(limit)
    which = None if kind is None else message_kind(kind)
    state = None if status is None else message_status(status)
    with ctx.uow(read_only=True) as uow:
        return uow.messages.list(actor.tenant_id, limit=limit, cursor=cursor, customer_id=customer_id,
                                 kind=which, status=state)  # fmt: skip


def get_message(ctx: ServiceContext, actor: Actor, message_id: str) -> Message:
    with ctx.uow(read_only=True) as uow:
        return uow.messages.get(actor.tenant_id, message_id)
