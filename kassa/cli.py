"""The `kassa` command. Bad input prints one line and exits 2; nothing is written."""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.core.errors import DomainError
from kassa.core.test_clocks import ClockStatus, TestClock
from kassa.services.context import ServiceContext

app = typer.Typer(
    help="kassa: activity-to-cash, self-hosted.", no_args_is_help=True, pretty_exceptions_enable=False
)
db = typer.Typer(help="The database schema.", no_args_is_help=True)
tenant = typer.Typer(help="Tenants and their API keys.", no_args_is_help=True)
user = typer.Typer(help="Staff users.", no_args_is_help=True)
clock = typer.Typer(help="Test clocks.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(tenant, name="tenant")
app.add_typer(user, name="user")
app.add_typer(clock, name="clock")

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id (ten_…).")]


def _context() -> tuple[config.Settings, ServiceContext]:
    settings = config.load()
    bootstrap.setup_logging(settings)
    return settings, bootstrap.build_context(settings)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option(help="Where the demo database lives.")] = Path("kassa-demo"),
    host: str = "127.0.0.1",
    port: int = 8000,
    serve: Annotated[bool, typer.Option(help="Serve the API after building the demo.")] = True,
) -> None:
    """Build a demo business on an embedded SQLite database, then serve the API until Ctrl-C."""
    from kassa import demo as demo_module

    demo_module.run(directory=directory, host=host, port=port, serve=serve)


@app.command()
def serve(worker: Annotated[bool, typer.Option(help="Run the worker in the same process.")] = True) -> None:
    """Serve the API (and the worker) on KASSA_HOST:KASSA_PORT."""
    from kassa.server import serve as serve_app

    settings, ctx = _context()
    serve_app(ctx, host=settings.host, port=settings.port, with_worker=worker)


@app.command("worker")
def run_worker() -> None:
    """Run due jobs, deliver webhooks and carry on test clock advances, until Ctrl-C."""
    from kassa import worker as worker_module

    _, ctx = _context()
    stop = threading.Event()
    try:
        worker_module.run(ctx, stop)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def openapi() -> None:
    """Print the OpenAPI document (for client generators)."""
    from kassa.server import create_app

    _, ctx = _context()
    typer.echo(json.dumps(create_app(ctx).openapi(), indent=2))


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database at KASSA_DATABASE_URL to the latest schema."""
    from kassa.services.health import upgrade_database

    settings, ctx = _context()
    typer.echo(f"schema at {upgrade_database(ctx)}: {settings.database_url}")


@tenant.command("create")
def tenant_create(
    name: str,
    currency: Annotated[str | None, typer.Option(help="Default currency (ISO 4217).")] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone.")] = None,
) -> None:
    """Create a tenant; prints its first API key, once."""
    from kassa.services.tenants import create_tenant

    _, ctx = _context()
    settings = {k: v for k, v in {"default_currency": currency, "time_zone": time_zone}.items() if v}
    created, key = create_tenant(ctx, name, settings)
    typer.echo(f"tenant {created.id} {created.name}")
    typer.echo(f"API key (shown once, stored only as a hash): {key}")


@tenant.command("list")
def tenant_list() -> None:
    """List tenants (operators only: the API never shows one tenant another)."""
    from kassa.services.tenants import list_tenants

    _, ctx = _context()
    for item in list_tenants(ctx):
        typer.echo(f"{item.id}  {item.name}  {item.settings.default_currency}")


@tenant.command("key")
def tenant_key(tenant_id: TenantOption, name: str = "cli") -> None:
    """Issue another API key for a tenant (when all keys are lost); prints it once."""
    from kassa.services.tenants import create_api_key, get_tenant

    _, ctx = _context()
    get_tenant(ctx, tenant_id)
    key, token = create_api_key(ctx, system_actor(tenant_id, "cli"), name)
    typer.echo(f"API key {key.id} (shown once): {token}")


@user.command("create")
def user_create(
    tenant_id: TenantOption,
    email: str,
    name: str,
    role: Annotated[str, typer.Option(help="admin, finance, support or read_only.")] = "read_only",
) -> None:
    """Create a staff user."""
    from kassa.services.users import create_user

    _, ctx = _context()
    created = create_user(ctx, system_actor(tenant_id, "cli"), email=email, name=name, role_name=role)
    typer.echo(f"user {created.id} {created.email} {created.role.value}")


@clock.command("advance")
def clock_advance(
    tenant_id: TenantOption,
    clock_id: str,
    to: Annotated[datetime, typer.Argument(help="Target instant, e.g. 2027-01-01T00:00:00+00:00.")],
) -> None:
    """Advance a test clock, running all due work, with a progress bar."""
    from kassa.services.test_clocks import advance_test_clock

    _, ctx = _context()
    if to.tzinfo is None:
        raise DomainError(
            "naive_time", "Give the time with its offset, e.g. 2027-01-01T00:00:00+00:00.", "to"
        )
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                  TimeElapsedColumn()) as bar:  # fmt: skip
        task = bar.add_task("advancing", total=10_000)

        def show(state: TestClock) -> None:
            bar.update(
                task,
                completed=int(state.progress() * 10_000),
                description=f"{state.frozen_time:%Y-%m-%d %H:%M} · {state.jobs_run} jobs",
            )

        result = advance_test_clock(ctx, system_actor(tenant_id, "cli"), clock_id, to, progress=show)
        bar.update(task, completed=10_000)
    if result.status == ClockStatus.FAILED:
        raise DomainError("clock_failed", result.error or "a job failed", None)
    typer.echo(f"{result.id} at {result.frozen_time.isoformat()} ({result.jobs_run} jobs run)")


def main() -> None:
    try:
        app()
    except DomainError as error:
        where = f" [{error.field}]" if error.field else ""
        print(f"kassa: {error.code}: {error.message}{where}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
