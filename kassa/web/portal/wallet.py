"""The customer's prepaid wallet: the balance (paid and free credits), the lots with their expiry, the latest
movements, and a top-up charged on the customer's default payment method. A wrong amount or a declined
payment is shown next to the amount field, and nothing is bought."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.errors import DomainError
from kassa.core.payments import PaymentStatus
from kassa.services import portal_self_service as self_service
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render, translate

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]

DONE = {
    "topped_up": "Your wallet was topped up.",
    "pending": "Your payment is on its way; the credits appear when it is confirmed.",
}
DECLINED = "The payment was declined: {reason}"
# The services' messages are for integrators; a customer gets these (translated) for the usual mistakes.
MESSAGES = {
    "invalid_amount": "Enter a positive amount, like 50.00.",
    "too_many_decimals": "Enter a positive amount, like 50.00.",
    "no_payment_method": "Add a payment method first: a top-up is charged on your default payment method.",
}


def _amount_text(value: str) -> str:
    """The amount as the services read it ("50.00"): a decimal comma (as German customers type it) becomes
    a point when there is no point already; anything else is left for the service to refuse."""
    value = value.strip().replace(" ", "")
    return value.replace(",", ".") if "," in value and "." not in value else value


def _page(request: Request, visit: PortalVisit, *, status_code: int = 200, done: str | None = None,
          error: str | None = None, amount: str = "", action_url: str | None = None) -> Response:  # fmt: skip
    """The wallet page; for htmx after a top-up that did not simply succeed, only the top-up form (with the
    error, or the bank's confirmation link), which htmx swaps in place."""
    found = self_service.wallet(context(request), visit.actor, visit.customer.id)
    htmx = request.headers.get("hx-request") == "true"
    partial = htmx and (error is not None or action_url is not None)
    template = "portal/wallet_top_up.html" if partial else "portal/wallet.html"
    return render(request, template, status_code=status_code, wallet=found, done=done, error=error,
                  amount=amount, currency=visit.customer.currency, action_url=action_url)  # fmt: skip


@router.get("/wallet")
def wallet_page(request: Request, visit: Visit, done: str = "") -> Response:
    return _page(request, visit, done=DONE.get(done))


@router.post("/wallet/top_up")
def top_up(request: Request, visit: Visit, amount: Annotated[str, Form()] = "") -> Response:
    try:
        payment = self_service.top_up(context(request), visit.actor, visit.customer.id, _amount_text(amount))
    except DomainError as error:
        message = MESSAGES.get(error.code, error.message)
        return _page(request, visit, status_code=422, error=message, amount=amount)
    if payment.status is PaymentStatus.FAILED:
        reason = payment.failure_message or (payment.decline_code.value if payment.decline_code else "")
        return _page(
            request,
            visit,
            status_code=422,
            error=translate(visit.customer.locale, DECLINED, reason=reason),
            amount=amount,
        )
    if payment.status is PaymentStatus.REQUIRES_ACTION:  # the bank wants the customer to confirm (3-D Secure)
        return _page(request, visit, amount=amount, action_url=payment.action_url or "")
    done = "topped_up" if payment.status is PaymentStatus.SUCCEEDED else "pending"
    target = f"/portal/wallet?done={done}"
    if request.headers.get("hx-request") == "true":  # the whole page changes: htmx navigates to it
        return Response(headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
