"""Notes staff keep on a customer (the console's customer 360): who wrote what, when. Notes are internal:
the customer never sees them, and they are never edited (a correction is a newer note)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kassa.core.audit import ActorType
from kassa.core.errors import DomainError

MAX_NOTE_LENGTH = 4000


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerNote:
    tenant_id: str
    id: str
    customer_id: str
    author_type: ActorType
    author_id: str
    body: str
    created_at: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "author_type": self.author_type.value,
            "author_id": self.author_id,
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }


def note_body(value: object) -> str:
    """The note's text, stripped: 1 to 4000 characters."""
    if not isinstance(value, str) or not value.strip():
        raise DomainError("invalid_note", "Write the note first: it cannot be empty.", "body")
    text = value.strip()
    if len(text) > MAX_NOTE_LENGTH:
        raise DomainError(
            "invalid_note", f"A note has at most {MAX_NOTE_LENGTH} characters ({len(text)} given).", "body"
        )
    return text
