"""Worked examples of the general ledger: each builder's exact postings, reversals, balances and the
chart of accounts (tenant-configurable, validated whole)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from kassa.core.errors import DomainError
from kassa.core.ledger import (
    Account,
    AccountType,
    ChartOfAccounts,
    JournalEntry,
    Posting,
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

T = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CHART = default_chart()


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def cad(text: str) -> Money:
    return Money(Decimal(text), "CAD")


def dr(account: str, money: Money) -> Posting:
    return Posting(account=account, side=Side.DEBIT, amount=money)


def cr(account: str, money: Money) -> Posting:
    return Posting(account=account, side=Side.CREDIT, amount=money)


def _chart_doc(**changes: Any) -> dict[str, Any]:
    doc = chart_to_json(CHART)
    doc.update(changes)
    return doc


def _german_invoice(chart: ChartOfAccounts = CHART) -> JournalEntry:
    # app 100.00 + support 50.00, 10 % off (15.00), 19 % VAT on 135.00 (25.65): 160.65, of which the
    # customer's credit balance pays 5.00, so 155.65 is due.
    return invoice_entry(
        chart,
        tenant_id="ten_1",
        id="je_1",
        posted_at=T,
        invoice_id="inv_1",
        number="INV-2026-00001",
        currency="EUR",
        revenue={"app": eur("100.00"), "support": eur("50.00")},
        discounts=eur("15.00"),
        taxes={"DE": eur("25.65")},
        credit_applied=eur("5.00"),
        amount_due=eur("155.65"),
    )


# ---- invoices ------------------------------------------------------------------------------------------


def test_invoice_with_two_products_discount_vat_and_credit_applied() -> None:
    """Dr AR 155.65 + Dr customer credit 5.00 + Dr discounts 15.00 = Cr revenue 150.00 (both products on
    4000, netted into one posting) + Cr VAT 25.65; debits first, then credits."""
    entry = _german_invoice()
    assert entry.postings == (
        dr("1100", eur("155.65")),
        dr("2200", eur("5.00")),
        dr("4900", eur("15.00")),
        cr("4000", eur("150.00")),
        cr("2100", eur("25.65")),
    )
    assert (entry.source_type, entry.source_id, entry.description) == (
        "invoice",
        "inv_1",
        "Invoice INV-2026-00001",
    )
    assert entry.reverses is None
    assert entry.debits() == entry.credits() == eur("175.65")


def test_override_routes_one_products_revenue_to_its_own_account() -> None:
    """With revenue:support -> 4100, the same invoice credits 4000 with 100.00 and 4100 with 50.00."""
    chart = parse_chart(
        _chart_doc(
            accounts=[
                *chart_to_json(CHART)["accounts"],
                {"code": "4100", "name": "Support", "type": "revenue"},
            ],
            overrides={"revenue:support": "4100"},
        )
    )
    assert chart.account(Role.REVENUE, "support").code == "4100"
    assert chart.account(Role.REVENUE, "app").code == "4000"
    assert chart.account(Role.REVENUE).code == "4000"
    entry = _german_invoice(chart)
    assert entry.postings[3:] == (
        cr("4000", eur("100.00")),
        cr("4100", eur("50.00")),
        cr("2100", eur("25.65")),
    )


def test_reverse_charge_invoice_has_no_tax_posting() -> None:
    """A reverse-charge invoice (0.00 tax) posts Dr AR 1000.00, Cr revenue 1000.00: the zero tax is dropped."""
    entry = invoice_entry(
        CHART,
        tenant_id="ten_1",
        id="je_2",
        posted_at=T,
        invoice_id="inv_2",
        number="INV-2026-00002",
        currency="EUR",
        revenue={"app": eur("1000.00")},
        discounts=eur("0.00"),
        taxes={"EU-RC": eur("0.00")},
        credit_applied=eur("0.00"),
        amount_due=eur("1000.00"),
    )
    assert entry.postings == (dr("1100", eur("1000.00")), cr("4000", eur("1000.00")))


def test_canadian_invoice_posts_gst_and_qst_to_two_tax_accounts() -> None:
    """200.00 CAD + GST 5 % (10.00, account 2110) + QST 9.975 % (19.95, account 2120) = 229.95 due."""
    doc = chart_to_json(CHART)
    doc["accounts"] += [
        {"code": "2110", "name": "GST/HST payable", "type": "liability"},
        {"code": "2120", "name": "QST payable", "type": "liability"},
    ]
    doc["overrides"] = {"tax_payable:CA-GST": "2110", "tax_payable:CA-QC-QST": "2120"}
    entry = invoice_entry(
        parse_chart(doc),
        tenant_id="ten_1",
        id="je_3",
        posted_at=T,
        invoice_id="inv_3",
        number="INV-2026-00003",
        currency="CAD",
        revenue={"app": cad("200.00")},
        discounts=cad("0.00"),
        taxes={"CA-GST": cad("10.00"), "CA-QC-QST": cad("19.95")},
        credit_applied=cad("0.00"),
        amount_due=cad("229.95"),
    )
    assert entry.currency == "CAD"
    assert entry.postings == (
        dr("1100", cad("229.95")),
        cr("4000", cad("200.00")),
        cr("2110", cad("10.00")),
        cr("2120", cad("19.95")),
    )


def test_negative_invoice_credits_the_customer_balance() -> None:
    """A proration credit of -30.00 and a 10.00 charge with 19 % VAT total -23.80: nothing is due and the
    excess goes to the credit balance (credit_applied -23.80): Dr revenue 20.00, Dr VAT 3.80, Cr 2200 23.80."""
    entry = invoice_entry(
        CHART,
        tenant_id="ten_1",
        id="je_4",
        posted_at=T,
        invoice_id="inv_4",
        number="INV-2026-00004",
        currency="EUR",
        revenue={"app": eur("-30.00"), "support": eur("10.00")},
        discounts=eur("0.00"),
        taxes={"DE": eur("-3.80")},
        credit_applied=eur("-23.80"),
        amount_due=eur("0.00"),
    )
    assert entry.postings == (dr("4000", eur("20.00")), dr("2100", eur("3.80")), cr("2200", eur("23.80")))


def _invoice_kwargs(**changes: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tenant_id": "ten_1",
        "id": "je_9",
        "posted_at": T,
        "invoice_id": "inv_9",
        "number": "INV-9",
        "currency": "EUR",
        "revenue": {"app": eur("100.00")},
        "discounts": eur("0.00"),
        "taxes": {"DE": eur("19.00")},
        "credit_applied": eur("0.00"),
        "amount_due": eur("119.00"),
    }
    return kwargs | changes


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"amount_due": eur("118.99")}, "unbalanced_entry", "amount_due"),
        ({"amount_due": eur("119.001")}, "not_rounded", "amount_due"),
        ({"taxes": {"DE": Money(Decimal("19.00"), "USD")}}, "currency_mismatch", "taxes.DE"),
        ({"discounts": eur("-1.00"), "amount_due": eur("120.00")}, "invalid_amount", "discounts"),
        ({"amount_due": eur("-1.00"), "credit_applied": eur("120.00")}, "invalid_amount", "amount_due"),
        ({"amount_due": eur("120.00"), "credit_applied": eur("-1.00")}, "invalid_amount", "credit_applied"),
        ({"revenue": {}, "taxes": {}, "amount_due": eur("0.00")}, "empty_entry", "amounts"),
        ({"posted_at": datetime(2026, 3, 1)}, "invalid_timestamp", "posted_at"),  # noqa: DTZ001
        ({"currency": "XYZ"}, "unknown_currency", "currency"),
    ],
)
def test_invoice_entry_refuses_bad_input(changes: dict[str, Any], code: str, field: str) -> None:
    """Totals that do not add up, unrounded or foreign amounts, negative discounts or amounts due, credit
    granted while something is due, an invoice that moves nothing and a naive time are refused."""
    with pytest.raises(DomainError) as caught:
        invoice_entry(CHART, **_invoice_kwargs(**changes))
    assert (caught.value.code, caught.value.field) == (code, field)


# ---- credit notes, grants, voids, write-offs -----------------------------------------------------------


def test_credit_note_partly_reduces_the_receivable_and_partly_goes_to_the_balance() -> None:
    """Crediting support (50.00, less its 5.00 discount, + 8.55 VAT = 53.55): 40.00 off the receivable and
    13.55 to the credit balance: Dr revenue 50.00, Dr VAT 8.55 = Cr discounts 5.00 + Cr AR 40.00 + Cr 2200 13.55."""
    entry = credit_note_entry(
        CHART,
        tenant_id="ten_1",
        id="je_5",
        posted_at=T + timedelta(days=3),
        credit_note_id="cn_1",
        number="CN-2026-00001",
        currency="EUR",
        revenue={"support": eur("50.00")},
        discounts=eur("5.00"),
        taxes={"DE": eur("8.55")},
        to_receivable=eur("40.00"),
        to_credit_balance=eur("13.55"),
    )
    assert entry.postings == (
        dr("4000", eur("50.00")),
        dr("2100", eur("8.55")),
        cr("4900", eur("5.00")),
        cr("1100", eur("40.00")),
        cr("2200", eur("13.55")),
    )
    assert (entry.source_type, entry.source_id, entry.description) == (
        "credit_note",
        "cn_1",
        "Credit note CN-2026-00001",
    )


def test_credit_note_that_does_not_add_up_is_refused() -> None:
    """53.55 credited but only 53.54 allocated to the receivable and the balance: unbalanced_entry."""
    with pytest.raises(DomainError) as caught:
        credit_note_entry(
            CHART,
            tenant_id="ten_1",
            id="je_5",
            posted_at=T,
            credit_note_id="cn_1",
            number="CN-1",
            currency="EUR",
            revenue={"support": eur("50.00")},
            discounts=eur("5.00"),
            taxes={"DE": eur("8.55")},
            to_receivable=eur("40.00"),
            to_credit_balance=eur("13.54"),
        )
    assert (caught.value.code, caught.value.field) == ("unbalanced_entry", "to_receivable")


def test_credit_grant_is_an_expense_owed_to_the_customer() -> None:
    """A 25.00 goodwill credit: Dr credit grants (6100) 25.00, Cr customer credit (2200) 25.00."""
    entry = credit_grant_entry(
        CHART,
        tenant_id="ten_1",
        id="je_6",
        posted_at=T,
        grant_id="cg_1",
        currency="EUR",
        amount=eur("25.00"),
        reason="Outage on 3 March",
    )
    assert entry.postings == (dr("6100", eur("25.00")), cr("2200", eur("25.00")))
    assert (entry.source_type, entry.description) == ("credit_grant", "Credit grant: Outage on 3 March")
    with pytest.raises(DomainError) as caught:
        credit_grant_entry(
            CHART,
            tenant_id="ten_1",
            id="je_7",
            posted_at=T,
            grant_id="cg_2",
            currency="EUR",
            amount=eur("0.00"),
            reason="x",
        )
    assert (caught.value.code, caught.value.field) == ("invalid_amount", "amount")


def test_void_is_the_reversal_of_the_invoice_entry() -> None:
    """Voiding swaps every side of the invoice's entry, points at it, and together they leave every account
    at zero (the 5.00 of credit applied returns to the customer's balance)."""
    original = _german_invoice()
    later = T + timedelta(days=1)
    void = void_entry(original, id="je_8", posted_at=later, number="INV-2026-00001")
    assert void.postings == (
        dr("4000", eur("150.00")),
        dr("2100", eur("25.65")),
        cr("1100", eur("155.65")),
        cr("2200", eur("5.00")),
        cr("4900", eur("15.00")),
    )
    assert (void.reverses, void.source_type, void.source_id) == ("je_1", "invoice_void", "inv_1")
    assert (void.id, void.posted_at, void.description) == ("je_8", later, "Void of invoice INV-2026-00001")
    assert set(balances([original, void]).values()) == {eur("0.00")}
    assert len(balances([original, void])) == 5


def test_void_needs_an_invoice_entry_and_a_reversal_cannot_precede_its_entry() -> None:
    """A credit grant cannot be voided as an invoice; a reversal dated before its entry is refused."""
    grant = credit_grant_entry(
        CHART,
        tenant_id="t",
        id="je_1",
        posted_at=T,
        grant_id="g",
        currency="EUR",
        amount=eur("1.00"),
        reason="r",
    )
    with pytest.raises(DomainError) as caught:
        void_entry(grant, id="je_2", posted_at=T, number="INV-1")
    assert (caught.value.code, caught.value.field) == ("not_an_invoice_entry", "entry")
    with pytest.raises(DomainError) as caught:
        reversing(grant, id="je_2", posted_at=T - timedelta(seconds=1), description="oops")
    assert (caught.value.code, caught.value.field) == ("reversal_before_entry", "posted_at")


def test_uncollectible_invoice_is_written_off_to_bad_debt() -> None:
    """Writing off the 155.65 still open: Dr bad debt (6200) 155.65, Cr AR (1100) 155.65."""
    entry = uncollectible_entry(
        CHART,
        tenant_id="ten_1",
        id="je_9",
        posted_at=T + timedelta(days=90),
        invoice_id="inv_1",
        number="INV-2026-00001",
        currency="EUR",
        amount=eur("155.65"),
    )
    assert entry.postings == (dr("6200", eur("155.65")), cr("1100", eur("155.65")))
    assert (entry.source_type, entry.source_id) == ("invoice_uncollectible", "inv_1")
    assert entry.description == "Invoice INV-2026-00001 uncollectible"


# ---- journal entries and balances ----------------------------------------------------------------------


def _entry(amounts: list[tuple[str, Money]], currency: str = "EUR") -> JournalEntry:
    return journal_entry(
        tenant_id="ten_1",
        id="je_1",
        posted_at=T,
        source_type="manual",
        source_id="m_1",
        description="Manual",
        currency=currency,
        amounts=amounts,
    )


def test_journal_entry_nets_same_account_amounts_and_drops_zero_nets() -> None:
    """1100 +10.00 and -4.00 net to a 6.00 debit; 2200 +1.00 and -1.00 vanish; 4000 -6.00 is the credit."""
    entry = _entry(
        [
            ("1100", eur("10.00")),
            ("2200", eur("1.00")),
            ("4000", eur("-6.00")),
            ("1100", eur("-4.00")),
            ("2200", eur("-1.00")),
        ]
    )
    assert entry.postings == (dr("1100", eur("6.00")), cr("4000", eur("6.00")))


@pytest.mark.parametrize(
    ("amounts", "code", "field"),
    [
        ([("1100", eur("10.00")), ("4000", eur("-9.99"))], "unbalanced_entry", "amounts"),
        ([("1100", eur("10.00")), ("1100", eur("-10.00"))], "empty_entry", "amounts"),
        ([], "empty_entry", "amounts"),
        ([("1100", eur("1.005")), ("4000", eur("-1.005"))], "not_rounded", "amounts.0"),
        ([("1100", eur("1.00")), ("4000", Money(Decimal("-1.00"), "USD"))], "currency_mismatch", "amounts.1"),
        ([("", eur("1.00")), ("4000", eur("-1.00"))], "invalid_account", "amounts.0"),
    ],
)
def test_journal_entry_refuses_what_does_not_balance(
    amounts: list[tuple[str, Money]], code: str, field: str
) -> None:
    """Debits must equal credits, something must move, amounts are rounded and in the entry's currency."""
    with pytest.raises(DomainError) as caught:
        _entry(amounts)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_entries_built_directly_are_checked_too() -> None:
    """The JournalEntry constructor refuses one-sided postings, a posting of zero and a foreign posting."""
    base: dict[str, Any] = {
        "tenant_id": "t",
        "id": "je",
        "posted_at": T,
        "source_type": "manual",
        "source_id": "m",
        "description": "d",
        "currency": "EUR",
    }
    with pytest.raises(DomainError) as caught:
        JournalEntry(**base, postings=(dr("1100", eur("1.00")), dr("4000", eur("1.00"))))
    assert caught.value.code == "unbalanced_entry"
    with pytest.raises(DomainError) as caught:
        Posting(account="1100", side=Side.DEBIT, amount=eur("0.00"))
    assert (caught.value.code, caught.value.field) == ("invalid_amount", "amount")
    usd = Money(Decimal("1.00"), "USD")
    with pytest.raises(DomainError) as caught:
        JournalEntry(**base, postings=(dr("1100", usd), cr("4000", usd)))
    assert (caught.value.code, caught.value.field) == ("currency_mismatch", "postings.0.amount")


def test_posted_at_is_kept_in_utc_and_to_json_spells_amounts_as_text() -> None:
    """An instant given at +02:00 is stored as the same instant in UTC; amounts go out as strings."""
    entry = journal_entry(
        tenant_id="ten_1",
        id="je_1",
        posted_at=datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2))),
        source_type="manual",
        source_id="m_1",
        description="Opening",
        currency="JPY",
        amounts=[("1000", Money(Decimal(1200), "JPY")), ("3000", Money(Decimal(-1200), "JPY"))],
    )
    assert entry.posted_at == T and entry.posted_at.tzinfo == UTC
    assert entry.to_json() == {
        "id": "je_1",
        "tenant_id": "ten_1",
        "posted_at": "2026-03-01T09:30:00+00:00",
        "source_type": "manual",
        "source_id": "m_1",
        "description": "Opening",
        "currency": "JPY",
        "reverses": None,
        "postings": [
            {
                "account": "1000",
                "side": "debit",
                "amount": {"amount": "1200", "currency": "JPY"},
                "memo": None,
            },
            {
                "account": "3000",
                "side": "credit",
                "amount": {"amount": "1200", "currency": "JPY"},
                "memo": None,
            },
        ],
    }


def test_balances_are_debit_positive_per_account_and_currency() -> None:
    """Invoice (AR +155.65) then write-off of 100.00: AR 55.65; revenue -150.00 (a credit balance); the USD
    entry on 1100 keeps its own balance."""
    invoice = _german_invoice()
    write_off = uncollectible_entry(
        CHART,
        tenant_id="ten_1",
        id="je_2",
        posted_at=T,
        invoice_id="inv_1",
        number="INV-1",
        currency="EUR",
        amount=eur("100.00"),
    )
    usd = _entry([("1100", Money(Decimal("7.00"), "USD")), ("4000", Money(Decimal("-7.00"), "USD"))], "USD")
    result = balances([invoice, write_off, usd])
    assert result == {
        ("1100", "EUR"): eur("55.65"),
        ("2200", "EUR"): eur("5.00"),
        ("4900", "EUR"): eur("15.00"),
        ("4000", "EUR"): eur("-150.00"),
        ("2100", "EUR"): eur("-25.65"),
        ("6200", "EUR"): eur("100.00"),
        ("1100", "USD"): Money(Decimal("7.00"), "USD"),
        ("4000", "USD"): Money(Decimal("-7.00"), "USD"),
    }


# ---- the chart of accounts -----------------------------------------------------------------------------


def test_default_chart_numbers_and_normal_sides() -> None:
    """The default chart's roles, and each account's normal side (the contra-revenue discounts: debit)."""
    codes = {role: CHART.account(role).code for role in Role}
    assert codes == {
        Role.CASH: "1000",
        Role.PAYMENTS_IN_TRANSIT: "1050",
        Role.ACCOUNTS_RECEIVABLE: "1100",
        Role.UNBILLED_RECEIVABLE: "1150",
        Role.TAX_PAYABLE: "2100",
        Role.CUSTOMER_CREDIT: "2200",
        Role.DEFERRED_REVENUE: "2300",
        Role.PREPAID_WALLET: "2400",
        Role.REVENUE: "4000",
        Role.DISCOUNTS: "4900",
        Role.CREDIT_GRANTS: "6100",
        Role.BAD_DEBT: "6200",
        Role.PAYMENT_FEES: "6300",
    }
    sides = {a.code: a.normal_side for a in CHART.accounts}
    assert sides["1100"] == sides["4900"] == sides["6200"] == Side.DEBIT
    assert sides["2200"] == sides["3000"] == sides["4000"] == Side.CREDIT
    assert Account(code="5000", name="Cost of sales", type=AccountType.EXPENSE).normal_side == Side.DEBIT


def test_chart_round_trips_through_json() -> None:
    """parse_chart(chart_to_json(chart)) is the same chart, overrides included."""
    doc = _chart_doc(overrides={"revenue:app": "4000"})
    assert chart_to_json(parse_chart(doc)) == doc
    assert parse_chart(chart_to_json(CHART)) == CHART


def _roles_without(role: str) -> dict[str, str]:
    return {k: v for k, v in chart_to_json(CHART)["roles"].items() if k != role}


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"roles": _roles_without("bad_debt")}, "missing_role", "roles.bad_debt"),
        ({"roles": {**_roles_without(""), "revenue": "4999"}}, "unknown_account", "roles.revenue"),
        ({"roles": {**_roles_without(""), "refunds": "4000"}}, "invalid_chart", "roles.refunds"),
        (
            {"roles": {**_roles_without(""), "accounts_receivable": "4000"}},
            "account_type_mismatch",
            "roles.accounts_receivable",
        ),
        (
            {
                "accounts": [
                    *chart_to_json(CHART)["accounts"],
                    {"code": "1100", "name": "AR 2", "type": "asset"},
                ]
            },
            "duplicate_account",
            "accounts.14.code",
        ),
        (
            {"accounts": [{"code": "1100", "name": "AR", "type": "assets"}]},
            "invalid_chart",
            "accounts.0.type",
        ),
        (
            {"accounts": [{"code": "11 00", "name": "AR", "type": "asset"}]},
            "invalid_chart",
            "accounts.0.code",
        ),
        ({"accounts": []}, "invalid_chart", "accounts"),
        ({"overrides": {"revenue:app": "4999"}}, "unknown_account", "overrides.revenue:app"),
        ({"overrides": {"refunds:app": "4000"}}, "invalid_chart", "overrides.refunds:app"),
        ({"overrides": {"revenue:": "4000"}}, "invalid_chart", "overrides.revenue:"),
        ({"overrides": {"tax_payable:DE": "4000"}}, "account_type_mismatch", "overrides.tax_payable:DE"),
        ({"currency": "EUR"}, "invalid_chart", "currency"),
    ],
)
def test_parse_chart_refuses_an_inconsistent_chart(changes: dict[str, Any], code: str, field: str) -> None:
    """Every role mapped to an existing account of a fitting type, unique codes, known types and roles,
    well-formed override keys, no unknown fields: the first problem is reported with its path."""
    with pytest.raises(DomainError) as caught:
        parse_chart(_chart_doc(**changes))
    assert (caught.value.code, caught.value.field) == (code, field)
