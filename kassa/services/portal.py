"""The self-service portal's access: magic links for one customer, and the portal session they open.

A link is signed with the tenant's key (the one unsubscribe links use, made on first use and never shown) and
expires; opening it starts a portal session of two hours, carried by a signed cookie. Nothing is stored per
link, so a link cannot be revoked one by one: it expires (72 hours by default, 30 days at most)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kassa.core import portal_links as links
from kassa.core.audit import Actor, ActorType
from kassa.core.customers import Customer
from kassa.core.errors import NotFound
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.services.message_rendering import public_url, settings_of, signing_key, stored_key


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalLink:
    url: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalVisit:
    """Who is in the portal: the customer (as an actor scoped to their own account) and their locale."""

    actor: Actor
    customer: Customer
    expires_at: datetime


def create_link(
    ctx: ServiceContext, actor: Actor, customer_id: str, *, expires_in_hours: object = None
) -> PortalLink:
    """A magic link to the customer's portal, for an email or for embedding in the tenant's own app."""
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
        audit.record(
            ctx, uow, actor, "portal.link_created", object_type="customer", object_id=customer.id,
            before=None, after={"expires_at": claims.expires_at.isoformat()}, at=now,
        )  # fmt: skip
        uow.commit()
    return PortalLink(url=f"{base}/portal/open/{token}", token=token, expires_at=claims.expires_at)


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
    visit = _visit(ctx, session)
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
