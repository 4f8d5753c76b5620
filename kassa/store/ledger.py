"""The general ledger: the tenant's chart of accounts and its append-only journal."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.accounting_periods import Movement
from kassa.core.ledger import (
    ChartOfAccounts,
    JournalEntry,
    Posting,
    Side,
    chart_to_json,
    default_chart,
    parse_chart,
)
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.store.pages import page
from kassa.store.tables import customers, invoices, journal_entries, journal_postings, ledger_charts

LedgerKey = tuple[date, str, int]  # where a posting sorts in the general ledger: (booked_on, entry id, n)
STREAM_ROWS = 1000  # exports fetch this many rows at a time


@dataclass(frozen=True, slots=True, kw_only=True)
class InvoiceRow:
    """A finalized invoice as the accounting export lists it."""

    id: str
    number: str
    status: str
    currency: str
    finalized_at: datetime
    bill_date: date | None
    due_date: date | None
    customer_id: str
    customer_name: str  # as the invoice shows the buyer
    subtotal: Money
    discount: Money
    tax: Money
    total: Money
    credit_applied: Money
    amount_due: Money
    amount_paid: Money
    credited: Money


class Ledger:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def chart(self, tenant_id: str) -> ChartOfAccounts:
        row = self.conn.execute(
            sa.select(ledger_charts.c.doc).where(ledger_charts.c.tenant_id == tenant_id)
        ).first()
        return default_chart() if row is None else parse_chart(row.doc)

    def set_chart(self, tenant_id: str, chart: ChartOfAccounts, at: datetime) -> None:
        c = ledger_charts.c
        self.conn.execute(ledger_charts.delete().where(c.tenant_id == tenant_id))
        self.conn.execute(
            ledger_charts.insert().values(tenant_id=tenant_id, doc=chart_to_json(chart), updated_at=at)
        )

    def post(self, entry: JournalEntry) -> None:
        if entry.booked_on is None:
            raise ValueError("an entry is booked on a day before it is stored")
        self.conn.execute(journal_entries.insert().values(
            tenant_id=entry.tenant_id, id=entry.id, posted_at=entry.posted_at, source_type=entry.source_type,
            source_id=entry.source_id, description=entry.description, currency=entry.currency,
            reverses=entry.reverses, booked_on=entry.booked_on, effective_on=entry.effective_on,
            note=entry.note))  # fmt: skip
        self.conn.execute(journal_postings.insert(), [{
            "tenant_id": entry.tenant_id, "entry_id": entry.id, "n": n, "account": p.account,
            "debit_minor": p.amount.to_minor_units() if p.side is Side.DEBIT else 0,
            "credit_minor": p.amount.to_minor_units() if p.side is Side.CREDIT else 0,
            "currency": p.amount.currency, "memo": p.memo,
        } for n, p in enumerate(entry.postings, 1)])  # fmt: skip

    def _with_postings(self, tenant_id: str, rows: Sequence[sa.Row[Any]]) -> list[JournalEntry]:
        if not rows:
            return []
        pc = journal_postings.c
        by_entry: dict[str, list[Posting]] = {r.id: [] for r in rows}
        query = sa.select(journal_postings).where(pc.tenant_id == tenant_id, pc.entry_id.in_(list(by_entry)))
        for p in self.conn.execute(query.order_by(pc.entry_id, pc.n)):
            debit = p.debit_minor > 0
            by_entry[p.entry_id].append(Posting(
                account=p.account, side=Side.DEBIT if debit else Side.CREDIT,
                amount=Money.from_minor_units(p.debit_minor if debit else p.credit_minor, p.currency), memo=p.memo))  # fmt: skip
        return [JournalEntry(tenant_id=r.tenant_id, id=r.id, posted_at=r.posted_at, source_type=r.source_type,
                             source_id=r.source_id, description=r.description, currency=r.currency,
                             postings=tuple(by_entry[r.id]), reverses=r.reverses, booked_on=r.booked_on,
                             effective_on=r.effective_on, note=r.note) for r in rows]  # fmt: skip

    def entries_for(self, tenant_id: str, source_type: str, source_id: str) -> list[JournalEntry]:
        c = journal_entries.c
        rows = list(self.conn.execute(sa.select(journal_entries).where(
            c.tenant_id == tenant_id, c.source_type == source_type, c.source_id == source_id).order_by(c.id)))  # fmt: skip
        return self._with_postings(tenant_id, rows)

    def entries(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[JournalEntry]:
        c = journal_entries.c
        rows = page(self.conn, sa.select(journal_entries).where(c.tenant_id == tenant_id), c.id, limit=limit,
                    cursor=cursor, to_item=lambda r: r)  # fmt: skip
        return Page(items=self._with_postings(tenant_id, rows.items), has_more=rows.has_more,
                    next_cursor=rows.next_cursor)  # fmt: skip

    def balances(self, tenant_id: str) -> dict[tuple[str, str], Money]:
        """Per (account, currency), debit-positive: summed in SQL over BIGINT minor units."""
        pc = journal_postings.c
        query = (sa.select(pc.account, pc.currency, sa.func.sum(pc.debit_minor - pc.credit_minor).label("net"))
                 .where(pc.tenant_id == tenant_id).group_by(pc.account, pc.currency))  # fmt: skip
        return {
            (r.account, r.currency): Money.from_minor_units(int(r.net), r.currency)
            for r in self.conn.execute(query)
        }

    # ---- reports over the journal: set-based SQL over BIGINT minor units ----------------------------------

    @staticmethod
    def _postings_with_entries() -> sa.Join:
        pc, ec = journal_postings.c, journal_entries.c
        return journal_postings.join(
            journal_entries, sa.and_(ec.tenant_id == pc.tenant_id, ec.id == pc.entry_id)
        )

    def balances_as_of(self, tenant_id: str, day: date | None) -> dict[tuple[str, str], Money]:
        """Per (account, currency), debit-positive, of the entries booked on or before `day` (None: all)."""
        if day is None:
            return self.balances(tenant_id)
        pc, ec = journal_postings.c, journal_entries.c
        query = (sa.select(pc.account, pc.currency, sa.func.sum(pc.debit_minor - pc.credit_minor).label("net"))
                 .select_from(self._postings_with_entries())
                 .where(pc.tenant_id == tenant_id, ec.booked_on <= day).group_by(pc.account, pc.currency))  # fmt: skip
        return {
            (r.account, r.currency): Money.from_minor_units(int(r.net), r.currency)
            for r in self.conn.execute(query)
        }

    def first_booked_on(self, tenant_id: str) -> date | None:
        c = journal_entries.c
        return self.conn.execute(sa.select(sa.func.min(c.booked_on)).where(c.tenant_id == tenant_id)).scalar()

    def has_postings(self, tenant_id: str, account: str) -> bool:
        pc = journal_postings.c
        query = sa.select(pc.entry_id).where(pc.tenant_id == tenant_id, pc.account == account).limit(1)
        return self.conn.execute(query).first() is not None

    @staticmethod
    def _up_to(key: LedgerKey) -> sa.ColumnElement[bool]:
        """Postings that sort at or before `key` (written out: row values differ between databases)."""
        pc, ec = journal_postings.c, journal_entries.c
        day, entry_id, n = key
        return sa.or_(ec.booked_on < day, sa.and_(ec.booked_on == day, sa.or_(
            pc.entry_id < entry_id, sa.and_(pc.entry_id == entry_id, pc.n <= n))))  # fmt: skip

    def account_balance(
        self, tenant_id: str, account: str, *, before: date | None = None, until: date | None = None,
        through: LedgerKey | None = None,
    ) -> dict[str, Money]:  # fmt: skip
        """One account's balance per currency, debit-positive: of the entries booked before the day
        `before`, or on or before the day `until`, or of the postings up to and including `through`."""
        pc, ec = journal_postings.c, journal_entries.c
        query = (sa.select(pc.currency, sa.func.sum(pc.debit_minor - pc.credit_minor).label("net"))
                 .select_from(self._postings_with_entries())
                 .where(pc.tenant_id == tenant_id, pc.account == account).group_by(pc.currency))  # fmt: skip
        if before is not None:
            query = query.where(ec.booked_on < before)
        if until is not None:
            query = query.where(ec.booked_on <= until)
        if through is not None:
            query = query.where(self._up_to(through))
        return {r.currency: Money.from_minor_units(int(r.net), r.currency) for r in self.conn.execute(query)}

    def _movements_query(self, tenant_id: str, start: date, end: date) -> sa.Select[Any]:
        pc, ec = journal_postings.c, journal_entries.c
        return (sa.select(pc.entry_id, pc.n, pc.account, pc.debit_minor, pc.credit_minor, pc.currency, pc.memo,
                          ec.booked_on, ec.effective_on, ec.posted_at, ec.source_type, ec.source_id,
                          ec.description, ec.note)
                .select_from(self._postings_with_entries())
                .where(pc.tenant_id == tenant_id, ec.booked_on >= start, ec.booked_on <= end)
                .order_by(ec.booked_on, pc.entry_id, pc.n))  # fmt: skip

    @staticmethod
    def _movement(r: sa.Row[Any]) -> Movement:
        m = Money.from_minor_units
        return Movement(entry_id=r.entry_id, n=r.n, account=r.account, booked_on=r.booked_on,
                        effective_on=r.effective_on, posted_at=r.posted_at, source_type=r.source_type,
                        source_id=r.source_id, description=r.description, currency=r.currency,
                        debit=m(r.debit_minor, r.currency), credit=m(r.credit_minor, r.currency), memo=r.memo,
                        note=r.note)  # fmt: skip

    def movements(
        self, tenant_id: str, account: str, start: date, end: date, *, after: LedgerKey | None, limit: int
    ) -> tuple[list[Movement], bool]:
        """One account's postings booked from `start` to `end` (both included) in ledger order, the first
        `limit` after the key `after`; and whether there are more."""
        query = self._movements_query(tenant_id, start, end).where(journal_postings.c.account == account)
        if after is not None:
            query = query.where(sa.not_(self._up_to(after)))
        rows = self.conn.execute(query.limit(limit + 1)).all()
        return [self._movement(r) for r in rows[:limit]], len(rows) > limit

    def journal(
        self, tenant_id: str, start: date, end: date, *, currency: str | None = None
    ) -> Iterator[Movement]:
        """Every posting booked from `start` to `end`, in ledger order; streamed in batches."""
        query = self._movements_query(tenant_id, start, end)
        if currency is not None:
            query = query.where(journal_postings.c.currency == currency)
        for row in self.conn.execution_options(yield_per=STREAM_ROWS).execute(query):
            yield self._movement(row)

    def finalized_invoices(self, tenant_id: str, start: datetime, end: datetime) -> Iterator[InvoiceRow]:
        """The invoices finalized in [start, end), in the order they were finalized; streamed in batches."""
        ic, cc = invoices.c, customers.c
        query = (sa.select(invoices, cc.name.label("customer_display"), cc.legal_name.label("customer_legal"))
                 .join(customers, sa.and_(cc.tenant_id == ic.tenant_id, cc.id == ic.customer_id))
                 .where(ic.tenant_id == tenant_id, ic.finalized_at >= start, ic.finalized_at < end,
                        ic.number.is_not(None))
                 .order_by(ic.finalized_at, ic.number))  # fmt: skip
        for r in self.conn.execution_options(yield_per=STREAM_ROWS).execute(query):
            buyer = (r.parties or {}).get("buyer") or {}
            name = buyer.get("legal_name") or buyer.get("name") or r.customer_legal or r.customer_display

            def m(units: int, currency: str = r.currency) -> Money:
                return Money.from_minor_units(units, currency)

            yield InvoiceRow(
                id=r.id, number=r.number, status=r.status, currency=r.currency, finalized_at=r.finalized_at,
                bill_date=r.bill_date, due_date=r.due_date, customer_id=r.customer_id, customer_name=name,
                subtotal=m(r.subtotal_minor), discount=m(r.discount_minor), tax=m(r.tax_minor), total=m(r.total_minor),
                credit_applied=m(r.credit_applied_minor), amount_due=m(r.amount_due_minor),
                amount_paid=m(r.amount_paid_minor), credited=m(r.amount_credited_minor),
            )  # fmt: skip
