"""Time and money spent serving customers."""

from __future__ import annotations

import sqlalchemy as sa


class CostEntries:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
