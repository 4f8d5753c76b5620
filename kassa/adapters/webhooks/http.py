"""HttpWebhookSender: Standard Webhooks delivery over httpx, with the address policy checked on every send."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address, ip_address
from math import floor
from types import TracebackType

import httpx
from standardwebhooks import Webhook

from kassa.adapters.webhooks.base import EXCERPT_MAX_CHARS, DeliveryResult
from kassa.core.errors import DomainError
from kassa.core.webhooks import is_address_allowed

Address = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Sequence[Address]]

USER_AGENT = "kassa-webhooks/1"
MAX_URL_LENGTH = 2048


def resolve_host(host: str, port: int) -> list[Address]:
    """Every address the system resolver answers for `host`: the ones httpx will pick from."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 answer may carry a zone (`fe80::1%eth0`); the zone does not change the address class.
    return list(dict.fromkeys(ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def _excerpt(response: httpx.Response) -> str:
    """The start of the body, without downloading an arbitrarily large (or endless) answer."""
    limit = EXCERPT_MAX_CHARS * 4  # a UTF-8 character is at most 4 bytes
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    except httpx.HTTPError:
        pass  # the status already decided the outcome; a body cut short is still worth showing
    return body[:limit].decode("utf-8", errors="replace")[:EXCERPT_MAX_CHARS]


@dataclass(frozen=True, slots=True)
class _Destination:
    """A vetted URL and the addresses checked for it: the only ones a send may connect to."""

    url: httpx.URL
    host: str  # the IDNA form; an IP literal stays as written
    is_literal: bool
    addresses: Sequence[Address]

    def pinned(self, address: Address) -> tuple[httpx.URL, dict[str, str], dict[str, object]]:
        """The URL to request so httpx connects to `address` itself, never resolving the name again.

        The Host header keeps the name (host[:port] as in the URL), and for https the name is the
        TLS SNI and the one the certificate is verified against (httpcore's `sni_hostname`).
        """
        url = self.url.copy_with(host=str(address))  # httpx brackets an IPv6 address
        headers = {"host": self.url.netloc.decode("ascii")}
        extensions: dict[str, object] = {}
        if self.url.scheme == "https" and not self.is_literal:
            extensions["sni_hostname"] = self.host
            # The pool keys connections by (scheme, address, port), not by name: a TLS connection
            # verified for one name must not carry a request for another name on the same address
            # (shared hosting, a rebound name), so https connections to a name are not kept.
            headers["connection"] = "close"
        return url, headers, extensions


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class HttpWebhookSender:
    """One shared httpx.Client; close() it at shutdown.

    Connections are reused across deliveries, except https to a hostname (see _Destination.pinned).
    """

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        resolve: Resolver = resolve_host,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`ssl_context` replaces the default trust store (certifi), e.g. with a private CA in tests."""
        self._resolve = resolve
        # trust_env=False: a proxy from the environment would connect somewhere other than the
        # addresses we checked. No redirects: a 3xx could point anywhere, including inside our network.
        self._client = httpx.Client(
            timeout=timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            verify=ssl_context if ssl_context is not None else True,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpWebhookSender:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def check_url(self, url: str, allowed_networks: Sequence[str]) -> None:
        vetted = self._vet(url, allowed_networks)
        if isinstance(vetted, str):
            raise DomainError("invalid_webhook_url", vetted, field="url")

    def _vet(self, url: str, allowed_networks: Sequence[str]) -> _Destination | str:
        """Where `url` may be sent, or why it may not receive webhooks. Parsed by httpx, as it is sent.

        A refusal never names what a host resolved to: that would map our internal network for a
        tenant who tries names like db.internal.
        """
        if len(url) > MAX_URL_LENGTH:
            return f"The URL is longer than {MAX_URL_LENGTH} characters."
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            return f"The URL is malformed: {exc}."
        if parsed.scheme not in ("http", "https"):
            return "Only http and https URLs can receive webhooks."
        if parsed.userinfo:
            return "The URL must not contain credentials: receivers authenticate us by the signature."
        host = parsed.raw_host.decode("ascii")  # the IDNA form, as sent to the resolver
        if not host:
            return "The URL has no host."
        try:
            addresses: Sequence[Address] = [ip_address(host)]
            is_literal = True
        except ValueError:
            is_literal = False
            try:
                addresses = self._resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
            except (OSError, UnicodeError) as exc:
                return f"The host {host!r} could not be resolved ({_describe(exc)})."
        if not addresses:
            return f"The host {host!r} resolves to no address."
        if not all(is_address_allowed(address, allowed_networks) for address in addresses):
            if is_literal:
                return f"The host {host!r} is neither a public address nor in the allowed networks."
            return (
                f"The host {host!r} resolves to an address that is neither a public address nor in "
                "the allowed networks (private, loopback, link-local or reserved)."
            )
        # Plain http only stays inside networks the operator vouched for; on the internet the
        # payload (customer data) would travel readable by anyone on the path.
        if parsed.scheme == "http" and any(is_address_allowed(a, ()) for a in addresses):
            return "Use https: plain http is only allowed to hosts in the allowed networks."
        return _Destination(url=parsed, host=host, is_literal=is_literal, addresses=addresses)

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
        started = time.monotonic()

        def result(*, status_code: int | None = None, error: str | None, excerpt: str = "") -> DeliveryResult:
            return DeliveryResult(
                ok=error is None,
                status_code=status_code,
                error=error,
                duration_ms=round((time.monotonic() - started) * 1000),
                response_excerpt=excerpt,
            )

        # Never raise: the worker records whatever happened as a failed attempt and retries.
        try:
            # Checked at every send, not only when the endpoint was saved: DNS can be rebound since.
            destination = self._vet(url, allowed_networks)
            if isinstance(destination, str):
                return result(error=f"Not sent: {destination}")
            if timestamp.tzinfo is None:
                raise ValueError("the timestamp must be an aware datetime")
            # standardwebhooks' sign() replaces tzinfo by UTC, which is only right for UTC input.
            at = timestamp.astimezone(UTC)
            headers = {
                "webhook-id": message_id,
                "webhook-timestamp": str(floor(at.timestamp())),
                "webhook-signature": Webhook(secret).sign(message_id, at, payload.decode("utf-8")),
                "content-type": "application/json",
                "user-agent": USER_AGENT,
            }
            status, excerpt, location = self._post(destination, payload, headers)
        except httpx.TimeoutException as exc:
            return result(error=f"Timed out: {_describe(exc)}")
        except Exception as exc:
            return result(error=_describe(exc))
        if 200 <= status < 300:
            return result(status_code=status, error=None, excerpt=excerpt)
        if 300 <= status < 400:
            return result(
                status_code=status,
                excerpt=excerpt,
                error=f"Redirect {status} to {location!r} not followed: use the final URL.",
            )
        return result(status_code=status, error=f"HTTP {status}", excerpt=excerpt)

    def _post(
        self, destination: _Destination, payload: bytes, headers: dict[str, str]
    ) -> tuple[int, str, str | None]:
        """POST to the addresses just checked, in the resolver's order; the first that connects answers.

        httpx never resolves the name itself (DNS rebinding between check and connect). Only a
        failed connection (refused, unreachable, timed out, TLS handshake) moves on to the next
        address: nothing was sent, so the receiver cannot get the message twice.
        """
        for index, address in enumerate(destination.addresses):
            url, pinned_headers, extensions = destination.pinned(address)
            try:
                with self._client.stream(
                    "POST", url, content=payload, headers=headers | pinned_headers, extensions=extensions
                ) as response:
                    return response.status_code, _excerpt(response), response.headers.get("location")
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if index == len(destination.addresses) - 1:
                    raise
        raise AssertionError("a vetted destination has at least one address")
