"""Bill runs and usage imports started from the console, with their progress while they run.

The work runs in a background thread of this server process and reports into an in-memory registry keyed by
a run id; the page polls a progress fragment every second (htmx) until the run has finished. In memory, not
a table: the durable record of what a run did is already written by the work itself, per step and in its
own transaction (a bill job marked done or failed with its invoice; usage events stored exactly once per
id), so the registry only holds the counters for the person watching. A restart loses the counters, not
the work: jobs a stopped run had claimed are offered to the worker again when their lease ends, and an
upload sent again stores only what is missing. A server with several processes would need a sticky session
(or the counters in a table) for the poll to reach the process running the work; `kassa serve` runs one.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.access import Permission
from kassa.core.audit import Actor
from kassa.core.errors import DomainError, NotFound
from kassa.services import bill_runs, console_billing, usage_uploads
from kassa.services.context import ServiceContext
from kassa.web.console.auth import Staff, allowed, context, viewer
from kassa.web.templating import render

log = logging.getLogger(__name__)
router = APIRouter()

Viewer = Annotated[Staff, Depends(viewer)]
Biller = Annotated[Staff, Depends(allowed(Permission.BILLING))]

KEPT = 100  # finished runs remembered per process (the oldest forgotten first)
MAX_USAGE_FILE = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """A run as last reported: `done` of `total` steps (customers billed, usage records read)."""

    id: str
    tenant_id: str
    kind: str  # bill_run or usage_import
    title: str
    started_by: str
    started_at: datetime
    total: int | None = None  # None: not counted yet
    done: int = 0
    finished_at: datetime | None = None
    error: str | None = None  # the run stopped on this (what it did before stays done)
    result: Any = None  # bill_runs.BillRun or metering.Imported, as of the last report

    @property
    def running(self) -> bool:
        return self.finished_at is None

    @property
    def percent(self) -> int:
        if not self.total:
            return 0 if self.running else 100
        return min(100, self.done * 100 // self.total)


@dataclass
class Registry:
    """This process's runs by id. Reports come from the worker threads, reads from request threads: every
    change replaces the frozen Run under the lock, so a page never sees half an update."""

    runs: dict[str, Run] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, run: Run) -> None:
        with self.lock:
            self.runs[run.id] = run
            finished = [r for r in self.runs.values() if not r.running]
            for old in sorted(finished, key=lambda r: r.started_at)[: max(0, len(finished) - KEPT)]:
                del self.runs[old.id]

    def update(self, run_id: str, **changes: Any) -> None:
        with self.lock:
            self.runs[run_id] = replace(self.runs[run_id], **changes)

    def get(self, tenant_id: str, run_id: str) -> Run:
        with self.lock:
            run = self.runs.get(run_id)
        if run is None or run.tenant_id != tenant_id:  # another tenant's run does not exist for this one
            raise NotFound("run", run_id)
        return run

    def of_tenant(self, tenant_id: str) -> list[Run]:
        with self.lock:
            found = [r for r in self.runs.values() if r.tenant_id == tenant_id]
        return sorted(found, key=lambda r: (r.started_at, r.id), reverse=True)


REGISTRY = Registry()


def _start(ctx: ServiceContext, run: Run, work: Callable[[], Any]) -> None:
    """Run `work` in a thread; its result or error finishes the run."""
    REGISTRY.add(run)

    def target() -> None:
        try:
            result = work()
        except DomainError as refused:
            REGISTRY.update(run.id, error=refused.message, finished_at=ctx.clock.now())
        except Exception:  # the thread must always finish the run, or the page would poll forever
            log.exception("console run failed", extra={"run_id": run.id, "kind": run.kind})
            REGISTRY.update(run.id, error="Something went wrong on our side; the steps done before it stay done.",
                            finished_at=ctx.clock.now())  # fmt: skip
        else:
            REGISTRY.update(run.id, result=result, finished_at=ctx.clock.now())

    threading.Thread(target=target, name=f"console-{run.id}", daemon=True).start()


def _bill(ctx: ServiceContext, actor: Actor, run_id: str) -> bill_runs.BillRun:
    def report(state: bill_runs.BillRun) -> None:
        # a copy: the service keeps adding to its lists while the page renders this one
        snapshot = replace(state, invoices=list(state.invoices), errors=list(state.errors))
        REGISTRY.update(run_id, total=state.total, done=state.done, result=snapshot)

    return bill_runs.run_due_bills(ctx, actor, report)


def _usage(ctx: ServiceContext, actor: Actor, run_id: str, handle: IO[bytes], kind: str) -> Any:
    def report(state: Any) -> None:
        snapshot = replace(state, errors=list(state.errors))
        REGISTRY.update(run_id, done=state.accepted + state.duplicates + state.rejected, result=snapshot)

    with handle:
        return usage_uploads.import_usage_file(ctx, actor, handle, kind, report)


def _new_run(ctx: ServiceContext, staff: Staff, kind: str, title: str, total: int | None = None) -> Run:
    return Run(id=ctx.new_id("run"), tenant_id=staff.actor.tenant_id, kind=kind, title=title,
               started_by=staff.user.name, started_at=ctx.clock.now(), total=total)  # fmt: skip


def _runs_page(
    request: Request, staff: Staff, *, status_code: int = 200, usage_error: str | None = None
) -> HTMLResponse:
    return render(request, "console/runs.html", status_code=status_code, runs=REGISTRY.of_tenant(staff.actor.tenant_id),
                  usage_error=usage_error, kinds=usage_uploads.KINDS)  # fmt: skip


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, staff: Viewer) -> HTMLResponse:
    return _runs_page(request, staff)


@router.post("/runs/bill")
def start_bill_run(request: Request, staff: Biller) -> Response:
    """Bill every customer whose bill date has come, now; the run's page shows it going."""
    ctx = context(request)
    run = _new_run(ctx, staff, "bill_run", "Bill run")
    _start(ctx, run, lambda: _bill(ctx, staff.actor, run.id))
    return RedirectResponse(f"/console/runs/{run.id}", status_code=303)


@router.post("/runs/usage")
async def start_usage_import(request: Request, staff: Biller, file: Annotated[UploadFile, File()],
                             file_format: Annotated[str, Form(alias="format")] = "") -> Response:  # fmt: skip
    """Import a usage event file (NDJSON or CSV). The file is checked and counted first (an error is shown
    next to the form), then stored in batches in the background."""
    ctx = context(request)
    # The upload's own temporary file is closed when this request ends; the run reads its own copy.
    handle: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the run, or below on refusal)
    try:
        await run_in_threadpool(shutil.copyfileobj, file.file, handle)
        if handle.tell() == 0:
            raise DomainError("empty_file", "Choose a usage file to upload.", "file")
        if handle.tell() > MAX_USAGE_FILE:
            raise DomainError("file_too_large", f"A usage file is at most {MAX_USAGE_FILE // 2**20} MB here; "
                              "larger ones go through `kassa usage import`.", "file")  # fmt: skip
        kind = usage_uploads.kind_of(file.filename, file_format.strip() or None)
        total = await run_in_threadpool(usage_uploads.count_rows, handle, kind)
    except DomainError as refused:
        handle.close()
        return await run_in_threadpool(
            _runs_page, request, staff, status_code=422, usage_error=refused.message
        )
    run = _new_run(ctx, staff, "usage_import", f"Usage import of {file.filename or 'a file'}", total)
    _start(ctx, run, lambda: _usage(ctx, staff.actor, run.id, handle, kind))
    return RedirectResponse(f"/console/runs/{run.id}", status_code=303)


def _progress_values(request: Request, staff: Staff, run: Run) -> dict[str, Any]:
    names: dict[str, str] = {}
    if run.kind == "bill_run" and run.result is not None:
        ids = [b.customer_id for b in run.result.invoices] + [c for c, _ in run.result.errors]
        names = console_billing.customer_names(context(request), staff.actor, ids)
    return {"run": run, "names": names}


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, staff: Viewer) -> HTMLResponse:
    run = REGISTRY.get(staff.actor.tenant_id, run_id)
    return render(request, "console/runs_run.html", **_progress_values(request, staff, run))


@router.get("/runs/{run_id}/progress", response_class=HTMLResponse)
def run_progress(run_id: str, request: Request, staff: Viewer) -> HTMLResponse:
    """The fragment the run's page polls: it stops asking once the run has finished."""
    run = REGISTRY.get(staff.actor.tenant_id, run_id)
    return render(request, "console/runs_progress.html", **_progress_values(request, staff, run))
