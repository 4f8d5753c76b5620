"""/v1/settings through the HTTP API: the defaults, each group of settings, validation with field paths,
and the audit entry every change leaves. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess

DEFAULTS: dict[str, Any] = {
    "legal_name": None,
    "address": None,
    "tax_ids": [],
    "bank": None,
    "default_currency": "EUR",
    "locale": "en",
    "time_zone": "UTC",
    "rounding_mode": "half_up",
    "tax_rounding": "per_line",
    "tax_inclusive": False,
    "invoice_numbering": {"prefix": "INV-", "reset": "yearly", "digits": 5, "example": "INV-2026-00042"},
    "draft_grace_period_hours": 1,
    "late_usage": "next_invoice",
    "in_advance_usage_billing": "next_invoice",
    "reporting_currency": "EUR",
    "webhook_allowed_networks": [],
    "invoice_template": None,
    "late_fee": None,
    "early_payment_discount": None,
    "gateway_routes": [],
    "sepa_creditor_id": None,
    "dispute_policy": None,  # issue 9: docs/disputes.md
}


def patch(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.patch("/v1/settings", json=body)
    assert response.status_code == 200, response.text
    settings: dict[str, Any] = response.json()
    return settings


def refused(response: Any, code: str, field: str | None) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (response.json()["code"], response.json()["field"]) == (code, field), response.json()


def tenant_audit(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/audit_events", params={"object_type": "tenant"})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["data"]
    return entries


def test_defaults(client: TestClient) -> None:
    response = client.get("/v1/settings")
    assert response.status_code == 200
    assert response.json() == DEFAULTS


def test_seller_details(client: TestClient) -> None:
    settings = patch(
        client,
        {
            "legal_name": "Acme Billing GmbH",
            "address": {
                "line1": "Friedrichstraße 68",
                "city": "Berlin",
                "postal_code": "10117",
                "country": "DE",
            },
            "tax_ids": [{"type": "eu_vat", "value": "DE 136 695 976"}],
            "bank": {
                "iban": "DE89 3704 0044 0532 0130 00",
                "bic": "COBADEFFXXX",
                "account_holder": "Acme Billing GmbH",
                "bank_name": "Commerzbank",
            },
        },
    )
    assert settings == {
        **DEFAULTS,
        "legal_name": "Acme Billing GmbH",
        "address": {
            "line1": "Friedrichstraße 68",
            "line2": None,
            "city": "Berlin",
            "postal_code": "10117",
            "state": None,
            "country": "DE",
        },
        "tax_ids": [{"type": "eu_vat", "value": "DE136695976", "country": "DE"}],
        "bank": {
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
            "account_holder": "Acme Billing GmbH",
            "bank_name": "Commerzbank",
        },
    }
    assert client.get("/v1/settings").json() == settings


def test_patch_leaves_unsent_fields_and_null_clears_nullable_ones(client: TestClient) -> None:
    patch(
        client,
        {"legal_name": "Acme GmbH", "bank": {"iban": "DE89370400440532013000"}, "rounding_mode": "half_even"},
    )
    settings = patch(client, {"legal_name": None})
    assert (settings["legal_name"], settings["bank"]["iban"], settings["rounding_mode"]) == (
        None,
        "DE89370400440532013000",
        "half_even",
    )
    assert patch(client, {"bank": None})["bank"] is None


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"bank": {"iban": "DE89 3704 0044 0532 0130 01"}}, "invalid_iban", "bank.iban"),
        ({"bank": {"iban": "DE89370400440532013000", "bic": "1234DEFFXXX"}}, "invalid_bic", "bank.bic"),
        ({"tax_ids": [{"type": "eu_vat", "value": "DE136695977"}]}, "invalid_tax_id", "tax_ids.0.value"),
        ({"address": {"line1": "x", "city": "y", "country": "ZZ"}}, "invalid_country", "address.country"),
        ({"rounding_mode": "banker"}, "invalid_value", "rounding_mode"),
        ({"tax_rounding": "per_year"}, "invalid_value", "tax_rounding"),
        ({"invoice_numbering": {"prefix": "INV 2026"}}, "invalid_value", "invoice_numbering.prefix"),
        ({"invoice_numbering": {"digits": 2}}, "invalid_value", "invoice_numbering.digits"),
        ({"draft_grace_period_hours": 721}, "invalid_value", "draft_grace_period_hours"),
        ({"reporting_currency": "ZZZ"}, "unknown_currency", "reporting_currency"),
        ({"default_currency": "XAU"}, "unknown_currency", "default_currency"),
        ({"time_zone": "Europe/Atlantis"}, "invalid_time_zone", "time_zone"),
        ({"locale": "xx_XX"}, "invalid_locale", "locale"),
        (
            {"webhook_allowed_networks": ["10.0.0.0/8", "10.0.0.1/8"]},
            "invalid_network",
            "webhook_allowed_networks.1",
        ),
        ({"webhook_allowed_networks": ["not a network"]}, "invalid_network", "webhook_allowed_networks.0"),
        ({"colour": "blue"}, "unknown_field", "colour"),
    ],
)
def test_invalid_settings_are_refused_with_their_path(
    client: TestClient, body: dict[str, Any], code: str, field: str
) -> None:
    # sent together with a valid change, which must not be written either
    refused(client.patch("/v1/settings", json={"legal_name": "Half Applied", **body}), code, field)
    assert client.get("/v1/settings").json() == DEFAULTS
    assert [e["action"] for e in tenant_audit(client)] == ["tenant.created"]


def test_rounding(client: TestClient) -> None:
    settings = patch(client, {"rounding_mode": "half_even", "tax_rounding": "per_invoice"})
    assert (settings["rounding_mode"], settings["tax_rounding"]) == ("half_even", "per_invoice")


@pytest.mark.parametrize(
    ("numbering", "example"),
    [
        ({"prefix": "INV-", "reset": "yearly", "digits": 5}, "INV-2026-00042"),
        ({"prefix": "RE/", "reset": "monthly", "digits": 4}, "RE/202601-0042"),
        ({"prefix": "", "reset": "never", "digits": 8}, "00000042"),
        ({"reset": "never"}, "INV-00042"),
    ],
)
def test_invoice_numbering_shows_an_example(
    client: TestClient, numbering: dict[str, Any], example: str
) -> None:
    settings = patch(client, {"invoice_numbering": numbering})
    expected = {"prefix": "INV-", "reset": "yearly", "digits": 5, **numbering, "example": example}
    assert settings["invoice_numbering"] == expected


def test_draft_grace_and_reporting_currency(client: TestClient) -> None:
    settings = patch(client, {"draft_grace_period_hours": 48, "reporting_currency": "USD"})
    assert (settings["draft_grace_period_hours"], settings["reporting_currency"]) == (48, "USD")
    # null: report in the default currency again
    assert patch(client, {"reporting_currency": None})["reporting_currency"] == "EUR"
    # without its own reporting currency, the reporting currency follows the default one
    assert patch(client, {"default_currency": "GBP"})["reporting_currency"] == "GBP"


def test_webhook_allowed_networks_are_canonical(client: TestClient) -> None:
    settings = patch(
        client, {"webhook_allowed_networks": ["127.0.0.0/8", " 10.1.0.0/16", "fc00::/7", "127.0.0.0/8"]}
    )
    assert settings["webhook_allowed_networks"] == ["127.0.0.0/8", "10.1.0.0/16", "fc00::/7"]
    assert patch(client, {"webhook_allowed_networks": []})["webhook_allowed_networks"] == []


def test_a_tenant_opens_only_networks_the_operator_permits(
    client: TestClient, ctx: ServiceContext, tenant: TenantAccess
) -> None:
    """Issue 3: the allow-list is capped by KASSA_WEBHOOK_PERMITTED_NETWORKS, so a tenant cannot aim its
    webhooks (and read the responses) at the operator's internal network or cloud metadata."""
    for networks, field in ((["0.0.0.0/0"], "webhook_allowed_networks.0"),
                            (["127.0.0.0/8", "169.254.0.0/16"], "webhook_allowed_networks.1"),
                            (["::/0"], "webhook_allowed_networks.0")):  # fmt: skip
        refused(
            client.patch("/v1/settings", json={"webhook_allowed_networks": networks}),
            "network_not_permitted",
            field,
        )
    assert patch(client, {"webhook_allowed_networks": ["127.0.0.0/8"]})["webhook_allowed_networks"] == [
        "127.0.0.0/8"
    ]
    # the operator narrows the ceiling later: what the tenant listed no longer opens anything
    ctx.settings = replace(ctx.settings, webhook_permitted_networks=())
    hook = client.post("/v1/webhook_endpoints", json={"url": "http://127.0.0.1:9/hook"})
    assert (hook.status_code, hook.json()["code"]) == (422, "invalid_webhook_url")
    refused(client.patch("/v1/settings", json={"webhook_allowed_networks": ["127.0.0.0/8"]}), "network_not_permitted",
            "webhook_allowed_networks.0")  # fmt: skip


def test_every_change_is_audited_with_exactly_the_changed_fields(
    client: TestClient, tenant: TenantAccess, clock: SettableClock
) -> None:
    clock.advance(timedelta(minutes=5))
    patch(
        client, {"legal_name": "Acme GmbH", "rounding_mode": "half_even", "locale": "en"}
    )  # locale unchanged
    clock.advance(timedelta(minutes=5))
    patch(client, {"bank": {"iban": "DE89 3704 0044 0532 0130 00"}, "invoice_numbering": {"digits": 6}})

    entries = tenant_audit(client)
    assert [e["action"] for e in entries] == ["settings.updated", "settings.updated", "tenant.created"]
    newest, first = entries[0], entries[1]
    assert {k: first[k] for k in ("at", "actor_type", "actor_id", "object_type", "object_id")} == {
        "at": "2026-01-01T09:05:00Z",
        "actor_type": "api_key",
        "actor_id": tenant.actor.id,
        "object_type": "tenant",
        "object_id": tenant.id,
    }
    assert first["changes"] == {
        "legal_name": {"before": None, "after": "Acme GmbH"},
        "rounding_mode": {"before": "half_up", "after": "half_even"},
    }
    assert newest["at"] == "2026-01-01T09:10:00Z"
    assert newest["changes"] == {
        "bank": {
            "before": None,
            "after": {
                "iban": "DE89370400440532013000",
                "bic": None,
                "account_holder": None,
                "bank_name": None,
            },
        },
        "invoice_numbering": {
            "before": {"prefix": "INV-", "reset": "yearly", "digits": 5},
            "after": {"prefix": "INV-", "reset": "yearly", "digits": 6},
        },
    }


def test_a_patch_that_changes_nothing_is_not_audited(client: TestClient) -> None:
    assert patch(client, {"rounding_mode": "half_up", "locale": "en"}) == DEFAULTS
    assert patch(client, {}) == DEFAULTS
    assert [e["action"] for e in tenant_audit(client)] == ["tenant.created"]
