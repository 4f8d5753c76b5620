"""Writes guarded by a unique constraint."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kassa.core.errors import DomainError


def execute_unique(conn: sa.Connection, statement: sa.Executable, column: str, conflict: DomainError) -> Any:
    """Run a write whose unique `column` a concurrent writer may have taken since the caller checked it:
    that race is the caller's conflict (a 409), not a 500. Other integrity errors pass through."""
    try:
        with conn.begin_nested():
            return conn.execute(statement)
    except IntegrityError as error:
        if column in str(error.orig):
            raise conflict from None
        raise
