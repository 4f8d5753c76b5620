"""/v1/exports: the books for an accounting package, as CSV downloads (docs/ledger.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from kassa.api.deps import Caller, Ctx
from kassa.services import exports
from kassa.services.exports import Export

router = APIRouter(prefix="/exports", tags=["exports"])

From = Annotated[
    date | None,
    Query(
        alias="from",
        description="The first day, YYYY-MM-DD (included); default: the first day of `to`'s month",
    ),
]
To = Annotated[
    date | None, Query(alias="to", description="The last day, YYYY-MM-DD (included); default: today")
]
CSV: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "A CSV file (UTF-8, CRLF)"}
}


def _download(export: Export) -> StreamingResponse:
    return StreamingResponse(export.chunks, media_type=export.media_type,
                             headers={"Content-Disposition": f'attachment; filename="{export.filename}"'})  # fmt: skip


@router.get("/journal_entries", response_class=StreamingResponse, responses=CSV)
def export_journal_entries(ctx: Ctx, actor: Caller, start: From = None, end: To = None) -> StreamingResponse:
    """One row per posting booked from `from` to `to`: entry, dates, source, account, debit or credit."""
    return _download(exports.journal_entries(ctx, actor, start, end))


@router.get("/invoices", response_class=StreamingResponse, responses=CSV)
def export_invoices(ctx: Ctx, actor: Caller, start: From = None, end: To = None) -> StreamingResponse:
    """One row per invoice finalized from `from` to `to` (days in the tenant's time zone)."""
    return _download(exports.invoices(ctx, actor, start, end))


@router.get("/general_ledger", response_class=StreamingResponse, responses=CSV)
def export_general_ledger(
    ctx: Ctx, actor: Caller, start: From = None, end: To = None,
    format: Annotated[Literal["xero"], Query(description="xero: Xero's manual journal import CSV")] = "xero",
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$",
                                          description="Only entries in this currency (default: the tenant's)")] = None,
    tax_rate: Annotated[str | None, Query(min_length=1, max_length=100,
                                          description='Xero tax rate name for every line (default "Tax Exempt")')] = None,
) -> StreamingResponse:  # fmt: skip
    """The postings booked from `from` to `to` as manual journals for Xero (one journal per kassa entry)."""
    return _download(exports.general_ledger(ctx, actor, start, end, format=format, currency=currency,
                                            tax_rate=tax_rate))  # fmt: skip
