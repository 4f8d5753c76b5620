"""Customer accounts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from kassa.core.customers import Customer, CustomerFilter
from kassa.core.errors import Conflict, NotFound
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.parties import Address
from kassa.core.tax_ids import TaxId
from kassa.store.constraints import execute_unique
from kassa.store.pages import page
from kassa.store.tables import customers


def _customer(row: sa.Row[Any]) -> Customer:
    return Customer(
        tenant_id=row.tenant_id,
        id=row.id,
        external_id=row.external_id,
        name=row.name,
        legal_name=row.legal_name,
        emails=tuple(row.emails),
        address=Address(**row.address) if row.address else None,
        currency=row.currency,
        locale=row.locale,
        time_zone=row.time_zone,
        tax_ids=tuple(TaxId.from_json(t) for t in row.tax_ids),
        payment_terms_days=row.payment_terms_days,
        parent_id=row.parent_id,
        bill_to_parent=row.bill_to_parent,
        tax_exempt=row.tax_exempt,
        bill_cycle_day=row.bill_cycle_day,
        credit_limit=None
        if row.credit_limit_minor is None
        else Money.from_minor_units(row.credit_limit_minor, row.currency),
        metadata=dict(row.metadata),
        test_clock_id=row.test_clock_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived_at=row.archived_at,
    )


def _values(c: Customer) -> dict[str, Any]:
    return {
        "tenant_id": c.tenant_id,
        "id": c.id,
        "external_id": c.external_id,
        "name": c.name,
        "legal_name": c.legal_name,
        "emails": list(c.emails),
        "address": c.address.to_json() if c.address else None,
        "country": c.address.country if c.address else None,
        "currency": c.currency,
        "locale": c.locale,
        "time_zone": c.time_zone,
        "tax_ids": [t.to_json() for t in c.tax_ids],
        "payment_terms_days": c.payment_terms_days,
        "parent_id": c.parent_id,
        "bill_to_parent": c.bill_to_parent,
        "tax_exempt": c.tax_exempt,
        "bill_cycle_day": c.bill_cycle_day,
        "credit_limit_minor": None if c.credit_limit is None else c.credit_limit.to_minor_units(),
        "metadata": dict(c.metadata),
        "test_clock_id": c.test_clock_id,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "archived_at": c.archived_at,
    }


class Customers:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _write(self, c: Customer, statement: sa.Executable) -> None:
        taken = Conflict(
            "external_id_taken", f"Another customer has external_id {c.external_id!r}.", "external_id"
        )
        query = sa.select(customers.c.id).where(
            customers.c.tenant_id == c.tenant_id,
            customers.c.external_id == c.external_id,
            customers.c.id != c.id,
        )
        if self.conn.execute(query).first() is not None:
            raise taken
        execute_unique(self.conn, statement, "external_id", taken)

    def add(self, c: Customer) -> None:
        self._write(c, customers.insert().values(**_values(c)))

    def update(self, c: Customer) -> None:
        statement = customers.update().where(customers.c.tenant_id == c.tenant_id, customers.c.id == c.id)
        self._write(c, statement.values(**_values(c)))

    def get(self, tenant_id: str, customer_id: str, *, for_update: bool = False) -> Customer:
        query = sa.select(customers).where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("customer", customer_id)
        return _customer(row)

    def many(self, tenant_id: str, ids: list[str]) -> list[Customer]:
        out: list[Customer] = []
        for i in range(0, len(ids), 500):
            query = sa.select(customers).where(
                customers.c.tenant_id == tenant_id, customers.c.id.in_(ids[i : i + 500])
            )
            out.extend(_customer(r) for r in self.conn.execute(query))
        return out

    def names(self, tenant_id: str, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """id -> (name, external id) of customers: what a report with a row per customer shows of each."""
        c, wanted = customers.c, set(ids)
        query = sa.select(c.id, c.name, c.external_id).where(c.tenant_id == tenant_id)
        if len(wanted) <= 1000:  # else one scan of the tenant's customers beats thousands of bound ids
            query = query.where(c.id.in_(sorted(wanted)))
        return {row.id: (row.name, row.external_id) for row in self.conn.execute(query) if row.id in wanted}

    def clocks(
        self, tenant_id: str, *, ids: Iterable[str] = (), external_ids: Iterable[str] = ()
    ) -> list[tuple[str, str, str | None]]:
        """(id, external id, test clock id) of customers by id or external id: all a usage batch needs."""
        wanted, external = sorted(set(ids)), sorted(set(external_ids))
        if not wanted and not external:
            return []
        c = customers.c
        query = sa.select(c.id, c.external_id, c.test_clock_id).where(
            c.tenant_id == tenant_id, sa.or_(c.id.in_(wanted), c.external_id.in_(external))
        )
        return [(row.id, row.external_id, row.test_clock_id) for row in self.conn.execute(query)]

    def test_clock_of(self, tenant_id: str, customer_id: str) -> str | None:
        """The customer's test clock (None on the system clock); scheduling due work asks this often."""
        query = sa.select(customers.c.test_clock_id).where(
            customers.c.tenant_id == tenant_id, customers.c.id == customer_id
        )
        row = self.conn.execute(query).first()
        if row is None:
            raise NotFound("customer", customer_id)
        clock_id: str | None = row.test_clock_id
        return clock_id

    def parent_of(self, tenant_id: str, customer_id: str) -> str | None:
        query = sa.select(customers.c.parent_id).where(
            customers.c.tenant_id == tenant_id, customers.c.id == customer_id
        )
        return self.conn.execute(query).scalar()

    def has_children(self, tenant_id: str, customer_id: str) -> bool:
        query = sa.select(customers.c.id).where(
            customers.c.tenant_id == tenant_id,
            customers.c.parent_id == customer_id,
            customers.c.archived_at.is_(None),
        )
        return self.conn.execute(query.limit(1)).first() is not None

    def levels_below(self, tenant_id: str, customer_id: str, limit: int) -> int:
        """How deep the customer's subtree goes (0 without children), counted up to `limit`: one query
        per level, and hierarchies are shallow."""
        level, frontier = 0, [customer_id]
        while frontier and level < limit:
            query = sa.select(customers.c.id).where(
                customers.c.tenant_id == tenant_id, customers.c.parent_id.in_(frontier)
            )
            frontier = list(self.conn.execute(query).scalars())
            level += 1 if frontier else 0
        return level

    def paid_for_child_currencies(self, tenant_id: str, customer_id: str) -> set[str]:
        """The currencies of the active children whose charges go on this customer's invoice."""
        query = (
            sa.select(customers.c.currency)
            .distinct()
            .where(
                customers.c.tenant_id == tenant_id,
                customers.c.parent_id == customer_id,
                customers.c.bill_to_parent.is_(True),
                customers.c.archived_at.is_(None),
            )
        )
        return set(self.conn.execute(query).scalars())

    def list(
        self, tenant_id: str, where: CustomerFilter, *, limit: int, cursor: str | None
    ) -> Page[Customer]:
        query = sa.select(customers).where(customers.c.tenant_id == tenant_id)
        for column in ("external_id", "parent_id", "currency", "country", "test_clock_id"):
            value = getattr(where, column)
            if value is not None:
                query = query.where(customers.c[column] == value)
        if where.archived is not None:
            archived = customers.c.archived_at.is_not(None)
            query = query.where(archived if where.archived else sa.not_(archived))
        if where.created_gte is not None:
            query = query.where(customers.c.created_at >= where.created_gte)
        if where.created_lt is not None:
            query = query.where(customers.c.created_at < where.created_lt)
        return page(self.conn, query, customers.c.id, limit=limit, cursor=cursor, to_item=_customer)
