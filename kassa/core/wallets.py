"""Prepaid wallets: credits a customer bought (paid) or was given (free), held in lots, drawn to pay usage
and invoices.

- A **lot** is one top-up or one grant: its kind, amount, what is left of it, when it came and when it
  expires (free credits usually do, paid ones may). A lot is live until its expiry instant (excluded).
- A **draw** takes from the live lots the soonest-expiring first, so credits that would be lost go first;
  on the same expiry free before paid (a paid credit is the customer's deposit, kept as long as possible),
  then the oldest; lots without an expiry come last. What the lots cannot cover is `short`: the invoice's
  payment method pays it.
- The **auto top-up** rule buys `amount` when the balance falls below `threshold`, one purchase at a time.
- **Low-balance alerts** are thresholds the balance falls below: each fires when a draw crosses it downwards.

Money paid into a wallet is a deposit, not revenue: the service books it (Prepaid wallets, 2400), never as sales.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.money import Money


class CreditKind(StrEnum):
    PAID = "paid"  # bought by a top-up: the customer's money, a liability until used
    FREE = "free"  # granted (goodwill, a promotion): no money was received


@dataclass(frozen=True, slots=True, kw_only=True)
class Lot:
    id: str
    kind: CreditKind
    amount: Money
    remaining: Money
    granted_at: datetime
    expires_at: datetime | None

    def live(self, at: datetime) -> bool:
        return self.remaining.amount > 0 and (self.expires_at is None or at < self.expires_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    paid: Money
    free: Money

    @property
    def total(self) -> Money:
        return self.paid + self.free


def _same_currency(lots: Iterable[Lot], currency: str) -> None:
    for x in lots:
        if x.amount.currency != currency:
            raise DomainError("currency_mismatch", f"A {currency} wallet holds no {x.amount.currency} credits.",
                              "currency")  # fmt: skip


def balance(lots: Sequence[Lot], currency: str, at: datetime) -> Balance:
    """What the live lots hold at `at`, paid and free apart."""
    _same_currency(lots, currency)
    zero = Money.zero(currency)
    live = [x for x in lots if x.live(at)]
    return Balance(paid=sum((x.remaining for x in live if x.kind is CreditKind.PAID), zero),
                   free=sum((x.remaining for x in live if x.kind is CreditKind.FREE), zero))  # fmt: skip


def _draw_order(x: Lot) -> tuple[bool, datetime, bool, datetime, str]:
    no_expiry = x.expires_at is None
    return (no_expiry, x.expires_at or x.granted_at, x.kind is CreditKind.PAID, x.granted_at, x.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Draw:
    lot_id: str
    kind: CreditKind
    amount: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Drawn:
    draws: tuple[Draw, ...]
    lots: tuple[Lot, ...]  # every lot, as it is after the draw, in the order given
    short: Money  # what the lots could not cover

    @property
    def paid(self) -> Money:
        return sum(
            (d.amount for d in self.draws if d.kind is CreditKind.PAID), Money.zero(self.short.currency)
        )

    @property
    def free(self) -> Money:
        return sum(
            (d.amount for d in self.draws if d.kind is CreditKind.FREE), Money.zero(self.short.currency)
        )


def draw(lots: Sequence[Lot], amount: Money, at: datetime) -> Drawn:
    """Take `amount` (positive) from the live lots in draw order."""
    _same_currency(lots, amount.currency)
    if amount.amount < 0:
        raise DomainError("invalid_amount", "A draw is not negative.", "amount")
    left = amount
    taken: dict[str, Money] = {}
    draws = []
    for x in sorted((x for x in lots if x.live(at)), key=_draw_order):
        if not left.amount:
            break
        part = min(x.remaining, left)
        taken[x.id] = part
        draws.append(Draw(lot_id=x.id, kind=x.kind, amount=part))
        left -= part
    after = tuple(replace(x, remaining=x.remaining - taken[x.id]) if x.id in taken else x for x in lots)
    return Drawn(draws=tuple(draws), lots=after, short=left)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expiry:
    lot_id: str
    kind: CreditKind
    amount: Money  # what was left of the lot when it expired


def expired(lots: Sequence[Lot], at: datetime) -> list[Expiry]:
    """The lots that expired by `at` with something left: what the wallet loses (a service writes each off
    once and sets the lot's remaining to zero)."""
    return [Expiry(lot_id=x.id, kind=x.kind, amount=x.remaining) for x in lots
            if x.remaining.amount > 0 and x.expires_at is not None and x.expires_at <= at]  # fmt: skip


# ---- auto top-up and alerts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoTopUp:
    threshold: Money  # below this balance...
    amount: Money  # ...buy this much

    def to_json(self) -> dict[str, Any]:
        return {"threshold": self.threshold.amount_text(), "amount": self.amount.amount_text(),
                "currency": self.amount.currency}  # fmt: skip


def _amount(doc: Mapping[str, Any], key: str, currency: str, *, positive: bool) -> Money:
    value = doc.get(key)
    if not isinstance(value, str):
        raise DomainError("invalid_auto_top_up", f'{key} is an amount as a string, like "20.00".', key)
    try:
        money = Money.parse(value, currency, field=key)
    except DomainError as error:
        raise DomainError("invalid_auto_top_up", error.message, key) from None
    if not money.is_rounded or money.amount < 0 or (positive and not money.amount):
        raise DomainError("invalid_auto_top_up", f"{key} is a {'positive' if positive else 'non-negative'} "
                          f"amount in {currency}'s minor units.", key)  # fmt: skip
    return money


def auto_top_up_from_doc(doc: Mapping[str, Any], currency: str) -> AutoTopUp:
    """`{"threshold": "20.00", "amount": "50.00"}` in the wallet's currency."""
    unknown = sorted(set(doc) - {"threshold", "amount"})
    if unknown:
        raise DomainError("invalid_auto_top_up", f"Unknown field {unknown[0]!r}.", unknown[0])
    return AutoTopUp(threshold=_amount(doc, "threshold", currency, positive=False),
                     amount=_amount(doc, "amount", currency, positive=True))  # fmt: skip


def auto_top_up(rule: AutoTopUp | None, balance_now: Money, *, pending: bool) -> Money | None:
    """What to buy now: the rule's amount when the balance is below its threshold and no top-up is on its
    way (a purchase waiting for its payment must not be bought twice)."""
    if rule is None or pending or balance_now >= rule.threshold:
        return None
    return rule.amount


def crossed(thresholds: Iterable[Money], before: Money, after: Money) -> list[Money]:
    """The alert thresholds the balance fell below going from `before` to `after`, highest first."""
    return sorted({t for t in thresholds if after < t <= before}, key=lambda t: t.amount, reverse=True)


MAX_THRESHOLDS = 10


def thresholds_from_doc(value: Any, currency: str) -> tuple[Money, ...]:
    """Low-balance alert thresholds: up to ten distinct non-negative amounts as strings ("20.00"), kept
    highest first."""
    if not isinstance(value, list) or len(value) > MAX_THRESHOLDS:
        raise DomainError("invalid_alert_thresholds", f"alert_thresholds is a list of at most {MAX_THRESHOLDS} "
                          'amounts, like ["20.00", "5.00"].', "alert_thresholds")  # fmt: skip
    out: set[Money] = set()
    for i, item in enumerate(value):
        field = f"alert_thresholds.{i}"
        if not isinstance(item, str):
            raise DomainError("invalid_alert_thresholds", 'A threshold is an amount as a string, like "20.00".',
                              field)  # fmt: skip
        try:
            money = Money.parse(item, currency, field=field)
        except DomainError as error:
            raise DomainError("invalid_alert_thresholds", error.message, field) from None
        if not money.is_rounded or money.amount < 0:
            raise DomainError("invalid_alert_thresholds", f"A threshold is a non-negative amount in {currency}'s "
                              "minor units.", field)  # fmt: skip
        out.add(money)
    return tuple(sorted(out, key=lambda m: m.amount, reverse=True))


# ---- the wallet and its log ----------------------------------------------------------------------------


class TransactionKind(StrEnum):
    TOP_UP = "top_up"  # paid credits bought (a lot), by a payment or money received by hand
    GRANT = "grant"  # free credits given (a lot)
    DRAW = "draw"  # credits that paid an invoice
    HOLD = "hold"  # credits taken at once for an in-advance usage charge, until an invoice bills it
    RELEASE = "release"  # held credits the invoice billing the usage did not need, back as a new lot
    EXPIRY = "expiry"  # what was left of a lot at its expiry


@dataclass(frozen=True, slots=True, kw_only=True)
class Wallet:
    tenant_id: str
    id: str
    customer_id: str
    currency: str
    auto_top_up: AutoTopUp | None
    alert_thresholds: tuple[Money, ...]
    promotion_offer: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """One movement of a wallet. `amount` is signed (in positive, out negative) and `paid` is the paid
    credits' part of it; `balance` is the wallet's balance after it. A hold's `invoice_id` is set once the
    invoice that bills its usage settled it (`settled`)."""

    tenant_id: str
    id: str
    wallet_id: str
    kind: TransactionKind
    amount: Money
    paid: Money
    balance: Money
    occurred_at: datetime
    created_at: datetime
    invoice_id: str | None = None
    payment_id: str | None = None
    usage_event_id: str | None = None
    description: str | None = None

    @property
    def free(self) -> Money:
        return self.amount - self.paid

    @property
    def settled(self) -> bool:
        return self.kind is not TransactionKind.HOLD or self.invoice_id is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """How an invoice that bills a held usage event settles its hold (amounts positive): what it takes over
    to pay the invoice, and what it releases back to the wallet because the invoice did not need it (the
    credit balance paid part of the usage, or the line billed less)."""

    paid: Money
    free: Money
    released_paid: Money
    released_free: Money

    @property
    def taken(self) -> Money:
        return self.paid + self.free

    @property
    def released(self) -> Money:
        return self.released_paid + self.released_free


def settle_hold(hold: Transaction, take: Money) -> Settled:
    """Take up to `take` of a hold, its free credits first (as a draw takes free before paid on the same
    expiry); the rest is released."""
    part = min(-hold.amount, max(take, Money.zero(take.currency)))
    free = min(-hold.free, part)
    paid = part - free
    return Settled(paid=paid, free=free, released_paid=-hold.paid - paid, released_free=-hold.free - free)


# ---- as the API shows them -----------------------------------------------------------------------------


def _money(m: Money) -> dict[str, str]:
    return {"amount": m.amount_text(), "currency": m.currency}


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def wallet_json(wallet: Wallet, lots: Sequence[Lot], at: datetime) -> dict[str, Any]:
    """The wallet at `at`: its balance (paid and free apart) and its live lots, soonest to expire first."""
    b, rule = balance(lots, wallet.currency, at), wallet.auto_top_up
    live = sorted((x for x in lots if x.live(at)), key=_draw_order)
    return {
        "id": wallet.id, "object": "wallet", "customer_id": wallet.customer_id, "currency": wallet.currency,
        "balance": {"total": _money(b.total), "paid": _money(b.paid), "free": _money(b.free)},
        "lots": [{"id": x.id, "kind": x.kind.value, "amount": _money(x.amount), "remaining": _money(x.remaining),
                  "granted_at": _instant(x.granted_at), "expires_at": _instant(x.expires_at)} for x in live],
        "auto_top_up": None if rule is None else {"threshold": rule.threshold.amount_text(),
                                                  "amount": rule.amount.amount_text()},
        "alert_thresholds": [t.amount_text() for t in wallet.alert_thresholds],
        "promotion_offer": wallet.promotion_offer, "created_at": _instant(wallet.created_at),
        "updated_at": _instant(wallet.updated_at),
    }  # fmt: skip


def transaction_json(t: Transaction) -> dict[str, Any]:
    return {
        "id": t.id, "object": "wallet_transaction", "wallet_id": t.wallet_id, "kind": t.kind.value,
        "amount": _money(t.amount), "paid": _money(t.paid), "free": _money(t.free), "balance": _money(t.balance),
        "invoice_id": t.invoice_id, "payment_id": t.payment_id, "usage_event_id": t.usage_event_id,
        "description": t.description, "occurred_at": _instant(t.occurred_at), "created_at": _instant(t.created_at),
    }  # fmt: skip
