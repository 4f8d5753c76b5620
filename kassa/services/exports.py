"""Exports for accounting (docs/ledger.md): the journal and the invoices as CSV, and the general ledger in
the import format of an accounting package (Xero's manual journal CSV).

An export is validated when asked for, then streamed: rows are read in batches inside one read-only
transaction while the file is written, so a year of postings never sits in memory at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.money import currency_code
from kassa.core.periods import local_day, start_of
from kassa.core.reports import defused
from kassa.services.context import ServiceContext
from kassa.services.ledger import date_range

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)
BATCH = 500  # rows per chunk written
MAX_TAX_RATE = 100

JOURNAL_COLUMNS = (
    "entry_id", "booked_on", "effective_on", "posted_at", "source_type", "source_id", "description", "account",
    "account_name", "debit", "credit", "currency", "memo", "note",
)  # fmt: skip
INVOICE_COLUMNS = (
    "number", "invoice_id", "finalized_on", "bill_date", "due_date", "customer_id", "customer_name", "currency",
    "subtotal", "discount", "tax", "total", "credit_applied", "amount_due", "amount_paid", "credited", "status",
)  # fmt: skip
# Xero's manual journal import template (Accounting › Manual Journals › Import): the asterisk marks the
# columns Xero requires; amounts are signed (positive debit, negative credit); dates dd/mm/yyyy.
XERO_COLUMNS = (
    "*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
    "TrackingOption1", "TrackingName2", "TrackingOption2",
)  # fmt: skip
XERO_TAX_RATE = "Tax Exempt"  # tax is already on its own account in kassa's entries: no tax on the lines


class GeneralLedgerFormat(StrEnum):
    XERO = "xero"


@dataclass(frozen=True, slots=True, kw_only=True)
class Export:
    filename: str
    chunks: Iterator[str]  # the CSV text, a batch of rows at a time
    media_type: str = "text/csv; charset=utf-8"


def _day(value: Any, field: str) -> date | None:
    if value is not None and (not isinstance(value, date) or not FIRST_DAY <= value <= LAST_DAY):
        raise DomainError("invalid_date", f"Give a day from {FIRST_DAY} to {LAST_DAY}.", field)
    return value


def _range(ctx: ServiceContext, actor: Actor, start: Any, end: Any) -> tuple[date, date]:
    """The days asked for (default: this month to date in the tenant's calendar)."""
    return date_range(ctx, actor.tenant_id, _day(start, "from"), _day(end, "to"))


def _text(value: str | None) -> str:
    return defused(value) if value else ""


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % BATCH == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def journal_entries(ctx: ServiceContext, actor: Actor, start: date | None, end: date | None) -> Export:
    """One row per posting booked from `start` to `end` (both included), in ledger order."""
    first, last = _range(ctx, actor, start, end)

    def rows() -> Iterator[Sequence[str]]:
        with ctx.uow(read_only=True) as uow:
            names = {a.code: a.name for a in uow.ledger.chart(actor.tenant_id).accounts}
            for m in uow.ledger.journal(actor.tenant_id, first, last):
                yield (m.entry_id, m.booked_on.isoformat(), m.effective_on.isoformat() if m.effective_on else "",
                       m.posted_at.isoformat(), m.source_type, m.source_id, _text(m.description), m.account,
                       _text(names.get(m.account, m.account)), m.debit.amount_text() if m.debit.amount else "",
                       m.credit.amount_text() if m.credit.amount else "", m.currency, _text(m.memo),
                       _text(m.note))  # fmt: skip

    return Export(filename=f"journal_entries_{first}_{last}.csv", chunks=_csv(JOURNAL_COLUMNS, rows()))


def invoices(ctx: ServiceContext, actor: Actor, start: date | None, end: date | None) -> Export:
    """One row per invoice finalized from `start` to `end` (days in the tenant's time zone, both included)."""
    first, last = _range(ctx, actor, start, end)

    def rows() -> Iterator[Sequence[str]]:
        with ctx.uow(read_only=True) as uow:
            zone = uow.tenants.get(actor.tenant_id).settings.time_zone
            found = uow.ledger.finalized_invoices(
                actor.tenant_id, start_of(first, zone), start_of(last + timedelta(days=1), zone)
            )
            for i in found:
                yield (i.number, i.id, local_day(i.finalized_at, zone).isoformat(),
                       i.bill_date.isoformat() if i.bill_date else "", i.due_date.isoformat() if i.due_date else "",
                       i.customer_id, _text(i.customer_name), i.currency, i.subtotal.amount_text(),
                       i.discount.amount_text(), i.tax.amount_text(), i.total.amount_text(),
                       i.credit_applied.amount_text(), i.amount_due.amount_text(), i.amount_paid.amount_text(),
                       i.credited.amount_text(), i.status)  # fmt: skip

    return Export(filename=f"invoices_{first}_{last}.csv", chunks=_csv(INVOICE_COLUMNS, rows()))


def general_ledger(
    ctx: ServiceContext, actor: Actor, start: date | None, end: date | None, *, format: str = GeneralLedgerFormat.XERO,
    currency: str | None = None, tax_rate: str | None = None,
) -> Export:  # fmt: skip
    """The postings booked from `start` to `end` in one currency (default: the tenant's), as a file the
    accounting package imports: Xero manual journals, one journal per kassa entry."""
    first, last = _range(ctx, actor, start, end)
    try:
        kind = GeneralLedgerFormat(format)
    except ValueError:
        raise DomainError("invalid_format", "The general ledger format is xero.", "format") from None
    code = None if currency is None else currency_code(currency, "currency")
    rate = XERO_TAX_RATE if tax_rate is None else tax_rate.strip()
    if not 1 <= len(rate) <= MAX_TAX_RATE:
        raise DomainError(
            "invalid_tax_rate", f"A tax rate name is 1 to {MAX_TAX_RATE} characters.", "tax_rate"
        )

    def rows() -> Iterator[Sequence[str]]:
        with ctx.uow(read_only=True) as uow:
            wanted = code or uow.tenants.get(actor.tenant_id).settings.default_currency
            for m in uow.ledger.journal(actor.tenant_id, first, last, currency=wanted):
                narration = f"{m.description} ({m.entry_id})"
                yield (_text(narration), m.booked_on.strftime("%d/%m/%Y"), _text(m.memo or m.description),
                       m.account, rate, m.signed.amount_text(), "", "", "", "")  # fmt: skip

    name = f"general_ledger_{kind.value}_{first}_{last}.csv"
    return Export(filename=name, chunks=_csv(XERO_COLUMNS, rows()))
