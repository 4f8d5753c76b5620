"""The worker loop: due jobs on the system clock, webhook deliveries, advances left running, and the
expiry of idempotency keys. Several workers may run against PostgreSQL; on SQLite run one."""

from __future__ import annotations

import logging
import threading

from kassa.services import idempotency, jobs, test_clocks, webhooks
from kassa.services.context import ServiceContext

log = logging.getLogger("kassa.worker")


def run_once(ctx: ServiceContext) -> int:
    """One pass over all due work; how many items were handled."""
    done = jobs.run_due_jobs(ctx)
    done += webhooks.deliver_due(ctx)
    done += test_clocks.resume_advances(ctx)
    return done


def run(ctx: ServiceContext, stop: threading.Event, *, purge_every: int = 600) -> None:
    log.info("worker started", extra={"poll_seconds": ctx.settings.worker_poll_seconds})
    passes = 0
    while not stop.is_set():
        try:
            busy = run_once(ctx)
            if passes % purge_every == 0:
                idempotency.purge_expired(ctx)
        except Exception:  # keep serving the other tenants; the failure is logged with its traceback
            log.exception("worker pass failed")
            busy = 0
        passes += 1
        if not busy:
            stop.wait(ctx.settings.worker_poll_seconds)
    log.info("worker stopped")
