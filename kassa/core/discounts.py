"""Coupons and discounts: what a tenant offers (coupons and the promotion codes customers type), what a
customer holds (redemptions), and how the held coupons reduce an invoice's lines.

The rule (DESIGN.md, the order an invoice is computed in): on the rounded lines, coupons apply in redemption
order (created_at, id), each on what the earlier ones left. A percent coupon is rounded once per line; a
fixed coupon takes at most what its eligible lines still hold and is spread over them with Money.allocate.
No line goes below zero, and credit lines (amount <= 0) are never discounted. See docs/coupons.md.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from kassa.core.catalog import CODE as PRODUCT_CODE
from kassa.core.clock import utc
from kassa.core.errors import DomainError, prefixed
from kassa.core.metadata import metadata as parse_metadata
from kassa.core.money import Money, RoundingMode, currency_code

COUPON_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
PROMOTION_CODE = re.compile(r"[A-Z0-9_-]{3,64}")
MAX_DURATION_PERIODS = 120
MAX_PERCENT_DECIMALS = 4
MAX_APPLIES_TO = 100
MAX_CURRENCIES = 200
MAX_REDEMPTIONS = 10**9
_PERCENT_TEXT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_E = TypeVar("_E", bound=StrEnum)


class DiscountType(StrEnum):
    PERCENT = "percent"
    FIXED = "fixed"


class Duration(StrEnum):
    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


@dataclass(frozen=True, slots=True, kw_only=True)
class Coupon:
    tenant_id: str
    id: str
    code: str  # tenant-unique, chosen by the tenant
    name: str
    type: DiscountType
    percent_off: Decimal | None = None  # PERCENT only: 0 < p <= 100, at most 4 decimals
    amounts_off: Mapping[str, Decimal] = field(default_factory=dict)  # FIXED only: currency -> rounded > 0
    duration: Duration
    duration_periods: int | None = None  # REPEATING only
    applies_to: tuple[str, ...] = ()  # product codes; () = every line
    max_redemptions: int | None = None
    redeem_by: datetime | None = None  # redeemable while the instant is before it
    times_redeemed: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime
    archived_at: datetime | None = None

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def amount_off(self, currency: str) -> Money | None:
        amount = self.amounts_off.get(currency)
        return None if amount is None else Money(amount, currency)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "type": self.type.value,
            "percent_off": None if self.percent_off is None else _decimal_text(self.percent_off),
            "amounts_off": [
                {"amount": Money(self.amounts_off[cur], cur).amount_text(), "currency": cur}
                for cur in sorted(self.amounts_off)
            ],
            "duration": self.duration.value,
            "duration_periods": self.duration_periods,
            "applies_to": list(self.applies_to),
            "max_redemptions": self.max_redemptions,
            "redeem_by": _iso(self.redeem_by),
            "times_redeemed": self.times_redeemed,
            "metadata": dict(self.metadata),
            "created_at": self.created_at.isoformat(),
            "archived_at": _iso(self.archived_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotionCode:
    """What a customer types to redeem a coupon: stored upper-case, matched by `promotion_code_key`."""

    tenant_id: str
    id: str
    code: str
    coupon_id: str
    max_redemptions: int | None = None
    expires_at: datetime | None = None  # usable while the instant is before it
    active: bool = True
    times_redeemed: int = 0
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "coupon_id": self.coupon_id,
            "max_redemptions": self.max_redemptions,
            "expires_at": _iso(self.expires_at),
            "active": self.active,
            "times_redeemed": self.times_redeemed,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Redemption:
    """A coupon applied to a customer (subscription_id None: all its lines) or to one subscription."""

    tenant_id: str
    id: str
    coupon_id: str
    customer_id: str
    subscription_id: str | None = None
    promotion_code_id: str | None = None
    periods_applied: int = 0  # invoices it has discounted so far
    created_at: datetime  # redemption order is (created_at, id)
    ended_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "coupon_id": self.coupon_id,
            "customer_id": self.customer_id,
            "subscription_id": self.subscription_id,
            "promotion_code_id": self.promotion_code_id,
            "periods_applied": self.periods_applied,
            "created_at": self.created_at.isoformat(),
            "ended_at": _iso(self.ended_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscountableLine:
    key: str  # unique within one call
    amount: Money  # rounded, before discounts; <= 0 (a credit) is never discounted
    products: frozenset[str]  # plan, add-on and billable metric codes this line belongs to
    subscription_id: str | None
    account_id: str | None = None  # whose service (a child's, on its paying parent's invoice)


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedDiscount:
    redemption_id: str
    coupon_id: str
    line_key: str
    amount: Money  # positive: what this coupon took off this line


# ---- redeeming and durations ----------------------------------------------------------------------------


def check_redeemable(coupon: Coupon, promotion: PromotionCode | None, currency: str, at: datetime) -> None:
    """Refuse a redemption at `at` with the first reason that applies: the coupon's own, then the
    promotion code's, then the customer's currency."""
    at = utc(at)
    if promotion is not None and promotion.coupon_id != coupon.id:
        raise ValueError(
            f"promotion code {promotion.id} is for coupon {promotion.coupon_id}, not {coupon.id}"
        )
    if coupon.archived_at is not None:
        raise DomainError("coupon_archived", f"Coupon {coupon.code!r} is archived.", "coupon")
    if coupon.redeem_by is not None and at >= coupon.redeem_by:
        raise DomainError(
            "coupon_expired",
            f"Coupon {coupon.code!r} could be redeemed until {_iso(coupon.redeem_by)}.",
            "coupon",
        )
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise DomainError("coupon_exhausted", f"Coupon {coupon.code!r} has been fully redeemed.", "coupon")
    if promotion is not None:
        if not promotion.active:
            raise DomainError("promotion_code_inactive", f"{promotion.code} is not active.", "promotion_code")
        if promotion.expires_at is not None and at >= promotion.expires_at:
            raise DomainError(
                "promotion_code_expired", f"{promotion.code} expired at {_iso(promotion.expires_at)}.",
                "promotion_code",
            )  # fmt: skip
        if promotion.max_redemptions is not None and promotion.times_redeemed >= promotion.max_redemptions:
            raise DomainError(
                "promotion_code_exhausted", f"{promotion.code} has been fully redeemed.", "promotion_code"
            )
    if coupon.type is DiscountType.FIXED and currency not in coupon.amounts_off:
        raise DomainError(
            "coupon_currency_mismatch",
            f"Coupon {coupon.code!r} has no amount in {currency}, the customer's currency.",
            "currency",
        )


def redeem(
    coupon: Coupon, promotion: PromotionCode | None, *, redemption_id: str, customer_id: str,
    subscription_id: str | None, currency: str, at: datetime,
) -> tuple[Redemption, Coupon, PromotionCode | None]:  # fmt: skip
    """The checked redemption, and the coupon and promotion code with their counters one higher."""
    check_redeemable(coupon, promotion, currency, at)
    redemption = Redemption(
        tenant_id=coupon.tenant_id, id=redemption_id, coupon_id=coupon.id, customer_id=customer_id,
        subscription_id=subscription_id, promotion_code_id=promotion.id if promotion else None,
        created_at=utc(at),
    )  # fmt: skip
    counted = replace(promotion, times_redeemed=promotion.times_redeemed + 1) if promotion else None
    return redemption, replace(coupon, times_redeemed=coupon.times_redeemed + 1), counted


def _period_limit(coupon: Coupon) -> int | None:
    if coupon.duration is Duration.ONCE:
        return 1
    if coupon.duration is Duration.REPEATING:
        if coupon.duration_periods is None:
            raise ValueError(f"repeating coupon {coupon.id} has no duration_periods")
        return coupon.duration_periods
    return None


def is_active(redemption: Redemption, coupon: Coupon) -> bool:
    """Not ended and its duration not used up. Archiving the coupon does not end what was redeemed."""
    if redemption.coupon_id != coupon.id:
        raise ValueError(f"redemption {redemption.id} is of coupon {redemption.coupon_id}, not {coupon.id}")
    limit = _period_limit(coupon)
    return redemption.ended_at is None and (limit is None or redemption.periods_applied < limit)


def after_invoice(redemption: Redemption, coupon: Coupon, applied: bool, at: datetime) -> Redemption:
    """The redemption after a finalized invoice: one more period if the coupon discounted something on it,
    ended at `at` once its duration is used up. An invoice it discounted nothing on does not count, so a
    repeating coupon is worth its number of discounted invoices."""
    at = utc(at)
    if not applied or not is_active(redemption, coupon):
        return redemption
    used = redemption.periods_applied + 1
    limit = _period_limit(coupon)
    ended = at if limit is not None and used >= limit else None
    return replace(redemption, periods_applied=used, ended_at=ended)


# ---- applying -------------------------------------------------------------------------------------------


def apply_coupons(
    lines: Sequence[DiscountableLine],
    redemptions: Sequence[tuple[Redemption, Coupon]],
    currency: str,
    mode: RoundingMode,
    *,
    payer_id: str | None = None,
) -> tuple[AppliedDiscount, ...]:
    """What each active redemption takes off each line, in redemption order, then by line key. A coupon
    redeemed by a child account discounts only that child's lines on its payer's invoice; the payer's
    own coupons discount every line it pays for.

    Lines are visited by key, not by position: a fixed coupon's tie for the last cent then goes to the same
    line whichever order the caller listed them in, so recomputing an invoice gives the same lines.
    """
    code = currency_code(currency, "currency")
    remaining: dict[str, Money] = {}
    for line in lines:
        if line.amount.currency != code:
            raise DomainError(
                "currency_mismatch",
                f"Line {line.key!r} is in {line.amount.currency}, the invoice in {code}.",
                None,
            )
        line.amount.to_minor_units()  # a rounded amount, or the error
        if line.key in remaining:
            raise ValueError(f"line key {line.key!r} appears twice")
        remaining[line.key] = line.amount
    by_key = sorted(lines, key=lambda line: line.key)
    active = sorted(
        ((r, c) for r, c in redemptions if is_active(r, c)), key=lambda rc: (rc[0].created_at, rc[0].id)
    )
    applied: list[AppliedDiscount] = []
    for redemption, coupon in active:
        # A credit line (<= 0) starts with nothing to take, and a line an earlier coupon emptied has none left.
        eligible = [
            line
            for line in by_key
            if remaining[line.key].amount > 0 and _eligible(line, redemption, coupon, payer_id)
        ]
        if not eligible:
            continue
        takes = _takes(coupon, [remaining[line.key] for line in eligible], code, mode)
        for line, take in zip(eligible, takes, strict=True):
            if take.amount > 0:
                remaining[line.key] -= take
                applied.append(
                    AppliedDiscount(
                        redemption_id=redemption.id, coupon_id=coupon.id, line_key=line.key, amount=take
                    )
                )
    return tuple(applied)


def _eligible(line: DiscountableLine, redemption: Redemption, coupon: Coupon, payer_id: str | None) -> bool:
    if (
        payer_id is not None
        and line.account_id is not None
        and redemption.customer_id not in (line.account_id, payer_id)
    ):
        return False
    if redemption.subscription_id is not None and line.subscription_id != redemption.subscription_id:
        return False
    return not coupon.applies_to or not line.products.isdisjoint(coupon.applies_to)


def _takes(coupon: Coupon, remaining: list[Money], currency: str, mode: RoundingMode) -> list[Money]:
    if coupon.type is DiscountType.PERCENT:
        if coupon.percent_off is None:
            raise ValueError(f"percent coupon {coupon.id} has no percent_off")
        rate = coupon.percent_off.scaleb(-2)
        return [amount.multiply(rate, mode) for amount in remaining]
    amount_off = coupon.amount_off(currency)
    if amount_off is None:  # redeemed before the customer's currency could be checked: nothing to take
        return [Money.zero(currency)] * len(remaining)
    available = sum(remaining, Money.zero(currency))
    # What is left of a fixed amount is not carried to a later invoice: "5.00 off" is per invoice.
    return min(amount_off, available).allocate([amount.amount for amount in remaining])


# ---- parsing --------------------------------------------------------------------------------------------

_COUPON_FIELDS = frozenset(
    {
        "code", "name", "type", "percent_off", "amounts_off", "duration", "duration_periods", "applies_to",
        "max_redemptions", "redeem_by", "metadata",
    }
)  # fmt: skip
_PROMOTION_FIELDS = frozenset({"code", "coupon_id", "max_redemptions", "expires_at", "active"})


def parse_coupon(tenant_id: str, coupon_id: str, fields: Mapping[str, Any], created_at: datetime) -> Coupon:
    """A coupon from an API body (the keys of to_json without ids, counters and instants it sets itself)."""
    created_at = utc(created_at)
    body = _body(fields, _COUPON_FIELDS, ("code", "name", "type", "duration"))
    code = body["code"]
    if not isinstance(code, str) or not COUPON_CODE.fullmatch(code):
        raise DomainError(
            "invalid_coupon_code", "A coupon code is 1 to 64 letters, digits, '_' or '-'.", "code"
        )
    name = body["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise DomainError("invalid_text", "name is non-empty text of at most 200 characters.", "name")
    kind = _choice(DiscountType, body["type"], "type", "invalid_discount_type")
    duration = _choice(Duration, body["duration"], "duration", "invalid_duration")
    percent_off, amounts_off = None, {}
    if kind is DiscountType.PERCENT:
        _absent(body, "amounts_off", "A percent coupon takes percent_off, not amounts_off.")
        percent_off = _percent(_present(body, "percent_off"), "percent_off")
    else:
        _absent(body, "percent_off", "A fixed coupon takes amounts_off, not percent_off.")
        amounts_off = _amounts(_present(body, "amounts_off"), "amounts_off")
    periods = None
    if duration is Duration.REPEATING:
        periods = _whole(_present(body, "duration_periods"), "duration_periods", MAX_DURATION_PERIODS)
    else:
        _absent(body, "duration_periods", "Only a repeating coupon counts periods.")
    redeem_by = _optional_instant(body, "redeem_by", created_at)
    return Coupon(
        tenant_id=tenant_id, id=coupon_id, code=code, name=name.strip(), type=kind, percent_off=percent_off,
        amounts_off=amounts_off, duration=duration, duration_periods=periods,
        applies_to=_products(body.get("applies_to"), "applies_to"),
        max_redemptions=_optional_whole(body, "max_redemptions"), redeem_by=redeem_by,
        metadata=parse_metadata(body.get("metadata") or {}), created_at=created_at,
    )  # fmt: skip


def promotion_code_key(text: object) -> str | None:
    """The stored form of what a customer typed, or None when it cannot be any promotion code. Non-ASCII
    text is refused before upper-casing: "ſ".upper() is "S", and a look-alike must not match."""
    if not isinstance(text, str) or not text.isascii():
        return None
    key = text.strip().upper()
    return key if PROMOTION_CODE.fullmatch(key) else None


def parse_promotion_code(
    tenant_id: str, promotion_id: str, fields: Mapping[str, Any], created_at: datetime
) -> PromotionCode:
    created_at = utc(created_at)
    body = _body(fields, _PROMOTION_FIELDS, ("code", "coupon_id"))
    raw = body["code"]
    code = raw.upper() if isinstance(raw, str) and raw.isascii() else None
    if code is None or not PROMOTION_CODE.fullmatch(code):
        raise DomainError(
            "invalid_promotion_code", "A promotion code is 3 to 64 letters, digits, '_' or '-'.", "code"
        )
    coupon_id = body["coupon_id"]
    if not isinstance(coupon_id, str) or not 1 <= len(coupon_id) <= 64:
        raise DomainError(
            "invalid_coupon_id", "coupon_id is the id of one of the tenant's coupons.", "coupon_id"
        )
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise DomainError("invalid_boolean", "active is true or false.", "active")
    return PromotionCode(
        tenant_id=tenant_id, id=promotion_id, code=code, coupon_id=coupon_id,
        max_redemptions=_optional_whole(body, "max_redemptions"),
        expires_at=_optional_instant(body, "expires_at", created_at), active=active, created_at=created_at,
    )  # fmt: skip


def _body(fields: Any, allowed: frozenset[str], required: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(fields, Mapping):
        raise DomainError("invalid_body", "Expected an object.", None)
    for key in fields:
        if key not in allowed:
            raise DomainError("unknown_field", f"Unknown field {key!r}.", str(key))
    for key in required:
        _present(fields, key)
    return fields


def _present(body: Mapping[str, Any], key: str) -> Any:
    if body.get(key) is None:
        raise DomainError("required", f"{key} is required.", key)
    return body[key]


def _absent(body: Mapping[str, Any], key: str, message: str) -> None:
    if body.get(key) is not None:
        raise DomainError("field_not_allowed", message, key)


def _choice(kind: type[_E], value: Any, path: str, code: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise DomainError(code, f"{path} is one of {', '.join(kind)}.", path) from None


def _whole(value: Any, path: str, limit: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        raise DomainError(f"invalid_{path}", f"{path} is a whole number from 1 to {limit}.", path)
    return value


def _optional_whole(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    return None if value is None else _whole(value, key, MAX_REDEMPTIONS)


def _number_text(value: Any, path: str) -> str:
    """The text of a number sent as a string or an int. A JSON number with a fraction arrives inexact
    (0.1 is not 0.1), so it is refused rather than guessed at."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        raise DomainError("float_amount", 'Send a number with a fraction as a string, like "12.50".', path)
    raise DomainError("invalid_amount", 'Expected a decimal string like "12.50".', path)


def _percent(value: Any, path: str) -> Decimal:
    text = _number_text(value, path)
    exponent = Decimal(text).as_tuple().exponent if _PERCENT_TEXT.fullmatch(text) else None
    rate = Decimal(text) if isinstance(exponent, int) and exponent >= -MAX_PERCENT_DECIMALS else None
    if rate is None or not 0 < rate <= 100:
        raise DomainError(
            "invalid_percent_off",
            f"percent_off is more than 0 and at most 100, with at most {MAX_PERCENT_DECIMALS} decimals.",
            path,
        )
    return rate


def _amounts(value: Any, path: str) -> dict[str, Decimal]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CURRENCIES:
        raise DomainError(
            "invalid_amounts_off", 'amounts_off is a list like [{"amount": "5.00", "currency": "EUR"}].', path
        )
    amounts: dict[str, Decimal] = {}
    for i, item in enumerate(value):
        where = f"{path}.{i}"
        body = _nested(item, where, frozenset({"amount", "currency"}))
        cur = currency_code(body["currency"], f"{where}.currency")
        if cur in amounts:
            raise DomainError("duplicate_currency", f"{cur} already has an amount.", f"{where}.currency")
        try:
            money = Money.parse(_number_text(body["amount"], "amount"), cur, field="amount")
            if money.amount <= 0:
                raise DomainError("invalid_amount", "An amount off is more than zero.", "amount")
            if not money.is_rounded:
                raise DomainError(
                    "too_many_decimals", f"{cur} amounts have {money.exponent} decimals.", "amount"
                )
            money.round().to_minor_units()  # within what an amount of record can hold
        except DomainError as error:
            raise prefixed(error, where) from None
        amounts[cur] = money.round().amount
    return amounts


def _nested(item: Any, path: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise DomainError("invalid_amounts_off", "Expected an object with amount and currency.", path)
    for key in item:
        if key not in keys:
            raise DomainError("unknown_field", f"Unknown field {key!r}.", f"{path}.{key}")
    for key in sorted(keys):
        if item.get(key) is None:
            raise DomainError("required", f"{key} is required.", f"{path}.{key}")
    return item


def _products(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_APPLIES_TO:
        raise DomainError(
            "invalid_applies_to", f"applies_to is a list of at most {MAX_APPLIES_TO} codes.", path
        )
    for i, code in enumerate(value):
        if not isinstance(code, str) or not PRODUCT_CODE.fullmatch(code):
            raise DomainError(
                "invalid_product_code",
                "A product code is lowercase letters, digits, '.', '_' or '-'.",
                f"{path}.{i}",
            )
    return tuple(dict.fromkeys(value))


def _optional_instant(body: Mapping[str, Any], key: str, created_at: datetime) -> datetime | None:
    value = body.get(key)
    if value is None:
        return None
    instant: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str) and 10 < len(value) <= 40:
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            instant = None
    if instant is None or instant.tzinfo is None or instant.utcoffset() is None:
        raise DomainError(
            "invalid_timestamp", f"{key} is an instant with its offset, like 2027-01-31T00:00:00Z.", key
        )
    if instant <= created_at:
        raise DomainError(f"{key}_in_past", f"{key} must be later than now.", key)
    return instant.astimezone(UTC)


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()
