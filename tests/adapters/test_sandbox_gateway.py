"""The sandbox gateway (issue 7): every test card's exact outcome, answers from the ref alone, signed webhooks
checked with the standardwebhooks library, and payout reports."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook
from stdnum import iban as stdnum_iban

from kassa.adapters.payments.base import (
    ChargeRequest,
    Gateway,
    GatewayCharge,
    GatewayEvent,
    GatewayEventType,
    GatewayRefund,
    GatewayUnavailable,
    Payout,
    PayoutItem,
    WebhookRejected,
)
from kassa.adapters.payments.sandbox import (
    SANDBOX_CARDS,
    SANDBOX_IBANS,
    SANDBOX_PROVIDER_TOKEN,
    SandboxGateway,
    sandbox_fee,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import DeclineCode, PaymentMethod, PaymentMethodType, PaymentStatus

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CREATED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)  # a test clock's time: only in the event's body
DOCS = Path(__file__).resolve().parents[2] / "docs" / "payments-sandbox.md"

SUCCEEDED, FAILED, PENDING = PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.PENDING
REQUIRES_ACTION = PaymentStatus.REQUIRES_ACTION


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def wall_clock() -> datetime:
    # standardwebhooks checks the signing time against the real wall clock (5 minutes either way).
    return datetime.now(UTC)  # noqa: TID251


@pytest.fixture
def gateway() -> SandboxGateway:
    return SandboxGateway(SECRET)


def method(type_: PaymentMethodType = PaymentMethodType.CARD, **kw: str) -> PaymentMethod:
    return PaymentMethod(
        tenant_id="ten_1", id="pm_1", customer_id="cus_1", type=type_, gateway="sandbox",
        created_at=datetime(2025, 1, 1, tzinfo=UTC), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def request(
    token: str = "tok_sandbox_success",
    amount: str = "100.00",
    *,
    key: str = "inv_1:1",
    capture: bool = True,
    currency: str = "EUR",
    metadata: dict[str, str] | None = None,
    pm: PaymentMethod | None = None,
) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=key, amount=Money.parse(amount, currency), method=pm or method(token=token),
        description="Invoice INV-1", customer_ref="cus_1", capture=capture, metadata=metadata or {},
    )  # fmt: skip


def sepa(iban: str) -> ChargeRequest:
    return request(pm=method(PaymentMethodType.SEPA_DEBIT, iban=iban, mandate_id="MD-1"))


def test_the_sandbox_satisfies_the_gateway_port(gateway: SandboxGateway) -> None:
    port: Gateway = gateway
    assert port.name == "sandbox"


# -- charges: each card's exact answer ------------------------------------------------------------------

FEE = eur("1.65")  # 100.00 EUR: 1.40 + 0.25


@pytest.mark.parametrize(
    ("token", "status", "code", "fee"),
    [
        ("tok_sandbox_success", SUCCEEDED, None, FEE),
        ("tok_sandbox_chargeback", SUCCEEDED, None, FEE),
        ("tok_sandbox_decline", FAILED, DeclineCode.GENERIC_DECLINE, None),
        ("tok_sandbox_insufficient_funds", FAILED, DeclineCode.INSUFFICIENT_FUNDS, None),
        ("tok_sandbox_lost_card", FAILED, DeclineCode.LOST_CARD, None),
        ("tok_sandbox_stolen_card", FAILED, DeclineCode.STOLEN_CARD, None),
        ("tok_sandbox_expired_card", FAILED, DeclineCode.EXPIRED_CARD, None),
        ("tok_sandbox_incorrect_cvc", FAILED, DeclineCode.INCORRECT_CVC, None),
        ("tok_sandbox_processing_error", FAILED, DeclineCode.PROCESSING_ERROR, None),
        ("tok_sandbox_async", PENDING, None, None),
        ("tok_sandbox_authentication_required", REQUIRES_ACTION, None, None),
        ("tok_sandbox_authentication_fails", REQUIRES_ACTION, None, None),
    ],
)
def test_each_card_answers_its_outcome(
    gateway: SandboxGateway, token: str, status: PaymentStatus, code: DeclineCode | None, fee: Money | None
) -> None:
    charge = gateway.charge(request(token))
    assert (charge.status, charge.decline_code, charge.fee, charge.amount) == (
        status,
        code,
        fee,
        eur("100.00"),
    )
    assert charge.captured is (status is SUCCEEDED)
    assert (charge.message is not None) is (status is FAILED)
    if status is REQUIRES_ACTION:
        assert charge.action_url == f"https://sandbox.kassa.test/authenticate/{charge.ref}"
    else:
        assert charge.action_url is None


def test_a_declined_charge_says_why_in_words(gateway: SandboxGateway) -> None:
    charge = gateway.charge(request("tok_sandbox_insufficient_funds"))
    assert charge.message == "The account has insufficient funds."


def test_the_unavailable_card_raises_and_retrying_it_raises_again(gateway: SandboxGateway) -> None:
    for _ in range(2):
        with pytest.raises(GatewayUnavailable, match="503"):
            gateway.charge(request("tok_sandbox_unavailable"))


def test_the_paypal_provider_account_succeeds(gateway: SandboxGateway) -> None:
    pm = method(
        PaymentMethodType.PROVIDER_ACCOUNT,
        token=SANDBOX_PROVIDER_TOKEN,
        provider="paypal",
        email="a@example.com",
    )
    charge = gateway.charge(request(pm=pm, amount="10.00"))
    assert (charge.status, charge.fee) == (SUCCEEDED, eur("0.39"))  # 0.14 + 0.25


@pytest.mark.parametrize(
    ("pm", "field"),
    [
        (method(token="tok_visa"), "payment_method.token"),
        (method(), "payment_method.token"),
        (
            method(token=SANDBOX_PROVIDER_TOKEN),
            "payment_method.token",
        ),  # a provider account's token on a card
        (method(PaymentMethodType.PROVIDER_ACCOUNT, token="tok_sandbox_success"), "payment_method.token"),
        (method(PaymentMethodType.BANK_TRANSFER), "payment_method.token"),
        (method(token="tok_sandbox_insufficient_then_success_0"), "payment_method.token"),
        (method(PaymentMethodType.SEPA_DEBIT), "payment_method.iban"),
    ],
)
def test_an_unknown_method_is_refused(gateway: SandboxGateway, pm: PaymentMethod, field: str) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.charge(request(pm=pm))
    assert caught.value.field == field


@pytest.mark.parametrize("amount", ["0.00", "-5.00", "1.005"])
def test_a_charge_is_a_positive_rounded_amount(gateway: SandboxGateway, amount: str) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.charge(request(amount=amount))
    assert (caught.value.code, caught.value.field) == ("invalid_amount", "amount")


@pytest.mark.parametrize(
    ("amount", "currency", "fee"),
    [
        ("100.00", "EUR", "1.65"),
        ("10.00", "EUR", "0.39"),
        ("12.34", "EUR", "0.42"),  # 0.17276 + 0.25 = 0.42276
        ("2.50", "EUR", "0.29"),  # 0.035 + 0.25 = 0.285: half-up (half-even would say 0.28)
        ("10000", "JPY", "140"),  # 140 + 0.25, rounded to whole yen
        ("100.000", "KWD", "1.650"),
    ],
)
def test_fee_is_1_4_percent_plus_0_25_rounded_half_up(amount: str, currency: str, fee: str) -> None:
    assert sandbox_fee(Money.parse(amount, currency)) == Money.parse(fee, currency)


# -- idempotency and answers from the ref -------------------------------------------------------------


def test_the_same_key_gives_the_same_ref_and_another_key_another(gateway: SandboxGateway) -> None:
    first = gateway.charge(request(key="inv_1:1"))
    assert SandboxGateway(SECRET).charge(request(key="inv_1:1")) == first  # another process, same answer
    assert gateway.charge(request(key="inv_1:2")).ref != first.ref
    assert re.fullmatch(r"ch_sbx_succeeded_10000_EUR_cap_[0-9a-f]{24}", first.ref)


def test_fetch_answers_from_the_ref_alone(gateway: SandboxGateway) -> None:
    other = SandboxGateway(SECRET)  # the worker's own instance
    succeeded = gateway.charge(request())
    assert other.fetch(succeeded.ref) == succeeded
    declined = gateway.charge(request("tok_sandbox_lost_card"))
    assert other.fetch(declined.ref) == declined
    pending = gateway.charge(request("tok_sandbox_async", "250.00"))
    assert other.fetch(pending.ref) == GatewayCharge(
        ref=pending.ref, status=SUCCEEDED, amount=eur("250.00"), fee=eur("3.75")
    )
    waiting = gateway.charge(request("tok_sandbox_authentication_required"))
    assert other.fetch(waiting.ref) == waiting  # only confirm completes an authentication


def test_confirm_completes_or_fails_authentication(gateway: SandboxGateway) -> None:
    ok = gateway.charge(request("tok_sandbox_authentication_required"))
    assert gateway.confirm(ok.ref) == GatewayCharge(
        ref=ok.ref, status=SUCCEEDED, amount=eur("100.00"), fee=FEE
    )
    failing = gateway.charge(request("tok_sandbox_authentication_fails"))
    confirmed = gateway.confirm(failing.ref)
    assert (confirmed.status, confirmed.decline_code, confirmed.fee, confirmed.captured) == (
        FAILED, DeclineCode.AUTHENTICATION_FAILED, None, False,
    )  # fmt: skip
    succeeded = gateway.charge(request())
    assert gateway.confirm(succeeded.ref) == succeeded


@pytest.mark.parametrize(
    "ref",
    [
        "ch_1",
        "ch_sbx_succeeded_10000_EUR_cap_zz",
        "ch_sbx_bogus_10000_EUR_cap_" + "a" * 24,
        "ch_sbx_declined_no_such_code_10000_EUR_cap_" + "a" * 24,
        "ch_sbx_succeeded_10000_ZZZ_cap_" + "a" * 24,
        "ch_sbx_succeeded_code_10000_EUR_cap_" + "a" * 24,
    ],
)
def test_an_unknown_ref_is_not_found(gateway: SandboxGateway, ref: str) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.fetch(ref)
    assert caught.value.code == "charge_not_found"


# -- decline, then recovery on a later attempt ------------------------------------------------------------


def test_insufficient_then_success_declines_until_the_nth_attempt(gateway: SandboxGateway) -> None:
    token = "tok_sandbox_insufficient_then_success_3"
    answers = [
        gateway.charge(request(token, key=f"inv_9:{n}", metadata={"attempt": str(n)})) for n in (1, 2, 3, 4)
    ]
    assert [(a.status, a.decline_code) for a in answers] == [
        (FAILED, DeclineCode.INSUFFICIENT_FUNDS), (FAILED, DeclineCode.INSUFFICIENT_FUNDS),
        (SUCCEEDED, None), (SUCCEEDED, None),
    ]  # fmt: skip
    assert gateway.fetch(answers[0].ref).status is FAILED  # a declined attempt stays declined


def test_the_attempt_may_come_from_the_idempotency_key(gateway: SandboxGateway) -> None:
    token = "tok_sandbox_insufficient_then_success_2"
    assert gateway.charge(request(token, key="inv_9:1")).status is FAILED
    assert gateway.charge(request(token, key="inv_9:2")).status is SUCCEEDED
    # metadata wins over the key
    assert gateway.charge(request(token, key="inv_9:2", metadata={"attempt": "1"})).status is FAILED


@pytest.mark.parametrize(
    ("key", "metadata", "field"),
    [
        ("inv_9", {}, "idempotency_key"),
        ("inv_9:x", {}, "idempotency_key"),
        (":2", {}, "idempotency_key"),
        ("inv_9:2", {"attempt": "0"}, "metadata.attempt"),
        ("inv_9:2", {"attempt": "second"}, "metadata.attempt"),
    ],
)
def test_the_attempt_is_required_for_those_cards(
    gateway: SandboxGateway, key: str, metadata: dict[str, str], field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.charge(request("tok_sandbox_insufficient_then_success_3", key=key, metadata=metadata))
    assert (caught.value.code, caught.value.field) == ("invalid_attempt", field)


# -- SEPA --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iban", "code"),
    [
        ("DE89370400440532013000", None),
        ("DE50 3704 0044 0532 0104 04", DeclineCode.ACCOUNT_CLOSED),
        ("DE66370400440532010504", DeclineCode.INSUFFICIENT_FUNDS),
    ],
)
def test_sepa_is_pending_then_settles_by_the_iban(
    gateway: SandboxGateway, iban: str, code: DeclineCode | None
) -> None:
    charge = gateway.charge(sepa(iban))
    assert (charge.status, charge.fee, charge.captured) == (PENDING, None, False)
    settled = gateway.fetch(charge.ref)
    if code is None:
        assert (settled.status, settled.fee, settled.decline_code) == (SUCCEEDED, FEE, None)
    else:
        assert (settled.status, settled.fee, settled.decline_code) == (FAILED, None, code)


def test_sepa_cannot_be_authorized_only(gateway: SandboxGateway) -> None:
    pm = method(PaymentMethodType.SEPA_DEBIT, iban="DE89370400440532013000")
    with pytest.raises(DomainError) as caught:
        gateway.charge(request(pm=pm, capture=False))
    assert caught.value.code == "capture_not_supported"


# -- capture and refund ---------------------------------------------------------------------------------


def test_an_authorization_is_captured_in_full_or_in_part(gateway: SandboxGateway) -> None:
    auth = gateway.charge(request(capture=False))
    assert (auth.status, auth.captured, auth.fee) == (SUCCEEDED, False, None)
    assert "_auth_" in auth.ref
    assert gateway.capture(auth.ref, eur("100.00"), idempotency_key="cap_1") == GatewayCharge(
        ref=auth.ref, status=SUCCEEDED, amount=eur("100.00"), captured=True, fee=FEE
    )
    partial = gateway.capture(auth.ref, eur("60.00"), idempotency_key="cap_2")
    assert (partial.amount, partial.fee, partial.captured) == (eur("60.00"), eur("1.09"), True)  # 0.84 + 0.25


def test_an_authentication_then_capture(gateway: SandboxGateway) -> None:
    auth = gateway.charge(request("tok_sandbox_authentication_required", capture=False))
    confirmed = gateway.confirm(auth.ref)
    assert (confirmed.status, confirmed.captured, confirmed.fee) == (SUCCEEDED, False, None)
    assert gateway.capture(auth.ref, eur("100.00"), idempotency_key="cap_1").captured is True


@pytest.mark.parametrize(
    ("token", "capture", "amount", "code"),
    [
        ("tok_sandbox_success", False, "100.01", "capture_exceeds_authorization"),
        ("tok_sandbox_success", False, "0.00", "invalid_amount"),
        ("tok_sandbox_success", True, "100.00", "charge_already_captured"),
        ("tok_sandbox_decline", False, "100.00", "charge_not_capturable"),
        ("tok_sandbox_authentication_fails", False, "100.00", "charge_not_capturable"),
    ],
)
def test_capture_refusals(gateway: SandboxGateway, token: str, capture: bool, amount: str, code: str) -> None:
    ref = gateway.charge(request(token, capture=capture)).ref
    with pytest.raises(DomainError) as caught:
        gateway.capture(ref, eur(amount), idempotency_key="cap_1")
    assert caught.value.code == code


def test_capture_in_another_currency_is_refused(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request(capture=False)).ref
    with pytest.raises(DomainError) as caught:
        gateway.capture(ref, Money.parse("100.00", "USD"), idempotency_key="cap_1")
    assert caught.value.code == "currency_mismatch"


def test_a_refund_is_deterministic_from_its_key(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request()).ref
    refund = gateway.refund(ref, eur("40.00"), idempotency_key="rf_1")
    assert refund.status is SUCCEEDED and refund.amount == eur("40.00")
    assert re.fullmatch(r"re_sbx_4000_EUR_[0-9a-f]{24}", refund.ref)
    assert SandboxGateway(SECRET).refund(ref, eur("40.00"), idempotency_key="rf_1") == refund
    assert gateway.refund(ref, eur("40.00"), idempotency_key="rf_2").ref != refund.ref
    assert gateway.refund(ref, eur("100.00"), idempotency_key="rf_3") == GatewayRefund(
        ref=gateway.refund(ref, eur("100.00"), idempotency_key="rf_3").ref,
        status=SUCCEEDED,
        amount=eur("100.00"),
    )


@pytest.mark.parametrize(
    ("token", "amount", "code"),
    [
        ("tok_sandbox_success", eur("100.01"), "refund_exceeds_charge"),
        ("tok_sandbox_success", eur("-1.00"), "invalid_amount"),
        ("tok_sandbox_success", Money.parse("1.00", "USD"), "currency_mismatch"),
        ("tok_sandbox_decline", eur("1.00"), "charge_not_refundable"),
    ],
)
def test_refund_refusals(gateway: SandboxGateway, token: str, amount: Money, code: str) -> None:
    ref = gateway.charge(request(token)).ref
    with pytest.raises(DomainError) as caught:
        gateway.refund(ref, amount, idempotency_key="rf_1")
    assert caught.value.code == code


def test_a_pending_sepa_debit_that_fails_cannot_be_refunded(gateway: SandboxGateway) -> None:
    ref = gateway.charge(sepa("DE50370400440532010404")).ref
    with pytest.raises(DomainError) as caught:
        gateway.refund(ref, eur("1.00"), idempotency_key="rf_1")
    assert caught.value.code == "charge_not_refundable"


@given(
    minor=st.integers(min_value=1, max_value=10**12),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "USD"]),
    key=st.text(min_size=1, max_size=40),
    capture=st.booleans(),
)
def test_any_charge_round_trips_through_its_ref(minor: int, currency: str, key: str, capture: bool) -> None:
    gateway = SandboxGateway(SECRET)
    amount = Money.from_minor_units(minor, currency)
    req = ChargeRequest(
        idempotency_key=key, amount=amount, method=method(token="tok_sandbox_success"),
        description="x", customer_ref="cus_1", capture=capture,
    )  # fmt: skip
    charge = gateway.charge(req)
    assert charge == gateway.charge(req) == SandboxGateway(SECRET).fetch(charge.ref)
    assert charge.amount == amount and charge.captured is capture
    if capture:
        # 1.4% + 0.25 computed another way: in exact decimals, rounded half-up to the exponent.
        exact = amount.amount * Decimal(14) / Decimal(1000) + Decimal(1) / Decimal(4)
        expected = exact.quantize(Decimal(1).scaleb(-amount.exponent), rounding=ROUND_HALF_UP)
        assert charge.fee == Money(expected, currency)
    else:
        assert charge.fee is None


# -- webhooks ------------------------------------------------------------------------------------------


def test_a_payment_webhook_round_trips_and_verifies_with_standardwebhooks(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request("tok_sandbox_async")).ref
    body, headers = gateway.event(
        GatewayEventType.PAYMENT_SUCCEEDED, charge_ref=ref, created_at=CREATED, signed_at=wall_clock()
    )
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["id"] == headers["webhook-id"] and payload["created_at"] == "2025-03-01T09:30:00Z"
    assert payload["data"]["fee"] == {"amount": "1.65", "currency": "EUR"}
    assert gateway.parse_webhook(body, headers) == GatewayEvent(
        id=headers["webhook-id"], type=GatewayEventType.PAYMENT_SUCCEEDED, created_at=CREATED, charge_ref=ref,
        amount=eur("100.00"), fee=FEE,
    )  # fmt: skip


def test_headers_are_read_whatever_their_case(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request()).ref
    body, headers = gateway.event(GatewayEventType.PAYMENT_SUCCEEDED, charge_ref=ref, created_at=wall_clock())
    upper = {k.title(): v for k, v in headers.items()}
    assert gateway.parse_webhook(body, upper).charge_ref == ref


def test_the_event_id_is_the_same_on_a_replay(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request("tok_sandbox_decline")).ref
    first = gateway.event(GatewayEventType.PAYMENT_FAILED, charge_ref=ref, created_at=CREATED)[1][
        "webhook-id"
    ]
    later = gateway.event(
        GatewayEventType.PAYMENT_FAILED, charge_ref=ref, created_at=CREATED + timedelta(hours=1),
        signed_at=wall_clock(),
    )  # fmt: skip
    assert later[1]["webhook-id"] == first and first.startswith("evt_sbx_")
    other = gateway.charge(request("tok_sandbox_decline", key="inv_2:1")).ref
    assert (
        gateway.event(GatewayEventType.PAYMENT_FAILED, charge_ref=other, created_at=CREATED)[1]["webhook-id"]
        != first
    )
    event = gateway.parse_webhook(*later)
    assert (event.decline_code, event.message) == (DeclineCode.GENERIC_DECLINE, "The card was declined.")


def test_refund_chargeback_payout_and_card_update_events(gateway: SandboxGateway) -> None:
    now = wall_clock()
    disputed = gateway.charge(request("tok_sandbox_chargeback")).ref
    refund = gateway.refund(disputed, eur("30.00"), idempotency_key="rf_1").ref

    def round_trip(type_: GatewayEventType, **kw: object) -> GatewayEvent:
        return gateway.parse_webhook(*gateway.event(type_, created_at=now, **kw))  # type: ignore[arg-type]

    refunded = round_trip(GatewayEventType.REFUND_SUCCEEDED, charge_ref=disputed, refund_ref=refund)
    assert (refunded.refund_ref, refunded.amount, refunded.charge_ref) == (refund, eur("30.00"), disputed)
    failed = round_trip(GatewayEventType.REFUND_FAILED, charge_ref=disputed, refund_ref=refund)
    assert failed.message is not None and failed.id != refunded.id

    opened = round_trip(GatewayEventType.CHARGEBACK_OPENED, charge_ref=disputed)
    assert (opened.amount, opened.fee, opened.reason) == (eur("100.00"), eur("15.00"), "fraudulent")
    assert opened.chargeback_ref is not None and opened.chargeback_ref.startswith("dp_sbx_")
    lost = round_trip(
        GatewayEventType.CHARGEBACK_LOST,
        charge_ref=disputed,
        amount=eur("60.00"),
        reason="product_not_received",
    )
    assert (lost.amount, lost.fee, lost.reason, lost.chargeback_ref) == (
        eur("60.00"), None, "product_not_received", opened.chargeback_ref,
    )  # fmt: skip

    payout = round_trip(
        GatewayEventType.PAYOUT_PAID, charge_ref=None, payout_ref="po_1", arrival_on=date(2025, 3, 4),
        amount=eur("304.60"), fee=eur("5.40"),
    )  # fmt: skip
    assert (payout.payout_ref, payout.arrival_on, payout.amount, payout.fee, payout.charge_ref) == (
        "po_1", date(2025, 3, 4), eur("304.60"), eur("5.40"), None,
    )  # fmt: skip
    updated = round_trip(
        GatewayEventType.PAYMENT_METHOD_UPDATED, charge_ref=None, token="tok_sandbox_success", exp_month=3,
        exp_year=2031,
    )  # fmt: skip
    assert (updated.token, updated.exp_month, updated.exp_year) == ("tok_sandbox_success", 3, 2031)


@pytest.mark.parametrize(
    ("token", "type_", "kw", "code"),
    [
        ("tok_sandbox_success", GatewayEventType.CHARGEBACK_OPENED, {}, "event_not_possible"),
        ("tok_sandbox_decline", GatewayEventType.PAYMENT_SUCCEEDED, {}, "event_not_possible"),
        ("tok_sandbox_success", GatewayEventType.PAYMENT_FAILED, {}, "event_not_possible"),
        ("tok_sandbox_async", GatewayEventType.PAYMENT_REQUIRES_ACTION, {}, "event_not_possible"),
        ("tok_sandbox_success", GatewayEventType.REFUND_SUCCEEDED, {}, "missing_field"),
        ("tok_sandbox_success", GatewayEventType.PAYMENT_SUCCEEDED, {"amount": eur("1.00")}, "unexpected_field"),
        ("tok_sandbox_chargeback", GatewayEventType.CHARGEBACK_WON, {"amount": eur("100.01")}, "event_not_possible"),
        (
            "tok_sandbox_success", GatewayEventType.REFUND_SUCCEEDED,
            {"refund_ref": "re_sbx_10001_EUR_" + "a" * 24}, "event_not_possible",
        ),
    ],
)  # fmt: skip
def test_the_sandbox_sends_only_events_its_charges_allow(
    gateway: SandboxGateway, token: str, type_: GatewayEventType, kw: dict[str, object], code: str
) -> None:
    ref = gateway.charge(request(token)).ref
    with pytest.raises(DomainError) as caught:
        gateway.event(type_, charge_ref=ref, created_at=CREATED, **kw)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_events_need_aware_times(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request()).ref
    with pytest.raises(DomainError) as caught:
        gateway.event(GatewayEventType.PAYMENT_SUCCEEDED, charge_ref=ref, created_at=datetime(2025, 3, 1))  # noqa: DTZ001
    assert caught.value.field == "created_at"


@pytest.fixture
def signed(gateway: SandboxGateway) -> tuple[bytes, dict[str, str]]:
    ref = gateway.charge(request()).ref
    return gateway.event(GatewayEventType.PAYMENT_SUCCEEDED, charge_ref=ref, created_at=wall_clock())


def test_a_tampered_body_is_rejected(gateway: SandboxGateway, signed: tuple[bytes, dict[str, str]]) -> None:
    body, headers = signed
    gateway.parse_webhook(body, headers)  # the untouched one passes
    with pytest.raises(WebhookRejected, match="signature"):
        gateway.parse_webhook(body.replace(b'"100.00"', b'"1000.00"'), headers)


def test_another_secret_is_rejected(signed: tuple[bytes, dict[str, str]]) -> None:
    with pytest.raises(WebhookRejected):
        SandboxGateway("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY").parse_webhook(*signed)


def test_a_stale_timestamp_is_rejected(gateway: SandboxGateway) -> None:
    ref = gateway.charge(request()).ref
    stale = gateway.event(
        GatewayEventType.PAYMENT_SUCCEEDED, charge_ref=ref, created_at=CREATED,
        signed_at=wall_clock() - timedelta(minutes=10),
    )  # fmt: skip
    with pytest.raises(WebhookRejected, match="too old"):
        gateway.parse_webhook(*stale)
    # a body signed at a test clock's time long past is just as stale
    with pytest.raises(WebhookRejected, match="too old"):
        gateway.parse_webhook(
            *gateway.event(GatewayEventType.PAYMENT_SUCCEEDED, charge_ref=ref, created_at=CREATED)
        )


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": None},
        {"webhook-id": None},
        {"webhook-signature": "v1,not base64!"},
        {"webhook-signature": "v1"},
        {"webhook-timestamp": "yesterday"},
    ],
)
def test_broken_headers_are_rejected(
    gateway: SandboxGateway, signed: tuple[bytes, dict[str, str]], change: dict[str, str | None]
) -> None:
    body, headers = signed
    broken = {k: v for k, v in {**headers, **change}.items() if v is not None}
    with pytest.raises(WebhookRejected):
        gateway.parse_webhook(body, broken)


def test_a_signed_body_that_is_not_a_sandbox_event_is_rejected(gateway: SandboxGateway) -> None:
    webhook, at = Webhook(SECRET), wall_clock()

    def send(msg_id: str, payload: Mapping[str, object]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload)
        return body.encode(), {
            "webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": webhook.sign(msg_id, at, body),
        }  # fmt: skip

    good = {"id": "evt_1", "type": "payment.succeeded", "created_at": "2025-03-01T09:30:00Z", "data": {}}
    assert gateway.parse_webhook(*send("evt_1", good)).id == "evt_1"
    for msg_id, payload in [
        ("evt_2", good),  # the body's id is not the signed one
        ("evt_1", {**good, "type": "payment.teleported"}),
        ("evt_1", {**good, "created_at": "2025-03-01T09:30:00"}),
        ("evt_1", {**good, "data": []}),
        ("evt_1", {**good, "data": {"amount": {"amount": 1.5, "currency": "EUR"}}}),
    ]:
        with pytest.raises(WebhookRejected, match="unreadable"):
            gateway.parse_webhook(*send(msg_id, payload))


def test_a_malformed_secret_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        SandboxGateway("whsec_")
    assert caught.value.code == "invalid_webhook_secret"


# -- payout reports ------------------------------------------------------------------------------------


def test_a_payout_report_round_trips_with_the_exact_net(gateway: SandboxGateway) -> None:
    first = gateway.charge(request()).ref
    second = gateway.charge(request(amount="250.00", key="inv_2:1")).ref
    content = gateway.payout_report(
        [(first, eur("100.00")), (second, eur("250.00")), (first, eur("-40.00"))],
        arrival_on=date(2025, 3, 4), payout_ref="po_sbx_1",
    )  # fmt: skip
    assert content.decode().splitlines() == [
        "payout_ref,arrival_on,charge_ref,gross,fee,net,currency",
        f"po_sbx_1,2025-03-04,{first},100.00,1.65,98.35,EUR",
        f"po_sbx_1,2025-03-04,{second},250.00,3.75,246.25,EUR",
        f"po_sbx_1,2025-03-04,{first},-40.00,0.00,-40.00,EUR",
    ]
    (payout,) = gateway.parse_payout_report(content)
    assert payout == Payout(
        ref="po_sbx_1", gateway="sandbox", arrival_on=date(2025, 3, 4),
        items=(
            PayoutItem(charge_ref=first, gross=eur("100.00"), fee=eur("1.65")),
            PayoutItem(charge_ref=second, gross=eur("250.00"), fee=eur("3.75")),
            PayoutItem(charge_ref=first, gross=eur("-40.00"), fee=eur("0.00")),
        ),
    )  # fmt: skip
    assert (payout.gross, payout.fees, payout.net) == (eur("310.00"), eur("5.40"), eur("304.60"))


def test_a_report_holds_several_payouts_in_order(gateway: SandboxGateway) -> None:
    a = gateway.payout_report([("ch_a", eur("10.00"))], arrival_on=date(2025, 3, 4), payout_ref="po_2")
    b = gateway.payout_report(
        [("ch_b", Money.parse("1000", "JPY"))], arrival_on=date(2025, 3, 5), payout_ref="po_1"
    )
    content = "\ufeff".encode() + a + b.split(b"\n", 1)[1] + b"\n"  # a BOM, one header, a blank last line
    payouts = gateway.parse_payout_report(content)
    assert [(p.ref, p.arrival_on, p.net) for p in payouts] == [
        ("po_2", date(2025, 3, 4), eur("9.61")),
        ("po_1", date(2025, 3, 5), Money.parse("986", "JPY")),  # 14 + 0.25 rounds to 14
    ]


HEADER = "payout_ref,arrival_on,charge_ref,gross,fee,net,currency\n"
ROW = "po_1,2025-03-04,ch_1,100.00,1.65,98.35,EUR\n"


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (b"", "row 1", "header"),
        (b"\xff\xfe" + HEADER.encode(), None, "not UTF-8"),
        ((HEADER.replace("fee", "fees") + ROW).encode(), "row 1", "header"),
        (HEADER.encode(), None, "no rows"),
        ((HEADER + ROW + "po_1,2025-03-04,ch_2,100.00,1.65\n").encode(), "row 3", "7 columns, found 5"),
        ((HEADER + ROW + "po_1,04/03/2025,ch_2,100.00,1.65,98.35,EUR\n").encode(), "row 3", "not a date"),
        ((HEADER + "po_1,2025-03-04,ch_2,1e2,1.65,98.35,EUR\n").encode(), "row 2", "gross"),
        ((HEADER + "po_1,2025-03-04,ch_2,100.00,1.65,98.35,EURO\n").encode(), "row 2", "currency"),
        ((HEADER + "po_1,2025-03-04,ch_2,100.00,1.65,98.36,EUR\n").encode(), "row 2", "net 98.36 EUR is not"),
        ((HEADER + "po_1,2025-03-04,ch_2,100.001,1.65,98.351,EUR\n").encode(), "row 2", "more decimals"),
        ((HEADER + "po_1,2025-03-04,ch_2,100.00,-1.65,101.65,EUR\n").encode(), "row 2", "negative"),
        ((HEADER + "po_1,2025-03-04,,100.00,1.65,98.35,EUR\n").encode(), "row 2", "may not be empty"),
        ((HEADER + ROW + "po_1,2025-03-05,ch_2,100.00,1.65,98.35,EUR\n").encode(), "row 3", "arrives on"),
        (
            (HEADER + ROW + "\n" + "po_1,2025-03-04,ch_2,100.00,1.65,98.35,USD\n").encode(),
            "row 4",
            "is in EUR",
        ),
    ],
)
def test_a_malformed_report_names_the_row(
    gateway: SandboxGateway, content: bytes, field: str | None, message: str
) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.parse_payout_report(content)
    assert (caught.value.code, caught.value.field) == ("invalid_payout_report", field)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("charges", "code"),
    [
        ([], "empty_payout"),
        ([("ch_1", eur("1.00")), ("ch_2", Money.parse("1.00", "USD"))], "currency_mismatch"),
        ([("ch_1", eur("0.00"))], "invalid_amount"),
        ([("ch_1", eur("1.005"))], "invalid_amount"),
        ([("ch_1\n", eur("1.00"))], "invalid_ref"),
        ([(" ch_1", eur("1.00"))], "invalid_ref"),
        ([("", eur("1.00"))], "invalid_ref"),
    ],
)
def test_a_report_is_not_written_from_bad_charges(
    gateway: SandboxGateway, charges: list[tuple[str, Money]], code: str
) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.payout_report(charges, arrival_on=date(2025, 3, 4), payout_ref="po_1")
    assert caught.value.code == code


# Refs with commas, quotes and non-ASCII letters: the CSV must quote them and give them back unchanged.
REFS = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=12)


@given(
    st.lists(
        st.tuples(REFS, st.integers(-(10**9), 10**9).filter(bool)),
        min_size=1,
        max_size=20,
    )
)
def test_any_report_round_trips_losing_no_cent(rows: list[tuple[str, int]]) -> None:
    gateway = SandboxGateway(SECRET)
    charges = [(ref, Money.from_minor_units(units, "EUR")) for ref, units in rows]
    (payout,) = gateway.parse_payout_report(
        gateway.payout_report(charges, arrival_on=date(2025, 3, 4), payout_ref="po_1")
    )
    assert [(i.charge_ref, i.gross) for i in payout.items] == charges
    assert payout.gross == sum((g for _, g in charges[1:]), charges[0][1])
    assert payout.fees == sum((sandbox_fee(g) for _, g in charges if g.amount > 0), Money.zero("EUR"))
    assert payout.net == payout.gross - payout.fees


# -- the documented cards -------------------------------------------------------------------------------

DOCUMENTED = {
    "tok_sandbox_success", "tok_sandbox_decline", "tok_sandbox_insufficient_funds", "tok_sandbox_lost_card",
    "tok_sandbox_stolen_card", "tok_sandbox_expired_card", "tok_sandbox_incorrect_cvc",
    "tok_sandbox_processing_error", "tok_sandbox_async", "tok_sandbox_authentication_required",
    "tok_sandbox_authentication_fails", "tok_sandbox_unavailable", "tok_sandbox_chargeback",
    "tok_sandbox_insufficient_then_success_3",
}  # fmt: skip


def test_the_card_table_lists_every_test_card_with_what_may_be_shown() -> None:
    assert set(SANDBOX_CARDS) == DOCUMENTED
    assert len({c.last4 for c in SANDBOX_CARDS.values()}) == len(SANDBOX_CARDS)
    for card in SANDBOX_CARDS.values():
        assert re.fullmatch(r"[0-9]{4}", card.last4) and card.brand and card.outcome
        assert (card.exp_month, card.exp_year) == (12, 2034)


def test_every_documented_card_and_iban_behaves_as_listed(gateway: SandboxGateway) -> None:
    for token in SANDBOX_CARDS:
        if token != "tok_sandbox_unavailable":
            gateway.charge(request(token, key="k:1"))
    for entry in SANDBOX_IBANS.values():
        assert stdnum_iban.is_valid(entry.iban)
        assert gateway.fetch(gateway.charge(sepa(entry.iban)).ref).decline_code == entry.decline_code


def test_the_docs_list_every_card_and_iban() -> None:
    text = DOCS.read_text()
    for token in [*SANDBOX_CARDS, SANDBOX_PROVIDER_TOKEN, *SANDBOX_IBANS]:
        assert f"`{token}`" in text, token
