"""Money: exact amounts, named rounding, parsing, minor units and largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.errors import DomainError
from kassa.core.money import AMOUNT_PATTERN, Currency, Money, RoundingMode, currency

D = Decimal
EUR = "EUR"


def eur(text: str) -> Money:
    return Money(D(text), EUR)


def texts(parts: list[Money]) -> list[str]:
    return [part.amount_text() for part in parts]


def refused(code: str, call: object) -> DomainError:
    assert callable(call)
    with pytest.raises(DomainError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


# --- currencies -------------------------------------------------------------------------------------


def test_currency_lookup_from_the_iso_table() -> None:
    assert currency("EUR") == Currency("EUR", 2, "Euro")
    assert currency("JPY") == Currency("JPY", 0, "Yen")
    assert currency("BHD") == Currency("BHD", 3, "Bahraini Dinar")
    assert currency("KWD").exponent == 3
    assert currency("CLF") == Currency("CLF", 4, "Unidad de Fomento")
    assert currency("EUR") is currency("EUR")  # cached


@pytest.mark.parametrize("code", ["XYZ", "eur", "Eur", "EU", "EURO", "", " EUR", "EUR\n", "DEM", "FRF", 978])
def test_unknown_malformed_or_withdrawn_codes_are_refused(code: object) -> None:
    error = refused("unknown_currency", lambda: currency(code))  # type: ignore[arg-type]
    assert error.field == "currency"


@pytest.mark.parametrize("code", ["XAU", "XAG", "XDR", "XTS", "XXX", "XBA"])
def test_codes_without_minor_units_are_refused(code: str) -> None:
    error = refused("unknown_currency", lambda: currency(code))
    assert error.message == f"{code} has no minor unit in ISO 4217 and cannot be billed in."


def test_money_refuses_an_unknown_currency() -> None:
    error = refused("unknown_currency", lambda: Money(D(1), "eur"))
    assert error.field == "currency"


# --- construction and precision -------------------------------------------------------------------


def test_int_is_converted_to_decimal() -> None:
    money = Money(5, EUR)  # type: ignore[arg-type]
    assert type(money.amount) is Decimal
    assert money.amount == 5
    assert str(money) == "5.00 EUR"


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (1.5, "float_amount"),
        ("12.34", "invalid_amount"),
        (True, "invalid_amount"),
        (None, "invalid_amount"),
        (D("NaN"), "invalid_amount"),
        (D("sNaN"), "invalid_amount"),
        (D("Infinity"), "invalid_amount"),
        (D("-Infinity"), "invalid_amount"),
        (D("0.1234567890123"), "too_many_decimals"),
        (D("1E-13"), "too_many_decimals"),
    ],
)
def test_construction_refuses(amount: object, code: str) -> None:
    error = refused(code, lambda: Money(amount, EUR))  # type: ignore[arg-type]
    assert error.field == "amount"


def test_a_str_amount_points_to_parse() -> None:
    error = refused("invalid_amount", lambda: Money("1", EUR))  # type: ignore[arg-type]
    assert error.message == "Need a Decimal or an int, not str (use Money.parse for text)."


def test_twelve_decimals_are_kept_and_zeros_beyond_are_value_free() -> None:
    assert eur("0.123456789012").amount_text() == "0.123456789012"
    padded = Money(D("1.00000000000000"), EUR)
    assert padded == eur("1")
    assert padded.amount.as_tuple().exponent == -12


def test_negative_zero_is_plain_zero() -> None:
    assert str(eur("-0.00")) == "0.00 EUR"
    assert eur("-0.001").round(RoundingMode.HALF_UP).amount_text() == "0.00"


def test_equality_is_by_value_and_hash_consistent() -> None:
    assert eur("1.0") == eur("1.00")
    assert hash(eur("1.0")) == hash(eur("1.00"))
    assert len({eur("1.0"), eur("1.00"), eur("1")}) == 1
    assert Money(D(1), "USD") != eur("1")
    assert (Money(D(1), "USD") == eur("1")) is False


# --- rounding ---------------------------------------------------------------------------------------

MODES = list(RoundingMode)
# amount, currency, expected for: half_up half_even half_down up down ceiling floor
ROUNDING_TABLE = [
    ("2.665", EUR, "2.67 2.66 2.66 2.67 2.66 2.67 2.66"),
    ("2.675", EUR, "2.68 2.68 2.67 2.68 2.67 2.68 2.67"),
    ("-2.665", EUR, "-2.67 -2.66 -2.66 -2.67 -2.66 -2.66 -2.67"),
    ("-2.675", EUR, "-2.68 -2.68 -2.67 -2.68 -2.67 -2.67 -2.68"),
    ("2.661", EUR, "2.66 2.66 2.66 2.67 2.66 2.67 2.66"),
    ("-2.661", EUR, "-2.66 -2.66 -2.66 -2.67 -2.66 -2.66 -2.67"),
    ("0.5", "JPY", "1 0 0 1 0 1 0"),
    ("-0.5", "JPY", "-1 0 0 -1 0 0 -1"),
    ("1.5", "JPY", "2 2 1 2 1 2 1"),
    ("2.6665", "BHD", "2.667 2.666 2.666 2.667 2.666 2.667 2.666"),
    ("-1.0005", "KWD", "-1.001 -1.000 -1.000 -1.001 -1.000 -1.000 -1.001"),
    ("1.23445", "CLF", "1.2345 1.2344 1.2344 1.2345 1.2344 1.2345 1.2344"),
    ("12.3", EUR, "12.30 12.30 12.30 12.30 12.30 12.30 12.30"),
]


@pytest.mark.parametrize(("amount", "code", "expected"), ROUNDING_TABLE)
def test_rounding_in_every_mode(amount: str, code: str, expected: str) -> None:
    assert MODES == ["half_up", "half_even", "half_down", "up", "down", "ceiling", "floor"]
    money = Money(D(amount), code)
    assert [money.round(mode).amount_text() for mode in MODES] == expected.split()


def test_default_rounding_is_half_up_unlike_python() -> None:
    assert round(D("2.665"), 2) == D("2.66")  # the trap: Python rounds half-even
    assert eur("2.665").round() == eur("2.67")
    assert eur("2.665").round("half_even") == eur("2.66")  # type: ignore[arg-type]


def test_an_unknown_rounding_mode_is_refused() -> None:
    refused("invalid_rounding_mode", lambda: eur("1").round("bankers"))  # type: ignore[arg-type]


def test_is_rounded() -> None:
    assert eur("12.30").is_rounded
    assert eur("12.300").is_rounded
    assert not eur("12.301").is_rounded
    assert Money(D("1.2E+3"), "JPY").is_rounded
    assert not Money(D("0.5"), "JPY").is_rounded


# --- parse and text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12.34", "12.34"),
        ("-0.5", "-0.5"),
        ("1000", "1000"),
        ("0.123456789012", "0.123456789012"),
        ("007.50", "7.5"),
        ("-0", "0"),
    ],
)
def test_parse_accepts(text: str, amount: str) -> None:
    assert Money.parse(text, EUR) == eur(amount)


@pytest.mark.parametrize(
    "text",
    ["1e3", "1E3", "1,000", "1 000", "1_000", " 12.34", "12.34 ", "12.34\n", "+1", ".5", "5.", "", "--1",
     "NaN", "Infinity", "١٢", "12,34"],
)  # fmt: skip
def test_parse_refuses_other_spellings(text: str) -> None:
    error = refused("invalid_amount", lambda: Money.parse(text, EUR, field="lines.0.amount"))
    assert error.field == "lines.0.amount"


def test_parse_refuses_more_than_twelve_decimals() -> None:
    error = refused("too_many_decimals", lambda: Money.parse("12.3456789012345", EUR, field="price"))
    assert (error.field, error.message) == ("price", "An amount has at most 12 decimals.")
    refused("too_many_decimals", lambda: Money.parse("1.0000000000000", EUR))  # the text rule counts digits


@pytest.mark.parametrize(
    ("value", "code"), [(12.34, "float_amount"), (12, "invalid_amount"), (D("12.34"), "invalid_amount")]
)
def test_parse_refuses_non_text(value: object, code: str) -> None:
    error = refused(code, lambda: Money.parse(value, EUR, field="amount_due"))  # type: ignore[arg-type]
    assert error.field == "amount_due"


def test_parse_refuses_unknown_currency() -> None:
    refused("unknown_currency", lambda: Money.parse("1.00", "XYZ"))


def test_amount_pattern_is_the_parse_grammar() -> None:
    assert AMOUNT_PATTERN == r"^-?[0-9]+(\.[0-9]+)?$"


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (eur("12.3"), "12.30"),
        (eur("12.300"), "12.30"),
        (eur("0.123456789012"), "0.123456789012"),
        (eur("0.1230"), "0.123"),
        (Money(D("1.2E+3"), "JPY"), "1200"),
        (Money(D("1200.50"), "JPY"), "1200.5"),
        (Money(D("1"), "BHD"), "1.000"),
        (eur("12345678901234567890.12"), "12345678901234567890.12"),
        (eur("-5"), "-5.00"),
    ],
)
def test_amount_text_is_canonical(money: Money, text: str) -> None:
    assert money.amount_text() == text
    assert str(money) == f"{text} {money.currency}"


# --- minor units --------------------------------------------------------------------------------------


def test_minor_units_round_trip() -> None:
    assert eur("12.34").to_minor_units() == 1234
    assert eur("-0.05").to_minor_units() == -5
    assert eur("12.300").to_minor_units() == 1230
    assert Money(D(1200), "JPY").to_minor_units() == 1200
    assert Money(D("1.005"), "BHD").to_minor_units() == 1005
    assert Money(D("1.2345"), "CLF").to_minor_units() == 12345
    assert Money.from_minor_units(1234, EUR).amount_text() == "12.34"
    assert Money.from_minor_units(-5, "BHD").amount_text() == "-0.005"
    assert Money.from_minor_units(1200, "JPY") == Money(D(1200), "JPY")
    assert Money.from_minor_units(12345, "CLF").amount_text() == "1.2345"


def test_minor_units_refusals() -> None:
    error = refused("not_rounded", lambda: eur("12.345").to_minor_units())
    assert error.message == "12.345 EUR is not rounded to 2 decimals; call round(mode) first."
    refused("float_amount", lambda: Money.from_minor_units(1.0, EUR))  # type: ignore[arg-type]
    refused("invalid_amount", lambda: Money.from_minor_units(True, EUR))
    refused("invalid_amount", lambda: Money.from_minor_units(D(5), EUR))  # type: ignore[arg-type]


def test_zero() -> None:
    assert Money.zero(EUR).amount_text() == "0.00"
    assert Money.zero("JPY").amount_text() == "0"
    assert Money.zero("BHD").amount_text() == "0.000"
    assert Money.zero(EUR) == eur("0")


# --- arithmetic --------------------------------------------------------------------------------------


def test_arithmetic_is_exact() -> None:
    assert eur("0.1") + eur("0.2") == eur("0.3")
    assert eur("10.00") - eur("0.01") == eur("9.99")
    assert -eur("1.50") == eur("-1.50")
    assert abs(eur("-1.50")) == eur("1.50")
    assert eur("1.50") * 3 == eur("4.50")
    assert 3 * eur("1.50") == eur("4.50")
    assert eur("0.10") * D("0.5") == eur("0.05")
    big = eur("99999999999999999999999999.999999999999")
    assert (big + eur("0.000000000001")).amount_text() == "100000000000000000000000000.00"


def test_sum_starts_from_int_zero_only() -> None:
    assert sum([eur("1.10"), eur("2.20"), eur("3.30")]) == eur("6.60")
    with pytest.raises(TypeError):
        1 + eur("1")
    with pytest.raises(TypeError):
        False + eur("1")
    with pytest.raises(TypeError):
        eur("1") + 0  # type: ignore[operator]


@pytest.mark.parametrize(
    ("operation", "verb"),
    [
        (lambda a, b: a + b, "add"),
        (lambda a, b: a - b, "subtract"),
        (lambda a, b: a < b, "compare"),
        (lambda a, b: a <= b, "compare"),
        (lambda a, b: a > b, "compare"),
        (lambda a, b: a >= b, "compare"),
    ],
)
def test_mixed_currencies_are_refused(operation: object, verb: str) -> None:
    assert callable(operation)
    error = refused("currency_mismatch", lambda: operation(eur("1"), Money(D(1), "USD")))
    assert error.message == f"Cannot {verb} EUR and USD amounts."


def test_comparisons() -> None:
    assert eur("1.00") < eur("1.01") <= eur("1.010") < eur("2")
    assert eur("2") > eur("-2") >= eur("-2.00")
    assert max([eur("1"), eur("3"), eur("2")]) == eur("3")
    with pytest.raises(TypeError):
        eur("1") < 2  # type: ignore[operator]  # noqa: B015


def test_multiplication_refusals() -> None:
    refused("float_amount", lambda: eur("1") * 1.5)  # type: ignore[operator]
    refused("invalid_amount", lambda: eur("1") * True)
    refused("invalid_amount", lambda: eur("1") * D("NaN"))
    with pytest.raises(TypeError):
        eur("1") * eur("1")  # type: ignore[operator]
    refused("too_many_decimals", lambda: eur("0.123456789011") * D("0.5"))
    assert eur("0.123456789012") * D("0.5") == eur("0.061728394506")  # 13 places, 12 significant


def test_multiply_rounds_the_exact_product_once() -> None:
    # 0.009999999999 x 0.5 = 0.0049999999995: rounding to 12 places first would make it 0.01.
    assert eur("0.009999999999").multiply(D("0.5")) == eur("0.00")
    assert eur("0.123456789012").multiply(D("1.5"), RoundingMode.UP) == eur("0.19")
    assert Money(D("0.5"), "JPY").multiply(3, RoundingMode.HALF_EVEN) == Money(D(2), "JPY")


# --- allocation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "ratios", "parts"),
    [
        ("100.00", [1, 1, 1], ["33.34", "33.33", "33.33"]),
        # 5 cents: exact shares 1.5 and 3.5; floors 1 + 3 leave 1 cent; equal remainders: the earlier part.
        ("0.05", [3, 7], ["0.02", "0.03"]),
        ("0.05", [7, 3], ["0.04", "0.01"]),
        # 10 cents: shares 1.43, 2.86, 5.71; floors 1 + 2 + 5 leave 2 for the two largest remainders.
        ("0.10", [1, 2, 4], ["0.01", "0.03", "0.06"]),
        ("100.00", [D("0.5"), D("0.25"), D("0.25")], ["50.00", "25.00", "25.00"]),
        ("10.00", [1, 0, 1], ["5.00", "0.00", "5.00"]),
        ("0.01", [0, 1], ["0.00", "0.01"]),
        ("0.01", [1, 1, 1], ["0.01", "0.00", "0.00"]),
        ("-0.05", [3, 7], ["-0.02", "-0.03"]),
        ("12.30", [1], ["12.30"]),
    ],
)
def test_allocate_worked_examples(amount: str, ratios: list[Decimal | int], parts: list[str]) -> None:
    assert texts(eur(amount).allocate(ratios)) == parts


def test_split_worked_examples() -> None:
    assert texts(eur("-10.00").split(3)) == ["-3.34", "-3.33", "-3.33"]
    assert texts(Money(D(100), "JPY").split(3)) == ["34", "33", "33"]
    assert texts(Money(D(1000), "JPY").split(7)) == ["143", "143", "143", "143", "143", "143", "142"]
    assert texts(Money(D("1.000"), "KWD").split(3)) == ["0.334", "0.333", "0.333"]
    assert texts(eur("0").split(2)) == ["0.00", "0.00"]


@pytest.mark.parametrize(
    ("ratios", "code", "field"),
    [
        ([], "invalid_ratios", "ratios"),
        ([0, 0], "invalid_ratios", "ratios"),
        ([-1, 2], "invalid_ratios", "ratios"),
        ([1, D("NaN")], "invalid_ratios", "ratios.1"),
        (["1"], "invalid_ratios", "ratios.0"),
        ([1.5], "float_amount", "ratios.0"),
        ("11", "invalid_ratios", "ratios"),
    ],
)
def test_allocate_refuses_bad_ratios(ratios: object, code: str, field: str) -> None:
    error = refused(code, lambda: eur("1.00").allocate(ratios))  # type: ignore[arg-type]
    assert error.field == field


def test_allocate_and_split_refuse_unrounded_and_bad_n() -> None:
    refused("not_rounded", lambda: eur("1.005").allocate([1, 1]))
    refused("not_rounded", lambda: eur("1.005").split(2))
    for n in (0, -1, True, 2.0):
        refused("invalid_ratios", lambda n=n: eur("1").split(n))


# --- properties ---------------------------------------------------------------------------------------

CODES = st.sampled_from(["EUR", "JPY", "BHD", "CLF", "USD"])


@st.composite
def rounded_money(draw: st.DrawFn) -> Money:
    return Money.from_minor_units(draw(st.integers(-(10**15), 10**15)), draw(CODES))


@st.composite
def any_money(draw: st.DrawFn) -> Money:
    places = draw(st.integers(0, 12))
    return Money(Decimal(draw(st.integers(-(10**20), 10**20))).scaleb(-places), draw(CODES))


ratio = st.integers(0, 1000) | st.decimals(min_value=0, max_value=1000, places=3)


@given(rounded_money(), st.lists(ratio, min_size=1, max_size=12).filter(lambda rs: sum(rs) > 0))
def test_allocation_loses_no_minor_unit(money: Money, ratios: list[Decimal | int]) -> None:
    parts = money.allocate(ratios)
    assert len(parts) == len(ratios)
    assert sum(parts) == money
    whole = money.to_minor_units()
    total = sum(Fraction(r) for r in ratios)
    for part, r in zip(parts, ratios, strict=True):
        exact = whole * Fraction(r) / total
        assert abs(part.to_minor_units() - exact) < 1
        assert part.to_minor_units() * whole >= 0  # same sign as the whole, or zero


@given(rounded_money(), st.integers(1, 50))
def test_split_parts_differ_by_at_most_one_unit(money: Money, n: int) -> None:
    units = [part.to_minor_units() for part in money.split(n)]
    assert sum(units) == money.to_minor_units()
    assert max(units) - min(units) <= 1
    assert [abs(u) for u in units] == sorted((abs(u) for u in units), reverse=True)


@given(st.data())
def test_addition_is_associative_and_commutative(data: st.DataObject) -> None:
    code = data.draw(CODES)
    a, b, c = (Money(data.draw(any_money()).amount, code) for _ in range(3))
    assert (a + b) + c == a + (b + c)
    assert a + b == b + a
    assert a - a == Money.zero(code)
    assert a + b - b == a


@given(any_money(), st.sampled_from(MODES))
def test_round_is_idempotent_and_close(money: Money, mode: RoundingMode) -> None:
    rounded = money.round(mode)
    assert rounded.is_rounded
    assert rounded.round(mode) == rounded
    assert abs(rounded - money) < Money.from_minor_units(1, money.currency)


@given(any_money())
def test_amount_text_parses_back_to_the_same_money(money: Money) -> None:
    text = money.amount_text()
    assert "E" not in text
    assert Money.parse(text, money.currency) == money
    assert Money.parse(text, money.currency).amount_text() == text
