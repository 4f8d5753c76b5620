"""/v1/reports: read-only views over the books, as JSON or CSV (`?format=csv`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel

from kassa.core.reports import Report, to_csv, to_json

router = APIRouter(prefix="/reports", tags=["reports"])

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="a month, YYYY-MM")]
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
