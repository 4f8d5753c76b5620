"""A small world for the customer pages' tests: a catalog with two monthly plans of one family (Basic 30 EUR
with 1,000 API calls included, Pro 90 EUR with 10,000; upgrades now, prorated; calls beyond the allowance
0.01 each, billed in arrears), and a customer subscribed to Basic from the test clock's first day."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kassa.core.customers import Customer
from kassa.core.subscriptions import Subscription
from kassa.services import billable_metrics, catalog, customers, invoicing, metering, subscriptions, support
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess

CATALOG: dict[str, Any] = {
    "name": "Two plans",
    "products": [{
        "code": "app", "name": "App",
        "plans": [
            {"code": "basic-monthly", "name": "Basic, monthly", "billing_period": "month",
             "change_policy": {"upgrade": "immediate", "downgrade": "end_of_period"},
             "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "30.00"}}}],
             "charges": [{"metric": "api_calls", "model": "per_unit", "included": "1000",
                          "prices": {"EUR": {"unit": "0.01"}}}],
             "entitlements": {"api-calls": {"metric": "api_calls", "quantity": "1000"}, "exports": True}},
            {"code": "pro-monthly", "name": "Pro, monthly", "billing_period": "month",
             "change_policy": {"upgrade": "immediate", "downgrade": "end_of_period"},
             "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "90.00"}}}],
             "charges": [{"metric": "api_calls", "model": "per_unit", "included": "10000",
                          "prices": {"EUR": {"unit": "0.01"}}}],
             "entitlements": {"api-calls": {"metric": "api_calls", "quantity": "10000"}, "exports": True,
                              "sso": True}},
        ],
    }],
    "families": [{"code": "app", "plans": ["basic-monthly", "pro-monthly"]}],
}  # fmt: skip


def seed(ctx: ServiceContext, tenant: TenantAccess) -> tuple[Customer, Subscription]:
    billable_metrics.create_metric(
        ctx, tenant.actor, {"code": "api_calls", "name": "API calls", "aggregation": "count"}
    )
    catalog.apply_catalog(ctx, tenant.actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    customer = customers.create_customer(ctx, tenant.actor, {
        "external_id": "acme-42", "name": "Acme Robotics", "currency": "EUR", "emails": ["billing@acme.example"],
        "time_zone": "UTC",
    })  # fmt: skip
    customers.create_customer(
        ctx, tenant.actor, {"external_id": "zeta-7", "name": "Zeta Foods", "currency": "EUR"}
    )
    sub = subscriptions.create_subscription(
        ctx, tenant.actor, {"customer_id": customer.id, "plan": "basic-monthly"}
    )
    return customer, sub


def activity(ctx: ServiceContext, tenant: TenantAccess, customer: Customer, calls: int) -> None:
    """What a 360 shows beyond the subscription: January's invoice (30.00, finalized), `calls` API calls on
    2 January, and a support ticket."""
    draft = invoicing.bill_now(ctx, tenant.actor, customer.id)
    assert draft is not None
    invoicing.finalize_invoice(ctx, tenant.actor, draft.id)
    events = [{"id": f"call-{i}", "metric": "api_calls", "external_customer_id": customer.external_id,
               "timestamp": "2026-01-02T10:00:00Z", "properties": {}} for i in range(calls)]  # fmt: skip
    ingested = metering.ingest_usage(ctx, tenant.actor, events)
    assert len(ingested.accepted) == calls, ingested.errors
    support.create_ticket(ctx, tenant.actor, {"customer_id": customer.id, "subject": "Export is slow",
                                              "description": "The CSV export takes minutes.", "channel": "email",
                                              "priority": "normal"})  # fmt: skip
