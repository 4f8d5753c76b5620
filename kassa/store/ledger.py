"""The general ledger: the tenant's chart of accounts and its append-only journal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

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
from kassa.store.tables import journal_entries, journal_postings, ledger_charts


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
