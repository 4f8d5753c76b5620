"""Issue 4: subscriptions in the service layer, on SQLite and PostgreSQL. A subscription's next transition is
a job due at the start of that local day, which the worker runs on the system clock; a new catalog version
reaches an evergreen subscription at its next renewal, or on the version's `existing_subscriptions_from`
date with a prorated credit and charge; an operation a status does not allow raises Conflict
`invalid_state` and writes nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from kassa import worker
from kassa.core.audit import Actor
from kassa.core.errors import Conflict
from kassa.core.subscriptions import Status, Subscription
from kassa.services import catalog, customers, events, payments, subscriptions
from kassa.services.context import ServiceContext
from kassa.store.tables import jobs as jobs_table
from tests.conftest import SettableClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
_EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
JOB = subscriptions.TRANSITION_JOB


def example() -> dict[str, Any]:
    return copy.deepcopy(_EXAMPLE_DOC)


def with_new_prices(document: dict[str, Any]) -> dict[str, Any]:
    """Business monthly 60 + 25 a seat (was 50 + 22); Team monthly after its discount 25 + 16 (was 20 + 14)."""
    plans = document["products"][0]["plans"]
    plans[2]["phases"][0]["prices"]["EUR"] = {"flat": "60.00", "per_unit": "25.00", "setup": "250.00"}
    plans[1]["phases"][2]["prices"]["EUR"] = {"flat": "25.00", "per_unit": "16.00"}
    document["name"] = "Nordlicht price list 2026, new prices"
    return document


@pytest.fixture
def example_catalog(ctx: ServiceContext, actor: Actor) -> None:
    catalog.apply_catalog(ctx, actor, example(), effective_at=datetime(2025, 1, 1, tzinfo=UTC))


def customer(ctx: ServiceContext, actor: Actor, external_id: str = "c1", **fields: Any) -> str:
    created = customers.create_customer(
        ctx, actor, {"external_id": external_id, "name": external_id, **fields}
    )
    return created.id


def subscribe(ctx: ServiceContext, actor: Actor, customer_id: str, plan: str, **fields: Any) -> Subscription:
    return subscriptions.create_subscription(ctx, actor, {"customer_id": customer_id, "plan": plan, **fields})


def schedule(
    ctx: ServiceContext, actor: Actor, sub_id: str, start: date | None = None, end: date | None = None
) -> list[tuple[str, str, str, str, str, str]]:
    """(due, kind, key, service start, service end, amount) of each charge due in [start, end)."""
    _, _, _, charges = subscriptions.get_schedule(ctx, actor, sub_id, start=start, end=end)
    return [
        (
            str(c.due),
            c.kind.value,
            c.line.key,
            str(c.line.start),
            str(c.line.end),
            c.line.amount.amount_text(),
        )
        for c in charges
    ]


def jobs_of(ctx: ServiceContext, sub_id: str) -> list[tuple[str, datetime, str, str, str | None, Any]]:
    """The subscription's transition jobs as (kind, due at, dedupe key, status, test clock, payload)."""
    c = jobs_table.c
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.kind, c.due_at, c.dedupe_key, c.status, c.test_clock_id, c.payload)
            .where(c.kind == JOB, c.dedupe_key.startswith(f"{sub_id}:"))
            .order_by(c.due_at)
        ).all()
    return [
        (r.kind, r.due_at.astimezone(UTC), r.dedupe_key, r.status, r.test_clock_id, r.payload) for r in rows
    ]


def types_of(ctx: ServiceContext, actor: Actor, sub_id: str) -> list[str]:
    page = events.list_events(
        ctx, actor.tenant_id, type=None, customer_id=None, object_id=sub_id, limit=100, cursor=None
    )
    return [e.type for e in reversed(page.items)]


def test_the_next_transition_is_a_job_the_worker_runs_on_its_local_day(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, example_catalog: None
) -> None:
    berlin = customer(ctx, actor, "berlin", time_zone="Europe/Berlin")
    payments.add_payment_method(ctx, actor, berlin,
                                {"type": "card", "token": "tok_sandbox_success"})  # fmt: skip
    sub = subscribe(ctx, actor, berlin, "team-monthly", quantity=2)  # 1 Jan, 10:00 in Berlin

    assert (sub.status, sub.start, sub.time_zone) == (Status.TRIALING, date(2026, 1, 1), "Europe/Berlin")
    payload = {"subscription_id": sub.id}
    # the 14-day trial ends on 15 Jan: midnight in Berlin (UTC+1) is 23:00 UTC the day before
    assert jobs_of(ctx, sub.id) == [
        (JOB, datetime(2026, 1, 14, 23, tzinfo=UTC), f"{sub.id}:2026-01-15", "pending", None, payload)
    ]

    clock.at = datetime(2026, 1, 14, 22, 59, 59, tzinfo=UTC)
    worker.run_once(ctx)
    assert subscriptions.get_subscription(ctx, actor, sub.id).status is Status.TRIALING

    clock.at = datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    worker.run_once(ctx)

    converted = subscriptions.get_subscription(ctx, actor, sub.id)
    assert (converted.status, converted.updated_at) == (Status.ACTIVE, clock.at)
    assert types_of(ctx, actor, sub.id) == [
        "subscription.created",
        "subscription.trial_started",
        "subscription.trial_converted",
    ]
    # next: the three discounted months end on 15 Apr, midnight in Berlin summer time (UTC+2)
    assert jobs_of(ctx, sub.id) == [
        (JOB, datetime(2026, 1, 14, 23, tzinfo=UTC), f"{sub.id}:2026-01-15", "done", None, payload),
        (JOB, datetime(2026, 4, 14, 22, tzinfo=UTC), f"{sub.id}:2026-04-15", "pending", None, payload),
    ]
    worker.run_once(ctx)  # running again changes nothing
    assert subscriptions.get_subscription(ctx, actor, sub.id) == converted
    assert len(jobs_of(ctx, sub.id)) == 2


def test_a_future_change_is_a_job_on_its_day(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, example_catalog: None
) -> None:
    sub = subscribe(ctx, actor, customer(ctx, actor), "business-monthly", quantity=3)  # UTC, from 1 Jan
    subscriptions.change_subscription(ctx, actor, sub.id, {"plan": "team-monthly"})  # a downgrade: 1 Feb

    assert [(due, key, status) for _, due, key, status, _, _ in jobs_of(ctx, sub.id)] == [
        (datetime(2026, 2, 1, tzinfo=UTC), f"{sub.id}:2026-02-01", "pending")
    ]
    clock.at = datetime(2026, 2, 1, tzinfo=UTC)
    worker.run_once(ctx)

    changed = subscriptions.get_subscription(ctx, actor, sub.id)
    assert (changed.status, changed.terms.plan, changed.terms.quantity) == (Status.ACTIVE, "team-monthly", 3)
    assert types_of(ctx, actor, sub.id)[-2:] == ["subscription.change_scheduled", "subscription.changed"]
    # team-monthly's three discounted periods end on 1 May
    assert [(key, status) for _, _, key, status, _, _ in jobs_of(ctx, sub.id)] == [
        (f"{sub.id}:2026-02-01", "done"),
        (f"{sub.id}:2026-05-01", "pending"),
    ]


BUSINESS_JANUARY = [
    ("2026-01-01", "recurring", "plan.flat", "2026-01-01", "2026-02-01", "50.00"),
    ("2026-01-01", "recurring", "plan.per_unit", "2026-01-01", "2026-02-01", "44.00"),
    ("2026-01-01", "setup", "plan.setup", "2026-01-01", "2026-01-02", "250.00"),
]


def test_new_prices_reach_an_evergreen_subscription_at_its_next_renewal(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, example_catalog: None
) -> None:
    buyer = customer(ctx, actor)
    business = subscribe(ctx, actor, buyer, "business-monthly", quantity=2)  # from 1 Jan, periods on the 1st
    team = subscribe(ctx, actor, buyer, "team-monthly", quantity=2)  # trial to 15 Jan, discount to 15 Apr
    until = date(2026, 3, 2)
    assert schedule(ctx, actor, business.id, end=until) == [
        *BUSINESS_JANUARY,
        ("2026-02-01", "recurring", "plan.flat", "2026-02-01", "2026-03-01", "50.00"),
        ("2026-02-01", "recurring", "plan.per_unit", "2026-02-01", "2026-03-01", "44.00"),
        ("2026-03-01", "recurring", "plan.flat", "2026-03-01", "2026-04-01", "50.00"),
        ("2026-03-01", "recurring", "plan.per_unit", "2026-03-01", "2026-04-01", "44.00"),
    ]
    april = (date(2026, 4, 1), date(2026, 5, 16))
    assert schedule(ctx, actor, team.id, *april) == [
        ("2026-04-15", "recurring", "plan.flat", "2026-04-15", "2026-05-15", "20.00"),
        ("2026-04-15", "recurring", "plan.per_unit", "2026-04-15", "2026-05-15", "28.00"),  # 2 × 14
        ("2026-05-15", "recurring", "plan.flat", "2026-05-15", "2026-06-15", "20.00"),
        ("2026-05-15", "recurring", "plan.per_unit", "2026-05-15", "2026-06-15", "28.00"),
    ]
    clock.at = datetime(2026, 1, 10, 12, tzinfo=UTC)

    applied = catalog.apply_catalog(
        ctx, actor, with_new_prices(example()), effective_at=datetime(2026, 1, 20, tzinfo=UTC)
    )

    assert applied.number == 2
    # January was billed at the old prices and stays; from the renewal on 1 Feb: 60 + 2 × 25
    assert schedule(ctx, actor, business.id, end=until) == [
        *BUSINESS_JANUARY,
        ("2026-02-01", "recurring", "plan.flat", "2026-02-01", "2026-03-01", "60.00"),
        ("2026-02-01", "recurring", "plan.per_unit", "2026-02-01", "2026-03-01", "50.00"),
        ("2026-03-01", "recurring", "plan.flat", "2026-03-01", "2026-04-01", "60.00"),
        ("2026-03-01", "recurring", "plan.per_unit", "2026-03-01", "2026-04-01", "50.00"),
    ]
    # the discount keeps the price it was sold at; the evergreen phase after it has the new one: 25 + 2 × 16
    assert schedule(ctx, actor, team.id, date(2026, 3, 1), date(2026, 4, 1)) == [
        ("2026-03-15", "recurring", "plan.flat", "2026-03-15", "2026-04-15", "20.00"),
        ("2026-03-15", "recurring", "plan.per_unit", "2026-03-15", "2026-04-15", "20.00"),
    ]
    assert schedule(ctx, actor, team.id, *april) == [
        ("2026-04-15", "recurring", "plan.flat", "2026-04-15", "2026-05-15", "25.00"),
        ("2026-04-15", "recurring", "plan.per_unit", "2026-04-15", "2026-05-15", "32.00"),
        ("2026-05-15", "recurring", "plan.flat", "2026-05-15", "2026-06-15", "25.00"),
        ("2026-05-15", "recurring", "plan.per_unit", "2026-05-15", "2026-06-15", "32.00"),
    ]
    stored = subscriptions.get_subscription(ctx, actor, business.id)
    assert (stored.status, stored.terms) == (Status.ACTIVE, business.terms)  # the terms are not the prices

    clock.at = datetime(2026, 1, 25, 9, tzinfo=UTC)  # a new sale after the version took effect
    late = subscribe(ctx, actor, buyer, "business-monthly", quantity=2)
    assert schedule(ctx, actor, late.id, end=date(2026, 1, 26)) == [
        ("2026-01-25", "recurring", "plan.flat", "2026-01-25", "2026-02-25", "60.00"),
        ("2026-01-25", "recurring", "plan.per_unit", "2026-01-25", "2026-02-25", "50.00"),
        ("2026-01-25", "setup", "plan.setup", "2026-01-25", "2026-01-26", "250.00"),
    ]


def test_existing_subscriptions_from_moves_them_on_that_date_with_proration(
    ctx: ServiceContext, actor: Actor, clock: SettableClock, example_catalog: None
) -> None:
    business = subscribe(ctx, actor, customer(ctx, actor), "business-monthly", quantity=2)
    clock.at = datetime(2026, 1, 5, tzinfo=UTC)
    document = with_new_prices(example())
    document["existing_subscriptions_from"] = "2026-01-20"

    catalog.apply_catalog(ctx, actor, document, effective_at=datetime(2026, 1, 10, tzinfo=UTC))

    # 12 of January's 31 days are left on 20 Jan: the old lines are credited (50 × 12/31 = 19.354…,
    # 44 × 12/31 = 17.032…) and the new prices charged (60 × 12/31 = 23.225…, 50 × 12/31 = 19.354…)
    assert schedule(ctx, actor, business.id, end=date(2026, 2, 2)) == [
        *BUSINESS_JANUARY,
        ("2026-01-20", "credit", "plan.flat", "2026-01-20", "2026-02-01", "-19.35"),
        ("2026-01-20", "credit", "plan.per_unit", "2026-01-20", "2026-02-01", "-17.03"),
        ("2026-01-20", "recurring", "plan.flat", "2026-01-20", "2026-02-01", "23.23"),
        ("2026-01-20", "recurring", "plan.per_unit", "2026-01-20", "2026-02-01", "19.35"),
        ("2026-02-01", "recurring", "plan.flat", "2026-02-01", "2026-03-01", "60.00"),
        ("2026-02-01", "recurring", "plan.per_unit", "2026-02-01", "2026-03-01", "50.00"),
    ]


def _expect_invalid_state(call: Callable[[], object], message: str) -> None:
    with pytest.raises(Conflict) as raised:
        call()
    assert (raised.value.code, raised.value.message, raised.value.status) == ("invalid_state", message, 409)


def test_an_operation_the_status_does_not_allow_is_a_conflict(
    ctx: ServiceContext, actor: Actor, example_catalog: None
) -> None:
    buyer = customer(ctx, actor)
    trial = subscribe(ctx, actor, buyer, "team-monthly")
    sub = subscribe(ctx, actor, buyer, "business-monthly", quantity=2)
    sid = sub.id

    _expect_invalid_state(
        lambda: subscriptions.pause_subscription(ctx, actor, trial.id, {}),
        "The subscription is trialing: cannot pause it.",
    )
    _expect_invalid_state(
        lambda: subscriptions.resume_subscription(ctx, actor, sid, {}),
        "The subscription is active: cannot resume it.",
    )
    assert subscriptions.get_subscription(ctx, actor, sid) == sub  # nothing written

    paused = subscriptions.pause_subscription(ctx, actor, sid, {})
    assert paused.status is Status.PAUSED
    _expect_invalid_state(
        lambda: subscriptions.pause_subscription(ctx, actor, sid, {}),
        "The subscription is paused: cannot pause it.",
    )
    _expect_invalid_state(
        lambda: subscriptions.change_subscription(ctx, actor, sid, {"quantity": 3}),
        "The subscription is paused: cannot change it.",
    )
    _expect_invalid_state(
        lambda: subscriptions.preview_change(ctx, actor, sid, {"quantity": 3}, at=None),
        "The subscription is paused: cannot change it.",
    )
    assert subscriptions.get_subscription(ctx, actor, sid) == paused

    canceled = subscriptions.cancel_subscription(ctx, actor, sid, {"when": "now"})
    assert canceled.status is Status.CANCELED
    for call, action in (
        (lambda: subscriptions.cancel_subscription(ctx, actor, sid, {"when": "now"}), "cancel"),
        (lambda: subscriptions.undo_cancellation(ctx, actor, sid), "undo the cancellation of"),
        (lambda: subscriptions.resume_subscription(ctx, actor, sid, {}), "resume"),
        (lambda: subscriptions.pause_subscription(ctx, actor, sid, {}), "pause"),
        (lambda: subscriptions.change_subscription(ctx, actor, sid, {"quantity": 3}), "change"),
    ):
        _expect_invalid_state(call, f"The subscription is canceled: cannot {action} it.")
    assert subscriptions.get_subscription(ctx, actor, sid) == canceled
    assert types_of(ctx, actor, sid) == [
        "subscription.created",
        "subscription.activated",
        "subscription.paused",
        "subscription.canceled",
    ]
