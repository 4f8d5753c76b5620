"""End-to-end tests in a real browser: a real kassa server (uvicorn on a free loopback port, the same app
`kassa serve` runs) driven by Playwright in Debian's Chromium (/usr/bin/chromium, installed by bin/_env;
Playwright's own browser download does not work here). Every test writes screenshots of the screens it
visits to build/screenshots (KASSA_SCREENSHOTS overrides), to be looked at.

These run on PostgreSQL, the production database; the pages' services are tested on SQLite elsewhere."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from kassa.core.access import Role
from kassa.server import create_app
from kassa.services import staff_auth, users
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess, emptied

CHROMIUM = Path(os.environ.get("KASSA_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("KASSA_SCREENSHOTS", Path(__file__).parents[2] / "build" / "screenshots"))
# A closed network: no background fetches, no Google lookups at start (they fail, slowly, many at a time).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]  # fmt: skip
PASSWORD = "correct horse battery staple"


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return emptied(postgres_url)


@dataclass
class Server:
    url: str
    ctx: ServiceContext


@pytest.fixture
def server(ctx: ServiceContext) -> Iterator[Server]:
    """`create_app(ctx)` served by uvicorn in a thread: real HTTP, real cookies, the test's clock."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(ctx), log_config=None, access_log=False, lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    yield Server(url=f"http://127.0.0.1:{port}", ctx=ctx)
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: bin/test installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def shot(page: object, name: str, *, full_page: bool = True) -> Path:
    """Write a screenshot of the page as build/screenshots/<name>.png (the name says which screen)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def staff_user(ctx: ServiceContext, tenant: TenantAccess, role: Role, email: str | None = None) -> str:
    """A staff user of `role` with the password PASSWORD set through an invitation; returns the email."""
    email = email or f"{role.value.replace('_', '-')}@example.com"
    user = users.create_user(ctx, tenant.actor, email=email, name=role.value.replace("_", " ").title(),
                             role_name=role.value)  # fmt: skip
    _, token = staff_auth.invite(ctx, tenant.actor, user.id)
    staff_auth.accept_invitation(ctx, token, PASSWORD)
    return email


def log_in(page: object, server: Server, tenant: TenantAccess, email: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(f"{server.url}/console/login?tenant={tenant.id}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/console/(?!login).*"))
