"""Provisioning on SQLite and PostgreSQL (issue 9): a subscription's start, change and end run its plan's
steps once, on a test clock; a webhook to a real local HTTP server is signed with the endpoint secret of its
origin (checked with the standardwebhooks library) and retried at the exact backoff instants; an email goes
through a real SMTP server (aiosmtpd); a task goes to an active staff user and is completed by one; the
customer's onboarding status follows. Failures: no owner, no SMTP server, a bounce, attempts exhausted,
retry by hand, failed by hand, no endpoint to sign with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from kassa.adapters.mail.smtp import SmtpMailer
from kassa.core.audit import Actor, ActorType
from kassa.core.errors import Conflict, NotFound
from kassa.core.provisioning import OnboardingStatus, ProvisioningStep, StepStatus, Trigger
from kassa.services import (
    catalog,
    customers,
    provisioning,
    subscriptions,
    tenants,
    test_clocks,
    users,
    webhooks,
)
from kassa.services.context import ServiceContext
from kassa.store.tables import events
from tests.adapters.test_smtp import Inbox, smtp_server
from tests.conftest import SettableClock, make_tenant
from tests.services.test_webhook_delivery import Receiver, running_receiver

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday; the subscription starts now
OWNER = "ops@acme.test"
PRICE = [{"type": "evergreen", "prices": {"EUR": {"flat": "10.00"}}}]


def at(minutes: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, hours=hours)


def webhook(code: str, url: str, on: str = "started", **extra: Any) -> dict[str, Any]:
    return {"code": code, "on": [on], "webhook": {"url": url}, **extra}


EMAIL: dict[str, Any] = {"code": "welcome", "on": ["started"],
         "email": {"to": "customer", "subject": "Welcome to Acme", "body": "Your workspace is on its way."}}  # fmt: skip
TASK: dict[str, Any] = {
    "code": "kickoff-call",
    "on": ["started"],
    "task": {"owner": OWNER, "due_in_hours": 48},
}


def apply(ctx: ServiceContext, actor: Actor, starter: list[Any], team: list[Any] | None = None) -> None:
    plans = [{"code": "starter", "name": "Starter", "billing_period": "month", "phases": PRICE,
              "provisioning": starter},
             {"code": "team", "name": "Team", "billing_period": "month", "phases": PRICE,
              "provisioning": team or []}]  # fmt: skip
    doc = {"products": [{"code": "app", "name": "App", "plans": plans}],
           "families": [{"code": "app", "plans": ["starter", "team"]}]}  # fmt: skip
    catalog.apply_catalog(ctx, actor, doc, effective_at=datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def receiver(ctx: ServiceContext, actor: Actor) -> Iterator[Receiver]:
    """A real HTTP server on loopback, which the tenant allows and has a webhook endpoint on."""
    with running_receiver() as state:
        tenants.update_settings(ctx, actor, {"webhook_allowed_networks": ["127.0.0.0/8"]})
        yield state


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def mailing(ctx: ServiceContext, inbox: Inbox) -> ServiceContext:
    return replace(ctx, mailer=SmtpMailer(f"smtp://127.0.0.1:{inbox.port}"))


def on_clock(ctx: ServiceContext, actor: Actor, start: datetime = T0, **fields: Any) -> tuple[str, str]:
    """A test clock at `start` and a customer on it; (clock id, customer id)."""
    clock = test_clocks.create_test_clock(ctx, actor, name="provisioning", frozen_time=start)
    customer = customers.create_customer(ctx, actor, {"external_id": "zoe", "name": "Zoë", "currency": "EUR",
                                                      "emails": ["zoe@customer.test"], "test_clock_id": clock.id,
                                                      **fields})  # fmt: skip
    return clock.id, customer.id


def subscribe(ctx: ServiceContext, actor: Actor, customer_id: str, **fields: Any) -> str:
    return subscriptions.create_subscription(
        ctx, actor, {"customer_id": customer_id, "plan": "starter", **fields}
    ).id


def steps(ctx: ServiceContext, actor: Actor, customer_id: str) -> list[ProvisioningStep]:
    with ctx.uow(read_only=True) as uow:
        return uow.provisioning_steps.of_customer(actor.tenant_id, customer_id)


def by_code(ctx: ServiceContext, actor: Actor, customer_id: str) -> dict[str, ProvisioningStep]:
    return {s.step: s for s in steps(ctx, actor, customer_id)}


def step_events(ctx: ServiceContext, tenant_id: str) -> list[tuple[str, datetime, str, str]]:
    """(type, occurred_at, step code, status) of the tenant's provisioning events, in order."""
    e = events.c
    with ctx.uow(read_only=True) as uow:
        rows = uow.conn.execute(
            sa.select(e.type, e.occurred_at, e.data).where(e.tenant_id == tenant_id, e.type.like("provisioning_step.%"))
            .order_by(e.occurred_at, e.id)
        ).all()  # fmt: skip
    return [(r.type, r.occurred_at, r.data["step"], r.data["status"]) for r in rows]


def test_the_worked_example_a_webhook_an_email_and_a_task_to_onboarding_complete(
    mailing: ServiceContext, actor: Actor, receiver: Receiver, inbox: Inbox, clock: SettableClock
) -> None:
    """Starter has a webhook, an email and a task on start. The subscription starts Monday 2 Mar 2026 09:00:
    three pending steps. The receiver answers 500 twice, then 200: attempts at 09:00, 09:01 and 09:06, done
    on the 3rd, each signed with the endpoint's secret and the same webhook-id. The welcome email is sent at
    09:00 through the SMTP server. The task is Olga's, due Wednesday 09:00; overdue after that until she
    completes it on Wednesday 10:00: onboarding complete."""
    # The signature's timestamp is the system clock's (receivers refuse one 5 minutes off the wall clock).
    clock.at = datetime.now(UTC).replace(microsecond=0)  # noqa: TID251
    ctx = mailing
    olga = users.create_user(ctx, actor, email=OWNER, name="Olga Ops", role_name="support")
    endpoint = webhooks.create_endpoint(ctx, actor, url=receiver.url, enabled_events=["provisioning_step.*"])
    apply(ctx, actor, [webhook("create-workspace", receiver.url + "/provision"), EMAIL, TASK])
    clock_id, customer_id = on_clock(ctx, actor)
    sub_id = subscribe(ctx, actor, customer_id)

    started = by_code(ctx, actor, customer_id)
    assert {code: (s.status, s.trigger, s.next_attempt_at, s.owner_id, s.due_at) for code, s in started.items()} == {
        "create-workspace": (StepStatus.PENDING, Trigger.STARTED, T0, None, None),
        "welcome": (StepStatus.PENDING, Trigger.STARTED, T0, None, None),
        "kickoff-call": (StepStatus.PENDING, Trigger.STARTED, None, olga.id, at(hours=48)),
    }  # fmt: skip
    status, listed = provisioning.get_onboarding(ctx, actor, customer_id)
    assert (status.status, status.pending, len(listed)) == (OnboardingStatus.IN_PROGRESS, 3, 3)

    receiver.status = 500
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(minutes=0.5))
    hook = by_code(ctx, actor, customer_id)["create-workspace"]
    assert (hook.status, hook.attempts, hook.next_attempt_at, hook.last_error) == (
        StepStatus.PENDING, 1, at(minutes=1), "HTTP 500")  # fmt: skip
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(minutes=2))
    hook = by_code(ctx, actor, customer_id)["create-workspace"]
    assert (hook.status, hook.attempts, hook.next_attempt_at) == (StepStatus.PENDING, 2, at(minutes=6))
    receiver.status = 200
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(hours=50))
    hook = by_code(ctx, actor, customer_id)["create-workspace"]
    assert (hook.status, hook.attempts, hook.completed_at, hook.last_error) == (
        StepStatus.DONE,
        3,
        at(minutes=6),
        None,
    )

    provisioned = [r for r in receiver.requests if r.path == "/hooks/provision"]
    assert len(provisioned) == 3
    assert {r.headers["webhook-id"] for r in provisioned} == {hook.id}
    assert {r.headers["webhook-timestamp"] for r in provisioned} == {str(int(clock.at.timestamp()))}
    body = Webhook(endpoint.secret).verify(provisioned[2].body, provisioned[2].headers)
    assert {k: body[k] for k in ("type", "step", "trigger", "plan", "step_id")} == {
        "type": "provisioning.step", "step": "create-workspace", "trigger": "started", "plan": "starter",
        "step_id": hook.id}  # fmt: skip
    assert (body["subscription"]["id"], body["customer"]["id"]) == (sub_id, customer_id)

    [mail] = [m for m in inbox.received if m.message["Message-ID"].startswith("<prv_")]  # not other emails
    assert mail.rcpt_tos == ["zoe@customer.test"]
    assert (mail.message["Subject"], mail.message.get_content()) == (
        "Welcome to Acme", "Your workspace is on its way.\n")  # fmt: skip
    welcome = by_code(ctx, actor, customer_id)["welcome"]
    assert mail.message["Message-ID"] == f"<{welcome.id}@localhost>"
    assert (welcome.status, welcome.attempts, welcome.completed_at) == (StepStatus.DONE, 1, T0)

    status, _ = provisioning.get_onboarding(ctx, actor, customer_id)  # Wednesday 11:00: the call is overdue
    assert (status.status, status.pending, status.done, status.overdue_tasks) == (
        OnboardingStatus.IN_PROGRESS, 1, 2, 1)  # fmt: skip
    task = by_code(ctx, actor, customer_id)["kickoff-call"]
    as_olga = Actor(tenant_id=actor.tenant_id, type=ActorType.USER, id=olga.id)
    done = provisioning.complete_step(ctx, as_olga, task.id)
    assert (done.status, done.completed_at) == (StepStatus.DONE, at(hours=50))
    status, _ = provisioning.get_onboarding(ctx, actor, customer_id)
    assert (status.status, status.done, status.overdue_tasks) == (OnboardingStatus.COMPLETE, 3, 0)
    assert step_events(ctx, actor.tenant_id) == [
        ("provisioning_step.created", T0, "create-workspace", "pending"),
        ("provisioning_step.created", T0, "welcome", "pending"),
        ("provisioning_step.created", T0, "kickoff-call", "pending"),
        ("provisioning_step.completed", T0, "welcome", "done"),
        ("provisioning_step.completed", at(minutes=6), "create-workspace", "done"),
        ("provisioning_step.completed", at(hours=50), "kickoff-call", "done"),
    ]


def test_a_start_runs_once_a_change_runs_the_new_plans_steps_and_an_end_runs_when_it_takes_effect(
    ctx: ServiceContext, actor: Actor
) -> None:
    """A subscription starting on Wednesday 4 Mar with a 14-day trial: created while pending (nothing yet),
    trial started on its day (the start steps, once: not again when the trial converts on 18 Mar). An
    upgrade to team on 20 Mar runs team's `changed` step. A cancellation at the end of the period is
    scheduled (nothing) and takes effect on 18 Apr: the end steps run then."""
    users.create_user(ctx, actor, email=OWNER, name="Olga Ops", role_name="support")
    url = "https://ops.example.com/provision"
    apply(ctx, actor, [{**TASK, "on": ["started", "changed"]}, webhook("archive", url, on="ended")],
          [webhook("add-seats", url, on="changed"), webhook("team-welcome", url)])  # fmt: skip
    clock_id, customer_id = on_clock(ctx, actor)
    sub_id = subscribe(ctx, actor, customer_id, start_date="2026-03-04", trial_days=14)
    assert steps(ctx, actor, customer_id) == []

    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 19, tzinfo=UTC))
    started = steps(ctx, actor, customer_id)
    assert [(s.step, s.trigger, s.created_at) for s in started] == [
        ("kickoff-call", Trigger.STARTED, datetime(2026, 3, 4, tzinfo=UTC))]  # fmt: skip
    assert subscriptions.get_subscription(ctx, actor, sub_id).status.value == "active"

    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 20, 10, tzinfo=UTC))
    subscriptions.change_subscription(ctx, actor, sub_id, {"plan": "team", "when": "now"})
    changed = [s for s in steps(ctx, actor, customer_id) if s.trigger is Trigger.CHANGED]
    assert [(s.plan, s.step, s.created_at, s.status) for s in changed] == [
        ("team", "add-seats", datetime(2026, 3, 20, 10, tzinfo=UTC), StepStatus.PENDING)]  # fmt: skip

    subscriptions.cancel_subscription(ctx, actor, sub_id, {"when": "end_of_period"})
    assert not [s for s in steps(ctx, actor, customer_id) if s.trigger is Trigger.ENDED]
    test_clocks.advance_test_clock(ctx, actor, clock_id, datetime(2026, 3, 20, 11, tzinfo=UTC))
    subscriptions.change_subscription(ctx, actor, sub_id, {"plan": "starter", "when": "now"})
    sub = subscriptions.get_subscription(ctx, actor, sub_id)
    end = [c for c in sub.changes if c.kind.value == "cancel"][-1].effective
    test_clocks.advance_test_clock(
        ctx, actor, clock_id, datetime(end.year, end.month, end.day, 1, tzinfo=UTC)
    )
    ended = [s for s in steps(ctx, actor, customer_id) if s.trigger is Trigger.ENDED]
    assert [(s.plan, s.step, s.created_at) for s in ended] == [
        ("starter", "archive", datetime(end.year, end.month, end.day, tzinfo=UTC))]  # fmt: skip
    assert [s.step for s in steps(ctx, actor, customer_id) if s.trigger is Trigger.CHANGED] == [
        "add-seats", "kickoff-call"]  # fmt: skip


def test_a_task_without_an_active_owner_fails_and_no_smtp_server_fails_an_email(
    ctx: ServiceContext, actor: Actor
) -> None:
    """No staff user ops@acme.test (one deactivated does not count): the task fails when it is created,
    saying why. Without an SMTP server configured the email fails at its first attempt."""
    apply(ctx, actor, [TASK, EMAIL])
    clock_id, customer_id = on_clock(ctx, actor)
    subscribe(ctx, actor, customer_id)
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(minutes=1))
    found = by_code(ctx, actor, customer_id)
    assert (found["kickoff-call"].status, found["kickoff-call"].owner_id, found["kickoff-call"].last_error) == (
        StepStatus.FAILED, None, "No active staff user ops@acme.test to own the task.")  # fmt: skip
    assert (found["welcome"].status, found["welcome"].attempts, found["welcome"].last_error) == (
        StepStatus.FAILED, 1, provisioning.NO_MAILER)  # fmt: skip
    assert step_events(ctx, actor.tenant_id) == [
        ("provisioning_step.created", T0, "kickoff-call", "pending"),
        ("provisioning_step.failed", T0, "kickoff-call", "failed"),
        ("provisioning_step.created", T0, "welcome", "pending"),
        ("provisioning_step.failed", T0, "welcome", "failed"),
    ]
    status, _ = provisioning.get_onboarding(ctx, actor, customer_id)
    assert (status.status, status.failed) == (OnboardingStatus.FAILED, 2)


def test_an_email_is_retried_while_deferred_and_fails_on_a_bounce(
    mailing: ServiceContext, actor: Actor, inbox: Inbox
) -> None:
    """The email goes to the team's address. The server answers 451 (try later) at 09:00: retried at 09:01,
    when it answers 550 (a bounce): the step fails there, after 2 attempts, and is not tried again."""
    ctx = mailing
    apply(ctx, actor, [{**EMAIL, "email": {**EMAIL["email"], "to": "team@acme.test"}}])
    clock_id, customer_id = on_clock(ctx, actor)
    subscribe(ctx, actor, customer_id)
    inbox.rcpt_replies["team@acme.test"] = "451 4.3.0 Try again later"
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(minutes=0.5))
    step = by_code(ctx, actor, customer_id)["welcome"]
    assert (step.status, step.attempts, step.next_attempt_at) == (StepStatus.PENDING, 1, at(minutes=1))
    assert step.last_error is not None and step.last_error.startswith("Deferred: ")
    inbox.rcpt_replies["team@acme.test"] = "550 5.1.1 No such user"
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(hours=5))
    step = by_code(ctx, actor, customer_id)["welcome"]
    assert (step.status, step.attempts, step.next_attempt_at) == (StepStatus.FAILED, 2, None)
    assert step.last_error is not None and step.last_error.startswith("Rejected (550): ")
    assert [m for m in inbox.received if "team@acme.test" in m.rcpt_tos] == []


def test_a_webhook_out_of_attempts_fails_and_a_retry_by_hand_delivers_it(
    ctx: ServiceContext, actor: Actor, receiver: Receiver
) -> None:
    """max_attempts 2 and a receiver down: attempts at 09:00 and 09:01, failed at 09:01 with an event. Retried
    by hand at 10:00 after the receiver is back: delivered at 10:00 (attempts count the new round)."""
    webhooks.create_endpoint(ctx, actor, url=receiver.url, enabled_events=["provisioning_step.*"])
    apply(ctx, actor, [webhook("create-workspace", receiver.url, max_attempts=2)])
    clock_id, customer_id = on_clock(ctx, actor)
    subscribe(ctx, actor, customer_id)
    receiver.status = 503
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(hours=1))
    step = by_code(ctx, actor, customer_id)["create-workspace"]
    assert (step.status, step.attempts, step.last_error, step.updated_at) == (
        StepStatus.FAILED, 2, "HTTP 503", at(minutes=1))  # fmt: skip
    assert step_events(ctx, actor.tenant_id)[-1] == (
        "provisioning_step.failed", at(minutes=1), "create-workspace", "failed")  # fmt: skip

    receiver.status = 200
    again = provisioning.retry_step(ctx, actor, step.id)
    assert (again.status, again.attempts, again.next_attempt_at) == (StepStatus.PENDING, 0, at(hours=1))
    with pytest.raises(Conflict):
        provisioning.retry_step(ctx, actor, step.id)
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(hours=2))
    done = provisioning.get_step(ctx, actor, step.id)
    assert (done.status, done.attempts, done.completed_at) == (StepStatus.DONE, 1, at(hours=1))
    assert len(receiver.requests) == 3


def test_without_an_endpoint_on_its_origin_a_webhook_is_not_sent_and_failing_by_hand_calls_it_off(
    ctx: ServiceContext, actor: Actor, receiver: Receiver
) -> None:
    """The tenant's only endpoint is on another origin: nothing is sent, the attempt fails saying what to do.
    Failed by hand before the next attempt: that attempt does nothing."""
    elsewhere = receiver.url.rsplit(":", 1)[0] + ":9/kassa"  # the same host, another port: another origin
    webhooks.create_endpoint(ctx, actor, url=elsewhere, enabled_events=["invoice.*"])
    apply(ctx, actor, [webhook("create-workspace", receiver.url)])
    clock_id, customer_id = on_clock(ctx, actor)
    subscribe(ctx, actor, customer_id)
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(minutes=0.5))
    step = by_code(ctx, actor, customer_id)["create-workspace"]
    port = receiver.url.split(":")[2].split("/")[0]
    assert (step.status, step.attempts, step.last_error) == (StepStatus.PENDING, 1, (
        f"No webhook endpoint on http://127.0.0.1:{port} to sign with: add one there "
        "(POST /v1/webhook_endpoints), then retry the step."))  # fmt: skip
    gone = provisioning.fail_step(ctx, actor, step.id, "Provisioned by hand")
    assert (gone.status, gone.last_error, gone.next_attempt_at) == (
        StepStatus.FAILED,
        "Provisioned by hand",
        None,
    )
    test_clocks.advance_test_clock(ctx, actor, clock_id, at(hours=1))
    assert provisioning.get_step(ctx, actor, step.id).attempts == 1
    assert receiver.requests == []


def test_another_tenant_sees_no_step_and_no_onboarding(ctx: ServiceContext, actor: Actor) -> None:
    users.create_user(ctx, actor, email=OWNER, name="Olga Ops", role_name="support")
    apply(ctx, actor, [TASK])
    _, customer_id = on_clock(ctx, actor)
    subscribe(ctx, actor, customer_id)
    [step] = steps(ctx, actor, customer_id)
    other = make_tenant(ctx, "Other GmbH").actor
    with pytest.raises(NotFound):
        provisioning.get_step(ctx, other, step.id)
    with pytest.raises(NotFound):
        provisioning.complete_step(ctx, other, step.id)
    with pytest.raises(NotFound):
        provisioning.get_onboarding(ctx, other, customer_id)
    assert provisioning.list_steps(ctx, other, limit=10, cursor=None).items == []
    assert json.dumps(step.to_json())  # the event and API view is plain JSON
