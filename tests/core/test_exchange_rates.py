"""Exchange rates for multi-currency reports: the ECB's reference rate files (daily and history) and a
generic CSV read exactly, refused with the line at fault; the rate book converts at the latest rate on or
before a day (a weekend takes Friday's), inverts and crosses through the base exactly, and says when it
has no rate. The files below are written in the ECB's own layout (spaces and a trailing comma in the daily
file; ISO dates, N/A and a trailing comma in the history, withdrawn currencies in their old columns)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import pytest

from kassa.core.errors import DomainError
from kassa.core.exchange_rates import (
    ExchangeRate,
    RateBook,
    RatesFormat,
    parse_ecb_csv,
    parse_rates_csv,
    parse_rates_file,
)
from kassa.core.money import Money, RoundingMode
from kassa.core.reports import RateUsed

D = Decimal
FRI, SAT, SUN, MON = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22), date(2026, 11, 23)

# eurofxref.csv as the ECB publishes it (inside eurofxref.zip): one header, one row, ", " between cells,
# a trailing ", " on both lines.
DAILY = (
    "Date, USD, JPY, BGN, CZK, DKK, GBP, HUF, PLN, RON, SEK, CHF, ISK, NOK, TRY, AUD, BRL, CAD, CNY, HKD, IDR, "
    "ILS, INR, KRW, MXN, MYR, NZD, PHP, SGD, THB, ZAR, \n"
    "20 November 2026, 1.0850, 161.64, 1.9558, 24.315, 7.4601, 0.85000, 388.15, 4.2278, 5.0812, 10.9875, "
    "0.9300, 145.10, 11.7345, 45.1234, 1.6512, 6.1845, 1.5123, 7.8123, 8.4456, 17081.65, 4.0123, 91.6545, "
    "1520.12, 21.3456, 4.8123, 1.8456, 63.123, 1.4511, 37.123, 19.8765, \n"
)

# eurofxref-hist.csv: newest day first, ISO dates, N/A where there is no rate, withdrawn currencies (CYP,
# EEK, HRK...) still in their columns, a trailing comma on every line.
HISTORY = (
    "Date,USD,JPY,BGN,CYP,CZK,DKK,EEK,GBP,HUF,LTL,LVL,MTL,PLN,ROL,RON,SEK,SIT,SKK,CHF,ISK,NOK,HRK,RUB,TRL,TRY,\n"
    "2026-11-20,1.085,161.64,N/A,N/A,24.315,7.4601,N/A,0.85,388.15,N/A,N/A,N/A,4.2278,N/A,5.0812,10.9875,N/A,"
    "N/A,0.93,145.1,11.7345,N/A,N/A,N/A,45.1234,\n"
    "2026-11-19,1.0832,160.9,N/A,N/A,24.3,7.4599,N/A,0.8488,387.5,N/A,N/A,N/A,4.22,N/A,5.08,10.98,N/A,"
    "N/A,0.9311,145.3,11.72,N/A,N/A,N/A,45.01,\n"
    "2022-02-28,1.124,129.27,1.9558,N/A,24.65,7.4401,N/A,0.8379,369.5,N/A,N/A,N/A,4.7451,N/A,4.9491,10.6093,N/A,"
    "N/A,1.0336,141.9,9.9233,7.5383,117.247,N/A,15.5622,\n"
    "1999-01-04,1.1789,133.73,N/A,0.58231,35.107,7.4501,15.6466,0.7111,251.48,N/A,0.6668,0.4419,4.0712,"
    "1.3111,N/A,9.4696,189.045,42.991,1.6168,N/A,8.855,N/A,25.2156,327.2,N/A,\n"
)

GENERIC = "date,base,currency,rate\n2026-11-20,USD,CAD,1.3937\n2026-11-20,USD,MXN,19.6734\n2026-11-19,USD,CAD,1.39\n"


def rate(base: str, currency: str, day: date, value: str) -> ExchangeRate:
    return ExchangeRate(base=base, currency=currency, day=day, rate=D(value))


def money(amount: str, currency: str) -> Money:
    return Money(D(amount), currency)


@pytest.fixture
def book() -> RateBook:
    """Friday's ECB rates (none on the weekend), Thursday's for USD and GBP, and Monday's USD."""
    return RateBook([
        rate("EUR", "USD", FRI, "1.0850"), rate("EUR", "GBP", FRI, "0.8500"), rate("EUR", "JPY", FRI, "200"),
        rate("EUR", "USD", FRI - timedelta(days=1), "1.0832"), rate("EUR", "GBP", FRI - timedelta(days=1), "0.8488"),
        rate("EUR", "USD", MON, "1.0900"),
    ])  # fmt: skip


# ---- the ECB files -------------------------------------------------------------------------------------


def test_the_daily_file_gives_every_currency_on_its_day_with_the_text_date_read() -> None:
    """eurofxref.csv: `20 November 2026` is read as 2026-11-20, every rate exactly as written (1.0850 keeps its
    digits), the trailing comma adds no column; BGN (withdrawn from ISO 4217 when Bulgaria took the euro) is
    skipped, not refused."""
    found = parse_rates_file(DAILY)
    assert found.format is RatesFormat.ECB_DAILY
    assert found.skipped_currencies == ("BGN",)
    assert len(found.rates) == 29 and found.days == (FRI,) and found.bases == ("EUR",)
    by_code = {r.currency: r for r in found.rates}
    assert by_code["USD"] == rate("EUR", "USD", FRI, "1.0850")
    assert str(by_code["USD"].rate) == "1.0850"
    assert (by_code["JPY"].rate, by_code["GBP"].rate, by_code["IDR"].rate) == (
        D("161.64"),
        D("0.85000"),
        D("17081.65"),
    )
    assert by_code["ZAR"].rate == D("19.8765")


def test_the_history_file_skips_na_cells_and_withdrawn_currencies() -> None:
    """eurofxref-hist.csv: one rate per cell that is not N/A; the columns of currencies ISO 4217 withdrew
    (CYP, EEK, HRK, LTL, ...) are skipped, so 1999's CYP rate is not imported while its USD rate is."""
    found = parse_ecb_csv(HISTORY)
    assert found.format is RatesFormat.ECB_HISTORY
    assert found.skipped_currencies == (
        "BGN",
        "CYP",
        "EEK",
        "HRK",
        "LTL",
        "LVL",
        "MTL",
        "ROL",
        "SIT",
        "SKK",
        "TRL",
    )
    assert found.days == (date(1999, 1, 4), date(2022, 2, 28), date(2026, 11, 19), FRI)
    on = {(r.currency, r.day): r.rate for r in found.rates}
    assert on[("USD", date(1999, 1, 4))] == D("1.1789")
    assert on[("RUB", date(2022, 2, 28))] == D("117.247")
    assert (
        ("RUB", FRI) not in on and ("TRY", date(1999, 1, 4)) not in on and ("RON", date(1999, 1, 4)) not in on
    )
    assert ("ISK", date(1999, 1, 4)) not in on
    per_day = {d: sum(1 for r in found.rates if r.day == d) for d in found.days}
    assert per_day == {date(1999, 1, 4): 11, date(2022, 2, 28): 14, date(2026, 11, 19): 13, FRI: 13}


def test_the_generic_csv_reads_any_base_in_any_column_order() -> None:
    """date,base,currency,rate: 1 base = rate × currency; the columns may come in any order, the same row twice
    counts once."""
    found = parse_rates_file(GENERIC)
    assert found.format is RatesFormat.CSV
    assert found.rates == (rate("USD", "CAD", FRI, "1.3937"), rate("USD", "MXN", FRI, "19.6734"),
                           rate("USD", "CAD", FRI - timedelta(days=1), "1.39"))  # fmt: skip
    shuffled = parse_rates_csv(
        "currency,rate,date,base\r\nCAD,1.3937,2026-11-20,USD\r\nCAD,1.3937,2026-11-20,USD\r\n"
    )
    assert shuffled.rates == (rate("USD", "CAD", FRI, "1.3937"),)


@pytest.mark.parametrize(
    ("text", "code", "field", "says"),
    [
        ("", "invalid_rates_file", "file", "empty"),
        ("Currency;Rate\nUSD;1.1\n", "invalid_rates_file", "line 1", "not a rates file"),
        ("Date, USD, JPY, \n20 November 2026, 1.0850, abc, \n", "invalid_rate", "line 2", "JPY: 'abc'"),
        ("Date, USD, \n20 November 2026, 0, \n", "invalid_rate", "line 2", "above zero"),
        ("Date, USD, \n20 November 2026, -1.08, \n", "invalid_rate", "line 2", "'-1.08'"),
        ("Date, USD, \n20 November 2026, 1.0000000000001, \n", "invalid_rate", "line 2", "at most 12 decimals"),
        ("Date, USD, \n31 November 2026, 1.08, \n", "invalid_rates_file", "line 2", "not a date"),
        ("Date, USD, \n20 Brumaire 2026, 1.08, \n", "invalid_rates_file", "line 2", "not a date"),
        ("Date,USD,\n2026-11-20,1.08,\n\n2026-11-20,1.09,\n", "invalid_rates_file", "line 4", "also on line 2"),
        ("Date,USD,JPY,\n2026-11-20,1.08,160,7,\n", "invalid_rates_file", "line 2", "4 cells where the header has 3"),
        ("Date,USD,XYZ,\n2026-11-20,1.08,7,\n", "unknown_currency", "line 1", "XYZ"),
        ("Date,USD,usd,\n2026-11-20,1.08,7,\n", "invalid_rates_file", "line 1", "not a currency code"),
        ("Date,USD,USD,\n2026-11-20,1.08,7,\n", "invalid_rates_file", "line 1", "twice"),
        ("Date,EUR,USD,\n2026-11-20,1,1.08,\n", "invalid_rates_file", "line 1", "base"),
        ("Date,USD,\n2026-11-20,N/A,\n", "invalid_rates_file", "file", "no rates"),
        ("date,base,currency,rate\n2026-11-20,USD,EUR\n", "invalid_rates_file", "line 2", "3 cells"),
        ("date,base,currency,rate\n2026-11-20,USD,ABC,1.2\n", "unknown_currency", "line 2", "ABC"),
        ("date,base,currency,rate\n2026-11-20,USD,USD,1\n", "invalid_rate", "line 2", "itself"),
        ("date,base,currency,rate\n2026-11-20,USD,CAD,1.39\n2026-11-20,USD,CAD,1.4\n", "invalid_rates_file",
         "line 3", "another rate for USD/CAD on 2026-11-20 than on line 2"),
        ("date,base,currency,rate\n20/11/2026,USD,CAD,1.39\n", "invalid_rates_file", "line 2", "not a date"),
        ('date,base,currency,rate\n2026-11-20,USD,"CAD,1.39\n', "invalid_rates_file", "line 2", "not valid CSV"),
        ("Date,USD,\n2026-11-20,1.08\x00,\n", "invalid_rates_file", "file", "NUL"),
    ],
)  # fmt: skip
def test_a_wrong_file_is_refused_with_the_line_at_fault(text: str, code: str, field: str, says: str) -> None:
    """Every refusal names its code and the line (as the field, and in the message); a rate is above zero
    with at most 12 decimals; an unknown currency code is refused, a withdrawn one in an ECB file skipped."""
    with pytest.raises(DomainError) as raised:
        parse_rates_file(text)
    assert (raised.value.code, raised.value.field) == (code, field)
    assert says in raised.value.message
    if field.startswith("line"):
        assert raised.value.message.startswith(f"Line {field.removeprefix('line ')}:")


def test_the_ecb_history_of_25_years_and_40_currencies_parses_in_well_under_a_few_seconds() -> None:
    """Large files parse quickly: 6,500 days × 40 columns (about 200,000 rates) in one pass, no query per cell.
    The bound is generous (it guards against a quadratic parser, not a slow machine)."""
    codes = ["USD", "JPY", "CZK", "DKK", "GBP", "HUF", "PLN", "RON", "SEK", "CHF", "ISK", "NOK", "RUB", "TRY",
             "AUD", "BRL", "CAD", "CNY", "HKD", "IDR", "ILS", "INR", "KRW", "MXN", "MYR", "NZD", "PHP", "SGD",
             "THB", "ZAR", "BGN", "CYP", "EEK", "HRK", "LTL", "LVL", "MTL", "ROL", "SIT", "SKK"]  # fmt: skip
    lines = ["Date," + ",".join(codes) + ","]
    for n in range(6500):
        cells = [
            "N/A" if (n + i) % 5 == 0 else f"{1 + (n * 7 + i) % 997}.{(n + i) % 10000:04d}" for i in range(40)
        ]
        lines.append((date(2026, 11, 20) - timedelta(days=n)).isoformat() + "," + ",".join(cells) + ",")
    text = "\n".join(lines) + "\n"
    started = time.perf_counter()
    found = parse_rates_file(text)
    elapsed = time.perf_counter() - started
    assert len(found.rates) == sum(1 for n in range(6500) for i in range(30) if (n + i) % 5)
    assert elapsed < 10, elapsed


# ---- the rate book -------------------------------------------------------------------------------------


def test_a_published_rate_converts_from_the_base_and_its_inverse_into_it(book: RateBook) -> None:
    """1 EUR = 1.0850 USD on Friday: 100.00 EUR = 108.50 USD; 100.00 USD = 100 / 1.085 = 92.1658… EUR = 92.17,
    the inverse rate shown to 12 significant digits with Friday's date."""
    assert book.convert(money("100.00", "EUR"), "USD", FRI) == (
        money("108.50", "USD"), RateUsed(currency="EUR", rate=D("1.0850"), day=FRI))  # fmt: skip
    assert book.convert(money("100.00", "USD"), "EUR", FRI) == (
        money("92.17", "EUR"), RateUsed(currency="USD", rate=D("0.921658986175"), day=FRI))  # fmt: skip


def test_a_weekend_day_takes_fridays_rate_and_says_so(book: RateBook) -> None:
    """The ECB publishes no rates on Saturday and Sunday: the latest rate on or before the day is Friday's,
    and the rate used carries Friday's date; Monday has its own."""
    for day in (SAT, SUN):
        assert book.rate("EUR", "USD", day) == RateUsed(currency="EUR", rate=D("1.0850"), day=FRI)
    assert book.rate("EUR", "USD", MON) == RateUsed(currency="EUR", rate=D("1.0900"), day=MON)
    assert book.convert(money("250.00", "USD"), "EUR", SUN)[0] == money(
        "230.41", "EUR"
    )  # 250 / 1.085 = 230.4147


def test_a_cross_rate_goes_through_the_base_and_is_rounded_once(book: RateBook) -> None:
    """GBP → USD on Friday is 1.0850 / 0.8500 = 1.276470588235…: 100.14 GBP = 127.8257647… USD = 127.83. Going
    through a rounded euro amount (117.81 EUR × 1.085 = 127.82) would lose a cent: the cross is exact."""
    converted, used = book.convert(money("100.14", "GBP"), "USD", SAT)
    assert converted == money("127.83", "USD")
    assert used == RateUsed(currency="GBP", rate=D("1.27647058824"), day=FRI)
    assert book.convert(money("0.02", "GBP"), "USD", FRI)[0] == money("0.03", "USD")  # 0.025529…


def test_a_cross_rate_carries_the_older_of_its_two_dates(book: RateBook) -> None:
    """On Monday USD has Monday's rate but GBP still Friday's: the cross 1.0900 / 0.8500 is shown as of Friday."""
    assert book.rate("GBP", "USD", MON) == RateUsed(currency="GBP", rate=D("1.28235294118"), day=FRI)


def test_the_exact_value_is_rounded_once_with_the_mode_asked_for(book: RateBook) -> None:
    """1 EUR = 200 JPY: 1 JPY = 0.005 EUR exactly, a half cent: half up gives 0.01, half even 0.00, down 0.00."""
    one_yen = money("1", "JPY")
    assert book.convert(one_yen, "EUR", FRI)[0] == money("0.01", "EUR")
    assert book.convert(one_yen, "EUR", FRI, RoundingMode.HALF_EVEN)[0] == money("0.00", "EUR")
    assert book.convert(one_yen, "EUR", FRI, RoundingMode.DOWN)[0] == money("0.00", "EUR")
    assert book.convert(money("3", "JPY"), "EUR", FRI, RoundingMode.HALF_EVEN)[0] == money(
        "0.02", "EUR"
    )  # 0.015
    assert book.convert(money("1.00", "GBP"), "JPY", FRI)[0] == money("235", "JPY")  # 200 / 0.85 = 235.29


def test_the_same_currency_is_rate_one_on_the_day_asked(book: RateBook) -> None:
    """No conversion: the rate is 1 on the day itself; the amount is rounded to the currency's minor unit."""
    assert book.convert(money("12.345", "EUR"), "EUR", SUN) == (
        money("12.35", "EUR"), RateUsed(currency="EUR", rate=D(1), day=SUN))  # fmt: skip
    assert RateBook().rate("CHF", "CHF", SUN) == RateUsed(currency="CHF", rate=D(1), day=SUN)


def test_no_rate_on_or_before_the_day_is_a_missing_exchange_rate(book: RateBook) -> None:
    """Before the first rate, for a currency never imported, or with an empty book: missing_exchange_rate,
    naming both currencies and the day."""
    for currency, to, day in (("EUR", "USD", date(2026, 11, 18)), ("CHF", "EUR", FRI), ("USD", "CHF", FRI)):
        with pytest.raises(DomainError) as raised:
            book.convert(money("1.00", currency), to, day)
        assert (raised.value.code, raised.value.field) == ("missing_exchange_rate", "currency")
        assert raised.value.message == (
            f"No exchange rate from {currency} to {to} on or before {day.isoformat()}: import rates first."
        )
    with pytest.raises(DomainError, match="missing_exchange_rate|No exchange rate"):
        RateBook().rate("USD", "EUR", FRI)


def test_the_freshest_route_wins_and_a_direct_rate_beats_a_cross_on_the_same_day() -> None:
    """A tenant with USD-based rates and the ECB's: CAD → USD uses the published USD rate (inverse) rather than
    a cross through EUR of the same day; a fresher cross wins over a stale direct rate."""
    book = RateBook([
        rate("USD", "CAD", FRI, "1.40"), rate("EUR", "USD", FRI, "1.0850"), rate("EUR", "CAD", FRI, "1.5190"),
        rate("EUR", "USD", MON, "1.0900"), rate("EUR", "CAD", MON, "1.5260"),
    ])  # fmt: skip
    assert book.rate("USD", "CAD", FRI) == RateUsed(currency="USD", rate=D("1.40"), day=FRI)
    assert book.rate("CAD", "USD", FRI) == RateUsed(currency="CAD", rate=D("0.714285714286"), day=FRI)
    assert book.rate("USD", "CAD", MON) == RateUsed(currency="USD", rate=D("1.4"), day=MON)  # 1.5260 / 1.0900


def test_a_rate_given_twice_for_a_day_keeps_the_last_and_a_rate_is_above_zero() -> None:
    """The book keeps the last rate given for a (base, currency, day); a rate of zero, a negative one or a
    rate between a currency and itself never gets into a book."""
    book = RateBook([rate("EUR", "USD", FRI, "1.08"), rate("EUR", "USD", FRI, "1.0850")])
    assert book.rate("EUR", "USD", FRI).rate == D("1.0850")
    for base, currency, value in (("EUR", "USD", "0"), ("EUR", "USD", "-1"), ("EUR", "EUR", "1")):
        with pytest.raises(DomainError) as raised:
            rate(base, currency, FRI, value)
        assert raised.value.code == "invalid_rate"


def test_a_book_of_stored_rows_is_the_book_of_their_rates() -> None:
    """RateBook.of_quotes (the store's rows, no object per row) answers as RateBook(rates) does, and refuses a
    rate that is not above zero rather than divide by it later."""
    quotes = [("EUR", "USD", FRI, D("1.0850")), ("EUR", "GBP", FRI, D("0.8500"))]
    book = RateBook.of_quotes(quotes)
    assert book.convert(money("100.14", "GBP"), "USD", SUN) == (
        money("127.83", "USD"), RateUsed(currency="GBP", rate=D("1.27647058824"), day=FRI))  # fmt: skip
    with pytest.raises(DomainError) as raised:
        RateBook.of_quotes([("EUR", "USD", FRI, D(0))])
    assert raised.value.code == "invalid_rate"
