"""Domain errors: one stable code, a human message and the path of the offending field."""

from __future__ import annotations


class DomainError(Exception):
    """Bad input or a refused operation. Nothing was written.

    `code` is stable (clients branch on it); `field` is a dotted path into the request
    (`address.country`, `tax_ids.0.value`) or None when the error is not about one field.
    `status` is the HTTP status the API answers with.
    """

    status = 422

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, field={self.field!r})"


class NotFound(DomainError):
    status = 404

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"{kind}_not_found", f"No {kind.replace('_', ' ')} {object_id!r}.", None)


class Conflict(DomainError):
    status = 409


def prefixed(error: DomainError, prefix: str) -> DomainError:
    """The same error with its field path placed under `prefix` (validation of nested documents)."""
    error.field = f"{prefix}.{error.field}" if error.field else prefix
    return error


class Forbidden(DomainError):
    """The caller is known but its role may not do this."""

    status = 403
