"""Notes staff keep on a customer, shown on the console's customer 360 (issue 10).

Notes are internal: only staff write and read them (never an end customer in the portal), so the roles are
checked here as well as by the console's routes."""

from __future__ import annotations

from kassa.core.access import PERMITTED, Permission
from kassa.core.audit import Actor, ActorType
from kassa.core.customer_notes import CustomerNote, note_body
from kassa.core.errors import NotFound
from kassa.core.pages import check_limit
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.services.staff_auth import require_role


def add_note(ctx: ServiceContext, actor: Actor, customer_id: str, body: str) -> CustomerNote:
    """Write a note on the customer (a role that may take care of customers); it is never edited later."""
    text = note_body(body)
    # the system clock, not the customer's test clock: a note is written by a person, now
    now = ctx.clock.now()
    with ctx.uow() as uow:
        require_role(uow, actor, *PERMITTED[Permission.CUSTOMER_CARE])
        customer = uow.customers.get(actor.tenant_id, customer_id)
        note = CustomerNote(
            tenant_id=actor.tenant_id, id=ctx.new_id("note"), customer_id=customer.id, author_type=actor.type,
            author_id=actor.id, body=text, created_at=now,
        )  # fmt: skip
        uow.customer_notes.add(note)
        audit.record(ctx, uow, actor, "customer.note_added", object_type="customer_note", object_id=note.id,
                     before=None, after=note.to_json(), at=now)  # fmt: skip
        uow.commit()
    return note


def list_notes(ctx: ServiceContext, actor: Actor, customer_id: str, limit: int = 50) -> list[CustomerNote]:
    """The customer's newest notes, newest first (any staff role may read them)."""
    with ctx.uow(read_only=True) as uow:
        require_role(uow, actor, *PERMITTED[Permission.VIEW])
        customer = uow.customers.get(actor.tenant_id, customer_id)
        return uow.customer_notes.list_for(actor.tenant_id, customer.id, check_limit(limit))


def author_names(ctx: ServiceContext, actor: Actor, notes: list[CustomerNote]) -> dict[str, str]:
    """Who wrote each note, by author id: a staff user's name (also after deactivation), else what wrote it."""
    names: dict[str, str] = {}
    with ctx.uow(read_only=True) as uow:
        for note in notes:
            if note.author_id in names:
                continue
            if note.author_type is ActorType.USER:
                try:
                    names[note.author_id] = uow.users.get(actor.tenant_id, note.author_id).name
                except NotFound:
                    names[note.author_id] = note.author_id
            else:
                names[note.author_id] = f"{note.author_type.value.replace('_', ' ')} {note.author_id}"
    return names
