"""Offers: which plans, prices, coupons or trials a customer is offered, decided by rules that are data.

An offer document names what it offers (`benefit`), when (`starts_at` included, `ends_at` excluded), how it
ranks (`priority`, higher first) and who gets it (`conditions`: a boolean tree of `all` / `any` / `not` over
leaf comparisons `{"field", "op", "value"}`). The service fills `Facts` for one customer at one instant;
`evaluate` answers for every offer whether it applies and why, one sentence per leaf in document order, so
"why not" reads as well as "why". Versions are stamped by the store, never part of the document.

- A missing fact (no country, no lead, no usage figure for that metric, no subscription) fails eq, in, gt,
  gte, lt, lte and exists; ne and not_in are their exact negations, so they pass. `{"not": X}` therefore
  always disagrees with X, and an unset fact never passes a comparison by accident.
- subscription.plan and subscription.status are sets (a customer may hold several subscriptions): eq v is
  "one of them is v", in is "one of them is listed", exists is "there is one".
- A price override in a currency other than the customer's never applies: it could not be billed.
- Numbers are whole numbers or decimal strings, never floats; text is compared exactly (case matters).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kassa.core.catalog import CODE as PLAN_CODE
from kassa.core.clock import utc
from kassa.core.discounts import COUPON_CODE
from kassa.core.errors import DomainError
from kassa.core.metadata import MAX_KEY_LENGTH, MAX_VALUE_LENGTH
from kassa.core.metering import CODE as METRIC_CODE
from kassa.core.money import Money, currency, currency_code
from kassa.core.subscriptions import MAX_TRIAL_DAYS, Status

ERROR = "invalid_offer"
MAX_DEPTH = 8  # levels of nesting, the whole condition being level 1
MAX_LEAVES = 50
MAX_LIST = 100  # values of one in / not_in
MAX_PRIORITY = 1_000_000
CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_WHOLE = re.compile(r"[0-9]{1,15}")
_DECIMAL = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,12})?")  # usage keeps up to 12 decimals, like prices
_MISSING = object()

# The documented set of fields a condition may name: its type, what it holds.
FIELDS: Mapping[str, str] = {
    "customer.country": "text: the ISO 3166 alpha-2 country of the customer's address",
    "customer.currency": "text: the ISO 4217 currency the customer is billed in",
    "customer.segment": 'text: the customer\'s metadata key "segment"',
    "customer.metadata.<key>": "text: any metadata key of the customer",
    "customer.tenure_days": "whole number: days since the customer was created",
    "subscription.plan": "text set: the plan codes of the customer's current subscriptions",
    "subscription.status": "text set: the statuses of the customer's current subscriptions",
    "usage.<metric>": "decimal: the quantity of a billable metric used in the current period",
    "invoices.paid_count": "whole number: invoices paid",
    "invoices.overdue_count": "whole number: invoices past their due date and not paid",
    "lead.source": "text: where the lead the customer came from was found",
    "lead.campaign": "text: the campaign of that lead",
}


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    IN = "in"
    NOT_IN = "not_in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EXISTS = "exists"


_OPS = frozenset(op.value for op in Op)
TEXT_OPS = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.EXISTS)
NUMBER_OPS = (Op.EQ, Op.NE, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.EXISTS)
_ORDERED = {Op.GT: ("above", "not above"), Op.GTE: ("at least", "below"),
            Op.LT: ("below", "not below"), Op.LTE: ("at most", "above")}  # fmt: skip

_COMPARE: Mapping[Op, Callable[[Any, Any], Any]] = {
    Op.GT: operator.gt,
    Op.GTE: operator.ge,
    Op.LT: operator.lt,
    Op.LTE: operator.le,
}

# --- the offer -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanBenefit:
    plan: str  # subscribe to this plan


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponBenefit:
    coupon: str  # redeem this coupon


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialBenefit:
    plan: str
    days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceBenefit:
    plan: str
    price: Money  # the plan's recurring price for this customer, in place of the catalog's


Benefit = PlanBenefit | CouponBenefit | TrialBenefit | PriceBenefit


@dataclass(frozen=True, slots=True, kw_only=True)
class Compare:
    field: str
    op: Op
    value: str | int | Decimal | tuple[str, ...] | None  # a tuple for in / not_in, None for exists


@dataclass(frozen=True, slots=True, kw_only=True)
class AllOf:
    conditions: tuple[Condition, ...]  # () only as the whole condition: every customer


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Not:
    condition: Condition


Condition = Compare | AllOf | AnyOf | Not
EVERYONE = AllOf(conditions=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    code: str
    name: str
    description: str | None  # free text shown with the offer
    priority: int
    starts_at: datetime | None  # UTC, included
    ends_at: datetime | None  # UTC, excluded
    benefit: Benefit
    conditions: Condition


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What is known about one customer at one instant. Missing is None (or empty), never a made-up zero:
    the service puts 0 in `usage` for a metric the customer's plans meter but did not use."""

    country: str | None
    currency: str
    metadata: Mapping[str, str]
    tenure_days: int
    plans: frozenset[str]
    statuses: frozenset[str]
    usage: Mapping[str, Decimal]
    paid_invoices: int
    overdue_invoices: int
    lead_source: str | None
    lead_campaign: str | None

    def __post_init__(self) -> None:
        for name, quantity in self.usage.items():
            if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
                raise TypeError(f"usage {name!r} is a Decimal, not {type(quantity).__name__}")
        object.__setattr__(self, "usage", {k: Decimal(v) for k, v in self.usage.items()})
        object.__setattr__(self, "metadata", dict(self.metadata))
        object.__setattr__(self, "plans", frozenset(self.plans))
        object.__setattr__(self, "statuses", frozenset(self.statuses))


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    code: str
    applies: bool
    reasons: tuple[str, ...]
    offer: Offer


# --- the fields ----------------------------------------------------------------------------------------

Actual = str | int | Decimal | frozenset[str] | None


@dataclass(frozen=True, slots=True)
class _Field:
    number: type | None  # int or Decimal; None for text
    check: Callable[[str], bool]  # a valid text value
    what: str  # what a value is, for the message
    read: Callable[[Facts, str], Actual]  # the fact; the str is the key of a prefixed field


def _text(value: str) -> bool:
    return 1 <= len(value) <= MAX_VALUE_LENGTH


def _is_currency(value: str) -> bool:
    try:
        currency(value)
    except DomainError:
        return False
    return True


_STATUSES = frozenset(s.value for s in Status)
_TEXT_WHAT = f"text of 1 to {MAX_VALUE_LENGTH} characters"
_NUMBER: Callable[[str], bool] = bool  # numbers are checked by type, not by this
_EXACT: Mapping[str, _Field] = {
    "customer.country": _Field(None, lambda v: bool(_COUNTRY.fullmatch(v)), "an ISO 3166 alpha-2 code like DE",
                               lambda f, _: f.country),
    "customer.currency": _Field(None, _is_currency, "an ISO 4217 code like EUR", lambda f, _: f.currency),
    "customer.segment": _Field(None, _text, _TEXT_WHAT, lambda f, _: f.metadata.get("segment")),
    "customer.tenure_days": _Field(int, _NUMBER, "", lambda f, _: f.tenure_days),
    "subscription.plan": _Field(None, lambda v: bool(PLAN_CODE.fullmatch(v)), "a plan code like team",
                                lambda f, _: f.plans or None),
    "subscription.status": _Field(None, _STATUSES.__contains__, f"one of {', '.join(Status)}",
                                  lambda f, _: f.statuses or None),  # fmt: skip
    "invoices.paid_count": _Field(int, _NUMBER, "", lambda f, _: f.paid_invoices),
    "invoices.overdue_count": _Field(int, _NUMBER, "", lambda f, _: f.overdue_invoices),
    "lead.source": _Field(None, _text, _TEXT_WHAT, lambda f, _: f.lead_source),
    "lead.campaign": _Field(None, _text, _TEXT_WHAT, lambda f, _: f.lead_campaign),
}  # fmt: skip
_METADATA = _Field(None, _text, _TEXT_WHAT, lambda f, key: f.metadata.get(key))
_USAGE = _Field(Decimal, _NUMBER, "", lambda f, metric: f.usage.get(metric))


def _field(name: str) -> tuple[_Field, str] | None:
    if name in _EXACT:
        return _EXACT[name], ""
    if name.startswith("customer.metadata."):
        key = name.removeprefix("customer.metadata.")
        return (_METADATA, key) if 1 <= len(key) <= MAX_KEY_LENGTH else None
    if name.startswith("usage."):
        metric = name.removeprefix("usage.")
        return (_USAGE, metric) if METRIC_CODE.fullmatch(metric) else None
    return None


# --- the document --------------------------------------------------------------------------------------


def _error(path: str | None, message: str) -> DomainError:
    return DomainError(ERROR, message, path)


def _object(value: Any, path: str, allowed: Iterable[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error(path or None, f"{what} is an object.")
    for key in value:
        if key not in allowed:
            raise _error(f"{path}.{key}" if path else str(key), f"Unknown field {key!r}.")
    return value


def offer_from_doc(doc: Any) -> Offer:
    """The checked offer; DomainError("invalid_offer", message, path) names the first fault."""
    doc = _object(doc, "", ("code", "name", "description", "priority", "starts_at", "ends_at",
                            "benefit", "conditions"), "An offer")  # fmt: skip
    code = doc.get("code")
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise _error("code", "A code is 1 to 64 lowercase letters, digits, '_' or '-', like loyal-upgrade.")
    name = doc.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
        raise _error("name", "A name is 1 to 200 characters.")
    description = doc.get("description")
    if description is not None and (not isinstance(description, str) or not 1 <= len(description) <= 1000):
        raise _error("description", "A description is 1 to 1000 characters, or left out.")
    priority = doc.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:
        raise _error("priority", f"priority is a whole number from -{MAX_PRIORITY} to {MAX_PRIORITY}.")
    starts_at, ends_at = _instant(doc.get("starts_at"), "starts_at"), _instant(doc.get("ends_at"), "ends_at")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise _error("ends_at", "ends_at is later than starts_at.")
    if "conditions" not in doc:
        raise _error("conditions", 'Give conditions; {"all": []} offers it to every customer.')
    return Offer(code=code, name=name.strip(), description=description, priority=priority,
                 starts_at=starts_at, ends_at=ends_at, benefit=_benefit(doc.get("benefit")),
                 conditions=_root(doc["conditions"]))  # fmt: skip


def _instant(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    instant = None
    if isinstance(value, str) and 10 < len(value) <= 40:
        try:
            instant = datetime.fromisoformat(value)
            instant = instant.astimezone(UTC) if instant.utcoffset() is not None else None
        except (ValueError, OverflowError):
            instant = None
    if instant is None:
        raise _error(path, f"{path} is an instant with its offset, like 2027-11-26T00:00:00+01:00.")
    return instant


def _benefit(value: Any) -> Benefit:
    kinds = {"plan": ("plan",), "coupon": ("coupon",), "trial": ("plan", "days"), "price": ("plan", "price")}
    if not isinstance(value, dict):
        raise _error("benefit", 'benefit is an object like {"type": "plan", "plan": "team"}.')
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in kinds:
        raise _error("benefit.type", f"type is one of {', '.join(kinds)}.")
    _object(value, "benefit", ("type", *kinds[kind]), "benefit")
    for key in kinds[kind]:
        if key not in value:
            raise _error(f"benefit.{key}", f"A {kind} offer names its {key}.")
    if kind == "coupon":
        if not isinstance(value["coupon"], str) or not COUPON_CODE.fullmatch(value["coupon"]):
            raise _error("benefit.coupon", "A coupon code is 1 to 64 letters, digits, '_' or '-'.")
        return CouponBenefit(coupon=value["coupon"])
    plan = value["plan"]
    if not isinstance(plan, str) or not PLAN_CODE.fullmatch(plan):
        raise _error("benefit.plan", "A plan code is lowercase letters, digits, '.', '_' or '-'.")
    if kind == "trial":
        days = value["days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TRIAL_DAYS:
            raise _error("benefit.days", f"A trial lasts 1 to {MAX_TRIAL_DAYS} days.")
        return TrialBenefit(plan=plan, days=days)
    if kind == "price":
        return PriceBenefit(plan=plan, price=_price(value["price"]))
    return PlanBenefit(plan=plan)


def _price(value: Any) -> Money:
    price = _object(value, "benefit.price", ("amount", "currency"), "A price")
    try:
        code = currency_code(price.get("currency"), "benefit.price.currency")
        money = Money.parse(price.get("amount"), code, field="benefit.price.amount")  # type: ignore[arg-type]
    except DomainError as error:
        raise _error(error.field, error.message) from None
    if money.amount < 0:
        raise _error("benefit.price.amount", "A price is 0 or more.")
    return money


def _root(node: Any) -> Condition:
    if node == {"all": []}:
        return EVERYONE
    return _condition(node, "conditions", 1, [0])


def _condition(node: Any, path: str, depth: int, leaves: list[int]) -> Condition:
    if depth > MAX_DEPTH:
        raise _error(path, f"Conditions nest at most {MAX_DEPTH} levels deep.")
    if not isinstance(node, dict):
        raise _error(path, "A condition is an object: all, any, not or a field comparison.")
    groups = [key for key in ("all", "any", "not") if key in node]
    if not groups:
        return _compare(node, path, leaves)
    if len(node) != 1:
        raise _error(path, "A condition is exactly one of all, any, not, or a field comparison.")
    key = groups[0]
    inner = node[key]
    if key == "not":
        if not isinstance(inner, dict):
            raise _error(f"{path}.not", "not holds one condition (an object).")
        return Not(condition=_condition(inner, f"{path}.not", depth + 1, leaves))
    if not isinstance(inner, list) or not inner:
        raise _error(f"{path}.{key}", f'{key} is a list of one or more conditions (only the whole condition may be {{"all": []}}).')  # fmt: skip
    items = tuple(_condition(item, f"{path}.{key}.{i}", depth + 1, leaves) for i, item in enumerate(inner))
    return AllOf(conditions=items) if key == "all" else AnyOf(conditions=items)


def _compare(node: dict[str, Any], path: str, leaves: list[int]) -> Compare:
    leaves[0] += 1
    if leaves[0] > MAX_LEAVES:
        raise _error(path, f"An offer has at most {MAX_LEAVES} comparisons.")
    _object(node, path, ("field", "op", "value"), "A comparison")
    name = node.get("field")
    if not isinstance(name, str) or (found := _field(name)) is None:
        raise _error(f"{path}.field", f"Unknown field {name!r}; the fields are {', '.join(FIELDS)}.")
    spec = found[0]
    op_text = node.get("op")
    if not isinstance(op_text, str) or op_text not in _OPS:
        raise _error(f"{path}.op", f"op is one of {', '.join(Op)}.")
    op = Op(op_text)
    allowed = NUMBER_OPS if spec.number else TEXT_OPS
    if op not in allowed:
        does = "compares numbers" if op in _ORDERED else "matches text"
        raise _error(f"{path}.op", f"{op} {does}; {name} takes {', '.join(allowed)}.")
    value = node.get("value", _MISSING)
    if op is Op.EXISTS:
        if value is not _MISSING:
            raise _error(f"{path}.value", "exists takes no value.")
        return Compare(field=name, op=op, value=None)
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            raise _error(f"{path}.value", f"{op} takes a list of 1 to {MAX_LIST} values.")
        texts = (_one(spec, name, item, f"{path}.value.{i}") for i, item in enumerate(value))
        return Compare(field=name, op=op, value=tuple(dict.fromkeys(texts)))  # type: ignore[arg-type]
    return Compare(field=name, op=op, value=_one(spec, name, value, f"{path}.value"))


def _one(spec: _Field, name: str, value: Any, path: str) -> str | int | Decimal:
    if spec.number is None:
        if not isinstance(value, str) or not spec.check(value):
            raise _error(path, f"{name} is compared with {spec.what}.")
        return value
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise _error(path, 'A number is a whole number or a decimal string like "100.5", never a float.')
    if spec.number is int:
        if isinstance(value, int) and 0 <= value < 10**15:
            return value
        if isinstance(value, str) and _WHOLE.fullmatch(value):
            return int(value)
        raise _error(path, f"{name} is compared with a whole number from 0, like 90.")
    if isinstance(value, int) and abs(value) < 10**15:
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return Decimal(value)
    raise _error(path, f'{name} is compared with a decimal like "100.5" (at most 12 decimals).')


def to_doc(offer: Offer) -> dict[str, Any]:
    """The canonical document: offer_from_doc(to_doc(o)) == o; whole numbers as numbers, decimals as text."""
    return {
        "code": offer.code,
        "name": offer.name,
        "description": offer.description,
        "priority": offer.priority,
        "starts_at": None if offer.starts_at is None else offer.starts_at.isoformat(),
        "ends_at": None if offer.ends_at is None else offer.ends_at.isoformat(),
        "benefit": _benefit_doc(offer.benefit),
        "conditions": _condition_doc(offer.conditions),
    }


def _benefit_doc(benefit: Benefit) -> dict[str, Any]:
    if isinstance(benefit, CouponBenefit):
        return {"type": "coupon", "coupon": benefit.coupon}
    if isinstance(benefit, TrialBenefit):
        return {"type": "trial", "plan": benefit.plan, "days": benefit.days}
    if isinstance(benefit, PriceBenefit):
        price = {"amount": benefit.price.amount_text(), "currency": benefit.price.currency}
        return {"type": "price", "plan": benefit.plan, "price": price}
    return {"type": "plan", "plan": benefit.plan}


def _condition_doc(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, Not):
        return {"not": _condition_doc(condition.condition)}
    if isinstance(condition, AllOf | AnyOf):
        key = "all" if isinstance(condition, AllOf) else "any"
        return {key: [_condition_doc(c) for c in condition.conditions]}
    node: dict[str, Any] = {"field": condition.field, "op": condition.op.value}
    value = condition.value
    if isinstance(value, tuple):
        node["value"] = list(value)
    elif isinstance(value, Decimal):
        node["value"] = _number_text(value)
    elif value is not None:
        node["value"] = value
    return node


def _number_text(value: Decimal) -> str:
    return format(value.normalize(), "f")  # 1E+4 -> "10000": one spelling, never an exponent


# --- evaluation ----------------------------------------------------------------------------------------


def evaluate(offers: Iterable[Offer], facts: Facts, at: datetime) -> list[Decision]:
    """Every offer's decision at `at`, by priority (higher first), then code. Codes are unique: two
    versions of one offer at once would make "which applies" a guess."""
    at = utc(at)
    offers = tuple(offers)
    seen: set[str] = set()
    for i, offer in enumerate(offers):
        if offer.code in seen:
            raise DomainError(
                "duplicate_offer", f"Two offers have the code {offer.code!r}.", f"offers.{i}.code"
            )
        seen.add(offer.code)
    decisions = [_decide(offer, facts, at) for offer in offers]
    return sorted(decisions, key=lambda d: (-d.offer.priority, d.code))


def _decide(offer: Offer, facts: Facts, at: datetime) -> Decision:
    reasons: list[str] = []
    inside = True
    if offer.starts_at is not None and at < offer.starts_at:
        inside = False
        reasons.append(f"not valid before {offer.starts_at.isoformat()}")
    elif offer.ends_at is not None and at >= offer.ends_at:
        inside = False
        reasons.append(f"no longer valid since {offer.ends_at.isoformat()}")
    elif offer.ends_at is not None:
        reasons.append(f"valid until {offer.ends_at.isoformat()}")
    if offer.conditions == EVERYONE:
        met = True
        reasons.append("no conditions: every customer")
    else:
        met = _holds(offer.conditions, facts, False, reasons)
    billable = True
    if isinstance(offer.benefit, PriceBenefit) and offer.benefit.price.currency != facts.currency:
        billable = False
        reasons.append(
            f"the price is in {offer.benefit.price.currency}, customer.currency is {facts.currency}"
        )
    return Decision(code=offer.code, applies=inside and met and billable, reasons=tuple(reasons), offer=offer)


def _holds(condition: Condition, facts: Facts, negated: bool, reasons: list[str]) -> bool:
    """Whether `condition` holds; appends every leaf's sentence (no short cut: each leaf is a reason).
    `negated` is whether an odd number of nots encloses it, so the sentence says what was wanted."""
    if isinstance(condition, Not):
        return not _holds(condition.condition, facts, not negated, reasons)
    if isinstance(condition, AllOf):
        return all([_holds(c, facts, negated, reasons) for c in condition.conditions])
    if isinstance(condition, AnyOf):
        return any([_holds(c, facts, negated, reasons) for c in condition.conditions])
    found = _field(condition.field)
    if found is None:  # only a Compare built by hand, not from a document, can get here
        raise _error("field", f"Unknown field {condition.field!r}.")
    spec, key = found
    actual = spec.read(facts, key)
    result = _test(condition.op, actual, condition.value)
    reasons.append(_sentence(condition, actual, result, negated))
    return result


def _test(op: Op, actual: Actual, value: Any) -> bool:
    if op is Op.EXISTS:
        return actual is not None
    if op in (Op.NE, Op.NOT_IN):
        return not _test(Op.EQ if op is Op.NE else Op.IN, actual, value)
    if actual is None:
        return False
    if op is Op.EQ:
        return value in actual if isinstance(actual, frozenset) else bool(actual == value)
    if op is Op.IN:
        return not actual.isdisjoint(value) if isinstance(actual, frozenset) else actual in value
    if not isinstance(actual, int | Decimal):  # ordered ops are refused on text fields when parsed
        return False
    return bool(_COMPARE[op](actual, value))


def _show(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, frozenset | tuple):
        return ", ".join(sorted(value) if isinstance(value, frozenset) else value)
    return _number_text(value) if isinstance(value, Decimal) else str(value)


def _sentence(leaf: Compare, actual: Actual, result: bool, negated: bool) -> str:
    """One fact and how it compares. Ordered comparisons state a fact that reads the same under a not;
    the others name what was wanted, so under a not `in` reads as `not_in` and `exists` as "no value"."""
    name, subject, v = leaf.field, f"{leaf.field} is {_show(actual)}", _show(leaf.value)
    if leaf.op in _ORDERED:
        yes, no = _ORDERED[leaf.op]
        return (
            f"{name} is not set, so not {yes} {v}"
            if actual is None
            else f"{subject}, {yes if result else no} {v}"
        )
    wanted = {Op.EQ: Op.NE, Op.NE: Op.EQ, Op.IN: Op.NOT_IN, Op.NOT_IN: Op.IN}.get(leaf.op, leaf.op) if negated else leaf.op  # fmt: skip
    met = result is not negated
    if leaf.op is Op.EXISTS:
        return subject if met or not negated else f"{subject} (wanted no value)"
    return {
        (Op.EQ, True): subject,
        (Op.EQ, False): f"{subject}, not {v}",
        (Op.NE, True): f"{subject}, not {v}",
        (Op.NE, False): f"{subject} (wanted anything but {v})",
        (Op.IN, True): f"{subject} (wanted one of {v})",
        (Op.IN, False): f"{subject}, not one of {v}",
        (Op.NOT_IN, True): f"{subject}, not one of {v}",
        (Op.NOT_IN, False): f"{subject} (wanted none of {v})",
    }[(wanted, met)]


# --- versions ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferVersion:
    """One stored version of an offer; `offer` None is a withdrawal (the code answers 404 until put again)."""

    code: str
    version: int
    offer: Offer | None
    created_at: datetime
