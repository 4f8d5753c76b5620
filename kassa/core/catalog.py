"""The catalog: what can be sold and at what price. A catalog is a document (YAML or JSON, parsed by the
caller into plain data) that `parse_catalog` validates whole: the first problem is reported with its exact
path in the document (`products.0.plans.1.phases.2.prices.EUR.flat`) and nothing is applied.

Shape (see examples/catalog.yaml and docs/catalog.md):
  products: [{code, name, description?, plans: [plan, ...]}]
  plan: {code, name, billing_period, phases: [phase, ...], addons?: {available: [code], included: {code: qty}},
         change_policy?: policy | {upgrade: policy, downgrade: policy}, requires_payment_method?: bool}
  phase: {type: trial, duration: {days: 14}} | {type: discount, cycles: 3, prices, timing?}
         | {type: evergreen, prices, timing?} | {type: fixed_term, cycles: 12, at_end: renew|end, prices, timing?}
  prices: {EUR: {flat: "49.00", per_unit: "9.00", setup: "99.00"}, USD: {...}}
  addons: [{code, name, billing_period, prices, timing?}]
  families: [{code, name?, plans: [lowest, ..., highest]}]
  charges (on a plan): [{metric, model, prices: {EUR: {...}}, timing?, included?, flat_fee_at_zero?}]
  minimum_spend (on a plan): {EUR: "100.00"}  (usage charges below it are trued up each period)
  entitlements (on a plan or add-on): {sso: true, projects: 10, api-calls: {metric, quantity}}
  provisioning (on a plan): [{code, on: [started|changed|ended], webhook | email | task}]
  existing_subscriptions_from?: date  (new prices reach existing subscriptions then, not at their renewal)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kassa.core.entitlements import Grant, parse_grants
from kassa.core.errors import DomainError
from kassa.core.money import Money, currency_code
from kassa.core.periods import BillingPeriod, Duration, billing_period, duration
from kassa.core.provisioning import Step, parse_steps
from kassa.core.rating import UsageCharge, parse_charge
from kassa.core.rating.parsing import obj as _object

CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_ITEMS = 500
MAX_CYCLES = 1200


class Timing(StrEnum):
    IN_ADVANCE = "in_advance"
    IN_ARREARS = "in_arrears"


class PhaseType(StrEnum):
    TRIAL = "trial"
    DISCOUNT = "discount"
    EVERGREEN = "evergreen"
    FIXED_TERM = "fixed_term"


class TermEnd(StrEnum):
    RENEW = "renew"
    END = "end"


class ChangePolicy(StrEnum):
    IMMEDIATE = "immediate"  # now, with a prorated credit and charge
    IMMEDIATE_NO_PRORATION = "immediate_no_proration"  # now; the new price from the next period
    END_OF_PERIOD = "end_of_period"


class Direction(StrEnum):
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    """One currency's prices: per billing period a flat fee and a fee per unit (seat); once, a setup fee."""

    flat: Decimal = Decimal(0)
    per_unit: Decimal = Decimal(0)
    setup: Decimal = Decimal(0)

    def to_json(self) -> dict[str, str]:
        return {k: str(getattr(self, k)) for k in ("flat", "per_unit", "setup") if getattr(self, k)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    type: PhaseType
    duration: Duration | None = None  # trials
    cycles: int | None = None  # discount and fixed-term phases: billing periods
    at_end: TermEnd | None = None  # fixed term
    timing: Timing = Timing.IN_ADVANCE
    prices: Mapping[str, Price] = field(default_factory=dict)

    @property
    def billable(self) -> bool:
        return self.type is not PhaseType.TRIAL


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    code: str
    name: str
    product: str
    billing_period: BillingPeriod
    phases: tuple[Phase, ...]
    addons_available: tuple[str, ...] = ()  # in the document's order (error paths point into it)
    addons_included: Mapping[str, int] = field(default_factory=dict)
    upgrade_policy: ChangePolicy = ChangePolicy.IMMEDIATE
    downgrade_policy: ChangePolicy = ChangePolicy.END_OF_PERIOD
    requires_payment_method: bool = False  # enforced at trial end once payment methods exist
    charges: tuple[UsageCharge, ...] = ()  # usage, one charge per billable metric
    minimum_spend: Mapping[str, Decimal] = field(default_factory=dict)  # per currency, per period
    entitlements: Mapping[str, Grant] = field(default_factory=dict)  # by feature code
    provisioning: tuple[Step, ...] = ()

    def charge(self, metric: str) -> UsageCharge | None:
        return next((c for c in self.charges if c.metric == metric), None)

    @property
    def currencies(self) -> frozenset[str]:
        paid = [p for p in self.phases if p.billable]
        return frozenset(paid[0].prices) if paid else frozenset()

    def policy(self, direction: Direction) -> ChangePolicy:
        return self.upgrade_policy if direction is Direction.UPGRADE else self.downgrade_policy


@dataclass(frozen=True, slots=True, kw_only=True)
class Addon:
    code: str
    name: str
    billing_period: BillingPeriod
    timing: Timing = Timing.IN_ADVANCE
    prices: Mapping[str, Price] = field(default_factory=dict)
    tax_category: str = "standard"
    entitlements: Mapping[str, Grant] = field(default_factory=dict)  # by feature code, per unit bought


# The product tax categories kassa.core.tax knows (its TaxCategory values).
TAX_CATEGORIES = ("standard", "reduced", "zero", "exempt", "digital_service")


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    code: str
    name: str
    description: str | None = None
    tax_category: str = "standard"  # decides the rate, and for digital services where the supply is taxed


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    code: str
    name: str
    plans: tuple[str, ...]  # lowest first


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    name: str | None
    products: Mapping[str, Product]
    plans: Mapping[str, Plan]
    addons: Mapping[str, Addon]
    families: Mapping[str, Family]
    existing_subscriptions_from: date | None = None

    def plan(self, code: str, field_name: str = "plan") -> Plan:
        try:
            return self.plans[code]
        except KeyError:
            raise DomainError("plan_not_found", f"The catalog has no plan {code!r}.", field_name) from None

    def family_of(self, plan: str) -> Family | None:
        return next((f for f in self.families.values() if plan in f.plans), None)

    def direction(self, current: str, target: str) -> Direction:
        """Upgrade or downgrade by the plans' order in their family; plans of one family only."""
        family = self.family_of(current)
        if family is None or target not in family.plans:
            raise DomainError(
                "plan_change_not_allowed",
                f"{current!r} and {target!r} are not in one plan family, so one cannot replace the other.",
                "plan",
            )
        return (
            Direction.UPGRADE
            if family.plans.index(target) >= family.plans.index(current)
            else Direction.DOWNGRADE
        )


# ---- parsing -------------------------------------------------------------------------------------------


def _fail(path: str, message: str, code: str = "invalid_catalog") -> DomainError:
    return DomainError(code, message, path)


def _list(value: Any, path: str, *, allow_empty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (not value and not allow_empty) or len(value) > MAX_ITEMS:
        raise _fail(path, f"Expected a list of 1 to {MAX_ITEMS} items.")
    return value


def _code(value: Any, path: str) -> str:
    if not isinstance(value, str) or not CODE.fullmatch(value):
        raise _fail(
            path,
            "A code is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return value


def _text(value: Any, path: str, *, limit: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _fail(path, f"Expected text of 1 to {limit} characters.")
    return value.strip()


def _count(value: Any, path: str, limit: int = MAX_CYCLES) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        raise _fail(path, f"Expected a whole number from 1 to {limit}.")
    return value


def _amount(value: Any, currency: str, path: str) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _fail(path, 'A price is a string like "12.34" (a float would not be exact).', "invalid_amount")
    try:
        money = Money.parse(value, currency, field=path)
    except DomainError as error:
        error.field = path
        raise
    if money.amount < 0:
        raise _fail(path, "A price is not negative.", "invalid_amount")
    return money.amount


def _prices(value: Any, path: str) -> dict[str, Price]:
    if not isinstance(value, dict) or not value:
        raise _fail(path, 'Expected prices per currency: {"EUR": {"flat": "10.00"}}.')
    prices = {}
    for key, item in value.items():
        code = currency_code(key, f"{path}.{key}")
        where = f"{path}.{key}"
        body = _object(item, where, set(), {"flat", "per_unit", "setup"})
        if not body:
            raise _fail(where, "Give at least one of flat, per_unit, setup.")
        prices[code] = Price(**{k: _amount(v, code, f"{where}.{k}") for k, v in body.items()})
    return prices


def _timing(value: Any, path: str) -> Timing:
    try:
        return Timing(value)
    except ValueError:
        raise _fail(path, "timing is in_advance or in_arrears.") from None


def _phase(value: Any, path: str) -> Phase:
    if not isinstance(value, dict) or "type" not in value:
        raise _fail(
            f"{path}.type" if isinstance(value, dict) else path,
            "A phase has a type: trial, discount, evergreen or fixed_term.",
        )
    try:
        kind = PhaseType(value["type"])
    except ValueError:
        raise _fail(f"{path}.type", "A phase type is trial, discount, evergreen or fixed_term.") from None
    if kind is PhaseType.TRIAL:
        body = _object(value, path, {"type", "duration"}, set())
        return Phase(type=kind, duration=_duration(body["duration"], f"{path}.duration"))
    required = {"type", "prices"} | ({"cycles"} if kind is not PhaseType.EVERGREEN else set())
    required |= {"at_end"} if kind is PhaseType.FIXED_TERM else set()
    body = _object(value, path, required, {"timing"})
    at_end = None
    if kind is PhaseType.FIXED_TERM:
        try:
            at_end = TermEnd(body["at_end"])
        except ValueError:
            raise _fail(f"{path}.at_end", "at_end is renew or end.") from None
    return Phase(
        type=kind,
        cycles=_count(body["cycles"], f"{path}.cycles") if "cycles" in body else None,
        at_end=at_end,
        timing=_timing(body.get("timing", "in_advance"), f"{path}.timing"),
        prices=_prices(body["prices"], f"{path}.prices"),
    )


def _tax_category(value: Any, path: str) -> str:
    if value not in TAX_CATEGORIES:
        raise _fail(path, f"tax_category is one of {', '.join(TAX_CATEGORIES)}.", "invalid_tax_category")
    return str(value)


def _duration(value: Any, path: str) -> Duration:
    try:
        return duration(value, path)
    except DomainError as error:
        raise _fail(error.field or path, error.message) from None


def _period(value: Any, path: str) -> BillingPeriod:
    try:
        return billing_period(value, path)
    except DomainError as error:
        raise _fail(error.field or path, error.message) from None


def _phases(value: Any, path: str) -> tuple[Phase, ...]:
    phases = tuple(_phase(item, f"{path}.{i}") for i, item in enumerate(_list(value, path)))
    for i, phase in enumerate(phases):
        where = f"{path}.{i}"
        if phase.type is PhaseType.TRIAL and i != 0:
            raise _fail(f"{where}.type", "Only the first phase can be a trial.")
        last = i == len(phases) - 1
        if phase.type in (PhaseType.EVERGREEN, PhaseType.FIXED_TERM) and not last:
            raise _fail(
                f"{where}.type", f"The {phase.type.value} phase is the last phase: nothing comes after it."
            )
        if last and phase.type not in (PhaseType.EVERGREEN, PhaseType.FIXED_TERM):
            raise _fail(
                f"{where}.type",
                "The last phase is evergreen or fixed_term, so the plan says what happens after it.",
            )
    paid = [(i, p) for i, p in enumerate(phases) if p.billable]
    currencies = set(paid[0][1].prices)
    for i, phase in paid[1:]:
        if set(phase.prices) != currencies:
            missing = sorted(currencies ^ set(phase.prices))[0]
            raise _fail(
                f"{path}.{i}.prices",
                f"Every paid phase is priced in the same currencies; {missing} is not in all of them.",
            )
    return phases


def _policy(value: Any, path: str) -> tuple[ChangePolicy, ChangePolicy]:
    def one(item: Any, where: str) -> ChangePolicy:
        try:
            return ChangePolicy(item)
        except ValueError:
            names = ", ".join(p.value for p in ChangePolicy)
            raise _fail(where, f"A change policy is one of {names}.") from None

    if isinstance(value, str):
        policy = one(value, path)
        return policy, policy
    body = _object(value, path, set(), {"upgrade", "downgrade"})
    return (
        one(body.get("upgrade", "immediate"), f"{path}.upgrade"),
        one(body.get("downgrade", "end_of_period"), f"{path}.downgrade"),
    )


def _plan(value: Any, path: str, product: str) -> Plan:
    body = _object(
        value,
        path,
        {"code", "name", "billing_period", "phases"},
        {
            "addons",
            "change_policy",
            "requires_payment_method",
            "charges",
            "minimum_spend",
            "entitlements",
            "provisioning",
        },
    )
    available: tuple[str, ...] = ()
    included: dict[str, int] = {}
    if "addons" in body:
        where = f"{path}.addons"
        addons = _object(body["addons"], where, set(), {"available", "included"})
        names = _list(addons.get("available", []), f"{where}.available", allow_empty=True)
        available = tuple(_code(n, f"{where}.available.{i}") for i, n in enumerate(names))
        raw = addons.get("included", {})
        if not isinstance(raw, dict):
            raise _fail(f"{where}.included", "included maps add-on codes to quantities: {sso: 1}.")
        included = {
            _code(k, f"{where}.included.{k}"): _count(v, f"{where}.included.{k}", 10_000)
            for k, v in raw.items()
        }
    upgrade, downgrade = _policy(body.get("change_policy", {}), f"{path}.change_policy")
    requires = body.get("requires_payment_method", False)
    if not isinstance(requires, bool):
        raise _fail(f"{path}.requires_payment_method", "Expected true or false.")
    phases = _phases(body["phases"], f"{path}.phases")
    currencies = set(next(p for p in phases if p.billable).prices)
    charges = _charges(body.get("charges", []), f"{path}.charges", currencies)
    minimum: dict[str, Decimal] = {}
    if "minimum_spend" in body:
        where = f"{path}.minimum_spend"
        raw = body["minimum_spend"]
        if not isinstance(raw, dict) or set(map(str, raw)) != currencies:
            raise _fail(where, f"A minimum spend per currency the plan is sold in: {sorted(currencies)}.")
        minimum = {code: _amount(v, code, f"{where}.{code}") for code, v in raw.items()}
    return Plan(
        code=_code(body["code"], f"{path}.code"),
        name=_text(body["name"], f"{path}.name"),
        product=product,
        billing_period=_period(body["billing_period"], f"{path}.billing_period"),
        phases=phases,
        addons_available=available,
        addons_included=included,
        upgrade_policy=upgrade,
        downgrade_policy=downgrade,
        requires_payment_method=requires,
        charges=charges,
        minimum_spend=minimum,
        entitlements=parse_grants(body["entitlements"], f"{path}.entitlements")
        if "entitlements" in body
        else {},
        provisioning=parse_steps(body["provisioning"], f"{path}.provisioning")
        if "provisioning" in body
        else (),
    )


def _charges(value: Any, path: str, currencies: set[str]) -> tuple[UsageCharge, ...]:
    charges: list[UsageCharge] = []
    for i, item in enumerate(_list(value, path, allow_empty=True)):
        where = f"{path}.{i}"
        charge = parse_charge(item, where, currency_code)
        if any(c.metric == charge.metric for c in charges):
            raise _fail(
                f"{where}.metric",
                f"Metric {charge.metric!r} is already priced by this plan.",
                "duplicate_code",
            )
        missing = sorted(currencies - set(charge.prices))
        if missing:
            raise _fail(
                f"{where}.prices",
                f"No {missing[0]} price; the plan is sold in {missing[0]}.",
                "price_missing",
            )
        extra = sorted(set(charge.prices) - currencies)
        if extra:
            raise _fail(f"{where}.prices.{extra[0]}", f"The plan is not sold in {extra[0]}.")
        charges.append(charge)
    return tuple(charges)


def _addon(value: Any, path: str) -> Addon:
    body = _object(
        value, path, {"code", "name", "billing_period", "prices"}, {"timing", "tax_category", "entitlements"}
    )
    return Addon(
        code=_code(body["code"], f"{path}.code"),
        name=_text(body["name"], f"{path}.name"),
        billing_period=_period(body["billing_period"], f"{path}.billing_period"),
        timing=_timing(body.get("timing", "in_advance"), f"{path}.timing"),
        prices=_prices(body["prices"], f"{path}.prices"),
        tax_category=_tax_category(body.get("tax_category", "standard"), f"{path}.tax_category"),
        entitlements=parse_grants(body["entitlements"], f"{path}.entitlements")
        if "entitlements" in body
        else {},
    )


def _unique(codes: dict[str, str], code: str, path: str, what: str) -> None:
    if code in codes:
        raise _fail(path, f"The {what} code {code!r} is already used at {codes[code]}.", "duplicate_code")
    codes[code] = path


def parse_catalog(document: Any) -> Catalog:
    """A validated catalog from a parsed document, or the first problem found, with its path."""
    body = _object(document, "", {"products"}, {"name", "addons", "families", "existing_subscriptions_from"})
    name = _text(body["name"], "name") if body.get("name") is not None else None
    products: dict[str, Product] = {}
    plans: dict[str, Plan] = {}
    addons: dict[str, Addon] = {}
    families: dict[str, Family] = {}
    seen: dict[str, dict[str, str]] = {
        "add-on": {},
        "product": {},
        "plan": {},
        "family": {},
    }  # one namespace per kind
    for i, item in enumerate(_list(body.get("addons", []), "addons", allow_empty=True)):
        addon = _addon(item, f"addons.{i}")
        _unique(seen["add-on"], addon.code, f"addons.{i}.code", "add-on")
        addons[addon.code] = addon
    plan_paths: dict[str, str] = {}
    for i, item in enumerate(_list(body["products"], "products")):
        path = f"products.{i}"
        product_body = _object(item, path, {"code", "name", "plans"}, {"description", "tax_category"})
        product = Product(
            code=_code(product_body["code"], f"{path}.code"),
            name=_text(product_body["name"], f"{path}.name"),
            description=_text(product_body["description"], f"{path}.description", limit=2000)
            if product_body.get("description") is not None
            else None,
            tax_category=_tax_category(product_body.get("tax_category", "standard"), f"{path}.tax_category"),
        )
        _unique(seen["product"], product.code, f"{path}.code", "product")
        products[product.code] = product
        for j, plan_item in enumerate(_list(product_body["plans"], f"{path}.plans")):
            plan_path = f"{path}.plans.{j}"
            plan = _plan(plan_item, plan_path, product.code)
            _unique(seen["plan"], plan.code, f"{plan_path}.code", "plan")
            plans[plan.code] = plan
            plan_paths[plan.code] = plan_path
    for code, plan in plans.items():
        _check_addons(plan, addons, plan_paths[code])
    family_of: dict[str, str] = {}
    for i, item in enumerate(_list(body.get("families", []), "families", allow_empty=True)):
        path = f"families.{i}"
        family_body = _object(item, path, {"code", "plans"}, {"name"})
        code = _code(family_body["code"], f"{path}.code")
        _unique(seen["family"], code, f"{path}.code", "family")
        members = _list(family_body["plans"], f"{path}.plans")
        for j, member in enumerate(members):
            where = f"{path}.plans.{j}"
            if member not in plans:
                raise _fail(where, f"No plan {member!r} in this catalog.", "plan_not_found")
            if member in family_of:
                raise _fail(
                    where,
                    f"Plan {member!r} is already in family {family_of[member]!r}; a plan has one family.",
                )
            family_of[member] = code
        families[code] = Family(
            code=code,
            name=_text(family_body["name"], f"{path}.name") if "name" in family_body else code,
            plans=tuple(members),
        )
    existing_from = body.get("existing_subscriptions_from")
    if existing_from is not None:
        existing_from = _date(existing_from, "existing_subscriptions_from")
    return Catalog(
        name=name, products=products, plans=plans, addons=addons, families=families,
        existing_subscriptions_from=existing_from,
    )  # fmt: skip


def _check_addons(plan: Plan, addons: Mapping[str, Addon], path: str) -> None:
    for i, code in enumerate(plan.addons_available):
        where = f"{path}.addons.available.{i}"
        addon = addons.get(code)
        if addon is None:
            raise _fail(where, f"No add-on {code!r} in this catalog.", "addon_not_found")
        if addon.billing_period != plan.billing_period:
            raise _fail(
                where,
                f"Add-on {code!r} is billed every {addon.billing_period}, the plan every {plan.billing_period}; "
                "an add-on follows its plan's billing period.",
            )
        missing = sorted(plan.currencies - set(addon.prices))
        if missing:
            raise _fail(where, f"Add-on {code!r} has no {missing[0]} price, which this plan is sold in.")
    for code in plan.addons_included:
        if code not in addons:
            raise _fail(
                f"{path}.addons.included.{code}", f"No add-on {code!r} in this catalog.", "addon_not_found"
            )
        if code in plan.addons_available:
            raise _fail(
                f"{path}.addons.included.{code}",
                f"Add-on {code!r} is either included or available, not both.",
            )


def _date(value: Any, path: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _fail(path, "Expected a date like 2027-01-01.")


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogVersion:
    """An applied catalog: in effect from `effective_at` until the next version's."""

    number: int
    effective_at: datetime
    catalog: Catalog


def in_effect(versions: Sequence[CatalogVersion], instant: datetime) -> CatalogVersion:
    """The version in effect at `instant` (versions in order of number)."""
    current = None
    for version in versions:
        if version.effective_at <= instant:
            current = version
    if current is None:
        raise DomainError(
            "no_catalog",
            f"No catalog is in effect at {instant.isoformat()}; apply one with an earlier effective date.",
        )
    return current
