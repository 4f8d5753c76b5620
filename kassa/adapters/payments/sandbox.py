"""The sandbox gateway: the whole payment cycle without a network, for tests, the demo and local trials.

It keeps no state. The API server and the worker are separate processes with separate instances, so what a
charge does is a pure function of the request (the test card's token, the IBAN's last digits, the attempt),
and everything later calls need is written into the charge's ref:

    ch_sbx_<scenario>_<amount in minor units>_<currency>_<cap|auth>_<digest of the idempotency key>

`fetch`, `confirm`, `capture` and `refund` read the ref and nothing else; the same idempotency key with the
same request gives the same ref, which is all the idempotency a stateless gateway can offer (a key reused
with another amount is not detected: the ref simply differs). What it cannot know is what happened since:
`fetch` answers an authorization as not captured even after `capture`, and refunds are checked against the
charge's amount, not against earlier refunds. See docs/payments-sandbox.md for the test cards and IBANs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

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
from kassa.core.errors import DomainError, NotFound
from kassa.core.money import Money
from kassa.core.payments import DeclineCode, PaymentMethodType, PaymentStatus

FEE_RATE = Decimal("0.014")
FEE_FIXED = Decimal("0.25")
CHARGEBACK_FEE = Decimal("15.00")
ACTION_URL_BASE = "https://sandbox.kassa.test/authenticate"


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxCard:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    outcome: str  # what happens, for the docs and the demo


@dataclass(frozen=True, slots=True, kw_only=True)
class SandboxIban:
    iban: str
    decline_code: DeclineCode | None  # None: the debit goes through
    outcome: str


# Scenario names as written in refs. A scenario says what the charge answers now and what `fetch`/`confirm`
# answer later; the decline code, when there is one, follows the kind in the ref.
_SUCCEEDED = "succeeded"
_CHARGEBACK = "chargeback"  # succeeds; the only charges the sandbox disputes
_DECLINED = "declined"  # + "_<decline code>": failed at once
_PENDING = "pending"  # fetch: succeeded
_PENDING_FAILED = "pendingfailed"  # + "_<decline code>": pending, fetch: failed (a SEPA return)
_ACTION = "action"  # requires_action, confirm: succeeded
_ACTION_FAILED = "actionfailed"  # requires_action, confirm: failed authentication_failed
_UNAVAILABLE = "unavailable"  # never written into a ref: the charge raises
_REQUIRES_ATTEMPT = "then"  # the family of insufficient-then-success cards: decided by the attempt

_INSUFFICIENT_THEN = "tok_sandbox_insufficient_then_success_"


def _card(token: str, brand: str, last4: str, scenario: str, outcome: str) -> tuple[SandboxCard, str]:
    # The expiry is in the future even for the expired card: it is the network that says "expired".
    card = SandboxCard(token=token, brand=brand, last4=last4, exp_month=12, exp_year=2034, outcome=outcome)
    return card, scenario


def _declined(code: DeclineCode) -> str:
    return f"{_DECLINED}_{code.value}"


_CARDS = (
    _card("tok_sandbox_success", "visa", "1111", _SUCCEEDED, "succeeds"),
    _card("tok_sandbox_decline", "visa", "0002", _declined(DeclineCode.GENERIC_DECLINE), "generic_decline"),
    _card(
        "tok_sandbox_insufficient_funds", "visa", "0051",
        _declined(DeclineCode.INSUFFICIENT_FUNDS), "insufficient_funds",
    ),
    _card("tok_sandbox_lost_card", "mastercard", "0041", _declined(DeclineCode.LOST_CARD), "lost_card"),
    _card("tok_sandbox_stolen_card", "mastercard", "0043", _declined(DeclineCode.STOLEN_CARD), "stolen_card"),
    _card("tok_sandbox_expired_card", "visa", "0054", _declined(DeclineCode.EXPIRED_CARD), "expired_card"),
    _card("tok_sandbox_incorrect_cvc", "amex", "0082", _declined(DeclineCode.INCORRECT_CVC), "incorrect_cvc"),
    _card(
        "tok_sandbox_processing_error", "visa", "0096", _declined(DeclineCode.PROCESSING_ERROR),
        "processing_error (a soft decline: a retry may succeed)",
    ),
    _card("tok_sandbox_async", "visa", "3000", _PENDING, "pending; fetch answers succeeded"),
    _card(
        "tok_sandbox_authentication_required", "visa", "3220", _ACTION,
        "requires_action with an action_url; confirm answers succeeded",
    ),
    _card(
        "tok_sandbox_authentication_fails", "visa", "3221", _ACTION_FAILED,
        "requires_action; confirm answers failed, authentication_failed",
    ),
    _card("tok_sandbox_unavailable", "visa", "5030", _UNAVAILABLE, "raises GatewayUnavailable"),
    _card(
        "tok_sandbox_chargeback", "mastercard", "0259", _CHARGEBACK,
        "succeeds; the sandbox can send chargeback webhooks for it",
    ),
    _card(
        f"{_INSUFFICIENT_THEN}3", "visa", "0303", _REQUIRES_ATTEMPT,
        "insufficient_funds for attempts 1 and 2, succeeds from attempt 3 (any N works: _N)",
    ),
)  # fmt: skip
SANDBOX_CARDS: Mapping[str, SandboxCard] = {card.token: card for card, _ in _CARDS}
_CARD_SCENARIOS = {card.token: scenario for card, scenario in _CARDS}

SANDBOX_PROVIDER_TOKEN = "tok_sandbox_paypal"

# SEPA debits are pending (fetch: succeeded) unless the IBAN's last four digits name a return reason.
_SEPA_RETURNS = {"0404": DeclineCode.ACCOUNT_CLOSED, "0504": DeclineCode.INSUFFICIENT_FUNDS}
SANDBOX_IBANS: Mapping[str, SandboxIban] = {
    i.iban: i
    for i in (
        SandboxIban(iban="DE89370400440532013000", decline_code=None, outcome="pending; fetch answers succeeded"),
        SandboxIban(
            iban="DE50370400440532010404", decline_code=DeclineCode.ACCOUNT_CLOSED,
            outcome="pending; fetch answers failed, account_closed (AC04): any IBAN ending 0404",
        ),
        SandboxIban(
            iban="DE66370400440532010504", decline_code=DeclineCode.INSUFFICIENT_FUNDS,
            outcome="pending; fetch answers failed, insufficient_funds (AM04): any IBAN ending 0504",
        ),
    )
}  # fmt: skip

_MESSAGES = {
    DeclineCode.GENERIC_DECLINE: "The card was declined.",
    DeclineCode.INSUFFICIENT_FUNDS: "The account has insufficient funds.",
    DeclineCode.LOST_CARD: "The card is reported lost.",
    DeclineCode.STOLEN_CARD: "The card is reported stolen.",
    DeclineCode.EXPIRED_CARD: "The card has expired.",
    DeclineCode.INCORRECT_CVC: "The card's security code is incorrect.",
    DeclineCode.PROCESSING_ERROR: "An error occurred while processing the card; try again.",
    DeclineCode.AUTHENTICATION_FAILED: "The customer did not complete authentication.",
    DeclineCode.ACCOUNT_CLOSED: "The debtor's account is closed (AC04).",
}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def sandbox_fee(amount: Money) -> Money:
    """1.4% + 0.25 in the charge's currency, rounded half-up once to its minor unit."""
    return Money.rounded(amount.amount * FEE_RATE + FEE_FIXED, amount.currency)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Charge:
    scenario: str  # kind, or kind + "_" + decline code
    amount: Money
    capture: bool
    digest: str

    @property
    def ref(self) -> str:
        mode = "cap" if self.capture else "auth"
        return f"ch_sbx_{self.scenario}_{self.amount.to_minor_units()}_{self.amount.currency}_{mode}_{self.digest}"

    @property
    def kind(self) -> str:
        return self.scenario.partition("_")[0]

    @property
    def decline_code(self) -> DeclineCode | None:
        code = self.scenario.partition("_")[2]
        return DeclineCode(code) if code else None

    @property
    def ends_succeeded(self) -> bool:
        return self.kind in (_SUCCEEDED, _CHARGEBACK, _PENDING, _ACTION)


_CHARGE_REF = re.compile(
    r"ch_sbx_(?P<scenario>[a-z]+(?:_[a-z_]+)?)_(?P<minor>[0-9]+)_(?P<currency>[A-Z]{3})_(?P<mode>cap|auth)_"
    r"(?P<digest>[0-9a-f]{24})"
)
_REFUND_REF = re.compile(r"re_sbx_(?P<minor>[0-9]+)_(?P<currency>[A-Z]{3})_(?P<digest>[0-9a-f]{24})")
_KINDS = {_SUCCEEDED, _CHARGEBACK, _PENDING, _ACTION, _ACTION_FAILED}
_KINDS_WITH_CODE = {_DECLINED, _PENDING_FAILED}
_CODES = {code.value for code in DeclineCode}


def _parse_charge_ref(ref: str) -> _Charge:
    match = _CHARGE_REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise NotFound("charge", ref)
    kind, _, code = match["scenario"].partition("_")
    known = (kind in _KINDS and not code) or (kind in _KINDS_WITH_CODE and code in _CODES)
    if not known:
        raise NotFound("charge", ref)
    try:
        amount = Money.from_minor_units(int(match["minor"]), match["currency"])
    except DomainError:
        raise NotFound("charge", ref) from None
    return _Charge(
        scenario=match["scenario"], amount=amount, capture=match["mode"] == "cap", digest=match["digest"]
    )


def _parse_refund_ref(ref: str) -> Money:
    match = _REFUND_REF.fullmatch(ref) if isinstance(ref, str) else None
    if match is None:
        raise NotFound("refund", ref)
    try:
        return Money.from_minor_units(int(match["minor"]), match["currency"])
    except DomainError:
        raise NotFound("refund", ref) from None


def _attempt(request: ChargeRequest) -> int:
    """Which try this is: metadata["attempt"], else the idempotency key's ":<n>" suffix."""
    text = request.metadata.get("attempt")
    field = "metadata.attempt"
    if text is None:
        head, sep, text = request.idempotency_key.rpartition(":")
        field = "idempotency_key"
        if not sep or not head:
            text = ""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise DomainError(
            "invalid_attempt",
            'The insufficient-then-success test cards need the attempt number (1, 2, ...): metadata["attempt"] '
            'or an idempotency key ending ":<attempt>".',
            field,
        )
    return int(text)


def _scenario(request: ChargeRequest) -> str:
    method = request.method
    if method.type is PaymentMethodType.SEPA_DEBIT:
        iban = (method.iban or "").replace(" ", "").upper()
        if not iban:
            raise DomainError("missing_iban", "A SEPA debit needs the debtor's IBAN.", "payment_method.iban")
        if not request.capture:
            raise DomainError("capture_not_supported", "A SEPA debit cannot be authorized only.", "capture")
        code = _SEPA_RETURNS.get(iban[-4:])
        return f"{_PENDING_FAILED}_{code.value}" if code else _PENDING
    token = method.token or ""
    if method.type is PaymentMethodType.PROVIDER_ACCOUNT and token == SANDBOX_PROVIDER_TOKEN:
        return _SUCCEEDED
    if method.type is PaymentMethodType.CARD:
        if token in _CARD_SCENARIOS and _CARD_SCENARIOS[token] != _REQUIRES_ATTEMPT:
            return _CARD_SCENARIOS[token]
        if token.startswith(_INSUFFICIENT_THEN):
            needed = token.removeprefix(_INSUFFICIENT_THEN)
            if needed.isascii() and needed.isdigit() and int(needed) >= 1:
                return (
                    _SUCCEEDED
                    if _attempt(request) >= int(needed)
                    else _declined(DeclineCode.INSUFFICIENT_FUNDS)
                )
    raise DomainError(
        "unknown_test_payment_method",
        f"The sandbox does not know the {method.type.value} token {token!r}: use one of its test cards "
        f"({', '.join(sorted(SANDBOX_CARDS))}), {SANDBOX_PROVIDER_TOKEN} or a SEPA debit.",
        "payment_method.token",
    )


class SandboxGateway:
    name = "sandbox"

    def __init__(self, webhook_secret: str, *, action_url_base: str = ACTION_URL_BASE) -> None:
        try:
            self._webhook = Webhook(webhook_secret)
        except Exception:
            raise DomainError(
                "invalid_webhook_secret", 'A webhook secret is "whsec_" followed by base64.', "webhook_secret"
            ) from None
        self._action_url_base = action_url_base.rstrip("/")

    # -- charges ---------------------------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> GatewayCharge:
        amount = request.amount
        if amount.amount <= 0 or not amount.is_rounded:
            raise DomainError(
                "invalid_amount",
                f"A charge is a positive amount in whole {amount.currency} minor units.",
                "amount",
            )
        scenario = _scenario(request)
        if scenario == _UNAVAILABLE:
            raise GatewayUnavailable("The sandbox gateway answered 503 (tok_sandbox_unavailable).")
        charge = _Charge(
            scenario=scenario, amount=amount, capture=request.capture, digest=_digest(request.idempotency_key)
        )
        return self._answer(charge, first=True)

    def fetch(self, ref: str) -> GatewayCharge:
        charge = _parse_charge_ref(ref)
        # Pending charges have been confirmed by the time anyone asks; an authentication is only ever
        # completed through `confirm`, so a fetch still sees it waiting for the customer.
        return self._answer(charge, first=charge.kind in (_ACTION, _ACTION_FAILED))

    def confirm(self, ref: str) -> GatewayCharge:
        return self._answer(_parse_charge_ref(ref))

    def capture(self, ref: str, amount: Money, *, idempotency_key: str) -> GatewayCharge:
        charge = _parse_charge_ref(ref)
        if charge.capture:
            raise DomainError(
                "charge_already_captured", f"Charge {ref} was captured when it was made.", "ref"
            )
        if not charge.ends_succeeded:
            raise DomainError("charge_not_capturable", f"Charge {ref} was not authorized.", "ref")
        self._refuse_foreign(charge, amount)
        if amount > charge.amount:
            raise DomainError(
                "capture_exceeds_authorization", f"Only {charge.amount} was authorized on {ref}.", "amount"
            )
        return GatewayCharge(ref=ref, status=PaymentStatus.SUCCEEDED, amount=amount, fee=sandbox_fee(amount))

    def refund(self, ref: str, amount: Money, *, idempotency_key: str) -> GatewayRefund:
        charge = _parse_charge_ref(ref)
        if not charge.ends_succeeded:
            raise DomainError(
                "charge_not_refundable", f"Charge {ref} did not succeed: nothing to refund.", "ref"
            )
        self._refuse_foreign(charge, amount)
        if amount > charge.amount:
            raise DomainError(
                "refund_exceeds_charge",
                f"Cannot refund {amount}: charge {ref} was {charge.amount}.",
                "amount",
            )
        refund_ref = f"re_sbx_{amount.to_minor_units()}_{amount.currency}_{_digest(idempotency_key)}"
        return GatewayRefund(ref=refund_ref, status=PaymentStatus.SUCCEEDED, amount=amount)

    @staticmethod
    def _refuse_foreign(charge: _Charge, amount: Money) -> None:
        if amount.currency != charge.amount.currency:
            raise DomainError(
                "currency_mismatch",
                f"The charge is in {charge.amount.currency}, not {amount.currency}.",
                "amount",
            )
        if amount.amount <= 0 or not amount.is_rounded:
            raise DomainError("invalid_amount", "A positive amount in whole minor units.", "amount")

    def _answer(self, charge: _Charge, *, first: bool = False) -> GatewayCharge:
        """The charge as the gateway answers it when made (`first`) or once it has settled."""
        ref, amount = charge.ref, charge.amount
        if first and charge.kind in (_PENDING, _PENDING_FAILED):
            return GatewayCharge(ref=ref, status=PaymentStatus.PENDING, amount=amount, captured=False)
        if first and charge.kind in (_ACTION, _ACTION_FAILED):
            return GatewayCharge(
                ref=ref, status=PaymentStatus.REQUIRES_ACTION, amount=amount, captured=False,
                action_url=f"{self._action_url_base}/{ref}",
            )  # fmt: skip
        if charge.ends_succeeded:
            fee = sandbox_fee(amount) if charge.capture else None
            return GatewayCharge(
                ref=ref, status=PaymentStatus.SUCCEEDED, amount=amount, captured=charge.capture, fee=fee
            )
        code = DeclineCode.AUTHENTICATION_FAILED if charge.kind == _ACTION_FAILED else charge.decline_code
        assert code is not None
        return GatewayCharge(
            ref=ref, status=PaymentStatus.FAILED, amount=amount, captured=False, decline_code=code,
            message=_MESSAGES[code],
        )  # fmt: skip

    # -- webhooks --------------------------------------------------------------------------------------

    def event(
        self,
        type: GatewayEventType,
        *,
        charge_ref: str | None,
        created_at: datetime,
        signed_at: datetime | None = None,
        amount: Money | None = None,
        refund_ref: str | None = None,
        reason: str | None = None,
        payout_ref: str | None = None,
        arrival_on: date | None = None,
        fee: Money | None = None,
        token: str | None = None,
        exp_month: int | None = None,
        exp_year: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A signed webhook (JSON body, headers) as the sandbox sends it. Only what the charge's scenario
        allows: payment events match how the charge ends, chargebacks need tok_sandbox_chargeback. The
        headers are signed at `signed_at` (default: `created_at`), which a receiver checks against its
        wall clock; the event keeps `created_at`, which may be a test clock's time."""
        type = GatewayEventType(type)
        for name, instant in (("created_at", created_at), ("signed_at", signed_at or created_at)):
            if instant.tzinfo is None:
                raise DomainError("invalid_timestamp", "An aware datetime is needed.", name)
        data = self._event_data(
            type, charge_ref=charge_ref, amount=amount, refund_ref=refund_ref, reason=reason,
            payout_ref=payout_ref, arrival_on=arrival_on, fee=fee, token=token, exp_month=exp_month,
            exp_year=exp_year,
        )  # fmt: skip
        event_id = "evt_sbx_" + _digest(type, json.dumps(data, sort_keys=True))
        body = json.dumps(
            {"id": event_id, "type": type, "created_at": _instant(created_at), "data": data},
            sort_keys=True,
            separators=(",", ":"),
        )
        # standardwebhooks' sign() takes the naive reading of the datetime as UTC: give it UTC.
        signed = (signed_at or created_at).astimezone(UTC)
        headers = {
            "webhook-id": event_id,
            "webhook-timestamp": str(int(signed.timestamp())),
            "webhook-signature": self._webhook.sign(event_id, signed, body),
            "content-type": "application/json",
        }
        return body.encode(), headers

    def _event_data(
        self,
        type: GatewayEventType,
        *,
        charge_ref: str | None,
        amount: Money | None,
        refund_ref: str | None,
        reason: str | None,
        payout_ref: str | None,
        arrival_on: date | None,
        fee: Money | None,
        token: str | None,
        exp_month: int | None,
        exp_year: int | None,
    ) -> dict[str, Any]:
        def need(value: object, field: str) -> None:
            if value is None:
                raise DomainError("missing_field", f"A {type.value} event needs {field}.", field)

        if type is GatewayEventType.PAYOUT_PAID:
            need(payout_ref, "payout_ref")
            need(arrival_on, "arrival_on")
            need(amount, "amount")
            assert arrival_on is not None and amount is not None
            data: dict[str, Any] = {"payout_ref": payout_ref, "arrival_on": arrival_on.isoformat()}
            data["amount"] = _money(amount)
            if fee is not None:
                data["fee"] = _money(fee)
            return data
        if type is GatewayEventType.PAYMENT_METHOD_UPDATED:
            need(token, "token")
            need(exp_month, "exp_month")
            need(exp_year, "exp_year")
            return {"token": token, "exp_month": exp_month, "exp_year": exp_year}
        need(charge_ref, "charge_ref")
        assert charge_ref is not None
        charge = _parse_charge_ref(charge_ref)
        is_chargeback = type.value.startswith("chargeback.")
        if amount is not None and not is_chargeback:
            # The charge's or the refund's ref says the amount; a different one would contradict it.
            raise DomainError(
                "unexpected_field", f"A {type.value} event takes its amount from the ref.", "amount"
            )
        answer = self._answer(charge, first=type is GatewayEventType.PAYMENT_REQUIRES_ACTION)
        data = {"charge_ref": charge_ref, "amount": _money(charge.amount)}
        expected = {
            GatewayEventType.PAYMENT_SUCCEEDED: PaymentStatus.SUCCEEDED,
            GatewayEventType.PAYMENT_FAILED: PaymentStatus.FAILED,
            GatewayEventType.PAYMENT_REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
        }.get(type)
        if expected is not None:
            if answer.status is not expected:
                raise DomainError(
                    "event_not_possible", f"Charge {charge_ref} never becomes {expected.value}.", "charge_ref"
                )
            if answer.fee is not None:
                data["fee"] = _money(answer.fee)
            if answer.decline_code is not None:
                data["decline_code"] = answer.decline_code.value
                data["message"] = answer.message
            return data
        if type in (GatewayEventType.REFUND_SUCCEEDED, GatewayEventType.REFUND_FAILED):
            need(refund_ref, "refund_ref")
            assert refund_ref is not None
            refunded = _parse_refund_ref(refund_ref)
            if (
                not charge.ends_succeeded
                or refunded.currency != charge.amount.currency
                or refunded > charge.amount
            ):
                raise DomainError(
                    "event_not_possible",
                    f"Refund {refund_ref} cannot be of charge {charge_ref}.",
                    "refund_ref",
                )
            data.update(refund_ref=refund_ref, amount=_money(refunded))
            if type is GatewayEventType.REFUND_FAILED:
                data["message"] = "The refund could not be sent to the customer's account."
            return data
        # Chargebacks: only the chargeback card is ever disputed, so a demo chooses to have one.
        if charge.kind != _CHARGEBACK:
            raise DomainError(
                "event_not_possible", f"Only tok_sandbox_chargeback charges are disputed, not {charge_ref}.",
                "charge_ref",
            )  # fmt: skip
        if amount is not None:
            if amount.currency != charge.amount.currency or not 0 < amount.amount <= charge.amount.amount:
                raise DomainError(
                    "event_not_possible",
                    f"A chargeback of {charge_ref} is at most {charge.amount}.",
                    "amount",
                )
            data["amount"] = _money(amount)
        data["chargeback_ref"] = "dp_sbx_" + _digest(charge_ref)
        data["reason"] = reason or "fraudulent"
        if type is GatewayEventType.CHARGEBACK_OPENED:
            data["fee"] = _money(Money.rounded(CHARGEBACK_FEE, charge.amount.currency))
        return data

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        try:
            self._webhook.verify(body, dict(headers), json_parse=False)
        except (WebhookVerificationError, ValueError) as error:
            # ValueError covers a body that is not UTF-8 and signatures that are not base64.
            raise WebhookRejected(f"Not a valid sandbox webhook: {error}") from None
        try:
            payload = json.loads(body)
            if payload["id"] != {k.lower(): v for k, v in headers.items()}["webhook-id"]:
                raise ValueError("the body's id is not the signed webhook-id")
            return _event_of(payload)
        except (ValueError, KeyError, TypeError, DomainError) as error:
            raise WebhookRejected(f"A signed sandbox webhook with an unreadable payload: {error}") from None

    # -- payout reports --------------------------------------------------------------------------------

    def payout_report(
        self, charges: Sequence[tuple[str, Money]], *, arrival_on: date, payout_ref: str
    ) -> bytes:
        """The settlement CSV the sandbox would publish for one payout: each charge's gross less the
        sandbox fee; a negative gross (a refund or chargeback netted in the payout) carries no fee."""
        if not charges:
            raise DomainError("empty_payout", "A payout settles at least one charge.", "charges")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_REPORT_HEADER)
        currencies = {gross.currency for _, gross in charges}
        if len(currencies) > 1:
            raise DomainError("currency_mismatch", "A payout is in one currency.", "charges")
        for ref in (payout_ref, *(ref for ref, _ in charges)):
            # Refs are identifiers: a line break or padding would not survive the CSV's reading.
            if not ref or not ref.isprintable() or ref != ref.strip():
                raise DomainError("invalid_ref", f"{ref[:40]!r} is not a ref.", "charges")
        for ref, gross in charges:
            if not gross.amount or not gross.is_rounded:
                raise DomainError(
                    "invalid_amount", f"{ref}: a nonzero amount in whole minor units.", "charges"
                )
            fee = sandbox_fee(gross) if gross.amount > 0 else Money.zero(gross.currency)
            writer.writerow(
                [payout_ref, arrival_on.isoformat(), ref, gross.amount_text(), fee.amount_text(),
                 (gross - fee).amount_text(), gross.currency]
            )  # fmt: skip
        return out.getvalue().encode()

    def parse_payout_report(self, content: bytes) -> list[Payout]:
        """Rows grouped by payout ref in the order they first appear. Errors name the row (the header is
        row 1, as in a spreadsheet)."""
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _report_error(f"The report is not UTF-8 (byte {error.start}).", None) from None
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or [c.strip() for c in rows[0]] != list(_REPORT_HEADER):
            raise _report_error(f"The first row must be the header {','.join(_REPORT_HEADER)}.", 1)
        payouts: dict[str, tuple[date, list[PayoutItem]]] = {}
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            payout_ref, day, item = _report_row(row, number)
            arrival, items = payouts.setdefault(payout_ref, (day, []))
            if day != arrival:
                raise _report_error(f"Payout {payout_ref} arrives on {arrival}, not {day}.", number)
            if items and item.gross.currency != items[0].gross.currency:
                raise _report_error(f"Payout {payout_ref} is in {items[0].gross.currency}.", number)
            items.append(item)
        if not payouts:
            raise _report_error("The report has no rows.", None)
        return [
            Payout(ref=ref, gateway=self.name, arrival_on=day, items=tuple(items))
            for ref, (day, items) in payouts.items()
        ]


_REPORT_HEADER = ("payout_ref", "arrival_on", "charge_ref", "gross", "fee", "net", "currency")


def _report_error(message: str, row: int | None) -> DomainError:
    return DomainError("invalid_payout_report", message, None if row is None else f"row {row}")


def _report_row(row: list[str], number: int) -> tuple[str, date, PayoutItem]:
    if len(row) != len(_REPORT_HEADER):
        raise _report_error(f"Expected {len(_REPORT_HEADER)} columns, found {len(row)}.", number)
    payout_ref, day_text, charge_ref, gross_text, fee_text, net_text, code = (c.strip() for c in row)
    if not payout_ref or not charge_ref:
        raise _report_error("The payout_ref and charge_ref columns may not be empty.", number)
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise _report_error(f"arrival_on {day_text[:20]!r} is not a date (YYYY-MM-DD).", number) from None
    amounts: list[Money] = []
    for column, value in (("gross", gross_text), ("fee", fee_text), ("net", net_text)):
        try:
            money = Money.parse(value, code)
        except DomainError as error:
            raise _report_error(f"{column}: {error.message}", number) from None
        if not money.is_rounded:
            raise _report_error(f"{column} {value} has more decimals than {code} allows.", number)
        amounts.append(money)
    gross, fee, net = amounts
    if fee.amount < 0:
        raise _report_error(f"The fee {fee} is negative.", number)
    if gross - fee != net:
        raise _report_error(f"net {net} is not gross {gross} less fee {fee}.", number)
    return payout_ref, day, PayoutItem(charge_ref=charge_ref, gross=gross, fee=fee)


def _money(money: Money) -> dict[str, str]:
    return {"amount": money.amount_text(), "currency": money.currency}


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _event_of(payload: dict[str, Any]) -> GatewayEvent:
    data = payload["data"]
    if not isinstance(data, dict):
        raise TypeError("data is not an object")

    def money(key: str) -> Money | None:
        value = data.get(key)
        return None if value is None else Money.parse(value["amount"], value["currency"])

    created_at = datetime.fromisoformat(payload["created_at"])
    if created_at.tzinfo is None:
        raise ValueError("created_at has no time zone")
    arrival = data.get("arrival_on")
    code = data.get("decline_code")
    return GatewayEvent(
        id=str(payload["id"]),
        type=GatewayEventType(payload["type"]),
        created_at=created_at,
        charge_ref=data.get("charge_ref"),
        amount=money("amount"),
        decline_code=None if code is None else DeclineCode(code),
        message=data.get("message"),
        refund_ref=data.get("refund_ref"),
        chargeback_ref=data.get("chargeback_ref"),
        reason=data.get("reason"),
        fee=money("fee"),
        payout_ref=data.get("payout_ref"),
        arrival_on=None if arrival is None else date.fromisoformat(arrival),
        token=data.get("token"),
        exp_month=data.get("exp_month"),
        exp_year=data.get("exp_year"),
    )
