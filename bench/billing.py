"""Bill-run benchmark (issue 6): each figure beside a raw baseline measured in the same run.

    .venv/bin/python bench/billing.py [--quick] [--customers N] [--workers P] [--pdfs M] [--postgres URL]

PostgreSQL only, in a schema made and dropped here (kassa_bench_billing).

Setup (not timed): a tenant with a German seller (19 % VAT), the example catalog and usage plans, and N
customers (default 50,000; --quick 2,000), each with two subscriptions started on the first of last month:
`team-monthly` (20.00 flat + 10.00 a seat, 1 to 5 seats, no trial) and `api-growth-monthly` (49.00 a
month, a minimum spend of 100.00, three usage charges) with a few usage events last month in one of four
usage profiles. The first customer and its subscriptions are made through the services; the others are
copies of their rows made in SQL, as are the usage events and one `billing.bill` job per customer for the
first of this month. A fixed clock stands at that bill instant + 1 s, so the jobs are due.

1. Bill run: P worker processes (default: one per core) each loop `jobs.run_due_jobs(ctx, limit=100)`
   until nothing is left: one draft invoice per customer (recompute and diff, usage rated, VAT per line).
   Invoices per second from the start signal to the last worker's end, and the CPU the workers, all
   PostgreSQL processes and everything else on the machine used, in cores, from /proc. The first 500
   customers are billed before it in this process under cProfile (statements per job, kassa's top 15
   functions by cumulative time, the top 8 by own time, own time by package), so the timed run bills
   N - 500.
2. Finalization run: the clock moves past the 1 h grace; the same loop finalizes every draft (composed
   again, gapless number, journal entry, email job). Invoices per second up to the last finalization;
   the email jobs it schedules run after them (no SMTP server configured: each marks its invoice
   `not_sent`) and are timed apart. Again the first 500 are profiled first.
3. PDF: M finalized invoices (default 200) rendered by `WeasyDocuments` in one process; raw: WeasyPrint
   on a bare HTML table of the same lines.
4. Raw baselines, measured last so that their writes do not disturb the runs: the same number of invoice
   rows and lines written by two set-based INSERT ... SELECT from the customers and subscriptions tables
   (no pricing) into bare copies of the tables (same keys and indexes, no foreign keys); then one UPDATE
   numbering them and an INSERT ... SELECT of a journal entry with three postings each.
A CHECKPOINT precedes each measured phase. A summary table ends the output.

After each run the invoices are checked: exactly one per customer, no customer twice, and per group of
customers with the same seats and usage profile the count and the sum of totals equal those worked out
here from the price list (`expected_total`). Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import multiprocessing
import os
import platform
import pstats
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
import yaml
from dateutil.relativedelta import relativedelta
from usage import cpu_seconds, timed  # bench/usage.py: run as scripts, bench/ is on the path

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.core.periods import start_of
from kassa.demo import CATALOG, METRICS, SETTINGS, USAGE_PLANS
from kassa.services import billable_metrics, catalog, customers, invoicing, jobs, subscriptions, tenants
from kassa.services.billing import tax_table
from kassa.services.context import ServiceContext
from kassa.services.emails import EMAIL_JOB
from kassa.services.invoicing import BILL_JOB, FINALIZE_JOB
from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import customers as customers_table
from kassa.store.tables import subscription_changes
from kassa.store.tables import subscriptions as subscriptions_table

SCHEMA = "kassa_bench_billing"
ZONE = SETTINGS["time_zone"]  # the tenant's, so every customer's: Europe/Berlin
SEATS_PLAN, USAGE_PLAN = "team-monthly", "api-growth-monthly"
PROFILED = 500
W = 50  # name column

# Usage profiles, customer k has profile k % 4: (API calls in two events, GB stored from the reading on,
# distinct active users). They land in all three API-call tiers and both sides of the minimum spend.
PROFILES = [(8_000, 50, 1), (60_000, 100, 3), (250_000, 200, 11), (1_200_000, 400, 60)]
SEATS = 5  # customer k has 1 + k % 5 seats


@dataclass(frozen=True, slots=True)
class Sizes:
    customers: int
    pdfs: int


FULL = Sizes(50_000, 200)
QUICK = Sizes(2_000, 50)


class FixedClock:
    """A `Clock` that stands at a set instant (moved by hand between the runs)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def busy_seconds() -> float:
    """CPU time all cores spent on anything (not idle, not waiting for I/O) since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _, _, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def pg_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def context(url: str, clock: FixedClock) -> ServiceContext:
    ctx = bootstrap.build_context(config.load({}, database_url=url))
    ctx.clock = clock
    return ctx


# ---- the expected invoice, worked out from the price list ----------------------------------------------


CENT = Decimal("0.01")
VAT = Decimal("0.19")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def storage_hours(bill_date: date) -> Decimal:
    """Hours from the storage reading (the 15th of last month, 00:00 UTC) to the period's end."""
    reading = datetime.combine(
        bill_date - relativedelta(months=1) + timedelta(days=14), datetime.min.time(), UTC
    )
    return Decimal((start_of(bill_date, ZONE) - reading) // timedelta(hours=1))


def expected_lines(seats: int, profile: int, bill_date: date) -> list[Decimal]:
    """The net lines of a customer's first invoice (nothing billed before): last month's and this month's
    fees in advance for both subscriptions, last month's usage in arrears, the minimum spend true-up."""
    calls, gb, users = PROFILES[profile]
    billable = max(0, calls - 10_000)  # 10,000 included; the tiers price what is left, counted from zero
    api = (min(billable, 100_000) * Decimal("0.0010")
           + max(0, min(billable, 1_000_000) - 100_000) * Decimal("0.0006")
           + max(0, billable - 1_000_000) * Decimal("0.0003"))  # fmt: skip
    storage = gb * storage_hours(bill_date) * Decimal("0.00014")
    user_price = Decimal("8.00") if users <= 10 else Decimal("6.50") if users <= 50 else Decimal("5.00")
    usage = [_cents(api), _cents(storage), _cents(users * user_price)]
    true_up = max(Decimal(0), Decimal("100.00") - sum(usage))
    fees = [Decimal("20.00"), Decimal("10.00") * seats, Decimal("49.00")] * 2  # discount phase: 20 + 10/seat
    return [line for line in [*fees, *usage, true_up] if line]


def expected_total(seats: int, profile: int, bill_date: date) -> Decimal:
    """Net plus 19 % VAT computed per line and rounded half-up."""
    return sum((line + _cents(line * VAT) for line in expected_lines(seats, profile, bill_date)), Decimal(0))


# ---- setup ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Setup:
    tenant_id: str
    customers: int
    bill_date: date
    bill_at: datetime  # the bill date's first instant, in the customers' time zone
    events: int


def make_tenant(ctx: ServiceContext, clock: FixedClock, start: date) -> tuple[str, str, str, str]:
    """The tenant, metrics and catalog, and customer 0 with its two subscriptions, through the services:
    (tenant, customer, seats subscription, usage subscription)."""
    tenant, _ = tenants.create_tenant(ctx, "Bill run bench", SETTINGS)
    actor = system_actor(tenant.id, "bench")
    for spec in METRICS:
        billable_metrics.create_metric(ctx, actor, spec)
    document = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    document["products"] += yaml.safe_load(USAGE_PLANS.read_text(encoding="utf-8"))["products"]
    catalog.apply_catalog(ctx, actor, document, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    clock.at = start_of(start, ZONE) + timedelta(hours=9)
    customer = customers.create_customer(ctx, actor, {
        "external_id": "c000000", "name": "Customer 0", "emails": ["billing@c0.example"],
        "address": {"line1": "Marienplatz 8", "city": "München", "postal_code": "80331", "country": "DE"},
    })  # fmt: skip
    seats, usage = (
        subscriptions.create_subscription(ctx, actor, {"customer_id": customer.id, "plan": plan, "quantity": 1,
                                                       "start_date": start.isoformat(), "trial_days": 0}).id
        for plan in (SEATS_PLAN, USAGE_PLAN)
    )  # fmt: skip
    return tenant.id, customer.id, seats, usage


def suffixed(column: str) -> str:
    """Customer g's copy of a template id: cut to 30 characters, then 'x' and g (g = 0 is the template)."""
    return f"CASE WHEN g = 0 THEN {column} ELSE left({column}, 30) || 'x' || lpad(g::text, 6, '0') END"


def _copies(table: sa.Table, replaced: dict[str, str], where: str) -> str:
    """INSERT ... SELECT copying the template row(s) of `table` once for each g in 1..n-1, the columns in
    `replaced` computed by their SQL expression."""
    names = [c.name for c in table.columns]
    values = ", ".join(replaced.get(name, f"t.{name}") for name in names)
    return (f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {values} FROM {table.name} t "  # noqa: S608
            f"CROSS JOIN generate_series(1, %(n)s - 1) g WHERE t.tenant_id = %(t)s AND {where}")  # fmt: skip


def populate(url: str, ctx: ServiceContext, clock: FixedClock, n: int, bill_date: date) -> Setup:
    """Customers 1..n-1 as copies of customer 0 (seats varied), usage events for every usage subscription,
    one bill job per customer; then ANALYZE."""
    start = bill_date - relativedelta(months=1)
    tenant_id, customer_id, seats_sub, usage_sub = make_tenant(ctx, clock, start)
    seats = f"1 + g %% {SEATS}"
    p: dict[str, Any] = {
        "t": tenant_id,
        "n": n,
        "c": customer_id,
        "subs": [seats_sub, usage_sub],
        "seats": seats_sub,
    }
    with pg_connect(url) as conn:
        conn.execute("DELETE FROM jobs WHERE tenant_id = %(t)s", p)  # the template's own; only bill jobs here
        conn.execute(_copies(customers_table, {"id": suffixed("t.id"), "external_id": "'c' || lpad(g::text, 6, '0')",
                                               "name": "'Customer ' || g"}, "t.id = %(c)s"), p)  # fmt: skip
        conn.execute(_copies(subscriptions_table, {
            "id": suffixed("t.id"), "customer_id": suffixed("t.customer_id"),
            "quantity": f"CASE WHEN t.id = %(seats)s THEN {seats} ELSE t.quantity END",
        }, "t.id = ANY(%(subs)s)"), p)  # fmt: skip
        conn.execute(_copies(subscription_changes, {
            "id": suffixed("t.id"), "subscription_id": suffixed("t.subscription_id"),
            "terms": f"CASE WHEN t.subscription_id = %(seats)s "
                     f"THEN jsonb_set(t.terms, '{{quantity}}', to_jsonb({seats})) ELSE t.terms END",
        }, "t.subscription_id = ANY(%(subs)s)"), p)  # fmt: skip
        events = usage_events(conn, p, usage_sub, start)
        bill_at = start_of(bill_date, ZONE)
        query = f"""
            INSERT INTO jobs (tenant_id, id, kind, due_at, test_clock_id, customer_id, dedupe_key, payload, status,
                              attempts, last_error, created_at, finished_at, claimed_until)
            SELECT %(t)s, 'job_bench' || lpad(g::text, 6, '0'), %(kind)s, %(due)s, NULL, c.id,
                   c.id || ':' || %(day)s, jsonb_build_object('customer_id', c.id, 'bill_date', %(day)s),
                   'pending', 0, NULL, %(due)s, NULL, NULL
            FROM (SELECT {suffixed("%(c)s")} AS id, g FROM generate_series(0, %(n)s - 1) g) c
        """  # noqa: S608
        conn.execute(query, {**p, "kind": BILL_JOB, "due": bill_at, "day": bill_date.isoformat()})
        conn.execute("ANALYZE")
    return Setup(tenant_id=tenant_id, customers=n, bill_date=bill_date, bill_at=bill_at, events=events)


def usage_events(conn: psycopg.Connection, p: dict[str, Any], usage_sub: str, start: date) -> int:
    """Last month's usage of every usage subscription, by its customer's profile (g % 4): API calls in two
    events (the 10th and 20th, noon UTC), one storage reading (the 15th, 00:00 UTC), one event per active
    user (the 12th). Stored as ingestion stores them: measure computed, counted, not late."""
    midnight = datetime.combine(start, datetime.min.time(), UTC)
    profiles = ", ".join(f"({i}, {c // 2}, {gb}, {u})" for i, (c, gb, u) in enumerate(PROFILES))
    query = f"""
        WITH s AS (SELECT g, {suffixed("%(c)s")} AS cus, {suffixed("%(sub)s")} AS sub, v.*
                   FROM generate_series(0, %(n)s - 1) g
                   JOIN (VALUES {profiles}) v (profile, half_calls, gb, users) ON v.profile = g %% {len(PROFILES)}),
        e AS (
            SELECT s.*, 'api_calls' AS metric, 'a' || j AS n, %(api)s + (j - 1) * interval '10 days' AS at,
                   s.half_calls::numeric AS value, NULL AS unique_key, jsonb_build_object('calls', s.half_calls) AS props
            FROM s CROSS JOIN generate_series(1, 2) j
            UNION ALL
            SELECT s.*, 'storage_gb', 'g1', %(storage)s, s.gb::numeric, NULL, jsonb_build_object('gb', s.gb) FROM s
            UNION ALL
            SELECT s.*, 'active_users', 'u' || j, %(users)s + j * interval '1 minute', NULL, 'u' || j,
                   jsonb_build_object('user', 'u' || j)
            FROM s CROSS JOIN LATERAL generate_series(1, s.users) j
        )
        INSERT INTO usage_events (tenant_id, id, customer_id, subscription_id, metric, timestamp, received_at, value,
                                  unique_key, group_key, counted, late, properties)
        SELECT %(t)s, 'b' || lpad(g::text, 6, '0') || '-' || n, cus, sub, metric, at, at, value, unique_key, '',
               true, false, props
        FROM e
    """  # noqa: S608  (only this script's own expressions are interpolated)
    conn.execute(query, {**p, "sub": usage_sub, "api": midnight + timedelta(days=9, hours=12),
                         "storage": midnight + timedelta(days=14), "users": midnight + timedelta(days=11, hours=9)})  # fmt: skip
    found = conn.execute("SELECT count(*) FROM usage_events WHERE tenant_id = %(t)s", p).fetchone()
    assert found is not None
    return int(found[0])


# ---- runs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerResult:
    ran: int  # jobs
    tracked: int  # jobs of the kind being measured
    last_tracked: float  # time.monotonic() when the last of them ended (0 if none)
    ended: float
    cpu: float


def _worker(
    url: str, at: datetime, tenant_id: str, kind: str, start: Barrier, end: Barrier, results: Any
) -> None:
    """One worker process: warm up (catalog and tax table parsed, a connection open), wait for the start,
    run due jobs 100 at a time until none is left, report, and keep the connection (so its PostgreSQL
    process and CPU count) until every worker has reported."""
    ctx = context(url, FixedClock(at))
    with ctx.uow(read_only=True) as uow:
        catalog.versions(uow, tenant_id)
    tax_table()
    handler = jobs.HANDLERS[kind]
    ends: list[float] = []

    def observed(ctx: ServiceContext, uow: Any, job: Any, now: datetime) -> None:
        handler(ctx, uow, job, now)
        ends.append(time.monotonic())

    jobs.HANDLERS[kind] = observed
    me = [os.getpid()]
    start.wait(timeout=300)
    cpu = cpu_seconds(me)
    ran = 0
    while batch := jobs.run_due_jobs(ctx, limit=100):
        ran += batch
    ended = time.monotonic()
    results.put(WorkerResult(ran=ran, tracked=len(ends), last_tracked=ends[-1] if ends else 0.0, ended=ended,
                             cpu=cpu_seconds(me) - cpu))  # fmt: skip
    end.wait(timeout=300)
    ctx.engine.dispose()


@dataclass(frozen=True, slots=True)
class Run:
    wall: float  # start signal to the last worker's end
    tracked_wall: float  # start signal to the end of the last job of the measured kind
    ran: int
    tracked: int
    workers_cpu: float
    postgres_cpu: float
    others_cpu: float  # every other process on the machine (this one included), over the run


def run_workers(url: str, at: datetime, tenant_id: str, kind: str, workers: int) -> Run:
    spawn = multiprocessing.get_context("spawn")
    start, end = spawn.Barrier(workers + 1), spawn.Barrier(workers + 1)
    results = spawn.Queue()
    processes = [spawn.Process(target=_worker, args=(url, at, tenant_id, kind, start, end, results))
                 for _ in range(workers)]  # fmt: skip
    for process in processes:
        process.start()
    start.wait(timeout=300)
    started, postgres, busy = time.monotonic(), cpu_seconds(), busy_seconds()
    done: list[WorkerResult] = [results.get() for _ in processes]
    postgres, busy = cpu_seconds() - postgres, busy_seconds() - busy
    end.wait(timeout=300)
    for process in processes:
        process.join()
        assert process.exitcode == 0, process.exitcode
    return Run(wall=max(r.ended for r in done) - started,
               tracked_wall=max(r.last_tracked for r in done) - started, ran=sum(r.ran for r in done),
               tracked=sum(r.tracked for r in done), workers_cpu=sum(r.cpu for r in done), postgres_cpu=postgres,
               others_cpu=busy - postgres - sum(r.cpu for r in done))  # fmt: skip


def busy(run: Run) -> str:
    """The CPU used over the run, in cores (1.00 = one core busy throughout)."""
    return (f"workers {run.workers_cpu / run.wall:.2f} cores, postgres {run.postgres_cpu / run.wall:.2f}, "
            f"other processes {max(0.0, run.others_cpu) / run.wall:.2f}")  # fmt: skip


def cores(run: Run) -> str:
    return f"   ({busy(run)})"


def ran(what: str, seconds: float, run: Run, count: int) -> None:
    print(f"  {what} in {seconds:.1f} s: {busy(run)}; per invoice {run.workers_cpu / count * 1000:.1f} ms of "
          f"worker CPU and {run.postgres_cpu / count * 1000:.1f} ms of PostgreSQL CPU")  # fmt: skip


def settle(url: str) -> None:
    """A checkpoint before each measured phase: the writes of the one before are on disk, not in its way."""
    with pg_connect(url) as conn:
        conn.execute("CHECKPOINT")


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[float]]:
    """Counts the statements executed on `engine` and the seconds spent in them: yields [count, seconds]."""
    tally = [0.0, 0.0]

    def before(conn: sa.Connection, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: sa.Connection, *_: Any) -> None:
        tally[0] += 1
        tally[1] += time.perf_counter() - conn.info.pop("bench_started")

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield tally
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)


def profile(ctx: ServiceContext, n: int, what: str) -> None:
    """Run the first n due jobs in this process under cProfile: the SQL statements per job and the share of
    the time in them, kassa's top 15 functions by cumulative time, and the top 8 of all by own time."""
    profiler = cProfile.Profile()
    done = 0
    with statements(ctx.engine) as tally:
        started = time.perf_counter()
        profiler.enable()
        while done < n and (batch := jobs.run_due_jobs(ctx, limit=min(100, n - done))):
            done += batch
        profiler.disable()
        elapsed = time.perf_counter() - started
    print(f"  profile of {what}, {done} jobs in this process under cProfile: {elapsed:.1f} s, "
          f"{tally[0] / done:.0f} SQL statements per job, {tally[1] / elapsed:.0%} of the time in them")  # fmt: skip
    stats = pstats.Stats(profiler)
    root = str(Path(__file__).resolve().parents[1]) + "/"
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]

    def show(funcs: list[Any]) -> None:
        for func in funcs:
            _, calls, own, cumulative, _ = table[func]
            file, line, name = func
            where = file.replace(root, "").split("site-packages/")[-1]
            print(f"  {cumulative:>9.2f}s {own:>6.2f}s {calls:>8}  {name} ({where}:{line})")

    print(f"  {'cumulative':>10} {'own':>7} {'calls':>8}  kassa's functions, top 15 by cumulative time")
    ours = [f for f in table if f[0].startswith(root + "kassa/")]
    show(sorted(ours, key=lambda f: -table[f][3])[:15])
    print(f"  {'':>10} {'':>7} {'':>8}  all functions, top 8 by own time")
    show(sorted(table, key=lambda f: -table[f][2])[:8])
    shares: dict[str, float] = {}
    for (file, _, name), (_, _, own, _, _) in table.items():
        shares[_package(file, name, root)] = shares.get(_package(file, name, root), 0.0) + own
    whole = sum(shares.values())
    print(
        "  own time by package: "
        + ", ".join(
            f"{k} {v / whole:.0%}"
            for k, v in sorted(shares.items(), key=lambda kv: -kv[1])
            if v / whole >= 0.01
        )
    )


def _package(file: str, name: str, root: str) -> str:
    """Where a profiled function lives, for the own-time summary: kassa's layers, the libraries, the rest."""
    if file.startswith(root + "kassa/"):
        return "/".join(file[len(root) :].split("/")[:2])
    if "psycopg/" in file and name == "wait":
        return "waiting for PostgreSQL"
    if "site-packages/" in file:
        return file.split("site-packages/")[1].split("/")[0]
    return "python stdlib" if file not in ("~", "") else "builtins"


# ---- checks --------------------------------------------------------------------------------------------


def check(url: str, s: Setup, now: datetime, *, finalized: bool) -> tuple[int, Decimal]:
    """One invoice per customer, and per (seats, usage profile) group the sum of totals worked out from the
    price list, no job due by `now` left undone or failed; after finalization also gapless distinct numbers,
    a journal entry and an email job each.
    Returns the number of invoice lines and the sum of totals."""
    p = {"t": s.tenant_id, "day": s.bill_date, "plan": SEATS_PLAN, "now": now}
    with pg_connect(url) as conn:
        count, distinct, drafts, lines = conn.execute(
            "SELECT count(*), count(DISTINCT customer_id), count(*) FILTER (WHERE status = 'draft'), "
            "(SELECT count(*) FROM invoice_lines WHERE tenant_id = %(t)s) "
            "FROM invoices WHERE tenant_id = %(t)s", p).fetchone()  # fmt: skip
        assert count == distinct == s.customers, (count, distinct, s.customers)
        assert drafts == (0 if finalized else count), drafts
        groups = conn.execute(
            "SELECT s.quantity, substr(c.external_id, 2)::int %% 4, count(*), sum(i.total_minor) FROM invoices i "
            "JOIN customers c ON c.tenant_id = i.tenant_id AND c.id = i.customer_id "
            "JOIN subscriptions s ON s.tenant_id = i.tenant_id AND s.customer_id = i.customer_id AND s.plan = %(plan)s "
            "WHERE i.tenant_id = %(t)s AND i.bill_date = %(day)s GROUP BY 1, 2", p).fetchall()  # fmt: skip
        total = Decimal(0)
        for seats, prof, n, minor in groups:
            expected = expected_total(seats, prof, s.bill_date)
            assert Decimal(minor) / 100 == n * expected, (seats, prof, n, Decimal(minor) / 100, n * expected)
            total += Decimal(minor) / 100
        assert sum(g[2] for g in groups) == s.customers
        bad = conn.execute("SELECT count(*) FROM jobs WHERE tenant_id = %(t)s AND (last_error IS NOT NULL OR "
                           "(status <> 'done' AND due_at <= %(now)s))", p).fetchone()  # fmt: skip
        assert bad is not None and bad[0] == 0, bad
        if finalized:
            numbers, last, entries, emails = conn.execute(
                "SELECT count(DISTINCT number), (SELECT max(last) FROM number_sequences WHERE tenant_id = %(t)s "
                "AND series LIKE 'invoice:%%'), (SELECT count(*) FROM journal_entries WHERE tenant_id = %(t)s AND "
                "source_type = 'invoice'), (SELECT count(*) FROM jobs WHERE tenant_id = %(t)s AND kind = %(email)s "
                "AND status = 'done') FROM invoices WHERE tenant_id = %(t)s", {**p, "email": EMAIL_JOB}).fetchone()  # fmt: skip
            assert numbers == last == entries == emails == s.customers, (numbers, last, entries, emails)
    state = "finalized" if finalized else "drafts"
    print(f"  checked: {count:,} invoices ({state}), one per customer; {len(groups)} groups (seats x usage "
          f"profile), each totals as worked out here; {total:,.2f} EUR in all; {lines / count:.1f} lines each"
          + ("; numbers gapless, one journal entry and one email job each" if finalized else ""))  # fmt: skip
    return lines, total


# ---- raw baselines -------------------------------------------------------------------------------------


def raw_bill(url: str, s: Setup, lines_per_sub: int) -> float:
    """One invoice row per customer and `lines_per_sub` lines per subscription, written by two set-based
    INSERT ... SELECT in one transaction into bare copies of invoices and invoice_lines (same primary key,
    unique constraints and indexes; no foreign keys). No pricing: amounts are zero."""
    from kassa.store.tables import invoice_lines, invoices

    invoice = {
        "tenant_id": "c.tenant_id", "id": "'inv' || substr(c.id, 4)", "customer_id": "c.id", "number": "NULL",
        "status": "'draft'", "currency": "c.currency", "bill_date": "%(day)s", "tax_inclusive": "false",
        "subtotal_minor": "0", "discount_minor": "0", "tax_minor": "0", "total_minor": "0",
        "credit_applied_minor": "0", "credit_granted_minor": "0", "amount_due_minor": "0", "amount_paid_minor": "0",
        "amount_credited_minor": "0", "breakdown": "'{}'", "notes": "'[]'", "memo": "NULL", "parties": "'{}'",
        "created_at": "%(at)s", "finalize_at": "%(at)s", "finalized_at": "NULL", "due_date": "NULL",
        "paid_at": "NULL", "voided_at": "NULL", "email_status": "NULL",
    }  # fmt: skip
    line = {
        "tenant_id": "s.tenant_id", "invoice_id": "'inv' || substr(s.customer_id, 4)",
        "position": "row_number() OVER (PARTITION BY s.customer_id ORDER BY s.id, k)", "customer_id": "s.customer_id",
        "item_key": "s.id || '|' || k", "kind": "'recurring'", "account_id": "s.customer_id",
        "subscription_id": "s.id", "product": "s.plan", "codes": "'[]'", "description": "s.plan",
        "period_start": "s.start_date", "period_end": "%(day)s", "quantity": "s.quantity", "unit_price": "NULL",
        "currency": "s.currency", "amount_minor": "0", "discount_minor": "0", "net_minor": "0", "tax_minor": "0",
        "discounts": "'[]'", "taxes": "'[]'", "tax_category": "'standard'", "tax_code": "'S'", "tax_note": "NULL",
        "origin": "NULL",
    }  # fmt: skip
    for table, values in ((invoices, invoice), (invoice_lines, line)):
        assert [c.name for c in table.columns] == list(values), f"{table.name}: columns changed"
    p = {"t": s.tenant_id, "day": s.bill_date, "at": s.bill_at, "k": lines_per_sub}
    with pg_connect(url) as conn:
        conn.execute("CREATE TABLE invoices_raw (LIKE invoices INCLUDING ALL)")
        conn.execute("CREATE TABLE invoice_lines_raw (LIKE invoice_lines INCLUDING ALL)")
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(f"INSERT INTO invoices_raw ({', '.join(invoice)}) SELECT {', '.join(invoice.values())} "  # noqa: S608
                         "FROM customers c WHERE c.tenant_id = %(t)s", p)  # fmt: skip
            conn.execute(f"INSERT INTO invoice_lines_raw ({', '.join(line)}) SELECT {', '.join(line.values())} "  # noqa: S608
                         "FROM subscriptions s CROSS JOIN generate_series(1, %(k)s) k WHERE s.tenant_id = %(t)s", p)  # fmt: skip
        elapsed = time.perf_counter() - started
        written = conn.execute("SELECT count(*) FROM invoices_raw").fetchone()
    assert written is not None and written[0] == s.customers, written
    return elapsed


def raw_finalize(url: str, s: Setup, at: datetime) -> float:
    """The raw invoices numbered by one UPDATE (row_number), and a journal entry with three postings per
    invoice by two INSERT ... SELECT, in one transaction, into bare copies of the journal tables."""
    p = {"at": at, "due": s.bill_date + timedelta(days=14)}
    with pg_connect(url) as conn:
        conn.execute("CREATE TABLE journal_entries_raw (LIKE journal_entries INCLUDING ALL)")
        conn.execute("CREATE TABLE journal_postings_raw (LIKE journal_postings INCLUDING ALL)")
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("UPDATE invoices_raw r SET number = 'R-' || lpad(n.seq::text, 6, '0'), status = 'open', "
                         "finalized_at = %(at)s, due_date = %(due)s "
                         "FROM (SELECT id, row_number() OVER (ORDER BY id) AS seq FROM invoices_raw) n "
                         "WHERE r.id = n.id", p)  # fmt: skip
            conn.execute("INSERT INTO journal_entries_raw (tenant_id, id, posted_at, source_type, source_id, "
                         "description, currency, reverses) SELECT tenant_id, 'je' || substr(id, 4), %(at)s, "
                         "'invoice', id, 'Invoice ' || number, currency, NULL FROM invoices_raw", p)  # fmt: skip
            conn.execute("INSERT INTO journal_postings_raw (tenant_id, entry_id, n, account, debit_minor, "
                         "credit_minor, currency, memo) SELECT tenant_id, 'je' || substr(id, 4), k, "
                         "(ARRAY['1200', '4000', '2200'])[k], 0, 0, currency, NULL "
                         "FROM invoices_raw CROSS JOIN generate_series(1, 3) k")  # fmt: skip
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE invoices_raw, invoice_lines_raw, journal_entries_raw, journal_postings_raw")
    return elapsed


# ---- PDF -----------------------------------------------------------------------------------------------


def bench_pdf(ctx: ServiceContext, s: Setup, m: int) -> tuple[float, float, float, float]:
    """PDFs per second, raw PDFs per second, KiB per PDF, the HTML template's share of the time."""
    import weasyprint

    with ctx.uow(read_only=True) as uow:
        found = uow.invoices.list(s.tenant_id, limit=m, cursor=None).items
    chosen = [invoicing.with_parties(ctx, invoice) for invoice in found]
    locale = {i.id: i.parties.get("buyer", {}).get("locale") or "en" for i in chosen}

    def bare(i: Any) -> str:
        rows = "".join(f"<tr><td>{html.escape(line.item.description)}</td><td>{line.item.quantity}</td>"
                       f"<td>{line.net.amount}</td></tr>" for line in i.lines)  # fmt: skip
        return f"<html><body><h1>Invoice {i.number}</h1><table>{rows}</table><p>{i.total.amount}</p></body></html>"

    sizes: list[int] = []
    markup = timed(lambda: [ctx.documents.invoice_html(i, locale=locale[i.id]) for i in chosen])
    ours = timed(lambda: sizes.extend(len(ctx.documents.invoice_pdf(i, locale=locale[i.id])) for i in chosen))
    raw = timed(lambda: [weasyprint.HTML(string=bare(i)).write_pdf() for i in chosen])
    return len(chosen) / ours, len(chosen) / raw, sum(sizes) / len(sizes) / 1024, markup / ours


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


def facts(url: str, workers: int) -> None:
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    with pg_connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
        trips = sorted(timed(lambda: conn.execute("SELECT 1").fetchone()) for _ in range(500))
    print(f"machine: {os.cpu_count()} cores, {int(memory) / 2**20:.0f} GB RAM, {platform.platform(terse=True)}; "
          f"python {platform.python_version()}; PostgreSQL {version} (local, shared_buffers {buffers}); "
          f"a statement's round trip (SELECT 1) {trips[250] * 1000:.2f} ms; {workers} worker processes")  # fmt: skip


def rate(name: str, count: int, seconds: float, raw_rate: float, unit: str, note: str = "") -> None:
    ours = count / seconds

    def shown(value: float) -> str:  # a decimal for single digits (PDFs per second)
        return f"{value:>9,.1f}" if value < 10 else f"{value:>9,.0f}"

    print(
        f"{name:<{W}} {shown(ours)} {unit}/s   raw {shown(raw_rate)} {unit}/s   ratio {raw_rate / ours:6.2f}x{note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help=f"{QUICK.customers:,} customers")
    parser.add_argument("--customers", type=int, help=f"default {FULL.customers:,}")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="default: one per core")
    parser.add_argument("--pdfs", type=int, help=f"invoices rendered to PDF (default {FULL.pdfs})")
    parser.add_argument("--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    n, pdfs = args.customers or sizes.customers, args.pdfs or sizes.pdfs
    if n <= PROFILED:
        parser.error(f"--customers must be more than the {PROFILED} profiled")
    started = time.perf_counter()
    print(f"kassa bill-run benchmark, {datetime.now(UTC):%Y-%m-%d}, {n:,} customers"
          f"{' (--quick)' if args.quick else ''}, {revision()}")  # fmt: skip
    facts(args.postgres, args.workers)
    admin = create_engine(args.postgres)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3D{SCHEMA}"
    try:
        clock = FixedClock(datetime.now(UTC))
        ctx = context(url, clock)
        migrate.upgrade(ctx.engine)
        bill_date = datetime.now(UTC).date().replace(day=1)
        made = time.perf_counter()
        s = populate(url, ctx, clock, n, bill_date)
        print(f"  (setup, not measured: {n:,} customers, {2 * n:,} subscriptions, {s.events:,} usage events in "
              f"{bill_date - relativedelta(months=1):%B}, {n:,} bill jobs for {bill_date}: "
              f"{time.perf_counter() - made:.0f} s)")  # fmt: skip

        timed_n = n - PROFILED
        print(f"\n1. bill run for {bill_date}: {n:,} customers, {args.workers} worker processes")
        clock.at = s.bill_at + timedelta(seconds=1)
        settle(url)
        profile(ctx, PROFILED, "the bill run")
        bill = run_workers(url, clock.at, s.tenant_id, BILL_JOB, args.workers)
        assert bill.tracked == timed_n, (bill.tracked, timed_n)
        ran(f"{timed_n:,} bill jobs", bill.wall, bill, timed_n)
        lines, _ = check(url, s, clock.at, finalized=False)

        print(f"\n2. finalization run: {n:,} drafts, {args.workers} worker processes")
        grace = timedelta(hours=SETTINGS.get("draft_grace_period_hours", 1))
        clock.at = s.bill_at + timedelta(seconds=2) + grace
        settle(url)
        profile(ctx, PROFILED, "the finalization run")
        final = run_workers(url, clock.at, s.tenant_id, FINALIZE_JOB, args.workers)
        assert final.tracked == timed_n, (final.tracked, timed_n)
        ran(f"{timed_n:,} finalize jobs", final.tracked_wall, final, timed_n)
        emails, tail = final.ran - final.tracked, final.wall - final.tracked_wall
        print(f"  then the {emails:,} email jobs they scheduled (no SMTP server: each marks its invoice not_sent) "
              f"in {tail:.1f} s")  # fmt: skip
        check(url, s, clock.at, finalized=True)

        print("\n3. invoice PDFs (rendered by the worker's email job, off the bill run's path)")
        pdf, raw_pdf, kib, markup = bench_pdf(ctx, s, pdfs)
        print(f"  {pdf:.1f} PDFs/s ({kib:.0f} KiB each; the HTML template is {markup:.0%} of the time); WeasyPrint "
              f"on a bare table of the same lines {raw_pdf:.1f}/s")  # fmt: skip

        print("\n4. raw baselines, after the runs (so their writes do not disturb them)")
        per_sub = max(1, round(lines / (2 * n)))
        settle(url)
        raw = raw_bill(url, s, per_sub)
        print(f"  {n:,} invoices and {2 * n * per_sub:,} lines by INSERT ... SELECT: {raw:.2f} s")
        raw_final = raw_finalize(url, s, clock.at)
        print(f"  {n:,} invoices numbered by one UPDATE, a journal entry and 3 postings each by INSERT ... SELECT: "
              f"{raw_final:.2f} s")  # fmt: skip

        print(f"\nsummary: {n:,} customers, {2 * n:,} subscriptions, {args.workers} worker processes")
        rate(f"bill run, {timed_n:,} invoices (drafts)", timed_n, bill.wall, n / raw, "invoices", cores(bill))
        rate(f"finalization, {timed_n:,} invoices", timed_n, final.tracked_wall, n / raw_final, "invoices",
             cores(final))  # fmt: skip
        rate(f"invoice PDFs, {pdfs} in one process", 1, 1 / pdf, raw_pdf, "PDFs")
        best = timed_n / bill.wall
        print(f"goal 1,000 invoices/s: the bill run reaches {best / 1000:.0%} of it; Zuora's cited ~20/s: "
              f"{best / 20:.1f}x")  # fmt: skip
        ctx.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
        admin.dispose()
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
