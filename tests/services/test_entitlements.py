"""Entitlements on SQLite and PostgreSQL (issue 9), with exact outcomes: plan A (sso on, projects 10,
api-calls 10000 per period) with 2 x the more-projects add-on (+5 each) gives projects 20; 2500 api calls
used leave 7500 (seen once the view is a second old); an override of projects to 50 is seen at once;
the unpaid invoice's day-14 dunning step makes the subscription past_due and every entitlement suspended;
paying restores them; a pause suspends them again and resuming restores them. A change made through a
second engine (another process) is seen within the cache's second; another tenant sees nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kassa import config
from kassa.core.audit import Actor
from kassa.core.dunning import default_policy, policy_to_json
from kassa.core.entitlements import Entitlement
from kassa.core.errors import DomainError, NotFound
from kassa.core.subscriptions import Status
from kassa.services import (
    billable_metrics,
    catalog,
    customers,
    dunning,
    entitlements,
    invoicing,
    metering,
    payments,
    subscriptions,
    test_clocks,
)
from kassa.services.context import ServiceContext
from kassa.services.entitlements import EntitlementCache, cache_of
from kassa.store.engine import create_engine
from tests.conftest import make_tenant

START = datetime(2026, 3, 2, 8, tzinfo=UTC)
CATALOG: dict[str, Any] = {
    "addons": [{"code": "more-projects", "name": "5 more projects", "billing_period": "month",
                "prices": {"EUR": {"per_unit": "5.00"}}, "entitlements": {"projects": 5}}],
    "products": [{"code": "app", "name": "App", "plans": [
        {"code": "plan-a", "name": "Plan A", "billing_period": "month",
         "addons": {"available": ["more-projects"]},
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "100.00"}}}],
         "charges": [{"metric": "api_calls", "model": "per_unit", "included": "10000",
                      "prices": {"EUR": {"unit": "0.01"}}}],
         "entitlements": {"sso": True, "projects": 10,
                          "api-calls": {"metric": "api_calls", "quantity": "10000"}}},
    ]}],
}  # fmt: skip


class Ticker:
    """The cache's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def ticker(ctx: ServiceContext) -> Iterator[Ticker]:
    ticker = Ticker()
    cache = cache_of(ctx.engine)
    cache.timer = ticker
    yield ticker


def shown(e: Entitlement) -> tuple[Any, ...]:
    """(enabled, limit, (quantity, used, remaining), suspended reason, source)."""
    a = e.allowance
    return (e.enabled, e.limit, None if a is None else (str(a.quantity), str(a.used), str(a.remaining)),
            e.reason and e.reason.value, e.source.value)  # fmt: skip


def everything(ctx: ServiceContext, actor: Actor, cid: str) -> dict[str, tuple[Any, ...]]:
    return {f: shown(e) for f, e in entitlements.list_entitlements(ctx, actor, cid).features.items()}


def subscriber(ctx: ServiceContext, actor: Actor) -> tuple[str, str, str]:
    """Plan A with 2 x more-projects from 2026-03-02 for a customer on a test clock, paying by hand;
    at 09:00 UTC INV-2026-00001 (110.00, due 03-02) is finalized. (clock, customer, subscription)."""
    dunning.put_policy(ctx, actor, "default", policy_to_json(default_policy()))
    billable_metrics.create_metric(
        ctx, actor, {"code": "api_calls", "name": "API calls", "aggregation": "count"}
    )
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    clock = test_clocks.create_test_clock(ctx, actor, name="entitlements", frozen_time=START).id
    cid = customers.create_customer(ctx, actor, {"external_id": "acme", "name": "Acme", "currency": "EUR",
                                                 "time_zone": "Europe/Berlin", "test_clock_id": clock,
                                                 "payment_terms_days": 0}).id  # fmt: skip
    sub = subscriptions.create_subscription(ctx, actor, {"customer_id": cid, "plan": "plan-a", "start_date": "2026-03-02",
                                                         "addons": {"more-projects": 2}})  # fmt: skip
    advance(ctx, actor, clock, datetime(2026, 3, 2, 9, tzinfo=UTC))
    [first] = invoicing.list_invoices(ctx, actor, limit=10, cursor=None, customer_id=cid).items
    assert (first.number, first.total.amount_text(), str(first.due_date)) == (
        "INV-2026-00001",
        "110.00",
        "2026-03-02",
    )
    return clock, cid, sub.id


def advance(ctx: ServiceContext, actor: Actor, clock: str, to: datetime) -> None:
    assert test_clocks.advance_test_clock(ctx, actor, clock, to).status.value == "ready"


def calls(n: int) -> list[dict[str, Any]]:
    return [{"id": f"call-{i}", "metric": "api_calls", "external_customer_id": "acme",
             "timestamp": "2026-03-02T08:30:00Z", "properties": {}} for i in range(n)]  # fmt: skip


def test_plan_addons_usage_override_dunning_payment_and_pause(
    ctx: ServiceContext, actor: Actor, ticker: Ticker
) -> None:
    clock, cid, sub_id = subscriber(ctx, actor)
    assert everything(ctx, actor, cid) == {
        "api-calls": (True, None, ("10000", "0", "10000"), None, "plan"),
        "projects": (True, 20, None, None, "plan"),
        "sso": (True, None, None, None, "plan"),
    }
    # usage is read again once the view is a second old
    assert metering.ingest_usage(ctx, actor, calls(2500)).accepted
    assert shown(entitlements.check(ctx, actor, cid, "api-calls"))[2] == ("10000", "0", "10000")
    ticker.at += 0.999
    assert shown(entitlements.check(ctx, actor, cid, "api-calls"))[2] == ("10000", "0", "10000")
    ticker.at += 0.001
    assert shown(entitlements.check(ctx, actor, cid, "api-calls")) == (
        True,
        None,
        ("10000", "2500", "7500"),
        None,
        "plan",
    )
    # an override is seen at once (invalidated when its transaction commits)
    put = entitlements.put_override(ctx, actor, cid, "projects", {"value": 50, "reason": "Enterprise deal"})
    assert (shown(put), put.override_reason) == ((True, 50, None, None, "override"), "Enterprise deal")
    assert shown(entitlements.check(ctx, actor, cid, "projects")) == (True, 50, None, None, "override")
    # day 14 of the unpaid invoice, 2026-03-16 00:00 Berlin: dunning makes the subscription past_due
    advance(ctx, actor, clock, datetime(2026, 3, 15, 23, tzinfo=UTC))
    assert subscriptions.get_subscription(ctx, actor, sub_id).status is Status.PAST_DUE
    assert everything(ctx, actor, cid) == {
        "api-calls": (False, None, ("0", "2500", "0"), "past_due", "plan"),
        "projects": (False, 0, None, "past_due", "override"),
        "sso": (False, None, None, "past_due", "plan"),
    }
    # paid: restored
    payments.record_payment(
        ctx, actor, {"customer_id": cid, "amount": "110.00", "reference": "INV-2026-00001"}
    )
    assert subscriptions.get_subscription(ctx, actor, sub_id).status is Status.ACTIVE
    assert everything(ctx, actor, cid) == {
        "api-calls": (True, None, ("10000", "2500", "7500"), None, "plan"),
        "projects": (True, 50, None, None, "override"),
        "sso": (True, None, None, None, "plan"),
    }
    # paused: suspended; resumed: restored
    subscriptions.pause_subscription(ctx, actor, sub_id, {})
    assert shown(entitlements.check(ctx, actor, cid, "sso")) == (False, None, None, "paused", "plan")
    assert shown(entitlements.check(ctx, actor, cid, "projects")) == (False, 0, None, "paused", "override")
    subscriptions.resume_subscription(ctx, actor, sub_id, {})
    assert shown(entitlements.check(ctx, actor, cid, "sso")) == (True, None, None, None, "plan")
    # the override removed: the plan and add-ons again
    assert shown(entitlements.delete_override(ctx, actor, cid, "projects")) == (True, 20, None, None, "plan")


def test_an_unknown_feature_is_off_and_errors_are_exact(
    ctx: ServiceContext, actor: Actor, ticker: Ticker
) -> None:
    _, cid, _ = subscriber(ctx, actor)
    assert shown(entitlements.check(ctx, actor, cid, "audit-log")) == (False, None, None, None, "none")
    with pytest.raises(NotFound):
        entitlements.check(ctx, actor, "cus_missing", "sso")
    with pytest.raises(NotFound) as missing:
        entitlements.delete_override(ctx, actor, cid, "sso")
    assert missing.value.code == "entitlement_override_not_found"
    for body, field in (({"value": -1}, "value"), ({"value": {"metric": "api_calls"}}, "value"), ({}, "value"),
                        ({"value": True, "why": "x"}, "why"), ({"value": True, "reason": " "}, "reason")):  # fmt: skip
        with pytest.raises(DomainError) as error:
            entitlements.put_override(ctx, actor, cid, "sso", body)
        assert (error.value.code, error.value.field) == ("invalid_entitlement", field)
    with pytest.raises(DomainError) as error:
        entitlements.check(ctx, actor, cid, "Not A Code")
    assert error.value.field == "feature"


def test_another_process_sees_a_change_within_the_second(
    ctx: ServiceContext, actor: Actor, ticker: Ticker
) -> None:
    """The second engine stands for the worker or another server: no hook reaches this process's cache."""
    _, cid, sub_id = subscriber(ctx, actor)
    assert entitlements.check(ctx, actor, cid, "projects").limit == 20
    url = ctx.settings.database_url
    other = ServiceContext(engine=create_engine(url), clock=ctx.clock, tax_ids=ctx.tax_ids, webhooks=ctx.webhooks,
                           settings=config.load({}, database_url=url), documents=ctx.documents)  # fmt: skip
    try:
        entitlements.put_override(other, actor, cid, "projects", {"value": 7})
        assert entitlements.check(ctx, actor, cid, "projects").limit == 20  # still the view of a moment ago
        ticker.at += 1.0
        assert shown(entitlements.check(ctx, actor, cid, "projects")) == (True, 7, None, None, "override")
        assert cache_of(other.engine) is not cache_of(ctx.engine)
        # a status change alone (same instant on the frozen clock, no override touched) changes the stamp
        subscriptions.pause_subscription(other, actor, sub_id, {})
        assert entitlements.check(ctx, actor, cid, "sso").enabled is True
        ticker.at += 1.0
        assert shown(entitlements.check(ctx, actor, cid, "sso")) == (False, None, None, "paused", "plan")
    finally:
        other.engine.dispose()


def test_a_rolled_back_change_invalidates_nothing(ctx: ServiceContext, actor: Actor, ticker: Ticker) -> None:
    _, cid, _ = subscriber(ctx, actor)
    entitlements.check(ctx, actor, cid, "sso")
    before = cache_of(ctx.engine).rebuilds
    with pytest.raises(DomainError):
        entitlements.put_override(ctx, actor, cid, "sso", {"value": "yes"})
    entitlements.check(ctx, actor, cid, "sso")
    assert cache_of(ctx.engine).rebuilds == before


def test_tenants_do_not_share_views(ctx: ServiceContext, actor: Actor, ticker: Ticker) -> None:
    _, cid, _ = subscriber(ctx, actor)
    entitlements.put_override(ctx, actor, cid, "beta", {"value": True})
    assert entitlements.check(ctx, actor, cid, "beta").enabled is True
    other = make_tenant(ctx, "Other").actor
    with pytest.raises(NotFound):
        entitlements.check(ctx, other, cid, "beta")
    with pytest.raises(NotFound):
        entitlements.put_override(ctx, other, cid, "beta", {"value": False})
    assert entitlements.check(ctx, actor, cid, "beta").enabled is True


def test_the_cache_keeps_no_view_a_concurrent_change_made_stale() -> None:
    """A rebuild that overlapped an invalidation answers, but the next check rebuilds again."""
    cache = EntitlementCache(timer=Ticker())
    built: list[int] = []

    def build(stale: Any) -> Any:
        built.append(1)
        if len(built) == 1:
            cache.invalidate("ten_1", "cus_1")  # a change commits while the first rebuild reads
        return len(built)

    assert cache.get("ten_1", "cus_1", build) == 1
    assert cache.get("ten_1", "cus_1", build) == 2
    assert cache.get("ten_1", "cus_1", build) == 2
    cache.invalidate("ten_1")  # the whole tenant (a catalog applied)
    assert cache.get("ten_1", "cus_1", build) == 3
    assert cache.get("ten_2", "cus_1", build) == 4  # same customer id, another tenant: its own view
