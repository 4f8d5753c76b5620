"""`kassa ledger` as a user types it: close and reopen a month (the system clock decides "today", so the
months used are long past), and export the books as CSV files; bad input prints one line and exits 2."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

KASSA = [sys.executable, "-m", "kassa"]


def run(*args: str, database: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KASSA_DATABASE_URL": f"sqlite:///{database}", "KASSA_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [*KASSA, *args], capture_output=True, text=True, env=env, timeout=60, check=False, cwd=cwd
    )


@pytest.fixture
def tenant(tmp_path: Path) -> tuple[Path, str]:
    database = tmp_path / "kassa.db"
    assert run("db", "upgrade", database=database).returncode == 0
    created = run("tenant", "create", "Books", database=database)
    assert created.returncode == 0, created.stderr
    return database, created.stdout.split()[1]


def test_close_reopen_and_refusals(tenant: tuple[Path, str]) -> None:
    """Closing February 2020 says what closed; closing it again and reopening without a reason print one
    line each and exit 2; reopening with a reason opens it again."""
    database, tenant_id = tenant
    closed = run("ledger", "close", "2020-02", "-t", tenant_id, database=database)
    assert (closed.returncode, closed.stdout) == (0, "closed 2020-02: the books are closed through 2020-02\n")
    again = run("ledger", "close", "2020-02", "-t", tenant_id, database=database)
    assert (again.returncode, again.stdout, again.stderr) == (2, "", "kassa: period_already_closed: 2020-02 is already "
                                                               "closed (the books are closed through 2020-02). [month]\n")  # fmt: skip
    blank = run("ledger", "reopen", "2020-02", "--reason", " ", "-t", tenant_id, database=database)
    assert (blank.returncode, blank.stderr) == (
        2,
        "kassa: reason_required: Say why the month is reopened. [reason]\n",
    )
    reopened = run(
        "ledger", "reopen", "2020-02", "--reason", "Audit finding", "-t", tenant_id, database=database
    )
    assert (reopened.returncode, reopened.stdout) == (0, "reopened 2020-02: no month is closed\n")


def test_exports_write_csv_files(tenant: tuple[Path, str], tmp_path: Path) -> None:
    """Each export writes its header (no postings yet: no rows) and says how many rows; a bad kind or range
    exits 2 and leaves no file behind."""
    database, tenant_id = tenant
    for kind, header in (("journal", "entry_id"), ("invoices", "number"), ("general-ledger", "*Narration")):
        out = tmp_path / f"{kind}.csv"
        done = run("ledger", "export", kind, "--from", "2020-01-01", "--to", "2020-12-31", "--out", str(out), "-t",
                   tenant_id, database=database)  # fmt: skip
        assert (done.returncode, done.stdout) == (0, f"{out}: 0 rows\n"), done.stderr
        with out.open(newline="", encoding="utf-8") as file:
            assert [row[0] for row in csv.reader(file)] == [header]
    bad = run("ledger", "export", "ledger", "--from", "2020-01-01", "--to", "2020-12-31", "--out",
              str(tmp_path / "x.csv"), "-t", tenant_id, database=database)  # fmt: skip
    assert (bad.returncode, bad.stderr) == (
        2,
        "kassa: invalid_export: Export journal, invoices or general-ledger. [KIND]\n",
    )
    backwards = run("ledger", "export", "journal", "--from", "2020-12-31", "--to", "2020-01-01", "--out",
                    str(tmp_path / "y.csv"), "-t", tenant_id, database=database)  # fmt: skip
    assert (backwards.returncode, backwards.stderr) == (
        2,
        "kassa: invalid_range: `to` is not before `from`. [to]\n",
    )
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()
