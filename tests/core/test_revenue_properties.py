"""Properties of revenue recognition (kassa/core/revenue.py), checked with hypothesis.

Lines are drawn in cents (credits, a cent or two, up to 5,000.00) of every kind, over periods of a day to
three years (or none), with or without a discount, billed around their period, sometimes with months
closed. Each property recomputes what it checks from the rows and the rules, not from the implementation's
internals: rows sum to the line; recognition is cumulative and ends at the line; steps add up to one step
and book in open months; reductions of a whole line cancel it; every entry balances.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kassa.core.errors import DomainError
from kassa.core.invoicing import InvoiceLine, Item, LineKind
from kassa.core.ledger import (
    ChartOfAccounts,
    JournalEntry,
    Side,
    chart_to_json,
    credit_note_entry,
    default_chart,
    invoice_entry,
    parse_chart,
)
from kassa.core.money import Money
from kassa.core.reports import month_of, next_month
from kassa.core.revenue import (
    Document,
    Pattern,
    Recognition,
    ScheduleRow,
    at_posting,
    booking_month,
    line_schedule,
    recognition_entry,
    recognize,
    recognized_by,
    reduction_schedule,
    split,
    summed,
)

T = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
FIRST = date(2026, 1, 1)
PRODUCTS = ("workspace", "support")


def _routed_chart() -> ChartOfAccounts:
    doc = chart_to_json(default_chart())
    doc["accounts"] += [{"code": "4100", "name": "Support revenue", "type": "revenue"}]
    doc["overrides"] = {"revenue:support": "4100"}
    return parse_chart(doc)


CHART = _routed_chart()
REVENUE_ACCOUNT = {"workspace": "4000", "support": "4100"}


def cents(units: int) -> Money:
    return Money.from_minor_units(units, "EUR")


_IDS = count(1)


def ids() -> Callable[[], str]:
    """Row ids unique across everything a test builds (runs and postings find rows by id)."""
    return lambda: f"rev_{next(_IDS)}"


def months_before(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


@st.composite
def invoice_lines(draw: st.DrawFn, position: int = 1) -> InvoiceLine:
    kind = draw(st.sampled_from(LineKind))
    start = FIRST + draw(st.integers(0, 3 * 366)) * DAY
    end = start + draw(st.integers(1, 3 * 366)) * DAY
    period = draw(st.sampled_from(["period", "period", "period", "none", "empty"]))
    period_start, period_end = {"period": (start, end), "none": (None, None), "empty": (start, start)}[period]
    gross = draw(st.one_of(st.integers(-50, 50), st.integers(-500_000, 500_000)))
    discount = draw(st.integers(0, gross)) if gross > 0 and draw(st.booleans()) else 0
    item = Item(
        key=f"k{position}", kind=kind, account_id="cus_1", subscription_id="sub_1",
        product=draw(st.sampled_from(PRODUCTS)), description="line", period_start=period_start,
        period_end=period_end, amount=cents(gross),
    )  # fmt: skip
    return InvoiceLine(position=position, item=item, discount=cents(discount), net=cents(gross - discount),
                       tax_code="S")  # fmt: skip


@dataclass(frozen=True)
class Billed:
    line: InvoiceLine
    doc: Document
    rows: list[ScheduleRow]

    @property
    def gross(self) -> int:
        return self.line.item.amount.to_minor_units()

    @property
    def discount(self) -> int:
        return self.line.discount.to_minor_units()


def document(day: date, closed_through: date | None, source_type: str = "invoice") -> Document:
    return Document(tenant_id="ten_1", customer_id="cus_1", invoice_id="inv_1", source_type=source_type,
                    source_id=f"{source_type}_1", currency="EUR", billed_on=day, closed_through=closed_through,
                    created_at=T)  # fmt: skip


def _anchor(ln: InvoiceLine) -> tuple[date, date]:
    item = ln.item
    if item.period_start is None or item.period_end is None:
        return FIRST + 400 * DAY, FIRST + 401 * DAY
    return item.period_start, max(item.period_end, item.period_start + DAY)


@st.composite
def billed(draw: st.DrawFn, position: int = 1) -> Billed:
    """A line invoiced some day around its period (in advance, in arrears, late), months maybe closed."""
    ln = draw(invoice_lines(position))
    start, end = _anchor(ln)
    day = start + draw(st.integers(-40, (end - start).days + 40)) * DAY
    closed = draw(st.one_of(st.none(), st.integers(1, 14).map(lambda n: months_before(month_of(day), n))))
    doc = document(day, closed)
    return Billed(line=ln, doc=doc, rows=line_schedule(doc, ln, ids()))


@st.composite
def reduction_doc(draw: st.DrawFn, b: Billed, source_type: str = "credit_note") -> Document:
    """A later document on the invoice: on or after its day, months closed since maybe, its own month open."""
    start, end = _anchor(b.line)
    day = b.doc.billed_on + draw(st.integers(0, max(0, (end - b.doc.billed_on).days) + 40)) * DAY
    lowest = b.doc.closed_through
    choices = [lowest, *[months_before(month_of(day), n) for n in range(1, 4)]]
    closed = draw(st.sampled_from([c for c in choices if c is None or lowest is None or c >= lowest]))
    return document(day, closed, source_type)


def last_day(rows: Sequence[ScheduleRow]) -> date:
    """A day by which every row is recognized whole."""
    return max((max(r.last_day, r.month) for r in rows), default=FIRST)


def totals(rows: Sequence[ScheduleRow], through: date) -> tuple[int, int, int]:
    parts = [recognized_by(r, through) for r in rows]
    return sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts)


def advance(rows: Sequence[ScheduleRow], through: date) -> tuple[list[ScheduleRow], list[Recognition]]:
    done = recognize(rows, through)
    after = {r.row.id: r.row for r in done}
    return [after.get(r.id, r) for r in rows], done


# ---- schedules -----------------------------------------------------------------------------------------


@settings(deadline=None)
@given(billed())
def test_rows_sum_to_the_line_and_tile_its_period(b: Billed) -> None:
    """A line's rows sum to its amount and discount exactly; ratable rows tile the service period one per
    calendar month, a point is one day; each row is booked in its month or the first open one."""
    rows = b.rows
    if not b.gross and not b.discount:
        assert rows == []
        return
    assert sum(r.amount for r in rows) == b.gross
    assert sum(r.discount for r in rows) == b.discount
    assert all(r.month == booking_month(r.starts_on, b.doc.closed_through) for r in rows)
    if rows[0].pattern is Pattern.POINT:
        assert len(rows) == 1 and rows[0].ends_on == rows[0].starts_on + DAY
        return
    item = b.line.item
    assert (rows[0].starts_on, rows[-1].ends_on) == (item.period_start, item.period_end)
    for a, c in zip(rows, rows[1:], strict=False):
        assert a.ends_on == c.starts_on == next_month(month_of(a.starts_on))
    assert all(month_of(r.starts_on) == month_of(r.last_day) for r in rows)
    days = (rows[-1].ends_on - rows[0].starts_on).days
    for r in rows:  # each row's share is within a cent of the exact share by days
        share = Decimal(b.gross) * (r.ends_on - r.starts_on).days / days
        assert abs(r.amount - share) < 1


@settings(deadline=None)
@given(st.integers(-(10**9), 10**9), st.lists(st.integers(0, 10**6), max_size=40))
def test_split_loses_nothing(total: int, weights: list[int]) -> None:
    """split() returns one part per weight, summing to the total, each within one unit of its exact share and
    of the total's sign; zero weights get nothing unless every weight is zero."""
    parts = split(total, weights)
    assert len(parts) == len(weights)
    if not weights:
        return
    assert sum(parts) == total
    assert all(p * total >= 0 for p in parts)
    whole = sum(weights)
    if whole:
        for p, w in zip(parts, weights, strict=True):
            assert abs(p - Decimal(total) * w / whole) < 1
            assert w or not p


# ---- recognition ---------------------------------------------------------------------------------------


@settings(deadline=None)
@given(billed(), st.lists(st.integers(-40, 3 * 366 + 80), min_size=1, max_size=25))
def test_recognized_by_is_monotonic_and_ends_at_the_line(b: Billed, offsets: list[int]) -> None:
    """Recognized amount and discount only grow (in the line's sign) day by day, are nothing before the first
    row and the whole line from the last; without a discount the net does too."""
    if not b.rows:
        return
    first = min(min(r.starts_on, r.month) for r in b.rows)
    days = sorted({first - DAY, *(first + n * DAY for n in offsets), last_day(b.rows)})
    seen = [totals(b.rows, d) for d in days]
    assert seen[0] == (0, 0, 0)
    assert seen[-1] == (b.gross, b.discount, b.gross - b.discount)
    assert totals(b.rows, last_day(b.rows) + 400 * DAY) == seen[-1]
    sign = 1 if b.gross >= 0 else -1
    for before, after in zip(seen, seen[1:], strict=False):
        assert sign * after[0] >= sign * before[0]
        assert after[1] >= before[1]
        if not b.discount:
            assert sign * after[2] >= sign * before[2]


def test_recognized_net_never_steps_back_with_a_discount() -> None:
    """A discounted line's net recognized by day never decreases: 0.03 less 0.02 over 2026-11-01..11-11."""
    nov, end = date(2026, 11, 1), date(2026, 11, 11)
    item = Item(key="k", kind=LineKind.RECURRING, account_id="cus_1", product="workspace", description="tiny",
                period_start=nov, period_end=end, amount=cents(3))  # fmt: skip
    ln = InvoiceLine(position=1, item=item, discount=cents(2), net=cents(1), tax_code="S")
    [row] = line_schedule(document(nov, None), ln, ids())
    nets = [recognized_by(row, nov + n * DAY)[2] for n in range(10)]
    assert nets == sorted(nets), nets


@settings(deadline=None)
@given(billed(), st.data())
def test_recognizing_in_steps_equals_one_step(b: Billed, data: st.DataObject) -> None:
    """Recognizing at random cut days (a run per day, late runs, repeated days) recognizes per row exactly
    what one run through the last day does; every recognition is booked in the row's month — an open one —
    on a day no later than its run, and a row ends with `recognized` its recognized_by through the last cut."""
    rows = list(b.rows)
    if data.draw(st.booleans()) and rows:  # with a partial credit note beside the line
        note = data.draw(reduction_doc(b))
        share = data.draw(st.integers(0, abs(b.gross)))
        rows += reduction_schedule(note, b.rows, -share if b.gross > 0 else share, 0, ids())
    if not rows:
        return
    first = min(min(r.starts_on, r.month) for r in rows) - 5 * DAY
    span = (last_day(rows) - first).days + 10
    cuts = sorted(data.draw(st.lists(st.integers(0, span), min_size=1, max_size=8)))
    stepped, per_row = rows, Counter[str]()
    closed = [c for c in (b.doc.closed_through,) if c is not None]
    for cut in (first + n * DAY for n in cuts):
        stepped, done = advance(stepped, cut)
        for r in done:
            per_row[r.row.id] += r.net
            assert month_of(r.booked_on) == r.row.month
            assert all(r.row.month > c for c in closed)
            assert r.booked_on <= cut
            assert r.row.recognized_through == cut
    last = first + cuts[-1] * DAY
    once = {r.row.id: r.net for r in recognize(rows, last)}
    assert {k: v for k, v in per_row.items() if v} == {k: v for k, v in once.items() if v}
    assert [r.recognized for r in stepped] == [recognized_by(r, last)[2] for r in rows]


@settings(deadline=None)
@given(billed(), st.data())
def test_a_reduction_of_the_whole_line_cancels_it(b: Billed, data: st.DataObject) -> None:
    """A credit note or void of the whole line, on any later day: its rows sum to minus the line; what is past
    is taken back at once (original + reduction recognized through the document's day is nothing) and the
    rest mirrors the line (nothing by the end of both), amount, discount and net."""
    if not b.rows:
        return
    note = data.draw(reduction_doc(b, data.draw(st.sampled_from(["credit_note", "invoice_void"]))))
    reduction = reduction_schedule(note, b.rows, -b.gross, -b.discount, ids())
    assert (sum(r.amount for r in reduction), sum(r.discount for r in reduction)) == (-b.gross, -b.discount)
    for r in reduction:
        assert (r.source_type, r.billed_on) == (note.source_type, note.billed_on)
        if r.pattern is Pattern.POINT and r.starts_on == note.billed_on:
            assert r.month == booking_month(note.billed_on, note.closed_through)
        else:
            assert r.starts_on > note.billed_on or r.pattern is Pattern.POINT
    both = b.rows + reduction
    assert totals(both, note.billed_on) == (0, 0, 0)
    assert totals(both, max(note.billed_on, last_day(both))) == (0, 0, 0)


@settings(deadline=None)
@given(billed(), st.data())
def test_a_partial_reduction_takes_off_exactly_its_amount(b: Billed, data: st.DataObject) -> None:
    """A credit note of part of a line: its rows sum to the amount and discount credited, past days fall on
    the document's day and the rest starts after it, never later than the line."""
    if not b.rows:
        return
    note = data.draw(reduction_doc(b))
    amount = data.draw(st.integers(min(0, -b.gross), max(0, -b.gross)))
    discount = data.draw(st.integers(-b.discount, 0))
    reduction = reduction_schedule(note, b.rows, amount, discount, ids())
    assert (sum(r.amount for r in reduction), sum(r.discount for r in reduction)) == (amount, discount)
    end = last_day(b.rows)
    for r in reduction:
        assert r.starts_on == note.billed_on or r.starts_on > note.billed_on or r.pattern is Pattern.POINT
        assert r.last_day <= max(end, note.billed_on)
    total = b.rows + reduction
    assert totals(total, max(note.billed_on, last_day(total))) == (b.gross + amount, b.discount + discount,
                                                                 b.gross + amount - b.discount - discount)  # fmt: skip


_ANNUAL = Item(key="k", kind=LineKind.RECURRING, account_id="cus_1", product="workspace", description="annual",
               period_start=date(2028, 1, 1), period_end=date(2029, 1, 1), amount=cents(120000))  # fmt: skip


@settings(deadline=None)
@example(
    b=Billed(line=InvoiceLine(position=1, item=_ANNUAL, discount=cents(0), net=cents(120000), tax_code="S"),
             doc=document(date(2028, 1, 1), None),
             rows=line_schedule(document(date(2028, 1, 1), None),
                                InvoiceLine(position=1, item=_ANNUAL, discount=cents(0), net=cents(120000),
                                            tax_code="S"), ids())),
    offset=60,
)  # fmt: skip
@given(billed(), st.integers(0, 3 * 366))
def test_a_write_off_releases_exactly_what_is_not_yet_recognized(b: Billed, offset: int) -> None:
    """future_only with amount = -(net not yet recognized on the day): the rows release exactly that, and the
    line then stays at what it had recognized on that day, for good."""
    day = b.doc.billed_on + offset * DAY
    unrecognized = sum(r.net - recognized_by(r, day)[2] for r in b.rows)
    if unrecognized <= 0:
        return
    off = document(day, b.doc.closed_through, "write_off")
    ahead = [r for r in b.rows if r.net - recognized_by(r, day)[2] > 0]
    released = reduction_schedule(off, ahead, -unrecognized, 0, ids(), future_only=True)
    assert sum(r.net for r in released) == -unrecognized
    assert all(r.starts_on > day or r.pattern is Pattern.POINT for r in released)
    both = b.rows + released
    assert totals(both, max(day, last_day(both)))[2] == totals(b.rows, day)[2]


# ---- entries -------------------------------------------------------------------------------------------


def _nets(entry: JournalEntry) -> dict[str, int]:
    """Debit-positive cents per account, summed here."""
    nets: Counter[str] = Counter()
    for p in entry.postings:
        units = p.amount.to_minor_units()
        assert units > 0
        nets[p.account] += units if p.side is Side.DEBIT else -units
    assert sum(nets.values()) == 0
    return {a: n for a, n in nets.items() if n}


@settings(deadline=None)
@given(st.lists(billed(), min_size=1, max_size=4), st.data())
def test_every_recognition_entry_balances(invoices: list[Billed], data: st.DataObject) -> None:
    """Rows of several lines and their credit notes, recognized at random cut days: each day's entry balances
    and posts the recognized nets: Cr revenue per product (4000 / 4100) the amounts, Dr discounts (4900), Dr
    deferred revenue (2300) and unbilled receivables (1150) the nets, booked on its day. An entry where
    everything nets to nothing is refused as empty (the services skip it)."""
    rows: list[ScheduleRow] = []
    for b in invoices:
        rows += b.rows
        with_note: bool = data.draw(st.booleans())
        if b.rows and with_note:
            note = data.draw(reduction_doc(b))
            rows += reduction_schedule(note, b.rows, data.draw(st.integers(min(0, -b.gross), max(0, -b.gross))),
                                       data.draw(st.integers(-b.discount, 0)), ids())  # fmt: skip
    if not rows:
        return
    first = min(min(r.starts_on, r.month) for r in rows)
    span = (last_day(rows) - first).days + 1
    for cut in sorted(data.draw(st.lists(st.integers(0, span), min_size=1, max_size=5))):
        rows, done = advance(rows, first + cut * DAY)
        for s in summed(done):
            group = [r for r in done
                     if (r.booked_on, r.earned_on if r.moved else None) == (s.booked_on, s.effective_on)]  # fmt: skip
            expected: Counter[str] = Counter()
            for r in group:
                expected[REVENUE_ACCOUNT[r.row.product]] -= r.amount
                expected["4900"] += r.discount
                expected["1150" if r.unbilled else "2300"] += r.net
            expected_nets = {a: n for a, n in expected.items() if n}
            try:
                entry = recognition_entry(CHART, s, tenant_id="ten_1", id="je_1", posted_at=T, run_id="rr")
            except DomainError as error:
                assert error.code == "empty_entry"
                assert expected_nets == {}
                continue
            assert _nets(entry) == expected_nets
            assert (entry.booked_on, entry.effective_on) == (s.booked_on, s.effective_on)
            assert entry.source_type == "revenue_recognition"


@settings(deadline=None)
@given(st.lists(invoice_lines(), min_size=1, max_size=4), billed())
def test_an_invoice_entry_with_recognition_balances(lines: list[InvoiceLine], b: Billed) -> None:
    """An invoice's lines posted with at_posting on its day: revenue and discounts of the day, the rest to
    deferred revenue or unbilled receivables, balance against what is due; the earlier entries are booked
    before the day, come from unbilled receivables only and sum to `unbilled`."""
    day = b.doc.billed_on
    rows = b.rows + [r for ln in lines for r in line_schedule(b.doc, ln, ids())]
    if not rows:
        return
    total = sum(r.net for r in rows)
    posting, after = at_posting(rows, "EUR", day)
    due, applied = (cents(total), cents(0)) if total >= 0 else (cents(0), cents(total))
    try:
        entry = invoice_entry(CHART, tenant_id="ten_1", id="je_1", posted_at=T, invoice_id="inv_1", number="INV-1",
                              currency="EUR", revenue=posting.revenue, discounts=posting.discounts, taxes={},
                              credit_applied=applied, amount_due=due, deferred=posting.deferred,
                              unbilled=posting.unbilled)  # fmt: skip
        nets = _nets(entry)
    except DomainError as error:  # lines that cancel out on every account: nothing to post
        assert error.code == "empty_entry"
        assert total == 0 and posting.deferred == posting.unbilled == posting.discounts == cents(0)
        assert not any(m.amount for m in posting.revenue.values())
        nets = {}
    today = sum(m.to_minor_units() for m in posting.revenue.values()) - posting.discounts.to_minor_units()
    assert today + posting.deferred.to_minor_units() + posting.unbilled.to_minor_units() == total
    assert nets.get("2300", 0) == -posting.deferred.to_minor_units()
    assert posting.unbilled == sum((s.from_unbilled for s in posting.earlier), cents(0))
    for s in posting.earlier:
        assert s.booked_on < day and s.from_deferred == cents(0)
        try:
            recognition_entry(CHART, s, tenant_id="ten_1", id="je_2", posted_at=T, run_id="inv_1")
        except DomainError as error:
            assert error.code == "empty_entry"
    assert [r.recognized for r in after] == [recognized_by(r, day)[2] for r in rows]


@settings(deadline=None)
@given(billed(), st.data())
def test_a_credit_note_entry_with_recognition_balances(b: Billed, data: st.DataObject) -> None:
    """A credit note of part of a charged line (its discount credited in proportion), posted with at_posting
    on its day: nothing is unbilled, and Dr revenue, Cr discounts, Dr deferred revenue balance the receivable."""
    if b.gross <= 0 or b.gross == b.discount:
        return
    note = data.draw(reduction_doc(b))
    credited = data.draw(st.integers(1, b.gross))
    discount = int(Decimal(credited * b.discount) / b.gross)
    rows = reduction_schedule(note, b.rows, -credited, -discount, ids())
    posting, _ = at_posting(rows, "EUR", note.billed_on)
    assert posting.unbilled == cents(0) and posting.earlier == ()
    entry = credit_note_entry(CHART, tenant_id="ten_1", id="je_1", posted_at=T, credit_note_id="cn_1",
                              number="CN-1", currency="EUR", revenue={p: -m for p, m in posting.revenue.items()},
                              discounts=-posting.discounts, taxes={}, to_receivable=cents(credited - discount),
                              to_credit_balance=cents(0), deferred=-posting.deferred)  # fmt: skip
    assert _nets(entry)["1100"] == -(credited - discount)
