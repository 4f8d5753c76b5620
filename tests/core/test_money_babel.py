"""Display through Babel: ISO 4217 decides the digits and kassa the rounding, Babel only the symbols."""

from __future__ import annotations

from decimal import Decimal

import iso4217
import pytest
from babel.numbers import format_currency, get_currency_precision

from kassa.core.errors import DomainError
from kassa.core.money import Money, currency, format_money

# Where Babel's (CLDR's) display digits differ from the ISO 4217 exponent: {code: (iso, babel)}.
# A change here means iso4217 or Babel updated their data: check that invoices still show ISO digits.
BABEL_DIFFERS_FROM_ISO = {
    "AFN": (2, 0),
    "ALL": (2, 0),
    "IQD": (3, 0),
    "IRR": (2, 0),
    "KPW": (2, 0),
    "LAK": (2, 0),
    "LBP": (2, 0),
    "MGA": (2, 0),
    "MMK": (2, 0),
    "RSD": (2, 0),
    "SOS": (2, 0),
    "SYP": (2, 0),
    "YER": (2, 0),
}

# ISO codes with no minor unit ("N.A."): funds, metals, test and no-currency codes, refused by kassa.
WITHOUT_MINOR_UNITS = set("XAG XAU XBA XBB XBC XBD XDR XPD XPT XSU XTS XUA XXX".split())


def test_babel_digits_differ_from_iso_exactly_here() -> None:
    differing = {
        entry.code: (entry.exponent, get_currency_precision(entry.code))
        for entry in iso4217.Currency
        if entry.exponent is not None and get_currency_precision(entry.code) != entry.exponent
    }
    assert differing == BABEL_DIFFERS_FROM_ISO


def test_codes_without_minor_units_are_exactly_these_and_refused() -> None:
    assert {entry.code for entry in iso4217.Currency if entry.exponent is None} == WITHOUT_MINOR_UNITS
    for code in WITHOUT_MINOR_UNITS:
        with pytest.raises(DomainError):
            currency(code)


@pytest.mark.parametrize(
    ("amount", "code", "locale", "text"),
    [
        ("1234.565", "EUR", "de_DE", "1.234,57\xa0€"),
        ("-1234.565", "EUR", "de_DE", "-1.234,57\xa0€"),
        ("1234.565", "EUR", "de-DE", "1.234,57\xa0€"),
        ("1234.565", "USD", "en_US", "$1,234.57"),
        ("-0.005", "USD", "en_US", "-$0.01"),
        ("1234.5", "JPY", "ja_JP", "￥1,235"),
        ("1234.5", "JPY", "en_US", "¥1,235"),
        ("1234.5", "RSD", "sr_RS", "1.234,50\xa0RSD"),
        ("1234.5675", "IQD", "en_US", "IQD1,234.568"),
        ("7.1", "ALL", "en_US", "ALL7.10"),
        ("1.23455", "CLF", "es_CL", "CLF1,2346"),
    ],
)
def test_format_money(amount: str, code: str, locale: str, text: str) -> None:
    assert format_money(Money(Decimal(amount), code), locale) == text


def test_babel_alone_would_change_these_amounts() -> None:
    """The reason format_money rounds first and overrides the digits: Babel's own output differs."""
    assert format_currency(Decimal("1234.565"), "EUR", locale="de_DE") == "1.234,56\xa0€"  # half-even
    assert format_currency(Decimal("1234.5"), "JPY", locale="ja_JP") == "￥1,234"
    assert format_currency(Decimal("1234.50"), "RSD", locale="sr_RS") == "1.234\xa0RSD"  # 0 digits
    assert format_currency(Decimal("1234.5675"), "IQD", locale="en_US") == "IQD1,235"


@pytest.mark.parametrize("code", sorted(BABEL_DIFFERS_FROM_ISO))
def test_every_differing_currency_shows_its_iso_digits(code: str) -> None:
    digits = currency(code).exponent
    shown = format_money(Money(Decimal("1234.5"), code), "en_US")
    assert shown.endswith("1,234.5" + "0" * (digits - 1)), shown


@pytest.mark.parametrize("locale", ["xx", "not a locale", ""])
def test_unknown_locale_is_refused(locale: str) -> None:
    with pytest.raises(DomainError) as caught:
        format_money(Money(Decimal(1), "EUR"), locale)
    assert (caught.value.code, caught.value.field) == ("unknown_locale", "locale")
