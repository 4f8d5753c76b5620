"""Properties of the general ledger, checked with hypothesis: every built entry balances and moves exactly
the amounts it was given, and over any sequence of invoices, credit notes, voids, write-offs and credit
grants the receivable, the customer credit balances, revenue, tax, bad debt and grants accounts equal what
a plain model of those documents says they must be."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from kassa.core.errors import DomainError
from kassa.core.ledger import (
    ChartOfAccounts,
    JournalEntry,
    Role,
    Side,
    balances,
    chart_to_json,
    credit_grant_entry,
    credit_note_entry,
    default_chart,
    invoice_entry,
    journal_entry,
    parse_chart,
    reversing,
    uncollectible_entry,
    void_entry,
)
from kassa.core.money import Money

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CUR = "EUR"


def _routed_chart() -> ChartOfAccounts:
    doc = chart_to_json(default_chart())
    doc["accounts"] += [
        {"code": "4100", "name": "Support revenue", "type": "revenue"},
        {"code": "2110", "name": "VAT payable AT", "type": "liability"},
    ]
    doc["overrides"] = {"revenue:support": "4100", "tax_payable:AT": "2110"}
    return parse_chart(doc)


DEFAULT, ROUTED = default_chart(), _routed_chart()
REVENUE_ACCOUNTS = ("4000", "4100")
TAX_ACCOUNTS = ("2100", "2110")


def m(units: int) -> Money:
    return Money.from_minor_units(units, CUR)


def _nets(entry: JournalEntry) -> dict[str, int]:
    """Debit-positive minor units per account, summed here rather than by the code under test."""
    nets: Counter[str] = Counter()
    for posting in entry.postings:
        units = posting.amount.to_minor_units()
        assert units > 0
        nets[posting.account] += units if posting.side is Side.DEBIT else -units
    return dict(nets)


def _expected(amounts: list[tuple[str, int]]) -> dict[str, int]:
    nets: Counter[str] = Counter()
    for account, units in amounts:
        nets[account] += units
    return {account: units for account, units in nets.items() if units}


def _assert_balanced(entry: JournalEntry) -> None:
    debit = sum(p.amount.to_minor_units() for p in entry.postings if p.side is Side.DEBIT)
    credit = sum(p.amount.to_minor_units() for p in entry.postings if p.side is Side.CREDIT)
    assert debit == credit > 0
    assert all(p.amount.currency == entry.currency for p in entry.postings)


units = st.integers(-50_000, 200_000)
keyed_units = st.dictionaries(st.sampled_from(["app", "support", "api"]), units, max_size=3)
keyed_taxes = st.dictionaries(st.sampled_from(["DE", "AT", "FR"]), units, max_size=3)


@settings(max_examples=300)
@given(
    routed=st.booleans(),
    revenue=keyed_units,
    taxes=keyed_taxes,
    discount=st.integers(0, 100_000),
    applied_share=st.integers(0, 100),
)
def test_every_invoice_entry_balances_and_moves_what_it_was_given(
    routed: bool, revenue: dict[str, int], taxes: dict[str, int], discount: int, applied_share: int
) -> None:
    """Any mix of charges, proration credits, discounts, taxes and credit applied posts one balanced entry
    whose net per account is exactly the amounts given, routed by the chart's overrides."""
    chart = ROUTED if routed else DEFAULT
    total = sum(revenue.values()) - discount + sum(taxes.values())
    applied = total * applied_share // 100 if total > 0 else total
    due = total - applied
    amounts = [("1100", due), ("2200", applied), ("4900", discount)]
    amounts += [(chart.account(Role.REVENUE, k).code, -v) for k, v in revenue.items()]
    amounts += [(chart.account(Role.TAX_PAYABLE, k).code, -v) for k, v in taxes.items()]
    kwargs: dict[str, Any] = {
        "tenant_id": "t",
        "id": "je",
        "posted_at": T0,
        "invoice_id": "inv",
        "number": "INV-1",
        "currency": CUR,
        "revenue": {k: m(v) for k, v in revenue.items()},
        "discounts": m(discount),
        "taxes": {k: m(v) for k, v in taxes.items()},
        "credit_applied": m(applied),
        "amount_due": m(due),
    }
    if not _expected(amounts):
        with pytest.raises(DomainError) as caught:
            invoice_entry(chart, **kwargs)
        assert caught.value.code == "empty_entry"
        return
    entry = invoice_entry(chart, **kwargs)
    _assert_balanced(entry)
    assert _nets(entry) == _expected(amounts)
    reversal = reversing(entry, id="je_r", posted_at=T0, description="undo")
    _assert_balanced(reversal)
    assert {k: -v for k, v in _nets(reversal).items()} == _nets(entry)


@settings(max_examples=300)
@given(
    revenue=keyed_units, taxes=keyed_taxes, discount=st.integers(0, 100_000), to_ar_share=st.integers(0, 100)
)
def test_every_credit_note_entry_balances_and_moves_what_it_was_given(
    revenue: dict[str, int], taxes: dict[str, int], discount: int, to_ar_share: int
) -> None:
    """A credit note of any positive total splits it between the receivable and the credit balance; its
    entry balances and nets exactly to the amounts given (revenue and tax debited, discounts credited)."""
    total = sum(revenue.values()) - discount + sum(taxes.values())
    if total <= 0:
        return
    to_ar = total * to_ar_share // 100
    entry = credit_note_entry(
        ROUTED,
        tenant_id="t",
        id="je",
        posted_at=T0,
        credit_note_id="cn",
        number="CN-1",
        currency=CUR,
        revenue={k: m(v) for k, v in revenue.items()},
        discounts=m(discount),
        taxes={k: m(v) for k, v in taxes.items()},
        to_receivable=m(to_ar),
        to_credit_balance=m(total - to_ar),
    )
    _assert_balanced(entry)
    amounts = [("1100", -to_ar), ("2200", -(total - to_ar)), ("4900", -discount)]
    amounts += [("4100" if k == "support" else "4000", v) for k, v in revenue.items()]
    amounts += [("2110" if k == "AT" else "2100", v) for k, v in taxes.items()]
    assert _nets(entry) == _expected(amounts)


@settings(max_examples=300)
@given(
    amounts=st.lists(st.tuples(st.sampled_from(["1000", "1100", "2200", "4000"]), units), max_size=8),
    balance_it=st.booleans(),
)
def test_journal_entry_balances_or_is_refused(amounts: list[tuple[str, int]], balance_it: bool) -> None:
    """Signed amounts that sum to zero become an entry netting to exactly those sums per account;
    anything else is refused as unbalanced (or empty, when every account nets to zero)."""
    if balance_it:
        amounts = [*amounts, ("3000", -sum(u for _, u in amounts))]
    given_amounts = [(a, m(u)) for a, u in amounts]
    build: dict[str, Any] = {
        "tenant_id": "t",
        "id": "je",
        "posted_at": T0,
        "source_type": "manual",
        "source_id": "x",
        "description": "d",
        "currency": CUR,
    }
    if sum(u for _, u in amounts) != 0:
        with pytest.raises(DomainError) as caught:
            journal_entry(**build, amounts=given_amounts)
        assert caught.value.code == "unbalanced_entry"
    elif not _expected(amounts):
        with pytest.raises(DomainError) as caught:
            journal_entry(**build, amounts=given_amounts)
        assert caught.value.code == "empty_entry"
    else:
        entry = journal_entry(**build, amounts=given_amounts)
        _assert_balanced(entry)
        assert _nets(entry) == _expected(amounts)
        sides = [p.side for p in entry.postings]
        assert sides == sorted(sides, key=lambda side: side is Side.CREDIT)  # debits first


# ---- a sequence of documents against a model -----------------------------------------------------------


@dataclass
class InvoiceModel:
    entry: JournalEntry
    number: str
    applied: int  # credit applied (negative: credit granted by a negative invoice)
    net_revenue: int  # revenue less discounts
    tax: int
    open: int  # what the customer still owes on it
    creditable: int  # what credit notes may still take off it
    credited: bool = False
    status: str = "open"  # open, void, uncollectible


class LedgerMachine(RuleBasedStateMachine):
    """Posts documents in random order and keeps, beside the ledger, the plain figures each account
    must show: open invoice balances, the customer's credit balance, revenue, tax, write-offs, grants."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[JournalEntry] = []
        self.invoices: list[InvoiceModel] = []
        self.grants = 0
        self.credits_to_balance = 0
        self.net_revenue_credited = 0
        self.tax_credited = 0
        self.written_off = 0

    def _post(self, entry: JournalEntry) -> JournalEntry:
        _assert_balanced(entry)
        self.entries.append(entry)
        return entry

    def _header(self) -> dict[str, Any]:
        n = len(self.entries)
        return {"tenant_id": "t", "id": f"je_{n}", "posted_at": T0 + timedelta(hours=n)}

    def owed(self) -> int:
        applied = sum(i.applied for i in self.invoices if i.status != "void")
        return self.grants + self.credits_to_balance - applied

    @rule(
        app=st.integers(-20_000, 100_000),
        support=st.integers(0, 50_000),
        discount_pct=st.integers(0, 100),
        rate=st.sampled_from([0, 7, 19]),
        jurisdiction=st.sampled_from(["DE", "AT"]),
        use_credit=st.booleans(),
    )
    def finalize_invoice(
        self, app: int, support: int, discount_pct: int, rate: int, jurisdiction: str, use_credit: bool
    ) -> None:
        if app == support == 0:
            return  # nothing to post: the service posts no entry for an invoice that moves nothing
        discount = max(0, app + support) * discount_pct // 100
        net = app + support - discount
        tax_units = Money.rounded(m(net).amount * rate / 100, CUR).to_minor_units()
        total = net + tax_units
        applied = (min(max(self.owed(), 0), total) if use_credit else 0) if total > 0 else total
        number = f"INV-{len(self.invoices) + 1}"
        entry = invoice_entry(
            ROUTED,
            **self._header(),
            invoice_id=f"inv_{len(self.invoices)}",
            number=number,
            currency=CUR,
            revenue={"app": m(app), "support": m(support)},
            discounts=m(discount),
            taxes={jurisdiction: m(tax_units)},
            credit_applied=m(applied),
            amount_due=m(total - applied),
        )
        self._post(entry)
        self.invoices.append(
            InvoiceModel(
                entry=entry,
                number=number,
                applied=applied,
                net_revenue=net,
                tax=tax_units,
                open=total - applied,
                creditable=max(total, 0),
            )
        )

    def _pick(self, index: int, allowed: Callable[[InvoiceModel], bool]) -> InvoiceModel | None:
        candidates = [i for i in self.invoices if allowed(i)]
        return candidates[index % len(candidates)] if candidates else None

    @rule(index=st.integers(0, 1000), share=st.integers(1, 100), to_ar_pct=st.integers(0, 100))
    def credit_note(self, index: int, share: int, to_ar_pct: int) -> None:
        invoice = self._pick(index, lambda i: i.status == "open" and i.creditable > 0)
        if invoice is None:
            return
        amount = max(1, invoice.creditable * share // 100)
        tax, discount = amount * 16 // 100, amount // 10
        revenue = amount - tax + discount
        to_ar = min(invoice.open, amount) * to_ar_pct // 100
        self._post(
            credit_note_entry(
                ROUTED,
                **self._header(),
                credit_note_id=f"cn_{len(self.entries)}",
                number=f"CN-{len(self.entries)}",
                currency=CUR,
                revenue={"support" if index % 2 else "app": m(revenue)},
                discounts=m(discount),
                taxes={"AT" if index % 3 else "DE": m(tax)},
                to_receivable=m(to_ar),
                to_credit_balance=m(amount - to_ar),
            )
        )
        invoice.open -= to_ar
        invoice.creditable -= amount
        invoice.credited = True
        self.credits_to_balance += amount - to_ar
        self.net_revenue_credited += revenue - discount
        self.tax_credited += tax

    @rule(index=st.integers(0, 1000))
    def void_invoice(self, index: int) -> None:
        # Only an invoice nothing else has touched is voided; the rest are corrected by credit notes.
        invoice = self._pick(index, lambda i: i.status == "open" and not i.credited)
        if invoice is None:
            return
        self._post(
            void_entry(
                invoice.entry,
                id=f"je_{len(self.entries)}",
                posted_at=T0 + timedelta(hours=len(self.entries)),
                number=invoice.number,
            )
        )
        invoice.status, invoice.open = "void", 0

    @rule(index=st.integers(0, 1000))
    def write_off(self, index: int) -> None:
        invoice = self._pick(index, lambda i: i.status == "open" and i.open > 0)
        if invoice is None:
            return
        self._post(
            uncollectible_entry(
                ROUTED,
                **self._header(),
                invoice_id=invoice.entry.source_id,
                number=invoice.number,
                currency=CUR,
                amount=m(invoice.open),
            )
        )
        self.written_off += invoice.open
        invoice.status, invoice.open = "uncollectible", 0

    @rule(amount=st.integers(1, 20_000))
    def grant_credit(self, amount: int) -> None:
        self._post(
            credit_grant_entry(
                ROUTED,
                **self._header(),
                grant_id=f"cg_{len(self.entries)}",
                currency=CUR,
                amount=m(amount),
                reason="goodwill",
            )
        )
        self.grants += amount

    def _balance(self, *accounts: str) -> int:
        result = balances(self.entries)
        return sum(result.get((a, CUR), m(0)).to_minor_units() for a in accounts)

    @invariant()
    def receivable_is_the_sum_of_open_invoice_balances(self) -> None:
        assert self._balance("1100") == sum(i.open for i in self.invoices)

    @invariant()
    def customer_credit_is_grants_plus_credits_to_balance_less_credit_applied(self) -> None:
        assert -self._balance("2200") == self.owed()

    @invariant()
    def revenue_tax_write_offs_and_grants_match_the_documents(self) -> None:
        live = [i for i in self.invoices if i.status != "void"]
        assert (
            -self._balance(*REVENUE_ACCOUNTS, "4900")
            == sum(i.net_revenue for i in live) - self.net_revenue_credited
        )
        assert -self._balance(*TAX_ACCOUNTS) == sum(i.tax for i in live) - self.tax_credited
        assert self._balance("6200") == self.written_off
        assert self._balance("6100") == self.grants

    @invariant()
    def the_whole_ledger_balances(self) -> None:
        assert sum(v.to_minor_units() for v in balances(self.entries).values()) == 0


LedgerMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_ledger_sequences = LedgerMachine.TestCase
