"""Credit notes and their lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from kassa.core.credit_notes import CreditNote, CreditNoteLine, CreditReason
from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.store.invoices import taxes_json, taxes_of
from kassa.store.pages import page
from kassa.store.tables import credit_note_lines, credit_notes


def _note(row: sa.Row[Any], lines: Sequence[sa.Row[Any]]) -> CreditNote:
    cur = row.currency

    def m(units: int) -> Money:
        return Money.from_minor_units(units, cur)

    return CreditNote(
        tenant_id=row.tenant_id, id=row.id, number=row.number, invoice_id=row.invoice_id,
        invoice_number=row.invoice_number, customer_id=row.customer_id, currency=cur, reason=CreditReason(row.reason),
        memo=row.memo, automatic=row.automatic, to_invoice=m(row.to_invoice_minor),
        to_credit_balance=m(row.to_credit_balance_minor), created_at=row.created_at,
        lines=tuple(CreditNoteLine(position=r.position, key=r.item_key, description=r.description, product=r.product,
                                   quantity=r.quantity, net=m(r.net_minor), discount=m(r.discount_minor),
                                   taxes=taxes_of(r.taxes, cur)) for r in lines),
    )  # fmt: skip


class CreditNotes:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, note: CreditNote) -> None:
        self.conn.execute(credit_notes.insert().values(
            tenant_id=note.tenant_id, id=note.id, number=note.number, invoice_id=note.invoice_id,
            invoice_number=note.invoice_number, customer_id=note.customer_id, currency=note.currency,
            reason=note.reason.value, memo=note.memo, automatic=note.automatic, net_minor=note.net.to_minor_units(),
            tax_minor=note.tax.to_minor_units(), total_minor=note.total.to_minor_units(),
            to_invoice_minor=note.to_invoice.to_minor_units(),
            to_credit_balance_minor=note.to_credit_balance.to_minor_units(), created_at=note.created_at,
        ))  # fmt: skip
        self.conn.execute(credit_note_lines.insert(), [{
            "tenant_id": note.tenant_id, "credit_note_id": note.id, "n": n, "invoice_id": note.invoice_id,
            "position": line.position, "customer_id": note.customer_id, "item_key": line.key,
            "automatic": note.automatic, "description": line.description, "product": line.product,
            "quantity": line.quantity, "currency": note.currency, "net_minor": line.net.to_minor_units(),
            "discount_minor": line.discount.to_minor_units(), "tax_minor": line.tax.to_minor_units(),
            "taxes": taxes_json(line.taxes),
        } for n, line in enumerate(note.lines, 1)])  # fmt: skip

    def _with_lines(self, tenant_id: str, rows: Sequence[sa.Row[Any]]) -> list[CreditNote]:
        if not rows:
            return []
        lc = credit_note_lines.c
        query = sa.select(credit_note_lines).where(lc.tenant_id == tenant_id,
                                                   lc.credit_note_id.in_([r.id for r in rows]))  # fmt: skip
        by_note: dict[str, list[sa.Row[Any]]] = {r.id: [] for r in rows}
        for line in self.conn.execute(query.order_by(lc.credit_note_id, lc.n)):
            by_note[line.credit_note_id].append(line)
        return [_note(r, by_note[r.id]) for r in rows]

    def get(self, tenant_id: str, credit_note_id: str) -> CreditNote:
        c = credit_notes.c
        row = self.conn.execute(
            sa.select(credit_notes).where(c.tenant_id == tenant_id, c.id == credit_note_id)
        ).first()
        if row is None:
            raise NotFound("credit_note", credit_note_id)
        return self._with_lines(tenant_id, [row])[0]

    def of_invoice(self, tenant_id: str, invoice_id: str) -> list[CreditNote]:
        c = credit_notes.c
        rows = list(self.conn.execute(sa.select(credit_notes).where(c.tenant_id == tenant_id, c.invoice_id == invoice_id)
                                      .order_by(c.created_at, c.id)))  # fmt: skip
        return self._with_lines(tenant_id, rows)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None, customer_id: str | None = None,
             invoice_id: str | None = None) -> Page[CreditNote]:  # fmt: skip
        c = credit_notes.c
        query = sa.select(credit_notes).where(c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        if invoice_id is not None:
            query = query.where(c.invoice_id == invoice_id)
        rows = page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=lambda r: r)
        return Page(items=self._with_lines(tenant_id, rows.items), has_more=rows.has_more,
                    next_cursor=rows.next_cursor)  # fmt: skip
