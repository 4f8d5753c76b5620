"""The SQL of recurring revenue equals the oracle, on SQLite and on PostgreSQL.

RecurringRevenue.mrr_on sums MRR on many days in one query; core.recurring_revenue.mrr_on is the oracle. A
differential test draws revenue schedule rows (each inside its accounting month, as revenue recognition
writes them; negative proration credits, rows without MRR, two currencies, days on month bounds) and checks
the two agree; worked examples pin the values, the tenant wall and the churn-risk signal queries.

Every example inserts its rows in a unit of work that is never committed: the rollback is the cleanup.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.core.recurring_revenue import MrrRow, month_end, mrr_on
from kassa.core.reports import next_month
from kassa.services import customers
from kassa.services.context import ServiceContext
from kassa.store import recurring_revenue as store_module
from kassa.store.tables import invoices, payments, revenue_schedules
from kassa.store.uow import UnitOfWork
from tests.conftest import TenantAccess, make_tenant

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def schedule_row(tenant_id: str, customer_id: str, starts_on: date, ends_on: date, mrr: int | None,
                 currency: str = "EUR") -> dict[str, Any]:  # fmt: skip
    n = next(_ids)
    return {
        "tenant_id": tenant_id, "id": f"rsc_{n}", "customer_id": customer_id, "subscription_id": None,
        "invoice_id": f"inv_{n}", "source_type": "invoice", "source_id": f"inv_{n}", "position": 0,
        "product": "plan", "plan": "pro", "line_kind": "recurring" if mrr is not None else "usage",
        "pattern": "ratable", "currency": currency, "billed_on": starts_on, "month": starts_on.replace(day=1),
        "starts_on": starts_on, "ends_on": ends_on, "amount_minor": mrr or 0, "discount_minor": 0,
        "recognized_minor": 0, "pending": True, "mrr_minor": mrr, "created_at": T0,
    }  # fmt: skip


def oracle_rows(rows: Sequence[dict[str, Any]]) -> list[MrrRow]:
    return [MrrRow(customer_id=r["customer_id"], currency=r["currency"], starts_on=r["starts_on"],
                        ends_on=r["ends_on"], mrr_minor=r["mrr_minor"]) for r in rows]  # fmt: skip


def customer(ctx: ServiceContext, tenant: TenantAccess, name: str) -> str:
    return customers.create_customer(
        ctx, tenant.actor, {"external_id": name, "name": name, "currency": "EUR"}
    ).id


@pytest.fixture
def people(ctx: ServiceContext, tenant: TenantAccess) -> list[str]:
    return [customer(ctx, tenant, f"c{i}") for i in range(3)]


# ---- mrr_on --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_query", [60, 2])
def test_mrr_on_worked_example(
    ctx: ServiceContext,
    tenant: TenantAccess,
    people: list[str],
    per_query: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A monthly line, a mid-month upgrade (proration credit and charge), a usage row without MRR, a line in
    USD, a line ending the day before the month end, and another tenant's row: MRR on 15 and 31 January
    (also when the days take more than one query)."""
    monkeypatch.setattr(store_module, "DAYS_PER_QUERY", per_query)
    a, b, c = people
    other = make_tenant(ctx, "Other Co")
    stranger = customer(ctx, other, "x")
    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    rows = [
        schedule_row(tenant.id, a, jan, feb, 10000),
        schedule_row(tenant.id, a, date(2026, 1, 16), feb, -10000),  # the old plan's credit, per month
        schedule_row(tenant.id, a, date(2026, 1, 16), feb, 20000),
        schedule_row(tenant.id, a, jan, feb, None),  # usage: not MRR
        schedule_row(tenant.id, b, jan, feb, 4999, "USD"),
        schedule_row(tenant.id, c, jan, date(2026, 1, 31), 700),  # canceled effective the 31st
        schedule_row(other.id, stranger, jan, feb, 99999),
    ]
    with ctx.uow() as uow:
        uow.conn.execute(revenue_schedules.insert(), rows)
        got = uow.recurring_revenue.mrr_on(
            tenant.id, [date(2026, 1, 31), date(2026, 1, 15), date(2026, 2, 28)]
        )
        first = uow.recurring_revenue.first_month(tenant.id)
    assert got == {
        (a, "EUR"): {date(2026, 1, 15): 10000, date(2026, 1, 31): 20000},
        (b, "USD"): {date(2026, 1, 15): 4999, date(2026, 1, 31): 4999},
        (c, "EUR"): {date(2026, 1, 15): 700},
    }
    assert first == jan


def test_mrr_on_nothing(ctx: ServiceContext, tenant: TenantAccess) -> None:
    """No days, or no rows: empty; no recurring row: no first month."""
    with ctx.uow() as uow:
        assert uow.recurring_revenue.mrr_on(tenant.id, []) == {}
        assert uow.recurring_revenue.mrr_on(tenant.id, [date(2026, 1, 31)]) == {}
        assert uow.recurring_revenue.first_month(tenant.id) is None


MONTHS = [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
DAYS = sorted(
    {d for m in MONTHS for d in (m, m + timedelta(days=1), month_end(m) - timedelta(days=1), month_end(m))}
)


@st.composite
def segments(draw: st.DrawFn) -> tuple[date, date]:
    """A part of one month: [starts_on, ends_on) with month <= starts_on < ends_on <= next month."""
    month = draw(st.sampled_from(MONTHS))
    length = (next_month(month) - month).days
    start = draw(st.integers(0, length - 1))
    end = draw(st.sampled_from([length, length, draw(st.integers(start + 1, length))]))
    return month + timedelta(days=start), month + timedelta(days=end)


def test_sql_equals_the_oracle_on_random_rows(
    ctx: ServiceContext, tenant: TenantAccess, people: list[str]
) -> None:
    """For any rows and days, the store's MRR per (customer, currency, day) is the oracle's."""

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        drawn=st.lists(st.tuples(st.sampled_from(people), st.sampled_from(["EUR", "EUR", "USD"]), segments(),
                                 st.one_of(st.none(), st.integers(-50000, 50000), st.just(0))), max_size=30),
        days=st.lists(st.one_of(st.sampled_from(DAYS), st.dates(date(2025, 10, 25), date(2026, 3, 5))),
                      min_size=1, max_size=12),
    )  # fmt: skip
    def check(drawn: list[tuple[str, str, tuple[date, date], int | None]], days: list[date]) -> None:
        rows = [schedule_row(tenant.id, who, span[0], span[1], mrr, code) for who, code, span, mrr in drawn]
        with ctx.uow() as uow:
            if rows:
                uow.conn.execute(revenue_schedules.insert(), rows)
            assert uow.recurring_revenue.mrr_on(tenant.id, days) == mrr_on(oracle_rows(rows), days)

    check()


# ---- churn-risk signals ---------------------------------------------------------------------------------


def insert_usage(
    uow: UnitOfWork, tenant_id: str, events: list[tuple[str, str, datetime, str | None, bool]]
) -> None:
    rows = [
        {"id": f"ev_{next(_ids)}", "customer_id": cid, "subscription_id": "sub_x", "metric": metric,
         "timestamp": at, "received_at": at, "value": None if value is None else Decimal(value),
         "unique_key": None, "group_key": "", "counted": counted, "late": False, "properties": "{}"}
        for cid, metric, at, value, counted in events
    ]  # fmt: skip
    uow.usage_events.insert(tenant_id, rows)


def test_usage_per_customer_and_metric(ctx: ServiceContext, tenant: TenantAccess, people: list[str]) -> None:
    """Usage in [start, middle) and [middle, end): values summed for metrics with values, events counted for
    those without; uncounted events and events outside the windows are left out; bounds: start and middle
    included, end excluded."""
    a, b, _ = people
    end = T0
    middle, start = end - timedelta(days=30), end - timedelta(days=60)
    with ctx.uow() as uow:
        insert_usage(uow, tenant.id, [
            (a, "gb", start, "1.5", True), (a, "gb", middle - timedelta(microseconds=1), "2.25", True),
            (a, "gb", middle, "0.75", True), (a, "gb", end, "100", True),  # end: excluded
            (a, "gb", start - timedelta(seconds=1), "100", True),  # before start: excluded
            (a, "calls", start + timedelta(days=1), None, True), (a, "calls", start + timedelta(days=2), None, True),
            (a, "calls", start + timedelta(days=3), None, False),  # not counted
            (b, "calls", middle + timedelta(days=1), None, True),
        ])  # fmt: skip
        got = uow.recurring_revenue.usage(tenant.id, start, middle, end)
    assert got == {
        a: {"gb": (Decimal("3.75"), Decimal("0.75")), "calls": (Decimal(2), Decimal(0))},
        b: {"calls": (Decimal(0), Decimal(1))},
    }


def invoice_row(tenant_id: str, customer_id: str, id: str, status: str, due: date, due_minor: int, paid_minor: int = 0,
             credited_minor: int = 0) -> dict[str, Any]:  # fmt: skip
    return {
        "tenant_id": tenant_id, "id": id, "customer_id": customer_id, "number": id, "status": status,
        "currency": "EUR", "bill_date": None, "tax_inclusive": False, "subtotal_minor": due_minor,
        "discount_minor": 0, "tax_minor": 0, "total_minor": due_minor, "credit_applied_minor": 0,
        "credit_granted_minor": 0, "amount_due_minor": due_minor, "amount_paid_minor": paid_minor,
        "amount_credited_minor": credited_minor, "breakdown": {}, "notes": [], "parties": {}, "created_at": T0,
        "due_date": due,
    }  # fmt: skip


def payment_row(
    tenant_id: str, customer_id: str, invoice_id: str | None, status: str, at: datetime
) -> dict[str, Any]:
    n = next(_ids)
    return {
        "tenant_id": tenant_id, "id": f"pay_{n}", "customer_id": customer_id, "currency": "EUR",
        "amount_minor": 1000, "status": status, "method_type": "card", "invoice_id": invoice_id, "attempt": 1,
        "idempotency_key": f"key_{n}", "refunded_minor": 0, "disputed_minor": 0, "created_at": at,
    }  # fmt: skip


def test_failed_payments_and_invoices_in_dunning(
    ctx: ServiceContext, tenant: TenantAccess, people: list[str]
) -> None:
    """Failed attempts in [start, end) per customer; open invoices still owed with a failed attempt or past
    due (today), per customer: paid, credited, not yet due without failure, and void invoices are not."""
    a, b, c = people
    today = T0.date()
    start = T0 - timedelta(days=60)
    with ctx.uow() as uow:
        uow.conn.execute(invoices.insert(), [
            invoice_row(tenant.id, a, "inv_failed", "open", today + timedelta(days=5), 1000),
            invoice_row(tenant.id, a, "inv_late", "open", today - timedelta(days=1), 1000),
            invoice_row(tenant.id, a, "inv_paid_off", "open", today - timedelta(days=9), 1000, paid_minor=400,
                     credited_minor=600),
            invoice_row(tenant.id, b, "inv_due_today", "open", today, 1000),  # due today is not past due
            invoice_row(tenant.id, b, "inv_void", "void", today - timedelta(days=30), 1000),
            invoice_row(tenant.id, c, "inv_paid", "paid", today - timedelta(days=30), 1000, paid_minor=1000),
        ])  # fmt: skip
        uow.conn.execute(payments.insert(), [
            payment_row(tenant.id, a, "inv_failed", "failed", T0 - timedelta(days=1)),
            payment_row(tenant.id, a, "inv_failed", "failed", start),  # the start is included
            payment_row(tenant.id, a, None, "failed", start - timedelta(seconds=1)),  # too old
            payment_row(tenant.id, b, "inv_void", "failed", T0 - timedelta(days=2)),
            payment_row(tenant.id, c, "inv_paid", "succeeded", T0 - timedelta(days=2)),
            payment_row(tenant.id, c, "inv_paid", "failed", T0),  # the end is excluded
        ])  # fmt: skip
        failed = uow.recurring_revenue.failed_payments(tenant.id, start, T0)
        dunning = uow.recurring_revenue.invoices_in_dunning(tenant.id, today)
    assert failed == {a: 2, b: 1}
    assert dunning == {a: 2}
