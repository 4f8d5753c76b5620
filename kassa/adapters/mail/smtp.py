"""SmtpMailer: one SMTP session per message with smtplib, the message built by email.message.EmailMessage."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from kassa.adapters.mail.base import MailDeferred, MailRejected, OutgoingEmail

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_BOOLEANS = {"true": True, "false": False}
_PRINTABLE_ASCII = re.compile(r"[ -~]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class SmtpTarget:
    """Where and how to connect, parsed from an smtp:// or smtps:// URL."""

    host: str
    port: int
    implicit_tls: bool  # smtps://: TLS from the first byte
    starttls: bool  # smtp://...?starttls=true: upgrade before logging in, or fail
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def redacted(self) -> str:
        """The URL without the password, for logs and reprs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{user}{host}:{self.port}{query}"


def parse_smtp_url(url: str) -> SmtpTarget:
    """`smtp://host:25`, `smtp://user:pass@host:587?starttls=true` or `smtps://host:465`.

    Credentials are percent-decoded (write `@` as %40, `:` as %3A). A ValueError says what is wrong
    without repeating the URL, which may hold a password.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        shown = f"{parts.scheme!r}" if parts.scheme else "none"
        raise ValueError(f"SMTP URL: the scheme is {shown}; use smtp:// or smtps://")
    host = parts.hostname
    if not host:
        raise ValueError("SMTP URL: no host (smtp://host:port)")
    try:
        port = _DEFAULT_PORTS[scheme] if parts.port is None else parts.port
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError("SMTP URL: the port is not a number from 1 to 65535")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("SMTP URL: a path or #fragment means nothing here; use smtp://host:port")
    starttls = False
    for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name != "starttls":
            raise ValueError(f"SMTP URL: unknown option {name!r}; the only option is starttls=true|false")
        if value.lower() not in _BOOLEANS:
            raise ValueError(f"SMTP URL: starttls={value!r}; use starttls=true or starttls=false")
        starttls = _BOOLEANS[value.lower()]
    if starttls and scheme == "smtps":
        raise ValueError("SMTP URL: smtps:// is TLS already; starttls=true is for smtp://")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None) or username == "" or password == "":
        raise ValueError("SMTP URL: credentials need both a user and a password (smtp://user:pass@host)")
    # smtplib encodes AUTH as ASCII; anything else would fail at the first send, not here.
    if not all(_PRINTABLE_ASCII.fullmatch(text) for text in (username or "", password or "")):
        raise ValueError("SMTP URL: user and password must be printable ASCII (percent-encoded in the URL)")
    return SmtpTarget(
        host=host,
        port=port,
        implicit_tls=scheme == "smtps",
        starttls=starttls,
        username=username,
        password=password,
    )


class _Session(smtplib.SMTP):
    """Keeps the server's answer to DATA, which sendmail() drops: it is the one naming the queue id."""

    data_reply: tuple[int, bytes] | None = None

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        reply = super().data(msg)
        self.data_reply = reply
        return reply


class _TlsSession(_Session, smtplib.SMTP_SSL):
    pass


def build_message(email: OutgoingEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = email.sender
    message["To"] = ", ".join(email.to)
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    if email.reply_to is not None:
        message["Reply-To"] = email.reply_to
    for name, value in email.headers.items():
        message[name] = value
    if "Date" not in message:
        # RFC 5322 requires a Date and spam filters score its absence. Services pass theirs from
        # the clock in `headers`; without one this is when the message entered the mail system.
        message["Date"] = formatdate(usegmt=True)
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    for attachment in email.attachments:
        maintype, subtype = attachment.content_type.split("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply


class SmtpMailer:
    """A `Mailer` for one SMTP server; a new connection per message, closed after it.

    A 5xx answer to the message itself (all its recipients, its content, its size) is a bounce:
    MailRejected. A 5xx to the session (greeting, EHLO, STARTTLS, AUTH) or to our sender address
    says nothing about the message, only that our setup is wrong (bad password, no TLS offered,
    a From the relay does not allow): MailDeferred, so the message goes out once the operator has
    fixed the setting instead of every invoice email bouncing.
    """

    def __init__(self, url: str, timeout: float = 10, *, ssl_context: ssl.SSLContext | None = None) -> None:
        """`ssl_context` replaces the system trust store, e.g. with a private CA in tests."""
        if not timeout > 0:
            raise ValueError("the SMTP timeout must be positive")
        self._target = parse_smtp_url(url)
        self._timeout = timeout
        self._ssl_context = ssl_context if ssl_context is not None else ssl.create_default_context()

    def __repr__(self) -> str:
        return f"SmtpMailer({self._target.redacted()!r}, timeout={self._timeout})"

    def send(self, email: OutgoingEmail) -> str:
        message = build_message(email)
        recipients = tuple(dict.fromkeys(email.envelope_recipients))  # RCPT each address once
        target = self._target
        try:
            session = self._open()
        except (smtplib.SMTPException, OSError) as exc:
            raise MailDeferred(f"{target.redacted()}: {_describe(exc)}") from exc
        accepted = False
        try:
            if target.starttls:
                session.starttls(context=self._ssl_context)
            if target.username is not None and target.password is not None:
                session.login(target.username, target.password)
            refused = session.send_message(message, email.envelope_sender, list(recipients))
            accepted = True
        except smtplib.SMTPRecipientsRefused as exc:
            answers = {address: (code, _text(text)) for address, (code, text) in exc.recipients.items()}
            detail = "; ".join(f"{address}: {code} {text}" for address, (code, text) in answers.items())
            # smtplib raises this when every recipient was refused, or at a 421 (server closing),
            # which leaves the rest unasked: only all-permanent answers make a bounce.
            if all(500 <= code < 600 for code, _ in answers.values()) and len(answers) == len(recipients):
                first = next(iter(answers.values()))[0]
                raise MailRejected(
                    f"every recipient refused: {detail}", code=first, recipients=tuple(answers)
                ) from exc
            raise MailDeferred(f"recipients not accepted for now: {detail}") from exc
        except smtplib.SMTPSenderRefused as exc:
            reason = f"sender {exc.sender} refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            # A refused MAIL FROM is nearly always about us (530 log in first, 550/553 not your
            # address), fixed by the operator; only 552, too big (RFC 1870 SIZE), is this message's.
            if exc.smtp_code == 552:
                raise MailRejected(reason, code=552, recipients=recipients) from exc
            raise MailDeferred(reason) from exc
        except smtplib.SMTPDataError as exc:
            reason = f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            if 500 <= exc.smtp_code < 600:
                raise MailRejected(reason, code=exc.smtp_code, recipients=recipients) from exc
            raise MailDeferred(reason) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Session trouble (login, TLS, a dropped connection, a timeout): nothing was accepted.
            raise MailDeferred(f"{target.redacted()}: {_describe(exc)}") from exc
        finally:
            # After a 250 to DATA the message is the server's: a failing QUIT must not make us
            # report, and then resend, a message that was delivered.
            _close(session, polite=accepted)
        code, text = session.data_reply or (250, b"")
        reply = f"{code} {_text(text)}".strip()
        if refused:
            reply += "; refused: " + "; ".join(
                f"{address} ({code} {_text(text)})" for address, (code, text) in refused.items()
            )
        log.info(
            "email accepted",
            extra={"message_id": email.message_id, "smtp_server": target.redacted(), "smtp_reply": reply},
        )
        return reply

    def _open(self) -> _Session:
        target = self._target
        # The constructor connects and reads the greeting; a non-220 greeting is SMTPConnectError.
        if target.implicit_tls:
            return _TlsSession(target.host, target.port, timeout=self._timeout, context=self._ssl_context)
        return _Session(target.host, target.port, timeout=self._timeout)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _close(session: smtplib.SMTP, *, polite: bool) -> None:
    try:
        if polite:
            session.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        session.close()
