"""Cost to serve: costs recorded against a customer or imported from a CSV file, and the margin report
(`/v1/reports/margin`) per customer or per plan. See docs/cost-to-serve.md."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from kassa.api import problems
from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.reports import RESPONSES, Currency, Format, ReportDoc, render
from kassa.api.schemas import Id, Input, MoneyModel, PageOut, page_of
from kassa.core.cost_to_serve import MAX_DESCRIPTION, MAX_MINUTES, CostEntry, CostFileError
from kassa.services import cost_to_serve

router = APIRouter(tags=["cost to serve"])

Kind = Literal["support", "professional_services", "infrastructure", "other"]
MonthText = r"^\d{4}-\d{2}$"


class CostCreate(Input):
    occurred_on: date = Field(description="The day the cost was incurred (the month it counts in).")
    kind: Kind
    cost: MoneyModel = Field(description="Zero or more, in any currency; the margin report converts it.")
    minutes: Annotated[int, Field(ge=0, le=MAX_MINUTES)] | None = Field(
        None, description="Time spent (support, professional services).")  # fmt: skip
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)] | None = None


class CostOut(BaseModel):
    id: str
    object: Literal["cost_entry"]
    customer_id: str
    occurred_on: date
    kind: Kind
    cost: MoneyModel
    minutes: int | None
    description: str | None
    source: Literal["api", "import"]
    external_id: str | None = Field(description="An imported row's id (given in the file, or derived).")
    created_at: datetime

    @classmethod
    def of(cls, entry: CostEntry) -> CostOut:
        return cls.model_validate(entry.to_json())


class CostImportOut(BaseModel):
    object: Literal["cost_import"]
    rows: int = Field(description="Rows in the file.")
    added: int
    skipped: int = Field(description="Rows imported before (the same id): not added again.")


@router.post("/customers/{customer_id}/costs", status_code=201, response_model=CostOut)
def record_cost(customer_id: Id, body: CostCreate, ctx: Ctx, actor: Caller) -> CostOut:
    """Record time or money spent serving the customer."""
    doc = body.model_dump(mode="json", exclude_none=True)
    return CostOut.of(cost_to_serve.record_cost(ctx, actor, customer_id, doc))


@router.get("/customers/{customer_id}/costs", response_model=PageOut[CostOut])
def list_costs(
    customer_id: Id, ctx: Ctx, actor: Caller, limit: Limit = 20, cursor: Cursor = None
) -> PageOut[CostOut]:
    """The customer's costs, newest first."""
    return page_of(cost_to_serve.list_costs(ctx, actor, customer_id, limit=limit, cursor=cursor), CostOut.of)


CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "maxLength": cost_to_serve.MAX_FILE}}},
        "description": "customer,date,kind,amount,currency,minutes,description,id (kind, minutes, description "
        "and id may be left out); customer is a customer id or external id.",
    }
}


@router.post("/costs/import", response_model=CostImportOut, openapi_extra=CSV_BODY)
async def import_costs(request: Request, ctx: Ctx, actor: Caller) -> Any:
    """Import costs from a CSV file: every row, or nothing when a line is wrong (each wrong line is listed in
    `errors`, as `line 7.amount`). A row imported before is skipped."""
    content = await request.body()
    try:
        result = await run_in_threadpool(cost_to_serve.import_costs, ctx, actor, content)
    except CostFileError as error:
        response: JSONResponse = problems.problem(error.status, error.code, error.message, field=error.field,
                                                  request=request, errors=[e.to_json() for e in error.errors])  # fmt: skip
        return response
    return CostImportOut.model_validate(result.to_json())


@router.get("/reports/margin", response_model=ReportDoc, responses=RESPONSES)
def margin_report(
    ctx: Ctx,
    actor: Caller,
    first: Annotated[
        str | None,
        Query(
            alias="from",
            pattern=MonthText,
            description="the first month, YYYY-MM (default: 11 months before `to`)",
        ),
    ] = None,
    last: Annotated[
        str | None,
        Query(alias="to", pattern=MonthText, description="the last month, YYYY-MM (default: this month)"),
    ] = None,
    by: Annotated[Literal["customer", "plan"], Query(description="customer (default) or plan")] = "customer",
    currency: Currency = None,
    format: Format = "json",
) -> Response:
    """Revenue recognized, cost and margin per customer or per plan over the months `from` to `to`; per plan, a
    customer's cost is split over its plans in proportion to its revenue on each."""
    return render(cost_to_serve.margin_report(ctx, actor, first, last, currency, by), format)
