"""Closed accounting months."""

from __future__ import annotations

import sqlalchemy as sa


class AccountingPeriods:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
