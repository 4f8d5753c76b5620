"""Worked examples of revenue recognition (kassa/core/revenue.py), every figure computed by hand.

The rules: a line's amount is split over one row per calendar month by days with the largest remainder;
within a row it is recognized cumulatively, round_half_up(amount × days elapsed / days). Recurring fees,
prorations and usage in advance are ratable; usage in arrears and minimum true-ups are a point on the
period's last day; setup fees and one-off charges a point on the billing day. Reductions (credit notes,
voids, write-offs) are negative rows shared over the reduced rows: the part for days up to the document's
day is a point on that day, the rest mirrors the reduced rows from the next day. A row of a closed month is
booked in the first open one. All amounts are EUR; ids come from a counter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest

from kassa.core.invoicing import InvoiceLine, Item, LineKind
from kassa.core.ledger import (
    JournalEntry,
    SourceType,
    credit_note_entry,
    default_chart,
    invoice_entry,
    uncollectible_entry,
)
from kassa.core.money import Money
from kassa.core.revenue import (
    Document,
    Pattern,
    Recognition,
    ScheduleRow,
    at_posting,
    booking_month,
    line_schedule,
    monthly,
    months_in,
    recognition_entry,
    recognize,
    recognized_by,
    reduction_schedule,
    summed,
)

T = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
CHART = default_chart()
DAY = timedelta(days=1)


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def line(amount: str, start: date | None, end: date | None, *, kind: LineKind = LineKind.RECURRING,
         discount: str = "0.00", position: int = 1, product: str = "workspace", codes: Sequence[str] = ("pro",),
         origin: str | None = None) -> InvoiceLine:  # fmt: skip
    """An invoice line as invoicing makes it: net = amount - discount, tax left out (it is not revenue)."""
    item = Item(
        key=f"sub_1|{kind.value}|{position}|{start}|{end}", kind=kind, account_id="cus_1", subscription_id="sub_1",
        product=product, codes=frozenset(codes), description=f"{product} {kind.value}", period_start=start,
        period_end=end, amount=eur(amount), origin=origin,
    )  # fmt: skip
    return InvoiceLine(position=position, item=item, discount=eur(discount), net=eur(amount) - eur(discount),
                       tax_code="S")  # fmt: skip


def doc(day: date, *, source_type: str = "invoice", source_id: str = "inv_1",
        closed_through: date | None = None) -> Document:  # fmt: skip
    return Document(tenant_id="ten_1", customer_id="cus_1", invoice_id="inv_1", source_type=source_type,
                    source_id=source_id, currency="EUR", billed_on=day, closed_through=closed_through,
                    created_at=T)  # fmt: skip


def ids() -> Callable[[], str]:
    counter = count(1)
    return lambda: f"rev_{next(counter)}"


def schedule(ln: InvoiceLine, day: date, *, closed_through: date | None = None) -> list[ScheduleRow]:
    return line_schedule(doc(day, closed_through=closed_through), ln, ids(), plan_codes={"pro"})


def table(rows: Iterable[ScheduleRow]) -> list[tuple[date, date, date, str, int, int, int | None]]:
    """(starts_on, ends_on, month, pattern, amount, discount, mrr) of each row, amounts in cents."""
    return [(r.starts_on, r.ends_on, r.month, r.pattern.value, r.amount, r.discount, r.mrr) for r in rows]


def net_by(rows: Iterable[ScheduleRow], through: date) -> int:
    """Net cents the rows have recognized by the end of `through`."""
    return sum(recognized_by(r, through)[2] for r in rows)


def mrr_on(rows: Iterable[ScheduleRow], day: date) -> int:
    """The MRR of the recurring rows whose service covers `day`."""
    return sum(r.mrr for r in rows if r.mrr is not None and r.starts_on <= day < r.ends_on)


def run(rows: Sequence[ScheduleRow], through: date) -> tuple[list[ScheduleRow], list[Recognition]]:
    """One recognition run: the rows as they stand afterwards, and what was recognized."""
    done = recognize(rows, through)
    after = {r.row.id: r.row for r in done}
    return [after.get(r.id, r) for r in rows], done


def postings(entry: JournalEntry) -> list[tuple[str, str, str]]:
    return [(p.account, p.side.value, p.amount.amount_text()) for p in entry.postings]


# ---- 1. an annual plan paid up front -------------------------------------------------------------------

Y28, Y29 = date(2028, 1, 1), date(2029, 1, 1)
ANNUAL = line("1200.00", Y28, Y29)
# 120000 cents over 366 days: a 31-day month 10163.93, February 9508.20, a 30-day month 9836.07. Floors sum
# to 119993; the 7 missing cents go to the largest remainders, the seven 31-day months (.93).
ANNUAL_ROWS = [
    (date(2028, m, 1), date(2028, m + 1, 1) if m < 12 else Y29, date(2028, m, 1), "ratable", cents, 0, 10000)
    for m, cents in enumerate([10164, 9508, 10164, 9836, 10164, 9836, 10164, 10164, 9836, 10164, 9836, 10164], 1)
]  # fmt: skip


def test_annual_plan_is_split_by_days_per_month_with_the_largest_remainder() -> None:
    """1,200.00 for 2028 (366 days): 31-day months 101.64, February (29 days) 95.08, 30-day months 98.36;
    the twelve rows sum to exactly 1,200.00 and each carries the MRR 100.00."""
    rows = schedule(ANNUAL, Y28)
    assert table(rows) == ANNUAL_ROWS
    assert sum(r.amount for r in rows) == 120000
    assert {(r.product, r.plan, r.line_kind, r.billed_on, r.source_type) for r in rows} == {
        ("workspace", "pro", "recurring", Y28, "invoice")
    }
    assert len({r.id for r in rows}) == 12


@pytest.mark.parametrize(
    ("through", "cents"),
    [
        (date(2027, 12, 31), 0),  # before the service starts
        (date(2028, 1, 1), 328),  # 10164 × 1/31 = 327.87
        (date(2028, 1, 15), 4918),  # 10164 × 15/31 = 4918.06
        (date(2028, 1, 31), 10164),  # January whole
        (date(2028, 2, 28), 19344),  # + 9508 × 28/29 = 9180.14
        (date(2028, 2, 29), 19672),  # February whole, the leap day included
        (date(2028, 3, 1), 20000),  # + 10164 × 1/31 = 327.87
        (date(2028, 6, 30), 59672),  # half a year: 182/366 of 1,200.00 = 596.72
        (date(2028, 12, 31), 120000),  # the whole year
        (date(2029, 6, 1), 120000),  # never more
    ],
)
def test_annual_plan_recognized_by_day(through: date, cents: int) -> None:
    """recognized_by is cumulative per row: whole months plus round(row × days elapsed / days), the end of
    `through` included."""
    assert net_by(schedule(ANNUAL, Y28), through) == cents


def test_annual_plan_counts_a_twelfth_as_mrr() -> None:
    """monthly(): a year is 12 calendar months, so 1,200.00 a year is 100.00 MRR (not 1200 × 31/366)."""
    assert months_in(Y28, Y29) == 12
    assert monthly(120000, Y28, Y29) == 10000
    assert mrr_on(schedule(ANNUAL, Y28), date(2028, 2, 29)) == 10000


def test_annual_invoice_posts_its_first_day_and_defers_the_rest() -> None:
    """at_posting on the invoice's day (2028-01-01) recognizes day one, 3.28; the other 1,196.72 goes to
    deferred revenue: Dr receivable 1,200.00, Cr revenue 3.28, Cr deferred revenue 1,196.72."""
    posting, rows = at_posting(schedule(ANNUAL, Y28), "EUR", Y28)
    assert (posting.revenue, posting.discounts, posting.unbilled, posting.deferred, posting.earlier) == (
        {"workspace": eur("3.28")}, eur("0.00"), eur("0.00"), eur("1196.72"), ()
    )  # fmt: skip
    assert [(r.recognized, r.recognized_through) for r in rows[:2]] == [(328, Y28), (0, None)]
    entry = invoice_entry(CHART, tenant_id="ten_1", id="je_1", posted_at=T, invoice_id="inv_1", number="INV-1",
                          currency="EUR", revenue=posting.revenue, discounts=posting.discounts, taxes={},
                          credit_applied=eur("0.00"), amount_due=eur("1200.00"), deferred=posting.deferred,
                          unbilled=posting.unbilled)  # fmt: skip
    assert postings(entry) == [
        ("1100", "debit", "1200.00"),
        ("4000", "credit", "3.28"),
        ("2300", "credit", "1196.72"),
    ]


def test_annual_plan_recognized_day_by_day_sums_to_the_month() -> None:
    """Recognizing February 2028 one day at a time books 3.27 or 3.28 a day (95.08 / 29 = 3.2786), each on
    its own day, and the 29 days sum to exactly February's row, 95.08; nothing else moves."""
    rows, _ = run(schedule(ANNUAL, Y28), date(2028, 1, 31))
    daily = []
    for n in range(29):
        rows, done = run(rows, date(2028, 2, 1) + n * DAY)
        assert [(r.booked_on, r.row.starts_on) for r in done] == [
            (date(2028, 2, 1) + n * DAY, date(2028, 2, 1))
        ]
        daily.append(done[0].net)
    assert set(daily) == {327, 328}
    assert sum(daily) == 9508
    assert [(r.recognized, r.recognized_through) for r in rows[:3]] == [
        (10164, date(2028, 1, 31)), (9508, date(2028, 2, 29)), (0, None)
    ]  # fmt: skip


def test_a_late_run_books_each_month_on_the_day_it_was_earned() -> None:
    """Rows recognized through 2028-02-15 (9508 × 15/29 = 4917.93 → 49.18) and run again on 03-05: February's
    rest, 45.90, is booked on 02-29 and March's 5 days (10164 × 5/31 = 1639.35 → 16.39) on 03-05; the
    entry for 02-29 is Dr deferred revenue / Cr revenue, booked on 02-29 though posted later."""
    rows, _ = run(schedule(ANNUAL, Y28), date(2028, 2, 15))
    assert rows[1].recognized == 4918
    _, done = run(rows, date(2028, 3, 5))
    sums = summed(done)
    assert [(s.booked_on, s.revenue, s.from_deferred, s.from_unbilled) for s in sums] == [
        (date(2028, 2, 29), {"workspace": eur("45.90")}, eur("45.90"), eur("0.00")),
        (date(2028, 3, 5), {"workspace": eur("16.39")}, eur("16.39"), eur("0.00")),
    ]
    entry = recognition_entry(
        CHART, sums[0], tenant_id="ten_1", id="je_9", posted_at=T, run_id="rr_2028-03-05"
    )
    assert postings(entry) == [("2300", "debit", "45.90"), ("4000", "credit", "45.90")]
    assert (entry.booked_on, entry.source_type, entry.source_id) == (
        date(2028, 2, 29), SourceType.REVENUE_RECOGNITION, "rr_2028-03-05"
    )  # fmt: skip
    assert entry.description == "Revenue recognized on 2028-02-29"


# ---- 2. a mid-period upgrade ---------------------------------------------------------------------------

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)
UPGRADE = date(2026, 11, 16)


def _upgrade() -> tuple[list[ScheduleRow], list[ScheduleRow]]:
    monthly_line = line("100.00", NOV, DEC)
    original = schedule(monthly_line, NOV)
    credit = line("-50.00", UPGRADE, DEC, kind=LineKind.PRORATION, origin=monthly_line.item.key)
    charge = line("100.00", UPGRADE, DEC, position=2, codes=("business",))
    new = [r for ln in (credit, charge) for r in line_schedule(doc(UPGRADE, source_id="inv_2"), ln, ids())]
    return original, new


def test_upgrade_credits_the_unused_half_and_charges_the_new_price_for_it() -> None:
    """100.00 for November, upgraded on 11-16 to 200.00: the proration credit -50.00 (15 of 30 days) and the
    new charge +100.00 both run 11-16..12-01 in one November row; as a month's rate, 15 days are half a
    month, so their MRR is -100.00 and +200.00."""
    original, new = _upgrade()
    assert table(original) == [(NOV, DEC, NOV, "ratable", 10000, 0, 10000)]
    assert table(new) == [
        (UPGRADE, DEC, NOV, "ratable", -5000, 0, -10000),
        (UPGRADE, DEC, NOV, "ratable", 10000, 0, 20000),
    ]
    assert [r.line_kind for r in new] == ["proration", "recurring"]
    assert months_in(UPGRADE, DEC) == Decimal("0.5")


def test_upgrade_mrr_is_200_from_the_16th() -> None:
    """MRR over the rows covering a day: 100.00 through 11-15; from 11-16 100.00 - 100.00 + 200.00 = 200.00."""
    original, new = _upgrade()
    assert mrr_on(original + new, date(2026, 11, 15)) == 10000
    assert mrr_on(original + new, UPGRADE) == 20000
    assert mrr_on(original + new, date(2026, 11, 30)) == 20000
    assert mrr_on(original + new, DEC) == 0


def test_upgrade_recognizes_150_in_november() -> None:
    """Half a month at 100.00 and half at 200.00: 150.00 by 11-30 (100.00 - 50.00 + 100.00). By 11-15 only
    the original's 50.00; on 11-16 the upgrade invoice recognizes -3.33 + 6.67 = 3.34 and defers 46.66."""
    original, new = _upgrade()
    assert net_by(original + new, date(2026, 11, 15)) == 5000
    assert net_by(original + new, UPGRADE) == 5333 + 334
    assert net_by(original + new, date(2026, 11, 30)) == 15000
    posting, _ = at_posting(new, "EUR", UPGRADE)
    assert (posting.revenue, posting.deferred, posting.unbilled) == (
        {"workspace": eur("3.34")}, eur("46.66"), eur("0.00")
    )  # fmt: skip


# ---- 3. a credit note ----------------------------------------------------------------------------------

NOTE_DAY = date(2026, 11, 10)


def _credit_note() -> tuple[list[ScheduleRow], list[ScheduleRow]]:
    original = schedule(line("100.00", NOV, DEC), NOV)
    note = doc(NOTE_DAY, source_type="credit_note", source_id="cn_1")
    return original, reduction_schedule(note, original, -3000, 0, ids())


def test_credit_note_reverses_the_past_at_once_and_the_rest_daily() -> None:
    """30.00 off a 100.00 November line on 11-10: 10 of 30 days are past, so -10.00 is one point row on 11-10
    (the catch-up) and -20.00 runs 11-11..12-01 beside the original, with MRR -30.00."""
    original, reduction = _credit_note()
    assert table(reduction) == [
        (NOTE_DAY, NOTE_DAY + DAY, NOV, "point", -1000, 0, None),
        (date(2026, 11, 11), DEC, NOV, "ratable", -2000, 0, -3000),
    ]
    assert {(r.source_type, r.source_id, r.billed_on, r.invoice_id, r.position) for r in reduction} == {
        ("credit_note", "cn_1", NOTE_DAY, "inv_1", 1)
    }
    assert mrr_on(original + reduction, date(2026, 11, 20)) == 7000


def test_credit_note_posting_takes_revenue_and_deferred_revenue_back() -> None:
    """at_posting on 11-10: revenue -10.00 today and -20.00 off deferred revenue; the credit note's entry
    is Dr revenue 10.00, Dr deferred revenue 20.00, Cr receivable 30.00."""
    _, reduction = _credit_note()
    posting, rows = at_posting(reduction, "EUR", NOTE_DAY)
    assert (posting.revenue, posting.discounts, posting.unbilled, posting.deferred, posting.earlier) == (
        {"workspace": eur("-10.00")}, eur("0.00"), eur("0.00"), eur("-20.00"), ()
    )  # fmt: skip
    assert [(r.recognized, r.recognized_through) for r in rows] == [(-1000, NOTE_DAY), (0, None)]
    entry = credit_note_entry(CHART, tenant_id="ten_1", id="je_2", posted_at=T, credit_note_id="cn_1",
                              number="CN-1", currency="EUR", revenue={"workspace": -posting.revenue["workspace"]},
                              discounts=-posting.discounts, taxes={}, to_receivable=eur("30.00"),
                              to_credit_balance=eur("0.00"), deferred=-posting.deferred)  # fmt: skip
    assert postings(entry) == [
        ("4000", "debit", "10.00"),
        ("2300", "debit", "20.00"),
        ("1100", "credit", "30.00"),
    ]


def test_credit_note_leaves_70_percent_of_each_day() -> None:
    """Original + reduction: 11-10 33.33 - 10.00 = 23.33 (70 % of 33.33); 11-20 66.67 - 10.00 - 10.00 =
    46.67; by 11-30 exactly 70.00."""
    original, reduction = _credit_note()
    assert net_by(original + reduction, NOTE_DAY) == 2333
    assert net_by(original + reduction, date(2026, 11, 20)) == 4667
    assert net_by(original + reduction, date(2026, 11, 30)) == 7000


# ---- 4. a write-off ------------------------------------------------------------------------------------

WRITE_OFF = date(2028, 3, 1)


def _write_off() -> tuple[list[ScheduleRow], list[ScheduleRow]]:
    rows, _ = run(schedule(ANNUAL, Y28), WRITE_OFF)
    unrecognized = sum(r.net - recognized_by(r, WRITE_OFF)[2] for r in rows)
    assert unrecognized == 120000 - 20000
    off = doc(WRITE_OFF, source_type="write_off", source_id="inv_1")
    return rows, reduction_schedule(off, rows, -unrecognized, 0, ids(), future_only=True)


def test_write_off_touches_only_days_after_it() -> None:
    """Written off on 2028-03-01: no catch-up row (nothing recognized is taken back), January and February are
    left alone, and April to December are released whole, mirrored day by day from their first day."""
    _, released = _write_off()
    assert [r.pattern for r in released] == [Pattern.RATABLE] * 10
    assert released[0].starts_on == date(2028, 3, 2)
    assert table(released[1:]) == [(s, e, m, p, -a, 0, -10000) for s, e, m, p, a, _, _ in ANNUAL_ROWS[3:]]
    assert {(r.source_type, r.billed_on) for r in released} == {("write_off", WRITE_OFF)}


def test_write_off_releases_exactly_what_is_not_yet_recognized() -> None:
    """amount = -(1,200.00 - 200.00 recognized through 03-01): the rows release exactly 1,000.00 — March's
    98.36 over 03-02..04-01 — and after the write-off the invoice has recognized 200.00 for good."""
    rows, released = _write_off()
    assert released[0].amount == -(10164 - 328)
    assert sum(r.amount for r in released) == -100000
    assert net_by(rows + released, date(2028, 12, 31)) == 20000


def test_write_off_entry_releases_deferred_revenue_and_books_bad_debt_for_the_rest() -> None:
    """uncollectible_entry with deferred = 1,000.00: Dr deferred revenue 1,000.00 (never earned, no loss),
    Dr bad debt 200.00 (what was recognized), Cr receivable 1,200.00."""
    entry = uncollectible_entry(CHART, tenant_id="ten_1", id="je_3", posted_at=T, invoice_id="inv_1",
                                number="INV-1", currency="EUR", amount=eur("1200.00"), deferred=eur("1000.00"))  # fmt: skip
    assert postings(entry) == [
        ("2300", "debit", "1000.00"), ("6200", "debit", "200.00"), ("1100", "credit", "1200.00")
    ]  # fmt: skip
    assert entry.source_type == SourceType.INVOICE_UNCOLLECTIBLE


# ---- 5. usage billed in arrears ------------------------------------------------------------------------


def test_usage_in_arrears_is_a_point_on_the_last_day_of_its_period() -> None:
    """Usage for November (42.00) invoiced on 12-01: one point row on 11-30, booked in November, no MRR."""
    rows = schedule(line("42.00", NOV, DEC, kind=LineKind.USAGE, product="api_calls"), DEC)
    assert table(rows) == [(date(2026, 11, 30), DEC, NOV, "point", 4200, 0, None)]
    assert rows[0].billed_on == DEC
    assert net_by(rows, date(2026, 11, 29)) == 0
    assert net_by(rows, date(2026, 11, 30)) == 4200


def test_usage_in_arrears_was_earned_before_its_invoice_so_it_is_unbilled() -> None:
    """at_posting on 12-01: nothing today, nothing deferred, 42.00 unbilled, recognized on 11-30 by a separate
    entry Dr unbilled receivables (1150) / Cr revenue (4000) booked on 11-30; the invoice's entry then moves it
    to the receivable: Dr 1100 / Cr 1150."""
    rows = schedule(line("42.00", NOV, DEC, kind=LineKind.USAGE, product="api_calls"), DEC)
    posting, after = at_posting(rows, "EUR", DEC)
    assert (posting.revenue, posting.discounts, posting.unbilled, posting.deferred) == (
        {}, eur("0.00"), eur("42.00"), eur("0.00")
    )  # fmt: skip
    assert [
        (s.booked_on, s.revenue, s.discounts, s.from_deferred, s.from_unbilled) for s in posting.earlier
    ] == [(date(2026, 11, 30), {"api_calls": eur("42.00")}, eur("0.00"), eur("0.00"), eur("42.00"))]
    assert [(r.recognized, r.recognized_through, r.pending) for r in after] == [(4200, DEC, False)]
    entry = recognition_entry(
        CHART, posting.earlier[0], tenant_id="ten_1", id="je_4", posted_at=T, run_id="inv_1"
    )
    assert postings(entry) == [("1150", "debit", "42.00"), ("4000", "credit", "42.00")]
    assert entry.booked_on == date(2026, 11, 30)
    invoice = invoice_entry(CHART, tenant_id="ten_1", id="je_5", posted_at=T, invoice_id="inv_1", number="INV-2",
                            currency="EUR", revenue=posting.revenue, discounts=posting.discounts, taxes={},
                            credit_applied=eur("0.00"), amount_due=eur("42.00"), deferred=posting.deferred,
                            unbilled=posting.unbilled)  # fmt: skip
    assert postings(invoice) == [("1100", "debit", "42.00"), ("1150", "credit", "42.00")]


# ---- 6. closed months ----------------------------------------------------------------------------------

OCT = date(2026, 10, 1)


def test_booking_month_is_the_days_own_or_the_first_open_one() -> None:
    """Through October closed, October's days book in November; later days keep their month."""
    assert booking_month(date(2026, 10, 15), OCT) == NOV
    assert booking_month(date(2026, 9, 30), OCT) == NOV
    assert booking_month(date(2026, 11, 3), OCT) == NOV
    assert booking_month(date(2026, 12, 31), OCT) == DEC
    assert booking_month(date(2026, 10, 15), None) == OCT


def test_a_line_for_a_closed_month_is_recognized_on_the_first_open_day() -> None:
    """31.00 for October invoiced on 11-01 with October closed: its row is booked in November and recognized
    whole on 11-01 (nothing by 10-31), booked on 11-01, from deferred revenue (billed that day)."""
    rows = schedule(line("31.00", OCT, NOV), NOV, closed_through=OCT)
    assert table(rows) == [(OCT, NOV, NOV, "ratable", 3100, 0, 3100)]
    assert net_by(rows, date(2026, 10, 31)) == 0
    _, done = run(rows, NOV)
    assert [(r.booked_on, r.net, r.unbilled) for r in done] == [(NOV, 3100, False)]


def test_a_line_across_a_closed_month_books_its_closed_part_at_once() -> None:
    """62.00 over 10-15..11-15 (31 days) invoiced on 11-01, October closed: October's 17 days (34.00) book
    whole on 11-01, November's 14 days (28.00) daily. The invoice's own entry recognizes November's first day
    (2.00) and defers 60.00; a separate entry on 11-01 takes October's 34.00 from deferred revenue, effective
    10-31, with the reason. 10-15..11-15 is one calendar month, so the MRR is 62.00."""
    rows = schedule(line("62.00", date(2026, 10, 15), date(2026, 11, 15)), NOV, closed_through=OCT)
    assert table(rows) == [
        (date(2026, 10, 15), NOV, NOV, "ratable", 3400, 0, 6200),
        (NOV, date(2026, 11, 15), NOV, "ratable", 2800, 0, 6200),
    ]
    posting, _ = at_posting(rows, "EUR", NOV)
    assert (posting.revenue, posting.deferred, posting.unbilled) == (
        {"workspace": eur("2.00")}, eur("60.00"), eur("0.00")
    )  # fmt: skip
    (october,) = posting.earlier
    assert (october.booked_on, october.effective_on, october.revenue, october.from_deferred) == (
        NOV, date(2026, 10, 31), {"workspace": eur("34.00")}, eur("34.00")
    )  # fmt: skip
    entry = recognition_entry(CHART, october, tenant_id="ten_1", id="je_1", posted_at=T, run_id="rr")
    assert (entry.booked_on, entry.effective_on, entry.note) == (
        NOV,
        date(2026, 10, 31),
        "2026-10 is closed: booked in 2026-11",
    )


def test_a_credit_note_on_a_closed_months_row_is_all_catch_up() -> None:
    """A credit note of the October line (31.00, booked in November) on 11-10: one point row of -31.00 on
    11-10, nothing mirrored."""
    rows = schedule(line("31.00", OCT, NOV), NOV, closed_through=OCT)
    note = doc(NOTE_DAY, source_type="credit_note", source_id="cn_2", closed_through=OCT)
    assert table(reduction_schedule(note, rows, -3100, 0, ids())) == [
        (NOTE_DAY, NOTE_DAY + DAY, NOV, "point", -3100, 0, None)
    ]


# ---- 7. discounts --------------------------------------------------------------------------------------


def test_discount_is_spread_like_the_line() -> None:
    """100.00 less 10.00 over 2026-11-01..2027-01-01 (30 + 31 days): amount 49.18 / 50.82 (4918.03, 5081.97),
    discount 4.92 / 5.08 (491.80, 508.20), each by the largest remainder; MRR is the net per month, 45.00."""
    rows = schedule(line("100.00", NOV, date(2027, 1, 1), discount="10.00"), NOV)
    assert table(rows) == [
        (NOV, DEC, NOV, "ratable", 4918, 492, 4500),
        (DEC, date(2027, 1, 1), DEC, "ratable", 5082, 508, 4500),
    ]
    assert [r.net for r in rows] == [4426, 4574]
    assert recognized_by(rows[0], date(2026, 11, 15)) == (2459, 246, 2213)
    assert recognized_by(rows[1], date(2026, 12, 31)) == (5082, 508, 4574)


def test_discount_posts_to_the_discounts_account_as_it_is_earned() -> None:
    """The invoice (11-01) recognizes 1.64 less 0.16 (4918/30, 492/30) and defers 88.52; a run on 11-15
    recognizes 24.59 - 2.46 in all, so 22.95 - 2.30 = 20.65 more: Dr deferred, Dr discounts, Cr revenue."""
    rows = schedule(line("100.00", NOV, date(2027, 1, 1), discount="10.00"), NOV)
    posting, rows = at_posting(rows, "EUR", NOV)
    assert (posting.revenue, posting.discounts, posting.deferred) == (
        {"workspace": eur("1.64")}, eur("0.16"), eur("88.52")
    )  # fmt: skip
    invoice = invoice_entry(CHART, tenant_id="ten_1", id="je_6", posted_at=T, invoice_id="inv_1", number="INV-3",
                            currency="EUR", revenue=posting.revenue, discounts=posting.discounts, taxes={},
                            credit_applied=eur("0.00"), amount_due=eur("90.00"), deferred=posting.deferred)  # fmt: skip
    assert postings(invoice) == [
        ("1100", "debit", "90.00"), ("4900", "debit", "0.16"), ("4000", "credit", "1.64"), ("2300", "credit", "88.52")
    ]  # fmt: skip
    _, done = run(rows, date(2026, 11, 15))
    [s] = summed(done)
    entry = recognition_entry(CHART, s, tenant_id="ten_1", id="je_7", posted_at=T, run_id="rr_2026-11-15")
    assert postings(entry) == [
        ("2300", "debit", "20.65"),
        ("4900", "debit", "2.30"),
        ("4000", "credit", "22.95"),
    ]


# ---- timing of the other kinds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "end", "expected"),
    [
        (LineKind.SETUP, NOV, DEC, (date(2026, 11, 5), date(2026, 11, 6), "point")),  # on the billing day
        (LineKind.ONE_OFF, None, None, (date(2026, 11, 5), date(2026, 11, 6), "point")),
        (LineKind.MANUAL, None, None, (date(2026, 11, 5), date(2026, 11, 6), "point")),
        (LineKind.MANUAL, NOV, DEC, (NOV, DEC, "ratable")),  # a hand-written line naming a period
        (LineKind.USAGE_IN_ADVANCE, NOV, DEC, (NOV, DEC, "ratable")),
        (LineKind.MINIMUM, NOV, DEC, (date(2026, 11, 30), DEC, "point")),  # measured at the period's end
        (LineKind.RECURRING, DEC, NOV, (date(2026, 11, 5), date(2026, 11, 6), "point")),  # an empty period
    ],
)
def test_each_kind_is_recognized_ratably_or_at_a_point(
    kind: LineKind, start: date | None, end: date | None, expected: tuple[date, date, str]
) -> None:
    """Setup fees, one-off charges and period-less manual lines: the billing day (11-05); a manual line with
    a period and usage in advance: ratably; minimum true-ups: the period's last day."""
    [row] = schedule(line("30.00", start, end, kind=kind), date(2026, 11, 5))
    assert (row.starts_on, row.ends_on, row.pattern.value) == expected
    assert row.mrr is None


def test_months_in_counts_calendar_months_then_a_fraction() -> None:
    """Jan 15 - Feb 15 is one month; Jan 31 - Feb 29 (2028) one month (the month end kept); Nov 1 - Nov 16
    is 15/30 of a month; a 1,200.00 quarter is 400.00 a month."""
    assert months_in(date(2026, 1, 15), date(2026, 2, 15)) == 1
    assert months_in(date(2028, 1, 31), date(2028, 2, 29)) == 1
    assert months_in(NOV, UPGRADE) == Decimal("0.5")
    assert monthly(120000, date(2026, 1, 1), date(2026, 4, 1)) == 40000
    assert monthly(-5000, UPGRADE, DEC) == -10000


def test_empty_line_has_no_rows() -> None:
    """A zero line with no discount recognizes nothing: no rows."""
    assert schedule(line("0.00", NOV, DEC), NOV) == []


def test_recognized_rows_are_not_recognized_twice() -> None:
    """A run through a day a row is already recognized through recognizes nothing from it."""
    rows, done = run(schedule(line("100.00", NOV, DEC), NOV), date(2026, 11, 20))
    assert [r.net for r in done] == [6667]
    assert run(rows, date(2026, 11, 20))[1] == []
    assert run(rows, date(2026, 11, 19))[1] == []
