"""The books and the numbers: accounting periods, revenue schedules, contracts and bookings, exchange
rates and the cost to serve each customer."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, customer_fk, metadata, tenant_column
from kassa.store.types import ExactDecimal, UTCDateTime

accounting_periods = sa.Table(  # a month the tenant closed (a row only once it has been closed)
    "accounting_periods",
    metadata,
    tenant_column(),
    sa.Column("month", sa.Date, nullable=False),  # its first day
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=False),
    sa.Column("closed_by", sa.String(200), nullable=False),
    sa.Column("reopened_at", UTCDateTime),
    sa.Column("reopened_by", sa.String(200)),
    sa.Column("reopen_reason", sa.Text),
    sa.PrimaryKeyConstraint("tenant_id", "month"),
)

revenue_schedules = sa.Table(  # one row per document line and accounting month it is recognized in
    "revenue_schedules",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("subscription_id", ID),
    sa.Column("invoice_id", ID, nullable=False),  # the invoice the line is on (or the one a note credits)
    sa.Column("source_type", sa.String(20), nullable=False),  # invoice, credit_note, write_off
    sa.Column("source_id", ID, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # the invoice line
    sa.Column("product", sa.String(100), nullable=False),
    sa.Column("plan", sa.String(100)),
    sa.Column("line_kind", sa.String(30), nullable=False),
    sa.Column("pattern", sa.String(10), nullable=False),  # ratable or point
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("billed_on", sa.Date, nullable=False),  # the document's date: when it counts as billed
    sa.Column("month", sa.Date, nullable=False),  # the accounting month it is recognized in (first day)
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),  # exclusive; a point is recognized on starts_on
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # revenue before discounts (signed)
    sa.Column("discount_minor", sa.BigInteger, nullable=False),
    sa.Column("recognized_minor", sa.BigInteger, nullable=False),  # net of the discount, posted so far
    sa.Column("recognized_through", sa.Date),  # the last day recognized (None: nothing yet)
    sa.Column("pending", sa.Boolean, nullable=False),  # some of it is still to be recognized
    sa.Column("mrr_minor", sa.BigInteger),  # recurring lines: the line's net, per month
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "pending", "starts_on"),
    sa.Index(None, "tenant_id", "month"),
    sa.Index(None, "tenant_id", "invoice_id"),
    sa.Index(None, "tenant_id", "customer_id", "starts_on"),
    customer_fk(),
)

contract_charges = sa.Table(  # what a subscription commits its customer to, as of each revision
    "contract_charges",
    metadata,
    tenant_column(),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("signed_on", sa.Date, nullable=False),
    sa.Column("superseded_on", sa.Date),  # the next revision's signed_on (None: the latest)
    sa.Column("bill_on", sa.Date, nullable=False),
    sa.Column("product", sa.String(100), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "subscription_id", "revision", "n"),
    sa.Index(None, "tenant_id", "signed_on"),
)

bookings = sa.Table(  # contract value signed: new, expansion, contraction, cancellation
    "bookings",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("subscription_id", ID, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("booked_on", sa.Date, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("product", sa.String(100), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.Index(None, "tenant_id", "booked_on"),
    customer_fk(),
)

exchange_rates = sa.Table(  # 1 base = rate × currency, on a day (ECB reference rates: base EUR)
    "exchange_rates",
    metadata,
    tenant_column(),
    sa.Column("base", sa.String(3), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("rate", ExactDecimal, nullable=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "base", "currency", "day"),
)

cost_entries = sa.Table(  # time and money spent serving a customer
    "cost_entries",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("occurred_on", sa.Date, nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),  # support, professional_services, infrastructure, other
    sa.Column("minutes", sa.Integer),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("source", sa.String(20), nullable=False),  # api or import
    sa.Column("external_id", sa.String(200)),  # an imported row's id: importing the file twice adds nothing
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    sa.UniqueConstraint("tenant_id", "external_id"),
    sa.Index(None, "tenant_id", "customer_id", "occurred_on"),
    sa.Index(None, "tenant_id", "occurred_on"),
    customer_fk(),
)
