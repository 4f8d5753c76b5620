"""Entitlements: what a customer may use right now. A plan or add-on in the catalog grants features
(on/off), limits (whole numbers) and metered allowances (a quantity of a billable metric per billing
period); a customer's overrides replace what the plans give; a suspended subscription gives nothing.

`entitlements()` is the one derivation (docs/entitlements.md explains it with examples):
- Each live subscription contributes its plan's grants once and each add-on's grants times the quantity
  bought (add-ons the plan includes count with their included quantity). Trialing and active give;
  past_due (dunning) and paused suspend: they contribute nothing, and a feature only they grant shows
  suspended, with the reason, and gives nothing (off, a limit of 0, an allowance of 0).
- Several grants of one feature combine: a feature is on if any grant is on, limits add up, allowances
  of the same metric add up. The first grant met (subscriptions in the order given, the plan before its
  add-ons, add-ons by code) fixes the feature's kind and metric; grants of another kind or metric for
  the same feature are ignored.
- An override replaces the derived value of its feature entirely (and adds features no plan has). It is
  suspended too when the customer has live subscriptions and every one of them is suspended.
- An allowance's `used` is the customer's usage of its metric in the current billing period of its live
  subscriptions; remaining = quantity - used, never below 0.

Catalog shape (on a plan or an add-on), keyed by the feature's code:
  entitlements:
    sso: true                                        # a feature, on (false: explicitly off)
    projects: 10                                     # a limit
    api-calls: {metric: api_calls, quantity: "10000"}  # an allowance per billing period
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError

FEATURE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MAX_FEATURES = 200
MAX_LIMIT = 10**12


class GrantKind(StrEnum):
    FEATURE = "feature"
    LIMIT = "limit"
    ALLOWANCE = "allowance"


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """One feature as a plan, an add-on or an override gives it."""

    feature: str
    kind: GrantKind
    enabled: bool = True  # a feature: on or off
    limit: int | None = None  # a limit
    metric: str | None = None  # an allowance: the billable metric it counts
    quantity: Decimal | None = None  # an allowance: units per billing period

    def to_doc(self) -> Any:
        if self.kind is GrantKind.FEATURE:
            return self.enabled
        if self.kind is GrantKind.LIMIT:
            return self.limit
        return {"metric": self.metric, "quantity": str(self.quantity)}


def _fail(path: str, message: str) -> DomainError:
    return DomainError("invalid_entitlement", message, path)


def feature_code(value: Any, path: str) -> str:
    if not isinstance(value, str) or not FEATURE.fullmatch(value):
        raise _fail(path, "A feature code is 1 to 64 lowercase letters, digits, '.', '_' or '-'.")
    return value


def parse_grant(feature: str, value: Any, path: str) -> Grant:
    """One entitlement from its document value: true/false, a whole number, or {metric, quantity}."""
    if isinstance(value, bool):
        return Grant(feature=feature, kind=GrantKind.FEATURE, enabled=value)
    if isinstance(value, int):
        if not 0 <= value <= MAX_LIMIT:
            raise _fail(path, f"A limit is a whole number from 0 to {MAX_LIMIT}.")
        return Grant(feature=feature, kind=GrantKind.LIMIT, limit=value)
    if isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - {"metric", "quantity"})
        if unknown:
            raise _fail(f"{path}.{unknown[0]}", f"Unknown field {unknown[0]!r}.")
        if "metric" not in value or "quantity" not in value:
            raise _fail(path, 'An allowance is {metric: api_calls, quantity: "10000"}.')
        metric = value["metric"]
        if not isinstance(metric, str) or not FEATURE.fullmatch(metric):
            raise _fail(f"{path}.metric", "The code of a billable metric.")
        raw = value["quantity"]
        try:
            quantity = Decimal(str(raw)) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
        except InvalidOperation:
            quantity = None
        if quantity is None or not quantity.is_finite() or not 0 <= quantity <= MAX_LIMIT:
            raise _fail(f"{path}.quantity", f'A quantity from 0 to {MAX_LIMIT}, as a string like "10000".')
        return Grant(feature=feature, kind=GrantKind.ALLOWANCE, metric=metric, quantity=quantity)
    raise _fail(
        path, "An entitlement is true/false (a feature), a whole number (a limit) or {metric, quantity}."
    )


def parse_grants(value: Any, path: str) -> Mapping[str, Grant]:
    """The `entitlements` of a plan or an add-on."""
    if not isinstance(value, dict) or len(value) > MAX_FEATURES:
        raise _fail(path, f"Entitlements map up to {MAX_FEATURES} feature codes to values: {{sso: true}}.")
    return {feature_code(k, f"{path}.{k}"): parse_grant(k, v, f"{path}.{k}") for k, v in value.items()}


# ---- derivation ----------------------------------------------------------------------------------------


class Source(StrEnum):
    PLAN = "plan"  # a plan gives it (with or without add-ons adding to it)
    ADDON = "addon"  # only add-ons give it
    OVERRIDE = "override"  # the customer's own value
    NONE = "none"  # nothing gives it: a check of an unknown feature


class Suspension(StrEnum):
    PAST_DUE = "past_due"  # dunning: an invoice is overdue
    PAUSED = "paused"


# Subscription statuses (core.subscriptions.Status values: that module imports the catalog, which imports
# this one, so they are named by value here).
GIVING = frozenset({"trialing", "active"})
SUSPENDING: Mapping[str, Suspension] = {"past_due": Suspension.PAST_DUE, "paused": Suspension.PAUSED}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddonGrants:
    code: str
    quantity: int
    grants: Mapping[str, Grant]  # per unit


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantSource:
    """One subscription as entitlements see it: its status now, its plan's grants and its add-ons'."""

    subscription_id: str
    status: str  # a core.subscriptions.Status
    plan: str
    grants: Mapping[str, Grant]
    addons: tuple[AddonGrants, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    grant: Grant
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Allowance:
    metric: str
    quantity: Decimal
    used: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.quantity - self.used, Decimal(0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Entitlement:
    """What a check answers: `enabled` says whether the customer may use the feature now (a feature on, a
    limit above 0, an allowance with something remaining)."""

    feature: str
    kind: GrantKind | None  # None: nothing grants it
    enabled: bool
    limit: int | None = None
    allowance: Allowance | None = None
    suspended: bool = False
    reason: Suspension | None = None  # why it is suspended
    source: Source
    override_reason: str | None = None


def absent(feature: str) -> Entitlement:
    """A feature nothing grants: off, not an error (a check of a feature the catalog does not know yet)."""
    return Entitlement(feature=feature, kind=None, enabled=False, source=Source.NONE)


@dataclass(slots=True)
class _Sum:
    """One feature's grants, added up while the sources are walked."""

    first: Grant
    source: Source = Source.ADDON
    giving: bool = False
    enabled: bool = False
    limit: int = 0
    quantity: Decimal = Decimal(0)
    suspensions: set[Suspension] | None = None


def _reason(found: set[Suspension]) -> Suspension:
    return Suspension.PAST_DUE if Suspension.PAST_DUE in found else Suspension.PAUSED


def _value(
    feature: str, grant: Grant, *, enabled: bool, limit: int, quantity: Decimal, usage: Mapping[str, Decimal],
    source: Source, suspended: Suspension | None, override_reason: str | None = None,
) -> Entitlement:  # fmt: skip
    if suspended is not None:  # gives nothing
        enabled, limit, quantity = False, 0, Decimal(0)
    allowance = None
    if grant.kind is GrantKind.ALLOWANCE:
        assert grant.metric is not None
        allowance = Allowance(
            metric=grant.metric, quantity=quantity, used=usage.get(grant.metric, Decimal(0))
        )
        on = allowance.remaining > 0
    elif grant.kind is GrantKind.LIMIT:
        on = limit > 0
    else:
        on = enabled
    return Entitlement(
        feature=feature, kind=grant.kind, enabled=on and suspended is None,
        limit=limit if grant.kind is GrantKind.LIMIT else None, allowance=allowance,
        suspended=suspended is not None, reason=suspended, source=source, override_reason=override_reason,
    )  # fmt: skip


def _contributions(source: GrantSource) -> list[tuple[Source, Grant, int]]:
    out = [(Source.PLAN, grant, 1) for grant in source.grants.values()]
    for addon in sorted(source.addons, key=lambda a: a.code):
        out.extend((Source.ADDON, grant, addon.quantity) for grant in addon.grants.values())
    return out


def entitlements(
    sources: Sequence[GrantSource], overrides: Mapping[str, Override], usage: Mapping[str, Decimal]
) -> dict[str, Entitlement]:
    """Every feature the customer's subscriptions or overrides mention, by feature code (sorted)."""
    sums: dict[str, _Sum] = {}
    live = [s for s in sources if s.status in GIVING or s.status in SUSPENDING]
    for source in live:
        suspension = SUSPENDING.get(source.status)
        for origin, grant, times in _contributions(source):
            found = sums.setdefault(grant.feature, _Sum(first=grant))
            if grant.kind is not found.first.kind or grant.metric != found.first.metric:
                continue
            if suspension is not None:
                found.suspensions = (found.suspensions or set()) | {suspension}
                if not found.giving and origin is Source.PLAN:
                    found.source = Source.PLAN
                continue
            if not found.giving:
                found.giving, found.source = True, origin
            elif origin is Source.PLAN:
                found.source = Source.PLAN
            found.enabled = found.enabled or grant.enabled
            found.limit += (grant.limit or 0) * times
            found.quantity += (grant.quantity or Decimal(0)) * times
    out = {
        feature: _value(
            feature,
            s.first,
            enabled=s.enabled,
            limit=s.limit,
            quantity=s.quantity,
            usage=usage,
            source=s.source,
            suspended=None if s.giving or not s.suspensions else _reason(s.suspensions),
        )
        for feature, s in sums.items()
    }
    held = {SUSPENDING[s.status] for s in live if s.status in SUSPENDING}
    all_suspended = bool(live) and not any(s.status in GIVING for s in live)
    for feature, override in overrides.items():
        grant = override.grant
        out[feature] = _value(
            feature, grant, enabled=grant.enabled, limit=grant.limit or 0, quantity=grant.quantity or Decimal(0),
            usage=usage, source=Source.OVERRIDE, suspended=_reason(held) if all_suspended else None,
            override_reason=override.reason,
        )  # fmt: skip
    return dict(sorted(out.items()))


def metrics(sources: Sequence[GrantSource], overrides: Mapping[str, Override]) -> frozenset[str]:
    """The billable metrics whose usage the allowances need."""
    grants = [g for s in sources for _, g, _ in _contributions(s)] + [o.grant for o in overrides.values()]
    return frozenset(g.metric for g in grants if g.metric is not None)
