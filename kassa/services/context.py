"""What every use case receives: the unit of work factory, the clock, and the adapter ports.

bootstrap.py fills it; tests fill it with the same real adapters on a test database.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from kassa.adapters.bank_files.base import BankFileReader
from kassa.adapters.mail.base import Mailer, NoMailer
from kassa.adapters.payments.base import Gateway
from kassa.adapters.presentment.base import Documents
from kassa.adapters.sepa.base import SepaFiles
from kassa.adapters.tax_ids.base import TaxIdValidator
from kassa.adapters.webhooks.base import WebhookSender
from kassa.config import Settings
from kassa.core.clock import Clock
from kassa.core.ids import encode_id
from kassa.store.uow import UnitOfWork

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True, kw_only=True)
class ServiceContext:
    engine: Engine
    clock: Clock
    tax_ids: TaxIdValidator
    webhooks: WebhookSender
    settings: Settings
    documents: Documents  # invoice HTML and PDF
    mailer: Mailer = field(default_factory=NoMailer)  # invoices wait (retried) until SMTP is configured
    gateways: Mapping[str, Gateway] = field(default_factory=dict)  # by name: "sandbox", "stripe"
    bank_files: BankFileReader | None = None  # statement files (CAMT.053, MT940, OFX, CSV)
    sepa: SepaFiles | None = None  # pain.008 out, pain.002 / camt.054 returns in
    random_bytes: Callable[[int], bytes] = field(default=secrets.token_bytes)

    def uow(self, *, read_only: bool = False) -> UnitOfWork:
        return UnitOfWork(self.engine, read_only=read_only)

    _last_id: tuple[int, int] = (0, 0)
    _id_lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self, prefix: str) -> str:
        """Ids sort by creation: within one millisecond the random part counts up from the last id, so
        a create and the update after it stay in order (monotonic, as ULIDs do it)."""
        millis = (self.clock.now() - EPOCH) // timedelta(milliseconds=1)
        with self._id_lock:
            last_millis, last_random = self._last_id
            if millis <= last_millis:
                millis, value = last_millis, last_random + 1
            else:
                value = int.from_bytes(self.random_bytes(10), "big") >> 1  # headroom to count up
            self._last_id = (millis, value)
        return encode_id(prefix, millis, value.to_bytes(10, "big"))
