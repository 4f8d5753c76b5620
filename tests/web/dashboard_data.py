"""A small business for the dashboard tests, made through the services the way the API makes it: a catalog
with two flat monthly plans and a metered one, four customers paying by card on a test clock that starts on
2026-01-01 09:00 UTC, usage reported, and the clock moved to 2026-03-10 so January to March are billed.

What it gives (EUR; the tenant's defaults: no tax, UTC), January to March 2026: MRR at the end of March
849.00 = Birke 250 (Pro) + Cobalt 250 (Basic, upgraded to Pro on 2026-02-01: 150.00 expansion) + Alba,
Eiche, Fjord 100 each (Basic) + Delta 49 (API); collected 499.00, 759.00, 759.00 (Eiche's card is always
declined; Fjord's first try on each invoice fails, the first retry pays); on 2026-03-10 400.00 overdue;
dunning recovered 2 of 6 invoices; 11, 9 and 3 usage events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kassa.core.audit import Actor
from kassa.services import (
    billable_metrics,
    catalog,
    customers,
    metering,
    payments,
    subscriptions,
    test_clocks,
)
from kassa.services.context import ServiceContext

CATALOG: dict[str, Any] = {
    "products": [
        {"code": "app", "name": "App", "plans": [
            {"code": "basic-monthly", "name": "Basic", "billing_period": "month",
             "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "100.00"}}}]},
            {"code": "pro-monthly", "name": "Pro", "billing_period": "month",
             "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "250.00"}}}]},
        ]},
        {"code": "api", "name": "API", "plans": [
            {"code": "api-monthly", "name": "API", "billing_period": "month",
             "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "49.00"}}}],
             "charges": [{"metric": "api_calls", "model": "per_unit", "description": "API calls",
                          "prices": {"EUR": {"unit": "0.01"}}}]},
        ]},
    ],
    "families": [{"code": "app", "name": "App", "plans": ["basic-monthly", "pro-monthly"]}],
}  # fmt: skip
START = datetime(2026, 1, 1, 9, tzinfo=UTC)
UNTIL = datetime(2026, 3, 10, 9, tzinfo=UTC)


def advance(ctx: ServiceContext, actor: Actor, clock_id: str, to: datetime) -> None:
    moved = test_clocks.advance_test_clock(ctx, actor, clock_id, to)
    assert moved.status.value == "ready", moved.error


@dataclass
class Business:
    clock_id: str
    customers: dict[str, str]  # name -> id


def build(ctx: ServiceContext, actor: Actor) -> Business:
    billable_metrics.create_metric(ctx, actor, {"code": "api_calls", "name": "API calls", "aggregation": "sum",
                                                "field_name": "calls"})  # fmt: skip
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    clock = test_clocks.create_test_clock(ctx, actor, name="dashboard", frozen_time=START)
    ids: dict[str, str] = {}
    subs: dict[str, str] = {}
    for name, plan, token in (("Alba Apps", "basic-monthly", "tok_sandbox_success"),
                              ("Birke Bau", "pro-monthly", "tok_sandbox_success"),
                              ("Cobalt Care", "basic-monthly", "tok_sandbox_success"),
                              ("Delta Drones", "api-monthly", "tok_sandbox_success"),
                              ("Eiche Events", "basic-monthly", "tok_sandbox_decline"),
                              ("Fjord Foods", "basic-monthly", "tok_sandbox_insufficient_then_success_2")):  # fmt: skip
        cid = customers.create_customer(ctx, actor, {
            "external_id": name.split()[0].lower(), "name": name, "currency": "EUR", "test_clock_id": clock.id,
            "payment_terms_days": 0,
        }).id  # fmt: skip
        payments.add_payment_method(ctx, actor, cid, {"type": "card", "token": token})
        subs[name] = subscriptions.create_subscription(ctx, actor, {
            "customer_id": cid, "plan": plan, "start_date": "2026-01-01"}).id  # fmt: skip
        ids[name] = cid
    delta = subs["Delta Drones"]

    def report_usage(first: int, last: int) -> None:
        """API calls on days first..last (from 1 January) at 10:00 UTC: 100 calls every third day."""
        events = [
            {"id": f"calls-{day}", "metric": "api_calls", "subscription_id": delta,
             "timestamp": (START + timedelta(days=day, hours=1)).isoformat(), "properties": {"calls": 100}}
            for day in range(first, last + 1) if day % 3 == 0
        ]  # fmt: skip
        sent = metering.ingest_usage(ctx, actor, events)
        assert not sent.errors, sent.errors[:3]

    advance(ctx, actor, clock.id, datetime(2026, 1, 31, 23, tzinfo=UTC))
    report_usage(0, 29)  # 10 events in January
    advance(ctx, actor, clock.id, datetime(2026, 2, 1, 0, tzinfo=UTC))
    subscriptions.change_subscription(ctx, actor, subs["Cobalt Care"], {"plan": "pro-monthly"})
    advance(ctx, actor, clock.id, datetime(2026, 2, 28, 23, tzinfo=UTC))
    report_usage(30, 57)  # 10 in February
    advance(ctx, actor, clock.id, UNTIL)
    report_usage(58, 67)  # 3 in March (days 60, 63, 66)
    return Business(clock_id=clock.id, customers=ids)
