"""The webhook port: deliver one signed message to one endpoint and say how it went."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Enough of a receiver's answer to debug with in the console, small enough to store per attempt.
EXCERPT_MAX_CHARS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    ok: bool  # a 2xx answer; anything else is retried per kassa.core.webhooks.RETRY_DELAYS
    status_code: int | None  # None when no HTTP answer came back (refused, timeout, connection error)
    error: str | None  # why it was not ok, for people; None when ok
    duration_ms: int
    response_excerpt: str  # at most EXCERPT_MAX_CHARS characters of the response body

    def __post_init__(self) -> None:
        if len(self.response_excerpt) > EXCERPT_MAX_CHARS:
            raise ValueError(f"response_excerpt exceeds {EXCERPT_MAX_CHARS} characters")


class WebhookSender(Protocol):
    def send(
        self,
        *,
        url: str,
        secret: str,
        message_id: str,
        timestamp: datetime,
        payload: bytes,
        allowed_networks: Sequence[str],
    ) -> DeliveryResult:
        """POST `payload` signed per Standard Webhooks. Never raises: every failure is a result.

        The destination is checked again here, not only in check_url: DNS may have changed since
        the endpoint was saved (rebinding), so an allowed name can now point inside our network.
        """
        ...

    def check_url(self, url: str, allowed_networks: Sequence[str]) -> None:
        """Refuse an endpoint URL with DomainError("invalid_webhook_url", ..., field="url").

        http or https only, no credentials in the URL, every resolved address allowed by
        kassa.core.webhooks.is_address_allowed, and https unless every address is a non-public one
        the operator allowed through `allowed_networks` (a receiver on the same private network).
        """
        ...
