"""The mail port: hand one message to an SMTP server, or say whether to try again or give up.

A `Mailer` either returns (the server took the message), raises `MailDeferred` (nothing was
delivered, the same message may be sent again later) or raises `MailRejected` (a bounce: sending
it again will fail again). Callers retry on the first and record a bounce on the second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Protocol

# token "/" token, no parameters: the adapter picks encodings and the filename is its own field.
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")
# A msg-id per RFC 5322 section 3.6.4, without spaces or nested brackets.
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
# Printable ASCII except the colon (RFC 5322 section 2.2 field names).
_HEADER_NAME = re.compile(r"[!-9;-~]+")
# Headers the adapter writes from the message's own fields; a second copy would contradict them.
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "subject",
        "message-id",
        "reply-to",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)


def _no_line_breaks(value: str, what: str) -> None:
    # A line break in a header value would let the text start headers (or a body) of its own.
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must not contain line breaks")


def envelope_address(text: str, what: str) -> str:
    """The bare address in `text` ("Zoë <zoe@example.com>" -> "zoe@example.com"), for the SMTP envelope."""
    _no_line_breaks(text, what)
    address = parseaddr(text)[1]
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError(f"{what} {text!r} is not an email address")
    return address


def message_id_domain(sender: str) -> str:
    """The domain of a Message-ID from the sender ("Acme <billing@acme.example>" -> "acme.example"), or
    "localhost" when the sender has none usable: the id must stay <id@domain> whatever the From looks like."""
    domain = parseaddr(sender)[1].rpartition("@")[2].strip()
    return domain if domain and not re.search(r"[<>@\s]", domain) else "localhost"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    filename: str  # as the recipient sees it; non-ASCII is fine (RFC 2231 encoded)
    content_type: str  # "application/pdf"
    content: bytes

    def __post_init__(self) -> None:
        if not self.filename.strip():
            raise ValueError("an attachment needs a filename")
        _no_line_breaks(self.filename, "an attachment's filename")
        if not _CONTENT_TYPE.fullmatch(self.content_type):
            raise ValueError(
                f"content_type {self.content_type!r} is not of the form type/subtype (no parameters)"
            )
        if self.content_type.split("/")[0].lower() in ("multipart", "message"):
            raise ValueError("an attachment must be a file, not a multipart or message part")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingEmail:
    sender: str  # "Acme Billing <billing@acme.example>" or a bare address; also the envelope sender
    to: tuple[str, ...]
    subject: str
    text: str  # always sent: the plain alternative, and all some clients show
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # "<id@domain>": derived from the outbox event, so a message sent twice after a lost answer
    # carries the same id and receivers can drop the copy.
    message_id: str
    reply_to: str | None = None
    # Further headers, e.g. "Date" from the service's clock or "Auto-Submitted"; not the ones in
    # RESERVED_HEADERS, which come from the fields above.
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        envelope_address(self.sender, "sender")
        if isinstance(self.to, str):
            raise TypeError("to is a tuple of addresses, not one string")
        if not self.to:
            raise ValueError("an email needs at least one recipient")
        for recipient in self.to:
            envelope_address(recipient, "recipient")
        if self.reply_to is not None:
            envelope_address(self.reply_to, "reply_to")
        _no_line_breaks(self.subject, "subject")
        if not _MESSAGE_ID.fullmatch(self.message_id):
            raise ValueError(f"message_id {self.message_id!r} is not of the form <id@domain>")
        for name, value in self.headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not printable ASCII without a colon")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} comes from the email's own fields, not from headers")
            _no_line_breaks(value, f"header {name!r}")

    @property
    def envelope_sender(self) -> str:
        return envelope_address(self.sender, "sender")

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        return tuple(envelope_address(recipient, "recipient") for recipient in self.to)


class MailDeferred(Exception):
    """Not delivered for now: no server, connection refused or timed out, a 4xx answer, or a
    problem on our side of the session (TLS, login). Nothing was accepted; send it again later."""


class MailRejected(Exception):
    """A permanent (5xx) refusal of this message: a bounce. Sending it again will not help."""

    def __init__(self, message: str, *, code: int, recipients: tuple[str, ...]) -> None:
        super().__init__(message)
        self.code = code  # the SMTP reply code, e.g. 550
        self.recipients = recipients  # envelope addresses that will not get the message


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str:
        """Deliver `email` to the server; the server's reply to the message (its queue id, and any
        recipients it refused while accepting the others). Raises MailDeferred or MailRejected."""
        ...


class NoMailer:
    """What bootstrap wires when KASSA_SMTP_URL is unset: every send is deferred, never dropped,
    so invoice emails wait in the outbox until an SMTP server is configured."""

    def send(self, email: OutgoingEmail) -> str:
        raise MailDeferred("no SMTP server configured (KASSA_SMTP_URL)")
