"""Issue 6: worked billing examples end to end, on SQLite and PostgreSQL, each driven by a test clock.

The seller is a German tenant (Berlin, a one-hour draft grace period) selling the example catalog
(examples/catalog.yaml); customers are in Berlin, billed in EUR at 19 % VAT per line, half-up. A bill date's
job runs at local midnight (23:00 UTC the day before in winter) and its draft finalizes an hour later.
Business monthly is flat 50.00 + 22.00 per seat, with a 250.00 setup fee; Essentials monthly is flat
150.00 + 25.00 per device, with a 500.00 setup fee. Every amount below was worked out by hand from the rules
(DESIGN.md, "The order an invoice is computed in" and "Invoicing recomputes and diffs").
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from kassa.core.audit import Actor
from kassa.core.credit_notes import CreditNote, CreditReason
from kassa.core.invoicing import Invoice, InvoiceStatus
from kassa.services import (
    billable_metrics,
    catalog,
    coupons,
    credits,
    customers,
    invoicing,
    metering,
    subscriptions,
    tenants,
    test_clocks,
)
from kassa.services.context import ServiceContext

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
CATALOG: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
START = datetime(2025, 12, 31, 22, tzinfo=UTC)  # 23:00 in Berlin, an hour before the first bill date


def _settings(ctx: ServiceContext, actor: Actor) -> None:
    tenants.update_settings(ctx, actor, {
        "legal_name": "Nordlicht GmbH", "address": {"line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115",
                                                    "country": "DE"},
        "time_zone": "Europe/Berlin", "draft_grace_period_hours": 1,
    })  # fmt: skip


@pytest.fixture
def clock_id(ctx: ServiceContext, actor: Actor) -> str:
    """The German seller with the example catalog, and a test clock at 2025-12-31 22:00 UTC."""
    _settings(ctx, actor)
    catalog.apply_catalog(ctx, actor, copy.deepcopy(CATALOG), effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    return test_clocks.create_test_clock(ctx, actor, name="examples", frozen_time=START).id


def customer(ctx: ServiceContext, actor: Actor, clock: str, external_id: str, **fields: Any) -> str:
    body = {"external_id": external_id, "name": external_id, "currency": "EUR", "time_zone": "Europe/Berlin",
            "emails": [f"{external_id}@example.com"], "test_clock_id": clock,
            "address": {"line1": "Weg 2", "city": "München", "postal_code": "80331", "country": "DE"}, **fields}  # fmt: skip
    return customers.create_customer(ctx, actor, body).id


def subscribe(ctx: ServiceContext, actor: Actor, cid: str, plan: str, quantity: int) -> str:
    body = {"customer_id": cid, "plan": plan, "quantity": quantity, "start_date": "2026-01-01"}
    return subscriptions.create_subscription(ctx, actor, body).id


def advance(
    ctx: ServiceContext, actor: Actor, clock: str, year: int, month: int, day: int, hour: int, minute: int = 0
) -> None:
    """To that UTC instant, running all due work on the way."""
    test_clocks.advance_test_clock(ctx, actor, clock, datetime(year, month, day, hour, minute, tzinfo=UTC))


def invoices(ctx: ServiceContext, actor: Actor, cid: str) -> list[Invoice]:
    page = invoicing.list_invoices(ctx, actor, limit=50, cursor=None, customer_id=cid)
    return sorted(page.items, key=lambda i: (i.bill_date or date.min, i.created_at))


def credit_notes(ctx: ServiceContext, actor: Actor, cid: str) -> list[CreditNote]:
    return list(invoicing.list_credit_notes(ctx, actor, limit=50, cursor=None, customer_id=cid).items)


def lines(inv: Invoice) -> list[tuple[str, str | None, str, str, str]]:
    """(description, period start, charged, discount, tax) of each line, sorted."""
    return sorted((ln.item.description, str(ln.item.period_start) if ln.item.period_start else None,
                   ln.item.amount.amount_text(), ln.discount.amount_text(), ln.tax.amount_text())
                  for ln in inv.lines)  # fmt: skip


def money(inv: Invoice) -> dict[str, str]:
    return {"subtotal": inv.subtotal.amount_text(), "discount": inv.discount.amount_text(),
            "tax": inv.tax.amount_text(), "total": inv.total.amount_text(),
            "credit_applied": inv.credit_applied.amount_text(), "amount_due": inv.amount_due.amount_text()}  # fmt: skip


def bill(subtotal: str, tax: str, total: str, *, discount: str = "0.00", applied: str = "0.00",
         due: str | None = None) -> dict[str, str]:  # fmt: skip
    return {"subtotal": subtotal, "discount": discount, "tax": tax, "total": total, "credit_applied": applied,
            "amount_due": due or total}  # fmt: skip


def balance(ctx: ServiceContext, actor: Actor, cid: str) -> str:
    amount, _ = credits.credit_balance(ctx, actor, cid, limit=1, cursor=None)
    return amount.amount_text()


FLAT, SEATS, SETUP = "Business, monthly", "Business, monthly, per unit", "Business, monthly, setup"
JAN, FEB, MAR = "2026-01-01", "2026-02-01", "2026-03-01"
# Business monthly, 2 seats, from 1 Jan: 50.00 + 44.00 + 250.00 = 344.00, VAT 9.50 + 8.36 + 47.50 = 65.36.
JANUARY_2_SEATS = [(FLAT, JAN, "50.00", "0.00", "9.50"), (SEATS, JAN, "44.00", "0.00", "8.36"),
                   (SETUP, JAN, "250.00", "0.00", "47.50")]  # fmt: skip


# ---- consolidation -------------------------------------------------------------------------------------


def test_two_subscriptions_on_one_bill_date_are_one_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """Business monthly × 2 seats and Essentials monthly × 3 devices, both from 1 Jan: one invoice for 1 Jan
    with six lines, 50.00 + 44.00 + 250.00 + 150.00 + 75.00 + 500.00 = 1069.00, VAT 9.50 + 8.36 + 47.50 +
    28.50 + 14.25 + 95.00 = 203.11, total 1272.11."""
    cid = customer(ctx, actor, clock_id, "acme")
    business = subscribe(ctx, actor, cid, "business-monthly", 2)
    essentials = subscribe(ctx, actor, cid, "essentials-monthly", 3)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (inv,) = invoices(ctx, actor, cid)
    assert (inv.bill_date, inv.status, inv.number) == (date(2026, 1, 1), InvoiceStatus.OPEN, "INV-2026-00001")
    assert sorted((ln.item.subscription_id == business, ln.item.amount.amount_text(), ln.tax.amount_text())
                  for ln in inv.lines) == [
        (False, "150.00", "28.50"), (False, "500.00", "95.00"), (False, "75.00", "14.25"),
        (True, "250.00", "47.50"), (True, "44.00", "8.36"), (True, "50.00", "9.50"),
    ]  # fmt: skip
    assert {ln.item.subscription_id for ln in inv.lines} == {business, essentials}
    assert money(inv) == bill("1069.00", "203.11", "1272.11")


def test_a_parent_pays_for_its_child_on_its_own_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """A holding in Munich (Essentials × 2 devices: 500.00 + 150.00 + 50.00) pays for its Zurich branch
    (bill_to_parent; Business × 1 seat: 250.00 + 50.00 + 22.00). One invoice, the parent's: six lines, the
    branch's three carrying the branch's account id. The payer's German address decides the tax, so the
    Swiss branch's lines carry 19 % VAT too: 133.00 + 61.18 = 194.18; subtotal 1022.00, total 1216.18.
    The branch has no invoice of its own."""
    parent = customer(ctx, actor, clock_id, "holding")
    child = customer(ctx, actor, clock_id, "branch", parent_id=parent, bill_to_parent=True,
                     address={"line1": "Bahnhofstr. 1", "city": "Zürich", "postal_code": "8001", "country": "CH"})  # fmt: skip
    subscribe(ctx, actor, parent, "essentials-monthly", 2)
    subscribe(ctx, actor, child, "business-monthly", 1)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (inv,) = invoices(ctx, actor, parent)
    assert inv.customer_id == parent
    assert sorted((ln.item.account_id == child, ln.item.amount.amount_text(), ln.tax_code, ln.tax.amount_text())
                  for ln in inv.lines) == [
        (False, "150.00", "S", "28.50"), (False, "50.00", "S", "9.50"), (False, "500.00", "S", "95.00"),
        (True, "22.00", "S", "4.18"), (True, "250.00", "S", "47.50"), (True, "50.00", "S", "9.50"),
    ]  # fmt: skip
    assert money(inv) == bill("1022.00", "194.18", "1216.18")
    assert invoices(ctx, actor, child) == []


def test_a_coupon_of_the_child_discounts_only_the_childs_lines_on_the_parents_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """The same holding and branch; the branch redeemed 10 % off forever (a customer redemption: all of the
    branch's lines). On the holding's invoice only the branch's lines are discounted: 25.00 + 5.00 + 2.20 =
    32.20; VAT 95.00 + 28.50 + 9.50 on the holding's, 42.75 + 8.55 + 3.76 (3.762) on the branch's = 188.06;
    total 989.80 + 188.06 = 1177.86."""
    parent = customer(ctx, actor, clock_id, "holding")
    child = customer(ctx, actor, clock_id, "branch", parent_id=parent, bill_to_parent=True)
    coupon = coupons.create_coupon(ctx, actor, {"code": "BRANCH10", "name": "10 % off", "type": "percent",
                                                "percent_off": "10", "duration": "forever"})  # fmt: skip
    coupons.redeem_coupon(ctx, actor, child, {"coupon": coupon.id})
    subscribe(ctx, actor, parent, "essentials-monthly", 2)
    subscribe(ctx, actor, child, "business-monthly", 1)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (inv,) = invoices(ctx, actor, parent)
    assert sorted((ln.item.account_id == child, ln.item.amount.amount_text(), ln.discount.amount_text(),
                   ln.tax.amount_text()) for ln in inv.lines) == [
        (False, "150.00", "0.00", "28.50"), (False, "50.00", "0.00", "9.50"), (False, "500.00", "0.00", "95.00"),
        (True, "22.00", "2.20", "3.76"), (True, "250.00", "25.00", "42.75"), (True, "50.00", "5.00", "8.55"),
    ]  # fmt: skip
    assert money(inv) == bill("1022.00", "188.06", "1177.86", discount="32.20")


# ---- coupons -------------------------------------------------------------------------------------------


def _coupon_customer(ctx: ServiceContext, actor: Actor, clock: str, body: dict[str, Any]) -> str:
    """Business monthly × 2 seats from 1 Jan, the coupon redeemed on 31 Dec."""
    cid = customer(ctx, actor, clock, "acme")
    coupon = coupons.create_coupon(ctx, actor, body)
    coupons.redeem_coupon(ctx, actor, cid, {"coupon": coupon.id})
    subscribe(ctx, actor, cid, "business-monthly", 2)
    return cid


# 10 % off January: 5.00 + 4.40 + 25.00 = 34.40; nets 45.00, 39.60, 225.00; VAT 8.55 + 7.52 (7.524) + 42.75
# = 58.82; total 309.60 + 58.82 = 368.42.
JANUARY_10_PERCENT = bill("344.00", "58.82", "368.42", discount="34.40")
# 10 % off a later month: 5.00 + 4.40 = 9.40; VAT 8.55 + 7.52 = 16.07; total 84.60 + 16.07 = 100.67.
MONTH_10_PERCENT = bill("94.00", "16.07", "100.67", discount="9.40")
MONTH = bill("94.00", "17.86", "111.86")  # 50.00 + 44.00, VAT 9.50 + 8.36


def test_coupon_once_discounts_only_the_first_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """10 % off, once: January 368.42 (34.40 off), February undiscounted 111.86; the redemption has ended."""
    cid = _coupon_customer(ctx, actor, clock_id, {"code": "FIRST10", "name": "10 % off the first invoice",
                                                  "type": "percent", "percent_off": "10", "duration": "once"})  # fmt: skip
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    jan, feb = invoices(ctx, actor, cid)
    assert [ln[3] for ln in lines(jan)] == ["5.00", "4.40", "25.00"]  # flat, seats, setup
    assert (money(jan), money(feb)) == (JANUARY_10_PERCENT, MONTH)
    (redemption,) = coupons.list_redemptions(ctx, actor, cid)
    assert (redemption.periods_applied, redemption.ended_at is not None) == (1, True)


def test_coupon_repeating_two_invoices(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """10 % off for 2 invoices: January 368.42, February 100.67 (9.40 off), March undiscounted 111.86."""
    cid = _coupon_customer(ctx, actor, clock_id, {"code": "TWO10", "name": "10 % off twice", "type": "percent",
                                                  "percent_off": "10", "duration": "repeating", "duration_periods": 2})  # fmt: skip
    advance(ctx, actor, clock_id, 2026, 3, 1, 2)
    assert [money(i) for i in invoices(ctx, actor, cid)] == [JANUARY_10_PERCENT, MONTH_10_PERCENT, MONTH]


def test_coupon_forever(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """10 % off forever: January 368.42, then 100.67 every month; the redemption is still active."""
    cid = _coupon_customer(ctx, actor, clock_id, {"code": "ALWAYS10", "name": "10 % off", "type": "percent",
                                                  "percent_off": "10", "duration": "forever"})  # fmt: skip
    advance(ctx, actor, clock_id, 2026, 3, 1, 2)
    assert [money(i) for i in invoices(ctx, actor, cid)] == [
        JANUARY_10_PERCENT,
        MONTH_10_PERCENT,
        MONTH_10_PERCENT,
    ]
    (redemption,) = coupons.list_redemptions(ctx, actor, cid)
    assert (redemption.periods_applied, redemption.ended_at) == (3, None)


def test_promotion_code_redeems_a_fixed_coupon(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """The customer types " Welcome-20 " for promotion code WELCOME-20 (20.00 off, once). January's 50.00,
    44.00 and 250.00 share it by largest remainder: 290.70, 255.81, 1453.49 cents → floors 1998, the two cents
    left to the seats (.81) and the flat fee (.70): 2.91, 2.56, 14.53. Nets 47.09, 41.44, 235.47; VAT 8.95
    (8.9471), 7.87 (7.8736), 44.74 (44.7393) = 61.56; total 324.00 + 61.56 = 385.56."""
    cid = customer(ctx, actor, clock_id, "acme")
    coupon = coupons.create_coupon(ctx, actor, {"code": "WELCOME20", "name": "20 EUR off", "type": "fixed",
                                                "amounts_off": [{"amount": "20.00", "currency": "EUR"}],
                                                "duration": "once"})  # fmt: skip
    promo = coupons.create_promotion_code(ctx, actor, {"code": "welcome-20", "coupon_id": coupon.id})
    assert promo.code == "WELCOME-20"
    redemption = coupons.redeem_coupon(ctx, actor, cid, {"promotion_code": " Welcome-20 "})
    assert (redemption.coupon_id, redemption.promotion_code_id) == (coupon.id, promo.id)
    subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    assert lines(jan) == [(FLAT, JAN, "50.00", "2.91", "8.95"), (SEATS, JAN, "44.00", "2.56", "7.87"),
                          (SETUP, JAN, "250.00", "14.53", "44.74")]  # fmt: skip
    assert money(jan) == bill("344.00", "61.56", "385.56", discount="20.00")


def test_tax_inclusive_prices_of_the_tenant(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """The tenant's prices include VAT: January's 50.00, 44.00 and 250.00 hold 19/119 of themselves as VAT,
    7.98 (7.9832), 7.03 (7.0252) and 39.92 (39.9160) = 54.93, nets 42.02, 36.97 and 210.08; the customer pays
    the catalog's 344.00."""
    tenants.update_settings(ctx, actor, {"tax_inclusive": True})
    cid = customer(ctx, actor, clock_id, "acme")
    subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    assert jan.tax_inclusive is True
    assert sorted((ln.item.amount.amount_text(), ln.net.amount_text(), ln.tax.amount_text()) for ln in jan.lines) == [
        ("250.00", "210.08", "39.92"), ("44.00", "36.97", "7.03"), ("50.00", "42.02", "7.98")
    ]  # fmt: skip
    assert money(jan) == bill("344.00", "54.93", "344.00")


# ---- the credit balance --------------------------------------------------------------------------------


def test_credit_balance_larger_than_the_invoice(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """500.00 granted: January's 409.36 is paid from it in full (0.00 due, paid at finalization) and 90.64
    stays; February's 111.86 takes the 90.64 and leaves 21.22 due, the balance 0.00."""
    cid = customer(ctx, actor, clock_id, "acme")
    credits.grant_credit(ctx, actor, cid, {"amount": "500.00", "description": "Migration credit"})
    subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    assert money(jan) == bill("344.00", "65.36", "409.36", applied="409.36", due="0.00")
    assert jan.status is InvoiceStatus.PAID
    assert balance(ctx, actor, cid) == "90.64"
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    _, feb = invoices(ctx, actor, cid)
    assert money(feb) == bill("94.00", "17.86", "111.86", applied="90.64", due="21.22")
    assert (feb.status, balance(ctx, actor, cid)) == (InvoiceStatus.OPEN, "0.00")


# ---- credit notes --------------------------------------------------------------------------------------


def test_open_invoice_credited_in_full_becomes_paid(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """January's open 409.36 credited as a whole (no lines named): the note is 344.00 + 65.36 = 409.36, all
    of it against what is due, none to the balance; the invoice has 0.00 left and is paid."""
    cid = customer(ctx, actor, clock_id, "acme")
    subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    assert jan.status is InvoiceStatus.OPEN
    note = invoicing.credit_invoice(ctx, actor, jan.id, {"reason": "order_change"})
    assert (note.net.amount_text(), note.tax.amount_text(), note.total.amount_text(),
            note.to_invoice.amount_text(), note.to_credit_balance.amount_text()) == (
        "344.00", "65.36", "409.36", "409.36", "0.00")  # fmt: skip
    after = invoicing.get_invoice(ctx, actor, jan.id)
    assert (after.status, after.amount_remaining.amount_text()) == (InvoiceStatus.PAID, "0.00")
    assert balance(ctx, actor, cid) == "0.00"


# ---- recompute and diff --------------------------------------------------------------------------------


def test_a_rerun_of_the_same_bill_date_adds_nothing(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """Billing 1 Jan again while its draft waits (00:30 in Berlin) composes the same draft: one invoice, the
    same three lines. After it is finalized (409.36), billing 1 Jan once more changes nothing and writes no
    credit note; February's invoice holds only February: 50.00 + 44.00, total 111.86."""
    cid = customer(ctx, actor, clock_id, "acme")
    subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2025, 12, 31, 23, 30)
    (first,) = invoices(ctx, actor, cid)
    assert first.status is InvoiceStatus.DRAFT
    again = invoicing.bill_now(ctx, actor, cid)
    assert again is not None and again.id == first.id
    assert lines(again) == lines(first) == JANUARY_2_SEATS
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    assert (jan.id, jan.status, money(jan)) == (
        first.id,
        InvoiceStatus.OPEN,
        bill("344.00", "65.36", "409.36"),
    )
    rerun = invoicing.bill_now(ctx, actor, cid)
    assert rerun is not None and rerun.id == jan.id
    assert [(i.id, money(i)) for i in invoices(ctx, actor, cid)] == [(jan.id, money(jan))]
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    _, feb = invoices(ctx, actor, cid)
    assert lines(feb) == [(FLAT, FEB, "50.00", "0.00", "9.50"), (SEATS, FEB, "44.00", "0.00", "8.36")]
    assert money(feb) == MONTH
    assert credit_notes(ctx, actor, cid) == []


def test_backdated_decrease_after_finalization_is_a_credit_note(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """3 seats from 1 Jan: January 50.00 + 66.00 + 250.00 = 366.00, VAT 69.54, total 435.54, finalized at 01:00
    in Berlin. At 11:00 the seats go down to 2 from 1 Jan (the start of the invoiced period). The next bill run
    writes a credit note against January (billing_correction, automatic): the seats line, 22.00 + 4.18 VAT =
    26.18, set against what January still has due (435.54 → 409.36). February bills 50.00 + 44.00 = 111.86
    and nothing for January: the reduction is not counted twice."""
    cid = customer(ctx, actor, clock_id, "acme")
    sub = subscribe(ctx, actor, cid, "business-monthly", 3)
    advance(ctx, actor, clock_id, 2026, 1, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    assert money(jan) == bill("366.00", "69.54", "435.54")
    advance(ctx, actor, clock_id, 2026, 1, 1, 10)
    subscriptions.change_subscription(ctx, actor, sub, {"quantity": 2, "when": "now"})
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    (note,) = credit_notes(ctx, actor, cid)
    seats = next(ln.position for ln in jan.lines if ln.item.description == SEATS)
    assert (note.invoice_id, note.reason, note.automatic) == (jan.id, CreditReason.BILLING_CORRECTION, True)
    assert [(ln.position, ln.net.amount_text(), ln.tax.amount_text()) for ln in note.lines] == [
        (seats, "22.00", "4.18")
    ]
    assert (note.total.amount_text(), note.to_invoice.amount_text()) == ("26.18", "26.18")
    jan_after, feb = invoices(ctx, actor, cid)
    assert jan_after.amount_remaining.amount_text() == "409.36"
    assert lines(feb) == [(FLAT, FEB, "50.00", "0.00", "9.50"), (SEATS, FEB, "44.00", "0.00", "8.36")]
    assert money(feb) == MONTH


def test_backdated_decrease_of_a_discounted_line_credits_its_discounted_share(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """3 seats from 1 Jan with 10 % off forever: January 50.00, 66.00, 250.00 less 5.00, 6.60, 25.00; VAT 8.55
    + 11.29 (11.286) + 42.75 = 62.59; total 329.40 + 62.59 = 391.99. The seats go down to 2 from 1 Jan after
    finalization: the bill run credits the 22.00 seat at its discounted share, 22.00 × 59.40/66.00 = 19.80
    (reversing 2.20 of discount), with VAT 11.29 × 19.80/59.40 = 3.763 → 3.76: 23.56, leaving 368.43 due
    (a cent above the 368.42 that 2 seats would have cost: each tax is rounded on its own document).
    February: 94.00 less 9.40, total 100.67."""
    cid = customer(ctx, actor, clock_id, "acme")
    coupon = coupons.create_coupon(ctx, actor, {"code": "ALWAYS10", "name": "10 % off", "type": "percent",
                                                "percent_off": "10", "duration": "forever"})  # fmt: skip
    coupons.redeem_coupon(ctx, actor, cid, {"coupon": coupon.id})
    sub = subscribe(ctx, actor, cid, "business-monthly", 3)
    advance(ctx, actor, clock_id, 2026, 1, 1, 10)
    (jan,) = invoices(ctx, actor, cid)
    assert money(jan) == bill("366.00", "62.59", "391.99", discount="36.60")
    subscriptions.change_subscription(ctx, actor, sub, {"quantity": 2, "when": "now"})
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    (note,) = credit_notes(ctx, actor, cid)
    assert [(ln.net.amount_text(), ln.discount.amount_text(), ln.tax.amount_text()) for ln in note.lines] == [
        ("19.80", "2.20", "3.76")
    ]
    assert (note.reason, note.total.amount_text(), note.to_invoice.amount_text()) == (
        CreditReason.BILLING_CORRECTION, "23.56", "23.56")  # fmt: skip
    jan_after, feb = invoices(ctx, actor, cid)
    assert jan_after.amount_remaining.amount_text() == "368.43"
    assert money(feb) == MONTH_10_PERCENT


def test_backdated_increase_after_finalization_is_a_line_on_the_next_invoice(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """2 seats from 1 Jan, January finalized at 409.36; at 11:00 on 1 Jan the seats go up to 3 from 1 Jan.
    January is not touched; February carries January's extra seat (22.00, period from 1 Jan) besides its own
    50.00 and 3 × 22.00 = 66.00: 138.00, VAT 4.18 + 9.50 + 12.54 = 26.22, total 164.22. No credit note."""
    cid = customer(ctx, actor, clock_id, "acme")
    sub = subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 1, 10)
    subscriptions.change_subscription(ctx, actor, sub, {"quantity": 3, "when": "now"})
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    jan, feb = invoices(ctx, actor, cid)
    assert money(jan) == bill("344.00", "65.36", "409.36")
    assert lines(feb) == [(FLAT, FEB, "50.00", "0.00", "9.50"), (SEATS, JAN, "22.00", "0.00", "4.18"),
                          (SEATS, FEB, "66.00", "0.00", "12.54")]  # fmt: skip
    assert money(feb) == bill("138.00", "26.22", "164.22")
    assert credit_notes(ctx, actor, cid) == []


def test_mid_period_upgrade_after_finalization(ctx: ServiceContext, actor: Actor, clock_id: str) -> None:
    """2 seats from 1 Jan (January 409.36, finalized). On 16 Jan the seats go up to 4, immediately, prorated
    over the 16 of January's 31 days left. The unused part of the seats line, 44.00 × 16/31 = 22.7097 → 22.71,
    becomes a credit note against January (billing_correction) with VAT 8.36 × 22.71/44.00 = 4.3149 → 4.31,
    total 27.02; the 4 seats for the rest of the month, 88.00 × 16/31 = 45.4194 → 45.42, are a line of the
    16 Jan invoice: VAT 8.63 (8.6298), total 54.05. February: 50.00 + 88.00 = 138.00, VAT 9.50 + 16.72,
    total 164.22."""
    cid = customer(ctx, actor, clock_id, "acme")
    sub = subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 16, 10)
    subscriptions.change_subscription(ctx, actor, sub, {"quantity": 4})
    advance(ctx, actor, clock_id, 2026, 1, 16, 12)
    jan, mid = invoices(ctx, actor, cid)
    assert money(jan) == bill("344.00", "65.36", "409.36")
    assert mid.bill_date == date(2026, 1, 16) and mid.status is InvoiceStatus.OPEN
    assert lines(mid) == [(SEATS, "2026-01-16", "45.42", "0.00", "8.63")]
    assert money(mid) == bill("45.42", "8.63", "54.05")
    (note,) = credit_notes(ctx, actor, cid)
    assert (note.invoice_id, note.reason) == (jan.id, CreditReason.BILLING_CORRECTION)
    assert [(ln.net.amount_text(), ln.tax.amount_text()) for ln in note.lines] == [("22.71", "4.31")]
    assert (note.total.amount_text(), note.to_invoice.amount_text()) == ("27.02", "27.02")
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    feb = invoices(ctx, actor, cid)[-1]
    assert lines(feb) == [(FLAT, FEB, "50.00", "0.00", "9.50"), (SEATS, FEB, "88.00", "0.00", "16.72")]
    assert money(feb) == bill("138.00", "26.22", "164.22")
    assert len(credit_notes(ctx, actor, cid)) == 1


def test_cancellation_mid_period_after_finalization_credits_the_unused_part(
    ctx: ServiceContext, actor: Actor, clock_id: str
) -> None:
    """2 seats from 1 Jan (January 409.36). Canceled on 16 Jan with proration: the bill run that day credits
    16/31 of each in-advance line against January: flat 50.00 → 25.81 (25.806) with VAT 9.50 × 25.81/50.00 =
    4.904 → 4.90, seats 44.00 → 22.71 with VAT 4.31; 48.52 + 9.21 = 57.73, leaving 351.63 due. The setup fee
    is not credited, no invoice is written for 16 Jan and none for February."""
    cid = customer(ctx, actor, clock_id, "acme")
    sub = subscribe(ctx, actor, cid, "business-monthly", 2)
    advance(ctx, actor, clock_id, 2026, 1, 16, 10)
    subscriptions.cancel_subscription(ctx, actor, sub, {"when": "now"})
    advance(ctx, actor, clock_id, 2026, 2, 1, 2)
    (jan,) = invoices(ctx, actor, cid)
    (note,) = credit_notes(ctx, actor, cid)
    assert (note.invoice_id, note.reason) == (jan.id, CreditReason.BILLING_CORRECTION)
    assert sorted((ln.description, ln.net.amount_text(), ln.tax.amount_text()) for ln in note.lines) == [
        (FLAT, "25.81", "4.90"),
        (SEATS, "22.71", "4.31"),
    ]
    assert (note.net.amount_text(), note.tax.amount_text(), note.total.amount_text()) == (
        "48.52",
        "9.21",
        "57.73",
    )
    assert jan.amount_remaining.amount_text() == "351.63"


METERED: dict[str, Any] = {
    "products": [{"code": "archive", "name": "Archive", "plans": [
        {"code": "archive-monthly", "name": "Archive, monthly", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}],
         "charges": [{"metric": "storage_gb", "model": "per_unit", "prices": {"EUR": {"unit": "0.50"}}}]},
    ]}],
}  # fmt: skip


def test_late_usage_is_a_line_on_the_next_invoice(ctx: ServiceContext, actor: Actor) -> None:
    """Archive monthly: 10.00 a month in advance plus 0.50 per GB in arrears. 30 GB on 10 Jan: February bills
    10.00 + 15.00 = 25.00, VAT 1.90 + 2.85, total 29.75. On 5 Feb an event of 12 GB dated 20 Jan arrives,
    after January's usage was invoiced: March bills its 10.00 and January's difference, 12 × 0.50 = 6.00 (for
    the period from 1 Jan): 16.00, VAT 1.90 + 1.14 = 3.04, total 19.04. January stays invoiced at 15.00."""
    _settings(ctx, actor)
    billable_metrics.create_metric(ctx, actor, {"code": "storage_gb", "name": "Storage", "aggregation": "sum",
                                                "field_name": "gb"})  # fmt: skip
    catalog.apply_catalog(ctx, actor, copy.deepcopy(METERED), effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    clock = test_clocks.create_test_clock(ctx, actor, name="usage", frozen_time=START).id
    cid = customer(ctx, actor, clock, "archiver")
    subscribe(ctx, actor, cid, "archive-monthly", 1)

    def use(event_id: str, timestamp: str, gb: int) -> None:
        result = metering.ingest_usage(ctx, actor, [{"id": event_id, "metric": "storage_gb", "timestamp": timestamp,
                                                     "external_customer_id": "archiver", "properties": {"gb": gb}}])  # fmt: skip
        assert (result.accepted, result.errors) == ([event_id], [])

    advance(ctx, actor, clock, 2026, 1, 10, 12)
    use("e1", "2026-01-10T08:00:00Z", 30)
    advance(ctx, actor, clock, 2026, 2, 5, 12)
    use("e2", "2026-01-20T08:00:00Z", 12)
    advance(ctx, actor, clock, 2026, 3, 1, 2)
    jan, feb, mar = invoices(ctx, actor, cid)
    assert money(jan) == bill("10.00", "1.90", "11.90")
    assert [(ln[1], ln[2]) for ln in lines(feb)] == [(FEB, "10.00"), (JAN, "15.00")]
    assert money(feb) == bill("25.00", "4.75", "29.75")
    assert [(ln[1], ln[2], ln[4]) for ln in lines(mar)] == [(MAR, "10.00", "1.90"), (JAN, "6.00", "1.14")]
    assert money(mar) == bill("16.00", "3.04", "19.04")
    assert credit_notes(ctx, actor, cid) == []
