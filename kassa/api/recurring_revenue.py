"""/v1/reports/mrr, /v1/reports/cohorts, /v1/reports/churn_risk: recurring revenue as JSON or CSV.
Formulas and vendor choices: docs/recurring-revenue.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from kassa.api.deps import Caller, Ctx
from kassa.api.reports import RESPONSES, Currency, Format, ReportDoc, render
from kassa.core.churn_risk import MAX_LIMIT
from kassa.services import recurring_revenue

router = APIRouter(prefix="/reports", tags=["reports"])

_MONTH = r"^\d{4}-\d{2}$"
First = Annotated[
    str | None,
    Query(
        alias="from", pattern=_MONTH, description="the first month, YYYY-MM (default: 11 months before `to`)"
    ),
]
Last = Annotated[
    str | None, Query(alias="to", pattern=_MONTH, description="the last month, YYYY-MM (default: this month)")
]
RiskLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"customers listed, 1 to {MAX_LIMIT}")]


@router.get("/mrr", response_model=ReportDoc, responses=RESPONSES)
def mrr(
    ctx: Ctx,
    actor: Caller,
    first: First = None,
    last: Last = None,
    currency: Currency = None,
    format: Format = "json",
) -> Response:
    """MRR and ARR month by month with the movements (new, expansion, reactivation, contraction, churn, fx),
    customers, ARPA, logo and revenue churn, net and gross revenue retention and LTV."""
    return render(recurring_revenue.mrr_report(ctx, actor, first, last, currency), format)


@router.get("/cohorts", response_model=ReportDoc, responses=RESPONSES)
def cohorts(
    ctx: Ctx,
    actor: Caller,
    first: First = None,
    last: Last = None,
    currency: Currency = None,
    format: Format = "json",
) -> Response:
    """Customers grouped by their first month with MRR (the cohorts `from`..`to`), each followed to `to`:
    customers still paying and MRR kept."""
    return render(recurring_revenue.cohort_report(ctx, actor, first, last, currency), format)


@router.get("/churn_risk", response_model=ReportDoc, responses=RESPONSES)
def churn_risk(ctx: Ctx, actor: Caller, limit: RiskLimit = 100, format: Format = "json") -> Response:
    """Customers likely to churn today (declining usage, failed payments, dunning, downgrades), highest score
    first, with the reasons."""
    return render(recurring_revenue.churn_risk_report(ctx, actor, limit), format)
