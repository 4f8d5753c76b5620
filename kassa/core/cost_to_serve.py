"""Cost to serve: the time and money spent on a customer (support minutes, professional services, the
infrastructure it uses), and the margin it leaves per customer and per plan.

Costs are recorded one at a time or imported from a CSV file (`read_cost_file`); each imported row has an
id, given in the file or derived from what the row says, so importing the same file again adds nothing.

The margin is recognized revenue minus cost, per customer; per plan, a customer's cost is split over its
plans in proportion to its revenue on each (largest remainder: no cent is lost or invented), and a customer
with cost but no revenue to split it by puts its cost on the plan "(none)". See docs/cost-to-serve.md.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.money import Money, currency_code

MAX_MINUTES = 100_000
MAX_DESCRIPTION = 1000
MAX_EXTERNAL_ID = 200  # the column's width
MAX_ROWS = 100_000  # rows of one import file
MAX_LISTED_ERRORS = 100  # a file with more wrong rows lists the first ones
NO_PLAN = "(none)"  # revenue not from a subscription, and cost with no revenue to split it by
PERCENT = Decimal("0.01")


class CostKind(StrEnum):
    SUPPORT = "support"
    PROFESSIONAL_SERVICES = "professional_services"
    INFRASTRUCTURE = "infrastructure"
    OTHER = "other"


_KINDS = frozenset(kind.value for kind in CostKind)


class CostSource(StrEnum):
    API = "api"
    IMPORT = "import"


@dataclass(frozen=True, slots=True, kw_only=True)
class CostEntry:
    tenant_id: str
    id: str
    customer_id: str
    occurred_on: date
    kind: CostKind
    amount: Money  # >= 0, rounded to the currency's minor unit
    minutes: int | None = None  # time spent, when it was time (support, professional services)
    description: str | None = None
    source: CostSource
    external_id: str | None = None  # an imported row's id: unique per tenant
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "cost_entry",
            "customer_id": self.customer_id,
            "occurred_on": self.occurred_on.isoformat(),
            "kind": self.kind.value,
            "cost": {"amount": self.amount.amount_text(), "currency": self.amount.currency},
            "minutes": self.minutes,
            "description": self.description,
            "source": self.source.value,
            "external_id": self.external_id,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CostFields:
    """A cost as recorded or imported, checked; the service adds who, when and the id."""

    occurred_on: date
    kind: CostKind
    amount: Money
    minutes: int | None = None
    description: str | None = None
    external_id: str | None = None


# ---- validation ----------------------------------------------------------------------------------------


def cost_kind(value: object, field: str = "kind") -> CostKind:
    if isinstance(value, str) and value in _KINDS:
        return CostKind(value)
    raise DomainError("invalid_cost_kind", f"kind is one of {', '.join(CostKind)}.", field)


def cost_amount(amount: Money, field: str = "amount") -> Money:
    """A cost is zero or more, in the currency's minor units (a refund of a cost is not a cost)."""
    if amount.amount < 0:
        raise DomainError("invalid_amount", "A cost is zero or more.", field)
    if not amount.is_rounded:
        raise DomainError(
            "invalid_amount", f"A cost in {amount.currency} has at most {amount.exponent} decimals.", field
        )
    amount.to_minor_units()  # within what the column stores, or the error
    return amount


def cost_minutes(value: object, field: str = "minutes") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MINUTES:
        raise DomainError("invalid_minutes", f"minutes is a whole number from 0 to {MAX_MINUTES}.", field)
    return value


def _text(value: object, field: str, limit: int, code: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise DomainError(code, f"{field} is text of at most {limit} characters.", field)
    if "\x00" in value:
        raise DomainError("invalid_text", "Text cannot contain the NUL character (U+0000).", field)
    return value.strip() or None


def cost_description(value: object, field: str = "description") -> str | None:
    return _text(value, field, MAX_DESCRIPTION, "invalid_description")


def cost_day(value: object, field: str = "occurred_on") -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise DomainError("invalid_date", "A day is written YYYY-MM-DD, like 2026-03-31.", field)


COST_FIELDS = frozenset({"occurred_on", "kind", "cost", "minutes", "description"})


def cost_fields(doc: Mapping[str, Any]) -> CostFields:
    """A cost recorded through the API: `occurred_on` (YYYY-MM-DD), `kind`, `cost` ({"amount": "45.00",
    "currency": "EUR"}), optional `minutes` and `description`."""
    unknown = sorted(set(doc) - COST_FIELDS)
    if unknown:
        raise DomainError("unknown_field", f"Unknown cost field {unknown[0]!r}.", unknown[0])
    for name in ("occurred_on", "kind", "cost"):
        if doc.get(name) is None:
            raise DomainError("required", f"{name} is required.", name)
    money = doc["cost"]
    if not isinstance(money, Mapping) or not isinstance(money.get("amount"), str):
        raise DomainError(
            "invalid_amount",
            'cost is {"amount": "12.34", "currency": "EUR"}; amounts are strings.',
            "cost",
        )
    amount = Money.parse(
        money["amount"], currency_code(money.get("currency"), "cost.currency"), field="cost.amount"
    )
    return CostFields(
        occurred_on=cost_day(doc["occurred_on"]),
        kind=cost_kind(doc["kind"]),
        amount=cost_amount(amount, "cost.amount"),
        minutes=cost_minutes(doc.get("minutes")),
        description=cost_description(doc.get("description")),
    )


# ---- the import file -----------------------------------------------------------------------------------

COLUMNS = ("customer", "date", "kind", "amount", "currency", "minutes", "description", "id")
REQUIRED_COLUMNS = ("customer", "date", "amount", "currency")
DEFAULT_KIND = CostKind.INFRASTRUCTURE  # what a file without a kind column holds


@dataclass(frozen=True, slots=True, kw_only=True)
class LineError:
    """What is wrong with one line of an import file; `column` None: the line as a whole."""

    line: int
    code: str
    message: str
    column: str | None = None

    @property
    def field(self) -> str:
        return f"line {self.line}" + (f".{self.column}" if self.column else "")

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


class CostFileError(DomainError):
    """An import file with wrong lines: nothing of it is imported. `errors` lists the first ones."""

    def __init__(self, errors: Sequence[LineError]) -> None:
        first = errors[0]
        more = f" ({len(errors) - 1} more lines are wrong)" if len(errors) > 1 else ""
        super().__init__(
            "invalid_cost_file",
            f"Line {first.line}: {first.message}{more} Nothing was imported.",
            first.field,
        )
        self.errors = tuple(errors[:MAX_LISTED_ERRORS])
        self.count = len(errors)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostRow:
    line: int
    customer: str  # a kassa customer id or the customer's external id, as the file writes it
    fields: CostFields  # external_id: the row's id, given or derived


@dataclass(frozen=True, slots=True, kw_only=True)
class CostFile:
    rows: tuple[CostRow, ...]
    errors: tuple[LineError, ...]


def decode_cost_file(content: bytes) -> str:
    """UTF-8 text (a byte order mark, as spreadsheets write it, is dropped)."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DomainError(
            "invalid_csv", f"The file is not UTF-8 text (byte {error.start + 1}).", "file"
        ) from None


def _header(row: Sequence[str]) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in row)
    for name in names:
        if name not in COLUMNS:
            raise DomainError("invalid_csv", f"Unknown column {name!r}: the columns are {', '.join(COLUMNS)}.",
                              "line 1")  # fmt: skip
    if len(set(names)) != len(names):
        raise DomainError("invalid_csv", "A column appears twice in the header.", "line 1")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        raise DomainError("invalid_csv", f"The header needs the column {missing[0]!r}.", "line 1")
    return names


def row_key(cells: Mapping[str, str], ordinal: int) -> str:
    """The id of a row the file gives none: a digest of what it says and its ordinal among identical rows,
    so the same file, or one that repeats some of its rows, imports each row once."""
    text = "\x1f".join([*(cells.get(name, "") for name in COLUMNS if name != "id"), str(ordinal)])
    return "row:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _row(line: int, cells: Mapping[str, str]) -> CostRow:
    column = "customer"
    try:
        customer = cells.get("customer", "")
        if not customer:
            raise DomainError("required", "customer is required: a customer id or external id.")
        column = "currency"
        code = currency_code(cells.get("currency", ""), "currency")
        column = "amount"
        amount = cost_amount(Money.parse(cells.get("amount", ""), code))
        column = "date"
        day = cost_day(cells.get("date", ""))
        column = "kind"
        kind = cost_kind(cells["kind"]) if cells.get("kind") else DEFAULT_KIND
        column = "minutes"
        minutes_text = cells.get("minutes", "")
        if minutes_text and not (
            minutes_text.isascii() and minutes_text.isdigit() and len(minutes_text) <= 9
        ):
            raise DomainError("invalid_minutes", f"minutes is a whole number from 0 to {MAX_MINUTES}.")
        minutes = cost_minutes(int(minutes_text) if minutes_text else None)
        column = "description"
        description = cost_description(cells.get("description") or None)
        column = "id"
        external_id = _text(cells.get("id") or None, "id", MAX_EXTERNAL_ID, "invalid_id")
    except DomainError as error:
        raise _LineFailure(
            LineError(line=line, code=error.code, message=error.message, column=column)
        ) from None
    fields = CostFields(occurred_on=day, kind=kind, amount=amount, minutes=minutes, description=description,
                        external_id=external_id)  # fmt: skip
    return CostRow(line=line, customer=customer, fields=fields)


class _LineFailure(Exception):
    def __init__(self, error: LineError) -> None:
        self.error = error


def read_cost_file(text: str) -> CostFile:
    """The rows of a cost file (`customer,date,kind,amount,currency,minutes,description,id`, a header row
    first; kind, minutes, description and id may be left out), each wrong line reported with its number.
    Blank lines are skipped; a row without an id gets one derived from what it says (`row_key`)."""
    if "\x00" in text:
        raise DomainError("invalid_text", "The file contains the NUL character (U+0000).", "file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 0  # the last line of the last record read
    try:
        first = next(reader, None)
        if first is None or not any(cell.strip() for cell in first):
            raise DomainError("invalid_csv", "The file is empty: it needs a header row.", "line 1")
        header = _header(first)
        rows: list[CostRow] = []
        errors: list[LineError] = []
        ids: dict[str, int] = {}  # an id given in the file -> its line
        seen: dict[str, int] = {}  # identical rows without an id count up
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                errors.append(LineError(line=start, code="invalid_csv",
                                        message=f"Expected {len(header)} cells, found {len(record)}."))  # fmt: skip
                continue
            if len(rows) + len(errors) >= MAX_ROWS:
                raise DomainError(
                    "too_many_rows", f"A cost file has at most {MAX_ROWS:,} rows.", f"line {start}"
                )
            cells = {name: cell.strip() for name, cell in zip(header, record, strict=True)}
            try:
                row = _row(start, cells)
            except _LineFailure as failure:
                errors.append(failure.error)
                continue
            external_id = row.fields.external_id
            if external_id is not None:
                if external_id in ids:
                    errors.append(LineError(line=start, code="duplicate_id", column="id",
                                            message=f"The id {external_id!r} is also on line {ids[external_id]}."))  # fmt: skip
                    continue
                ids[external_id] = start
            else:
                base = row_key(cells, 0)
                ordinal = seen.get(base, 0)
                seen[base] = ordinal + 1
                key = base if ordinal == 0 else row_key(cells, ordinal)
                row = CostRow(line=row.line, customer=row.customer, fields=_with_id(row.fields, key))
            rows.append(row)
    except csv.Error as error:
        # named by the line its record starts on: where an unclosed quote opened
        raise DomainError("invalid_csv", f"Not a CSV file: {error}.", f"line {line + 1}") from None
    return CostFile(rows=tuple(rows), errors=tuple(errors))


def _with_id(fields: CostFields, external_id: str) -> CostFields:
    return CostFields(occurred_on=fields.occurred_on, kind=fields.kind, amount=fields.amount, minutes=fields.minutes,
                      description=fields.description, external_id=external_id)  # fmt: skip


# ---- margin --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRevenue:
    """Revenue recognized for a customer on a plan (None: not from a subscription) in a period."""

    customer_id: str
    plan: str | None
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerCost:
    customer_id: str
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Margin:
    """One row of the margin report: a customer (key = its id) or a plan (key = its code or "(none)")."""

    key: str
    revenue: Money
    cost: Money
    customers: int = 0  # on a plan row: the customers with revenue or cost on it

    @property
    def margin(self) -> Money:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        """margin ÷ revenue × 100, to two decimals (half up); none without positive revenue."""
        if self.revenue.amount <= 0:
            return None
        return (self.margin.amount * 100 / self.revenue.amount).quantize(PERCENT, rounding=ROUND_HALF_UP)


def _same_currency(amounts: Iterable[Money], currency: str) -> None:
    for money in amounts:
        if money.currency != currency:
            raise DomainError("currency_mismatch", f"Margins are computed in one currency ({currency}); "
                              f"convert {money.currency} amounts first.", "currency")  # fmt: skip


def _by_customer(
    revenue: Sequence[PlanRevenue], costs: Sequence[CustomerCost], currency: str
) -> tuple[dict[str, dict[str | None, Decimal]], dict[str, Decimal]]:
    """Revenue per customer and plan, cost per customer: summed as Decimals (a report sums many; Money per
    addition costs more than the addition)."""
    _same_currency((r.amount for r in revenue), currency)
    _same_currency((c.amount for c in costs), currency)
    plans: dict[str, dict[str | None, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for r in revenue:
        plans[r.customer_id][r.plan] += r.amount.amount
    spent: dict[str, Decimal] = defaultdict(Decimal)
    for c in costs:
        spent[c.customer_id] += c.amount.amount
    return plans, spent


def margin_by_customer(
    revenue: Sequence[PlanRevenue], costs: Sequence[CustomerCost], currency: str
) -> list[Margin]:
    """Revenue, cost and margin of every customer with either, by customer id."""
    plans, spent = _by_customer(revenue, costs, currency)
    zero = Decimal(0)
    return [
        Margin(key=customer_id, revenue=Money.rounded(sum(plans[customer_id].values(), zero), currency),
               cost=Money.rounded(spent.get(customer_id, zero), currency), customers=1)
        for customer_id in sorted(plans.keys() | spent.keys())
    ]  # fmt: skip


def _plan_order(plan: str | None) -> tuple[bool, str]:
    return (plan is None, plan or "")


def split_cost(cost: Money, revenue: Mapping[str | None, Money]) -> dict[str | None, Money]:
    """A customer's cost over its plans, in proportion to its revenue on each (largest remainder, ties to
    the plan first by code). Plans with no positive revenue take none of it; with no positive revenue at
    all, the whole cost is on no plan (None)."""
    weights = {plan: money.amount for plan, money in revenue.items() if money.amount > 0}
    if not weights:
        return {None: cost}
    ordered = sorted(weights, key=_plan_order)
    return dict(zip(ordered, cost.allocate([weights[p] for p in ordered]), strict=True))


def margin_by_plan(
    revenue: Sequence[PlanRevenue], costs: Sequence[CustomerCost], currency: str
) -> list[Margin]:
    """Revenue, cost and margin per plan: each customer's cost split over its plans (`split_cost`), plans
    by code, "(none)" last. The plans' totals are the customers' totals, to the cent."""
    plans, spent = _by_customer(revenue, costs, currency)
    zero = Money.zero(currency)
    rev: dict[str | None, Money] = defaultdict(lambda: zero)
    cost: dict[str | None, Money] = defaultdict(lambda: zero)
    who: dict[str | None, set[str]] = defaultdict(set)
    for customer_id in sorted(plans.keys() | spent.keys()):
        per_plan = {plan: Money.rounded(amount, currency) for plan, amount in plans[customer_id].items()}
        for plan, money in per_plan.items():
            rev[plan] += money
            who[plan].add(customer_id)
        if customer_id in spent:
            for plan, share in split_cost(Money.rounded(spent[customer_id], currency), per_plan).items():
                cost[plan] += share
                who[plan].add(customer_id)
    return [
        Margin(
            key=NO_PLAN if plan is None else plan,
            revenue=rev[plan],
            cost=cost[plan],
            customers=len(who[plan]),
        )
        for plan in sorted(who, key=_plan_order)
    ]


def total(rows: Sequence[Margin], currency: str) -> Margin:
    zero = Money.zero(currency)
    return Margin(
        key="total", revenue=sum((r.revenue for r in rows), zero), cost=sum((r.cost for r in rows), zero)
    )
