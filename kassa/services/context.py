"""What every use case receives: the unit of work factory, the clock, and the adapter ports.

bootstrap.py fills it; tests fill it with the same real adapters on a test database.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from kassa.adapters.tax_ids.base import TaxIdValidator
from kassa.adapters.webhooks.base import WebhookSender
from kassa.config import Settings
from kassa.core.clock import Clock
from kassa.core.ids import encode_id
from kassa.store.uow import UnitOfWork


@dataclass(slots=True, kw_only=True)
class ServiceContext:
    engine: Engine
    clock: Clock
    tax_ids: TaxIdValidator
    webhooks: WebhookSender
    settings: Settings
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, read_only=read_only)

    def new_id(self, prefix: str) -> str:
        millis = int(self.clock.now().timestamp() * 1000)
        return encode_id(prefix, millis, self.random_bytes(10))
