"""Invoices and their lines, gapless number sequences, and what was billed under each billing key."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kassa.core.discounts import AppliedDiscount
from kassa.core.errors import NotFound
from kassa.core.invoicing import Billed, Invoice, InvoiceLine, InvoiceStatus, Item, LineKind
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.tax import BreakdownRow, TaxAmount, TaxCategory, TaxRate
from kassa.store.pages import page
from kassa.store.tables import credit_note_lines, invoice_lines, invoices, number_sequences

# ---- JSON shapes of taxes (minor units, so sums stay integers) ------------------------------------------


def rate_json(rate: TaxRate) -> dict[str, Any]:
    return {"id": rate.id, "jurisdiction": rate.jurisdiction, "name": rate.name, "percent": str(rate.percent),
            "category": rate.category.value, "valid_from": rate.valid_from.isoformat(),
            "valid_to": rate.valid_to.isoformat() if rate.valid_to else None}  # fmt: skip


def rate_of(doc: Mapping[str, Any]) -> TaxRate:
    return TaxRate(id=doc["id"], jurisdiction=doc["jurisdiction"], name=doc["name"], percent=Decimal(doc["percent"]),
                   category=TaxCategory(doc["category"]), valid_from=date.fromisoformat(doc["valid_from"]),
                   valid_to=date.fromisoformat(doc["valid_to"]) if doc["valid_to"] else None)  # fmt: skip


def taxes_json(taxes: Sequence[TaxAmount]) -> builtins.list[dict[str, Any]]:
    return [{"rate": rate_json(t.rate), "taxable": t.taxable.to_minor_units(), "amount": t.amount.to_minor_units()}
            for t in taxes]  # fmt: skip


def taxes_of(docs: Sequence[Mapping[str, Any]], currency: str) -> tuple[TaxAmount, ...]:
    return tuple(TaxAmount(rate=rate_of(d["rate"]), taxable=Money.from_minor_units(d["taxable"], currency),
                           amount=Money.from_minor_units(d["amount"], currency)) for d in docs)  # fmt: skip


def _breakdown_json(rows: Sequence[BreakdownRow]) -> builtins.list[dict[str, Any]]:
    return [{"code": r.code, "rate": rate_json(r.rate) if r.rate else None, "taxable": r.taxable.to_minor_units(),
             "amount": r.amount.to_minor_units(), "note": r.note} for r in rows]  # fmt: skip


def _breakdown_of(docs: Sequence[Mapping[str, Any]], currency: str) -> tuple[BreakdownRow, ...]:
    return tuple(BreakdownRow(code=d["code"], rate=rate_of(d["rate"]) if d["rate"] else None,
                              taxable=Money.from_minor_units(d["taxable"], currency),
                              amount=Money.from_minor_units(d["amount"], currency), note=d["note"])
                 for d in docs)  # fmt: skip


# ---- rows ----------------------------------------------------------------------------------------------


def _invoice_row(inv: Invoice) -> dict[str, Any]:
    return {
        "tenant_id": inv.tenant_id, "id": inv.id, "customer_id": inv.customer_id, "number": inv.number,
        "status": inv.status.value, "currency": inv.currency, "bill_date": inv.bill_date,
        "tax_inclusive": inv.tax_inclusive, "subtotal_minor": inv.subtotal.to_minor_units(),
        "discount_minor": inv.discount.to_minor_units(), "tax_minor": inv.tax.to_minor_units(),
        "total_minor": inv.total.to_minor_units(), "credit_applied_minor": inv.credit_applied.to_minor_units(),
        "credit_granted_minor": inv.credit_granted.to_minor_units(),
        "amount_due_minor": inv.amount_due.to_minor_units(), "amount_paid_minor": inv.amount_paid.to_minor_units(),
        "amount_credited_minor": inv.amount_credited.to_minor_units() if inv.amount_credited else 0,
        "breakdown": _breakdown_json(inv.breakdown), "notes": list(inv.notes), "memo": inv.memo,
        "parties": dict(inv.parties), "created_at": inv.created_at, "finalize_at": inv.finalize_at,
        "finalized_at": inv.finalized_at, "due_date": inv.due_date, "paid_at": inv.paid_at,
        "voided_at": inv.voided_at, "email_status": inv.email_status,
    }  # fmt: skip


def _line_rows(inv: Invoice) -> builtins.list[dict[str, Any]]:
    return [{
        "tenant_id": inv.tenant_id, "invoice_id": inv.id, "position": line.position, "customer_id": inv.customer_id,
        "item_key": line.item.key, "kind": line.item.kind.value, "account_id": line.item.account_id,
        "subscription_id": line.item.subscription_id, "product": line.item.product, "codes": sorted(line.item.codes),
        "description": line.item.description, "period_start": line.item.period_start,
        "period_end": line.item.period_end, "quantity": line.item.quantity, "unit_price": line.item.unit_price,
        "currency": inv.currency, "amount_minor": line.item.amount.to_minor_units(),
        "discount_minor": line.discount.to_minor_units(), "net_minor": line.net.to_minor_units(),
        "tax_minor": line.tax.to_minor_units(),
        "discounts": [{"redemption_id": d.redemption_id, "coupon_id": d.coupon_id,
                       "amount": d.amount.to_minor_units()} for d in line.discounts],
        "taxes": taxes_json(line.taxes), "tax_category": line.item.tax_category.value, "tax_code": line.tax_code,
        "tax_note": line.tax_note, "origin": line.item.origin,
    } for line in inv.lines]  # fmt: skip


def _item(row: sa.Row[Any]) -> Item:
    m = Money.from_minor_units
    return Item(
        key=row.item_key, kind=LineKind(row.kind), account_id=row.account_id, subscription_id=row.subscription_id,
        product=row.product, codes=frozenset(row.codes), description=row.description, period_start=row.period_start,
        period_end=row.period_end, quantity=row.quantity, unit_price=row.unit_price,
        amount=m(row.amount_minor, row.currency), tax_category=TaxCategory(row.tax_category), origin=row.origin,
    )  # fmt: skip


def _line(row: sa.Row[Any]) -> InvoiceLine:
    m = Money.from_minor_units
    return InvoiceLine(
        position=row.position, item=_item(row), discount=m(row.discount_minor, row.currency),
        discounts=tuple(AppliedDiscount(redemption_id=d["redemption_id"], coupon_id=d["coupon_id"],
                                        line_key=str(row.position), amount=m(d["amount"], row.currency))
                        for d in row.discounts),
        net=m(row.net_minor, row.currency), taxes=taxes_of(row.taxes, row.currency), tax_code=row.tax_code,
        tax_note=row.tax_note,
    )  # fmt: skip


def _invoice(row: sa.Row[Any], lines: Sequence[InvoiceLine]) -> Invoice:
    cur = row.currency

    def m(units: int) -> Money:
        return Money.from_minor_units(units, cur)

    return Invoice(
        tenant_id=row.tenant_id, id=row.id, customer_id=row.customer_id, number=row.number,
        status=InvoiceStatus(row.status), currency=cur, bill_date=row.bill_date, lines=tuple(lines),
        breakdown=_breakdown_of(row.breakdown, cur), tax_inclusive=row.tax_inclusive, subtotal=m(row.subtotal_minor),
        discount=m(row.discount_minor), tax=m(row.tax_minor), total=m(row.total_minor),
        credit_applied=m(row.credit_applied_minor), credit_granted=m(row.credit_granted_minor),
        amount_due=m(row.amount_due_minor), amount_paid=m(row.amount_paid_minor),
        amount_credited=m(row.amount_credited_minor) if row.amount_credited_minor else None, notes=tuple(row.notes),
        memo=row.memo, parties=row.parties, created_at=row.created_at, finalize_at=row.finalize_at,
        finalized_at=row.finalized_at, due_date=row.due_date, paid_at=row.paid_at, voided_at=row.voided_at,
        email_status=row.email_status,
    )  # fmt: skip


class Invoices:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, invoice: Invoice) -> None:
        self.conn.execute(invoices.insert().values(**_invoice_row(invoice)))
        if invoice.lines:
            self.conn.execute(invoice_lines.insert(), _line_rows(invoice))

    def save(self, invoice: Invoice, *, replace_lines: bool = False) -> None:
        """Write a changed invoice. Only a draft's lines are replaced (it is composed again); the service
        never asks it for a finalized one."""
        c = invoices.c
        self.conn.execute(invoices.update().where(c.tenant_id == invoice.tenant_id, c.id == invoice.id)
                          .values(**_invoice_row(invoice)))  # fmt: skip
        if replace_lines:
            lc = invoice_lines.c
            self.conn.execute(invoice_lines.delete().where(lc.tenant_id == invoice.tenant_id,
                                                           lc.invoice_id == invoice.id))  # fmt: skip
            if invoice.lines:
                self.conn.execute(invoice_lines.insert(), _line_rows(invoice))

    def delete_draft(self, tenant_id: str, invoice_id: str) -> None:
        """A draft with nothing left to bill goes away (a finalized invoice never does)."""
        lc, c = invoice_lines.c, invoices.c
        self.conn.execute(
            invoice_lines.delete().where(lc.tenant_id == tenant_id, lc.invoice_id == invoice_id)
        )
        self.conn.execute(invoices.delete().where(c.tenant_id == tenant_id, c.id == invoice_id,
                                                  c.status == InvoiceStatus.DRAFT.value))  # fmt: skip

    def _lines(self, tenant_id: str, invoice_ids: Sequence[str]) -> dict[str, list[InvoiceLine]]:
        out: dict[str, list[InvoiceLine]] = {i: [] for i in invoice_ids}
        if not invoice_ids:
            return out
        lc = invoice_lines.c
        query = sa.select(invoice_lines).where(
            lc.tenant_id == tenant_id, lc.invoice_id.in_(list(invoice_ids))
        )
        for row in self.conn.execute(query.order_by(lc.invoice_id, lc.position)):
            out[row.invoice_id].append(_line(row))
        return out

    def get(self, tenant_id: str, invoice_id: str, *, for_update: bool = False) -> Invoice:
        c = invoices.c
        query = sa.select(invoices).where(c.tenant_id == tenant_id, c.id == invoice_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("invoice", invoice_id)
        return _invoice(row, self._lines(tenant_id, [invoice_id])[invoice_id])

    def by_number(self, tenant_id: str, number: str) -> Invoice:
        c = invoices.c
        row = self.conn.execute(
            sa.select(invoices.c.id).where(c.tenant_id == tenant_id, c.number == number)
        ).first()
        if row is None:
            raise NotFound("invoice", number)
        return self.get(tenant_id, row.id)

    def for_bill_date(self, tenant_id: str, customer_id: str, bill_date: date) -> Invoice | None:
        c = invoices.c
        row = self.conn.execute(sa.select(invoices.c.id).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id, c.bill_date == bill_date)).first()  # fmt: skip
        return None if row is None else self.get(tenant_id, row.id, for_update=True)

    def list(
        self, tenant_id: str, *, limit: int, cursor: str | None, customer_id: str | None = None,
        status: str | None = None,
    ) -> Page[Invoice]:  # fmt: skip
        c = invoices.c
        query = sa.select(invoices).where(c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        if status is not None:
            query = query.where(c.status == status)
        rows = page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=lambda r: r)
        lines = self._lines(tenant_id, [r.id for r in rows.items])
        return Page(items=[_invoice(r, lines[r.id]) for r in rows.items], has_more=rows.has_more,
                    next_cursor=rows.next_cursor)  # fmt: skip

    def of_customer(self, tenant_id: str, customer_id: str) -> builtins.list[Invoice]:
        c = invoices.c
        rows = list(self.conn.execute(sa.select(invoices).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
                                      .order_by(c.created_at, c.id)))  # fmt: skip
        lines = self._lines(tenant_id, [r.id for r in rows])
        return [_invoice(r, lines[r.id]) for r in rows]

    def open_of_customer(self, tenant_id: str, customer_id: str) -> builtins.list[Invoice]:
        return self.open(tenant_id, customer_id=customer_id)

    def open(self, tenant_id: str, *, customer_id: str | None = None) -> builtins.list[Invoice]:
        """Finalized invoices still owed (open, or written off and payable after all), oldest due first;
        without their lines (what collections, aging and matching need is in the row)."""
        c = invoices.c
        query = sa.select(invoices).where(c.tenant_id == tenant_id, c.status.in_(("open", "uncollectible")))
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        rows = self.conn.execute(query.order_by(c.due_date, c.number)).all()
        return [_invoice(r, []) for r in rows]

    def billed(
        self, tenant_id: str, customer_id: str, *, excluding: str | None = None
    ) -> builtins.list[Billed]:
        """Everything billed to this paying customer under a billing key: the lines of its invoices (all but
        `excluding`, the draft being composed again) and the lines of bill-run credit notes."""
        lc = invoice_lines.c
        ic = invoices.c
        query = (
            sa.select(invoice_lines, ic.status)
            .join(invoices, sa.and_(ic.tenant_id == lc.tenant_id, ic.id == lc.invoice_id))
            # lines written by hand are no bill run's to recompute: no key of theirs is ever "should bill"
            .where(lc.tenant_id == tenant_id, lc.customer_id == customer_id, lc.kind != LineKind.MANUAL.value)
        )
        if excluding is not None:
            query = query.where(lc.invoice_id != excluding)
        out = [Billed(key=r.item_key, amount=Money.from_minor_units(r.amount_minor, r.currency), invoice_id=r.invoice_id,
                      position=r.position, finalized=r.status != InvoiceStatus.DRAFT.value, item=_item(r))
               for r in self.conn.execute(query)]  # fmt: skip
        nc = credit_note_lines.c
        corrections = sa.select(credit_note_lines).where(nc.tenant_id == tenant_id, nc.customer_id == customer_id,
                                                          nc.automatic.is_(True))  # fmt: skip
        for r in self.conn.execute(corrections):
            before_discount = Money.from_minor_units(-(r.net_minor + r.discount_minor), r.currency)
            out.append(Billed(key=r.item_key, amount=before_discount, invoice_id=r.invoice_id, position=r.position,
                              finalized=True))  # fmt: skip
        return out

    def drafts_due(self, tenant_id: str, before: datetime) -> builtins.list[str]:
        c = invoices.c
        query = sa.select(c.id).where(c.tenant_id == tenant_id, c.status == InvoiceStatus.DRAFT.value,
                                      c.finalize_at <= before)  # fmt: skip
        return [r.id for r in self.conn.execute(query.order_by(c.finalize_at, c.id))]

    def next_number(self, tenant_id: str, series: str) -> int:
        """The next number in a series, gapless: the sequence row stays locked until the transaction ends,
        so concurrent finalizations queue and a rolled-back one gives its number back."""
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert(number_sequences).values(tenant_id=tenant_id, series=series, last=1)
        upsert = statement.on_conflict_do_update(
            index_elements=["tenant_id", "series"], set_={"last": number_sequences.c.last + 1}
        ).returning(number_sequences.c.last)
        return int(self.conn.execute(upsert).scalar_one())

    def set_email_status(self, tenant_id: str, invoice_id: str, status: str) -> None:
        c = invoices.c
        self.conn.execute(invoices.update().where(c.tenant_id == tenant_id, c.id == invoice_id)
                          .values(email_status=status))  # fmt: skip
