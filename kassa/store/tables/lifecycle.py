"""The customer lifecycle (issue 9): leads, offers, provisioning steps, entitlement overrides, prepaid
wallets, lifecycle messages and disputes on invoice lines."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, customer_fk, metadata, tenant_column
from kassa.store.types import JSONDoc, UTCDateTime

# ---- acquisition ---------------------------------------------------------------------------------------

leads = sa.Table(  # a prospect, from a source and campaign, until it converts into a customer or is lost
    "leads",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("company", sa.String(200)),
    sa.Column("country", sa.String(2)),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("campaign", sa.String(64)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("lost_reason", sa.String(500)),
    sa.Column("customer_id", ID),  # set on conversion
    sa.Column("subscription_id", ID),  # the first subscription, when the conversion created one
    sa.Column("converted_at", UTCDateTime),
    sa.Column("metadata", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.Index(None, "tenant_id", "source", "campaign"),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "email"),
)

offers = sa.Table(  # every version of an offer's rule document is kept; the highest is in force
    "offers",
    metadata,
    tenant_column(),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("doc", JSONDoc),  # null: the offer was withdrawn in this version
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "code", "version"),
)

# ---- provisioning and entitlements ---------------------------------------------------------------------

provisioning_steps = sa.Table(  # one step of a plan's provisioning, run for one subscription event
    "provisioning_steps",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("plan", sa.String(64), nullable=False),
    sa.Column("step", sa.String(64), nullable=False),  # the step's code in the plan
    sa.Column("trigger", sa.String(20), nullable=False),  # started, changed, ended
    sa.Column("action", sa.String(20), nullable=False),  # webhook, email, task
    sa.Column("status", sa.String(20), nullable=False),  # pending, done, failed
    sa.Column("spec", JSONDoc, nullable=False),  # the step as the plan defined it when it was started
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("owner_id", ID),  # a manual task's staff user
    sa.Column("due_at", UTCDateTime),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.ForeignKeyConstraint(["tenant_id", "owner_id"], ["users.tenant_id", "users.id"]),
    sa.UniqueConstraint("tenant_id", "subscription_id", "trigger", "step", "created_at"),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "status"),
)

entitlement_overrides = sa.Table(  # a customer's own value for one feature, over what the plans give
    "entitlement_overrides",
    metadata,
    tenant_column(),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("feature", sa.String(64), nullable=False),
    sa.Column("value", JSONDoc, nullable=False),
    sa.Column("reason", sa.String(500)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "customer_id", "feature"),
    customer_fk(),
)

# ---- prepaid wallets -----------------------------------------------------------------------------------

wallets = sa.Table(  # one per customer and currency
    "wallets",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("auto_top_up", JSONDoc),  # the rule: when the balance is below X, buy Y
    sa.Column("alert_thresholds", JSONDoc, nullable=False),  # amounts, as strings
    sa.Column("promotion_offer", sa.String(64)),  # an offer proposed after a low-balance alert
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.UniqueConstraint("tenant_id", "customer_id", "currency"),
)

wallet_lots = sa.Table(  # one top-up or grant, and what is left of it
    "wallet_lots",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("wallet_id", ID, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),  # paid, free
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("remaining_minor", sa.BigInteger, nullable=False),
    sa.Column("payment_id", ID),  # the payment that bought a paid lot
    sa.Column("granted_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "wallet_id"], ["wallets.tenant_id", "wallets.id"]),
    sa.Index(None, "tenant_id", "wallet_id"),
)

wallet_transactions = sa.Table(  # every movement of a wallet: top-up, grant, draw, expiry, refund
    "wallet_transactions",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("wallet_id", ID, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # signed: in positive, out negative
    sa.Column("paid_minor", sa.BigInteger, nullable=False),  # the paid credits' part of amount_minor
    sa.Column("balance_minor", sa.BigInteger, nullable=False),  # the wallet's balance after it
    sa.Column("invoice_id", ID),
    sa.Column("payment_id", ID),
    sa.Column("usage_event_id", sa.String(200)),
    sa.Column("description", sa.String(500)),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.ForeignKeyConstraint(["tenant_id", "wallet_id"], ["wallets.tenant_id", "wallets.id"]),
    sa.Index(None, "tenant_id", "wallet_id", "occurred_at"),
)

# ---- lifecycle messages --------------------------------------------------------------------------------

message_templates = sa.Table(  # a tenant's own wording of one message kind in one locale
    "message_templates",
    metadata,
    tenant_column(),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("locale", sa.String(20), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("body_text", sa.Text, nullable=False),
    sa.Column("body_html", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "kind", "locale"),
)

message_preferences = sa.Table(  # a customer's opt-out of one non-essential kind, or of all ('*')
    "message_preferences",
    metadata,
    tenant_column(),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("subscribed", sa.Boolean, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "customer_id", "kind"),
    customer_fk(),
)

messages = sa.Table(  # every message kassa sent, or chose not to send, to a customer
    "messages",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),  # email, webhook
    sa.Column("locale", sa.String(20), nullable=False),
    sa.Column("recipient", sa.String(320)),
    sa.Column("subject", sa.String(300)),
    sa.Column("status", sa.String(20), nullable=False),  # sent, failed, suppressed
    sa.Column("error", sa.Text),
    sa.Column("event_id", ID),  # the kassa event that caused it (one message per event, kind and channel)
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.UniqueConstraint("tenant_id", "event_id", "kind", "channel"),
    sa.Index(None, "tenant_id", "customer_id", "created_at"),
)

message_settings = sa.Table(  # reminder lead times, links, and the key that signs unsubscribe links
    "message_settings",
    metadata,
    tenant_column(),
    sa.Column("enabled", sa.Boolean, nullable=False),  # off until the tenant turns lifecycle messages on
    sa.Column("trial_ending_days", sa.Integer, nullable=False),
    sa.Column("renewal_upcoming_days", sa.Integer, nullable=False),
    sa.Column("update_payment_method_url", sa.String(2000)),
    sa.Column("public_url", sa.String(2000)),  # where customers reach this kassa (unsubscribe links)
    sa.Column("signing_key", sa.String(100), nullable=False),  # random, per tenant; never shown
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id"),
)

# ---- disputes ------------------------------------------------------------------------------------------

disputes = sa.Table(  # a customer contesting (part of) one invoice line
    "disputes",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("invoice_id", ID, nullable=False),
    sa.Column("line_position", sa.Integer, nullable=False),  # the invoice line, by its position
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # the disputed amount, tax included
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),  # open, accepted, rejected
    sa.Column("opened_by", sa.String(20), nullable=False),  # customer (portal), agent
    sa.Column("auto_resolved", sa.Boolean, nullable=False),
    sa.Column("assignee_id", ID),
    sa.Column("resolution", sa.Text),
    sa.Column("credit_note_id", ID),
    sa.Column("credited_minor", sa.BigInteger, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.ForeignKeyConstraint(["tenant_id", "invoice_id"], ["invoices.tenant_id", "invoices.id"]),
    sa.ForeignKeyConstraint(["tenant_id", "assignee_id"], ["users.tenant_id", "users.id"]),
    sa.Index(None, "tenant_id", "invoice_id"),
    sa.Index(None, "tenant_id", "status"),
)
