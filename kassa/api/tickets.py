"""Support tickets and SLA policies (issue 9): policies by code, tickets with their SLA deadlines, staff
responses, status changes and time logged as a cost to serve. See docs/support.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.costs import CostOut
from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.reports import RESPONSES, Format, From, ReportDoc, To, render
from kassa.api.schemas import Id, Input, MoneyModel, PageOut, Text200, page_of
from kassa.core.business_hours import MAX_HOLIDAYS, MAX_INTERVALS_PER_DAY, MAX_TARGET_MINUTES
from kassa.core.cost_to_serve import MAX_DESCRIPTION as MAX_COST_DESCRIPTION
from kassa.core.support import MAX_DESCRIPTION, MAX_LOGGED_MINUTES, MAX_SUBJECT, SlaPolicy, Ticket
from kassa.services import sla_attainment, support

router = APIRouter(tags=["support"])

Channel = Literal["email", "phone", "chat", "web", "social"]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "pending", "solved", "closed"]
Day = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PolicyCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="The policy's code, chosen by the tenant.",
    ),
]
Clock = Annotated[str, StringConstraints(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")]
Minutes = Annotated[int, Field(ge=0, le=MAX_TARGET_MINUTES)]


class IntervalIn(Input):
    start: Clock = Field(examples=["09:00"])
    end: Clock = Field(examples=["17:00"])


class CalendarIn(Input):
    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        examples=["Europe/Berlin"]
    )
    hours: dict[Day, Annotated[list[IntervalIn], Field(max_length=MAX_INTERVALS_PER_DAY)]]
    holidays: Annotated[list[Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]],
                        Field(max_length=MAX_HOLIDAYS)] = []  # fmt: skip


class TargetIn(Input):
    first_response_minutes: Minutes
    resolution_minutes: Minutes


class SlaPolicyIn(Input):
    name: Text200
    calendar: CalendarIn
    targets: dict[Priority, TargetIn] = Field(description="Targets in business minutes for every priority.")
    warn_percent: Annotated[int, Field(ge=0, le=100)] | None = Field(
        None, description="Warn when this share of a target has passed (default 80).")  # fmt: skip
    cost_per_hour: MoneyModel | None = Field(None, description="Prices the time logged on tickets.")


class SlaPolicyOut(BaseModel):
    object: Literal["sla_policy"]
    code: str
    name: str
    calendar: dict[str, Any]
    targets: dict[Priority, TargetIn]
    warn_percent: int
    cost_per_hour: MoneyModel | None

    @classmethod
    def of(cls, policy: SlaPolicy) -> SlaPolicyOut:
        return cls.model_validate({"object": "sla_policy", "code": policy.code, **policy.to_doc()})


class SlaPolicyList(BaseModel):
    data: list[SlaPolicyOut]
    has_more: bool
    next_cursor: str | None


class TicketCreate(Input):
    customer_id: Id
    subject: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT)]
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)] | None = None
    channel: Channel
    priority: Priority = "normal"
    sla_policy: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="The code of the SLA policy whose targets apply; none: no deadlines.")  # fmt: skip
    assignee_id: Id | None = Field(None, description="An active user of the tenant.")


class TicketUpdate(Input):
    status: Status | None = None
    priority: Priority | None = Field(None, description="Recomputes the deadlines from opened_at.")
    assignee_id: Id | None = Field(None, description="An active user of the tenant; null unassigns.")
    subject: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT)] | None = None


class ResponseIn(Input):
    message: Annotated[str, StringConstraints(min_length=1, max_length=support.MAX_MESSAGE)]


class TimeIn(Input):
    minutes: Annotated[int, Field(ge=1, le=MAX_LOGGED_MINUTES)]
    description: Annotated[str, StringConstraints(max_length=MAX_COST_DESCRIPTION)] | None = None


class TicketOut(BaseModel):
    id: str
    object: Literal["ticket"]
    customer_id: str
    subject: str
    description: str | None
    channel: Channel
    priority: Priority
    status: Status
    assignee_id: str | None
    sla_policy: str | None
    opened_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    first_response_breached: bool
    resolution_breached: bool
    minutes_spent: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        return cls.model_validate(ticket.to_json())


@router.put("/sla_policies/{policy_code}", response_model=SlaPolicyOut)
def put_sla_policy(policy_code: PolicyCode, body: SlaPolicyIn, ctx: Ctx, actor: Caller) -> SlaPolicyOut:
    """Create or replace an SLA policy: targets per priority in business hours, warnings, a cost rate."""
    doc = body.model_dump(mode="json", exclude_none=True)
    return SlaPolicyOut.of(support.put_sla_policy(ctx, actor, policy_code, doc))


@router.get("/sla_policies/{policy_code}", response_model=SlaPolicyOut)
def get_sla_policy(policy_code: PolicyCode, ctx: Ctx, actor: Caller) -> SlaPolicyOut:
    return SlaPolicyOut.of(support.get_sla_policy(ctx, actor, policy_code))


@router.get("/sla_policies", response_model=SlaPolicyList)
def list_sla_policies(ctx: Ctx, actor: Caller) -> SlaPolicyList:
    """Every policy of the tenant, by code."""
    found = [SlaPolicyOut.of(p) for p in support.list_sla_policies(ctx, actor)]
    return SlaPolicyList(data=found, has_more=False, next_cursor=None)


@router.post("/tickets", status_code=201, response_model=TicketOut)
def create_ticket(body: TicketCreate, ctx: Ctx, actor: Caller) -> TicketOut:
    """Open a ticket; with an SLA policy its deadlines are set and breach warnings scheduled."""
    return TicketOut.of(support.create_ticket(ctx, actor, body.model_dump(exclude_none=True)))


@router.get("/tickets", response_model=PageOut[TicketOut])
def list_tickets(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    customer_id: Annotated[Id | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    assignee_id: Annotated[Id | None, Query()] = None,
) -> PageOut[TicketOut]:
    """Tickets, newest first, optionally of one customer, status or assignee."""
    found = support.list_tickets(ctx, actor, limit=limit, cursor=cursor, customer_id=customer_id,
                                 status_filter=status, assignee_id=assignee_id)  # fmt: skip
    return page_of(found, TicketOut.of)


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: Id, ctx: Ctx, actor: Caller) -> TicketOut:
    return TicketOut.of(support.get_ticket(ctx, actor, ticket_id))


@router.patch("/tickets/{ticket_id}", response_model=TicketOut)
def update_ticket(ticket_id: Id, body: TicketUpdate, ctx: Ctx, actor: Caller) -> TicketOut:
    """Change status (solved sets resolved_at), priority (new deadlines), assignee or subject."""
    return TicketOut.of(support.update_ticket(ctx, actor, ticket_id, body.model_dump(exclude_unset=True)))


@router.post("/tickets/{ticket_id}/responses", response_model=TicketOut)
def respond(ticket_id: Id, body: ResponseIn, ctx: Ctx, actor: Caller) -> TicketOut:
    """A staff response: the first one meets (or misses) the first-response target."""
    return TicketOut.of(support.respond(ctx, actor, ticket_id, body.model_dump()))


@router.post("/tickets/{ticket_id}/time", status_code=201, response_model=CostOut)
def log_time(ticket_id: Id, body: TimeIn, ctx: Ctx, actor: Caller) -> CostOut:
    """Log time spent on the ticket: a support cost to serve at the policy's hourly rate."""
    _, entry = support.log_time(ctx, actor, ticket_id, body.model_dump(exclude_none=True))
    return CostOut.of(entry)


@router.get("/reports/sla_attainment", response_model=ReportDoc, responses=RESPONSES)
def sla_attainment_report(ctx: Ctx, actor: Caller, from_: From = None, to: To = None,
                          format: Format = "json") -> Response:  # fmt: skip
    """Per month opened and priority: first-response and resolution targets met, breached and running,
    the attainment share, and the median working minutes to each."""
    return render(sla_attainment.sla_attainment_report(ctx, actor, from_, to), format)
