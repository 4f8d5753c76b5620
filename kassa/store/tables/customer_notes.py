"""Notes staff keep on a customer (issue 10: the console's customer 360)."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, customer_fk, metadata, tenant_column
from kassa.store.types import UTCDateTime

customer_notes = sa.Table(
    "customer_notes",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("customer_id", ID, nullable=False),
    sa.Column("author_type", sa.String(20), nullable=False),  # an ActorType: user, api_key, system
    sa.Column("author_id", ID, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    customer_fk(),
    # the 360 lists a customer's newest notes
    sa.Index(None, "tenant_id", "customer_id", "created_at"),
)
