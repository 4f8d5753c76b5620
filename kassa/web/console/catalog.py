"""The catalog page: the version in effect (products, plans with their phases and prices per currency,
add-ons, families), the versions applied so far, and uploading a new version (BILLING) as YAML or JSON,
typed or from a file, the way the API's /v1/catalog takes its document. A refused document stays in the
editor with what is wrong: the path in the document, and for YAML the line it is on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.access import Permission
from kassa.core.catalog import Catalog, Phase
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.services import catalog
from kassa.services.catalog import MAX_DOCUMENT_BYTES, AppliedCatalog
from kassa.web.console.auth import Staff, allowed, context, viewer
from kassa.web.console.listing import done_message
from kassa.web.templating import render

router = APIRouter()
Viewer = Annotated[Staff, Depends(viewer)]
Billing = Annotated[Staff, Depends(allowed(Permission.BILLING))]


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    path: str | None  # where in the document, like products.0.plans.1.code
    line: int | None  # the line of the editor's text it points at (1-based), when it can be found
    code: str


def _phase_text(phase: Phase) -> str:
    words = [phase.type.value.replace("_", " ")]
    if phase.duration is not None:
        words.append(
            f"{phase.duration.count} {phase.duration.unit.value}{'s' if phase.duration.count != 1 else ''}"
        )
    if phase.cycles is not None:
        words.append(f"{phase.cycles} period{'s' if phase.cycles != 1 else ''}")
    if phase.at_end is not None:
        words.append(f"then {phase.at_end.value.replace('_', ' ')}")
    return ", ".join(words)


def _prices(prices: Any) -> list[dict[str, Any]]:
    """Per currency the flat fee, the fee per unit and the setup fee (None where the price has none)."""
    rows = []
    for code, price in sorted(prices.items()):
        rows.append({
            "currency": code,
            **{k: Money(getattr(price, k), code) if getattr(price, k) else None for k in ("flat", "per_unit", "setup")},
        })  # fmt: skip
    return rows


def _view(parsed: Catalog) -> dict[str, Any]:
    products = []
    for product in parsed.products.values():
        plans = []
        for plan in parsed.plans.values():
            if plan.product != product.code:
                continue
            phases = [{"text": _phase_text(p), "timing": p.timing.value.replace("_", " "), "prices": _prices(p.prices)}
                      for p in plan.phases]  # fmt: skip
            plans.append({"plan": plan, "period": str(plan.billing_period), "phases": phases})
        products.append({"product": product, "plans": plans})
    addons = [
        {"addon": a, "period": str(a.billing_period), "prices": _prices(a.prices)}
        for a in parsed.addons.values()
    ]
    return {"products": products, "addons": addons, "families": list(parsed.families.values())}


def _as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)


def _line_of(text: str, path: str | None) -> int | None:
    """The line of `text` (YAML, so JSON too) where the node at `path` starts, or its nearest ancestor."""
    if not path:
        return None
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for step in path.split("."):
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == step), None)
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and step.isdigit() and int(step) < len(node.value):
            node = node.value[int(step)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _parse(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "not valid YAML or JSON"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        line = None if mark is None else mark.line + 1
        raise _Refused(
            Problem(f"Not valid YAML or JSON{where}: {problem}.", None, line, "invalid_yaml")
        ) from None


class _Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _effective(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Refused(Problem("Give the time as 2027-01-01T00:00:00+00:00 (or leave it blank for now).",
                               "effective_at", None, "invalid_time")) from None  # fmt: skip
    if parsed.tzinfo is None:
        raise _Refused(Problem("Give the time with its offset, e.g. 2027-01-01T00:00:00+00:00.", "effective_at",
                               None, "naive_time"))  # fmt: skip
    return parsed


def _page(
    request: Request,
    staff: Staff,
    *,
    number: int | None,
    text: str | None,
    effective_at: str,
    problem: Problem | None,
    status_code: int = 200,
) -> Response:
    ctx = context(request)
    versions = catalog.list_versions(ctx, staff.actor)
    current: AppliedCatalog | None = None
    if versions:
        try:
            current = catalog.get_catalog(ctx, staff.actor, at=None)
        except DomainError:
            current = None  # every version takes effect later
    shown = current
    if number is not None:
        shown = catalog.get_version(ctx, staff.actor, number)
    if text is None:  # the editor starts from the version shown, to change it into the next one
        text = "" if shown is None else _as_yaml(shown.document)
    return render(
        request, "console/catalog.html", status_code=status_code, versions=versions, current=current, shown=shown,
        view=None if shown is None else _view(shown.version.catalog), text=text, effective_at=effective_at,
        problem=problem, done=done_message(request),
    )  # fmt: skip


@router.get("/catalog")
def catalog_page(request: Request, staff: Viewer, version: int | None = None) -> Response:
    return _page(request, staff, number=version, text=None, effective_at="", problem=None)


@router.post("/catalog")
async def upload_catalog(
    request: Request,
    staff: Billing,
    document: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    effective_at: Annotated[str, Form()] = "",
) -> Response:
    text = document
    if file is not None and file.filename:
        raw = await file.read(MAX_DOCUMENT_BYTES + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problem = Problem("The file is not UTF-8 text.", None, None, "invalid_file")
            return await run_in_threadpool(_refused, request, staff, document, effective_at, problem)
    try:
        if len(text.encode()) > MAX_DOCUMENT_BYTES:
            raise _Refused(Problem(f"A catalog document is at most {MAX_DOCUMENT_BYTES} bytes.", None, None,
                                   "catalog_too_large"))  # fmt: skip
        if not text.strip():
            raise _Refused(
                Problem("Paste a catalog document or choose a file.", None, None, "empty_document")
            )
        when = _effective(effective_at)
        parsed = _parse(text)
        await run_in_threadpool(
            catalog.apply_catalog, context(request), staff.actor, parsed, effective_at=when
        )
    except _Refused as refused:
        return await run_in_threadpool(_refused, request, staff, text, effective_at, refused.problem)
    except DomainError as error:
        if error.status >= 500 or error.status in (401, 403):
            raise
        where = "effective_at" if error.field == "effective_at" else error.field
        line = None if where == "effective_at" else _line_of(text, where)
        problem = Problem(error.message, where, line, error.code)
        return await run_in_threadpool(_refused, request, staff, text, effective_at, problem)
    return RedirectResponse("/console/catalog?done=catalog_applied", status_code=303)


def _refused(request: Request, staff: Staff, text: str, effective_at: str, problem: Problem) -> Response:
    return _page(
        request, staff, number=None, text=text, effective_at=effective_at, problem=problem, status_code=422
    )
