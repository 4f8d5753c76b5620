"""The schema. `tenant_id` leads every primary key and index (tenants are walls; the schema can be sharded
by tenant). Amounts of record are BIGINT minor units beside a currency column; no float column anywhere.

One metadata, in modules by area: accounts and platform here, billing and collections beside it."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID as ID
from kassa.store.tables.base import metadata as metadata
from kassa.store.tables.base import tenant_column
from kassa.store.types import ExactDecimal, JSONDoc, UTCDateTime

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("settings", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    # The public part of the key, for lookup and display; the secret part is kept only as a SHA-256 hash.
    sa.Column("prefix", sa.String(40), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("last_used_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

users = sa.Table(
    "users",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deactivated_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "email"),
)

test_clocks = sa.Table(
    "test_clocks",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("frozen_time", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("target_time", UTCDateTime),
    sa.Column("started_time", UTCDateTime),  # frozen_time when the running advance began, for progress
    sa.Column("jobs_run", sa.BigInteger, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("lease_until", UTCDateTime),  # who advances it: one runner at a time, taken over if it dies
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

customers = sa.Table(
    "customers",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("legal_name", sa.String(200)),
    sa.Column("emails", JSONDoc, nullable=False),
    sa.Column("address", JSONDoc),
    sa.Column("country", sa.String(2)),  # from the address, for filtering
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("locale", sa.String(20), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("tax_ids", JSONDoc, nullable=False),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("parent_id", ID),
    sa.Column("bill_to_parent", sa.Boolean, nullable=False),
    sa.Column("tax_exempt", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("credit_limit_minor", sa.BigInteger),  # in the customer's currency
    sa.Column("bill_cycle_day", sa.SmallInteger),  # where "account"-anchored subscriptions renew together
    sa.Column("metadata", JSONDoc, nullable=False),
    sa.Column("test_clock_id", ID),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("archived_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "external_id"),
    sa.ForeignKeyConstraint(["tenant_id", "parent_id"], ["customers.tenant_id", "customers.id"]),
    sa.ForeignKeyConstraint(["tenant_id", "test_clock_id"], ["test_clocks.tenant_id", "test_clocks.id"]),
    sa.Index(None, "tenant_id", "parent_id"),
    sa.Index(None, "tenant_id", "test_clock_id"),
)

# Due work registered by the stages (billing, retries, notifications…): run by the worker on the system
# clock, or by a test clock's advance when the customer is attached to one.
jobs = sa.Table(
    "jobs",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("test_clock_id", ID),
    sa.Column("customer_id", ID),
    sa.Column("dedupe_key", sa.String(200), nullable=False),  # registering the same work twice is one job
    sa.Column("payload", JSONDoc, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("claimed_until", UTCDateTime),  # a worker's lease on a system-clock job; lapses if it dies
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "kind", "dedupe_key"),
    sa.ForeignKeyConstraint(["tenant_id", "test_clock_id"], ["test_clocks.tenant_id", "test_clocks.id"]),
    sa.Index(None, "status", "test_clock_id", "due_at"),  # the worker, across tenants
    sa.Index(None, "tenant_id", "test_clock_id", "status", "due_at"),  # a clock's next tick
)

events = sa.Table(
    "events",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("object_type", sa.String(40), nullable=False),
    sa.Column("object_id", ID, nullable=False),
    sa.Column("customer_id", ID),
    sa.Column("data", JSONDoc, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "customer_id", "id"),
    sa.Index(None, "tenant_id", "type", "id"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor_type", sa.String(20), nullable=False),
    sa.Column("actor_id", ID, nullable=False),
    sa.Column("action", sa.String(80), nullable=False),
    sa.Column("object_type", sa.String(40), nullable=False),
    sa.Column("object_id", ID, nullable=False),
    sa.Column("changes", JSONDoc, nullable=False),
    sa.Column("request_id", sa.String(64)),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "object_type", "object_id"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.String(500)),
    sa.Column("enabled_events", JSONDoc, nullable=False),
    sa.Column("secret", sa.String(100), nullable=False),  # needed in clear to sign; never listed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("failing_since", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("endpoint_id", ID, nullable=False),
    sa.Column("event_id", ID, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_attempt_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "endpoint_id", "event_id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"]
    ),
    sa.ForeignKeyConstraint(["tenant_id", "event_id"], ["events.tenant_id", "events.id"]),
    sa.Index(None, "status", "next_attempt_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("delivery_id", ID, nullable=False),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("response_excerpt", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "delivery_id"], ["webhook_deliveries.tenant_id", "webhook_deliveries.id"]
    ),
    sa.Index(None, "tenant_id", "delivery_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    tenant_column(),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # in_progress | done
    sa.Column("response_status", sa.Integer),
    sa.Column("response_body", sa.LargeBinary),
    sa.Column("response_type", sa.String(100)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "key"),
    sa.Index(None, "expires_at"),
)


# Each applied catalog document, whole and immutable; a subscription is priced by the version in effect.
catalog_versions = sa.Table(
    "catalog_versions",
    metadata,
    tenant_column(),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("effective_at", UTCDateTime, nullable=False),
    sa.Column("document", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "number"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # the terms in effect now, kept current by the transition jobs (for listing and filtering)
    sa.Column("plan", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("addons", JSONDoc, nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("anchor_type", sa.String(20), nullable=False),
    sa.Column("anchor_day", sa.SmallInteger),
    sa.Column("trial_days", sa.Integer),
    sa.Column("metadata", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("canceled_at", UTCDateTime),
    sa.Column("ended_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "status"),
)

# The start and every change of a subscription, with the local day each takes effect: the schedule is
# computed from these, so a pending change is simply one whose day has not come.
subscription_changes = sa.Table(
    "subscription_changes",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("prorate", sa.Boolean, nullable=False),
    sa.Column("terms", JSONDoc),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "subscription_id"], ["subscriptions.tenant_id", "subscriptions.id"]
    ),
    sa.Index(None, "tenant_id", "subscription_id"),
)


billable_metrics = sa.Table(
    "billable_metrics",
    metadata,
    tenant_column(),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("aggregation", sa.String(20), nullable=False),
    sa.Column("field_name", sa.String(64)),
    sa.Column("filters", JSONDoc, nullable=False),
    sa.Column("group_by", sa.String(64)),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "code"),
)

# What customers consumed. The client's id is the idempotency key: (tenant_id, id) is the primary key,
# so a repeated event is acknowledged and never counted twice. The metric's measure is computed on arrival
# (value, unique_key, group_key, counted) so aggregation reads plain columns, not JSON.
usage_events = sa.Table(
    "usage_events",
    metadata,
    # no foreign key to tenants: the check per row is a quarter of a bulk insert's cost, and every row is
    # written by a use case that has just authenticated its tenant
    sa.Column("tenant_id", ID, nullable=False),
    sa.Column("id", sa.String(128), nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("timestamp", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("value", ExactDecimal),
    sa.Column("unique_key", sa.String(200)),
    sa.Column("group_key", sa.String(200), nullable=False),
    sa.Column("counted", sa.Boolean, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),  # arrived after its period closed: billed in a later one
    sa.Column("properties", JSONDoc, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "subscription_id", "metric", "timestamp"),
)

# In-advance usage: each such event rated when it arrived, waiting for an invoice.
usage_charges = sa.Table(
    "usage_charges",
    metadata,
    tenant_column(),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("group_key", sa.String(200), nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("units", ExactDecimal, nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("billing", sa.String(20), nullable=False),  # immediate | next_invoice
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("invoiced_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "event_id"),
    sa.Index(None, "tenant_id", "subscription_id", "invoiced_at"),
)

usage_thresholds = sa.Table(
    "usage_thresholds",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("value", ExactDecimal, nullable=False),
    sa.Column("metric", sa.String(64)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "subscription_id"], ["subscriptions.tenant_id", "subscriptions.id"]
    ),
    sa.Index(None, "tenant_id", "subscription_id"),
)

# A threshold fires once per period: the primary key is the guard.
usage_threshold_crossings = sa.Table(
    "usage_threshold_crossings",
    metadata,
    tenant_column(),
    sa.Column("threshold_id", ID, nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("reached_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "threshold_id", "period_start"),
)


# the other areas' tables, so `from kassa.store.tables import invoices` keeps working (and registers them)
from kassa.store.tables.billing import (
    coupon_redemptions as coupon_redemptions,
)
from kassa.store.tables.billing import (
    coupons as coupons,
)
from kassa.store.tables.billing import (
    credit_balance_transactions as credit_balance_transactions,
)
from kassa.store.tables.billing import (
    credit_note_lines as credit_note_lines,
)
from kassa.store.tables.billing import (
    credit_notes as credit_notes,
)
from kassa.store.tables.billing import (
    invoice_lines as invoice_lines,
)
from kassa.store.tables.billing import (
    invoices as invoices,
)
from kassa.store.tables.billing import (
    journal_entries as journal_entries,
)
from kassa.store.tables.billing import (
    journal_postings as journal_postings,
)
from kassa.store.tables.billing import (
    ledger_charts as ledger_charts,
)
from kassa.store.tables.billing import (
    number_sequences as number_sequences,
)
from kassa.store.tables.billing import (
    one_off_charges as one_off_charges,
)
from kassa.store.tables.billing import (
    promotion_codes as promotion_codes,
)
from kassa.store.tables.books import (
    accounting_periods as accounting_periods,
)
from kassa.store.tables.books import (
    bookings as bookings,
)
from kassa.store.tables.books import (
    contract_charges as contract_charges,
)
from kassa.store.tables.books import (
    cost_entries as cost_entries,
)
from kassa.store.tables.books import (
    exchange_rates as exchange_rates,
)
from kassa.store.tables.books import (
    revenue_schedules as revenue_schedules,
)
from kassa.store.tables.collections import (
    bank_statements as bank_statements,
)
from kassa.store.tables.collections import (
    chargebacks as chargebacks,
)
from kassa.store.tables.collections import (
    dunning_policies as dunning_policies,
)
from kassa.store.tables.collections import (
    gateway_events as gateway_events,
)
from kassa.store.tables.collections import (
    payment_allocations as payment_allocations,
)
from kassa.store.tables.collections import (
    payment_methods as payment_methods,
)
from kassa.store.tables.collections import (
    payments as payments,
)
from kassa.store.tables.collections import (
    payouts as payouts,
)
from kassa.store.tables.collections import (
    refunds as refunds,
)
from kassa.store.tables.collections import (
    statement_lines as statement_lines,
)
from kassa.store.tables.customer_notes import (
    customer_notes as customer_notes,
)
from kassa.store.tables.lifecycle import (
    disputes as disputes,
)
from kassa.store.tables.lifecycle import (
    entitlement_overrides as entitlement_overrides,
)
from kassa.store.tables.lifecycle import (
    leads as leads,
)
from kassa.store.tables.lifecycle import (
    message_preferences as message_preferences,
)
from kassa.store.tables.lifecycle import (
    message_templates as message_templates,
)
from kassa.store.tables.lifecycle import (
    messages as messages,
)
from kassa.store.tables.lifecycle import (
    offers as offers,
)
from kassa.store.tables.lifecycle import (
    provisioning_steps as provisioning_steps,
)
from kassa.store.tables.lifecycle import (
    wallet_lots as wallet_lots,
)
from kassa.store.tables.lifecycle import (
    wallet_transactions as wallet_transactions,
)
from kassa.store.tables.lifecycle import (
    wallets as wallets,
)
from kassa.store.tables.staff import (
    console_sessions as console_sessions,
)
from kassa.store.tables.staff import (
    staff_credentials as staff_credentials,
)
from kassa.store.tables.staff import (
    staff_invitations as staff_invitations,
)
from kassa.store.tables.support import (
    sla_policies as sla_policies,
)
from kassa.store.tables.support import (
    tickets as tickets,
)
