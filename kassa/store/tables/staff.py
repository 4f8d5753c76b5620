"""Staff logins for the console: passwords, invitations and sessions (issue 10).

Secrets are never stored in clear: passwords as argon2 hashes, invitation and session tokens (256 random
bits each) as SHA-256 hex."""

from __future__ import annotations

import sqlalchemy as sa

from kassa.store.tables.base import ID, metadata, tenant_column
from kassa.store.types import UTCDateTime


def _user_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"])


staff_credentials = sa.Table(
    "staff_credentials",
    metadata,
    tenant_column(),
    sa.Column("user_id", ID, nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, parameters in the hash
    sa.Column("set_at", UTCDateTime, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),  # since the last success or lock
    sa.Column("locked_until", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "user_id"),
    _user_fk(),
)

staff_invitations = sa.Table(
    "staff_invitations",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("user_id", ID, nullable=False),
    # unique across tenants: the link's token is what tells us the tenant
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # set to the voiding instant by a newer one
    sa.Column("used_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    _user_fk(),
    sa.Index(None, "tenant_id", "user_id"),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    tenant_column(),
    sa.Column("id", ID, nullable=False),
    sa.Column("user_id", ID, nullable=False),
    # unique across tenants: the session cookie is what tells us the tenant
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),  # the absolute limit; idle expiry from last_seen_at
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.PrimaryKeyConstraint("tenant_id", "id"),
    _user_fk(),
    sa.Index(None, "tenant_id", "user_id"),
)
