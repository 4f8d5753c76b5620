"""Free-form metadata an integrator attaches to objects: flat string pairs, bounded so it stays metadata."""

from __future__ import annotations

import json
from typing import Any

from kassa.core.errors import DomainError

MAX_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500
MAX_BYTES = 8192


def metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    if not isinstance(value, dict):
        raise DomainError(
            "invalid_metadata", "metadata is an object of string keys and string values.", field
        )
    if len(value) > MAX_KEYS:
        raise DomainError("metadata_too_large", f"metadata holds at most {MAX_KEYS} keys.", field)
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise DomainError(
                "invalid_metadata", f"Keys are 1 to {MAX_KEY_LENGTH} characters.", f"{field}.{key}"
            )
        if not isinstance(item, str) or len(item) > MAX_VALUE_LENGTH:
            raise DomainError(
                "invalid_metadata",
                f"Values are strings of at most {MAX_VALUE_LENGTH} characters.",
                f"{field}.{key}",
            )
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_BYTES:
        raise DomainError("metadata_too_large", f"metadata is at most {MAX_BYTES} bytes as JSON.", field)
    return dict(value)
