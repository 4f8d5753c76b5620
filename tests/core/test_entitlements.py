"""Entitlements derived from plans, add-ons and overrides (issue 9): worked examples with exact values
(add-ons times quantity, two subscriptions combined, suspension by dunning or pause with its reason,
overrides replacing and adding, remaining never below 0, the first grant fixing a feature's kind) and
hypothesis properties (limits add up, a suspended subscription changes nothing, an override wins)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.entitlements import (
    AddonGrants,
    Entitlement,
    GrantKind,
    GrantSource,
    Override,
    Source,
    Suspension,
    absent,
    entitlements,
    metrics,
    parse_grant,
    parse_grants,
)
from kassa.core.errors import DomainError

PLAN_A = parse_grants(
    {"sso": True, "projects": 10, "api-calls": {"metric": "api_calls", "quantity": "10000"}}, "entitlements"
)
MORE_PROJECTS = parse_grants({"projects": 5}, "entitlements")


def sub(
    status: str = "active", grants: Any = PLAN_A, addons: tuple[AddonGrants, ...] = (), sid: str = "sub_1"
) -> GrantSource:
    return GrantSource(subscription_id=sid, status=status, plan="a", grants=grants, addons=addons)


def override(feature: str, value: Any, reason: str | None = None) -> dict[str, Override]:
    return {feature: Override(grant=parse_grant(feature, value, "value"), reason=reason)}


def summary(e: Entitlement) -> tuple[Any, ...]:
    allowance = (
        None
        if e.allowance is None
        else (str(e.allowance.quantity), str(e.allowance.used), str(e.allowance.remaining))
    )
    return (
        e.kind and e.kind.value,
        e.enabled,
        e.limit,
        allowance,
        e.reason and e.reason.value,
        e.source.value,
    )


def test_plan_a_with_two_project_addons_and_2500_calls_used() -> None:
    """Plan A (sso on, projects 10, api-calls 10000) + 2 x add-on (projects +5 each): projects 20 from the
    plan; 2500 api calls used leaves 7500."""
    found = entitlements([sub(addons=(AddonGrants(code="more-projects", quantity=2, grants=MORE_PROJECTS),))], {},
                         {"api_calls": Decimal(2500)})  # fmt: skip
    assert {f: summary(e) for f, e in found.items()} == {
        "api-calls": ("allowance", True, None, ("10000", "2500", "7500"), None, "plan"),
        "projects": ("limit", True, 20, None, None, "plan"),
        "sso": ("feature", True, None, None, None, "plan"),
    }
    assert list(found) == ["api-calls", "projects", "sso"]


def test_an_addon_alone_is_the_source() -> None:
    found = entitlements(
        [sub(grants={}, addons=(AddonGrants(code="p", quantity=3, grants=MORE_PROJECTS),))], {}, {}
    )
    assert summary(found["projects"]) == ("limit", True, 15, None, None, "addon")


def test_two_subscriptions_combine_any_on_sum_and_sum_per_metric() -> None:
    other = parse_grants({"sso": False, "projects": 3, "api-calls": {"metric": "api_calls", "quantity": "500"},
                          "audit-log": True}, "e")  # fmt: skip
    found = entitlements([sub(), sub(grants=other, sid="sub_2")], {}, {"api_calls": Decimal(11000)})
    assert summary(found["sso"]) == ("feature", True, None, None, None, "plan")
    assert summary(found["projects"]) == ("limit", True, 13, None, None, "plan")
    assert summary(found["api-calls"]) == ("allowance", False, None, ("10500", "11000", "0"), None, "plan")
    assert summary(found["audit-log"]) == ("feature", True, None, None, None, "plan")


def test_past_due_suspends_with_the_reason_and_gives_nothing() -> None:
    found = entitlements([sub("past_due")], {}, {"api_calls": Decimal(2500)})
    assert {f: summary(e) for f, e in found.items()} == {
        "api-calls": ("allowance", False, None, ("0", "2500", "0"), "past_due", "plan"),
        "projects": ("limit", False, 0, None, "past_due", "plan"),
        "sso": ("feature", False, None, None, "past_due", "plan"),
    }
    assert all(e.suspended for e in found.values())


def test_paused_suspends_and_past_due_is_the_reason_over_paused() -> None:
    assert summary(entitlements([sub("paused")], {}, {})["sso"]) == (
        "feature",
        False,
        None,
        None,
        "paused",
        "plan",
    )
    both = entitlements([sub("paused"), sub("past_due", sid="sub_2")], {}, {})
    assert both["sso"].reason is Suspension.PAST_DUE


def test_an_active_subscription_keeps_what_a_suspended_one_also_grants() -> None:
    found = entitlements(
        [sub("past_due"), sub(grants=parse_grants({"projects": 4}, "e"), sid="sub_2")], {}, {}
    )
    assert summary(found["projects"]) == ("limit", True, 4, None, None, "plan")
    assert summary(found["sso"]) == ("feature", False, None, None, "past_due", "plan")


def test_trialing_gives_and_ended_or_pending_subscriptions_are_ignored() -> None:
    assert entitlements([sub("trialing")], {}, {})["projects"].limit == 10
    assert entitlements([sub("canceled"), sub("ended"), sub("pending")], {}, {}) == {}


def test_an_override_replaces_the_feature_entirely_and_adds_new_ones() -> None:
    found = entitlements(
        [sub()], {**override("projects", 50, "Enterprise deal"), **override("beta", True)}, {}
    )
    assert summary(found["projects"]) == ("limit", True, 50, None, None, "override")
    assert found["projects"].override_reason == "Enterprise deal"
    assert summary(found["beta"]) == ("feature", True, None, None, None, "override")
    off = entitlements([sub()], override("sso", False), {})["sso"]
    assert summary(off) == ("feature", False, None, None, None, "override")
    kind = entitlements([sub()], override("projects", {"metric": "projects_created", "quantity": "7"}),
                        {"projects_created": Decimal(2)})["projects"]  # fmt: skip
    assert summary(kind) == ("allowance", True, None, ("7", "2", "5"), None, "override")


def test_an_override_is_suspended_when_every_live_subscription_is() -> None:
    found = entitlements([sub("past_due")], override("projects", 50), {})
    assert summary(found["projects"]) == ("limit", False, 0, None, "past_due", "override")
    without_subscriptions = entitlements([], override("projects", 50), {})
    assert summary(without_subscriptions["projects"]) == ("limit", True, 50, None, None, "override")
    one_active = entitlements([sub("past_due"), sub(grants={}, sid="sub_2")], override("projects", 50), {})
    assert one_active["projects"].limit == 50


def test_the_first_grant_fixes_the_kind_and_metric() -> None:
    """sub_1 grants projects as a limit; sub_2 as a feature and api-calls on another metric: ignored."""
    odd = parse_grants({"projects": True, "api-calls": {"metric": "requests", "quantity": "99"}}, "e")
    found = entitlements([sub(), sub(grants=odd, sid="sub_2")], {}, {})
    assert summary(found["projects"]) == ("limit", True, 10, None, None, "plan")
    assert summary(found["api-calls"]) == ("allowance", True, None, ("10000", "0", "10000"), None, "plan")


def test_a_zero_limit_is_not_enabled_and_an_unknown_feature_is_absent() -> None:
    assert summary(entitlements([sub(grants=parse_grants({"seats": 0}, "e"))], {}, {})["seats"]) == (
        "limit", False, 0, None, None, "plan")  # fmt: skip
    assert summary(absent("nope")) == (None, False, None, None, None, "none")


def test_metrics_needed_for_usage() -> None:
    assert metrics([sub()], override("x", {"metric": "storage_gb", "quantity": "1"})) == {
        "api_calls",
        "storage_gb",
    }


def test_an_override_value_is_checked_like_the_catalog() -> None:
    with pytest.raises(DomainError) as error:
        parse_grant("projects", -1, "value")
    assert (error.value.code, error.value.field) == ("invalid_entitlement", "value")
    with pytest.raises(DomainError) as error:
        parse_grant("api", {"metric": "api_calls", "quantity": 1.5}, "value")
    assert error.value.field == "value.quantity"


# ---- properties ----------------------------------------------------------------------------------------

STATUSES = st.sampled_from(["active", "trialing", "past_due", "paused", "canceled"])
LIMITS = st.dictionaries(st.sampled_from(["projects", "seats", "users"]), st.integers(0, 1000), max_size=3)


def _limit_sources(draw: st.DrawFn) -> list[GrantSource]:
    out = []
    for i in range(draw(st.integers(0, 4))):
        grants = {k: parse_grant(k, v, "e") for k, v in draw(LIMITS).items()}
        addon = {k: parse_grant(k, v, "e") for k, v in draw(LIMITS).items()}
        quantity = draw(st.integers(1, 5))
        out.append(
            sub(draw(STATUSES), grants, (AddonGrants(code="x", quantity=quantity, grants=addon),), f"sub_{i}")
        )
    return out


limit_sources = st.composite(_limit_sources)


@given(limit_sources())
def test_limits_are_the_sum_over_giving_subscriptions(sources: list[GrantSource]) -> None:
    found = entitlements(sources, {}, {})
    for feature, e in found.items():
        expected = sum(
            (s.grants[feature].limit or 0 if feature in s.grants else 0)
            + sum((a.grants[feature].limit or 0) * a.quantity for a in s.addons if feature in a.grants)
            for s in sources
            if s.status in ("active", "trialing")
        )
        assert e.limit == expected
        assert e.kind is GrantKind.LIMIT
        assert e.enabled == (expected > 0)


@given(limit_sources(), st.sampled_from(["past_due", "paused"]))
def test_adding_a_suspended_subscription_never_adds_anything(sources: list[GrantSource], status: str) -> None:
    before = entitlements(sources, {}, {})
    after = entitlements([*sources, sub(status, sid="sub_z")], {}, {})
    for feature, e in after.items():
        assert (e.limit or 0) <= (before[feature].limit or 0 if feature in before else 0)


@given(limit_sources(), st.integers(0, 10**6))
def test_an_override_wins_unless_everything_is_suspended(sources: list[GrantSource], value: int) -> None:
    e = entitlements(sources, override("projects", value), {})["projects"]
    live = [s for s in sources if s.status != "canceled"]
    suspended = bool(live) and all(s.status in ("past_due", "paused") for s in live)
    assert (e.source, e.suspended, e.limit) == (Source.OVERRIDE, suspended, 0 if suspended else value)


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_remaining_is_never_below_zero(quantity: int, used: int) -> None:
    grants = parse_grants({"calls": {"metric": "m", "quantity": str(quantity)}}, "e")
    allowance = entitlements([sub(grants=grants)], {}, {"m": Decimal(used)})["calls"].allowance
    assert allowance is not None
    assert allowance.remaining == max(Decimal(quantity - used), Decimal(0))
    assert allowance.used == used
