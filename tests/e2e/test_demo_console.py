"""Issue 10: `kassa demo` serves the console and the portal, and what it prints gets you in."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.test_cli_and_server import free_port


def test_the_printed_login_and_portal_link_work(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "kassa", "demo", "--directory", str(tmp_path), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "KASSA_LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    try:
        printed: list[str] = []
        assert demo.stdout is not None
        for line in demo.stdout:
            printed.append(line.rstrip("\n"))
            if line.startswith("serving on "):
                break
        text = "\n".join(printed)
        console = re.search(r"^console: (\S+)/console/login\?tenant=(ten_\w+)$", text, re.M)
        login = re.search(r"^  log in as (\S+) with the password (\S+) \(admin; shown once\)$", text, re.M)
        link = re.search(r"^portal of Simulated GmbH \(German, valid 72 h\): (\S+)$", text, re.M)
        assert console and login and link, text
        base = console.group(1)
        with httpx.Client(base_url=base) as browser:
            for _ in range(400):  # "serving on" is printed just before uvicorn listens
                try:
                    if browser.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            answer = browser.post("/console/login", data={
                "tenant": console.group(2), "email": login.group(1), "password": login.group(2),
            })  # fmt: skip
            assert (answer.status_code, answer.headers["location"]) == (303, "/console/")
            assert browser.get("/console/customers").status_code == 200
        with httpx.Client() as customer:
            opened = customer.get(link.group(1))
            assert (opened.status_code, opened.headers["location"]) == (303, "/portal/")
            home = customer.get(f"{base}/portal/")
            assert home.status_code == 200 and 'lang="de-DE"' in home.text
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=30)
