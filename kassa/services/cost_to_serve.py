"""Cost to serve: record what serving a customer cost (support time, professional services, infrastructure),
import such costs from a CSV file, and report the margin per customer or per plan.

An import is one transaction and all or nothing: a file with a wrong line (or a customer kassa does not
know) imports nothing and names every wrong line; a row imported before (its id, given or derived) is
skipped, so the same file twice adds nothing the second time. See docs/cost-to-serve.md.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from kassa.core.audit import Actor
from kassa.core.cost_to_serve import (
    NO_PLAN,
    CostEntry,
    CostFileError,
    CostSource,
    CustomerCost,
    LineError,
    Margin,
    PlanRevenue,
    cost_fields,
    decode_cost_file,
    margin_by_customer,
    margin_by_plan,
    read_cost_file,
    total,
)
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.exchange_rates import RateBook
from kassa.core.money import Money, RoundingMode, currency_code
from kassa.core.pages import Page, check_limit
from kassa.core.periods import local_day
from kassa.core.reports import (
    RateUsed,
    Report,
    Value,
    month_name,
    month_range,
    months_back,
    next_month,
    parse_month,
)
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.store.uow import UnitOfWork

MAX_FILE = 10 * 1024 * 1024


def record_cost(ctx: ServiceContext, actor: Actor, customer_id: str, fields: Mapping[str, Any]) -> CostEntry:
    """One cost against a customer: `occurred_on`, `kind`, `amount`, optional `minutes` and `description`."""
    checked = cost_fields(fields)
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        entry = CostEntry(tenant_id=actor.tenant_id, id=ctx.new_id("cost"), customer_id=customer.id,
                          occurred_on=checked.occurred_on, kind=checked.kind, amount=checked.amount,
                          minutes=checked.minutes, description=checked.description, source=CostSource.API,
                          created_at=now)  # fmt: skip
        uow.cost_entries.add(entry)
        audit.changed(ctx, uow, actor, EventType.COST_RECORDED, object_type="cost_entry", object_id=entry.id,
                      before=None, after=entry.to_json(), at=now, customer_id=customer.id)  # fmt: skip
        uow.commit()
    return entry


@dataclass(frozen=True, slots=True, kw_only=True)
class CostImport:
    rows: int  # rows in the file
    added: int
    skipped: int  # imported before (same id)

    def to_json(self) -> dict[str, Any]:
        return {"object": "cost_import", "rows": self.rows, "added": self.added, "skipped": self.skipped}


def _customers(uow: UnitOfWork, tenant_id: str, refs: Sequence[str]) -> dict[str, str]:
    """Each reference in the file -> the customer id: a kassa id first, else an external id."""
    found = [hit for i in range(0, len(refs), 500)
             for hit in uow.customers.clocks(tenant_id, ids=refs[i:i + 500], external_ids=refs[i:i + 500])]  # fmt: skip
    by_id = {cid: cid for cid, _, _ in found}
    by_external = {external: cid for cid, external, _ in found}
    return {ref: by_id.get(ref) or by_external[ref] for ref in refs if ref in by_id or ref in by_external}


def import_costs(ctx: ServiceContext, actor: Actor, content: bytes) -> CostImport:
    """Import a cost file (docs/cost-to-serve.md): all its rows, or none when a line is wrong."""
    if len(content) > MAX_FILE:
        raise DomainError("file_too_large", f"A cost file is at most {MAX_FILE // (1024 * 1024)} MB.", "file")
    parsed = read_cost_file(decode_cost_file(content))
    with ctx.uow() as uow:
        refs = sorted({row.customer for row in parsed.rows})
        customers = _customers(uow, actor.tenant_id, refs)
        errors = list(parsed.errors) + [
            LineError(line=row.line, code="customer_not_found", column="customer",
                      message=f"No customer with the id or external id {row.customer!r}.")
            for row in parsed.rows if row.customer not in customers
        ]  # fmt: skip
        if errors:
            raise CostFileError(sorted(errors, key=lambda e: e.line))
        now = ctx.clock.now()
        entries = [
            CostEntry(tenant_id=actor.tenant_id, id=ctx.new_id("cost"), customer_id=customers[row.customer],
                      occurred_on=row.fields.occurred_on, kind=row.fields.kind, amount=row.fields.amount,
                      minutes=row.fields.minutes, description=row.fields.description, source=CostSource.IMPORT,
                      external_id=row.fields.external_id, created_at=now)
            for row in parsed.rows
        ]  # fmt: skip
        added = uow.cost_entries.add_many(actor.tenant_id, entries)
        summary = CostImport(rows=len(entries), added=added, skipped=len(entries) - added)
        if added:  # a file imported again changes nothing, so it leaves no trace either
            audit.record(ctx, uow, actor, "costs.imported", object_type="cost_import", object_id=ctx.new_id("cim"),
                         before=None, after=summary.to_json(), at=now)  # fmt: skip
        uow.commit()
    return summary


def list_costs(
    ctx: ServiceContext, actor: Actor, customer_id: str, *, limit: int, cursor: str | None
) -> Page[CostEntry]:
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)  # a customer kassa does not know: 404
        return uow.cost_entries.list(actor.tenant_id, customer.id, limit=check_limit(limit), cursor=cursor)


# ---- the margin report ---------------------------------------------------------------------------------

NOTES = (
    "revenue: revenue recognized in the months of the report (net of discounts; credit notes count negative).",
    "cost: the cost entries dated in those months.",
    "margin = revenue - cost; margin_percent = margin / revenue x 100, to two decimals, empty without positive "
    "revenue.",
)
PLAN_NOTES = (
    "A customer's cost is split over its plans in proportion to its revenue on each (largest remainder, so "
    f"nothing is lost); a customer's cost without positive revenue, and revenue not from a subscription, are on "
    f"the plan {NO_PLAN}.",
)


class _Converter:
    """Amounts into the reporting currency at the rates of one day; the rate book is read only when an
    amount is in another currency."""

    def __init__(self, uow: UnitOfWork, tenant_id: str, to: str, on: date, rounding: RoundingMode) -> None:
        self.uow, self.tenant_id, self.to, self.on, self.rounding = uow, tenant_id, to, on, rounding
        self.book: RateBook | None = None
        self.used: dict[str, RateUsed] = {}

    def __call__(self, money: Money) -> Money:
        if money.currency == self.to:
            return money
        if self.book is None:
            self.book = self.uow.exchange_rates.book(self.tenant_id)
        converted, rate = self.book.convert(money, self.to, self.on, self.rounding)
        self.used[money.currency] = rate
        return converted


def _row(head: dict[str, Value], m: Margin) -> dict[str, Value]:
    head.update(revenue=m.revenue, cost=m.cost, margin=m.margin, margin_percent=m.margin_percent)
    return head


def margin_report(ctx: ServiceContext, actor: Actor, first_month: str | None = None, last_month: str | None = None,
                  currency: str | None = None, by: str = "customer") -> Report:  # fmt: skip
    """Revenue, cost and margin per customer (`by="customer"`) or per plan (`by="plan"`) over the months
    from `first_month` to `last_month` (YYYY-MM, both included; default: the twelve months up to this one in
    the tenant's time zone), in `currency` (default: the tenant's reporting currency); other currencies are
    converted at the rates of the last day of the last month."""
    if by not in ("customer", "plan"):
        raise DomainError("invalid_grouping", "by is customer or plan.", "by")
    with ctx.uow(read_only=True) as uow:
        settings = uow.tenants.get(actor.tenant_id).settings
        if last_month is None:
            last_month = month_name(local_day(ctx.clock.now(), settings.time_zone))
        if first_month is None:
            first_month = month_name(months_back(parse_month(last_month, "to"), 11))
        span = month_range(first_month, last_month)
        first, last = span[0], span[-1]
        last_day = last.replace(day=calendar.monthrange(last.year, last.month)[1])
        to = currency_code(currency, "currency") if currency is not None else (
            settings.reporting_currency or settings.default_currency)  # fmt: skip
        convert = _Converter(uow, actor.tenant_id, to, last_day, settings.rounding_mode)
        revenue = [PlanRevenue(customer_id=r.customer_id, plan=r.plan, amount=convert(r.amount))
                   for r in uow.cost_entries.revenue(actor.tenant_id, first_month=first, last_month=last)]  # fmt: skip
        costs = [CustomerCost(customer_id=c.customer_id, amount=convert(c.amount))
                 for c in uow.cost_entries.costs(actor.tenant_id, starts_on=first, ends_before=next_month(last))]  # fmt: skip
        by_customer = margin_by_customer(revenue, costs, to)
        named = uow.customers.names(actor.tenant_id, [r.key for r in by_customer]) if by == "customer" else {}
    columns: tuple[str, ...]
    notes: tuple[str, ...] = NOTES
    if by == "customer":
        columns = ("customer_id", "customer", "external_id", "revenue", "cost", "margin", "margin_percent")
        rows = [_row({"customer_id": r.key, "customer": named[r.key][0], "external_id": named[r.key][1]}, r)
                for r in by_customer]  # fmt: skip
    else:
        columns = ("plan", "customers", "revenue", "cost", "margin", "margin_percent")
        rows = [
            _row({"plan": r.key, "customers": r.customers}, r) for r in margin_by_plan(revenue, costs, to)
        ]
        notes += PLAN_NOTES
    if convert.used:
        notes += (f"Amounts in other currencies are converted at the latest rate on or before {last_day}.",)
    summed = total(by_customer, to)
    summary = _row({"from": month_name(first), "to": month_name(last), "customers": len(by_customer)}, summed)
    return Report(name=f"margin_by_{by}", columns=columns, rows=tuple(rows), currency=to,
                  rates=tuple(convert.used[c] for c in sorted(convert.used)), notes=notes, summary=summary)  # fmt: skip
