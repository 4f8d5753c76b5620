"""Tenants are walls: with tenant A's key, nothing of tenant B can be read, changed or even detected.

The walk covers every route of the app with a path parameter, so a route added later is walked too, and
the walk fails if it meets a path parameter or a request body it does not know how to fill."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, get_args

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import BaseModel, TypeAdapter

from kassa.api import costs as costs_api
from kassa.api import coupons as coupons_api
from kassa.api import disputes as disputes_api
from kassa.api import entitlements as entitlements_api
from kassa.api import invoices as invoices_api
from kassa.api import leads as leads_api
from kassa.api import ledger as ledger_api
from kassa.api import messages as messages_api
from kassa.api import payments as payments_api
from kassa.api import provisioning as provisioning_api
from kassa.api import subscriptions as subscriptions_api
from kassa.api import test_clocks as clocks_api  # a module alias: pytest would collect Test* names
from kassa.api import tickets as tickets_api
from kassa.api import wallets as wallets_api
from kassa.api.api_keys import ApiKeyRotate
from kassa.api.billable_metrics import MetricUpdate
from kassa.api.customers import CustomerUpdate
from kassa.api.portal_links import PortalLinkCreate
from kassa.api.problems import PROBLEM_TYPE
from kassa.api.rating import ThresholdIn
from kassa.api.users import UserUpdate
from kassa.api.webhooks import EndpointUpdate
from kassa.server import create_app
from kassa.services import jobs
from kassa.services.context import ServiceContext
from kassa.services.message_delivery import SEND_JOB
from tests.conftest import SettableClock, TenantAccess, make_tenant

# Path parameter -> (which of B's objects fills it, the code a missing one answers with).
PARAMETERS = {
    "customer_id": ("customer", "customer_not_found"),
    "clock_id": ("clock", "test_clock_not_found"),
    "user_id": ("user", "user_not_found"),
    "key_id": ("key", "api_key_not_found"),
    "endpoint_id": ("endpoint", "webhook_endpoint_not_found"),
    "delivery_id": ("delivery", "webhook_delivery_not_found"),
    "event_id": ("event", "event_not_found"),
    "subscription_id": ("subscription", "subscription_not_found"),
    "number": ("catalog_version", "catalog_version_not_found"),
    "code": ("billable_metric", "billable_metric_not_found"),
    "usage_event_id": ("usage_event", "usage_event_not_found"),
    "threshold_id": ("usage_threshold", "usage_threshold_not_found"),
    "invoice_id": ("invoice", "invoice_not_found"),
    "credit_note_id": ("credit_note", "credit_note_not_found"),
    "coupon_id": ("coupon", "coupon_not_found"),
    "payment_id": ("payment", "payment_not_found"),
    "method_id": ("payment_method", "payment_method_not_found"),
    "statement_id": ("bank_statement", "bank_statement_not_found"),
    "line_id": ("statement_line", "statement_line_not_found"),
    "ticket_id": ("ticket", "ticket_not_found"),
    "policy_code": ("sla_policy", "sla_policy_not_found"),
    "lead_id": ("lead", "lead_not_found"),
    "offer_code": ("offer", "offer_not_found"),
    "step_id": ("provisioning_step", "provisioning_step_not_found"),
    "wallet_id": ("wallet", "wallet_not_found"),
    "dispute_id": ("dispute", "dispute_not_found"),
    "message_id": ("message", "message_not_found"),
    # a feature code is not an object id and only ever follows {customer_id}: B's customer answers
    # customer_not_found first; the feature is one B's plan grants and B overrides
    "feature": ("feature", "entitlement_override_not_found"),
}

# Routes whose path parameter is not another tenant's object: a gateway signs its webhooks for a tenant id
# (no API key; a bad signature answers 400 whoever the tenant is), and a dunning policy id is the tenant's own
# name for an upsert (A's PUT /v1/dunning_policies/default writes A's policy; the snapshot shows B's unchanged).
# an account code names an entry of the tenant's own chart (every tenant has account 1100), not an object.
# A message template's kind and locale are names every tenant has (GET answers kassa's built-in wording when
# the tenant has none; PUT and DELETE are the tenant's own upsert and removal): A's GET, PUT and DELETE of
# welcome/de touch A's template only — checked after the walk, and the snapshot shows B's unchanged.
NOT_OBJECT_ROUTES = {
    "/v1/gateways/{gateway}/webhooks/{tenant_id}",
    "/v1/dunning_policies/{policy_id}",
    "/v1/ledger/accounts/{account_code}",
    "/v1/ledger/periods/{month}/reopen",
    "/v1/message_templates/{kind}/{locale}",
}
NOT_OBJECT_ROUTES_DOCUMENTED = {("POST", "/v1/gateways/{gateway}/webhooks/{tenant_id}"),
                                ("PUT", "/v1/dunning_policies/{policy_id}"),
                                ("GET", "/v1/ledger/accounts/{account_code}"),
                                ("POST", "/v1/ledger/periods/{month}/reopen"),
                                ("GET", "/v1/message_templates/{kind}/{locale}"),
                                ("PUT", "/v1/message_templates/{kind}/{locale}"),
                                ("DELETE", "/v1/message_templates/{kind}/{locale}")}  # fmt: skip
# Single operations of that kind on a path whose other operations are walked: an SLA policy code is the
# tenant's own name for an upsert (A's PUT writes A's policy; the snapshot shows B's unchanged), while
# GET /v1/sla_policies/{policy_code} reads an object and is walked. Likewise an offer code: A's PUT
# /v1/offers/b-offer stores A's own offer (checked after the walk); GET, its versions and DELETE (withdraw)
# of B's offer are walked. PUT and DELETE /v1/customers/{customer_id}/entitlements/{feature} are walked:
# the customer is B's, so they answer customer_not_found whatever the feature.
NOT_OBJECT_OPERATIONS = {("PUT", "/v1/sla_policies/{policy_code}"), ("PUT", "/v1/offers/{offer_code}")}

# A minimal valid body per request model; each would change B's object if the wall had a gap.
BODIES: dict[Any, Any] = {  # a request model, or a body's plain type (message preferences: a dict)
    CustomerUpdate: {"name": "Taken by A", "metadata": {"owner": "A"}},
    costs_api.CostCreate: {
        "occurred_on": "2026-01-02",
        "kind": "other",
        "cost": {"amount": "1.00", "currency": "EUR"},
    },
    ledger_api.PeriodReopen: {"reason": "Taken by A"},
    UserUpdate: {"name": "Taken by A", "active": False},
    ApiKeyRotate: {"grace_hours": 0},
    clocks_api.TestClockAdvance: {"frozen_time": "2027-01-01T00:00:00Z"},
    EndpointUpdate: {"description": "Taken by A", "status": "disabled"},
    subscriptions_api.ChangeIn: {"quantity": 2},
    subscriptions_api.PreviewIn: {"quantity": 2},
    subscriptions_api.CancelIn: {"when": "now"},
    subscriptions_api.EffectiveIn: {},
    MetricUpdate: {"name": "Taken by A"},
    ThresholdIn: {"kind": "amount", "value": "5"},
    invoices_api.LineIn: {"description": "Taken by A", "unit_price": "1.00"},
    invoices_api.CreditNoteCreate: {"reason": "goodwill"},
    invoices_api.OneOffChargeCreate: {"description": "Taken by A", "unit_price": "1.00"},
    coupons_api.RedemptionCreate: {"coupon": "A-COUPON"},
    coupons_api.CreditGrantCreate: {"amount": "5.00", "description": "Taken by A"},
    payments_api.PaymentMethodCreate: {"type": "cash"},
    payments_api.PaymentMethodUpdate: {"set_default": True},
    payments_api.RefundCreate: {"amount": "1.00"},
    payments_api.LineResolve: {"action": "ignore"},
    tickets_api.TicketUpdate: {"subject": "Taken by A", "status": "closed"},
    tickets_api.ResponseIn: {"message": "Taken by A"},
    tickets_api.TimeIn: {"minutes": 5},
    leads_api.LeadUpdate: {"status": "lost", "lost_reason": "Taken by A"},
    leads_api.ConvertIn: {"customer": {"external_id": "a-converted", "name": "Taken by A"}},
    provisioning_api.FailIn: {"reason": "Taken by A"},
    entitlements_api.OverrideIn: {"value": False, "reason": "Taken by A"},
    wallets_api.WalletUpdate: {"alert_thresholds": ["1.00"], "promotion_offer": None},
    wallets_api.GrantIn: {"amount": "5.00", "description": "Taken by A"},
    wallets_api.TopUpIn: {"amount": "5.00", "paid_outside": True, "description": "Taken by A"},
    get_args(messages_api.PreferencesIn)[0]: {"*": False},
    disputes_api.DisputeCreate: {"line": 1, "reason": "other", "opened_by": "agent"},
    disputes_api.DisputeUpdate: {"description": "Taken by A"},
    disputes_api.AcceptIn: {"resolution": "Taken by A"},
    disputes_api.RejectIn: {"resolution": "Taken by A"},
    PortalLinkCreate: {"expires_in_hours": 1},
}


@dataclass
class Operation:
    method: str
    path: str  # the template, /v1/customers/{customer_id}
    params: list[str]
    body_model: Any  # a request model, a plain type (dict[...]) or None


def api_operations(app: Any) -> Iterator[Operation]:
    """Every operation of every APIRoute. FastAPI keeps included routers unflattened in `app.routes`,
    so `iter_route_contexts` is how the app itself (and its OpenAPI generator) sees the routes."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        body = route.body_field.field_info.annotation if route.body_field is not None else None
        for method in sorted(route.methods):
            yield Operation(
                method=method,
                path=route.path_format,
                params=[p.name for p in route.dependant.path_params],
                body_model=body,
            )


@dataclass
class World:
    client: TestClient
    a: TenantAccess
    b: TenantAccess
    b_ids: dict[str, str]  # kind -> B's id
    b_extra_key: str  # the token of B's second key, the one the walk tries to revoke and rotate
    b_secrets: list[str]  # B data that must never show up in an answer to A
    a_customer: str
    a_coupon: str = ""


def _ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def world(ctx: ServiceContext) -> Iterator[World]:
    a = make_tenant(ctx, "Tenant A")
    b = make_tenant(ctx, "Tenant B")
    with TestClient(create_app(ctx)) as client:
        hb = b.headers
        _ok(client.patch("/v1/settings", json={"webhook_allowed_networks": ["127.0.0.0/8"]}, headers=hb))
        endpoint = _ok(
            client.post("/v1/webhook_endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=hb), 201
        )
        clock = _ok(
            client.post(
                "/v1/test_clocks", json={"name": "B clock", "frozen_time": "2026-01-01T00:00:00Z"}, headers=hb
            ),
            201,
        )
        parent = _ok(
            client.post(
                "/v1/customers",
                json={
                    "external_id": "b-parent",
                    "name": "B Parent GmbH",
                    "emails": ["billing@b-parent.example"],
                    "test_clock_id": clock["id"],
                },
                headers=hb,
            ),
            201,
        )
        child = _ok(
            client.post(
                "/v1/customers",
                json={"external_id": "b-child", "name": "B Child GmbH", "parent_id": parent["id"]},
                headers=hb,
            ),
            201,
        )
        user = _ok(
            client.post(
                "/v1/users",
                json={"email": "finance@b.example", "name": "B Finance", "role": "finance"},
                headers=hb,
            ),
            201,
        )
        _ok(client.post("/v1/billable_metrics", json={"code": "b-metric", "name": "B Secret Metric",
                                                      "aggregation": "count"}, headers=hb), 201)  # fmt: skip
        charge = {"metric": "b-metric", "model": "per_unit", "prices": {"EUR": {"unit": "0.01"}}}
        plan = {"code": "b-plan", "name": "B Secret Plan", "billing_period": "month",
                "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}], "charges": [charge]}  # fmt: skip
        # B's subscription starts a provisioning task for B's staff user, and the plan grants B's feature
        b_plan = {**plan, "entitlements": {"b-feature": True}, "provisioning": [
            {"code": "b-kickoff", "on": ["started"], "task": {"owner": "finance@b.example", "due_in_hours": 48,
                                                              "description": "B Secret Kickoff"}}]}  # fmt: skip
        document = {"products": [{"code": "b-product", "name": "B Product", "plans": [b_plan]}]}
        for effective_at in ("2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"):  # B's versions 1 and 2
            _ok(client.post("/v1/catalog", json={"document": document, "effective_at": effective_at},
                            headers=hb), 201)  # fmt: skip
        a_plan = {**plan, "code": "a-plan", "name": "A Plan", "charges": []}
        a_document = {"products": [{"code": "a-product", "name": "A Product", "plans": [a_plan]}]}
        _ok(
            client.post("/v1/catalog", json={"document": a_document}, headers=a.headers), 201
        )  # A's version 1
        subscription = _ok(
            client.post(
                "/v1/subscriptions", json={"customer_id": parent["id"], "plan": "b-plan"}, headers=hb
            ),
            201,
        )
        usage = {"id": "b-usage-1", "metric": "b-metric", "subscription_id": subscription["id"],
                 "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
        _ok(client.post("/v1/usage_events", json=usage, headers=hb), 201)
        threshold = _ok(client.post(f"/v1/subscriptions/{subscription['id']}/usage_thresholds",
                                    json={"kind": "amount", "value": "1"}, headers=hb), 201)  # fmt: skip
        invoice = _ok(client.post("/v1/invoices", json={"customer_id": parent["id"], "lines": [
            {"description": "B Secret Consulting", "unit_price": "100.00"}]}, headers=hb), 201)  # fmt: skip
        _ok(client.post(f"/v1/invoices/{invoice['id']}/finalize", headers=hb))
        note = _ok(client.post(f"/v1/invoices/{invoice['id']}/credit_notes", json={"reason": "goodwill"},
                               headers=hb), 201)  # fmt: skip
        coupon = _ok(client.post("/v1/coupons", json={"code": "B-SECRET", "name": "B Secret Coupon", "type": "percent",
                                                      "percent_off": "10", "duration": "once"}, headers=hb), 201)  # fmt: skip
        a_coupon = _ok(client.post("/v1/coupons", json={"code": "A-COUPON", "name": "A coupon", "type": "percent",
                                             "percent_off": "10", "duration": "once"}, headers=a.headers), 201)  # fmt: skip
        method = _ok(client.post(f"/v1/customers/{parent['id']}/payment_methods",
                                 json={"type": "card", "token": "tok_sandbox_success", "last4": "4242"}, headers=hb), 201)  # fmt: skip
        payment = _ok(client.post("/v1/payments", json={"customer_id": parent["id"], "amount": "5.00",
                                                        "reference": "B Secret Remittance"}, headers=hb), 201)  # fmt: skip
        csv_file = b"date,amount,label\n2026-01-02,12.34,B Secret Transfer\n"
        statement = _ok(client.post("/v1/bank_statements", json={
            "content": base64.b64encode(csv_file).decode(), "format": "csv",
            "csv_mapping": {"date": "date", "amount": "amount", "reference": "label", "currency": "EUR",
                            "date_format": "%Y-%m-%d"}}, headers=hb), 201)  # fmt: skip
        line = _ok(client.get("/v1/statement_lines", params={"statement_id": statement["id"]}, headers=hb))[
            "data"
        ][0]
        extra_key = _ok(client.post("/v1/api_keys", json={"name": "B deploy key"}, headers=hb), 201)
        sla = {"name": "B Secret SLA", "calendar": {"time_zone": "UTC", "hours": {"monday": [
            {"start": "09:00", "end": "17:00"}]}}, "targets": {p: {"first_response_minutes": 60,
            "resolution_minutes": 120} for p in ("low", "normal", "high", "urgent")}}  # fmt: skip
        _ok(client.put("/v1/sla_policies/b-sla", json=sla, headers=hb))
        ticket = _ok(client.post("/v1/tickets", json={"customer_id": parent["id"], "subject": "B Secret Ticket",
                                                      "channel": "email", "sla_policy": "b-sla"}, headers=hb), 201)  # fmt: skip
        # issue 9: a lead, an offer, a provisioning step, an entitlement override, a wallet with a top-up, a
        # template and preferences, a dispute on a second finalized invoice, and a message
        lead = _ok(client.post("/v1/leads", json={"email": "lead@b-secret.example", "name": "B Secret Lead",
                                                  "source": "b-webinar", "campaign": "b-campaign"}, headers=hb), 201)  # fmt: skip
        _ok(client.put("/v1/offers/b-offer", json={"name": "B Secret Offer", "conditions": {"all": []},
                                                   "benefit": {"type": "coupon", "coupon": "B-SECRET"}}, headers=hb), 201)  # fmt: skip
        [step] = _ok(client.get("/v1/provisioning_steps", params={"customer_id": parent["id"]}, headers=hb))[
            "data"
        ]
        assert (step["status"], step["owner_id"]) == ("pending", user["id"]), step
        _ok(client.put(f"/v1/customers/{parent['id']}/entitlements/b-override",
                       json={"value": 5, "reason": "B Secret Override"}, headers=hb))  # fmt: skip
        wallet = _ok(
            client.post("/v1/wallets", json={"customer_id": parent["id"], "currency": "EUR"}, headers=hb), 201
        )
        _ok(client.post(f"/v1/wallets/{wallet['id']}/top_ups", json={"amount": "20.00", "paid_outside": True,
                                                                      "description": "B Secret Top-up"}, headers=hb), 201)  # fmt: skip
        _ok(client.put("/v1/message_templates/welcome/de", json={"subject": "B Secret Template",
                                                                 "body_text": "Hallo {{ customer_name }}"}, headers=hb))  # fmt: skip
        _ok(client.put(f"/v1/customers/{parent['id']}/message_preferences", json={"renewal_upcoming": False},
                       headers=hb))  # fmt: skip
        disputed = _ok(client.post("/v1/invoices", json={"customer_id": parent["id"], "lines": [
            {"description": "B Secret Disputed Work", "unit_price": "200.00"}]}, headers=hb), 201)  # fmt: skip
        _ok(client.post(f"/v1/invoices/{disputed['id']}/finalize", headers=hb))
        dispute = _ok(client.post(f"/v1/invoices/{disputed['id']}/disputes", json={
            "line": 1, "amount": {"amount": "50.00", "currency": "EUR"}, "reason": "incorrect_amount",
            "description": "B Secret Dispute", "opened_by": "agent"}, headers=hb), 201)  # fmt: skip
        assert dispute["status"] == "open", dispute  # no dispute policy: it waits for an agent
        # messages are off until turned on; the welcome of a customer created then is sent by a job (the
        # customer has no email address and no test clock: the webhook channel, due at once)
        _ok(client.put("/v1/message_settings", json={"enabled": True}, headers=hb))
        messaged = _ok(client.post("/v1/customers", json={"external_id": "b-messaged", "name": "B Messaged GmbH"},
                                   headers=hb), 201)  # fmt: skip
        now = ctx.clock.now()
        with ctx.uow() as uow:
            due = uow.jobs.claim_due(now, 1000, now + timedelta(hours=1))
            uow.commit()
        for job in due:  # only the message: B's other due work (webhook deliveries) stays as it was
            if job.kind == SEND_JOB and job.tenant_id == b.id:
                assert jobs.run_job(ctx, job, now) is None
        [message] = _ok(client.get("/v1/messages", params={"customer_id": messaged["id"]}, headers=hb))[
            "data"
        ]
        created = _ok(
            client.get(
                "/v1/events", params={"object_id": parent["id"], "type": "customer.created"}, headers=hb
            )
        )["data"]
        assert len(created) == 1
        deliveries = _ok(
            client.get(f"/v1/webhook_endpoints/{endpoint['id']}/deliveries?limit=100", headers=hb)
        )["data"]
        delivery = next(d for d in deliveries if d["event_id"] == created[0]["id"])
        a_customer = _ok(
            client.post("/v1/customers", json={"external_id": "a-1", "name": "A One"}, headers=a.headers), 201
        )
        yield World(
            client=client,
            a=a,
            b=b,
            b_ids={
                "customer": parent["id"],
                "child": child["id"],
                "clock": clock["id"],
                "user": user["id"],
                "key": extra_key["id"],
                "primary_key": b.actor.id,
                "endpoint": endpoint["id"],
                "delivery": delivery["id"],
                "event": created[0]["id"],
                "tenant": b.id,
                "subscription": subscription["id"],
                "catalog_version": "2",  # numbered per tenant: A has only 1, so A's 2 is nothing
                "billable_metric": "b-metric",
                "usage_event": "b-usage-1",
                "usage_threshold": threshold["id"],
                "invoice": invoice["id"],
                "credit_note": note["id"],
                "coupon": coupon["id"],
                "payment": payment["id"],
                "payment_method": method["id"],
                "bank_statement": statement["id"],
                "statement_line": line["id"],
                "ticket": ticket["id"],
                "sla_policy": "b-sla",
                "lead": lead["id"],
                "offer": "b-offer",
                "provisioning_step": step["id"],
                "feature": "b-feature",
                "wallet": wallet["id"],
                "disputed_invoice": disputed["id"],
                "dispute": dispute["id"],
                "messaged_customer": messaged["id"],
                "message": message["id"],
            },
            b_extra_key=extra_key["key"],
            b_secrets=[
                endpoint["secret"],
                extra_key["key"],
                extra_key["prefix"],
                b.key,
                "B Parent GmbH",
                "billing@b-parent.example",
                "B Child GmbH",
                "finance@b.example",
                "b-parent",
                "127.0.0.1:9/hook",
                "127.0.0.0/8",
                "B Secret Plan",
                "B Secret Metric",
                "B Secret Consulting",
                "B Secret Coupon",
                "B Secret Remittance",
                "B Secret Transfer",
                "B Secret SLA",
                "B Secret Ticket",
                "B Secret Kickoff",
                "lead@b-secret.example",
                "B Secret Lead",
                "b-webinar",
                "B Secret Offer",
                "b-override",
                "B Secret Override",
                "B Secret Top-up",
                "B Secret Template",
                "B Secret Disputed Work",
                "B Secret Dispute",
                "B Messaged GmbH",
            ],
            a_customer=a_customer["id"],
            a_coupon=a_coupon["id"],
        )


def snapshot(w: World) -> dict[str, Any]:
    """Everything B can see of its own objects."""
    c, ids, hb = w.client, w.b_ids, w.b.headers
    reads = {
        "customer": f"/v1/customers/{ids['customer']}",
        "child": f"/v1/customers/{ids['child']}",
        "timeline": f"/v1/customers/{ids['customer']}/timeline?limit=100",
        "clock": f"/v1/test_clocks/{ids['clock']}",
        "user": f"/v1/users/{ids['user']}",
        "keys": "/v1/api_keys?limit=100",
        "endpoint": f"/v1/webhook_endpoints/{ids['endpoint']}",
        "secret": f"/v1/webhook_endpoints/{ids['endpoint']}/secret",
        "deliveries": f"/v1/webhook_endpoints/{ids['endpoint']}/deliveries?limit=100",
        "delivery": f"/v1/webhook_deliveries/{ids['delivery']}",
        "event": f"/v1/events/{ids['event']}",
        "events": "/v1/events?limit=100",
        "audit": "/v1/audit_events?limit=100",
        "settings": "/v1/settings",
        "customers": "/v1/customers?limit=100",
        "subscription": f"/v1/subscriptions/{ids['subscription']}",
        "schedule": f"/v1/subscriptions/{ids['subscription']}/schedule",
        "catalog": "/v1/catalog/versions/2",
        "metric": "/v1/billable_metrics/b-metric",
        "usage_event": "/v1/usage_events/b-usage-1",
        "thresholds": f"/v1/subscriptions/{ids['subscription']}/usage_thresholds",
        "current_usage": f"/v1/customers/{ids['customer']}/current_usage",
        "invoice": f"/v1/invoices/{ids['invoice']}",
        "invoices": "/v1/invoices?limit=100",
        "credit_note": f"/v1/credit_notes/{ids['credit_note']}",
        "coupon": f"/v1/coupons/{ids['coupon']}",
        "redemptions": f"/v1/customers/{ids['customer']}/coupons",
        "credit_balance": f"/v1/customers/{ids['customer']}/credit_balance?limit=100",
        "ledger": "/v1/ledger/balances",
        "entries": "/v1/ledger/entries?limit=100",
        "payment": f"/v1/payments/{ids['payment']}",
        "payments": "/v1/payments?limit=100",
        "payment_methods": f"/v1/customers/{ids['customer']}/payment_methods",
        "statement": f"/v1/bank_statements/{ids['bank_statement']}",
        "lines": "/v1/statement_lines?limit=100",
        "dunning_policies": "/v1/dunning_policies",
        "sla_policies": "/v1/sla_policies",
        "tickets": "/v1/tickets?limit=100",
        "ticket": f"/v1/tickets/{ids['ticket']}",
        "aging": "/v1/reports/receivables_aging?on=2026-06-01",
        "lead": f"/v1/leads/{ids['lead']}",
        "leads": "/v1/leads?limit=100",
        "offer": "/v1/offers/b-offer",
        "offer_versions": "/v1/offers/b-offer/versions",
        "offers": "/v1/offers",
        "step": f"/v1/provisioning_steps/{ids['provisioning_step']}",
        "steps": "/v1/provisioning_steps?limit=100",
        "onboarding": f"/v1/customers/{ids['customer']}/onboarding",
        "entitlements": f"/v1/customers/{ids['customer']}/entitlements",
        "feature": f"/v1/customers/{ids['customer']}/entitlements/b-feature",
        "wallet": f"/v1/wallets/{ids['wallet']}",
        "wallets": f"/v1/customers/{ids['customer']}/wallets",
        "wallet_transactions": f"/v1/wallets/{ids['wallet']}/transactions?limit=100",
        "template": "/v1/message_templates/welcome/de",
        "templates": "/v1/message_templates",
        "message_settings": "/v1/message_settings",
        "preferences": f"/v1/customers/{ids['customer']}/message_preferences",
        "message": f"/v1/messages/{ids['message']}",
        "messages": "/v1/messages?limit=100",
        "dispute": f"/v1/disputes/{ids['dispute']}",
        "disputes": "/v1/disputes?limit=100",
        "invoice_disputes": f"/v1/invoices/{ids['disputed_invoice']}/disputes",
        "customer_offers": f"/v1/customers/{ids['customer']}/offers?all=true",
    }
    seen = {name: _ok(c.get(path, headers=hb)) for name, path in reads.items()}
    for key in seen["keys"]["data"]:
        key.pop("last_used_at")  # B's own reads here touch it once the clock has moved
    return seen


def _fill(op: Operation, ids: dict[str, str]) -> str:
    path = op.path
    for name in op.params:
        assert name in PARAMETERS, (
            f"{op.method} {op.path}: the cross-tenant walk does not know whose id fills {{{name}}}; "
            "add it to PARAMETERS (and give tenant B such an object)"
        )
        path = path.replace("{" + name + "}", ids[PARAMETERS[name][0]])
    return path


def _body(op: Operation) -> dict[str, Any] | None:
    if op.body_model is None:
        return None
    assert op.body_model in BODIES, (
        f"{op.method} {op.path}: the cross-tenant walk has no body for {op.body_model.__name__}; add one to BODIES"
    )
    body: dict[str, Any] = BODIES[op.body_model]
    TypeAdapter(op.body_model).validate_python(body)  # a 404 must not hide behind a 422
    return body


def _normalised(response: Response, ids: dict[str, str]) -> dict[str, Any]:
    text = response.text
    for kind, value in ids.items():
        text = text.replace(f"'{value}'", f"'<{kind}>'")  # the id echoed in `detail`
    body: dict[str, Any] = json.loads(text)
    body.pop("request_id")
    return body


def test_every_route_with_a_path_parameter_answers_404_for_another_tenants_object(
    ctx: ServiceContext, world: World
) -> None:
    w = world
    before = snapshot(w)
    # ids of B's shape that exist nowhere: B's object must be indistinguishable from these
    ghosts = {kind: ctx.new_id(value.split("_")[0]) for kind, value in w.b_ids.items()}
    ghosts["catalog_version"] = "987654321"
    ghosts["billable_metric"] = "ghost-metric"
    ghosts["usage_event"] = "ghost-usage-1"
    ghosts["offer"] = "ghost-offer"
    ghosts["feature"] = "ghost-feature"
    app = w.client.app
    walked: set[tuple[str, str]] = set()
    for op in api_operations(app):
        if not op.path.startswith("/v1/") or not op.params or op.path in NOT_OBJECT_ROUTES:
            continue
        if (op.method, op.path) in NOT_OBJECT_OPERATIONS:
            continue
        body = _body(op)
        # with an Idempotency-Key a POST goes through the idempotency layer, which authenticates on its own
        for idempotent in (False, True) if op.method == "POST" else (False,):
            headers = dict(w.a.headers)
            if idempotent:
                headers["Idempotency-Key"] = f"walk-{op.path}"
            response = w.client.request(op.method, _fill(op, w.b_ids), json=body, headers=headers)
            label = f"{op.method} {op.path} idempotent={idempotent}"
            assert response.status_code == 404, f"{label}: {response.status_code} {response.text}"
            assert response.headers["content-type"] == PROBLEM_TYPE, label
            problem = response.json()
            expected_code = PARAMETERS[op.params[0]][1]
            assert (problem["status"], problem["code"], problem["title"]) == (404, expected_code, "Not found")
            requested = {PARAMETERS[name][0] for name in op.params}
            for kind, value in w.b_ids.items():
                if kind not in requested and len(value) > 1:  # the requested id is echoed in `detail`
                    assert value not in response.text, f"{label} leaks B's {kind}"
            for secret in w.b_secrets:
                assert secret not in response.text, f"{label} leaks {secret!r}"
            if idempotent:
                headers["Idempotency-Key"] = f"ghost-{op.path}"
            ghost = w.client.request(op.method, _fill(op, ghosts), json=body, headers=headers)
            assert ghost.status_code == 404
            assert _normalised(response, w.b_ids) == _normalised(ghost, ghosts), label
        walked.add((op.method, op.path))

    # the walk saw every templated path the API documents
    documented = {
        (method.upper(), path)
        for path, item in w.client.get("/openapi.json").json()["paths"].items()
        if "{" in path
        for method in item
    }
    assert (
        documented - NOT_OBJECT_ROUTES_DOCUMENTED - NOT_OBJECT_OPERATIONS <= walked
    )  # a route left out of the schema is walked too
    assert len(walked) >= 17

    # the tenant-chosen names left out of the walk (NOT_OBJECT_*) reach A's own objects only
    c, ha = w.client, w.a.headers
    template = _ok(c.get("/v1/message_templates/welcome/de", headers=ha))
    assert template["builtin"] is True  # kassa's wording, not B's
    removed = c.delete("/v1/message_templates/welcome/de", headers=ha)  # B has one there, A has none
    nobody = c.delete("/v1/message_templates/welcome/fr", headers=ha)
    assert (removed.status_code, nobody.status_code) == (404, 404), removed.text
    assert removed.json()["code"] == nobody.json()["code"] == "message_template_not_found"
    mine = {"subject": "A's welcome", "body_text": "Hallo {{ customer_name }}"}
    assert _ok(c.put("/v1/message_templates/welcome/de", json=mine, headers=ha))["subject"] == "A's welcome"
    offer = {
        "name": "A's offer",
        "conditions": {"all": []},
        "benefit": {"type": "coupon", "coupon": "A-COUPON"},
    }
    assert _ok(c.put("/v1/offers/b-offer", json=offer, headers=ha), 201)["version"] == 1  # B's is at 1 too
    assert [o["name"] for o in _ok(c.get("/v1/offers", headers=ha))["data"]] == ["A's offer"]
    assert snapshot(w) == before
    # the key the walk tried to revoke and rotate still works
    assert (
        w.client.get("/v1/settings", headers={"Authorization": f"Bearer {w.b_extra_key}"}).status_code == 200
    )


def test_the_walk_refuses_a_path_parameter_it_cannot_fill() -> None:
    # a route no issue has added yet (disputes, the former example, are walked since issue 9)
    op = Operation(method="GET", path="/v1/quotes/{quote_id}", params=["quote_id"], body_model=None)
    with pytest.raises(AssertionError, match=r"does not know whose id fills \{quote_id\}"):
        _fill(op, {})

    class QuoteAccept(BaseModel):
        reason: str

    op = Operation(method="POST", path="/v1/quotes/{quote_id}/accept", params=[], body_model=QuoteAccept)
    with pytest.raises(AssertionError, match="has no body for QuoteAccept"):
        _body(op)


def test_lists_and_filters_never_show_another_tenants_objects(ctx: ServiceContext, world: World) -> None:
    w = world
    c, ids, ha = w.client, w.b_ids, w.a.headers
    before = snapshot(w)

    empty_filters = [
        ("/v1/customers", {"parent_id": ids["customer"]}),
        ("/v1/customers", {"test_clock_id": ids["clock"]}),
        ("/v1/customers", {"external_id": "b-parent"}),
        ("/v1/events", {"object_id": ids["customer"]}),
        ("/v1/events", {"type": "webhook_endpoint.created"}),
        ("/v1/audit_events", {"object_id": ids["customer"]}),
        ("/v1/audit_events", {"actor_id": ids["primary_key"]}),
        ("/v1/audit_events", {"object_type": "webhook_endpoint"}),
    ]
    for path, params in empty_filters:
        page = _ok(c.get(path, params=params, headers=ha))
        assert page == {"data": [], "has_more": False, "next_cursor": None}, (path, params)

    # issue 9's filters naming B's objects answer exactly as for objects that exist nowhere
    ghost_filters = [
        ("/v1/leads", "source", "b-webinar", "b-nothing"),
        ("/v1/leads", "campaign", "b-campaign", "b-nothing"),
        ("/v1/provisioning_steps", "customer_id", ids["customer"], ctx.new_id("cus")),
        ("/v1/provisioning_steps", "owner_id", ids["user"], ctx.new_id("usr")),
        ("/v1/messages", "customer_id", ids["messaged_customer"], ctx.new_id("cus")),
        ("/v1/disputes", "customer_id", ids["customer"], ctx.new_id("cus")),
        ("/v1/disputes", "assignee_id", ids["user"], ctx.new_id("usr")),
    ]
    for path, name, value, ghost in ghost_filters:
        answers = []
        for v in (value, ghost):
            response = c.get(path, params={name: v}, headers=ha)
            assert response.status_code in (200, 404, 422), (path, name, response.text)
            answers.append((response.status_code, _normalised(response, {"x": v}) if response.status_code != 200
                            else response.json()))  # fmt: skip
        assert answers[0] == answers[1], (path, name, answers)
        if answers[0][0] == 200:
            assert answers[0][1] == {"data": [], "has_more": False, "next_cursor": None}, (path, name)

    # filtering events by another tenant's customer answers as for a customer that does not exist
    response = c.get("/v1/events", params={"customer_id": ids["customer"]}, headers=ha)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_TYPE
    assert response.json()["code"] == "customer_not_found"

    # every list A can call holds only A's objects; A does see its own, so the lists are not just empty
    app = c.app
    lists = [
        op
        for op in api_operations(app)
        if op.method == "GET" and op.path.startswith("/v1/") and not op.params
    ]
    assert {op.path for op in lists} >= {"/v1/customers", "/v1/events", "/v1/api_keys", "/v1/audit_events"}
    for op in lists:
        response = c.get(op.path, params={"limit": 100} if op.path != "/v1/settings" else None, headers=ha)
        assert response.status_code == 200, (op.path, response.text)
        for kind, value in ids.items():
            if len(value) > 1:  # not B's catalog version number, a digit
                assert value not in response.text, f"GET {op.path} shows B's {kind}"
        for secret in w.b_secrets:
            assert secret not in response.text, f"GET {op.path} shows {secret!r}"
    customers = _ok(c.get("/v1/customers", headers=ha))["data"]
    assert [x["id"] for x in customers] == [w.a_customer]
    keys = _ok(c.get("/v1/api_keys", headers=ha))["data"]
    assert [k["id"] for k in keys] == [w.a.actor.id]
    assert _ok(c.get("/v1/settings", headers=ha))["webhook_allowed_networks"] == []
    audited = {e["object_id"] for e in _ok(c.get("/v1/audit_events?limit=100", headers=ha))["data"]}
    assert audited == {w.a.id, w.a.actor.id, w.a_customer, w.a_coupon, "1"}  # "1": A's catalog version
    assert snapshot(w) == before


def test_creating_with_another_tenants_references_is_refused(ctx: ServiceContext, world: World) -> None:
    """A cannot hang its objects onto B's: B's parent or test clock id is refused exactly like an id that
    does not exist (422, the field named), and nothing is written."""
    w = world
    c, ids, ha = w.client, w.b_ids, w.a.headers
    before = snapshot(w)
    for field, kind, code in [
        ("parent_id", "customer", "parent_not_found"),
        ("test_clock_id", "clock", "test_clock_not_found"),
    ]:
        ghost = ctx.new_id(ids[kind].split("_")[0])
        answers = []
        for value in (ids[kind], ghost):
            body = {"external_id": f"a-{field}", "name": "A Two", field: value}
            response = c.post("/v1/customers", json=body, headers=ha)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == PROBLEM_TYPE
            problem = response.json()
            assert (problem["code"], problem["field"]) == (code, field)
            answers.append(_normalised(response, {kind: value}))
        assert answers[0] == answers[1]
    answers = []
    for value in (ids["customer"], ctx.new_id("cus")):
        response = c.post("/v1/subscriptions", json={"customer_id": value, "plan": "a-plan"}, headers=ha)
        assert response.status_code == 422, response.text
        assert (response.json()["code"], response.json()["field"]) == ("customer_not_found", "customer_id")
        answers.append(_normalised(response, {"customer": value}))
    assert answers[0] == answers[1]
    response = c.patch(f"/v1/customers/{w.a_customer}", json={"parent_id": ids["customer"]}, headers=ha)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("parent_not_found", "parent_id")
    assert _ok(c.get(f"/v1/customers/{w.a_customer}", headers=ha))["parent_id"] is None
    assert [x["id"] for x in _ok(c.get("/v1/customers", headers=ha))["data"]] == [w.a_customer]
    assert snapshot(w) == before


# -- authentication ----------------------------------------------------------------------------------


def _sample(w: World) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/v1/customers", None),
        ("POST", "/v1/customers", {"external_id": "intruder", "name": "Intruder"}),
        ("GET", f"/v1/customers/{w.a_customer}", None),
        ("PATCH", f"/v1/customers/{w.a_customer}", {"name": "Intruder"}),
        ("PATCH", "/v1/settings", {"default_currency": "USD"}),
        ("POST", "/v1/api_keys", {"name": "intruder"}),
        ("GET", "/v1/events", None),
        ("DELETE", f"/v1/webhook_endpoints/{w.b_ids['endpoint']}", None),
    ]


def _assert_unauthorized(w: World, authorization: str | None, why: str) -> None:
    for method, path, body in _sample(w):
        for idempotency_key in (None, f"auth-{why}") if method == "POST" else (None,):
            headers = {} if authorization is None else {"Authorization": authorization}
            if idempotency_key:
                headers["Idempotency-Key"] = idempotency_key
            response = w.client.request(method, path, json=body, headers=headers)
            label = f"{why}: {method} {path} idempotency={idempotency_key}"
            assert response.status_code == 401, f"{label}: {response.text}"
            assert response.headers["content-type"] == PROBLEM_TYPE, label
            problem = response.json()
            assert (problem["status"], problem["code"], problem["title"], problem["field"]) == (
                401,
                "unauthorized",
                "Unauthorized",
                None,
            ), label


def test_requests_without_a_usable_key_are_unauthorized(world: World, clock: SettableClock) -> None:
    w = world
    c, ha = w.client, w.a.headers
    before_a = _ok(c.get(f"/v1/customers/{w.a_customer}", headers=ha))
    before_b = snapshot(w)
    a_prefix = w.a.key[: len("kassa_") + 12]

    revoked = _ok(c.post("/v1/api_keys", json={"name": "to revoke"}, headers=ha), 201)
    _ok(c.post(f"/v1/api_keys/{revoked['id']}/revoke", headers=ha))
    rotated = _ok(c.post("/v1/api_keys", json={"name": "to rotate"}, headers=ha), 201)
    _ok(c.post(f"/v1/api_keys/{rotated['id']}/rotate", json={"grace_hours": 1}, headers=ha), 201)
    # within the grace period the rotated key still works
    assert c.get("/v1/customers", headers={"Authorization": f"Bearer {rotated['key']}"}).status_code == 200

    _assert_unauthorized(w, None, "no header")
    _assert_unauthorized(w, "", "empty header")
    _assert_unauthorized(w, "Bearer", "no token")
    _assert_unauthorized(w, "Bearer ", "blank token")
    _assert_unauthorized(w, f"Basic {w.a.key}", "wrong scheme")
    _assert_unauthorized(w, "Bearer not-a-kassa-key", "malformed")
    _assert_unauthorized(w, f"Bearer {w.a.key}x", "one character too many")
    _assert_unauthorized(w, f"Bearer kassa_{'a' * 12}_{'b' * 43}", "unknown prefix")
    _assert_unauthorized(w, f"Bearer {a_prefix}_{'b' * 43}", "known prefix, wrong secret")
    _assert_unauthorized(w, f"Bearer {revoked['key']}", "revoked")
    clock.advance(timedelta(hours=1, seconds=1))
    _assert_unauthorized(w, f"Bearer {rotated['key']}", "expired after rotation")

    # nothing was written by any of them
    assert _ok(c.get(f"/v1/customers/{w.a_customer}", headers=ha)) == before_a
    assert [x["id"] for x in _ok(c.get("/v1/customers", headers=ha))["data"]] == [w.a_customer]
    keys = {k["name"] for k in _ok(c.get("/v1/api_keys", headers=ha))["data"]}
    assert keys == {"default", "to revoke", "to rotate"}
    assert _ok(c.get("/v1/settings", headers=ha))["default_currency"] == "EUR"
    assert snapshot(w) == before_b
