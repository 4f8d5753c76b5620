"""Revenue recognition: schedules written with the documents that bill, and a daily run that posts what
each day earned (rules in `kassa.core.revenue`, docs/revenue.md).

Documents call in inside their own transaction: an invoice's schedule is written when it is finalized,
credit notes, voids and write-offs add reductions, and each returns what the document's own entry must
post (`AtPosting`). The recognition job runs at the start of each local day for customers on the system
clock (one tenant-wide job) and per customer for those on a test clock, and a month is recognized to its
end before it closes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from kassa.core.accounting_periods import booking
from kassa.core.audit import Actor, system_actor
from kassa.core.credit_notes import CreditNote
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice
from kassa.core.jobs import Job
from kassa.core.money import Money
from kassa.core.periods import local_day, start_of
from kassa.core.revenue import (
    DAY,
    AtPosting,
    Document,
    Recognized,
    ScheduleRow,
    at_posting,
    line_schedule,
    recognition_entry,
    recognize,
    recognized_by,
    reduction_schedule,
    split,
    summed,
)
from kassa.services import accounting_periods, audit, jobs
from kassa.services.context import ServiceContext
from kassa.services.ledger import post
from kassa.store.uow import UnitOfWork

RECOGNIZE_JOB = "revenue.recognize"


def _document(uow: UnitOfWork, invoice: Invoice, source_type: str, source_id: str, day: date,
              now: datetime) -> Document:  # fmt: skip
    """The document as the books see it: read under the books lock, so no month closes before it is posted;
    dated in a closed month, it is billed on the first open day, where its own entry is booked."""
    uow.accounting_periods.lock_books(invoice.tenant_id, exclusive=False)
    closed = uow.accounting_periods.closed_through(invoice.tenant_id)
    billed_on, _, _ = booking(day, closed)
    return Document(tenant_id=invoice.tenant_id, customer_id=invoice.customer_id, invoice_id=invoice.id,
                    source_type=source_type, source_id=source_id, currency=invoice.currency, billed_on=billed_on,
                    closed_through=closed, created_at=now)  # fmt: skip


def _write(ctx: ServiceContext, uow: UnitOfWork, rows: Sequence[ScheduleRow], day: date,
           now: datetime) -> AtPosting | None:  # fmt: skip
    """Store new rows recognized through their document's day; post what was earned on earlier days."""
    if not rows:
        return None
    posting, rows = at_posting(rows, rows[0].currency, day)
    uow.revenue_schedules.add(rows)
    _post(ctx, uow, rows[0].tenant_id, posting.earlier, now, rows[0].source_id)
    _schedule_next(ctx, uow, rows[0].tenant_id, rows[0].customer_id, day)
    return posting


def _post(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, sums: Iterable[Recognized], now: datetime,
          run_id: str) -> None:  # fmt: skip
    chart = uow.ledger.chart(tenant_id)
    for s in sums:
        post(uow, lambda s=s: recognition_entry(chart, s, tenant_id=tenant_id, id=ctx.new_id("je"),  # type: ignore[misc]
                                                  posted_at=now, run_id=run_id))  # fmt: skip


def on_invoice(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, plan_codes: Iterable[str], day: date,
               now: datetime) -> AtPosting | None:  # fmt: skip
    """The schedule of a finalized invoice's lines."""
    doc = _document(uow, invoice, "invoice", invoice.id, day, now)
    plans = set(plan_codes)
    rows = [r for line in invoice.lines for r in line_schedule(doc, line, lambda: ctx.new_id("rev"), plans)]
    return _write(ctx, uow, rows, day, now)


def _originals(uow: UnitOfWork, invoice: Invoice) -> dict[int, list[ScheduleRow]]:
    by_line: dict[int, list[ScheduleRow]] = defaultdict(list)
    for row in uow.revenue_schedules.of_invoice(invoice.tenant_id, invoice.id):
        if row.source_type == "invoice":
            by_line[row.position].append(row)
    return by_line


def on_credit_note(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, note: CreditNote, day: date,
                   now: datetime) -> AtPosting | None:  # fmt: skip
    """A credit note's reductions, spread like the lines it credits; None for an invoice finalized before
    recognition (its revenue was booked whole)."""
    originals = _originals(uow, invoice)
    if not originals:
        return None
    doc = _document(uow, invoice, "credit_note", note.id, day, now)
    rows = [r for line in note.lines for r in reduction_schedule(
        doc, originals.get(line.position, []), -(line.net + line.discount).to_minor_units(),
        -line.discount.to_minor_units(), lambda: ctx.new_id("rev"))]  # fmt: skip
    return _write(ctx, uow, rows, day, now) or _nothing(invoice.currency)


def on_void(
    ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, day: date, now: datetime
) -> AtPosting | None:
    """Everything the invoice's lines would recognize, taken back: what is past at once, the rest daily."""
    originals = _originals(uow, invoice)
    if not originals:
        return None
    doc = _document(uow, invoice, "invoice_void", invoice.id, day, now)
    rows = [r for reduced in originals.values() for r in reduction_schedule(
        doc, reduced, -sum(x.amount for x in reduced), -sum(x.discount for x in reduced),
        lambda: ctx.new_id("rev"))]  # fmt: skip
    return _write(ctx, uow, rows, day, now) or _nothing(invoice.currency)


def on_write_off(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, open_amount: Money, day: date,
                 now: datetime) -> Money:  # fmt: skip
    """Revenue not yet earned on an invoice written off is released, up to what is written off: returns it."""
    lines: dict[int, list[ScheduleRow]] = defaultdict(list)
    for row in uow.revenue_schedules.of_invoice(invoice.tenant_id, invoice.id):
        lines[row.position].append(row)
    # what each line has still to earn, net of what credit notes already take off it; released from the
    # rows still to come in proportion to what each of them has left
    unearned = {p: sum(r.net - recognized_by(r, day)[2] for r in rows) for p, rows in lines.items()}
    unearned = {p: u for p, u in unearned.items() if u > 0}
    release = min(sum(unearned.values()), open_amount.to_minor_units())
    if release <= 0:
        return Money.zero(invoice.currency)
    doc = _document(uow, invoice, "write_off", invoice.id, day, now)
    reduced = [r for p, part in zip(unearned, split(-release, list(unearned.values())), strict=True)
               for r in reduction_schedule(doc, [r for r in lines[p] if r.net - recognized_by(r, day)[2] > 0], part, 0,
                                           lambda: ctx.new_id("rev"), future_only=True)]  # fmt: skip
    _write(ctx, uow, reduced, day, now)
    return Money.from_minor_units(release, invoice.currency)


def _nothing(currency: str) -> AtPosting:
    zero = Money.zero(currency)
    return AtPosting(revenue={}, discounts=zero, unbilled=zero, deferred=zero, earlier=())


# ---- the daily run -------------------------------------------------------------------------------------


def recognize_through(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, through: date, now: datetime,
                      customer_id: str | None = None, every_customer: bool = False) -> list[Recognized]:  # fmt: skip
    """Post what rows earned up to the end of `through`: one entry per currency and day booked."""
    # under the books lock (no month closes meanwhile) and with the rows locked: two runs at once cannot
    # both post the same days; the second reads what the first stored
    uow.accounting_periods.lock_books(tenant_id, exclusive=False)
    rows = uow.revenue_schedules.due(tenant_id, through, customer_id, every_customer=every_customer)
    done = recognize(rows, through)
    sums = summed(done)
    _post(ctx, uow, tenant_id, sums, now, f"rr_{through.isoformat()}")
    uow.revenue_schedules.recognized(tenant_id, [r.row for r in done])
    return sums


def _time_zone(uow: UnitOfWork, tenant_id: str, customer_id: str | None) -> str:
    if customer_id is not None:
        return uow.customers.get(tenant_id, customer_id).time_zone
    return uow.tenants.get(tenant_id).settings.time_zone


def _schedule_next(
    ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, customer_id: str, after: date
) -> None:
    """Tomorrow's run: the tenant's, or the customer's own when it lives on a test clock."""
    on_clock = uow.customers.test_clock_of(tenant_id, customer_id) is not None
    _schedule(ctx, uow, tenant_id, customer_id if on_clock else None, after + DAY)


def _schedule(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, who: str | None, day: date) -> None:
    jobs.schedule(ctx, uow, tenant_id, RECOGNIZE_JOB, start_of(day, _time_zone(uow, tenant_id, who)),
                  dedupe_key=f"{who or tenant_id}:{day.isoformat()}", customer_id=who,
                  payload={"customer_id": who})  # fmt: skip


@jobs.handles(RECOGNIZE_JOB)
def _recognize_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    who = job.payload.get("customer_id")
    today = local_day(now, _time_zone(uow, job.tenant_id, who))
    sums = recognize_through(ctx, uow, job.tenant_id, today, now, who)
    if sums:
        _recognized_event(ctx, uow, system_actor(job.tenant_id, "revenue"), today, sums, now)
    if uow.revenue_schedules.any_pending(job.tenant_id, who):
        _schedule(ctx, uow, job.tenant_id, who, today + DAY)


def _amounts(sums: Sequence[Recognized]) -> dict[str, str]:
    total: dict[str, Money] = {}
    for s in sums:
        net = sum(s.revenue.values(), Money.zero(s.currency)) - s.discounts
        total[s.currency] = total[s.currency] + net if s.currency in total else net
    return {c: m.amount_text() for c, m in sorted(total.items())}


def _recognized_event(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, through: date,
                      sums: Sequence[Recognized], now: datetime) -> None:  # fmt: skip
    data: Mapping[str, Any] = {"through": through.isoformat(), "amounts": _amounts(sums)}
    audit.changed(ctx, uow, actor, EventType.REVENUE_RECOGNIZED, object_type="revenue_recognition",
                  object_id=f"rr_{through.isoformat()}", before=None, after=dict(data), at=now, data=dict(data))  # fmt: skip


def recognize_now(ctx: ServiceContext, actor: Actor, through: date | None) -> dict[str, Any]:
    """On demand: recognize every customer's revenue through a day (default: today), never a day to come."""
    with ctx.uow() as uow:
        tenant = uow.tenants.get(actor.tenant_id)
        now = ctx.clock.now()
        today = local_day(now, tenant.settings.time_zone)
        day = through or today
        if day > today:
            raise DomainError(
                "recognition_in_future", "Revenue is recognized up to today at most.", "through"
            )
        sums = recognize_through(ctx, uow, actor.tenant_id, day, now)
        if sums:
            _recognized_event(ctx, uow, actor, day, sums, now)
        uow.commit()
    return {"through": day.isoformat(), "amounts": _amounts(sums), "entries": len(sums)}


def _before_close(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, last_day: date) -> None:
    recognize_through(ctx, uow, tenant_id, last_day, ctx.clock.now(), every_customer=True)


accounting_periods.BEFORE_CLOSE.append(_before_close)
