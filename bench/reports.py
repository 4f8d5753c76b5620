"""Reports benchmark: every report over 50,000 customers and two years of invoices, beside a raw baseline
measured in the same run.

    .venv/bin/python bench/reports.py [--customers N] [--postgres URL]

PostgreSQL only, in a schema made and dropped here (kassa_bench_reports).

Setup (not timed): a tenant (the demo's settings: EUR, Europe/Berlin) and customer 0 through the services,
customers 1..N-1 (default 50,000 in all) as copies of its row; then, set-based (INSERT ... SELECT from
generate_series), two years of monthly invoices (2025-01 .. 2026-12) as the revenue recognition writes them:
- revenue_schedules: one recurring row a month per customer from its start month (customer g starts in
  month g % 6 of 2025), ratable over the month, recognized in full, mrr_minor = its net (20.00 to 60.00 EUR
  by g % 5, plans "starter", "team", "business"); every 17th customer doubles its MRR from 2025-10
  (expansion), every 23rd halves it from 2026-11 (contraction: the churn-risk downgrade signal), every 31st
  churns (no rows from month 12 + g % 12 on); every 4th has a usage row a month (a point on the month's
  last day, mrr_minor NULL);
- one subscription per customer: contract_charges (revision 1 signed on its start, 12 monthly charges)
  and bookings (new, expansion, contraction, cancellation);
- a journal entry per invoice (Dr 1100 receivable, Cr 4000 revenue);
- usage_events: every 4th customer, one a day for the last 120 days (value 40; every 23rd's falls to 10 in
  the last 30 days: the churn-risk usage signal);
- cost_entries: every 10th customer, one a quarter.
Then ANALYZE and CHECKPOINT, and each report is called for the 24 months (clock on 2026-12-15) three times:
the first call and the best of three are printed. Raw baseline, in the same run: SELECT count(*),
sum(amount_minor) FROM revenue_schedules WHERE tenant_id = ... (best of three). Nothing here asserts a
timing; the table says whether each report is under 10 s.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from billing import _copies, pg_connect, suffixed  # bench/billing.py: bench/ is on the path
from usage import facts, revision, timed  # bench/usage.py

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.demo import SETTINGS
from kassa.services import cost_to_serve, customers, ledger, recurring_revenue, revenue_reports, tenants
from kassa.services.context import ServiceContext
from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import bookings, contract_charges, revenue_schedules
from kassa.store.tables import customers as customers_table

SCHEMA = "kassa_bench_reports"
FIRST, LAST = "2025-01", "2026-12"
MONTHS = 24
NOW = datetime(2026, 12, 15, 9, tzinfo=UTC)
LIMIT_S = 10.0
RUNS = 3
RAW = "SELECT count(*), sum(amount_minor) FROM revenue_schedules WHERE tenant_id = %s"
W = 46


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


# Customer g's rows exist for the month indexes START <= i < END (i = 0: 2025-01).
START = "(g %% 6)"
END = f"(CASE WHEN g %% 31 = 0 THEN 12 + g %% 12 ELSE {MONTHS} END)"  # every 31st churns
BASE = "(2000 + (g %% 5) * 1000)"  # 20.00 to 60.00 EUR a month
# every 17th doubles from 2025-10 (expansion), every 23rd halves from 2026-11 (contraction)
MRR = f"({BASE} * (CASE WHEN g %% 17 = 0 AND i >= 9 THEN 2 ELSE 1 END) / (CASE WHEN g %% 23 = 0 AND i >= 22 THEN 2 ELSE 1 END))"
PLAN = "(CASE g %% 5 WHEN 0 THEN 'starter' WHEN 1 THEN 'starter' WHEN 2 THEN 'team' ELSE 'business' END)"
MONTH = "(DATE '2025-01-01' + make_interval(months => i))::date"
NEXT = "(DATE '2025-01-01' + make_interval(months => i + 1))::date"
SUB = "'sub_' || lpad(g::text, 6, '0')"
INV = "'inv_' || lpad(g::text, 6, '0') || '_' || lpad(i::text, 2, '0')"
CUST = f"(SELECT {suffixed('%(c)s')} AS id, g FROM generate_series(0, %(n)s - 1) g)"  # noqa: S608
GRID = f"{CUST} c CROSS JOIN generate_series(0, {MONTHS} - 1) i"  # one row per customer and month
ALIVE = f"i >= {START} AND i < {END}"
RS, CC, BK = (", ".join(c.name for c in t.columns) for t in (revenue_schedules, contract_charges, bookings))
USAGE = "(500 + (g + i) %% 7 * 250)"
USAGE_DAYS = 120  # usage events: the churn-risk report compares the last 30 days with the 30 before

# The SQL below is built from the constants above only.
STATEMENTS = {
    "revenue_schedules (recurring)": f"""
        INSERT INTO revenue_schedules ({RS}) SELECT %(t)s, 'rs_' || {INV} || '_1', c.id, {SUB}, {INV}, 'invoice',
          {INV}, 1, {PLAN}, {PLAN}, 'recurring', 'ratable', 'EUR', {MONTH}, {MONTH}, {MONTH}, {NEXT}, {MRR}, 0,
          {MRR}, {NEXT} - 1, false, {MRR}, %(at)s
        FROM {GRID} WHERE {ALIVE}""",  # noqa: S608
    "revenue_schedules (usage, mrr NULL)": f"""
        INSERT INTO revenue_schedules ({RS}) SELECT %(t)s, 'rs_' || {INV} || '_2', c.id, {SUB}, {INV}, 'invoice',
          {INV}, 2, 'api-calls', {PLAN}, 'usage', 'point', 'EUR', {MONTH}, {MONTH}, {NEXT} - 1, {NEXT}, {USAGE}, 0,
          {USAGE}, {NEXT} - 1, false, NULL, %(at)s
        FROM {GRID} WHERE {ALIVE} AND g %% 4 = 0""",  # noqa: S608
    "contract_charges": f"""
        INSERT INTO contract_charges ({CC}) SELECT %(t)s, {SUB}, 1, i - {START} + 1, c.id,
          (DATE '2025-01-01' + make_interval(months => {START}))::date, NULL, {MONTH}, {PLAN}, 'EUR', {BASE}
        FROM {GRID} WHERE i >= {START} AND i < {START} + 12""",  # noqa: S608
    "bookings": f"""
        INSERT INTO bookings ({BK}) SELECT %(t)s, 'bk_' || lpad(g::text, 6, '0') || '_' || k.kind, c.id, {SUB},
          k.rev, (DATE '2025-01-01' + make_interval(months => k.i))::date, k.kind, {PLAN}, 'EUR', k.amount, %(at)s
        FROM {CUST} c CROSS JOIN LATERAL (VALUES
          ('new', 1, {START}, {BASE} * 12),
          ('expansion', 2, 9, CASE WHEN g %% 17 = 0 THEN {BASE} * 12 END),
          ('contraction', 3, 22, CASE WHEN g %% 23 = 0 THEN -{BASE} * 6 END),
          ('cancellation', 4, {END}, CASE WHEN g %% 31 = 0 THEN -{BASE} * 12 END)
        ) k(kind, rev, i, amount) WHERE k.amount IS NOT NULL AND k.i < {MONTHS}""",  # noqa: S608
    "journal_entries": f"""
        INSERT INTO journal_entries (tenant_id, id, posted_at, source_type, source_id, description, currency, booked_on)
        SELECT %(t)s, 'je_' || {INV}, %(at)s, 'invoice', {INV}, 'Invoice', 'EUR', {MONTH}
        FROM {GRID} WHERE {ALIVE}""",  # noqa: S608
    "journal_postings": f"""
        INSERT INTO journal_postings (tenant_id, entry_id, n, account, debit_minor, credit_minor, currency)
        SELECT %(t)s, 'je_' || {INV}, k.n, k.account, k.debit, k.credit, 'EUR'
        FROM {GRID} CROSS JOIN LATERAL (VALUES (1, '1100', {MRR}, 0), (2, '4000', 0, {MRR})) k(n, account, debit, credit)
        WHERE {ALIVE}""",  # noqa: S608
    "usage_events": f"""
        INSERT INTO usage_events (tenant_id, id, customer_id, subscription_id, metric, timestamp, received_at, value,
                                  group_key, counted, late, properties)
        SELECT %(t)s, 'ev_' || lpad(g::text, 6, '0') || '_' || d, c.id, {SUB}, 'api-calls',
          %(at)s::timestamptz - make_interval(days => d + 1), %(at)s::timestamptz - make_interval(days => d + 1),
          CASE WHEN g %% 23 = 0 AND d < 30 THEN 10 ELSE 40 END, '', true, false, '{{}}'
        FROM {CUST} c CROSS JOIN generate_series(0, {USAGE_DAYS} - 1) d WHERE g %% 4 = 0""",  # noqa: S608
    "cost_entries": f"""
        INSERT INTO cost_entries (tenant_id, id, customer_id, occurred_on, kind, minutes, amount_minor, currency,
                                  source, created_at)
        SELECT %(t)s, 'cost_' || lpad(g::text, 6, '0') || '_' || i, c.id, {MONTH} + 14, 'support', 30, 2500, 'EUR',
          'api', %(at)s
        FROM {GRID} WHERE {ALIVE} AND g %% 10 = 0 AND i %% 3 = 0""",  # noqa: S608
}


def populate(url: str, ctx: ServiceContext, n: int) -> tuple[str, dict[str, int]]:
    """The tenant and customer 0 through the services, the rest set-based; then ANALYZE. (tenant, row counts)"""
    tenant, _ = tenants.create_tenant(ctx, "Reports bench", SETTINGS)
    actor = system_actor(tenant.id, "bench")
    c0 = customers.create_customer(ctx, actor, {"external_id": "c000000", "name": "Customer 0"})
    p: dict[str, Any] = {"t": tenant.id, "n": n, "c": c0.id, "at": NOW}
    with pg_connect(url) as conn:
        conn.execute(_copies(customers_table, {"id": suffixed("t.id"), "external_id": "'c' || lpad(g::text, 6, '0')",
                                               "name": "'Customer ' || g"}, "t.id = %(c)s"), p)  # fmt: skip
        counts = {name: conn.execute(sql, p).rowcount for name, sql in STATEMENTS.items()}
        conn.execute("ANALYZE")
    return tenant.id, counts


def best(work: Callable[[], object]) -> tuple[float, float, object]:
    """(first call, best of RUNS, the first call's result)."""
    result: list[object] = []
    first = timed(lambda: result.append(work()))
    return first, min([first, *(timed(work) for _ in range(RUNS - 1))]), result[0]


def size(result: object) -> str:
    rows = getattr(result, "rows", None)
    if rows is not None:
        return f"{len(rows):,} rows"
    lines = getattr(result, "lines", None)
    return f"{len(lines):,} lines" if lines is not None else ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    n = args.customers
    started = time.perf_counter()
    print(
        f"kassa reports benchmark, {datetime.now(UTC):%Y-%m-%d}, {n:,} customers, {FIRST}..{LAST}, {revision()}"
    )
    facts(args.postgres)
    admin = create_engine(args.postgres)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3D{SCHEMA}"
    try:
        ctx = bootstrap.build_context(config.load({}, database_url=url))
        ctx.clock = FixedClock(NOW)
        migrate.upgrade(ctx.engine)
        made = time.perf_counter()
        tenant_id, counts = populate(url, ctx, n)
        print(f"  (setup, not measured, {time.perf_counter() - made:.0f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + ")")  # fmt: skip
        with pg_connect(url) as conn:
            conn.execute("CHECKPOINT")
        actor = system_actor(tenant_id, "bench")

        def raw() -> Any:
            with ctx.engine.connect() as conn:  # the same pool the services use
                return conn.exec_driver_sql(RAW, (tenant_id,)).one()

        raw_first, raw_best, found = best(raw)
        print(f"  raw baseline: {RAW} -> {tuple(found)}: first {raw_first:.3f} s, best {raw_best:.3f} s")  # fmt: skip
        reports: list[tuple[str, Callable[[], object]]] = [
            ("revenue_report", lambda: revenue_reports.revenue_report(ctx, actor, FIRST, LAST)),
            ("revenue_report by product",
             lambda: revenue_reports.revenue_report(ctx, actor, FIRST, LAST, by_product=True)),
            ("deferred_revenue_waterfall", lambda: revenue_reports.deferred_revenue_waterfall(ctx, actor, FIRST, LAST)),
            ("mrr_report", lambda: recurring_revenue.mrr_report(ctx, actor, FIRST, LAST)),
            ("cohort_report", lambda: recurring_revenue.cohort_report(ctx, actor, FIRST, LAST)),
            ("churn_risk_report (limit 100)", lambda: recurring_revenue.churn_risk_report(ctx, actor)),
            ("margin_report by customer", lambda: cost_to_serve.margin_report(ctx, actor, FIRST, LAST)),
            ("margin_report by plan", lambda: cost_to_serve.margin_report(ctx, actor, FIRST, LAST, by="plan")),
            ("trial_balance_as_of 2026-06-30",
             lambda: ledger.trial_balance_as_of(ctx, actor, date(2026, 6, 30))),
            ("trial_balance_as_of None (all)", lambda: ledger.trial_balance_as_of(ctx, actor, None)),
        ]  # fmt: skip
        print(
            f"\n{'report (24 months)':<{W}} {'first':>8} {'best of 3':>10} {'ratio':>9}  under 10 s  result"
        )
        print(f"{'raw baseline (count, sum)':<{W}} {raw_first:>7.3f}s {raw_best:>9.3f}s {1:>8.1f}x  yes")
        for name, work in reports:
            first, fastest, result = best(work)
            print(f"{name:<{W}} {first:>7.3f}s {fastest:>9.3f}s {fastest / raw_best:>8.1f}x  "
                  f"{'yes' if first < LIMIT_S else 'NO':<10}  {size(result)}")  # fmt: skip
        ctx.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
        admin.dispose()
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s ({timedelta(seconds=round(time.perf_counter() - started))})"
    )


if __name__ == "__main__":
    main()
