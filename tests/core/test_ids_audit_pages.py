"""Object ids sort by time; the audit diff records what changed; page limits are bounded."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.audit import diff
from kassa.core.errors import DomainError
from kassa.core.ids import ID_PATTERN, encode_id
from kassa.core.pages import MAX_LIMIT, Page, check_limit

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MILLIS = (1 << 48) - 1
random_bytes = st.binary(min_size=10, max_size=10)
millis = st.integers(0, MAX_MILLIS)


def _millis(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(milliseconds=1)


# --- ids -----------------------------------------------------------------------------------------------


def test_id_examples() -> None:
    assert encode_id("cus", 0, bytes(10)) == "cus_" + "0" * 26
    # one millisecond is bit 80: the tenth character from the left is its lowest time digit
    assert encode_id("evt", 1, bytes(10)) == "evt_" + "0" * 9 + "1" + "0" * 16
    assert encode_id("evt", 0, bytes(9) + b"\x1f") == "evt_" + "0" * 25 + "Z"
    assert encode_id("ten", MAX_MILLIS, b"\xff" * 10) == "ten_7" + "Z" * 25
    at = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert _millis(at) == 1_767_258_000_000
    assert (
        encode_id("cus", _millis(at), bytes(10)) == "cus_01KDWCJ2M0" + "0" * 16
    )  # 1767258000000 = 01KDWCJ2M0 in base 32


def test_ids_are_26_crockford_characters_after_the_prefix() -> None:
    made = encode_id("whd", 1_767_258_000_000, bytes(range(10)))
    prefix, body = made.split("_")
    assert (prefix, len(body)) == ("whd", 26)
    assert ID_PATTERN.fullmatch(made)
    assert not set(body) & set("ILOU")


@pytest.mark.parametrize(
    "text",
    [
        "cus_0000000000000000000000000",  # 25
        "cus_000000000000000000000000000",  # 27
        "cus_0000000000000000000000000I",
        "cus_0000000000000000000000000u",
        "CUS_00000000000000000000000000",
        "c_00000000000000000000000000",
        "toolong_00000000000000000000000000",
        "cus-00000000000000000000000000",
    ],
)
def test_the_id_pattern_refuses(text: str) -> None:
    assert ID_PATTERN.fullmatch(text) is None


def test_encode_id_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="exactly 10 random bytes"):
        encode_id("cus", 0, bytes(9))
    with pytest.raises(ValueError, match="millis out of range"):
        encode_id("cus", -1, bytes(10))
    with pytest.raises(ValueError, match="millis out of range"):
        encode_id("cus", 1 << 48, bytes(10))


@given(millis, millis, random_bytes, random_bytes)
def test_ids_of_increasing_millis_sort_in_the_same_order(m1: int, m2: int, r1: bytes, r2: bytes) -> None:
    a, b = encode_id("cus", m1, r1), encode_id("cus", m2, r2)
    if m1 < m2:
        assert a < b
    elif m1 > m2:
        assert a > b
    else:
        assert (a < b) == (r1 < r2) and (a == b) == (r1 == r2)


@given(millis, random_bytes)
def test_every_id_matches_the_pattern_and_decodes_back(m: int, r: bytes) -> None:
    made = encode_id("aud", m, r)
    assert ID_PATTERN.fullmatch(made)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = 0
    for char in made[4:]:
        value = value * 32 + alphabet.index(char)
    assert (value >> 80, (value & ((1 << 80) - 1)).to_bytes(10, "big")) == (m, r)


# --- audit diff ----------------------------------------------------------------------------------------


def test_created_records_every_set_field() -> None:
    assert diff(None, {"name": "Acme", "legal_name": None, "emails": ["a@b.co"]}) == {
        "emails": {"before": None, "after": ["a@b.co"]},
        "name": {"before": None, "after": "Acme"},
    }


def test_deleted_records_every_field_it_had() -> None:
    assert diff({"name": "Acme", "archived": False}, None) == {
        "archived": {"before": False, "after": None},
        "name": {"before": "Acme", "after": None},
    }


def test_changed_records_only_what_changed_and_nested_documents_whole() -> None:
    before = {"name": "Acme", "address": {"city": "Berlin", "country": "DE"}, "terms": 14}
    after = {"name": "Acme", "address": {"city": "Hamburg", "country": "DE"}, "terms": 30}
    changes = diff(before, after)
    assert changes == {
        "address": {
            "before": {"city": "Berlin", "country": "DE"},
            "after": {"city": "Hamburg", "country": "DE"},
        },
        "terms": {"before": 14, "after": 30},
    }
    assert list(changes) == ["address", "terms"]  # sorted


def test_unchanged_is_empty() -> None:
    document = {"name": "Acme", "tags": ["a", "b"], "address": {"city": "Berlin"}, "n": 0}
    assert diff(document, copy.deepcopy(document)) == {}
    assert diff(None, None) == {}
    assert diff({}, {"legal_name": None}) == {}  # absent and null read the same in the audit view


def test_a_type_change_is_a_change() -> None:
    """Regression: Python's 0 == False and 1 == True hid a false -> 0 change from the audit log."""
    assert diff({"flag": False}, {"flag": 0}) == {"flag": {"before": False, "after": 0}}
    assert diff({"n": 1}, {"n": True}) == {"n": {"before": 1, "after": True}}
    assert diff({"a": {"b": [1]}}, {"a": {"b": [True]}}) == {
        "a": {"before": {"b": [1]}, "after": {"b": [True]}}
    }
    assert diff({"tags": ("a", "b")}, {"tags": ["a", "b"]}) == {}  # both are one JSON array


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=2), children, max_size=3)
    ),
    max_leaves=8,
)
documents = st.dictionaries(st.sampled_from("abcdef"), json_values, max_size=6)


def _apply(document: dict[str, Any], changes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result = dict(document)
    for key, change in changes.items():
        assert _same_json(result.get(key), change["before"])
        result[key] = change["after"]
    return _without_nulls(result)


def _without_nulls(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if v is not None}


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON text: unlike ==, this tells 0 from false and 1 from true."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@given(documents, documents)
def test_applying_the_diff_of_a_and_b_to_a_gives_b(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert _same_json(_apply(a, diff(a, b)), _without_nulls(b))


@given(documents)
def test_a_document_does_not_differ_from_itself(a: dict[str, Any]) -> None:
    assert diff(a, copy.deepcopy(a)) == {}


# --- pages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 20, MAX_LIMIT])
def test_limits_from_one_to_a_hundred(limit: int) -> None:
    assert MAX_LIMIT == 100
    assert check_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, 101, 10**6, "5", 5.0, None, True])
def test_other_limits_are_refused(limit: Any) -> None:
    with pytest.raises(DomainError) as caught:
        check_limit(limit)
    assert (caught.value.code, caught.value.field, caught.value.status) == ("invalid_limit", "limit", 422)


def test_a_page_is_a_frozen_value() -> None:
    page = Page(items=["a", "b"], has_more=True, next_cursor="b")
    assert page == Page(items=["a", "b"], has_more=True, next_cursor="b")
    with pytest.raises(AttributeError):
        page.has_more = False  # type: ignore[misc]
