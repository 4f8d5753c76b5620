"""Prepaid wallets (issue 9): one per customer and currency, holding credits in lots: bought by a top-up
(paid) or granted (free). A top-up is a deposit, not revenue: it is booked to Prepaid wallets (2400) and
taxed only when the invoices it pays are. Drawing credits (for invoices and in-advance usage), expiry,
low-balance alerts and the auto top-up live in `wallet_draws`. See docs/wallets.md.

A top-up through the gateway creates its lot empty, with the payment; the payment's success (at once for
a card, later for a SEPA debit or an authentication) fills it, its failure removes it. Such a payment is
claimed by the wallet, so collections never apply it to invoices.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from kassa.adapters.payments.base import ChargeRequest
from kassa.core import ledger
from kassa.core.audit import Actor, system_actor
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.ledger import Role
from kassa.core.money import Money, currency_code
from kassa.core.pages import Page, check_limit
from kassa.core.payments import Payment, PaymentMethodType, PaymentStatus
from kassa.core.periods import local_day
from kassa.core.wallets import (
    CreditKind,
    Lot,
    Transaction,
    TransactionKind,
    Wallet,
    auto_top_up_from_doc,
    balance,
    thresholds_from_doc,
    wallet_json,
)
from kassa.services import audit, events, jobs, payments
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.services.ledger import post
from kassa.store.uow import UnitOfWork
from kassa.store.wallets import TOP_UP_KEY

EXPIRE_JOB = "wallets.expire"
MAX_DESCRIPTION = 500
_CREATE = {"customer_id", "currency", "auto_top_up", "alert_thresholds", "promotion_offer"}
_UPDATE = {"auto_top_up", "alert_thresholds", "promotion_offer"}


def _known(body: Any, names: set[str], code: str) -> None:
    if not isinstance(body, Mapping):
        raise DomainError(code, "Expected an object.")
    for key in body:
        if key not in names:
            raise DomainError(code, f"Unknown field {key!r}.", str(key))


def _rule(value: Any, currency: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise DomainError("invalid_auto_top_up", 'auto_top_up is {"threshold": "20.00", "amount": "50.00"}.',
                          "auto_top_up")  # fmt: skip
    return auto_top_up_from_doc(value, currency)


def _offer(uow: UnitOfWork, tenant_id: str, code: Any) -> str | None:
    if code is None:
        return None
    found = uow.offers.latest(tenant_id, code) if isinstance(code, str) and len(code) <= 64 else None
    if found is None or found.offer is None:
        raise DomainError("unknown_offer", f"No offer {code!r}.", "promotion_offer")
    return found.code


def _load(
    uow: UnitOfWork, tenant_id: str, wallet_id: str, *, for_update: bool = False
) -> tuple[Wallet, list[Lot]]:
    wallet = uow.wallets.get(tenant_id, wallet_id, for_update=for_update)
    return wallet, uow.wallets.lots(tenant_id, [wallet.id])[wallet.id]


def _now(ctx: ServiceContext, uow: UnitOfWork, wallet: Wallet) -> datetime:
    return now_for(ctx, uow, uow.customers.get(wallet.tenant_id, wallet.customer_id))


# ---- the wallet resource -------------------------------------------------------------------------------


def create_wallet(ctx: ServiceContext, actor: Actor, body: Mapping[str, Any]) -> dict[str, Any]:
    """{customer_id, currency? (the customer's), auto_top_up?, alert_thresholds?, promotion_offer?}: one
    wallet per customer and currency."""
    _known(body, _CREATE, "invalid_wallet")
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, str):
        raise DomainError("invalid_wallet", "customer_id is required.", "customer_id")
    with ctx.uow() as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id, for_update=True)
        currency = currency_code(body.get("currency", customer.currency), "currency")
        now = now_for(ctx, uow, customer)
        wallet = Wallet(tenant_id=actor.tenant_id, id=ctx.new_id("wal"), customer_id=customer.id, currency=currency,
                        auto_top_up=_rule(body.get("auto_top_up"), currency),
                        alert_thresholds=thresholds_from_doc(body.get("alert_thresholds", []), currency),
                        promotion_offer=_offer(uow, actor.tenant_id, body.get("promotion_offer")),
                        created_at=now, updated_at=now)  # fmt: skip
        if not uow.wallets.add(wallet):
            raise Conflict("wallet_exists", f"The customer already has a {currency} wallet.", "currency")
        shown = wallet_json(wallet, [], now)
        audit.changed(ctx, uow, actor, EventType.WALLET_CREATED, object_type="wallet", object_id=wallet.id,
                      before=None, after=shown, at=now, customer_id=customer.id)  # fmt: skip
        uow.commit()
    return shown


def get_wallet(ctx: ServiceContext, actor: Actor, wallet_id: str) -> dict[str, Any]:
    """The wallet as of its customer's present: the balance and the live lots."""
    with ctx.uow(read_only=True) as uow:
        wallet, lots = _load(uow, actor.tenant_id, wallet_id)
        return wallet_json(wallet, lots, _now(ctx, uow, wallet))


def customer_wallets(ctx: ServiceContext, actor: Actor, customer_id: str) -> list[dict[str, Any]]:
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        now = now_for(ctx, uow, customer)
        found = uow.wallets.of_customer(actor.tenant_id, customer.id)
        lots = uow.wallets.lots(actor.tenant_id, [w.id for w in found])
        return [wallet_json(w, lots[w.id], now) for w in found]


def update_wallet(
    ctx: ServiceContext, actor: Actor, wallet_id: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Change the auto top-up rule, the alert thresholds or the promotion offer (null clears a rule or an
    offer). A new rule lets the auto top-up try again after a declined one."""
    _known(changes, _UPDATE, "invalid_wallet")
    with ctx.uow() as uow:
        wallet, lots = _load(uow, actor.tenant_id, wallet_id, for_update=True)
        now = _now(ctx, uow, wallet)
        values: dict[str, Any] = {}
        if "auto_top_up" in changes:
            values["auto_top_up"] = _rule(changes["auto_top_up"], wallet.currency)
        if "alert_thresholds" in changes:
            values["alert_thresholds"] = thresholds_from_doc(changes["alert_thresholds"], wallet.currency)
        if "promotion_offer" in changes:
            values["promotion_offer"] = _offer(uow, actor.tenant_id, changes["promotion_offer"])
        after = replace(wallet, **values)
        if after != wallet:
            after = replace(after, updated_at=now)
            uow.wallets.save(after)
            audit.changed(ctx, uow, actor, EventType.WALLET_UPDATED, object_type="wallet", object_id=wallet.id,
                          before=wallet_json(wallet, lots, now), after=wallet_json(after, lots, now), at=now,
                          customer_id=wallet.customer_id)  # fmt: skip
        uow.commit()
    return wallet_json(after, lots, now)


def list_transactions(ctx: ServiceContext, actor: Actor, wallet_id: str, *, limit: int,
                      cursor: str | None) -> Page[Transaction]:  # fmt: skip
    check_limit(limit)
    with ctx.uow(read_only=True) as uow:
        wallet = uow.wallets.get(actor.tenant_id, wallet_id)
        return uow.wallets.transactions(actor.tenant_id, wallet.id, limit=limit, cursor=cursor)


# ---- recording movements -------------------------------------------------------------------------------


def record(ctx: ServiceContext, uow: UnitOfWork, wallet: Wallet, kind: TransactionKind, amount: Money, paid: Money,
           lots: list[Lot], now: datetime, **links: Any) -> Transaction:  # fmt: skip
    """Log one movement; `lots` are the wallet's lots after it, which give the balance it leaves."""
    t = Transaction(tenant_id=wallet.tenant_id, id=ctx.new_id("wtx"), wallet_id=wallet.id, kind=kind, amount=amount,
                    paid=paid, balance=balance(lots, wallet.currency, now).total, occurred_at=now,
                    created_at=ctx.clock.now(), **links)  # fmt: skip
    uow.wallets.add_transactions([t])
    return t


def _amount(value: Any, currency: str) -> Money:
    if not isinstance(value, str):
        raise DomainError("invalid_amount", 'amount is a string, like "50.00".', "amount")
    money = Money.parse(value, currency, field="amount")
    if money.amount <= 0 or not money.is_rounded:
        raise DomainError("invalid_amount", f"A positive amount in {currency}'s minor units.", "amount")
    return money


def _expiry(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise DomainError(
            "invalid_expires_at", "expires_at is an instant with its offset (ISO 8601).", "expires_at"
        )
    if at <= now:
        raise DomainError("invalid_expires_at", "expires_at is in the future.", "expires_at")
    return at


def _text(value: Any, name: str) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_DESCRIPTION):
        raise DomainError(
            "invalid_description", f"{name} is text of at most {MAX_DESCRIPTION} characters.", name
        )
    return value


def _schedule_expiry(ctx: ServiceContext, uow: UnitOfWork, wallet: Wallet, lot: Lot, now: datetime) -> None:
    if lot.expires_at is not None:
        jobs.schedule(ctx, uow, wallet.tenant_id, EXPIRE_JOB, max(lot.expires_at, now), dedupe_key=lot.id,
                      customer_id=wallet.customer_id, payload={"lot_id": lot.id})  # fmt: skip


def grant_credits(ctx: ServiceContext, actor: Actor, wallet_id: str, body: Mapping[str, Any]) -> Transaction:
    """Free credits {amount, expires_at?, description?}: a lot, and no journal entry — no money moved;
    they are booked as a credit-grant expense when they pay an invoice."""
    _known(body, {"amount", "expires_at", "description"}, "invalid_grant")
    with ctx.uow() as uow:
        wallet, lots = _load(uow, actor.tenant_id, wallet_id, for_update=True)
        now = _now(ctx, uow, wallet)
        amount = _amount(body.get("amount"), wallet.currency)
        lot = Lot(id=ctx.new_id("wlot"), kind=CreditKind.FREE, amount=amount, remaining=amount, granted_at=now,
                  expires_at=_expiry(body.get("expires_at"), now))  # fmt: skip
        uow.wallets.add_lot(actor.tenant_id, wallet.id, lot, payment_id=None, at=now)
        t = record(ctx, uow, wallet, TransactionKind.GRANT, amount, Money.zero(wallet.currency), [*lots, lot], now,
                   description=_text(body.get("description"), "description"))  # fmt: skip
        _schedule_expiry(ctx, uow, wallet, lot, now)
        audit.changed(ctx, uow, actor, EventType.WALLET_CREDITS_GRANTED, object_type="wallet", object_id=wallet.id,
                      before=None, after=event_data(t, lot), at=now, customer_id=wallet.customer_id)  # fmt: skip
        uow.commit()
    return t


def event_data(t: Transaction, lot: Lot | None = None, **more: Any) -> dict[str, Any]:
    data = {"wallet_id": t.wallet_id, "transaction_id": t.id, "kind": t.kind.value, "amount": t.amount.amount_text(),
            "paid": t.paid.amount_text(), "currency": t.amount.currency, "balance": t.balance.amount_text(), **more}  # fmt: skip
    if lot is not None:
        data |= {
            "lot_id": lot.id,
            "expires_at": None if lot.expires_at is None else lot.expires_at.isoformat(),
        }
    return data


# ---- top-ups -------------------------------------------------------------------------------------------


def top_up(ctx: ServiceContext, actor: Actor, wallet_id: str, body: Mapping[str, Any]) -> Payment:
    """Buy paid credits {amount, expires_at?, paid_outside?, description?}: charged on the customer's
    default payment method (the lot is filled when the payment succeeds), or, with paid_outside, money
    already received by hand (a bank transfer) and credited at once. Returns the payment."""
    _known(body, {"amount", "expires_at", "paid_outside", "description"}, "invalid_top_up")
    outside = body.get("paid_outside", False)
    if not isinstance(outside, bool):
        raise DomainError("invalid_top_up", "paid_outside is true or false.", "paid_outside")
    with ctx.uow() as uow:
        wallet, _ = _load(uow, actor.tenant_id, wallet_id, for_update=True)
        now = _now(ctx, uow, wallet)
        amount = _amount(body.get("amount"), wallet.currency)
        expires_at = _expiry(body.get("expires_at"), now)
        note = _text(body.get("description"), "description")
        if outside:
            payment: Payment | None = _received(ctx, uow, actor, wallet, amount, expires_at, note, now)
        else:
            payment = charge(ctx, uow, wallet, amount, expires_at, f"manual:{ctx.new_id('wtu')}", now)
            if payment is None:
                raise DomainError("no_payment_method", "The customer has no default card, provider account (PayPal) "
                                  "or direct debit: record money received with paid_outside.")  # fmt: skip
        uow.commit()
    assert payment is not None
    return payment


def _received(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, wallet: Wallet, amount: Money,
              expires_at: datetime | None, note: str | None, now: datetime) -> Payment:  # fmt: skip
    customer = uow.customers.get(wallet.tenant_id, wallet.customer_id)
    zero = Money.zero(wallet.currency)
    payment = Payment(tenant_id=wallet.tenant_id, id=ctx.new_id("pay"), customer_id=wallet.customer_id, amount=amount,
                      status=PaymentStatus.SUCCEEDED, method_type=PaymentMethodType.BANK_TRANSFER,
                      reference=note or f"Wallet top-up {wallet.id}", received_on=local_day(now, customer.time_zone),
                      refunded=zero, disputed=zero, created_at=now, settled_at=now)  # fmt: skip
    uow.payments.add(payment, idempotency_key=f"{TOP_UP_KEY}{wallet.id}:manual:{payment.id}")
    lot = Lot(id=ctx.new_id("wlot"), kind=CreditKind.PAID, amount=amount, remaining=zero, granted_at=now,
              expires_at=expires_at)  # fmt: skip
    uow.wallets.add_lot(wallet.tenant_id, wallet.id, lot, payment_id=payment.id, at=now)
    _fill(ctx, uow, payment, now)
    audit.changed(ctx, uow, actor, EventType.PAYMENT_SUCCEEDED, object_type="payment", object_id=payment.id,
                  before=None, after=payment.to_json(), at=now, customer_id=payment.customer_id)  # fmt: skip
    return payment


def charge(ctx: ServiceContext, uow: UnitOfWork, wallet: Wallet, amount: Money, expires_at: datetime | None,
           key: str, now: datetime) -> Payment | None:  # fmt: skip
    """Charge a top-up on the default method under `key` ("auto:<n>" or "manual:<id>"); None without an
    automatic method. The same key twice finds the first payment: the gateway is never asked twice."""
    full_key = f"{TOP_UP_KEY}{wallet.id}:{key}"
    found = uow.payments.by_key(wallet.tenant_id, full_key)
    if found is not None:
        return found
    method = uow.payment_methods.default(wallet.tenant_id, wallet.customer_id)
    if method is None or not method.automatic:
        return None
    zero = Money.zero(wallet.currency)
    payment = Payment(tenant_id=wallet.tenant_id, id=ctx.new_id("pay"), customer_id=wallet.customer_id, amount=amount,
                      status=PaymentStatus.PENDING, method_type=method.type, payment_method_id=method.id,
                      reference=f"Wallet top-up {wallet.id}", refunded=zero, disputed=zero, created_at=now)  # fmt: skip
    lot = Lot(id=ctx.new_id("wlot"), kind=CreditKind.PAID, amount=amount, remaining=zero, granted_at=now,
              expires_at=expires_at)  # fmt: skip
    actor = system_actor(wallet.tenant_id, "wallets")
    if method.type is PaymentMethodType.SEPA_DEBIT:  # collected with the next direct-debit file
        payment = replace(payment, gateway="sepa", gateway_ref=payment.id)
        uow.payments.add(payment, idempotency_key=full_key)
        uow.wallets.add_lot(wallet.tenant_id, wallet.id, lot, payment_id=payment.id, at=now)
        audit.changed(ctx, uow, actor, EventType.PAYMENT_CREATED, object_type="payment", object_id=payment.id,
                      before=None, after=payment.to_json(), at=now, customer_id=payment.customer_id)  # fmt: skip
        return payment
    if method.gateway is None or method.gateway not in ctx.gateways:
        raise DomainError("unknown_gateway", f"No gateway {method.gateway!r} is configured.", "gateway")
    gateway = ctx.gateways[method.gateway]
    request = ChargeRequest(idempotency_key=f"{wallet.tenant_id}:{full_key}", amount=amount, method=method,
                            description=f"Wallet top-up {wallet.id}", customer_ref=wallet.customer_id,
                            metadata={"wallet": wallet.id, "top_up": key})  # fmt: skip
    started = time.perf_counter()
    result = gateway.charge(request)  # GatewayUnavailable fails the request or job: retried with the same key
    payment = replace(payment, amount=result.amount, gateway=gateway.name, gateway_ref=result.ref,
                      latency_ms=round((time.perf_counter() - started) * 1000))  # fmt: skip
    uow.payments.add(payment, idempotency_key=full_key)
    uow.wallets.add_lot(wallet.tenant_id, wallet.id, lot, payment_id=payment.id, at=now)
    audit.changed(ctx, uow, actor, EventType.PAYMENT_CREATED, object_type="payment", object_id=payment.id,
                  before=None, after=payment.to_json(), at=now, customer_id=payment.customer_id)  # fmt: skip
    settled = payments.settle(ctx, uow, payment, result, now)
    if settled.status in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION):  # no webhook may ever come
        jobs.schedule(ctx, uow, wallet.tenant_id, payments.CONFIRM_JOB, now + payments.CONFIRM_AFTER,
                      dedupe_key=f"{payment.id}:1", customer_id=wallet.customer_id,
                      payload={"payment_id": payment.id, "try": 1})  # fmt: skip
    return settled


def _fill(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, now: datetime) -> bool:
    """A top-up payment succeeded: its lot gets the money (as of now, for the draw order), the deposit is
    booked, and the expiry scheduled. False for a payment that is not a top-up."""
    found = uow.wallets.lot_of_payment(payment.tenant_id, payment.id)
    if found is None:
        return False
    wallet, lots = _load(uow, payment.tenant_id, found[0], for_update=True)
    lot = replace(found[1], remaining=found[1].amount, granted_at=now)
    uow.wallets.save_lots(payment.tenant_id, [lot])
    after = [lot if x.id == lot.id else x for x in lots]
    t = record(
        ctx, uow, wallet, TransactionKind.TOP_UP, lot.amount, lot.amount, after, now, payment_id=payment.id
    )
    cash = Role.PAYMENTS_IN_TRANSIT if payment.gateway else Role.CASH
    post(uow, ledger.wallet_entry(uow.ledger.chart(wallet.tenant_id), tenant_id=wallet.tenant_id, id=ctx.new_id("je"),
                                  posted_at=now, transaction_id=t.id, description=f"Top-up of wallet {wallet.id}",
                                  currency=wallet.currency, top_up=lot.amount, cash=cash))  # fmt: skip
    _schedule_expiry(ctx, uow, wallet, lot, now)
    key = uow.wallets.top_up_key(payment.tenant_id, payment.id) or ""
    events.emit(ctx, uow, wallet.tenant_id, EventType.WALLET_TOPPED_UP, object_type="wallet", object_id=wallet.id,
                at=now, customer_id=wallet.customer_id,
                data=event_data(t, lot, payment_id=payment.id, auto=":auto:" in key))  # fmt: skip
    return True


def _failed(ctx: ServiceContext, uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    """A top-up that failed buys nothing: its empty lot goes, and the wallet says so."""
    found = uow.wallets.lot_of_payment(payment.tenant_id, payment.id)
    if found is None:
        return
    wallet_id, lot = found
    uow.wallets.delete_lot(payment.tenant_id, lot.id)
    key = uow.wallets.top_up_key(payment.tenant_id, payment.id) or ""
    events.emit(ctx, uow, payment.tenant_id, EventType.WALLET_TOP_UP_FAILED, object_type="wallet",
                object_id=wallet_id, at=now, customer_id=payment.customer_id,
                data={"wallet_id": wallet_id, "payment_id": payment.id, "amount": payment.amount.amount_text(),
                      "currency": payment.amount.currency, "auto": ":auto:" in key,
                      "decline_code": payment.decline_code.value if payment.decline_code else None,
                      "message": payment.failure_message})  # fmt: skip


payments.ON_SUCCEEDED.append(_fill)
payments.ON_FAILED.append(_failed)
