"""Parties: ISO 3166 countries, email addresses, locale identifiers, IANA time zones, addresses."""

from __future__ import annotations

import zoneinfo
from typing import Any

import pytest
from babel import Locale

from kassa.core import parties
from kassa.core.errors import DomainError
from kassa.core.parties import COUNTRIES, Address

# CLDR territories with two letters that are not assigned ISO 3166-1 country codes: exceptionally
# reserved (AC, CP, CQ, DG, EA, EU, EZ, IC, TA, UN), private use (QO, XA, XB; XK is kept on purpose) and
# unknown (ZZ).
NOT_ASSIGNED = {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}


def _error(check: Any, value: object, field: str = "f") -> tuple[str, str | None]:
    with pytest.raises(DomainError) as caught:
        check(value, field)
    return caught.value.code, caught.value.field


# --- countries -----------------------------------------------------------------------------------------


def test_the_249_assigned_codes_and_kosovo() -> None:
    assert len(COUNTRIES) == 250
    assert len(COUNTRIES - {"XK"}) == 249
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in COUNTRIES)


def test_the_countries_agree_with_cldr() -> None:
    cldr = {code for code in Locale("en").territories if len(code) == 2 and code.isalpha()}
    assert cldr - NOT_ASSIGNED == COUNTRIES


@pytest.mark.parametrize("code", ["DE", "US", "XK", "SS", "BQ", "AQ", "VA", "TW", "PS"])
def test_assigned_countries_are_accepted(code: str) -> None:
    assert parties.country(code, "country") == code


@pytest.mark.parametrize("code", ["UK", "EU", "AN", "YU", "CS", "ZZ", "de", "DEU", "", "D", 276, None])
def test_unassigned_withdrawn_and_malformed_codes_are_refused(code: object) -> None:
    assert _error(parties.country, code, "address.country") == ("invalid_country", "address.country")


# --- emails --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "billing@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "user@xn--bcher-kva.example",
        "ünïcode@example.de",
        "a@b.co",
        f"{'l' * 64}@example.com",
        f"x@{'d' * 63}.com",
        f"{'l' * 64}@{'d' * 63}.{'e' * 63}.{'f' * 57}.com",  # 254 characters
    ],
)
def test_valid_emails(address: str) -> None:
    assert parties.email(address, "email") == address


@pytest.mark.parametrize(
    "address",
    [
        "plainaddress",
        "@example.com",
        "user@",
        "user@localhost",
        "two@@example.com",
        "with space@example.com",
        "user@-example.com",
        "user@example-.com",
        "user@exa_mple.com",
        "user@example..com",
        f"{'l' * 65}@example.com",
        f"x@{'d' * 64}.com",
        f"{'l' * 64}@{'d' * 63}.{'e' * 63}.{'f' * 58}.com",  # 255 characters
        "user@example.com\n",  # regression: `$` matched before a trailing newline
        "user@example.com\nBcc: victim@example.com",
        "",
        5,
        None,
    ],
)
def test_invalid_emails(address: object) -> None:
    assert _error(parties.email, address, "emails.3") == ("invalid_email", "emails.3")


# --- locales -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["en", "de_DE", "zh_Hant_TW", "sr_Latn", "es_419", "haw", "gsw_CH", "en_001"]
)
def test_locale_identifiers(code: str) -> None:
    assert parties.locale(code, "locale") == code


@pytest.mark.parametrize(
    "code",
    [
        "de-DE",
        "DE",
        "de_de",
        "english",
        "de_DE.UTF-8",
        "zh_hant_TW",
        "e",
        "engl",
        "de_DEU",
        "de_DE\n",
        "",
        5,
        None,
    ],
)
def test_not_locale_identifiers(code: object) -> None:
    assert _error(parties.locale, code, "locale") == ("invalid_locale", "locale")


# --- time zones ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "UTC",
        "Europe/Berlin",
        "America/Argentina/Buenos_Aires",
        "Asia/Kathmandu",
        "Etc/GMT+5",
        "Pacific/Chatham",
    ],
)
def test_iana_time_zones(name: str) -> None:
    assert parties.time_zone(name, "time_zone") == name


@pytest.mark.parametrize(
    "name", ["europe/berlin", "Europe/Atlantis", "UTC+1", "CEST", "", " UTC", 0, ["UTC"], None]
)
def test_not_iana_time_zones(name: object) -> None:
    assert _error(parties.time_zone, name, "time_zone") == ("invalid_time_zone", "time_zone")


def test_every_available_zone_is_accepted() -> None:
    zones = zoneinfo.available_timezones()
    assert len(zones) > 400
    assert [z for z in sorted(zones) if parties.time_zone(z, "tz") != z] == []


# --- addresses -----------------------------------------------------------------------------------------


def test_an_address_is_trimmed_and_blank_optionals_are_none() -> None:
    address = parties.address(
        {"line1": " Hauptstr. 1 ", "line2": "  ", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        "address",
    )
    assert address == Address(line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE")
    assert address.to_json() == {
        "line1": "Hauptstr. 1",
        "line2": None,
        "city": "Berlin",
        "postal_code": "10115",
        "state": None,
        "country": "DE",
    }
    assert Address(**address.to_json()) == address


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"city": "Berlin", "country": "DE"}, "required", "bill_to.line1"),
        ({"line1": "A", "country": "DE"}, "required", "bill_to.city"),
        ({"line1": "A", "city": "Berlin"}, "required", "bill_to.country"),
        ({"line1": "A", "city": " ", "country": "DE"}, "required", "bill_to.city"),
        ({"line1": "A", "city": "Berlin", "country": "de"}, "invalid_country", "bill_to.country"),
        ({"line1": "x" * 201, "city": "Berlin", "country": "DE"}, "invalid_text", "bill_to.line1"),
        ({"line1": 1, "city": "Berlin", "country": "DE"}, "invalid_text", "bill_to.line1"),
        ({"line1": "A", "city": "B", "country": "DE", "state": ["BE"]}, "invalid_text", "bill_to.state"),
        (
            {"line1": "A", "city": "B", "country": "DE", "zip": "1", "county": "x"},
            "unknown_field",
            "bill_to.county",
        ),
        ("Hauptstr. 1, Berlin", "invalid_address", "bill_to"),
        (["Hauptstr. 1"], "invalid_address", "bill_to"),
    ],
)
def test_invalid_addresses(data: object, code: str, field: str) -> None:
    assert _error(parties.address, data, "bill_to") == (code, field)


def test_two_hundred_characters_is_the_limit_of_each_line() -> None:
    address = parties.address({"line1": "x" * 200, "city": "y" * 200, "country": "FR"}, "address")
    assert (len(address.line1), len(address.city)) == (200, 200)
