"""Issue 5: the usage path end to end through the API (a smoke run; detailed cases live beside it)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

CATALOG: dict[str, Any] = {
    "products": [{"code": "api", "name": "API", "plans": [{
        "code": "metered", "name": "Metered", "billing_period": "month",
        "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}],
        "charges": [
            {"metric": "api_calls", "model": "graduated", "included": "100",
             "prices": {"EUR": {"tiers": [{"up_to": "1000", "unit": "0.01"}, {"up_to": None, "unit": "0.005"}]}}},
            {"metric": "storage", "model": "per_unit", "prices": {"EUR": {"unit": "0.001"}}},
        ],
        "minimum_spend": {"EUR": "20.00"},
    }]}],
}  # fmt: skip


def test_send_usage_and_read_it_back(client: TestClient) -> None:
    assert (
        client.post(
            "/v1/billable_metrics", json={"code": "api_calls", "name": "API calls", "aggregation": "count"}
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/v1/billable_metrics",
            json={"code": "storage", "name": "Storage", "aggregation": "weighted_sum", "field_name": "gb"},
        ).status_code
        == 201
    )
    r = client.post("/v1/catalog", json={"document": CATALOG, "effective_at": "2025-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    customer = client.post(
        "/v1/customers", json={"external_id": "c-1", "name": "C", "currency": "EUR"}
    ).json()
    sub = client.post(
        "/v1/subscriptions",
        json={"customer_id": customer["id"], "plan": "metered", "start_date": "2025-12-01"},
    )
    assert sub.status_code == 201, sub.text
    sub_id = sub.json()["id"]
    events = [
        {
            "id": f"e{i}",
            "metric": "api_calls",
            "external_customer_id": "c-1",
            "timestamp": "2026-01-01T08:00:00Z",
        }
        for i in range(300)
    ]
    events.append(
        {
            "id": "s1",
            "metric": "storage",
            "subscription_id": sub_id,
            "timestamp": "2026-01-01T00:00:00Z",
            "properties": {"gb": 10},
        }
    )
    events.append(
        {"id": "bad", "metric": "nope", "subscription_id": sub_id, "timestamp": "2026-01-01T00:00:00Z"}
    )
    r = client.post("/v1/usage_events/batch", json={"events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicates"]) == (301, 0)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(301, "metric_not_found")]
    again = client.post("/v1/usage_events/batch", json={"events": events[:10]}).json()
    assert (again["accepted"], again["duplicates"]) == (0, 10)
    usage = client.get(f"/v1/customers/{customer['id']}/current_usage")
    assert usage.status_code == 200, usage.text
    (current,) = usage.json()["data"]
    lines = {c["metric"]: c for c in current["charges"]}
    # 300 calls, 100 included: 200 × 0.01 = 2.00
    assert lines["api_calls"]["charged"] == {"amount": "2.00", "currency": "EUR"}
    # 10 GB from 2026-01-01T00:00 to now (09:00): 90 GB-hours × 0.001 = 0.09
    assert lines["storage"]["quantity"] == "90"
    assert lines["storage"]["charged"] == {"amount": "0.09", "currency": "EUR"}
    est = client.post(
        "/v1/rating/estimate", json={"subscription_id": sub_id, "metric": "api_calls", "units": "1000"}
    )
    assert est.status_code == 200, est.text
    # 200 billable so far; 1000 more: 800 at 0.01 (to 1000) + 200 at 0.005 = 8.00 + 1.00 = 9.00
    assert est.json()["cost"] == {"amount": "9.00", "currency": "EUR"}
