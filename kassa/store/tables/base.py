"""The one metadata every table belongs to, and the columns every table starts with."""

from __future__ import annotations

import sqlalchemy as sa

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


def tenant_column() -> sa.Column[str]:
    return sa.Column("tenant_id", ID, sa.ForeignKey("tenants.id"), nullable=False)


def customer_fk() -> sa.ForeignKeyConstraint:
    """A row that belongs to a customer of its own tenant."""
    return sa.ForeignKeyConstraint(["tenant_id", "customer_id"], ["customers.tenant_id", "customers.id"])
