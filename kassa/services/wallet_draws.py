"""Drawing prepaid wallet credits (issue 9): in-advance usage charges held as they are rated, invoices paid
from the wallet after the credit balance and before the payment method, and after every draw the
low-balance alerts and the auto top-up. See docs/wallets.md.

A hold is a draw tied to one usage event: the credits leave the lots at once (the balance is real time),
but nothing is booked yet, because nothing is owed until an invoice bills the usage. The invoice's wallet
payment first takes over the open holds of the usage it bills (matched by its in-advance usage lines, up
to what each line charges), then draws what it still owes from the lots; the ledger sees one payment of
the invoice. So usage is never paid twice: a hold pays the one invoice that bills it, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from kassa.core import ledger
from kassa.core.audit import system_actor
from kassa.core.events import EventType
from kassa.core.invoicing import Invoice, InvoiceStatus, LineKind
from kassa.core.jobs import Job
from kassa.core.money import Money
from kassa.core.payments import PaymentStatus, paid
from kassa.core.wallets import (
    CreditKind,
    Lot,
    Transaction,
    TransactionKind,
    Wallet,
    auto_top_up,
    balance,
    crossed,
    draw,
    expired,
    settle_hold,
)
from kassa.services import audit, events, jobs, offers, payments, wallets
from kassa.services.context import ServiceContext
from kassa.services.ledger import post
from kassa.store.uow import UnitOfWork

AUTO_JOB = "wallets.auto_top_up"
_ENDED = (PaymentStatus.FAILED.value, PaymentStatus.CANCELED.value)
_WAITING = (PaymentStatus.PENDING.value, PaymentStatus.REQUIRES_ACTION.value)


def _changed(before: Sequence[Lot], after: Sequence[Lot]) -> list[Lot]:
    return [b for a, b in zip(before, after, strict=True) if a != b]


# ---- after a draw: alerts and the auto top-up ----------------------------------------------------------


def after_draw(ctx: ServiceContext, uow: UnitOfWork, wallet: Wallet, before: Money, lots: Sequence[Lot],
               now: datetime) -> None:  # fmt: skip
    """The thresholds the draw crossed downwards each raise wallet.balance_low (with the promotion offer when
    it applies to the customer now); a balance below the auto top-up rule's threshold buys its amount, in a
    job of its own so a decline cannot undo the draw."""
    after = balance(lots, wallet.currency, now).total
    hit = crossed(wallet.alert_thresholds, before, after)
    if hit:
        offer = None
        if wallet.promotion_offer is not None:
            customer = uow.customers.get(wallet.tenant_id, wallet.customer_id)
            found = [d for d in offers.decisions(ctx, uow, customer, now) if d.code == wallet.promotion_offer]
            offer = wallet.promotion_offer if found and found[0].applies else None
        for threshold in hit:
            data: dict[str, Any] = {"wallet_id": wallet.id, "threshold": threshold.amount_text(),
                                    "balance": after.amount_text(), "currency": wallet.currency}  # fmt: skip
            if offer is not None:
                data["offer"] = offer
            events.emit(ctx, uow, wallet.tenant_id, EventType.WALLET_BALANCE_LOW, object_type="wallet",
                        object_id=wallet.id, data=data, at=now, customer_id=wallet.customer_id)  # fmt: skip
    pending, attempts = _auto_state(uow, wallet)
    if auto_top_up(wallet.auto_top_up, after, pending=pending) is not None:
        # one job per attempt and state of the wallet: a run that bought nothing (no card yet, or the balance
        # was back above the threshold) must not block the next try once the rule or the lots change
        key = f"{wallet.id}:{attempts + 1}:{len(lots)}:{wallet.updated_at.isoformat()}"
        jobs.schedule(ctx, uow, wallet.tenant_id, AUTO_JOB, now, dedupe_key=key,
                      customer_id=wallet.customer_id, payload={"wallet_id": wallet.id, "attempt": attempts + 1})  # fmt: skip


def _auto_state(uow: UnitOfWork, wallet: Wallet) -> tuple[bool, int]:
    """(a top-up is on its way or the last auto top-up was declined since the rule last changed, how many
    auto top-ups were tried). After a decline the rule waits for a new rule or another top-up: retrying on
    every draw would only pile up declines on the customer's card."""
    tried = uow.wallets.top_up_payments(wallet.tenant_id, wallet.id)
    autos = [t for t in tried if ":auto:" in t[0]]
    waiting = any(status in _WAITING for _, status, _ in tried)
    declined = bool(tried) and ":auto:" in tried[-1][0] and tried[-1][1] in _ENDED
    return waiting or (declined and wallet.updated_at <= tried[-1][2]), len(autos)


@jobs.handles(AUTO_JOB)
def _auto_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    wallet = uow.wallets.get(job.tenant_id, job.payload["wallet_id"], for_update=True)
    lots = uow.wallets.lots(job.tenant_id, [wallet.id])[wallet.id]
    pending, attempts = _auto_state(uow, wallet)
    attempt = int(job.payload["attempt"])
    amount = auto_top_up(wallet.auto_top_up, balance(lots, wallet.currency, now).total, pending=pending)
    if attempts >= attempt or amount is None:
        return  # made already, or the balance is back above the threshold
    if wallets.charge(ctx, uow, wallet, amount, None, f"auto:{attempt}", now) is None:
        events.emit(ctx, uow, wallet.tenant_id, EventType.WALLET_TOP_UP_FAILED, object_type="wallet",
                    object_id=wallet.id, at=now, customer_id=wallet.customer_id,
                    data={"wallet_id": wallet.id, "payment_id": None, "amount": amount.amount_text(),
                          "currency": wallet.currency, "auto": True, "decline_code": "no_payment_method",
                          "message": "The customer has no default automatic payment method."})  # fmt: skip


# ---- in-advance usage: holds ---------------------------------------------------------------------------


def hold_usage(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str, charges: Sequence[Mapping[str, Any]],
               now_of: Callable[[str], datetime]) -> None:  # fmt: skip
    """Hold each in-advance usage charge (rows of usage_charges: customer_id, event_id, amount_minor,
    currency) on the wallet of the customer's payer in that currency, in the order given; what the wallet
    cannot cover waits for the invoice as before."""
    charged = [c for c in charges if c["amount_minor"] > 0]
    if not charged:
        return
    found: dict[tuple[str, str], Wallet | None] = {}
    for c in charged:
        key = (c["customer_id"], c["currency"])
        if key not in found:
            found[key] = uow.wallets.paying(tenant_id, key[0], key[1], for_update=True)
    held = {w.id: w for w in found.values() if w is not None}
    if not held:
        return
    lots = uow.wallets.lots(tenant_id, list(held))
    start = {w: list(x) for w, x in lots.items()}
    before: dict[str, Money] = {}
    log: dict[str, list[Transaction]] = {w: [] for w in held}
    for c in charged:
        wallet = found[(c["customer_id"], c["currency"])]
        if wallet is None:
            continue
        now = now_of(c["customer_id"])
        before.setdefault(wallet.id, balance(lots[wallet.id], wallet.currency, now).total)
        amount = Money.from_minor_units(int(c["amount_minor"]), wallet.currency)
        drawn = draw(lots[wallet.id], amount, now)
        taken = amount - drawn.short
        if not taken.amount:
            continue
        lots[wallet.id] = list(drawn.lots)
        log[wallet.id].append(Transaction(
            tenant_id=tenant_id, id=ctx.new_id("wtx"), wallet_id=wallet.id, kind=TransactionKind.HOLD, amount=-taken,
            paid=-drawn.paid, balance=balance(lots[wallet.id], wallet.currency, now).total, occurred_at=now,
            created_at=ctx.clock.now(), usage_event_id=str(c["event_id"]), description="In-advance usage"))  # fmt: skip
    for wallet_id, wallet in held.items():
        if not log[wallet_id]:
            continue
        uow.wallets.save_lots(tenant_id, _changed(start[wallet_id], lots[wallet_id]))
        uow.wallets.add_transactions(log[wallet_id])
        last = log[wallet_id][-1]
        total = sum((t.amount for t in log[wallet_id]), Money.zero(wallet.currency))
        part = sum((t.paid for t in log[wallet_id]), Money.zero(wallet.currency))
        events.emit(ctx, uow, tenant_id, EventType.WALLET_DRAWN, object_type="wallet", object_id=wallet.id,
                    at=last.occurred_at, customer_id=wallet.customer_id,
                    data={"wallet_id": wallet.id, "invoice_id": None, "hold": True, "amount": (-total).amount_text(),
                          "paid": (-part).amount_text(), "free": (part - total).amount_text(),
                          "usage_event_ids": [t.usage_event_id for t in log[wallet_id]],
                          "balance": last.balance.amount_text(), "currency": wallet.currency})  # fmt: skip
        after_draw(ctx, uow, wallet, before[wallet_id], lots[wallet_id], last.occurred_at)


# ---- invoices paid from the wallet ---------------------------------------------------------------------


def _usage_lines(invoice: Invoice) -> dict[str, Money]:
    """What each in-advance usage line of the invoice charges, tax included: the most its holds pay."""
    out: dict[str, Money] = {}
    for line in invoice.lines:
        if line.item.kind is LineKind.USAGE_IN_ADVANCE and line.net.amount > 0:
            out[line.item.key] = out.get(line.item.key, Money.zero(invoice.currency)) + line.net + line.tax
    return out


def _release(ctx: ServiceContext, uow: UnitOfWork, wallet: Wallet, invoice: Invoice, lots: list[Lot],
             paid_part: Money, free_part: Money, now: datetime) -> list[Lot]:  # fmt: skip
    """Held credits the invoice billing their usage did not need come back, as a lot of each kind without
    expiry (a hold does not remember the lots it came from)."""
    back = [Lot(id=ctx.new_id("wlot"), kind=kind, amount=part, remaining=part, granted_at=now, expires_at=None)
            for kind, part in ((CreditKind.PAID, paid_part), (CreditKind.FREE, free_part)) if part.amount]  # fmt: skip
    for lot in back:
        uow.wallets.add_lot(wallet.tenant_id, wallet.id, lot, payment_id=None, at=now)
    after = [*lots, *back]
    wallets.record(ctx, uow, wallet, TransactionKind.RELEASE, paid_part + free_part, paid_part, after, now,
                   invoice_id=invoice.id, description=f"Held for usage invoice {invoice.number} did not need")  # fmt: skip
    return after


def pay_from_wallet(ctx: ServiceContext, uow: UnitOfWork, invoice: Invoice, now: datetime) -> None:
    """A finalized invoice still owing (after the credit balance): the wallet in its currency pays what it
    can — the holds of the usage it bills first, then fresh credits — and the payment method the rest. Booked Dr prepaid
    wallets (paid credits), Dr credit grants (free credits), Cr receivable. An invoice the credit balance
    paid whole only gives back what was held for its usage."""
    wallet = uow.wallets.find(invoice.tenant_id, invoice.customer_id, invoice.currency, for_update=True)
    if wallet is None or invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
        return
    zero = Money.zero(invoice.currency)
    # an invoice the credit balance paid whole owes the wallet nothing: its holds are all released
    owing = invoice.amount_remaining if invoice.status is InvoiceStatus.OPEN else zero
    left, from_paid, from_free, from_holds = max(owing, zero), zero, zero, zero
    source = None
    room = _usage_lines(invoice)
    holds = uow.wallets.open_holds(invoice.tenant_id, wallet.id)
    billed = uow.wallets.usage_lines(invoice.tenant_id, [h.usage_event_id for h in holds if h.usage_event_id])
    released = [zero, zero]  # paid, free
    for hold in holds:
        line = billed.get(hold.usage_event_id or "")
        if line not in room:
            continue  # its usage is billed by another invoice (or not yet)
        taken = settle_hold(hold, min(left, room[line]))
        uow.wallets.save_transaction(replace(hold, invoice_id=invoice.id))
        released = [released[0] + taken.released_paid, released[1] + taken.released_free]
        if taken.taken.amount:
            source = source or hold.id
        room[line] -= taken.taken
        from_paid, from_free = from_paid + taken.paid, from_free + taken.free
        from_holds, left = from_holds + taken.taken, left - taken.taken
    lots = uow.wallets.lots(invoice.tenant_id, [wallet.id])[wallet.id]
    if released[0].amount or released[1].amount:
        lots = _release(ctx, uow, wallet, invoice, lots, released[0], released[1], now)
    if not left.amount and source is None:
        return
    before = balance(lots, wallet.currency, now).total
    drawn = draw(lots, left, now)
    fresh = left - drawn.short
    if fresh.amount:
        uow.wallets.save_lots(invoice.tenant_id, _changed(lots, drawn.lots))
        t = wallets.record(ctx, uow, wallet, TransactionKind.DRAW, -fresh, -drawn.paid, list(drawn.lots), now,
                           invoice_id=invoice.id, description=f"Invoice {invoice.number}")  # fmt: skip
        source = t.id
        from_paid, from_free = from_paid + drawn.paid, from_free + drawn.free
    total = from_paid + from_free
    if source is None or not total.amount:
        return
    after = paid(invoice, total, now)
    uow.invoices.save(after)
    post(uow, ledger.wallet_entry(
        uow.ledger.chart(invoice.tenant_id), tenant_id=invoice.tenant_id, id=ctx.new_id("je"), posted_at=now,
        transaction_id=source, description=f"Wallet {wallet.id} paid invoice {invoice.number}",
        currency=invoice.currency, paid=from_paid, free=from_free))  # fmt: skip
    events.emit(ctx, uow, invoice.tenant_id, EventType.WALLET_DRAWN, object_type="wallet", object_id=wallet.id,
                at=now, customer_id=wallet.customer_id,
                data={"wallet_id": wallet.id, "invoice_id": invoice.id, "hold": False, "amount": total.amount_text(),
                      "paid": from_paid.amount_text(), "free": from_free.amount_text(),
                      "from_holds": from_holds.amount_text(),
                      "balance": balance(drawn.lots, wallet.currency, now).total.amount_text(),
                      "currency": wallet.currency})  # fmt: skip
    if after.status is InvoiceStatus.PAID:
        audit.changed(ctx, uow, system_actor(invoice.tenant_id, "wallets"), EventType.INVOICE_PAID,
                      object_type="invoice", object_id=after.id, before=invoice.to_json(), after=after.to_json(),
                      at=now, customer_id=after.customer_id)  # fmt: skip
        for hook in payments.ON_PAID:
            hook(ctx, uow, after, now)
    if fresh.amount:
        after_draw(ctx, uow, wallet, before, drawn.lots, now)


payments.ON_OPEN.append(pay_from_wallet)
payments.ON_NOTHING_OWED.append(pay_from_wallet)


# ---- expiry --------------------------------------------------------------------------------------------


@jobs.handles(wallets.EXPIRE_JOB)
def _expire_job(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    """What is left of a lot at its expiry leaves the wallet; paid credits are breakage (revenue under the
    "wallet_breakage" key), free ones were never booked."""
    found = uow.wallets.lot(job.tenant_id, job.payload["lot_id"])
    if found is None:
        return
    wallet = uow.wallets.get(job.tenant_id, found[0], for_update=True)
    lots = uow.wallets.lots(job.tenant_id, [wallet.id])[wallet.id]
    gone = [e for e in expired(lots, now) if e.lot_id == found[1].id]
    if not gone:
        return
    lost = gone[0]
    after = [replace(x, remaining=Money.zero(wallet.currency)) if x.id == lost.lot_id else x for x in lots]
    uow.wallets.save_lots(job.tenant_id, [x for x in after if x.id == lost.lot_id])
    part = lost.amount if lost.kind is CreditKind.PAID else Money.zero(wallet.currency)
    t = wallets.record(ctx, uow, wallet, TransactionKind.EXPIRY, -lost.amount, -part, after, now)
    post(uow, lambda: ledger.wallet_entry(
        uow.ledger.chart(wallet.tenant_id), tenant_id=wallet.tenant_id, id=ctx.new_id("je"), posted_at=now,
        transaction_id=t.id, description=f"Expired credits of wallet {wallet.id}", currency=wallet.currency,
        breakage=part))  # fmt: skip
    events.emit(ctx, uow, wallet.tenant_id, EventType.WALLET_CREDITS_EXPIRED, object_type="wallet",
                object_id=wallet.id, at=now, customer_id=wallet.customer_id,
                data=wallets.event_data(t, found[1], credit_kind=lost.kind.value))  # fmt: skip
