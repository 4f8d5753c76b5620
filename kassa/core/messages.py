"""Lifecycle messages (issue 9): which kassa event becomes which message, which messages a customer may
opt out of, the variables each template sees, the locale a customer reads, the tenant's settings, and the
signed unsubscribe token. Rendering (sandboxed Jinja2) lives in services; the texts in message_texts.py.

Essential messages concern money owed, a contract, or a request the customer made; they always go out.
The others are courtesy (a welcome, reminders about consumption or a renewal) and a customer may stop them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from kassa.core import parties
from kassa.core.errors import DomainError
from kassa.core.events import EventType


class MessageKind(StrEnum):
    WELCOME = "welcome"
    TRIAL_ENDING = "trial_ending"
    RENEWAL_UPCOMING = "renewal_upcoming"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    CARD_EXPIRING = "card_expiring"
    USAGE_THRESHOLD = "usage_threshold"
    LOW_BALANCE = "low_balance"
    PLAN_CHANGED = "plan_changed"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    DUNNING_STEP = "dunning_step"
    DISPUTE_RESOLVED = "dispute_resolved"
    PORTAL_LINK = "portal_link"  # issue 10: a magic link to the portal, sent when an operator asks for it


class MessageStatus(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # a bounce, or no SMTP server configured (error says which)
    SUPPRESSED = "suppressed"  # the customer unsubscribed from it: nothing was sent


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = (
        "webhook"  # only the message.sent event: the tenant delivers it (or an email went out elsewhere)
    )


NON_ESSENTIAL = frozenset(
    {MessageKind.WELCOME, MessageKind.RENEWAL_UPCOMING, MessageKind.USAGE_THRESHOLD, MessageKind.LOW_BALANCE}
)
ALL = "*"  # a preference for every non-essential kind

_EVENT_KINDS: Mapping[str, MessageKind] = {
    EventType.CUSTOMER_CREATED: MessageKind.WELCOME,
    EventType.SUBSCRIPTION_TRIAL_ENDING: MessageKind.TRIAL_ENDING,
    EventType.SUBSCRIPTION_RENEWAL_UPCOMING: MessageKind.RENEWAL_UPCOMING,
    EventType.INVOICE_FINALIZED: MessageKind.INVOICE_ISSUED,
    EventType.PAYMENT_SUCCEEDED: MessageKind.PAYMENT_SUCCEEDED,
    EventType.PAYMENT_FAILED: MessageKind.PAYMENT_FAILED,
    EventType.PAYMENT_METHOD_EXPIRING: MessageKind.CARD_EXPIRING,
    EventType.USAGE_THRESHOLD_REACHED: MessageKind.USAGE_THRESHOLD,
    EventType.WALLET_BALANCE_LOW: MessageKind.LOW_BALANCE,
    EventType.SUBSCRIPTION_CHANGED: MessageKind.PLAN_CHANGED,
    EventType.SUBSCRIPTION_CANCELED: MessageKind.SUBSCRIPTION_CANCELED,
    EventType.INVOICE_OVERDUE: MessageKind.DUNNING_STEP,
    EventType.DISPUTE_RESOLVED: MessageKind.DISPUTE_RESOLVED,
}
# Dunning steps the customer hears about. A cancellation is told by subscription_canceled, and a write-off
# is the tenant's bookkeeping, not news for the customer.
_DUNNING_ACTIONS = frozenset({"reminder", "suspension_notice", "past_due"})
# The reminder and the suspension notice are already emailed by the dunning step itself (services/emails.py)
_DUNNING_EMAILED = frozenset({"reminder", "suspension_notice"})


def essential(kind: MessageKind) -> bool:
    return kind not in NON_ESSENTIAL


def kind_for(event_type: str, data: Mapping[str, Any]) -> MessageKind | None:
    """The message an event of this type (with this data) sends, if any."""
    kind = _EVENT_KINDS.get(event_type)
    if kind is MessageKind.DUNNING_STEP and data.get("action") not in _DUNNING_ACTIONS:
        return None
    return kind


def by_email(kind: MessageKind, data: Mapping[str, Any]) -> bool:
    """False where kassa already emails the customer about the same thing: the invoice goes out with its
    PDF, the card-expiry notice and the dunning reminders from collections. Those messages are recorded
    and announced (the webhook channel) but never emailed twice."""
    if kind in (MessageKind.INVOICE_ISSUED, MessageKind.CARD_EXPIRING):
        return False
    return not (kind is MessageKind.DUNNING_STEP and data.get("action") in _DUNNING_EMAILED)


# ---- variables -----------------------------------------------------------------------------------------

COMMON_VARIABLES: Mapping[str, str] = {
    "customer_name": "The customer's name.",
    "company_name": "The tenant's legal name (or its name).",
    "unsubscribe_url": "The link that stops this kind of message; empty for essential messages.",
}
VARIABLES: Mapping[MessageKind, Mapping[str, str]] = {
    MessageKind.WELCOME: {},
    MessageKind.TRIAL_ENDING: {"plan": "The plan's code.", "days": "Days until the trial ends.",
                               "trial_end": "The day the trial ends (billing begins)."},
    MessageKind.RENEWAL_UPCOMING: {"plan": "The plan's code.", "renews_on": "The renewal (bill) date.",
                                   "amount": "The upcoming invoice's total, or empty if nothing is due."},
    MessageKind.INVOICE_ISSUED: {"invoice_number": "The invoice's number.", "amount_due": "What remains due.",
                                 "due_date": "The due date, or empty."},
    MessageKind.PAYMENT_SUCCEEDED: {"amount": "The amount paid.",
                                    "invoice_number": "The invoice paid, or empty."},
    MessageKind.PAYMENT_FAILED: {"amount": "The amount that failed.", "invoice_number": "The invoice, or empty.",
                                 "failure_message": "Why the payment failed, or empty.",
                                 "update_payment_method_url": "The tenant's link to update the payment "
                                                              "method (message settings), or empty."},
    MessageKind.CARD_EXPIRING: {"brand": "The card's brand.", "last4": "Its last four digits.",
                                "exp_month": "Expiry month.", "exp_year": "Expiry year.",
                                "update_payment_method_url": "The tenant's link to update the payment method."},
    MessageKind.USAGE_THRESHOLD: {"metric": "The billable metric, or empty for the whole bill.",
                                  "threshold": "The threshold reached.", "quantity": "Usage so far, or empty.",
                                  "period_end": "The day the billing period ends."},
    MessageKind.LOW_BALANCE: {"balance": "The wallet's balance.", "threshold": "The threshold crossed."},
    MessageKind.PLAN_CHANGED: {"plan": "The plan now.", "previous_plan": "The plan before.",
                               "quantity": "The quantity now."},
    MessageKind.SUBSCRIPTION_CANCELED: {"plan": "The canceled plan."},
    MessageKind.DUNNING_STEP: {"invoice_number": "The overdue invoice.", "amount_due": "What remains due.",
                               "due_date": "Its due date.", "days_past_due": "Days past due.",
                               "action": "reminder, suspension_notice or past_due."},
    MessageKind.DISPUTE_RESOLVED: {"outcome": "accepted or rejected.", "resolution": "The agent's note, or empty.",
                                   "credited": "The amount credited, or empty."},
    MessageKind.PORTAL_LINK: {"portal_url": "The magic link that opens the customer's portal.",
                              "expires_at": "When the link stops working (date and time)."},
}  # fmt: skip

_SAMPLE_VALUES: Mapping[str, Any] = {
    "customer_name": "Erika Mustermann", "company_name": "Nordlicht GmbH",
    "unsubscribe_url": "https://billing.example/unsubscribe/sample", "plan": "team-monthly", "days": 3,
    "trial_end": "2026-01-15", "renews_on": "2026-02-15", "amount": "49.00 EUR", "invoice_number": "INV-2026-00001",
    "amount_due": "119.00 EUR", "due_date": "2026-01-31", "failure_message": "Your card was declined.",
    "update_payment_method_url": "https://billing.example/payment-method", "brand": "visa", "last4": "4242",
    "exp_month": 12, "exp_year": 2026, "metric": "api_calls", "threshold": "10000", "quantity": "10250",
    "period_end": "2026-01-31", "balance": "4.50 EUR", "previous_plan": "starter-monthly",
    "days_past_due": 7, "action": "reminder", "outcome": "accepted", "resolution": "Credited in full.",
    "credited": "19.00 EUR", "portal_url": "https://billing.example/portal/open/sample",
    "expires_at": "4 Jan 2026, 09:00:00",
}  # fmt: skip


def variable_names(kind: MessageKind) -> list[str]:
    return [*COMMON_VARIABLES, *VARIABLES[kind]]


def sample_variables(kind: MessageKind) -> dict[str, Any]:
    """Every variable of the kind with a plausible value: a template is rendered against these when saved,
    so a misspelt name is refused then rather than at send time."""
    values = {name: _SAMPLE_VALUES[name] for name in variable_names(kind) if name in _SAMPLE_VALUES}
    if kind is MessageKind.PLAN_CHANGED:
        values["quantity"] = 2
    return values


# ---- templates and messages ----------------------------------------------------------------------------

MAX_SUBJECT = 300
MAX_BODY = 50_000


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageTemplate:
    kind: MessageKind
    locale: str
    subject: str
    body_text: str
    body_html: str | None = None
    builtin: bool = False  # kassa's default, not the tenant's own
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    tenant_id: str
    id: str
    customer_id: str
    kind: MessageKind
    channel: Channel
    locale: str
    recipient: str | None = None
    subject: str | None = None
    status: MessageStatus
    error: str | None = None
    event_id: str | None = None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "object": "message", "customer_id": self.customer_id, "kind": self.kind.value,
            "essential": essential(self.kind), "channel": self.channel.value, "locale": self.locale,
            "recipient": self.recipient, "subject": self.subject, "status": self.status.value,
            "error": self.error, "event_id": self.event_id, "created_at": self.created_at.isoformat(),
        }  # fmt: skip


def message_kind(value: Any, field: str = "kind") -> MessageKind:
    try:
        return MessageKind(value)
    except ValueError:
        names = ", ".join(k.value for k in MessageKind)
        raise DomainError(
            "unknown_message_kind", f"{value!r} is not a message kind ({names}).", field
        ) from None


def message_status(value: Any, field: str = "status") -> MessageStatus:
    try:
        return MessageStatus(value)
    except ValueError:
        raise DomainError("invalid_status", f"{value!r} is not sent, failed or suppressed.", field) from None


def template_locale(value: Any, field: str = "locale") -> str:
    """A template's locale in the customers' form: "de-AT" and "de_AT" are both "de_AT"."""
    text = value.replace("-", "_") if isinstance(value, str) else value
    return parties.locale(text, field)


def locale_chain(*locales: str | None) -> list[str]:
    """Where to look for a template, best first: each locale and its parents (de_Latn_AT, de_Latn, de), then
    English. Called with the customer's locale, then the tenant's."""
    chain: list[str] = []
    for locale in (*locales, "en"):
        if not locale:
            continue
        parts = locale.replace("-", "_").split("_")
        for n in range(len(parts), 0, -1):
            candidate = "_".join(parts[:n])
            if candidate not in chain:
                chain.append(candidate)
    return chain


def template_text(value: Any, field: str, *, limit: int, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise DomainError("invalid_template", f"{field} is text of 1 to {limit} characters.", field)
    return value


# ---- preferences ---------------------------------------------------------------------------------------


def check_preferences(changes: Any) -> dict[str, bool]:
    """{kind: subscribed, "*": subscribed}: an essential kind cannot be turned off."""
    if not isinstance(changes, Mapping) or not changes:
        raise DomainError("invalid_preferences", 'Preferences map kinds (or "*") to true or false.')
    out: dict[str, bool] = {}
    for key, value in changes.items():
        if not isinstance(value, bool):
            raise DomainError("invalid_preferences", f"{key}: true or false.", str(key))
        if key != ALL:
            kind = message_kind(key, str(key))
            if essential(kind) and not value:
                raise DomainError(
                    "essential_message",
                    f"{kind.value} messages are essential (money, contract, the customer's own request) "
                    "and cannot be unsubscribed.",
                    str(key),
                )
        out[str(key)] = value
    return out


def subscribed(preferences: Mapping[str, bool], kind: MessageKind) -> bool:
    """Essential kinds always; otherwise the kind's own choice, else the "*" choice, else yes."""
    if essential(kind):
        return True
    if kind.value in preferences:
        return preferences[kind.value]
    return preferences.get(ALL, True)


# ---- settings ------------------------------------------------------------------------------------------

MAX_LEAD_DAYS = 60
_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSettings:
    enabled: bool = False  # kassa does not write to a tenant's customers until the tenant says so
    trial_ending_days: int = 3
    renewal_upcoming_days: int = 7
    update_payment_method_url: str | None = None
    public_url: str | None = None  # unset: the server's own address

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "trial_ending_days": self.trial_ending_days,
            "renewal_upcoming_days": self.renewal_upcoming_days,
            "update_payment_method_url": self.update_payment_method_url,
            "public_url": self.public_url,
        }


def settings_from(current: MessageSettings, changes: Any) -> MessageSettings:
    if not isinstance(changes, Mapping):
        raise DomainError("invalid_message_settings", "Message settings are an object.")
    values = current.to_json()
    for key, value in changes.items():
        if key not in values:
            raise DomainError("invalid_message_settings", f"Unknown setting {key!r}.", str(key))
        if key == "enabled":
            if not isinstance(value, bool):
                raise DomainError("invalid_message_settings", "enabled is true or false.", key)
        elif key.endswith("_days"):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LEAD_DAYS:
                raise DomainError("invalid_message_settings", f"{key} is 1 to {MAX_LEAD_DAYS} days.", key)
        elif value is not None and (
            not isinstance(value, str) or len(value) > 2000 or not _URL.fullmatch(value)
        ):
            raise DomainError("invalid_url", f"{key} is an http(s) URL of at most 2000 characters.", key)
        values[key] = value
    return MessageSettings(**values)


# ---- unsubscribe tokens --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsubscribeToken:
    tenant_id: str
    customer_id: str
    kind: MessageKind


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, b"kassa unsubscribe\0" + payload.encode(), hashlib.sha256).digest())


def sign_unsubscribe(key: bytes, token: UnsubscribeToken) -> str:
    """payload.signature, both base64url: the payload names the tenant (whose key checks the signature), the
    customer and the kind. It does not expire: an old email's link must still work."""
    doc = [token.tenant_id, token.customer_id, token.kind.value]
    payload = _b64(json.dumps(doc, separators=(",", ":")).encode())
    return f"{payload}.{_signature(key, payload)}"


def _invalid() -> DomainError:
    return DomainError("invalid_unsubscribe_token", "This unsubscribe link is not valid.", "token")


def read_unsubscribe(token: str) -> UnsubscribeToken:
    """The token's claims, not yet verified (the tenant they name holds the key)."""
    try:
        payload, _ = token.split(".")
        tenant_id, customer_id, kind = json.loads(_unb64(payload))
        if not all(isinstance(v, str) and 0 < len(v) <= 40 for v in (tenant_id, customer_id, kind)):
            raise ValueError(token)
        return UnsubscribeToken(tenant_id=tenant_id, customer_id=customer_id, kind=MessageKind(kind))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise _invalid() from None


def verify_unsubscribe(key: bytes, token: str) -> UnsubscribeToken:
    claims = read_unsubscribe(token)
    payload, signature = token.split(".")
    if not hmac.compare_digest(_signature(key, payload), signature):
        raise _invalid()
    return claims
