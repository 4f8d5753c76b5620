"""The customer's plan: their subscriptions with the next renewal, a plan change with the price difference
shown before it is confirmed, and a cancellation at the end of the period with its end date shown first.

Only the visit's customer's subscriptions are touched: an id from the URL that is not theirs answers 404.
A change follows the plan's own change policy (an upgrade at once, prorated; a downgrade at the end of the
period, by default), as the API does when no override is given — the customer gets no overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.errors import NotFound
from kassa.core.money import Money
from kassa.core.periods import BillingPeriod
from kassa.services import portal_self_service as self_service
from kassa.services import subscriptions
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]

# What the plan page says after an action (a fixed set: the query parameter only picks one).
DONE = {
    "changed": "Your plan was changed.",
    "scheduled": "Your plan change is scheduled; it takes effect on the day shown.",
    "canceled": "Your subscription is canceled; it ends on the day shown.",
    "kept": "Your subscription continues; the cancellation is withdrawn.",
}


# The English keys of "per period" texts (translated by t(), {count} filled for longer periods).
_PER = {"day": "per day", "week": "per week", "month": "per month", "quarter": "per quarter",
        "half_year": "per half year", "year": "per year"}  # fmt: skip
_EVERY = {"day": "every {count} days", "week": "every {count} weeks", "month": "every {count} months",
          "quarter": "every {count} quarters", "half_year": "every {count} half years", "year": "every {count} years"}  # fmt: skip


def period_label(period: BillingPeriod) -> tuple[str, int]:
    unit = period.unit.value
    return (_PER[unit], 1) if period.count == 1 else (_EVERY[unit], period.count)


def _owned(request: Request, visit: PortalVisit, subscription_id: str) -> self_service.SubscriptionPlan:
    """The customer's live subscription with its plan data; 404 for anyone else's (or an ended one)."""
    self_service.owned_subscription(context(request), visit.actor, visit.customer.id, subscription_id)
    found = self_service.plans(context(request), visit.actor, visit.customer.id)
    match = next((p for p in found if p.subscription.id == subscription_id), None)
    if match is None:
        raise NotFound("subscription", subscription_id)
    return match


@router.get("/plan")
def plan_page(request: Request, visit: Visit, done: str = "") -> Response:
    found = self_service.plans(context(request), visit.actor, visit.customer.id)
    return render(
        request, "portal/plan.html", subscriptions=found, done=DONE.get(done), period_label=period_label
    )


@router.get("/plan/{subscription_id}/preview")
def preview(request: Request, visit: Visit, subscription_id: str, plan: str = "") -> Response:
    """The price difference of switching to `plan` (htmx puts it under the form; without script it is a
    page of its own)."""
    current = _owned(request, visit, subscription_id)
    option = next((o for o in current.options if o.code == plan), None)
    if option is None:
        return render(request, "portal/plan_preview.html", status_code=422, current=current, option=None,
                      preview=None, net=None, error="Choose one of the plans offered.",
                      fragment=_htmx(request), period_label=period_label)  # fmt: skip
    shown = subscriptions.preview_change(
        context(request), visit.actor, subscription_id, {"plan": option.code}, at=None
    )
    net = Money(shown.net, shown.currency)
    return render(request, "portal/plan_preview.html", current=current, option=option, preview=shown, net=net,
                  error=None, fragment=_htmx(request), period_label=period_label)  # fmt: skip


@router.post("/plan/{subscription_id}/change")
def change(request: Request, visit: Visit, subscription_id: str, plan: Annotated[str, Form()]) -> Response:
    current = _owned(request, visit, subscription_id)
    if all(o.code != plan for o in current.options):
        return render(request, "portal/plan_preview.html", status_code=422, current=current, option=None,
                      preview=None, net=None, error="Choose one of the plans offered.",
                      fragment=_htmx(request), period_label=period_label)  # fmt: skip
    updated = subscriptions.change_subscription(
        context(request), visit.actor, subscription_id, {"plan": plan}
    )
    done = "changed" if updated.terms.plan == plan else "scheduled"
    return RedirectResponse(f"/portal/plan?done={done}", status_code=303)


@router.get("/plan/{subscription_id}/cancel")
def cancel_page(request: Request, visit: Visit, subscription_id: str) -> Response:
    """The day the subscription would end, before the customer confirms."""
    current = _owned(request, visit, subscription_id)
    return render(request, "portal/plan_cancel.html", current=current, fragment=_htmx(request))


@router.post("/plan/{subscription_id}/cancel")
def cancel(request: Request, visit: Visit, subscription_id: str) -> Response:
    _owned(request, visit, subscription_id)
    subscriptions.cancel_subscription(
        context(request), visit.actor, subscription_id, {"when": "end_of_period"}
    )
    return RedirectResponse("/portal/plan?done=canceled", status_code=303)


@router.post("/plan/{subscription_id}/keep")
def keep(request: Request, visit: Visit, subscription_id: str) -> Response:
    """Withdraw a cancellation still to come."""
    _owned(request, visit, subscription_id)
    subscriptions.undo_cancellation(context(request), visit.actor, subscription_id)
    return RedirectResponse("/portal/plan?done=kept", status_code=303)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"
