"""Disputes on invoice lines, the pure rules (issue 9): the dispute policy document, which disputes it calls
small and for whom, what of a line can still be disputed, the credit note line a tax-included amount
becomes, and the report's rows. Amounts are EUR with German VAT 19 % per line, half-up."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from kassa.core.credit_notes import CreditNote, CreditReason, CreditRequest, credit_note
from kassa.core.dispute_policy import DisputePolicy, Standing, decide, parse_dispute_policy
from kassa.core.disputes import (
    Dispute,
    DisputeReason,
    DisputeStatus,
    MonthCounts,
    OpenedBy,
    credit_request,
    disputable,
    handling_hours,
    median,
    report_rows,
)
from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, compose_invoice, draft, finalize
from kassa.core.money import Money, RoundingMode
from tests.core.test_invoicing_examples import item, pricing

AT = datetime(2026, 3, 2, 8, tzinfo=UTC)
GOOD = Standing(overdue_invoices=0, past_due_subscriptions=0, auto_accepted_recently=0)


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def invoice(*amounts: str) -> Invoice:
    """Finalized and open: one line per amount, each taxed 19 %."""
    c = compose_invoice([item(f"l{i}", a) for i, a in enumerate(amounts)], pricing())
    composed = draft(tenant_id="ten_1", invoice_id="inv_1", customer_id="cus_1", currency="EUR", bill_date=None,
                     composition=c, tax_inclusive=False, created_at=AT, finalize_at=None)  # fmt: skip
    return finalize(composed, number="INV-2026-00001", at=AT, finalized_on=AT.date(), payment_terms_days=14,
                    parties={})  # fmt: skip


def credited(inv: Invoice, request: CreditRequest, earlier: tuple[CreditNote, ...] = ()) -> CreditNote:
    return credit_note(inv, [request], earlier=earlier, credit_note_id=f"cn_{len(earlier)}", number="CN-1",
                       reason=CreditReason.OTHER, target=None, memo=None, at=AT, rounding=RoundingMode.HALF_UP)  # fmt: skip


# ---- the policy ----------------------------------------------------------------------------------------


def test_the_policy_document_in_normal_form() -> None:
    policy = parse_dispute_policy({"auto_accept_below": {"EUR": "10.00", "USD": "12"},
                                   "auto_accept_share_percent": "20"})  # fmt: skip
    assert policy is not None
    assert policy.to_json() == {
        "auto_accept_below": {"EUR": "10.00", "USD": "12.00"},
        "auto_accept_share_percent": "20",
        "require_good_standing": True,
        "max_auto_accepted": 3,
    }
    assert parse_dispute_policy(policy.to_json()) == policy
    assert parse_dispute_policy(None) is None


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"auto_accept_below": {"EUR": "0.00"}}, "dispute_policy.auto_accept_below.EUR"),
        ({"auto_accept_below": {"EUR": 10.0}}, "dispute_policy.auto_accept_below.EUR"),
        ({"auto_accept_below": {"EUR": "10.001"}}, "dispute_policy.auto_accept_below.EUR"),
        ({"auto_accept_below": {"XYZ": "10.00"}}, "dispute_policy.auto_accept_below.XYZ"),
        ({"auto_accept_below": ["EUR"]}, "dispute_policy.auto_accept_below"),
        ({"auto_accept_share_percent": "120"}, "dispute_policy.auto_accept_share_percent"),
        ({"auto_accept_share_percent": 20.5}, "dispute_policy.auto_accept_share_percent"),
        ({"auto_accept_share_percent": "0"}, "dispute_policy.auto_accept_share_percent"),
        ({"require_good_standing": "yes"}, "dispute_policy.require_good_standing"),
        ({"max_auto_accepted": -1}, "dispute_policy.max_auto_accepted"),
        ({"max_auto_accepted": True}, "dispute_policy.max_auto_accepted"),
        ({"auto_accept": {}}, "dispute_policy.auto_accept"),
        ("small", "dispute_policy"),
    ],
)
def test_a_bad_policy_names_its_field(doc: object, field: str) -> None:
    with pytest.raises(DomainError) as error:
        parse_dispute_policy(doc)
    assert (error.value.code, error.value.field) == ("invalid_dispute_policy", field)


# ---- small, and in good standing -----------------------------------------------------------------------

BELOW_10 = DisputePolicy(auto_accept_below=(eur("10.00"),))


def test_below_the_amount_is_small_and_at_it_is_not() -> None:
    """Strictly below: 9.99 is accepted at once, 10.00 goes to an agent."""
    assert decide(BELOW_10, eur("9.99"), eur("142.80"), GOOD).auto is True
    at_limit = decide(BELOW_10, eur("10.00"), eur("142.80"), GOOD)
    assert (at_limit.auto, at_limit.why) == (False, "Not small: 10.00 EUR is not below 10.00 EUR.")


def test_with_both_limits_set_a_small_dispute_meets_both() -> None:
    """Issue 9 (margin): 20 % of a 142.80 line is 28.56, yet 28.56 is not below 10.00, so an agent sees it;
    9.99 of a 20.00 line is below 10.00 but half the line; 9.99 of the 142.80 line meets both."""
    policy = replace(BELOW_10, auto_accept_share_percent=Decimal(20))
    assert decide(policy, eur("9.99"), eur("142.80"), GOOD).why == (
        "Accepted automatically: 9.99 EUR is below 10.00 EUR and at most 20 % of the line's 142.80 EUR."
    )
    share_only = decide(policy, eur("28.56"), eur("142.80"), GOOD)
    assert (share_only.auto, share_only.why) == (False, "Not small: 28.56 EUR is not below 10.00 EUR.")
    half = decide(policy, eur("9.99"), eur("20.00"), GOOD)
    assert (half.auto, half.why) == (False, "Not small: 9.99 EUR is more than 20 % of the line's 20.00 EUR.")
    over = decide(policy, eur("28.57"), eur("142.80"), GOOD)
    assert (
        over.why == "Not small: 28.57 EUR is not below 10.00 EUR and more than 20 % of the line's 142.80 EUR."
    )


def test_a_share_alone_decides_when_no_amount_is_set() -> None:
    policy = DisputePolicy(auto_accept_share_percent=Decimal(20))
    assert decide(policy, eur("28.56"), eur("142.80"), GOOD).why == (
        "Accepted automatically: 28.56 EUR is at most 20 % of the line's 142.80 EUR."
    )


def test_no_policy_or_no_limit_for_the_currency_is_never_automatic() -> None:
    assert decide(None, eur("0.01"), eur("1.00"), GOOD).auto is False
    usd = decide(BELOW_10, Money(Decimal("1.00"), "USD"), Money(Decimal("5.00"), "USD"), GOOD)
    assert (usd.auto, usd.why) == (False, "The policy has no amount limit for USD.")
    # issue 9 (review): with amounts set for EUR only, the share alone does not accept USD 1,000
    with_share = replace(BELOW_10, auto_accept_share_percent=Decimal(20))
    big = decide(with_share, Money(Decimal("1000.00"), "USD"), Money(Decimal("5000.00"), "USD"), GOOD)
    assert (big.auto, big.why) == (False, "The policy has no amount limit for USD.")


@pytest.mark.parametrize(
    ("standing", "why"),
    [
        (replace(GOOD, overdue_invoices=1), "Not in good standing: 1 overdue invoice(s)."),
        (replace(GOOD, past_due_subscriptions=2), "Not in good standing: a subscription is past due."),
        (replace(GOOD, auto_accepted_recently=3), "Not in good standing: 3 disputes auto-accepted in the last 90 days."),
    ],
)  # fmt: skip
def test_a_small_dispute_of_a_customer_not_in_good_standing_waits(standing: Standing, why: str) -> None:
    """Issue 9: an overdue invoice, a past-due subscription or the fourth auto-accepted dispute in 90 days
    (the default cap is 3) sends even a 4.99 dispute to an agent; a policy may waive good standing."""
    decision = decide(BELOW_10, eur("5.94"), eur("5.94"), standing)
    assert (decision.auto, decision.why) == (False, why)
    assert decide(replace(BELOW_10, require_good_standing=False), eur("5.94"), eur("5.94"), standing).auto
    assert decide(BELOW_10, eur("5.94"), eur("5.94"), replace(GOOD, auto_accepted_recently=2)).auto


# ---- amounts on a line ---------------------------------------------------------------------------------


def test_what_is_left_to_dispute_after_credits_and_open_disputes() -> None:
    """Line 120.00 + 22.80 = 142.80; 25.00 net credited (+ 4.75 tax = 29.75); 50.00 under open dispute:
    142.80 - 29.75 - 50.00 = 63.05 left."""
    inv = invoice("120.00")
    [line] = inv.lines
    note = credited(inv, CreditRequest(position=1, amount=eur("25.00")))
    assert disputable(line, [note], eur("50.00")) == eur("63.05")
    assert disputable(line, [], eur("0.00")) == eur("142.80")


@pytest.mark.parametrize(
    ("amount", "net", "total"),
    [
        ("50.00", "42.02", "50.00"),  # net 42.02, tax 22.80 × 42.02 / 120.00 = 7.9838 -> 7.98
        ("10.00", "8.40", "10.00"),  # tax 1.596 -> 1.60
        ("9.93", "8.34", "9.92"),  # 8.34 + 1.58 = 9.92, 8.35 + 1.59 = 9.94: a cent short, never over
        ("142.80", None, "142.80"),  # the whole line: all that is left, exactly
    ],
)
def test_a_tax_included_amount_becomes_a_net_credit(amount: str, net: str | None, total: str) -> None:
    inv = invoice("120.00")
    request = credit_request(inv.lines[0], eur(amount), [], RoundingMode.HALF_UP)
    assert (request.position, None if request.amount is None else request.amount.amount_text()) == (1, net)
    assert credited(inv, request).total == eur(total)


def test_the_rest_of_a_line_already_partly_credited_is_credited_exactly() -> None:
    """After 42.02 net (50.00) was credited, 92.80 is left: disputing it all credits the remaining net
    77.98 with tax 22.80 - 7.98 = 14.82."""
    inv = invoice("120.00")
    first = credited(inv, CreditRequest(position=1, amount=eur("42.02")))
    request = credit_request(inv.lines[0], eur("92.80"), [first], RoundingMode.HALF_UP)
    assert request == CreditRequest(position=1)
    second = credited(inv, request, (first,))
    assert (second.net, second.tax, second.total) == (eur("77.98"), eur("14.82"), eur("92.80"))


def test_a_partly_credited_line_takes_the_tax_difference() -> None:
    """Credited 0.02 net before (tax 0.00); 9.93 now: nets of 8.34 give cumulative tax round(0.19 × 8.36)
    = 1.59, so 8.34 + 1.59 = 9.93 exactly."""
    inv = invoice("120.00")
    first = credited(inv, CreditRequest(position=1, amount=eur("0.02")))
    request = credit_request(inv.lines[0], eur("9.93"), [first], RoundingMode.HALF_UP)
    assert request.amount == eur("8.34")
    assert credited(inv, request, (first,)).total == eur("9.93")


def test_the_4_99_line_disputed_whole() -> None:
    """Issue 9: 4.99 + 0.95 (19 % of 4.99 = 0.9481) = 5.94; all of it credits the whole line."""
    inv = invoice("4.99")
    assert inv.lines[0].total == eur("5.94")
    request = credit_request(inv.lines[0], eur("5.94"), [], RoundingMode.HALF_UP)
    note = credited(inv, request)
    assert (note.net, note.tax, note.total) == (eur("4.99"), eur("0.95"), eur("5.94"))


def test_a_cent_that_buys_no_net_is_refused() -> None:
    """A 0.03 line taxed 0.01 (19 % of 0.03 = 0.0057), 0.01 net credited before (tax 0.00): the next cent
    of net brings the cumulative tax to round(0.01 x 2/3) = 0.01, so 0.01 cannot be credited alone."""
    inv = invoice("0.03")
    first = credited(inv, CreditRequest(position=1, amount=eur("0.01")))
    assert (inv.lines[0].total, first.total) == (eur("0.04"), eur("0.01"))
    with pytest.raises(DomainError) as error:
        credit_request(inv.lines[0], eur("0.01"), [first], RoundingMode.HALF_UP)
    assert (error.value.code, error.value.field) == ("amount_too_small", "amount")
    assert credit_request(inv.lines[0], eur("0.02"), [first], RoundingMode.HALF_UP).amount == eur("0.01")


# ---- the dispute and the report ------------------------------------------------------------------------


def test_the_dispute_on_the_wire() -> None:
    d = Dispute(tenant_id="ten_1", id="dsp_1", customer_id="cus_1", invoice_id="inv_1", line_position=2,
                amount=eur("5.94"), reason=DisputeReason.DUPLICATE, status=DisputeStatus.OPEN,
                opened_by=OpenedBy.CUSTOMER, credited=eur("0.00"), opened_at=AT, created_at=AT, updated_at=AT)  # fmt: skip
    doc = d.to_json()
    assert (doc["object"], doc["line"], doc["amount"], doc["status"], doc["opened_at"], doc["resolved_at"]) == (
        "dispute", 2, {"amount": "5.94", "currency": "EUR"}, "open", "2026-03-02T08:00:00Z", None
    )  # fmt: skip


def test_handling_hours_and_the_report_rows() -> None:
    """March, EUR: 4 opened, 1 auto (0 h), accepted after 3 h, rejected after 10 h 30 min, one open:
    share 25.0 %, median of 0, 3, 10.5 = 3.00, average 13.5 / 3 = 4.50. April, USD: 1 open, no hours."""
    assert handling_hours(AT, AT + timedelta(hours=10, minutes=30)) == Decimal("10.5")
    assert median([Decimal(3), Decimal(1), Decimal(2), Decimal(10)]) == Decimal("2.5")
    counts = {
        (0, "EUR"): MonthCounts(opened=4, auto_resolved=1, accepted=2, rejected=1, credited=eur("15.94")),
        (1, "USD"): MonthCounts(opened=1, auto_resolved=0, accepted=0, rejected=0,
                                credited=Money(Decimal(0), "USD")),
    }  # fmt: skip
    hours = {(0, "EUR"): [Decimal(0), Decimal(3), Decimal("10.5")]}
    rows = report_rows(["2026-03", "2026-04"], counts, hours)
    assert [(r["month"], r["currency"], r["opened"], r["auto_resolved_share"], r["open"], r["credited"],
             r["median_handling_hours"], r["average_handling_hours"]) for r in rows] == [
        ("2026-03", "EUR", 4, Decimal("25.0"), 1, eur("15.94"), Decimal("3.00"), Decimal("4.50")),
        ("2026-04", "USD", 1, Decimal("0.0"), 1, Money(Decimal(0), "USD"), None, None),
    ]  # fmt: skip
