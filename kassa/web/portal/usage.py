"""This period's usage against the plan's allowances, per metric, with a chart and the forecast to the
period's end at the pace so far (rating.current_usage's advice of charge for the whole period)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kassa.core.errors import DomainError, NotFound
from kassa.core.money import Money
from kassa.services import portal
from kassa.services.portal import PortalVisit
from kassa.services.rating import CurrentUsage, Estimate
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Meter:
    """One metric of one subscription's open period, ready to show."""

    code: str  # the billable metric
    metric: str  # the charge's description where the plan gives one, else the metric's code
    group: str
    used: Decimal
    included: Decimal
    percent: int | None  # of the allowance used (capped at 100 for the bar); None without an allowance
    over: bool
    charged: Money
    forecast_quantity: Decimal
    forecast: Money


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    subscription_id: str
    plan: str
    start: date
    last_day: date  # the period's end is exclusive; a customer reads "1 to 31 January"
    meters: list[Meter]
    charged: Money
    forecast: Money
    minimum_spend: Money | None


def periods(usage: list[CurrentUsage]) -> list[Period]:
    out = []
    for u in usage:
        meters = []
        for c in u.lines:
            line = c.line
            used, included = line.rated.quantity, line.charge.included
            percent = None if included <= 0 else int(min(Decimal(100), used * 100 / included))
            meters.append(Meter(
                code=line.metric, metric=line.charge.description or line.metric, group=line.group, used=used, included=included, percent=percent,
                over=included > 0 and used > included, charged=line.amount,
                forecast_quantity=c.forecast_quantity, forecast=c.forecast,
            ))  # fmt: skip
        out.append(Period(
            subscription_id=u.subscription.id, plan=u.period.plan.name, start=u.period.start,
            last_day=u.period.end - timedelta(days=1),
            meters=meters, charged=u.charged, forecast=u.forecast, minimum_spend=u.minimum_spend,
        ))  # fmt: skip
    return out


def number(value: Decimal, locale: str) -> str:
    return format_decimal(value.normalize(), locale=locale.replace("-", "_"))


def chart_data(items: list[Period], locale: str) -> list[dict[str, Any]]:
    """What portal_usage.js draws: per period, each metric's use so far, allowance and forecast (numbers as
    strings for JSON: they are shown, never computed with)."""
    return [{
        "id": p.subscription_id,
        "labels": [m.metric + (f" ({m.group})" if m.group else "") for m in p.meters],
        "used": [str(m.used) for m in p.meters],
        "included": [str(m.included) for m in p.meters],
        "forecast": [str(m.forecast_quantity) for m in p.meters],
    } for p in items if p.meters]  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Question:
    """An advice-of-charge question from the page's form, and its answer or why there is none."""

    subscription_id: str
    metric: str
    units: str
    answer: Estimate | None = None
    error: str | None = None


def _ask(request: Request, visit: PortalVisit, subscription: str, metric: str, units: str) -> Question | None:
    if not subscription:
        return None
    question = Question(subscription_id=subscription, metric=metric, units=units)
    try:  # typed as the customer writes numbers ("1.500" is fifteen hundred in German)
        amount = str(
            parse_decimal(units.strip(), locale=visit.customer.locale.replace("-", "_"), strict=True)
        )
    except NumberFormatError:
        amount = units  # refused by the estimate with its own message
    try:
        answer = portal.estimate(context(request), visit, subscription, metric, amount)
    except NotFound:
        raise
    except DomainError as error:  # shown next to the form, the entry kept
        return replace(question, error=error.message)
    return replace(question, answer=answer)


@router.get("/usage")
def usage_page(
    request: Request, visit: Visit, subscription: str = "", metric: str = "", units: str = ""
) -> Response:
    items = periods(portal.usage(context(request), visit))
    locale = visit.customer.locale
    question = _ask(request, visit, subscription, metric, units)
    return render(
        request, "portal/usage.html", status_code=422 if question and question.error else 200, periods=items,
        charts=chart_data(items, locale), number=lambda v: number(v, locale), question=question,
    )  # fmt: skip
