"""Exchange rates for reporting: files of reference rates read into rates, a book of them searchable by
day, and conversion into the reporting currency at the latest rate on or before a day (the rate's own
date is reported with the figure).

Rates are stored as published: 1 `base` = `rate` × `currency` (the ECB publishes EUR-based rates). A
conversion between two quoted currencies crosses through the base; the converted amount is computed from
the published rates and rounded once, so a cross rate is never rounded on the way.

Files (pure: the text comes in, rates go out; see docs/exchange-rates.md):
- the ECB's daily `eurofxref.csv`: `Date, USD, JPY, ..., ZAR, ` then one row `21 November 2026, 1.0495, ...`;
- the ECB's history `eurofxref-hist.csv`: `Date,USD,JPY,...,ZAR,`, one row per day, newest first, ISO dates,
  `N/A` where a currency has no rate that day;
- a generic CSV with the header `date,base,currency,rate` (any column order).
"""

from __future__ import annotations

import bisect
import csv
import decimal
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import InitVar, dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from kassa.core.errors import DomainError
from kassa.core.money import MAX_PLACES, Money, RoundingMode, currency_code
from kassa.core.reports import RateUsed

ECB_BASE = "EUR"
# Currencies the ECB history still carries in columns of their own but that ISO 4217 withdrew (they became
# the euro, or were redenominated: ROL → RON, TRL → TRY). Money cannot be held in them, so their columns
# are skipped; any other code that is not an active ISO 4217 currency is refused.
ECB_WITHDRAWN = frozenset({"BGN", "CYP", "EEK", "HRK", "LTL", "LVL", "MTL", "ROL", "SIT", "SKK", "TRL"})
MISSING = frozenset({"N/A", ""})  # the ECB writes N/A where a currency has no rate that day

_RATE_RE = re.compile(rf"[0-9]{{1,15}}(?:\.[0-9]{{1,{MAX_PLACES}}})?")
_ISO_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ECB_DAY_RE = re.compile(r"([0-9]{1,2}) ([A-Za-z]+) ([0-9]{4})")
_CODE_RE = re.compile(r"[A-Z]{3}")
_MONTHS = {
    name: number
    for number, full in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )  # fmt: skip
    for name in (full, full[:3])
}
GENERIC_COLUMNS = ("date", "base", "currency", "rate")

# Shown rates that are quotients (an inverse or a cross rate) keep 12 significant digits; conversions use
# the published rates themselves. 100 digits hold every product and quotient of a 30-digit amount and
# 27-digit rates far closer than the distance between any of them and a rounding boundary it is not on,
# so rounding the quotient once gives what exact arithmetic gives.
_SHOWN = decimal.Context(prec=12, rounding=decimal.ROUND_HALF_UP)
_WIDE = decimal.Context(
    prec=100, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation, decimal.DivisionByZero]
)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExchangeRate:
    base: str
    currency: str
    day: date
    rate: Decimal  # 1 base = rate × currency; > 0

    def __post_init__(self) -> None:
        rate = self.rate
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
            raise DomainError("invalid_rate", f"A rate is a Decimal above zero, not {rate!r}.", "rate")
        if self.base == self.currency:
            raise DomainError("invalid_rate", f"A rate is between two currencies, not {self.base} and itself.",
                              "currency")  # fmt: skip


class RatesFormat(StrEnum):
    ECB_DAILY = "ecb_daily"  # eurofxref.csv
    ECB_HISTORY = "ecb_history"  # eurofxref-hist.csv
    CSV = "csv"  # date,base,currency,rate


@dataclass(frozen=True, slots=True, kw_only=True)
class RatesFile:
    """What a file held: its rates (each (base, currency, day) once) and the withdrawn currencies skipped."""

    format: RatesFormat
    rates: tuple[ExchangeRate, ...]
    skipped_currencies: tuple[str, ...] = ()

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(sorted({r.day for r in self.rates}))

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted({r.currency for r in self.rates}))

    @property
    def bases(self) -> tuple[str, ...]:
        return tuple(sorted({r.base for r in self.rates}))


# ---- parsing -------------------------------------------------------------------------------------------


def _file_error(line: int, message: str) -> DomainError:
    return DomainError("invalid_rates_file", f"Line {line}: {message}", f"line {line}")


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped cells) of each non-blank row; a NUL or broken quoting is refused."""
    if "\x00" in text:
        raise DomainError("invalid_rates_file", "A rates file is text: it holds a NUL character.", "file")
    reader = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""), skipinitialspace=True, strict=True
    )
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells):
                yield reader.line_num, cells
    except csv.Error as error:
        raise _file_error(reader.line_num, f"not valid CSV ({error}).") from None


def _rate(text: str, line: int, what: str) -> Decimal:
    if not _RATE_RE.fullmatch(text):
        raise DomainError(
            "invalid_rate",
            f"Line {line}: {what}: {text[:30]!r} is not a rate (digits, a point, at most {MAX_PLACES} decimals).",
            f"line {line}",
        )
    rate = Decimal(text)
    if not rate:
        raise DomainError(
            "invalid_rate", f"Line {line}: {what}: a rate is above zero, not {text}.", f"line {line}"
        )
    return rate


def _day(text: str, line: int) -> date:
    """2026-11-21 (history, generic CSV) or 21 November 2026 (the ECB's daily file)."""
    try:
        if _ISO_DAY_RE.fullmatch(text):
            return date.fromisoformat(text)
        found = _ECB_DAY_RE.fullmatch(text)
        if found and found[2].lower() in _MONTHS:
            return date(int(found[3]), _MONTHS[found[2].lower()], int(found[1]))
    except ValueError:
        pass
    raise _file_error(line, f"{text[:30]!r} is not a date (2026-11-21 or 21 November 2026).")


def _code(text: str, line: int) -> str:
    try:
        return currency_code(text, f"line {line}")
    except DomainError as error:
        error.message = f"Line {line}: {error.message}"
        raise


def _trimmed(cells: list[str]) -> list[str]:
    """The ECB ends every line with a comma: the empty cells at the end are not columns."""
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end]


def parse_rates_file(text: str) -> RatesFile:
    """Any of the three formats, told apart by the header: ECB files start with `Date`, the generic CSV
    names its four columns."""
    for line, cells in _rows(text):
        header = [c.lower() for c in _trimmed(cells)]
        if sorted(header) == sorted(GENERIC_COLUMNS):
            return parse_rates_csv(text)
        if header and header[0] == "date":
            return parse_ecb_csv(text)
        raise _file_error(
            line,
            "not a rates file: the ECB's CSV starts with `Date, USD, JPY, ...`; a generic one has the header "
            "`date,base,currency,rate`.",
        )
    raise DomainError("invalid_rates_file", "The file is empty: it holds no rates.", "file")


def parse_ecb_csv(text: str) -> RatesFile:
    """The ECB's euro reference rates, daily (`eurofxref.csv`) or history (`eurofxref-hist.csv`)."""
    rows = _rows(text)
    first = next(rows, None)
    if first is None:
        raise DomainError("invalid_rates_file", "The file is empty: it holds no rates.", "file")
    line, header = first[0], _trimmed(first[1])
    if not header or header[0].lower() != "date":
        raise _file_error(line, "the ECB's header starts with `Date`, then the currency codes.")
    columns: list[tuple[int, str]] = []  # (cell index, currency) of the columns read
    skipped: list[str] = []
    seen: set[str] = set()
    for index, name in enumerate(header[1:], start=1):
        if not _CODE_RE.fullmatch(name):
            raise _file_error(line, f"column {index + 1} is {name[:20]!r}, not a currency code like USD.")
        if name in seen:
            raise _file_error(line, f"{name} is a column twice.")
        seen.add(name)
        if name == ECB_BASE:
            raise _file_error(line, f"{ECB_BASE} is the base of the ECB's rates, not a column.")
        if name in ECB_WITHDRAWN:
            skipped.append(name)
            continue
        columns.append((index, _code(name, line)))
    if not columns:
        raise _file_error(line, "no currency columns.")
    width = len(header)
    out: list[ExchangeRate] = []
    days: dict[date, int] = {}
    daily = None
    for line, row in rows:
        cells = _trimmed(row)
        if len(cells) > width or len(cells) < 2:
            raise _file_error(line, f"{len(cells)} cells where the header has {width}.")
        cells += [""] * (width - len(cells))
        day = _day(cells[0], line)
        if daily is None:
            daily = not _ISO_DAY_RE.fullmatch(cells[0])
        if day in days:
            raise _file_error(line, f"{day.isoformat()} is there twice (also on line {days[day]}).")
        days[day] = line
        for index, code in columns:
            value = cells[index]
            if value in MISSING:
                continue
            out.append(ExchangeRate(base=ECB_BASE, currency=code, day=day, rate=_rate(value, line, code)))
    if not out:
        raise DomainError("invalid_rates_file", "The file holds no rates.", "file")
    return RatesFile(
        format=RatesFormat.ECB_DAILY if daily else RatesFormat.ECB_HISTORY,
        rates=tuple(out),
        skipped_currencies=tuple(sorted(skipped)),
    )


def parse_rates_csv(text: str) -> RatesFile:
    """A CSV with the header `date,base,currency,rate`: 1 base = rate × currency on that date."""
    rows = _rows(text)
    first = next(rows, None)
    if first is None:
        raise DomainError("invalid_rates_file", "The file is empty: it holds no rates.", "file")
    line, header = first[0], [c.lower() for c in _trimmed(first[1])]
    if sorted(header) != sorted(GENERIC_COLUMNS) or len(set(header)) != len(header):
        raise _file_error(line, "the header is `date,base,currency,rate` (in any order).")
    at = {name: header.index(name) for name in GENERIC_COLUMNS}
    codes: dict[str, str] = {}  # each code is checked once
    found: dict[tuple[str, str, date], tuple[Decimal, int]] = {}
    out: list[ExchangeRate] = []
    for line, row in rows:
        cells = _trimmed(row)
        if len(cells) != len(header):
            raise _file_error(line, f"{len(cells)} cells where the header has {len(header)}.")
        day = _day(cells[at["date"]], line)
        base, quoted = cells[at["base"]], cells[at["currency"]]
        base = codes[base] if base in codes else codes.setdefault(base, _code(base, line))
        quoted = codes[quoted] if quoted in codes else codes.setdefault(quoted, _code(quoted, line))
        if base == quoted:
            raise DomainError("invalid_rate", f"Line {line}: a rate is between two currencies, not {base} and "
                              "itself.", f"line {line}")  # fmt: skip
        rate = _rate(cells[at["rate"]], line, quoted)
        key = (base, quoted, day)
        if key in found:
            if found[key][0] != rate:
                raise _file_error(line, f"another rate for {base}/{quoted} on {day.isoformat()} than on line "
                                  f"{found[key][1]}.")  # fmt: skip
            continue  # the same rate twice: once is enough
        found[key] = (rate, line)
        out.append(ExchangeRate(base=base, currency=quoted, day=day, rate=rate))
    if not out:
        raise DomainError("invalid_rates_file", "The file holds no rates.", "file")
    return RatesFile(format=RatesFormat.CSV, rates=tuple(out))


# ---- the book ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Quote:
    numerator: Decimal  # 1 currency = numerator / denominator × to
    denominator: Decimal
    day: date


Quote = tuple[str, str, date, Decimal]  # (base, currency, day, rate): 1 base = rate × currency


@dataclass(frozen=True, slots=True, eq=False)
class RateBook:
    """Every rate a tenant imported, searchable by day. A (base, currency, day) given twice: the last wins."""

    rates: InitVar[Iterable[ExchangeRate]] = ()
    _days: dict[tuple[str, str], list[date]] = field(default_factory=dict, init=False, repr=False)
    _values: dict[tuple[str, str], list[Decimal]] = field(default_factory=dict, init=False, repr=False)
    _bases: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self, rates: Iterable[ExchangeRate]) -> None:
        self._load((r.base, r.currency, r.day, r.rate) for r in rates)

    @classmethod
    def of_quotes(cls, quotes: Iterable[Quote]) -> RateBook:
        """The book of stored rows, without an ExchangeRate object each (a history has 200,000 of them)."""
        book = cls()
        book._load(quotes)
        return book

    def _load(self, quotes: Iterable[Quote]) -> None:
        by_pair: dict[tuple[str, str], dict[date, Decimal]] = {}
        for base, currency, day, rate in quotes:
            if not rate > 0:  # a division by it would fail far from here
                raise DomainError("invalid_rate", f"A rate is above zero, not {rate}.", "rate")
            by_pair.setdefault((base, currency), {})[day] = rate
        for pair, values in by_pair.items():
            known = self._days.get(pair)
            if known:  # one book is loaded once; a second load merges, the later rate of a day winning
                values = dict(zip(known, self._values[pair], strict=True)) | values
            days = sorted(values)
            self._days[pair] = days
            self._values[pair] = [values[d] for d in days]
        object.__setattr__(self, "_bases", tuple(sorted({base for base, _ in self._days})))

    def _latest(self, base: str, currency: str, on: date) -> tuple[Decimal, date] | None:
        days = self._days.get((base, currency))
        if not days:
            return None
        i = bisect.bisect_right(days, on) - 1
        return None if i < 0 else (self._values[(base, currency)][i], days[i])

    def _quote(self, currency: str, to: str, on: date) -> _Quote | None:
        """The freshest way from `currency` to `to`: published directly, inverted, or crossed through a base
        that quotes both (its day is the older of the two). On the same day direct beats inverse beats cross,
        then the first base alphabetically."""
        best: tuple[date, int] | None = None
        found: _Quote | None = None
        for base in self._bases:
            quote, rank = self._through(base, currency, to, on)
            if quote is not None and (best is None or (quote.day, rank) > best):
                best, found = (quote.day, rank), quote
        return found

    def _through(self, base: str, currency: str, to: str, on: date) -> tuple[_Quote | None, int]:
        if currency == base:
            direct = self._latest(base, to, on)
            return (_Quote(numerator=direct[0], denominator=_ONE, day=direct[1]) if direct else None), 3
        if to == base:
            inverse = self._latest(base, currency, on)
            return (_Quote(numerator=_ONE, denominator=inverse[0], day=inverse[1]) if inverse else None), 2
        a, b = self._latest(base, currency, on), self._latest(base, to, on)
        if a is None or b is None:
            return None, 1
        return _Quote(numerator=b[0], denominator=a[0], day=min(a[1], b[1])), 1

    def _require(self, currency: str, to: str, on: date) -> _Quote:
        quote = self._quote(currency, to, on)
        if quote is None:
            raise DomainError(
                "missing_exchange_rate",
                f"No exchange rate from {currency} to {to} on or before {on.isoformat()}: import rates first.",
                "currency",
            )
        return quote

    @staticmethod
    def _used(currency: str, quote: _Quote) -> RateUsed:
        if quote.denominator == _ONE:
            return RateUsed(currency=currency, rate=quote.numerator, day=quote.day)
        shown = _SHOWN.divide(quote.numerator, quote.denominator)
        return RateUsed(currency=currency, rate=shown, day=quote.day)

    def rate(self, currency: str, to: str, on: date) -> RateUsed:
        """1 `currency` = rate × `to`, from the latest rates on or before `on`; the rate's own day with it.
        An inverse or cross rate is shown to 12 significant digits (convert() uses it unrounded)."""
        if currency == to:
            return RateUsed(currency=currency, rate=_ONE, day=on)
        return self._used(currency, self._require(currency, to, on))

    def convert(
        self, money: Money, to: str, on: date, rounding: RoundingMode = RoundingMode.HALF_UP
    ) -> tuple[Money, RateUsed]:
        """`money` in `to` at the latest rate on or before `on`, rounded once to `to`'s minor unit."""
        if money.currency == to:
            return Money.rounded(money.amount, to, rounding), RateUsed(currency=to, rate=_ONE, day=on)
        quote = self._require(money.currency, to, on)
        exact = _WIDE.divide(_WIDE.multiply(money.amount, quote.numerator), quote.denominator)
        return Money.rounded(exact, to, rounding), self._used(money.currency, quote)
