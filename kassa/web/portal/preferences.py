"""Which emails the customer gets: the courtesy messages they may turn off, and the essential ones (money,
contract, their own requests) that always go out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.messages import MessageKind, essential
from kassa.services import messages
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]

# What each kind is, in words a customer knows (translated by the page).
LABELS = {
    MessageKind.WELCOME: "Welcome message",
    MessageKind.TRIAL_ENDING: "Trial ending",
    MessageKind.RENEWAL_UPCOMING: "Upcoming renewal reminders",
    MessageKind.INVOICE_ISSUED: "New invoices",
    MessageKind.PAYMENT_SUCCEEDED: "Payment receipts",
    MessageKind.PAYMENT_FAILED: "Failed payments",
    MessageKind.CARD_EXPIRING: "Card about to expire",
    MessageKind.USAGE_THRESHOLD: "Usage alerts",
    MessageKind.LOW_BALANCE: "Low wallet balance",
    MessageKind.PLAN_CHANGED: "Plan changes",
    MessageKind.SUBSCRIPTION_CANCELED: "Cancellations",
    MessageKind.DUNNING_STEP: "Overdue invoice reminders",
    MessageKind.DISPUTE_RESOLVED: "Answers to your disputes",
    MessageKind.PORTAL_LINK: "Links to this account",
}
OPTIONAL = [k for k in MessageKind if not essential(k)]


def _page(request: Request, visit: PortalVisit, *, saved: bool) -> Response:
    chosen = messages.effective(messages.get_preferences(context(request), visit.actor, visit.customer.id))
    return render(
        request, "portal/preferences.html", saved=saved,
        optional=[(k.value, LABELS.get(k, k.value), chosen[k.value]) for k in OPTIONAL],
        always=[LABELS.get(k, k.value) for k in MessageKind if essential(k)],
    )  # fmt: skip


@router.get("/preferences")
def preferences(request: Request, visit: Visit, saved: str | None = None) -> Response:
    return _page(request, visit, saved=saved == "1")


@router.post("/preferences")
async def save_preferences(request: Request, visit: Visit) -> Response:
    """A checkbox ticked is a kind wanted; every optional kind is written, so unticking one turns it off."""
    form = await request.form()
    wanted = {k.value: form.get(k.value) == "on" for k in OPTIONAL}
    await run_in_threadpool(
        messages.put_preferences, context(request), visit.actor, visit.customer.id, wanted
    )
    return RedirectResponse("/portal/preferences?saved=1", status_code=303)
