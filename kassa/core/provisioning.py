"""Provisioning: what a plan has done, outside kassa, when a subscription to it starts, changes or ends.
Each step is a webhook to the tenant's systems, an email, or a manual task for a staff user with a due
time; the service tracks each to done or failed, with retries.

Catalog shape (on a plan):
  provisioning:
    - {code: create-workspace, on: [started], webhook: {url: "https://ops.example.com/provision"}}
    - {code: send-welcome-pack, on: [started], email: {to: customer, subject: "...", body: "..."}}
    - {code: kickoff-call, on: [started, changed], task: {owner: ops@example.com, due_in_hours: 48}}
    - max_attempts?: 1..20 (default 5): attempts of a webhook or an email before the step fails

The rest is the life of one step run for one subscription (`ProvisioningStep`): pending until done or
failed, the retry schedule of its attempts, and a customer's onboarding status from its steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from kassa.core.errors import Conflict, DomainError

CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
# scheme://host[:port] and an optional path, query or fragment; no credentials (receivers check signatures)
URL = re.compile(r"https?://(\[[0-9a-f:.]+\]|[^/?#@\s:\[\]]+)(:[0-9]{1,5})?([/?#]\S*)?", re.IGNORECASE)
MAX_STEPS = 50
MAX_ATTEMPTS = 20
DEFAULT_ATTEMPTS = 5
MAX_DUE_HOURS = 24 * 365


class Trigger(StrEnum):
    STARTED = "started"
    CHANGED = "changed"
    ENDED = "ended"


class Action(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    TASK = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    code: str
    on: frozenset[Trigger]
    action: Action
    url: str | None = None  # webhook
    to: str | None = None  # email: "customer" (the billing email) or an address
    subject: str | None = None  # email
    body: str | None = None  # email; a task's description
    owner: str | None = None  # task: the staff user's email
    due_in_hours: int | None = None  # task
    max_attempts: int = DEFAULT_ATTEMPTS

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"code": self.code, "on": sorted(t.value for t in self.on)}
        if self.action is Action.WEBHOOK:
            doc["webhook"] = {"url": self.url}
        elif self.action is Action.EMAIL:
            doc["email"] = {"to": self.to, "subject": self.subject, "body": self.body}
        else:
            doc["task"] = {"owner": self.owner, "due_in_hours": self.due_in_hours,
                           **({"description": self.body} if self.body else {})}  # fmt: skip
        if self.max_attempts != DEFAULT_ATTEMPTS:
            doc["max_attempts"] = self.max_attempts
        return doc


def _fail(path: str, message: str) -> DomainError:
    return DomainError("invalid_provisioning", message, path)


def _object(value: Any, path: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "Expected an object.")
    for key in value:
        if key not in required | optional:
            raise _fail(f"{path}.{key}", f"Unknown field {key!r}.")
    for key in sorted(required):
        if key not in value:
            raise _fail(f"{path}.{key}", f"{key} is required.")
    return value


def _text(value: Any, path: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _fail(path, f"Expected text of 1 to {limit} characters.")
    return value.strip()


def _step(value: Any, path: str) -> Step:
    actions = {a.value for a in Action}
    body = _object(value, path, {"code", "on"}, actions | {"max_attempts"})
    code = body["code"]
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise _fail(f"{path}.code", "A step code is 1 to 64 lowercase letters, digits, '.', '_' or '-'.")
    on = body["on"]
    if not isinstance(on, list) or not on or any(t not in {x.value for x in Trigger} for t in on):
        raise _fail(f"{path}.on", "on lists when the step runs: started, changed, ended.")
    chosen = [a for a in actions if a in body]
    if len(chosen) != 1:
        raise _fail(path, "A step is exactly one of webhook, email or task.")
    action = Action(chosen[0])
    attempts = body.get("max_attempts", DEFAULT_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise _fail(f"{path}.max_attempts", f"A whole number from 1 to {MAX_ATTEMPTS}.")
    where = f"{path}.{action.value}"
    common: dict[str, Any] = {"code": code, "on": frozenset(Trigger(t) for t in on), "action": action,
                              "max_attempts": attempts}  # fmt: skip
    if action is Action.WEBHOOK:
        spec = _object(body["webhook"], where, {"url"}, set())
        url = _text(spec["url"], f"{where}.url", 2000)
        if not URL.fullmatch(url):
            raise _fail(f"{where}.url", "An http(s) URL of the tenant's system.")
        return Step(url=url, **common)
    if action is Action.EMAIL:
        spec = _object(body["email"], where, {"to", "subject", "body"}, set())
        to = _text(spec["to"], f"{where}.to", 320)
        if to != "customer" and not EMAIL.fullmatch(to):
            raise _fail(f"{where}.to", "customer (the billing email) or an email address.")
        return Step(to=to, subject=_text(spec["subject"], f"{where}.subject", 300),
                    body=_text(spec["body"], f"{where}.body", 20_000), **common)  # fmt: skip
    spec = _object(body["task"], where, {"owner", "due_in_hours"}, {"description"})
    owner = _text(spec["owner"], f"{where}.owner", 320)
    if not EMAIL.fullmatch(owner):
        raise _fail(f"{where}.owner", "The email of the staff user who owns the task.")
    due = spec["due_in_hours"]
    if isinstance(due, bool) or not isinstance(due, int) or not 1 <= due <= MAX_DUE_HOURS:
        raise _fail(f"{where}.due_in_hours", f"A whole number of hours from 1 to {MAX_DUE_HOURS}.")
    description = spec.get("description")
    return Step(owner=owner, due_in_hours=due,
                body=None if description is None else _text(description, f"{where}.description", 5000),
                **common)  # fmt: skip


def parse_steps(value: Any, path: str) -> tuple[Step, ...]:
    """A plan's `provisioning`: its steps in order, codes unique."""
    if not isinstance(value, list) or len(value) > MAX_STEPS:
        raise _fail(path, f"Expected a list of up to {MAX_STEPS} steps.")
    steps: list[Step] = []
    for i, item in enumerate(value):
        step = _step(item, f"{path}.{i}")
        if any(s.code == step.code for s in steps):
            raise _fail(f"{path}.{i}.code", f"The step code {step.code!r} is already used in this plan.")
        steps.append(step)
    return tuple(steps)


# What steps_for reads of a catalog version (kassa.core.catalog.CatalogVersion): described here, as
# core.catalog imports this module to parse a plan's steps.
class _Plan(Protocol):
    @property
    def provisioning(self) -> tuple[Step, ...]: ...


class _Catalog(Protocol):
    @property
    def plans(self) -> Mapping[str, _Plan]: ...


class _Version(Protocol):
    @property
    def effective_at(self) -> datetime: ...

    @property
    def catalog(self) -> _Catalog: ...


def step_from_doc(doc: Any) -> Step:
    """A step as stored with a run of it (`spec`): the plan's definition when the run was started."""
    return _step(doc, "spec")


def steps_for(versions: Sequence[_Version], plan: str, trigger: Trigger, at: datetime) -> tuple[Step, ...]:
    """The steps of `plan` that run on `trigger` at `at`: the plan as the catalog version in effect then
    defines it; a plan the newest version dropped keeps the definition of the last version that had it,
    and a back-dated one before its first version takes that first version's."""
    having = [v for v in versions if plan in v.catalog.plans]
    if not having:
        return ()
    current = [v for v in having if v.effective_at <= at]
    version = current[-1] if current else having[0]
    return tuple(s for s in version.catalog.plans[plan].provisioning if trigger in s.on)


# ---- a run of a step -----------------------------------------------------------------------------------


class StepStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


# The wait after each failed attempt of a webhook or an email: quick at first (a receiver restarting),
# then longer (an outage), at most 12 h apart, so the default 5 attempts span 2 h 36 min and 20 attempts
# about a week.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
LONGEST_DELAY = timedelta(hours=12)
MAX_REASON = 1000


def retry_delay(failed_attempts: int) -> timedelta:
    """How long after the `failed_attempts`-th failed attempt the next one is made."""
    if failed_attempts < 1:
        raise ValueError(f"failed_attempts must be >= 1, got {failed_attempts}")
    return RETRY_DELAYS[failed_attempts - 1] if failed_attempts <= len(RETRY_DELAYS) else LONGEST_DELAY


def next_attempt_at(failed_attempts: int, max_attempts: int, failed_at: datetime) -> datetime | None:
    """When the next attempt is due after `failed_attempts` failed ones, the last at `failed_at` (anchored to
    the attempt actually made, so a late worker does not bunch the rest); None once none are left."""
    if failed_attempts >= max_attempts:
        return None
    return failed_at + retry_delay(failed_attempts)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvisioningStep:
    tenant_id: str
    id: str
    customer_id: str
    subscription_id: str
    plan: str
    trigger: Trigger
    spec: Step
    status: StepStatus = StepStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    owner_id: str | None = None
    due_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def step(self) -> str:
        return self.spec.code

    @property
    def action(self) -> Action:
        return self.spec.action

    def to_json(self) -> dict[str, Any]:
        def at(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "id": self.id, "customer_id": self.customer_id, "subscription_id": self.subscription_id,
            "plan": self.plan, "step": self.step, "trigger": self.trigger.value, "action": self.action.value,
            "status": self.status.value, "spec": self.spec.to_doc(), "attempts": self.attempts,
            "max_attempts": self.spec.max_attempts, "next_attempt_at": at(self.next_attempt_at),
            "last_error": self.last_error, "owner_id": self.owner_id, "due_at": at(self.due_at),
            "completed_at": at(self.completed_at), "created_at": at(self.created_at),
            "updated_at": at(self.updated_at),
        }  # fmt: skip


def attempted(
    step: ProvisioningStep, *, error: str | None, permanent: bool = False, at: datetime
) -> ProvisioningStep:
    """A webhook or email attempt made at `at`: done without an error; else retried on the schedule, or
    failed when the error is permanent (a bounce) or it was the last attempt."""
    attempts = step.attempts + 1
    if error is None:
        return replace(step, status=StepStatus.DONE, attempts=attempts, next_attempt_at=None,
                       last_error=None, completed_at=at, updated_at=at)  # fmt: skip
    retry_at = None if permanent else next_attempt_at(attempts, step.spec.max_attempts, at)
    return replace(step, status=StepStatus.PENDING if retry_at else StepStatus.FAILED, attempts=attempts,
                   next_attempt_at=retry_at, last_error=error[:MAX_REASON], updated_at=at)  # fmt: skip


def completed(step: ProvisioningStep, at: datetime) -> ProvisioningStep:
    """Done by hand: a task carried out, or a webhook or email step the tenant's system confirms (also
    after it failed here: it was done another way)."""
    if step.status is StepStatus.DONE:
        raise Conflict("step_done", f"Step {step.id} is already done.", None)
    return replace(step, status=StepStatus.DONE, next_attempt_at=None, completed_at=at, updated_at=at)


def failed(step: ProvisioningStep, reason: Any, at: datetime) -> ProvisioningStep:
    """Failed by hand, with the reason people will read: a pending step only."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise DomainError("invalid_reason", f"A reason of 1 to {MAX_REASON} characters.", "reason")
    if step.status is not StepStatus.PENDING:
        raise Conflict(f"step_{step.status.value}", f"Step {step.id} is already {step.status.value}.", None)
    return replace(step, status=StepStatus.FAILED, next_attempt_at=None, last_error=reason.strip(),
                   updated_at=at)  # fmt: skip


def retried(step: ProvisioningStep, at: datetime) -> ProvisioningStep:
    """A failed webhook or email step gets a new round of max_attempts, the first at `at`."""
    if step.action is Action.TASK:
        raise Conflict("step_not_retryable", "A task is not retried: complete it once it is done.", None)
    if step.status is not StepStatus.FAILED:
        raise Conflict("step_not_failed", f"Only a failed step is retried; {step.id} is {step.status.value}.",
                       None)  # fmt: skip
    return replace(step, status=StepStatus.PENDING, attempts=0, next_attempt_at=at, updated_at=at)


def is_overdue(step: ProvisioningStep, now: datetime) -> bool:
    """A task still pending at or after its due time."""
    return step.status is StepStatus.PENDING and step.due_at is not None and step.due_at <= now


# ---- onboarding ----------------------------------------------------------------------------------------


class OnboardingStatus(StrEnum):
    NOT_STARTED = "not_started"  # no provisioning step was started for the customer
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"  # every step done
    FAILED = "failed"  # a step failed: someone has to act


@dataclass(frozen=True, slots=True, kw_only=True)
class Onboarding:
    status: OnboardingStatus
    pending: int
    done: int
    failed: int
    overdue_tasks: int


def onboarding(steps: Iterable[ProvisioningStep], now: datetime) -> Onboarding:
    """A customer's onboarding from the steps its subscriptions' starts ran: a failed step outweighs the
    pending ones (it needs someone), complete once every step is done."""
    started = [s for s in steps if s.trigger is Trigger.STARTED]
    count = {status: sum(1 for s in started if s.status is status) for status in StepStatus}
    if not started:
        status = OnboardingStatus.NOT_STARTED
    elif count[StepStatus.FAILED]:
        status = OnboardingStatus.FAILED
    elif count[StepStatus.PENDING]:
        status = OnboardingStatus.IN_PROGRESS
    else:
        status = OnboardingStatus.COMPLETE
    return Onboarding(
        status=status, pending=count[StepStatus.PENDING], done=count[StepStatus.DONE],
        failed=count[StepStatus.FAILED], overdue_tasks=sum(1 for s in started if is_overdue(s, now)),
    )  # fmt: skip
