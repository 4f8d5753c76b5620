"""StripeGateway: the gateway port on Stripe's API (PaymentIntents, Refunds, signed webhooks, payout reports).

A charge is one PaymentIntent created and confirmed in one call, so the idempotency key kassa passes is
the whole charge: retried after a timeout, Stripe answers with the PaymentIntent it already made. The
client is a `stripe.StripeClient` of this gateway's own; the library's global `stripe.api_key` is never
set, so two tenants' gateways in one process cannot leak keys into each other's calls.

Amounts cross the wire in Stripe's minor units, which are ISO 4217's except for a few currencies
(`to_stripe_amount`). Stripe objects are turned into plain dicts at once: the same mapping then serves
API answers and webhook payloads, which are the same object shapes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import stripe

from kassa.adapters.payments.base import (
    ChargeRequest,
    GatewayCharge,
    GatewayEvent,
    GatewayEventType,
    GatewayRefund,
    GatewayUnavailable,
    Payout,
    PayoutItem,
    WebhookRejected,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money, currency, currency_code
from kassa.core.payments import DeclineCode, PaymentMethodType, PaymentStatus

WEBHOOK_TOLERANCE_SECONDS: Final = 300
# Every call carries an idempotency key, so the library may resend after a dropped connection, a 409
# or a 5xx without risk of charging twice; beyond that the caller retries later with the same key.
MAX_NETWORK_RETRIES: Final = 2
CUSTOMER_METADATA_KEY: Final = "stripe_customer"  # ChargeRequest.metadata: the Stripe customer id
# Expanded on every PaymentIntent answer: the fee Stripe kept is on the charge's balance transaction.
_EXPAND: Final = ["latest_charge.balance_transaction"]

# Where Stripe's minor unit is not ISO 4217's: ISK stays two-decimal in Stripe's API (100 = 1 króna)
# though ISO gives it none; Stripe counts MGA in whole ariary though ISO gives it two decimals.
_STRIPE_EXPONENT: Final = {"ISK": 2, "MGA": 0}
# Three-decimal currencies Stripe accepts only in whole tens of the minor unit (its partners' rule).
_TENS_ONLY: Final = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


class UnsupportedEvent(WebhookRejected):
    """A genuine Stripe event (its signature verified) that kassa has no use for: an event type it does
    not map, or one that moves no money yet (a dispute inquiry, a refund still pending). Callers answer
    200 and ignore it, or Stripe would keep resending it for days; `ignorable` tells it apart from a
    forged webhook (a plain `WebhookRejected`, answered 400)."""

    ignorable = True

    def __init__(self, event_id: str, event_type: str, reason: str) -> None:
        super().__init__(f"Stripe event {event_id} ({event_type}) ignored: {reason}")
        self.event_id = event_id
        self.event_type = event_type


class GatewayRequestRefused(DomainError):
    """Stripe refused the request itself (HTTP 400/404: refunding more than is left, capturing a
    PaymentIntent that is not waiting for capture, an idempotency key reused with other parameters).
    Nothing happened, and sending the same request again will not help."""

    def __init__(self, error: stripe.StripeError) -> None:
        code = error.code or (error.error.type if error.error else None) or "invalid_request"
        super().__init__("gateway_refused", f"Stripe refused the request ({code}): {error.user_message}")
        self.stripe_code = code
        self.http_status = error.http_status


def to_stripe_amount(money: Money) -> int:
    """`money` in the integer units Stripe's API expects (EUR 123.45 -> 12345, JPY 500 -> 500, ISK 123 ->
    12300). An amount Stripe cannot take (a fraction of an ariary, KWD 5.125) is a DomainError."""
    units = money.to_minor_units()
    shift = _STRIPE_EXPONENT.get(money.currency, money.exponent) - money.exponent
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        units *= factor
    elif units % factor:
        raise DomainError(
            "amount_not_chargeable", f"Stripe takes {money.currency} in whole units, not {money}.", "amount"
        )
    else:
        units //= factor
    if money.currency in _TENS_ONLY and units % 10:
        raise DomainError(
            "amount_not_chargeable",
            f"Stripe takes {money.currency} amounts only to two decimals, not {money}.",
            "amount",
        )
    return units


def from_stripe_amount(units: int, code: str) -> Money:
    """An amount as Stripe states it (integer units, a lower-case currency) as Money."""
    code = code.upper()
    exponent = _STRIPE_EXPONENT.get(code, currency(code).exponent)
    return Money(Decimal(units).scaleb(-exponent), code)


# Stripe's decline codes (and the error codes that stand for one when no decline code is given), in
# kassa's vocabulary. Anything else is a generic decline: a code Stripe adds later must not crash.
_DECLINES: Final = {
    "insufficient_funds": DeclineCode.INSUFFICIENT_FUNDS,
    "lost_card": DeclineCode.LOST_CARD,
    "stolen_card": DeclineCode.STOLEN_CARD,
    "expired_card": DeclineCode.EXPIRED_CARD,
    "incorrect_cvc": DeclineCode.INCORRECT_CVC,
    "invalid_cvc": DeclineCode.INCORRECT_CVC,
    "processing_error": DeclineCode.PROCESSING_ERROR,
    "do_not_honor": DeclineCode.DO_NOT_HONOR,
    "fraudulent": DeclineCode.FRAUDULENT,
    "authentication_required": DeclineCode.AUTHENTICATION_REQUIRED,
    "payment_intent_authentication_failure": DeclineCode.AUTHENTICATION_FAILED,
    "card_not_supported": DeclineCode.CARD_NOT_SUPPORTED,
    "currency_not_supported": DeclineCode.CARD_NOT_SUPPORTED,
    "generic_decline": DeclineCode.GENERIC_DECLINE,
    # SEPA Direct Debit returns, as Stripe names them
    "account_closed": DeclineCode.ACCOUNT_CLOSED,
    "debit_not_authorized": DeclineCode.DEBTOR_REFUSED,
    "invalid_account_number": DeclineCode.INVALID_ACCOUNT,
    "no_account": DeclineCode.INVALID_ACCOUNT,
}


def decline_code(stripe_decline_code: str | None, stripe_code: str | None) -> DeclineCode:
    """kassa's decline code for a Stripe error: its `decline_code` when known, else its `code`."""
    for name in (stripe_decline_code, stripe_code):
        if name in _DECLINES:
            return _DECLINES[name]
    return DeclineCode.GENERIC_DECLINE


_METHOD_TYPES: Final = {PaymentMethodType.CARD: "card", PaymentMethodType.SEPA_DEBIT: "sepa_debit"}

_STATUSES: Final = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "requires_capture": PaymentStatus.SUCCEEDED,  # authorized: captured=False
    "processing": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_payment_method": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
}

_REFUND_STATUSES: Final = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "pending": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.PENDING,
    "failed": PaymentStatus.FAILED,
    "canceled": PaymentStatus.FAILED,
}


class StripeGateway:
    """The `Gateway` port on Stripe. `ref`s are PaymentIntent ids (`pi_...`)."""

    name = "stripe"

    def __init__(
        self, api_key: str, webhook_secret: str, *, http_client: stripe.HTTPClient | None = None
    ) -> None:
        self._client = stripe.StripeClient(
            api_key, http_client=http_client, max_network_retries=MAX_NETWORK_RETRIES
        )
        self._webhook_secret = webhook_secret

    # -- payments -------------------------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> GatewayCharge:
        method = request.method
        if method.gateway not in (None, self.name) or not method.token:
            raise DomainError(
                "payment_method_not_chargeable",
                f"Payment method {method.id} is not a Stripe payment method (no Stripe token).",
                "payment_method_id",
            )
        method_type = _METHOD_TYPES.get(method.type) or (
            method.provider.lower()
            if method.type is PaymentMethodType.PROVIDER_ACCOUNT and method.provider
            else None
        )
        if method_type is None:
            raise DomainError(
                "payment_method_not_chargeable",
                f"A {method.type} payment method cannot be charged through Stripe.",
                "payment_method_id",
            )
        metadata = {k: v for k, v in request.metadata.items() if k != CUSTOMER_METADATA_KEY}
        params: dict[str, Any] = {
            "amount": to_stripe_amount(request.amount),
            "currency": request.amount.currency.lower(),
            "payment_method": method.token,
            # Naming the type turns off the Dashboard's automatic payment methods, which would demand a
            # return_url for redirect-based methods even on an off-session charge.
            "payment_method_types": [method_type],
            "confirm": True,
            "description": request.description,
            "metadata": {"kassa_customer_id": request.customer_ref, **metadata},
            "expand": _EXPAND,
        }
        if CUSTOMER_METADATA_KEY in request.metadata:
            params["customer"] = request.metadata[CUSTOMER_METADATA_KEY]
        if request.return_url:
            params["return_url"] = request.return_url  # on session: 3-D Secure answers with a redirect
        else:
            params["off_session"] = True  # no customer present: authentication needed is a decline
        if not request.capture:
            params["capture_method"] = "manual"
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.create(
                    params,  # type: ignore[arg-type]  # built as a dict; Stripe validates it
                    options={"idempotency_key": request.idempotency_key},
                )
            )
        except stripe.CardError as error:
            return _declined(error, request.amount)
        return _charge(intent)

    def capture(self, ref: str, amount: Money, *, idempotency_key: str) -> GatewayCharge:
        try:
            intent = self._call(
                lambda: self._client.v1.payment_intents.capture(
                    ref,
                    {"amount_to_capture": to_stripe_amount(amount), "expand": _EXPAND},
                    options={"idempotency_key": idempotency_key},
                )
            )
        except stripe.CardError as error:
            return _declined(error, amount)
        return _charge(intent)

    def confirm(self, ref: str) -> GatewayCharge:
        # The customer confirmed on Stripe's page (3-D Secure); what is left is to read the outcome.
        return self.fetch(ref)

    def refund(self, ref: str, amount: Money, *, idempotency_key: str) -> GatewayRefund:
        refund = self._call(
            lambda: self._client.v1.refunds.create(
                {"payment_intent": ref, "amount": to_stripe_amount(amount)},
                options={"idempotency_key": idempotency_key},
            )
        )
        status = _REFUND_STATUSES.get(str(refund.get("status")), PaymentStatus.PENDING)
        return GatewayRefund(
            ref=refund["id"],
            status=status,
            amount=from_stripe_amount(refund["amount"], refund["currency"]),
            message=refund.get("failure_reason") if status is PaymentStatus.FAILED else None,
        )

    def fetch(self, ref: str) -> GatewayCharge:
        try:
            intent = self._call(lambda: self._client.v1.payment_intents.retrieve(ref, {"expand": _EXPAND}))
        except stripe.CardError as error:  # never for a GET; mapped all the same rather than leaked
            raise GatewayUnavailable(f"Stripe: {error.user_message}") from error
        return _charge(intent)

    def _call(self, send: Callable[[], stripe.StripeObject]) -> dict[str, Any]:
        """Send one request; Stripe's errors become the port's. A CardError is left to the caller: on
        a charge it is an answer (declined), not a failure."""
        try:
            answer = send()
        except stripe.CardError:
            raise
        except (stripe.InvalidRequestError, stripe.IdempotencyError) as error:
            raise GatewayRequestRefused(error) from error
        except (stripe.AuthenticationError, stripe.PermissionError) as error:
            # Nothing happened, and the same call succeeds once the key is fixed: retry, don't fail.
            raise GatewayUnavailable(
                f"Stripe refused the API key (HTTP {error.http_status}); check KASSA_STRIPE_API_KEY."
            ) from error
        except stripe.StripeError as error:  # APIConnectionError, RateLimitError, APIError (5xx, 409)
            raise GatewayUnavailable(f"Stripe: {error.user_message}") from error
        if not isinstance(answer, stripe.StripeObject):  # valid JSON, but not an object: a proxy's doing
            raise GatewayUnavailable(f"Stripe's answer is not a Stripe object: {str(answer)[:80]!r}")
        return answer.to_dict()

    # -- webhooks -------------------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        signature = next((v for k, v in headers.items() if k.lower() == "stripe-signature"), None)
        try:
            stripe.WebhookSignature.verify_header(
                body, signature, self._webhook_secret, WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as error:
            raise WebhookRejected(f"Stripe webhook signature: {error.user_message}") from error
        except UnicodeDecodeError as error:
            raise WebhookRejected("A Stripe webhook body is UTF-8 JSON.") from error
        try:
            event = json.loads(body, parse_float=Decimal)
            event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
            created_at = datetime.fromtimestamp(event["created"], tz=UTC)
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookRejected("A Stripe webhook body is an event object.") from error
        mapper = _EVENTS.get(event_type)
        if mapper is None:
            raise UnsupportedEvent(event_id, event_type, "kassa does not use this event type")
        try:
            return mapper(event_id, created_at, obj)
        except _Ignored as ignored:
            raise UnsupportedEvent(event_id, event_type, str(ignored)) from None
        except (KeyError, TypeError, ValueError, DomainError) as error:
            raise WebhookRejected(f"Stripe event {event_id} ({event_type}) is malformed: {error}") from error

    # -- payout reports -------------------------------------------------------------------------------

    def parse_payout_report(self, content: bytes) -> list[Payout]:
        """Stripe's itemized payout reconciliation report (CSV, amounts in major units): one Payout per
        `automatic_payout_id`, one item per balance transaction it settled."""
        return parse_payout_reconciliation(content, gateway=self.name)


# -- PaymentIntent -> GatewayCharge -------------------------------------------------------------------


def _charge(intent: Mapping[str, Any]) -> GatewayCharge:
    status_name = str(intent["status"])
    status = _STATUSES.get(status_name, PaymentStatus.PENDING)
    units = intent["amount_received"] if status_name == "succeeded" else intent["amount"]
    error = intent.get("last_payment_error") or {}
    failed = status is PaymentStatus.FAILED
    return GatewayCharge(
        ref=intent["id"],
        status=status,
        amount=from_stripe_amount(units, intent["currency"]),
        captured=status_name == "succeeded",
        decline_code=decline_code(error.get("decline_code"), error.get("code")) if failed else None,
        message=error.get("message") if failed else intent.get("cancellation_reason"),
        action_url=_action_url(intent.get("next_action")) if status_name == "requires_action" else None,
        fee=_fee(intent.get("latest_charge")),
    )


def _action_url(next_action: Mapping[str, Any] | None) -> str | None:
    """Where the customer completes the payment: the 3-D Secure redirect, or the hosted page Stripe
    gives for vouchers and bank-transfer instructions. `use_stripe_sdk` has none (Stripe.js only)."""
    if not next_action:
        return None
    details = next_action.get(str(next_action.get("type"))) or {}
    if next_action.get("type") == "redirect_to_url":
        return details.get("url")
    hosted = [v for k, v in details.items() if k.startswith("hosted_") and k.endswith("_url") and v]
    return hosted[0] if hosted else None


def _fee(latest_charge: object) -> Money | None:
    """Stripe's fee, when the charge and its balance transaction came expanded (they are ids, or
    absent, until the charge settles into the balance). In the balance's currency, which may differ
    from the charge's."""
    if not isinstance(latest_charge, Mapping):
        return None
    balance = latest_charge.get("balance_transaction")
    if not isinstance(balance, Mapping):
        return None
    return from_stripe_amount(balance["fee"], balance["currency"])


def _declined(error: stripe.CardError, amount: Money) -> GatewayCharge:
    body = error.json_body.get("error", {}) if isinstance(error.json_body, dict) else {}
    intent = body.get("payment_intent") or {}
    return GatewayCharge(
        # Stripe names the PaymentIntent a declined confirmation left behind; without one (a decline
        # before any was made) the charge or the request id is the only trace at Stripe.
        ref=intent.get("id") or body.get("charge") or error.request_id or "",
        status=PaymentStatus.FAILED,
        amount=from_stripe_amount(intent["amount"], intent["currency"]) if intent else amount,
        captured=False,
        decline_code=decline_code(body.get("decline_code"), body.get("code") or error.code),
        message=body.get("message") or error.user_message,
    )


# -- events ---------------------------------------------------------------------------------------------

_EventMapper = Callable[[str, datetime, Mapping[str, Any]], GatewayEvent]


class _Ignored(Exception):
    """Raised by a mapper for an event that moves no money; parse_webhook names the event."""


def _payment_event(kind: GatewayEventType) -> _EventMapper:
    def mapper(event_id: str, created_at: datetime, intent: Mapping[str, Any]) -> GatewayEvent:
        error = intent.get("last_payment_error") or {}
        failed = kind is GatewayEventType.PAYMENT_FAILED
        succeeded = kind is GatewayEventType.PAYMENT_SUCCEEDED
        return GatewayEvent(
            id=event_id,
            type=kind,
            created_at=created_at,
            charge_ref=intent["id"],
            amount=from_stripe_amount(
                intent["amount_received" if succeeded else "amount"], intent["currency"]
            ),
            decline_code=decline_code(error.get("decline_code"), error.get("code")) if failed else None,
            message=error.get("message") if failed else None,
        )

    return mapper


def _refund_event(event_id: str, created_at: datetime, refund: Mapping[str, Any]) -> GatewayEvent:
    status = refund.get("status")
    if status == "succeeded":
        kind = GatewayEventType.REFUND_SUCCEEDED
    elif status in ("failed", "canceled"):
        kind = GatewayEventType.REFUND_FAILED
    else:
        raise _Ignored(f"the refund is {status}, not settled")
    return GatewayEvent(
        id=event_id,
        type=kind,
        created_at=created_at,
        charge_ref=refund.get("payment_intent") or refund.get("charge"),
        amount=from_stripe_amount(refund["amount"], refund["currency"]),
        refund_ref=refund["id"],
        message=refund.get("failure_reason") if kind is GatewayEventType.REFUND_FAILED else None,
    )


def _charge_refunded(event_id: str, created_at: datetime, charge: Mapping[str, Any]) -> GatewayEvent:
    # A refund event is deduped by its refund id, so it is only emitted when the charge says which
    # refund this is: since API version 2022-11-15 the charge's refund list is left out unless
    # expanded, and refund.created / refund.updated carry the refund itself.
    refunds = (charge.get("refunds") or {}).get("data") or []
    if not refunds:
        raise _Ignored("the charge lists no refunds; refund.* events carry them")
    refund = dict(max(refunds, key=lambda r: r["created"]))
    refund.setdefault("payment_intent", charge.get("payment_intent"))
    return _refund_event(event_id, created_at, refund)


def _dispute_event(event_id: str, created_at: datetime, dispute: Mapping[str, Any]) -> GatewayEvent:
    status = str(dispute["status"])
    kind = {
        "won": GatewayEventType.CHARGEBACK_WON,
        "lost": GatewayEventType.CHARGEBACK_LOST,
        "needs_response": GatewayEventType.CHARGEBACK_OPENED,
        "under_review": GatewayEventType.CHARGEBACK_OPENED,
    }.get(status)
    if kind is None:
        # warning_* is an inquiry (no money withdrawn), prevented never became a chargeback.
        raise _Ignored(f"the dispute is {status}: no money moved")
    fees = [t for t in dispute.get("balance_transactions") or () if t.get("fee")]
    charge = dispute.get("charge")
    return GatewayEvent(
        id=event_id,
        type=kind,
        created_at=created_at,
        charge_ref=dispute.get("payment_intent")
        or (charge.get("id") if isinstance(charge, Mapping) else charge),
        amount=from_stripe_amount(dispute["amount"], dispute["currency"]),
        chargeback_ref=dispute["id"],
        reason=dispute.get("reason"),
        fee=from_stripe_amount(fees[0]["fee"], fees[0]["currency"])
        if fees and kind is GatewayEventType.CHARGEBACK_OPENED
        else None,
    )


def _dispute_created(event_id: str, created_at: datetime, dispute: Mapping[str, Any]) -> GatewayEvent:
    # A dispute is created open; whatever status it names, only the opening is news here.
    if str(dispute["status"]) in ("won", "lost"):
        raise _Ignored("the dispute is already closed")
    return _dispute_event(event_id, created_at, dispute)


def _dispute_closed(event_id: str, created_at: datetime, dispute: Mapping[str, Any]) -> GatewayEvent:
    if str(dispute["status"]) not in ("won", "lost"):
        raise _Ignored(f"the dispute closed as {dispute['status']}")
    return _dispute_event(event_id, created_at, dispute)


def _payout_paid(event_id: str, created_at: datetime, payout: Mapping[str, Any]) -> GatewayEvent:
    return GatewayEvent(
        id=event_id,
        type=GatewayEventType.PAYOUT_PAID,
        created_at=created_at,
        payout_ref=payout["id"],
        amount=from_stripe_amount(payout["amount"], payout["currency"]),
        arrival_on=datetime.fromtimestamp(payout["arrival_date"], tz=UTC).date(),
    )


def _payment_method_updated(event_id: str, created_at: datetime, method: Mapping[str, Any]) -> GatewayEvent:
    card = method.get("card") or {}
    return GatewayEvent(
        id=event_id,
        type=GatewayEventType.PAYMENT_METHOD_UPDATED,
        created_at=created_at,
        token=method["id"],
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
    )


_EVENTS: Final[dict[str, _EventMapper]] = {
    "payment_intent.succeeded": _payment_event(GatewayEventType.PAYMENT_SUCCEEDED),
    "payment_intent.payment_failed": _payment_event(GatewayEventType.PAYMENT_FAILED),
    "payment_intent.requires_action": _payment_event(GatewayEventType.PAYMENT_REQUIRES_ACTION),
    "charge.refunded": _charge_refunded,
    "refund.created": _refund_event,
    "refund.updated": _refund_event,
    "refund.failed": _refund_event,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
    "payout.paid": _payout_paid,
    "payment_method.updated": _payment_method_updated,
    "payment_method.automatically_updated": _payment_method_updated,
}


# -- payout reconciliation report ----------------------------------------------------------------------

_REPORT_REQUIRED: Final = ("automatic_payout_id", "currency", "gross", "fee")
_REPORT_DATES: Final = ("automatic_payout_effective_at", "automatic_payout_effective_at_utc")
# What an item is matched on in kassa: the PaymentIntent (a GatewayCharge's ref) when the row has one.
_REPORT_REFS: Final = ("payment_intent_id", "charge_id", "source_id", "balance_transaction_id")


def parse_payout_reconciliation(content: bytes, *, gateway: str = "stripe") -> list[Payout]:
    """Payouts from Stripe's "Payout reconciliation" itemized CSV, ordered by arrival then id. Columns
    are found by name (Stripe lets the user pick them); rows outside an automatic payout are skipped."""
    try:
        reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
        columns = set(reader.fieldnames or ())
    except (UnicodeDecodeError, csv.Error) as error:
        raise _report_error(f"Not a CSV file in UTF-8: {error}", "content") from error
    missing = [c for c in _REPORT_REQUIRED if c not in columns]
    date_column = next((c for c in _REPORT_DATES if c in columns), None)
    if missing or date_column is None or not columns & set(_REPORT_REFS):
        needed = missing + ([] if date_column else [_REPORT_DATES[0]])
        needed += [] if columns & set(_REPORT_REFS) else [_REPORT_REFS[0]]
        raise _report_error(f"The payout report lacks the columns {', '.join(needed)}.", "content")
    items: dict[str, list[PayoutItem]] = {}
    arrivals: dict[str, date] = {}
    try:
        for line, row in enumerate(reader, start=2):
            ref = (row["automatic_payout_id"] or "").strip()
            if not ref:
                continue  # not paid out yet, or paid out manually: no payout to reconcile it with
            item, arrival = _report_item(row, line, date_column)
            if arrivals.setdefault(ref, arrival) != arrival:
                raise _report_error(f"Payout {ref} has two arrival dates.", f"lines.{line}.{date_column}")
            if items.get(ref) and items[ref][0].gross.currency != item.gross.currency:
                raise _report_error(f"Payout {ref} mixes currencies.", f"lines.{line}.currency")
            items.setdefault(ref, []).append(item)
    except csv.Error as error:
        raise _report_error(f"Malformed CSV: {error}", "content") from error
    payouts = [
        Payout(ref=ref, gateway=gateway, arrival_on=arrivals[ref], items=tuple(rows))
        for ref, rows in items.items()
    ]
    return sorted(payouts, key=lambda p: (p.arrival_on, p.ref))


def _report_item(row: Mapping[str, str | None], line: int, date_column: str) -> tuple[PayoutItem, date]:
    try:
        code = currency_code((row["currency"] or "").strip().upper(), f"lines.{line}.currency")
    except DomainError as error:
        raise _report_error(f"Line {line}: {error.message}", error.field) from error
    amounts: dict[str, Money] = {}
    for column in ("gross", "fee", "net"):
        text = (row.get(column) or "").strip()
        if not text and column == "net":
            continue
        try:
            amounts[column] = Money.parse(text or "0", code, field=f"lines.{line}.{column}")
        except DomainError as error:
            raise _report_error(f"Line {line}: {error.message}", error.field) from error
    if "net" in amounts and amounts["gross"] - amounts["fee"] != amounts["net"]:
        raise _report_error(
            f"Line {line}: gross {amounts['gross']} less fee {amounts['fee']} is not net {amounts['net']}.",
            f"lines.{line}.net",
        )
    charge_ref = next((v.strip() for c in _REPORT_REFS if (v := row.get(c)) and v.strip()), None)
    if charge_ref is None:
        raise _report_error(f"Line {line} names no transaction.", f"lines.{line}.{_REPORT_REFS[0]}")
    stamp = (row[date_column] or "").strip()
    try:
        arrival = date.fromisoformat(stamp[:10])
    except ValueError:
        raise _report_error(f"Line {line}: {stamp!r} is not a date.", f"lines.{line}.{date_column}") from None
    return PayoutItem(charge_ref=charge_ref, gross=amounts["gross"], fee=amounts["fee"]), arrival


def _report_error(message: str, field: str | None) -> DomainError:
    return DomainError("invalid_payout_report", message, field)
