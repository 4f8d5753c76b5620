"""Subscription benchmarks: each figure beside a raw baseline measured in the same run.

    .venv/bin/python bench/subscriptions.py

1. Billing schedule: the pure timeline + schedule of a seat-priced monthly subscription over 3 years with
   an upgrade, a quantity change and a pause in between (lines per second), vs the raw arithmetic of the
   same number of lines (price × quantity × days ÷ days, quantize) with no calendar at all.
2. Subscription create through the service (catalog lookup, validation, timeline, audit, event, job,
   one transaction) on SQLite vs a raw INSERT of the two rows it writes.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import sqlalchemy as sa
import yaml

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.core.billing_schedule import billing_schedule, timeline
from kassa.core.catalog import CatalogVersion, parse_catalog
from kassa.core.money import RoundingMode
from kassa.core.subscriptions import (
    BillingAnchor,
    Change,
    ChangeKind,
    ChangeStatus,
    Status,
    Subscription,
    Terms,
)
from kassa.services import catalog, customers, subscriptions, tenants
from kassa.store import migrate
from kassa.store.tables import subscription_changes
from kassa.store.tables import subscriptions as subscriptions_table

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "catalog.yaml"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def row(name: str, count: int, ours: float, raw: float, unit: str) -> None:
    print(
        f"{name:<38} {count / ours:>10,.0f} {unit}/s   raw {count / raw:>12,.0f} {unit}/s   ratio {ours / raw:6.2f}x"
    )


def bench_schedule(rounds: int = 200) -> None:
    version = CatalogVersion(
        number=1, effective_at=T0, catalog=parse_catalog(yaml.safe_load(EXAMPLE.read_text()))
    )
    terms = Terms(plan="team-monthly", quantity=5, addons={"storage-100gb-monthly": 2})

    def change(i: int, kind: ChangeKind, day: date, new: Terms | None = None) -> Change:
        return Change(
            id=f"c{i}", kind=kind, effective=day, terms=new, requested_at=T0, status=ChangeStatus.PENDING
        )

    sub = Subscription(
        tenant_id="t", id="s", customer_id="c", currency="EUR", time_zone="Europe/Berlin", status=Status.ACTIVE,
        terms=terms, start=date(2026, 1, 10), anchor=BillingAnchor(), created_at=T0, updated_at=T0,
        changes=(
            change(0, ChangeKind.START, date(2026, 1, 10), terms),
            change(1, ChangeKind.CHANGE, date(2026, 5, 17), Terms(plan="business-monthly", quantity=8)),
            change(2, ChangeKind.CHANGE, date(2027, 2, 3), Terms(plan="business-monthly", quantity=12)),
            change(3, ChangeKind.PAUSE, date(2027, 7, 20)),
            change(4, ChangeKind.RESUME, date(2027, 9, 5)),
        ),
    )  # fmt: skip
    until = date(2029, 1, 10)
    lines = len(billing_schedule(timeline(sub, [version], until), "EUR", RoundingMode.HALF_UP, until=until))

    def ours() -> None:
        for _ in range(rounds):
            billing_schedule(timeline(sub, [version], until), "EUR", RoundingMode.HALF_UP, until=until)

    quantum = Decimal("0.01")

    def raw() -> None:
        for _ in range(rounds):
            for i in range(lines):
                (Decimal("14.00") * (5 + i % 3) * (i % 31 + 1) / 31).quantize(quantum, ROUND_HALF_UP)

    row(f"billing schedule, {lines} lines / 3 years", lines * rounds, timed(ours), timed(raw), "lines")


def bench_create(n: int = 300) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = config.load(database_url=f"sqlite:///{folder}/bench.db")
        ctx = bootstrap.build_context(settings)
        migrate.upgrade(ctx.engine)
        tenant, _ = tenants.create_tenant(ctx, "Bench", None)
        actor = system_actor(tenant.id, "bench")
        catalog.apply_catalog(ctx, actor, yaml.safe_load(EXAMPLE.read_text()), effective_at=T0)
        ids = [
            customers.create_customer(ctx, actor, {"external_id": f"c{i}", "name": f"C {i}"}).id
            for i in range(n)
        ]

        def ours() -> None:
            for customer_id in ids:
                subscriptions.create_subscription(ctx, actor, {"customer_id": customer_id, "plan": "team-monthly",
                                                               "quantity": 5})  # fmt: skip

        def raw() -> None:
            for i, customer_id in enumerate(ids):
                with ctx.engine.begin() as conn:
                    conn.execute(subscriptions_table.insert().values(
                        tenant_id=tenant.id, id=f"raw{i}", customer_id=customer_id, currency="EUR",
                        time_zone="UTC", status="trialing", plan="team-monthly", quantity=5, addons={},
                        start_date=date(2026, 1, 1), anchor_type="anniversary", anchor_day=None, trial_days=None,
                        metadata={}, created_at=T0, updated_at=T0,
                    ))  # fmt: skip
                    conn.execute(subscription_changes.insert().values(
                        tenant_id=tenant.id, id=f"rawc{i}", subscription_id=f"raw{i}", kind="start",
                        effective_date=date(2026, 1, 1), prorate=True, terms={"plan": "team-monthly"},
                        status="applied", requested_at=T0,
                    ))  # fmt: skip

        row("subscription create (sqlite)", n, timed(ours), timed(raw), "ops")
        with ctx.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(subscriptions_table)).scalar_one()
        assert count == 2 * n, count


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    bench_schedule()
    bench_create()


if __name__ == "__main__":
    main()
