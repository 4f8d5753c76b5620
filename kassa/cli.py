"""The `kassa` command. Bad input prints one line and exits 2; nothing is written."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from datetime import date as date_type
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.core.billing_schedule import Charge
from kassa.core.errors import DomainError
from kassa.core.subscriptions import Subscription
from kassa.core.test_clocks import ClockStatus, TestClock
from kassa.services.context import ServiceContext

app = typer.Typer(
    help="kassa: activity-to-cash, self-hosted.", no_args_is_help=True, pretty_exceptions_enable=False
)
db = typer.Typer(help="The database schema.", no_args_is_help=True)
tenant = typer.Typer(help="Tenants and their API keys.", no_args_is_help=True)
user = typer.Typer(help="Staff users.", no_args_is_help=True)
clock = typer.Typer(help="Test clocks.", no_args_is_help=True)
catalog = typer.Typer(
    help="The catalog: products, plans, prices (versioned documents).", no_args_is_help=True
)
subscription = typer.Typer(
    help="Subscriptions: create, change, cancel, pause, resume, schedule.", no_args_is_help=True
)
usage = typer.Typer(help="Usage events: import files of any size.", no_args_is_help=True)
statement = typer.Typer(help="Bank statements: import and reconcile.", no_args_is_help=True)
invoice = typer.Typer(help="Invoices: show one, as text or as its PDF.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(invoice, name="invoice")
app.add_typer(usage, name="usage")
app.add_typer(catalog, name="catalog")
app.add_typer(subscription, name="subscription")
app.add_typer(tenant, name="tenant")
app.add_typer(user, name="user")
app.add_typer(clock, name="clock")
app.add_typer(statement, name="statement")
ledger = typer.Typer(help="The books: close and reopen months, export journals.", no_args_is_help=True)
rates = typer.Typer(help="Exchange rates for reports: import the ECB reference rates.", no_args_is_help=True)
costs = typer.Typer(help="The cost to serve customers: import infrastructure costs.", no_args_is_help=True)
app.add_typer(ledger, name="ledger")
app.add_typer(rates, name="rates")
app.add_typer(costs, name="costs")

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
    serve: Annotated[
        bool, typer.Option(help="Serve the API, console and portal after building the demo.")
    ] = True,
) -> None:
    """Build a demo business on an embedded SQLite database, then serve the API, the console and the portal
    until Ctrl-C."""
    from kassa import demo as demo_module

    demo_module.run(directory=directory, host=host, port=port, serve=serve)


@app.command()
def serve(
    worker: Annotated[bool, typer.Option(help="Run the worker in the same process.")] = True,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Server processes (one per core scales ingestion).")
    ] = 1,
) -> None:
    """Serve the API (and the worker) on KASSA_HOST:KASSA_PORT."""
    from kassa.server import serve as serve_app

    settings, ctx = _context()
    serve_app(ctx, host=settings.host, port=settings.port, with_worker=worker, processes=workers)


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


def _instant(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("invalid_time", "Give an instant like 2027-01-01T00:00:00+00:00.", field) from None
    if parsed.tzinfo is None:
        raise DomainError(
            "naive_time", "Give the time with its offset, e.g. 2027-01-01T00:00:00+00:00.", field
        )
    return parsed


def _document(path: Path) -> object:
    """A catalog file, YAML or JSON (JSON is YAML)."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DomainError("file_unreadable", f"Cannot read {path}: {error.strerror}.", "FILE") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DomainError("invalid_yaml", f"{path} is not valid YAML{where}.", "FILE") from None


@catalog.command("apply")
def catalog_apply(
    tenant_id: TenantOption,
    file: Annotated[Path, typer.Argument(help="The catalog document, YAML or JSON.")],
    effective_at: Annotated[str | None, typer.Option(help="ISO instant with offset; default now.")] = None,
) -> None:
    """Validate a catalog file and apply it as the next version. An error names the path in the file."""
    from kassa.services.catalog import apply_catalog

    _, ctx = _context()
    document = _document(file)
    applied = apply_catalog(
        ctx, system_actor(tenant_id, "cli"), document, effective_at=_instant(effective_at, "effective_at")
    )
    plans = len(applied.version.catalog.plans)
    typer.echo(
        f"catalog version {applied.number} ({plans} plans) in effect from {applied.effective_at.isoformat()}"
    )


@catalog.command("show")
def catalog_show(
    tenant_id: TenantOption,
    version: Annotated[
        int | None, typer.Option(help="A version number; default the one in effect now.")
    ] = None,
) -> None:
    """Print a catalog version as JSON."""
    from kassa.services.catalog import get_catalog, get_version

    _, ctx = _context()
    actor = system_actor(tenant_id, "cli")
    applied = get_version(ctx, actor, version) if version else get_catalog(ctx, actor, at=None)
    out = {
        "number": applied.number,
        "effective_at": applied.effective_at.isoformat(),
        "document": applied.document,
    }
    typer.echo(json.dumps(out, indent=2, ensure_ascii=False))


def _addons(values: list[str] | None) -> dict[str, int] | None:
    if not values:
        return None
    addons = {}
    for value in values:
        code, _, count = value.partition("=")
        if not count.isdigit():
            raise DomainError("invalid_addons", f"{value!r}: give add-ons as code=quantity.", "--addon")
        addons[code] = int(count)
    return addons


def _print_subscription(sub: Subscription) -> None:
    pending = [f"{c.kind.value} on {c.effective}" for c in sub.changes if c.status.value == "pending"]
    addons = ", ".join(f"{k}×{v}" for k, v in sub.terms.addons.items()) or "no add-ons"
    typer.echo(
        f"{sub.id} {sub.status.value} {sub.terms.plan} ×{sub.terms.quantity} ({addons}) {sub.currency} "
        f"from {sub.start}" + (f"; pending: {'; '.join(pending)}" if pending else "")
    )


AddonOption = Annotated[list[str] | None, typer.Option("--addon", help="code=quantity; repeat for more.")]
WhenOption = Annotated[
    str | None, typer.Option("--when", help="now, end_of_period or date (default: the plan's policy).")
]
DateOption = Annotated[
    str | None, typer.Option("--date", help="Effective local day, YYYY-MM-DD (when=date).")
]
ProrationOption = Annotated[str | None, typer.Option(help="prorate or none (default: the plan's policy).")]


@subscription.command("create")
def subscription_create(
    tenant_id: TenantOption,
    customer_id: str,
    plan: str,
    quantity: int = 1,
    addon: AddonOption = None,
    start: Annotated[
        str | None, typer.Option(help="Start day YYYY-MM-DD (default today; may be past or future).")
    ] = None,
    trial_days: Annotated[int | None, typer.Option(help="Override the plan's trial; 0 for none.")] = None,
    anchor: Annotated[
        str, typer.Option(help="anniversary, account, or a day of month 1-31 (calendar billing).")
    ] = "anniversary",
) -> None:
    """Subscribe a customer to a plan."""
    from kassa.services.subscriptions import create_subscription

    _, ctx = _context()
    billing_anchor: dict[str, object] = {"type": anchor}
    if anchor.isdigit():
        billing_anchor = {"type": "day_of_month", "day": int(anchor)}
    fields = {"customer_id": customer_id, "plan": plan, "quantity": quantity, "addons": _addons(addon),
              "start_date": start, "trial_days": trial_days, "billing_anchor": billing_anchor}  # fmt: skip
    _print_subscription(create_subscription(ctx, system_actor(tenant_id, "cli"), fields))


def _change_fields(plan: str | None, quantity: int | None, addon: list[str] | None, when: str | None,
                   date: str | None, proration: str | None) -> dict[str, object]:  # fmt: skip
    fields = {"plan": plan, "quantity": quantity, "addons": _addons(addon), "when": when,
              "effective_date": date, "proration": proration}  # fmt: skip
    if date and not when:
        fields["when"] = "date"
    return {k: v for k, v in fields.items() if v is not None}


@subscription.command("change")
def subscription_change(
    tenant_id: TenantOption, subscription_id: str, plan: str | None = None, quantity: int | None = None,
    addon: AddonOption = None, moment: WhenOption = None, date: DateOption = None, proration: ProrationOption = None,
) -> None:  # fmt: skip
    """Change plan, quantity or add-ons (--addon lists the add-ons to have afterwards)."""
    from kassa.services.subscriptions import change_subscription

    _, ctx = _context()
    fields = _change_fields(plan, quantity, addon, moment, date, proration)
    _print_subscription(change_subscription(ctx, system_actor(tenant_id, "cli"), subscription_id, fields))


@subscription.command("preview")
def subscription_preview(
    tenant_id: TenantOption, subscription_id: str, plan: str | None = None, quantity: int | None = None,
    addon: AddonOption = None, moment: WhenOption = None, date: DateOption = None, proration: ProrationOption = None,
) -> None:  # fmt: skip
    """What a change would credit and charge now, without making it."""
    from kassa.services.subscriptions import preview_change

    _, ctx = _context()
    fields = _change_fields(plan, quantity, addon, moment, date, proration)
    preview = preview_change(ctx, system_actor(tenant_id, "cli"), subscription_id, fields, at=None)
    typer.echo(f"effective {preview.effective}")
    _print_charges(preview.added, "charges")
    _print_charges(preview.removed, "no longer billed")
    typer.echo(f"net {preview.net} {preview.currency}")


@subscription.command("cancel")
def subscription_cancel(
    tenant_id: TenantOption, subscription_id: str,
    moment: Annotated[str, typer.Option("--when", help="now, end_of_period or date.")] = "now", date: DateOption = None,
    proration: Annotated[str, typer.Option(help="prorate (credit the unused part) or none.")] = "prorate",
) -> None:  # fmt: skip
    """Cancel now, at the end of the period, or on a date."""
    from kassa.services.subscriptions import cancel_subscription

    _, ctx = _context()
    fields = {
        "when": "date" if date and moment == "now" else moment,
        "effective_date": date,
        "proration": proration,
    }
    _print_subscription(cancel_subscription(ctx, system_actor(tenant_id, "cli"), subscription_id, fields))


@subscription.command("undo-cancel")
def subscription_undo_cancel(tenant_id: TenantOption, subscription_id: str) -> None:
    """Withdraw a pending cancellation."""
    from kassa.services.subscriptions import undo_cancellation

    _, ctx = _context()
    _print_subscription(undo_cancellation(ctx, system_actor(tenant_id, "cli"), subscription_id))


@subscription.command("pause")
def subscription_pause(tenant_id: TenantOption, subscription_id: str, date: DateOption = None) -> None:
    """Stop billing from today (or --date); the unused part already billed is credited."""
    from kassa.services.subscriptions import pause_subscription

    _, ctx = _context()
    fields = {"effective_date": date} if date else {}
    _print_subscription(pause_subscription(ctx, system_actor(tenant_id, "cli"), subscription_id, fields))


@subscription.command("resume")
def subscription_resume(tenant_id: TenantOption, subscription_id: str, date: DateOption = None) -> None:
    """Bill again from today (or --date); the rest of the period is charged."""
    from kassa.services.subscriptions import resume_subscription

    _, ctx = _context()
    fields = {"effective_date": date} if date else {}
    _print_subscription(resume_subscription(ctx, system_actor(tenant_id, "cli"), subscription_id, fields))


@subscription.command("list")
def subscription_list(
    tenant_id: TenantOption, customer: Annotated[str | None, typer.Option(help="A customer id.")] = None,
    status: Annotated[str | None, typer.Option(help="pending, trialing, active, paused, past_due, canceled, ended.")] = None,
) -> None:  # fmt: skip
    """Subscriptions, newest first (up to 100)."""
    from kassa.core.subscriptions import Status, SubscriptionFilter
    from kassa.services.subscriptions import list_subscriptions

    _, ctx = _context()
    try:
        wanted = Status(status) if status else None
    except ValueError:
        raise DomainError("invalid_status", f"{status!r} is not a subscription status.", "--status") from None
    where = SubscriptionFilter(customer_id=customer, status=wanted)
    for item in list_subscriptions(ctx, system_actor(tenant_id, "cli"), where, limit=100).items:
        _print_subscription(item)


@subscription.command("schedule")
def subscription_schedule(
    tenant_id: TenantOption, subscription_id: str,
    start: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD; default the start date.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD, exclusive; default a year later.")] = None,
) -> None:  # fmt: skip
    """The charges due: in advance at period starts, in arrears at period ends, prorations at changes."""
    from kassa.services.subscriptions import get_schedule

    _, ctx = _context()
    sub, first, last, charges = get_schedule(ctx, system_actor(tenant_id, "cli"), subscription_id,
                                             start=_day(start, "--from"), end=_day(end, "--to"))  # fmt: skip
    _print_charges(charges, f"{sub.id} from {first} to {last}")


def _day(value: str | None, field: str) -> date_type | None:
    if value is None:
        return None
    try:
        return date_type.fromisoformat(value)
    except ValueError:
        raise DomainError("invalid_date", "Give a day as YYYY-MM-DD.", field) from None


def _print_charges(charges: list[Charge], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("due", "kind", "what", "service period", "qty", "amount"):
        table.add_column(column, justify="right" if column in ("qty", "amount") else "left")
    for c in charges:
        line = c.line
        table.add_row(str(c.due), c.kind.value, line.description, f"{line.start} – {line.end}", str(line.quantity),
                      str(line.amount))  # fmt: skip
    Console().print(table)


def _records(path: Path, kind: str) -> Iterator[tuple[int, dict[str, Any] | DomainError]]:
    """(line number, record or the error in it), streamed from the file."""
    import csv

    from kassa.core.usage_files import csv_header, csv_record, ndjson_record

    with path.open(encoding="utf-8", newline="") as handle:
        if kind == "ndjson":
            for number, line in enumerate(handle, start=1):
                try:
                    record = ndjson_record(line)
                except DomainError as error:
                    yield number, error
                    continue
                if record is not None:
                    yield number, record
            return
        reader = csv.reader(handle)
        header = csv_header(next(reader, []))
        for row in reader:
            try:
                record = csv_record(header, row)
            except DomainError as error:
                yield reader.line_num, error
                continue
            if record is not None:
                yield reader.line_num, record


@usage.command("import")
def usage_import(
    tenant_id: TenantOption,
    file: Annotated[Path, typer.Argument(help="NDJSON (one event per line) or CSV with a header row.")],
    format: Annotated[str | None, typer.Option(help="ndjson or csv; default from the file name.")] = None,
) -> None:
    """Send a file of usage events, streamed in batches of 10,000: each event is counted once however often
    the file is imported. Exits 1 if any event was refused (the first ones are listed with their line)."""
    from kassa.services.metering import Imported, import_usage

    kind = format or ("csv" if file.suffix.lower() == ".csv" else "ndjson")
    if kind not in ("ndjson", "csv"):
        raise DomainError("invalid_format", "The format is ndjson or csv.", "--format")
    if not file.is_file():
        raise DomainError("file_unreadable", f"Cannot read {file}: no such file.", "FILE")
    _, ctx = _context()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[counts]}"),
                  TimeElapsedColumn(), transient=not sys.stderr.isatty()) as bar:  # fmt: skip
        task = bar.add_task(f"importing {file.name}", total=None, counts="")

        def show(done: Imported) -> None:
            bar.update(task, counts=f"{done.accepted:,} stored, {done.duplicates:,} seen before, "
                       f"{done.rejected:,} refused")  # fmt: skip

        result = import_usage(ctx, system_actor(tenant_id, "cli"), _records(file, kind), show)
    typer.echo(f"{result.records:,} events: {result.accepted:,} stored, {result.duplicates:,} seen before "
               f"(not counted again), {result.rejected:,} refused")  # fmt: skip
    for line, error in result.errors[:20]:
        where = f" [{error.field}]" if error.field else ""
        typer.echo(f"  line {line}: {error.code}: {error.message}{where}", err=True)
    if result.rejected:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except DomainError as error:
        where = f" [{error.field}]" if error.field else ""
        print(f"kassa: {error.code}: {error.message}{where}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


@invoice.command("show")
def invoice_show(
    tenant_id: TenantOption,
    number: Annotated[str, typer.Argument(help="The invoice number (INV-2026-00042) or id (inv_…).")],
    pdf: Annotated[Path | None, typer.Option(help="Also write the invoice's PDF to this file.")] = None,
) -> None:
    """An invoice's lines, taxes and totals; with --pdf the document the customer receives."""
    from kassa.services import invoicing

    _, ctx = _context()
    actor = system_actor(tenant_id, "cli")
    found = invoicing.with_parties(ctx, invoicing.get_invoice(ctx, actor, number))
    buyer = found.parties.get("buyer", {})
    typer.echo(f"{found.number or 'draft ' + found.id}  {found.status.value}  {buyer.get('name', found.customer_id)}  "
               f"bill date {found.bill_date or '-'}  due {found.due_date or '-'}")  # fmt: skip
    for line in found.lines:
        period = f" {line.item.period_start}–{line.item.period_end}" if line.item.period_end else ""
        discount = f"  -{line.discount}" if line.discount.amount else ""
        typer.echo(f"  {line.position:>3}. {line.item.description}{period}: {line.item.amount}{discount}"
                   f"  {line.tax_code} tax {line.tax}")  # fmt: skip
    for row in found.breakdown:
        rate = f"{row.rate.name} {row.rate.percent} %" if row.rate else row.code
        typer.echo(f"  tax {rate}: {row.amount} on {row.taxable}")
    for note in found.notes:
        typer.echo(f"  note: {note}")
    typer.echo(f"  subtotal {found.subtotal}  discount {found.discount}  tax {found.tax}  total {found.total}  "
               f"credit applied {found.credit_applied}  amount due {found.amount_due}")  # fmt: skip
    if pdf is not None:
        pdf.write_bytes(ctx.documents.invoice_pdf(found, locale=buyer.get("locale") or "en"))
        typer.echo(f"  PDF written to {pdf}")


@statement.command("import")
def statement_import(
    tenant_id: TenantOption,
    file: Annotated[
        Path, typer.Argument(help="A CAMT.053, MT940, OFX or CSV statement.", exists=True, dir_okay=False)
    ],
    format: Annotated[str | None, typer.Option(help="camt053, mt940, ofx or csv; default: detected.")] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="csv: a JSON file naming the columns (docs/bank-files.md).")
    ] = None,
) -> None:
    """Import a bank statement and reconcile it: each line applied, queued for review, or ignored."""
    import json

    from kassa.services import reconciliation

    _, ctx = _context()
    actor = system_actor(tenant_id, "cli")
    doc = json.loads(mapping.read_text(encoding="utf-8")) if mapping else None
    found, new = reconciliation.import_statement(ctx, actor, file.read_bytes(), format=format, mapping=doc)
    if not new:
        typer.echo(f"{found.id}: this file was imported before; nothing changed")
        return
    lines = reconciliation.list_lines(
        ctx, actor, statement_id=found.id, status=None, limit=1000, cursor=None
    ).items
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    typer.echo(f"{found.id}: {found.line_count} lines, {found.new_lines} new: "
               + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))  # fmt: skip


@costs.command("import")
def costs_import(
    tenant_id: TenantOption,
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV file: customer,date,kind,amount,currency,minutes,description,id.",
            exists=True,
            dir_okay=False,
        ),
    ],  # fmt: skip
) -> None:
    """Import costs per customer (infrastructure bills, support time): all rows or, when a line is wrong, none;
    a row imported before is skipped (docs/cost-to-serve.md)."""
    from kassa.core.cost_to_serve import CostFileError
    from kassa.services import cost_to_serve

    _, ctx = _context()
    try:
        result = cost_to_serve.import_costs(ctx, system_actor(tenant_id, "cli"), file.read_bytes())
    except CostFileError as error:
        for wrong in error.errors:
            typer.echo(f"{wrong.field}: {wrong.code}: {wrong.message}", err=True)
        raise
    typer.echo(f"{result.rows} rows: {result.added} added, {result.skipped} imported before")


# ---- exchange rates ------------------------------------------------------------------------------------


def _rates_text(file: Path) -> str:
    """The file's text; the ECB publishes its CSV zipped (eurofxref.zip, eurofxref-hist.zip): one CSV inside."""
    import zipfile

    from kassa.services.exchange_rates import MAX_FILE

    data = file.read_bytes()
    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            inside = [i for i in archive.infolist() if i.filename.lower().endswith(".csv")]
            if len(inside) != 1:
                raise DomainError("invalid_rates_file", f"{file.name} should hold one CSV file, not {len(inside)}.",
                                  "FILE")  # fmt: skip
            if inside[0].file_size > MAX_FILE:
                raise DomainError(
                    "file_too_large", f"A rates file is at most {MAX_FILE // 2**20} MB.", "FILE"
                )
            data = archive.read(inside[0])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DomainError(
            "invalid_rates_file", f"{file.name} is not UTF-8 text (byte {error.start}).", "FILE"
        ) from None


@rates.command("import")
def rates_import(
    tenant_id: TenantOption,
    file: Annotated[
        Path,
        typer.Argument(
            help="The ECB's eurofxref(-hist).zip or .csv, or a CSV date,base,currency,rate.",
            exists=True,
            dir_okay=False,
        ),
    ],
    source: Annotated[str | None, typer.Option(help="What to call the file; default its name.")] = None,
) -> None:
    """Import exchange rates for reports: the same file again changes nothing; corrected rates replace the old."""
    from kassa.services import exchange_rates

    text = _rates_text(file)
    _, ctx = _context()
    done = exchange_rates.import_rates(ctx, system_actor(tenant_id, "cli"), text, source or file.name[:100])
    typer.echo(f"{done['rows']:,} rates for {done['days']:,} days ({done['first_day']} to {done['last_day']}), "
               f"{len(done['currencies'])} currencies: {done['inserted']:,} new, {done['updated']:,} corrected, "
               f"{done['unchanged']:,} unchanged")  # fmt: skip
    if done["skipped_currencies"]:
        typer.echo(f"  skipped (no longer ISO 4217 currencies): {', '.join(done['skipped_currencies'])}")


# ---- the books: close and reopen months, exports for accounting ------------------------------------------


@ledger.command("close")
def ledger_close(
    tenant_id: TenantOption, month: Annotated[str, typer.Argument(help="The month to close, YYYY-MM.")]
) -> None:
    """Close a month that has ended, and every open month before it: they take no new postings."""
    from kassa.services import accounting_periods

    _, ctx = _context()
    through, rows = accounting_periods.close_period(ctx, system_actor(tenant_id, "cli"), month)
    closed = ", ".join(f"{p.month:%Y-%m}" for p in rows)
    typer.echo(f"closed {closed}: the books are closed through {through:%Y-%m}")


@ledger.command("reopen")
def ledger_reopen(
    tenant_id: TenantOption,
    month: Annotated[str, typer.Argument(help="The closed month to reopen, YYYY-MM.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")],
) -> None:
    """Reopen a closed month and every closed month after it (audited, with the reason)."""
    from kassa.services import accounting_periods

    _, ctx = _context()
    through, rows = accounting_periods.reopen_period(ctx, system_actor(tenant_id, "cli"), month, reason)
    reopened = ", ".join(f"{p.month:%Y-%m}" for p in rows)
    typer.echo(
        f"reopened {reopened}: " + (f"closed through {through:%Y-%m}" if through else "no month is closed")
    )


@ledger.command("export")
def ledger_export(
    tenant_id: TenantOption,
    kind: Annotated[str, typer.Argument(help="journal, invoices or general-ledger.")],
    start: Annotated[str, typer.Option("--from", help="The first day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="The last day, YYYY-MM-DD (included).")],
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.", dir_okay=False)],
    format: Annotated[str, typer.Option(help="general-ledger: the import format (xero).")] = "xero",
    currency: Annotated[
        str | None, typer.Option(help="general-ledger: one currency (default: the tenant's).")
    ] = None,
    tax_rate: Annotated[
        str | None, typer.Option(help='general-ledger: Xero tax rate name ("Tax Exempt").')
    ] = None,
) -> None:
    """Write the journal, the invoices or the general ledger (Xero manual journals) of a date range as CSV."""
    from kassa.services import exports

    first, last = _day(start, "--from"), _day(end, "--to")
    _, ctx = _context()
    actor = system_actor(tenant_id, "cli")
    if kind == "journal":
        export = exports.journal_entries(ctx, actor, first, last)
    elif kind == "invoices":
        export = exports.invoices(ctx, actor, first, last)
    elif kind == "general-ledger":
        export = exports.general_ledger(
            ctx, actor, first, last, format=format, currency=currency, tax_rate=tax_rate
        )
    else:
        raise DomainError("invalid_export", "Export journal, invoices or general-ledger.", "KIND")
    partial = out.with_name(out.name + ".part")  # a failure half-way leaves no file that looks complete
    lines = 0
    with partial.open("w", encoding="utf-8", newline="") as file:
        for chunk in export.chunks:
            file.write(chunk)
            lines += chunk.count("\r\n")
    partial.replace(out)
    typer.echo(f"{out}: {max(lines - 1, 0):,} rows")
