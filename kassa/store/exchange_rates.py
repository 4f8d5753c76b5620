"""Imported exchange rates: one row per (tenant, base, currency, day), written as published."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kassa.core.errors import DomainError
from kassa.core.exchange_rates import ExchangeRate, RateBook
from kassa.core.pages import Page
from kassa.store.tables import exchange_rates

CHUNK = (
    5_000  # rows per statement: one IN list or one multi-row upsert stays well inside both databases' limits
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRate:
    tenant_id: str
    rate: ExchangeRate
    source: str
    imported_at: datetime

    def to_json(self) -> dict[str, Any]:
        r = self.rate
        return {"object": "exchange_rate", "base": r.base, "currency": r.currency, "date": r.day.isoformat(),
                "rate": format(r.rate, "f"), "source": self.source,
                "imported_at": self.imported_at.isoformat().replace("+00:00", "Z")}  # fmt: skip

    @property
    def cursor(self) -> str:
        return f"{self.rate.day.isoformat()}.{self.rate.base}.{self.rate.currency}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Upserted:
    inserted: int  # (base, currency, day) not seen before
    updated: int  # a corrected rate replaced the one stored
    unchanged: int  # the same rate again: its row (source, imported_at) is left as it was


def _stored(r: sa.Row[Any]) -> StoredRate:
    return StoredRate(
        tenant_id=r.tenant_id,
        rate=ExchangeRate(base=r.base, currency=r.currency, day=r.day, rate=r.rate),
        source=r.source,
        imported_at=r.imported_at,
    )


def parse_cursor(cursor: str) -> tuple[date, str, str]:
    day, _, rest = cursor.partition(".")
    base, _, currency = rest.partition(".")
    try:
        return date.fromisoformat(day), base, currency
    except ValueError:
        raise DomainError("invalid_cursor", "Pass the next_cursor of the previous page.", "cursor") from None


class ExchangeRates:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def upsert(self, tenant_id: str, rates: Sequence[ExchangeRate], *, source: str, at: datetime) -> Upserted:
        """Write what is new or corrected; a rate equal by value to the stored one leaves its row alone, so
        importing the same file again changes nothing. Equality is by value (1.0850 == 1.085)."""
        rates = list({(r.base, r.currency, r.day): r for r in rates}.values())  # the last of a key counts
        if not rates:
            return Upserted(inserted=0, updated=0, unchanged=0)
        stored = self._stored(tenant_id, rates)
        fresh, corrected = [], 0
        for r in rates:
            known = stored.get((r.base, r.currency, r.day))
            if known is not None and known == r.rate:
                continue
            corrected += known is not None
            fresh.append({"tenant_id": tenant_id, "base": r.base, "currency": r.currency, "day": r.day,
                          "rate": r.rate, "source": source, "imported_at": at})  # fmt: skip
        insert = (postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert)(
            exchange_rates
        )
        # ON CONFLICT, not a plain insert: an import running at the same time may have written the row since
        upsert = insert.on_conflict_do_update(
            index_elements=["tenant_id", "base", "currency", "day"],
            set_={"rate": insert.excluded.rate, "source": insert.excluded.source,
                  "imported_at": insert.excluded.imported_at},
        )  # fmt: skip
        for start in range(0, len(fresh), CHUNK):
            self.conn.execute(upsert, fresh[start : start + CHUNK])
        return Upserted(inserted=len(fresh) - corrected, updated=corrected, unchanged=len(rates) - len(fresh))

    def _stored(self, tenant_id: str, rates: Sequence[ExchangeRate]) -> dict[tuple[str, str, date], Decimal]:
        """The stored rates of the pairs and days the file covers, in one query per pair of currencies."""
        c = exchange_rates.c
        pairs = sorted({(r.base, r.currency) for r in rates})
        first, last = min(r.day for r in rates), max(r.day for r in rates)
        out: dict[tuple[str, str, date], Decimal] = {}
        for base, currency in pairs:
            query = sa.select(c.day, c.rate).where(
                c.tenant_id == tenant_id,
                c.base == base,
                c.currency == currency,
                c.day >= first,
                c.day <= last,
            )
            for row in self.conn.execute(query):
                out[(base, currency, row.day)] = row.rate
        return out

    def book(self, tenant_id: str, currencies: Iterable[str] | None = None) -> RateBook:
        """All of a tenant's rates (an ECB history since 1999 is about 200,000 rows), or only what converting
        between `currencies` can use: every route from A to B (direct, inverse, or crossed through a base)
        quotes A or B, so the rows quoting other currencies are left out."""
        c = exchange_rates.c
        query = sa.select(c.base, c.currency, c.day, c.rate).where(c.tenant_id == tenant_id)
        if currencies is not None:
            query = query.where(c.currency.in_(sorted(set(currencies))))
        return RateBook.of_quotes(tuple(row) for row in self.conn.execute(query))

    def list(
        self,
        tenant_id: str,
        *,
        currency: str | None = None,
        base: str | None = None,
        from_day: date | None = None,
        to_day: date | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[StoredRate]:
        """Newest day first, then by base and currency; `cursor` is the last item's (`day.base.currency`)."""
        c = exchange_rates.c
        query = sa.select(exchange_rates).where(c.tenant_id == tenant_id)
        if currency is not None:
            query = query.where(c.currency == currency)
        if base is not None:
            query = query.where(c.base == base)
        if from_day is not None:
            query = query.where(c.day >= from_day)
        if to_day is not None:
            query = query.where(c.day <= to_day)
        after = parse_cursor(cursor) if cursor is not None else None
        if after is not None:
            day, after_base, after_currency = after
            query = query.where(
                sa.or_(
                    c.day < day,
                    sa.and_(c.day == day, c.base > after_base),
                    sa.and_(c.day == day, c.base == after_base, c.currency > after_currency),
                )
            )
        rows = self.conn.execute(query.order_by(c.day.desc(), c.base, c.currency).limit(limit + 1)).all()
        items: builtins.list[StoredRate] = [_stored(r) for r in rows[:limit]]
        has_more = len(rows) > limit
        return Page(items=items, has_more=has_more, next_cursor=items[-1].cursor if has_more else None)

    def count(self, tenant_id: str) -> int:
        c = exchange_rates.c
        return int(
            self.conn.execute(
                sa.select(sa.func.count()).select_from(exchange_rates).where(c.tenant_id == tenant_id)
            ).scalar_one()
        )
