"""The unit of work writes only what is committed; SQLite runs in WAL and writers wait for each other."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kassa.core.errors import NotFound
from kassa.core.tenants import Tenant, TenantSettings
from kassa.store.engine import create_engine
from kassa.store.tables import tenants
from kassa.store.uow import UnitOfWork

AT = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class Boom(Exception):
    pass


def _tenant(tenant_id: str, name: str = "T") -> Tenant:
    return Tenant(id=tenant_id, name=name, settings=TenantSettings(), created_at=AT, updated_at=AT)


def _tenant_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(tenants.c.id).order_by(tenants.c.id)).scalars())


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    target = tmp_path / "kassa.db"
    shutil.copyfile(sqlite_template, target)
    engine = create_engine(f"sqlite:///{target}")
    yield engine
    engine.dispose()


def test_an_exception_inside_the_block_writes_nothing(engine: Engine) -> None:
    with pytest.raises(Boom):
        with UnitOfWork(engine) as uow:
            uow.tenants.add(_tenant("ten_a"))
            assert uow.tenants.get("ten_a").name == "T"  # visible inside its own transaction
            raise Boom
    assert _tenant_ids(engine) == []


def test_leaving_without_commit_writes_nothing(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.tenants.add(_tenant("ten_a"))
    assert _tenant_ids(engine) == []
    with UnitOfWork(engine, read_only=True) as uow:
        with pytest.raises(NotFound):
            uow.tenants.get("ten_a")


def test_commit_writes_and_an_error_after_commit_keeps_it(engine: Engine) -> None:
    with pytest.raises(Boom):
        with UnitOfWork(engine) as uow:
            uow.tenants.add(_tenant("ten_a"))
            uow.commit()
            raise Boom
    assert _tenant_ids(engine) == ["ten_a"]


def test_a_read_only_unit_of_work_cannot_commit(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        uow.tenants.add(_tenant("ten_a"))
        uow.commit()
    with pytest.raises(RuntimeError, match="a read-only unit of work cannot commit"):
        with UnitOfWork(engine, read_only=True) as uow:
            assert uow.tenants.get("ten_a").name == "T"
            uow.tenants.save_settings("ten_a", TenantSettings(locale="de"), AT)
            uow.commit()
    with UnitOfWork(engine, read_only=True) as uow:
        assert uow.tenants.get("ten_a").settings.locale == "en"


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": 1}


def test_sqlite_enforces_foreign_keys(sqlite_engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="FOREIGN KEY constraint failed"):
        with UnitOfWork(sqlite_engine) as uow:
            uow.conn.exec_driver_sql(
                "INSERT INTO users (tenant_id, id, email, name, role, created_at, updated_at) "
                "VALUES ('ten_missing', 'usr_1', 'a@b.co', 'A', 'admin', '2026-01-01', '2026-01-01')"
            )


def test_a_second_sqlite_writer_waits_for_the_first_instead_of_failing(sqlite_engine: Engine) -> None:
    """The first writer holds its transaction open for 0.5 s; the second's BEGIN IMMEDIATE waits."""
    first_in = threading.Event()
    moments: dict[str, float] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with UnitOfWork(sqlite_engine) as uow:
                uow.tenants.add(_tenant("ten_first"))
                first_in.set()
                time.sleep(0.5)
                uow.commit()
                moments["first_committed"] = time.monotonic()
        except BaseException as error:
            errors.append(error)
            first_in.set()

    def second() -> None:
        try:
            first_in.wait(10)
            with UnitOfWork(sqlite_engine) as uow:
                moments["second_began"] = time.monotonic()
                uow.tenants.add(_tenant("ten_second"))
                uow.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert _tenant_ids(sqlite_engine) == ["ten_first", "ten_second"]
    assert moments["second_began"] >= moments["first_committed"]


def test_two_sqlite_threads_doing_read_modify_write_lose_nothing(sqlite_engine: Engine) -> None:
    """Each transaction reads a counter then writes it back plus one. A deferred BEGIN would fail the
    upgrade to a writer with "database is locked"; BEGIN IMMEDIATE makes the second one wait."""
    with UnitOfWork(sqlite_engine) as uow:
        uow.tenants.add(_tenant("ten_counter", name="0"))
        uow.commit()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work() -> None:
        try:
            start.wait(10)
            for _ in range(50):
                with UnitOfWork(sqlite_engine) as uow:
                    count = int(uow.tenants.get("ten_counter").name)
                    time.sleep(0.001)  # widen the window between the read and the write
                    uow.conn.execute(
                        tenants.update().where(tenants.c.id == "ten_counter").values(name=str(count + 1))
                    )
                    uow.commit()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with UnitOfWork(sqlite_engine, read_only=True) as uow:
        assert uow.tenants.get("ten_counter").name == "100"
