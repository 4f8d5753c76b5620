"""Cursor pagination over id-ordered rows, newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from kassa.core.pages import Page

T = TypeVar("T")


def page(
    conn: sa.Connection,
    query: sa.Select[Any],
    id_column: sa.ColumnElement[str],
    *,
    limit: int,
    cursor: str | None,
    to_item: Callable[[sa.Row[Any]], T],
) -> Page[T]:
    if cursor is not None:
        query = query.where(id_column < cursor)
    rows = conn.execute(query.order_by(id_column.desc()).limit(limit + 1)).all()
    items = [to_item(row) for row in rows[:limit]]
    has_more = len(rows) > limit
    return Page(
        items=items, has_more=has_more, next_cursor=rows[limit - 1]._mapping[id_column] if has_more else None
    )
