"""The reads behind the portal's self-service pages (issue 10), on SQLite and PostgreSQL: a customer's live
subscriptions with the plans of their family they may switch to, the renewal and the day a cancellation
would land; and that another customer's subscription or invoice, or a draft, is not found.

The business is tests/web/test_portal_b.py's: Basic 10.00 and Pro 30.00 EUR a month in one family, Ada on
Basic since 2026-01-01, the clock at 2026-01-10 09:00 UTC."""

from __future__ import annotations

from datetime import date

import pytest

from kassa.core.errors import DomainError, NotFound
from kassa.services import invoicing, subscriptions, wallets
from kassa.services import portal_self_service as self_service
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess
from tests.web.test_portal_b import business, customer


def test_plans_of_a_customer(ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock) -> None:
    cid, sub_id = business(ctx, tenant.actor, clock)
    [held] = self_service.plans(ctx, tenant.actor, cid)
    assert (held.subscription.id, held.plan.code, held.plan.price.amount_text(), held.today) == (
        sub_id, "basic", "10.00", date(2026, 1, 10))  # fmt: skip
    assert (held.renews_on, held.ends_on, held.cancel_on, held.scheduled) == (
        date(2026, 2, 1), None, date(2026, 2, 1), None)  # fmt: skip
    assert [(o.code, o.name, o.price.amount_text()) for o in held.options] == [("pro", "Pro", "30.00")]
    subscriptions.cancel_subscription(ctx, tenant.actor, sub_id, {"when": "end_of_period"})
    [held] = self_service.plans(ctx, tenant.actor, cid)
    assert (held.renews_on, held.ends_on) == (None, date(2026, 2, 1))
    subscriptions.cancel_subscription(ctx, tenant.actor, sub_id, {"when": "now"})
    assert self_service.plans(ctx, tenant.actor, cid) == []  # canceled: history, nothing to change


def test_objects_of_another_customer_are_not_found(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, sub_id = business(ctx, tenant.actor, clock)
    other = customer(ctx, tenant.actor, "Bob")
    with pytest.raises(NotFound):
        self_service.owned_subscription(ctx, tenant.actor, other, sub_id)
    with pytest.raises(NotFound):
        self_service.owned_subscription(ctx, tenant.actor, cid, "sub_missing")
    assert self_service.owned_subscription(ctx, tenant.actor, cid, sub_id).id == sub_id
    draft = invoicing.create_invoice(ctx, tenant.actor, {"customer_id": cid, "lines": [
        {"description": "Setup", "quantity": "1", "unit_price": "50.00"}]})  # fmt: skip
    with pytest.raises(NotFound):  # a draft is not the customer's to see yet
        self_service.dispute_form(ctx, tenant.actor, cid, draft.id)
    final = invoicing.finalize_invoice(ctx, tenant.actor, draft.id)
    with pytest.raises(NotFound):
        self_service.dispute_form(ctx, tenant.actor, other, final.id)
    with pytest.raises(NotFound):
        self_service.open_dispute(ctx, tenant.actor, other, final.id, {"line": 1, "reason": "duplicate"})
    form = self_service.dispute_form(ctx, tenant.actor, cid, final.id)
    assert [(x.line.position, x.left.amount_text()) for x in form.lines] == [(1, "50.00")]


def test_the_first_top_up_opens_the_wallet_only_for_a_valid_amount(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    cid, _ = business(ctx, tenant.actor, clock)
    assert self_service.wallet(ctx, tenant.actor, cid) is None
    for wrong in ("0", "-1", "1.001", "ten"):
        with pytest.raises(DomainError):
            self_service.top_up(ctx, tenant.actor, cid, wrong)
    assert wallets.customer_wallets(ctx, tenant.actor, cid) == []
    payment = self_service.top_up(ctx, tenant.actor, cid, "12.34")
    assert (payment.status.value, payment.amount.amount_text()) == ("succeeded", "12.34")
    shown = self_service.wallet(ctx, tenant.actor, cid)
    assert shown is not None
    assert (shown.total.amount_text(), shown.paid.amount_text(), shown.free.amount_text()) == (
        "12.34",
        "12.34",
        "0.00",
    )
    assert [(lot.kind, lot.remaining.amount_text(), lot.expires_at) for lot in shown.lots] == [
        ("paid", "12.34", None)
    ]
    assert [(m.kind.value, m.amount.amount_text()) for m in shown.transactions] == [("top_up", "12.34")]
