"""Cost to serve (pure): validation of a cost, the CSV import format with its line-numbered errors, and the
margin per customer and per plan, with worked examples in exact figures and hypothesis properties
(allocation loses no cent; the plans' totals are the customers' totals)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.cost_to_serve import (
    NO_PLAN,
    CostFields,
    CostFileError,
    CostKind,
    CustomerCost,
    LineError,
    Margin,
    PlanRevenue,
    cost_fields,
    decode_cost_file,
    margin_by_customer,
    margin_by_plan,
    read_cost_file,
    row_key,
    split_cost,
    total,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money

D = Decimal


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def rev(customer_id: str, plan: str | None, amount: str) -> PlanRevenue:
    return PlanRevenue(customer_id=customer_id, plan=plan, amount=eur(amount))


def cost(customer_id: str, amount: str) -> CustomerCost:
    return CustomerCost(customer_id=customer_id, amount=eur(amount))


def figures(rows: list[Margin]) -> list[tuple[str, str, str, str, Decimal | None, int]]:
    return [
        (
            r.key,
            r.revenue.amount_text(),
            r.cost.amount_text(),
            r.margin.amount_text(),
            r.margin_percent,
            r.customers,
        )
        for r in rows
    ]


# ---- margin: worked examples ---------------------------------------------------------------------------

# A: two plans and a small cost; B: cost above its revenue; C: cost, no revenue; D: a one-off, no plan.
REVENUE = [
    rev("cus_a", "basic", "100.00"),
    rev("cus_a", "pro", "200.00"),
    rev("cus_b", "pro", "50.00"),
    rev("cus_d", None, "40.00"),
]
COSTS = [cost("cus_a", "30.00"), cost("cus_b", "80.00"), cost("cus_c", "12.34")]


def test_margin_per_customer_worked_example() -> None:
    """Per customer: margin = revenue − cost; margin % = margin ÷ revenue × 100 to two decimals, none
    without revenue."""
    rows = margin_by_customer(REVENUE, COSTS, "EUR")
    assert figures(rows) == [
        ("cus_a", "300.00", "30.00", "270.00", D("90.00"), 1),
        ("cus_b", "50.00", "80.00", "-30.00", D("-60.00"), 1),
        ("cus_c", "0.00", "12.34", "-12.34", None, 1),
        ("cus_d", "40.00", "0.00", "40.00", D("100.00"), 1),
    ]
    summed = total(rows, "EUR")
    assert (summed.revenue, summed.cost, summed.margin, summed.margin_percent) == (
        eur("390.00"), eur("122.34"), eur("267.66"), D("68.63")  # 267.66 / 390 = 68.6307…
    )  # fmt: skip


def test_margin_per_plan_worked_example() -> None:
    """Per plan: A's 30.00 splits 100:200 over basic and pro (10.00, 20.00); B's 80.00 is all on pro; C's
    12.34, with no revenue, and D's one-off revenue are on "(none)", which comes last."""
    rows = margin_by_plan(REVENUE, COSTS, "EUR")
    assert figures(rows) == [
        ("basic", "100.00", "10.00", "90.00", D("90.00"), 1),
        ("pro", "250.00", "100.00", "150.00", D("60.00"), 2),
        (NO_PLAN, "40.00", "12.34", "27.66", D("69.15"), 2),
    ]
    assert total(rows, "EUR").margin == total(margin_by_customer(REVENUE, COSTS, "EUR"), "EUR").margin


def test_rows_for_the_same_customer_and_plan_are_summed() -> None:
    """Revenue converted from two currencies arrives as two rows of one (customer, plan): they add up."""
    rows = margin_by_plan([rev("cus_a", "pro", "10.00"), rev("cus_a", "pro", "5.50")], [cost("cus_a", "1.00"),
                          cost("cus_a", "2.00")], "EUR")  # fmt: skip
    assert figures(rows) == [("pro", "15.50", "3.00", "12.50", D("80.65"), 1)]  # 12.50 / 15.50 = 80.645…


def test_split_by_largest_remainder_ties_to_the_first_plan_by_code() -> None:
    """0.10 over three plans with equal revenue: 3.33… cents each, the one cent left goes to the first plan
    by code; 1.00 over 1:2 gives 0.33 and 0.67 (the larger remainder takes the cent)."""
    assert split_cost(eur("0.10"), {"c": eur("10"), "a": eur("10"), "b": eur("10")}) == {
        "a": eur("0.04"), "b": eur("0.03"), "c": eur("0.03")
    }  # fmt: skip
    assert split_cost(eur("1.00"), {"basic": eur("1.00"), "pro": eur("2.00")}) == {
        "basic": eur("0.33"), "pro": eur("0.67")
    }  # fmt: skip
    assert split_cost(eur("0.01"), {None: eur("5.00"), "pro": eur("5.00")}) == {
        "pro": eur("0.01"), None: eur("0.00")
    }  # fmt: skip


def test_a_plan_with_negative_revenue_takes_no_cost() -> None:
    """A credit note left the customer's pro revenue at −20.00: its cost goes to basic only, and the plan's
    negative revenue still counts in both views."""
    revenue = [rev("cus_a", "basic", "100.00"), rev("cus_a", "pro", "-20.00")]
    assert split_cost(eur("10.00"), {"basic": eur("100.00"), "pro": eur("-20.00")}) == {"basic": eur("10.00")}
    assert figures(margin_by_plan(revenue, [cost("cus_a", "10.00")], "EUR")) == [
        ("basic", "100.00", "10.00", "90.00", D("90.00"), 1),
        ("pro", "-20.00", "0.00", "-20.00", None, 1),
    ]
    assert figures(margin_by_customer(revenue, [cost("cus_a", "10.00")], "EUR")) == [
        ("cus_a", "80.00", "10.00", "70.00", D("87.50"), 1)
    ]


def test_cost_without_positive_revenue_is_on_no_plan() -> None:
    """A customer whose only revenue is negative has nothing to split its cost by: it is on "(none)"."""
    rows = margin_by_plan([rev("cus_a", "pro", "-20.00")], [cost("cus_a", "5.00")], "EUR")
    assert figures(rows) == [
        ("pro", "-20.00", "0.00", "-20.00", None, 1),
        (NO_PLAN, "0.00", "5.00", "-5.00", None, 1),
    ]


def test_margin_percent_rounds_half_up() -> None:
    """2.00 ÷ 3.00 = 66.666… → 66.67; 0.01 ÷ 8.00 = 0.125 → 0.13 (half up, not half even)."""
    assert Margin(key="x", revenue=eur("3.00"), cost=eur("1.00")).margin_percent == D("66.67")
    assert Margin(key="x", revenue=eur("8.00"), cost=eur("7.99")).margin_percent == D("0.13")


def test_amounts_in_another_currency_are_refused() -> None:
    """The margin is computed in one currency: amounts are converted before, never mixed."""
    with pytest.raises(DomainError) as error:
        margin_by_customer([rev("cus_a", "pro", "1.00")], [CustomerCost(customer_id="cus_a", amount=Money(D(1), "USD"))],
                           "EUR")  # fmt: skip
    assert (error.value.code, error.value.field) == ("currency_mismatch", "currency")


def test_no_revenue_and_no_cost_is_an_empty_report() -> None:
    """Nothing in the period: no rows, totals of zero, no margin %."""
    assert margin_by_customer([], [], "EUR") == [] == margin_by_plan([], [], "EUR")
    assert (total([], "EUR").revenue, total([], "EUR").margin_percent) == (eur("0"), None)


# ---- margin: properties --------------------------------------------------------------------------------

AMOUNTS = st.integers(-5_000, 100_000).map(lambda cents: Money.from_minor_units(cents, "EUR"))
PLANS = st.sampled_from(["basic", "pro", "team", None])
CUSTOMERS = st.sampled_from(["cus_a", "cus_b", "cus_c", "cus_d"])


@given(
    st.integers(0, 10_000_000).map(lambda c: Money.from_minor_units(c, "EUR")),
    st.dictionaries(PLANS, AMOUNTS, min_size=0, max_size=4),
)
def test_split_loses_no_cent(spent: Money, revenue: dict[str | None, Money]) -> None:
    """However the revenue lies, the shares sum to the cost exactly, none is negative, and a plan without
    positive revenue gets a share only when it is "no plan" and nothing has positive revenue."""
    shares = split_cost(spent, revenue)
    assert sum(shares.values(), Money.zero("EUR")) == spent
    assert all(s.amount >= 0 and s.is_rounded for s in shares.values())
    positive = {p for p, m in revenue.items() if m.amount > 0}
    assert set(shares) == (positive or {None})


@given(
    st.lists(st.builds(PlanRevenue, customer_id=CUSTOMERS, plan=PLANS, amount=AMOUNTS), max_size=12),
    st.lists(
        st.builds(CustomerCost, customer_id=CUSTOMERS,
                  amount=st.integers(0, 100_000).map(lambda c: Money.from_minor_units(c, "EUR"))),
        max_size=8,
    ),
)  # fmt: skip
def test_per_plan_totals_equal_per_customer_totals(
    revenue: list[PlanRevenue], costs: list[CustomerCost]
) -> None:
    """Splitting costs over plans moves money between rows, never in or out: the plans' revenue and cost
    add up to the customers', and the cost to what was spent."""
    by_customer, by_plan = margin_by_customer(revenue, costs, "EUR"), margin_by_plan(revenue, costs, "EUR")
    customers, plans = total(by_customer, "EUR"), total(by_plan, "EUR")
    assert (plans.revenue, plans.cost) == (customers.revenue, customers.cost)
    assert customers.cost == sum((c.amount for c in costs), Money.zero("EUR"))
    assert customers.revenue == sum((r.amount for r in revenue), Money.zero("EUR"))


# ---- recording a cost ----------------------------------------------------------------------------------


def test_cost_fields_checked() -> None:
    """A recorded cost: its day, kind, amount (a string, in any currency), minutes and description."""
    fields = cost_fields({"occurred_on": "2026-03-05", "kind": "support", "cost": {"amount": "45.00",
                          "currency": "USD"}, "minutes": 30, "description": "  Onboarding call  "})  # fmt: skip
    assert fields == CostFields(occurred_on=date(2026, 3, 5), kind=CostKind.SUPPORT, amount=Money(D("45.00"), "USD"),
                                minutes=30, description="Onboarding call")  # fmt: skip


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"cost": {"amount": "-1.00", "currency": "EUR"}}, "invalid_amount", "cost.amount"),
        ({"cost": {"amount": "1.001", "currency": "EUR"}}, "invalid_amount", "cost.amount"),
        ({"cost": {"amount": "1", "currency": "JPY"}, "minutes": 100_001}, "invalid_minutes", "minutes"),
        ({"minutes": -1}, "invalid_minutes", "minutes"),
        ({"minutes": True}, "invalid_minutes", "minutes"),
        ({"kind": "travel"}, "invalid_cost_kind", "kind"),
        ({"kind": ["support"]}, "invalid_cost_kind", "kind"),
        ({"description": "x" * 1001}, "invalid_description", "description"),
        ({"description": "a\x00b"}, "invalid_text", "description"),
        ({"occurred_on": "2026-02-30"}, "invalid_date", "occurred_on"),
        ({"cost": {"amount": 12.5, "currency": "EUR"}}, "invalid_amount", "cost"),
        ({"cost": {"amount": "1.00", "currency": "XXX"}}, "unknown_currency", "cost.currency"),
        ({"cost": None}, "required", "cost"),
        ({"customer_id": "cus_x"}, "unknown_field", "customer_id"),
    ],
)
def test_cost_fields_refused(change: dict[str, object], code: str, field: str) -> None:
    """Amount ≥ 0 in minor units, minutes 0..100,000, a known kind, a description of at most 1,000
    characters: anything else is refused with its code and field."""
    doc = {
        "occurred_on": "2026-03-05",
        "kind": "support",
        "cost": {"amount": "1.00", "currency": "EUR"},
    } | change
    with pytest.raises(DomainError) as error:
        cost_fields(doc)
    assert (error.value.code, error.value.field) == (code, field)


def test_the_limits_themselves_are_accepted() -> None:
    """0 minutes, 100,000 minutes, a zero amount and 1,000 characters are all within bounds."""
    base = {"occurred_on": "2026-03-05", "kind": "other", "cost": {"amount": "0", "currency": "JPY"}}
    assert cost_fields(base | {"minutes": 0}).minutes == 0
    assert cost_fields(base | {"minutes": 100_000, "description": "x" * 1000}).minutes == 100_000
    assert cost_fields(base).amount == Money(D(0), "JPY")


# ---- the import file -----------------------------------------------------------------------------------


def test_a_full_file_is_read_row_by_row() -> None:
    """Every column, CRLF line ends, a byte order mark, a quoted description with a comma and a blank line:
    each row as written, the id from the file; a customer is kept as written (id or external id)."""
    content = (
        "\ufeffcustomer,date,kind,amount,currency,minutes,description,id\r\n"
        'cus_01J,2026-03-01,infrastructure,120.50,USD,,"AWS, March",aws-2026-03-cus_01J\r\n'
        "\r\n"
        "acme-7,2026-03-04,support,0,EUR,45,Call about invoices,zd-1234\r\n"
    ).encode()
    parsed = read_cost_file(decode_cost_file(content))
    assert parsed.errors == ()
    assert [(r.line, r.customer, r.fields) for r in parsed.rows] == [
        (2, "cus_01J", CostFields(occurred_on=date(2026, 3, 1), kind=CostKind.INFRASTRUCTURE,
                                  amount=Money(D("120.50"), "USD"), description="AWS, March",
                                  external_id="aws-2026-03-cus_01J")),
        (4, "acme-7", CostFields(occurred_on=date(2026, 3, 4), kind=CostKind.SUPPORT, amount=eur("0"), minutes=45,
                                 description="Call about invoices", external_id="zd-1234")),
    ]  # fmt: skip


def test_optional_columns_may_be_absent_and_rows_get_derived_ids() -> None:
    """Without kind, minutes, description and id: kind is infrastructure, and each row's id is derived
    from what it says, with identical rows counted apart, so the same file twice is the same ids."""
    text = "date,customer,amount,currency\n2026-03-31,cus_a,10.00,EUR\n2026-03-31,cus_a,10.00,EUR\n2026-03-31,cus_b,10.00,EUR\n"
    rows = read_cost_file(text).rows
    assert [r.fields.kind for r in rows] == [CostKind.INFRASTRUCTURE] * 3
    ids = [r.fields.external_id for r in rows]
    assert ids == [r.fields.external_id for r in read_cost_file(text).rows]
    # pinned: changing the derivation would import every file without ids a second time
    assert ids[:2] == ["row:5091c37e126e23fe6d4b43b6212eedda", "row:969ab250c50f2fc20c27f4911897928d"]
    assert len(set(ids)) == 3
    assert (
        row_key({"customer": "cus_a", "date": "2026-03-31", "amount": "10.00", "currency": "EUR"}, 0)
        == ids[0]
    )


def test_wrong_lines_are_reported_with_their_numbers() -> None:
    """Each wrong line is reported with its number and column, the good rows still parsed (the service
    imports nothing when any line is wrong); a quoted cell over two lines counts from where its row starts."""
    text = (
        "customer,date,kind,amount,currency,minutes,description,id\n"  # 1
        "cus_a,2026-03-01,support,1.00,EUR,,,a1\n"  # 2: fine
        "cus_a,2026-03-01,support,12.345,EUR,,,a2\n"  # 3
        "cus_a,2026-03-01,support,-1.00,EUR,,,a3\n"  # 4
        "cus_a,2026-03-01,travel,1.00,EUR,,,a4\n"  # 5
        "cus_a,2026-03-01,support,1.00,EUR,abc,,a5\n"  # 6
        "cus_a,2026-03-01,support,1.00,EUR\n"  # 7
        "cus_a,2026-02-30,support,1.00,EUR,,,a7\n"  # 8
        "cus_a,2026-03-01,support,1.00,EUR,,,a1\n"  # 9
        'cus_a,2026-03-01,support,1.00,EUR,,"two\nlines",a10\n'  # 10-11: fine
        ",2026-03-01,support,1.00,EUR,,,a12\n"  # 12
        "cus_a,2026-03-01,support,1.00,EURO,,,a13\n"  # 13
        "cus_a,2026-03-01,support,1.00,EUR,100001,,a14\n"  # 14
    )
    parsed = read_cost_file(text)
    assert [r.line for r in parsed.rows] == [2, 10]
    assert parsed.rows[1].fields.description == "two\nlines"
    assert [(e.line, e.code, e.field) for e in parsed.errors] == [
        (3, "invalid_amount", "line 3.amount"),
        (4, "invalid_amount", "line 4.amount"),
        (5, "invalid_cost_kind", "line 5.kind"),
        (6, "invalid_minutes", "line 6.minutes"),
        (7, "invalid_csv", "line 7"),
        (8, "invalid_date", "line 8.date"),
        (9, "duplicate_id", "line 9.id"),
        (12, "required", "line 12.customer"),
        (13, "unknown_currency", "line 13.currency"),
        (14, "invalid_minutes", "line 14.minutes"),
    ]
    assert parsed.errors[6].message == "The id 'a1' is also on line 2."
    assert parsed.errors[4].message == "Expected 8 cells, found 5."


def test_the_file_error_names_the_first_line_and_lists_the_rest() -> None:
    """CostFileError: one problem (code invalid_cost_file, field of the first wrong line) listing them all."""
    errors = [LineError(line=3, code="invalid_amount", message="A cost is zero or more.", column="amount"),
              LineError(line=9, code="customer_not_found", message="No customer 'x'.", column="customer")]  # fmt: skip
    error = CostFileError(errors)
    assert (error.code, error.field, error.status) == ("invalid_cost_file", "line 3.amount", 422)
    assert error.message == "Line 3: A cost is zero or more. (1 more lines are wrong) Nothing was imported."
    assert [e.to_json() for e in error.errors] == [
        {"code": "invalid_amount", "field": "line 3.amount", "message": "A cost is zero or more."},
        {"code": "customer_not_found", "field": "line 9.customer", "message": "No customer 'x'."},
    ]


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ("", "invalid_csv", "line 1"),
        ("customer,date,amount\n", "invalid_csv", "line 1"),
        ("customer,date,amount,currency,cost\n", "invalid_csv", "line 1"),
        ("customer,date,amount,currency,date\n", "invalid_csv", "line 1"),
        ('customer,date,amount,currency\n"cus_a,2026-03-01,1.00,EUR\n', "invalid_csv", "line 2"),
        ("customer,date,amount,currency\ncus_a,2026-03-01,1.00,EUR\x00\n", "invalid_text", "file"),
    ],
)
def test_a_file_kassa_cannot_read(text: str, code: str, field: str) -> None:
    """No header, a required column missing, an unknown or repeated column, an unclosed quote (named by the
    line it opens on), a NUL."""
    with pytest.raises(DomainError) as error:
        read_cost_file(text)
    assert (error.value.code, error.value.field) == (code, field)


def test_a_file_that_is_not_utf8_is_refused() -> None:
    """Latin-1 bytes: the byte's position is named."""
    with pytest.raises(DomainError) as error:
        decode_cost_file("customer\nMüller".encode("latin-1"))
    assert (error.value.code, error.value.message) == ("invalid_csv", "The file is not UTF-8 text (byte 11).")
