"""Invoices, credit notes, numbering, one-off charges, coupons, the credit balance and the ledger."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, metadata, tenant_column
from kassa.store.types import ExactDecimal, JSONDoc, UTCDateTime

# ---- billing -------------------------------------------------------------------------------------------

invoices = sa.Table(
    "invoices",
    metadata,
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
    sa.Column("series", sa.String(64), nullable=False),
    sa.Column("last", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "series"),
)

one_off_charges = sa.Table(
    "one_off_charges",
    metadata,
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
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
    tenant_column(),
    sa.Column("doc", JSONDoc, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id"),
)

journal_entries = sa.Table(
    "journal_entries",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("source_type", sa.String(40), nullable=False),
    sa.Column("source_id", ID, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reverses", ID),
    sa.Column("booked_on", sa.Date, nullable=False),  # the accounting date, in the books' calendar
    sa.Column("effective_on", sa.Date),  # set when a closed period sent it to the first open one
    sa.Column("note", sa.Text),  # why it was booked where it was
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "source_type", "source_id"),
    sa.Index(None, "tenant_id", "booked_on"),
)

journal_postings = sa.Table(  # append-only: corrections are reversing entries
    "journal_postings",
    metadata,
    tenant_column(),
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
