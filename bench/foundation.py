"""Foundation benchmarks: each figure beside a raw baseline measured in the same run.

    .venv/bin/python bench/foundation.py [--postgres URL]

1. Money: add + round half-up of 100k amounts, kassa Money vs bare Decimal.
2. Customer create through the service (validation, audit entry, outbox event, webhook fan-out, one
   transaction) vs a raw INSERT of the same row in its own transaction.
3. Test clock advance: N customers with monthly due work over a year, jobs per second, vs a raw loop
   doing one UPDATE transaction per job (the least a job can cost).
4. GET /v1/customers/{id} over HTTP from `kassa serve` in its own process (auth, routing, serialization,\n   logs, metrics) vs a raw SELECT, and\n   vs /healthz on the same server (the HTTP stack's floor).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from kassa import config
from kassa.adapters.presentment.pdf import WeasyDocuments
from kassa.adapters.tax_ids.offline import StdnumTaxIdValidator
from kassa.adapters.webhooks.http import HttpWebhookSender
from kassa.core.audit import system_actor
from kassa.core.jobs import Job
from kassa.core.money import Money
from kassa.services import customers, jobs, tenants, test_clocks
from kassa.services.context import ServiceContext
from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import customers as customers_table
from kassa.store.uow import UnitOfWork


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def row(name: str, count: int, ours: float, raw: float, unit: str = "ops") -> None:
    print(
        f"{name:<34} {count / ours:>12,.0f} {unit}/s   raw {count / raw:>12,.0f} {unit}/s   ratio {ours / raw:5.2f}x"
    )


def bench_money(n: int = 100_000) -> None:
    amounts = [Decimal(i) / Decimal(1000) for i in range(n)]
    quantum = Decimal("0.01")
    ours = timed(
        lambda: [(Money(amount=a, currency="EUR") + Money(amount=a, currency="EUR")).round() for a in amounts]
    )
    raw = timed(lambda: [(a + a).quantize(quantum, rounding=ROUND_HALF_UP) for a in amounts])
    row("money add+round", n, ours, raw)


def context(url: str) -> ServiceContext:
    engine = create_engine(url)
    migrate.upgrade(engine)
    return ServiceContext(
        engine=engine,
        clock=Clock(),
        tax_ids=StdnumTaxIdValidator(),
        webhooks=HttpWebhookSender(),
        settings=config.load({}, database_url=url),
        documents=WeasyDocuments(),
    )


def bench_customers(ctx: ServiceContext, n: int = 500) -> None:
    tenant, _ = tenants.create_tenant(ctx, "bench")
    actor = system_actor(tenant.id, "bench")
    ours = timed(
        lambda: [
            customers.create_customer(
                ctx,
                actor,
                {
                    "external_id": f"c{i}",
                    "name": f"Customer {i}",
                    "emails": ["a@b.example"],
                    "address": {"line1": "x", "city": "y", "country": "DE"},
                },
            )  # fmt: skip
            for i in range(n)
        ]
    )
    now = ctx.clock.now()

    def raw_inserts() -> None:
        for i in range(n):
            with ctx.engine.begin() as conn:
                conn.execute(
                    customers_table.insert().values(
                        tenant_id=tenant.id, id=f"raw_{i:026d}", external_id=f"raw{i}", name=f"Customer {i}",
                        emails=["a@b.example"], address={"line1": "x", "city": "y", "country": "DE"}, country="DE",
                        currency="EUR", locale="en", time_zone="UTC", tax_ids=[], payment_terms_days=0,
                        bill_to_parent=False, metadata={}, created_at=now, updated_at=now,
                    )
                )  # fmt: skip

    row(f"customer create ({ctx.engine.dialect.name})", n, ours, timed(raw_inserts))


@jobs.handles("bench.monthly")
def _monthly(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    """What a renewal does at least: schedule the next one."""
    jobs.schedule(
        ctx, uow, job.tenant_id, "bench.monthly", now + relativedelta(months=1),
        dedupe_key=f"{job.customer_id}:{(now + relativedelta(months=1)).isoformat()}", customer_id=job.customer_id,
    )  # fmt: skip


def bench_clock(ctx: ServiceContext, n_customers: int = 50, months: int = 12) -> None:
    tenant, _ = tenants.create_tenant(ctx, "clock bench")
    actor = system_actor(tenant.id, "bench")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = test_clocks.create_test_clock(ctx, actor, name="bench", frozen_time=start)
    for i in range(n_customers):
        customer = customers.create_customer(
            ctx, actor, {"external_id": f"k{i}", "name": "k", "test_clock_id": clock.id}
        )
        with ctx.uow() as uow:
            jobs.schedule(
                ctx, uow, tenant.id, "bench.monthly", start + relativedelta(days=1, hours=i % 24),
                dedupe_key=f"{customer.id}:first", customer_id=customer.id,
            )  # fmt: skip
            uow.commit()
    result: list[test_clocks.TestClock] = []
    ours = timed(
        lambda: result.append(
            test_clocks.advance_test_clock(ctx, actor, clock.id, start + relativedelta(months=months))
        )
    )
    count = result[0].jobs_run

    def raw_updates() -> None:
        for i in range(count):
            with ctx.engine.begin() as conn:
                conn.execute(
                    customers_table.update()
                    .where(
                        customers_table.c.tenant_id == tenant.id,
                        customers_table.c.external_id == f"k{i % n_customers}",
                    )
                    .values(payment_terms_days=i % 30)
                )

    row(f"clock advance, {count} jobs ({ctx.engine.dialect.name})", count, ours, timed(raw_updates), "jobs")


def bench_api(ctx: ServiceContext, n: int = 2000) -> None:
    """Over real HTTP: `kassa serve` in its own process (as deployed), one keep-alive httpx client."""
    tenant, key = tenants.create_tenant(ctx, "api bench")
    customer = customers.create_customer(
        ctx, system_actor(tenant.id, "bench"), {"external_id": "api", "name": "API"}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "KASSA_DATABASE_URL": ctx.settings.database_url, "KASSA_PORT": str(port)}
    # logs at INFO as deployed (a JSON line per request), written to nowhere
    server = subprocess.Popen(
        [sys.executable, "-m", "kassa", "serve", "--no-worker"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
        ) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            url = f"/v1/customers/{customer.id}"
            assert client.get(url).status_code == 200
            ours = timed(lambda: [client.get(url) for _ in range(n)])
            floor = timed(lambda: [client.get("/healthz") for _ in range(n)])
    finally:
        server.terminate()
        server.wait(timeout=30)
    query = sa.select(customers_table).where(
        customers_table.c.tenant_id == tenant.id, customers_table.c.id == customer.id
    )

    def raw_selects() -> None:
        for _ in range(n):
            with ctx.engine.connect() as conn:
                conn.execute(query).first()

    dialect = ctx.engine.dialect.name
    row(f"GET customer over HTTP ({dialect})", n, ours, timed(raw_selects), "req")
    row("  vs GET /healthz on the same server", n, ours, floor, "req")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres", metavar="URL", help="also run on PostgreSQL, in a schema made and dropped here"
    )
    args = parser.parse_args()
    print(f"kassa foundation benchmarks, {datetime.now(UTC):%Y-%m-%d}")
    bench_money()
    with tempfile.TemporaryDirectory() as folder:
        urls = [f"sqlite:///{Path(folder) / 'bench.db'}"]
        if args.postgres:
            admin = create_engine(args.postgres)
            with admin.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA IF EXISTS kassa_bench CASCADE; CREATE SCHEMA kassa_bench")
            urls.append(
                f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3Dkassa_bench"
            )
        for url in urls:
            ctx = context(url)
            bench_customers(ctx)
            bench_clock(ctx)
            bench_api(ctx)
            ctx.engine.dispose()
        if args.postgres:
            with admin.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA kassa_bench CASCADE")


if __name__ == "__main__":
    main()
