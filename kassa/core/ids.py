"""Object ids: a type prefix and 26 Crockford base32 characters (48-bit milliseconds + 80 random bits).

They sort by creation time, which is what cursor pagination walks; the caller supplies the time and the
random bytes so this stays pure.
"""

from __future__ import annotations

import re

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PATTERN = re.compile(r"^[a-z]{2,6}_[0-9A-HJKMNP-TV-Z]{26}$")


def encode_id(prefix: str, millis: int, random_bytes: bytes) -> str:
    if len(random_bytes) != 10:
        raise ValueError("an id needs exactly 10 random bytes")
    if not 0 <= millis < 1 << 48:
        raise ValueError("millis out of range")
    value = (millis << 80) | int.from_bytes(random_bytes, "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
