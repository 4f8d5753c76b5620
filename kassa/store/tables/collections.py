"""Payment methods, payments, refunds, chargebacks, gateway webhooks, dunning policies, payouts and bank
statements."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, customer_fk, metadata, tenant_column
from kassa.store.types import JSONDoc, UTCDateTime

# ---- collections, remittance and reconciliation --------------------------------------------------------


payment_methods = sa.Table(  # a card is a gateway's token with what may be shown of it: never its number
    "payment_methods",
    metadata,
    tenant_column(),
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
    sa.Column("provider", sa.String(40)),  # a provider account's provider (paypal)
    sa.Column("email", sa.String(320)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("detached_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "token"),
)

payments = sa.Table(  # one attempt to collect, or money received by hand
    "payments",
    metadata,
    tenant_column(),
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
    customer_fk(),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "invoice_id"),
    sa.Index(None, "tenant_id", "gateway", "gateway_ref"),
)

payment_allocations = sa.Table(  # what payments paid, as a signed log: a chargeback writes a negative row
    "payment_allocations",
    metadata,
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
    sa.Column("gateway", sa.String(20), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "gateway", "event_id"),
)

dunning_policies = sa.Table(
    "dunning_policies",
    metadata,
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
