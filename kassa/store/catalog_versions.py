"""Applied catalog documents, numbered per tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.store.tables import catalog_versions


class CatalogVersions:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(
        self, tenant_id: str, number: int, *, name: str | None, effective_at: datetime, document: dict[str, Any],
        created_at: datetime,
    ) -> None:  # fmt: skip
        self.conn.execute(
            catalog_versions.insert().values(
                tenant_id=tenant_id,
                number=number,
                name=name,
                effective_at=effective_at,
                document=document,
                created_at=created_at,
            )  # fmt: skip
        )

    def latest(self, tenant_id: str, *, for_update: bool = False) -> sa.Row[Any] | None:
        query = (
            sa.select(catalog_versions)
            .where(catalog_versions.c.tenant_id == tenant_id)
            .order_by(catalog_versions.c.number.desc())
            .limit(1)
        )
        if for_update:
            query = query.with_for_update()
        return self.conn.execute(query).first()

    def get(self, tenant_id: str, number: int) -> sa.Row[Any]:
        row = self.conn.execute(
            sa.select(catalog_versions).where(
                catalog_versions.c.tenant_id == tenant_id, catalog_versions.c.number == number
            )
        ).first()
        if row is None:
            raise NotFound("catalog_version", str(number))
        return row

    def all(self, tenant_id: str) -> list[sa.Row[Any]]:
        query = (
            sa.select(catalog_versions)
            .where(catalog_versions.c.tenant_id == tenant_id)
            .order_by(catalog_versions.c.number)
        )
        return list(self.conn.execute(query).all())

    def numbers(self, tenant_id: str) -> list[tuple[int, datetime]]:
        """(number, created_at) of every version: enough to tell whether a cached parse is current."""
        query = sa.select(catalog_versions.c.number, catalog_versions.c.created_at).where(
            catalog_versions.c.tenant_id == tenant_id
        )
        return [
            (r.number, r.created_at) for r in self.conn.execute(query.order_by(catalog_versions.c.number))
        ]
