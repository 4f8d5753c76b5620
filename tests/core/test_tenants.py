"""Tenant settings: every field's rule with its error code and field path, and invoice numbers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from kassa.core.errors import DomainError
from kassa.core.money import RoundingMode
from kassa.core.parties import Address
from kassa.core.tax_ids import TaxId
from kassa.core.tenants import (
    BankDetails,
    InvoiceNumbering,
    NumberReset,
    TaxRounding,
    TenantSettings,
    apply_settings,
    settings_from_json,
)

DEFAULTS = TenantSettings()


def _error(patch: dict[str, Any], current: TenantSettings = DEFAULTS) -> tuple[str, str | None]:
    with pytest.raises(DomainError) as caught:
        apply_settings(current, patch)
    return caught.value.code, caught.value.field


# --- invoice numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numbering", "expected"),
    [
        (InvoiceNumbering(prefix="INV-", reset=NumberReset.YEARLY, digits=5), "INV-2026-00042"),
        (InvoiceNumbering(prefix="INV-", reset=NumberReset.MONTHLY, digits=5), "INV-202603-00042"),
        (InvoiceNumbering(prefix="INV-", reset=NumberReset.NEVER, digits=5), "INV-00042"),
        (InvoiceNumbering(), "INV-2026-00042"),
        (InvoiceNumbering(prefix="", reset=NumberReset.NEVER, digits=3), "042"),
        (InvoiceNumbering(prefix="RE/", reset=NumberReset.MONTHLY, digits=12), "RE/202603-000000000042"),
    ],
)
def test_invoice_number_format(numbering: InvoiceNumbering, expected: str) -> None:
    assert numbering.format(42, 2026, 3) == expected


def test_invoice_numbers_widen_rather_than_wrap() -> None:
    numbering = InvoiceNumbering(digits=3)
    assert numbering.format(999, 2026, 12) == "INV-2026-999"
    assert numbering.format(1000, 2026, 12) == "INV-2026-1000"
    assert InvoiceNumbering(reset=NumberReset.MONTHLY).format(1, 2027, 11) == "INV-202711-00001"


# --- settings ------------------------------------------------------------------------------------------


def test_the_defaults() -> None:
    assert DEFAULTS.to_json() == {
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
        "invoice_numbering": {"prefix": "INV-", "reset": "yearly", "digits": 5},
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


def test_every_field_applied() -> None:
    vat = TaxId(type="eu_vat", value="DE123456789", country="DE")
    bank = BankDetails(iban="DE89370400440532013000", bic="COBADEFFXXX")
    settings = apply_settings(
        DEFAULTS,
        {
            "legal_name": "  Acme GmbH ",
            "address": {"line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"},
            "tax_ids": (vat,),
            "bank": bank,
            "default_currency": "CHF",
            "locale": "de_CH",
            "time_zone": "Europe/Zurich",
            "rounding_mode": "half_even",
            "tax_rounding": "per_invoice",
            "invoice_numbering": {"prefix": "RE-", "reset": "monthly", "digits": 6},
            "draft_grace_period_hours": 720,
            "reporting_currency": "EUR",
            "webhook_allowed_networks": ["10.0.0.0/8", " fc00::/7", "10.0.0.0/8", "192.0.2.7"],
        },
    )
    assert settings == TenantSettings(
        legal_name="Acme GmbH",
        address=Address(line1="Hauptstr. 1", city="Berlin", country="DE"),
        tax_ids=(vat,),
        bank=bank,
        default_currency="CHF",
        locale="de_CH",
        time_zone="Europe/Zurich",
        rounding_mode=RoundingMode.HALF_EVEN,
        tax_rounding=TaxRounding.PER_INVOICE,
        invoice_numbering=InvoiceNumbering(prefix="RE-", reset=NumberReset.MONTHLY, digits=6),
        draft_grace_period_hours=720,
        reporting_currency="EUR",
        webhook_allowed_networks=("10.0.0.0/8", "fc00::/7", "192.0.2.7/32"),
    )
    assert settings_from_json(settings.to_json()) == settings


@pytest.mark.parametrize(
    ("patch", "code", "field"),
    [
        ({"colour": "red", "brand": "x"}, "unknown_field", "brand"),
        ({"legal_name": ""}, "invalid_text", "legal_name"),
        ({"legal_name": "   "}, "invalid_text", "legal_name"),
        ({"legal_name": "x" * 201}, "invalid_text", "legal_name"),
        ({"legal_name": 5}, "invalid_text", "legal_name"),
        ({"address": {"line1": "A", "city": "B", "country": "ZZ"}}, "invalid_country", "address.country"),
        ({"address": {"city": "B", "country": "DE"}}, "required", "address.line1"),
        ({"address": ["Hauptstr. 1"]}, "invalid_address", "address"),
        ({"default_currency": "chf"}, "unknown_currency", "default_currency"),
        ({"default_currency": None}, "unknown_currency", "default_currency"),
        ({"default_currency": "XXX"}, "unknown_currency", "default_currency"),
        ({"reporting_currency": "US"}, "unknown_currency", "reporting_currency"),
        ({"reporting_currency": 840}, "unknown_currency", "reporting_currency"),
        ({"locale": "de-DE"}, "invalid_locale", "locale"),
        ({"locale": "de_DE\n"}, "invalid_locale", "locale"),
        ({"time_zone": "Mars/Olympus_Mons"}, "invalid_time_zone", "time_zone"),
        ({"time_zone": ["UTC"]}, "invalid_time_zone", "time_zone"),
        ({"rounding_mode": "bankers"}, "invalid_choice", "rounding_mode"),
        ({"rounding_mode": "HALF_UP"}, "invalid_choice", "rounding_mode"),
        ({"tax_rounding": "per_item"}, "invalid_choice", "tax_rounding"),
        ({"invoice_numbering": "INV-"}, "invalid_numbering", "invoice_numbering"),
        ({"invoice_numbering": {"prefix": "x" * 21}}, "invalid_numbering", "invoice_numbering.prefix"),
        ({"invoice_numbering": {"prefix": "INV 1"}}, "invalid_numbering", "invoice_numbering.prefix"),
        ({"invoice_numbering": {"prefix": 7}}, "invalid_numbering", "invoice_numbering.prefix"),
        ({"invoice_numbering": {"digits": 2}}, "invalid_numbering", "invoice_numbering.digits"),
        ({"invoice_numbering": {"digits": 13}}, "invalid_numbering", "invoice_numbering.digits"),
        ({"invoice_numbering": {"digits": True}}, "invalid_numbering", "invoice_numbering.digits"),
        ({"invoice_numbering": {"digits": "5"}}, "invalid_numbering", "invoice_numbering.digits"),
        ({"invoice_numbering": {"reset": "weekly"}}, "invalid_choice", "invoice_numbering.reset"),
        ({"invoice_numbering": {"start": 1000}}, "unknown_field", "invoice_numbering.start"),
        ({"draft_grace_period_hours": 721}, "invalid_grace_period", "draft_grace_period_hours"),
        ({"draft_grace_period_hours": -1}, "invalid_grace_period", "draft_grace_period_hours"),
        ({"draft_grace_period_hours": True}, "invalid_grace_period", "draft_grace_period_hours"),
        ({"draft_grace_period_hours": "24"}, "invalid_grace_period", "draft_grace_period_hours"),
        ({"webhook_allowed_networks": "10.0.0.0/8"}, "invalid_network", "webhook_allowed_networks"),
        (
            {"webhook_allowed_networks": ["10.0.0.0/8", "10.0.0.1/8"]},
            "invalid_network",
            "webhook_allowed_networks.1",
        ),
        ({"webhook_allowed_networks": [10]}, "invalid_network", "webhook_allowed_networks.0"),
    ],
)
def test_invalid_settings_are_refused_with_code_and_field(
    patch: dict[str, Any], code: str, field: str
) -> None:
    assert _error(patch) == (code, field)


@pytest.mark.parametrize(
    ("patch", "field", "value"),
    [
        ({"legal_name": None}, "legal_name", None),
        ({"legal_name": "x" * 200}, "legal_name", "x" * 200),
        ({"address": None}, "address", None),
        ({"reporting_currency": None}, "reporting_currency", None),
        ({"draft_grace_period_hours": 0}, "draft_grace_period_hours", 0),
        ({"webhook_allowed_networks": []}, "webhook_allowed_networks", ()),
        ({"invoice_numbering": {}}, "invoice_numbering", InvoiceNumbering()),
        ({"invoice_numbering": {"digits": 3}}, "invoice_numbering", InvoiceNumbering(digits=3)),
        ({"invoice_numbering": {"digits": 12}}, "invoice_numbering", InvoiceNumbering(digits=12)),
        ({"invoice_numbering": {"prefix": ""}}, "invoice_numbering", InvoiceNumbering(prefix="")),
        (
            {"invoice_numbering": {"prefix": "A-B/C_D.E"}},
            "invoice_numbering",
            InvoiceNumbering(prefix="A-B/C_D.E"),
        ),
        (
            {"invoice_numbering": {"reset": "never"}},
            "invoice_numbering",
            InvoiceNumbering(reset=NumberReset.NEVER),
        ),
        ({"rounding_mode": "floor"}, "rounding_mode", RoundingMode.FLOOR),
    ],
)
def test_boundary_settings_are_accepted(patch: dict[str, Any], field: str, value: object) -> None:
    assert getattr(apply_settings(DEFAULTS, patch), field) == value


def test_a_reporting_currency_equal_to_the_default_means_none() -> None:
    assert apply_settings(DEFAULTS, {"reporting_currency": "EUR"}).reporting_currency is None
    usd = apply_settings(DEFAULTS, {"reporting_currency": "USD"})
    assert usd.reporting_currency == "USD"
    assert usd.to_json()["reporting_currency"] == "USD"
    assert apply_settings(usd, {"default_currency": "USD"}).reporting_currency is None
    assert apply_settings(DEFAULTS, {"default_currency": "GBP"}).to_json()["reporting_currency"] == "GBP"


def test_a_patch_replaces_invoice_numbering_whole() -> None:
    current = apply_settings(DEFAULTS, {"invoice_numbering": {"prefix": "RE-", "digits": 8}})
    patched = apply_settings(current, {"invoice_numbering": {"reset": "monthly"}})
    assert patched.invoice_numbering == InvoiceNumbering(prefix="INV-", reset=NumberReset.MONTHLY, digits=5)


def test_a_refused_patch_changes_nothing() -> None:
    current = apply_settings(DEFAULTS, {"legal_name": "Acme"})
    assert _error({"legal_name": "Acme 2", "draft_grace_period_hours": 1000}, current) == (
        "invalid_grace_period",
        "draft_grace_period_hours",
    )
    assert current == replace(DEFAULTS, legal_name="Acme")


def test_settings_read_from_an_older_document_take_the_defaults() -> None:
    assert settings_from_json({}) == DEFAULTS
    assert settings_from_json({"invoice_numbering": {"digits": 7}}).invoice_numbering == InvoiceNumbering(
        digits=7
    )


def test_an_unset_reporting_currency_still_follows_the_default_after_a_save_and_load() -> None:
    """Regression: to_json() writes the effective reporting currency, and reading it back used to pin
    it, so changing the default currency later left reporting in the old one."""
    stored = settings_from_json(DEFAULTS.to_json())
    assert stored == DEFAULTS
    assert apply_settings(stored, {"default_currency": "USD"}).to_json()["reporting_currency"] == "USD"
    chf = settings_from_json(apply_settings(DEFAULTS, {"reporting_currency": "CHF"}).to_json())
    assert apply_settings(chf, {"default_currency": "USD"}).to_json()["reporting_currency"] == "CHF"
