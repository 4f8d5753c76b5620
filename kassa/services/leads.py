"""Leads (issue 9): create, read, list, update and convert into a customer and its first subscription; and
the feedback report, what each source or campaign brought in afterwards. See docs/leads-and-offers.md.

Converting is one transaction: the lead locked, the customer created (or an existing one), the
subscription started, the lead marked converted. A refused subscription keeps nothing; converting twice is
a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kassa.core.audit import Actor
from kassa.core.customers import Customer
from kassa.core.errors import DomainError, NotFound, prefixed
from kassa.core.events import EventType
from kassa.core.leads import (
    Lead,
    LeadStatus,
    SourceFeedback,
    SourceFigures,
    apply_changes,
    convert,
    feedback,
    new_lead,
)
from kassa.core.money import Money
from kassa.core.pages import Page, check_limit
from kassa.core.periods import add_months, local_day, start_of
from kassa.core.reports import RateUsed, Report, Value, month_name
from kassa.core.subscriptions import Subscription
from kassa.services import audit, customers, exchange_rates, revenue_reports, subscriptions
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for

# ---- leads ---------------------------------------------------------------------------------------------


def create_lead(ctx: ServiceContext, actor: Actor, fields: Mapping[str, Any]) -> Lead:
    with ctx.uow() as uow:
        now = ctx.clock.now()
        lead = new_lead(actor.tenant_id, ctx.new_id("lead"), fields, now)
        uow.leads.add(lead)
        audit.changed(ctx, uow, actor, EventType.LEAD_CREATED, object_type="lead", object_id=lead.id,
                      before=None, after=lead.to_json(), at=now)  # fmt: skip
        uow.commit()
    return lead


def get_lead(ctx: ServiceContext, actor: Actor, lead_id: str) -> Lead:
    with ctx.uow(read_only=True) as uow:
        return uow.leads.get(actor.tenant_id, lead_id)


def list_leads(ctx: ServiceContext, actor: Actor, *, limit: int = 20, cursor: str | None = None,
               source: str | None = None, campaign: str | None = None,
               status: LeadStatus | None = None) -> Page[Lead]:  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        return uow.leads.list(actor.tenant_id, limit=check_limit(limit), cursor=cursor, source=source,
                              campaign=campaign, status=status)  # fmt: skip


def update_lead(ctx: ServiceContext, actor: Actor, lead_id: str, changes: Mapping[str, Any]) -> Lead:
    with ctx.uow() as uow:
        lead = uow.leads.get(actor.tenant_id, lead_id, for_update=True)
        now = ctx.clock.now()
        updated = apply_changes(lead, changes, now)
        if updated != lead:
            uow.leads.update(updated)
            audit.changed(ctx, uow, actor, EventType.LEAD_UPDATED, object_type="lead", object_id=lead.id,
                          before=lead.to_json(), after=updated.to_json(), at=now)  # fmt: skip
            uow.commit()
    return updated


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    lead: Lead
    customer: Customer
    subscription: Subscription | None


def convert_lead(ctx: ServiceContext, actor: Actor, lead_id: str, body: Mapping[str, Any]) -> Conversion:
    """`customer_id` of an existing customer, or `customer` (the body of POST /v1/customers) to create one;
    optionally `subscription` (the body of POST /v1/subscriptions without customer_id)."""
    unknown = sorted(set(body) - {"customer_id", "customer", "subscription"})
    if unknown:
        raise DomainError("unknown_field", f"Unknown field {unknown[0]!r}.", unknown[0])
    if (body.get("customer_id") is None) == (body.get("customer") is None):
        raise DomainError("invalid_conversion", "Give customer_id or customer (one of them).", "customer_id")
    start = body.get("subscription")
    if start is not None and (not isinstance(start, Mapping) or "customer_id" in start):
        raise DomainError("invalid_conversion", "subscription is the subscription's body without customer_id.",
                          "subscription")  # fmt: skip
    # one transaction: the lead locked first, so a second conversion of it waits, then finds it converted
    # (409) and creates nothing; a refused subscription leaves no customer behind
    with ctx.uow() as uow:
        lead = uow.leads.get(actor.tenant_id, lead_id, for_update=True)
        convert(lead, "-", None, lead.updated_at)  # refuses a converted lead before anything is created
        if body.get("customer_id") is not None:
            try:
                customer = uow.customers.get(actor.tenant_id, body["customer_id"])
            except NotFound:
                raise DomainError("customer_not_found", f"No customer {body['customer_id']!r}.",
                                  "customer_id") from None  # fmt: skip
        else:
            try:
                customer = customers.create_customer_in(ctx, uow, actor, dict(body["customer"]))
            except DomainError as error:
                raise prefixed(error, "customer") from None
        subscription = None
        if start is not None:
            try:
                subscription = subscriptions.create_subscription_in(
                    ctx, uow, actor, {**start, "customer_id": customer.id}
                )
            except DomainError as error:
                raise prefixed(error, "subscription") from None
        now = now_for(ctx, uow, customer)
        converted = convert(lead, customer.id, subscription.id if subscription else None, now)
        uow.leads.update(converted)
        audit.changed(ctx, uow, actor, EventType.LEAD_CONVERTED, object_type="lead", object_id=lead.id,
                      before=lead.to_json(), after=converted.to_json(), at=now, customer_id=customer.id)  # fmt: skip
        uow.commit()
    return Conversion(lead=converted, customer=customer, subscription=subscription)


# ---- the feedback report -------------------------------------------------------------------------------

COLUMNS = ("group", "leads", "converted", "conversion_pct", "churned", "churn_pct", "billed", "recognized",
           "billed_per_customer", "ltv")  # fmt: skip
NOTES = (
    "leads: created in the months asked for (all when none are); converted: those converted so far",
    "churned: converted customers whose subscriptions are all canceled or ended",
    "billed: finalized invoices of the converted customers, net of tax, voids left out; recognized: the "
    "revenue recognized for them so far",
    "ltv = billed / churned: ARPA over the churn rate, both per customer-month; null until one churned",
    "other currencies are converted at the rate of the report's day",
)


def feedback_report(ctx: ServiceContext, actor: Actor, group_by: str, currency: str | None = None,
                    first: str | None = None, last: str | None = None) -> Report:  # fmt: skip
    """Per lead source or campaign: leads, conversions, churn, billed and recognized revenue and LTV."""
    if group_by not in ("source", "campaign"):
        raise DomainError("invalid_report", "group_by is source or campaign.", "group_by")
    with ctx.uow(read_only=True) as uow:
        zone = uow.tenants.get(actor.tenant_id).settings.time_zone
        created_from = created_before = None
        if first is not None or last is not None:
            months = revenue_reports.span(ctx, actor, first, last)
            created_from = start_of(months[0], zone)
            created_before = start_of(add_months(months[-1], 1, 1), zone)
        rows = uow.leads.feedback(actor.tenant_id, group_by, created_from, created_before)
        codes = {c for r in rows for c in (*r.billed, *r.recognized)}
        default, book = exchange_rates.reporting(
            uow, actor.tenant_id, codes | ({currency} if currency else set())
        )
    to = currency or default
    today = local_day(ctx.clock.now(), zone)
    used: dict[str, RateUsed] = {}

    def total(sums: Mapping[str, int]) -> Money:
        out = Money.zero(to)
        for code, minor in sorted(sums.items()):
            money, rate = book.convert(Money.from_minor_units(minor, code), to, today)
            if code != to:
                used[code] = rate
            out = out + money
        return out

    figures = [feedback(SourceFigures(group=r.group, leads=r.leads, converted=r.converted, churned=r.churned,
                                      billed=total(r.billed), recognized=total(r.recognized)))
               for r in rows]  # fmt: skip
    figures.sort(key=lambda f: (f.group is None, f.group or ""))
    out = tuple(_row(f) for f in figures)
    name = f"leads_by_{group_by}"
    period = {} if created_from is None else {"from": month_name(months[0]), "to": month_name(months[-1])}
    return Report(name=name, columns=COLUMNS, rows=out, currency=to, notes=NOTES,
                  rates=tuple(sorted(used.values(), key=lambda r: r.currency)), summary=period)  # fmt: skip


def _row(f: SourceFeedback) -> dict[str, Value]:
    return {"group": f.group, "leads": f.leads, "converted": f.converted, "conversion_pct": f.conversion_pct,
            "churned": f.churned, "churn_pct": f.churn_pct, "billed": f.billed, "recognized": f.recognized,
            "billed_per_customer": f.billed_per_customer, "ltv": f.ltv}  # fmt: skip
