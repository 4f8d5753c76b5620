"""Exchange rates for multi-currency reports: import a rates file (the ECB's reference rates or a generic
CSV), list what was imported, and give every report the tenant's reporting currency with its rate book.

An import is one transaction: a file that fails to parse imports nothing. It is idempotent: a rate equal to
the stored one changes nothing (an import that changes nothing writes no audit entry and no event), and a
corrected rate for a day replaces the stored one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.exchange_rates import RateBook, parse_rates_file
from kassa.core.money import currency_code
from kassa.core.pages import Page, check_limit
from kassa.core.tenants import Tenant
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.exchange_rates import StoredRate
from kassa.store.uow import UnitOfWork

MAX_FILE = 20 * 1024 * 1024  # characters: the ECB's history since 1999 is about 2 MB
MAX_SOURCE = 100


def _source(source: object) -> str:
    text = source.strip() if isinstance(source, str) else ""
    if not text or len(text) > MAX_SOURCE:
        raise DomainError("invalid_source", f"source names the file, 1 to {MAX_SOURCE} characters.", "source")
    return text


def import_rates(ctx: ServiceContext, actor: Actor, content: str, source: str) -> dict[str, Any]:
    """Read a rates file and store its rates; the summary says what it held and what changed."""
    if len(content) > MAX_FILE:
        raise DomainError(
            "file_too_large", f"A rates file is at most {MAX_FILE // (1024 * 1024)} MB.", "file"
        )
    name = _source(source)
    found = parse_rates_file(content)
    days = found.days
    with ctx.uow() as uow:
        now = ctx.clock.now()
        written = uow.exchange_rates.upsert(actor.tenant_id, found.rates, source=name, at=now)
        summary: dict[str, Any] = {
            "object": "exchange_rates_import", "source": name, "format": found.format.value,
            "rows": len(found.rates), "days": len(days), "bases": list(found.bases),
            "currencies": list(found.currencies), "first_day": days[0].isoformat(),
            "last_day": days[-1].isoformat(), "inserted": written.inserted, "updated": written.updated,
            "unchanged": written.unchanged, "skipped_currencies": list(found.skipped_currencies),
        }  # fmt: skip
        if written.inserted or written.updated:
            summary["id"] = ctx.new_id("fxi")
            audit.changed(ctx, uow, actor, EventType.EXCHANGE_RATES_IMPORTED, object_type="exchange_rates_import",
                          object_id=summary["id"], before=None, after=summary, at=now)  # fmt: skip
            uow.commit()
        else:
            summary["id"] = None  # nothing new: nothing was written
    return summary


def list_rates(
    ctx: ServiceContext,
    actor: Actor,
    *,
    currency: str | None = None,
    base: str | None = None,
    from_day: date | None = None,
    to_day: date | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[StoredRate]:
    """The imported rates, newest day first; filtered by quoted currency, base and days (both included)."""
    if currency is not None:
        currency = currency_code(currency, "currency")
    if base is not None:
        base = currency_code(base, "base")
    if from_day is not None and to_day is not None and to_day < from_day:
        raise DomainError("invalid_date_range", "`to` is before `from`.", "to")
    with ctx.uow(read_only=True) as uow:
        return uow.exchange_rates.list(
            actor.tenant_id, currency=currency, base=base, from_day=from_day, to_day=to_day,
            limit=check_limit(limit), cursor=cursor,
        )  # fmt: skip


def reporting(
    uow: UnitOfWork, tenant: Tenant | str, currencies: Iterable[str] | None = None
) -> tuple[str, RateBook]:
    """The tenant's reporting currency (its default currency unless set) and the rates it imported, for a
    report to convert with: `book.convert(money, currency, on=day)` (missing_exchange_rate when none).
    `currencies`, when known: every currency the report converts from or into (the reporting currency is
    added); only the rates that can convert between them are read (an ECB history holds 30 currencies)."""
    found = uow.tenants.get(tenant) if isinstance(tenant, str) else tenant
    currency = found.settings.reporting_currency or found.settings.default_currency
    codes = None if currencies is None else {currency, *currencies}
    return currency, uow.exchange_rates.book(found.id, codes)
