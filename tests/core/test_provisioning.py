"""Provisioning rules (issue 9): a plan's steps parsed from the catalog, which version's steps run, the retry
schedule of webhook and email attempts with exact instants, what completing, failing and retrying by hand
may do, and a customer's onboarding status from its steps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kassa.core.catalog import CatalogVersion, parse_catalog
from kassa.core.errors import Conflict, DomainError
from kassa.core.provisioning import (
    Action,
    OnboardingStatus,
    ProvisioningStep,
    StepStatus,
    Trigger,
    attempted,
    completed,
    failed,
    is_overdue,
    next_attempt_at,
    onboarding,
    parse_steps,
    retried,
    retry_delay,
    step_from_doc,
    steps_for,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEBHOOK: dict[str, Any] = {
    "code": "create-workspace",
    "on": ["started"],
    "webhook": {"url": "https://ops.example.com/provision"},
}
EMAIL: dict[str, Any] = {
    "code": "welcome",
    "on": ["started"],
    "email": {"to": "customer", "subject": "Welcome", "body": "Hi!"},
}
TASK: dict[str, Any] = {
    "code": "kickoff-call",
    "on": ["started", "changed"],
    "task": {"owner": "ops@example.com", "due_in_hours": 48},
}


def run(doc: dict[str, Any], **fields: Any) -> ProvisioningStep:
    values: dict[str, Any] = {"tenant_id": "ten_1", "id": "prv_1", "customer_id": "cus_1", "subscription_id": "sub_1",
                              "plan": "team", "trigger": Trigger.STARTED, "spec": step_from_doc(doc),
                              "next_attempt_at": T0, "created_at": T0, "updated_at": T0}  # fmt: skip
    return ProvisioningStep(**(values | fields))


# ---- the catalog field -----------------------------------------------------------------------------------


def test_steps_parse_in_order_and_round_trip_through_their_doc() -> None:
    steps = parse_steps([WEBHOOK, EMAIL, {**TASK, "max_attempts": 3}], "plan.provisioning")
    assert [(s.code, s.action) for s in steps] == [
        ("create-workspace", Action.WEBHOOK), ("welcome", Action.EMAIL), ("kickoff-call", Action.TASK)]  # fmt: skip
    assert steps[2].on == frozenset({Trigger.STARTED, Trigger.CHANGED})
    assert (steps[2].owner, steps[2].due_in_hours, steps[2].max_attempts) == ("ops@example.com", 48, 3)
    assert [step_from_doc(s.to_doc()) for s in steps] == list(steps)
    for url in ("http://127.0.0.1:8080/hooks?x=1", "https://[::1]/p", "HTTPS://Ops.Example.com"):
        assert parse_steps([{**WEBHOOK, "webhook": {"url": url}}], "p")[0].url == url
    assert steps[0].to_doc() == {"code": "create-workspace", "on": ["started"],
                                 "webhook": {"url": "https://ops.example.com/provision"}}  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({**WEBHOOK, "email": EMAIL["email"]}, "p.0"),  # two actions
        ({"code": "x", "on": ["started"]}, "p.0"),  # none
        ({**WEBHOOK, "on": ["renewed"]}, "p.0.on"),
        ({**WEBHOOK, "webhook": {"url": "ftp://ops.example.com/x"}}, "p.0.webhook.url"),
        ({**WEBHOOK, "webhook": {"url": "https://"}}, "p.0.webhook.url"),
        ({**WEBHOOK, "webhook": {"url": "https://ops:secret@ops.example.com/x"}}, "p.0.webhook.url"),
        ({**EMAIL, "email": {**EMAIL["email"], "to": "not-an-address"}}, "p.0.email.to"),
        ({**TASK, "task": {"owner": "ops@example.com", "due_in_hours": 0}}, "p.0.task.due_in_hours"),
        ({**WEBHOOK, "max_attempts": 21}, "p.0.max_attempts"),
        ({**WEBHOOK, "Code": "x"}, "p.0.Code"),
    ],
)
def test_an_invalid_step_is_refused_with_its_path(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(DomainError) as raised:
        parse_steps([doc], "p")
    assert (raised.value.code, raised.value.field) == ("invalid_provisioning", field)


def test_a_step_code_is_used_once_per_plan() -> None:
    with pytest.raises(DomainError) as raised:
        parse_steps([WEBHOOK, {**EMAIL, "code": "create-workspace"}], "p")
    assert raised.value.field == "p.1.code"


def _version(number: int, effective_at: datetime, steps: list[dict[str, Any]] | None) -> CatalogVersion:
    plan: dict[str, Any] = {"code": "team", "name": "Team", "billing_period": "month",
                            "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}]}  # fmt: skip
    other = {**plan, "code": "solo", "name": "Solo"}
    plans = [other] if steps is None else [plan | {"provisioning": steps}, other]
    doc = {"products": [{"code": "app", "name": "App", "plans": plans}]}
    return CatalogVersion(number=number, effective_at=effective_at, catalog=parse_catalog(doc))


def test_the_steps_that_run_come_from_the_version_in_effect_for_the_trigger() -> None:
    """v1 (from 1 Jan) has a webhook on start; v2 (from 1 Mar) adds a task on start and change; v3 (from
    1 May) drops the plan. A start on 15 Feb runs v1's, one on 2 Mar v2's, one in June still v2's (the last
    version with the plan); a start before v1 takes v1's; a change runs only the task."""
    versions = [
        _version(1, datetime(2026, 1, 1, tzinfo=UTC), [WEBHOOK]),
        _version(2, datetime(2026, 3, 1, tzinfo=UTC), [WEBHOOK, TASK]),
        _version(3, datetime(2026, 5, 1, tzinfo=UTC), None),
    ]

    def codes(trigger: Trigger, at: datetime, plan: str = "team") -> list[str]:
        return [s.code for s in steps_for(versions, plan, trigger, at)]

    assert codes(Trigger.STARTED, datetime(2026, 2, 15, tzinfo=UTC)) == ["create-workspace"]
    assert codes(Trigger.STARTED, T0) == ["create-workspace", "kickoff-call"]
    assert codes(Trigger.STARTED, datetime(2026, 6, 1, tzinfo=UTC)) == ["create-workspace", "kickoff-call"]
    assert codes(Trigger.STARTED, datetime(2025, 6, 1, tzinfo=UTC)) == ["create-workspace"]
    assert codes(Trigger.CHANGED, T0) == ["kickoff-call"]
    assert codes(Trigger.ENDED, T0) == []
    assert codes(Trigger.STARTED, T0, plan="solo") == []
    assert codes(Trigger.STARTED, T0, plan="unknown") == []


# ---- attempts --------------------------------------------------------------------------------------------


def test_the_retry_schedule_waits_1_5_30_minutes_2_and_6_hours_then_12_hours() -> None:
    assert [retry_delay(n) for n in range(1, 8)] == [
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
        timedelta(hours=6), timedelta(hours=12), timedelta(hours=12)]  # fmt: skip
    assert next_attempt_at(1, 5, T0) == datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    assert next_attempt_at(5, 5, T0) is None
    with pytest.raises(ValueError):
        retry_delay(0)


def test_five_failed_attempts_fail_the_step_at_the_exact_instants() -> None:
    """Attempts at 09:00, 09:01, 09:06, 09:36 and 11:36; the fifth fails the step with the last error."""
    step, made = run(WEBHOOK), []
    while step.status is StepStatus.PENDING:
        assert step.next_attempt_at is not None
        made.append(step.next_attempt_at.strftime("%H:%M"))
        step = attempted(step, error=f"HTTP 50{len(made)}", at=step.next_attempt_at)
    assert made == ["09:00", "09:01", "09:06", "09:36", "11:36"]
    assert (step.status, step.attempts, step.next_attempt_at, step.last_error) == (
        StepStatus.FAILED, 5, None, "HTTP 505")  # fmt: skip


def test_a_success_is_done_and_a_permanent_error_fails_at_once() -> None:
    second = attempted(
        attempted(run(EMAIL), error="Deferred: 421", at=T0), error=None, at=T0 + timedelta(minutes=1)
    )
    assert (second.status, second.attempts, second.completed_at, second.last_error, second.next_attempt_at) == (
        StepStatus.DONE, 2, T0 + timedelta(minutes=1), None, None)  # fmt: skip
    bounced = attempted(run(EMAIL), error="Rejected (550): no such user", permanent=True, at=T0)
    assert (bounced.status, bounced.attempts, bounced.next_attempt_at) == (StepStatus.FAILED, 1, None)


def test_a_late_attempt_anchors_the_next_one_to_when_it_was_made() -> None:
    late = attempted(run(WEBHOOK), error="HTTP 503", at=T0 + timedelta(minutes=7))
    assert late.next_attempt_at == T0 + timedelta(minutes=8)


# ---- by hand ---------------------------------------------------------------------------------------------


def test_complete_fail_and_retry_move_only_from_where_they_may() -> None:
    later = T0 + timedelta(hours=1)
    task = run(TASK, next_attempt_at=None, owner_id="usr_1", due_at=T0 + timedelta(hours=48))
    done = completed(task, later)
    assert (done.status, done.completed_at) == (StepStatus.DONE, later)
    with pytest.raises(Conflict) as raised:
        completed(done, later)
    assert raised.value.code == "step_done"
    with pytest.raises(Conflict) as raised:
        failed(done, "too late", later)
    assert raised.value.code == "step_done"
    with pytest.raises(DomainError) as invalid:
        failed(task, "  ", later)
    assert (invalid.value.code, invalid.value.field) == ("invalid_reason", "reason")

    hook = failed(run(WEBHOOK), " Receiver retired ", later)
    assert (hook.status, hook.last_error, hook.next_attempt_at) == (
        StepStatus.FAILED,
        "Receiver retired",
        None,
    )
    again = retried(replace(hook, attempts=5), later)
    assert (again.status, again.attempts, again.next_attempt_at) == (StepStatus.PENDING, 0, later)
    with pytest.raises(Conflict) as raised:
        retried(again, later)
    assert raised.value.code == "step_not_failed"
    with pytest.raises(Conflict) as raised:
        retried(failed(task, "nobody", later), later)
    assert raised.value.code == "step_not_retryable"
    assert completed(hook, later).status is StepStatus.DONE  # done another way after it failed here


# ---- onboarding ------------------------------------------------------------------------------------------


def test_onboarding_status_from_the_started_steps() -> None:
    """No steps: not started. One pending: in progress. A failed one outweighs a pending one. All done:
    complete. Steps of a change or an end are not onboarding. A task pending at its due time is overdue."""
    due = T0 + timedelta(hours=48)
    task = run(TASK, id="prv_3", next_attempt_at=None, owner_id="usr_1", due_at=due)
    hook, mail = run(WEBHOOK), run(EMAIL, id="prv_2")
    assert onboarding([], T0).status is OnboardingStatus.NOT_STARTED
    assert onboarding([run(WEBHOOK, trigger=Trigger.ENDED)], T0).status is OnboardingStatus.NOT_STARTED
    pending = onboarding([hook, mail, task], due - timedelta(seconds=1))
    assert (pending.status, pending.pending, pending.done, pending.failed, pending.overdue_tasks) == (
        OnboardingStatus.IN_PROGRESS, 3, 0, 0, 0)  # fmt: skip
    assert onboarding([hook, mail, task], due).overdue_tasks == 1
    assert is_overdue(task, due) and not is_overdue(completed(task, due), due)
    broken = onboarding([failed(hook, "gone", T0), mail, task], T0)
    assert (broken.status, broken.failed, broken.pending) == (OnboardingStatus.FAILED, 1, 2)
    finished = onboarding([completed(s, due) for s in (hook, mail, task)], due + timedelta(days=1))
    assert (finished.status, finished.done, finished.overdue_tasks) == (OnboardingStatus.COMPLETE, 3, 0)
