"""Notes staff keep on a customer (issue 10)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kassa.core.audit import ActorType
from kassa.core.customer_notes import CustomerNote
from kassa.store.tables import customer_notes


def _note(row: sa.Row[Any]) -> CustomerNote:
    return CustomerNote(
        tenant_id=row.tenant_id,
        id=row.id,
        customer_id=row.customer_id,
        author_type=ActorType(row.author_type),
        author_id=row.author_id,
        body=row.body,
        created_at=row.created_at,
    )


class CustomerNotes:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, note: CustomerNote) -> None:
        self.conn.execute(
            customer_notes.insert().values(
                tenant_id=note.tenant_id,
                id=note.id,
                customer_id=note.customer_id,
                author_type=note.author_type.value,
                author_id=note.author_id,
                body=note.body,
                created_at=note.created_at,
            )
        )

    def list_for(self, tenant_id: str, customer_id: str, limit: int) -> list[CustomerNote]:
        """The customer's newest `limit` notes, newest first (ids break ties: they sort by creation)."""
        rows = self.conn.execute(
            sa.select(customer_notes)
            .where(customer_notes.c.tenant_id == tenant_id, customer_notes.c.customer_id == customer_id)
            .order_by(customer_notes.c.created_at.desc(), customer_notes.c.id.desc())
            .limit(limit)
        )
        return [_note(row) for row in rows]
