"""Staff logins: passwords, invitations and console sessions (issue 10)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.staff_auth import ConsoleSession, Invitation, StaffCredential
from kassa.store.tables import console_sessions, staff_credentials, staff_invitations


def _credential(row: sa.Row[Any]) -> StaffCredential:
    return StaffCredential(
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        password_hash=row.password_hash,
        set_at=row.set_at,
        failed_attempts=row.failed_attempts,
        locked_until=row.locked_until,
    )


class StaffCredentials:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, tenant_id: str, user_id: str) -> StaffCredential | None:
        row = self.conn.execute(
            sa.select(staff_credentials).where(
                staff_credentials.c.tenant_id == tenant_id, staff_credentials.c.user_id == user_id
            )
        ).first()
        return None if row is None else _credential(row)

    def save(self, credential: StaffCredential) -> None:
        """Insert or replace the user's credential."""
        values = {
            "password_hash": credential.password_hash,
            "set_at": credential.set_at,
            "failed_attempts": credential.failed_attempts,
            "locked_until": credential.locked_until,
        }
        updated = self.conn.execute(
            staff_credentials.update()
            .where(
                staff_credentials.c.tenant_id == credential.tenant_id,
                staff_credentials.c.user_id == credential.user_id,
            )
            .values(**values)
        )
        if updated.rowcount == 0:
            self.conn.execute(
                staff_credentials.insert().values(
                    tenant_id=credential.tenant_id, user_id=credential.user_id, **values
                )
            )


def _invitation(row: sa.Row[Any]) -> Invitation:
    return Invitation(
        tenant_id=row.tenant_id,
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
    )


class StaffInvitations:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, invitation: Invitation) -> None:
        self.conn.execute(
            staff_invitations.insert().values(
                tenant_id=invitation.tenant_id,
                id=invitation.id,
                user_id=invitation.user_id,
                token_hash=invitation.token_hash,
                created_at=invitation.created_at,
                expires_at=invitation.expires_at,
                used_at=invitation.used_at,
            )
        )

    def get(self, tenant_id: str, invitation_id: str) -> Invitation | None:
        row = self.conn.execute(
            sa.select(staff_invitations).where(
                staff_invitations.c.tenant_id == tenant_id, staff_invitations.c.id == invitation_id
            )
        ).first()
        return None if row is None else _invitation(row)

    def find_by_token_hash(self, token_hash: str) -> Invitation | None:
        row = self.conn.execute(
            sa.select(staff_invitations).where(staff_invitations.c.token_hash == token_hash)
        ).first()
        return None if row is None else _invitation(row)

    def void_unused(self, tenant_id: str, user_id: str, at: datetime) -> int:
        """End the user's open invitations now (a newer one replaces them); how many there were."""
        result = self.conn.execute(
            staff_invitations.update()
            .where(
                staff_invitations.c.tenant_id == tenant_id,
                staff_invitations.c.user_id == user_id,
                staff_invitations.c.used_at.is_(None),
                staff_invitations.c.expires_at > at,
            )
            .values(expires_at=at)
        )
        return result.rowcount

    def mark_used(self, tenant_id: str, invitation_id: str, at: datetime) -> bool:
        """Use the invitation if nobody has: False when a concurrent acceptance got there first."""
        result = self.conn.execute(
            staff_invitations.update()
            .where(
                staff_invitations.c.tenant_id == tenant_id,
                staff_invitations.c.id == invitation_id,
                staff_invitations.c.used_at.is_(None),
            )
            .values(used_at=at)
        )
        return result.rowcount == 1


def _session(row: sa.Row[Any]) -> ConsoleSession:
    return ConsoleSession(
        tenant_id=row.tenant_id,
        id=row.id,
        user_id=row.user_id,
        token_hash=row.token_hash,
        csrf_token_hash=row.csrf_token_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
        revoked_at=row.revoked_at,
    )


class ConsoleSessions:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, session: ConsoleSession) -> None:
        self.conn.execute(
            console_sessions.insert().values(
                tenant_id=session.tenant_id,
                id=session.id,
                user_id=session.user_id,
                token_hash=session.token_hash,
                csrf_token_hash=session.csrf_token_hash,
                created_at=session.created_at,
                expires_at=session.expires_at,
                last_seen_at=session.last_seen_at,
                revoked_at=session.revoked_at,
            )
        )

    def get(self, tenant_id: str, session_id: str) -> ConsoleSession | None:
        row = self.conn.execute(
            sa.select(console_sessions).where(
                console_sessions.c.tenant_id == tenant_id, console_sessions.c.id == session_id
            )
        ).first()
        return None if row is None else _session(row)

    def find_by_token_hash(self, token_hash: str) -> ConsoleSession | None:
        row = self.conn.execute(
            sa.select(console_sessions).where(console_sessions.c.token_hash == token_hash)
        ).first()
        return None if row is None else _session(row)

    def touch(self, tenant_id: str, session_id: str, at: datetime) -> None:
        self.conn.execute(
            console_sessions.update()
            .where(console_sessions.c.tenant_id == tenant_id, console_sessions.c.id == session_id)
            .values(last_seen_at=at)
        )

    def revoke(self, tenant_id: str, session_id: str, at: datetime) -> None:
        self.conn.execute(
            console_sessions.update()
            .where(
                console_sessions.c.tenant_id == tenant_id,
                console_sessions.c.id == session_id,
                console_sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )

    def revoke_for_user(self, tenant_id: str, user_id: str, at: datetime) -> int:
        """End every open session of the user (a new password, a deactivation)."""
        result = self.conn.execute(
            console_sessions.update()
            .where(
                console_sessions.c.tenant_id == tenant_id,
                console_sessions.c.user_id == user_id,
                console_sessions.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        )
        return result.rowcount
