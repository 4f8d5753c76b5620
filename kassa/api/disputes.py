"""Disputes on invoice lines (issue 9): opened by a customer (portal) or an agent, accepted at once when the
tenant's dispute policy calls them small, otherwise worked from the agents' queue; and their report.
A dispute is not a chargeback (/v1/payments/{id}: a card network's dispute). See docs/disputes.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.reports import RESPONSES, Format, From, ReportDoc, To, render
from kassa.api.schemas import Id, Input, MoneyModel, PageOut, page_of
from kassa.core.disputes import MAX_DESCRIPTION, MAX_RESOLUTION, Dispute
from kassa.services import disputes

router = APIRouter(tags=["disputes"])

Reason = Literal["not_received", "incorrect_amount", "duplicate", "not_as_described", "unauthorized", "other"]
Status = Literal["open", "accepted", "rejected"]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]
Resolution = Annotated[str, StringConstraints(min_length=1, max_length=MAX_RESOLUTION)]


class DisputeCreate(Input):
    line: Annotated[int, Field(ge=1, le=100_000, description="The disputed invoice line's position.")]
    amount: MoneyModel | None = Field(
        None, description="Tax included; default: all of the line not yet credited or disputed.")  # fmt: skip
    reason: Reason
    description: Description | None = None
    opened_by: Literal["customer", "agent"] = Field(description="customer (in the portal) or agent.")


class DisputeUpdate(Input):
    assignee_id: Id | None = Field(None, description="An active user of the tenant; null unassigns.")
    description: Description | None = None


class AcceptIn(Input):
    amount: MoneyModel | None = Field(
        None, description="What to credit, tax included: at most the disputed amount (default all of it).")  # fmt: skip
    resolution: Resolution


class RejectIn(Input):
    resolution: Resolution


class DisputeOut(BaseModel):
    id: str
    object: Literal["dispute"]
    customer_id: str
    invoice_id: str
    line: int
    amount: MoneyModel
    reason: Reason
    description: str | None
    status: Status
    opened_by: Literal["customer", "agent"]
    auto_resolved: bool
    assignee_id: str | None
    resolution: str | None
    credit_note_id: str | None
    credited: MoneyModel
    opened_at: datetime
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, dispute: Dispute) -> DisputeOut:
        return cls.model_validate(dispute.to_json())


class DisputeList(BaseModel):
    data: list[DisputeOut]
    has_more: bool
    next_cursor: str | None


@router.post("/invoices/{invoice_id}/disputes", status_code=201, response_model=DisputeOut)
def open_dispute(invoice_id: Id, body: DisputeCreate, ctx: Ctx, actor: Caller) -> DisputeOut:
    """Dispute a line of an open or paid invoice: accepted at once (a credit note) when the dispute
    policy calls it small, otherwise queued for an agent; its amount is not collected while it is open."""
    fields = body.model_dump(mode="json", exclude_none=True)
    return DisputeOut.of(disputes.open_dispute(ctx, actor, invoice_id, fields))


@router.get("/invoices/{invoice_id}/disputes", response_model=DisputeList)
def invoice_disputes(invoice_id: Id, ctx: Ctx, actor: Caller) -> DisputeList:
    """Every dispute of the invoice, oldest first."""
    found = [DisputeOut.of(d) for d in disputes.invoice_disputes(ctx, actor, invoice_id)]
    return DisputeList(data=found, has_more=False, next_cursor=None)


@router.get("/disputes", response_model=PageOut[DisputeOut])
def list_disputes(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    status: Annotated[Status | None, Query()] = None,
    assignee_id: Annotated[Id | None, Query()] = None,
    customer_id: Annotated[Id | None, Query()] = None,
) -> PageOut[DisputeOut]:
    """The agents' queue: oldest first, optionally of one status, assignee or customer."""
    found = disputes.list_disputes(ctx, actor, limit=limit, cursor=cursor, status_filter=status,
                                   assignee_id=assignee_id, customer_id=customer_id)  # fmt: skip
    return page_of(found, DisputeOut.of)


@router.get("/disputes/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: Id, ctx: Ctx, actor: Caller) -> DisputeOut:
    return DisputeOut.of(disputes.get_dispute(ctx, actor, dispute_id))


@router.patch("/disputes/{dispute_id}", response_model=DisputeOut)
def update_dispute(dispute_id: Id, body: DisputeUpdate, ctx: Ctx, actor: Caller) -> DisputeOut:
    """Assign an open dispute (or unassign it with null), or change its description."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    return DisputeOut.of(disputes.update_dispute(ctx, actor, dispute_id, changes))


@router.post("/disputes/{dispute_id}/accept", response_model=DisputeOut)
def accept_dispute(dispute_id: Id, body: AcceptIn, ctx: Ctx, actor: Caller) -> DisputeOut:
    """Accept an open dispute: a credit note for the amount on the line; collection resumes for the rest."""
    fields = body.model_dump(mode="json", exclude_none=True)
    return DisputeOut.of(disputes.accept_dispute(ctx, actor, dispute_id, fields))


@router.post("/disputes/{dispute_id}/reject", response_model=DisputeOut)
def reject_dispute(dispute_id: Id, body: RejectIn, ctx: Ctx, actor: Caller) -> DisputeOut:
    """Reject an open dispute: its amount is owed after all and collected again."""
    return DisputeOut.of(disputes.reject_dispute(ctx, actor, dispute_id, body.model_dump(mode="json")))


@router.get("/reports/disputes", response_model=ReportDoc, responses=RESPONSES)
def disputes_report(ctx: Ctx, actor: Caller, from_: From = None, to: To = None,
                    format: Format = "json") -> Response:  # fmt: skip
    """Per month opened and currency: disputes opened, the auto-resolved share, accepted, rejected, the
    amount credited, and the median and average hours from opening to resolution."""
    return render(disputes.disputes_report(ctx, actor, from_, to), format)
