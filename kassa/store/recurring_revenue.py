"""MRR and the figures built on it, summed in SQL over revenue schedules."""

from __future__ import annotations

import sqlalchemy as sa


class RecurringRevenue:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
