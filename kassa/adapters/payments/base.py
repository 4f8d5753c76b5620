"""The gateway port: charge, authorize and capture, refund, fetch a charge's status, read a gateway webhook.

A gateway answers a charge with a `GatewayCharge` whose status is the payment's (succeeded, failed with a
decline code, pending until the gateway confirms, requires_action with a link for the customer). Raising
`GatewayUnavailable` means the gateway could not be reached or answered with an error of its own: the
caller tries again later with the *same* idempotency key, so a charge that did go through is found, never
made twice. Webhooks are verified by the adapter (`WebhookRejected` when the signature is wrong) and come
out as `GatewayEvent`s whose `id` receivers record, so a replayed webhook changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from kassa.core.money import Money
from kassa.core.payments import DeclineCode, PaymentMethod, PaymentStatus


class GatewayUnavailable(Exception):
    """Unreachable, timed out or a 5xx: nothing is known to have happened; retry with the same key."""


class WebhookRejected(Exception):
    """A webhook whose signature does not verify, or that is not the gateway's: answered 400, ignored."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargeRequest:
    idempotency_key: str  # the same key twice is the same charge at the gateway
    amount: Money
    method: PaymentMethod
    description: str
    customer_ref: str  # kassa's customer id, for the gateway's records
    capture: bool = True  # False: authorize only, capture later
    return_url: str | None = None  # where the customer lands after authenticating
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayCharge:
    ref: str  # the gateway's id for the charge (a PaymentIntent id, ...)
    status: PaymentStatus
    amount: Money
    captured: bool = True
    decline_code: DeclineCode | None = None
    message: str | None = None  # the gateway's words for a failure
    action_url: str | None = None  # requires_action: where the customer authenticates
    fee: Money | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayRefund:
    ref: str
    status: PaymentStatus  # succeeded, pending or failed
    amount: Money
    message: str | None = None


class GatewayEventType(StrEnum):
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REQUIRES_ACTION = "payment.requires_action"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    CHARGEBACK_OPENED = "chargeback.opened"  # the funds are withdrawn now
    CHARGEBACK_WON = "chargeback.won"  # the funds come back
    CHARGEBACK_LOST = "chargeback.lost"
    PAYOUT_PAID = "payout.paid"
    PAYMENT_METHOD_UPDATED = "payment_method.updated"  # e.g. a card updater gave a new expiry


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayEvent:
    id: str  # the gateway's event id: the dedupe key
    type: GatewayEventType
    created_at: datetime
    charge_ref: str | None = None
    amount: Money | None = None
    decline_code: DeclineCode | None = None
    message: str | None = None
    refund_ref: str | None = None
    chargeback_ref: str | None = None
    reason: str | None = None  # the network's reason for a chargeback
    fee: Money | None = None  # a chargeback fee, or a payout's fees
    payout_ref: str | None = None
    arrival_on: date | None = None
    token: str | None = None  # payment_method.updated: the token that changed
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PayoutItem:
    charge_ref: str
    gross: Money  # negative for a refund or chargeback netted in the payout
    fee: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Payout:
    """Money a gateway sent to the tenant's bank: the charges it settles, less the gateway's fees."""

    ref: str
    gateway: str
    arrival_on: date
    items: tuple[PayoutItem, ...]

    @property
    def gross(self) -> Money:
        return sum((i.gross for i in self.items[1:]), self.items[0].gross)

    @property
    def fees(self) -> Money:
        return sum((i.fee for i in self.items[1:]), self.items[0].fee)

    @property
    def net(self) -> Money:
        return self.gross - self.fees


class Gateway(Protocol):
    name: str  # "sandbox", "stripe": how kassa records which gateway a payment went through

    def charge(self, request: ChargeRequest) -> GatewayCharge: ...

    def capture(self, ref: str, amount: Money, *, idempotency_key: str) -> GatewayCharge: ...

    def confirm(self, ref: str) -> GatewayCharge:
        """After the customer authenticated (3-D Secure): the charge's status now."""
        ...

    def refund(self, ref: str, amount: Money, *, idempotency_key: str) -> GatewayRefund: ...

    def fetch(self, ref: str) -> GatewayCharge: ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent: ...

    def parse_payout_report(self, content: bytes) -> list[Payout]:
        """The gateway's payout report file (a settlement report) as payouts."""
        ...
