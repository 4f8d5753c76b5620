"""Offers (issue 9): rule documents stored as versions (PUT stores the next one, an identical document
none, DELETE a withdrawal), and which offers apply to a customer now and why. See docs/leads-and-offers.md.

The facts an offer is decided on come from the store in a handful of queries whatever the customer holds:
the customer, its subscriptions, the usage of their open periods (one aggregation for all metrics), the
invoice counts and the lead it converted from. `decisions` is the entry other services use (the wallets'
low-balance promotion asks it inside its own unit of work).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kassa.core.audit import Actor
from kassa.core.customers import Customer
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import EventType
from kassa.core.offers import CODE, Decision, Facts, OfferVersion, evaluate, offer_from_doc, to_doc
from kassa.core.periods import local_day
from kassa.core.subscriptions import Subscription
from kassa.core.usage import UsagePeriod
from kassa.services import audit, catalog
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.rating import ENDED, period_of, usage_windows
from kassa.store.uow import UnitOfWork

# ---- deciding ------------------------------------------------------------------------------------------


def facts(ctx: ServiceContext, uow: UnitOfWork, customer: Customer, at: datetime) -> Facts:
    """What offers are decided on, for one customer at `at`. Plans are those of the subscriptions not
    canceled or ended; statuses are of all its subscriptions (so a win-back offer can ask for canceled).
    Usage is the open period's quantity per metric of those subscriptions up to `at`, summed over groups
    and subscriptions, 0 for a metric a plan prices but nothing used."""
    tenant_id = customer.tenant_id
    subs = uow.subscriptions.many(tenant_id, customer_ids=[customer.id])
    live = [s for s in subs if s.status not in ENDED]
    paid, overdue = uow.offers.invoice_counts(tenant_id, customer.id, local_day(at, customer.time_zone))
    lead = uow.leads.converted_into(tenant_id, customer.id)
    return Facts(
        country=customer.address.country if customer.address else None,
        currency=customer.currency,
        metadata=customer.metadata,
        tenure_days=max(0, (at - customer.created_at) // timedelta(days=1)),
        plans=frozenset(s.terms.plan for s in live),
        statuses=frozenset(s.status.value for s in subs),
        usage=_usage(uow, tenant_id, live, at),
        paid_invoices=paid,
        overdue_invoices=overdue,
        lead_source=lead.source if lead else None,
        lead_campaign=lead.campaign if lead else None,
    )


def _usage(uow: UnitOfWork, tenant_id: str, subs: list[Subscription], at: datetime) -> dict[str, Decimal]:
    if not subs:
        return {}
    versions = catalog.versions(uow, tenant_id)
    entries: list[tuple[Subscription, UsagePeriod]] = []
    for sub in subs:
        period = period_of(sub, versions, local_day(at, sub.time_zone))
        if period is not None:
            entries.append((sub, period))
    metrics = uow.billable_metrics.many(tenant_id, {code for _, p in entries for code in p.charges()})
    usage: dict[str, Decimal] = defaultdict(Decimal)
    for code in metrics:
        usage[code] = Decimal(0)
    windows, _ = usage_windows(entries, metrics, until=[at] * len(entries))
    quantities = uow.usage_events.aggregate(tenant_id, metrics, windows) if windows else {}
    for window in windows:
        usage[window.metric] += sum(quantities.get(window.key, {}).values(), Decimal(0))
    return dict(usage)


def decisions(ctx: ServiceContext, uow: UnitOfWork, customer: Customer, at: datetime) -> list[Decision]:
    """Every current offer's decision for the customer at `at`, in code order (issue 9)."""
    return _decide(ctx, uow, customer, at, uow.offers.current(customer.tenant_id))


def _decide(ctx: ServiceContext, uow: UnitOfWork, customer: Customer, at: datetime,
            current: list[OfferVersion]) -> list[Decision]:  # fmt: skip
    in_force = [v.offer for v in current if v.offer is not None]
    if not in_force:
        return []
    return sorted(evaluate(in_force, facts(ctx, uow, customer, at), at), key=lambda d: d.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerOffers:
    at: datetime  # the customer's present: its test clock's time, or the system clock's
    decisions: list[Decision]  # best first: priority, then code, as core.offers.evaluate ranks them
    versions: dict[str, OfferVersion]  # the version each decision was made on, by code


def offers_for(ctx: ServiceContext, actor: Actor, customer_id: str) -> CustomerOffers:
    """The customer's decisions now."""
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        current = uow.offers.current(actor.tenant_id)
        decided = _decide(ctx, uow, customer, now, current)
    ranked = sorted(decided, key=lambda d: (-d.offer.priority, d.code))
    return CustomerOffers(at=now, decisions=ranked, versions={v.code: v for v in current})


# ---- the documents -------------------------------------------------------------------------------------


def _check_code(code: str) -> None:
    if not CODE.fullmatch(code):
        raise DomainError(
            "invalid_offer", "An offer code is 1 to 64 lowercase letters, digits, '_' or '-'.", "code"
        )


def put_offer(ctx: ServiceContext, actor: Actor, code: str, doc: Any) -> tuple[OfferVersion, bool]:
    """Store `doc` as the next version of `code` (the path's code wins; a different code in the body is
    refused). An identical document stores nothing. Returns the version in force and whether it is new."""
    _check_code(code)
    if isinstance(doc, dict) and doc.get("code", code) != code:
        raise DomainError("code_mismatch", f"The document's code is not {code!r}, the path's.", "code")
    offer = offer_from_doc({**doc, "code": code} if isinstance(doc, dict) else doc)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        latest = uow.offers.latest(actor.tenant_id, code, for_update=True)
        if latest is not None and latest.offer == offer:
            return latest, False
        version = uow.offers.add(
            actor.tenant_id, code, 1 if latest is None else latest.version + 1, offer, at=now
        )
        before = None if latest is None or latest.offer is None else to_doc(latest.offer)
        after = to_doc(offer)
        audit.changed(ctx, uow, actor, EventType.OFFER_UPDATED, object_type="offer", object_id=code,
                      before=before, after=after, at=now,
                      data={**after, "version": version.version})  # fmt: skip
        uow.commit()
    return version, True


def get_offer(ctx: ServiceContext, actor: Actor, code: str) -> OfferVersion:
    with ctx.uow(read_only=True) as uow:
        latest = uow.offers.latest(actor.tenant_id, code)
    if latest is None or latest.offer is None:
        raise NotFound("offer", code)
    return latest


def list_offers(ctx: ServiceContext, actor: Actor) -> list[OfferVersion]:
    with ctx.uow(read_only=True) as uow:
        return uow.offers.current(actor.tenant_id)


def offer_versions(ctx: ServiceContext, actor: Actor, code: str) -> list[OfferVersion]:
    """Every version, oldest first, withdrawals included; 404 for a code never put."""
    with ctx.uow(read_only=True) as uow:
        found = uow.offers.versions(actor.tenant_id, code)
    if not found:
        raise NotFound("offer", code)
    return found


def withdraw_offer(ctx: ServiceContext, actor: Actor, code: str) -> OfferVersion:
    """A version without a document: the offer stops applying and answers 404 until it is put again."""
    with ctx.uow() as uow:
        now = ctx.clock.now()
        latest = uow.offers.latest(actor.tenant_id, code, for_update=True)
        if latest is None or latest.offer is None:
            raise NotFound("offer", code)
        version = uow.offers.add(actor.tenant_id, code, latest.version + 1, None, at=now)
        audit.changed(ctx, uow, actor, EventType.OFFER_WITHDRAWN, object_type="offer", object_id=code,
                      before=to_doc(latest.offer), after=None, at=now,
                      data={"code": code, "version": version.version})  # fmt: skip
        uow.commit()
    return version
