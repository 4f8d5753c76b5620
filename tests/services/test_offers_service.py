"""Offers on SQLite and PostgreSQL (issue 9): rule documents stored as versions (an identical document adds
none, a withdrawal is a version without one); which offers apply to a customer and why, with the facts
read from the store: its address and segment, tenure, plans, this period's usage (0 for a metric its plan
prices and it did not use, late usage of the last period left out), paid and overdue invoices and the lead
it converted from. Exact decisions and reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.core.audit import Actor
from kassa.core.customers import Customer
from kassa.core.errors import DomainError, NotFound
from kassa.core.offers import Decision
from kassa.services import (
    billable_metrics,
    catalog,
    customers,
    invoicing,
    leads,
    metering,
    offers,
    payments,
    subscriptions,
)
from kassa.services.context import ServiceContext
from kassa.store.tables import audit_events, events
from tests.conftest import SettableClock, make_tenant

CATALOG: dict[str, Any] = {
    "products": [{"code": "api", "name": "API", "plans": [
        {"code": "starter", "name": "Starter", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}],
         "charges": [
             {"metric": "api_calls", "model": "per_unit", "prices": {"EUR": {"unit": "0.01"}}},
             {"metric": "exports", "model": "per_unit", "prices": {"EUR": {"unit": "1.00"}}},
         ]},
        {"code": "team", "name": "Team", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "50.00"}}}]},
    ]}],
}  # fmt: skip

UPGRADE = {
    "name": "Team for busy DACH teams",
    "priority": 10,
    "benefit": {"type": "plan", "plan": "team"},
    "conditions": {"all": [
        {"field": "customer.country", "op": "in", "value": ["DE", "AT", "CH"]},
        {"field": "customer.segment", "op": "eq", "value": "smb"},
        {"field": "subscription.plan", "op": "eq", "value": "starter"},
        {"field": "usage.api_calls", "op": "gte", "value": 3},
        {"field": "usage.exports", "op": "eq", "value": 0},
    ]},
}  # fmt: skip
LOYAL = {
    "name": "10 % for loyal payers",
    "priority": 5,
    "benefit": {"type": "coupon", "coupon": "LOYAL10"},
    "conditions": {"all": [
        {"field": "customer.tenure_days", "op": "gte", "value": 60},
        {"field": "invoices.paid_count", "op": "gte", "value": 1},
        {"field": "invoices.overdue_count", "op": "eq", "value": 0},
    ]},
}  # fmt: skip
WEBINAR = {
    "name": "Team trial for webinar guests",
    "benefit": {"type": "trial", "plan": "team", "days": 14},
    "conditions": {"all": [{"field": "lead.campaign", "op": "eq", "value": "spring-webinar"}]},
}
US_PRICE = {
    "name": "Starter for 8 dollars",
    "benefit": {"type": "price", "plan": "starter", "price": {"amount": "8.00", "currency": "USD"}},
    "conditions": {"all": [{"field": "customer.country", "op": "eq", "value": "US"}]},
}
SUMMER = {
    "name": "Summer sale",
    "starts_at": "2026-06-01T00:00:00+00:00",
    "benefit": {"type": "coupon", "coupon": "SUMMER"},
    "conditions": {"all": []},
}
AT = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)  # 73 days after the customer was created


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _invoice(ctx: ServiceContext, actor: Actor, customer_id: str, amount: str) -> Any:
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": customer_id, "lines": [
        {"description": "Consulting", "quantity": "1", "unit_price": amount}]})  # fmt: skip
    return invoicing.finalize_invoice(ctx, actor, draft.id)


def _usage(ctx: ServiceContext, actor: Actor, *stamps: str) -> None:
    items = [{"id": f"ev-{i}", "metric": "api_calls", "external_customer_id": "acme", "timestamp": stamp,
              "properties": {}} for i, stamp in enumerate(stamps)]  # fmt: skip
    assert metering.ingest_usage(ctx, actor, items).errors == []


@pytest.fixture
def acme(ctx: ServiceContext, actor: Actor, clock: SettableClock) -> Customer:
    """ACME (Germany, segment smb) from the spring-webinar lead, on starter since 1 January 2026; an invoice
    paid in January, one due 15 February unpaid; 3 API calls in March (and one in February, sent late);
    the clock at 15 March 09:00."""
    billable_metrics.create_metric(
        ctx, actor, {"code": "api_calls", "name": "API calls", "aggregation": "count"}
    )
    billable_metrics.create_metric(ctx, actor, {"code": "exports", "name": "Exports", "aggregation": "count"})
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=utc(2025, 1, 1))
    customer = customers.create_customer(ctx, actor, {
        "external_id": "acme", "name": "ACME GmbH", "currency": "EUR", "time_zone": "Europe/Berlin",
        "payment_terms_days": 14, "metadata": {"segment": "smb"},
        "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}})  # fmt: skip
    subscriptions.create_subscription(ctx, actor, {"customer_id": customer.id, "plan": "starter"})
    lead = leads.create_lead(ctx, actor, {"email": "ops@acme.example", "source": "webinar",
                                          "campaign": "spring-webinar"})  # fmt: skip
    leads.convert_lead(ctx, actor, lead.id, {"customer_id": customer.id})
    first = _invoice(ctx, actor, customer.id, "100.00")
    clock.at = utc(2026, 1, 10, 9)
    payments.record_payment(ctx, actor, {"customer_id": customer.id, "amount": first.total.amount_text(),
                                         "reference": first.number})  # fmt: skip
    clock.at = utc(2026, 2, 1, 9)
    _invoice(ctx, actor, customer.id, "40.00")
    clock.at = utc(2026, 3, 12, 9)
    _usage(ctx, actor, "2026-02-20T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-10T10:00:00Z",
           "2026-03-12T08:00:00Z")  # fmt: skip
    clock.at = AT
    for code, doc in (("dach-upgrade", UPGRADE), ("loyal", LOYAL), ("webinar-trial", WEBINAR),
                      ("us-price", US_PRICE), ("summer", SUMMER)):  # fmt: skip
        offers.put_offer(ctx, actor, code, doc)
    return customer


def _decisions(ctx: ServiceContext, customer: Customer, at: datetime) -> list[Decision]:
    with ctx.uow(read_only=True) as uow:
        return offers.decisions(ctx, uow, customer, at)


def test_facts_come_from_the_store(ctx: ServiceContext, acme: Customer) -> None:
    """Issue 9: tenure in whole days, live plans, every status, March's usage up to now (the February call
    arrived late and belongs to February), exports 0, one paid and one overdue invoice, the lead."""
    with ctx.uow(read_only=True) as uow:
        facts = offers.facts(ctx, uow, acme, AT)
    assert (facts.country, facts.currency, dict(facts.metadata), facts.tenure_days) == (
        "DE",
        "EUR",
        {"segment": "smb"},
        73,
    )
    assert (facts.plans, facts.statuses) == (frozenset({"starter"}), frozenset({"active"}))
    assert facts.usage == {"api_calls": Decimal(3), "exports": Decimal(0)}
    assert (facts.paid_invoices, facts.overdue_invoices) == (1, 1)
    assert (facts.lead_source, facts.lead_campaign) == ("webinar", "spring-webinar")
    # usage up to `at` only: on 5 March, the call of 2 March alone
    with ctx.uow(read_only=True) as uow:
        assert offers.facts(ctx, uow, acme, utc(2026, 3, 5)).usage == {"api_calls": 1, "exports": 0}


def test_which_offers_apply_and_why(ctx: ServiceContext, actor: Actor, acme: Customer) -> None:
    """Issue 9: in code order; the upgrade and the webinar trial apply, the loyalty coupon waits for the
    overdue invoice, the dollar price cannot be billed in euros, the summer sale has not started."""
    decided = _decisions(ctx, acme, AT)
    assert [(d.code, d.applies, d.reasons) for d in decided] == [
        ("dach-upgrade", True, (
            "customer.country is DE (wanted one of DE, AT, CH)",
            "customer.segment is smb",
            "subscription.plan is starter",
            "usage.api_calls is 3, at least 3",
            "usage.exports is 0",
        )),
        ("loyal", False, (
            "customer.tenure_days is 73, at least 60",
            "invoices.paid_count is 1, at least 1",
            "invoices.overdue_count is 1, not 0",
        )),
        ("summer", False, ("not valid before 2026-06-01T00:00:00+00:00", "no conditions: every customer")),
        ("us-price", False, (
            "customer.country is DE, not US",
            "the price is in USD, customer.currency is EUR",
        )),
        ("webinar-trial", True, ("lead.campaign is spring-webinar",)),
    ]  # fmt: skip
    # paying the overdue invoice makes the loyalty coupon apply
    [overdue] = [i for i in invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=acme.id).items
                 if i.status.value == "open"]  # fmt: skip
    payments.record_payment(ctx, actor, {"customer_id": acme.id, "amount": overdue.total.amount_text(),
                                         "reference": overdue.number})  # fmt: skip
    loyal = {d.code: d for d in _decisions(ctx, acme, AT)}["loyal"]
    assert (loyal.applies, loyal.reasons[1:]) == (
        True,
        ("invoices.paid_count is 2, at least 1", "invoices.overdue_count is 0"),
    )
    # on 1 June the summer sale starts
    summer = {d.code: d for d in _decisions(ctx, acme, utc(2026, 6, 1))}["summer"]
    assert summer.applies


def test_offers_for_ranks_by_priority(ctx: ServiceContext, actor: Actor, acme: Customer) -> None:
    found = offers.offers_for(ctx, actor, acme.id)
    assert found.at == AT
    assert [d.code for d in found.decisions] == [
        "dach-upgrade",
        "loyal",
        "summer",
        "us-price",
        "webinar-trial",
    ]
    assert [found.versions[d.code].version for d in found.decisions] == [1, 1, 1, 1, 1]
    with pytest.raises(NotFound):
        offers.offers_for(ctx, actor, "cus_missing")


def test_a_customer_without_subscriptions_or_lead(ctx: ServiceContext, actor: Actor) -> None:
    """Missing facts fail a comparison; no offers at all gives no decisions."""
    other = customers.create_customer(ctx, actor, {"external_id": "solo", "name": "Solo", "currency": "EUR"})
    with ctx.uow(read_only=True) as uow:
        assert offers.decisions(ctx, uow, other, AT) == []
    offers.put_offer(ctx, actor, "webinar-trial", WEBINAR)
    [decision] = _decisions(ctx, other, AT)
    assert (decision.applies, decision.reasons) == (False, ("lead.campaign is not set, not spring-webinar",))
    with ctx.uow(read_only=True) as uow:
        facts = offers.facts(ctx, uow, other, AT)
    assert (facts.country, facts.plans, facts.statuses, facts.usage, facts.lead_source) == (
        None, frozenset(), frozenset(), {}, None)  # fmt: skip


def test_versions_put_identical_withdraw_and_again(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """Issue 9: PUT stores the next version; the same document again stores none; DELETE stores a version
    without a document (404 after it, gone from the list); PUT after it is the next version."""
    first, new = offers.put_offer(ctx, actor, "loyal", LOYAL)
    assert (first.version, new, first.created_at) == (1, True, clock.at)
    again, new = offers.put_offer(ctx, actor, "loyal", {**LOYAL, "code": "loyal"})
    assert (again.version, new) == (1, False)
    clock.advance(timedelta(hours=1))
    second, new = offers.put_offer(ctx, actor, "loyal", {**LOYAL, "priority": 7})
    assert (second.version, new) == (2, True)
    assert offers.get_offer(ctx, actor, "loyal").offer.priority == 7  # type: ignore[union-attr]
    offers.put_offer(ctx, actor, "summer", SUMMER)
    assert [(v.code, v.version) for v in offers.list_offers(ctx, actor)] == [("loyal", 2), ("summer", 1)]

    withdrawn = offers.withdraw_offer(ctx, actor, "loyal")
    assert (withdrawn.version, withdrawn.offer) == (3, None)
    with pytest.raises(NotFound):
        offers.get_offer(ctx, actor, "loyal")
    with pytest.raises(NotFound):
        offers.withdraw_offer(ctx, actor, "loyal")
    assert [v.code for v in offers.list_offers(ctx, actor)] == ["summer"]
    back, new = offers.put_offer(ctx, actor, "loyal", LOYAL)
    assert (back.version, new) == (4, True)
    history = offers.offer_versions(ctx, actor, "loyal")
    assert [(v.version, v.offer is None) for v in history] == [(1, False), (2, False), (3, True), (4, False)]
    assert history[0].offer == history[3].offer
    with pytest.raises(NotFound):
        offers.offer_versions(ctx, actor, "never")
    with ctx.uow(read_only=True) as uow:
        kinds = uow.conn.execute(sa.select(events.c.type, events.c.object_id).where(
            events.c.tenant_id == actor.tenant_id, events.c.type.like("offer.%")).order_by(events.c.id)).all()  # fmt: skip
        audited = uow.conn.execute(sa.select(sa.func.count()).select_from(audit_events).where(
            audit_events.c.tenant_id == actor.tenant_id, audit_events.c.action.like("offer.%"))).scalar()  # fmt: skip
    assert [tuple(k) for k in kinds] == [("offer.updated", "loyal"), ("offer.updated", "loyal"),
                                         ("offer.updated", "summer"), ("offer.withdrawn", "loyal"),
                                         ("offer.updated", "loyal")]  # fmt: skip
    assert audited == 5


@pytest.mark.parametrize(
    ("code", "doc", "error", "field"),
    [
        ("loyal", {**LOYAL, "conditions": {"all": [{"field": "customer.age", "op": "eq", "value": 1}]}},
         "invalid_offer", "conditions.all.0.field"),
        ("loyal", {**LOYAL, "benefit": {"type": "trial", "plan": "team"}}, "invalid_offer", "benefit.days"),
        ("loyal", {**LOYAL, "code": "other"}, "code_mismatch", "code"),
        ("Bad Code", LOYAL, "invalid_offer", "code"),
        ("loyal", ["not", "an", "object"], "invalid_offer", None),
    ],
)  # fmt: skip
def test_invalid_documents_store_nothing(ctx: ServiceContext, actor: Actor, code: str, doc: Any, error: str,
                                         field: str | None) -> None:  # fmt: skip
    with pytest.raises(DomainError) as caught:
        offers.put_offer(ctx, actor, code, doc)
    assert (caught.value.code, caught.value.field) == (error, field)
    assert offers.list_offers(ctx, actor) == []


def test_tenants_do_not_see_each_others_offers(ctx: ServiceContext, actor: Actor) -> None:
    offers.put_offer(ctx, actor, "loyal", LOYAL)
    other = make_tenant(ctx, "Other").actor
    assert offers.list_offers(ctx, other) == []
    with pytest.raises(NotFound):
        offers.get_offer(ctx, other, "loyal")
    first, _ = offers.put_offer(ctx, other, "loyal", SUMMER)
    assert first.version == 1
