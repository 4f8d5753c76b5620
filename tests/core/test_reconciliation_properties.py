"""Properties of reconciliation matching, checked with hypothesis (issue 7).

Statements are drawn against a small book (up to five customers, eight invoices, three expected payouts)
whose amounts come from a short list, so equal amounts, shared IBANs, invoices named twice and lines paying
the same invoice collide often. Each property is checked from the output and the inputs, never from the
matcher's internals.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kassa.core.money import Money
from kassa.core.reconciliation import Decision, ExpectedCredit, ExpectedKind, OpenItem, Proposal, match_lines
from kassa.core.statements import StatementLine

DAY = date(2026, 3, 1)
AMOUNTS = ("50.00", "80.00", "121.00", "171.00", "0.01", "999.99")
CUSTOMERS = (
    ("cus_a", "ACME Logistics B.V.", "ACME-7", "NL91ABNA0417164300"),
    ("cus_b", "Pixelforge Studios GmbH", None, "DE89370400440532013000"),
    ("cus_c", "Nordlicht Software GmbH", "NORD", "NL91ABNA0417164300"),  # shares ACME's IBAN
    ("cus_d", "Juniper Health AB", "JUN-1", "SE4550000000058398257466"),
    ("cus_e", "ACME Logistics Ltd", None, "GB29NWBK60161331926819"),  # a name like ACME's
)
PAYER_NAMES = ("ACME LOGISTICS", "Pixelforge Studio", "J Doe", "Nordlicht", "")


def money(text: str, currency: str = "EUR") -> Money:
    return Money(Decimal(text), currency)


@st.composite
def books(draw: st.DrawFn) -> tuple[list[OpenItem], list[ExpectedCredit]]:
    items = []
    for n in range(1, draw(st.integers(0, 8)) + 1):
        customer_id, name, reference, iban = draw(st.sampled_from(CUSTOMERS))
        items.append(
            OpenItem(
                invoice_id=f"inv_{n}",
                number=f"INV-2026-{n:05d}",
                customer_id=customer_id,
                customer_name=name,
                customer_reference=reference,
                ibans=frozenset({iban}),
                remaining=money(draw(st.sampled_from(AMOUNTS)), draw(st.sampled_from(("EUR", "EUR", "USD")))),
                due_date=DAY + timedelta(days=draw(st.integers(-10, 30))),
            )
        )
    expected = [
        ExpectedCredit(
            id=f"po_{n}",
            kind=draw(st.sampled_from(ExpectedKind)),
            ref=f"po_{n}XyZ",
            amount=money(draw(st.sampled_from(AMOUNTS))),
            expected_on=DAY + timedelta(days=draw(st.integers(-5, 5))),
        )
        for n in range(1, draw(st.integers(0, 3)) + 1)
    ]
    return items, expected


WORDS = st.sampled_from(
    ["INV-2026-00001", "inv 2026 2", "INV202600003", "2026/00004", "INV-2026-00005 INV-2026-00006", "ACME-7",
     "NORD", "po_1XyZ", "PO_2XYZ", "2026-03-01", "thanks", "INV 2026 7", "INV-2026-00008", "12"]
)  # fmt: skip


@st.composite
def statements(draw: st.DrawFn) -> list[StatementLine]:
    lines = []
    for n in range(draw(st.integers(0, 10))):
        cents = draw(
            st.one_of(
                st.sampled_from(AMOUNTS).map(lambda t: int(Decimal(t) * 100)),
                st.integers(-50_000, 100_000),
            )
        )
        lines.append(
            StatementLine(
                booked_on=DAY + timedelta(days=draw(st.integers(-5, 20))),
                amount=Money.from_minor_units(cents, "EUR"),
                reference=" ".join(draw(st.lists(WORDS, max_size=3))) or None,
                description=draw(st.one_of(st.none(), WORDS)),
                counterparty_name=draw(st.sampled_from(PAYER_NAMES)) or None,
                counterparty_iban=draw(st.one_of(st.none(), st.sampled_from([c[3] for c in CUSTOMERS]))),
                key=f"l{n}",
            )
        )
    return lines


def _paid(proposals: list[Proposal]) -> Counter[str]:
    paid: Counter[str] = Counter()
    for p in proposals:
        for a in p.allocations:
            paid[a.invoice_id] += int(a.amount.amount * 100)
    return paid


@settings(max_examples=300, deadline=None)
@given(books(), statements())
def test_allocations_stay_within_what_each_invoice_owes(
    book: tuple[list[OpenItem], list[ExpectedCredit]], lines: list[StatementLine]
) -> None:
    items, expected = book
    by_id = {i.invoice_id: i for i in items}
    proposals = match_lines(lines, items, expected)
    for p in proposals:
        for a in p.allocations:
            item = by_id[a.invoice_id]
            assert item.customer_id == p.customer_id
            assert a.amount.currency == item.remaining.currency == p.amount.currency
            assert Decimal(0) < a.amount.amount <= item.remaining.amount
    for invoice_id, cents in _paid(proposals).items():
        assert cents <= int(by_id[invoice_id].remaining.amount * 100)


@settings(max_examples=300, deadline=None)
@given(books(), statements())
def test_a_customer_proposal_accounts_for_every_cent_of_the_line(
    book: tuple[list[OpenItem], list[ExpectedCredit]], lines: list[StatementLine]
) -> None:
    proposals = match_lines(lines, *book)
    for line, p in zip(lines, proposals, strict=True):
        if p.customer_id is not None:
            total = sum((a.amount for a in p.allocations), p.unapplied)
            assert total == line.amount
            assert p.expected_id is None
        else:
            assert (p.allocations, p.unapplied.amount) == ((), Decimal(0))
    matched = [p.expected_id for p in proposals if p.expected_id is not None]
    assert len(matched) == len(set(matched))


@settings(max_examples=300, deadline=None)
@given(
    books(), statements(), st.sampled_from(["0.50", "0.90", "1.00"]), st.sampled_from(["0", "0.15", "0.5"])
)
def test_decisions_keep_their_rules(
    book: tuple[list[OpenItem], list[ExpectedCredit]], lines: list[StatementLine], threshold: str, margin: str
) -> None:
    proposals = match_lines(lines, *book, auto_threshold=Decimal(threshold), margin=Decimal(margin))
    assert [p.line_key for p in proposals] == [line.key for line in lines]
    for line, p in zip(lines, proposals, strict=True):
        assert p.amount == line.amount
        assert Decimal(0) <= p.confidence <= Decimal(1)
        assert p.confidence == p.confidence.quantize(Decimal("0.01"))
        assert all(a.confidence <= p.confidence for a in p.alternatives)
        if line.amount.amount <= 0:
            assert (p.decision, p.queued) == (Decision.UNMATCHED, False)
        if p.decision is Decision.APPLY:
            assert p.confidence >= Decimal(threshold)
            assert p.allocations or p.expected_id
            if p.alternatives:
                assert p.confidence - p.alternatives[0].confidence >= Decimal(margin)
        if p.decision is Decision.UNMATCHED:
            assert (p.customer_id, p.expected_id, p.alternatives, p.confidence) == (
                None,
                None,
                (),
                Decimal(0),
            )


@settings(max_examples=200, deadline=None)
@given(books(), statements())
def test_the_same_statement_gives_the_same_proposals_and_money_out_changes_nothing(
    book: tuple[list[OpenItem], list[ExpectedCredit]], lines: list[StatementLine]
) -> None:
    proposals = match_lines(lines, *book)
    assert match_lines(lines, *book) == proposals
    credits = [line for line in lines if line.amount.amount > 0]
    assert match_lines(credits, *book) == [p for p in proposals if p.amount.amount > 0]
