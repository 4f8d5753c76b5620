"""Review of issue 9's customer lifecycle (messages, entitlements): regression tests for bugs found in
review, on SQLite and PostgreSQL. Each fails until its bug is fixed; the docstring names the bug."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kassa import config
from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.messages import MessageKind, UnsubscribeToken, sign_unsubscribe
from kassa.services import catalog, customers, messages, subscriptions, test_clocks
from kassa.services import entitlements as entitlements_service
from kassa.services.context import ServiceContext
from kassa.store.engine import create_engine
from tests.services.test_entitlements import Ticker, shown, subscriber, ticker  # noqa: F401  (fixture)
from tests.services.test_invoice_email import Inbox
from tests.services.test_messages import (  # noqa: F401  (fixtures)
    _declined_invoice,
    inbox,
    mailing,
    on,
    on_clock,
    received,
    text_of,
    timeline,
)
from tests.services.test_subscriptions import example


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---- unsubscribe token forgery ---------------------------------------------------------------------------


def test_an_unsubscribe_token_signed_with_an_empty_key_is_refused(ctx: ServiceContext, actor: Actor) -> None:
    """issue 9 review: kassa/services/messages.py check_unsubscribe verifies with `key or b""` when the tenant
    has no message settings row yet (every tenant that never opened its message settings), so anyone who
    knows a tenant id and customer id forges a valid token by signing with the empty HMAC key: the public
    page then shows the tenant's name and the POST unsubscribes the customer. Expected: invalid token."""
    customer = customers.create_customer(ctx, actor, {"external_id": "v", "name": "Victim",
                                                      "emails": ["v@customer.test"]})  # fmt: skip
    forged = sign_unsubscribe(
        b"", UnsubscribeToken(tenant_id=actor.tenant_id, customer_id=customer.id, kind=MessageKind.WELCOME)
    )
    with pytest.raises(DomainError) as refused:
        messages.check_unsubscribe(ctx, forged)
    assert refused.value.code == "invalid_unsubscribe_token"
    with pytest.raises(DomainError):
        messages.unsubscribe(ctx, forged, everything=True)
    assert messages.get_preferences(ctx, actor, customer.id) == {}


# ---- template values: None is not "empty" ----------------------------------------------------------------


def test_an_unset_update_payment_method_url_renders_empty_not_none(
    mailing: ServiceContext,  # noqa: F811
    actor: Actor,
    inbox: Inbox,  # noqa: F811
) -> None:
    """issue 9 review: kassa/services/message_delivery.py variables() passes None for a variable that is
    documented as "empty" (update_payment_method_url when unset, unsubscribe_url of an essential kind, amount
    with nothing due), and Jinja2 prints None as the text "None": the tenant's payment-failed email says
    "Update your card: [None]". Expected "[]"."""
    messages.put_template(mailing, actor, "payment_failed", "en", {
        "subject": "Payment of {{ amount }} failed",
        "body_text": "Update your card: [{{ update_payment_method_url }}] unsubscribe: [{{ unsubscribe_url }}]"})  # fmt: skip
    clock_id, _, _ = _declined_invoice(mailing, actor)
    test_clocks.advance_test_clock(mailing, actor, clock_id, utc(2026, 3, 2, 9))
    [email] = received(inbox, "Payment of")
    assert text_of(email).strip() == "Update your card: [] unsubscribe: []"


# ---- trial-ending reminder twice ------------------------------------------------------------------------


def test_a_changed_lead_time_does_not_send_the_trial_reminder_twice(
    ctx: ServiceContext,
    actor: Actor,
    on: None,  # noqa: F811
) -> None:
    """issue 9 review: kassa/services/message_delivery.py plan_reminders keys the trial job by
    (subscription, trial end, lead days). After trial_ending_days changes 3 -> 5, any re-planning (here a
    quantity change during the trial) schedules a second job while the first stays: the customer gets
    subscription.trial_ending (and the essential email) on 10 Jan and again on 12 Jan. Expected one."""
    catalog.apply_catalog(ctx, actor, example(), effective_at=utc(2025, 1, 1))
    clock_id, customer = on_clock(ctx, actor, utc(2026, 1, 1, 9))
    sub = subscriptions.create_subscription(
        ctx, actor, {"customer_id": customer.id, "plan": "starter-monthly"}
    )
    messages.put_settings(ctx, actor, {"trial_ending_days": 5})
    subscriptions.change_subscription(ctx, actor, sub.id, {"quantity": 2})
    test_clocks.advance_test_clock(ctx, actor, clock_id, utc(2026, 1, 13))
    endings = timeline(ctx, actor, customer.id, "subscription.trial_ending")
    assert len(endings) == 1, [(e.occurred_at, e.data["days"]) for e in endings]


# ---- the entitlement cache ------------------------------------------------------------------------------


def test_another_process_replacing_an_override_at_the_same_instant_is_seen_within_the_second(
    ctx: ServiceContext,
    actor: Actor,
    ticker: Ticker,  # noqa: F811
) -> None:
    """issue 9 review: kassa/store/entitlements.py stamp() covers overrides only by count and
    max(updated_at). On a test clock (a frozen instant) a second PUT of the same feature from another process
    (the worker, another server) changes neither, so revalidation keeps the old basis and this process
    answers the old value forever, not "within a second" as docs/entitlements.md promises."""
    _, cid, _ = subscriber(ctx, actor)
    url = ctx.settings.database_url
    other = ServiceContext(engine=create_engine(url), clock=ctx.clock, tax_ids=ctx.tax_ids, webhooks=ctx.webhooks,
                           settings=config.load({}, database_url=url), documents=ctx.documents)  # fmt: skip
    try:
        entitlements_service.put_override(other, actor, cid, "projects", {"value": 7})
        ticker.at += 1.0
        assert entitlements_service.check(ctx, actor, cid, "projects").limit == 7
        entitlements_service.put_override(other, actor, cid, "projects", {"value": 9})
        ticker.at += 5.0
        assert shown(entitlements_service.check(ctx, actor, cid, "projects")) == (
            True,
            9,
            None,
            None,
            "override",
        )
    finally:
        other.engine.dispose()


# ---- template resource limits ---------------------------------------------------------------------------


def test_a_template_that_builds_a_huge_value_is_refused(ctx: ServiceContext, actor: Actor) -> None:
    """issue 9 review: kassa/services/message_rendering.py uses a plain SandboxedEnvironment, which intercepts
    no operators: `*` and `**` run unbounded, at save time (check_template renders the samples inside the API
    request) and again on every send. `{{ 'x' * 400000000 }}` took 10 s and 400 MB and was saved;
    `{{ 9 ** 9 ** 9 }}` pins a server thread for hours (Jinja2 even folds it while compiling). Expected: a
    bounded sandbox refuses such a template (422 invalid_template); here 20 MB is accepted and stored."""
    with pytest.raises(DomainError) as refused:
        messages.put_template(ctx, actor, "welcome", "en",
                              {"subject": "Hi", "body_text": "{{ 'ab' * 10000000 }}"})  # fmt: skip
    assert refused.value.code == "invalid_template"


# ---- provisioning emails with a display-name sender -----------------------------------------------------


def test_an_email_step_goes_out_when_the_sender_has_a_display_name(ctx: ServiceContext, actor: Actor) -> None:
    """issue 9 review: kassa/services/provisioning.py _send_email takes the Message-ID domain as
    `mail_from.rpartition("@")[2]`, which keeps the closing ">" of a sender with a display name (KASSA_MAIL_FROM
    "Acme Billing <billing@acme.test>", accepted by config): the Message-ID `<prv_…@acme.test>>` is refused
    by OutgoingEmail with a ValueError, which _send_email turns into a permanent failure, so every email step
    fails at once ("Not sent: message_id …"). message_delivery strips the ">"; provisioning does not."""
    from dataclasses import replace as _replace

    from kassa.adapters.mail.smtp import SmtpMailer
    from tests.adapters.test_smtp import smtp_server
    from tests.services.test_provisioning import EMAIL, T0, apply, by_code, subscribe
    from tests.services.test_provisioning import on_clock as provisioning_clock

    with smtp_server() as box:
        sending = _replace(ctx, mailer=SmtpMailer(f"smtp://127.0.0.1:{box.port}"),
                           settings=_replace(ctx.settings, mail_from="Acme Billing <billing@acme.test>"))  # fmt: skip
        apply(sending, actor, [EMAIL])
        clock_id, customer_id = provisioning_clock(sending, actor)
        subscribe(sending, actor, customer_id)
        test_clocks.advance_test_clock(sending, actor, clock_id, T0.replace(minute=1))
        step = by_code(sending, actor, customer_id)["welcome"]
        assert (step.status.value, step.last_error) == ("done", None)
