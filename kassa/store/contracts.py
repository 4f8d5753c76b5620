"""What subscriptions commit customers to, and the bookings that come of it."""

from __future__ import annotations

import sqlalchemy as sa


class Contracts:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
