"""Payment methods, payments and what they paid (allocations), refunds, chargebacks, and the gateway
webhooks already processed."""

from __future__ import annotations

import builtins
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.payments import (
    Allocation,
    Chargeback,
    ChargebackStatus,
    DeclineCode,
    Payment,
    PaymentMethod,
    PaymentMethodType,
    PaymentStatus,
    Refund,
)
from kassa.store.pages import page
from kassa.store.tables import (
    chargebacks,
    gateway_events,
    payment_allocations,
    payment_methods,
    payments,
    refunds,
)

_METHOD_FIELDS = [f.name for f in fields(PaymentMethod)]


def _method(row: sa.Row[Any]) -> PaymentMethod:
    values = {name: getattr(row, name) for name in _METHOD_FIELDS}
    return PaymentMethod(**values | {"type": PaymentMethodType(row.type)})


class PaymentMethods:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, method: PaymentMethod) -> None:
        values = {name: getattr(method, name) for name in _METHOD_FIELDS}
        self.conn.execute(payment_methods.insert().values(**values | {"type": method.type.value}))

    def save(self, method: PaymentMethod) -> None:
        values = {name: getattr(method, name) for name in _METHOD_FIELDS}
        c = payment_methods.c
        self.conn.execute(payment_methods.update().where(c.tenant_id == method.tenant_id, c.id == method.id)
                          .values(**values | {"type": method.type.value}))  # fmt: skip

    def get(self, tenant_id: str, method_id: str) -> PaymentMethod:
        c = payment_methods.c
        row = self.conn.execute(
            sa.select(payment_methods).where(c.tenant_id == tenant_id, c.id == method_id)
        ).first()
        if row is None:
            raise NotFound("payment_method", method_id)
        return _method(row)

    def of_customer(self, tenant_id: str, customer_id: str) -> builtins.list[PaymentMethod]:
        """The customer's attached methods, the default first."""
        c = payment_methods.c
        query = sa.select(payment_methods).where(
            c.tenant_id == tenant_id, c.customer_id == customer_id, c.detached_at.is_(None)
        )
        return [_method(r) for r in self.conn.execute(query.order_by(c.is_default.desc(), c.id))]

    def default(self, tenant_id: str, customer_id: str) -> PaymentMethod | None:
        found = self.of_customer(tenant_id, customer_id)
        return found[0] if found and found[0].is_default else None

    def by_token(self, tenant_id: str, token: str) -> builtins.list[PaymentMethod]:
        c = payment_methods.c
        query = sa.select(payment_methods).where(c.tenant_id == tenant_id, c.token == token)
        return [_method(r) for r in self.conn.execute(query)]

    def clear_default(self, tenant_id: str, customer_id: str) -> None:
        c = payment_methods.c
        self.conn.execute(payment_methods.update().where(c.tenant_id == tenant_id, c.customer_id == customer_id)
                          .values(is_default=False))  # fmt: skip


def _minor(value: Money | None) -> int | None:
    return None if value is None else value.to_minor_units()


def _payment(row: sa.Row[Any]) -> Payment:
    cur = row.currency
    return Payment(
        tenant_id=row.tenant_id, id=row.id, customer_id=row.customer_id,
        amount=Money.from_minor_units(row.amount_minor, cur), status=PaymentStatus(row.status),
        method_type=PaymentMethodType(row.method_type), payment_method_id=row.payment_method_id,
        invoice_id=row.invoice_id, attempt=row.attempt, gateway=row.gateway, gateway_ref=row.gateway_ref,
        decline_code=DeclineCode(row.decline_code) if row.decline_code else None,
        failure_message=row.failure_message, action_url=row.action_url, latency_ms=row.latency_ms,
        fee=Money.from_minor_units(row.fee_minor, cur) if row.fee_minor is not None else None,
        refunded=Money.from_minor_units(row.refunded_minor, cur),
        disputed=Money.from_minor_units(row.disputed_minor, cur), reference=row.reference,
        payer_name=row.payer_name, payer_iban=row.payer_iban, received_on=row.received_on,
        created_at=row.created_at, settled_at=row.settled_at,
    )  # fmt: skip


def _payment_values(p: Payment) -> dict[str, Any]:
    return {
        "customer_id": p.customer_id, "currency": p.amount.currency, "amount_minor": p.amount.to_minor_units(),
        "status": p.status.value, "method_type": p.method_type.value, "payment_method_id": p.payment_method_id,
        "invoice_id": p.invoice_id, "attempt": p.attempt, "gateway": p.gateway, "gateway_ref": p.gateway_ref,
        "decline_code": p.decline_code.value if p.decline_code else None, "failure_message": p.failure_message,
        "action_url": p.action_url, "latency_ms": p.latency_ms, "fee_minor": _minor(p.fee),
        "refunded_minor": p.refunded.to_minor_units(), "disputed_minor": p.disputed.to_minor_units(),
        "reference": p.reference, "payer_name": p.payer_name, "payer_iban": p.payer_iban,
        "received_on": p.received_on, "created_at": p.created_at, "settled_at": p.settled_at,
    }  # fmt: skip


class Payments:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, payment: Payment, *, idempotency_key: str) -> bool:
        """False when a payment under this key exists already (a retried request): nothing is written."""
        c = payments.c
        found = self.conn.execute(sa.select(c.id).where(
            c.tenant_id == payment.tenant_id, c.idempotency_key == idempotency_key)).first()  # fmt: skip
        if found is not None:
            return False
        self.conn.execute(payments.insert().values(
            tenant_id=payment.tenant_id, id=payment.id, idempotency_key=idempotency_key, **_payment_values(payment)))  # fmt: skip
        return True

    def by_key(self, tenant_id: str, idempotency_key: str) -> Payment | None:
        c = payments.c
        row = self.conn.execute(sa.select(payments).where(
            c.tenant_id == tenant_id, c.idempotency_key == idempotency_key)).first()  # fmt: skip
        return _payment(row) if row is not None else None

    def save(self, payment: Payment) -> None:
        c = payments.c
        self.conn.execute(payments.update().where(c.tenant_id == payment.tenant_id, c.id == payment.id)
                          .values(**_payment_values(payment)))  # fmt: skip

    def get(self, tenant_id: str, payment_id: str, *, for_update: bool = False) -> Payment:
        c = payments.c
        query = sa.select(payments).where(c.tenant_id == tenant_id, c.id == payment_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("payment", payment_id)
        return _payment(row)

    def by_gateway_ref(
        self, tenant_id: str, gateway: str, ref: str, *, for_update: bool = False
    ) -> Payment | None:
        c = payments.c
        query = sa.select(payments).where(
            c.tenant_id == tenant_id, c.gateway == gateway, c.gateway_ref == ref
        )
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        return _payment(row) if row is not None else None

    def by_gateway(self, tenant_id: str, gateway: str) -> builtins.list[Payment]:
        c = payments.c
        query = sa.select(payments).where(c.tenant_id == tenant_id, c.gateway == gateway).order_by(c.id)
        return [_payment(r) for r in self.conn.execute(query)]

    def mandates_used(self, tenant_id: str) -> set[str]:
        """SEPA mandates already collected under (exported or settled): their next debit is RCUR, not FRST."""
        c, m = payments.c, payment_methods.c
        query = (sa.select(m.mandate_id).distinct().select_from(payments.join(payment_methods, sa.and_(
            m.tenant_id == c.tenant_id, m.id == c.payment_method_id)))
            .where(c.tenant_id == tenant_id, c.gateway == "sepa", c.reference.is_not(None), m.mandate_id.is_not(None)))  # fmt: skip
        return set(self.conn.execute(query).scalars())

    def of_invoice(self, tenant_id: str, invoice_id: str) -> builtins.list[Payment]:
        c = payments.c
        query = sa.select(payments).where(c.tenant_id == tenant_id, c.invoice_id == invoice_id).order_by(c.id)
        return [_payment(r) for r in self.conn.execute(query)]

    def attempts(self, tenant_id: str, since: datetime | None = None) -> builtins.list[Payment]:
        """Every gateway attempt made for an invoice (the dunning report's input)."""
        c = payments.c
        query = sa.select(payments).where(
            c.tenant_id == tenant_id, c.invoice_id.is_not(None), c.gateway.is_not(None)
        )
        if since is not None:
            query = query.where(c.created_at >= since)
        return [_payment(r) for r in self.conn.execute(query.order_by(c.id))]

    def list(self, tenant_id: str, *, customer_id: str | None, status: str | None, limit: int,
             cursor: str | None) -> Page[Payment]:  # fmt: skip
        c = payments.c
        query = sa.select(payments).where(c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        if status is not None:
            query = query.where(c.status == status)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_payment)

    def known_ibans(self, tenant_id: str) -> dict[str, set[str]]:
        """Per customer, the IBANs it pays from: its direct-debit mandates and the accounts money came from."""
        out: dict[str, set[str]] = {}
        m, p = payment_methods.c, payments.c
        for customer_id, iban in [
            *self.conn.execute(sa.select(m.customer_id, m.iban).where(m.tenant_id == tenant_id, m.iban.is_not(None))),
            *self.conn.execute(sa.select(p.customer_id, p.payer_iban).distinct()
                               .where(p.tenant_id == tenant_id, p.payer_iban.is_not(None))),
        ]:  # fmt: skip
            out.setdefault(customer_id, set()).add(iban)
        return out

    # ---- allocations: what a payment paid ---------------------------------------------------------------

    def allocate(self, tenant_id: str, id: str, payment_id: str, allocation: Allocation, *, source_type: str,
                 source_id: str, created_at: datetime) -> None:  # fmt: skip
        self.conn.execute(payment_allocations.insert().values(
            tenant_id=tenant_id, id=id, payment_id=payment_id, invoice_id=allocation.invoice_id,
            currency=allocation.amount.currency, amount_minor=allocation.amount.to_minor_units(),
            source_type=source_type, source_id=source_id, created_at=created_at))  # fmt: skip

    def allocations(self, tenant_id: str, payment_id: str) -> builtins.list[Allocation]:
        """Net per invoice, in the order the payment first paid them."""
        c = payment_allocations.c
        rows = self.conn.execute(sa.select(c.invoice_id, c.currency, c.amount_minor).where(
            c.tenant_id == tenant_id, c.payment_id == payment_id).order_by(c.id)).all()  # fmt: skip
        net: dict[str, Money] = {}
        for r in rows:
            m = Money.from_minor_units(r.amount_minor, r.currency)
            net[r.invoice_id] = net[r.invoice_id] + m if r.invoice_id in net else m
        return [Allocation(invoice_id=i, amount=m) for i, m in net.items()]

    def paid_by(self, tenant_id: str, invoice_id: str) -> builtins.list[tuple[str, Money]]:
        """(payment id, net amount) of the payments that paid the invoice."""
        c = payment_allocations.c
        rows = self.conn.execute(sa.select(c.payment_id, c.currency, sa.func.sum(c.amount_minor).label("n"))
                                 .where(c.tenant_id == tenant_id, c.invoice_id == invoice_id)
                                 .group_by(c.payment_id, c.currency).order_by(c.payment_id)).all()  # fmt: skip
        return [(r.payment_id, Money.from_minor_units(int(r.n), r.currency)) for r in rows if r.n]

    # ---- refunds and chargebacks ------------------------------------------------------------------------

    def add_refund(self, refund: Refund) -> None:
        self.conn.execute(refunds.insert().values(
            tenant_id=refund.tenant_id, id=refund.id, payment_id=refund.payment_id, customer_id=refund.customer_id,
            currency=refund.amount.currency, amount_minor=refund.amount.to_minor_units(), status=refund.status.value,
            gateway_ref=refund.gateway_ref, credit_note_id=refund.credit_note_id, reason=refund.reason,
            created_at=refund.created_at))  # fmt: skip

    def refunds_of(self, tenant_id: str, payment_id: str) -> builtins.list[Refund]:
        c = refunds.c
        rows = self.conn.execute(sa.select(refunds).where(c.tenant_id == tenant_id, c.payment_id == payment_id)
                                 .order_by(c.id))  # fmt: skip
        return [Refund(tenant_id=r.tenant_id, id=r.id, payment_id=r.payment_id, customer_id=r.customer_id,
                       amount=Money.from_minor_units(r.amount_minor, r.currency), status=PaymentStatus(r.status),
                       gateway_ref=r.gateway_ref, credit_note_id=r.credit_note_id, reason=r.reason,
                       created_at=r.created_at) for r in rows]  # fmt: skip

    def save_chargeback(self, cb: Chargeback, *, new: bool) -> None:
        values = dict(payment_id=cb.payment_id, customer_id=cb.customer_id, currency=cb.amount.currency,
                      amount_minor=cb.amount.to_minor_units(), fee_minor=cb.fee.to_minor_units(), status=cb.status.value,
                      reason=cb.reason, gateway_ref=cb.gateway_ref, created_at=cb.created_at, closed_at=cb.closed_at)  # fmt: skip
        c = chargebacks.c
        if new:
            self.conn.execute(chargebacks.insert().values(tenant_id=cb.tenant_id, id=cb.id, **values))
        else:
            self.conn.execute(
                chargebacks.update().where(c.tenant_id == cb.tenant_id, c.id == cb.id).values(**values)
            )

    def chargeback(self, tenant_id: str, gateway_ref: str) -> Chargeback | None:
        c = chargebacks.c
        r = self.conn.execute(
            sa.select(chargebacks).where(c.tenant_id == tenant_id, c.gateway_ref == gateway_ref)
        ).first()
        if r is None:
            return None
        return Chargeback(tenant_id=r.tenant_id, id=r.id, payment_id=r.payment_id, customer_id=r.customer_id,
                          amount=Money.from_minor_units(r.amount_minor, r.currency),
                          fee=Money.from_minor_units(r.fee_minor, r.currency), status=ChargebackStatus(r.status),
                          reason=r.reason, gateway_ref=r.gateway_ref, created_at=r.created_at, closed_at=r.closed_at)  # fmt: skip

    # ---- gateway webhooks -------------------------------------------------------------------------------

    def record_event(
        self, tenant_id: str, gateway: str, event_id: str, type: str, received_at: datetime
    ) -> bool:
        """False if this webhook was processed before (a replay): the caller changes nothing."""
        c = gateway_events.c
        found = self.conn.execute(sa.select(c.event_id).where(
            c.tenant_id == tenant_id, c.gateway == gateway, c.event_id == event_id)).first()  # fmt: skip
        if found is not None:
            return False
        self.conn.execute(gateway_events.insert().values(
            tenant_id=tenant_id, gateway=gateway, event_id=event_id, type=type, received_at=received_at))  # fmt: skip
        return True
