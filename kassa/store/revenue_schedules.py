"""Revenue schedules: what each document line recognizes, month by month."""

from __future__ import annotations

import sqlalchemy as sa


class RevenueSchedules:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
