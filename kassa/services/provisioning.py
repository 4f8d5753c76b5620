"""Provisioning (issue 9): when a subscription starts, changes or ends, the steps its plan defines for that
are started — a signed webhook to the tenant's systems, an email, a task for a staff user — and tracked to
done or failed, webhooks and emails with retries. A customer's onboarding status follows from the steps
its subscriptions' starts ran. See docs/provisioning.md.

Steps are started by a hook on the outbox, in the transaction of the subscription's change, so a change
that rolls back starts nothing. "Now" is the customer's present (its test clock, or the system clock).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from kassa.adapters.mail.base import MailDeferred, MailRejected, NoMailer, OutgoingEmail, message_id_domain
from kassa.core.audit import Actor, system_actor
from kassa.core.errors import DomainError
from kassa.core.events import Event, EventType
from kassa.core.jobs import Job
from kassa.core.pages import Page, check_limit
from kassa.core.provisioning import (
    Action,
    Onboarding,
    ProvisioningStep,
    Step,
    StepStatus,
    Trigger,
    attempted,
    completed,
    failed,
    onboarding,
    retried,
    steps_for,
)
from kassa.services import audit, catalog, events, jobs, webhooks
from kassa.services.context import ServiceContext
from kassa.services.customers import now_for
from kassa.store.uow import UnitOfWork

ATTEMPT_JOB = "provisioning.attempt"
NO_MAILER = "no SMTP server configured"
WEBHOOK_TYPE = "provisioning.step"
ACTOR = "provisioning"

# ---- starting steps on subscription events -------------------------------------------------------------

_STARTS = {"subscription.activated", "subscription.trial_started"}
_ENDS = {"subscription.canceled", "subscription.ended"}


def trigger_of(event: Event) -> Trigger | None:
    """What a subscription event means for provisioning. A new subscription is `created` while pending, then
    `activated` or `trial_started` from pending on its first day (at once, or on a future start date): that
    is its start, once. `activated` again later (after past due) is no start. `canceled` and `ended` are
    when the end took effect (a cancellation scheduled for later emits `change_scheduled` only); a
    subscription canceled before it ever started ends nothing."""
    data = event.data
    status = (data.get("object") or {}).get("status")
    previous = data.get("previous_status")
    if event.type == EventType.SUBSCRIPTION_CREATED:
        return Trigger.STARTED if status in ("active", "trialing") else None
    if event.type in _STARTS:
        return Trigger.STARTED if previous == "pending" else None
    if event.type == EventType.SUBSCRIPTION_CHANGED:
        return Trigger.CHANGED
    if event.type in _ENDS:
        return Trigger.ENDED if previous not in (None, "pending") else None
    return None


def _on_event(ctx: ServiceContext, uow: UnitOfWork, event: Event) -> None:
    if event.object_type != "subscription" or event.customer_id is None:
        return
    trigger = trigger_of(event)
    if trigger is None:
        return
    sub = event.data["object"]
    if trigger is not Trigger.CHANGED and uow.provisioning_steps.exists(event.tenant_id, sub["id"], trigger):
        return  # a subscription starts and ends once
    at = event.occurred_at
    # The plan after the change: a move to another plan runs the new plan's `changed` steps.
    for spec in steps_for(catalog.versions(uow, event.tenant_id), sub["plan"], trigger, at):
        if uow.provisioning_steps.exists(event.tenant_id, sub["id"], trigger, step=spec.code, created_at=at):
            continue  # two changes at the same instant run the plan's steps once
        _start(ctx, uow, event, sub, spec, trigger, at)


if _on_event not in events.ON_EMIT:
    events.ON_EMIT.append(_on_event)


def _start(ctx: ServiceContext, uow: UnitOfWork, event: Event, sub: dict[str, Any], spec: Step,
           trigger: Trigger, at: datetime) -> None:  # fmt: skip
    assert event.customer_id is not None
    step = ProvisioningStep(
        tenant_id=event.tenant_id, id=ctx.new_id("prv"), customer_id=event.customer_id, subscription_id=sub["id"],
        plan=sub["plan"], trigger=trigger, spec=spec, created_at=at, updated_at=at,
    )  # fmt: skip
    if spec.action is Action.TASK:
        assert spec.owner is not None and spec.due_in_hours is not None
        owner = uow.provisioning_steps.active_user_id(event.tenant_id, spec.owner)
        step = replace(step, owner_id=owner, due_at=at + timedelta(hours=spec.due_in_hours))
    else:
        step = replace(step, next_attempt_at=at)
    actor = system_actor(event.tenant_id, ACTOR)
    # announced as started, then (no one to own the task) as failed: the timeline shows both
    _announce(ctx, uow, actor, EventType.PROVISIONING_STEP_CREATED, None, step, at)
    if spec.action is Action.TASK and step.owner_id is None:
        unowned = failed(step, f"No active staff user {spec.owner} to own the task.", at)
        _announce(ctx, uow, actor, EventType.PROVISIONING_STEP_FAILED, step, unowned, at)
        step = unowned
    uow.provisioning_steps.add(step)
    if step.next_attempt_at is not None:
        _schedule(ctx, uow, step)


def _announce(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, event: EventType,
              before: ProvisioningStep | None, after: ProvisioningStep, at: datetime) -> None:  # fmt: skip
    audit.changed(ctx, uow, actor, event, object_type="provisioning_step", object_id=after.id,
                  before=None if before is None else before.to_json(), after=after.to_json(), at=at,
                  customer_id=after.customer_id)  # fmt: skip


def _schedule(ctx: ServiceContext, uow: UnitOfWork, step: ProvisioningStep) -> None:
    """The job of the step's next attempt. It carries the attempt it is for: a job the step has moved on
    from (done or failed by hand, retried) finds another state and does nothing. A fresh dedupe key per
    attempt: it is scheduled in the transaction that records the one before, so never twice, while a key
    of (step, attempt) would collide with a done job after a retry by hand at the same test-clock instant."""
    assert step.next_attempt_at is not None
    jobs.schedule(ctx, uow, step.tenant_id, ATTEMPT_JOB, step.next_attempt_at,
                  dedupe_key=f"{step.id}:{ctx.new_id('try')}", customer_id=step.customer_id,
                  payload={"step_id": step.id, "attempts": step.attempts,
                           "at": step.next_attempt_at.isoformat()})  # fmt: skip


# ---- attempts of webhooks and emails -------------------------------------------------------------------


@jobs.handles(ATTEMPT_JOB)
def _attempt(ctx: ServiceContext, uow: UnitOfWork, job: Job, now: datetime) -> None:
    step = uow.provisioning_steps.get(job.tenant_id, job.payload["step_id"], for_update=True)
    current = (step.status is StepStatus.PENDING and step.attempts == job.payload["attempts"]
               and step.next_attempt_at is not None and step.next_attempt_at.isoformat() == job.payload["at"])  # fmt: skip
    if not current:
        return
    if step.action is Action.WEBHOOK:
        error, permanent = _send_webhook(ctx, uow, step), False
    else:
        error, permanent = _send_email(ctx, uow, step, now)
    after = attempted(step, error=error, permanent=permanent, at=now)
    uow.provisioning_steps.update(after)
    actor = system_actor(step.tenant_id, ACTOR)
    if after.status is StepStatus.DONE:
        _announce(ctx, uow, actor, EventType.PROVISIONING_STEP_COMPLETED, step, after, now)
    elif after.status is StepStatus.FAILED:
        _announce(ctx, uow, actor, EventType.PROVISIONING_STEP_FAILED, step, after, now)
    else:
        _schedule(ctx, uow, after)


def signing_endpoint_secret(uow: UnitOfWork, tenant_id: str, url: str) -> str | None:
    """The secret a provisioning webhook to `url` is signed with: that of the tenant's oldest enabled webhook
    endpoint on the same origin (scheme, host and port), which the tenant's system there already verifies
    kassa's webhooks with. An endpoint elsewhere is never used: whoever runs it could sign requests to this
    system as kassa."""
    origin = _origin(url)
    same = [e for e in uow.webhook_endpoints.enabled(tenant_id) if _origin(e.url) == origin]
    return min(same, key=lambda e: (e.created_at, e.id)).secret if same else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def webhook_body(uow: UnitOfWork, step: ProvisioningStep) -> dict[str, Any]:
    sub = uow.subscriptions.get(step.tenant_id, step.subscription_id)
    customer = uow.customers.get(step.tenant_id, step.customer_id)
    return {"type": WEBHOOK_TYPE, "step": step.step, "trigger": step.trigger.value, "step_id": step.id,
            "plan": step.plan, "subscription": sub.to_json(), "customer": customer.to_json()}  # fmt: skip


def _send_webhook(ctx: ServiceContext, uow: UnitOfWork, step: ProvisioningStep) -> str | None:
    url = step.spec.url
    assert url is not None
    secret = signing_endpoint_secret(uow, step.tenant_id, url)
    if secret is None:
        scheme, host, port = _origin(url)
        return (f"No webhook endpoint on {scheme}://{host}:{port} to sign with: add one there "
                "(POST /v1/webhook_endpoints), then retry the step.")  # fmt: skip
    settings = uow.tenants.get(step.tenant_id).settings
    result = ctx.webhooks.send(
        url=url, secret=secret,
        message_id=step.id,  # the same for every attempt, so the receiver can drop a repeat
        timestamp=ctx.clock.now(),  # real time, also on a test clock: receivers reject stale signatures
        payload=json.dumps(webhook_body(uow, step), separators=(",", ":")).encode(),
        allowed_networks=webhooks.allowed_networks(ctx, settings.webhook_allowed_networks),
    )  # fmt: skip
    return None if result.ok else result.error or "not delivered"


def _send_email(
    ctx: ServiceContext, uow: UnitOfWork, step: ProvisioningStep, now: datetime
) -> tuple[str | None, bool]:
    """(error, permanent): a temporary failure (server down, 4xx) is retried; a bounce, no recipient or no
    SMTP server at all fails the step."""
    spec = step.spec
    assert spec.to is not None and spec.subject is not None and spec.body is not None
    if isinstance(ctx.mailer, NoMailer):
        return NO_MAILER, True
    if spec.to == "customer":
        recipients = uow.customers.get(step.tenant_id, step.customer_id).emails
        if not recipients:
            return "The customer has no billing email.", True
    else:
        recipients = (spec.to,)
    domain = message_id_domain(ctx.settings.mail_from)
    try:
        email = OutgoingEmail(
            sender=ctx.settings.mail_from, to=tuple(recipients), subject=spec.subject, text=spec.body,
            message_id=f"<{step.id}@{domain}>",  # the same for every attempt: a copy can be dropped
            headers={"Date": format_datetime(now), "Auto-Submitted": "auto-generated"},
        )  # fmt: skip
        ctx.mailer.send(email)
    except MailDeferred as error:
        return f"Deferred: {error}", False
    except MailRejected as bounce:
        return f"Rejected ({bounce.code}): {bounce}", True
    except ValueError as error:
        return f"Not sent: {error}", True
    return None, False


# ---- by hand -------------------------------------------------------------------------------------------


def _load(
    ctx: ServiceContext, uow: UnitOfWork, actor: Actor, step_id: str
) -> tuple[ProvisioningStep, datetime]:
    step = uow.provisioning_steps.get(actor.tenant_id, step_id, for_update=True)
    return step, now_for(ctx, uow, uow.customers.get(actor.tenant_id, step.customer_id))


def complete_step(ctx: ServiceContext, actor: Actor, step_id: str) -> ProvisioningStep:
    """A task done by staff, or a webhook or email step the tenant's system confirms (also a failed one
    that was done another way)."""
    with ctx.uow() as uow:
        step, now = _load(ctx, uow, actor, step_id)
        after = completed(step, now)
        uow.provisioning_steps.update(after)
        _announce(ctx, uow, actor, EventType.PROVISIONING_STEP_COMPLETED, step, after, now)
        uow.commit()
    return after


def fail_step(ctx: ServiceContext, actor: Actor, step_id: str, reason: Any) -> ProvisioningStep:
    """A pending step that cannot be done, with the reason; its pending attempt (if any) does nothing."""
    with ctx.uow() as uow:
        step, now = _load(ctx, uow, actor, step_id)
        after = failed(step, reason, now)
        uow.provisioning_steps.update(after)
        _announce(ctx, uow, actor, EventType.PROVISIONING_STEP_FAILED, step, after, now)
        uow.commit()
    return after


def retry_step(ctx: ServiceContext, actor: Actor, step_id: str) -> ProvisioningStep:
    """A failed webhook or email step gets a new round of attempts, the first now."""
    with ctx.uow() as uow:
        step, now = _load(ctx, uow, actor, step_id)
        after = retried(step, now)
        uow.provisioning_steps.update(after)
        audit.record(ctx, uow, actor, "provisioning_step.retried", object_type="provisioning_step",
                     object_id=step.id, before=step.to_json(), after=after.to_json(), at=now)  # fmt: skip
        _schedule(ctx, uow, after)
        uow.commit()
    return after


# ---- reads ---------------------------------------------------------------------------------------------


def get_step(ctx: ServiceContext, actor: Actor, step_id: str) -> ProvisioningStep:
    with ctx.uow(read_only=True) as uow:
        return uow.provisioning_steps.get(actor.tenant_id, step_id)


def _status(value: str | None) -> StepStatus | None:
    if value is None:
        return None
    try:
        return StepStatus(value)
    except ValueError:
        raise DomainError("invalid_status", "status is pending, done or failed.", "status") from None


def list_steps(ctx: ServiceContext, actor: Actor, *, limit: int, cursor: str | None, customer_id: str | None = None,
               status: str | None = None, owner_id: str | None = None) -> Page[ProvisioningStep]:  # fmt: skip
    """The tenant's steps, newest first, optionally of one customer, status or task owner."""
    check_limit(limit)
    wanted = _status(status)
    with ctx.uow(read_only=True) as uow:
        return uow.provisioning_steps.list(actor.tenant_id, limit=limit, cursor=cursor, customer_id=customer_id,
                                           status=wanted, owner_id=owner_id)  # fmt: skip


def get_onboarding(
    ctx: ServiceContext, actor: Actor, customer_id: str
) -> tuple[Onboarding, list[ProvisioningStep]]:
    """The customer's onboarding (from the steps its subscriptions' starts ran) and those steps, oldest
    first, judged at the customer's present."""
    with ctx.uow(read_only=True) as uow:
        customer = uow.customers.get(actor.tenant_id, customer_id)
        steps = [s for s in uow.provisioning_steps.of_customer(actor.tenant_id, customer_id)
                 if s.trigger is Trigger.STARTED]  # fmt: skip
        return onboarding(steps, now_for(ctx, uow, customer)), steps
