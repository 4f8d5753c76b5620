"""Customer rules: every editable field, the account hierarchy, and the metadata limits."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.customers import (
    MAX_HIERARCHY_DEPTH,
    Customer,
    apply_changes,
    check_parent,
)
from kassa.core.errors import DomainError
from kassa.core.metadata import metadata
from kassa.core.money import Money
from kassa.core.parties import Address
from kassa.core.tax_ids import TaxId

AT = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
BLANK = Customer(
    tenant_id="ten_1",
    id="cus_1",
    external_id="-",
    name="-",
    currency="EUR",
    locale="en",
    time_zone="UTC",
    created_at=AT,
    updated_at=AT,
)


def _error(changes: dict[str, Any], customer: Customer = BLANK) -> tuple[str, str | None]:
    with pytest.raises(DomainError) as caught:
        apply_changes(customer, changes)
    return caught.value.code, caught.value.field


def test_every_editable_field_applied() -> None:
    vat = TaxId(type="eu_vat", value="DE123456789", country="DE")
    customer = apply_changes(
        BLANK,
        {
            "external_id": "  crm-42 ",
            "name": " Muster GmbH ",
            "legal_name": "Muster Gesellschaft mit beschränkter Haftung",
            "emails": ["billing@muster.de", "ap+kassa@muster.de"],
            "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
            "currency": "CHF",
            "locale": "de_CH",
            "time_zone": "Europe/Zurich",
            "tax_ids": [vat],
            "payment_terms_days": 30,
            "parent_id": "cus_0",
            "bill_to_parent": True,
            "credit_limit": Money(Decimal("5000.00"), "CHF"),
            "metadata": {"crm": "hubspot"},
        },
    )
    assert customer == replace(
        BLANK,
        external_id="crm-42",
        name="Muster GmbH",
        legal_name="Muster Gesellschaft mit beschränkter Haftung",
        emails=("billing@muster.de", "ap+kassa@muster.de"),
        address=Address(line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE"),
        currency="CHF",
        locale="de_CH",
        time_zone="Europe/Zurich",
        tax_ids=(vat,),
        payment_terms_days=30,
        parent_id="cus_0",
        bill_to_parent=True,
        credit_limit=Money(Decimal("5000"), "CHF"),
        metadata={"crm": "hubspot"},
    )
    assert BLANK.name == "-"  # the original is untouched
    assert apply_changes(customer, {}) == customer


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"nickname": "x", "colour": "y"}, "unknown_field", "colour"),
        ({"test_clock_id": "clk_1"}, "unknown_field", "test_clock_id"),
        ({"created_at": AT}, "unknown_field", "created_at"),
        ({"external_id": ""}, "invalid_text", "external_id"),
        ({"external_id": "   "}, "invalid_text", "external_id"),
        ({"external_id": "x" * 256}, "invalid_text", "external_id"),
        ({"external_id": 42}, "invalid_text", "external_id"),
        ({"name": "x" * 201}, "invalid_text", "name"),
        ({"name": None}, "invalid_text", "name"),
        ({"legal_name": ""}, "invalid_text", "legal_name"),
        ({"legal_name": "x" * 201}, "invalid_text", "legal_name"),
        ({"emails": "a@b.co"}, "invalid_emails", "emails"),
        ({"emails": [f"a{i}@b.co" for i in range(11)]}, "invalid_emails", "emails"),
        ({"emails": ["ok@b.co", "not-an-email"]}, "invalid_email", "emails.1"),
        ({"emails": [5]}, "invalid_email", "emails.0"),
        ({"emails": ["ok@b.co\n"]}, "invalid_email", "emails.0"),
        ({"address": {"line1": "Main St 1", "country": "US"}}, "required", "address.city"),
        (
            {"address": {"line1": "Main St 1", "city": "X", "country": "UK"}},
            "invalid_country",
            "address.country",
        ),
        (
            {"address": {"line1": "A", "city": "B", "country": "DE", "zip": "1"}},
            "unknown_field",
            "address.zip",
        ),
        ({"address": "Main St 1, Springfield"}, "invalid_address", "address"),
        ({"currency": "eur"}, "unknown_currency", "currency"),
        ({"currency": "DEM"}, "unknown_currency", "currency"),
        ({"currency": "XAU"}, "unknown_currency", "currency"),
        ({"currency": 978}, "unknown_currency", "currency"),
        ({"locale": "de-DE"}, "invalid_locale", "locale"),
        ({"locale": None}, "invalid_locale", "locale"),
        ({"time_zone": "Europe/Atlantis"}, "invalid_time_zone", "time_zone"),
        ({"time_zone": "europe/berlin"}, "invalid_time_zone", "time_zone"),
        ({"payment_terms_days": 366}, "invalid_payment_terms", "payment_terms_days"),
        ({"payment_terms_days": -1}, "invalid_payment_terms", "payment_terms_days"),
        ({"payment_terms_days": True}, "invalid_payment_terms", "payment_terms_days"),
        ({"payment_terms_days": "30"}, "invalid_payment_terms", "payment_terms_days"),
        ({"bill_to_parent": "yes"}, "invalid_boolean", "bill_to_parent"),
        ({"bill_to_parent": True}, "parent_required", "bill_to_parent"),
        ({"credit_limit": Money(Decimal("-1"), "EUR")}, "invalid_credit_limit", "credit_limit"),
        ({"credit_limit": Money(Decimal("1.005"), "EUR")}, "invalid_credit_limit", "credit_limit"),
        ({"credit_limit": "100.00"}, "invalid_credit_limit", "credit_limit"),
        ({"credit_limit": Money(Decimal("100"), "USD")}, "currency_mismatch", "credit_limit.currency"),
        ({"metadata": ["a", "b"]}, "invalid_metadata", "metadata"),
    ],
)
def test_invalid_changes_are_refused_with_code_and_field(
    changes: dict[str, Any], code: str, field: str
) -> None:
    assert _error(changes) == (code, field)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"external_id": "x" * 255}, "external_id", "x" * 255),
        ({"name": "x" * 200}, "name", "x" * 200),
        ({"legal_name": None}, "legal_name", None),
        ({"emails": []}, "emails", ()),
        ({"emails": [f"a{i}@b.co" for i in range(10)]}, "emails", tuple(f"a{i}@b.co" for i in range(10))),
        ({"address": None}, "address", None),
        ({"payment_terms_days": 0}, "payment_terms_days", 0),
        ({"payment_terms_days": 365}, "payment_terms_days", 365),
        ({"credit_limit": None}, "credit_limit", None),
        ({"credit_limit": Money(Decimal("0"), "EUR")}, "credit_limit", Money(Decimal("0.00"), "EUR")),
        ({"time_zone": "America/Argentina/Buenos_Aires"}, "time_zone", "America/Argentina/Buenos_Aires"),
        ({"locale": "zh_Hant_TW"}, "locale", "zh_Hant_TW"),
    ],
)
def test_boundary_values_are_accepted(changes: dict[str, Any], field: str, value: object) -> None:
    assert getattr(apply_changes(BLANK, changes), field) == value


def test_changing_the_currency_under_a_credit_limit_is_refused() -> None:
    limited = apply_changes(BLANK, {"credit_limit": Money(Decimal("100.00"), "EUR")})
    assert _error({"currency": "USD"}, limited) == ("currency_mismatch", "credit_limit.currency")
    both = apply_changes(limited, {"currency": "USD", "credit_limit": Money(Decimal("100.00"), "USD")})
    assert (both.currency, both.credit_limit) == ("USD", Money(Decimal("100"), "USD"))


def test_removing_the_parent_of_an_account_billed_to_its_parent_is_refused() -> None:
    child = apply_changes(BLANK, {"parent_id": "cus_0", "bill_to_parent": True})
    assert _error({"parent_id": None}, child) == ("parent_required", "bill_to_parent")
    assert apply_changes(child, {"parent_id": None, "bill_to_parent": False}).parent_id is None


def test_to_json_is_the_audit_view() -> None:
    customer = apply_changes(
        BLANK, {"external_id": "c1", "name": "One", "credit_limit": Money(Decimal("12.5"), "EUR")}
    )
    view = customer.to_json()
    assert view["credit_limit"] == {"amount": "12.50", "currency": "EUR"}
    assert view["created_at"] == "2026-01-01T09:00:00+00:00"
    assert (view["address"], view["archived_at"], view["emails"]) == (None, None, [])
    assert json.loads(json.dumps(view)) == view


# --- the hierarchy -------------------------------------------------------------------------------------


def _chain(length: int) -> dict[str, str | None]:
    """p1 at the top, p2 under it … p<length> at the bottom."""
    return {f"p{i}": (f"p{i - 1}" if i > 1 else None) for i in range(1, length + 1)}


def _check(customer: str, parent: str, parents: dict[str, str | None], levels_below: int = 0) -> str | None:
    try:
        check_parent(customer, parent, parents.__getitem__, levels_below)
    except DomainError as error:
        assert error.field == "parent_id"
        return error.code
    return None


def test_a_customer_cannot_be_its_own_parent() -> None:
    assert _check("c", "c", {"c": None}) == "parent_cycle"


def test_a_customer_cannot_be_placed_under_its_own_descendant() -> None:
    parents = {"c": None, "child": "c", "grandchild": "child", "other": None}
    assert _check("c", "child", parents) == "parent_cycle"
    assert _check("c", "grandchild", parents) == "parent_cycle"
    assert _check("c", "other", parents) is None
    assert _check("child", "other", parents) is None  # moving a subtree elsewhere is fine


def test_hierarchies_are_at_most_ten_levels_deep() -> None:
    assert MAX_HIERARCHY_DEPTH == 10
    nine = _chain(9)
    assert _check("c", "p9", nine) is None  # p1 … p9 and c: ten levels
    ten = _chain(10)
    assert _check("c", "p10", ten) == "hierarchy_too_deep"  # eleven levels
    assert _check("c", "p9", ten) is None


def test_a_moved_subtree_counts_toward_the_depth() -> None:
    """Issue 3: a customer with children brings its levels along under the new parent."""
    nine = _chain(9)
    assert _check("r", "p8", nine, levels_below=1) is None  # p1 … p8, r, r's child: ten levels
    assert _check("r", "p9", nine, levels_below=1) == "hierarchy_too_deep"  # eleven levels
    assert _check("r", "p1", nine, levels_below=8) is None
    assert _check("r", "p2", nine, levels_below=8) == "hierarchy_too_deep"


def test_a_loop_already_in_the_data_ends_the_walk() -> None:
    calls: list[str] = []
    loop = {"a": "b", "b": "a"}

    def parent_of(customer_id: str) -> str | None:
        calls.append(customer_id)
        return loop[customer_id]

    with pytest.raises(DomainError) as caught:
        check_parent("c", "a", parent_of)
    assert caught.value.code == "hierarchy_too_deep"
    assert len(calls) == MAX_HIERARCHY_DEPTH


@st.composite
def _forests(draw: st.DrawFn) -> dict[str, str | None]:
    """Up to 25 customers, each under an earlier one or at the top: a valid, acyclic hierarchy."""
    size = draw(st.integers(1, 25))
    parents: dict[str, str | None] = {}
    for i in range(size):
        parents[f"n{i}"] = draw(st.none() | st.sampled_from([f"n{j}" for j in range(i)])) if i else None
    return parents


def _ancestry(node: str, parents: dict[str, str | None]) -> list[str]:
    chain = [node]
    while (up := parents[chain[-1]]) is not None:
        chain.append(up)
    return chain


@given(_forests(), st.data())
def test_check_parent_refuses_exactly_cycles_and_depth(
    parents: dict[str, str | None], data: st.DataObject
) -> None:
    customer = data.draw(st.sampled_from(sorted(parents)))
    parent = data.draw(st.sampled_from(sorted(parents)))
    above = _ancestry(parent, parents)  # the parent and everything over it
    outcome = _check(customer, parent, parents)
    if customer in above[:MAX_HIERARCHY_DEPTH]:
        assert outcome == "parent_cycle"
    elif len(above) + 1 > MAX_HIERARCHY_DEPTH:
        assert outcome == "hierarchy_too_deep"
    else:
        assert outcome is None


# --- metadata ------------------------------------------------------------------------------------------


def _meta_error(value: Any) -> tuple[str, str | None]:
    with pytest.raises(DomainError) as caught:
        metadata(value)
    return caught.value.code, caught.value.field


def test_metadata_holds_fifty_keys_not_fifty_one() -> None:
    fifty = {f"k{i:02d}": "v" for i in range(50)}
    assert metadata(fifty) == fifty
    assert _meta_error({**fifty, "k50": "v"}) == ("metadata_too_large", "metadata")


def test_metadata_keys_are_one_to_forty_characters() -> None:
    assert metadata({"k" * 40: "v"}) == {"k" * 40: "v"}
    assert _meta_error({"k" * 41: "v"}) == ("invalid_metadata", f"metadata.{'k' * 41}")
    assert _meta_error({"": "v"}) == ("invalid_metadata", "metadata.")
    assert _meta_error({7: "v"}) == ("invalid_metadata", "metadata.7")


def test_metadata_values_are_strings_of_at_most_500_characters() -> None:
    assert metadata({"k": "v" * 500}) == {"k": "v" * 500}
    assert metadata({"k": ""}) == {"k": ""}
    assert _meta_error({"k": "v" * 501}) == ("invalid_metadata", "metadata.k")
    assert _meta_error({"k": 5}) == ("invalid_metadata", "metadata.k")
    assert _meta_error({"k": None}) == ("invalid_metadata", "metadata.k")
    assert _meta_error({"k": {"nested": "x"}}) == ("invalid_metadata", "metadata.k")


def test_metadata_is_at_most_8_kib_as_json() -> None:
    # 16 keys of 500 characters: 8176 bytes as JSON; a 17th entry of 5 characters adds exactly 16
    base = {f"k{i:02d}": "v" * 500 for i in range(16)}
    assert len(json.dumps(base).encode()) == 8176
    exactly = {**base, "k16": "v" * 5}
    assert len(json.dumps(exactly).encode()) == 8192
    assert metadata(exactly) == exactly
    assert _meta_error({**base, "k16": "v" * 6}) == ("metadata_too_large", "metadata")


def test_metadata_size_counts_utf8_bytes_not_characters() -> None:
    ascii_six = {f"k{i}": "e" * 500 for i in range(6)}
    euro_six = {f"k{i}": "€" * 500 for i in range(6)}  # 1500 bytes each
    assert metadata(ascii_six) == ascii_six
    assert _meta_error(euro_six) == ("metadata_too_large", "metadata")


def test_metadata_must_be_an_object_and_names_its_field() -> None:
    assert _meta_error("a=b") == ("invalid_metadata", "metadata")
    with pytest.raises(DomainError) as caught:
        metadata({"k": 1}, "lines.0.metadata")
    assert caught.value.field == "lines.0.metadata.k"
    original = {"a": "b"}
    copy = metadata(original)
    assert copy == original and copy is not original
