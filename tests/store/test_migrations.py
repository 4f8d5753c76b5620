"""The migrations build exactly the schema tables.py declares, on SQLite and PostgreSQL, both ways."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import metadata
from tests.conftest import PG_URL

ROOT = Path(__file__).resolve().parents[2]
HEAD = "0010"
TABLES = {
    "tenants", "api_keys", "users", "test_clocks", "customers", "jobs", "events", "audit_events",
    "webhook_endpoints", "webhook_deliveries", "webhook_attempts", "idempotency_keys",
    "catalog_versions", "subscriptions", "subscription_changes",
    "billable_metrics", "usage_events", "usage_charges", "usage_thresholds", "usage_threshold_crossings",
    "invoices", "invoice_lines", "credit_notes", "credit_note_lines", "number_sequences", "one_off_charges",
    "coupons", "promotion_codes", "coupon_redemptions", "credit_balance_transactions", "ledger_charts",
    "journal_entries", "journal_postings",
    "payment_methods", "payments", "payment_allocations", "refunds", "chargebacks", "gateway_events",
    "dunning_policies", "payouts", "bank_statements", "statement_lines",
    "accounting_periods", "revenue_schedules", "contract_charges", "bookings", "exchange_rates", "cost_entries",
    "sla_policies", "tickets",
    "leads", "offers", "provisioning_steps", "entitlement_overrides", "wallets", "wallet_lots",
    "wallet_transactions", "message_templates", "message_preferences", "messages", "disputes", "message_settings",
    "staff_credentials", "staff_invitations", "console_sessions", "customer_notes",
}  # fmt: skip

# The only indexes (and unique constraints) that do not lead with tenant_id: each serves a lookup that
# has no tenant yet, or that the worker runs across every tenant.
GLOBAL_INDEXES = {
    # the worker claims due system-clock jobs of every tenant: WHERE status, test_clock_id IS NULL, due_at
    ("jobs", ("status", "test_clock_id", "due_at")),
    # the worker claims due webhook deliveries of every tenant: WHERE status, next_attempt_at <= now
    ("webhook_deliveries", ("status", "next_attempt_at")),
    # the purge of expired idempotency keys runs across tenants
    ("idempotency_keys", ("expires_at",)),
    # authentication: the key's public prefix is what tells us the tenant (unique across tenants)
    ("api_keys", ("prefix",)),
    # console login: the invitation link's token and the session cookie are what tell us the tenant
    ("staff_invitations", ("token_hash",)),
    ("console_sessions", ("token_hash",)),
}


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def _differences(engine: Engine, target: sa.MetaData = metadata) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, target))


def _table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_postgresql(postgres_url: str) -> Iterator[Engine]:
    """An empty schema of our own (the session schema is already migrated), dropped afterwards."""
    schema = f"kassa_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    engine = create_engine(f"{PG_URL}{separator}options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(f"fresh_{request.param}")
    return engine


@pytest.fixture
def migrated(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def test_the_migrations_have_one_head_and_a_straight_history() -> None:
    script = ScriptDirectory(str(migrate.MIGRATIONS))
    assert script.get_heads() == [HEAD]
    assert migrate.head() == HEAD
    history = [(rev.revision, rev.down_revision) for rev in script.walk_revisions()]
    assert history == [
        ("0010", "0009"),
        ("0009", "0008"),
        ("0008", "0007"),
        ("0007", "0006"),
        ("0006", "0005"),
        ("0005", "0004"),
        ("0004", "0003"),
        ("0003", "0002"),
        ("0002", "0001"),
        ("0001", None),
    ]


def test_migrated_schema_equals_the_tables(migrated: Engine) -> None:
    assert migrate.current(migrated) == HEAD
    assert _table_names(migrated) == TABLES | {"alembic_version"}
    assert set(metadata.tables) == TABLES
    assert _differences(migrated) == []


def test_the_comparison_sees_a_column_type_and_an_index_that_differ(migrated: Engine) -> None:
    """The check above can fail: a changed column type, an extra column and an extra index all show."""
    changed = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    tenants = changed.tables["tenants"]
    tenants.c.name.type = sa.Integer()
    tenants.append_column(sa.Column("extra", sa.Text))
    sa.Index("ix_tenants_name", tenants.c.name)
    kinds = sorted((d[0] if isinstance(d, tuple) else d[0][0]) for d in _differences(migrated, changed))
    assert kinds == ["add_column", "add_index", "modify_type"]


def test_downgrade_to_base_then_upgrade_to_head(fresh_engine: Engine) -> None:
    config = _alembic_config(fresh_engine)
    assert migrate.current(fresh_engine) is None

    migrate.upgrade(fresh_engine)
    assert migrate.current(fresh_engine) == HEAD
    assert _differences(fresh_engine) == []

    command.downgrade(config, "base")
    assert migrate.current(fresh_engine) is None
    assert _table_names(fresh_engine) == {"alembic_version"}
    if fresh_engine.dialect.name == "postgresql":
        with fresh_engine.connect() as conn:
            functions = conn.exec_driver_sql(
                "SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
            ).all()
        assert functions == []  # the audit trigger's function went with it

    migrate.upgrade(fresh_engine)
    assert migrate.current(fresh_engine) == HEAD
    assert _table_names(fresh_engine) == TABLES | {"alembic_version"}
    assert _differences(fresh_engine) == []
    migrate.upgrade(fresh_engine)  # at head already: nothing to do, no error
    assert migrate.current(fresh_engine) == HEAD


def test_audit_log_refuses_update_and_delete_after_a_fresh_upgrade(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tenants (id, name, settings, created_at, updated_at) "
            "VALUES ('ten_1', 'T', '{}', '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO audit_events (tenant_id, id, at, actor_type, actor_id, action, object_type, "
            "object_id, changes) VALUES ('ten_1', 'aud_1', '2026-01-01 00:00:00+00', 'system', 'cli', "
            "'tenant.created', 'tenant', 'ten_1', '{}')"
        )
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(sa.exc.DatabaseError, match="audit_events cannot be altered"):
            with fresh_engine.begin() as conn:
                conn.exec_driver_sql(statement)


def test_kassa_db_upgrade_prints_the_head_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    env = {**os.environ, "KASSA_DATABASE_URL": url}
    kassa = Path(sys.executable).parent / "kassa"
    for _ in range(2):
        result = subprocess.run(
            [str(kassa), "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == f"schema at {HEAD}: {url}"
    engine = create_engine(url)
    try:
        assert migrate.current(engine) == HEAD
        assert _differences(engine) == []
    finally:
        engine.dispose()


def _declared_types(engine: Engine) -> dict[tuple[str, str], str]:
    """(table, column) -> the column type as the database itself reports it."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = {}
            for table in TABLES:
                for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")'):
                    found[(table, row[1])] = row[2].upper()
            return found
        rows = conn.exec_driver_sql(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        return {(t, c): d.upper() for t, c, d in rows if t in TABLES}


def test_no_column_is_a_float(migrated: Engine) -> None:
    types = _declared_types(migrated)
    assert len(types) == sum(len(t.columns) for t in metadata.tables.values())
    floats = {k: v for k, v in types.items() if any(f in v for f in ("REAL", "FLOA", "DOUB"))}
    assert floats == {}
    # amounts of record are BIGINT minor units; instants are timestamptz on PostgreSQL
    assert types[("customers", "credit_limit_minor")] == "BIGINT"
    expected_at = "DATETIME" if migrated.dialect.name == "sqlite" else "TIMESTAMP WITH TIME ZONE"
    assert types[("customers", "created_at")] == expected_at


def test_no_float_type_is_declared_in_the_tables() -> None:
    floats = [
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, sa.Float) or "float" in type(column.type).__name__.lower()
    ]
    assert floats == []


def _indexes(engine: Engine) -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    """Every index and unique constraint of each table, as (table, columns), read from the database."""
    inspector = sa.inspect(engine)
    found: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for table in TABLES:
        columns = [tuple(ix["column_names"]) for ix in inspector.get_indexes(table)]
        columns += [tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)]
        found[table] = {(table, c) for c in columns}
    return found


def test_tenant_id_leads_every_primary_key(migrated: Engine) -> None:
    inspector = sa.inspect(migrated)
    keys = {t: tuple(inspector.get_pk_constraint(t)["constrained_columns"]) for t in TABLES}
    assert keys.pop("tenants") == ("id",)
    assert keys == {
        "api_keys": ("tenant_id", "id"),
        "users": ("tenant_id", "id"),
        "test_clocks": ("tenant_id", "id"),
        "customers": ("tenant_id", "id"),
        "jobs": ("tenant_id", "id"),
        "events": ("tenant_id", "id"),
        "audit_events": ("tenant_id", "id"),
        "webhook_endpoints": ("tenant_id", "id"),
        "webhook_deliveries": ("tenant_id", "id"),
        "webhook_attempts": ("tenant_id", "id"),
        "idempotency_keys": ("tenant_id", "key"),
        "catalog_versions": ("tenant_id", "number"),
        "subscriptions": ("tenant_id", "id"),
        "subscription_changes": ("tenant_id", "id"),
        "billable_metrics": ("tenant_id", "code"),
        "usage_events": ("tenant_id", "id"),
        "usage_charges": ("tenant_id", "event_id"),
        "usage_thresholds": ("tenant_id", "id"),
        "usage_threshold_crossings": ("tenant_id", "threshold_id", "period_start"),
        "invoices": ("tenant_id", "id"),
        "invoice_lines": ("tenant_id", "invoice_id", "position"),
        "credit_notes": ("tenant_id", "id"),
        "credit_note_lines": ("tenant_id", "credit_note_id", "n"),
        "number_sequences": ("tenant_id", "series"),
        "one_off_charges": ("tenant_id", "id"),
        "coupons": ("tenant_id", "id"),
        "promotion_codes": ("tenant_id", "id"),
        "coupon_redemptions": ("tenant_id", "id"),
        "credit_balance_transactions": ("tenant_id", "id"),
        "ledger_charts": ("tenant_id",),
        "journal_entries": ("tenant_id", "id"),
        "journal_postings": ("tenant_id", "entry_id", "n"),
        "payment_methods": ("tenant_id", "id"),
        "payments": ("tenant_id", "id"),
        "payment_allocations": ("tenant_id", "id"),
        "refunds": ("tenant_id", "id"),
        "chargebacks": ("tenant_id", "id"),
        "gateway_events": ("tenant_id", "gateway", "event_id"),
        "dunning_policies": ("tenant_id", "id"),
        "payouts": ("tenant_id", "id"),
        "bank_statements": ("tenant_id", "id"),
        "statement_lines": ("tenant_id", "id"),
        "accounting_periods": ("tenant_id", "month"),
        "revenue_schedules": ("tenant_id", "id"),
        "contract_charges": ("tenant_id", "subscription_id", "revision", "n"),
        "bookings": ("tenant_id", "id"),
        "exchange_rates": ("tenant_id", "base", "currency", "day"),
        "cost_entries": ("tenant_id", "id"),
        "sla_policies": ("tenant_id", "code"),
        "tickets": ("tenant_id", "id"),
        "leads": ("tenant_id", "id"),
        "offers": ("tenant_id", "code", "version"),
        "provisioning_steps": ("tenant_id", "id"),
        "entitlement_overrides": ("tenant_id", "customer_id", "feature"),
        "wallets": ("tenant_id", "id"),
        "wallet_lots": ("tenant_id", "id"),
        "wallet_transactions": ("tenant_id", "id"),
        "message_templates": ("tenant_id", "kind", "locale"),
        "message_preferences": ("tenant_id", "customer_id", "kind"),
        "messages": ("tenant_id", "id"),
        "disputes": ("tenant_id", "id"),
        "message_settings": ("tenant_id",),
        "staff_credentials": ("tenant_id", "user_id"),
        "staff_invitations": ("tenant_id", "id"),
        "console_sessions": ("tenant_id", "id"),
        "customer_notes": ("tenant_id", "id"),
    }
    for table in TABLES - {"tenants"}:
        columns = [c.name for c in metadata.tables[table].columns]
        assert columns[0] == "tenant_id", table


def test_tenant_id_leads_every_index_but_the_documented_global_ones(migrated: Engine) -> None:
    by_table = _indexes(migrated)
    assert by_table["tenants"] == set()
    every = set().union(*by_table.values())
    not_leading = {ix for ix in every if ix[1][0] != "tenant_id"}
    assert not_leading == GLOBAL_INDEXES
    assert {ix for ix in every if "tenant_id" in ix[1][1:]} == set()  # never a trailing tenant_id
    # the same holds for what tables.py declares (indexes and unique constraints)
    declared = set()
    for table in metadata.tables.values():
        declared |= {(table.name, tuple(c.name for c in ix.columns)) for ix in table.indexes}
        declared |= {
            (table.name, tuple(c.name for c in uq.columns))
            for uq in table.constraints
            if isinstance(uq, sa.UniqueConstraint)
        }
    assert declared == every
