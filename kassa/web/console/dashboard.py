"""The console's front page: MRR and its movements, revenue, collections, churn, usage, the top customers and
dunning recovery, as KPI tiles and Chart.js charts (each with a data table for screen readers and a
printout), over the months and in the currency the filter asks for.

Every panel is read on its own: a report that cannot be made (an exchange rate missing for the currency
asked) shows its reason in its card and the rest of the page still renders."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kassa.core.dunning import RecoveryReport, rate_text
from kassa.core.errors import DomainError
from kassa.core.money import Money, currency_code
from kassa.core.reports import Report, month_name, parse_month
from kassa.services import dashboard, dunning, recurring_revenue, revenue_reports
from kassa.services.context import ServiceContext
from kassa.web.console.auth import Staff, context, viewer
from kassa.web.templating import money, render, translate

router = APIRouter()
T = TypeVar("T")


@dataclass
class Series:
    label: str
    values: list[str | None]  # amounts as exact text; the browser parses them only to draw
    color: str
    kind: str = ""  # "line" drawn over bars in a bar chart


@dataclass
class Chart:
    """One chart: labels (months, customers, attempts) and series; the template draws the card, the
    canvas and the table with the same figures."""

    id: str
    title: str
    kind: str  # line | bar
    labels: list[str]
    series: list[Series]
    unit: str  # a currency code, "%" or "" (counts)
    summary: str  # what the chart shows, for the canvas's aria-label
    error: str | None = None
    stacked: bool = False
    horizontal: bool = False
    empty: bool = False
    table_values: list[list[str]] = field(default_factory=list)  # formatted cells per label

    def data(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "labels": self.labels, "unit": self.unit,
                "stacked": self.stacked, "horizontal": self.horizontal,
                "series": [{"label": s.label, "values": s.values, "color": s.color, "kind": s.kind}
                           for s in self.series]}  # fmt: skip


BLUE, GREEN, TEAL, ORANGE, RED, PURPLE, GREY = (
    "#2454d6", "#1a7f47", "#0f8b8d", "#c76b00", "#b3261e", "#7048c6", "#6b7385")  # fmt: skip


def _text(value: object) -> str | None:
    if isinstance(value, Money):
        return value.amount_text()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _column(report: Report, name: str, sign: int = 1) -> list[str | None]:
    values = [_text(row.get(name)) for row in report.rows]
    if sign < 0:
        return [None if v is None else (v[1:] if v.startswith("-") else f"-{v}") for v in values]
    return values


def _zero(values: Sequence[str | None]) -> bool:
    return all(v is None or Decimal(v) == 0 for v in values)


@dataclass
class Filters:
    first: str
    last: str
    currency: str
    currencies: list[str]
    error: str | None = None
    error_field: str | None = None


def _filters(ctx: ServiceContext, staff: Staff, first: str | None, last: str | None,
             currency: str | None) -> Filters:  # fmt: skip
    """The months and currency asked for, else the defaults (the last 12 months, the reporting currency).
    Bad input keeps the defaults and says what is wrong next to the field."""
    default = revenue_reports.span(ctx, staff.actor, None, None)
    chosen = Filters(first=month_name(default[0]), last=month_name(default[-1]),
                     currency=dashboard.reporting_currency(ctx, staff.actor),
                     currencies=dashboard.currencies(ctx, staff.actor))  # fmt: skip
    try:
        if currency:
            chosen.currency = currency_code(currency.strip().upper(), "currency")
        if first or last:
            start = parse_month(first or chosen.first, "first")
            end = parse_month(last or chosen.last, "last")
            revenue_reports.span(
                ctx, staff.actor, month_name(start), month_name(end)
            )  # checks order and length
            chosen.first, chosen.last = month_name(start), month_name(end)
    except DomainError as error:
        chosen.error, chosen.error_field = error.message, {"from": "first", "to": "last"}.get(
            error.field or "", error.field)  # fmt: skip
    if chosen.currency not in chosen.currencies:
        chosen.currencies = sorted({*chosen.currencies, chosen.currency})
    return chosen


def _read(read: Callable[[], T]) -> tuple[T | None, str | None]:
    try:
        return read(), None
    except DomainError as error:
        return None, error.message


def _money_cells(chart: Chart, locale: str) -> None:
    """The table's cells: amounts in the locale with their currency, percentages and counts as they are."""
    for i in range(len(chart.labels)):
        row = []
        for s in chart.series:
            v = s.values[i]
            if v is None:
                row.append("–")
            elif chart.unit == "%":
                row.append(f"{v} %")
            elif chart.unit:
                row.append(money(Money(Decimal(v), chart.unit), locale))
            else:
                row.append(f"{int(v):,}")
        chart.table_values.append(row)


def _mrr_charts(report: Report | None, error: str | None, t: Callable[..., str]) -> list[Chart]:
    if report is None:
        return [Chart(id="mrr", title=t("MRR"), kind="bar", labels=[], series=[], unit="", summary="", error=error),
                Chart(id="churn", title=t("Churn"), kind="line", labels=[], series=[], unit="%", summary="",
                      error=error)]  # fmt: skip
    months = [str(r["month"]) for r in report.rows]
    cur = report.currency or ""
    mrr = _column(report, "mrr")
    movements = Chart(
        id="mrr", title=t("MRR and its movements"), kind="bar", labels=months, unit=cur, stacked=True,
        series=[Series(t("New"), _column(report, "new_mrr"), GREEN),
                Series(t("Expansion"), _column(report, "expansion_mrr"), TEAL),
                Series(t("Reactivation"), _column(report, "reactivation_mrr"), PURPLE),
                Series(t("Contraction"), _column(report, "contraction_mrr", -1), ORANGE),
                Series(t("Churned"), _column(report, "churned_mrr", -1), RED),
                Series(t("MRR"), mrr, BLUE, kind="line")],
        summary=t("MRR at each month's end from {first} to {last}: {values}.", first=months[0], last=months[-1],
                  values=", ".join(f"{m} {v}" for m, v in zip(months, mrr, strict=True))),
    )  # fmt: skip
    movements.empty = _zero(mrr) and all(_zero(s.values) for s in movements.series)
    logo, revenue = _column(report, "logo_churn_pct"), _column(report, "revenue_churn_pct")
    churn = Chart(
        id="churn", title=t("Churn"), kind="line", labels=months, unit="%",
        series=[Series(t("Customer churn rate"), logo, RED), Series(t("Revenue churn rate"), revenue, ORANGE)],
        summary=t("Customer churn and revenue churn, percent per month, from {first} to {last}.",
                  first=months[0], last=months[-1]),
    )  # fmt: skip
    churn.empty = all(v is None for v in logo + revenue)
    return [movements, churn]


def _revenue_chart(report: Report | None, error: str | None, t: Callable[..., str]) -> Chart:
    if report is None:
        return Chart(id="revenue", title=t("Revenue"), kind="bar", labels=[], series=[], unit="", summary="",
                     error=error)  # fmt: skip
    months = [str(r["month"]) for r in report.rows]
    chart = Chart(
        id="revenue", title=t("Revenue"), kind="bar", labels=months, unit=report.currency or "",
        series=[Series(t("Billed"), _column(report, "billings"), BLUE),
                Series(t("Recognized"), _column(report, "recognized"), GREEN),
                Series(t("Deferred revenue"), _column(report, "deferred_revenue"), ORANGE, kind="line"),
                Series(t("Bookings"), _column(report, "bookings"), PURPLE),
                Series(t("Backlog"), _column(report, "unbilled_backlog"), GREY, kind="line")],
        summary=t("Billed, recognized and deferred revenue, bookings and backlog per month from {first} to "
                  "{last}.", first=months[0], last=months[-1]),
    )  # fmt: skip
    chart.empty = all(_zero(s.values) for s in chart.series)
    return chart


def _collections_chart(report: Report | None, error: str | None, t: Callable[..., str]) -> list[Chart]:
    if report is None:
        return [Chart(id="collections", title=t("Collections"), kind="bar", labels=[], series=[], unit="",
                      summary="", error=error),
                Chart(id="aging", title=t("Receivables by age"), kind="bar", labels=[], series=[], unit="",
                      summary="", error=error)]  # fmt: skip
    months = [str(r["month"]) for r in report.rows]
    cur = report.currency or ""
    collected = _column(report, "collected")
    paid = Chart(
        id="collections", title=t("Collected per month"), kind="bar", labels=months, unit=cur,
        series=[Series(t("Collected"), collected, GREEN)],
        summary=t("Payments collected per month from {first} to {last}.", first=months[0], last=months[-1]),
    )  # fmt: skip
    paid.empty = _zero(collected)
    buckets = [("current", t("Not yet due")), ("1_30", t("1–30 days")), ("31_60", t("31–60 days")),
               ("61_90", t("61–90 days")), ("over_90", t("Over 90 days"))]  # fmt: skip
    values = [_text(report.summary.get(f"aging_{b}")) for b, _ in buckets]
    aging = Chart(
        id="aging", title=t("Receivables by age"), kind="bar", labels=[label for _, label in buckets], unit=cur,
        series=[Series(t("Owed"), values, ORANGE)],
        summary=t("What customers owe today by days past due: {values}.",
                  values=", ".join(f"{label} {v}" for (_, label), v in zip(buckets, values, strict=True))),
    )  # fmt: skip
    aging.empty = _zero(values)
    return [paid, aging]


def _usage_chart(report: Report | None, error: str | None, t: Callable[..., str]) -> Chart:
    if report is None:
        return Chart(id="usage", title=t("Usage"), kind="bar", labels=[], series=[], unit="", summary="",
                     error=error)  # fmt: skip
    months = list(dict.fromkeys(str(r["month"]) for r in report.rows))
    metrics = list(dict.fromkeys(str(r["metric"]) for r in report.rows))
    palette = [BLUE, TEAL, PURPLE, ORANGE, GREEN, GREY]
    counts = {(str(r["month"]), str(r["metric"])): _text(r["events"]) for r in report.rows}
    series = [Series(metric, [counts.get((m, metric), "0") for m in months], palette[i % len(palette)])
              for i, metric in enumerate(metrics)]  # fmt: skip
    chart = Chart(id="usage", title=t("Usage events"), kind="bar", labels=months, unit="", stacked=True,
                  series=series, summary=t("Usage events per month and billable metric."))  # fmt: skip
    chart.empty = not series or all(_zero(s.values) for s in series)
    return chart


def _top_chart(report: Report | None, error: str | None, t: Callable[..., str]) -> Chart:
    if report is None:
        return Chart(id="top", title=t("Top customers"), kind="bar", labels=[], series=[], unit="", summary="",
                     error=error)  # fmt: skip
    names = [str(r["name"]) for r in report.rows]
    values = [_text(r["mrr"]) for r in report.rows]
    chart = Chart(
        id="top", title=t("Top customers by MRR"), kind="bar", labels=names, unit=report.currency or "",
        horizontal=True, series=[Series(t("MRR"), values, BLUE)],
        summary=t("The customers with the highest MRR at the end of {month}: {values}.",
                  month=str(report.summary.get("month")),
                  values=", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))),
    )  # fmt: skip
    chart.empty = not names
    return chart


def _pct(rate: Fraction | None) -> str | None:
    text = rate_text(rate)
    return None if text is None else format(Decimal(text) * 100, "f").rstrip("0").rstrip(".")


def _dunning_chart(report: RecoveryReport | None, error: str | None, t: Callable[..., str]) -> Chart:
    if report is None:
        return Chart(id="dunning", title=t("Dunning recovery"), kind="bar", labels=[], series=[], unit="",
                     summary="", error=error)  # fmt: skip
    attempts = sorted(report.by_attempt)
    labels = [t("Retry {n}", n=n - 1) for n in attempts]
    chart = Chart(
        id="dunning", title=t("Dunning recovery by retry"), kind="bar", labels=labels, unit="",
        series=[Series(t("Retries"), [str(report.by_attempt[n].attempts) for n in attempts], GREY),
                Series(t("Recovered"), [str(report.by_attempt[n].recovered) for n in attempts], GREEN)],
        summary=t("{dunning} invoices entered dunning, {recovered} were recovered by a retry.",
                  dunning=report.invoices_in_dunning, recovered=report.invoices_recovered),
    )  # fmt: skip
    chart.empty = not attempts
    return chart


@dataclass
class Tile:
    label: str
    value: str
    note: str = ""
    tone: str = ""  # ok | warn | bad: the badge beside the note


def _last(report: Report | None, name: str) -> object:
    return report.rows[-1].get(name) if report is not None and report.rows else None


def _sum(report: Report | None, name: str, currency: str) -> Money | None:
    if report is None:
        return None
    amounts = [v for r in report.rows if isinstance(v := r.get(name), Money)]
    return sum(amounts, Money.zero(report.currency or currency))


def _tiles(mrr: Report | None, revenue: Report | None, collections: Report | None,
           recovery: RecoveryReport | None, currency: str, locale: str,
           t: Callable[..., str]) -> list[Tile]:  # fmt: skip
    def shown(value: object) -> str:
        if isinstance(value, Money):
            return money(value, locale)
        if isinstance(value, Decimal):
            return f"{value} %"
        return "–" if value is None else str(value)

    last_month = str(_last(mrr, "month") or "")
    tiles = [
        Tile(t("MRR"), shown(_last(mrr, "mrr")), t("end of {month}", month=last_month) if last_month else ""),
        Tile(t("ARR"), shown(_last(mrr, "arr"))),
        Tile(t("Net new MRR"), shown(_last(mrr, "net_new_mrr")), last_month),
        Tile(t("Paying customers"), shown(_last(mrr, "customers"))),
        Tile(t("Customer churn"), shown(_last(mrr, "logo_churn_pct")), last_month),
        Tile(t("Revenue churn"), shown(_last(mrr, "revenue_churn_pct")), last_month),
        Tile(t("Billed"), shown(_sum(revenue, "billings", currency)), t("in the period")),
        Tile(t("Recognized"), shown(_sum(revenue, "recognized", currency)), t("in the period")),
        Tile(t("Deferred revenue"), shown(_last(revenue, "deferred_revenue")), last_month),
        Tile(t("Collected"), shown(collections.summary.get("collected") if collections else None),
             t("in the period")),
        Tile(t("Due"), shown(collections.summary.get("due") if collections else None), t("not yet past due")),
    ]  # fmt: skip
    overdue = collections.summary.get("overdue") if collections else None
    late = isinstance(overdue, Money) and overdue.amount > 0
    tiles.append(Tile(t("Overdue"), shown(overdue), t("past due today"), "bad" if late else "ok"))
    rate = _pct(recovery.recovery_rate) if recovery else None
    tiles.append(Tile(t("Dunning recovery"), "–" if rate is None else f"{rate} %",
                      t("{n} of {m} invoices", n=recovery.invoices_recovered, m=recovery.invoices_in_dunning)
                      if recovery else ""))  # fmt: skip
    return tiles


@router.get("/")
def dashboard_page(
    request: Request,
    staff: Annotated[Staff, Depends(viewer)],
    first: str | None = None,
    last: str | None = None,
    currency: str | None = None,
) -> Response:
    ctx = context(request)
    locale: str = getattr(request.state, "locale", "en")

    def t(text: str, **values: Any) -> str:
        return translate(locale, text, **values)

    chosen = _filters(ctx, staff, first, last, currency)
    actor, f, to, cur = staff.actor, chosen.first, chosen.last, chosen.currency
    mrr, mrr_error = _read(lambda: recurring_revenue.mrr_report(ctx, actor, f, to, cur))
    revenue, revenue_error = _read(lambda: revenue_reports.revenue_report(ctx, actor, f, to, cur))
    collections, collections_error = _read(lambda: dashboard.collections_report(ctx, actor, f, to, cur))
    usage, usage_error = _read(lambda: dashboard.usage_report(ctx, actor, f, to))
    top, top_error = _read(lambda: dashboard.top_customers_report(ctx, actor, to, cur))
    recovery, recovery_error = _read(lambda: dunning.recovery(ctx, actor))
    movements, churn = _mrr_charts(mrr, mrr_error, t)
    paid, aged = _collections_chart(collections, collections_error, t)
    # the two wide charts first, then pairs side by side
    charts = [movements, _revenue_chart(revenue, revenue_error, t), churn, paid, aged,
              _top_chart(top, top_error, t), _usage_chart(usage, usage_error, t),
              _dunning_chart(recovery, recovery_error, t)]  # fmt: skip
    for chart in charts:
        _money_cells(chart, locale)
    recovered: Mapping[str, Money] = recovery.recovered_amount if recovery else {}
    return render(
        request, "console/dashboard.html", status_code=422 if chosen.error else 200, filters=chosen,
        tiles=_tiles(mrr, revenue, collections, recovery, cur, locale, t), charts=charts,
        chart_data=[c.data() for c in charts if not c.error and not c.empty],
        recovered=[money(m, locale) for _, m in sorted(recovered.items())],
        rates=sorted({(r.currency, r.day.isoformat(), format(r.rate, "f"))
                      for report in (mrr, revenue, collections, top) if report for r in report.rates}),
    )  # fmt: skip
