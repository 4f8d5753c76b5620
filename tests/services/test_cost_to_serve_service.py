"""Cost to serve on SQLite and PostgreSQL: costs recorded (audited, with their event) and imported (all or
nothing, exactly once per row, customers named by id or external id), listed page by page, and the margin
report per customer and per plan over recognized revenue (revenue_schedules rows written here as the
recognition run writes them), in exact figures, in JSON and CSV, converted at the rates of the report's last
day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from kassa.core.audit import Actor
from kassa.core.cost_to_serve import CostFileError, CostKind, CostSource
from kassa.core.customers import Customer
from kassa.core.errors import DomainError, NotFound
from kassa.core.exchange_rates import ExchangeRate
from kassa.core.money import Money
from kassa.core.reports import RateUsed, to_csv, to_json
from kassa.services import cost_to_serve, customers
from kassa.services.context import ServiceContext
from kassa.store.tables import audit_events, cost_entries, events, revenue_schedules
from tests.conftest import TenantAccess, make_tenant

D = Decimal
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # the settable clock's start


def eur(text: str) -> Money:
    return Money(D(text), "EUR")


@pytest.fixture
def people(ctx: ServiceContext, actor: Actor) -> dict[str, Customer]:
    made = {}
    for key, name in (("acme-7", "ACME Logistics"), ("globex", "Globex"), ("initech", "Initech")):
        made[key] = customers.create_customer(ctx, actor, {"external_id": key, "name": name})
    return made


def recognized(
    ctx: ServiceContext, tenant_id: str, rows: list[tuple[Customer, str | None, str, int, str]]
) -> None:
    """Revenue schedule rows as recognition writes them: (customer, plan, month YYYY-MM, recognized minor
    units, currency); each its own one-line invoice, fully recognized."""
    values: list[dict[str, Any]] = []
    for n, (customer, plan, month, minor, currency) in enumerate(rows):
        first = date.fromisoformat(month + "-01")
        values.append({
            "tenant_id": tenant_id, "id": f"rs_{n:026d}", "customer_id": customer.id, "subscription_id": None,
            "invoice_id": f"inv_{n:026d}", "source_type": "invoice" if minor >= 0 else "credit_note",
            "source_id": f"inv_{n:026d}", "position": 1, "product": "saas", "plan": plan,
            "line_kind": "recurring" if plan else "one_off", "pattern": "ratable", "currency": currency,
            "billed_on": first, "month": first, "starts_on": first, "ends_on": first.replace(day=28),
            "amount_minor": minor, "discount_minor": 0, "recognized_minor": minor, "pending": False,
            "mrr_minor": minor if plan else None, "created_at": NOW,
        })  # fmt: skip
    with ctx.uow() as uow:
        uow.conn.execute(revenue_schedules.insert(), values)
        uow.commit()


def count(ctx: ServiceContext, table: sa.Table, *where: Any) -> int:
    with ctx.uow(read_only=True) as uow:
        return int(uow.conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


# ---- recording -----------------------------------------------------------------------------------------


def test_record_cost_is_stored_audited_and_announced(
    ctx: ServiceContext, actor: Actor, people: dict[str, Customer]
) -> None:
    """A recorded cost is stored as given, with an audit entry and a cost.recorded event for the customer."""
    acme = people["acme-7"]
    entry = cost_to_serve.record_cost(ctx, actor, acme.id, {
        "occurred_on": "2026-01-15", "kind": "support", "cost": {"amount": "37.50", "currency": "EUR"},
        "minutes": 45, "description": "Invoice questions"})  # fmt: skip
    assert (entry.customer_id, entry.occurred_on, entry.kind, entry.amount, entry.minutes, entry.description,
            entry.source, entry.external_id, entry.created_at) == (
        acme.id, date(2026, 1, 15), CostKind.SUPPORT, eur("37.50"), 45, "Invoice questions", CostSource.API,
        None, NOW)  # fmt: skip
    assert cost_to_serve.list_costs(ctx, actor, acme.id, limit=10, cursor=None).items == [entry]
    with ctx.uow(read_only=True) as uow:
        audit = uow.conn.execute(sa.select(audit_events).where(audit_events.c.object_id == entry.id)).one()
        event = uow.conn.execute(sa.select(events).where(events.c.object_id == entry.id)).one()
    assert (audit.action, audit.actor_id, audit.changes["cost"]) == (
        "cost.recorded", actor.id, {"before": None, "after": {"amount": "37.50", "currency": "EUR"}})  # fmt: skip
    assert (event.type, event.customer_id, event.data["minutes"]) == ("cost.recorded", acme.id, 45)


def test_record_cost_refuses_bad_input_and_unknown_customers(
    ctx: ServiceContext, actor: Actor, people: dict[str, Customer]
) -> None:
    """A negative amount is refused; a customer of another tenant is not found; nothing is written."""
    body = {"occurred_on": "2026-01-15", "kind": "support", "cost": {"amount": "-1.00", "currency": "EUR"}}
    with pytest.raises(DomainError) as error:
        cost_to_serve.record_cost(ctx, actor, people["acme-7"].id, body)
    assert (error.value.code, error.value.field) == ("invalid_amount", "cost.amount")
    other = make_tenant(ctx, "Other").actor
    with pytest.raises(NotFound):
        cost_to_serve.record_cost(
            ctx, other, people["acme-7"].id, body | {"cost": {"amount": "1", "currency": "EUR"}}
        )
    with pytest.raises(NotFound):
        cost_to_serve.list_costs(ctx, other, people["acme-7"].id, limit=10, cursor=None)
    assert count(ctx, cost_entries) == 0


def test_costs_are_listed_newest_first_page_by_page(
    ctx: ServiceContext, actor: Actor, people: dict[str, Customer]
) -> None:
    """Three costs, pages of two: the newest two, then the first."""
    acme = people["acme-7"]
    made = [cost_to_serve.record_cost(ctx, actor, acme.id, {"occurred_on": f"2026-01-0{n}", "kind": "other",
            "cost": {"amount": f"{n}.00", "currency": "EUR"}}) for n in (1, 2, 3)]  # fmt: skip
    first = cost_to_serve.list_costs(ctx, actor, acme.id, limit=2, cursor=None)
    assert (first.items, first.has_more) == ([made[2], made[1]], True)
    second = cost_to_serve.list_costs(ctx, actor, acme.id, limit=2, cursor=first.next_cursor)
    assert (second.items, second.has_more, second.next_cursor) == ([made[0]], False, None)
    assert cost_to_serve.list_costs(ctx, actor, people["globex"].id, limit=2, cursor=None).items == []


# ---- importing -----------------------------------------------------------------------------------------

FILE = (
    "customer,date,kind,amount,currency,minutes,description,id\n"
    "acme-7,2026-02-28,infrastructure,120.00,EUR,,AWS February,aws-2026-02-acme\n"
    "globex,2026-03-31,infrastructure,20.00,EUR,,AWS March,aws-2026-03-globex\n"
    "{initech},2026-03-10,professional_services,100.00,EUR,240,Migration workshop,ps-17\n"
    "acme-7,2026-04-01,infrastructure,999.00,EUR,,AWS April (after the report),aws-2026-04-acme\n"
    "globex,2025-12-31,infrastructure,999.00,EUR,,AWS December (before it),aws-2025-12-globex\n"
)


def test_import_adds_each_row_once(ctx: ServiceContext, actor: Actor, people: dict[str, Customer]) -> None:
    """Customers by external id or kassa id; the same file again adds nothing and leaves no audit entry;
    a file that repeats two rows and adds one adds just that one."""
    content = FILE.format(initech=people["initech"].id).encode()
    first = cost_to_serve.import_costs(ctx, actor, content)
    assert (first.rows, first.added, first.skipped) == (5, 5, 0)
    again = cost_to_serve.import_costs(ctx, actor, content)
    assert (again.rows, again.added, again.skipped) == (5, 0, 5)
    assert count(ctx, cost_entries) == 5
    assert count(ctx, audit_events, audit_events.c.action == "costs.imported") == 1
    more = content.decode().splitlines()[:3] + ["initech,2026-03-11,support,5.00,EUR,10,,zd-9"]
    third = cost_to_serve.import_costs(ctx, actor, "\n".join(more).encode())
    assert (third.rows, third.added, third.skipped) == (3, 1, 2)
    page = cost_to_serve.list_costs(ctx, actor, people["initech"].id, limit=10, cursor=None)
    assert [(e.external_id, e.kind, e.amount, e.minutes, e.source) for e in page.items] == [
        ("zd-9", CostKind.SUPPORT, eur("5.00"), 10, CostSource.IMPORT),
        ("ps-17", CostKind.PROFESSIONAL_SERVICES, eur("100.00"), 240, CostSource.IMPORT),
    ]


def test_rows_without_ids_import_once(ctx: ServiceContext, actor: Actor, people: dict[str, Customer]) -> None:
    """Without an id column, two identical rows are two costs, and the same file again adds nothing."""
    content = b"customer,date,amount,currency\nglobex,2026-03-01,7.00,EUR\nglobex,2026-03-01,7.00,EUR\n"
    assert cost_to_serve.import_costs(ctx, actor, content).added == 2
    assert cost_to_serve.import_costs(ctx, actor, content).added == 0
    assert count(ctx, cost_entries, cost_entries.c.kind == "infrastructure") == 2


def test_a_file_with_a_wrong_line_imports_nothing(
    ctx: ServiceContext, actor: Actor, people: dict[str, Customer]
) -> None:
    """Unknown customers and bad values: every wrong line listed in line order, and not one row written."""
    content = (
        b"customer,date,amount,currency\n"
        b"acme-7,2026-03-01,10.00,EUR\n"
        b"nobody,2026-03-01,10.00,EUR\n"
        b"globex,2026-03-01,ten,EUR\n"
        b"cus_00000000000000000000000000,2026-03-01,1.00,EUR\n"
    )
    with pytest.raises(CostFileError) as error:
        cost_to_serve.import_costs(ctx, actor, content)
    assert [(e.field, e.code) for e in error.value.errors] == [
        ("line 3.customer", "customer_not_found"), ("line 4.amount", "invalid_amount"),
        ("line 5.customer", "customer_not_found"),
    ]  # fmt: skip
    assert error.value.field == "line 3.customer"
    assert count(ctx, cost_entries) == 0
    other = make_tenant(ctx, "Other")  # another tenant's external ids are not this tenant's customers
    with pytest.raises(CostFileError):
        cost_to_serve.import_costs(
            ctx, other.actor, b"customer,date,amount,currency\nacme-7,2026-03-01,1.00,EUR\n"
        )


# ---- the margin report ---------------------------------------------------------------------------------


@pytest.fixture
def books(ctx: ServiceContext, actor: Actor, people: dict[str, Customer]) -> dict[str, Customer]:
    """Q1 2026: ACME on basic (100.00) and pro (200.00) with 30.00 support and 120.00 infrastructure;
    Globex on pro (50.00, less a 10.00 credit note) and a one-off (15.00), 20.00 infrastructure; Initech only
    a 100.00 workshop. April's and December's rows are outside the report."""
    acme, globex, initech = people["acme-7"], people["globex"], people["initech"]
    recognized(ctx, actor.tenant_id, [
        (acme, "basic", "2026-01", 10_000, "EUR"), (acme, "pro", "2026-02", 20_000, "EUR"),
        (acme, "pro", "2026-04", 99_999, "EUR"), (globex, "pro", "2026-02", 5_000, "EUR"),
        (globex, "pro", "2026-02", -1_000, "EUR"), (globex, None, "2026-03", 1_500, "EUR"),
        (globex, "pro", "2025-12", 99_999, "EUR"),
    ])  # fmt: skip
    cost_to_serve.record_cost(ctx, actor, acme.id, {"occurred_on": "2026-01-15", "kind": "support",
                              "cost": {"amount": "30.00", "currency": "EUR"}, "minutes": 45})  # fmt: skip
    cost_to_serve.import_costs(ctx, actor, FILE.format(initech=initech.id).encode())
    return people


def test_margin_per_customer(ctx: ServiceContext, actor: Actor, books: dict[str, Customer]) -> None:
    """ACME: 300.00 − 150.00 = 150.00 (50.00 %); Globex: 55.00 − 20.00 = 35.00 (63.64 %); Initech: −100.00
    with no margin %; the totals; April's and December's amounts left out."""
    report = cost_to_serve.margin_report(ctx, actor, "2026-01", "2026-03")
    doc = to_json(report)
    ids = {key: c.id for key, c in books.items()}

    def money(text: str) -> dict[str, str]:
        return {"amount": text, "currency": "EUR"}

    assert (doc["report"], doc["currency"], doc["rates"]) == ("margin_by_customer", "EUR", [])
    assert doc["rows"] == [
        {"customer_id": ids["acme-7"], "customer": "ACME Logistics", "external_id": "acme-7", "revenue": money("300.00"),
         "cost": money("150.00"), "margin": money("150.00"), "margin_percent": "50.00"},
        {"customer_id": ids["globex"], "customer": "Globex", "external_id": "globex", "revenue": money("55.00"),
         "cost": money("20.00"), "margin": money("35.00"), "margin_percent": "63.64"},
        {"customer_id": ids["initech"], "customer": "Initech", "external_id": "initech", "revenue": money("0.00"),
         "cost": money("100.00"), "margin": money("-100.00"), "margin_percent": None},
    ]  # fmt: skip
    assert doc["summary"] == {"from": "2026-01", "to": "2026-03", "customers": 3, "revenue": money("355.00"),
                              "cost": money("270.00"), "margin": money("85.00"), "margin_percent": "23.94"}  # fmt: skip
    assert to_csv(report).splitlines() == [
        "customer_id,customer,external_id,revenue,cost,margin,margin_percent",
        f"{ids['acme-7']},ACME Logistics,acme-7,300.00,150.00,150.00,50.00",
        f"{ids['globex']},Globex,globex,55.00,20.00,35.00,63.64",
        f"{ids['initech']},Initech,initech,0.00,100.00,-100.00,",
    ]


def test_margin_per_plan(ctx: ServiceContext, actor: Actor, books: dict[str, Customer]) -> None:
    """ACME's 150.00 splits 100:200 (50.00 basic, 100.00 pro); Globex's 20.00 splits 40:15 over pro and
    its one-off (14.55, 5.45: largest remainder); Initech's 100.00 has no revenue: on "(none)"."""
    report = cost_to_serve.margin_report(ctx, actor, "2026-01", "2026-03", by="plan")
    assert report.name == "margin_by_plan"
    assert to_csv(report).splitlines() == [
        "plan,customers,revenue,cost,margin,margin_percent",
        "basic,1,100.00,50.00,50.00,50.00",
        "pro,2,240.00,114.55,125.45,52.27",
        "(none),2,15.00,105.45,-90.45,-603.00",
    ]
    assert to_json(report)["summary"]["cost"] == {"amount": "270.00", "currency": "EUR"}


def test_one_month_and_an_empty_period(ctx: ServiceContext, actor: Actor, books: dict[str, Customer]) -> None:
    """January alone: ACME's basic revenue and support only; a month with nothing: no rows, zero totals."""
    january = to_csv(cost_to_serve.margin_report(ctx, actor, "2026-01", "2026-01", by="plan"))
    assert january.splitlines()[1:] == ["basic,1,100.00,30.00,70.00,70.00"]
    empty = to_json(cost_to_serve.margin_report(ctx, actor, "2027-01", "2027-01"))
    assert (empty["rows"], empty["summary"]["revenue"], empty["summary"]["margin_percent"]) == (
        [], {"amount": "0.00", "currency": "EUR"}, None)  # fmt: skip


def test_amounts_are_converted_at_the_last_days_rates(
    ctx: ServiceContext, people: dict[str, Customer]
) -> None:
    """A tenant reporting in EUR with a USD customer: USD revenue and cost are converted at the latest rate on
    or before 31 March (1 EUR = 1.25 USD from 27 March, not the 1.10 of February): 250.00 USD → 200.00 EUR;
    the rate used is listed with its own day. Asked in USD, EUR amounts convert the other way."""
    tenant: TenantAccess = make_tenant(ctx, "Dollar Co", default_currency="EUR")
    actor = tenant.actor
    yankee = customers.create_customer(
        ctx, actor, {"external_id": "yankee", "name": "Yankee", "currency": "USD"}
    )
    recognized(
        ctx,
        actor.tenant_id,
        [(yankee, "pro", "2026-03", 25_000, "USD"), (yankee, "pro", "2026-03", 1_000, "EUR")],
    )
    cost_to_serve.import_costs(ctx, actor, b"customer,date,amount,currency\nyankee,2026-03-05,50.00,USD\n")
    with ctx.uow() as uow:
        uow.exchange_rates.upsert(actor.tenant_id, [
            ExchangeRate(base="EUR", currency="USD", day=date(2026, 2, 2), rate=D("1.10")),
            ExchangeRate(base="EUR", currency="USD", day=date(2026, 3, 27), rate=D("1.25")),
            ExchangeRate(base="EUR", currency="USD", day=date(2026, 4, 1), rate=D("2.00")),
        ], source="test", at=NOW)  # fmt: skip
        uow.commit()
    report = cost_to_serve.margin_report(ctx, actor, "2026-03", "2026-03")
    assert to_csv(report).splitlines()[1:] == [f"{yankee.id},Yankee,yankee,210.00,40.00,170.00,80.95"]
    assert [(r.currency, r.day) for r in report.rates] == [("USD", date(2026, 3, 27))]
    assert report.rates[0].rate * D("1.25") == 1
    assert (
        report.notes[-1]
        == "Amounts in other currencies are converted at the latest rate on or before 2026-03-31."
    )
    in_usd = cost_to_serve.margin_report(ctx, actor, "2026-03", "2026-03", currency="USD")
    assert to_csv(in_usd).splitlines()[1:] == [f"{yankee.id},Yankee,yankee,262.50,50.00,212.50,80.95"]
    assert in_usd.rates == (RateUsed(currency="EUR", rate=D("1.25"), day=date(2026, 3, 27)),)


def test_a_missing_rate_is_an_error(ctx: ServiceContext, actor: Actor, people: dict[str, Customer]) -> None:
    """An amount in a currency without a rate cannot be reported in the reporting currency: said, not guessed."""
    recognized(ctx, actor.tenant_id, [(people["globex"], "pro", "2026-03", 100, "GBP")])
    with pytest.raises(DomainError) as error:
        cost_to_serve.margin_report(ctx, actor, "2026-03", "2026-03")
    assert error.value.code == "missing_exchange_rate"


def test_the_default_period_is_this_month_in_the_tenants_time_zone(ctx: ServiceContext) -> None:
    """At 1 Jan 2026, 09:00 UTC it is still 31 December 2025 in Honolulu: the report ends with December and
    starts eleven months before, in January 2025; a `to` in 1900, the first year a report covers, does not
    reach before it, and a year before that is refused."""
    hawaii = make_tenant(ctx, "Aloha", time_zone="Pacific/Honolulu").actor
    summary = cost_to_serve.margin_report(ctx, hawaii).summary
    assert (summary["from"], summary["to"]) == ("2025-01", "2025-12")
    assert cost_to_serve.margin_report(ctx, hawaii, None, "1900-03").summary["from"] == "1900-01"
    with pytest.raises(DomainError) as refused:
        cost_to_serve.margin_report(ctx, hawaii, None, "0001-03")
    assert (refused.value.code, refused.value.field) == ("invalid_month", "to")


@pytest.mark.parametrize(
    ("first", "last", "currency", "by", "code", "field"),
    [
        ("2026-13", "2026-12", None, "customer", "invalid_month", "from"),
        ("2026-03", "2026-01", None, "customer", "invalid_month", "to"),
        ("2026-01", "2026-03", "EURO", "customer", "unknown_currency", "currency"),
        ("2026-01", "2026-03", None, "product", "invalid_grouping", "by"),
    ],
)
def test_report_parameters_are_checked(
    ctx: ServiceContext,
    actor: Actor,
    first: str,
    last: str,
    currency: str | None,
    by: str,
    code: str,
    field: str,
) -> None:
    """Months as YYYY-MM in order, a known currency, by customer or plan."""
    with pytest.raises(DomainError) as error:
        cost_to_serve.margin_report(ctx, actor, first, last, currency, by)
    assert (error.value.code, error.value.field) == (code, field)
