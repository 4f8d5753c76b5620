"""Prepaid wallets, their lots and their log of transactions; every query is scoped by tenant."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.payments import PaymentStatus
from kassa.core.wallets import (
    AutoTopUp,
    CreditKind,
    Lot,
    Transaction,
    TransactionKind,
    Wallet,
    auto_top_up_from_doc,
    thresholds_from_doc,
)
from kassa.store.pages import page
from kassa.store.tables import customers, payments, usage_charges, wallet_lots, wallet_transactions, wallets

# A wallet's top-up payments carry this idempotency key prefix: "wallet:<wallet id>:<auto|manual>:<n or id>".
TOP_UP_KEY = "wallet:"
_WAITING = (PaymentStatus.PENDING.value, PaymentStatus.REQUIRES_ACTION.value)


def _rule_doc(rule: AutoTopUp | None) -> dict[str, Any] | None:
    return (
        None
        if rule is None
        else {"threshold": rule.threshold.amount_text(), "amount": rule.amount.amount_text()}
    )


def _wallet(r: sa.Row[Any]) -> Wallet:
    return Wallet(tenant_id=r.tenant_id, id=r.id, customer_id=r.customer_id, currency=r.currency,
                  auto_top_up=None if r.auto_top_up is None else auto_top_up_from_doc(r.auto_top_up, r.currency),
                  alert_thresholds=thresholds_from_doc(list(r.alert_thresholds), r.currency),
                  promotion_offer=r.promotion_offer, created_at=r.created_at, updated_at=r.updated_at)  # fmt: skip


def _wallet_values(w: Wallet) -> dict[str, Any]:
    return {"customer_id": w.customer_id, "currency": w.currency, "auto_top_up": _rule_doc(w.auto_top_up),
            "alert_thresholds": [t.amount_text() for t in w.alert_thresholds], "promotion_offer": w.promotion_offer,
            "created_at": w.created_at, "updated_at": w.updated_at}  # fmt: skip


def _lot(r: sa.Row[Any]) -> Lot:
    return Lot(id=r.id, kind=CreditKind(r.kind), amount=Money.from_minor_units(r.amount_minor, r.currency),
               remaining=Money.from_minor_units(r.remaining_minor, r.currency), granted_at=r.granted_at,
               expires_at=r.expires_at)  # fmt: skip


def _transaction(r: sa.Row[Any]) -> Transaction:
    def m(minor: int) -> Money:
        return Money.from_minor_units(minor, r.currency)

    return Transaction(tenant_id=r.tenant_id, id=r.id, wallet_id=r.wallet_id, kind=TransactionKind(r.kind),
                       amount=m(r.amount_minor), paid=m(r.paid_minor), balance=m(r.balance_minor),
                       invoice_id=r.invoice_id, payment_id=r.payment_id, usage_event_id=r.usage_event_id,
                       description=r.description, occurred_at=r.occurred_at, created_at=r.created_at)  # fmt: skip


def _transaction_values(t: Transaction) -> dict[str, Any]:
    return {"tenant_id": t.tenant_id, "id": t.id, "wallet_id": t.wallet_id, "kind": t.kind.value,
            "currency": t.amount.currency, "amount_minor": t.amount.to_minor_units(),
            "paid_minor": t.paid.to_minor_units(), "balance_minor": t.balance.to_minor_units(),
            "invoice_id": t.invoice_id, "payment_id": t.payment_id, "usage_event_id": t.usage_event_id,
            "description": t.description, "occurred_at": t.occurred_at, "created_at": t.created_at}  # fmt: skip


class Wallets:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    # ---- wallets ---------------------------------------------------------------------------------------

    def add(self, wallet: Wallet) -> bool:
        """False when the customer already has a wallet in that currency."""
        c = wallets.c
        found = self.conn.execute(sa.select(c.id).where(
            c.tenant_id == wallet.tenant_id, c.customer_id == wallet.customer_id, c.currency == wallet.currency
        )).first()  # fmt: skip
        if found is not None:
            return False
        self.conn.execute(
            wallets.insert().values(tenant_id=wallet.tenant_id, id=wallet.id, **_wallet_values(wallet))
        )
        return True

    def save(self, wallet: Wallet) -> None:
        c = wallets.c
        self.conn.execute(wallets.update().where(c.tenant_id == wallet.tenant_id, c.id == wallet.id)
                          .values(**_wallet_values(wallet)))  # fmt: skip

    def get(self, tenant_id: str, wallet_id: str, *, for_update: bool = False) -> Wallet:
        c = wallets.c
        query = sa.select(wallets).where(c.tenant_id == tenant_id, c.id == wallet_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("wallet", wallet_id)
        return _wallet(row)

    def find(
        self, tenant_id: str, customer_id: str, currency: str, *, for_update: bool = False
    ) -> Wallet | None:
        c = wallets.c
        query = sa.select(wallets).where(c.tenant_id == tenant_id, c.customer_id == customer_id,
                                         c.currency == currency)  # fmt: skip
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return None if row is None else _wallet(row)

    def paying(
        self, tenant_id: str, customer_id: str, currency: str, *, for_update: bool = False
    ) -> Wallet | None:
        """The wallet that pays a customer's charges in `currency`: that of its payer (itself, or the parent
        it is billed to, as billing.payer_of walks it)."""
        c = customers.c
        payer = customer_id
        for _ in range(100):  # a parent chain is short; the bound only guards against a cycle in bad data
            row = self.conn.execute(sa.select(c.parent_id, c.bill_to_parent).where(c.tenant_id == tenant_id,
                                                                                     c.id == payer)).first()  # fmt: skip
            if row is None or not row.bill_to_parent or row.parent_id is None:
                break
            payer = row.parent_id
        return self.find(tenant_id, payer, currency, for_update=for_update)

    def of_customer(self, tenant_id: str, customer_id: str) -> builtins.list[Wallet]:
        c = wallets.c
        query = sa.select(wallets).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
        return [_wallet(r) for r in self.conn.execute(query.order_by(c.currency))]

    def of_customers(self, tenant_id: str, customer_ids: Sequence[str]) -> builtins.list[Wallet]:
        if not customer_ids:
            return []
        c = wallets.c
        query = sa.select(wallets).where(
            c.tenant_id == tenant_id, c.customer_id.in_(sorted(set(customer_ids)))
        )
        return [_wallet(r) for r in self.conn.execute(query.order_by(c.id))]

    # ---- lots ------------------------------------------------------------------------------------------

    def add_lot(
        self, tenant_id: str, wallet_id: str, lot: Lot, *, payment_id: str | None, at: datetime
    ) -> None:
        self.conn.execute(wallet_lots.insert().values(
            tenant_id=tenant_id, id=lot.id, wallet_id=wallet_id, kind=lot.kind.value, currency=lot.amount.currency,
            amount_minor=lot.amount.to_minor_units(), remaining_minor=lot.remaining.to_minor_units(),
            payment_id=payment_id, granted_at=lot.granted_at, expires_at=lot.expires_at, created_at=at))  # fmt: skip

    def lots(self, tenant_id: str, wallet_ids: Sequence[str]) -> dict[str, builtins.list[Lot]]:
        """Every lot of the wallets, by wallet (in the order they came)."""
        out: dict[str, builtins.list[Lot]] = {w: [] for w in wallet_ids}
        if not wallet_ids:
            return out
        c = wallet_lots.c
        query = sa.select(wallet_lots).where(
            c.tenant_id == tenant_id, c.wallet_id.in_(sorted(set(wallet_ids)))
        )
        for r in self.conn.execute(query.order_by(c.granted_at, c.id)):
            out[r.wallet_id].append(_lot(r))
        return out

    def save_lots(self, tenant_id: str, lots: Sequence[Lot]) -> None:
        """Store what is left of each lot (and, for a lot its payment just filled, when it came)."""
        c = wallet_lots.c
        for lot in lots:
            self.conn.execute(wallet_lots.update().where(c.tenant_id == tenant_id, c.id == lot.id).values(
                remaining_minor=lot.remaining.to_minor_units(), granted_at=lot.granted_at))  # fmt: skip

    def lot_of_payment(self, tenant_id: str, payment_id: str) -> tuple[str, Lot] | None:
        """The lot a top-up payment buys, with its wallet's id."""
        c = wallet_lots.c
        row = self.conn.execute(
            sa.select(wallet_lots).where(c.tenant_id == tenant_id, c.payment_id == payment_id)
        ).first()
        return None if row is None else (row.wallet_id, _lot(row))

    def delete_lot(self, tenant_id: str, lot_id: str) -> None:
        c = wallet_lots.c
        self.conn.execute(wallet_lots.delete().where(c.tenant_id == tenant_id, c.id == lot_id))

    def lot(self, tenant_id: str, lot_id: str) -> tuple[str, Lot] | None:
        c = wallet_lots.c
        row = self.conn.execute(
            sa.select(wallet_lots).where(c.tenant_id == tenant_id, c.id == lot_id)
        ).first()
        return None if row is None else (row.wallet_id, _lot(row))

    # ---- top-up payments -------------------------------------------------------------------------------

    def top_up_payments(self, tenant_id: str, wallet_id: str) -> builtins.list[tuple[str, str, datetime]]:
        """(idempotency key, status, created_at) of the wallet's top-up payments, oldest first."""
        c = payments.c
        prefix = f"{TOP_UP_KEY}{wallet_id}:"
        query = sa.select(c.idempotency_key, c.status, c.created_at).where(
            c.tenant_id == tenant_id, c.invoice_id.is_(None),
            c.idempotency_key.startswith(prefix, autoescape=True))  # fmt: skip
        return [
            (r.idempotency_key, r.status, r.created_at)
            for r in self.conn.execute(query.order_by(c.created_at, c.id))
        ]

    def top_up_key(self, tenant_id: str, payment_id: str) -> str | None:
        """The idempotency key of a top-up payment (it says whether the auto top-up made it)."""
        c = payments.c
        return self.conn.execute(
            sa.select(c.idempotency_key).where(c.tenant_id == tenant_id, c.id == payment_id)
        ).scalar()

    def waiting_top_up(self, tenant_id: str, wallet_id: str) -> bool:
        """A top-up payment of the wallet is on its way (pending, or waiting for the customer)."""
        return any(status in _WAITING for _, status, _ in self.top_up_payments(tenant_id, wallet_id))

    # ---- transactions ----------------------------------------------------------------------------------

    def add_transactions(self, transactions: Sequence[Transaction]) -> None:
        if transactions:
            self.conn.execute(wallet_transactions.insert(), [_transaction_values(t) for t in transactions])

    def save_transaction(self, t: Transaction) -> None:
        c = wallet_transactions.c
        values = _transaction_values(t)
        self.conn.execute(
            wallet_transactions.update().where(c.tenant_id == t.tenant_id, c.id == t.id).values(**values)
        )

    def transactions(
        self, tenant_id: str, wallet_id: str, *, limit: int, cursor: str | None
    ) -> Page[Transaction]:
        """The wallet's log, newest first."""
        c = wallet_transactions.c
        query = sa.select(wallet_transactions).where(c.tenant_id == tenant_id, c.wallet_id == wallet_id)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_transaction)

    def open_holds(self, tenant_id: str, wallet_id: str) -> builtins.list[Transaction]:
        """Holds no invoice has taken over yet, oldest first."""
        c = wallet_transactions.c
        query = sa.select(wallet_transactions).where(
            c.tenant_id == tenant_id, c.wallet_id == wallet_id, c.kind == TransactionKind.HOLD.value,
            c.invoice_id.is_(None))  # fmt: skip
        return [_transaction(r) for r in self.conn.execute(query.order_by(c.occurred_at, c.id))]

    def usage_lines(self, tenant_id: str, event_ids: Sequence[str]) -> dict[str, str]:
        """The invoice line key (billing's in-advance usage key) that bills each held usage event."""
        if not event_ids:
            return {}
        c = usage_charges.c
        query = sa.select(c.event_id, c.subscription_id, c.metric, c.period_start).where(
            c.tenant_id == tenant_id, c.event_id.in_(sorted(set(event_ids))))  # fmt: skip
        return {r.event_id: f"{r.subscription_id}|usage_in_advance|{r.metric}|{r.period_start}"
                for r in self.conn.execute(query)}  # fmt: skip
