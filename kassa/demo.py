"""`kassa demo`: a small business on an embedded SQLite database, then the API served on it.

A tenant with its settings, the
example catalog (examples/catalog.yaml and the usage-priced plans of examples/usage-plans.yaml), a few
customers with subscriptions (one a child billed to its parent), usage for the metered ones (API calls,
storage GB-hours, active users) over the days before now, and one customer on a test clock whose
subscription is walked through a trial, a promotion code, an upgrade, a goodwill credit and five months
of renewals, each bill date invoiced by the bill run (VAT, discounts, credit); sample invoice PDFs are
written next to the database.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.services import (
    billable_metrics,
    catalog,
    coupons,
    credits,
    customers,
    health,
    invoicing,
    jobs,
    metering,
    rating,
    subscriptions,
    tenants,
    test_clocks,
    users,
)
from kassa.services.context import ServiceContext

SETTINGS = {
    "legal_name": "Nordlicht Software GmbH",
    "address": {"line1": "Torstraße 1", "city": "Berlin", "postal_code": "10119", "country": "DE"},
    "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}],
    "bank": {
        "iban": "DE89 3704 0044 0532 0130 00",
        "bic": "COBADEFFXXX",
        "account_holder": "Nordlicht Software GmbH",
    },
    "default_currency": "EUR",
    "locale": "de_DE",
    "time_zone": "Europe/Berlin",
    "invoice_numbering": {"prefix": "NL-", "reset": "yearly", "digits": 5},
}

CUSTOMERS: list[dict[str, Any]] = [
    {"external_id": "acme", "name": "ACME Logistics", "legal_name": "ACME Logistics B.V.", "emails": ["billing@acme.example"],
     "address": {"line1": "Keizersgracht 100", "city": "Amsterdam", "postal_code": "1015 AA", "country": "NL"},
     "tax_ids": [{"type": "eu_vat", "value": "NL004495445B01"}], "payment_terms_days": 30,
     "credit_limit": {"amount": "5000.00", "currency": "EUR"}},
    {"external_id": "acme-rotterdam", "name": "ACME Rotterdam depot", "parent": "acme", "bill_to_parent": True,
     "address": {"line1": "Wilhelminakade 1", "city": "Rotterdam", "country": "NL"}},
    {"external_id": "brightline", "name": "Brightline Ltd", "emails": ["accounts@brightline.example"], "currency": "GBP",
     "locale": "en_GB", "time_zone": "Europe/London", "tax_ids": [{"type": "gb_vat", "value": "GB980780684"}],
     "address": {"line1": "1 Finsbury Square", "city": "London", "postal_code": "EC2A 1AE", "country": "GB"}},
    {"external_id": "pixelforge", "name": "Pixelforge Studios GmbH", "emails": ["ap@pixelforge.example"],
     "address": {"line1": "Sendlinger Str. 7", "city": "München", "postal_code": "80331", "country": "DE"}},
    {"external_id": "zurich-labs", "name": "Zürich Labs AG", "currency": "CHF", "locale": "de_CH",
     "time_zone": "Europe/Zurich", "tax_ids": [{"type": "ch_vat", "value": "CHE-107.787.577 MWST"}],
     "address": {"line1": "Bahnhofstrasse 1", "city": "Zürich", "postal_code": "8001", "country": "CH"}},
]  # fmt: skip


CATALOG = Path(__file__).resolve().parents[1] / "examples" / "catalog.yaml"
USAGE_PLANS = CATALOG.with_name("usage-plans.yaml")
METRICS: list[dict[str, Any]] = [
    {"code": "api_calls", "name": "API calls", "aggregation": "sum", "field_name": "calls",
     "description": "Calls reported by the API gateway every hour"},
    {"code": "storage_gb", "name": "Storage", "aggregation": "weighted_sum", "field_name": "gb",
     "description": "GB stored, held until the next reading: billed in GB-hours"},
    {"code": "active_users", "name": "Active users", "aggregation": "unique_count", "field_name": "user"},
]  # fmt: skip
# (customer, calls per day, GB stored at the start, users): metered customers and how busy they are
METERED = [("pixelforge", 9_000, 120, 14), ("brightline", 2_500, 40, 6)]

# (customer, plan, quantity, add-ons, start, anchor)
SUBSCRIPTIONS: list[tuple[str, str, int, dict[str, int], str, dict[str, Any]]] = [
    ("acme", "team-monthly", 12, {"storage-100gb-monthly": 2}, "2026-09-01", {"type": "anniversary"}),
    ("acme-rotterdam", "starter-monthly", 3, {}, "2026-10-15", {"type": "account"}),
    ("brightline", "business-annual", 20, {}, "2026-03-01", {"type": "anniversary"}),
    ("zurich-labs", "professional-contract", 40, {"after-hours-contract": 40}, "2026-06-10", {"type": "day_of_month", "day": 1}),
]  # fmt: skip


def _catalog(ctx: ServiceContext, actor: Any, say: Callable[[str], None]) -> None:
    import yaml

    for spec in METRICS:
        billable_metrics.create_metric(ctx, actor, spec)
    say("billable metrics: " + ", ".join(f"{m['code']} ({m['aggregation']})" for m in METRICS))
    document = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    document["products"] += yaml.safe_load(USAGE_PLANS.read_text(encoding="utf-8"))["products"]
    applied = catalog.apply_catalog(ctx, actor, document, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    plans = ", ".join(applied.version.catalog.plans)
    say(f"catalog version {applied.number} from {CATALOG.name}: {plans}")


def build(ctx: ServiceContext, say: Callable[[str], None]) -> str:
    """Create the demo business; returns the API key."""
    schema = health.upgrade_database(ctx)
    say(f"database ready at schema {schema}: {ctx.settings.database_url}")
    tenant, key = tenants.create_tenant(ctx, "Nordlicht Software", SETTINGS)
    say(f"tenant {tenant.id} '{tenant.name}' (EUR, de_DE, Europe/Berlin, VAT DE136695976)")
    actor = system_actor(tenant.id, "demo")
    admin = users.create_user(
        ctx, actor, email="finance@nordlicht.example", name="Frieda Finanz", role_name="finance"
    )
    say(f"staff user {admin.id} {admin.email} ({admin.role.value})")
    _catalog(ctx, actor, say)
    ids: dict[str, str] = {}
    for spec in CUSTOMERS:
        fields = {k: v for k, v in spec.items() if k != "parent"}
        if "parent" in spec:
            fields["parent_id"] = ids[str(spec["parent"])]
        customer = customers.create_customer(ctx, actor, fields)
        ids[customer.external_id] = customer.id
        parent = f", billed to {spec['parent']}" if "parent" in spec else ""
        say(
            f"customer {customer.id} {customer.name} ({customer.currency}, {customer.address.country if customer.address else '-'}{parent})"
        )
    for external_id, plan, quantity, addons, start, anchor in SUBSCRIPTIONS:
        sub = subscriptions.create_subscription(ctx, actor, {
            "customer_id": ids[external_id], "plan": plan, "quantity": quantity, "addons": addons,
            "start_date": start, "billing_anchor": anchor,
        })  # fmt: skip
        say(f"subscription {sub.id} {external_id}: {plan} ×{quantity} from {start} ({sub.status.value})")
    _usage(ctx, actor, ids, say)
    clock = test_clocks.create_test_clock(
        ctx, actor, name="demo clock", frozen_time=datetime(2026, 1, 1, 9, tzinfo=UTC)
    )
    sim = customers.create_customer(ctx, actor, {
        "external_id": "sim-1", "name": "Simulated GmbH", "test_clock_id": clock.id, "emails": ["ap@simulated.example"],
        "address": {"line1": "Marienplatz 8", "city": "München", "postal_code": "80331", "country": "DE"},
        "time_zone": "Europe/Berlin", "locale": "de_DE",
    })  # fmt: skip
    say(f"test clock {clock.id} at {clock.frozen_time.isoformat()} with customer {sim.id}")
    _simulate(ctx, actor, clock.id, sim.id, say)
    _bill(ctx, actor, say)
    return key


def _usage(ctx: ServiceContext, actor: Any, ids: dict[str, str], say: Callable[[str], None]) -> None:
    """The metered customers subscribe on the first of this month and use the service up to now: the API
    gateway reports calls every hour, storage is read each morning, users are active each day."""
    now = ctx.clock.now()
    first = now.date().replace(day=1)
    rng = random.Random(5)  # the same usage on every run
    for external_id, calls, gb, users_count in METERED:
        sub = subscriptions.create_subscription(ctx, actor, {
            "customer_id": ids[external_id], "plan": "api-growth-monthly", "start_date": first.isoformat(),
        })  # fmt: skip
        events: list[dict[str, Any]] = []
        day = datetime.combine(first, time(), tzinfo=UTC)
        while day + timedelta(hours=6) < now:
            events.append({"id": f"{external_id}-storage-{day:%Y%m%d}", "metric": "storage_gb",
                           "subscription_id": sub.id, "timestamp": (day + timedelta(hours=6)).isoformat(),
                           "properties": {"gb": str(gb + (day - datetime.combine(first, time(), tzinfo=UTC)).days)}})  # fmt: skip
            for n in range(rng.randint(users_count // 2, users_count)):
                events.append({"id": f"{external_id}-user-{day:%Y%m%d}-{n}", "metric": "active_users",
                               "subscription_id": sub.id, "timestamp": (day + timedelta(hours=9)).isoformat(),
                               "properties": {"user": f"u{rng.randint(1, users_count)}"}})  # fmt: skip
            for hour in range(24):
                at = day + timedelta(hours=hour, minutes=59)
                if at >= now:
                    break
                events.append({"id": f"{external_id}-calls-{at:%Y%m%d%H}", "metric": "api_calls",
                               "subscription_id": sub.id, "timestamp": at.isoformat(),
                               "properties": {"calls": rng.randint(calls // 48, calls // 16)}})  # fmt: skip
            day += timedelta(days=1)
        sent = metering.ingest_usage(ctx, actor, events[:10_000])
        for start in range(10_000, len(events), 10_000):
            metering.ingest_usage(ctx, actor, events[start : start + 10_000])
        say(f"subscription {sub.id} {external_id}: api-growth-monthly from {first} with {len(events):,} usage "
            f"events ({len(sent.errors)} refused)")  # fmt: skip
        for usage in rating.current_usage(ctx, actor, ids[external_id], sub.id):
            parts = ", ".join(f"{c.line.metric} {c.line.rated.quantity:,.0f} → {c.line.amount}"
                              for c in usage.lines)  # fmt: skip
            say(f"  current usage {usage.period.start}–{usage.period.end}: {parts}; "
                f"so far {usage.charged}, forecast {usage.forecast}")  # fmt: skip


def _simulate(
    ctx: ServiceContext, actor: Any, clock_id: str, customer_id: str, say: Callable[[str], None]
) -> None:
    """A trial that converts, an upgrade in the middle of a period, months of renewals."""
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": customer_id, "plan": "team-monthly", "quantity": 5}
    )
    say(f"  {sub.id} team-monthly ×5: {sub.status.value} (14-day trial, then 3 discounted months)")
    coupons.create_coupon(ctx, actor, {"code": "WELCOME10", "name": "Welcome, 10 % off for 3 invoices",
                                       "type": "percent", "percent_off": "10", "duration": "repeating",
                                       "duration_periods": 3})  # fmt: skip
    coupons.create_promotion_code(ctx, actor, {"code": "HELLO-NORDLICHT", "coupon_id": "WELCOME10"})
    coupons.redeem_coupon(ctx, actor, customer_id, {"promotion_code": "hello-nordlicht"})
    say("  promotion code hello-nordlicht redeemed: WELCOME10, 10 % off the next 3 invoices")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 2, 20, 9, tzinfo=UTC))
    preview = subscriptions.preview_change(
        ctx, actor, sub.id, {"plan": "business-monthly", "quantity": 8}, at=None
    )
    say(f"  2026-02-20 advice of charge for business-monthly ×8: net {preview.net} {preview.currency}")
    sub = subscriptions.change_subscription(ctx, actor, sub.id, {"plan": "business-monthly", "quantity": 8})
    say(f"  2026-02-20 upgraded: {sub.terms.plan} ×{sub.terms.quantity} ({sub.status.value})")
    credits.grant_credit(
        ctx, actor, customer_id, {"amount": "50.00", "description": "Goodwill for an outage"}
    )
    say("  2026-02-20 goodwill credit 50.00 EUR granted")
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 6, 1, 9, tzinfo=UTC))
    _, _, _, charges = subscriptions.get_schedule(ctx, actor, sub.id, start=None, end=date(2026, 6, 2))
    total = sum((c.line.amount.amount for c in charges), start=0)
    say(
        f"  2026-06-01: {len(charges)} charges so far, {total} {sub.currency} in all; the monthly bill runs invoiced:"
    )
    page = invoicing.list_invoices(ctx, actor, limit=100, cursor=None, customer_id=customer_id)
    for inv in sorted(page.items, key=lambda i: i.created_at):
        say(
            f"    {inv.number or 'draft'} {inv.bill_date} {inv.status.value}: net {inv.subtotal - inv.discount}, "
            f"VAT {inv.tax}, total {inv.total}, credit applied {inv.credit_applied}, due {inv.amount_due}"
        )
    for note in invoicing.list_credit_notes(
        ctx, actor, limit=100, cursor=None, customer_id=customer_id
    ).items:
        say(f"    {note.number} against {note.invoice_number} ({note.reason.value}): total {note.total}, "
            f"{note.to_invoice} off what is due")  # fmt: skip


def _bill(ctx: ServiceContext, actor: Any, say: Callable[[str], None]) -> None:
    """The bill runs due on the system clock (subscriptions that began before today), as the worker does."""
    while jobs.run_due_jobs(ctx):
        pass
    page = invoicing.list_invoices(ctx, actor, limit=100, cursor=None)
    say(f"bill runs up to today: {len(page.items)} invoices (drafts finalize after the 1 h grace period)")


def write_pdfs(ctx: ServiceContext, actor: Any, directory: Path, say: Callable[[str], None]) -> None:
    """Sample invoices as PDF, for a look at the presentment."""
    folder = directory / "invoices"
    folder.mkdir(exist_ok=True)
    page = invoicing.list_invoices(ctx, actor, limit=100, cursor=None)
    finalized = [i for i in page.items if i.number][:6] or page.items[:3]
    for inv in finalized:
        full = invoicing.with_parties(ctx, inv)
        path = folder / f"{inv.number or inv.id}.pdf"
        path.write_bytes(
            ctx.documents.invoice_pdf(full, locale=full.parties.get("buyer", {}).get("locale") or "en")
        )
    say(f"sample invoice PDFs: {folder} ({len(finalized)} files)")


def run(*, directory: Path, host: str, port: int, serve: bool) -> None:
    from kassa.server import serve as serve_app

    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "kassa.db"
    for leftover in directory.glob("kassa.db*"):
        leftover.unlink()  # a fresh business every run
    settings = config.load(database_url=f"sqlite:///{database}", host=host, port=port)
    bootstrap.setup_logging(settings)
    ctx = bootstrap.build_context(settings)
    key = build(ctx, print)
    with ctx.uow(read_only=True) as uow:
        tenant_id = uow.tenants.list_all()[-1].id
    write_pdfs(ctx, system_actor(tenant_id, "demo"), directory, print)
    base = f"http://{host}:{port}"
    print(f"\nAPI key (shown once): {key}")
    print(f"try:  curl -H 'Authorization: Bearer {key}' {base}/v1/customers")
    print(f"docs: {base}/docs   metrics: {base}/metrics   health: {base}/readyz")
    if serve:
        print(f"serving on {base} until Ctrl-C")
        serve_app(ctx, host=host, port=port)
