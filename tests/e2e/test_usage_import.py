"""Issue 5: `kassa usage import FILE` as a separate process — NDJSON and CSV streamed in batches, each event
counted once however often the file is imported, refused events listed with their line and exit code 1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.services import billable_metrics, catalog, customers, rating, subscriptions, tenants
from tests.e2e.test_cli_and_server import database, run

__all__ = ["database"]  # the fixture: a migrated SQLite file

PLAN = {"code": "metered", "name": "Metered", "billing_period": "month",
        "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "0"}}}],
        "charges": [{"metric": "calls", "model": "per_unit", "prices": {"EUR": {"unit": "0.01"}}},
                    {"metric": "gb", "model": "per_unit", "prices": {"EUR": {"unit": "0.10"}}}]}  # fmt: skip


def _business(database: Path) -> tuple[str, str, str]:
    """A tenant with two metrics, a metered plan and one subscribed customer (tenant, customer, sub)."""
    ctx = bootstrap.build_context(config.load(database_url=f"sqlite:///{database}"))
    tenant, _ = tenants.create_tenant(ctx, "Importer", None)
    actor = system_actor(tenant.id, "test")
    billable_metrics.create_metric(ctx, actor, {"code": "calls", "name": "Calls", "aggregation": "count"})
    billable_metrics.create_metric(
        ctx, actor, {"code": "gb", "name": "GB", "aggregation": "sum", "field_name": "gb"}
    )
    catalog.apply_catalog(ctx, actor, {"products": [{"code": "p", "name": "P", "plans": [PLAN]}]},
                          effective_at=datetime(2025, 1, 1, tzinfo=UTC))  # fmt: skip
    customer = customers.create_customer(ctx, actor, {"external_id": "cust-1", "name": "Cust"})
    sub = subscriptions.create_subscription(ctx, actor, {"customer_id": customer.id, "plan": "metered",
                                                         "start_date": "2026-01-01"})  # fmt: skip
    ctx.engine.dispose()
    return tenant.id, customer.id, sub.id


def _charged(database: Path, tenant_id: str, customer_id: str) -> dict[str, str]:
    ctx = bootstrap.build_context(config.load(database_url=f"sqlite:///{database}"))
    (usage,) = rating.current_usage(ctx, system_actor(tenant_id, "test"), customer_id)
    ctx.engine.dispose()
    return {c.line.metric: f"{c.line.rated.quantity} {c.line.amount}" for c in usage.lines}


def test_ndjson_import_is_counted_once_and_reports_refused_lines(database: Path, tmp_path: Path) -> None:
    tenant_id, customer_id, sub_id = _business(database)
    now = datetime.now(UTC).replace(microsecond=0)  # noqa: TID251 — the CLI runs on the system clock
    stamp = now.replace(day=1, hour=0, minute=0).isoformat()
    lines = [json.dumps({"id": f"c{i}", "metric": "calls", "external_customer_id": "cust-1", "timestamp": stamp})
             for i in range(25_000)]  # fmt: skip
    lines.append("")  # blank lines are skipped
    lines.append("{not json")
    lines.append(json.dumps({"id": "g1", "metric": "gb", "subscription_id": sub_id, "timestamp": stamp,
                             "properties": {"gb": 1.25}}))  # fmt: skip
    lines.append(json.dumps({"id": "g2", "metric": "gb", "subscription_id": sub_id, "timestamp": stamp}))
    path = tmp_path / "usage.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    first = run("usage", "import", "-t", tenant_id, str(path), database=database)
    assert first.returncode == 1  # two lines refused
    assert (
        first.stdout.strip() == "25,003 events: 25,001 stored, 0 seen before (not counted again), 2 refused"
    )
    assert first.stderr.splitlines()[-2:] == [
        f"  line {len(lines) - 2}: invalid_json: Not a JSON object: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1).",
        f"  line {len(lines)}: missing_property: Metric 'gb' measures 'gb'; it is missing. [properties.gb]",
    ]
    again = run("usage", "import", "-t", tenant_id, str(path), database=database)
    assert (
        again.stdout.strip() == "25,003 events: 0 stored, 25,001 seen before (not counted again), 2 refused"
    )
    # 25,000 calls × 0.01 = 250.00; 1.25 GB × 0.10 = 0.125 → 0.13 (half up)
    assert _charged(database, tenant_id, customer_id) == {"calls": "25000 250.00 EUR", "gb": "1.25 0.13 EUR"}


def test_csv_import_reads_properties_from_the_other_columns(database: Path, tmp_path: Path) -> None:
    tenant_id, customer_id, sub_id = _business(database)
    stamp = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0).isoformat()  # noqa: TID251
    path = tmp_path / "usage.csv"
    path.write_text(
        "id,metric,subscription_id,timestamp,properties.gb,region\n"
        f"a,gb,{sub_id},{stamp},2.5,eu\n"
        f"b,gb,{sub_id},{stamp},0.5,us\n"
        f"c,calls,{sub_id},{stamp},,\n"
        f"d,gb,{sub_id},{stamp}\n",
        encoding="utf-8",
    )
    out = run("usage", "import", "-t", tenant_id, str(path), database=database)
    assert out.returncode == 1
    assert out.stdout.strip() == "4 events: 3 stored, 0 seen before (not counted again), 1 refused"
    assert out.stderr.splitlines()[-1] == "  line 5: invalid_csv: Expected 6 cells, found 4."
    assert _charged(database, tenant_id, customer_id) == {"calls": "1 0.01 EUR", "gb": "3.0 0.30 EUR"}
    missing = run("usage", "import", "-t", tenant_id, str(tmp_path / "nope.csv"), database=database)
    assert (missing.returncode, missing.stderr.strip()) == (
        2, f"kassa: file_unreadable: Cannot read {tmp_path / 'nope.csv'}: no such file. [FILE]"
    )  # fmt: skip
