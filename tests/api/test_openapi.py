"""The OpenAPI document: tight enough for client generators and schemathesis, the same from the CLI, and
true to what the app answers (schemathesis over every operation)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from kassa import config
from kassa.api.problems import PROBLEM_TYPE
from kassa.bootstrap import build_context
from kassa.core.money import AMOUNT_PATTERN
from kassa.server import create_app
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document does not depend on the database (serving it reads none): built once, on SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'kassa.db'}"
    ctx = build_context(config.load({}, database_url=url))
    with TestClient(create_app(ctx)) as client:
        response = client.get("/openapi.json")  # public: no key needed
    ctx.engine.dispose()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc: dict[str, Any] = response.json()
    return doc


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = doc["components"]["schemas"][name]
    return schema


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_money_amount_is_a_pattern_constrained_string(document: dict[str, Any]) -> None:
    money = [
        node
        for node in _walk(document)
        if isinstance(node.get("properties"), dict) and {"amount", "currency"} <= set(node["properties"])
    ]
    titles = sorted(node.get("title", "?") for node in money)
    assert titles == ["MoneyModel"]  # one money shape, reused everywhere by reference
    for node in money:
        amount = _resolve(document, node["properties"]["amount"])
        assert amount["type"] == "string"
        assert amount["pattern"] == AMOUNT_PATTERN
        assert amount["maxLength"] == 40
        currency = _resolve(document, node["properties"]["currency"])
        assert (currency["type"], currency["pattern"]) == ("string", "^[A-Z]{3}$")
        assert set(node["required"]) == {"amount", "currency"}
    pattern = re.compile(AMOUNT_PATTERN)
    assert [bool(pattern.search(s)) for s in ("12.34", "-0.5", "1000", "1e5", "12.", "", "1,5", "0x10")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    # any other property called amount is a bare amount held to the same rule, or the money shape above by
    # reference (issue 9: a dispute's or a wallet lot's amount is {amount, currency}); either may be nullable
    for node in _walk(document):
        props = node.get("properties")
        if isinstance(props, dict) and "amount" in props:
            shapes = props["amount"].get("anyOf", [props["amount"]])
            shapes = [shape for shape in shapes if shape != {"type": "null"}]
            assert len(shapes) == 1, node.get("title")
            if shapes[0].get("$ref") == "#/components/schemas/MoneyModel":
                continue
            amount = _resolve(document, shapes[0])
            assert (amount.get("type"), amount.get("pattern")) == ("string", AMOUNT_PATTERN), node.get(
                "title"
            )


def test_every_error_response_is_problem_json(document: dict[str, Any]) -> None:
    checked = 0
    operations = list(_operations(document))
    for method, path, operation in operations:
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert response["content"] == {PROBLEM_TYPE: {"schema": PROBLEM_REF}}, (method, path, status)
                checked += 1
        if path.startswith("/v1/"):
            assert {"400", "401", "404", "409", "422"} <= set(operation["responses"]), (method, path)
    assert checked >= 5 * len([path for _, path, _ in operations if path.startswith("/v1/")])
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert {"field", "request_id", "errors"} <= set(problem["properties"])
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_security_is_http_bearer_on_every_v1_operation(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert list(schemes) == ["HTTPBearer"]
    assert schemes["HTTPBearer"]["type"] == "http"
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    operations = list(_operations(document))
    for method, path, operation in operations:
        # a gateway signs its webhooks (issue 7): no API key there
        signed = path == "/v1/gateways/{gateway}/webhooks/{tenant_id}"
        expected = [{"HTTPBearer": []}] if path.startswith("/v1/") and not signed else None
        assert operation.get("security") == expected, (method, path)
    assert {(m, p) for m, p, _ in operations if not p.startswith("/v1/")} == {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    }


def test_the_cli_prints_the_same_document(tmp_path: Path, document: dict[str, Any]) -> None:
    kassa = Path(sys.executable).with_name("kassa")
    env = {**os.environ, "KASSA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    result = subprocess.run(
        [str(kassa), "openapi"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == document
    assert (printed["info"]["title"], printed["openapi"]) == ("kassa", "3.1.0")


# -- schemathesis ------------------------------------------------------------------------------------


# Driven by hand, one Hypothesis run per operation: `schemathesis.pytest.from_fixture` (the loader for an
# app that lives in a fixture, as ours does: it needs the database) sets `request.node._nodeid`, which
# pytest 9 no longer has. Both databases: a run is about 15 s on each. Derandomized so CI is repeatable;
# KASSA_SCHEMATHESIS_EXAMPLES=500 digs deeper by hand.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]
EXAMPLES = int(os.environ.get("KASSA_SCHEMATHESIS_EXAMPLES", "20"))


def test_the_app_keeps_to_its_schema(ctx: ServiceContext, tenant: TenantAccess) -> None:
    app = create_app(ctx)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in app.openapi()["paths"].values())
    assert len(operations) >= 34
    failures: list[str] = []
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
            phases=[Phase.generate, Phase.shrink],
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=tenant.headers, checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as error:  # every operation runs; all failures are listed
            failures.append(f"{operation.label}:\n{error}")
    assert not failures, "\n\n".join(failures)


# -- what schemathesis found, pinned -----------------------------------------------------------------


def test_every_v1_post_documents_the_idempotency_key(document: dict[str, Any]) -> None:
    posts = [(path, op) for method, path, op in _operations(document) if method == "POST"]
    assert {"/v1/customers", "/v1/api_keys", "/v1/webhook_deliveries/{delivery_id}/replay"} <= {
        path for path, _ in posts
    }
    for path, operation in posts:
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        assert [(p["name"], p["required"], p["schema"]) for p in headers] == [
            (
                "Idempotency-Key",
                False,
                {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            )
        ], path


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/v1/test_clocks", {"name": "a\u0000b", "frozen_time": "2026-01-01T00:00:00Z"}, "name"),
        (
            "POST",
            "/v1/customers",
            {"external_id": "x", "name": "n", "metadata": {"k": "\u0000"}},
            "metadata.k",
        ),
        (
            "POST",
            "/v1/customers",
            {"external_id": "x", "name": "n", "emails": ["a@b.c", "\u0000"]},
            "emails.1",
        ),
        ("POST", "/v1/customers", {"external_id": "x", "name": "n", "metadata": {"\u0000": "v"}}, "metadata"),
        ("PATCH", "/v1/settings", {"legal_name": "\u0000"}, "legal_name"),
        ("GET", "/v1/customers?external_id=a%00b", None, "external_id"),
    ],
)
def test_a_nul_character_is_refused_before_the_database(
    client: TestClient, method: str, path: str, body: Any, field: str
) -> None:
    """PostgreSQL cannot store U+0000 in text (psycopg.DataError, a 500) while SQLite stores it: the API
    refuses it on both, naming the field."""
    response = client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_TYPE
    problem = response.json()
    assert (problem["code"], problem["field"]) == ("invalid_text", field)
    assert client.get("/v1/customers").json()["data"] == []
    assert client.get("/v1/test_clocks").json()["data"] == []
    assert client.get("/v1/settings").json()["legal_name"] is None


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: TestClient) -> None:
    response = client.post(
        "/v1/customers",
        content=b'{"external_id": "x", "name": "C:\\\\u0000"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "C:\\u0000"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"\xce;\x94", "There was an error parsing the body"),
        (b"[" * 100_000 + b"]" * 100_000, "There was an error parsing the body"),
        (b"\x00", "The body is not valid JSON: Expecting value"),
        (
            b'{"external_id": "x",',
            "The body is not valid JSON: Expecting property name enclosed in double quotes",
        ),
    ],
)
def test_a_body_that_is_not_json_is_invalid_json(client: TestClient, body: bytes, detail: str) -> None:
    """Not UTF-8 (or nested past the parser's depth) answered `http_error`, and a syntax error named
    the character offset as its field."""
    response = client.post("/v1/customers", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_TYPE
    problem = response.json()
    assert (problem["code"], problem["field"], problem["detail"]) == ("invalid_json", None, detail)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/test_clocks", {"name": "n", "frozen_time": "0001-01-01T00:00:00+00:30"}),
        ("POST", "/v1/test_clocks", {"name": "n", "frozen_time": "9999-12-31T23:59:59-01:00"}),
        ("GET", "/v1/customers?created_gte=0001-01-01T00:00:00%2B00:30", None),
        ("GET", "/v1/audit_events?at_lt=9999-12-31T23:59:59-01:00", None),
    ],
)
def test_an_instant_out_of_range_in_utc_is_invalid(
    ctx: ServiceContext, tenant: TenantAccess, method: str, path: str, body: Any
) -> None:
    """Issue 3: an instant with no UTC form (year 0 or 10000 once converted) is a 422, not a 500."""
    with TestClient(create_app(ctx), headers=tenant.headers, raise_server_exceptions=False) as client:
        response = client.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_value"
