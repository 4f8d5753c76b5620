"""Imported bank statements and their lines (with what reconciliation decided), gateway payouts, and the
tenant's dunning policies."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.statements import StatementLine
from kassa.store.pages import page
from kassa.store.tables import bank_statements, dunning_policies, payouts, statement_lines


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _money(m: Money | None) -> dict[str, str] | None:
    return None if m is None else {"amount": m.amount_text(), "currency": m.currency}


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredStatement:
    tenant_id: str
    id: str
    format: str
    account: str | None
    currency: str
    statement_ref: str | None
    sha256: str
    opening: Money | None
    closing: Money | None
    opened_on: date | None
    closed_on: date | None
    line_count: int
    new_lines: int
    imported_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "bank_statement", "format": self.format, "account": self.account,
                "currency": self.currency, "statement_ref": self.statement_ref, "sha256": self.sha256,
                "opening_balance": _money(self.opening), "closing_balance": _money(self.closing),
                "opened_on": self.opened_on.isoformat() if self.opened_on else None,
                "closed_on": self.closed_on.isoformat() if self.closed_on else None,
                "line_count": self.line_count, "new_lines": self.new_lines, "imported_at": _instant(self.imported_at)}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLine:
    tenant_id: str
    id: str
    statement_id: str
    account: str
    line: StatementLine
    status: str  # applied, review, unmatched, ignored
    confidence: str | None
    customer_id: str | None
    payment_id: str | None
    payout_id: str | None
    proposal: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        ln = self.line
        return {"id": self.id, "object": "statement_line", "statement_id": self.statement_id,
                "account": self.account or None, "booked_on": ln.booked_on.isoformat(),
                "value_on": ln.value_on.isoformat() if ln.value_on else None, "amount": _money(ln.amount),
                "reference": ln.reference, "counterparty_name": ln.counterparty_name,
                "counterparty_iban": ln.counterparty_iban, "bank_reference": ln.bank_reference,
                "description": ln.description, "status": self.status, "confidence": self.confidence,
                "customer_id": self.customer_id, "payment_id": self.payment_id, "payout_id": self.payout_id,
                "proposal": self.proposal, "created_at": _instant(self.created_at),
                "resolved_at": _instant(self.resolved_at)}  # fmt: skip


def _line(r: sa.Row[Any]) -> StoredLine:
    line = StatementLine(
        booked_on=r.booked_on, value_on=r.value_on, amount=Money.from_minor_units(r.amount_minor, r.currency),
        reference=r.reference, counterparty_name=r.counterparty_name, counterparty_iban=r.counterparty_iban,
        bank_reference=r.bank_reference, description=r.description, key=r.line_key,
    )  # fmt: skip
    return StoredLine(tenant_id=r.tenant_id, id=r.id, statement_id=r.statement_id, account=r.account, line=line,
                      status=r.status, confidence=r.confidence, customer_id=r.customer_id, payment_id=r.payment_id,
                      payout_id=r.payout_id, proposal=r.proposal, created_at=r.created_at, resolved_at=r.resolved_at)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPayout:
    tenant_id: str
    id: str
    gateway: str
    ref: str
    gross: Money
    fee: Money
    arrival_on: date
    items: builtins.list[dict[str, Any]]
    statement_line_id: str | None
    created_at: datetime

    @property
    def net(self) -> Money:
        return self.gross - self.fee

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "object": "payout", "gateway": self.gateway, "ref": self.ref,
                "gross": _money(self.gross), "fee": _money(self.fee), "net": _money(self.net),
                "arrival_on": self.arrival_on.isoformat(), "items": self.items,
                "statement_line_id": self.statement_line_id, "created_at": _instant(self.created_at)}  # fmt: skip


def _payout(r: sa.Row[Any]) -> StoredPayout:
    return StoredPayout(tenant_id=r.tenant_id, id=r.id, gateway=r.gateway, ref=r.ref,
                        gross=Money.from_minor_units(r.gross_minor, r.currency),
                        fee=Money.from_minor_units(r.fee_minor, r.currency), arrival_on=r.arrival_on, items=r.items,
                        statement_line_id=r.statement_line_id, created_at=r.created_at)  # fmt: skip


class Statements:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def by_sha256(self, tenant_id: str, sha256: str) -> StoredStatement | None:
        c = bank_statements.c
        r = self.conn.execute(
            sa.select(bank_statements).where(c.tenant_id == tenant_id, c.sha256 == sha256)
        ).first()
        return _statement(r) if r is not None else None

    def add(self, s: StoredStatement) -> None:
        self.conn.execute(bank_statements.insert().values(
            tenant_id=s.tenant_id, id=s.id, format=s.format, account=s.account, currency=s.currency,
            statement_ref=s.statement_ref, sha256=s.sha256,
            opening_minor=s.opening.to_minor_units() if s.opening else None,
            closing_minor=s.closing.to_minor_units() if s.closing else None, opened_on=s.opened_on,
            closed_on=s.closed_on, line_count=s.line_count, new_lines=s.new_lines, imported_at=s.imported_at))  # fmt: skip

    def get(self, tenant_id: str, statement_id: str) -> StoredStatement:
        c = bank_statements.c
        r = self.conn.execute(
            sa.select(bank_statements).where(c.tenant_id == tenant_id, c.id == statement_id)
        ).first()
        if r is None:
            raise NotFound("bank_statement", statement_id)
        return _statement(r)

    def list(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[StoredStatement]:
        c = bank_statements.c
        return page(self.conn, sa.select(bank_statements).where(c.tenant_id == tenant_id), c.id, limit=limit,
                    cursor=cursor, to_item=_statement)  # fmt: skip

    def known_keys(self, tenant_id: str, account: str, keys: builtins.list[str]) -> set[str]:
        c = statement_lines.c
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            found.update(self.conn.execute(sa.select(c.line_key).where(
                c.tenant_id == tenant_id, c.account == account, c.line_key.in_(keys[i:i + 500]))).scalars())  # fmt: skip
        return found

    def add_line(self, s: StoredLine) -> None:
        ln = s.line
        self.conn.execute(statement_lines.insert().values(
            tenant_id=s.tenant_id, id=s.id, statement_id=s.statement_id, account=s.account, line_key=ln.key,
            booked_on=ln.booked_on, value_on=ln.value_on, currency=ln.amount.currency,
            amount_minor=ln.amount.to_minor_units(), reference=ln.reference, counterparty_name=ln.counterparty_name,
            counterparty_iban=ln.counterparty_iban, bank_reference=ln.bank_reference, description=ln.description,
            status=s.status, confidence=s.confidence, customer_id=s.customer_id, payment_id=s.payment_id,
            payout_id=s.payout_id, proposal=s.proposal, created_at=s.created_at, resolved_at=s.resolved_at))  # fmt: skip

    def save_line(self, s: StoredLine) -> None:
        c = statement_lines.c
        self.conn.execute(statement_lines.update().where(c.tenant_id == s.tenant_id, c.id == s.id).values(
            status=s.status, confidence=s.confidence, customer_id=s.customer_id, payment_id=s.payment_id,
            payout_id=s.payout_id, proposal=s.proposal, resolved_at=s.resolved_at))  # fmt: skip

    def line(self, tenant_id: str, line_id: str, *, for_update: bool = False) -> StoredLine:
        c = statement_lines.c
        query = sa.select(statement_lines).where(c.tenant_id == tenant_id, c.id == line_id)
        r = self.conn.execute(query.with_for_update() if for_update else query).first()
        if r is None:
            raise NotFound("statement_line", line_id)
        return _line(r)

    def lines(self, tenant_id: str, *, statement_id: str | None, status: str | None, limit: int,
              cursor: str | None) -> Page[StoredLine]:  # fmt: skip
        c = statement_lines.c
        query = sa.select(statement_lines).where(c.tenant_id == tenant_id)
        if statement_id is not None:
            query = query.where(c.statement_id == statement_id)
        if status is not None:
            query = query.where(c.status == status)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_line)

    # ---- payouts ----------------------------------------------------------------------------------------

    def add_payout(self, p: StoredPayout) -> bool:
        c = payouts.c
        if self.conn.execute(sa.select(c.id).where(c.tenant_id == p.tenant_id, c.gateway == p.gateway,
                                                   c.ref == p.ref)).first() is not None:  # fmt: skip
            return False
        self.conn.execute(payouts.insert().values(
            tenant_id=p.tenant_id, id=p.id, gateway=p.gateway, ref=p.ref, currency=p.gross.currency,
            gross_minor=p.gross.to_minor_units(), fee_minor=p.fee.to_minor_units(), arrival_on=p.arrival_on,
            items=p.items, statement_line_id=p.statement_line_id, created_at=p.created_at))  # fmt: skip
        return True

    def unsettled_payouts(self, tenant_id: str) -> builtins.list[StoredPayout]:
        c = payouts.c
        query = (
            sa.select(payouts).where(c.tenant_id == tenant_id, c.statement_line_id.is_(None)).order_by(c.id)
        )
        return [_payout(r) for r in self.conn.execute(query)]

    def payout(self, tenant_id: str, payout_id: str) -> StoredPayout:
        c = payouts.c
        r = self.conn.execute(sa.select(payouts).where(c.tenant_id == tenant_id, c.id == payout_id)).first()
        if r is None:
            raise NotFound("payout", payout_id)
        return _payout(r)

    def settle_payout(self, tenant_id: str, payout_id: str, line_id: str) -> None:
        c = payouts.c
        self.conn.execute(payouts.update().where(c.tenant_id == tenant_id, c.id == payout_id)
                          .values(statement_line_id=line_id))  # fmt: skip

    def payouts(self, tenant_id: str, *, limit: int, cursor: str | None) -> Page[StoredPayout]:
        c = payouts.c
        return page(self.conn, sa.select(payouts).where(c.tenant_id == tenant_id), c.id, limit=limit, cursor=cursor,
                    to_item=_payout)  # fmt: skip


def _statement(r: sa.Row[Any]) -> StoredStatement:
    return StoredStatement(
        tenant_id=r.tenant_id, id=r.id, format=r.format, account=r.account, currency=r.currency,
        statement_ref=r.statement_ref, sha256=r.sha256,
        opening=Money.from_minor_units(r.opening_minor, r.currency) if r.opening_minor is not None else None,
        closing=Money.from_minor_units(r.closing_minor, r.currency) if r.closing_minor is not None else None,
        opened_on=r.opened_on, closed_on=r.closed_on, line_count=r.line_count, new_lines=r.new_lines,
        imported_at=r.imported_at)  # fmt: skip


class DunningPolicies:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def put(self, tenant_id: str, policy_id: str, name: str, doc: dict[str, Any], *, is_default: bool,
            at: datetime) -> None:  # fmt: skip
        c = dunning_policies.c
        if is_default:
            self.conn.execute(
                dunning_policies.update().where(c.tenant_id == tenant_id).values(is_default=False)
            )
        updated = self.conn.execute(dunning_policies.update().where(c.tenant_id == tenant_id, c.id == policy_id)
                                    .values(name=name, doc=doc, is_default=is_default, updated_at=at)).rowcount  # fmt: skip
        if not updated:
            self.conn.execute(dunning_policies.insert().values(tenant_id=tenant_id, id=policy_id, name=name, doc=doc,
                                                               is_default=is_default, created_at=at, updated_at=at))  # fmt: skip

    def get(self, tenant_id: str, policy_id: str) -> sa.Row[Any]:
        c = dunning_policies.c
        r = self.conn.execute(
            sa.select(dunning_policies).where(c.tenant_id == tenant_id, c.id == policy_id)
        ).first()
        if r is None:
            raise NotFound("dunning_policy", policy_id)
        return r

    def default(self, tenant_id: str) -> sa.Row[Any] | None:
        c = dunning_policies.c
        return self.conn.execute(
            sa.select(dunning_policies).where(c.tenant_id == tenant_id, c.is_default)
        ).first()

    def list(self, tenant_id: str) -> builtins.list[sa.Row[Any]]:
        c = dunning_policies.c
        return builtins.list(
            self.conn.execute(sa.select(dunning_policies).where(c.tenant_id == tenant_id).order_by(c.id))
        )
