"""A bill run started by hand (the console's "Bill runs & imports" page): the tenant's bill dates that have
come, billed now instead of waiting for the worker's next poll.

A bill run is due work (services.invoicing): each paying customer's bill date is a `billing.bill` job. A run
by hand claims this tenant's due bill jobs on the system clock (customers on a test clock are billed by
their clock's advance) and runs each in its own transaction exactly as the worker would, reporting after
each one. The claim leases the jobs so a worker polling meanwhile passes them by; should the lease run out
on a very long run, a worker taking a job as well finds it done when it gets the row lock (run_job), so no
customer is billed twice. A failed job is counted and retried with the worker's back-off, as any job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from kassa.core.audit import Actor
from kassa.core.money import Money
from kassa.services import jobs
from kassa.services.context import ServiceContext
from kassa.services.invoicing import BILL_JOB

MAX_RUN = 10_000  # bill jobs claimed by one run; a run that meets more says so, and the next takes the rest


@dataclass(frozen=True, slots=True, kw_only=True)
class Billed:
    """One invoice a run composed or recomposed: a draft until the tenant's grace period has passed."""

    invoice_id: str
    customer_id: str
    bill_date: date
    status: str
    total: Money


@dataclass(slots=True, kw_only=True)
class BillRun:
    """What a run has done so far; the progress callback sees it after each customer."""

    total: int = 0  # due bill jobs claimed
    done: int = 0  # of those, run (successfully or not)
    failed: int = 0
    nothing_new: int = 0  # customers whose bill date had nothing (more) to invoice
    more_due: bool = False  # MAX_RUN was reached: start another run
    invoices: list[Billed] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (customer id, error)


def run_due_bills(ctx: ServiceContext, actor: Actor, progress: Callable[[BillRun], None]) -> BillRun:
    """Bill every customer of the tenant whose bill date has come (on the system clock), now."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        claimed = uow.jobs.claim_due_for(actor.tenant_id, BILL_JOB, now, MAX_RUN + 1, now + jobs.CLAIM)
        uow.commit()
    run = BillRun(total=min(len(claimed), MAX_RUN), more_due=len(claimed) > MAX_RUN)
    claimed = claimed[
        :MAX_RUN
    ]  # the one over the limit stays leased a while, then the worker or a run takes it
    progress(run)
    for job in claimed:
        customer_id = str(job.payload["customer_id"])
        error = jobs.run_job(ctx, job, now)
        if error is not None:
            jobs.record_failure(ctx, job, error, now)
            run.failed += 1
            run.errors.append((customer_id, error))
        else:
            bill_date = date.fromisoformat(job.payload["bill_date"])
            with ctx.uow(read_only=True) as uow:
                invoice = uow.invoices.for_bill_date(actor.tenant_id, customer_id, bill_date)
            if invoice is None or invoice.finalized:  # a run composes drafts; a finalized one is older
                run.nothing_new += 1
            else:
                run.invoices.append(Billed(invoice_id=invoice.id, customer_id=invoice.customer_id,
                                           bill_date=bill_date, status=invoice.status.value, total=invoice.total))  # fmt: skip
        run.done += 1
        progress(run)
    return run
