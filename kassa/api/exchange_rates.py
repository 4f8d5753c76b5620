"""/v1/exchange_rates: import reference rates (the ECB's CSV files or a generic CSV) for multi-currency
reports, and list them. See docs/exchange-rates.md."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from kassa.api.deps import Caller, Ctx, Limit
from kassa.api.schemas import CurrencyCode, PageOut
from kassa.core.errors import DomainError
from kassa.services import exchange_rates

router = APIRouter(prefix="/exchange_rates", tags=["reports"])

CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "maxLength": exchange_rates.MAX_FILE}}},
        "description": "The file as it was downloaded (UTF-8): the ECB's eurofxref.csv or eurofxref-hist.csv "
        "(unzipped), or a CSV with the header date,base,currency,rate.",
    }
}
RateCursor = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}\.[A-Z]{3}\.[A-Z]{3}$", description="`next_cursor` of the previous page."
    ),
]


class ImportOut(BaseModel):
    object: Literal["exchange_rates_import"]
    id: str | None = Field(description="The import's id in the audit log; null when nothing changed.")
    source: str
    format: Literal["ecb_daily", "ecb_history", "csv"]
    rows: int = Field(description="Rates in the file.")
    days: int
    bases: list[str]
    currencies: list[str]
    first_day: date
    last_day: date
    inserted: int = Field(description="Rates for a currency and day not stored before.")
    updated: int = Field(description="Corrected rates: a different rate for a day stored before.")
    unchanged: int = Field(description="Rates stored before with the same value: left as they were.")
    skipped_currencies: list[str] = Field(
        description="Columns of the ECB file for currencies ISO 4217 withdrew (CYP, HRK...): not imported."
    )


class RateOut(BaseModel):
    object: Literal["exchange_rate"]
    base: str
    currency: str
    date: date
    rate: str = Field(description="1 base = rate × currency, as published.", examples=["1.0495"])
    source: str
    imported_at: datetime


@router.post("/import", response_model=ImportOut, openapi_extra=CSV_BODY)
async def import_rates(
    request: Request,
    ctx: Ctx,
    actor: Caller,
    source: Annotated[
        str | None, Query(min_length=1, max_length=100, description="The file's name; default `api`.")
    ] = None,
) -> ImportOut:
    """Import a rates file. Importing the same file again changes nothing; a corrected rate for a day replaces
    the stored one. A wrong line refuses the whole file (`invalid_rates_file`, `invalid_rate`, with the line)."""
    content = await request.body()
    if len(content) > 4 * exchange_rates.MAX_FILE:  # refused before decoding; the service checks characters
        raise DomainError("file_too_large", "A rates file is at most 20 MB.", "file")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DomainError(
            "invalid_rates_file", f"The file is not UTF-8 text (byte {error.start}).", "file"
        ) from None
    summary = await run_in_threadpool(exchange_rates.import_rates, ctx, actor, text, source or "api")
    return ImportOut.model_validate(summary)


@router.get("", response_model=PageOut[RateOut])
def list_rates(
    ctx: Ctx,
    actor: Caller,
    currency: Annotated[CurrencyCode | None, Query(description="The quoted currency.")] = None,
    base: Annotated[CurrencyCode | None, Query(description="The base currency (EUR for the ECB's).")] = None,
    first: Annotated[date | None, Query(alias="from", description="From this day, included.")] = None,
    last: Annotated[date | None, Query(alias="to", description="To this day, included.")] = None,
    limit: Limit = 100,
    cursor: RateCursor = None,
) -> PageOut[RateOut]:
    """The imported rates, newest day first, then by base and currency."""
    page = exchange_rates.list_rates(
        ctx, actor, currency=currency, base=base, from_day=first, to_day=last, limit=limit, cursor=cursor
    )
    return PageOut[RateOut](
        data=[RateOut.model_validate(r.to_json()) for r in page.items],
        has_more=page.has_more,
        next_cursor=page.next_cursor,
    )
