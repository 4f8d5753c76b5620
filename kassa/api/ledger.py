"""/v1/ledger: the chart of accounts, the journal, the trial balance as of a day, the general ledger of an
account, and the accounting periods (close a month, reopen it with a reason)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Input, MoneyModel
from kassa.core.accounting_periods import AccountingPeriod, Movement
from kassa.core.ledger import chart_to_json
from kassa.core.money import Money
from kassa.core.reports import month_name
from kassa.services import accounting_periods, ledger

router = APIRouter(prefix="/ledger", tags=["ledger"])

MonthText = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")]
AccountCode = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$", description="An account code")
]
From = Annotated[
    date | None,
    Query(
        alias="from",
        description="The first day, YYYY-MM-DD (booked_on, included); default: the first day of `to`'s month",
    ),
]
To = Annotated[
    date | None, Query(alias="to", description="The last day, YYYY-MM-DD (included); default: today")
]
LedgerLimit = Annotated[
    int, Query(ge=1, le=ledger.MAX_LEDGER_LINES, description="Postings per page, 1 to 1000.")
]
LedgerCursor = Annotated[
    str | None,
    Query(max_length=60, pattern=r"^\d{4}-\d{2}-\d{2}~[A-Za-z0-9_]{1,40}~\d{1,6}$",
          description="`next_cursor` of the previous page."),
]  # fmt: skip


class Doc(BaseModel):
    model_config = {"extra": "allow"}


class EntryPage(BaseModel):
    data: list[Doc]
    has_more: bool
    next_cursor: str | None


def _money(money: Money) -> MoneyModel:
    return MoneyModel(amount=money.amount_text(), currency=money.currency)


@router.get("/chart", response_model=Doc)
def get_chart(ctx: Ctx, actor: Caller) -> Doc:
    return Doc.model_validate(chart_to_json(ledger.get_chart(ctx, actor)))


@router.put("/chart", response_model=Doc)
def put_chart(ctx: Ctx, actor: Caller, body: dict[str, Any] = Body(...)) -> Doc:
    """Replace the chart of accounts: every role mapped to an account of the right type."""
    return Doc.model_validate(chart_to_json(ledger.set_chart(ctx, actor, body)))


@router.get("/entries", response_model=EntryPage)
def list_entries(ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None) -> EntryPage:
    page = ledger.list_entries(ctx, actor, limit=limit, cursor=cursor)
    return EntryPage(data=[Doc.model_validate(e.to_json()) for e in page.items], has_more=page.has_more,
                     next_cursor=page.next_cursor)  # fmt: skip


# ---- the trial balance ---------------------------------------------------------------------------------


class BalanceLine(BaseModel):
    account: str
    name: str
    type: str | None = Field(description="asset, liability, equity, revenue, expense; null: not in the chart")
    balance: MoneyModel = Field(description="Debit-positive")
    debit: MoneyModel = Field(description="The balance in the debit column (zero for a credit balance)")
    credit: MoneyModel = Field(description="The balance in the credit column (zero for a debit balance)")


class BalanceTotal(BaseModel):
    currency: str
    debit: MoneyModel
    credit: MoneyModel
    balanced: bool


class Balances(BaseModel):
    as_of: Annotated[
        date | None, Field(description="Entries booked on or before this day; null: all of them")
    ]
    data: list[BalanceLine]
    totals: list[BalanceTotal] = Field(description="The debit and credit columns summed, per currency")
    balanced: bool = Field(description="Debits equal credits in every currency")


@router.get("/balances", response_model=Balances)
def trial_balance(
    ctx: Ctx, actor: Caller,
    day: Annotated[date | None, Query(alias="as_of", description="Booked on or before this day (default: all)")] = None,
) -> Balances:  # fmt: skip
    """The trial balance: every account's balance, debit-positive, per currency, as of a day."""
    found = ledger.trial_balance_as_of(ctx, actor, day)
    return Balances(
        as_of=found.as_of,
        data=[BalanceLine(account=x.account, name=x.name, type=x.type, balance=_money(x.balance),
                          debit=_money(x.debit), credit=_money(x.credit)) for x in found.lines],
        totals=[BalanceTotal(currency=t.currency, debit=_money(t.debit), credit=_money(t.credit),
                             balanced=t.balanced) for t in found.totals],
        balanced=found.balanced,
    )  # fmt: skip


# ---- the general ledger of one account -----------------------------------------------------------------


class AccountOut(BaseModel):
    code: str
    name: str
    type: str | None
    normal_side: str | None


class LedgerLine(BaseModel):
    entry_id: str
    booked_on: date
    effective_on: date | None = Field(description="The day it belonged to, when a closed month moved it")
    posted_at: datetime
    source_type: str
    source_id: str
    description: str
    memo: str | None
    note: str | None
    debit: MoneyModel
    credit: MoneyModel
    balance: MoneyModel = Field(description="The account's balance after this posting, debit-positive")


class AccountLedgerOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    account: AccountOut
    from_: date = Field(alias="from")
    to: date
    opening_balances: list[MoneyModel] = Field(description="Per currency, of everything booked before `from`")
    entries: list[LedgerLine]
    closing_balances: list[MoneyModel] = Field(description="Per currency, of everything booked up to `to`")
    has_more: bool
    next_cursor: str | None


def _line(m: Movement) -> LedgerLine:
    assert m.balance is not None
    return LedgerLine(entry_id=m.entry_id, booked_on=m.booked_on, effective_on=m.effective_on, posted_at=m.posted_at,
                      source_type=m.source_type, source_id=m.source_id, description=m.description, memo=m.memo,
                      note=m.note, debit=_money(m.debit), credit=_money(m.credit), balance=_money(m.balance))  # fmt: skip


def _per_currency(balances: Mapping[str, Money], currencies: set[str]) -> list[MoneyModel]:
    return [_money(balances.get(c, Money.zero(c))) for c in sorted(currencies)]


@router.get("/accounts/{account_code}", response_model=AccountLedgerOut, response_model_by_alias=True)
def account_ledger(
    account_code: AccountCode, ctx: Ctx, actor: Caller, start: From = None, end: To = None, limit: LedgerLimit = 100,
    cursor: LedgerCursor = None,
) -> AccountLedgerOut:  # fmt: skip
    """The general ledger of one account: its opening balance, each posting booked from `from` to `to` with
    the running balance after it, and the closing balance; paged with `limit` and `cursor`."""
    found = ledger.account_ledger(ctx, actor, account_code, start, end, limit=limit, cursor=cursor)
    currencies = set(found.opening) | set(found.closing) | {m.currency for m in found.movements}
    account = found.account
    return AccountLedgerOut(
        account=AccountOut(code=found.code, name=account.name if account else found.code,
                           type=str(account.type) if account else None,
                           normal_side=str(account.normal_side) if account else None),
        from_=found.start, to=found.end, opening_balances=_per_currency(found.opening, currencies),
        entries=[_line(m) for m in found.movements], closing_balances=_per_currency(found.closing, currencies),
        has_more=found.has_more, next_cursor=found.next_cursor,
    )  # fmt: skip


# ---- accounting periods --------------------------------------------------------------------------------


class PeriodOut(BaseModel):
    month: str = Field(examples=["2026-10"])
    first_day: date
    last_day: date
    status: str = Field(description="closed or open (reopened)")
    closed_at: datetime
    closed_by: str
    reopened_at: datetime | None
    reopened_by: str | None
    reopen_reason: str | None


class Periods(BaseModel):
    closed_through: str | None = Field(
        description="The last closed month (YYYY-MM); every earlier one is closed"
    )
    data: list[PeriodOut]


class PeriodClose(Input):
    month: MonthText = Field(description="Close this month (YYYY-MM) and every open month before it")


class PeriodReopen(Input):
    reason: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        None, description="Why the month is reopened (required): kept in the audit log")  # fmt: skip


def _periods(through: date | None, rows: list[AccountingPeriod]) -> Periods:
    return Periods(closed_through=None if through is None else month_name(through),
                   data=[PeriodOut.model_validate(p.to_json()) for p in rows])  # fmt: skip


@router.get("/periods", response_model=Periods)
def list_periods(ctx: Ctx, actor: Caller) -> Periods:
    """Every month ever closed, oldest first, with who closed (and reopened) it."""
    return _periods(*accounting_periods.list_periods(ctx, actor))


@router.post("/periods", response_model=Periods)
def close_period(body: PeriodClose, ctx: Ctx, actor: Caller) -> Periods:
    """Close a month that has ended: it and every earlier month take no new postings (an entry dated in
    them books in the first open month, with a note)."""
    accounting_periods.close_period(ctx, actor, body.month)
    return _periods(*accounting_periods.list_periods(ctx, actor))


@router.post("/periods/{month}/reopen", response_model=Periods)
def reopen_period(
    month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")], body: PeriodReopen, ctx: Ctx,
    actor: Caller,
) -> Periods:  # fmt: skip
    """Reopen a closed month and every closed month after it; the reason is required and audited."""
    accounting_periods.reopen_period(ctx, actor, month, body.reason)
    return _periods(*accounting_periods.list_periods(ctx, actor))
