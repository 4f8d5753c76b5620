"""Issue 5: usage ingestion (kassa.services.metering.ingest_usage) counts each event id exactly once per
tenant — whether the same id arrives twice in one batch, in batches sent at the same moment by many
senders, or again after the process restarted. Runs on SQLite and PostgreSQL (the `ctx` fixture)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from kassa.adapters.tax_ids.offline import StdnumTaxIdValidator
from kassa.adapters.webhooks.http import HttpWebhookSender
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.services import billable_metrics, catalog, customers, metering, rating, subscriptions
from kassa.services.context import ServiceContext
from kassa.services.metering import Ingested
from kassa.store.engine import create_engine
from tests.conftest import SettableClock, make_tenant

IDS = [f"ev-{i:03d}" for i in range(500)]

CATALOG: dict[str, Any] = {
    "products": [{"code": "api", "name": "API", "plans": [
        {"code": "metered", "name": "Metered", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}],
         "charges": [
             # 100 calls free, then 0.01 each
             {"metric": "api_calls", "model": "per_unit", "included": "100", "prices": {"EUR": {"unit": "0.01"}}},
             # charged per event as it arrives: 100 free, then 0.01 each
             {"metric": "credits", "model": "per_unit", "timing": "in_advance", "included": "100",
              "prices": {"EUR": {"unit": "0.01"}}},
         ]},
    ]}],
}  # fmt: skip


def setup(ctx: ServiceContext, actor: Actor, external_id: str = "c-1") -> tuple[str, str]:
    """Metrics, the catalog and one customer on the metered plan since 2025-12-01: (customer, subscription)."""
    billable_metrics.create_metric(
        ctx, actor, {"code": "api_calls", "name": "API calls", "aggregation": "count"}
    )
    billable_metrics.create_metric(
        ctx, actor, {"code": "credits", "name": "Credits", "aggregation": "sum", "field_name": "credits"}
    )
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    customer = customers.create_customer(
        ctx, actor, {"external_id": external_id, "name": "C", "currency": "EUR"}
    )
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": customer.id, "plan": "metered", "start_date": "2025-12-01"}
    )
    return customer.id, sub.id


def event(event_id: str, metric: str = "api_calls", **properties: Any) -> dict[str, Any]:
    return {"id": event_id, "metric": metric, "external_customer_id": "c-1",
            "timestamp": "2026-01-01T08:00:00Z", "properties": properties}  # fmt: skip


def stored(ctx: ServiceContext, actor: Actor) -> int:
    with ctx.uow(read_only=True) as uow:
        return uow.usage_events.count(actor.tenant_id)


def run_at_once(work: list[Any]) -> list[Any]:
    """Run the callables on their own threads, released together; their results (or exceptions)."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def runner(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work[i]()
        except Exception as error:  # reported by the test, not lost in the thread
            results[i] = error

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


def overlapping_batches(ids: list[str], seed: int) -> list[list[str]]:
    """The ids shuffled, cut into batches of 100 that overlap by 50: every id is sent once or twice."""
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    batches = [shuffled[i : i + 100] for i in range(0, len(shuffled) - 50, 50)]
    for batch in batches:
        random.Random(seed + len(batch)).shuffle(batch)
    return batches


def test_same_ids_in_one_batch_are_counted_once(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 5: an id repeated inside a batch is stored once; the first occurrence is the one kept."""
    setup(ctx, actor)
    result = metering.ingest_usage(ctx, actor, [event("a"), event("b"), event("a"), event("a")])
    assert (result.received, result.accepted, result.duplicates, result.errors) == (
        4,
        ["a", "b"],
        ["a", "a"],
        [],
    )
    assert stored(ctx, actor) == 2


def test_each_bad_event_is_reported_by_index(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 5: an item that is not an event, or one with a bad id, is reported at its index and the others
    are stored."""
    setup(ctx, actor)
    items: list[Any] = [event("a"), "not an event", {**event("b"), "id": "has space"}, event("c"), None]
    result = metering.ingest_usage(ctx, actor, items)
    assert [(e.index, e.id, e.code, e.field) for e in result.errors] == [
        (1, None, "invalid_usage_event", None),
        (2, "has space", "invalid_usage_event", "id"),
        (4, None, "invalid_usage_event", None),
    ]
    assert (result.received, result.accepted, result.duplicates) == (5, ["a", "c"], [])
    assert stored(ctx, actor) == 2


def test_a_batch_too_large_stores_nothing(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 5: 10,001 events are refused as a whole, before anything is written."""
    setup(ctx, actor)
    with pytest.raises(DomainError) as raised:
        metering.ingest_usage(ctx, actor, [event(f"e{i}") for i in range(10_001)])
    assert (raised.value.code, raised.value.field) == ("batch_too_large", "events")
    assert stored(ctx, actor) == 0


def test_exactly_once_under_concurrent_senders(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 5: 8 senders each send the same 500 ids at the same moment, in overlapping, shuffled batches:
    500 events are stored, and the calls together report exactly 500 accepted (each id accepted once)."""
    customer_id, _ = setup(ctx, actor)
    plans = [overlapping_batches(IDS, seed) for seed in range(8)]

    def sender(batches: list[list[str]]) -> list[Ingested]:
        return [metering.ingest_usage(ctx, actor, [event(i) for i in batch]) for batch in batches]

    results = run_at_once([lambda batches=batches: sender(batches) for batches in plans])
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    calls = [call for result in results for call in result]
    assert all(call.errors == [] for call in calls)
    assert all(call.received == len(call.accepted) + len(call.duplicates) for call in calls)
    accepted = [i for call in calls for i in call.accepted]
    assert len(accepted) == 500
    assert sorted(accepted) == IDS
    assert stored(ctx, actor) == 500
    # 500 calls, 100 included: 400 × 0.01 = 4.00
    ((line,),) = [[c.line for c in u.lines if c.line.metric == "api_calls"]
                  for u in rating.current_usage(ctx, actor, customer_id)]  # fmt: skip
    assert (line.rated.quantity, line.amount.amount) == (Decimal(500), Decimal("4.00"))


def test_in_advance_charges_once_per_event_under_concurrent_senders(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 5: in-advance usage sent by 8 senders at once, each its own 25 events of 10 credits and all
    of them again: every event is charged once, and the charges add up to the period's rating — 2000
    credits, 100 included: 1900 × 0.01 = 19.00."""
    _, sub_id = setup(ctx, actor)
    ids = [f"cr-{i:03d}" for i in range(200)]
    own = [ids[k * 25 : (k + 1) * 25] for k in range(8)]

    def sender(mine: list[str]) -> list[Ingested]:
        first = metering.ingest_usage(ctx, actor, [event(i, "credits", credits=10) for i in mine])
        again = metering.ingest_usage(ctx, actor, [event(i, "credits", credits=10) for i in ids])
        return [first, again]

    results = run_at_once([lambda mine=mine: sender(mine) for mine in own])
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert sum(len(call.accepted) for result in results for call in result) == 200
    with ctx.uow(read_only=True) as uow:
        charges = uow.usage_charges.pending(actor.tenant_id, sub_id)
    assert sorted(c.event_id for c in charges) == ids
    assert sum(c.amount_minor for c in charges) == 1900


def test_exactly_once_across_a_restart(ctx: ServiceContext, actor: Actor, database_url: str,
                                       clock: SettableClock) -> None:  # fmt: skip
    """Issue 5: the ids seen are kept in the database, not in the process: after a restart (the engine
    disposed, a new context on the same database) the same batch is all duplicates and nothing more is
    stored."""
    setup(ctx, actor)
    batch = [event(i) for i in IDS[:200]]
    first = metering.ingest_usage(ctx, actor, batch)
    assert (len(first.accepted), len(first.duplicates)) == (200, 0)
    ctx.engine.dispose()
    sender = HttpWebhookSender(timeout_seconds=5)
    restarted = ServiceContext(engine=create_engine(database_url), clock=clock, tax_ids=StdnumTaxIdValidator(),
                               webhooks=sender, settings=ctx.settings, documents=ctx.documents)  # fmt: skip
    try:
        again = metering.ingest_usage(restarted, actor, list(reversed(batch)))
        assert (again.received, again.accepted, again.errors) == (200, [], [])
        assert sorted(again.duplicates) == IDS[:200]
        assert stored(restarted, actor) == 200
        # old and new ids together: only the new ones count
        mixed = metering.ingest_usage(restarted, actor, [event(i) for i in IDS[150:250]])
        assert (mixed.accepted, sorted(mixed.duplicates)) == (IDS[200:250], IDS[150:200])
        assert stored(restarted, actor) == 250
    finally:
        restarted.engine.dispose()
        sender.close()


def test_ids_are_per_tenant(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 5: exactly once per (tenant, id): another tenant may use the same ids."""
    setup(ctx, actor)
    other = make_tenant(ctx, "Other Billing").actor
    setup(ctx, other)
    assert metering.ingest_usage(ctx, actor, [event(i) for i in IDS[:10]]).accepted == IDS[:10]
    assert metering.ingest_usage(ctx, other, [event(i) for i in IDS[:10]]).accepted == IDS[:10]
    assert (stored(ctx, actor), stored(ctx, other)) == (10, 10)


def test_in_advance_charge_rows(ctx: ServiceContext, actor: Actor) -> None:
    """Issue 5: each in-advance event leaves one usage charge: 60 credits within the 100 included (0.00),
    then 70 more — 40 free, 30 × 0.01 = 0.30 — waiting for the next invoice."""
    _, sub_id = setup(ctx, actor)
    metering.ingest_usage(
        ctx, actor, [event("c1", "credits", credits=60), event("c2", "credits", credits="70")]
    )
    metering.ingest_usage(ctx, actor, [event("c1", "credits", credits=60)])  # a retry charges nothing more
    with ctx.uow(read_only=True) as uow:
        rows = uow.usage_charges.pending(actor.tenant_id, sub_id)
    assert [(r.event_id, r.units, r.amount_minor, r.currency, r.billing, r.period_start) for r in rows] == [
        ("c1", Decimal(60), 0, "EUR", "next_invoice", date(2026, 1, 1)),
        ("c2", Decimal(70), 30, "EUR", "next_invoice", date(2026, 1, 1)),
    ]
