"""The SMTP mailer against a real SMTP server (aiosmtpd), messages parsed back with the email package."""

from __future__ import annotations

import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from hypothesis import given
from hypothesis import strategies as st

from kassa import config
from kassa.adapters.mail.base import (
    Attachment,
    MailDeferred,
    MailRejected,
    NoMailer,
    OutgoingEmail,
)
from kassa.adapters.mail.smtp import SmtpMailer, SmtpTarget, parse_smtp_url
from kassa.core.errors import DomainError

USER = "billing@acme.test"
PASSWORD = "s3cret:p@ss/w%rd #1"  # needs percent-encoding in a URL: @ : / % space #
# The login tests use aiosmtpd's AUTH over plain TCP on loopback on purpose; it warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
PDF = b"%PDF-1.7\n" + bytes(range(256)) + b"\n%%EOF\n"  # every byte value: binary must survive


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """What the server received, and how it answers; tests change the answers before sending."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> reply instead of 250
    mail_reply: str | None = None  # reply to MAIL FROM instead of 250
    data_reply: str = "250 2.0.0 Ok: queued as Q1"
    logins: list[tuple[str, str]] = field(default_factory=list)
    hang_up_on_quit: bool = False  # drop the connection instead of answering QUIT


class Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.inbox.mail_reply is not None:
            return self.inbox.mail_reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.inbox.rcpt_replies:
            return self.inbox.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.inbox.data_reply.startswith("250"):
            assert isinstance(envelope.original_content, bytes) and envelope.mail_from is not None
            # As a mail client stores it: CRLF is the wire's line ending, not part of the text.
            stored = envelope.original_content.replace(b"\r\n", b"\n")
            parsed = message_from_bytes(stored, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.inbox.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return self.inbox.data_reply

    async def handle_QUIT(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.inbox.hang_up_on_quit:
            server.transport.abort()
        return "221 Bye"


def authenticate(inbox: Inbox) -> Any:
    def authenticator(
        server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if (login, password) != (USER, PASSWORD):
            return AuthResult(success=False, handled=False)
        inbox.logins.append((login, password))
        return AuthResult(success=True)

    return authenticator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(*, login: bool = False, **options: Any) -> Iterator[Inbox]:
    """A real aiosmtpd server on 127.0.0.1; `options` go to aiosmtpd's Controller and SMTP.

    With `login` it requires AUTH as USER/PASSWORD before accepting mail."""
    inbox = Inbox(port=free_port())
    if login:
        options |= {"authenticator": authenticate(inbox), "auth_required": True}
    controller = Controller(Handler(inbox), hostname="127.0.0.1", port=inbox.port, **options)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def server() -> Iterator[Inbox]:
    with smtp_server() as inbox:
        yield inbox


def invoice_email(**changes: Any) -> OutgoingEmail:
    values: dict[str, Any] = {
        "sender": "Acme Billing <billing@acme.test>",
        "to": ("Zoë Müller <zoe@customer.test>", "ap@customer.test"),
        "subject": "Rechnung INV-2026-0042 für März",
        "text": "Guten Tag,\nanbei Ihre Rechnung über 119,00 €.\n",
        "html": "<p>Guten Tag,</p><p>anbei Ihre Rechnung über <b>119,00 €</b>.</p>",
        "attachments": (
            Attachment(
                filename="Rechnung-INV-2026-0042-Zoë.pdf", content_type="application/pdf", content=PDF
            ),
        ),
        "message_id": "<evt_01HX42@kassa.acme.test>",
        "reply_to": "accounts@acme.test",
        "headers": {"Date": "Wed, 01 Apr 2026 09:00:00 +0000", "Auto-Submitted": "auto-generated"},
    }
    return OutgoingEmail(**(values | changes))


# --- delivery ---------------------------------------------------------------------------------


def test_an_invoice_with_a_pdf_arrives_whole(server: Inbox) -> None:
    """The message the server receives parses back to every field sent: headers (non-ASCII
    subject and names), text and html alternatives, the PDF's exact bytes and its filename."""
    reply = SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())

    assert reply == "250 2.0.0 Ok: queued as Q1"
    [got] = server.received
    assert got.mail_from == "billing@acme.test"
    assert got.rcpt_tos == ["zoe@customer.test", "ap@customer.test"]
    message = got.message
    assert message["Subject"] == "Rechnung INV-2026-0042 für März"
    assert message["From"] == "Acme Billing <billing@acme.test>"
    assert message["To"] == "Zoë Müller <zoe@customer.test>, ap@customer.test"
    assert message["Reply-To"] == "accounts@acme.test"
    assert message["Message-ID"] == "<evt_01HX42@kassa.acme.test>"
    assert message["Date"] == "Wed, 01 Apr 2026 09:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/mixed"
    plain, html = message.get_body(preferencelist=("plain",)), message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == "Guten Tag,\nanbei Ihre Rechnung über 119,00 €.\n"
    assert html.get_content() == "<p>Guten Tag,</p><p>anbei Ihre Rechnung über <b>119,00 €</b>.</p>\n"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "Rechnung-INV-2026-0042-Zoë.pdf"
    assert attachment.get_content() == PDF


def test_a_text_only_email_is_a_single_plain_part_with_a_date(server: Inbox) -> None:
    """Without html or attachments the message is one text/plain part; without a Date header
    from the caller the mailer stamps one (RFC 5322 requires it), a valid aware date."""
    SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(
        invoice_email(html=None, attachments=(), headers={}, reply_to=None)
    )

    [got] = server.received
    assert got.message.get_content_type() == "text/plain"
    assert got.message.get_content() == "Guten Tag,\nanbei Ihre Rechnung über 119,00 €.\n"
    assert got.message["Reply-To"] is None
    assert parsedate_to_datetime(got.message["Date"]).tzinfo is not None


def test_one_refused_recipient_of_two_still_sends_and_says_so(server: Inbox) -> None:
    """A partial refusal is a success for the others; the reply names the refused address."""
    server.rcpt_replies["ap@customer.test"] = "550 5.1.1 no such user"

    reply = SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())

    assert reply == "250 2.0.0 Ok: queued as Q1; refused: ap@customer.test (550 5.1.1 no such user)"
    assert [r.rcpt_tos for r in server.received] == [["zoe@customer.test"]]


def test_a_connection_lost_after_the_message_was_queued_is_still_a_success(server: Inbox) -> None:
    """Once the server answered 250 to the message it is delivered: a connection dropped at QUIT
    must not report a failure, or the retry would send the customer a second copy."""
    server.hang_up_on_quit = True

    reply = SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())

    assert reply == "250 2.0.0 Ok: queued as Q1"
    assert len(server.received) == 1


def test_a_recipient_listed_twice_is_sent_once(server: Inbox) -> None:
    """The same address in two forms becomes one RCPT, so the customer gets one copy."""
    SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(
        invoice_email(to=("zoe@customer.test", "Zoë <zoe@customer.test>"))
    )

    assert [r.rcpt_tos for r in server.received] == [["zoe@customer.test"]]


# --- login ------------------------------------------------------------------------------------


@pytest.fixture
def auth_server() -> Iterator[Inbox]:
    # aiosmtpd offers AUTH only over TLS unless told otherwise; here it is plain TCP.
    with smtp_server(login=True, auth_require_tls=False) as inbox:
        yield inbox


def credentials_url(port: int, password: str = PASSWORD) -> str:
    return f"smtp://{quote(USER, safe='')}:{quote(password, safe='')}@127.0.0.1:{port}"


def test_login_with_percent_encoded_credentials_from_the_url(auth_server: Inbox) -> None:
    """The server requires AUTH (allowed over plain TCP here); user and password are percent-decoded."""
    SmtpMailer(credentials_url(auth_server.port)).send(invoice_email())

    assert auth_server.logins == [(USER, PASSWORD)]
    assert len(auth_server.received) == 1


def test_a_wrong_password_is_deferred_not_a_bounce(auth_server: Inbox) -> None:
    """535 to AUTH is our configuration, not the message: deferred, so it goes out once fixed."""
    with pytest.raises(MailDeferred, match="SMTPAuthenticationError: 535") as caught:
        SmtpMailer(credentials_url(auth_server.port, password="wrong-Passw0rd")).send(invoice_email())

    assert "wrong-Passw0rd" not in str(caught.value)
    assert auth_server.received == []


def test_without_credentials_a_server_requiring_auth_defers(auth_server: Inbox) -> None:
    """530 (authentication required) to MAIL FROM asks for setup, not a bounce."""
    with pytest.raises(MailDeferred, match="530"):
        SmtpMailer(f"smtp://127.0.0.1:{auth_server.port}").send(invoice_email())


def test_credentials_are_never_in_logs_reprs_or_errors(
    auth_server: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The password appears nowhere kassa writes: not in the mailer's repr, not in its log
    records (a successful send), not in a refusal's message."""
    caplog.set_level(logging.DEBUG)
    mailer = SmtpMailer(credentials_url(auth_server.port))
    mailer.send(invoice_email())
    auth_server.data_reply = "554 5.7.1 spam"
    with pytest.raises(MailRejected) as caught:
        mailer.send(invoice_email())

    kassa_records = [r for r in caplog.records if r.name.startswith("kassa")]
    assert [r.getMessage() for r in kassa_records] == ["email accepted"]
    written = [repr(mailer), str(caught.value), *(repr(r.__dict__) for r in kassa_records)]
    for text in written:
        assert PASSWORD not in text and quote(PASSWORD, safe="") not in text
    assert repr(mailer) == f"SmtpMailer('smtp://{USER}:***@127.0.0.1:{auth_server.port}', timeout=10)"


# --- refusals and failures --------------------------------------------------------------------


def test_every_recipient_refused_permanently_is_a_bounce(server: Inbox) -> None:
    """550 to every RCPT: MailRejected with the code and the refused addresses; nothing delivered."""
    server.rcpt_replies = {a: "550 5.1.1 no such user" for a in ("zoe@customer.test", "ap@customer.test")}

    with pytest.raises(MailRejected) as caught:
        SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())

    assert caught.value.code == 550
    assert caught.value.recipients == ("zoe@customer.test", "ap@customer.test")
    assert "no such user" in str(caught.value)
    assert server.received == []


def test_a_refusal_of_the_content_is_a_bounce(server: Inbox) -> None:
    """550 to DATA: the message itself bounced, for all its recipients."""
    server.data_reply = "550 5.1.1 no such user"

    with pytest.raises(MailRejected) as caught:
        SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())

    assert (caught.value.code, caught.value.recipients) == (550, ("zoe@customer.test", "ap@customer.test"))


def test_a_message_too_big_for_the_server_is_a_bounce(server: Inbox) -> None:
    """552 to MAIL FROM (RFC 1870: exceeds the size limit) bounces; sending it again cannot help."""
    server.mail_reply = "552 5.3.4 message size exceeds fixed limit"

    with pytest.raises(MailRejected) as caught:
        SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())

    assert caught.value.code == 552


def test_a_sender_the_relay_does_not_allow_is_deferred(server: Inbox) -> None:
    """553 to MAIL FROM refuses our From setting, not the customer: deferred until it is fixed."""
    server.mail_reply = "553 5.7.1 sender address not owned by user"

    with pytest.raises(MailDeferred, match="553 5.7.1 sender address not owned by user"):
        SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())


@pytest.mark.parametrize("where", ["data", "rcpt"])
def test_451_try_later_is_deferred(server: Inbox, where: str) -> None:
    """A temporary 4xx, to the content or to every recipient, is deferred: retry later."""
    if where == "data":
        server.data_reply = "451 try later"
    else:
        server.rcpt_replies = {a: "451 try later" for a in ("zoe@customer.test", "ap@customer.test")}

    with pytest.raises(MailDeferred, match="451 try later"):
        SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())
    assert server.received == []


def test_recipients_refused_partly_for_now_partly_for_good_are_deferred(server: Inbox) -> None:
    """All refused, one of them only temporarily: a later try may reach that one, so not a bounce."""
    server.rcpt_replies = {"zoe@customer.test": "550 5.1.1 no such user", "ap@customer.test": "450 busy"}

    with pytest.raises(MailDeferred, match="450 busy"):
        SmtpMailer(f"smtp://127.0.0.1:{server.port}").send(invoice_email())


def test_a_closed_port_is_deferred() -> None:
    """Nothing listening: connection refused, deferred."""
    with pytest.raises(MailDeferred, match="ConnectionRefusedError"):
        SmtpMailer(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(invoice_email())


def test_a_server_that_never_greets_times_out_and_is_deferred() -> None:
    """The connection opens but no 220 comes within the timeout: deferred, after about the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nobody ever answers
        with pytest.raises(MailDeferred, match="timed out"):
            SmtpMailer(f"smtp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3).send(invoice_email())


def test_a_server_refusing_the_session_is_deferred() -> None:
    """A 554 greeting refuses us, not this message: deferred, with the server's words."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def greet_and_hang_up() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.sendall(b"554 5.7.1 no service for you\r\n")

        greeter = threading.Thread(target=greet_and_hang_up)
        greeter.start()
        with pytest.raises(MailDeferred, match="SMTPConnectError: 554 5.7.1 no service for you"):
            SmtpMailer(f"smtp://127.0.0.1:{listener.getsockname()[1]}", timeout=2).send(invoice_email())
        greeter.join()


def test_no_mailer_defers_every_email() -> None:
    """Without KASSA_SMTP_URL emails wait (deferred), they are not silently dropped."""
    with pytest.raises(MailDeferred, match=r"no SMTP server configured \(KASSA_SMTP_URL\)"):
        NoMailer().send(invoice_email())


# --- TLS --------------------------------------------------------------------------------------


@dataclass
class Certificate:
    server: ssl.SSLContext  # what the SMTP server presents
    trust: ssl.SSLContext  # a client context trusting only this certificate


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert, key = directory / "smtp.crt", directory / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        + ["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    trust = ssl.create_default_context()
    trust.load_verify_locations(cert)
    return Certificate(server=server, trust=trust)


def test_smtps_speaks_tls_from_the_first_byte(certificate: Certificate) -> None:
    """smtps:// connects with implicit TLS and verifies the server's certificate."""
    with smtp_server(ssl_context=certificate.server) as inbox:
        SmtpMailer(f"smtps://127.0.0.1:{inbox.port}", ssl_context=certificate.trust).send(invoice_email())
    assert len(inbox.received) == 1


def test_starttls_upgrades_before_logging_in(certificate: Certificate) -> None:
    """?starttls=true upgrades the connection; a server that only allows AUTH over TLS accepts us."""
    with smtp_server(login=True, tls_context=certificate.server, require_starttls=True) as inbox:
        url = credentials_url(inbox.port) + "?starttls=true"
        SmtpMailer(url, ssl_context=certificate.trust).send(invoice_email())
    assert inbox.logins == [(USER, PASSWORD)]
    assert len(inbox.received) == 1


def test_an_untrusted_certificate_is_deferred(certificate: Certificate) -> None:
    """The system trust store does not know our self-signed certificate: no send, deferred."""
    with smtp_server(ssl_context=certificate.server) as inbox:
        with pytest.raises(MailDeferred, match="CERTIFICATE_VERIFY_FAILED"):
            SmtpMailer(f"smtps://127.0.0.1:{inbox.port}").send(invoice_email())
    assert inbox.received == []


def test_starttls_required_but_not_offered_is_deferred(server: Inbox) -> None:
    """starttls=true never falls back to plain text: a server without STARTTLS is an error."""
    with pytest.raises(MailDeferred, match="STARTTLS extension not supported"):
        SmtpMailer(f"smtp://127.0.0.1:{server.port}?starttls=true").send(invoice_email())
    assert server.received == []


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://mail.acme.test",
            SmtpTarget(host="mail.acme.test", port=25, implicit_tls=False, starttls=False),
        ),
        (
            "smtp://u%40acme.test:pa%3Ass%40@mail.acme.test:587?starttls=true",
            SmtpTarget(
                host="mail.acme.test",
                port=587,
                implicit_tls=False,
                starttls=True,
                username="u@acme.test",
                password="pa:ss@",
            ),
        ),
        (
            "smtps://mail.acme.test",
            SmtpTarget(host="mail.acme.test", port=465, implicit_tls=True, starttls=False),
        ),
        (
            "SMTP://[::1]:2525/?starttls=false",
            SmtpTarget(host="::1", port=2525, implicit_tls=False, starttls=False),
        ),
    ],
)
def test_url_forms(url: str, expected: SmtpTarget) -> None:
    """Default ports 25 and 465, explicit ports, percent-decoded credentials, IPv6 literals; the
    password stays out of the parsed target's repr."""
    target = parse_smtp_url(url)
    assert target == expected
    assert "pa:ss@" not in repr(target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.acme.test", "the scheme is 'http'; use smtp:// or smtps://"),
        ("mail.acme.test", "the scheme is none; use smtp:// or smtps://"),
        ("smtp://:25", "no host"),
        ("smtp://mail.acme.test:99999", "the port is not a number from 1 to 65535"),
        ("smtp://mail.acme.test:twenty-five", "the port is not a number from 1 to 65535"),
        ("smtp://mail.acme.test/relay", "a path or #fragment means nothing here"),
        ("smtp://mail.acme.test?tls=1", "unknown option 'tls'; the only option is starttls=true|false"),
        ("smtp://mail.acme.test?starttls=yes", "starttls='yes'; use starttls=true or starttls=false"),
        ("smtps://mail.acme.test?starttls=true", "smtps:// is TLS already"),
        ("smtp://user@mail.acme.test", "credentials need both a user and a password"),
        ("smtp://user:@mail.acme.test", "credentials need both a user and a password"),
        ("smtp://user:w%C3%B6rd@mail.acme.test", "user and password must be printable ASCII"),
        ("smtp://user:a%00b@mail.acme.test", "user and password must be printable ASCII"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    """Each malformed URL fails at construction with a ValueError naming the problem."""
    with pytest.raises(ValueError) as caught:
        SmtpMailer(url)
    assert str(caught.value).startswith("SMTP URL: ")
    assert message in str(caught.value)


secrets = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30)


@given(user=secrets, password=secrets)
def test_any_percent_encoded_credentials_decode_exactly(user: str, password: str) -> None:
    """Whatever the characters, credentials encoded with quote(safe='') come back unchanged."""
    target = parse_smtp_url(f"smtp://{quote(user, safe='')}:{quote(password, safe='')}@mail.acme.test:587")
    assert (target.username, target.password) == (user, password)


@given(
    password=secrets.map(lambda text: "Secret-" + text),
    defect=st.sampled_from(["http://", "smtps://", "smtp://"]),
    tail=st.sampled_from([":0", ":70000", "/path", "?x=1", "?starttls=maybe", "?starttls=true"]),
)
def test_url_errors_never_repeat_the_password(password: str, defect: str, tail: str) -> None:
    """A URL with a password and a defect is refused without the password in the message."""
    url = f"{defect}user:{quote(password, safe='')}@mail.acme.test{tail}"
    try:
        parse_smtp_url(url)
    except ValueError as error:
        assert "Secret" not in str(error) and quote(password, safe="") not in str(error)
    else:
        assert defect == "smtp://" and tail == "?starttls=true"


# --- the message's own checks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"subject": "Invoice\r\nBcc: everyone@evil.test"}, "subject must not contain line breaks"),
        ({"to": ()}, "at least one recipient"),
        ({"to": ("not an address",)}, "recipient 'not an address' is not an email address"),
        ({"sender": "billing"}, "sender 'billing' is not an email address"),
        ({"message_id": "evt_01HX42"}, "is not of the form <id@domain>"),
        ({"headers": {"Bcc": "everyone@evil.test"}}, "comes from the email's own fields"),
        ({"headers": {"X-Tag": "a\nb"}}, "header 'X-Tag' must not contain line breaks"),
        ({"headers": {"X Tag": "a"}}, "printable ASCII without a colon"),
    ],
)
def test_an_email_that_would_inject_or_mislead_is_refused(changes: dict[str, Any], message: str) -> None:
    """Line breaks (header injection), reserved headers, and malformed addresses or ids fail early."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        invoice_email(**changes)


def test_recipients_must_be_a_tuple_not_a_string() -> None:
    """A bare string would be read letter by letter as recipients."""
    with pytest.raises(TypeError):
        invoice_email(to="zoe@customer.test")


@pytest.mark.parametrize(
    "content_type", ["pdf", "application/pdf; name=x.pdf", "multipart/mixed", "message/rfc822"]
)
def test_an_attachment_needs_a_plain_file_type(content_type: str) -> None:
    """type/subtype only: parameters, multipart and message parts are not attachments."""
    with pytest.raises(ValueError):
        Attachment(filename="x.pdf", content_type=content_type, content=b"")


# --- settings ---------------------------------------------------------------------------------


def test_mail_settings_from_the_environment() -> None:
    """KASSA_SMTP_URL (empty means unset) and KASSA_MAIL_FROM, with their defaults."""
    assert (config.load({}).smtp_url, config.load({}).mail_from) == (None, "billing@localhost")
    loaded = config.load(
        {"KASSA_SMTP_URL": "smtps://mail.acme.test", "KASSA_MAIL_FROM": "Acme <b@acme.test>"}
    )
    assert (loaded.smtp_url, loaded.mail_from) == ("smtps://mail.acme.test", "Acme <b@acme.test>")
    assert config.load({"KASSA_SMTP_URL": ""}).smtp_url is None
    with pytest.raises(DomainError) as caught:
        config.load({"KASSA_MAIL_FROM": "billing"})
    assert (caught.value.code, caught.value.field) == ("invalid_setting", "KASSA_MAIL_FROM")
