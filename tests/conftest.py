"""Shared fixtures: every storage-touching test runs on SQLite and on PostgreSQL.

PostgreSQL comes from KASSA_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test); each
run works in its own schema, dropped at the end. With CI=true an unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kassa import config
from kassa.adapters.bank_files.reader import FileBankReader
from kassa.adapters.payments.sandbox import SandboxGateway
from kassa.adapters.presentment.pdf import WeasyDocuments
from kassa.adapters.sepa.pain008 import SepaXmlFiles
from kassa.adapters.tax_ids.offline import StdnumTaxIdValidator
from kassa.adapters.webhooks.http import HttpWebhookSender
from kassa.bootstrap import SANDBOX_TEST_SECRET, SEPA_SCHEMA
from kassa.core.audit import Actor, ActorType
from kassa.server import create_app
from kassa.services import tenants
from kassa.services.context import ServiceContext
from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import metadata

PG_URL = os.environ.get("KASSA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class SettableClock:
    """The system clock's stand-in: tests move it by hand."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self.at

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.at += delta


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kassa.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file we copy
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    schema = f"kassa_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable and CI=true: {error}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {error}")
    separator = "&" if "?" in PG_URL else "?"
    # Commits need not wait for the disk in tests (crash safety is not what these tests measure).
    url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "kassa.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    return emptied(request.getfixturevalue("postgres_url"))


def emptied(url: str) -> str:
    """The run's PostgreSQL schema with every table emptied, for the next test."""
    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        # TRUNCATE fires no row triggers, so the audit log's immutability trigger does not object
        conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
    engine.dispose()
    return url


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def ctx(database_url: str, clock: SettableClock) -> Iterator[ServiceContext]:
    engine = create_engine(database_url)
    sender = HttpWebhookSender(timeout_seconds=5)
    context = ServiceContext(
        engine=engine,
        clock=clock,
        tax_ids=StdnumTaxIdValidator(),
        webhooks=sender,
        # tests reach their own receivers on loopback; the private ranges let settings tests use them
        settings=config.load(
            {"KASSA_WEBHOOK_PERMITTED_NETWORKS": "127.0.0.0/8, ::1/128, 10.0.0.0/8, 192.0.2.0/24, fc00::/7"},
            database_url=database_url,
        ),
        documents=WeasyDocuments(),
        gateways={"sandbox": SandboxGateway(SANDBOX_TEST_SECRET)},
        bank_files=FileBankReader(),
        sepa=SepaXmlFiles(schema=SEPA_SCHEMA),
    )
    yield context
    sender.close()
    engine.dispose()


@dataclass
class TenantAccess:
    id: str
    key: str
    actor: Actor

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(ctx: ServiceContext, name: str = "Acme Billing", **settings: Any) -> TenantAccess:
    tenant, key = tenants.create_tenant(ctx, name, settings or None)
    key_id = tenants.authenticate(ctx, f"Bearer {key}").id
    return TenantAccess(
        id=tenant.id, key=key, actor=Actor(tenant_id=tenant.id, type=ActorType.API_KEY, id=key_id)
    )


@pytest.fixture
def tenant(ctx: ServiceContext) -> TenantAccess:
    return make_tenant(ctx)


@pytest.fixture
def actor(tenant: TenantAccess) -> Actor:
    return tenant.actor


@pytest.fixture
def client(ctx: ServiceContext, tenant: TenantAccess) -> Iterator[TestClient]:
    with TestClient(create_app(ctx), headers=tenant.headers) as test_client:
        yield test_client
