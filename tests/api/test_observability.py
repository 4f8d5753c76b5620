"""Health, readiness, request ids, Prometheus metrics and the structured request log. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from kassa.adapters.logs import JsonFormatter
from kassa.server import create_app
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def metric_lines(client: TestClient, name: str) -> list[str]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [line for line in response.text.splitlines() if line.startswith(name + "{")]


def test_health_and_readiness_need_no_key(ctx: ServiceContext) -> None:
    with TestClient(create_app(ctx)) as anonymous:
        live = anonymous.get("/healthz")
        assert (live.status_code, live.json()) == (200, {"status": "ok", "problems": {}})
        ready = anonymous.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "problems": {}})
        assert anonymous.get("/metrics").status_code == 200


def test_a_sent_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/v1/customers", headers={"X-Request-Id": "trace-abc.123:x"})
    assert response.headers["x-request-id"] == "trace-abc.123:x"
    problem = client.get("/v1/customers/cus_missing", headers={"X-Request-Id": "trace-404"})
    assert (problem.headers["x-request-id"], problem.json()["request_id"]) == ("trace-404", "trace-404")


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 65, "semi;colon"])
def test_a_request_id_is_generated_when_none_usable_is_sent(client: TestClient, sent: str | None) -> None:
    headers = {} if sent is None else {"X-Request-Id": sent}
    first = client.get("/healthz", headers=headers).headers["x-request-id"]
    second = client.get("/healthz", headers=headers).headers["x-request-id"]
    assert HEX32.match(first) and HEX32.match(second), (first, second)
    assert first != second


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.get("/v1/customers")
    lines = metric_lines(client, "kassa_http_requests_total")
    assert 'kassa_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in lines
    assert 'kassa_http_requests_total{method="GET",route="/v1/customers",status="200"} 1.0' in lines
    unmatched = client.get("/no/such/page")
    assert unmatched.status_code == 404
    assert 'kassa_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in metric_lines(
        client, "kassa_http_requests_total"
    )
    histogram = client.get("/metrics").text
    assert 'kassa_http_request_duration_seconds_count{method="GET",route="/healthz"} 2.0' in histogram


def test_the_route_label_is_the_full_path_template(client: TestClient) -> None:
    """The label is the route's template with the /v1 prefix: few values, and no clash with a
    /customers route the console or portal may mount later."""
    created = client.post("/v1/customers", json={"external_id": "m", "name": "M"}).json()
    client.get(f"/v1/customers/{created['id']}")
    lines = metric_lines(client, "kassa_http_requests_total")
    assert (
        'kassa_http_requests_total{method="GET",route="/v1/customers/{customer_id}",status="200"} 1.0'
        in lines
    )
    assert 'kassa_http_requests_total{method="POST",route="/v1/customers",status="201"} 1.0' in lines
    assert all("/v1/customers/cus_" not in line for line in lines)  # the template, never the path


def test_one_json_log_line_per_request(
    client: TestClient, tenant: TenantAccess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kassa.http")
    response = client.post(
        "/v1/customers", json={"external_id": "logged", "name": "Logged"}, headers={"X-Request-Id": "log-1"}
    )
    assert response.status_code == 201
    records = [r for r in caplog.records if r.name == "kassa.http"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert {
        k: line[k]
        for k in (
            "logger",
            "level",
            "message",
            "method",
            "path",
            "route",
            "status",
            "tenant_id",
            "request_id",
        )
    } == {
        "logger": "kassa.http",
        "level": "info",
        "message": "request",
        "method": "POST",
        "path": "/v1/customers",
        "route": "/v1/customers",
        "status": 201,
        "tenant_id": tenant.id,
        "request_id": "log-1",
    }
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0

    caplog.clear()
    with TestClient(create_app(client.app.state.ctx)) as anonymous:  # type: ignore[attr-defined]
        anonymous.get("/v1/customers")
    refused = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "kassa.http"]
    assert [(r["status"], r["tenant_id"], bool(HEX32.match(r["request_id"]))) for r in refused] == [
        (401, None, True)
    ]
