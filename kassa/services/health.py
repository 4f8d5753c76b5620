"""Readiness: the database answers and its schema is at the migrations' head."""

from __future__ import annotations

from kassa.services.context import ServiceContext
from kassa.store import migrate


def readiness(ctx: ServiceContext) -> dict[str, str]:
    """Problems by component; empty when ready."""
    problems: dict[str, str] = {}
    try:
        current = migrate.current(ctx.engine)
    except Exception as error:  # any failure to reach the database means not ready
        return {"database": f"unreachable: {type(error).__name__}"}
    if current != migrate.head():
        problems["schema"] = f"at {current}, expected {migrate.head()}: run `kassa db upgrade`"
    return problems


def upgrade_database(ctx: ServiceContext) -> str:
    migrate.upgrade(ctx.engine)
    return migrate.head()
