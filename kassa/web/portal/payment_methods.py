"""The customer's payment methods: the list, adding a card (a token from the gateway's card form; kassa
never takes a card number) and choosing the default that "Pay now" and automatic collection use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.errors import DomainError
from kassa.services import portal
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]

# What an action did, shown on the page it redirects to; never text taken from the URL.
DONE = {"added": "Card added.", "default": "Default payment method changed."}


def _page(request: Request, visit: PortalVisit, *, done: str | None = None, error: str | None = None,
          token: str = "", status_code: int = 200) -> Response:  # fmt: skip
    return render(
        request, "portal/payment_methods.html", status_code=status_code,
        methods=portal.payment_methods(context(request), visit), done=DONE.get(done or ""), error=error, token=token,
    )  # fmt: skip


@router.get("/payment_methods")
def methods(request: Request, visit: Visit, done: str | None = None) -> Response:
    return _page(request, visit, done=done)


@router.post("/payment_methods")
def add_card(
    request: Request,
    visit: Visit,
    token: Annotated[str, Form()] = "",
    make_default: Annotated[str, Form()] = "",
) -> Response:
    try:
        portal.add_card(context(request), visit, token, make_default=make_default == "on")
    except DomainError as error:  # shown next to the field, the entry kept
        return _page(request, visit, error=error.message, token=token, status_code=error.status)
    return RedirectResponse("/portal/payment_methods?done=added", status_code=303)


@router.post("/payment_methods/{method_id}/default")
def set_default(request: Request, visit: Visit, method_id: str) -> Response:
    portal.make_default(context(request), visit, method_id)
    return RedirectResponse("/portal/payment_methods?done=default", status_code=303)
