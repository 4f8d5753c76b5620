"""Imported exchange rates."""

from __future__ import annotations

import sqlalchemy as sa


class ExchangeRates:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
