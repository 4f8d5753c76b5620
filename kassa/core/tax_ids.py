"""A party's tax registration: the type (eu_vat, gb_vat, us_ein…), the normalized number, its country.

Checksums are verified by the tax id adapter (python-stdnum); core only carries the checked value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class TaxId:
    type: str
    value: str
    country: str

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "value": self.value, "country": self.country}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaxId:
        return cls(type=data["type"], value=data["value"], country=data["country"])
