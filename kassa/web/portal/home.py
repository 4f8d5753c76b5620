"""The portal's overview: the customer's current plan, this period's usage against the allowances, the open
invoices with a "Pay" button each, and the prepaid wallet's balance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kassa.services import portal
from kassa.services.portal import PortalVisit
from kassa.web.portal.auth import context, visitor
from kassa.web.portal.usage import number, periods
from kassa.web.templating import render

router = APIRouter()
Visit = Annotated[PortalVisit, Depends(visitor)]


@router.get("/")
def overview(request: Request, visit: Visit) -> Response:
    found = portal.overview(context(request), visit)
    locale = visit.customer.locale
    return render(
        request, "portal/home.html", overview=found, periods=periods(found.usage),
        number=lambda v: number(v, locale),
    )  # fmt: skip
