"""The commands a user types, as separate processes: the CLI's answers and exit codes, and a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

KASSA = [sys.executable, "-m", "kassa"]


def run(*args: str, database: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KASSA_DATABASE_URL": f"sqlite:///{database}", "KASSA_LOG_LEVEL": "WARNING"}
    return subprocess.run([*KASSA, *args], capture_output=True, text=True, env=env, timeout=60, check=check)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "kassa.db"
    run("db", "upgrade", database=path, check=True)
    return path


def test_tenant_create_prints_the_key_once_and_it_works(database: Path) -> None:
    out = run("tenant", "create", "Nordlicht", "--currency", "CHF", database=database, check=True).stdout
    tenant_line, key_line = out.strip().splitlines()
    assert tenant_line.startswith("tenant ten_") and tenant_line.endswith(" Nordlicht")
    key = key_line.rsplit(" ", 1)[1]
    assert key.startswith("kassa_")
    listed = run("tenant", "list", database=database, check=True).stdout
    assert listed.strip() == f"{tenant_line.split()[1]}  Nordlicht  CHF"
    assert key not in listed


def test_bad_input_prints_one_line_and_exits_2(database: Path) -> None:
    """Issue 3: the CLI answers bad input with one line on stderr, exit code 2, and writes nothing."""
    refused = run("tenant", "create", "Nordlicht", "--currency", "EURO", database=database)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        "kassa: unknown_currency: A currency is an ISO 4217 code of three uppercase letters, not 'EURO'. "
        "[default_currency]"
    ]
    assert run("tenant", "list", database=database, check=True).stdout == ""
    tenant = run("tenant", "create", "T", database=database, check=True).stdout.split()[1]
    bad_role = run("user", "create", "-t", tenant, "a@b.example", "A", "--role", "boss", database=database)
    assert (bad_role.returncode, bad_role.stderr.count("\n")) == (2, 1)
    assert bad_role.stderr.startswith(
        "kassa: invalid_role: role is one of admin, finance, support, read_only."
    )
    nobody = run("user", "create", "-t", "ten_nope", "a@b.example", "A", database=database)
    assert (nobody.returncode, nobody.stderr) == (2, "kassa: tenant_not_found: No tenant 'ten_nope'.\n")
    naive = run("clock", "advance", "-t", tenant, "clk_x", "2027-01-01T00:00:00", database=database)
    assert naive.returncode == 2 and naive.stderr.startswith("kassa: naive_time:")


def test_demo_builds_the_business_without_serving(tmp_path: Path) -> None:
    out = subprocess.run(
        [*KASSA, "demo", "--directory", str(tmp_path / "demo"), "--no-serve"],
        capture_output=True, text=True, timeout=120, check=True, env={**os.environ, "KASSA_LOG_LEVEL": "WARNING"},
    ).stdout  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == f"database ready at schema 0010: sqlite:///{tmp_path / 'demo' / 'kassa.db'}"
    assert sum(line.startswith("customer cus_") for line in lines) == 5
    assert any("ACME Rotterdam depot (EUR, NL, billed to acme)" in line for line in lines)
    assert any(line.startswith("catalog version 1 from catalog.yaml: starter-monthly,") for line in lines)
    subscribed = [line.split(": ", 1)[1] for line in lines
                  if line.startswith("subscription sub_") and "api-growth" not in line]  # fmt: skip
    assert subscribed == [
        "team-monthly ×12 from 2026-09-01 (active)",
        "starter-monthly ×3 from 2026-10-15 (active)",
        "business-annual ×20 from 2026-03-01 (active)",
        "professional-contract ×40 from 2026-06-10 (active)",
    ]
    # issue 5: the metered customers send usage, every event accepted, and read their current usage
    assert (
        "billable metrics: api_calls (sum), storage_gb (weighted_sum), active_users (unique_count)" in lines
    )
    metered = [line for line in lines if ": api-growth-monthly from " in line]
    assert len(metered) == 2 and all(line.endswith(" usage events (0 refused)") for line in metered)
    current = [line for line in lines if line.startswith("  current usage ")]
    assert len(current) == 2 and all("api_calls" in line and "active_users 14 → 91.00 EUR" in line
                                     for line in current[:1])  # fmt: skip
    # the test-clock customer: a trial, an upgrade mid-period, renewals
    assert any(
        line.endswith("team-monthly ×5: trialing (14-day trial, then 3 discounted months)") for line in lines
    )
    assert "  2026-02-20 upgraded: business-monthly ×8 (active)" in lines
    assert any(line.startswith("  2026-06-01: ") for line in lines)
    # issue 6: each bill date of the simulated months is one invoice: 10 % off the first three (a promotion
    # code), the upgrade's proration credit a credit note against February's, the goodwill credit applied
    invoiced = [line.strip() for line in lines if line.startswith("    NL-2026-")]
    # issue 7: the customer pays by card, each invoice charged when it is finalized (due on receipt); so the
    # upgrade's proration credit, against an invoice already paid, goes to the credit balance and pays March's
    assert invoiced == [
        "NL-2026-00001 2026-01-15 paid: net 63.00 EUR, VAT 11.97 EUR, total 74.97 EUR, credit applied 0.00 EUR, due 74.97 EUR",
        "NL-2026-00002 2026-02-15 paid: net 63.00 EUR, VAT 11.97 EUR, total 74.97 EUR, credit applied 0.00 EUR, due 74.97 EUR",
        "NL-2026-00003 2026-02-20 paid: net 392.07 EUR, VAT 74.49 EUR, total 466.56 EUR, credit applied 111.58 EUR, due 354.98 EUR",
        "NL-2026-00004 2026-03-15 paid: net 226.00 EUR, VAT 42.94 EUR, total 268.94 EUR, credit applied 0.00 EUR, due 268.94 EUR",
        "NL-2026-00005 2026-04-15 paid: net 226.00 EUR, VAT 42.94 EUR, total 268.94 EUR, credit applied 0.00 EUR, due 268.94 EUR",
        "NL-2026-00006 2026-05-15 paid: net 226.00 EUR, VAT 42.94 EUR, total 268.94 EUR, credit applied 0.00 EUR, due 268.94 EUR",
    ]  # fmt: skip
    assert [line.strip() for line in lines if line.startswith("    CN-")] == [
        "CN-2026-00001 against NL-2026-00002 (billing_correction): total 61.58 EUR, 0.00 EUR off what is due"
    ]
    # issue 7: ten customers paying four months by cards (declines, 3-D Secure), a PayPal account, SEPA by file and
    # transfers; the bank statement reconciled (the transfer without a reference and the unknown payer queued,
    # the rent ignored), and the same file a second time changes nothing
    assert any(
        line.startswith("  SEPA batch sdd_") and ": 3 direct debits as pain.008 (" in line for line in lines
    )
    assert any(line.startswith("  bank statement bst_") and line.endswith(
        ": 9 lines, 6 applied, 1 ignored, 1 review, 1 unmatched") for line in lines)  # fmt: skip
    assert "  the same file again: recognized, nothing changed" in lines
    assert (
        "  55 payments: 27 succeeded, 26 declined (generic_decline, insufficient_funds, stolen_card)" in lines
    )
    assert "  dunning: 10 invoices entered dunning, 4 recovered by a retry" in lines
    assert ("  receivables aging on 2026-06-20 (EUR): current 0.00, 1-30 71.64, 31-60 10.00, 61-90 105.20, "
            "90+ 171.84") in lines  # fmt: skip
    # issue 8: the books of the simulated half year (the customers on test clocks), recognized day by day
    books = lines.index(
        "books, EUR, month: bookings / billings / recognized / deferred revenue / unbilled backlog / rpo"
    )
    assert lines[books + 1 : books + 14] == [
        "  2026-01: 70.00 EUR / 63.00 EUR / 34.55 EUR / 28.45 EUR / 0.00 EUR / 28.45 EUR",
        "  2026-02: 0.00 EUR / 403.32 EUR / 324.44 EUR / 107.33 EUR / 0.00 EUR / 107.33 EUR",
        "  2026-03: 520.00 EUR / 786.00 EUR / 791.27 EUR / 102.06 EUR / 0.00 EUR / 102.06 EUR",
        "  2026-04: 0.00 EUR / 546.00 EUR / 542.60 EUR / 105.46 EUR / 0.00 EUR / 105.46 EUR",
        "  2026-05: 0.00 EUR / 414.00 EUR / 417.40 EUR / 102.06 EUR / 0.00 EUR / 102.06 EUR",
        "  2026-06: 0.00 EUR / 173.00 EUR / 124.29 EUR / 150.77 EUR / 0.00 EUR / 150.77 EUR",
        "MRR, EUR, month: MRR / net new MRR / customers / logo churn %",
        "  2026-01: 63.00 EUR / 63.00 EUR / 1 / -",
        "  2026-02: 214.61 EUR / 151.61 EUR / 1 / 0.00",
        "  2026-03: 746.00 EUR / 531.39 EUR / 11 / 0.00",
        "  2026-04: 546.00 EUR / -200.00 EUR / 8 / 27.27",
        "  2026-05: 394.00 EUR / -152.00 EUR / 6 / 25.00",
        "  2026-06: 168.00 EUR / -226.00 EUR / 5 / 16.67",
    ]  # fmt: skip
    # issue 9: leads converting, an offer and why, a wallet topped up, tickets under an SLA, line disputes
    lifecycle = lines[books + 14 : books + 25]
    wallet = lifecycle[4].split(" ", 2)
    assert (wallet[0], wallet[1].startswith("wal_")) == ("wallet", True)
    assert lifecycle[:4] + [wallet[2]] + lifecycle[5:] == [
        "leads: 4 from ads, partner, webinar",
        "  Fjordtech AS converted with starter-monthly; Atelier Lumen converted; Vinhos do Porto Lda lost; "
        "Kaffeerösterei Kühn qualified",
        "  feedback by source: ads 0/1 converted; partner 1/1 converted; webinar 1/2 converted",
        "  offer webinar-team for Fjordtech AS: applies (lead.source is webinar; subscription.plan is "
        "starter-monthly)",
        "top-up 100.00 EUR by card (succeeded), 20.00 EUR granted; balance 120.00 (paid 100.00, free 20.00); "
        "auto top-up 50.00 below 20.00",
        "tickets: 3 under SLA policy 'business-hours' (normal via email, urgent via chat, low via web)",
        "  SLA low: 1 tickets, first response met 0, running 1",
        "  SLA normal: 1 tickets, first response met 1, running 0",
        "  SLA urgent: 1 tickets, first response met 1, running 0",
        "disputes on NL-2026-00006: line 1 4.99 EUR accepted automatically (credited 4.99 EUR); line 2 "
        "209.44 EUR open, in the agents' queue",
        f"sample invoice PDFs: {tmp_path / 'demo' / 'invoices'} (6 files)",
    ]
    pdfs = sorted((tmp_path / "demo" / "invoices").glob("*.pdf"))
    assert [p.name for p in pdfs] == [f"NL-2026-0000{n}.pdf" for n in range(1, 7)]
    assert all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    assert any(line.startswith("API key (shown once): kassa_") for line in lines)
    # issue 10: the console's address with an admin login, and a portal link of the test-clock customer
    console = lines.index(next(line for line in lines if line.startswith("console: ")))
    assert lines[console].startswith("console: http://127.0.0.1:8000/console/login?tenant=ten_")
    assert lines[console + 1].startswith("  log in as admin@nordlicht.example with the password ")
    assert lines[console + 2].startswith(
        "portal of Simulated GmbH (German, valid 72 h): http://127.0.0.1:8000/portal/open/"
    )


def test_catalog_apply_and_subscriptions_from_the_cli(database: Path, tmp_path: Path) -> None:
    """Issue 4: `kassa catalog apply FILE` names the path of a bad price and writes nothing; a good file
    becomes version 1, and a subscription is created, previewed and canceled from the command line."""
    tenant_id = run("tenant", "create", "Cli", database=database, check=True).stdout.split()[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "products:\n  - code: app\n    name: App\n    plans:\n      - code: basic\n        name: Basic\n"
        "        billing_period: month\n        phases:\n          - {type: evergreen, prices: {EUR: {flat: 9.5}}}\n"
    )
    refused = run("catalog", "apply", "-t", tenant_id, str(bad), database=database)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        'kassa: invalid_amount: A price is a string like "12.34" (a float would not be exact). '
        "[products.0.plans.0.phases.0.prices.EUR.flat]"
    )
    assert run("catalog", "show", "-t", tenant_id, database=database).returncode == 2  # still none
    bad.write_text(bad.read_text().replace("flat: 9.5", 'flat: "9.50"'))
    applied = run("catalog", "apply", "-t", tenant_id, str(bad), "--effective-at", "2025-01-01T00:00:00+00:00",
                  database=database, check=True)  # fmt: skip
    assert applied.stdout.strip() == "catalog version 1 (1 plans) in effect from 2025-01-01T00:00:00+00:00"
    missing = run("subscription", "create", "-t", tenant_id, "cus_nobody", "basic", database=database)
    assert (missing.returncode, missing.stderr.strip()) == (
        2, "kassa: customer_not_found: No customer 'cus_nobody'. [customer_id]"
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_real_server_serves_and_stops_on_ctrl_c(database: Path) -> None:
    key = (
        run("tenant", "create", "Live", database=database, check=True)
        .stdout.splitlines()[1]
        .rsplit(" ", 1)[1]
    )
    port = free_port()
    env = {**os.environ, "KASSA_DATABASE_URL": f"sqlite:///{database}", "KASSA_PORT": str(port)}
    server = subprocess.Popen(
        [*KASSA, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "e2e-1", "X-Request-Id": "e2e-req"}
        created = httpx.post(
            f"{base}/v1/customers", json={"external_id": "e2e", "name": "E2E"}, headers=headers
        )
        assert created.status_code == 201
        assert created.headers["x-request-id"] == "e2e-req"
        again = httpx.post(
            f"{base}/v1/customers", json={"external_id": "e2e", "name": "E2E"}, headers=headers
        )
        assert (again.status_code, again.headers["idempotent-replayed"], again.json()) == (
            201,
            "true",
            created.json(),
        )
        assert 'route="/v1/customers",status="201"' in httpx.get(f"{base}/metrics").text
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0
    assert '"request_id": "e2e-req"' in stderr  # the JSON request log line carries the id


def test_several_server_processes_serve_one_database(database: Path) -> None:
    """Issue 5: `kassa serve --workers 2` runs two server processes (ingestion scales with cores); each
    builds its context from the environment, and what one writes the other reads."""
    key = (
        run("tenant", "create", "Multi", database=database, check=True)
        .stdout.splitlines()[1]
        .rsplit(" ", 1)[1]
    )
    port = free_port()
    env = {**os.environ, "KASSA_DATABASE_URL": f"sqlite:///{database}", "KASSA_PORT": str(port),
           "KASSA_LOG_LEVEL": "WARNING"}  # fmt: skip
    server = subprocess.Popen([*KASSA, "serve", "--workers", "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(400):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers) as client:
            ids = [client.post("/v1/customers", json={"external_id": f"m{i}", "name": "M"}).json()["id"]
                   for i in range(20)]  # fmt: skip
            assert [client.get(f"/v1/customers/{i}").status_code for i in ids] == [200] * 20
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_a_bank_statement_imported_from_the_cli_once(database: Path, tmp_path: Path) -> None:
    """Issue 7: `kassa statement import` reads a CSV with its column mapping and reconciles it (nothing is open,
    so the money in waits as unmatched and the money out is ignored); the same file again changes nothing; a
    malformed file prints the error with its row and exits 2."""
    tenant_id = run("tenant", "create", "Cli", database=database, check=True).stdout.split()[1]
    statement = tmp_path / "statement.csv"
    statement.write_text("date,amount,label\n2026-03-02,120.00,INV-2026-00001\n2026-03-03,-15.00,fees\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"date": "date", "amount": "amount", "reference": "label", "currency": "EUR"}')
    args = (
        "statement",
        "import",
        "-t",
        tenant_id,
        str(statement),
        "--format",
        "csv",
        "--mapping",
        str(mapping),
    )
    first = run(*args, database=database, check=True).stdout.strip()
    assert first.startswith("bst_") and first.endswith(": 2 lines, 2 new: 1 ignored, 1 unmatched")
    again = run(*args, database=database, check=True).stdout.strip()
    assert again == f"{first.split(':')[0]}: this file was imported before; nothing changed"
    statement.write_text("date,amount,label\nsoon,1.00,x\n")
    bad = run(*args, database=database)
    assert bad.returncode == 2 and bad.stderr.startswith("kassa: invalid_bank_file:")
