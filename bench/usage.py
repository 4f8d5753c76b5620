"""Usage benchmarks: each figure beside a raw baseline measured in the same run.

    .venv/bin/python bench/usage.py [--quick] [--postgres URL]

PostgreSQL runs in a schema made and dropped here (kassa_bench_usage); SQLite in a temporary file.

1. Ingestion through POST /v1/usage_events/batch: `kassa serve --no-worker --workers <cores>`, 4 httpx
   clients in threads sending pre-encoded batches of 10,000 events (ids unique: every event is checked
   against the primary key, exactly once) for 1,000 subscriptions and 5 metrics; events/s from the first
   send to the last ack. Raw: COPY (SQLite: executemany INSERT) of the same rows, 10,000 per transaction,
   into a bare copy of usage_events with the same primary key and index (no foreign key).
2. Bulk file import: import_usage over an NDJSON file read by the CLI's reader, in-process, as
   `kassa usage import` runs it; vs the same raw insert of the same rows, and vs reading and parsing the
   file alone.
3. Rating (PostgreSQL): N events stored for M subscriptions across 5 metrics (count, sum, max,
   unique_count, weighted_sum; generated in SQL, not timed), one period rated for all of them with
   rating.rate_periods; vs one bare GROUP BY (subscription_id, metric) over the same rows computing
   count, sum and max. The time inside SQL statements is reported apart from the Python; loading the
   subscriptions and building the (Subscription, UsagePeriod) entries are timed separately.
4. current_usage latency for random customers with those events stored (p50/p99) vs the bare per-
   subscription GROUP BY; and the delay from a one-event batch's ack (over HTTP) to the event counted
   in current_usage (read in-process, repeatedly until it shows), vs a raw INSERT's commit to a raw
   SELECT seeing it.

Beside ingestion figures: the CPU the server (or this process) and all PostgreSQL processes used over
the run, in cores (1.00 = one core busy throughout), from /proc. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa

from kassa import bootstrap, config
from kassa.cli import _records  # the reader `kassa usage import` streams the file through
from kassa.core.audit import Actor, system_actor
from kassa.core.periods import local_day
from kassa.services import billable_metrics, catalog, customers, metering, rating, subscriptions, tenants
from kassa.services.context import ServiceContext
from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import customers as customers_table
from kassa.store.tables import subscription_changes
from kassa.store.tables import subscriptions as subscriptions_table
from kassa.store.usage_events import COLUMNS

SCHEMA = "kassa_bench_usage"
BATCH = 10_000
CLIENTS = 4
METRICS = [  # code, aggregation, property, charge
    ("api_calls", "count", None,
     {"model": "graduated", "included": "100",
      "prices": {"EUR": {"tiers": [{"up_to": "1000", "unit": "0.01"}, {"up_to": None, "unit": "0.005"}]}}}),
    ("data_mb", "sum", "mb", {"model": "per_unit", "prices": {"EUR": {"unit": "0.0001"}}}),
    ("peak_conns", "max", "conns",
     {"model": "volume", "prices": {"EUR": {"tiers": [{"up_to": "10", "unit": "1.00"}, {"up_to": None, "unit": "0.80"}]}}}),
    ("active_users", "unique_count", "user", {"model": "per_unit", "prices": {"EUR": {"unit": "2.00"}}}),
    ("storage_gb", "weighted_sum", "gb", {"model": "per_unit", "prices": {"EUR": {"unit": "0.0002"}}}),
]  # fmt: skip
CATALOG = {"products": [{"code": "platform", "name": "Platform", "plans": [{
    "code": "metered", "name": "Metered", "billing_period": "month",
    "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}],
    "charges": [{"metric": code, **charge} for code, _, _, charge in METRICS],
}]}]}  # fmt: skip
SUB_START = "2026-01-01"  # monthly, anchored on the 1st: the open period is the current calendar month


@dataclass(frozen=True, slots=True)
class Sizes:
    api_pg: int
    api_sqlite: int
    import_pg: int
    import_sqlite: int
    rating_events: int
    rating_subs: int
    latency_calls: int
    ack_trials: int


FULL = Sizes(1_000_000, 100_000, 1_000_000, 100_000, 10_000_000, 10_000, 500, 50)
QUICK = Sizes(100_000, 20_000, 100_000, 20_000, 1_000_000, 1_000, 100, 20)


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


W = 50  # name column


def row(name: str, count: int, ours: float, raw: float, unit: str = "events", note: str = "") -> None:
    print(f"{name:<{W}} {count / ours:>9,.0f} {unit}/s   raw {count / raw:>9,.0f} {unit}/s   "
          f"ratio {ours / raw:6.2f}x{note}")  # fmt: skip


def seconds_row(name: str, ours: float, raw: float, note: str = "") -> None:
    print(f"{name:<{W}} {ours:>9.2f} s          raw {raw:>9.2f} s          ratio {ours / raw:6.2f}x{note}")


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency_row(name: str, ours: Sequence[float], raw: Sequence[float]) -> None:
    o50, o99, r50, r99 = (percentile(v, p) * 1000 for v in (ours, raw) for p in (50, 99))
    print(f"{name:<{W}} p50 {o50:6.1f} ms  p99 {o99:6.1f} ms   raw p50 {r50:5.2f} ms  p99 {r99:5.2f} ms   "
          f"ratio p99 {o99 / r99:5.1f}x")  # fmt: skip


def cpu_seconds(pids: Sequence[int] | None = None) -> float:
    """CPU time (user + system) of the given processes, or of every PostgreSQL process, from /proc."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (pids is not None and int(entry.name) not in pids):
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if pids is not None or name == "postgres":
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# ---- setup ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tenant:
    ctx: ServiceContext
    actor: Actor
    key: str
    subs: list[tuple[str, str]]  # (subscription id, customer id)


def context(url: str) -> ServiceContext:
    return bootstrap.build_context(config.load({}, database_url=url))


def make_tenant(ctx: ServiceContext, name: str, n_subs: int) -> Tenant:
    """A tenant with the 5 metrics, a plan charging each, and n_subs customers with one subscription each:
    the first made through the services, the rest copied from its rows (setup, not measured)."""
    tenant, key = tenants.create_tenant(ctx, name)
    actor = system_actor(tenant.id, "bench")
    for code, aggregation, field, _ in METRICS:
        body = {"code": code, "name": code, "aggregation": aggregation}
        if field:
            body["field_name"] = field
        billable_metrics.create_metric(ctx, actor, body)
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    customer = customers.create_customer(ctx, actor, {"external_id": "c0", "name": "C0", "currency": "EUR"})
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": customer.id, "plan": "metered", "start_date": SUB_START}
    )
    pairs = [(sub.id, customer.id)]
    with ctx.engine.begin() as conn:
        template = {
            table: [dict(r._mapping) for r in conn.execute(sa.select(table).where(
                table.c.tenant_id == tenant.id, column == value))]
            for table, column, value in ((customers_table, customers_table.c.id, customer.id),
                                         (subscriptions_table, subscriptions_table.c.id, sub.id),
                                         (subscription_changes, subscription_changes.c.subscription_id, sub.id))
        }  # fmt: skip
        rows: dict[sa.Table, list[dict[str, Any]]] = {t: [] for t in template}
        for i in range(1, n_subs):
            cus_id, sub_id = f"{customer.id[:30]}x{i:06d}", f"{sub.id[:30]}x{i:06d}"
            pairs.append((sub_id, cus_id))
            rows[customers_table].extend(
                {**r, "id": cus_id, "external_id": f"c{i}"} for r in template[customers_table]
            )
            rows[subscriptions_table].extend({**r, "id": sub_id, "customer_id": cus_id}
                                             for r in template[subscriptions_table])  # fmt: skip
            rows[subscription_changes].extend({**r, "id": f"{r['id'][:30]}x{i:06d}", "subscription_id": sub_id}
                                              for r in template[subscription_changes])  # fmt: skip
        for table, values in rows.items():
            for start in range(0, len(values), 5000):
                conn.execute(table.insert(), values[start : start + 5000])
    return Tenant(ctx=ctx, actor=actor, key=key, subs=pairs)


# ---- events --------------------------------------------------------------------------------------------


def make_events(prefix: str, n: int, subs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """n events as a client sends them: sub i % len(subs), the 5 metrics in turn, timestamped in the last
    ten minutes (not before today's midnight, UTC: today's usage needs no period lookup)."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for i in range(n):
        sub_id, _ = subs[i % len(subs)]
        code, _, field, _ = METRICS[(i // len(subs)) % len(METRICS)]
        stamp = max(midnight, now - timedelta(seconds=i % 600, milliseconds=i % 1000))
        event = {"id": f"{prefix}{i:08d}", "metric": code, "subscription_id": sub_id,
                 "timestamp": stamp.isoformat().replace("+00:00", "Z")}  # fmt: skip
        if field == "user":
            event["properties"] = {"user": f"u{i % 37}"}
        elif field:
            event["properties"] = {field: i % 97 + 1}
        out.append(event)
    return out


def raw_rows(
    tenant_id: str, events: Sequence[dict[str, Any]], subs: Sequence[tuple[str, str]]
) -> list[tuple]:
    """The rows kassa stores for these events, as plain tuples in COLUMNS order (for the raw baselines)."""
    owner = dict(subs)
    received = datetime.now(UTC)
    out = []
    for e in events:
        props = e.get("properties", {})
        user = props.get("user")
        number = next((v for k, v in props.items() if k != "user"), None)
        out.append((tenant_id, e["id"], owner[e["subscription_id"]], e["subscription_id"], e["metric"],
                    datetime.fromisoformat(e["timestamp"]), received,
                    Decimal(number) if number is not None else None, user, "", True, False, json.dumps(props)))  # fmt: skip
    return out


# ---- raw baselines -------------------------------------------------------------------------------------


def pg_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def pg_raw_copy(url: str, rows: Sequence[tuple]) -> float:
    """COPY the rows, 10,000 per transaction, into a fresh bare copy of usage_events (same primary key and
    index, no foreign key)."""
    with pg_connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS usage_raw")
        conn.execute("CREATE TABLE usage_raw (LIKE usage_events INCLUDING ALL)")
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with conn.transaction(), conn.cursor() as cursor:
                with cursor.copy(f"COPY usage_raw ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for r in rows[start : start + BATCH]:
                        copy.write_row(r)
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE usage_raw")
    return elapsed


def sqlite_raw_insert(path: Path, rows: Sequence[tuple]) -> float:
    """executemany INSERT, 10,000 per transaction, into a bare copy of usage_events (same primary key and
    index, no foreign key), with kassa's pragmas (WAL, synchronous=NORMAL)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("DROP TABLE IF EXISTS usage_raw")
    ddl = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='usage_events'").fetchone()[
        0
    ]
    ddl = ddl.replace("usage_events", "usage_raw", 1)
    if "CONSTRAINT fk_" in ddl:  # a bare copy: no foreign key (usage_events has none since 0003)
        ddl = ddl[: ddl.index("CONSTRAINT fk_")].rstrip().rstrip(",") + "\n)"
    conn.execute(ddl)
    conn.execute("CREATE INDEX ix_usage_raw ON usage_raw (tenant_id, subscription_id, metric, timestamp)")

    def text(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, Decimal):
            return format(value, "f")
        return value

    converted = [tuple(text(v) for v in r) for r in rows]  # what kassa's types bind: not timed
    insert = f"INSERT INTO usage_raw ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
    started = time.perf_counter()
    for start in range(0, len(converted), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, converted[start : start + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.execute("DROP TABLE usage_raw")
    conn.close()
    return elapsed


# ---- 1. ingestion over HTTP ----------------------------------------------------------------------------


def tree(pid: int) -> list[int]:
    """`pid` and its children (the server's worker processes)."""
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


WORKERS = os.cpu_count() or 1


class Server:
    """`kassa serve --no-worker --workers <cores>` in its own processes, logging at INFO (a JSON line per
    request) to nowhere."""

    def __init__(self, url: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "KASSA_DATABASE_URL": url, "KASSA_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kassa", "serve", "--no-worker", "--workers", str(WORKERS)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if httpx.get(f"{self.base}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("kassa serve did not start")

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {key}",
                                                         "Content-Type": "application/json"}, timeout=None)  # fmt: skip

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def send_batches(server: Server, key: str, bodies: Sequence[bytes], clients: int = CLIENTS) -> float:
    """The bodies sent by `clients` threads, each its own keep-alive connection; wall time to the last ack."""
    lock = threading.Lock()
    queue = list(reversed(bodies))
    failures: list[str] = []

    def client() -> None:
        with server.client(key) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                response = http.post("/v1/usage_events/batch", content=body)
                answer = response.json() if response.status_code == 200 else None
                if answer is None or answer["accepted"] != answer["received"]:
                    failures.append(response.text[:500])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} batches not wholly accepted: {failures[0]}")
    return elapsed


def count_events(ctx: ServiceContext, tenant_id: str) -> int:
    with ctx.uow(read_only=True) as uow:
        return uow.usage_events.count(tenant_id)


def bench_api(url: str, tenant: Tenant, n: int, raw: Callable[[Sequence[tuple]], float]) -> None:
    dialect = tenant.ctx.engine.dialect.name
    events = make_events("a", n, tenant.subs)
    bodies = [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, n, BATCH)]
    rows = raw_rows(tenant.actor.tenant_id, events, tenant.subs)
    server = Server(url)
    try:
        warm = json.dumps({"events": make_events("w", 10, tenant.subs)}).encode()
        send_batches(server, tenant.key, [warm], clients=1)
        server_cpu, pg_cpu = cpu_seconds(tree(server.process.pid)), cpu_seconds()
        ours = send_batches(server, tenant.key, bodies)
        server_cpu, pg_cpu = cpu_seconds(tree(server.process.pid)) - server_cpu, cpu_seconds() - pg_cpu
        with server.client(tenant.key) as http:  # a resent batch: acknowledged, not counted again
            again = http.post("/v1/usage_events/batch", content=bodies[0]).json()
    finally:
        server.stop()
    stored = count_events(tenant.ctx, tenant.actor.tenant_id) - 10
    assert stored == n and again["duplicates"] == len(json.loads(bodies[0])["events"]), (stored, again)
    busy = f"   (server {server_cpu / ours:.2f} cores" + (
        f", postgres {pg_cpu / ours:.2f})" if dialect == "postgresql" else ")"
    )
    row(f"batch API, {n:,} events, {CLIENTS} clients ({dialect})", n, ours, raw(rows), note=busy)


# ---- 2. bulk file import -------------------------------------------------------------------------------


def bench_import(tenant: Tenant, n: int, folder: Path, raw: Callable[[Sequence[tuple]], float]) -> None:
    dialect = tenant.ctx.engine.dialect.name
    events = make_events("f", n, tenant.subs)
    path = folder / f"usage-{dialect}.ndjson"
    with path.open("w") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")
    rows = raw_rows(tenant.actor.tenant_id, events, tenant.subs)
    del events
    result: list[metering.Imported] = []
    cpu, pg_cpu = time.process_time(), cpu_seconds()
    ours = timed(
        lambda: result.append(metering.import_usage(tenant.ctx, tenant.actor, _records(path, "ndjson")))
    )
    cpu, pg_cpu = time.process_time() - cpu, cpu_seconds() - pg_cpu
    assert (result[0].accepted, result[0].rejected) == (n, 0), result[0]
    busy = f"   (python {cpu / ours:.2f} cores" + (
        f", postgres {pg_cpu / ours:.2f})" if dialect == "postgresql" else ")"
    )
    row(f"file import, {n:,} events ({dialect})", n, ours, raw(rows), note=busy)
    parse = timed(lambda: sum(1 for _ in _records(path, "ndjson")))
    row("  vs reading + parsing the file alone", n, ours, parse)
    path.unlink()


# ---- 3. rating -----------------------------------------------------------------------------------------


def generate_usage(
    url: str, tenant: Tenant, n: int, start: datetime, until: datetime
) -> tuple[float, float, float]:
    """n events in time order over [start, until), spread over the subscriptions and metrics, inserted in
    SQL by two connections at once with the constraints dropped and rebuilt after (setup, not timed)."""
    subs = tenant.subs
    step = (until - start).total_seconds() / n
    with pg_connect(url) as conn:
        conn.execute("TRUNCATE usage_events")
        conn.execute("DROP TABLE IF EXISTS bench_subs; DROP TABLE IF EXISTS bench_metrics")
        conn.execute("CREATE TABLE bench_subs (n int PRIMARY KEY, sub text, cus text)")
        with conn.cursor() as cursor, cursor.copy("COPY bench_subs FROM STDIN") as copy:
            for i, (sub, cus) in enumerate(subs):
                copy.write_row((i, sub, cus))
        conn.execute("CREATE TABLE bench_metrics (n int PRIMARY KEY, code text, kind text, field text)")
        for i, (code, kind, field, _) in enumerate(METRICS):
            conn.execute("INSERT INTO bench_metrics VALUES (%s, %s, %s, %s)", (i, code, kind, field))
        conn.execute("ALTER TABLE usage_events DROP CONSTRAINT pk_usage_events")
        conn.execute("DROP INDEX ix_usage_events_tenant_id_subscription_id_metric_timestamp")
    m = len(subs)
    insert = f"""
        INSERT INTO usage_events ({", ".join(COLUMNS)})
        SELECT %(t)s, 'r' || g, s.cus, s.sub, k.code, %(start)s + (g * {step!r}) * interval '1 second', %(at)s,
               CASE WHEN k.field IS NULL OR k.field = 'user' THEN NULL ELSE mod(g, 97) + 1 END,
               CASE WHEN k.field = 'user' THEN 'u' || mod(g, 37) END, '', true, false,
               CASE WHEN k.field IS NULL THEN '{{}}'::jsonb
                    WHEN k.field = 'user' THEN jsonb_build_object('user', 'u' || mod(g, 37))
                    ELSE jsonb_build_object(k.field, mod(g, 97) + 1) END
        FROM generate_series(%(lo)s::int, %(hi)s::int) g
        JOIN bench_subs s ON s.n = mod(g, {m}) JOIN bench_metrics k ON k.n = mod(g / {m}, {len(METRICS)})
    """  # noqa: S608  (only integers of this script are interpolated)

    failed: list[BaseException] = []

    def part(lo: int, hi: int) -> None:
        try:
            with pg_connect(url) as conn:
                conn.execute(
                    insert, {"t": tenant.actor.tenant_id, "start": start, "at": until, "lo": lo, "hi": hi}
                )
        except BaseException as error:  # re-raised below, in the main thread
            failed.append(error)

    started = time.perf_counter()
    half = n // 2
    threads = [
        threading.Thread(target=part, args=(0, half - 1)),
        threading.Thread(target=part, args=(half, n - 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    inserted = time.perf_counter()
    with pg_connect(url) as conn:
        conn.execute("SET maintenance_work_mem = '2GB'")
        conn.execute("ALTER TABLE usage_events ADD CONSTRAINT pk_usage_events PRIMARY KEY (tenant_id, id)")
        conn.execute("CREATE INDEX ix_usage_events_tenant_id_subscription_id_metric_timestamp "
                     "ON usage_events (tenant_id, subscription_id, metric, timestamp)")  # fmt: skip
        conn.execute("DROP TABLE bench_subs; DROP TABLE bench_metrics")
        indexed = time.perf_counter()
        conn.execute("VACUUM ANALYZE usage_events")
        vacuumed = time.perf_counter()
        stored = conn.execute("SELECT count(*) FROM usage_events WHERE tenant_id = %s",
                              (tenant.actor.tenant_id,)).fetchone()[0]  # fmt: skip
    assert stored == n, stored
    return inserted - started, indexed - inserted, vacuumed - indexed


class StatementClock:
    """Wall time spent inside the database driver's execute (the SQL and its round trips) on an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.seconds, self.statements = engine, 0.0, 0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: sa.Connection, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: sa.Connection, *_: Any) -> None:
        self.seconds += time.perf_counter() - conn.info.pop("bench_started")
        self.statements += 1

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def bench_rating(url: str, tenant: Tenant, n: int) -> datetime:
    ctx, tenant_id = tenant.ctx, tenant.actor.tenant_id
    day = local_day(datetime.now(UTC), "UTC")
    with ctx.uow(read_only=True) as uow:
        versions = catalog.versions(uow, tenant_id)
        (template,) = uow.subscriptions.many(tenant_id, ids=[tenant.subs[0][0]])
    period = rating.period_of(template, versions, day)
    assert period is not None
    start, end = rating.instants(template, period.start, period.end)
    until = datetime.now(UTC) - timedelta(minutes=2)
    phases = generate_usage(url, tenant, n, start, until)
    print(f"  (setup, not measured: {n:,} events over {period.start}..{until:%Y-%m-%d %H:%M} UTC inserted in "
          f"{phases[0]:.0f} s, indexed in {phases[1]:.0f} s, vacuumed in {phases[2]:.0f} s)")  # fmt: skip

    # one pass over the period's rows: count, sum and max per (subscription, metric); no distinct count or
    # time weighting (count(DISTINCT) makes PostgreSQL sort 10M rows through the index: 3x slower)
    baseline = (
        "SELECT subscription_id, metric, count(*), sum(value), max(value) FROM usage_events "
        "WHERE tenant_id = %s AND timestamp >= %s AND timestamp < %s AND counted GROUP BY subscription_id, metric"
    )
    with pg_connect(url) as conn:
        raw_groups: list[Any] = []
        raw = timed(lambda: raw_groups.extend(conn.execute(baseline, (tenant_id, start, end)).fetchall()))
    assert len(raw_groups) == len(tenant.subs) * len(METRICS), len(raw_groups)

    m = len(tenant.subs)
    with ctx.uow(read_only=True) as uow:
        rounding = uow.tenants.get(tenant_id).settings.rounding_mode
        subs: list[Any] = []
        load = timed(lambda: subs.extend(uow.subscriptions.many(tenant_id, ids=[s for s, _ in tenant.subs])))
        entries: list[Any] = []
        build = timed(lambda: entries.extend((s, rating.period_of(s, versions, day)) for s in subs))
        lines: list[Any] = []
        clock = StatementClock(ctx.engine)
        try:
            ours = timed(lambda: lines.extend(rating.rate_periods(uow, tenant_id, rounding, entries)))
        finally:
            clock.close()
    assert all(len(per_sub) == len(METRICS) for per_sub in lines)
    total = sum(len(per_sub) for per_sub in lines)
    seconds_row(f"rate_periods, {m:,} subs, {n / 1e6:g}M events (postgresql)", ours, raw)
    seconds_row(f"  of which in SQL ({clock.statements} statements)", clock.seconds, raw)
    print(
        f"{'  of which in Python (windows, pricing ' + f'{total:,} lines)':<{W}} {ours - clock.seconds:>9.2f} s"
    )
    print(f"{'  before it: building the entries (period_of)':<{W}} {build:>9.2f} s          "
          f"({build / m * 1000:.3f} ms per subscription)")  # fmt: skip
    print(f"{'  before it: loading the subscriptions':<{W}} {load:>9.2f} s")
    return start


# ---- 4. current usage ----------------------------------------------------------------------------------


def bench_current_usage(url: str, tenant: Tenant, calls: int, start: datetime) -> None:
    ctx, tenant_id = tenant.ctx, tenant.actor.tenant_id
    rng = random.Random(7)
    picks = [rng.choice(tenant.subs) for _ in range(calls + 20)]
    query = (
        "SELECT metric, count(*), sum(value), max(value), count(DISTINCT unique_key) FROM usage_events "
        "WHERE tenant_id = %s AND subscription_id = %s AND timestamp >= %s AND timestamp < %s AND counted "
        "GROUP BY metric"
    )
    ours: list[float] = []
    raw: list[float] = []
    with pg_connect(url) as conn:
        for i, (sub_id, customer_id) in enumerate(picks):
            took = timed(lambda customer_id=customer_id: rating.current_usage(ctx, tenant.actor, customer_id))
            now = datetime.now(UTC)
            raw_took = timed(
                lambda sub_id=sub_id, now=now: conn.execute(query, (tenant_id, sub_id, start, now)).fetchall()
            )
            if i >= 20:  # the first 20 warm up
                ours.append(took)
                raw.append(raw_took)
    latency_row(f"current_usage, {calls} random customers", ours, raw)
    (usage,) = rating.current_usage(ctx, tenant.actor, picks[0][1])
    assert len(usage.lines) == len(METRICS)


def api_calls_counted(ctx: ServiceContext, actor: Actor, customer_id: str) -> Decimal:
    (usage,) = rating.current_usage(ctx, actor, customer_id)
    return next(c.line.rated.quantity for c in usage.lines if c.line.metric == "api_calls")


def bench_ack_to_counted(url: str, tenant: Tenant, trials: int) -> None:
    ctx, actor = tenant.ctx, tenant.actor
    rng = random.Random(11)
    server = Server(url)
    delays: list[float] = []
    reads: list[int] = []
    try:
        with server.client(tenant.key) as http:
            for i in range(trials + 2):
                sub_id, customer_id = rng.choice(tenant.subs)
                before = api_calls_counted(ctx, actor, customer_id)
                event = {"id": f"ack{i}", "metric": "api_calls", "subscription_id": sub_id,
                         "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z")}  # fmt: skip
                answer = http.post("/v1/usage_events/batch", json={"events": [event]})
                acked = time.perf_counter()
                assert answer.json()["accepted"] == 1, answer.text
                tries = 0
                while True:
                    tries += 1
                    if api_calls_counted(ctx, actor, customer_id) == before + 1:
                        break
                if i >= 2:  # the first two warm up
                    delays.append(time.perf_counter() - acked)
                    reads.append(tries)
    finally:
        server.stop()
    raw_delays = []
    with pg_connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS usage_raw")
        conn.execute("CREATE TABLE usage_raw (LIKE usage_events INCLUDING ALL)")
        for i in range(trials):
            now = datetime.now(UTC)
            with conn.transaction():
                conn.execute(f"INSERT INTO usage_raw ({', '.join(COLUMNS)}) VALUES "  # noqa: S608
                             "(%s, %s, 'c', 's', 'api_calls', %s, %s, NULL, NULL, '', true, false, '{}')",
                             (actor.tenant_id, f"raw{i}", now, now))  # fmt: skip
            acked = time.perf_counter()
            while conn.execute("SELECT count(*) FROM usage_raw WHERE tenant_id = %s AND subscription_id = 's' "
                               "AND metric = 'api_calls'", (actor.tenant_id,)).fetchone()[0] != i + 1:  # fmt: skip
                pass
            raw_delays.append(time.perf_counter() - acked)
        conn.execute("DROP TABLE usage_raw")
    first = sum(1 for r in reads if r == 1)
    latency_row(f"ack -> counted in current_usage ({first}/{len(reads)} 1st read)", delays, raw_delays)


# ---- main ----------------------------------------------------------------------------------------------


def revision() -> str:
    """Which kassa is measured: the commit of the checkout it is imported from, and whether kassa/ differs."""
    import kassa

    root = Path(kassa.__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return f"kassa from {root}"
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "kassa"], capture_output=True, text=True
    ).stdout.strip()
    return f"kassa {head.stdout.strip()}{' + uncommitted changes in kassa/' if dirty else ''}"


def facts(pg_url: str) -> None:
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    with pg_connect(pg_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]
    print(f"machine: {os.cpu_count()} cores, {int(memory) / 2**20:.0f} GB RAM, {platform.platform(terse=True)}; "
          f"python {platform.python_version()}; PostgreSQL {version} (local, shared_buffers {buffers}); "
          f"SQLite {sqlite3.sqlite_version} (WAL)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a tenth)")
    parser.add_argument("--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(
        f"kassa usage benchmarks, {datetime.now(UTC):%Y-%m-%d}{' (--quick)' if args.quick else ''}, {revision()}"
    )
    facts(args.postgres)
    admin = create_engine(args.postgres)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    pg_url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3D{SCHEMA}"
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            sqlite_path = folder / "bench.db"
            sqlite_url = f"sqlite:///{sqlite_path}"
            pg, lite = context(pg_url), context(sqlite_url)
            migrate.upgrade(pg.engine)
            migrate.upgrade(lite.engine)
            pg_api, lite_api = make_tenant(pg, "api", 1000), make_tenant(lite, "api", 1000)

            print("\n1. ingestion through POST /v1/usage_events/batch (batches of 10,000)")
            bench_api(pg_url, pg_api, sizes.api_pg, lambda rows: pg_raw_copy(pg_url, rows))
            bench_api(
                sqlite_url, lite_api, sizes.api_sqlite, lambda rows: sqlite_raw_insert(sqlite_path, rows)
            )

            print("\n2. bulk file import (NDJSON, import_usage in-process)")
            pg_file, lite_file = make_tenant(pg, "import", 1000), make_tenant(lite, "import", 1000)
            bench_import(pg_file, sizes.import_pg, folder, lambda rows: pg_raw_copy(pg_url, rows))
            bench_import(
                lite_file, sizes.import_sqlite, folder, lambda rows: sqlite_raw_insert(sqlite_path, rows)
            )
            lite.engine.dispose()

            print(f"\n3. rating one period, {sizes.rating_subs:,} subscriptions x 5 metrics")
            rated = make_tenant(pg, "rating", sizes.rating_subs)
            start = bench_rating(pg_url, rated, sizes.rating_events)

            print(f"\n4. current usage with {sizes.rating_events / 1e6:g}M events stored")
            bench_current_usage(pg_url, rated, sizes.latency_calls, start)
            bench_ack_to_counted(pg_url, rated, sizes.ack_trials)
            pg.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
        admin.dispose()
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
