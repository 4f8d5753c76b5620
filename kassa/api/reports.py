"""/v1/reports: read-only views over the books, as JSON or CSV (`?format=csv`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import BaseModel

from kassa.api.deps import Caller, Ctx
from kassa.core.reports import Report, to_csv, to_json
from kassa.services import revenue, revenue_reports

router = APIRouter(prefix="/reports", tags=["reports"])
revenue_router = APIRouter(prefix="/revenue", tags=["reports"])

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
MONTH = r"^\d{4}-\d{2}$"
Month = Annotated[str, Query(pattern=MONTH, description="a month, YYYY-MM")]
From = Annotated[
    str | None,
    Query(
        alias="from", pattern=MONTH, description="the first month, YYYY-MM (default: 11 months before `to`)"
    ),
]
To = Annotated[str | None, Query(pattern=MONTH, description="the last month, YYYY-MM (default: this month)")]
Currency = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Z]{3}$",
        description="report in this currency (default: the tenant's reporting currency)",
    ),
]


class ReportDoc(BaseModel):
    """Columns and rows; amounts `{"amount": "12.34", "currency": "EUR"}`; the rates used, with their dates."""

    model_config = {"extra": "allow"}
    report: str
    currency: str | None
    columns: list[str]
    rows: list[dict[str, object]]


RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The report as JSON or CSV"}
}


def render(report: Report, format: str) -> Response:
    """The same report either way: CSV downloads under the report's name."""
    if format == "csv":
        return Response(to_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{report.name}.csv"'})  # fmt: skip
    return Response(
        ReportDoc.model_validate(to_json(report)).model_dump_json(), media_type="application/json"
    )


@router.get("/revenue", response_model=ReportDoc, responses=RESPONSES)
def revenue_figures(ctx: Ctx, actor: Caller, from_: From = None,
                    to: To = None, currency: Currency = None, by: Literal["month", "product"] = "month",
                    format: Format = "json") -> Response:  # fmt: skip
    """Per month (and product): bookings, billings, released, recognized revenue, deferred revenue,
    unbilled receivables, unbilled backlog and RPO."""
    return render(revenue_reports.revenue_report(ctx, actor, from_, to, currency, by == "product"), format)


@router.get("/deferred_revenue", response_model=ReportDoc, responses=RESPONSES)
def deferred_revenue(ctx: Ctx, actor: Caller, from_: From = None,
                     to: To = None, currency: Currency = None, format: Format = "json") -> Response:  # fmt: skip
    """The deferred revenue waterfall: per month, opening, billed, released, recognized, closing."""
    return render(revenue_reports.deferred_revenue_waterfall(ctx, actor, from_, to, currency), format)


class Recognition(BaseModel):
    through: str
    amounts: dict[str, str]
    entries: int


class RecognizeBody(BaseModel):
    through: date | None = None


@revenue_router.post("/recognize", response_model=Recognition)
def recognize(
    ctx: Ctx, actor: Caller, body: RecognizeBody = Body(default_factory=RecognizeBody)
) -> Recognition:
    """Recognize revenue through a day (default today; never a day to come): what the daily run does."""
    return Recognition.model_validate(revenue.recognize_now(ctx, actor, body.through))
