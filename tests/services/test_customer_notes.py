"""Customer notes (issue 10, the console's customer 360) on SQLite and PostgreSQL: written stripped and
audited, listed newest first, refused when empty or too long, for another tenant's customer, for a read-only
user or an end customer; only staff read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kassa.core.audit import Actor, ActorType
from kassa.core.customer_notes import MAX_NOTE_LENGTH, note_body
from kassa.core.errors import DomainError, Forbidden, NotFound
from kassa.services import audit, customer_notes, customers, users
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess, make_tenant


def _customer(ctx: ServiceContext, actor: Actor, external_id: str = "acme") -> str:
    return customers.create_customer(ctx, actor, {"external_id": external_id, "name": "Acme"}).id


def _user(ctx: ServiceContext, tenant: TenantAccess, role: str) -> Actor:
    user = users.create_user(
        ctx, tenant.actor, email=f"{role}@notes.example", name=role.title(), role_name=role
    )
    return Actor(tenant_id=tenant.id, type=ActorType.USER, id=user.id)


def test_notes_are_added_stripped_audited_and_listed_newest_first(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    customer_id = _customer(ctx, tenant.actor)
    support = _user(ctx, tenant, "support")
    first = customer_notes.add_note(
        ctx, support, customer_id, "  Called about the invoice.\nWill pay Friday.  "
    )
    clock.advance(timedelta(minutes=5))
    second = customer_notes.add_note(ctx, tenant.actor, customer_id, "Paid.")

    assert first.body == "Called about the invoice.\nWill pay Friday."
    assert (first.author_type, first.author_id) == (ActorType.USER, support.id)
    assert first.created_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert second.created_at == datetime(2026, 1, 1, 9, 5, tzinfo=UTC)
    assert customer_notes.list_notes(ctx, support, customer_id) == [second, first]
    assert customer_notes.list_notes(ctx, support, customer_id, limit=1) == [second]
    assert customer_notes.author_names(ctx, support, [second, first]) == {
        support.id: "Support",
        tenant.actor.id: f"api key {tenant.actor.id}",
    }

    (entry,) = audit.list_audit_events(
        ctx, tenant.actor, action="customer.note_added", object_id=first.id
    ).items
    assert (entry.actor_type, entry.actor_id, entry.object_type) == (
        ActorType.USER,
        support.id,
        "customer_note",
    )
    assert entry.changes["body"] == {"before": None, "after": "Called about the invoice.\nWill pay Friday."}
    assert entry.changes["customer_id"]["after"] == customer_id


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * (MAX_NOTE_LENGTH + 1)])
def test_an_empty_or_too_long_note_is_refused_and_nothing_is_written(
    ctx: ServiceContext, tenant: TenantAccess, body: str
) -> None:
    customer_id = _customer(ctx, tenant.actor)
    with pytest.raises(DomainError) as caught:
        customer_notes.add_note(ctx, tenant.actor, customer_id, body)
    assert (caught.value.code, caught.value.field) == ("invalid_note", "body")
    assert customer_notes.list_notes(ctx, tenant.actor, customer_id) == []
    assert audit.list_audit_events(ctx, tenant.actor, action="customer.note_added").items == []


def test_the_longest_note_is_kept_whole() -> None:
    assert note_body(" " + "é" * MAX_NOTE_LENGTH + "\n") == "é" * MAX_NOTE_LENGTH
    with pytest.raises(DomainError):
        note_body(None)


def test_another_tenants_customer_is_not_found(ctx: ServiceContext, tenant: TenantAccess) -> None:
    other = make_tenant(ctx, "Other Co")
    theirs = _customer(ctx, other.actor, "theirs")
    customer_notes.add_note(ctx, other.actor, theirs, "Their own note.")
    with pytest.raises(NotFound) as caught:
        customer_notes.add_note(ctx, tenant.actor, theirs, "Sneaky.")
    assert caught.value.code == "customer_not_found"
    with pytest.raises(NotFound):
        customer_notes.list_notes(ctx, tenant.actor, theirs)
    assert [n.body for n in customer_notes.list_notes(ctx, other.actor, theirs)] == ["Their own note."]
    with pytest.raises(NotFound):
        customer_notes.add_note(ctx, tenant.actor, "cus_00000000000000000000000000", "Nobody.")


def test_read_only_staff_read_but_may_not_write_and_customers_see_nothing(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    customer_id = _customer(ctx, tenant.actor)
    note = customer_notes.add_note(ctx, tenant.actor, customer_id, "Internal.")
    reader = _user(ctx, tenant, "read_only")
    assert customer_notes.list_notes(ctx, reader, customer_id) == [note]
    with pytest.raises(Forbidden):
        customer_notes.add_note(ctx, reader, customer_id, "Not allowed.")
    end_customer = Actor(tenant_id=tenant.id, type=ActorType.CUSTOMER, id=customer_id)
    with pytest.raises(Forbidden):
        customer_notes.list_notes(ctx, end_customer, customer_id)
    with pytest.raises(Forbidden):
        customer_notes.add_note(ctx, end_customer, customer_id, "Hello?")
    assert customer_notes.list_notes(ctx, tenant.actor, customer_id) == [note]
