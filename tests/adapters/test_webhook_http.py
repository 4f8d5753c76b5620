"""The HTTP sender against a real local server; signatures checked with the spec's own library."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from kassa.adapters.webhooks.base import DeliveryResult
from kassa.adapters.webhooks.http import HttpWebhookSender
from kassa.core.errors import DomainError
from kassa.core.webhooks import new_secret_text

SECRET = new_secret_text(bytes(range(32)))
LOOPBACK = ["127.0.0.0/8"]
PAYLOAD = json.dumps({"type": "customer.created", "data": {"id": "cus_1", "name": "Zoë"}}).encode()


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base_url: str
    requests: list[Captured] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    server_names: list[str | None] = field(default_factory=list)  # TLS SNI, one per handshake

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as state:
        yield state


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    state = Receiver(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            state.requests.append(Captured(self.path, dict(self.headers.items()), body))
            if self.path == "/slow":
                state.release.wait(5)
            status, extra, answer = {
                "/ok": (200, {}, b"thanks"),
                "/accepted": (204, {}, b""),
                "/fail": (500, {}, b"boom"),
                "/redirect": (302, {"location": "/ok"}, b""),
                "/big": (200, {}, "é".encode() * 3000),
            }.get(self.path, (404, {}, b"no such hook"))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the /slow handler writes to a client that already gave up

    server = Server(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        tls.sni_callback = lambda _socket, name, _context: state.server_names.append(name)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    state.base_url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def sender() -> Iterator[HttpWebhookSender]:
    with HttpWebhookSender() as instance:
        yield instance


def now() -> datetime:
    # The receiver's library checks the timestamp against its wall clock (5 min tolerance), so this
    # test has to sign with the real time.
    return datetime.now(UTC)  # noqa: TID251


def send(
    sender: HttpWebhookSender,
    url: str,
    allowed_networks: Sequence[str] = LOOPBACK,
    payload: bytes = PAYLOAD,
    timestamp: datetime | None = None,
) -> DeliveryResult:
    return sender.send(
        url=url,
        secret=SECRET,
        message_id="msg_1",
        timestamp=timestamp or now(),
        payload=payload,
        allowed_networks=allowed_networks,
    )


def test_signature_verifies_with_standardwebhooks(receiver: Receiver, sender: HttpWebhookSender) -> None:
    result = send(sender, receiver.base_url + "/ok")
    assert (result.ok, result.status_code, result.error, result.response_excerpt) == (
        True,
        200,
        None,
        "thanks",
    )
    assert result.duration_ms >= 0
    [captured] = receiver.requests
    assert captured.body == PAYLOAD
    headers = {k.lower(): v for k, v in captured.headers.items()}
    assert headers["webhook-id"] == "msg_1"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "kassa-webhooks/1"
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(captured.body, headers) == json.loads(PAYLOAD)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(captured.body.replace(b"cus_1", b"cus_2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret_text(b"\x01" * 32)).verify(captured.body, headers)


def test_zoned_timestamp_is_signed_as_the_same_instant(receiver: Receiver, sender: HttpWebhookSender) -> None:
    at = now().astimezone(ZoneInfo("America/New_York"))
    assert send(sender, receiver.base_url + "/ok", timestamp=at).ok
    headers = {k.lower(): v for k, v in receiver.requests[0].headers.items()}
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    Webhook(SECRET).verify(receiver.requests[0].body, headers)


def test_any_2xx_is_ok(receiver: Receiver, sender: HttpWebhookSender) -> None:
    result = send(sender, receiver.base_url + "/accepted")
    assert (result.ok, result.status_code, result.error) == (True, 204, None)


def test_500_is_not_ok(receiver: Receiver, sender: HttpWebhookSender) -> None:
    result = send(sender, receiver.base_url + "/fail")
    assert (result.ok, result.status_code, result.error, result.response_excerpt) == (
        False,
        500,
        "HTTP 500",
        "boom",
    )


def test_redirect_is_not_followed(receiver: Receiver, sender: HttpWebhookSender) -> None:
    result = send(sender, receiver.base_url + "/redirect")
    assert (result.ok, result.status_code) == (False, 302)
    assert result.error == "Redirect 302 to '/ok' not followed: use the final URL."
    assert [r.path for r in receiver.requests] == ["/redirect"]


def test_excerpt_is_capped(receiver: Receiver, sender: HttpWebhookSender) -> None:
    result = send(sender, receiver.base_url + "/big")
    assert result.ok
    assert result.response_excerpt == "é" * 1000


def test_closed_port_is_not_ok(sender: HttpWebhookSender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = send(sender, f"http://127.0.0.1:{port}/hook")
    assert (result.ok, result.status_code) == (False, None)
    assert result.error is not None and result.error.startswith("ConnectError")


def test_timeout_is_not_ok(receiver: Receiver) -> None:
    with HttpWebhookSender(timeout_seconds=0.3) as impatient:
        result = send(impatient, receiver.base_url + "/slow")
    receiver.release.set()
    assert (result.ok, result.status_code) == (False, None)
    assert result.error is not None and result.error.startswith("Timed out: ReadTimeout")


def test_loopback_without_allow_list_never_reaches_the_server(
    receiver: Receiver, sender: HttpWebhookSender
) -> None:
    result = send(sender, receiver.base_url + "/ok", allowed_networks=[])
    assert (result.ok, result.status_code) == (False, None)
    assert result.error == (
        "Not sent: The host '127.0.0.1' is neither a public address nor in the allowed networks."
    )
    assert receiver.requests == []


def test_dns_rebinding_is_refused_at_send_time(receiver: Receiver) -> None:
    # The name resolved to a public address when the endpoint was saved; now it points inside.
    answers: list[list[IPv4Address | IPv6Address]] = [[ip_address("93.184.215.14")]]

    def resolve(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        assert (host, port) == ("hooks.example.com", 443)
        return answers[-1]

    with HttpWebhookSender(resolve=resolve) as rebound:
        rebound.check_url("https://hooks.example.com/in", [])
        answers.append([ip_address("93.184.215.14"), ip_address("169.254.169.254")])
        result = send(rebound, "https://hooks.example.com/in", allowed_networks=[])
        with pytest.raises(DomainError):
            rebound.check_url("https://hooks.example.com/in", [])
    assert result.ok is False
    assert result.error == (
        "Not sent: The host 'hooks.example.com' resolves to an address that is neither a public "
        "address nor in the allowed networks (private, loopback, link-local or reserved)."
    )


def test_naive_timestamp_is_a_failed_result_not_an_exception(
    receiver: Receiver, sender: HttpWebhookSender
) -> None:
    result = send(sender, receiver.base_url + "/ok", timestamp=datetime(2026, 1, 1))  # noqa: DTZ001
    assert (result.ok, result.error) == (False, "ValueError: the timestamp must be an aware datetime")
    assert receiver.requests == []


def test_check_url_accepts(receiver: Receiver, sender: HttpWebhookSender) -> None:
    sender.check_url(receiver.base_url + "/ok", LOOPBACK)  # http is fine inside an allowed network
    sender.check_url("https://93.184.215.14/hooks", [])  # a literal address: no DNS, no connection
    sender.check_url("https://[2001:4860:4860::8888]:8443/hooks", [])
    # localhost may also resolve to ::1, depending on /etc/hosts
    sender.check_url("http://localhost:8080/hooks", ["127.0.0.0/8", "::1/128"])


@pytest.mark.parametrize(
    ("url", "allowed_networks", "message"),
    [
        ("ftp://93.184.215.14/hooks", [], "Only http and https URLs can receive webhooks."),
        ("hooks.example.com/in", [], "Only http and https URLs can receive webhooks."),
        (
            "https://user:pw@93.184.215.14/hooks",
            [],
            "The URL must not contain credentials: receivers authenticate us by the signature.",
        ),
        (
            "https://token@93.184.215.14/hooks",
            [],
            "The URL must not contain credentials: receivers authenticate us by the signature.",
        ),
        (
            "http://93.184.215.14/hooks",
            [],
            "Use https: plain http is only allowed to hosts in the allowed networks.",
        ),
        (
            "http://93.184.215.14/hooks",
            ["93.184.215.0/24"],
            "Use https: plain http is only allowed to hosts in the allowed networks.",
        ),
        (
            "https://127.0.0.1:8443/hooks",
            [],
            "The host '127.0.0.1' is neither a public address nor in the allowed networks.",
        ),
        (
            "https://[::ffff:169.254.169.254]/latest",
            [],
            "The host '::ffff:169.254.169.254' is neither a public address nor in the allowed networks.",
        ),
        (
            "http://evil.example\\@127.0.0.1/",
            LOOPBACK,
            "The URL must not contain credentials: receivers authenticate us by the signature.",
        ),
        ("https:///hooks", [], "The URL has no host."),
        ("https://93.184.215.14/" + "a" * 2048, [], "The URL is longer than 2048 characters."),
    ],
)
def test_check_url_refuses(
    sender: HttpWebhookSender, url: str, allowed_networks: list[str], message: str
) -> None:
    with pytest.raises(DomainError) as caught:
        sender.check_url(url, allowed_networks)
    assert (caught.value.code, caught.value.field, caught.value.message) == (
        "invalid_webhook_url",
        "url",
        message,
    )


def test_check_url_refuses_unresolvable_host() -> None:
    def resolve(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with HttpWebhookSender(resolve=resolve) as sender, pytest.raises(DomainError) as caught:
        sender.check_url("https://nowhere.invalid/", [])
    assert caught.value.message == (
        "The host 'nowhere.invalid' could not be resolved (gaierror: [Errno -2] Name or service not known)."
    )


def resolving_to(*answers: str, calls: list[tuple[str, int]] | None = None) -> HttpWebhookSender:
    def resolve(host: str, port: int) -> list[IPv4Address | IPv6Address]:
        if calls is not None:
            calls.append((host, port))
        return [ip_address(answer) for answer in answers]

    return HttpWebhookSender(resolve=resolve)


def test_request_goes_to_the_checked_address_not_a_second_lookup(receiver: Receiver) -> None:
    """Issue 3: the connection is made to the address that was checked, httpx never resolves the name.

    hooks.example.test exists in no real DNS: the request can only arrive here if httpx connected
    to the address our resolver answered, while still naming the host in the Host header.
    """
    calls: list[tuple[str, int]] = []
    url = f"http://hooks.example.test:{receiver.port}/ok"
    with resolving_to("127.0.0.1", calls=calls) as pinned:
        result = send(pinned, url)
    assert (result.ok, result.status_code, result.error) == (True, 200, None)
    assert calls == [("hooks.example.test", receiver.port)]
    [captured] = receiver.requests
    assert captured.path == "/ok"
    headers = {k.lower(): v for k, v in captured.headers.items()}
    assert headers["host"] == f"hooks.example.test:{receiver.port}"
    Webhook(SECRET).verify(captured.body, headers)


def test_checked_addresses_are_tried_in_order_and_no_other(receiver: Receiver) -> None:
    """Issue 3: with several answers, the first checked address that connects receives the request.

    Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1 only), so that answer is refused
    and the next one is used; when the only answer refuses, nothing falls back to another lookup.
    """
    url = f"http://hooks.example.test:{receiver.port}/ok"
    with resolving_to("127.0.0.2", "127.0.0.1") as pinned:
        result = send(pinned, url)
    assert (result.ok, result.status_code) == (True, 200)
    assert len(receiver.requests) == 1
    with resolving_to("127.0.0.2") as pinned:
        result = send(pinned, url)
    assert (result.ok, result.status_code) == (False, None)
    assert result.error is not None and result.error.startswith("ConnectError")
    assert len(receiver.requests) == 1


def test_refusal_does_not_reveal_what_the_host_resolves_to() -> None:
    """Issue 3: a tenant must not learn our internal address map from the refusal message."""
    message = (
        "The host 'db.internal' resolves to an address that is neither a public address nor in the "
        "allowed networks (private, loopback, link-local or reserved)."
    )
    with resolving_to("93.184.215.14", "10.1.2.3") as sender:
        with pytest.raises(DomainError) as caught:
            sender.check_url("https://db.internal/hooks", [])
        result = send(sender, "https://db.internal/hooks", allowed_networks=[])
    assert caught.value.message == message
    assert result.error == f"Not sent: {message}"
    assert "10.1.2.3" not in caught.value.message and "93.184" not in caught.value.message


def lowered(captured: Captured) -> dict[str, str]:
    return {k.lower(): v for k, v in captured.headers.items()}


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def tls_receiver(cert: Path, key: str | Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_https_to_the_checked_address_verifies_the_hostname(tmp_path: Path) -> None:
    """Issue 3: pinned to the checked address, TLS still sends the hostname (SNI) and verifies it.

    The receiver's certificate names hooks.example.test only, not 127.0.0.1: the delivery succeeds
    only because the certificate is checked against the name; one for another name is refused.
    """
    cert, key = self_signed(tmp_path, "hooks.example.test")
    other_cert, other_key = self_signed(tmp_path, "other.example.test")
    trust = ssl.create_default_context()
    trust.load_verify_locations(cert)
    trust.load_verify_locations(other_cert)
    with serve(tls_receiver(cert, key)) as receiver:
        with HttpWebhookSender(
            resolve=lambda host, port: [ip_address("127.0.0.1")], ssl_context=trust
        ) as pinned:
            url = f"https://hooks.example.test:{receiver.port}/ok"
            result = send(pinned, url)
            again = send(pinned, url)
        assert (result.ok, result.status_code, again.ok) == (True, 200, True)
        assert receiver.server_names == ["hooks.example.test", "hooks.example.test"]
        assert [lowered(r)["host"] for r in receiver.requests] == [f"hooks.example.test:{receiver.port}"] * 2
        # A TLS connection verified for this name is not kept for another name on the same address.
        assert lowered(receiver.requests[0])["connection"] == "close"
    with serve(tls_receiver(other_cert, other_key)) as impostor:
        with HttpWebhookSender(
            resolve=lambda host, port: [ip_address("127.0.0.1")], ssl_context=trust
        ) as pinned:
            result = send(pinned, f"https://hooks.example.test:{impostor.port}/ok")
        assert (result.ok, result.status_code) == (False, None)
        assert result.error is not None and "CERTIFICATE_VERIFY_FAILED" in result.error
        assert impostor.requests == []
