"""Provisioning steps (issue 9): what a plan has done when a subscription starts, changes or ends — listed
and read, completed, failed or retried by hand — and a customer's onboarding status. See
docs/provisioning.md."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, PageOut, page_of
from kassa.core.provisioning import MAX_REASON, ProvisioningStep
from kassa.services import provisioning

router = APIRouter(tags=["provisioning"])

Status = Literal["pending", "done", "failed"]


class StepOut(BaseModel):
    id: str
    object: Literal["provisioning_step"]
    customer_id: str
    subscription_id: str
    plan: str
    step: str = Field(description="The step's code in the plan.")
    trigger: Literal["started", "changed", "ended"]
    action: Literal["webhook", "email", "task"]
    status: Status
    spec: dict[str, Any] = Field(description="The step as the plan defined it when it was started.")
    attempts: int = Field(description="Attempts of a webhook or email in the current round.")
    max_attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    owner_id: str | None = Field(description="A task's staff user.")
    due_at: datetime | None = Field(description="When a task is due.")
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, step: ProvisioningStep) -> StepOut:
        return cls.model_validate({"object": "provisioning_step", **step.to_json()})


class FailIn(Input):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON)] = Field(
        examples=["The customer cancelled the kickoff call."]
    )


class OnboardingOut(BaseModel):
    object: Literal["onboarding"]
    customer_id: str
    status: Literal["not_started", "in_progress", "complete", "failed"]
    pending: int
    done: int
    failed: int
    overdue_tasks: int = Field(description="Tasks still pending at or after their due time.")
    steps: list[StepOut] = Field(
        description="The steps the customer's subscriptions' starts ran, oldest first."
    )


@router.get("/provisioning_steps", response_model=PageOut[StepOut])
def list_steps(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    customer_id: Annotated[Id | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    owner_id: Annotated[Id | None, Query()] = None,
) -> PageOut[StepOut]:
    """Provisioning steps, newest first, optionally of one customer, status or task owner."""
    found = provisioning.list_steps(ctx, actor, limit=limit, cursor=cursor, customer_id=customer_id,
                                    status=status, owner_id=owner_id)  # fmt: skip
    return page_of(found, StepOut.of)


@router.get("/provisioning_steps/{step_id}", response_model=StepOut)
def get_step(step_id: Id, ctx: Ctx, actor: Caller) -> StepOut:
    return StepOut.of(provisioning.get_step(ctx, actor, step_id))


@router.post("/provisioning_steps/{step_id}/complete", response_model=StepOut)
def complete_step(step_id: Id, ctx: Ctx, actor: Caller) -> StepOut:
    """Mark a step done: a task carried out by staff, or a webhook or email step the tenant's system
    confirms (also one that failed here and was done another way)."""
    return StepOut.of(provisioning.complete_step(ctx, actor, step_id))


@router.post("/provisioning_steps/{step_id}/fail", response_model=StepOut)
def fail_step(step_id: Id, body: FailIn, ctx: Ctx, actor: Caller) -> StepOut:
    """Fail a pending step, with the reason; a pending attempt is called off."""
    return StepOut.of(provisioning.fail_step(ctx, actor, step_id, body.reason))


@router.post("/provisioning_steps/{step_id}/retry", response_model=StepOut)
def retry_step(step_id: Id, ctx: Ctx, actor: Caller) -> StepOut:
    """Give a failed webhook or email step a new round of attempts, the first now."""
    return StepOut.of(provisioning.retry_step(ctx, actor, step_id))


@router.get("/customers/{customer_id}/onboarding", response_model=OnboardingOut)
def get_onboarding(customer_id: Id, ctx: Ctx, actor: Caller) -> OnboardingOut:
    """The customer's onboarding: the steps its subscriptions' starts ran and where they stand."""
    status, steps = provisioning.get_onboarding(ctx, actor, customer_id)
    return OnboardingOut(
        object="onboarding", customer_id=customer_id, status=status.status.value, pending=status.pending,
        done=status.done, failed=status.failed, overdue_tasks=status.overdue_tasks,
        steps=[StepOut.of(s) for s in steps],
    )  # fmt: skip
