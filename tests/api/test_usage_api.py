"""Issue 5: usage metering and rating through the HTTP API — billable metrics, usage events (single and in
batches, exactly once per id, an error per bad event), late usage, in-advance charges, usage thresholds,
current usage with its forecast and minimum spend, and advice of charge. Every amount is computed by hand
in the comments (rounded half-up once, the tenant's default). Runs on SQLite and PostgreSQL (the `client`
fixture); customers on a test clock move through periods when the clock is advanced."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess

NOW = "2026-01-01T09:00:00Z"  # the `clock` fixture's present
EARLIER = "2026-01-01T08:00:00Z"
START = "2025-12-01"  # subscriptions of customers without a test clock: the period is 2026-01-01 – 02-01

METRICS: list[dict[str, Any]] = [
    {"code": "api_calls", "name": "API calls", "aggregation": "count"},
    {"code": "tokens", "name": "Tokens", "aggregation": "sum", "field_name": "tokens"},
    {"code": "regional", "name": "Calls per region", "aggregation": "count", "group_by": "region"},
    {"code": "eu_calls", "name": "EU calls", "aggregation": "count", "filters": {"region": ["eu"]}},
    {"code": "credits", "name": "Credits", "aggregation": "sum", "field_name": "credits"},
    {"code": "peak", "name": "Peak", "aggregation": "max", "field_name": "n"},
]

CATALOG: dict[str, Any] = {
    "products": [{"code": "api", "name": "API", "plans": [
        {"code": "metered", "name": "Metered", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}],
         "charges": [
             # 100 calls free, then 0.01 up to 1000 billable calls, 0.005 after
             {"metric": "api_calls", "model": "graduated", "included": "100",
              "prices": {"EUR": {"tiers": [{"up_to": "1000", "unit": "0.01"}, {"up_to": None, "unit": "0.005"}]}}},
             # 1000 tokens free, then 0.002 each
             {"metric": "tokens", "model": "per_unit", "included": "1000", "prices": {"EUR": {"unit": "0.002"}}},
             {"metric": "regional", "model": "per_unit", "prices": {"EUR": {"unit": "0.50"}}},
             {"metric": "eu_calls", "model": "per_unit", "prices": {"EUR": {"unit": "1.00"}}},
         ],
         "minimum_spend": {"EUR": "20.00"}},
        {"code": "prepaid", "name": "Prepaid", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "5.00"}}}],
         "charges": [
             # charged as each event arrives: 5 free, then 1.00 up to 10 billable, 0.50 up to 20, 0.25 after
             {"metric": "credits", "model": "graduated", "timing": "in_advance", "included": "5",
              "prices": {"EUR": {"tiers": [{"up_to": "10", "unit": "1.00"}, {"up_to": "20", "unit": "0.50"},
                                           {"up_to": None, "unit": "0.25"}]}}},
         ]},
    ]}],
}  # fmt: skip


# ---- helpers -------------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["code"], body["field"]) == (code, field), body
    return body


def setup(client: TestClient) -> None:
    for metric in METRICS:
        ok(client.post("/v1/billable_metrics", json=metric), 201)
    document = copy.deepcopy(CATALOG)
    ok(client.post("/v1/catalog", json={"document": document, "effective_at": "2025-01-01T00:00:00Z"}), 201)


def new_customer(client: TestClient, external_id: str = "c-1", clock_id: str | None = None) -> str:
    body: dict[str, Any] = {"external_id": external_id, "name": external_id.upper(), "currency": "EUR"}
    if clock_id is not None:
        body["test_clock_id"] = clock_id
    customer_id: str = ok(client.post("/v1/customers", json=body), 201)["id"]
    return customer_id


def subscribe(client: TestClient, customer_id: str, plan: str = "metered", **fields: Any) -> str:
    body = {"customer_id": customer_id, "plan": plan, **fields}
    sub_id: str = ok(client.post("/v1/subscriptions", json=body), 201)["id"]
    return sub_id


def new_clock(client: TestClient, frozen_time: str) -> str:
    clock_id: str = ok(client.post("/v1/test_clocks", json={"name": "Sim", "frozen_time": frozen_time}), 201)[
        "id"
    ]
    return clock_id


def advance(client: TestClient, clock_id: str, to: str) -> None:
    body = ok(client.post(f"/v1/test_clocks/{clock_id}/advance", json={"frozen_time": to}))
    assert (body["status"], body["error"]) == ("ready", None), body


def event(
    event_id: str,
    metric: str = "api_calls",
    *,
    customer: str | None = "c-1",
    sub: str | None = None,
    at: str = EARLIER,
    **properties: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"id": event_id, "metric": metric, "timestamp": at}
    if sub is not None:
        body["subscription_id"] = sub
    elif customer is not None:
        body["external_customer_id"] = customer
    if properties:
        body["properties"] = properties
    return body


def send(client: TestClient, events: list[Any]) -> dict[str, Any]:
    body: dict[str, Any] = ok(client.post("/v1/usage_events/batch", json={"events": events}))
    return body


def counts(body: dict[str, Any]) -> tuple[int, int, int, list[tuple[int, str | None, str, str | None]]]:
    """(received, accepted, duplicates, errors as (index, id, code, field))."""
    errors = [(e["index"], e["id"], e["code"], e["field"]) for e in body["errors"]]
    return body["received"], body["accepted"], body["duplicates"], errors


def usage(client: TestClient, customer_id: str) -> dict[str, Any]:
    """The current usage of the customer's one subscription."""
    (current,) = ok(client.get(f"/v1/customers/{customer_id}/current_usage"))["data"]
    result: dict[str, Any] = current
    return result


def lines(current: dict[str, Any]) -> dict[tuple[str, str | None], tuple[str, str]]:
    """(metric, group) → (quantity, amount charged so far)."""
    return {(c["metric"], c["group"]): (c["quantity"], c["charged"]["amount"]) for c in current["charges"]}


def stored_count(ctx: ServiceContext, tenant: TenantAccess) -> int:
    with ctx.uow(read_only=True) as uow:
        return uow.usage_events.count(tenant.id)


def kassa_events(client: TestClient, type: str) -> list[dict[str, Any]]:
    """kassa's own events of one type, oldest first."""
    body = ok(client.get("/v1/events", params={"type": type, "limit": 100}))
    assert body["has_more"] is False
    return list(reversed(body["data"]))


def settings(client: TestClient, **changes: Any) -> None:
    ok(client.patch("/v1/settings", json=changes))


# ---- billable metrics ----------------------------------------------------------------------------------


def test_billable_metric_create_read_and_list(client: TestClient) -> None:
    created = ok(client.post("/v1/billable_metrics", json=METRICS[3]), 201)
    assert created == {"code": "eu_calls", "name": "EU calls", "aggregation": "count", "field_name": None,
                       "filters": {"region": ["eu"]}, "group_by": None, "description": None}  # fmt: skip
    ok(client.post("/v1/billable_metrics", json={**METRICS[1], "description": "LLM tokens"}), 201)
    assert ok(client.get("/v1/billable_metrics/eu_calls")) == created
    listed = ok(client.get("/v1/billable_metrics"))["data"]
    assert sorted((m["code"], m["aggregation"], m["field_name"], m["description"]) for m in listed) == [
        ("eu_calls", "count", None, None),
        ("tokens", "sum", "tokens", "LLM tokens"),
    ]
    refused(client.get("/v1/billable_metrics/nope"), 404, "billable_metric_not_found")


def test_billable_metric_duplicate_code_is_a_conflict(client: TestClient) -> None:
    ok(client.post("/v1/billable_metrics", json=METRICS[0]), 201)
    refused(
        client.post("/v1/billable_metrics", json={**METRICS[0], "name": "Other"}),
        409,
        "duplicate_code",
        "code",
    )
    assert ok(client.get("/v1/billable_metrics/api_calls"))["name"] == "API calls"


def test_billable_metric_invalid_bodies_name_the_field(client: TestClient) -> None:
    base = {"code": "m", "name": "M"}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({**base, "aggregation": "count", "field_name": "n"}, "invalid_metric", "field_name"),
        ({**base, "aggregation": "sum"}, "invalid_metric", "field_name"),
        ({**base, "aggregation": "max"}, "invalid_metric", "field_name"),
        ({**base, "aggregation": "avg", "field_name": "n"}, "invalid_value", "aggregation"),
        ({**base, "code": "API Calls", "aggregation": "count"}, "invalid_value", "code"),
        ({**base, "name": "   ", "aggregation": "count"}, "invalid_metric", "name"),
        ({**base, "aggregation": "count", "colour": "red"}, "unknown_field", "colour"),
        ({"code": "m", "aggregation": "count"}, "required", "name"),
    ]
    for body, code, field in cases:
        refused(client.post("/v1/billable_metrics", json=body), 422, code, field)
    assert ok(client.get("/v1/billable_metrics"))["data"] == []


def test_billable_metric_patch_name_always_measure_only_before_usage(client: TestClient) -> None:
    setup(client)
    # no usage yet: what `peak` measures may change
    patched = ok(client.patch("/v1/billable_metrics/peak", json={"aggregation": "latest"}))
    assert (patched["aggregation"], patched["field_name"]) == ("latest", "n")
    customer_id = new_customer(client)
    subscribe(client, customer_id, start_date=START)
    assert counts(send(client, [event("t1", "tokens", tokens=5)]))[1] == 1
    # usage exists: the name and description change, what it measures does not
    renamed = ok(
        client.patch("/v1/billable_metrics/tokens", json={"name": "LLM tokens", "description": "in+out"})
    )
    assert renamed == {"code": "tokens", "name": "LLM tokens", "aggregation": "sum", "field_name": "tokens",
                       "filters": {}, "group_by": None, "description": "in+out"}  # fmt: skip
    refused(client.patch("/v1/billable_metrics/tokens", json={"aggregation": "max"}), 409, "metric_in_use")
    refused(
        client.patch("/v1/billable_metrics/tokens", json={"filters": {"model": ["a"]}}), 409, "metric_in_use"
    )
    refused(client.patch("/v1/billable_metrics/tokens", json={"group_by": "model"}), 409, "metric_in_use")
    assert ok(client.get("/v1/billable_metrics/tokens")) == renamed


# ---- the catalog checks its charges' metrics -------------------------------------------------------------


def _one_charge(charge: dict[str, Any]) -> dict[str, Any]:
    return {"products": [{"code": "p", "name": "P", "plans": [{
        "code": "p1", "name": "P1", "billing_period": "month",
        "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "1.00"}}}],
        "charges": [charge],
    }]}]}  # fmt: skip


def test_catalog_refuses_a_charge_on_an_unknown_metric(client: TestClient) -> None:
    ok(client.post("/v1/billable_metrics", json=METRICS[5]), 201)
    document = _one_charge({"metric": "ghost", "model": "per_unit", "prices": {"EUR": {"unit": "1"}}})
    refused(client.post("/v1/catalog", json={"document": document}), 422, "metric_not_found",
            "document.products.0.plans.0.charges.0.metric")  # fmt: skip
    assert ok(client.get("/v1/catalog/versions"))["items"] == []  # nothing was applied


def test_catalog_refuses_in_advance_on_a_max_metric(client: TestClient) -> None:
    ok(client.post("/v1/billable_metrics", json=METRICS[5]), 201)
    charge = {"metric": "peak", "model": "per_unit", "timing": "in_advance", "prices": {"EUR": {"unit": "1"}}}
    refused(client.post("/v1/catalog", json={"document": _one_charge(charge)}), 422, "invalid_catalog",
            "document.products.0.plans.0.charges.0.timing")  # fmt: skip
    # in arrears, the same max metric is fine
    charge["timing"] = "in_arrears"
    ok(client.post("/v1/catalog", json={"document": _one_charge(charge)}), 201)


# ---- usage events: one at a time -----------------------------------------------------------------------


def test_single_event_then_the_same_id_is_a_duplicate_counted_once(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    sub_id = subscribe(client, customer_id, start_date=START)
    first = ok(client.post("/v1/usage_events", json=event("one", "tokens", tokens=1500)), 201)
    assert first == {
        "id": "one", "metric": "tokens", "subscription_id": sub_id, "customer_id": customer_id,
        "timestamp": "2026-01-01T08:00:00Z", "received_at": "2026-01-01T09:00:00Z",
        "properties": {"tokens": 1500}, "late": False, "duplicate": False,
    }  # fmt: skip
    # a retry, even with other properties, is acknowledged with the event as first received
    again = ok(client.post("/v1/usage_events", json=event("one", "tokens", tokens=9999)), 200)
    assert again == {**first, "duplicate": True}
    assert ok(client.get("/v1/usage_events/one")) == first
    # 1500 tokens, 1000 included: 500 × 0.002 = 1.00
    assert lines(usage(client, customer_id))[("tokens", None)] == ("1500", "1.00")
    refused(client.post("/v1/usage_events", json=event("two", "nope")), 422, "metric_not_found", "metric")
    refused(client.get("/v1/usage_events/two"), 404, "usage_event_not_found")


# ---- usage events: batches -----------------------------------------------------------------------------


def test_batch_stores_the_valid_events_and_reports_each_error_by_index(
    client: TestClient, ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    setup(client)
    c1 = new_customer(client, "c-1")
    subscribe(client, c1, start_date=START)
    c2 = new_customer(client, "c-2")
    subscribe(client, c2, start_date=START)
    c2_second = subscribe(client, c2, start_date=START)  # two subscriptions pricing api_calls
    events: list[Any] = [
        event("ok-0"),
        event("e-1", "nope"),
        event("e-2", customer="ghost"),
        event("e-3", "tokens"),  # a sum metric without its property
        event("e-4", at="2026-01-01T08:00:00"),  # no offset
        event("e-5", at="2026-01-01T09:05:01Z"),  # more than 5 minutes ahead of now
        event("ok-6", at="2026-01-01T09:05:00Z"),  # exactly 5 minutes ahead: clock skew is tolerated
        event("e-7", customer="c-2"),
        event("ok-8", sub=c2_second),  # the same usage, addressed to one subscription
        event("ok-9", "tokens", tokens="1200"),
        event("e-10", at="2025-11-30T12:00:00Z"),  # before the subscription started
        {**event("e-11"), "subscription_id": c2_second},  # both a subscription and a customer
        event("e-12", "tokens", tokens="many"),
    ]
    body = send(client, events)
    assert counts(body) == (13, 4, 0, [
        (1, "e-1", "metric_not_found", "metric"),
        (2, "e-2", "customer_not_found", "external_customer_id"),
        (3, "e-3", "missing_property", "properties.tokens"),
        (4, "e-4", "invalid_timestamp", "timestamp"),
        (5, "e-5", "timestamp_in_future", "timestamp"),
        (7, "e-7", "subscription_ambiguous", "external_customer_id"),
        (10, "e-10", "outside_subscription", "timestamp"),
        (11, "e-11", "invalid_usage_event", "subscription_id"),
        (12, "e-12", "invalid_property", "properties.tokens"),
    ])  # fmt: skip
    assert stored_count(ctx, tenant) == 4
    for refused_id in ("e-1", "e-2", "e-3", "e-5", "e-7", "e-10", "e-12"):
        refused(client.get(f"/v1/usage_events/{refused_id}"), 404, "usage_event_not_found")
    clock.advance(timedelta(minutes=6))  # 09:06: ok-6's time has passed, it counts for the period so far
    # c-1: 2 calls (within the 100 included: 0.00); 1200 tokens: 200 × 0.002 = 0.40
    current = lines(usage(client, c1))
    assert (current[("api_calls", None)], current[("tokens", None)]) == (("2", "0.00"), ("1200", "0.40"))
    second = ok(client.get(f"/v1/customers/{c2}/current_usage", params={"subscription_id": c2_second}))
    assert lines(second["data"][0])[("api_calls", None)] == ("1", "0.00")


def test_a_malformed_batch_stores_nothing(
    client: TestClient, ctx: ServiceContext, tenant: TenantAccess
) -> None:
    setup(client)
    subscribe(client, new_customer(client), start_date=START)
    refused(client.post("/v1/usage_events/batch", json={"events": "e1"}), 422, "invalid_value", "events")
    refused(client.post("/v1/usage_events/batch", json={"events": {"0": event("e1")}}), 422, "invalid_value",
            "events")  # fmt: skip
    refused(client.post("/v1/usage_events/batch", json={"events": []}), 422, "invalid_value", "events")
    refused(client.post("/v1/usage_events/batch", json={}), 422, "required", "events")
    too_many = [event(f"e{i}") for i in range(10_001)]
    refused(
        client.post("/v1/usage_events/batch", json={"events": too_many}), 422, "batch_too_large", "events"
    )
    refused(client.post("/v1/usage_events/batch", json={"events": [event("e1")], "dry": True}), 422,
            "unknown_field", "dry")  # fmt: skip
    assert stored_count(ctx, tenant) == 0
    refused(client.get("/v1/usage_events/e1"), 404, "usage_event_not_found")
    # 10,000 is the limit, not past it
    body = send(client, too_many[:10_000])
    assert counts(body) == (10_000, 10_000, 0, [])
    assert stored_count(ctx, tenant) == 10_000


def test_duplicate_ids_inside_one_batch_and_across_batches(client: TestClient, ctx: ServiceContext,
                                                            tenant: TenantAccess) -> None:  # fmt: skip
    setup(client)
    customer_id = new_customer(client)
    subscribe(client, customer_id, start_date=START)
    body = send(client, [event("d1", "tokens", tokens=1100), event("d2", "tokens", tokens=3),
                         event("d1", "tokens", tokens=7), event("d1", "tokens", tokens=9)])  # fmt: skip
    assert counts(body) == (4, 2, 2, [])
    assert body["duplicate_ids"] == ["d1", "d1"]
    # the first d1 is the one kept: 1100 + 3 = 1103 tokens, 103 × 0.002 = 0.206 → 0.21
    assert lines(usage(client, customer_id))[("tokens", None)] == ("1103", "0.21")
    # an invalid event does not reserve its id: the valid one after it is stored
    body = send(
        client, [event("d3", "tokens"), event("d3", "tokens", tokens=2), event("d2", "tokens", tokens=5)]
    )
    assert counts(body) == (3, 1, 1, [(0, "d3", "missing_property", "properties.tokens")])
    assert body["duplicate_ids"] == ["d2"]
    assert stored_count(ctx, tenant) == 3
    # 1105 tokens: 105 × 0.002 = 0.21
    assert lines(usage(client, customer_id))[("tokens", None)] == ("1105", "0.21")


def test_json_float_properties_are_counted_exactly(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    subscribe(client, customer_id, start_date=START)
    assert counts(send(client, [event(f"f{i}", "tokens", tokens=1.1) for i in range(3)]))[1] == 3
    ok(client.post("/v1/usage_events", json=event("f3", "tokens", tokens=2.2)), 201)
    # 1.1 + 1.1 + 1.1 + 2.2 = 5.5 exactly (in binary floats it would be 5.500000000000001)
    current = usage(client, customer_id)
    assert lines(current)[("tokens", None)] == ("5.5", "0.00")
    assert ok(client.get("/v1/usage_events/f0"))["properties"] == {"tokens": "1.1"}
    # 1000.1 + 0.2 more: 1005.8 tokens, 5.8 × 0.002 = 0.0116 → 0.01
    send(client, [event("f4", "tokens", tokens=1000.1), event("f5", "tokens", tokens=0.2)])
    assert lines(usage(client, customer_id))[("tokens", None)] == ("1005.8", "0.01")


# ---- grouping and filters --------------------------------------------------------------------------------


def test_group_by_prices_each_group_on_its_own_line(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    subscribe(client, customer_id, start_date=START)
    events = [event(f"eu{i}", "regional", region="eu") for i in range(3)]
    events += [event(f"us{i}", "regional", region="us") for i in range(2)]
    events += [event("none", "regional"), event("empty", "regional", region="")]
    body = send(client, events)
    assert counts(body) == (7, 5, 0, [(5, "none", "missing_property", "properties.region"),
                                      (6, "empty", "missing_property", "properties.region")])  # fmt: skip
    current = usage(client, customer_id)
    regional = [(c["group"], c["quantity"], c["charged"]["amount"]) for c in current["charges"]
                if c["metric"] == "regional"]  # fmt: skip
    # 3 × 0.50 = 1.50 and 2 × 0.50 = 1.00
    assert regional == [("eu", "3", "1.50"), ("us", "2", "1.00")]
    assert current["charged"] == {"amount": "2.50", "currency": "EUR"}


def test_filters_leave_other_events_uncounted(client: TestClient, ctx: ServiceContext,
                                              tenant: TenantAccess) -> None:  # fmt: skip
    setup(client)
    customer_id = new_customer(client)
    subscribe(client, customer_id, start_date=START)
    events = [event("eu1", "eu_calls", region="eu"), event("eu2", "eu_calls", region="eu")]
    events += [event(f"us{i}", "eu_calls", region="us") for i in range(3)]
    events += [event("none", "eu_calls"), event("EU", "eu_calls", region="EU")]
    assert counts(send(client, events)) == (7, 7, 0, [])
    assert stored_count(ctx, tenant) == 7  # stored, but only the two eu events count
    # 2 × 1.00 = 2.00
    assert lines(usage(client, customer_id))[("eu_calls", None)] == ("2", "2.00")


# ---- late usage ------------------------------------------------------------------------------------------


def _late_usage_on_a_test_clock(client: TestClient) -> str:
    """A customer on a test clock, subscribed since 2026-01-01 (period 2026-01-01 – 02-01), with 24 hours of
    grace: January takes 151 calls on time, 1 late call is refused, then 1000 late calls are accepted and
    February has one call of its own. The customer's id."""
    settings(client, draft_grace_period_hours=24, late_usage="reject")
    setup(client)
    clock_id = new_clock(client, "2026-01-01T10:00:00Z")
    customer_id = new_customer(client, clock_id=clock_id)
    subscribe(client, customer_id)  # starts today: the period is 2026-01-01 – 02-01
    assert counts(send(client, [event(f"jan{i}", at="2026-01-01T10:00:00Z") for i in range(150)]))[1] == 150
    advance(client, clock_id, "2026-02-01T23:00:00Z")
    # within the grace period, January still takes usage as usual
    on_time = ok(client.post("/v1/usage_events", json=event("grace", at="2026-01-31T12:00:00Z")), 201)
    assert on_time["late"] is False
    advance(client, clock_id, "2026-02-02T00:00:00Z")
    # the period has closed (end + grace == now): this tenant refuses late usage
    refused(client.post("/v1/usage_events", json=event("late-0", at="2026-01-31T12:00:00Z")), 422, "late_usage",
            "timestamp")  # fmt: skip
    body = send(
        client, [event("late-0", at="2026-01-31T12:00:00Z"), event("feb-0", at="2026-02-01T12:00:00Z")]
    )
    assert counts(body) == (2, 1, 0, [(0, "late-0", "late_usage", "timestamp")])
    # billed on the next invoice instead
    settings(client, late_usage="next_invoice")
    late = [event(f"late-{i}", at="2026-01-31T12:00:00Z") for i in range(1000)]
    assert counts(send(client, late)) == (1000, 1000, 0, [])
    assert ok(client.get("/v1/usage_events/late-7"))["late"] is True
    assert ok(client.get("/v1/usage_events/feb-0"))["late"] is False
    return customer_id


def test_late_usage_on_a_test_clock_is_refused_or_accepted(client: TestClient) -> None:
    customer_id = _late_usage_on_a_test_clock(client)
    current = usage(client, customer_id)
    assert (current["period_start"], current["period_end"]) == ("2026-02-01", "2026-03-01")
    # February's own usage: the one call of feb-0, within the 100 included; the late calls are not in it
    assert lines(current)[("api_calls", None)] == ("1", "0.00")


def test_late_usage_on_a_test_clock_is_billed_in_the_next_period(client: TestClient) -> None:
    customer_id = _late_usage_on_a_test_clock(client)
    current = usage(client, customer_id)
    # January had 151 calls: 51 billable × 0.01 = 0.51. With the 1000 late ones, 1151: 1051 billable,
    # 1000 × 0.01 + 51 × 0.005 = 10.255 → 10.26. The late line is the difference: 10.26 − 0.51 = 9.75
    assert current["late_usage"] == [{"metric": "api_calls", "group": None, "period_start": "2026-01-01",
                                      "period_end": "2026-02-01", "charged": {"amount": "9.75", "currency": "EUR"}}]  # fmt: skip
    assert current["charged"] == {"amount": "9.75", "currency": "EUR"}


def test_late_usage_on_the_system_clock(client: TestClient, clock: SettableClock) -> None:
    """The same rules for a customer without a test clock, whose present is the system clock."""
    settings(client, draft_grace_period_hours=24)
    setup(client)
    customer_id = new_customer(client)
    subscribe(client, customer_id, start_date=START)  # period 2026-01-01 – 02-01
    assert counts(send(client, [event(f"jan{i}") for i in range(150)]))[1] == 150
    clock.advance(timedelta(days=31, hours=14, minutes=59))  # 2026-02-01T23:59Z: still within the grace
    assert counts(send(client, [event("grace", at="2026-01-31T12:00:00Z")]))[1] == 1
    clock.advance(timedelta(minutes=1))  # 2026-02-02T00:00Z: January is closed
    late = [event(f"late-{i}", at="2026-01-31T12:00:00Z") for i in range(1000)]
    assert counts(send(client, late)) == (1000, 1000, 0, [])
    assert ok(client.get("/v1/usage_events/late-0"))["late"] is True
    assert ok(client.get("/v1/usage_events/grace"))["late"] is False
    current = usage(client, customer_id)
    assert (current["period_start"], current["period_end"]) == ("2026-02-01", "2026-03-01")
    assert lines(current)[("api_calls", None)] == ("0", "0.00")
    # as above: 10.26 with the late calls, 0.51 without: 9.75
    assert current["late_usage"] == [{"metric": "api_calls", "group": None, "period_start": "2026-01-01",
                                      "period_end": "2026-02-01", "charged": {"amount": "9.75", "currency": "EUR"}}]  # fmt: skip
    assert current["charged"] == {"amount": "9.75", "currency": "EUR"}
    settings(client, late_usage="reject")
    body = send(client, [event("late-x", at="2026-01-31T23:59:59Z")])
    assert counts(body) == (1, 0, 0, [(0, "late-x", "late_usage", "timestamp")])


# ---- in-advance charges ----------------------------------------------------------------------------------


def test_in_advance_charge_rates_each_event_as_it_arrives(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    sub_id = subscribe(client, customer_id, "prepaid", start_date=START)
    # one batch, out of timestamp order: the events are charged in timestamp order
    body = send(client, [
        event("c3", "credits", at="2026-01-01T08:30:00Z", credits=10),
        event("c1", "credits", at="2026-01-01T08:10:00Z", credits=3),
        event("c2", "credits", at="2026-01-01T08:20:00Z", credits="4"),
    ])  # fmt: skip
    assert counts(body) == (3, 3, 0, [])
    ok(
        client.post("/v1/usage_events", json=event("c4", "credits", at="2026-01-01T08:40:00Z", credits=13.5)),
        201,
    )
    ok(
        client.post("/v1/usage_events", json=event("c1", "credits", at="2026-01-01T08:10:00Z", credits=3)),
        200,
    )
    charged = [(e["object_id"], e["data"]["charged"]) for e in kassa_events(client, "usage.charged")]
    # c1: 3 credits, all within the 5 included: 0.00
    # c2: 7 in all, 2 billable: 2 × 1.00 = 2.00
    # c3: 17 in all, 12 billable: 10 × 1.00 + 2 × 0.50 = 11.00, less the 2.00 before: 9.00
    # c4: 30.5 in all, 25.5 billable: 10 + 10 × 0.50 + 5.5 × 0.25 = 16.375, less 11.00: 5.375 → 5.38
    assert sorted(charged) == [("c1", "0.00"), ("c2", "2.00"), ("c3", "9.00"), ("c4", "5.38")]
    first = kassa_events(client, "usage.charged")[0]
    assert first["data"] == {"subscription_id": sub_id, "metric": "credits", "group": None, "units": "3",
                             "charged": "0.00", "currency": "EUR", "billing": "next_invoice",
                             "period_start": "2026-01-01", "period_end": "2026-02-01"}  # fmt: skip
    assert first["customer_id"] == customer_id
    # the period's rating agrees: 16.375 → 16.38, third tier reached
    (line,) = usage(client, customer_id)["charges"]
    assert (line["quantity"], line["billable_quantity"], line["tier"], line["charged"]["amount"]) == (
        "30.5", "25.5", 3, "16.38",
    )  # fmt: skip


def test_in_advance_charge_event_units_are_plain_decimal_text(client: TestClient) -> None:
    setup(client)
    subscribe(client, new_customer(client), "prepaid", start_date=START)
    send(client, [event("c1", "credits", credits=10), event("c2", "credits", credits="100"),
                  event("c3", "credits", credits="2.50")])  # fmt: skip
    units = sorted((e["object_id"], e["data"]["units"]) for e in kassa_events(client, "usage.charged"))
    assert units == [("c1", "10"), ("c2", "100"), ("c3", "2.5")]


# ---- thresholds ------------------------------------------------------------------------------------------


def test_allowance_threshold_fires_once_per_period(client: TestClient) -> None:
    setup(client)
    clock_id = new_clock(client, "2026-01-15T10:00:00Z")
    customer_id = new_customer(client, clock_id=clock_id)
    sub_id = subscribe(client, customer_id)  # period 2026-01-15 – 02-15
    threshold = ok(client.post(f"/v1/subscriptions/{sub_id}/usage_thresholds",
                               json={"kind": "allowance_percent", "value": "80", "metric": "api_calls"}), 201)  # fmt: skip
    assert (threshold["kind"], threshold["value"], threshold["metric"]) == (
        "allowance_percent",
        "80",
        "api_calls",
    )
    # 80 % of the 100 included calls is 80 calls
    send(client, [event(f"a{i}", at="2026-01-15T09:00:00Z") for i in range(79)])
    assert kassa_events(client, "usage.threshold_reached") == []
    send(client, [event("a79", at="2026-01-15T09:30:00Z")])
    send(client, [event(f"b{i}", at="2026-01-15T09:40:00Z") for i in range(30)])  # 110 calls: no second event
    ok(client.post("/v1/usage_events", json=event("b30", at="2026-01-15T09:50:00Z")), 201)
    (reached,) = kassa_events(client, "usage.threshold_reached")
    assert (reached["object_id"], reached["customer_id"], reached["occurred_at"]) == (
        threshold["id"], customer_id, "2026-01-15T10:00:00Z",
    )  # fmt: skip
    assert reached["data"] == {
        "subscription_id": sub_id, "threshold_id": threshold["id"], "kind": "allowance_percent", "value": "80",
        "metric": "api_calls", "period_start": "2026-01-15", "period_end": "2026-02-15", "quantity": "80",
        "charged": "0.00",
    }  # fmt: skip
    # the next period: the allowance starts again, and so does the threshold
    advance(client, clock_id, "2026-02-16T10:00:00Z")
    send(client, [event(f"c{i}", at="2026-02-15T12:00:00Z") for i in range(79)])
    assert len(kassa_events(client, "usage.threshold_reached")) == 1
    send(client, [event(f"c{i}", at="2026-02-15T12:00:00Z") for i in range(79, 85)])
    first, second = kassa_events(client, "usage.threshold_reached")
    assert first == reached
    assert (second["occurred_at"], second["data"]["period_start"], second["data"]["period_end"],
            second["data"]["quantity"]) == ("2026-02-16T10:00:00Z", "2026-02-15", "2026-03-15", "85")  # fmt: skip


def test_amount_threshold_over_all_usage_charges(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    sub_id = subscribe(client, customer_id, start_date=START)
    threshold = ok(client.post(f"/v1/subscriptions/{sub_id}/usage_thresholds",
                               json={"kind": "amount", "value": "3.00"}), 201)  # fmt: skip
    # 2.50: 5 regional calls × 0.50
    send(client, [event(f"r{i}", "regional", region="eu") for i in range(5)])
    assert kassa_events(client, "usage.threshold_reached") == []
    # + 1200 tokens, 200 billable × 0.002 = 0.40: 2.90, still below
    send(client, [event("t1", "tokens", tokens=1200)])
    assert kassa_events(client, "usage.threshold_reached") == []
    # + 50 more tokens: 250 × 0.002 = 0.50: 3.00 reaches it
    send(client, [event("t2", "tokens", tokens=50)])
    (reached,) = kassa_events(client, "usage.threshold_reached")
    assert (reached["object_id"], reached["data"]["kind"], reached["data"]["value"],
            reached["data"]["charged"]) == (threshold["id"], "amount", "3.00", "3.00")  # fmt: skip


# ---- advice of charge ------------------------------------------------------------------------------------


def test_estimate_with_units_and_with_properties(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    sub_id = subscribe(client, customer_id, start_date=START)
    send(client, [event(f"a{i}") for i in range(300)] + [event("t", "tokens", tokens=500)])
    est = ok(client.post("/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "api_calls",
                                                      "units": "1000"}))  # fmt: skip
    # 200 billable so far; 1000 more: 800 × 0.01 (to 1000) + 200 × 0.005 = 9.00
    assert est == {"subscription_id": sub_id, "metric": "api_calls", "group": None, "units": "1000",
                   "cost": {"amount": "9.00", "currency": "EUR"}, "quantity_before": "300", "tier_before": 1,
                   "tier_after": 2, "included_left": "0", "wallet_balance": None, "fits_in_wallet": None}  # fmt: skip
    est = ok(client.post("/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "tokens",
                                                      "properties": {"tokens": "700"}}))  # fmt: skip
    # 500 used of the 1000 included; 700 more: 200 billable × 0.002 = 0.40
    assert (est["units"], est["cost"]["amount"], est["quantity_before"], est["included_left"], est["tier_before"]) == (
        "700", "0.40", "500", "500", None,
    )  # fmt: skip
    est = ok(client.post("/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "regional",
                                                      "properties": {"region": "eu"}}))  # fmt: skip
    # one more event of the eu group: 1 × 0.50
    assert (est["group"], est["units"], est["cost"]["amount"], est["quantity_before"]) == (
        "eu",
        "1",
        "0.50",
        "0",
    )
    refused(client.post("/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "tokens", "units": "1",
                                                     "properties": {"tokens": 1}}), 422, "invalid_estimate", "units")  # fmt: skip
    refused(client.post("/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "tokens",
                                                     "properties": {}}), 422, "missing_property", "properties.tokens")  # fmt: skip
    refused(client.post("/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "credits", "units": "1"}),
            422, "metric_not_priced", "metric")  # fmt: skip


# ---- current usage: forecast and minimum spend -----------------------------------------------------------


def test_current_usage_forecast_and_minimum_spend_true_up(client: TestClient) -> None:
    setup(client)
    customer_id = new_customer(client)
    sub_id = subscribe(client, customer_id, start_date=START)
    send(client, [event(f"a{i}") for i in range(300)])
    current = usage(client, customer_id)
    assert (current["subscription_id"], current["plan"], current["period_start"], current["period_end"],
            current["as_of"]) == (sub_id, "metered", "2026-01-01", "2026-02-01", NOW)  # fmt: skip
    calls = current["charges"][0]
    # 300 calls, 100 included: 200 × 0.01 = 2.00, first tier
    # forecast: 9 hours of the period's 744 gone, 300 × 744 / 9 = 24800 calls; 24700 billable:
    # 1000 × 0.01 + 23700 × 0.005 = 10.00 + 118.50 = 128.50
    assert calls == {"metric": "api_calls", "group": None, "model": "graduated", "quantity": "300",
                     "billable_quantity": "200", "included": "100", "tier": 1,
                     "charged": {"amount": "2.00", "currency": "EUR"}, "forecast_quantity": "24800",
                     "forecast": {"amount": "128.50", "currency": "EUR"}}  # fmt: skip
    assert [(c["metric"], c["quantity"], c["forecast_quantity"]) for c in current["charges"][1:]] == [
        ("tokens", "0", "0"), ("eu_calls", "0", "0"),
    ]  # fmt: skip
    assert current["charged"] == {"amount": "2.00", "currency": "EUR"}
    assert current["forecast"] == {"amount": "128.50", "currency": "EUR"}
    # the minimum of 20.00 less the 2.00 charged
    assert current["minimum_spend"] == {"amount": "20.00", "currency": "EUR"}
    assert current["true_up"] == {"amount": "18.00", "currency": "EUR"}
    assert current["late_usage"] == []


def test_minimum_spend_is_prorated_for_a_short_first_period(client: TestClient) -> None:
    setup(client)
    clock_id = new_clock(client, "2026-01-16T10:00:00Z")
    customer_id = new_customer(client, clock_id=clock_id)
    subscribe(client, customer_id, billing_anchor={"type": "day_of_month", "day": 1})
    send(client, [event(f"a{i}", at="2026-01-16T09:00:00Z") for i in range(200)])
    current = usage(client, customer_id)
    assert (current["period_start"], current["period_end"]) == ("2026-01-16", "2026-02-01")
    # 200 calls: 100 billable × 0.01 = 1.00
    # forecast: 10 hours of the 384 (16 days) gone: 200 × 384 / 10 = 7680 calls, 7580 billable:
    # 1000 × 0.01 + 6580 × 0.005 = 10.00 + 32.90 = 42.90
    calls = current["charges"][0]
    assert (calls["charged"]["amount"], calls["forecast_quantity"], calls["forecast"]["amount"]) == (
        "1.00", "7680", "42.90",
    )  # fmt: skip
    # 16 of January's 31 days: 20.00 × 16 / 31 = 10.3225…, less 1.00 charged: 9.3225… → 9.32
    assert current["minimum_spend"] == {"amount": "20.00", "currency": "EUR"}
    assert current["true_up"] == {"amount": "9.32", "currency": "EUR"}
