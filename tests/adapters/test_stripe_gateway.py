"""The Stripe gateway (issue 7): the exact requests sent through the real `stripe` library to a fake HTTP
client, Stripe's answers (hand-written fixtures, see tests/fixtures/stripe/README.md) mapped to the port,
webhooks signed here with Stripe's scheme, and the payout reconciliation report."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from hypothesis import given
from hypothesis import strategies as st

from kassa.adapters.clock import SystemClock
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
from kassa.adapters.payments.stripe import (
    GatewayRequestRefused,
    StripeGateway,
    UnsupportedEvent,
    decline_code,
    from_stripe_amount,
    parse_payout_reconciliation,
    to_stripe_amount,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import DeclineCode, PaymentMethod, PaymentMethodType, PaymentStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "payments-stripe.md"
API_KEY = "sk_test_kassa_0123456789"
SECRET = "whsec_kassaTestEndpointSecret0123456789"
PI = "pi_3QkassaSucceeded01"
EXPAND = {"expand[0]": "latest_charge.balance_transaction"}


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


# -- a fake HTTP client under the real stripe library ---------------------------------------------------


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]


class FakeStripeHTTP(stripe.HTTPClient):
    """Answers each (method, path) from a queue (the last answer repeats) and records what was sent."""

    name = "kassa-test"

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.sent: list[Sent] = []

    def answer(self, method: str, path: str, *answers: tuple[int, Any]) -> None:
        self.answers[(method, path)] = list(answers)

    def request(
        self,
        method: str,
        url: str,
        headers: Any,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, dict[str, str]]:
        parts = urlsplit(url)
        form = dict(parse_qsl(post_data or "", keep_blank_values=True))
        self.sent.append(Sent(method, parts.path, dict(parse_qsl(parts.query)), form, dict(headers or {})))
        queue = self.answers[(method, parts.path)]
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(body, Exception):
            raise body
        text = body if isinstance(body, str) else json.dumps(body)  # a str is sent as it is
        return text, status, {"Request-Id": f"req_fake{len(self.sent)}"}

    def close(self) -> None:
        pass

    def _sleep_time_seconds(self, num_retries: int) -> float:
        return 0.0  # the library's back-off between retries; nothing to wait for here


@pytest.fixture
def http() -> FakeStripeHTTP:
    return FakeStripeHTTP()


@pytest.fixture
def gateway(http: FakeStripeHTTP) -> StripeGateway:
    return StripeGateway(API_KEY, SECRET, http_client=http)


def card(token: str | None = "pm_1QkassaCardVisa01", **kw: Any) -> PaymentMethod:
    fields: dict[str, Any] = {"type": PaymentMethodType.CARD, "gateway": "stripe", **kw}
    return PaymentMethod(
        tenant_id="ten_1", id="pmt_1", customer_id="cus_01JKASSA", token=token,
        created_at=datetime(2025, 1, 1, tzinfo=UTC), **fields,
    )  # fmt: skip


def charge_request(amount: Money | None = None, **kw: Any) -> ChargeRequest:
    fields: dict[str, Any] = {
        "idempotency_key": "inv_01JKASSA:1",
        "amount": amount or eur("123.45"),
        "method": card(),
        "description": "Invoice INV-2025-0042",
        "customer_ref": "cus_01JKASSA",
        "metadata": {"stripe_customer": "cus_RkassaCustomer01", "invoice_id": "inv_01JKASSA"},
        **kw,
    }
    return ChargeRequest(**fields)


# -- charge ---------------------------------------------------------------------------------------------


def test_an_off_session_charge_sends_one_confirmed_payment_intent_and_reads_the_fee(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    http.answer("post", "/v1/payment_intents", (200, fixture("payment_intent_succeeded.json")))

    result = gateway.charge(charge_request())

    assert result == GatewayCharge(
        ref=PI, status=PaymentStatus.SUCCEEDED, amount=eur("123.45"), captured=True, fee=eur("2.10")
    )
    [sent] = http.sent
    assert (sent.method, sent.path, sent.query) == ("post", "/v1/payment_intents", {})
    assert sent.form == {
        "amount": "12345",
        "currency": "eur",
        "payment_method": "pm_1QkassaCardVisa01",
        "payment_method_types[0]": "card",
        "customer": "cus_RkassaCustomer01",
        "confirm": "true",
        "off_session": "true",
        "description": "Invoice INV-2025-0042",
        "metadata[kassa_customer_id]": "cus_01JKASSA",
        "metadata[invoice_id]": "inv_01JKASSA",
        **EXPAND,
    }
    assert sent.headers["Idempotency-Key"] == "inv_01JKASSA:1"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert stripe.api_key is None  # the gateway's own client, never the library's global key


def test_an_authorization_asks_for_manual_capture_and_is_not_captured(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    intent = fixture("payment_intent_succeeded.json")
    intent.update(status="requires_capture", amount_received=0, amount_capturable=12345)
    intent["latest_charge"]["balance_transaction"] = None  # not in the balance until captured
    http.answer("post", "/v1/payment_intents", (200, intent))

    result = gateway.charge(charge_request(capture=False))

    assert http.sent[0].form["capture_method"] == "manual"
    assert result == GatewayCharge(
        ref=PI, status=PaymentStatus.SUCCEEDED, amount=eur("123.45"), captured=False, fee=None
    )


def test_an_on_session_charge_passes_the_return_url_and_gets_the_3ds_link(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    intent = fixture("payment_intent_requires_action.json")
    http.answer("post", "/v1/payment_intents", (200, intent))

    result = gateway.charge(charge_request(return_url="https://billing.example.com/portal/payments/return"))

    form = http.sent[0].form
    assert form["return_url"] == "https://billing.example.com/portal/payments/return"
    assert "off_session" not in form
    assert result == GatewayCharge(
        ref="pi_3QkassaNeeds3DS01",
        status=PaymentStatus.REQUIRES_ACTION,
        amount=eur("123.45"),
        captured=False,
        action_url=intent["next_action"]["redirect_to_url"]["url"],
    )


def test_a_declined_card_is_a_failed_charge_with_the_decline_code_not_an_exception(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    http.answer("post", "/v1/payment_intents", (402, fixture("payment_intent_card_declined_error.json")))

    result = gateway.charge(charge_request())

    assert result == GatewayCharge(
        ref="pi_3QkassaDeclined01",
        status=PaymentStatus.FAILED,
        amount=eur("123.45"),
        captured=False,
        decline_code=DeclineCode.INSUFFICIENT_FUNDS,
        message="Your card has insufficient funds.",
    )
    assert len(http.sent) == 1  # a decline is an answer: never resent


def test_a_decline_without_a_payment_intent_keeps_the_charge_id(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    body = fixture("payment_intent_card_declined_error.json")
    del body["error"]["payment_intent"]
    body["error"].update(code="expired_card", decline_code=None, message="Your card has expired.")
    http.answer("post", "/v1/payment_intents", (402, body))

    result = gateway.charge(charge_request(amount=eur("10.00")))

    assert (result.ref, result.amount, result.decline_code) == (
        "ch_3QkassaDeclined01",
        eur("10.00"),
        DeclineCode.EXPIRED_CARD,
    )


def test_a_zero_decimal_currency_is_sent_in_whole_units(gateway: StripeGateway, http: FakeStripeHTTP) -> None:
    intent = fixture("payment_intent_succeeded.json")
    intent.update(amount=5000, amount_received=5000, currency="jpy")
    intent["latest_charge"]["balance_transaction"].update(currency="jpy", fee=180)
    http.answer("post", "/v1/payment_intents", (200, intent))

    result = gateway.charge(charge_request(amount=Money(Decimal(5000), "JPY")))

    assert (http.sent[0].form["amount"], http.sent[0].form["currency"]) == ("5000", "jpy")
    assert (result.amount, result.fee) == (Money(Decimal(5000), "JPY"), Money(Decimal(180), "JPY"))


def test_a_provider_account_is_charged_as_its_provider_type(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    http.answer("post", "/v1/payment_intents", (200, fixture("payment_intent_succeeded.json")))
    account = card("pm_1QkassaPayPal01", type=PaymentMethodType.PROVIDER_ACCOUNT, provider="PayPal")

    gateway.charge(charge_request(method=account, metadata={}))

    form = http.sent[0].form
    assert (form["payment_method_types[0]"], form["payment_method"]) == ("paypal", "pm_1QkassaPayPal01")
    assert "customer" not in form  # no Stripe customer named: none sent
    assert form["metadata[kassa_customer_id]"] == "cus_01JKASSA"


@pytest.mark.parametrize(
    "method",
    [
        card(None),
        card(gateway="sandbox", token="tok_sandbox_success"),
        card("pm_x", type=PaymentMethodType.CHEQUE),
        card("pm_x", type=PaymentMethodType.PROVIDER_ACCOUNT),  # which provider is unknown
    ],
    ids=["no token", "another gateway", "cheque", "account without provider"],
)
def test_a_method_stripe_cannot_charge_is_refused_before_any_request(
    gateway: StripeGateway, http: FakeStripeHTTP, method: PaymentMethod
) -> None:
    with pytest.raises(DomainError) as caught:
        gateway.charge(charge_request(method=method))
    assert (caught.value.code, caught.value.field) == ("payment_method_not_chargeable", "payment_method_id")
    assert http.sent == []


# -- errors ---------------------------------------------------------------------------------------------


def test_a_5xx_is_retried_with_the_same_key_then_unavailable(
    gateway: StripeGateway, http: FakeStripeHTTP
) -> None:
    http.answer(
        "post", "/v1/payment_intents", (503, {"error": {"type": "api_error", "message": "Try again."}})
    )

    with pytest.raises(GatewayUnavailable, match="Try again"):
        gateway.charge(charge_request())

    assert [s.headers["Idempotency-Key"] for s in http.sent] == ["inv_01JKASSA:1"] * 3


def test_a_retry_that_gets_through_returns_the_charge(gateway: StripeGateway, http: FakeStripeHTTP) -> None:
    http.answer(
        "post",
        "/v1/payment_intents",
        (0, stripe.APIConnectionError("Connection reset", should_retry=True)),  # type: ignore[no-untyped-call]
        (200, fixture("payment_intent_succeeded.json")),
    )

    assert gateway.charge(charge_request()).status is PaymentStatus.SUCCEEDED
    assert [s.headers["Idempotency-Key"] for s in http.sent] == ["inv_01JKASSA:1"] * 2


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (
            429,
            {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many."}},
            "Too many",
        ),
        (0, stripe.APIConnectionError("Timed out"), "Timed out"),  # type: ignore[no-untyped-call]
        (
            401,
            {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
            "KASSA_STRIPE_API_KEY",
        ),
        (200, "<html>bad gateway</html>", "Invalid response"),
        (200, '"a json string"', "not a Stripe object"),
    ],
    ids=["rate limited", "unreachable", "bad key", "not json", "not an object"],
)
def test_a_gateway_that_cannot_answer_is_unavailable(
    gateway: StripeGateway, http: FakeStripeHTTP, status: int, body: Any, words: str
) -> None:
    http.answer("get", f"/v1/payment_intents/{PI}", (status, body))
    with pytest.raises(GatewayUnavailable, match=words):
        gateway.fetch(PI)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"type": "invalid_request_error", "code": "charge_already_refunded", "message": "Refunded."}, "charge_already_refunded"),
        ({"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the same parameters."}, "idempotency_error"),
    ],
)  # fmt: skip
def test_a_request_stripe_refuses_is_a_domain_error(
    gateway: StripeGateway, http: FakeStripeHTTP, error: dict[str, str], code: str
) -> None:
    http.answer("post", "/v1/refunds", (400, {"error": error}))
    with pytest.raises(GatewayRequestRefused) as caught:
        gateway.refund(PI, eur("25.00"), idempotency_key="ref-1")
    assert isinstance(caught.value, DomainError)
    assert (caught.value.code, caught.value.stripe_code, caught.value.http_status) == (
        "gateway_refused",
        code,
        400,
    )
    assert len(http.sent) == 1


# -- capture, confirm, refund, fetch --------------------------------------------------------------------


def test_capture_sends_the_amount_with_its_key(gateway: StripeGateway, http: FakeStripeHTTP) -> None:
    intent = fixture("payment_intent_succeeded.json")
    intent["amount_received"] = 10000  # captured less than authorized
    http.answer("post", f"/v1/payment_intents/{PI}/capture", (200, intent))

    result = gateway.capture(PI, eur("100.00"), idempotency_key="inv_01JKASSA:capture")

    assert http.sent[0].form == {"amount_to_capture": "10000", **EXPAND}
    assert http.sent[0].headers["Idempotency-Key"] == "inv_01JKASSA:capture"
    assert result == GatewayCharge(
        ref=PI, status=PaymentStatus.SUCCEEDED, amount=eur("100.00"), captured=True, fee=eur("2.10")
    )


def test_confirm_and_fetch_read_the_payment_intent(gateway: StripeGateway, http: FakeStripeHTTP) -> None:
    http.answer("get", f"/v1/payment_intents/{PI}", (200, fixture("payment_intent_succeeded.json")))

    assert gateway.confirm(PI) == gateway.fetch(PI)
    assert gateway.fetch(PI).status is PaymentStatus.SUCCEEDED
    assert [(s.method, s.path, s.query, s.form) for s in http.sent] == [
        ("get", f"/v1/payment_intents/{PI}", EXPAND, {})
    ] * 3


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": "processing", "amount_received": 0, "latest_charge": None}, (PaymentStatus.PENDING, False, None, None)),
        ({"status": "canceled", "cancellation_reason": "abandoned", "latest_charge": None}, (PaymentStatus.CANCELED, False, None, "abandoned")),
        (
            {"status": "requires_payment_method", "latest_charge": "ch_x",
             "last_payment_error": {"type": "card_error", "code": "expired_card", "message": "Your card has expired."}},
            (PaymentStatus.FAILED, False, DeclineCode.EXPIRED_CARD, "Your card has expired."),
        ),
        (
            {"status": "requires_payment_method", "latest_charge": None,
             "last_payment_error": {"type": "invalid_request_error", "code": "payment_intent_authentication_failure",
                                    "message": "Authentication failed."}},
            (PaymentStatus.FAILED, False, DeclineCode.AUTHENTICATION_FAILED, "Authentication failed."),
        ),
        ({"latest_charge": "ch_3QkassaSucceeded01"}, (PaymentStatus.SUCCEEDED, True, None, None)),
    ],
    ids=["processing", "canceled", "declined later", "3ds failed", "charge not expanded"],
)  # fmt: skip
def test_payment_intent_statuses(
    gateway: StripeGateway, http: FakeStripeHTTP, changes: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    intent = fixture("payment_intent_succeeded.json")
    intent.update(changes)
    http.answer("get", f"/v1/payment_intents/{PI}", (200, intent))

    result = gateway.fetch(PI)

    assert (result.status, result.captured, result.decline_code, result.message) == expected
    assert result.fee is None


@pytest.mark.parametrize(
    ("next_action", "url"),
    [
        ({"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}, None),
        (
            {"type": "display_bank_transfer_instructions",
             "display_bank_transfer_instructions": {"amount_remaining": 12345, "currency": "eur",
                                                    "hosted_instructions_url": "https://payments.stripe.com/x"}},
            "https://payments.stripe.com/x",
        ),
    ],
)  # fmt: skip
def test_the_action_url_is_a_hosted_page_when_there_is_no_redirect(
    gateway: StripeGateway, http: FakeStripeHTTP, next_action: dict[str, Any], url: str | None
) -> None:
    intent = fixture("payment_intent_requires_action.json")
    intent["next_action"] = next_action
    http.answer("get", f"/v1/payment_intents/{PI}", (200, intent))
    assert gateway.fetch(PI).action_url == url


def test_the_fee_is_in_the_balance_currency(gateway: StripeGateway, http: FakeStripeHTTP) -> None:
    intent = fixture("payment_intent_succeeded.json")
    intent["latest_charge"]["balance_transaction"].update(currency="usd", fee=250)
    http.answer("get", f"/v1/payment_intents/{PI}", (200, intent))
    assert gateway.fetch(PI).fee == Money(Decimal("2.50"), "USD")


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({}, PaymentStatus.SUCCEEDED, None),
        ({"status": "pending"}, PaymentStatus.PENDING, None),
        ({"status": "failed", "failure_reason": "expired_or_canceled_card"}, PaymentStatus.FAILED, "expired_or_canceled_card"),
    ],
)  # fmt: skip
def test_refund_posts_the_payment_intent_and_amount(
    gateway: StripeGateway,
    http: FakeStripeHTTP,
    changes: dict[str, Any],
    status: PaymentStatus,
    message: str | None,
) -> None:
    http.answer("post", "/v1/refunds", (200, {**fixture("refund.json"), **changes}))

    result = gateway.refund(PI, eur("25.00"), idempotency_key="pay_01:refund:1")

    assert http.sent[0].form == {"payment_intent": PI, "amount": "2500"}
    assert http.sent[0].headers["Idempotency-Key"] == "pay_01:refund:1"
    assert result == GatewayRefund(
        ref="re_3QkassaRefund01", status=status, amount=eur("25.00"), message=message
    )


# -- amounts and decline codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "units"),
    [
        (eur("123.45"), 12345),
        (Money(Decimal(500), "JPY"), 500),
        (Money(Decimal(123), "ISK"), 12300),  # two-decimal in Stripe's API, none in ISO 4217
        (Money(Decimal("5000.00"), "MGA"), 5000),  # whole ariary in Stripe, two decimals in ISO
        (Money(Decimal("5.120"), "KWD"), 5120),
    ],
)
def test_stripe_amounts(money: Money, units: int) -> None:
    assert to_stripe_amount(money) == units
    assert from_stripe_amount(units, money.currency.lower()) == money


@pytest.mark.parametrize(
    ("money", "code"),
    [
        (Money(Decimal("12.34"), "MGA"), "amount_not_chargeable"),
        (Money(Decimal("5.125"), "KWD"), "amount_not_chargeable"),
        (Money(Decimal("1.234"), "EUR"), "not_rounded"),
    ],
)
def test_amounts_stripe_cannot_take_are_refused(money: Money, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        to_stripe_amount(money)
    assert caught.value.code == code


@given(
    code=st.sampled_from(["EUR", "USD", "JPY", "ISK", "MGA", "KWD", "BHD", "HUF", "CLP"]),
    units=st.integers(min_value=-(10**15), max_value=10**15),
)
def test_stripe_units_survive_the_round_trip_through_money(code: str, units: int) -> None:
    # Stripe takes three-decimal currencies in tens, and ISK (two decimals in its API) in whole krónur.
    units *= {"KWD": 10, "BHD": 10, "ISK": 100}.get(code, 1)
    assert to_stripe_amount(from_stripe_amount(units, code.lower())) == units


@pytest.mark.parametrize(
    ("stripe_decline", "stripe_code", "expected"),
    [
        ("insufficient_funds", "card_declined", DeclineCode.INSUFFICIENT_FUNDS),
        ("stolen_card", "card_declined", DeclineCode.STOLEN_CARD),
        (None, "expired_card", DeclineCode.EXPIRED_CARD),
        (None, "incorrect_cvc", DeclineCode.INCORRECT_CVC),
        ("authentication_required", "authentication_required", DeclineCode.AUTHENTICATION_REQUIRED),
        ("something_new", "card_declined", DeclineCode.GENERIC_DECLINE),
        (None, None, DeclineCode.GENERIC_DECLINE),
    ],
)
def test_decline_codes(stripe_decline: str | None, stripe_code: str | None, expected: DeclineCode) -> None:
    assert decline_code(stripe_decline, stripe_code) is expected


def test_the_documented_decline_table_is_the_one_applied() -> None:
    section = DOCS.read_text().split("### Decline codes")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| `([a-z_]+)` \|$", section, flags=re.MULTILINE)
    assert len(rows) == 18
    for stripe_name, kassa_name in rows:
        assert decline_code(stripe_name, None) is DeclineCode(kassa_name), stripe_name


# -- webhooks -------------------------------------------------------------------------------------------


def unix_now() -> int:
    return int(SystemClock().now().timestamp())  # Stripe's helper checks against the real wall clock


def signed(body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    t = unix_now() if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={signature}"}


def event(type_: str, obj: dict[str, Any], event_id: str = "evt_1QkassaTest01") -> bytes:
    envelope = {
        "id": event_id, "object": "event", "api_version": "2026-10-28.endive", "created": 1736935260,
        "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": type_,
    }  # fmt: skip
    return json.dumps(envelope).encode()


CREATED = datetime(2025, 1, 15, 10, 1, tzinfo=UTC)  # the `created` of event()


def test_payment_intent_events(gateway: StripeGateway) -> None:
    succeeded = event("payment_intent.succeeded", fixture("payment_intent_succeeded.json"))
    declined = fixture("payment_intent_card_declined_error.json")["error"]["payment_intent"]
    failed = event("payment_intent.payment_failed", declined, "evt_2")
    action = event("payment_intent.requires_action", fixture("payment_intent_requires_action.json"), "evt_3")

    assert [gateway.parse_webhook(b, signed(b)) for b in (succeeded, failed, action)] == [
        GatewayEvent(
            id="evt_1QkassaTest01", type=GatewayEventType.PAYMENT_SUCCEEDED, created_at=CREATED,
            charge_ref=PI, amount=eur("123.45"),
        ),
        GatewayEvent(
            id="evt_2", type=GatewayEventType.PAYMENT_FAILED, created_at=CREATED,
            charge_ref="pi_3QkassaDeclined01", amount=eur("123.45"),
            decline_code=DeclineCode.INSUFFICIENT_FUNDS, message="Your card has insufficient funds.",
        ),
        GatewayEvent(
            id="evt_3", type=GatewayEventType.PAYMENT_REQUIRES_ACTION, created_at=CREATED,
            charge_ref="pi_3QkassaNeeds3DS01", amount=eur("123.45"),
        ),
    ]  # fmt: skip


def test_refund_events(gateway: StripeGateway) -> None:
    charge_refunded = (FIXTURES / "event_charge_refunded.json").read_bytes()
    updated = event("refund.updated", fixture("refund.json"))
    failed = event(
        "refund.failed",
        {**fixture("refund.json"), "status": "failed", "failure_reason": "expired_or_canceled_card"},
        "evt_2",
    )

    assert gateway.parse_webhook(charge_refunded, signed(charge_refunded)) == GatewayEvent(
        id="evt_3QkassaChargeRefunded",
        type=GatewayEventType.REFUND_SUCCEEDED,
        created_at=datetime(2025, 1, 16, 10, 0, 1, tzinfo=UTC),
        charge_ref=PI,
        amount=eur("10.00"),  # the latest of the charge's two refunds
        refund_ref="re_3QkassaRefund02",
    )
    assert gateway.parse_webhook(updated, signed(updated)) == GatewayEvent(
        id="evt_1QkassaTest01", type=GatewayEventType.REFUND_SUCCEEDED, created_at=CREATED,
        charge_ref=PI, amount=eur("25.00"), refund_ref="re_3QkassaRefund01",
    )  # fmt: skip
    assert gateway.parse_webhook(failed, signed(failed)) == GatewayEvent(
        id="evt_2", type=GatewayEventType.REFUND_FAILED, created_at=CREATED, charge_ref=PI,
        amount=eur("25.00"), refund_ref="re_3QkassaRefund01", message="expired_or_canceled_card",
    )  # fmt: skip


def test_a_chargeback_opened_won_and_lost(gateway: StripeGateway) -> None:
    opened = (FIXTURES / "event_charge_dispute_created.json").read_bytes()
    won = (FIXTURES / "event_charge_dispute_closed.json").read_bytes()
    lost_event = fixture("event_charge_dispute_closed.json")
    lost_event["data"]["object"]["status"] = "lost"
    lost = json.dumps(lost_event).encode()
    common: dict[str, Any] = {
        "charge_ref": PI,
        "amount": eur("123.45"),
        "chargeback_ref": "dp_1QkassaDispute01",
        "reason": "fraudulent",
    }

    assert gateway.parse_webhook(opened, signed(opened)) == GatewayEvent(
        id="evt_1QkassaDisputeOpen", type=GatewayEventType.CHARGEBACK_OPENED,
        created_at=datetime(2025, 1, 30, 16, 0, tzinfo=UTC), fee=eur("15.00"), **common,
    )  # fmt: skip
    closed_at = datetime(2025, 3, 1, tzinfo=UTC)
    assert gateway.parse_webhook(won, signed(won)) == GatewayEvent(
        id="evt_1QkassaDisputeWon", type=GatewayEventType.CHARGEBACK_WON, created_at=closed_at, **common
    )
    assert gateway.parse_webhook(lost, signed(lost)).type is GatewayEventType.CHARGEBACK_LOST


def test_payout_paid_and_card_updated(gateway: StripeGateway) -> None:
    paid = (FIXTURES / "event_payout_paid.json").read_bytes()
    updated = (FIXTURES / "event_payment_method_updated.json").read_bytes()
    plain = fixture("event_payment_method_updated.json")
    plain["type"] = "payment_method.updated"
    plain_body = json.dumps(plain).encode()

    assert gateway.parse_webhook(paid, signed(paid)) == GatewayEvent(
        id="evt_1QkassaPayoutPaid", type=GatewayEventType.PAYOUT_PAID,
        created_at=datetime(2025, 1, 20, 9, 0, tzinfo=UTC), payout_ref="po_1QkassaPayout0120",
        amount=eur("118.76"), arrival_on=date(2025, 1, 20),
    )  # fmt: skip
    card_event = GatewayEvent(
        id="evt_1QkassaCardUpdated", type=GatewayEventType.PAYMENT_METHOD_UPDATED,
        created_at=datetime(2025, 2, 1, tzinfo=UTC), token="pm_1QkassaCardVisa01", exp_month=9, exp_year=2029,
    )  # fmt: skip
    assert gateway.parse_webhook(updated, signed(updated)) == card_event
    assert gateway.parse_webhook(plain_body, signed(plain_body)) == card_event


def test_the_signature_header_is_found_in_any_case(gateway: StripeGateway) -> None:
    body = (FIXTURES / "event_payout_paid.json").read_bytes()
    headers = {"stripe-signature": signed(body)["Stripe-Signature"], "content-type": "application/json"}
    assert gateway.parse_webhook(body, headers).payout_ref == "po_1QkassaPayout0120"


def test_a_signature_within_the_five_minute_tolerance_is_accepted(gateway: StripeGateway) -> None:
    body = (FIXTURES / "event_payout_paid.json").read_bytes()
    assert gateway.parse_webhook(body, signed(body, timestamp=unix_now() - 240)).id == "evt_1QkassaPayoutPaid"


def _rejections() -> list[tuple[str, bytes, dict[str, str]]]:
    body = (FIXTURES / "event_payout_paid.json").read_bytes()
    good = signed(body)["Stripe-Signature"]
    return [
        ("tampered", body.replace(b"11876", b"99999"), {"Stripe-Signature": good}),
        ("other secret", body, signed(body, secret="whsec_someoneElse")),
        ("expired", body, signed(body, timestamp=unix_now() - 400)),
        ("no header", body, {}),
        ("garbage header", body, {"Stripe-Signature": "t=yesterday,v1=abc"}),
        ("v0 only", body, {"Stripe-Signature": good.replace("v1=", "v0=")}),
        ("not utf-8", b"\xff" + body, {"Stripe-Signature": good}),
    ]


@pytest.mark.parametrize(
    ("body", "headers"), [r[1:] for r in _rejections()], ids=[r[0] for r in _rejections()]
)
def test_a_webhook_that_is_not_stripes_is_rejected(
    gateway: StripeGateway, body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        gateway.parse_webhook(body, headers)
    assert not isinstance(caught.value, UnsupportedEvent)  # answered 400, not ignored


def test_a_signed_body_that_is_not_an_event_is_rejected(gateway: StripeGateway) -> None:
    for body in (b"not json", b'{"object": "event"}', event("payout.paid", {"id": "po_1"})):
        with pytest.raises(WebhookRejected) as caught:
            gateway.parse_webhook(body, signed(body))
        assert not isinstance(caught.value, UnsupportedEvent)


def _ignored() -> list[tuple[str, bytes]]:
    inquiry = fixture("event_charge_dispute_created.json")
    inquiry["data"]["object"]["status"] = "warning_needs_response"
    no_list = fixture("event_charge_refunded.json")
    del no_list["data"]["object"]["refunds"]
    return [
        ("customer.created", event("customer.created", {"id": "cus_1", "object": "customer"})),
        ("charge.dispute.created", json.dumps(inquiry).encode()),
        ("charge.refunded", json.dumps(no_list).encode()),
        ("refund.created", event("refund.created", {**fixture("refund.json"), "status": "pending"})),
        ("charge.dispute.closed", event("charge.dispute.closed", {"id": "dp_1", "status": "warning_closed"})),
    ]


@pytest.mark.parametrize(("type_", "body"), _ignored(), ids=[i[0] for i in _ignored()])
def test_genuine_events_kassa_has_no_use_for_are_ignorable(
    gateway: StripeGateway, type_: str, body: bytes
) -> None:
    with pytest.raises(UnsupportedEvent) as caught:
        gateway.parse_webhook(body, signed(body))
    assert isinstance(caught.value, WebhookRejected)
    assert caught.value.ignorable is True
    assert caught.value.event_type == type_
    assert caught.value.event_id == json.loads(body)["id"]


# -- payout reconciliation report -----------------------------------------------------------------------


def test_the_payout_report_groups_items_by_payout(gateway: StripeGateway) -> None:
    payouts = gateway.parse_payout_report((FIXTURES / "payout_reconciliation_itemized.csv").read_bytes())

    assert payouts == [
        Payout(
            ref="po_1QkassaPayout0120", gateway="stripe", arrival_on=date(2025, 1, 20),
            items=(
                PayoutItem(charge_ref=PI, gross=eur("123.45"), fee=eur("2.10")),
                PayoutItem(charge_ref=PI, gross=eur("-25.00"), fee=eur("0.00")),
                PayoutItem(charge_ref="pi_3QkassaSucceeded02", gross=eur("23.00"), fee=eur("0.59")),
            ),
        ),
        Payout(
            ref="po_1QkassaPayout0127", gateway="stripe", arrival_on=date(2025, 1, 27),
            items=(
                PayoutItem(charge_ref=PI, gross=eur("-123.45"), fee=eur("15.00")),
                PayoutItem(charge_ref="pi_3QkassaSucceeded03", gross=eur("500.00"), fee=eur("7.75")),
            ),
        ),
    ]  # fmt: skip
    assert [(p.gross, p.fees, p.net) for p in payouts] == [
        (eur("121.45"), eur("2.69"), eur("118.76")),  # the payout.paid event's amount
        (eur("376.55"), eur("22.75"), eur("353.80")),
    ]


HEADER = "automatic_payout_id,automatic_payout_effective_at_utc,currency,gross,fee,net,reporting_category,charge_id\n"


def test_the_report_falls_back_to_the_utc_date_and_the_charge_id_and_skips_rows_not_paid_out() -> None:
    content = (
        "\ufeff" + HEADER + "po_1,2025-02-03 00:00:00,jpy,5000,180,4820,charge,ch_1\n"
        ",,jpy,700,25,675,charge,ch_2\n"  # in the balance, not in a payout yet
    ).encode()
    assert parse_payout_reconciliation(content) == [
        Payout(
            ref="po_1", gateway="stripe", arrival_on=date(2025, 2, 3),
            items=(PayoutItem(charge_ref="ch_1", gross=Money(Decimal(5000), "JPY"), fee=Money(Decimal(180), "JPY")),),
        )
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "field", "words"),
    [
        ("po_1,2025-02-03,eur,10.00,0.30,9.60,charge,ch_1\n", "lines.2.net", "is not net"),
        ("po_1,2025-02-03,eur,\"10,00\",0.30,9.70,charge,ch_1\n", "lines.2.gross", "not an amount"),
        ("po_1,2025-02-03,eur,10.00,0.30,9.70,charge,\n", "lines.2.payment_intent_id", "names no transaction"),
        ("po_1,03/02/2025,eur,10.00,0.30,9.70,charge,ch_1\n", "lines.2.automatic_payout_effective_at_utc", "not a date"),
        ("po_1,2025-02-03,eur,1.00,0,1.00,charge,ch_1\npo_1,2025-02-04,eur,1.00,0,1.00,charge,ch_2\n",
         "lines.3.automatic_payout_effective_at_utc", "two arrival dates"),
        ("po_1,2025-02-03,eur,1.00,0,1.00,charge,ch_1\npo_1,2025-02-03,usd,1.00,0,1.00,charge,ch_2\n",
         "lines.3.currency", "mixes currencies"),
        ("po_1,2025-02-03,zzz,1.00,0,1.00,charge,ch_1\n", "lines.2.currency", "ZZZ"),
    ],
    ids=["net", "amount", "no ref", "date", "two dates", "two currencies", "currency"],
)  # fmt: skip
def test_a_report_line_that_does_not_add_up_is_refused_with_its_line(
    rows: str, field: str, words: str
) -> None:
    with pytest.raises(DomainError, match=words) as caught:
        parse_payout_reconciliation((HEADER + rows).encode())
    assert (caught.value.code, caught.value.field) == ("invalid_payout_report", field)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"automatic_payout_id,currency,gross,net,charge_id\n", "fee, automatic_payout_effective_at"),
        (b"automatic_payout_id,automatic_payout_effective_at,currency,gross,fee\n", "payment_intent_id"),
        (b"\xff\xfeautomatic_payout_id", "UTF-8"),
    ],
)
def test_a_file_that_is_not_the_report_is_refused(content: bytes, words: str) -> None:
    with pytest.raises(DomainError, match=words) as caught:
        parse_payout_reconciliation(content)
    assert (caught.value.code, caught.value.field) == ("invalid_payout_report", "content")


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["po_a", "po_b", "po_c", ""]), st.integers(-(10**9), 10**9), st.integers(0, 10**6)
        ),
        max_size=40,
    )
)
def test_every_paid_out_row_lands_in_exactly_one_payout(rows: list[tuple[str, int, int]]) -> None:
    lines = [
        f"{po},2025-03-0{1 + 'abc'.find(po[-1:])},eur,{Money.from_minor_units(g, 'EUR').amount_text()},"
        f"{Money.from_minor_units(f, 'EUR').amount_text()},{Money.from_minor_units(g - f, 'EUR').amount_text()},"
        f"charge,ch_{i}\n"
        for i, (po, g, f) in enumerate(rows)
    ]
    payouts = parse_payout_reconciliation((HEADER + "".join(lines)).encode())
    paid = [(po, g, f) for po, g, f in rows if po]
    assert sorted(p.ref for p in payouts) == sorted(set(po for po, _, _ in paid))
    assert sum(len(p.items) for p in payouts) == len(paid)
    for payout in payouts:
        mine = [(g, f) for po, g, f in paid if po == payout.ref]
        assert payout.gross == Money.from_minor_units(sum(g for g, _ in mine), "EUR")
        assert payout.net == Money.from_minor_units(sum(g - f for g, f in mine), "EUR")


def test_stripe_gateway_is_a_gateway(gateway: StripeGateway) -> None:
    port: Gateway = gateway
    assert port.name == "stripe"
