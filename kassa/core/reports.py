"""What every report is: named columns and rows, in one currency, with the exchange rates it used.

Reports are read-only views over the books (`/v1/reports/...`), rendered as JSON or CSV from this one
shape so both always say the same thing. Months are calendar months named by their first day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.money import Money

Value = str | int | Decimal | Money | date | bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateUsed:
    """An exchange rate a report converted with: 1 `currency` = `rate` × reporting currency, on `day`."""

    currency: str
    rate: Decimal
    day: date  # the rate's own date (the latest on or before the day asked for)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    name: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Value], ...]
    currency: str | None = None  # the reporting currency amounts are in (None: each row names its own)
    rates: tuple[RateUsed, ...] = ()
    notes: tuple[str, ...] = ()  # how a figure is defined, where vendors disagree
    summary: Mapping[str, Value] = field(default_factory=dict)


def _json(value: Value) -> Any:
    if isinstance(value, Money):
        return {"amount": value.amount_text(), "currency": value.currency}
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


FORMULA = ("=", "+", "-", "@", "\t", "\r")


def defused(text: str) -> str:
    """Free text for a CSV cell, defused for spreadsheets: a cell starting like a formula gets an apostrophe."""
    return "'" + text if text.startswith(FORMULA) else text


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, Money):
        return value.amount_text()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return defused(value)  # names and reasons customers and staff typed
    return str(value)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "report": report.name,
        "currency": report.currency,
        "columns": list(report.columns),
        "rows": [{c: _json(row.get(c)) for c in report.columns} for row in report.rows],
        "summary": {k: _json(v) for k, v in report.summary.items()},
        "rates": [
            {"currency": r.currency, "rate": format(r.rate, "f"), "date": r.day.isoformat()}
            for r in report.rates
        ],  # fmt: skip
        "notes": list(report.notes),
    }


def to_csv(report: Report) -> str:
    """One header row, one row per report row; amounts as plain decimals in the report's currency (a
    report without one has a row currency column)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_text(row.get(c)) for c in report.columns])
    return out.getvalue()


# ---- months --------------------------------------------------------------------------------------------


def month_name(month: date) -> str:
    """A month as reports and requests write it: YYYY-MM."""
    return f"{month.year:04d}-{month.month:02d}"


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def months(first: date, last: date) -> Iterator[date]:
    """The months from `first`'s to `last`'s, both included."""
    month, end = month_of(first), month_of(last)
    while month <= end:
        yield month
        month = next_month(month)


MAX_MONTHS = 120


FIRST_YEAR, LAST_YEAR = (
    1900,
    2999,
)  # months asked for lie between these years (month arithmetic stays in range)


def parse_month(value: Any, field_name: str) -> date:
    """`2026-11` (or a date in it) → 2026-11-01."""
    month = None
    if isinstance(value, date):
        month = month_of(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            month = date.fromisoformat(text + "-01") if len(text) == 7 else month_of(date.fromisoformat(text))
        except ValueError:
            pass
    if month is None:
        raise DomainError("invalid_month", "A month is written YYYY-MM, like 2026-11.", field_name)
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        raise DomainError(
            "invalid_month", f"A month is between {FIRST_YEAR}-01 and {LAST_YEAR}-12.", field_name
        )
    return month


def months_back(month: date, n: int) -> date:
    """The month `n` months before `month`, not before the first month a report covers."""
    index = max(month.year * 12 + month.month - 1 - n, FIRST_YEAR * 12)
    return date(index // 12, index % 12 + 1, 1)


def month_range(first: Any, last: Any) -> list[date]:
    start, end = parse_month(first, "from"), parse_month(last, "to")
    if end < start:
        raise DomainError("invalid_month", "`to` is not before `from`.", "to")
    span = list(months(start, end))
    if len(span) > MAX_MONTHS:
        raise DomainError("invalid_month", f"A report covers at most {MAX_MONTHS} months.", "to")
    return span


def columns_of(rows: Sequence[Mapping[str, Value]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return tuple(seen)
