"""Prepaid wallets (issue 9): a wallet per customer and currency, free credits granted, paid credits
bought (charged on the default method, or received by hand), and the wallet's log. See docs/wallets.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Amount, CurrencyCode, Id, Input, Instant, MoneyModel, PageOut, page_of
from kassa.core.payments import Payment
from kassa.core.wallets import MAX_THRESHOLDS, Transaction, transaction_json
from kassa.services import wallets

router = APIRouter(tags=["wallets"])

Description = Annotated[str, StringConstraints(max_length=wallets.MAX_DESCRIPTION)]
OfferCode = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class AutoTopUpIn(Input):
    threshold: Amount = Field(description="Below this balance...", examples=["20.00"])
    amount: Amount = Field(description="...buy this much.", examples=["50.00"])


class AutoTopUpOut(BaseModel):
    """In the wallet's currency, as it was set."""

    threshold: Amount
    amount: Amount


Thresholds = Annotated[list[Amount], Field(max_length=MAX_THRESHOLDS,
                                           description="Low-balance alerts: amounts the balance falls below.")]  # fmt: skip


class WalletCreate(Input):
    customer_id: Id
    currency: CurrencyCode | None = Field(None, description="Default: the customer's currency.")
    auto_top_up: AutoTopUpIn | None = None
    alert_thresholds: Thresholds | None = None
    promotion_offer: OfferCode | None = Field(None, description="An offer proposed with low-balance alerts.")


class WalletUpdate(Input):
    auto_top_up: AutoTopUpIn | None = Field(None, description="null removes the rule.")
    alert_thresholds: Thresholds | None = None
    promotion_offer: OfferCode | None = Field(None, description="null removes the offer.")


class BalanceOut(BaseModel):
    total: MoneyModel
    paid: MoneyModel
    free: MoneyModel


class LotOut(BaseModel):
    id: str
    kind: Literal["paid", "free"]
    amount: MoneyModel
    remaining: MoneyModel
    granted_at: datetime
    expires_at: datetime | None


class WalletOut(BaseModel):
    id: str
    object: Literal["wallet"]
    customer_id: str
    currency: str
    balance: BalanceOut
    lots: list[LotOut] = Field(description="The live lots, in the order they are drawn.")
    auto_top_up: AutoTopUpOut | None
    alert_thresholds: list[Amount]
    promotion_offer: str | None
    created_at: datetime
    updated_at: datetime


class WalletList(BaseModel):
    data: list[WalletOut]


class GrantIn(Input):
    amount: Amount = Field(examples=["10.00"])
    expires_at: Instant | None = None
    description: Description | None = None


class TopUpIn(Input):
    amount: Amount = Field(examples=["50.00"])
    expires_at: Instant | None = None
    paid_outside: bool = Field(False, description="Money already received by hand (a bank transfer).")
    description: Description | None = None


class TransactionOut(BaseModel):
    id: str
    object: Literal["wallet_transaction"]
    wallet_id: str
    kind: Literal["top_up", "grant", "draw", "hold", "release", "expiry"]
    amount: MoneyModel
    paid: MoneyModel
    free: MoneyModel
    balance: MoneyModel
    invoice_id: str | None
    payment_id: str | None
    usage_event_id: str | None
    description: str | None
    occurred_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, t: Transaction) -> TransactionOut:
        return cls.model_validate(transaction_json(t))


class TopUpOut(BaseModel):
    payment: dict[str, Any] = Field(
        description="The payment (see /v1/payments); its lot is credited once it succeeds."
    )


def _body(model: Input, *, unset: bool = False) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_unset=unset, exclude_none=not unset)


def _instant(body: dict[str, Any]) -> dict[str, Any]:
    """Instants go to the service as ISO text, in UTC."""
    if isinstance(body.get("expires_at"), str):
        body["expires_at"] = body["expires_at"].replace("Z", "+00:00")
    return body


@router.post("/wallets", status_code=201, response_model=WalletOut)
def create_wallet(body: WalletCreate, ctx: Ctx, actor: Caller) -> Any:
    """Open a prepaid wallet for a customer in one currency (409 if it has one in that currency)."""
    return wallets.create_wallet(ctx, actor, _body(body))


@router.get("/wallets/{wallet_id}", response_model=WalletOut)
def get_wallet(wallet_id: Id, ctx: Ctx, actor: Caller) -> Any:
    """The balance (paid and free credits apart) and the live lots, as of the customer's present."""
    return wallets.get_wallet(ctx, actor, wallet_id)


@router.patch("/wallets/{wallet_id}", response_model=WalletOut)
def update_wallet(wallet_id: Id, body: WalletUpdate, ctx: Ctx, actor: Caller) -> Any:
    """Change the auto top-up rule, the alert thresholds or the promotion offer."""
    return wallets.update_wallet(ctx, actor, wallet_id, _body(body, unset=True))


@router.get("/customers/{customer_id}/wallets", response_model=WalletList)
def customer_wallets(customer_id: Id, ctx: Ctx, actor: Caller) -> Any:
    return {"data": wallets.customer_wallets(ctx, actor, customer_id)}


@router.get("/wallets/{wallet_id}/transactions", response_model=PageOut[TransactionOut])
def list_transactions(wallet_id: Id, ctx: Ctx, actor: Caller, limit: Limit = 20,
                      cursor: Cursor = None) -> PageOut[TransactionOut]:  # fmt: skip
    """The wallet's log, newest first: top-ups, grants, draws, holds and expiries."""
    return page_of(
        wallets.list_transactions(ctx, actor, wallet_id, limit=limit, cursor=cursor), TransactionOut.of
    )


@router.post("/wallets/{wallet_id}/grants", status_code=201, response_model=TransactionOut)
def grant_credits(wallet_id: Id, body: GrantIn, ctx: Ctx, actor: Caller) -> TransactionOut:
    """Give free credits (a lot, optionally expiring)."""
    return TransactionOut.of(wallets.grant_credits(ctx, actor, wallet_id, _instant(_body(body))))


@router.post("/wallets/{wallet_id}/top_ups", status_code=201, response_model=TopUpOut)
def top_up(wallet_id: Id, body: TopUpIn, ctx: Ctx, actor: Caller) -> TopUpOut:
    """Buy paid credits: charged on the customer's default payment method, or with paid_outside money
    already received by hand."""
    payment: Payment = wallets.top_up(ctx, actor, wallet_id, _instant(_body(body)))
    return TopUpOut(payment=payment.to_json())
