"""Offers (issue 9): eligibility rules as data. Worked examples with exact facts, instants and reason
sentences; every validation error's code and field path; hypothesis properties for the round trip, the
order of decisions, negation and the validity window."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.offers import (
    MAX_DEPTH,
    MAX_LEAVES,
    AllOf,
    AnyOf,
    Compare,
    CouponBenefit,
    Decision,
    Facts,
    Not,
    Offer,
    Op,
    PlanBenefit,
    PriceBenefit,
    TrialBenefit,
    evaluate,
    offer_from_doc,
    to_doc,
)


def z(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


NOW = z(2027, 6, 1, 12)


def facts(**changes: Any) -> Facts:
    """A German customer of 120 days on the starter plan, no lead, nothing overdue."""
    base = Facts(
        country="DE",
        currency="EUR",
        metadata={},
        tenure_days=120,
        plans=frozenset({"starter"}),
        statuses=frozenset({"active"}),
        usage={},
        paid_invoices=4,
        overdue_invoices=0,
        lead_source=None,
        lead_campaign=None,
    )
    return replace(base, **changes)


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    return node


def doc(conditions: Any, **fields: Any) -> dict[str, Any]:
    return {
        "code": "o",
        "name": "O",
        "benefit": {"type": "plan", "plan": "team"},
        "conditions": conditions,
        **fields,
    }


def decide(offer_doc: dict[str, Any], f: Facts, at: datetime = NOW) -> Decision:
    [decision] = evaluate([offer_from_doc(offer_doc)], f, at)
    return decision


# --- worked example: loyal-upgrade -----------------------------------------------------------------------

LOYAL = {
    "code": "loyal-upgrade",
    "name": "Loyal customers: upgrade to Pro",
    "description": "Pro for the price of Team, for customers with us over 90 days.",
    "priority": 20,
    "benefit": {"type": "price", "plan": "pro", "price": {"amount": "49.00", "currency": "EUR"}},
    "conditions": {
        "all": [
            leaf("customer.country", "in", ["DE", "AT"]),
            leaf("customer.tenure_days", "gt", 90),
            {"not": leaf("invoices.overdue_count", "gt", 0)},
        ]
    },
}


def test_a_loyal_german_customer_gets_the_loyal_upgrade_and_why() -> None:
    decision = decide(LOYAL, facts())
    assert decision.code == "loyal-upgrade"
    assert decision.applies is True
    assert decision.reasons == (
        "customer.country is DE (wanted one of DE, AT)",
        "customer.tenure_days is 120, above 90",
        "invoices.overdue_count is 0, not above 0",
    )
    assert decision.offer.benefit == PriceBenefit(plan="pro", price=Money(Decimal("49.00"), "EUR"))


def test_an_austrian_customer_qualifies_too() -> None:
    assert decide(LOYAL, facts(country="AT")).applies is True


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"country": "FR"}, "customer.country is FR, not one of DE, AT"),
        ({"country": None}, "customer.country is not set, not one of DE, AT"),
        ({"tenure_days": 90}, "customer.tenure_days is 90, not above 90"),  # "more than 90 days": 90 is not
        ({"overdue_invoices": 1}, "invoices.overdue_count is 1, above 0"),
    ],
)
def test_the_loyal_upgrade_is_refused_with_the_failing_fact(changes: dict[str, Any], reason: str) -> None:
    decision = decide(LOYAL, facts(**changes))
    assert decision.applies is False
    assert reason in decision.reasons
    assert len(decision.reasons) == 3  # one sentence per leaf, failing or not


def test_a_price_override_in_another_currency_does_not_apply() -> None:
    """A EUR price cannot be offered to a customer billed in CHF, whatever the conditions say."""
    decision = decide(LOYAL, facts(currency="CHF"))
    assert decision.applies is False
    assert decision.reasons[-1] == "the price is in EUR, customer.currency is CHF"


# --- worked example: starter customers with heavy usage get the team plan ---------------------------------

TEAM = {
    "code": "team-upgrade",
    "name": "Move to Team",
    "priority": 10,
    "benefit": {"type": "plan", "plan": "team"},
    "conditions": {
        "all": [leaf("subscription.plan", "eq", "starter"), leaf("usage.api_calls", "gt", "10000")]
    },
}


def test_a_starter_customer_over_ten_thousand_api_calls_is_offered_team() -> None:
    decision = decide(TEAM, facts(usage={"api_calls": Decimal("12000")}))
    assert decision.applies is True
    assert decision.reasons == ("subscription.plan is starter", "usage.api_calls is 12000, above 10000")
    assert decision.offer.benefit == PlanBenefit(plan="team")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"usage": {"api_calls": Decimal("1200")}}, "usage.api_calls is 1200, not above 10000"),
        ({"usage": {"api_calls": Decimal("10000")}}, "usage.api_calls is 10000, not above 10000"),
        ({"usage": {}}, "usage.api_calls is not set, so not above 10000"),
        (
            {"usage": {"api_calls": Decimal("20000")}, "plans": frozenset({"team"})},
            "subscription.plan is team, not starter",
        ),
        (
            {"usage": {"api_calls": Decimal("20000")}, "plans": frozenset()},
            "subscription.plan is not set, not starter",
        ),
    ],
)
def test_the_team_offer_is_refused_with_the_failing_fact(changes: dict[str, Any], reason: str) -> None:
    decision = decide(TEAM, facts(**changes))
    assert decision.applies is False
    assert reason in decision.reasons


def test_usage_is_compared_exactly() -> None:
    assert decide(TEAM, facts(usage={"api_calls": Decimal("10000.000001")})).applies is True


def test_a_customer_with_several_plans_matches_any_of_them() -> None:
    decision = decide(TEAM, facts(plans=frozenset({"team", "starter"}), usage={"api_calls": Decimal(10001)}))
    assert decision.applies is True
    assert decision.reasons[0] == "subscription.plan is starter, team"


# --- worked example: a black-friday coupon, only inside its window ----------------------------------------

BLACK_FRIDAY = {
    "code": "black-friday",
    "name": "Black Friday: 30 % off",
    "priority": 50,
    "starts_at": "2027-11-26T00:00:00+01:00",
    "ends_at": "2027-11-30T00:00:00+01:00",
    "benefit": {"type": "coupon", "coupon": "BF27"},
    "conditions": leaf("lead.campaign", "eq", "black-friday"),
}


def test_the_window_is_stored_in_utc() -> None:
    offer = offer_from_doc(BLACK_FRIDAY)
    assert offer.starts_at == z(2027, 11, 25, 23)
    assert offer.ends_at == z(2027, 11, 29, 23)


@pytest.mark.parametrize(
    ("at", "applies", "first_reason"),
    [
        (z(2027, 11, 25, 22), False, "not valid before 2027-11-25T23:00:00+00:00"),
        (z(2027, 11, 25, 23), True, "valid until 2027-11-29T23:00:00+00:00"),  # starts_at is included
        (z(2027, 11, 29, 22), True, "valid until 2027-11-29T23:00:00+00:00"),
        (z(2027, 11, 29, 23), False, "no longer valid since 2027-11-29T23:00:00+00:00"),  # ends_at is not
    ],
)
def test_a_black_friday_lead_gets_the_coupon_only_inside_the_window(
    at: datetime, applies: bool, first_reason: str
) -> None:
    decision = decide(BLACK_FRIDAY, facts(lead_source="ads", lead_campaign="black-friday"), at)
    assert decision.applies is applies
    assert decision.reasons == (first_reason, "lead.campaign is black-friday")
    assert decision.offer.benefit == CouponBenefit(coupon="BF27")


def test_a_lead_from_another_campaign_gets_no_coupon_inside_the_window() -> None:
    at = z(2027, 11, 27)
    assert decide(BLACK_FRIDAY, facts(lead_campaign="summer"), at).reasons == (
        "valid until 2027-11-29T23:00:00+00:00",
        "lead.campaign is summer, not black-friday",
    )
    assert decide(BLACK_FRIDAY, facts(lead_campaign=None), at).reasons[1] == (
        "lead.campaign is not set, not black-friday"
    )


def test_evaluate_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="naive"):
        evaluate([offer_from_doc(BLACK_FRIDAY)], facts(), datetime(2027, 11, 27))  # noqa: DTZ001


# --- worked example: "not" and "any" ---------------------------------------------------------------------

WIN_BACK = {
    "code": "win-back",
    "name": "Come back: 30 days of Team",
    "benefit": {"type": "trial", "plan": "team", "days": 30},
    "conditions": {
        "all": [
            {
                "any": [
                    leaf("subscription.status", "eq", "canceled"),
                    {"not": leaf("subscription.plan", "exists")},
                ]
            },
            {"not": leaf("customer.segment", "in", ["enterprise", "partner"])},
        ]
    },
}


def test_a_canceled_small_business_is_won_back() -> None:
    decision = decide(WIN_BACK, facts(statuses=frozenset({"canceled"}), metadata={"segment": "smb"}))
    assert decision.applies is True
    assert decision.reasons == (
        "subscription.status is canceled",
        "subscription.plan is starter (wanted no value)",  # under "not": the plan must be absent
        "customer.segment is smb, not one of enterprise, partner",
    )
    assert decision.offer.benefit == TrialBenefit(plan="team", days=30)


def test_a_customer_without_any_subscription_is_won_back_through_the_other_branch() -> None:
    decision = decide(WIN_BACK, facts(plans=frozenset(), statuses=frozenset()))
    assert decision.applies is True
    assert decision.reasons == (
        "subscription.status is not set, not canceled",
        "subscription.plan is not set",
        "customer.segment is not set, not one of enterprise, partner",
    )


def test_an_active_customer_is_not_won_back() -> None:
    decision = decide(WIN_BACK, facts(statuses=frozenset({"active"})))
    assert decision.applies is False
    assert decision.reasons[:2] == (
        "subscription.status is active, not canceled",
        "subscription.plan is starter (wanted no value)",
    )


def test_an_excluded_segment_is_not_won_back_and_the_sentence_says_it_was_excluded() -> None:
    decision = decide(WIN_BACK, facts(statuses=frozenset({"canceled"}), metadata={"segment": "enterprise"}))
    assert decision.applies is False
    assert decision.reasons[2] == "customer.segment is enterprise (wanted none of enterprise, partner)"


def test_a_double_negation_reads_like_the_plain_condition() -> None:
    plain = decide(doc(leaf("customer.country", "in", ["DE", "AT"])), facts())
    double = decide(doc({"not": {"not": leaf("customer.country", "in", ["DE", "AT"])}}), facts())
    assert plain.applies is double.applies is True
    assert plain.reasons == double.reasons == ("customer.country is DE (wanted one of DE, AT)",)


@pytest.mark.parametrize(
    ("node", "applies", "reason"),
    [
        (leaf("customer.country", "eq", "DE"), True, "customer.country is DE"),
        (leaf("customer.country", "ne", "DE"), False, "customer.country is DE (wanted anything but DE)"),
        (leaf("customer.country", "ne", "FR"), True, "customer.country is DE, not FR"),
        (leaf("customer.country", "not_in", ["FR", "IT"]), True, "customer.country is DE, not one of FR, IT"),
        (leaf("customer.currency", "eq", "EUR"), True, "customer.currency is EUR"),
        (leaf("customer.tenure_days", "gte", "120"), True, "customer.tenure_days is 120, at least 120"),
        (leaf("customer.tenure_days", "gte", 121), False, "customer.tenure_days is 120, below 121"),
        (leaf("customer.tenure_days", "lt", 121), True, "customer.tenure_days is 120, below 121"),
        (leaf("customer.tenure_days", "lt", 120), False, "customer.tenure_days is 120, not below 120"),
        (leaf("customer.tenure_days", "lte", 120), True, "customer.tenure_days is 120, at most 120"),
        (leaf("customer.tenure_days", "lte", 119), False, "customer.tenure_days is 120, above 119"),
        (leaf("invoices.paid_count", "eq", 4), True, "invoices.paid_count is 4"),
        (leaf("invoices.paid_count", "ne", 4), False, "invoices.paid_count is 4 (wanted anything but 4)"),
        (leaf("customer.metadata.tier", "exists"), True, "customer.metadata.tier is gold"),
        (leaf("customer.metadata.region", "exists"), False, "customer.metadata.region is not set"),
        (leaf("lead.source", "exists"), True, "lead.source is partner-site"),
        (leaf("usage.storage_gb", "lte", "2.5"), True, "usage.storage_gb is 2.25, at most 2.5"),
        (leaf("usage.storage_gb", "lt", "1"), False, "usage.storage_gb is 2.25, not below 1"),
        (leaf("usage.seats", "gte", 1), False, "usage.seats is not set, so not at least 1"),
        ({"not": leaf("usage.seats", "gte", 1)}, True, "usage.seats is not set, so not at least 1"),
        ({"not": leaf("customer.country", "eq", "DE")}, False, "customer.country is DE (wanted anything but DE)"),
        ({"not": leaf("customer.country", "ne", "DE")}, True, "customer.country is DE"),
        ({"not": leaf("lead.campaign", "exists")}, True, "lead.campaign is not set"),
        ({"any": [leaf("customer.country", "eq", "AT"), leaf("customer.tenure_days", "gt", 100)]}, True,
         "customer.tenure_days is 120, above 100"),
        ({"any": [leaf("customer.country", "eq", "AT"), leaf("customer.tenure_days", "gt", 200)]}, False,
         "customer.country is DE, not AT"),
    ],
)  # fmt: skip
def test_each_op_and_its_sentence(node: dict[str, Any], applies: bool, reason: str) -> None:
    f = facts(
        metadata={"tier": "gold"},
        lead_source="partner-site",
        usage={"storage_gb": Decimal("2.250")},
    )
    decision = decide(doc(node), f)
    assert decision.applies is applies
    assert reason in decision.reasons


def test_no_conditions_means_everyone() -> None:
    decision = decide(doc({"all": []}), facts())
    assert decision.applies is True
    assert decision.reasons == ("no conditions: every customer",)


# --- the order of decisions ----------------------------------------------------------------------------


def test_decisions_come_by_priority_then_code_whether_they_apply_or_not() -> None:
    offers = [
        offer_from_doc(doc({"all": []}, code="b", priority=1)),
        offer_from_doc(LOYAL),
        offer_from_doc(TEAM),
        offer_from_doc(doc({"all": []}, code="a", priority=1)),
        offer_from_doc(BLACK_FRIDAY),
    ]
    decisions = evaluate(offers, facts(), NOW)
    assert [(d.code, d.applies) for d in decisions] == [
        ("black-friday", False),
        ("loyal-upgrade", True),
        ("team-upgrade", False),
        ("a", True),
        ("b", True),
    ]


def test_two_offers_with_one_code_are_refused() -> None:
    offer = offer_from_doc(TEAM)
    with pytest.raises(DomainError) as raised:
        evaluate([offer, replace(offer, priority=3)], facts(), NOW)
    assert (raised.value.code, raised.value.field) == ("duplicate_offer", "offers.1.code")


# --- the document --------------------------------------------------------------------------------------


def test_the_document_round_trips_in_its_canonical_spelling() -> None:
    offer = offer_from_doc(
        {
            **LOYAL,
            "starts_at": "2027-01-01T00:00:00+01:00",
            "conditions": {
                "all": [
                    leaf("customer.country", "in", ["DE", "AT", "DE"]),
                    leaf("customer.tenure_days", "gt", "90"),
                    leaf("usage.api_calls", "gte", 1000),
                ]
            },
        }
    )
    assert to_doc(offer) == {
        "code": "loyal-upgrade",
        "name": "Loyal customers: upgrade to Pro",
        "description": "Pro for the price of Team, for customers with us over 90 days.",
        "priority": 20,
        "starts_at": "2026-12-31T23:00:00+00:00",
        "ends_at": None,
        "benefit": {"type": "price", "plan": "pro", "price": {"amount": "49.00", "currency": "EUR"}},
        "conditions": {
            "all": [
                {"field": "customer.country", "op": "in", "value": ["DE", "AT"]},  # duplicates dropped
                {"field": "customer.tenure_days", "op": "gt", "value": 90},  # whole numbers as numbers
                {"field": "usage.api_calls", "op": "gte", "value": "1000"},  # decimals as strings
            ]
        },
    }
    assert offer_from_doc(to_doc(offer)) == offer


def test_the_parsed_offer_is_the_expected_tree_and_hashable() -> None:
    offer = offer_from_doc(WIN_BACK)
    assert offer == Offer(
        code="win-back",
        name="Come back: 30 days of Team",
        description=None,
        priority=0,
        starts_at=None,
        ends_at=None,
        benefit=TrialBenefit(plan="team", days=30),
        conditions=AllOf(
            conditions=(
                AnyOf(
                    conditions=(
                        Compare(field="subscription.status", op=Op.EQ, value="canceled"),
                        Not(condition=Compare(field="subscription.plan", op=Op.EXISTS, value=None)),
                    )
                ),
                Not(condition=Compare(field="customer.segment", op=Op.IN, value=("enterprise", "partner"))),
            )
        ),
    )
    assert len({offer, offer_from_doc(WIN_BACK)}) == 1


def nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = leaf("customer.country", "eq", "DE")
    for _ in range(depth - 1):
        node = {"not": node}
    return node


def test_eight_levels_are_accepted() -> None:
    assert decide(doc(nested(MAX_DEPTH)), facts()).applies is False  # seven nots: odd


def test_fifty_leaves_are_accepted() -> None:
    conditions = {"all": [leaf("customer.tenure_days", "gte", i) for i in range(MAX_LEAVES)]}
    decision = decide(doc(conditions), facts())
    assert decision.applies is True  # 120 days is at least 0, 1, ... 49
    assert len(decision.reasons) == 50
    assert decision.reasons[-1] == "customer.tenure_days is 120, at least 49"


LEAVES_51 = {"any": [leaf("customer.tenure_days", "gte", i) for i in range(25)]
             + [{"all": [leaf("customer.tenure_days", "gte", i) for i in range(26)]}]}  # fmt: skip


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([], None),
        ({**TEAM, "version": 3}, "version"),
        ({**TEAM, "code": "Team Upgrade"}, "code"),
        ({k: v for k, v in TEAM.items() if k != "code"}, "code"),
        ({**TEAM, "name": "  "}, "name"),
        ({**TEAM, "description": ""}, "description"),
        ({**TEAM, "priority": True}, "priority"),
        ({**TEAM, "priority": "10"}, "priority"),
        ({**TEAM, "priority": 10**7}, "priority"),
        ({**TEAM, "starts_at": "2027-11-26T00:00:00"}, "starts_at"),  # no offset: a guess
        ({**TEAM, "ends_at": "tomorrow"}, "ends_at"),
        ({**TEAM, "starts_at": "2027-11-26T00:00:00Z", "ends_at": "2027-11-26T00:00:00Z"}, "ends_at"),
        ({**TEAM, "benefit": None}, "benefit"),
        ({**TEAM, "benefit": {"type": "gift"}}, "benefit.type"),
        ({**TEAM, "benefit": {"type": ["plan"]}}, "benefit.type"),
        ({**TEAM, "benefit": {"type": "plan"}}, "benefit.plan"),
        ({**TEAM, "benefit": {"type": "plan", "plan": "Team!"}}, "benefit.plan"),
        ({**TEAM, "benefit": {"type": "plan", "plan": "team", "days": 3}}, "benefit.days"),
        ({**TEAM, "benefit": {"type": "coupon", "coupon": "a b"}}, "benefit.coupon"),
        ({**TEAM, "benefit": {"type": "trial", "plan": "team", "days": 0}}, "benefit.days"),
        ({**TEAM, "benefit": {"type": "trial", "plan": "team", "days": 731}}, "benefit.days"),
        ({**TEAM, "benefit": {"type": "trial", "plan": "team", "days": "30"}}, "benefit.days"),
        ({**TEAM, "benefit": {"type": "price", "plan": "team"}}, "benefit.price"),
        ({**TEAM, "benefit": {"type": "price", "plan": "team", "price": {"amount": 49, "currency": "EUR"}}},
         "benefit.price.amount"),
        ({**TEAM, "benefit": {"type": "price", "plan": "team", "price": {"amount": "-1", "currency": "EUR"}}},
         "benefit.price.amount"),
        ({**TEAM, "benefit": {"type": "price", "plan": "team", "price": {"amount": "1", "currency": "EUX"}}},
         "benefit.price.currency"),
        ({**TEAM, "conditions": None}, "conditions"),
        (doc({"any": []}), "conditions.any"),
        (doc({"all": [{"all": []}]}), "conditions.all.0.all"),
        (doc({"all": {}}), "conditions.all"),
        (doc({"all": [], "any": []}), "conditions"),
        (doc({"not": [leaf("lead.source", "exists")]}), "conditions.not"),
        (doc({"all": [leaf("lead.source", "exists"), "x"]}), "conditions.all.1"),
        (doc({"all": [{"field": "lead.source"}]}), "conditions.all.0.op"),
        (doc({"all": [{"op": "exists"}]}), "conditions.all.0.field"),
        (doc({"all": [{**leaf("lead.source", "exists"), "why": "x"}]}), "conditions.all.0.why"),
        (doc({"all": [leaf("customer.email", "eq", "a@b.c")]}), "conditions.all.0.field"),
        (doc({"all": [leaf("customer.metadata.", "eq", "x")]}), "conditions.all.0.field"),
        (doc({"all": [leaf("customer.metadata." + "k" * 41, "eq", "x")]}), "conditions.all.0.field"),
        (doc({"all": [leaf("usage.API calls", "gt", 1)]}), "conditions.all.0.field"),
        (doc({"all": [leaf("customer.country", "like", "D%")]}), "conditions.all.0.op"),
        (doc({"all": [leaf("customer.country", ["eq"], "DE")]}), "conditions.all.0.op"),  # unhashable
        (doc({"all": [leaf("customer.country", "gt", "DE")]}), "conditions.all.0.op"),
        (doc({"all": [leaf("usage.api_calls", "in", ["1"])]}), "conditions.all.0.op"),
        (doc({"all": [leaf("customer.country", "eq", "de")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.country", "eq", None)]}), "conditions.all.0.value"),
        (doc({"all": [{"field": "customer.country", "op": "exists", "value": True}]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.currency", "eq", "EUX")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.segment", "eq", "")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("subscription.plan", "eq", "Starter")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("subscription.status", "eq", "live")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.country", "in", [])]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.country", "in", "DE")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.country", "in", ["DE", "AT", "deu"])]}), "conditions.all.0.value.2"),
        (doc({"all": [leaf("customer.tenure_days", "gt", 90.0)]}), "conditions.all.0.value"),  # a float
        (doc({"all": [leaf("usage.api_calls", "gt", 1e4)]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.tenure_days", "gt", "90.5")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.tenure_days", "gt", -1)]}), "conditions.all.0.value"),
        (doc({"all": [leaf("customer.tenure_days", "gt", True)]}), "conditions.all.0.value"),
        (doc({"all": [leaf("usage.api_calls", "gt", "1e4")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("usage.api_calls", "gt", "NaN")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("usage.api_calls", "gt", "0.0000000000001")]}), "conditions.all.0.value"),
        (doc({"all": [leaf("lead.source", "exists"), leaf("lead.campaign", "eq", 7)]}), "conditions.all.1.value"),
        (doc(nested(MAX_DEPTH + 1)), "conditions" + ".not" * MAX_DEPTH),
        (doc(LEAVES_51), "conditions.any.25.all.25"),
    ],
)  # fmt: skip
def test_a_bad_document_is_refused_with_the_path(document: Any, path: str | None) -> None:
    with pytest.raises(DomainError) as raised:
        offer_from_doc(document)
    assert (raised.value.code, raised.value.field) == ("invalid_offer", path)


def test_the_refusal_says_what_is_allowed() -> None:
    with pytest.raises(DomainError) as raised:
        offer_from_doc(doc(leaf("customer.country", "gt", "DE")))
    assert raised.value.message == "gt compares numbers; customer.country takes eq, ne, in, not_in, exists."
    with pytest.raises(DomainError) as raised:
        offer_from_doc(doc(leaf("usage.api_calls", "gt", 1e4)))
    assert (
        raised.value.message == 'A number is a whole number or a decimal string like "100.5", never a float.'
    )


# --- properties ----------------------------------------------------------------------------------------

COUNTRIES = ["DE", "AT", "FR", "CH"]
PLANS = ["starter", "team", "pro"]
STATUSES = ["active", "trialing", "canceled", "past_due"]
SEGMENTS = ["smb", "enterprise"]
CAMPAIGNS = ["black-friday", "summer"]

numbers = st.integers(0, 300)
decimals = st.decimals(min_value=-5000, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
text_fields: dict[str, st.SearchStrategy[str]] = {
    "customer.country": st.sampled_from(COUNTRIES),
    "customer.currency": st.sampled_from(["EUR", "CHF"]),
    "customer.segment": st.sampled_from(SEGMENTS),
    "customer.metadata.tier": st.sampled_from(["gold", "silver"]),
    "subscription.plan": st.sampled_from(PLANS),
    "subscription.status": st.sampled_from(STATUSES),
    "lead.source": st.sampled_from(["ads", "partner"]),
    "lead.campaign": st.sampled_from(CAMPAIGNS),
}
number_fields: dict[str, st.SearchStrategy[Any]] = {
    "customer.tenure_days": numbers,
    "invoices.paid_count": numbers,
    "invoices.overdue_count": numbers,
    "usage.api_calls": decimals,
}


@st.composite
def compares(draw: st.DrawFn) -> Compare:
    field = draw(st.sampled_from([*text_fields, *number_fields]))
    if field in text_fields:
        op = draw(st.sampled_from([Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.EXISTS]))
        values = text_fields[field]
        if op in (Op.IN, Op.NOT_IN):
            return Compare(field=field, op=op, value=tuple(draw(st.lists(values, min_size=1, unique=True))))
    else:
        op = draw(st.sampled_from([Op.EQ, Op.NE, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.EXISTS]))
        values = number_fields[field]
    return Compare(field=field, op=op, value=None if op is Op.EXISTS else draw(values))


conditions = st.recursive(
    compares(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map(lambda c: AllOf(conditions=tuple(c))),
        st.lists(inner, min_size=1, max_size=4).map(lambda c: AnyOf(conditions=tuple(c))),
        inner.map(lambda c: Not(condition=c)),
    ),
    max_leaves=12,
)
instants = st.integers(0, 20 * 365 * 86400).map(lambda s: z(2020, 1, 1) + timedelta(seconds=s))
codes = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)
benefits = st.one_of(
    st.sampled_from(PLANS).map(lambda p: PlanBenefit(plan=p)),
    st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True).map(lambda c: CouponBenefit(coupon=c)),
    st.builds(TrialBenefit, plan=st.sampled_from(PLANS), days=st.integers(1, 730)),
    st.builds(
        PriceBenefit,
        plan=st.sampled_from(PLANS),
        price=st.builds(
            Money, amount=st.decimals(0, 10**6, places=2), currency=st.sampled_from(["EUR", "CHF"])
        ),
    ),
)


@st.composite
def offers(draw: st.DrawFn) -> Offer:
    start = draw(st.none() | instants)
    end = draw(st.none() | instants.filter(lambda e: start is None or e > start))
    return Offer(
        code=draw(codes),
        name=draw(st.text(min_size=1, max_size=20).map(str.strip).filter(bool)),
        description=draw(st.none() | st.text(min_size=1, max_size=30)),
        priority=draw(st.integers(-1000, 1000)),
        starts_at=start,
        ends_at=end,
        benefit=draw(benefits),
        conditions=draw(conditions),
    )


all_facts = st.builds(
    Facts,
    country=st.none() | st.sampled_from(COUNTRIES),
    currency=st.sampled_from(["EUR", "CHF"]),
    metadata=st.dictionaries(st.sampled_from(["segment", "tier"]), st.sampled_from(["smb", "gold", "x"])),
    tenure_days=numbers,
    plans=st.frozensets(st.sampled_from(PLANS)),
    statuses=st.frozensets(st.sampled_from(STATUSES)),
    usage=st.dictionaries(st.just("api_calls"), decimals),
    paid_invoices=numbers,
    overdue_invoices=numbers,
    lead_source=st.none() | st.sampled_from(["ads", "partner"]),
    lead_campaign=st.none() | st.sampled_from(CAMPAIGNS),
)


def count_leaves(condition: Any) -> int:
    if isinstance(condition, Compare):
        return 1
    if isinstance(condition, Not):
        return count_leaves(condition.condition)
    return sum(count_leaves(c) for c in condition.conditions)


@settings(max_examples=300)
@given(offer=offers())
def test_to_doc_round_trips_through_json(offer: Offer) -> None:
    text = json.dumps(to_doc(offer))  # JSON-able: no Decimal, no datetime, no float
    assert offer_from_doc(to_doc(offer)) == offer
    assert offer_from_doc(json.loads(text)) == offer
    assert hash(offer_from_doc(to_doc(offer))) == hash(offer)


@settings(max_examples=300)
@given(condition=conditions, f=all_facts)
def test_not_inverts_and_ne_is_not_eq(condition: Any, f: Facts) -> None:
    """A condition, its negation and its rewrite with the opposite ops always disagree / agree: an unset
    fact is never silently both."""

    def applies(c: Any) -> bool:
        offer = Offer(code="p", name="P", description=None, priority=0, starts_at=None, ends_at=None,
                      benefit=PlanBenefit(plan="team"), conditions=c)  # fmt: skip
        [decision] = evaluate([offer], f, NOW)
        assert len(decision.reasons) == count_leaves(c)
        return decision.applies

    opposite = {Op.EQ: Op.NE, Op.NE: Op.EQ, Op.IN: Op.NOT_IN, Op.NOT_IN: Op.IN}

    def flipped(c: Any) -> Any:
        """De Morgan: not(all) = any(not), and eq/ne, in/not_in swap; the rest keep a not."""
        if isinstance(c, Not):
            return c.condition
        if isinstance(c, AllOf):
            return AnyOf(conditions=tuple(flipped(x) for x in c.conditions))
        if isinstance(c, AnyOf):
            return AllOf(conditions=tuple(flipped(x) for x in c.conditions))
        if c.op in opposite:
            return replace(c, op=opposite[c.op])
        return Not(condition=c)

    result = applies(condition)
    assert applies(Not(condition=condition)) is not result
    assert applies(flipped(condition)) is not result


@settings(max_examples=200)
@given(batch=st.lists(offers(), max_size=8, unique_by=lambda o: o.code), f=all_facts, at=instants)
def test_decisions_are_ordered_and_respect_the_window(batch: list[Offer], f: Facts, at: datetime) -> None:
    decisions = evaluate(batch, f, at)
    assert sorted(d.code for d in decisions) == sorted(o.code for o in batch)
    keys = [(-d.offer.priority, d.code) for d in decisions]
    assert keys == sorted(keys)
    for d in decisions:
        assert d.code == d.offer.code
        inside = (d.offer.starts_at is None or d.offer.starts_at <= at) and (
            d.offer.ends_at is None or at < d.offer.ends_at
        )
        if d.applies:
            assert inside
        if not inside:
            assert not d.applies
            assert d.reasons[0].startswith(("not valid before ", "no longer valid since "))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(["code", "name", "priority", "benefit", "conditions", "all", "any", "not", "field",
                        "op", "value", "type", "plan", "starts_at"])  # fmt: skip


@settings(max_examples=300)
@given(
    garbage=json_values,
    where=st.sampled_from(["conditions", "benefit", "priority", "starts_at", "name", "code"]),
    tree=st.dictionaries(keys, json_values, max_size=4),
)
def test_any_json_is_an_offer_or_an_invalid_offer_error(garbage: Any, where: str, tree: Any) -> None:
    for document in ({**TEAM, where: garbage}, {**TEAM, "conditions": tree}, garbage):
        try:
            offer_from_doc(document)
        except DomainError as error:
            assert error.code == "invalid_offer"
