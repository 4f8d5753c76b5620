"""Revenue recognition (ASC 606 / IFRS 15): a schedule for every invoice line, and what to post when.

A line's revenue is recognized as its service is delivered:
- recurring fees, prorations and usage sold in advance: ratably by day over the service period;
- usage billed in arrears and minimum-spend true-ups: on the last day of their period (delivered in full,
  measured then);
- setup fees, one-off charges and lines written by hand: on the day they are billed, unless a hand-written
  line names a service period (then ratably over it).

A schedule is stored as rows, one per line and calendar month (`ScheduleRow`): a ratable line over
15 Jan – 15 Mar is three rows. Amounts are split over rows by days with the largest remainder, and within
a row recognized cumulatively (`round(amount × days elapsed / days)`), so the parts always sum to the line.
A row belongs to an accounting month; a row whose month is closed is booked in the first open month.

Reductions — credit notes, voids and write-offs — are rows too, negative, "spread like the lines they
reduce": the amount is shared over the reduced line's rows in proportion, the part for days already past
is recognized at once on the document's day (a cumulative catch-up; prior months are not restated) and
the rest follows the original rows day by day, so the two cancel. A write-off releases only what is not
yet recognized.

Revenue recognized before it is billed (usage in arrears, a back-dated change) sits in unbilled
receivables until its invoice; billed before it is recognized, it sits in deferred revenue.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from kassa.core.accounting_periods import moved
from kassa.core.invoicing import Invoice, InvoiceLine, LineKind
from kassa.core.ledger import ChartOfAccounts, JournalEntry, Role, SourceType, journal_entry
from kassa.core.money import Money
from kassa.core.periods import add_months
from kassa.core.reports import month_of, next_month


class Pattern(StrEnum):
    RATABLE = "ratable"
    POINT = "point"


RECURRING = frozenset({LineKind.RECURRING, LineKind.PRORATION})  # what MRR is made of
_AT_PERIOD_END = frozenset({LineKind.USAGE, LineKind.MINIMUM})
_ON_BILLING = frozenset({LineKind.SETUP, LineKind.ONE_OFF, LineKind.MANUAL})
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRow:
    tenant_id: str
    id: str
    customer_id: str
    subscription_id: str | None
    invoice_id: str
    source_type: str  # invoice, credit_note, invoice_void, write_off
    source_id: str
    position: int
    product: str
    plan: str | None
    line_kind: str
    pattern: Pattern
    currency: str
    billed_on: date
    month: date  # the accounting month it is booked in (first day)
    starts_on: date
    ends_on: date  # exclusive; a point is recognized on starts_on
    amount: int  # minor units, before discount, signed
    discount: int
    recognized: int = 0  # net, so far
    recognized_through: date | None = None
    mrr: int | None = None  # recurring lines: the line's net per month
    created_at: datetime

    @property
    def net(self) -> int:
        return self.amount - self.discount

    @property
    def last_day(self) -> date:
        return self.starts_on if self.pattern is Pattern.POINT else self.ends_on - DAY

    @property
    def pending(self) -> bool:
        return self.recognized != self.net


# ---- arithmetic on minor units -------------------------------------------------------------------------


def _share(total: int, part: int, whole: int) -> int:
    """total × part / whole, rounded half away from zero."""
    if whole == 0:
        return 0
    return int((Decimal(total) * part / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` in parts proportional to `weights` (largest remainder): the parts sum to `total`."""
    whole = sum(weights)
    if not weights:
        return []
    if whole == 0:
        return [total, *([0] * (len(weights) - 1))] if total else [0] * len(weights)
    sign = -1 if total < 0 else 1
    exact = [Decimal(abs(total)) * w / whole for w in weights]
    parts = [int(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: abs(total) - sum(parts)]:
        parts[i] += 1
    return [sign * p for p in parts]


def months_in(start: date, end: date) -> Decimal:
    """The length of [start, end) in calendar months: whole months from `start`, then the rest as a
    fraction of the month it falls in (Jan 15 – Feb 15 is 1; a 15-day rest of a 30-day month is 0.5)."""
    whole = 0
    while add_months(start, whole + 1, start.day) <= end:
        whole += 1
    rest_start = add_months(start, whole, start.day)
    if rest_start >= end:
        return Decimal(whole)
    month_end = add_months(start, whole + 1, start.day)
    return whole + Decimal((end - rest_start).days) / (month_end - rest_start).days


def monthly(net: int, start: date, end: date) -> int:
    """A recurring line's net per month (MRR): an annual fee counts a twelfth, a half-month proration double."""
    length = months_in(start, end)
    return int((Decimal(net) / length).quantize(Decimal(1), rounding=ROUND_HALF_UP)) if length else 0


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def booking_month(day: date, closed_through: date | None) -> date:
    """The accounting month revenue of `day` is booked in: its own, or the first open one."""
    month = month_of(day)
    if closed_through is not None and month <= closed_through:
        return next_month(closed_through)
    return month


def _by_month(start: date, end: date) -> list[tuple[date, date]]:
    pieces, cursor = [], start
    while cursor < end:
        stop = min(end, next_month(month_of(cursor)))
        pieces.append((cursor, stop))
        cursor = stop
    return pieces


# ---- schedules -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """Where rows come from: the fields every row of one document shares."""

    tenant_id: str
    customer_id: str
    invoice_id: str
    source_type: str
    source_id: str
    currency: str
    billed_on: date  # the document's day
    closed_through: date | None  # the last closed accounting month (first day), if any
    created_at: datetime


def timing(line: InvoiceLine, billed_on: date) -> tuple[Pattern, date, date]:
    """(pattern, first day, end) for one invoice line."""
    item = line.item
    kind = LineKind(item.kind)
    start, end = item.period_start, item.period_end
    if start is None or end is None or end <= start or kind in _ON_BILLING and kind is not LineKind.MANUAL:
        return Pattern.POINT, billed_on, billed_on + DAY
    if kind in _AT_PERIOD_END:
        return Pattern.POINT, end - DAY, end
    return Pattern.RATABLE, start, end


def line_schedule(
    doc: Document, line: InvoiceLine, new_id: Callable[[], str], plan_codes: Iterable[str] = ()
) -> list[ScheduleRow]:
    """The rows of one invoice line: one per month of its service period (one for a point)."""
    item = line.item
    gross = (line.net + line.discount).to_minor_units()
    discount = line.discount.to_minor_units()
    if not gross and not discount:
        return []
    pattern, start, end = timing(line, doc.billed_on)
    pieces = _by_month(start, end) if pattern is Pattern.RATABLE else [(start, end)]
    weights = [(b - a).days for a, b in pieces]
    mrr = (
        monthly(gross - discount, start, end)
        if pattern is Pattern.RATABLE and item.kind in RECURRING
        else None
    )
    plans = set(plan_codes)
    plan = next((c for c in sorted(item.codes) if c in plans), None)
    return [
        ScheduleRow(
            tenant_id=doc.tenant_id, id=new_id(), customer_id=doc.customer_id, subscription_id=item.subscription_id,
            invoice_id=doc.invoice_id, source_type=doc.source_type, source_id=doc.source_id, position=line.position,
            product=item.product, plan=plan, line_kind=str(item.kind), pattern=pattern, currency=doc.currency,
            billed_on=doc.billed_on, month=booking_month(a, doc.closed_through), starts_on=a, ends_on=b,
            amount=g, discount=d, mrr=mrr, created_at=doc.created_at,
        )
        for (a, b), g, d in zip(pieces, split(gross, weights), split(discount, weights), strict=True)
    ]  # fmt: skip


def reduction_schedule(
    doc: Document,
    reduced: Sequence[ScheduleRow],
    amount: int,
    discount: int,
    new_id: Callable[[], str],
    *,
    future_only: bool = False,
) -> list[ScheduleRow]:
    """Negative rows that take `amount` (before discount, negative) and `discount` (negative) off the rows
    of one line: shared in proportion to them; what falls on days up to the document's day is recognized
    on that day, the rest mirrors the reduced rows day by day. `future_only` (a write-off) shares
    `amount` over what is not yet recognized on the document's day, and only that."""
    day = doc.billed_on
    if future_only:
        weights = [r.net - recognized_by(r, day)[2] for r in reduced]
        gross_parts, discount_parts = split(amount, weights), [0] * len(reduced)
    else:
        gross_parts = split(amount, [r.amount for r in reduced])
        discount_parts = split(discount, [r.discount for r in reduced])
    rows: list[ScheduleRow] = []

    def row(of: ScheduleRow, **fields: object) -> ScheduleRow:
        base = replace(of, id=new_id(), source_type=doc.source_type, source_id=doc.source_id,
                       billed_on=day, recognized=0, recognized_through=None, created_at=doc.created_at)  # fmt: skip
        return replace(base, **fields)  # type: ignore[arg-type]

    for r, g, d in zip(reduced, gross_parts, discount_parts, strict=True):
        if not g and not d:
            continue
        if r.pattern is Pattern.POINT or r.last_day <= day or r.month > month_of(r.starts_on):
            past_days, future = (1, 0) if r.last_day <= day or r.month > month_of(r.starts_on) else (0, 1)
        else:
            past_days, future = (
                max(0, (day - r.starts_on).days + 1),
                (r.ends_on - max(r.starts_on, day + DAY)).days,
            )
        mrr = None if r.mrr is None or not r.amount else _share(r.mrr, g, r.amount)
        # the past part rounds as recognized_by does (net and discount each), so taking back a whole line
        # takes back exactly what it recognized so far
        d_past = _share(d, past_days, past_days + future)
        g_past = _share(g - d, past_days, past_days + future) + d_past
        g_future, d_future = g - g_past, d - d_past
        if future_only:  # a write-off releases only what is still to come, all of its share
            g_past, g_future, d_past, d_future = 0, g, 0, d
        if (g_past or d_past) and not future_only:
            rows.append(row(r, pattern=Pattern.POINT, starts_on=day, ends_on=day + DAY, amount=g_past,
                            discount=d_past, month=booking_month(day, doc.closed_through), mrr=None))  # fmt: skip
        if g_future or d_future:
            start = r.starts_on if r.pattern is Pattern.POINT else max(r.starts_on, day + DAY)
            rows.append(row(r, starts_on=start, amount=g_future, discount=d_future, mrr=mrr))
    return rows


# ---- recognition ---------------------------------------------------------------------------------------


def recognized_by(row: ScheduleRow, through: date) -> tuple[int, int, int]:
    """(amount, discount, net) of `row` recognized by the end of day `through`."""
    if through < row.month:
        return 0, 0, 0
    if row.pattern is Pattern.POINT or row.month > month_of(row.starts_on):
        done = through >= row.starts_on
        return (row.amount, row.discount, row.net) if done else (0, 0, 0)
    whole = (row.ends_on - row.starts_on).days
    elapsed = min(max((through - row.starts_on).days + 1, 0), whole)
    # the net is what is booked: rounded cumulatively itself, so it never steps back on a discounted line
    net, discount = _share(row.net, elapsed, whole), _share(row.discount, elapsed, whole)
    return net + discount, discount, net


@dataclass(frozen=True, slots=True, kw_only=True)
class Recognition:
    row: ScheduleRow  # as it is after this recognition
    amount: int  # recognized now, before discount
    discount: int
    booked_on: date
    earned_on: (
        date  # the last day earned: before booked_on's month when its own was closed when it was billed
    )

    @property
    def net(self) -> int:
        return self.amount - self.discount

    @property
    def unbilled(self) -> bool:
        """Recognized on a day before it was billed: an unbilled receivable until its invoice."""
        return self.booked_on < self.row.billed_on

    @property
    def moved(self) -> bool:
        """Earned in a month closed when it was billed: booked in a later one, by an entry that says so."""
        return self.earned_on < self.booked_on


def recognize(rows: Iterable[ScheduleRow], through: date) -> list[Recognition]:
    """What each row recognizes from where it stands up to the end of day `through`."""
    out = []
    for row in rows:
        if row.recognized_through is not None and row.recognized_through >= through:
            continue
        before = recognized_by(row, row.recognized_through) if row.recognized_through else (0, 0, 0)
        after = recognized_by(row, through)
        if after == before:
            continue
        earned_on = min(through, row.last_day, _month_end(row.month))
        done = replace(row, recognized=after[2], recognized_through=through)
        out.append(Recognition(row=done, amount=after[0] - before[0], discount=after[1] - before[1],
                               booked_on=max(row.month, earned_on), earned_on=earned_on))  # fmt: skip
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Recognized:
    """Recognitions summed for one entry: revenue per product (before discounts), discounts, and the net
    taken from deferred revenue or from unbilled receivables."""

    currency: str
    booked_on: date
    effective_on: date | None  # the day earned, when its month was closed and booked_on is in a later one
    revenue: Mapping[str, Money]
    discounts: Money
    from_deferred: Money
    from_unbilled: Money


def summed(recognitions: Iterable[Recognition]) -> list[Recognized]:
    """One sum per (currency, day booked, day earned if in a closed month), days in order."""
    groups: dict[tuple[date, date | None, str], list[Recognition]] = defaultdict(list)
    for r in recognitions:
        groups[(r.booked_on, r.earned_on if r.moved else None, r.row.currency)].append(r)
    out = []
    for (day, effective_on, currency), items in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or date.min, kv[0][2])
    ):
        revenue: dict[str, int] = defaultdict(int)
        for r in items:
            revenue[r.row.product] += r.amount
        out.append(Recognized(
            currency=currency, booked_on=day, effective_on=effective_on,
            revenue={p: Money.from_minor_units(v, currency) for p, v in revenue.items()},
            discounts=Money.from_minor_units(sum(r.discount for r in items), currency),
            from_deferred=Money.from_minor_units(sum(r.net for r in items if not r.unbilled), currency),
            from_unbilled=Money.from_minor_units(sum(r.net for r in items if r.unbilled), currency)))  # fmt: skip
    return out


def recognition_entry(
    chart: ChartOfAccounts,
    recognized: Recognized,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    run_id: str,
) -> JournalEntry:
    """Dr deferred revenue (or unbilled receivables), Dr discounts; Cr revenue per product. Booked on the
    day the revenue was earned, which may be before the day it is posted."""
    cur = recognized.currency
    amounts = [
        (chart.account(Role.DEFERRED_REVENUE).code, recognized.from_deferred),
        (chart.account(Role.UNBILLED_RECEIVABLE).code, recognized.from_unbilled),
        (chart.account(Role.DISCOUNTS).code, recognized.discounts),
        *[(chart.account(Role.REVENUE, p).code, -m) for p, m in recognized.revenue.items()],
    ]
    entry = journal_entry(tenant_id=tenant_id, id=id, posted_at=posted_at, source_type=SourceType.REVENUE_RECOGNITION,
                          source_id=run_id, description=f"Revenue recognized on {recognized.booked_on.isoformat()}",
                          currency=cur, amounts=amounts)  # fmt: skip
    if recognized.effective_on is None:
        return replace(entry, booked_on=recognized.booked_on)
    return replace(
        entry,
        booked_on=recognized.booked_on,
        effective_on=recognized.effective_on,
        note=moved(recognized.effective_on, recognized.booked_on),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AtPosting:
    """How a document's own entry splits its net lines: recognized on its day (revenue and discounts),
    recognized earlier (from unbilled receivables) or earned in a closed month (from deferred revenue), both
    booked by separate entries, and deferred."""

    revenue: Mapping[str, Money]
    discounts: Money
    unbilled: Money
    deferred: Money
    earlier: tuple[Recognized, ...]  # the entries for revenue earned before the document's day


def at_posting(rows: Sequence[ScheduleRow], currency: str, day: date) -> tuple[AtPosting, list[ScheduleRow]]:
    """Recognize a new document's rows through its own day: what its entry posts, and the rows after."""
    recognitions = recognize(rows, day)
    by_id = {r.row.id: r.row for r in recognitions}
    today = [r for r in recognitions if r.booked_on >= day and not r.moved]
    earlier = [r for r in recognitions if r.booked_on < day or r.moved]
    now = summed(today)
    zero = Money.zero(currency)
    total_net = sum(r.net for r in rows)
    unbilled = sum(r.net for r in earlier if r.unbilled)
    posting = AtPosting(
        revenue=now[0].revenue if now else {},
        discounts=now[0].discounts if now else zero,
        unbilled=Money.from_minor_units(unbilled, currency),
        deferred=Money.from_minor_units(total_net - sum(r.net for r in today) - unbilled, currency),
        earlier=tuple(summed(earlier)),
    )
    return posting, [by_id.get(r.id, r) for r in rows]


def void_entry(chart: ChartOfAccounts, invoice: Invoice, taken_back: AtPosting, entry: JournalEntry, *, id: str,
               posted_at: datetime) -> JournalEntry:  # fmt: skip
    """A void with revenue recognition: the receivable, the credit applied and the tax go back as the
    invoice posted them; its revenue goes back as it was earned by now (`taken_back`: the void's own
    negative schedule recognized on its day) and the rest comes off deferred revenue."""
    cur = invoice.currency
    taxes: dict[str, Money] = defaultdict(lambda: Money.zero(cur))
    for line in invoice.lines:
        for t in line.taxes:
            taxes[t.rate.jurisdiction] += t.amount
    amounts = [
        (chart.account(Role.ACCOUNTS_RECEIVABLE).code, -invoice.amount_due),
        (chart.account(Role.CUSTOMER_CREDIT).code, -(invoice.credit_applied - invoice.credit_granted)),
        *[(chart.account(Role.TAX_PAYABLE, j).code, m) for j, m in taxes.items()],
        *[(chart.account(Role.REVENUE, p).code, -m) for p, m in taken_back.revenue.items()],
        (chart.account(Role.DISCOUNTS).code, taken_back.discounts),
        (chart.account(Role.DEFERRED_REVENUE).code, -taken_back.deferred),
        (chart.account(Role.UNBILLED_RECEIVABLE).code, -taken_back.unbilled),
    ]
    void = journal_entry(tenant_id=invoice.tenant_id, id=id, posted_at=posted_at, source_type=SourceType.INVOICE_VOID,
                         source_id=invoice.id, description=f"Void of invoice {invoice.number}", currency=cur,
                         amounts=amounts)  # fmt: skip
    return replace(void, reverses=entry.id)
