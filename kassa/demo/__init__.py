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
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from kassa import bootstrap, config
from kassa.core.audit import system_actor
from kassa.core.customers import CustomerFilter
from kassa.demo import lifecycle
from kassa.services import (
    billable_metrics,
    catalog,
    coupons,
    credits,
    customers,
    dunning,
    health,
    invoicing,
    jobs,
    metering,
    payments,
    portal,
    rating,
    reconciliation,
    recurring_revenue,
    revenue,
    revenue_reports,
    sepa,
    staff_auth,
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
    "sepa_creditor_id": "DE98ZZZ09999999999",
    "late_fee": {"fixed": "5.00", "grace_days": 7},
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


CATALOG = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
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
    payments.add_payment_method(ctx, actor, sim.id, {"type": "card", "token": "tok_sandbox_success", "brand": "visa",
                                                     "last4": "4242", "exp_month": 12, "exp_year": 2029})  # fmt: skip
    say(f"test clock {clock.id} at {clock.frozen_time.isoformat()} with customer {sim.id} (pays by card)")
    _simulate(ctx, actor, clock.id, sim.id, say)
    _collections(ctx, actor, say)
    _bill(ctx, actor, say)
    _books(ctx, actor, say)
    lifecycle.run(ctx, actor, sim.id, say)
    return key


def _books(ctx: ServiceContext, actor: Any, say: Callable[[str], None]) -> None:
    """The numbers of the simulated half year: recognized day by day, folded into the revenue report."""
    revenue.recognize_now(ctx, actor, None)
    report = revenue_reports.revenue_report(ctx, actor, "2026-01", "2026-06")
    books = ("bookings", "billings", "recognized", "deferred_revenue", "unbilled_backlog", "rpo")
    say(f"books, {report.currency}, month: {' / '.join(k.replace('_', ' ') for k in books)}")
    for row in report.rows:
        say(f"  {row['month']}: " + " / ".join(str(row[k]) for k in books))
    mrr = recurring_revenue.mrr_report(ctx, actor, "2026-01", "2026-06")
    say(f"MRR, {mrr.currency}, month: MRR / net new MRR / customers / logo churn %")
    for row in mrr.rows:
        churn = "-" if row["logo_churn_pct"] is None else row["logo_churn_pct"]  # no customers at the start
        say(f"  {row['month']}: {row['mrr']} / {row['net_new_mrr']} / {row['customers']} / {churn}")


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
            for n in (
                range(rng.randint(users_count // 2, users_count)) if day + timedelta(hours=9) < now else ()
            ):
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


# (name, how it pays): cards are the sandbox's test cards; the rest pay by transfer or direct debit
PAYERS: list[tuple[str, dict[str, Any]]] = [
    ("Alba Apps", {"type": "card", "token": "tok_sandbox_success", "brand": "visa", "last4": "4242"}),
    ("Birke Bau", {"type": "card", "token": "tok_sandbox_success", "brand": "mastercard", "last4": "4444"}),
    ("Cobalt Care", {"type": "provider_account", "token": "tok_sandbox_paypal", "provider": "paypal"}),
    ("Delta Drones", {"type": "card", "token": "tok_sandbox_insufficient_then_success_3", "last4": "9995"}),
    ("Eiche Events", {"type": "card", "token": "tok_sandbox_decline", "last4": "0002"}),
    ("Fjord Foods", {"type": "card", "token": "tok_sandbox_authentication_required", "last4": "3184"}),
    ("Gipfel Games", {"type": "sepa_debit", "iban": "DE02120300000000202051", "mandate_id": "NL-M-0007",
                      "mandate_signed_on": "2026-02-20"}),
    ("Hafen Hotels", {"type": "bank_transfer"}),
    ("Insel Immobilien", {"type": "bank_transfer"}),
    ("Jade Juwelen", {"type": "card", "token": "tok_sandbox_stolen_card", "last4": "9979"}),
]  # fmt: skip


def _collections(ctx: ServiceContext, actor: Any, say: Callable[[str], None]) -> None:
    """Ten customers on a test clock paying four months of invoices: cards (some declined, one needing 3-D
    Secure), a PayPal provider account, a direct debit collected by file, two paying by transfer; dunning on the failures;
    then the bank statement of those months imported and reconciled."""
    clock = test_clocks.create_test_clock(ctx, actor, name="collections clock",
                                          frozen_time=datetime(2026, 3, 1, 7, tzinfo=UTC))  # fmt: skip
    policy = {"name": "Nordlicht", "retries": {"default": {"days": [1, 3, 5, 7]}, "insufficient_funds": {"days": [2, 4, 6]},
                                               "stolen_card": {"never": True}},
              "steps": [{"day": 3, "action": "reminder"}, {"day": 10, "action": "suspension_notice"},
                        {"day": 14, "action": "past_due"}, {"day": 30, "action": "cancel"},
                        {"day": 45, "action": "write_off"}]}  # fmt: skip
    dunning.put_policy(ctx, actor, "nordlicht", policy)
    say(f"collections: test clock {clock.id} from 2026-03-01; sandbox gateway; dunning policy 'nordlicht' "
        "(retries on days 1, 3, 5, 7; reminder, suspension notice, past due, cancel at 30 days, write-off at 45)")  # fmt: skip
    ids: dict[str, str] = {}
    for i, (name, method) in enumerate(PAYERS):
        customer = customers.create_customer(ctx, actor, {
            "external_id": f"pay-{i + 1:02d}", "name": name, "test_clock_id": clock.id,
            "emails": [f"ap@{name.split()[0].lower()}.example"], "time_zone": "Europe/Berlin",
            "payment_terms_days": 0 if method["type"] != "bank_transfer" else 14,
            "address": {"line1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
        })  # fmt: skip
        ids[name] = customer.id
        payments.add_payment_method(ctx, actor, customer.id, dict(method))
        subscriptions.create_subscription(ctx, actor, {"customer_id": customer.id, "plan": "starter-monthly",
                                                       "quantity": 2 + i, "trial_days": 0})  # fmt: skip
    for day in ("2026-03-01T09:00:00", "2026-03-02T09:00:00", "2026-04-01T09:00:00", "2026-05-01T09:00:00"):
        test_clocks.advance_test_clock(ctx, actor, clock.id, datetime.fromisoformat(day).replace(tzinfo=UTC))
        for p in payments.list_payments(ctx, actor, customer_id=ids["Fjord Foods"], status="requires_action",
                                        limit=10, cursor=None).items:  # fmt: skip
            payments.confirm_payment(
                ctx, actor, p.id
            )  # the customer completed 3-D Secure from the email link
    message_id, content, count = sepa.export_batch(ctx, actor, {"collection_date": "2026-05-06"})
    say(f"  SEPA batch {message_id}: {count} direct debits as pain.008 ({len(content)} bytes) for the bank")
    test_clocks.advance_test_clock(ctx, actor, clock.id, datetime(2026, 6, 20, 9, tzinfo=UTC))
    statement = _statement(ctx, actor, ids, message_id)
    imported, _ = reconciliation.import_statement(ctx, actor, statement, format="camt053")
    lines = reconciliation.list_lines(
        ctx, actor, statement_id=imported.id, status=None, limit=100, cursor=None
    ).items
    by_status: dict[str, int] = {}
    for line in lines:
        by_status[line.status] = by_status.get(line.status, 0) + 1
    say(f"  bank statement {imported.id}: {imported.line_count} lines, " +
        ", ".join(f"{n} {status}" for status, n in sorted(by_status.items())))  # fmt: skip
    again, new = reconciliation.import_statement(ctx, actor, statement, format="camt053")
    say(f"  the same file again: {'imported' if new else 'recognized, nothing changed'}")
    found = payments.list_payments(ctx, actor, customer_id=None, status=None, limit=100, cursor=None).items
    mine = [p for p in found if p.customer_id in ids.values()]
    declined = [p for p in mine if p.status.value == "failed"]
    say(f"  {len(mine)} payments: {sum(p.status.value == 'succeeded' for p in mine)} succeeded, "
        f"{len(declined)} declined (" + ", ".join(sorted({p.decline_code.value for p in declined if p.decline_code}))
        + ")")  # fmt: skip
    report = dunning.recovery(ctx, actor)
    say(f"  dunning: {report.invoices_in_dunning} invoices entered dunning, {report.invoices_recovered} recovered "
        f"by a retry")  # fmt: skip
    aging = reconciliation.receivables_aging(ctx, actor, date(2026, 6, 20))
    for row in aging["totals"]:
        say(f"  receivables aging on 2026-06-20 ({row['currency']}): current {row['current']}, 1-30 {row['1_30']}, "
            f"31-60 {row['31_60']}, 61-90 {row['61_90']}, 90+ {row['over_90']}")  # fmt: skip


def _statement(ctx: ServiceContext, actor: Any, ids: dict[str, str], message_id: str) -> bytes:
    """The tenant's bank statement for March to June as CAMT.053: transfers for the invoices of the customers
    paying by hand (one without a reference, one paying two invoices at once), the direct-debit batch,
    money nobody can place, and the rent going out."""
    entries: list[tuple[str, str, str, str, str]] = []  # date, signed amount, reference, name, IBAN
    for name, iban in (
        ("Hafen Hotels", "DE75512108001245126199"),
        ("Insel Immobilien", "NL91ABNA0417164300"),
    ):
        invoices = sorted(invoicing.list_invoices(ctx, actor, limit=100, cursor=None, customer_id=ids[name]).items,
                          key=lambda i: i.number or "")  # fmt: skip
        open_ = [i for i in invoices if i.number and i.amount_remaining.amount > 0]
        if name == "Hafen Hotels":  # pays each invoice, naming it
            for inv in open_:
                assert inv.due_date is not None
                entries.append((inv.due_date.isoformat(), inv.amount_remaining.amount_text(),
                                f"Rechnung {inv.number}", "Hafen Hotels GmbH", iban))  # fmt: skip
        else:  # one transfer for the first two, no reference at all for the third
            both = sum((i.amount_remaining for i in open_[1:2]), open_[0].amount_remaining)
            entries.append(("2026-04-20", both.amount_text(), " ".join(i.number or "" for i in open_[:2]),
                            "Insel Immobilien AG", iban))  # fmt: skip
            if len(open_) > 2:
                entries.append(("2026-05-25", open_[2].amount_remaining.amount_text(), "Miete Mai?",
                                "Insel Immobilien AG", iban))  # fmt: skip
    pending = [p for p in payments.list_payments(ctx, actor, customer_id=ids["Gipfel Games"], status="pending",
                                                 limit=10, cursor=None).items]  # fmt: skip
    total = sum((p.amount for p in pending[1:]), pending[0].amount) if pending else None
    if total is not None:
        entries.append(
            ("2026-05-06", total.amount_text(), f"SEPA-LASTSCHRIFT {message_id}", "Nordlicht Software", "")
        )
    entries.append(("2026-05-12", "250.00", "Danke!", "Unbekannt", "FR7630006000011234567890189"))
    entries.append(
        (
            "2026-06-01",
            "-2400.00",
            "Miete Juni Torstraße",
            "Torstraße Immobilien KG",
            "DE44500105175407324931",
        )
    )
    return _camt053(entries)


def _camt053(entries: list[tuple[str, str, str, str, str]]) -> bytes:
    from xml.sax.saxutils import escape

    rows = []
    for n, (day, amount, reference, name, iban) in enumerate(entries, 1):
        credit = not amount.startswith("-")
        party = "Dbtr" if credit else "Cdtr"
        account = f"<{party}Acct><Id><IBAN>{iban}</IBAN></Id></{party}Acct>" if iban else ""
        rows.append(
            f"<Ntry><Amt Ccy=\"EUR\">{amount.lstrip('-')}</Amt><CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            f"<AcctSvcrRef>NLDEMO{n:05d}</AcctSvcrRef><BkTxCd/><NtryDtls><TxDtls><RltdPties><{party}><Nm>{escape(name)}"
            f"</Nm></{party}>{account}</RltdPties><RmtInf><Ustrd>{escape(reference)}</Ustrd></RmtInf></TxDtls>"
            f"</NtryDtls></Ntry>"
        )  # fmt: skip
    body = "".join(rows)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        "<BkToCstmrStmt><GrpHdr><MsgId>NLDEMO-2026-06</MsgId><CreDtTm>2026-06-20T08:00:00</CreDtTm></GrpHdr>"
        "<Stmt><Id>NLDEMO-2026-06</Id><CreDtTm>2026-06-20T08:00:00</CreDtTm><Acct><Id><IBAN>DE89370400440532013000"
        "</IBAN></Id><Ccy>EUR</Ccy></Acct>" + body + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()


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
    finalized = (
        sorted((i for i in page.items if i.number), key=lambda i: i.number or "")[:6] or page.items[:3]
    )
    for inv in finalized:
        full = invoicing.with_parties(ctx, inv)
        path = folder / f"{inv.number or inv.id}.pdf"
        path.write_bytes(
            ctx.documents.invoice_pdf(full, locale=full.parties.get("buyer", {}).get("locale") or "en")
        )
    say(f"sample invoice PDFs: {folder} ({len(finalized)} files)")


def console_and_portal(ctx: ServiceContext, actor: Any) -> tuple[str, str, str]:
    """An admin for the console with a fresh random password (set through an invitation, as a real user's
    is), and a magic link to the portal of the test-clock customer: (email, password, portal URL)."""
    admin = users.create_user(
        ctx, actor, email="admin@nordlicht.example", name="Ada Admin", role_name="admin"
    )
    _, token = staff_auth.invite(ctx, actor, admin.id)
    password = secrets.token_urlsafe(12)
    staff_auth.accept_invitation(ctx, token, password)
    [sim] = customers.list_customers(ctx, actor, CustomerFilter(external_id="sim-1")).items
    return admin.email, password, portal.create_link(ctx, actor, sim.id).url


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
    email, password, portal_url = console_and_portal(ctx, system_actor(tenant_id, "demo"))
    print(f"\nconsole: {base}/console/login?tenant={tenant_id}")
    print(f"  log in as {email} with the password {password} (admin; shown once)")
    print(f"portal of Simulated GmbH (German, valid 72 h): {portal_url}")
    print(f"API key (shown once): {key}")
    print(f"try:  curl -H 'Authorization: Bearer {key}' {base}/v1/customers")
    print(f"docs: {base}/docs   metrics: {base}/metrics   health: {base}/readyz")
    if serve:
        print(f"serving on {base} until Ctrl-C")
        serve_app(ctx, host=host, port=port)
