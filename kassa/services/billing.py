"""What should be billed: every item of a paying customer's subscriptions (and the children it pays for)
up to a bill date, under keys that name them the same way on every run (see core.invoicing)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from kassa.core.billing_schedule import Charge, ChargeKind, Timeline, billing_schedule, timeline
from kassa.core.catalog import Catalog, CatalogVersion
from kassa.core.customers import Customer, CustomerFilter
from kassa.core.invoicing import Item, LineKind
from kassa.core.money import Money, RoundingMode
from kassa.core.periods import days, start_of
from kassa.core.rating import ChargeTiming, minimum_true_up
from kassa.core.subscriptions import Subscription
from kassa.core.tax import TABLE_FILES, TaxCategory, TaxParty, TaxTable, load_table
from kassa.core.tenants import TenantSettings
from kassa.core.usage import UsagePeriod, usage_period
from kassa.services.rating import rate_periods
from kassa.store.uow import UnitOfWork

ONE_DAY = timedelta(days=1)


@cache
def tax_table() -> TaxTable:
    """The shipped rate tables (package data), parsed once per process."""
    folder = resources.files("kassa.core.tax").joinpath("data")
    return load_table(json.loads(folder.joinpath(name).read_text(encoding="utf-8")) for name in TABLE_FILES)


def seller_party(settings: TenantSettings) -> TaxParty | None:
    """None when the tenant has not said where it is: then no tax can be computed."""
    if settings.address is None:
        return None
    return TaxParty(country=settings.address.country, region=settings.address.state, tax_ids=settings.tax_ids)


def buyer_party(customer: Customer, seller: TaxParty | None) -> TaxParty:
    """A customer without an address is taxed as if it were in the seller's country (a domestic sale)."""
    if customer.address is None:
        country = seller.country if seller else ""
        return TaxParty(country=country, region=seller.region if seller else None, tax_ids=customer.tax_ids,
                        exempt=customer.tax_exempt)  # fmt: skip
    return TaxParty(country=customer.address.country, region=customer.address.state, tax_ids=customer.tax_ids,
                    exempt=customer.tax_exempt)  # fmt: skip


def payer_of(uow: UnitOfWork, customer: Customer) -> Customer:
    while customer.bill_to_parent and customer.parent_id is not None:
        customer = uow.customers.get(customer.tenant_id, customer.parent_id)
    return customer


def accounts_paid_by(uow: UnitOfWork, payer: Customer) -> list[Customer]:
    """The payer and every descendant whose charges go on its invoice."""
    out = [payer]
    frontier = [payer.id]
    while frontier:
        parent = frontier.pop()
        cursor = None
        while True:
            page = uow.customers.list(payer.tenant_id, CustomerFilter(parent_id=parent, archived=None), limit=100,
                                      cursor=cursor)  # fmt: skip
            for child in page.items:
                if child.bill_to_parent:
                    out.append(child)
                    frontier.append(child.id)
            if not page.has_more:
                break
            cursor = page.next_cursor
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Everything the items of one paying customer depend on, read once."""

    payer: Customer
    accounts: list[Customer]
    subscriptions: list[Subscription]
    versions: list[CatalogVersion]


def plan_names(scope: Scope) -> dict[str, str]:
    names = {code: plan.name for v in scope.versions for code, plan in v.catalog.plans.items()}
    return {s.id: names.get(s.terms.plan, s.terms.plan) for s in scope.subscriptions}


def scope_of(uow: UnitOfWork, payer: Customer, versions: list[CatalogVersion]) -> Scope:
    accounts = accounts_paid_by(uow, payer)
    subs = uow.subscriptions.many(payer.tenant_id, customer_ids=[a.id for a in accounts])
    return Scope(payer=payer, accounts=accounts, subscriptions=subs, versions=versions)


def _catalog_on(versions: Sequence[CatalogVersion], version: int) -> Catalog:
    return next(v.catalog for v in versions if v.number == version)


def _tax_category(catalog: Catalog, product: str, addon: str | None) -> TaxCategory:
    if addon is not None and addon in catalog.addons:
        return TaxCategory(catalog.addons[addon].tax_category)
    found = catalog.products.get(product)
    return TaxCategory(found.tax_category if found else "standard")


def _recurring(
    sub: Subscription, tl: Timeline, charges: Sequence[Charge], versions: Sequence[CatalogVersion]
) -> list[Item]:
    kinds = {ChargeKind.RECURRING: LineKind.RECURRING, ChargeKind.SETUP: LineKind.SETUP,
             ChargeKind.CREDIT: LineKind.PRORATION}  # fmt: skip

    def key(kind: LineKind, c: Charge) -> str:
        line = c.line
        return f"{sub.id}|{kind.value}|{line.key}|{line.period_start}|{line.start}|{line.end}"

    out = []
    for c in charges:
        if not c.line.amount.amount:
            continue
        kind = kinds[c.kind]
        segment = tl.on(c.line.start) or tl.segments[-1]
        addon = c.line.key.removeprefix("addon.") if c.line.key.startswith("addon.") else None
        catalog = _catalog_on(versions, segment.version)
        origin = None
        if (
            kind is LineKind.PRORATION
        ):  # the in-advance line this credits: same price and period, covering the day
            original = next((o for o in charges if o.kind is not ChargeKind.CREDIT and o.line.key == c.line.key
                             and o.line.period_start == c.line.period_start and o.line.end == c.line.end
                             and o.line.start <= c.line.start and o.line.unit_price == c.line.unit_price
                             and o.line.quantity == c.line.quantity), None)  # fmt: skip
            origin = key(kinds[original.kind], original) if original else None
        out.append(Item(
            key=key(kind, c), kind=kind, account_id=sub.customer_id, subscription_id=sub.id,
            product=segment.plan.product, codes=frozenset({segment.plan.code, *([addon] if addon else [])}),
            description=c.line.description, period_start=c.line.start,
            period_end=c.line.end if kind is not LineKind.SETUP else None, quantity=Decimal(c.line.quantity),
            unit_price=c.line.unit_price, amount=c.line.amount,
            tax_category=_tax_category(catalog, segment.plan.product, addon), origin=origin,
        ))  # fmt: skip
    return out


def _usage_periods(tl: Timeline, bill_date: date) -> list[UsagePeriod]:
    """The usage periods that closed by `bill_date` (billed on their end day)."""
    out = []
    day = tl.start
    while day < bill_date:
        period = usage_period(tl, day)
        if period is None:
            day = next((s.start for s in tl.segments if s.start > day), bill_date)
            continue
        if period.end <= bill_date and period.charges():
            out.append(period)
        if period.end <= day:
            break
        day = period.end
    return out


def items_due(
    uow: UnitOfWork, scope: Scope, settings: TenantSettings, bill_date: date, cutoff: datetime
) -> list[Item]:
    """Every item that should have been billed to `scope.payer` by `bill_date`; usage and one-off charges
    known before `cutoff` (the instant the invoice is composed)."""
    rounding = settings.rounding_mode
    until = bill_date + ONE_DAY
    items: list[Item] = []
    entries: list[tuple[Subscription, UsagePeriod]] = []
    for sub in scope.subscriptions:
        if sub.start > bill_date:
            continue
        tl = timeline(sub, scope.versions, until)
        items.extend(
            _recurring(sub, tl, billing_schedule(tl, sub.currency, rounding, until=until), scope.versions)
        )
        entries.extend((sub, p) for p in _usage_periods(tl, bill_date))
    if entries:
        # late events received by now count (late_usage next_invoice: the recompute bills the difference)
        lines = rate_periods(
            uow, scope.payer.tenant_id, rounding, entries, late_before=[cutoff] * len(entries)
        )
        for (sub, period), period_lines in zip(entries, lines, strict=True):
            items.extend(_usage_items(sub, period, period_lines, scope.versions, rounding))
    items.extend(_in_advance(uow, scope, cutoff))
    items.extend(_one_off(uow, scope, cutoff))
    return items


def _usage_items(sub: Subscription, period: UsagePeriod, lines: Sequence[Any], versions: Sequence[CatalogVersion],
                 rounding: RoundingMode) -> list[Item]:  # fmt: skip
    plan = period.plan
    catalog = _catalog_on(versions, period.slices[-1].version)
    category = _tax_category(catalog, plan.product, None)
    out = []
    charged = Decimal(0)
    for line in lines:
        charged += line.amount.amount
        if line.charge.timing is ChargeTiming.IN_ADVANCE or not line.amount.amount:
            continue  # charged per event when it arrived
        group = f" ({line.group})" if line.group else ""
        out.append(Item(
            key=f"{sub.id}|usage|{line.metric}|{line.group}|{period.start}|{period.end}", kind=LineKind.USAGE,
            account_id=sub.customer_id, subscription_id=sub.id, product=plan.product,
            codes=frozenset({plan.code, line.metric}),
            description=f"{line.charge.description or line.metric}{group}", period_start=period.start,
            period_end=period.end, quantity=line.rated.quantity, amount=line.amount, tax_category=category,
        ))  # fmt: skip
    minimum = plan.minimum_spend.get(sub.currency)
    if minimum is not None:
        billed_days = sum(days(s.start, s.end) for s in period.slices if s.billable)
        owed = (
            minimum_true_up(minimum, charged, part_days=billed_days, period_days=period.full_days)
            if billed_days
            else 0
        )
        amount = Money.rounded(Decimal(owed), sub.currency, rounding)
        if amount.amount:
            out.append(Item(
                key=f"{sub.id}|minimum|{period.start}|{period.end}", kind=LineKind.MINIMUM, account_id=sub.customer_id,
                subscription_id=sub.id, product=plan.product, codes=frozenset({plan.code}),
                description=f"Minimum spend true-up ({Money.rounded(minimum, sub.currency, rounding)})",
                period_start=period.start, period_end=period.end, amount=amount, tax_category=category,
            ))  # fmt: skip
    return out


def _in_advance(uow: UnitOfWork, scope: Scope, cutoff: datetime) -> list[Item]:
    subs = {s.id: s for s in scope.subscriptions}
    out = []
    for row in uow.usage_charges.sums(scope.payer.tenant_id, list(subs), cutoff):
        sub = subs[row.subscription_id]
        out.append(Item(
            key=f"{sub.id}|usage_in_advance|{row.metric}|{row.period_start}", kind=LineKind.USAGE_IN_ADVANCE,
            account_id=sub.customer_id, subscription_id=sub.id, product=_product_of(scope, sub),
            codes=frozenset({sub.terms.plan, row.metric}), description=f"{row.metric} (charged on use)",
            period_start=row.period_start, quantity=Decimal(row.events),
            amount=Money.from_minor_units(int(row.amount_minor), row.currency),
        ))  # fmt: skip
    return out


def _product_of(scope: Scope, sub: Subscription) -> str:
    for version in reversed(scope.versions):
        plan = version.catalog.plans.get(sub.terms.plan)
        if plan is not None:
            return plan.product
    return sub.terms.plan


def _one_off(uow: UnitOfWork, scope: Scope, cutoff: datetime) -> list[Item]:
    return [Item(
        key=f"one_off|{c.id}", kind=LineKind.ONE_OFF, account_id=c.customer_id, product=c.product,
        description=c.description, quantity=c.quantity, unit_price=c.unit_price, amount=c.amount,
        tax_category=TaxCategory(c.tax_category),
    ) for c in uow.one_off_charges.of_customers(scope.payer.tenant_id, [a.id for a in scope.accounts])
        if c.created_at < cutoff]  # fmt: skip


def bill_instant(day: date, customer: Customer) -> datetime:
    return start_of(day, customer.time_zone)


def parties_snapshot(settings: TenantSettings, tenant_name: str, payer: Customer, accounts: Sequence[Customer],
                     subscriptions: Mapping[str, str] | None = None) -> Mapping[str, Any]:  # fmt: skip
    """Seller and buyer as the invoice shows them: frozen into the invoice at finalization."""
    bank = settings.bank
    return {
        "seller": {
            "name": tenant_name, "legal_name": settings.legal_name,
            "address": settings.address.to_json() if settings.address else None,
            "tax_ids": [t.to_json() for t in settings.tax_ids],
            "bank": None if bank is None else {"iban": bank.iban, "bic": bank.bic, "account_holder": bank.account_holder,
                                               "bank_name": bank.bank_name},
            "email": None,
        },
        "buyer": {
            "id": payer.id, "external_id": payer.external_id, "name": payer.name, "legal_name": payer.legal_name,
            "address": payer.address.to_json() if payer.address else None,
            "tax_ids": [t.to_json() for t in payer.tax_ids], "emails": list(payer.emails), "locale": payer.locale,
            "time_zone": payer.time_zone,
        },
        "accounts": {a.id: a.name for a in accounts},
        "subscriptions": dict(subscriptions or {}),  # id -> plan name, for the invoice's headings
    }  # fmt: skip
