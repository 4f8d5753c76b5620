"""Exact money: ISO 4217 currencies, named rounding, largest-remainder allocation, display via Babel.

Amounts are `Decimal`s; floats are refused wherever a number enters (see `_as_decimal`).
"""

from __future__ import annotations

import copy
import decimal
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache

import iso4217
from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

from kassa.core.errors import DomainError

# Unit prices and rates keep up to 12 decimals (NUMERIC(_, 12) in storage).
MAX_PLACES = 12
MAX_MINOR_UNITS = 2**63 - 1  # amounts of record are BIGINT minor units
_MAX_QUANTUM = Decimal(1).scaleb(-MAX_PLACES)

# The wire spelling of an amount (also the OpenAPI pattern): an optional minus, digits, optional
# fraction. No "+", no exponent, no separators or spaces: one unambiguous spelling, and "1e3" is
# usually the trace of a float somewhere upstream. Leading zeros are harmless and accepted.
AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CODE_RE = re.compile(r"[A-Z]{3}")

# The default context has 28 digits and silently rounds half-even beyond them; this one is exact
# for every + - * and quantize we do, and raises instead of inventing digits.
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    exponent: int
    name: str


def currency(code: str) -> Currency:
    """The ISO 4217 currency `code` (exactly three uppercase letters, on the current list)."""
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise _unknown(f"A currency is an ISO 4217 code of three uppercase letters, not {code!r}.")
    return _currency(code)


_currency_of = currency  # for methods whose parameter is named currency


def currency_code(value: object, field: str) -> str:
    """A currency code from a request: the checked ISO 4217 code, or an error naming `field`."""
    if not isinstance(value, str):
        raise DomainError("unknown_currency", "A currency is an ISO 4217 code like 'EUR'.", field)
    try:
        return currency(value).code
    except DomainError as error:
        error.field = field
        raise


def _unknown(message: str) -> DomainError:
    return DomainError("unknown_currency", message, "currency")


@cache
def _currency(code: str) -> Currency:
    # iso4217's table is ISO's List One (current codes), so withdrawn codes (DEM, ...) are unknown.
    try:
        entry = iso4217.Currency(code)
    except ValueError:
        raise _unknown(f"{code} is not an active ISO 4217 currency.") from None
    if entry.exponent is None:
        # Funds, metals, test and "no currency" codes (XAU, XDR, XTS, XXX...) have no minor unit in ISO,
        # so minor-unit storage and rounding have no defined meaning. Nobody is invoiced in them, and
        # treating them as exponent 0 would silently round away fractions of an ounce: refuse.
        raise _unknown(f"{code} has no minor unit in ISO 4217 and cannot be billed in.")
    return Currency(code=entry.code, exponent=entry.exponent, name=entry.currency_name)


class RoundingMode(StrEnum):
    HALF_UP = "half_up"  # kassa's default: half away from zero
    HALF_EVEN = "half_even"
    HALF_DOWN = "half_down"  # half toward zero
    UP = "up"  # away from zero
    DOWN = "down"  # toward zero
    CEILING = "ceiling"
    FLOOR = "floor"


# The enum's names are decimal's own (ROUND_HALF_UP is half away from zero, as kassa means it).
_DECIMAL_ROUNDING: dict[RoundingMode, str] = {m: getattr(decimal, f"ROUND_{m.name}") for m in RoundingMode}


def _rounding(mode: RoundingMode | str) -> str:
    try:
        return _DECIMAL_ROUNDING[RoundingMode(mode)]
    except ValueError:
        raise DomainError("invalid_rounding_mode", f"Unknown rounding mode {mode!r}.", "rounding") from None


def _refuse_float(value: object, field: str | None) -> None:
    """The one place a float is named, and only to refuse it: it cannot hold 0.1 exactly."""
    if isinstance(value, float):
        raise DomainError("float_amount", "Floats are not exact: pass a Decimal, an int or a string.", field)


def _as_decimal(value: object, field: str | None) -> Decimal:
    _refuse_float(value, field)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        hint = " (use Money.parse for text)" if isinstance(value, str) else ""
        raise DomainError(
            "invalid_amount", f"Need a Decimal or an int, not {type(value).__name__}{hint}.", field
        )
    number = Decimal(value)
    if not number.is_finite():
        raise DomainError("invalid_amount", f"An amount must be finite, not {number}.", field)
    return number


def _ratio(value: object, field: str) -> Decimal:
    _refuse_float(value, field)
    try:
        return _as_decimal(value, field)
    except DomainError:
        raise DomainError(
            "invalid_ratios", f"A ratio is a finite Decimal or int, not {value!r}.", field
        ) from None


@cache
def _quantum(exponent: int) -> Decimal:
    return Decimal(1).scaleb(-exponent)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency. Equal by value: Money(1.0, EUR) == Money(1.00, EUR)."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        info = currency(self.currency)
        amount = _as_decimal(self.amount, "amount")
        places = amount.as_tuple().exponent
        if isinstance(places, int) and places < -MAX_PLACES:
            exact = amount.quantize(_MAX_QUANTUM, context=_EXACT)
            if exact != amount:
                raise DomainError(
                    "too_many_decimals",
                    f"{amount} has more than {MAX_PLACES} decimals; round it (see Money.multiply).",
                    "amount",
                )
            amount = exact  # same value, storable at scale 12
        if amount.is_zero():
            amount = amount.copy_abs()  # "-0.00" means nothing and would print as a negative
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "currency", info.code)

    @classmethod
    def parse(cls, text: str, currency: str, *, field: str | None = None) -> Money:
        """Exact amount from its wire spelling ("12.34", "-0.5", "1000"; see AMOUNT_PATTERN)."""
        if not isinstance(text, str):
            _refuse_float(text, field)
            raise DomainError("invalid_amount", 'An amount is sent as a string, like "12.34".', field)
        if not _AMOUNT_RE.fullmatch(text):
            raise DomainError(
                "invalid_amount",
                f"{text[:40]!r} is not an amount: digits with an optional minus and decimal point.",
                field,
            )
        if "." in text and len(text.partition(".")[2]) > MAX_PLACES:
            raise DomainError("too_many_decimals", f"An amount has at most {MAX_PLACES} decimals.", field)
        return cls(Decimal(text), currency)

    @classmethod
    def _trusted(cls, amount: Decimal, currency: str) -> Money:
        """A result of arithmetic on valid Money (a sum, a difference, a rounding): its currency is known
        and it cannot gain decimals, so the checks of __post_init__ are skipped; they cost more than the
        arithmetic itself."""
        money = object.__new__(cls)
        object.__setattr__(money, "amount", amount.copy_abs() if amount.is_zero() else amount)
        object.__setattr__(money, "currency", currency)
        return money

    @classmethod
    def rounded(cls, value: Decimal, code: str, mode: RoundingMode = RoundingMode.HALF_UP) -> Money:
        """An exact value (a quotient may carry more than 12 decimals) rounded once to the currency's
        exponent with the named mode."""
        info = currency(code)  # a known code, or the error
        rounded = value.quantize(_quantum(info.exponent), rounding=_rounding(mode), context=_EXACT)
        return cls._trusted(rounded, info.code)  # rounded to the exponent: nothing left to check

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor_units(0, currency)

    @classmethod
    def from_minor_units(cls, units: int, currency: str) -> Money:
        number = _as_decimal(units, "amount")
        if not isinstance(units, int):
            raise DomainError("invalid_amount", "Minor units are a whole number (an int).", "amount")
        info = _currency_of(currency)  # a known code, or the error; its exponent scales the units
        # whole units scaled by at most the exponent: no decimals to check (reports build many of these)
        return cls._trusted(number.scaleb(-info.exponent, _EXACT), info.code)

    @property
    def exponent(self) -> int:
        """The currency's ISO 4217 exponent: digits after the point of a rounded amount."""
        return currency(self.currency).exponent

    @property
    def is_rounded(self) -> bool:
        return self.amount == self.amount.quantize(_quantum(self.exponent), context=_EXACT)

    def round(self, mode: RoundingMode = RoundingMode.HALF_UP) -> Money:
        """To the currency's exponent, with the named mode (decimal's own default would be half-even)."""
        rounded = self.amount.quantize(_quantum(self.exponent), rounding=_rounding(mode), context=_EXACT)
        return Money._trusted(rounded, self.currency)

    def to_minor_units(self) -> int:
        """The rounded amount in minor units, within what a 64-bit column stores."""
        self._require_rounded()
        units = int(self.amount.scaleb(self.exponent, _EXACT))
        if abs(units) > MAX_MINOR_UNITS:
            raise DomainError("amount_too_large", f"{self} is beyond the largest storable amount.", "amount")
        return units

    def amount_text(self) -> str:
        """Canonical wire text: equal amounts give equal text, never exponent notation."""
        if self.is_rounded:
            return format(self.amount.quantize(_quantum(self.exponent), context=_EXACT), "f")
        return format(self.amount.normalize(_EXACT), "f")

    def __str__(self) -> str:
        return f"{self.amount_text()} {self.currency}"

    def _same_currency(self, other: Money, verb: str) -> None:
        if other.currency != self.currency:
            raise DomainError(
                "currency_mismatch", f"Cannot {verb} {self.currency} and {other.currency} amounts.", None
            )

    def _require_rounded(self) -> None:
        if not self.is_rounded:
            raise DomainError(
                "not_rounded",
                f"{self} is not rounded to {self.exponent} decimals; call round(mode) first.",
                "amount",
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return Money._trusted(_EXACT.add(self.amount, other.amount), self.currency)

    def __radd__(self, other: int) -> Money:
        # Only so that sum() can start from its int 0; any other number is a bug.
        if type(other) is int and other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return Money._trusted(_EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money._trusted(self.amount.copy_negate(), self.currency)

    def __abs__(self) -> Money:
        return Money._trusted(self.amount.copy_abs(), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, Money):
            return NotImplemented
        return Money(_EXACT.multiply(self.amount, _as_decimal(factor, "factor")), self.currency)

    __rmul__ = __mul__

    def multiply(self, factor: Decimal | int, mode: RoundingMode = RoundingMode.HALF_UP) -> Money:
        """The product rounded once to the currency's exponent: a line amount whose exact value
        would exceed 12 decimals (where `*` refuses) never goes through an intermediate rounding."""
        product = _EXACT.multiply(self.amount, _as_decimal(factor, "factor"))
        rounded = product.quantize(_quantum(self.exponent), rounding=_rounding(mode), context=_EXACT)
        return Money(rounded, self.currency)

    def _comparable(self, other: object) -> bool:
        if isinstance(other, Money):
            self._same_currency(other, "compare")
        return isinstance(other, Money)

    def __lt__(self, other: Money) -> bool:
        return self.amount < other.amount if self._comparable(other) else NotImplemented

    def __le__(self, other: Money) -> bool:
        return self.amount <= other.amount if self._comparable(other) else NotImplemented

    def __gt__(self, other: Money) -> bool:
        return self.amount > other.amount if self._comparable(other) else NotImplemented

    def __ge__(self, other: Money) -> bool:
        return self.amount >= other.amount if self._comparable(other) else NotImplemented

    def allocate(self, ratios: Sequence[Decimal | int]) -> list[Money]:
        """Split by `ratios` in minor units, largest remainder first, so the parts sum to the whole.

        Ties go to the earlier part; a negative amount splits like its absolute value, negated.
        """
        if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence) or not ratios:
            raise DomainError("invalid_ratios", "Give at least one ratio.", "ratios")
        weights = [Fraction(_ratio(r, f"ratios.{i}")) for i, r in enumerate(ratios)]
        total_weight = sum(weights, Fraction(0))
        if any(w < 0 for w in weights) or total_weight <= 0:
            raise DomainError("invalid_ratios", "Ratios must be non-negative with a positive sum.", "ratios")
        units = self.to_minor_units()
        whole = abs(units)
        shares = [whole * w / total_weight for w in weights]
        parts = [share.numerator // share.denominator for share in shares]
        left = whole - sum(parts)
        # Fractional parts sum to `left` and each is < 1, so the first `left` have a positive remainder.
        by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
        for i in by_remainder[:left]:
            parts[i] += 1
        sign = -1 if units < 0 else 1
        return [Money.from_minor_units(sign * part, self.currency) for part in parts]

    def split(self, n: int) -> list[Money]:
        """`n` parts as equal as minor units allow, the larger ones first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DomainError("invalid_ratios", f"Split into at least 1 part, not {n!r}.", "n")
        return self.allocate([1] * n)


def format_money(money: Money, locale: str) -> str:
    """Display text for `locale` (e.g. "de_DE" -> "1.234,57 €"), with ISO digits and half-up rounding.

    Babel's digit data differs from ISO for a dozen currencies and it rounds half-even, so the amount
    is rounded here first and Babel is told to show exactly the ISO digits: it only draws the symbols.
    """
    try:
        babel_locale = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        raise DomainError("unknown_locale", f"Unknown locale {locale!r}.", "locale") from None
    rounded = money.round(RoundingMode.HALF_UP)
    pattern = copy.copy(babel_locale.currency_formats["standard"])
    pattern.frac_prec = (rounded.exponent, rounded.exponent)
    return format_currency(
        rounded.amount, rounded.currency, format=pattern, locale=babel_locale, currency_digits=False
    )
