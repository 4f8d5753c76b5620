"""Support: SLA policies and tickets (issue 9)."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, customer_fk, metadata, tenant_column
from kassa.store.types import JSONDoc, UTCDateTime

sla_policies = sa.Table(  # the policy document whole (calendar, targets per priority, warning, rate)
    "sla_policies",
    metadata,
    tenant_column(),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("doc", JSONDoc, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "code"),
)

tickets = sa.Table(
    "tickets",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("assignee_id", ID),  # a staff user of the tenant
    sa.Column("sla_policy", sa.String(64)),  # the policy's code when the ticket has an SLA
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("first_response_due_at", UTCDateTime),
    sa.Column("resolution_due_at", UTCDateTime),
    sa.Column("first_responded_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("first_response_breached", sa.Boolean, nullable=False),
    sa.Column("resolution_breached", sa.Boolean, nullable=False),
    sa.Column("minutes_spent", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    sa.ForeignKeyConstraint(["tenant_id", "assignee_id"], ["users.tenant_id", "users.id"]),
    sa.ForeignKeyConstraint(["tenant_id", "sla_policy"], ["sla_policies.tenant_id", "sla_policies.code"]),
    sa.Index(None, "tenant_id", "customer_id"),
    sa.Index(None, "tenant_id", "status"),
    sa.Index(None, "tenant_id", "assignee_id"),
)
