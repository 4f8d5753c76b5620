"""Settings from the environment: the only module that reads environment variables."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parseaddr

from kassa.core.errors import DomainError
from kassa.core.webhooks import validate_networks


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    database_url: str = "sqlite:///kassa.db"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    idempotency_ttl_hours: int = 24
    advance_budget_seconds: int = 10  # a test clock advance answers 202 after this, and goes on
    worker_poll_seconds: int = 1
    # The private networks (CIDR) tenants may let their webhook URLs reach; none by default, since a
    # tenant able to reach the operator's internal network could read it through delivery responses.
    webhook_permitted_networks: tuple[str, ...] = ()
    # smtp://[user:pass@]host[:port][?starttls=true] or smtps://...; unset, emails wait in the outbox.
    smtp_url: str | None = None
    mail_from: str = "billing@localhost"  # the From of kassa's emails unless a tenant sets its own
    # The sandbox gateway (test cards, no network) is on unless turned off; turn it off in production, as its
    # default webhook secret is public (docs/payments-sandbox.md).
    sandbox_gateway: bool = True
    sandbox_webhook_secret: str | None = None
    stripe_api_key: str | None = None  # set: the Stripe gateway is on
    stripe_webhook_secret: str | None = None


def _networks(text: str) -> tuple[str, ...]:
    try:
        return validate_networks([part.strip() for part in text.split(",") if part.strip()])
    except DomainError as error:
        raise ValueError(error.message) from None


def _optional(text: str) -> str | None:
    # An empty value is how a deployment unsets a variable it cannot remove.
    return text.strip() or None


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(text)
    return value in ("1", "true", "yes", "on")


def _mail_address(text: str) -> str:
    # Only the shape: whether the server accepts this sender shows at the first send.
    address = parseaddr(text)[1]
    if "\r" in text or "\n" in text or "@" not in address.strip("@"):
        raise ValueError(f"{text!r} is not an email address")
    return text.strip()


# env var -> (field, parser); documented in the README's configuration table
_VARIABLES: dict[str, tuple[str, Callable[[str], object]]] = {
    "KASSA_DATABASE_URL": ("database_url", str),
    "KASSA_HOST": ("host", str),
    "KASSA_PORT": ("port", int),
    "KASSA_LOG_LEVEL": ("log_level", str),
    "KASSA_IDEMPOTENCY_TTL_HOURS": ("idempotency_ttl_hours", int),
    "KASSA_ADVANCE_BUDGET_SECONDS": ("advance_budget_seconds", int),
    "KASSA_WORKER_POLL_SECONDS": ("worker_poll_seconds", int),
    "KASSA_WEBHOOK_PERMITTED_NETWORKS": ("webhook_permitted_networks", _networks),
    "KASSA_SMTP_URL": ("smtp_url", _optional),
    "KASSA_MAIL_FROM": ("mail_from", _mail_address),
    "KASSA_SANDBOX_GATEWAY": ("sandbox_gateway", _flag),
    "KASSA_SANDBOX_WEBHOOK_SECRET": ("sandbox_webhook_secret", _optional),
    "KASSA_STRIPE_API_KEY": ("stripe_api_key", _optional),
    "KASSA_STRIPE_WEBHOOK_SECRET": ("stripe_webhook_secret", _optional),
}


def load(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (field, parse) in _VARIABLES.items():
        if name in env:
            try:
                values[field] = parse(env[name])
            except ValueError:
                raise DomainError("invalid_setting", f"{name}={env[name]!r} is not valid.", name) from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]
