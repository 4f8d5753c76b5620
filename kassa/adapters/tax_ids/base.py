"""Port for validating customers' tax ids and bank details (IBAN, BIC).

Implementations normalize what they accept and raise `kassa.core.errors.DomainError` with a
stable code (`unknown_tax_id_type`, `invalid_tax_id`, `invalid_iban`, `invalid_bic`) and the
caller-given field path for what they refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from kassa.core.tax_ids import TaxId

__all__ = ["TaxId", "TaxIdValidator"]


class TaxIdValidator(Protocol):
    def validate_tax_id(self, type: str, value: str, *, field: str) -> TaxId:
        """The normalized tax id; DomainError `unknown_tax_id_type` or `invalid_tax_id` otherwise."""
        ...

    def validate_iban(self, value: str, *, field: str) -> str:
        """The IBAN compact and uppercase; DomainError `invalid_iban` otherwise."""
        ...

    def validate_bic(self, value: str, *, field: str) -> str:
        """The BIC compact and uppercase; DomainError `invalid_bic` otherwise."""
        ...

    def supported_types(self) -> Mapping[str, str]:
        """Tax id type -> human description, in a stable order."""
        ...
