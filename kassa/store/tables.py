"""The schema. `tenant_id` leads every primary key and index (tenants are walls; the schema can be sharded
by tenant). Amounts of record are BIGINT minor units beside a currency column; no float column anywhere."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.types import ExactDecimal, JSONDoc, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = sa.String(40)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant_id", ID, sa.ForeignKey("tenants.id"), nullable=False)


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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
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
    _tenant(),
    sa.Column("threshold_id", ID, nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("reached_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "threshold_id", "period_start"),
)

# ---- billing -------------------------------------------------------------------------------------------

invoices = sa.Table(
    "invoices",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),  # the paying account
    sa.Column("number", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("bill_date", sa.Date),  # NULL: a one-off invoice made by hand
    sa.Column("tax_inclusive", sa.Boolean, nullable=False),
    sa.Column("subtotal_minor", sa.BigInteger, nullable=False),
    sa.Column("discount_minor", sa.BigInteger, nullable=False),
    sa.Column("tax_minor", sa.BigInteger, nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("credit_applied_minor", sa.BigInteger, nullable=False),
    sa.Column("credit_granted_minor", sa.BigInteger, nullable=False),
    sa.Column("amount_due_minor", sa.BigInteger, nullable=False),
    sa.Column("amount_paid_minor", sa.BigInteger, nullable=False),
    sa.Column("amount_credited_minor", sa.BigInteger, nullable=False),
    sa.Column("breakdown", JSONDoc, nullable=False),  # tax per rate, minor units
    sa.Column("notes", JSONDoc, nullable=False),
    sa.Column("memo", sa.Text),
    sa.Column("parties", JSONDoc, nullable=False),  # seller and buyer as at finalization
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("finalize_at", UTCDateTime),
    sa.Column("finalized_at", UTCDateTime),
    sa.Column("due_date", sa.Date),
    sa.Column("paid_at", UTCDateTime),
    sa.Column("voided_at", UTCDateTime),
    sa.Column("email_status", sa.String(20)),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "number"),
    # one invoice per customer per bill date: a re-run or a second worker finds the same row
    sa.UniqueConstraint("tenant_id", "customer_id", "bill_date"),
    sa.ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    sa.Index(None, "tenant_id", "status", "finalize_at"),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    _tenant(),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("customer_id", ID, nullable=False),  # the paying account (what was billed to whom)
    sa.Column("item_key", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("account_id", ID, nullable=False),  # whose service: a child's id when its parent pays
    sa.Column("subscription_id", ID),
    sa.Column("product", sa.String(64), nullable=False),
    sa.Column("codes", JSONDoc, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("unit_price", ExactDecimal),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("discount_minor", sa.BigInteger, nullable=False),
    sa.Column("net_minor", sa.BigInteger, nullable=False),
    sa.Column("tax_minor", sa.BigInteger, nullable=False),
    sa.Column("discounts", JSONDoc, nullable=False),
    sa.Column("taxes", JSONDoc, nullable=False),
    sa.Column("tax_category", sa.String(20), nullable=False),
    sa.Column("tax_code", sa.String(4), nullable=False),
    sa.Column("tax_note", sa.Text),
    sa.Column("origin", sa.String(300)),
    sa.PrimaryKeyConstraint("tenant_id", "invoice_id", "position"),
    sa.ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
    sa.Index(None, "tenant_id", "customer_id", "item_key"),
)

credit_notes = sa.Table(
    "credit_notes",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("number", sa.String(64), nullable=False),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("memo", sa.Text),
    sa.Column("automatic", sa.Boolean, nullable=False),
    sa.Column("net_minor", sa.BigInteger, nullable=False),
    sa.Column("tax_minor", sa.BigInteger, nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("to_invoice_minor", sa.BigInteger, nullable=False),
    sa.Column("to_credit_balance_minor", sa.BigInteger, nullable=False),
    sa.Column("invoice_number", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "number"),
    sa.ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
    sa.Index(None, "tenant_id", "invoice_id"),
    sa.Index(None, "tenant_id", "customer_id"),
)

credit_note_lines = sa.Table(
    "credit_note_lines",
    metadata,
    _tenant(),
    sa.Column("credit_note_id", ID, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the invoice line credited
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("item_key", sa.String(300), nullable=False),
    sa.Column("automatic", sa.Boolean, nullable=False),  # bill-run corrections count as billed; others do not
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("product", sa.String(64), nullable=False),
    sa.Column("quantity", ExactDecimal),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("net_minor", sa.BigInteger, nullable=False),
    sa.Column("discount_minor", sa.BigInteger, nullable=False),
    sa.Column("tax_minor", sa.BigInteger, nullable=False),
    sa.Column("taxes", JSONDoc, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "credit_note_id", "n"),
    sa.ForeignKeyConstraint(["tenant_id", "credit_note_id"], ["credit_notes.tenant_id", "credit_notes.id"]),
    sa.Index(None, "tenant_id", "customer_id", "item_key"),
)

# Gapless numbers: the row is locked by the finalizing transaction, so a rollback gives the number back.
number_sequences = sa.Table(
    "number_sequences",
    metadata,
    _tenant(),
    sa.Column("series", sa.String(64), nullable=False),
    sa.Column("last", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "series"),
)

one_off_charges = sa.Table(
    "one_off_charges",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("product", sa.String(64), nullable=False),
    sa.Column("quantity", ExactDecimal, nullable=False),
    sa.Column("unit_price", ExactDecimal, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("tax_category", sa.String(20), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    sa.Index(None, "tenant_id", "customer_id"),
)

coupons = sa.Table(
    "coupons",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("doc", JSONDoc, nullable=False),
    sa.Column("times_redeemed", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("archived_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "code"),
)

promotion_codes = sa.Table(
    "promotion_codes",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("code", sa.String(64), nullable=False),  # upper case: customers type it in any case
    sa.Column("coupon_id", ID, nullable=False),
    sa.Column("doc", JSONDoc, nullable=False),
    sa.Column("times_redeemed", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "code"),
    sa.ForeignKeyConstraint(["tenant_id", "coupon_id"], ["coupons.tenant_id", "coupons.id"]),
)

coupon_redemptions = sa.Table(
    "coupon_redemptions",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("coupon_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("subscription_id", ID),
    sa.Column("promotion_code_id", ID),
    sa.Column("periods_applied", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "coupon_id"], ["coupons.tenant_id", "coupons.id"]),
    sa.Index(None, "tenant_id", "customer_id"),
)

# The customer credit balance as its movements: grants, credit notes, and what invoices used or gave back.
credit_balance_transactions = sa.Table(
    "credit_balance_transactions",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # + credited to the customer, - used
    sa.Column("source_type", sa.String(20), nullable=False),  # grant, credit_note, invoice
    sa.Column("source_id", ID, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"]),
    sa.Index(None, "tenant_id", "customer_id", "currency"),
)

ledger_charts = sa.Table(  # the tenant's chart of accounts (the default until the tenant sets its own)
    "ledger_charts",
    metadata,
    _tenant(),
    sa.Column("doc", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id"),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("source_type", sa.String(40), nullable=False),
    sa.Column("source_id", ID, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reverses", ID),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "source_type", "source_id"),
)

journal_postings = sa.Table(  # append-only: corrections are reversing entries
    "journal_postings",
    metadata,
    _tenant(),
    sa.Column("entry_id", ID, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("account", sa.String(20), nullable=False),
    sa.Column("debit_minor", sa.BigInteger, nullable=False),  # one of debit/credit is 0
    sa.Column("credit_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("memo", sa.Text),
    sa.PrimaryKeyConstraint("tenant_id", "entry_id", "n"),
    sa.ForeignKeyConstraint(["tenant_id", "entry_id"], ["journal_entries.tenant_id", "journal_entries.id"]),
    sa.Index(None, "tenant_id", "account"),
)

# ---- collections, remittance and reconciliation --------------------------------------------------------


def _customer_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"])


payment_methods = sa.Table(  # a card is a gateway's token with what may be shown of it: never its number
    "payment_methods",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("gateway", sa.String(20)),
    sa.Column("token", sa.String(200)),
    sa.Column("brand", sa.String(40)),
    sa.Column("last4", sa.String(4)),
    sa.Column("exp_month", sa.Integer),
    sa.Column("exp_year", sa.Integer),
    sa.Column("iban", sa.String(34)),
    sa.Column("bic", sa.String(11)),
    sa.Column("mandate_id", sa.String(35)),
    sa.Column("mandate_signed_on", sa.Date),
    sa.Column("account_holder", sa.String(200)),
    sa.Column("wallet", sa.String(40)),
    sa.Column("email", sa.String(320)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("detached_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    _customer_fk(),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "token"),
)

payments = sa.Table(  # one attempt to collect, or money received by hand
    "payments",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("method_type", sa.String(20), nullable=False),
    sa.Column("payment_method_id", ID),
    sa.Column("invoice_id", ID),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("gateway", sa.String(20)),
    sa.Column("gateway_ref", sa.String(200)),
    sa.Column("idempotency_key", sa.String(200), nullable=False),  # also the gateway's: never charged twice
    sa.Column("decline_code", sa.String(40)),
    sa.Column("failure_message", sa.Text),
    sa.Column("action_url", sa.Text),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("fee_minor", sa.BigInteger),
    sa.Column("refunded_minor", sa.BigInteger, nullable=False),
    sa.Column("disputed_minor", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.Text),
    sa.Column("payer_name", sa.String(200)),
    sa.Column("payer_iban", sa.String(34)),
    sa.Column("received_on", sa.Date),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("settled_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "idempotency_key"),
    _customer_fk(),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "invoice_id"),
    sa.Index(None, "tenant_id", "gateway", "gateway_ref"),
)

payment_allocations = sa.Table(  # what payments paid, as a signed log: a chargeback writes a negative row
    "payment_allocations",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("payment_id", ID, nullable=False),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("source_type", sa.String(20), nullable=False),  # payment, refund, chargeback
    sa.Column("source_id", ID, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "payment_id"], ["payments.tenant_id", "payments.id"]),
    sa.ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
    sa.Index(None, "tenant_id", "payment_id"),
    sa.Index(None, "tenant_id", "invoice_id"),
)

refunds = sa.Table(
    "refunds",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("payment_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("gateway_ref", sa.String(200)),
    sa.Column("credit_note_id", ID),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "payment_id"], ["payments.tenant_id", "payments.id"]),
    sa.Index(None, "tenant_id", "payment_id"),
)

chargebacks = sa.Table(  # a card-network dispute (a customer contesting a line is a *dispute*, elsewhere)
    "chargebacks",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("payment_id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # open, won, lost
    sa.Column("reason", sa.String(200)),
    sa.Column("gateway_ref", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("closed_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "gateway_ref"),
    sa.ForeignKeyConstraint(["tenant_id", "payment_id"], ["payments.tenant_id", "payments.id"]),
)

gateway_events = sa.Table(  # webhooks already processed: a replay is recognized and changes nothing
    "gateway_events",
    metadata,
    _tenant(),
    sa.Column("gateway", sa.String(20), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "gateway", "event_id"),
)

dunning_policies = sa.Table(
    "dunning_policies",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("doc", JSONDoc, nullable=False),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
)

payouts = sa.Table(  # money a gateway sends to the bank: the charges it settles less its fees
    "payouts",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("gateway", sa.String(20), nullable=False),
    sa.Column("ref", sa.String(200), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("gross_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("arrival_on", sa.Date, nullable=False),
    sa.Column("items", JSONDoc, nullable=False),
    sa.Column("statement_line_id", ID),  # set when the bank statement shows it arrived
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "gateway", "ref"),
)

bank_statements = sa.Table(
    "bank_statements",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("format", sa.String(10), nullable=False),
    sa.Column("account", sa.String(64)),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("statement_ref", sa.String(200)),
    sa.Column("sha256", sa.String(64), nullable=False),  # the same file twice is one import
    sa.Column("opening_minor", sa.BigInteger),
    sa.Column("closing_minor", sa.BigInteger),
    sa.Column("opened_on", sa.Date),
    sa.Column("closed_on", sa.Date),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("new_lines", sa.Integer, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "sha256"),
)

statement_lines = sa.Table(
    "statement_lines",
    metadata,
    _tenant(),
    sa.Column("id", ID, nullable=False),
    sa.Column("statement_id", ID, nullable=False),
    sa.Column("account", sa.String(64), nullable=False),  # "" when the file names none
    sa.Column("line_key", sa.String(100), nullable=False),  # a line in two overlapping files is one line
    sa.Column("booked_on", sa.Date, nullable=False),
    sa.Column("value_on", sa.Date),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.Text),
    sa.Column("counterparty_name", sa.String(200)),
    sa.Column("counterparty_iban", sa.String(34)),
    sa.Column("bank_reference", sa.String(200)),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),  # applied, review, unmatched, ignored
    sa.Column("confidence", sa.String(8)),
    sa.Column("customer_id", ID),
    sa.Column("payment_id", ID),
    sa.Column("payout_id", ID),
    sa.Column("proposal", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "account", "line_key"),
    sa.ForeignKeyConstraint(
        ["tenant_id", "statement_id"], ["bank_statements.tenant_id", "bank_statements.id"]
    ),
    sa.Index(None, "tenant_id", "status"),
)
