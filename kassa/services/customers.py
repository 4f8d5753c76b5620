"""Customer accounts: create, read, update, list, archive, and the timeline of what happened to one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from kassa.core.audit import Actor, diff
from kassa.core.customers import MAX_HIERARCHY_DEPTH, Customer, CustomerFilter, apply_changes, check_parent
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import Event, EventType
from kassa.core.money import Money
from kassa.core.pages import Page, check_limit
from kassa.services import audit, events
from kassa.services.context import ServiceContext
from kassa.services.tenants import known_locale, tax_ids
from kassa.store.uow import UnitOfWork


def now_for(ctx: ServiceContext, uow: UnitOfWork, customer: Customer) -> datetime:
    """The customer's present: its test clock's frozen time, or the system clock."""
    if customer.test_clock_id is None:
        return ctx.clock.now()
    return uow.test_clocks.get(customer.tenant_id, customer.test_clock_id).frozen_time


def _prepare(ctx: ServiceContext, fields: dict[str, Any]) -> dict[str, Any]:
    """Turn wire values the core does not parse itself (tax ids, money, locale) into checked values."""
    fields = dict(fields)
    if "tax_ids" in fields:
        items = fields["tax_ids"]
        if not isinstance(items, list) or len(items) > 10:
            raise DomainError(
                "invalid_tax_ids", "tax_ids is a list of at most 10 {type, value} objects.", "tax_ids"
            )
        fields["tax_ids"] = tax_ids(ctx, items, "tax_ids")
    if fields.get("credit_limit") is not None:
        limit = fields["credit_limit"]
        if not isinstance(limit, dict) or set(limit) != {"amount", "currency"}:
            raise DomainError(
                "invalid_money", 'Money is {"amount": "12.34", "currency": "EUR"}.', "credit_limit"
            )
        fields["credit_limit"] = Money.parse(limit["amount"], limit["currency"], field="credit_limit.amount")
    if "locale" in fields:
        known_locale(fields["locale"], "locale")
    return fields


def _check_hierarchy(uow: UnitOfWork, customer: Customer) -> None:
    if customer.parent_id is None:
        return
    try:
        parent = uow.customers.get(customer.tenant_id, customer.parent_id)
    except DomainError:
        raise DomainError(
            "parent_not_found", f"No customer {customer.parent_id!r} to be the parent.", "parent_id"
        ) from None
    if parent.archived:
        raise DomainError("parent_archived", "An archived customer cannot be a parent.", "parent_id")
    check_parent(
        customer.id,
        customer.parent_id,
        lambda cid: uow.customers.parent_of(customer.tenant_id, cid),
        uow.customers.levels_below(customer.tenant_id, customer.id, MAX_HIERARCHY_DEPTH),
    )
    if customer.bill_to_parent and parent.currency != customer.currency:
        raise DomainError(
            "currency_mismatch",
            f"A parent pays in its own currency: the parent bills in {parent.currency}, this customer in {customer.currency}.",
            "currency",
        )


def _check_paid_for_children(uow: UnitOfWork, customer: Customer) -> None:
    """A parent that pays for its children bills in their currency: it cannot move away from it."""
    others = uow.customers.paid_for_child_currencies(customer.tenant_id, customer.id) - {customer.currency}
    if others:
        raise DomainError(
            "currency_mismatch",
            f"Children billed to this customer are in {', '.join(sorted(others))}; a parent pays in its own currency.",
            "currency",
        )


def create_customer(ctx: ServiceContext, actor: Actor, fields: dict[str, Any]) -> Customer:
    with ctx.uow() as uow:
        customer = create_customer_in(ctx, uow, actor, fields)
        uow.commit()
    return customer


def create_customer_in(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, fields: dict[str, Any]
) -> Customer:
    """create_customer inside the caller's unit of work (a lead converting creates one with its subscription)."""
    fields = dict(fields)
    clock_id = fields.pop("test_clock_id", None)
    for required in ("external_id", "name"):
        if fields.get(required) is None:
            raise DomainError("required", f"{required} is required.", required)
    fields = _prepare(ctx, fields)
    settings = uow.tenants.get(actor.tenant_id).settings
    if clock_id is not None:
        try:
            now = uow.test_clocks.get(actor.tenant_id, clock_id).frozen_time
        except DomainError:
            raise DomainError(
                "test_clock_not_found", f"No test clock {clock_id!r}.", "test_clock_id"
            ) from None
    else:
        now = ctx.clock.now()
    blank = Customer(
        tenant_id=actor.tenant_id,
        id=ctx.new_id("cus"),
        external_id="-",
        name="-",
        currency=settings.default_currency,
        locale=settings.locale,
        time_zone=settings.time_zone,
        test_clock_id=clock_id,
        created_at=now,
        updated_at=now,
    )
    customer = apply_changes(blank, fields)
    _check_hierarchy(uow, customer)
    uow.customers.add(customer)
    view = customer.to_json()
    audit.changed(
        ctx, uow, actor, EventType.CUSTOMER_CREATED, object_type="customer", object_id=customer.id,
        before=None, after=view, at=now, customer_id=customer.id,
    )  # fmt: skip
    return customer


def get_customer(ctx: ServiceContext, actor: Actor, customer_id: str) -> Customer:
    with ctx.uow(read_only=True) as uow:
        return uow.customers.get(actor.tenant_id, customer_id)


def list_customers(
    ctx: ServiceContext, actor: Actor, where: CustomerFilter, *, limit: int = 20, cursor: str | None = None
) -> Page[Customer]:
    with ctx.uow(read_only=True) as uow:
        return uow.customers.list(actor.tenant_id, where, limit=check_limit(limit), cursor=cursor)


def update_customer(ctx: ServiceContext, actor: Actor, customer_id: str, changes: dict[str, Any]) -> Customer:
    if "test_clock_id" in changes:
        raise DomainError(
            "immutable_field", "A customer's test clock is set when it is created.", "test_clock_id"
        )
    changes = _prepare(ctx, changes)
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id, for_update=True)
        if customer.archived:
            raise Conflict("customer_archived", "An archived customer cannot be changed.", None)
        updated = apply_changes(customer, changes)
        if updated != customer:
            now = now_for(ctx, uow, customer)
            updated = replace(updated, updated_at=now)
            _check_hierarchy(uow, updated)
            if updated.currency != customer.currency:
                _check_paid_for_children(uow, updated)
            uow.customers.update(updated)
            before, after = customer.to_json(), updated.to_json()
            audit.changed(
                ctx, uow, actor, EventType.CUSTOMER_UPDATED, object_type="customer", object_id=customer.id,
                before=before, after=after, at=now, customer_id=customer.id,
                data={"object": after, "previous": {k: v["before"] for k, v in diff(before, after).items()}},
            )  # fmt: skip
        uow.commit()
    return updated


def archive_customer(ctx: ServiceContext, actor: Actor, customer_id: str) -> Customer:
    """Archived customers keep their history but take no new business; archiving twice is a no-op."""
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id, for_update=True)
        if customer.archived:
            return customer
        if uow.customers.has_children(actor.tenant_id, customer_id):
            raise Conflict(
                "customer_has_children", "Archive or re-parent this customer's children first.", None
            )
        now = now_for(ctx, uow, customer)
        archived = replace(customer, archived_at=now, updated_at=now)
        uow.customers.update(archived)
        audit.changed(
            ctx, uow, actor, EventType.CUSTOMER_ARCHIVED, object_type="customer", object_id=customer.id,
            before=customer.to_json(), after=archived.to_json(), at=now, customer_id=customer.id,
        )  # fmt: skip
        uow.commit()
    return archived


def timeline(
    ctx: ServiceContext, actor: Actor, customer_id: str, *, limit: int = 20, cursor: str | None = None
) -> Page[Event]:
    """Everything that happened to the customer, newest first: the events that name it."""
    return events.list_events(ctx, actor.tenant_id, customer_id=customer_id, limit=limit, cursor=cursor)
