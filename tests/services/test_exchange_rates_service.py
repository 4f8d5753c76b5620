"""Exchange rates for multi-currency reports, on SQLite and PostgreSQL: an ECB file imported once (the same
file again changes nothing, not even when the file writes 1.085 as 1.0850), a corrected rate replaces the
stored one, a broken file imports nothing, the list pages newest first, and every report gets the tenant's
reporting currency with a book of only its own rates."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.reports import RateUsed
from kassa.services import exchange_rates
from kassa.services.context import ServiceContext
from kassa.store.tables import audit_events, events
from kassa.store.tables import exchange_rates as rates_table
from tests.conftest import START, SettableClock, make_tenant

D = Decimal
FRI = date(2026, 11, 20)

HISTORY = (
    "Date,USD,JPY,BGN,CYP,GBP,CHF,\n"
    "2026-11-20,1.085,161.64,N/A,N/A,0.85,0.93,\n"
    "2026-11-19,1.0832,160.9,N/A,N/A,0.8488,N/A,\n"
    "2022-02-28,1.124,129.27,1.9558,N/A,0.8379,1.0336,\n"
)
DAILY_CORRECTED = "Date, USD, JPY, GBP, CHF, \n20 November 2026, 1.0850, 161.7, 0.85000, 0.9300, \n"


def _rows(ctx: ServiceContext) -> list[tuple[Any, ...]]:
    c = rates_table.c
    with ctx.engine.connect() as conn:
        query = sa.select(c.tenant_id, c.base, c.currency, c.day, c.rate, c.source, c.imported_at)
        return [tuple(r) for r in conn.execute(query.order_by(c.tenant_id, c.day, c.currency))]


def _logged(ctx: ServiceContext) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with ctx.engine.connect() as conn:
        audit = conn.execute(sa.select(audit_events.c.action, audit_events.c.object_id)
                             .where(audit_events.c.action == "exchange_rates.imported")).all()  # fmt: skip
        emitted = conn.execute(sa.select(events.c.type, events.c.object_id, events.c.data)
                               .where(events.c.type == "exchange_rates.imported")).all()  # fmt: skip
    return [tuple(a) for a in audit], [tuple(e) for e in emitted]


def test_an_ecb_history_is_imported_with_a_summary_an_audit_entry_and_an_event(
    ctx: ServiceContext, actor: Actor
) -> None:
    """Three days of the ECB's history: 11 rates (N/A cells and the withdrawn BGN and CYP skipped), stored as
    published with the file's name and the import's time; one audit entry and one exchange_rates.imported."""
    summary = exchange_rates.import_rates(ctx, actor, HISTORY, "eurofxref-hist.csv")
    import_id = summary.pop("id")
    assert import_id.startswith("fxi_")
    assert summary == {
        "object": "exchange_rates_import", "source": "eurofxref-hist.csv", "format": "ecb_history", "rows": 11,
        "days": 3, "bases": ["EUR"], "currencies": ["CHF", "GBP", "JPY", "USD"], "first_day": "2022-02-28",
        "last_day": "2026-11-20", "inserted": 11, "updated": 0, "unchanged": 0,
        "skipped_currencies": ["BGN", "CYP"],
    }  # fmt: skip
    t = actor.tenant_id
    stored = _rows(ctx)
    assert [(r[2], r[3], r[4]) for r in stored] == [
        ("CHF", date(2022, 2, 28), D("1.0336")), ("GBP", date(2022, 2, 28), D("0.8379")),
        ("JPY", date(2022, 2, 28), D("129.27")), ("USD", date(2022, 2, 28), D("1.124")),
        ("GBP", date(2026, 11, 19), D("0.8488")), ("JPY", date(2026, 11, 19), D("160.9")),
        ("USD", date(2026, 11, 19), D("1.0832")), ("CHF", FRI, D("0.93")), ("GBP", FRI, D("0.85")),
        ("JPY", FRI, D("161.64")), ("USD", FRI, D("1.085")),
    ]  # fmt: skip
    assert {(r[0], r[1], r[5], r[6]) for r in stored} == {(t, "EUR", "eurofxref-hist.csv", START)}
    audit, emitted = _logged(ctx)
    assert audit == [("exchange_rates.imported", import_id)]
    assert [(e[0], e[1], e[2]["inserted"], e[2]["last_day"]) for e in emitted] == [
        ("exchange_rates.imported", import_id, 11, "2026-11-20")
    ]


def test_the_same_file_again_changes_nothing(ctx: ServiceContext, actor: Actor, clock: SettableClock) -> None:
    """Re-importing is idempotent: every rate unchanged, no row rewritten (source and imported_at stay those of
    the first import), no audit entry, no event; 1.0850 in the daily file equals the 1.085 stored."""
    exchange_rates.import_rates(ctx, actor, HISTORY, "eurofxref-hist.csv")
    before, logged = _rows(ctx), _logged(ctx)
    clock.advance(timedelta(days=1))
    again = exchange_rates.import_rates(ctx, actor, HISTORY, "eurofxref-hist (1).csv")
    assert (again["id"], again["inserted"], again["updated"], again["unchanged"]) == (None, 0, 0, 11)
    same_day = "Date, USD, GBP, \n20 November 2026, 1.0850, 0.850, \n"
    daily = exchange_rates.import_rates(ctx, actor, same_day, "eurofxref.csv")
    assert (daily["format"], daily["inserted"], daily["updated"], daily["unchanged"]) == (
        "ecb_daily",
        0,
        0,
        2,
    )
    assert _rows(ctx) == before
    assert _logged(ctx) == logged


def test_a_corrected_rate_replaces_the_one_stored_for_its_day(
    ctx: ServiceContext, actor: Actor, clock: SettableClock
) -> None:
    """The ECB's daily file with JPY corrected to 161.7 for Friday: that one row takes the new rate, source and
    time; the three equal rates are left alone; the older days are untouched."""
    exchange_rates.import_rates(ctx, actor, HISTORY, "eurofxref-hist.csv")
    clock.advance(timedelta(hours=2))
    summary = exchange_rates.import_rates(ctx, actor, DAILY_CORRECTED, "eurofxref.csv")
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 1, 3)
    changed = [(r[2], r[3], r[4], r[5], r[6]) for r in _rows(ctx) if r[5] != "eurofxref-hist.csv"]
    assert changed == [("JPY", FRI, D("161.7"), "eurofxref.csv", START + timedelta(hours=2))]
    assert len(_rows(ctx)) == 11
    assert len(_logged(ctx)[0]) == 2


def test_a_broken_file_imports_nothing(ctx: ServiceContext, actor: Actor) -> None:
    """A wrong rate on the last line refuses the whole file: no rate stored, nothing logged; an empty source
    name and a file above 20 MB are refused before reading."""
    broken = HISTORY + "2022-02-25,1.12,129.1,N/A,N/A,-0.84,1.03,\n"
    with pytest.raises(DomainError) as raised:
        exchange_rates.import_rates(ctx, actor, broken, "eurofxref-hist.csv")
    assert (raised.value.code, raised.value.field) == ("invalid_rate", "line 5")
    assert _rows(ctx) == [] and _logged(ctx) == ([], [])
    with pytest.raises(DomainError) as raised:
        exchange_rates.import_rates(ctx, actor, HISTORY, "  ")
    assert (raised.value.code, raised.value.field) == ("invalid_source", "source")
    with pytest.raises(DomainError) as raised:
        exchange_rates.import_rates(ctx, actor, "x" * (exchange_rates.MAX_FILE + 1), "big.csv")
    assert (raised.value.code, raised.value.field) == ("file_too_large", "file")


def test_the_list_pages_newest_first_and_filters(ctx: ServiceContext, actor: Actor) -> None:
    """Newest day first, then base and currency; pages follow the cursor without gaps or repeats; filters
    by quoted currency, base and days (both included)."""
    exchange_rates.import_rates(ctx, actor, HISTORY, "eurofxref-hist.csv")
    seen, cursor = [], None
    while True:
        page = exchange_rates.list_rates(ctx, actor, limit=4, cursor=cursor)
        seen += [(r.rate.day, r.rate.currency) for r in page.items]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert seen == [
        (FRI, "CHF"), (FRI, "GBP"), (FRI, "JPY"), (FRI, "USD"), (date(2026, 11, 19), "GBP"),
        (date(2026, 11, 19), "JPY"), (date(2026, 11, 19), "USD"), (date(2022, 2, 28), "CHF"),
        (date(2022, 2, 28), "GBP"), (date(2022, 2, 28), "JPY"), (date(2022, 2, 28), "USD"),
    ]  # fmt: skip
    usd = exchange_rates.list_rates(ctx, actor, currency="USD", from_day=date(2026, 1, 1), to_day=FRI)
    assert [(r.rate.day, r.rate.rate) for r in usd.items] == [
        (FRI, D("1.085")),
        (date(2026, 11, 19), D("1.0832")),
    ]
    assert exchange_rates.list_rates(ctx, actor, base="USD").items == []
    with pytest.raises(DomainError) as raised:
        exchange_rates.list_rates(ctx, actor, from_day=FRI, to_day=date(2026, 11, 19))
    assert (raised.value.code, raised.value.field) == ("invalid_date_range", "to")


def test_reporting_gives_the_reporting_currency_and_only_the_tenants_own_rates(
    ctx: ServiceContext, actor: Actor
) -> None:
    """A tenant invoicing in USD that reports in EUR gets ("EUR", its book): 100.00 USD on Sunday 22 November
    is 92.17 EUR at Friday's 1.085. Another tenant's rates are not in the book (missing_exchange_rate). Asked
    for the currencies a report holds, the book has just the rates converting them (GBP → USD crosses
    through EUR; JPY was not asked for)."""
    other = make_tenant(ctx, "Globex", default_currency="USD", reporting_currency="EUR")
    exchange_rates.import_rates(ctx, actor, HISTORY, "eurofxref-hist.csv")
    with ctx.uow(read_only=True) as uow:
        mine = exchange_rates.reporting(uow, actor.tenant_id)
        theirs = exchange_rates.reporting(uow, uow.tenants.get(other.id))
        some = exchange_rates.reporting(uow, actor.tenant_id, currencies=["USD", "GBP"])
    assert mine[0] == "EUR" and theirs[0] == "EUR"
    assert mine[1].convert(Money(D("100.00"), "USD"), "EUR", date(2026, 11, 22)) == (
        Money(D("92.17"), "EUR"), RateUsed(currency="USD", rate=D("0.921658986175"), day=FRI))  # fmt: skip
    with pytest.raises(DomainError) as raised:
        theirs[1].convert(Money(D("100.00"), "USD"), "EUR", date(2026, 11, 22))
    assert raised.value.code == "missing_exchange_rate"
    assert some[1].convert(Money(D("100.14"), "GBP"), "USD", FRI)[0] == Money(D("127.83"), "USD")
    assert some[1].convert(Money(D("100.00"), "USD"), "EUR", FRI)[0] == Money(D("92.17"), "EUR")
    with pytest.raises(DomainError) as raised:
        some[1].convert(Money(D("100"), "JPY"), "EUR", FRI)
    assert raised.value.code == "missing_exchange_rate"
