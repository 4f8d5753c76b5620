"""Bookings: each time a subscription's commitment changes, its new revision and the value signed
(rules in `kassa.core.contracts`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from kassa.core.billing_schedule import billing_schedule, timeline
from kassa.core.catalog import CatalogVersion
from kassa.core.contracts import booking_kind, committed, horizon, value_from
from kassa.core.subscriptions import Subscription
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

_LOOKAHEAD = timedelta(days=3 * 366 + 31)  # fixed terms longer than three years are committed up to there


def revise(ctx: ServiceContext, uow: UnitOfWork, sub: Subscription, versions: Sequence[CatalogVersion],
           today: date, now: datetime) -> None:  # fmt: skip
    """Record a new revision (and its bookings) if what the subscription commits to has changed."""
    tl = timeline(sub, list(versions), max(today, sub.start) + _LOOKAHEAD)
    if not tl.segments:
        return
    until = horizon(tl)
    rounding = uow.tenants.get(sub.tenant_id).settings.rounding_mode
    charges = billing_schedule(tl, sub.currency, rounding, until=(until or sub.start) + timedelta(days=1))
    product = tl.segments[0].plan.product
    now_committed = committed(charges, product, until)
    revision, before = uow.contracts.latest(sub.tenant_id, sub.id)
    if revision and before == now_committed:
        return
    signed_on = today
    uow.contracts.revise(sub.tenant_id, sub.id, sub.customer_id, sub.currency, revision + 1, signed_on,
                         now_committed)  # fmt: skip
    by_product: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in before:
        by_product[c.product][0] += value_from([c], signed_on)
    for c in now_committed:
        by_product[c.product][1] += value_from([c], signed_on) if revision else c.amount
    for item, (old, new) in sorted(by_product.items()):
        kind = booking_kind(old, new, first=not revision)
        if kind is not None:
            uow.contracts.book(sub.tenant_id, ctx.new_id("bkg"), sub.customer_id, sub.id, revision + 1, signed_on,
                               kind, item, sub.currency, new - old, now)  # fmt: skip
