from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from zoneinfo import ZoneInfo

import pytest

from kassa.core.errors import DomainError
from kassa.core.webhooks import (
    ENDPOINT_DISABLE_AFTER,
    RETRY_DELAYS,
    is_address_allowed,
    matches,
    new_secret_text,
    next_attempt_at,
    should_disable,
    validate_event_filter,
    validate_networks,
)

FIRST = datetime(2026, 1, 1, tzinfo=UTC)


def test_retry_schedule_total_is_pinned_and_about_three_days() -> None:
    total = sum(RETRY_DELAYS, timedelta())
    assert total == timedelta(days=3, minutes=35, seconds=5)
    assert timedelta(days=2.9) <= total <= timedelta(days=3.1)
    assert len(RETRY_DELAYS) == 12


@pytest.mark.parametrize(
    ("attempts_made", "due"),
    [
        (0, datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)),
        (1, datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)),
        (2, datetime(2026, 1, 1, 0, 5, 5, tzinfo=UTC)),
        (3, datetime(2026, 1, 1, 0, 35, 5, tzinfo=UTC)),
        (4, datetime(2026, 1, 1, 2, 35, 5, tzinfo=UTC)),
        (5, datetime(2026, 1, 1, 7, 35, 5, tzinfo=UTC)),
        (6, datetime(2026, 1, 1, 17, 35, 5, tzinfo=UTC)),
        (7, datetime(2026, 1, 2, 3, 35, 5, tzinfo=UTC)),
        (8, datetime(2026, 1, 2, 13, 35, 5, tzinfo=UTC)),
        (9, datetime(2026, 1, 2, 23, 35, 5, tzinfo=UTC)),
        (10, datetime(2026, 1, 3, 9, 35, 5, tzinfo=UTC)),
        (11, datetime(2026, 1, 3, 19, 35, 5, tzinfo=UTC)),
        (12, datetime(2026, 1, 4, 0, 35, 5, tzinfo=UTC)),
        (13, None),
        (50, None),
    ],
)
def test_next_attempt_at(attempts_made: int, due: datetime | None) -> None:
    assert next_attempt_at(FIRST, attempts_made) == due


def test_next_attempt_is_absolute_time_across_dst() -> None:
    # 2026-03-29 01:00 UTC Europe/Berlin jumps from 02:00 to 03:00: wall-clock addition would be 1 h off.
    first = datetime(2026, 3, 28, 20, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    due = next_attempt_at(first, 6)
    assert due == datetime(2026, 3, 29, 12, 35, 5, tzinfo=UTC)
    assert due is not None and due.tzinfo is UTC


def test_next_attempt_refuses_naive_and_negative() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_attempt_at(datetime(2026, 1, 1), 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match=">= 0"):
        next_attempt_at(FIRST, -1)


@pytest.mark.parametrize(
    ("event_filter", "event_type", "expected"),
    [
        ((), "customer.created", True),
        (("*",), "invoice.finalized", True),
        (("customer.created",), "customer.created", True),
        (("customer.created",), "customer.updated", False),
        (("customer.*",), "customer.created", True),
        (("customer.*",), "customer.subscription.created", True),
        (("customer.*",), "customers.created", False),
        (("customer.*",), "customer", False),
        (("customer.*",), "invoice.finalized", False),
        (("invoice.paid", "customer.*"), "customer.deleted", True),
        (("invoice.paid", "customer.*"), "invoice.voided", False),
    ],
)
def test_matches(event_filter: tuple[str, ...], event_type: str, expected: bool) -> None:
    assert matches(event_filter, event_type) is expected


def test_validate_event_filter_keeps_order_and_drops_duplicates() -> None:
    entries = ["customer.*", "invoice.payment_failed", "customer.*", "*"]
    assert validate_event_filter(entries) == ("customer.*", "invoice.payment_failed", "*")
    assert validate_event_filter([]) == ()


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        (["Customer.created"], "enabled_events.0"),
        (["customer.created", "customer"], "enabled_events.1"),
        (["customer.created", "invoice.paid", "customer.*.created"], "enabled_events.2"),
        (["*.created"], "enabled_events.0"),
        (["customer.**"], "enabled_events.0"),
        (["customer..created"], "enabled_events.0"),
        ([" customer.created"], "enabled_events.0"),
        (["customer.created."], "enabled_events.0"),
        ([""], "enabled_events.0"),
        (["ok.one", 7], "enabled_events.1"),
        ("customer.created", "enabled_events"),
    ],
)
def test_validate_event_filter_refuses(entries: object, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_event_filter(entries)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_event_filter"
    assert caught.value.field == field


def test_should_disable_boundaries() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert ENDPOINT_DISABLE_AFTER == timedelta(days=5)
    assert should_disable(None, start) is False
    assert should_disable(start, start + timedelta(days=5) - timedelta(microseconds=1)) is False
    assert should_disable(start, start + timedelta(days=5)) is True
    assert should_disable(start, start + timedelta(days=9)) is True
    with pytest.raises(ValueError, match="aware"):
        should_disable(datetime(2026, 1, 1), start)  # noqa: DTZ001 - the point of the test


def test_new_secret_text() -> None:
    raw = bytes(range(24))
    text = new_secret_text(raw)
    assert text == "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
    assert base64.b64decode(text.removeprefix("whsec_")) == raw
    assert new_secret_text(b"\xff" * 32).startswith("whsec_")
    for size in (23, 33):
        with pytest.raises(ValueError, match="24 to 32"):
            new_secret_text(b"\x00" * size)


@pytest.mark.parametrize(
    ("address", "allowed_networks", "expected"),
    [
        ("8.8.8.8", (), True),
        ("2001:4860:4860::8888", (), True),
        ("93.184.215.14", (), True),
        ("127.0.0.1", (), False),
        ("10.1.2.3", (), False),
        ("172.16.0.1", (), False),
        ("192.168.1.1", (), False),
        ("169.254.169.254", (), False),
        ("100.64.0.1", (), False),
        ("0.0.0.0", (), False),
        ("255.255.255.255", (), False),
        ("224.0.0.1", (), False),
        ("240.0.0.1", (), False),
        ("::1", (), False),
        ("::", (), False),
        ("fc00::1", (), False),
        ("fe80::1", (), False),
        ("ff0e::1", (), False),
        ("::ffff:127.0.0.1", (), False),
        ("::ffff:10.0.0.1", (), False),
        ("::ffff:8.8.8.8", (), True),
        ("64:ff9b::7f00:1", (), False),  # NAT64 of 127.0.0.1
        ("64:ff9b::808:808", (), True),  # NAT64 of 8.8.8.8
        ("2002:a00:1::1", (), False),  # 6to4 of 10.0.0.1
        ("::7f00:1", (), False),  # deprecated IPv4-compatible form
        ("127.0.0.1", ("127.0.0.0/8",), True),
        ("::ffff:127.0.0.1", ("127.0.0.0/8",), True),
        ("10.1.2.3", ("127.0.0.0/8",), False),
        ("::1", ("127.0.0.0/8",), False),
        ("::1", ("::1/128",), True),
        ("10.1.2.3", ("10.0.0.0/8", "fc00::/7"), True),
        ("fd12::5", ("10.0.0.0/8", "fc00::/7"), True),
    ],
)
def test_is_address_allowed(address: str, allowed_networks: tuple[str, ...], expected: bool) -> None:
    assert is_address_allowed(ip_address(address), allowed_networks) is expected


def test_validate_networks_canonicalises() -> None:
    assert validate_networks(["127.0.0.0/8", " FC00::/7 ", "10.0.0.5", "127.0.0.0/8"]) == (
        "127.0.0.0/8",
        "fc00::/7",
        "10.0.0.5/32",
    )


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        (["10.0.0.1/8"], "webhook_allowed_networks.0"),  # host bits set: probably a typo
        (["127.0.0.0/8", "localhost"], "webhook_allowed_networks.1"),
        (["10.0.0.0/33"], "webhook_allowed_networks.0"),
        ([""], "webhook_allowed_networks.0"),
        ([None], "webhook_allowed_networks.0"),
        ("10.0.0.0/8", "webhook_allowed_networks"),
    ],
)
def test_validate_networks_refuses(entries: object, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_networks(entries)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_network"
    assert caught.value.field == field
