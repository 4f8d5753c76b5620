"""/v1/ledger: the chart of accounts, the journal, and the trial balance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body
from pydantic import BaseModel

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.core.ledger import chart_to_json
from kassa.services import ledger

router = APIRouter(prefix="/ledger", tags=["ledger"])


class Doc(BaseModel):
    model_config = {"extra": "allow"}


class EntryPage(BaseModel):
    data: list[Doc]
    has_more: bool
    next_cursor: str | None


class Balances(BaseModel):
    data: list[Doc]


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


@router.get("/balances", response_model=Balances)
def trial_balance(ctx: Ctx, actor: Caller) -> Balances:
    """Every account's balance, debit-positive, per currency."""
    return Balances(data=[Doc.model_validate(row) for row in ledger.trial_balance(ctx, actor)])
