"""Portal magic links and sessions (issue 10): a link opens a session only when signed with its own tenant's
key, for its purpose, unexpired, untampered, for a customer still on the books; the portal_link email, sent
in the customer's language even while lifecycle messages are off. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest

from kassa.adapters.mail.base import OutgoingEmail
from kassa.core import portal_links as links
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.messages import MessageKind, MessageStatus
from kassa.services import customers, messages, portal
from kassa.services.context import ServiceContext
from kassa.services.message_rendering import signing_key
from tests.conftest import SettableClock, make_tenant


@dataclass
class Outbox:
    sent: list[OutgoingEmail] = field(default_factory=list)

    def send(self, email: OutgoingEmail) -> str:
        self.sent.append(email)
        return "queued"


def _customer(ctx: ServiceContext, actor: Actor, name: str = "ada", **more: object) -> str:
    fields = {"external_id": name, "name": name.title(), "emails": [f"{name}@example.com"], **more}
    return customers.create_customer(ctx, actor, fields).id


def _refused(code: str, call: object, *args: object) -> None:
    with pytest.raises(links.PortalLinkInvalid) as error:
        call(*args)  # type: ignore[operator]
    assert (error.value.code, error.value.status) == (code, 401)


def _key(ctx: ServiceContext, tenant_id: str) -> bytes:
    with ctx.uow() as uow:
        key = signing_key(ctx, uow, tenant_id)
        uow.commit()
    return key


def test_a_link_opens_a_session_for_its_customer(ctx: ServiceContext, actor: Actor) -> None:
    cid = _customer(ctx, actor)
    link = portal.create_link(ctx, actor, cid)
    assert link.url.endswith(f"/portal/open/{link.token}")
    assert link.expires_at == ctx.clock.now() + timedelta(hours=72)
    visit, session = portal.open_link(ctx, link.token)
    assert (visit.customer.id, visit.actor.type.value, visit.actor.tenant_id) == (
        cid,
        "customer",
        actor.tenant_id,
    )
    assert portal.visit(ctx, session).customer.id == cid


def test_a_token_signed_with_another_key_is_refused(ctx: ServiceContext, actor: Actor) -> None:
    cid = _customer(ctx, actor)
    _key(ctx, actor.tenant_id)
    claims = links.PortalClaims(tenant_id=actor.tenant_id, customer_id=cid, purpose=links.Purpose.LINK,
                                expires_at=ctx.clock.now() + timedelta(hours=1))  # fmt: skip
    _refused("portal_link_invalid", portal.open_link, ctx, links.sign(b"k" * 32, claims))


def test_another_tenants_key_does_not_open_this_tenants_customer(ctx: ServiceContext, actor: Actor) -> None:
    """Tenant B signs a token naming tenant A's customer with B's own key: A's key checks it, and refuses."""
    cid = _customer(ctx, actor)
    portal.create_link(ctx, actor, cid)  # A has a key
    other = make_tenant(ctx, "Other Billing")
    portal.create_link(ctx, other.actor, _customer(ctx, other.actor, "bob"))
    claims = links.PortalClaims(tenant_id=actor.tenant_id, customer_id=cid, purpose=links.Purpose.LINK,
                                expires_at=ctx.clock.now() + timedelta(hours=1))  # fmt: skip
    _refused("portal_link_invalid", portal.open_link, ctx, links.sign(_key(ctx, other.id), claims))
    # and B's own token names B: it never reaches A's customer under B's tenant
    forged = links.PortalClaims(tenant_id=other.id, customer_id=cid, purpose=links.Purpose.LINK,
                                expires_at=ctx.clock.now() + timedelta(hours=1))  # fmt: skip
    _refused("portal_link_invalid", portal.open_link, ctx, links.sign(_key(ctx, other.id), forged))


def test_a_token_is_good_for_its_own_purpose_only(ctx: ServiceContext, actor: Actor) -> None:
    cid = _customer(ctx, actor)
    link = portal.create_link(ctx, actor, cid)
    _, session = portal.open_link(ctx, link.token)
    _refused("portal_session_invalid", portal.visit, ctx, link.token)
    _refused("portal_link_invalid", portal.open_link, ctx, session)
    # the same claims signed for the other purpose's label do not pass either
    payload = session.split(".")[0]
    relabelled = payload + "." + link.token.split(".")[1]
    _refused("portal_session_invalid", portal.visit, ctx, relabelled)


def test_an_expired_link_and_session(ctx: ServiceContext, actor: Actor, clock: SettableClock) -> None:
    cid = _customer(ctx, actor)
    link = portal.create_link(ctx, actor, cid, expires_in_hours=1)
    _, session = portal.open_link(ctx, link.token)
    clock.advance(timedelta(hours=1))
    _refused("portal_link_expired", portal.open_link, ctx, link.token)
    clock.advance(timedelta(hours=1))
    _refused("portal_session_invalid", portal.visit, ctx, session)


def test_a_tampered_payload_is_refused(ctx: ServiceContext, actor: Actor) -> None:
    mine, theirs = _customer(ctx, actor), _customer(ctx, actor, "bob")
    link = portal.create_link(ctx, actor, mine)
    payload, signature = link.token.split(".")
    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for changed in ([doc[0], theirs, *doc[2:]], [*doc[:3], doc[3] + 86400]):
        raw = (
            base64.urlsafe_b64encode(json.dumps(changed, separators=(",", ":")).encode()).decode().rstrip("=")
        )
        _refused("portal_link_invalid", portal.open_link, ctx, f"{raw}.{signature}")
    for garbage in ("", "x", "a.b.c", f"{payload}.", "!!!.???"):
        _refused("portal_link_invalid", portal.open_link, ctx, garbage)


def test_an_archived_customer_has_no_portal(ctx: ServiceContext, actor: Actor) -> None:
    cid = _customer(ctx, actor)
    link = portal.create_link(ctx, actor, cid)
    _, session = portal.open_link(ctx, link.token)
    customers.archive_customer(ctx, actor, cid)
    _refused("portal_link_invalid", portal.open_link, ctx, link.token)
    _refused("portal_session_invalid", portal.visit, ctx, session)


def test_the_lifetime_is_checked(ctx: ServiceContext, actor: Actor) -> None:
    cid = _customer(ctx, actor)
    assert portal.create_link(
        ctx, actor, cid, expires_in_hours=720
    ).expires_at == ctx.clock.now() + timedelta(days=30)
    for bad in (0, 721, True, 1.5, "2"):
        with pytest.raises(DomainError) as error:
            portal.create_link(ctx, actor, cid, expires_in_hours=bad)
        assert (error.value.code, error.value.field) == ("invalid_expiry", "expires_in_hours")


def test_the_link_by_email_in_the_customers_language(ctx: ServiceContext, actor: Actor) -> None:
    """Lifecycle messages are off (the default): an operator's explicit request is still sent."""
    assert messages.get_settings(ctx, actor).enabled is False
    outbox = Outbox()
    mailing = replace(ctx, mailer=outbox)  # a copy with its own id generator: used alone from here on
    cid = _customer(mailing, actor, "erika", locale="de_DE")
    link = portal.create_link(mailing, actor, cid, expires_in_hours=24, send_email=True)
    [email] = outbox.sent
    assert (tuple(email.to), email.subject) == (("erika@example.com",), "Ihr Konto bei Acme Billing")
    assert link.url in email.text and "Der Link gilt bis 02.01.2026" in email.text
    assert "List-Unsubscribe" not in email.headers  # essential: never unsubscribable
    assert link.message is not None and (link.message.kind, link.message.status) == (
        MessageKind.PORTAL_LINK, MessageStatus.SENT)  # fmt: skip
    [logged] = messages.list_messages(mailing, actor, customer_id=cid, limit=10, cursor=None).items
    assert (logged.id, logged.kind, logged.status) == (
        link.message.id,
        MessageKind.PORTAL_LINK,
        MessageStatus.SENT,
    )


def test_the_link_by_email_needs_an_address_and_a_mail_server(ctx: ServiceContext, actor: Actor) -> None:
    silent = customers.create_customer(ctx, actor, {"external_id": "mute", "name": "Mute"}).id
    with pytest.raises(DomainError) as error:
        portal.create_link(ctx, actor, silent, send_email=True)
    assert (error.value.code, error.value.field) == ("no_email_address", "send_email")
    link = portal.create_link(ctx, actor, _customer(ctx, actor), send_email=True)  # the test ctx has no SMTP
    assert link.message is not None and link.message.status is MessageStatus.FAILED
    assert link.message.error is not None and link.message.error.startswith("not_sent")
