"""The revenue reports: bookings, billings, recognized revenue, deferred revenue, unbilled receivables,
the unbilled backlog and RPO per month (and product), and the deferred revenue waterfall.

Each is a fold, in Python, of a few hundred sums the database computes per month (GROUP BY over the
revenue schedules and the contract revisions), so the cost does not grow with the months asked for.
Definitions (docs/revenue.md):
- billings: invoiced, net of tax and discounts, less credit notes and voids, in the month billed;
- released: revenue never to be earned, taken off deferred revenue by write-offs;
- recognized: revenue less discounts booked in the month;
- deferred revenue (end of month): billed, not yet recognized; unbilled receivables: recognized, not
  yet billed. billings − released = recognized + Δ deferred − Δ unbilled, per currency;
- unbilled backlog (end of month): committed by contracts in force and not yet billed; RPO = deferred
  revenue + unbilled backlog.
Amounts in other currencies are converted at the rate of the month's last day (the rate's date is listed).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date
from typing import Any

from kassa.core.audit import Actor
from kassa.core.exchange_rates import RateBook
from kassa.core.money import Money
from kassa.core.periods import add_months, local_day
from kassa.core.reports import RateUsed, Report, Value, month_name, month_range
from kassa.services import exchange_rates
from kassa.services.context import ServiceContext

FIGURES = ("bookings", "billings", "released", "recognized", "deferred_revenue", "unbilled_receivables",
           "unbilled_backlog", "rpo")  # fmt: skip
WATERFALL = ("month", "opening_deferred_revenue", "opening_unbilled_receivables", "billings", "released",
             "recognized", "closing_deferred_revenue", "closing_unbilled_receivables")  # fmt: skip
NOTES = (
    "billings are net of tax and discounts, less credit notes and voids; released is unearned revenue "
    "written off",
    "billings - released = recognized + change in deferred_revenue - change in unbilled_receivables",
    "rpo = deferred_revenue + unbilled_backlog; the backlog is what contracts commit to and have not billed",
)


def _last_day(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def _figures(
    uow: Any, tenant_id: str, months: list[date], by_product: bool
) -> dict[tuple[date, str, str], dict[str, int]]:
    """(month, product or "", currency) → figure → minor units."""
    out: dict[tuple[date, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    key = (lambda p: p) if by_product else (lambda p: "")
    for r in uow.revenue_schedules.monthly(tenant_id):
        net, done, product = int(r.net), int(r.recognized), key(r.product)
        for m in months:
            f = out[(m, product, r.currency)]
            if r.billed_month == m:
                f["released" if r.write_off else "billings"] += -net if r.write_off else net
            if r.month == m:
                f["recognized"] += done
            billed, earned = r.billed_month <= m, r.month <= m
            if billed:
                f["deferred_revenue"] += net - (done if earned else 0)
            elif earned:
                f["unbilled_receivables"] += done
    for r in uow.contracts.backlog_sums(tenant_id):
        for m in months:
            if r.signed <= m and (r.superseded is None or r.superseded > m) and r.bill > m:
                out[(m, key(r.product), r.currency)]["unbilled_backlog"] += int(r.amount)
    for r in uow.contracts.booking_sums(tenant_id):
        if r.month in months:
            out[(r.month, key(r.product), r.currency)]["bookings"] += int(r.amount)
    for f in out.values():
        f["rpo"] = f["deferred_revenue"] + f["unbilled_backlog"]
    return out


def _converted(figures: dict[tuple[date, str, str], dict[str, int]], book: RateBook, to: str,
               rates: dict[tuple[str, date], RateUsed]) -> dict[tuple[date, str], dict[str, Money]]:  # fmt: skip
    out: dict[tuple[date, str], dict[str, Money]] = defaultdict(lambda: {f: Money.zero(to) for f in FIGURES})
    for (month, product, currency), values in figures.items():
        day = _last_day(month)
        row = out[(month, product)]
        for name, minor in values.items():
            money, used = book.convert(Money.from_minor_units(minor, currency), to, day)
            if currency != to:
                rates[(currency, day)] = used
            row[name] = row[name] + money
    return out


def _rows(ctx: ServiceContext, actor: Actor, months: list[date], currency: str | None,
          by_product: bool) -> tuple[str, list[tuple[date, str, dict[str, Money]]], tuple[RateUsed, ...]]:  # fmt: skip
    with ctx.uow(read_only=True) as uow:
        figures = _figures(uow, actor.tenant_id, months, by_product)
        currencies = {c for _, _, c in figures}
        default, book = exchange_rates.reporting(
            uow, actor.tenant_id, currencies | ({currency} if currency else set())
        )
    to = currency or default
    rates: dict[tuple[str, date], RateUsed] = {}
    converted = _converted(figures, book, to, rates)
    rows = [(m, p, converted[(m, p)]) for m, p in sorted(converted) if m in months]
    if not by_product:
        have = {m for m, _, _ in rows}
        rows += [(m, "", {f: Money.zero(to) for f in FIGURES}) for m in months if m not in have]
        rows.sort(key=lambda r: r[0])
    return to, rows, tuple(sorted(rates.values(), key=lambda r: (r.day, r.currency)))


def span(ctx: ServiceContext, actor: Actor, first: Any, last: Any) -> list[date]:
    """The months asked for; without them, the twelve months to the current one."""
    if first is None or last is None:
        with ctx.uow(read_only=True) as uow:
            zone = uow.tenants.get(actor.tenant_id).settings.time_zone
        this = local_day(ctx.clock.now(), zone).replace(day=1)
        first = first or month_name(add_months(this, -11, 1))
        last = last or month_name(this)
    return month_range(first, last)


def revenue_report(ctx: ServiceContext, actor: Actor, first: Any, last: Any, currency: str | None = None,
                   by_product: bool = False) -> Report:  # fmt: skip
    to, rows, rates = _rows(ctx, actor, span(ctx, actor, first, last), currency, by_product)
    columns = ("month", *(("product",) if by_product else ()), *FIGURES)
    out: list[dict[str, Value]] = [
        {"month": month_name(m), **({"product": p} if by_product else {}), **values} for m, p, values in rows
    ]
    return Report(name="revenue", columns=columns, rows=tuple(out), currency=to, rates=rates, notes=NOTES)


def deferred_revenue_waterfall(ctx: ServiceContext, actor: Actor, first: Any, last: Any,
                               currency: str | None = None) -> Report:  # fmt: skip
    """Per month: opening deferred revenue and unbilled receivables, billed, released, recognized, closing."""
    months = span(ctx, actor, first, last)
    before = months[0].replace(year=months[0].year - 1, month=12) if months[0].month == 1 else months[0].replace(
        month=months[0].month - 1)  # fmt: skip
    to, rows, rates = _rows(ctx, actor, [before, *months], currency, False)
    out: list[dict[str, Value]] = []
    for (_, _, opening), (m, _, values) in zip(rows, rows[1:], strict=False):
        out.append({"month": month_name(m), "opening_deferred_revenue": opening["deferred_revenue"],
                    "opening_unbilled_receivables": opening["unbilled_receivables"], "billings": values["billings"],
                    "released": values["released"], "recognized": values["recognized"],
                    "closing_deferred_revenue": values["deferred_revenue"],
                    "closing_unbilled_receivables": values["unbilled_receivables"]})  # fmt: skip
    return Report(name="deferred_revenue_waterfall", columns=WATERFALL, rows=tuple(out), currency=to, rates=rates,
                  notes=NOTES[:2])  # fmt: skip
