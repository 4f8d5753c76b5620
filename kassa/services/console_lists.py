"""Reads the console's queues need beyond the API's lists: tickets filtered by priority, webhook deliveries
filtered by status and shown with their endpoint's URL and their event's type, and the staff a ticket or
dispute can be assigned to.

The stores filter tickets and deliveries by other columns only, so these walk the id-ordered pages and keep
the matching items; the next cursor is the last kept item's id (cursors are "ids below this one"), so
paging on from it neither skips nor repeats a match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from kassa.core.access import User
from kassa.core.audit import Actor
from kassa.core.errors import DomainError, NotFound
from kassa.core.pages import MAX_LIMIT, Page, check_limit
from kassa.core.support import Ticket, priority
from kassa.core.webhooks import DeliveryStatus, EndpointStatus, WebhookDelivery
from kassa.services import support, users
from kassa.services.context import ServiceContext

T = TypeVar("T")
MAX_SCANNED = 5_000  # a filter that matches rarely stops here, with a cursor to go on from


def _filtered(
    fetch: Callable[[str | None], Page[T]],
    keep: Callable[[T], bool],
    ident: Callable[[T], str],
    *,
    limit: int,
    cursor: str | None,
) -> Page[T]:
    kept: list[T] = []
    scanned = 0
    after = cursor
    while True:
        batch = fetch(after)
        for item in batch.items:
            scanned += 1
            after = ident(item)
            if keep(item):
                kept.append(item)
                if len(kept) == limit:
                    # more may match further on; an empty next page is the honest price of not looking
                    more = batch.has_more or item is not batch.items[-1]
                    return Page(items=kept, has_more=more, next_cursor=after if more else None)
        if not batch.has_more:
            return Page(items=kept, has_more=False, next_cursor=None)
        if scanned >= MAX_SCANNED:
            return Page(items=kept, has_more=True, next_cursor=after)


def tickets_page(
    ctx: ServiceContext,
    actor: Actor,
    *,
    limit: int,
    cursor: str | None,
    status_filter: str | None,
    priority_filter: str | None,
    assignee_id: str | None,
) -> Page[Ticket]:
    """The tenant's tickets, newest first, optionally of one status, priority and assignee."""
    check_limit(limit)
    if priority_filter is None:
        return support.list_tickets(ctx, actor, limit=limit, cursor=cursor, status_filter=status_filter,
                                    assignee_id=assignee_id)  # fmt: skip
    wanted = priority(priority_filter)

    def fetch(after: str | None) -> Page[Ticket]:
        return support.list_tickets(ctx, actor, limit=MAX_LIMIT, cursor=after, status_filter=status_filter,
                                    assignee_id=assignee_id)  # fmt: skip

    return _filtered(fetch, lambda t: t.priority is wanted, lambda t: t.id, limit=limit, cursor=cursor)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRow:
    delivery: WebhookDelivery
    endpoint_url: str | None  # None: the endpoint was deleted
    endpoint_enabled: bool  # a disabled endpoint's deliveries cannot be sent again until it is enabled
    event_type: str | None  # None: the event is gone (the outbox was pruned)


def deliveries_page(
    ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None, status_filter: str | None
) -> Page[DeliveryRow]:
    """Webhook deliveries, newest first, optionally of one status, with their endpoint's URL and event type."""
    check_limit(limit)
    wanted: DeliveryStatus | None = None
    if status_filter is not None:
        try:
            wanted = DeliveryStatus(status_filter)
        except ValueError:
            known = ", ".join(s.value for s in DeliveryStatus)
            raise DomainError("invalid_status", f"status is one of {known}.", "status") from None
    with ctx.uow(read_only=True) as uow:

        def fetch(after: str | None) -> Page[WebhookDelivery]:
            return uow.webhook_deliveries.list(actor.tenant_id, endpoint_id=None, event_id=None,
                                               limit=MAX_LIMIT if wanted else limit, cursor=after)  # fmt: skip

        found = _filtered(
            fetch, lambda d: wanted is None or d.status is wanted, lambda d: d.id, limit=limit, cursor=cursor
        )
        urls: dict[str, str | None] = {}
        enabled: dict[str, bool] = {}
        types: dict[str, str | None] = {}
        for d in found.items:
            if d.endpoint_id not in urls:
                try:
                    endpoint = uow.webhook_endpoints.get(actor.tenant_id, d.endpoint_id)
                    urls[d.endpoint_id] = endpoint.url
                    enabled[d.endpoint_id] = endpoint.status is EndpointStatus.ENABLED
                except NotFound:
                    urls[d.endpoint_id], enabled[d.endpoint_id] = None, False
            if d.event_id not in types:
                try:
                    types[d.event_id] = uow.events.get(actor.tenant_id, d.event_id).type
                except NotFound:
                    types[d.event_id] = None
    rows = [DeliveryRow(delivery=d, endpoint_url=urls[d.endpoint_id], endpoint_enabled=enabled[d.endpoint_id],
                        event_type=types[d.event_id])
            for d in found.items]  # fmt: skip
    return Page(items=rows, has_more=found.has_more, next_cursor=found.next_cursor)


def _all_users(ctx: ServiceContext, actor: Actor) -> Iterator[User]:
    cursor: str | None = None
    while True:
        batch = users.list_users(ctx, actor, limit=MAX_LIMIT, cursor=cursor)
        yield from batch.items
        if not batch.has_more or batch.next_cursor is None:
            return
        cursor = batch.next_cursor


def staff(ctx: ServiceContext, actor: Actor) -> list[User]:
    """Every staff user of the tenant, active ones first, by name: who a ticket or dispute may name."""
    return sorted(_all_users(ctx, actor), key=lambda u: (u.deactivated_at is not None, u.name.lower(), u.id))


def customer_names(ctx: ServiceContext, actor: Actor, ids: Iterable[str]) -> dict[str, str]:
    """The names of the customers a page of a queue names (a deleted customer is left out)."""
    names: dict[str, str] = {}
    with ctx.uow(read_only=True) as uow:
        for cid in set(ids):
            try:
                names[cid] = uow.customers.get(actor.tenant_id, cid).name
            except NotFound:
                continue
    return names


def invoice_numbers(ctx: ServiceContext, actor: Actor, ids: Iterable[str]) -> dict[str, str]:
    """The numbers of the invoices a page of disputes names (drafts have none: left out)."""
    numbers: dict[str, str] = {}
    with ctx.uow(read_only=True) as uow:
        for iid in set(ids):
            try:
                number = uow.invoices.get(actor.tenant_id, iid).number
            except NotFound:
                continue
            if number:
                numbers[iid] = number
    return numbers
