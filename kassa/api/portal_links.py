"""Magic links to the customers' self-service portal (issue 10). See docs/portal.md."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Id, Input
from kassa.services import portal

router = APIRouter(tags=["portal"])


class PortalLinkCreate(Input):
    expires_in_hours: int | None = Field(
        None, description="Whole hours the link stays valid, 1 to 720; default 72.", examples=[72]
    )
    send_email: bool = Field(
        False, description="Also email the link to the customer (the essential portal_link message)."
    )


class EmailOut(BaseModel):
    message_id: str = Field(description="The portal_link message in the message log.")
    status: str = Field(description="sent, or failed (see error).")
    error: str | None


class PortalLinkOut(BaseModel):
    url: str = Field(description="The magic link. Shown only in this response: kassa does not keep it.")
    expires_at: datetime
    email: EmailOut | None = Field(None, description="The email with the link, when send_email was true.")


@router.post("/customers/{customer_id}/portal_links", status_code=201, response_model=PortalLinkOut)
def create_portal_link(customer_id: Id, body: PortalLinkCreate, ctx: Ctx, actor: Caller) -> PortalLinkOut:
    """A signed, expiring link that opens the customer's portal session (2 hours per opening). Links cannot be
    revoked one by one: keep them short-lived. With send_email the customer gets it by email too."""
    link = portal.create_link(
        ctx, actor, customer_id, expires_in_hours=body.expires_in_hours, send_email=body.send_email
    )
    sent = link.message
    email = None if sent is None else EmailOut(message_id=sent.id, status=sent.status.value, error=sent.error)
    return PortalLinkOut(url=link.url, expires_at=link.expires_at, email=email)
