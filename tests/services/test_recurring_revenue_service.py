"""Recurring revenue reports as use cases, on SQLite and PostgreSQL (kassa.services.recurring_revenue).

Revenue schedule rows are written the way revenue recognition writes them (one row per line and month,
inside the month), then the MRR report, the cohort table and the churn-risk list are checked exactly:
which month a cancellation churns in, the months asked for by default, another reporting currency with
its rates, the errors, and each churn signal from the rows it is measured on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.reports import next_month, to_json
from kassa.services import customers, recurring_revenue
from kassa.services.context import ServiceContext
from kassa.store.tables import exchange_rates, invoices, payments, revenue_schedules
from tests.conftest import SettableClock, TenantAccess, make_tenant
from tests.store.test_recurring_revenue_sql import insert_usage, invoice_row, payment_row, schedule_row

JAN, FEB, MAR, APR, MAY = (date(2026, m, 1) for m in range(1, 6))


def eur(text: str) -> dict[str, str]:
    return {"amount": text, "currency": "EUR"}


def customer(ctx: ServiceContext, tenant: TenantAccess, name: str, currency: str = "EUR") -> str:
    body = {"external_id": name, "name": name, "currency": currency}
    return customers.create_customer(ctx, tenant.actor, body).id


def monthly_rows(tenant_id: str, customer_id: str, first: date, last: date, mrr: int, currency: str = "EUR",
                 ends_on: date | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """A monthly subscription billed `mrr` from `first` through `last` (months); `ends_on`: canceled then."""
    rows, month = [], first
    while month <= last:
        end = next_month(month) if ends_on is None or ends_on > next_month(month) else ends_on
        rows.append(schedule_row(tenant_id, customer_id, month, end, mrr, currency))
        month = next_month(month)
    return rows


def insert(ctx: ServiceContext, table: Any, rows: list[dict[str, Any]]) -> None:
    with ctx.uow() as uow:
        uow.conn.execute(table.insert(), rows)
        uow.commit()


@pytest.fixture
def history(ctx: ServiceContext, tenant: TenantAccess) -> dict[str, str]:
    """A pays 100.00 from January and cancels effective 1 April (last day paid: 31 March): churns in April.
    B pays 50.00 from January, cancels on 20 February: not paying on 28 February, churns in February.
    C starts in March at 80.00 and upgrades to 120.00 in April (a separate line from April)."""
    a, b, c = (customer(ctx, tenant, n) for n in ("a", "b", "c"))
    rows = [
        *monthly_rows(tenant.id, a, JAN, MAR, 10000),
        *monthly_rows(tenant.id, b, JAN, FEB, 5000, ends_on=date(2026, 2, 20)),
        *monthly_rows(tenant.id, c, MAR, MAY, 8000),
        *monthly_rows(tenant.id, c, APR, MAY, 4000),
        schedule_row(tenant.id, c, MAR, APR, None),  # usage: never MRR
    ]
    insert(ctx, revenue_schedules, rows)
    return {"a": a, "b": b, "c": c}


def test_mrr_report(ctx: ServiceContext, tenant: TenantAccess, history: dict[str, str]) -> None:
    """Month-end MRR: a cancellation effective on the 1st churns in the month it takes effect, a mid-month
    one in its own month; net new = new + expansion + reactivation - contraction - churn."""
    report = to_json(recurring_revenue.mrr_report(ctx, tenant.actor, "2026-01", "2026-05"))
    got = [(r["month"], r["opening_mrr"]["amount"], r["new_mrr"]["amount"], r["expansion_mrr"]["amount"],
            r["churned_mrr"]["amount"], r["net_new_mrr"]["amount"], r["mrr"]["amount"], r["customers"],
            r["logo_churn_pct"]) for r in report["rows"]]  # fmt: skip
    assert got == [
        ("2026-01", "0.00", "150.00", "0.00", "0.00", "150.00", "150.00", 2, None),
        ("2026-02", "150.00", "0.00", "0.00", "50.00", "-50.00", "100.00", 1, "50.00"),
        ("2026-03", "100.00", "80.00", "0.00", "0.00", "80.00", "180.00", 2, "0.00"),
        ("2026-04", "180.00", "0.00", "40.00", "100.00", "-60.00", "120.00", 1, "50.00"),
        ("2026-05", "120.00", "0.00", "0.00", "0.00", "0.00", "120.00", 1, "0.00"),
    ]
    assert report["currency"] == "EUR" and report["rates"] == []
    assert report["summary"]["arr"] == eur("1440.00")
    assert report["rows"][3]["nrr_pct"] == "66.67"  # (180 + 40 - 100) / 180
    assert report["rows"][3]["ltv"] == eur("300.00")  # 120.00 / (2 churned / (2 + 1 + 2) at start)


def test_history_before_the_window_counts(
    ctx: ServiceContext, tenant: TenantAccess, history: dict[str, str]
) -> None:
    """A report from April still opens with March's MRR and knows who paid before (history is read from the
    tenant's first month)."""
    report = to_json(recurring_revenue.mrr_report(ctx, tenant.actor, "2026-04", "2026-04"))
    row = report["rows"][0]
    assert (row["opening_mrr"], row["customers_at_start"], row["mrr"]) == (eur("180.00"), 2, eur("120.00"))


def test_default_months_are_the_last_twelve(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    """Without from/to: the 12 months ending with this month in the tenant's time zone."""
    clock.at = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)  # 1 June in Berlin
    berlin = make_tenant(ctx, "Berlin GmbH", time_zone="Europe/Berlin")
    months = [r["month"] for r in to_json(recurring_revenue.mrr_report(ctx, berlin.actor))["rows"]]
    assert (months[0], months[-1], len(months)) == ("2025-07", "2026-06", 12)
    utc_months = [r["month"] for r in to_json(recurring_revenue.mrr_report(ctx, tenant.actor))["rows"]]
    assert (utc_months[0], utc_months[-1]) == ("2025-06", "2026-05")


def test_report_in_another_currency(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """MRR in EUR and USD reported in USD at each month end's rate (ECB: 1 EUR = x USD), rates listed."""
    e, u = customer(ctx, tenant, "e"), customer(ctx, tenant, "u", "USD")
    insert(ctx, revenue_schedules, [*monthly_rows(tenant.id, e, JAN, FEB, 10000),
                                    *monthly_rows(tenant.id, u, JAN, FEB, 5000, "USD")])  # fmt: skip
    now = datetime(2026, 1, 1, tzinfo=UTC)
    insert(ctx, exchange_rates, [
        {"tenant_id": tenant.id, "base": "EUR", "currency": "USD", "day": day, "rate": Decimal(rate),
         "source": "test", "imported_at": now}
        for day, rate in ((date(2026, 1, 30), "1.1"), (date(2026, 2, 27), "1.2"))
    ])  # fmt: skip
    report = to_json(recurring_revenue.mrr_report(ctx, tenant.actor, "2026-01", "2026-02", "USD"))
    jan, feb = report["rows"]
    usd = "USD"
    assert (jan["mrr"], feb["opening_mrr"], feb["fx_mrr"], feb["mrr"]) == (
        {"amount": "160.00", "currency": usd}, {"amount": "160.00", "currency": usd},
        {"amount": "10.00", "currency": usd}, {"amount": "170.00", "currency": usd})  # fmt: skip
    assert report["currency"] == "USD"
    assert report["rates"] == [{"currency": "EUR", "rate": "1.1", "date": "2026-01-30"},
                               {"currency": "EUR", "rate": "1.2", "date": "2026-02-27"}]  # fmt: skip


def test_missing_rate(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """MRR in a currency without imported rates: missing_exchange_rate, naming the currency."""
    u = customer(ctx, tenant, "u", "USD")
    insert(ctx, revenue_schedules, monthly_rows(tenant.id, u, JAN, JAN, 5000, "USD"))
    with pytest.raises(DomainError) as caught:
        recurring_revenue.mrr_report(ctx, tenant.actor, "2026-01", "2026-01")
    assert caught.value.code == "missing_exchange_rate"


@pytest.mark.parametrize(
    ("first", "last", "currency", "code", "field"),
    [
        ("2026-13", "2026-12", None, "invalid_month", "from"),
        ("2026-01", "Jan 2026", None, "invalid_month", "to"),
        ("2026-05", "2026-04", None, "invalid_month", "to"),
        ("2016-01", "2026-04", None, "invalid_month", "to"),  # more than 120 months
        ("0001-01", "2026-04", None, "invalid_month", "from"),  # before 1900
        ("2026-01", "9999-12", None, "invalid_month", "to"),  # after 2999
        ("2026-01", "2026-04", "XYZ", "unknown_currency", "currency"),
    ],
)
def test_bad_input(ctx: ServiceContext, tenant: TenantAccess, first: str, last: str, currency: str | None,
                   code: str, field: str) -> None:  # fmt: skip
    """Bad months (not a month, out of order, over 120 months, outside 1900..2999) and currencies are
    DomainErrors naming the field."""
    with pytest.raises(DomainError) as caught:
        recurring_revenue.mrr_report(ctx, tenant.actor, first, last, currency)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_cohort_report(ctx: ServiceContext, tenant: TenantAccess, history: dict[str, str]) -> None:
    """January's cohort (A, B: 150.00) and March's (C: 80.00), followed to May."""
    report = to_json(recurring_revenue.cohort_report(ctx, tenant.actor, "2026-01", "2026-05"))
    got = [(r["cohort"], r["months_since"], r["active_customers"], r["logo_retention_pct"], r["mrr"]["amount"],
            r["mrr_retention_pct"]) for r in report["rows"]]  # fmt: skip
    assert got == [
        ("2026-01", 0, 2, "100.00", "150.00", "100.00"),
        ("2026-01", 1, 1, "50.00", "100.00", "66.67"),
        ("2026-01", 2, 1, "50.00", "100.00", "66.67"),
        ("2026-01", 3, 0, "0.00", "0.00", "0.00"),
        ("2026-01", 4, 0, "0.00", "0.00", "0.00"),
        ("2026-03", 0, 1, "100.00", "80.00", "100.00"),
        ("2026-03", 1, 1, "100.00", "120.00", "150.00"),
        ("2026-03", 2, 1, "100.00", "120.00", "150.00"),
    ]


def test_empty_tenant(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """No revenue at all: zero rows for MRR, no cohorts, nobody at risk."""
    mrr = to_json(recurring_revenue.mrr_report(ctx, tenant.actor, "2026-01", "2026-02"))
    assert [r["mrr"] for r in mrr["rows"]] == [eur("0.00"), eur("0.00")]
    assert to_json(recurring_revenue.cohort_report(ctx, tenant.actor, "2026-01", "2026-02"))["rows"] == []
    assert to_json(recurring_revenue.churn_risk_report(ctx, tenant.actor))["rows"] == []


def test_churn_risk_report(ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock) -> None:
    """Today 1 March 2026. D's usage fell from 10 to 2 events; E failed twice and has an invoice in dunning;
    F went from 100.00 to 40.00 MRR since 1 December; G is fine (steady usage, MRR flat)."""
    clock.at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    now = clock.at
    d, e, f, g = (customer(ctx, tenant, n) for n in ("d", "e", "f", "g"))
    insert(ctx, revenue_schedules, [
        *monthly_rows(tenant.id, f, date(2025, 11, 1), date(2026, 3, 1), 10000, ends_on=date(2026, 2, 1)),
        *monthly_rows(tenant.id, f, date(2026, 2, 1), date(2026, 3, 1), 4000),
        *monthly_rows(tenant.id, g, date(2025, 11, 1), date(2026, 3, 1), 2000),
    ])  # fmt: skip
    with ctx.uow() as uow:
        insert_usage(uow, tenant.id, [
            *((d, "calls", now - timedelta(days=40, hours=h), None, True) for h in range(10)),
            *((d, "calls", now - timedelta(days=5, hours=h), None, True) for h in range(2)),
            *((g, "calls", now - timedelta(days=d_), None, True) for d_ in (10, 45)),
        ])  # fmt: skip
        uow.conn.execute(
            invoices.insert(), [invoice_row(tenant.id, e, "inv_e", "open", date(2026, 2, 10), 9900)]
        )
        uow.conn.execute(payments.insert(), [payment_row(tenant.id, e, "inv_e", "failed", now - timedelta(days=d_))
                                             for d_ in (3, 10)])  # fmt: skip
        uow.commit()
    report = to_json(recurring_revenue.churn_risk_report(ctx, tenant.actor, limit=10))
    got = [(r["customer_name"], r["score"], r["level"], r["signals"], r["reasons"]) for r in report["rows"]]
    assert got == [
        ("e", 45, "medium", "failed_payments in_dunning",
         "2 failed payment attempts in the last 60 days; 1 invoice in dunning"),
        ("f", 30, "medium", "downgraded", "MRR down from 100.00 EUR to 40.00 EUR in the last 90 days"),
        ("d", 25, "low", "usage_declining",
         "usage of calls fell: 2 in the last 30 days against 10 in the 30 before (-80.00 %)"),
    ]  # fmt: skip
    assert report["rows"][1]["mrr_change"] == eur("-60.00")
    assert report["summary"] == {"customers": 3, "high": 0, "medium": 2, "low": 1}
    top = to_json(recurring_revenue.churn_risk_report(ctx, tenant.actor, limit=1))
    assert [r["customer_name"] for r in top["rows"]] == ["e"]


@pytest.mark.parametrize("limit", [0, 1001])
def test_churn_risk_limit(ctx: ServiceContext, tenant: TenantAccess, limit: int) -> None:
    """limit is 1 to 1000."""
    with pytest.raises(DomainError) as caught:
        recurring_revenue.churn_risk_report(ctx, tenant.actor, limit=limit)
    assert (caught.value.code, caught.value.field) == ("invalid_limit", "limit")


def test_tenants_are_walls(ctx: ServiceContext, tenant: TenantAccess, history: dict[str, str]) -> None:
    """Another tenant sees none of this tenant's MRR."""
    other = make_tenant(ctx, "Other Co")
    report = to_json(recurring_revenue.mrr_report(ctx, other.actor, "2026-01", "2026-05"))
    assert {r["mrr"]["amount"] for r in report["rows"]} == {"0.00"}
    assert Money.zero("EUR").amount_text() == "0.00"
