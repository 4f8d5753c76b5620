"""kassa's own event names (outbox and webhooks): past tense, dotted. Not usage events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    TENANT_CREATED = "tenant.created"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_UPDATED = "customer.updated"
    CUSTOMER_ARCHIVED = "customer.archived"
    SETTINGS_UPDATED = "settings.updated"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    API_KEY_CREATED = "api_key.created"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_REVOKED = "api_key.revoked"
    TEST_CLOCK_CREATED = "test_clock.created"
    TEST_CLOCK_ADVANCING = "test_clock.advancing"
    TEST_CLOCK_READY = "test_clock.ready"
    TEST_CLOCK_FAILED = "test_clock.failed"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint.updated"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
    WEBHOOK_DELIVERY_REPLAYED = "webhook_delivery.replayed"
    CATALOG_APPLIED = "catalog.applied"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_TRIAL_STARTED = "subscription.trial_started"
    SUBSCRIPTION_TRIAL_CONVERTED = "subscription.trial_converted"  # trial end: billing begins
    SUBSCRIPTION_ACTIVATED = "subscription.activated"  # a future start came, without a trial
    SUBSCRIPTION_CHANGED = "subscription.changed"  # plan, quantity or add-ons took effect
    SUBSCRIPTION_CHANGE_SCHEDULED = "subscription.change_scheduled"  # a change, pause or cancellation to come
    SUBSCRIPTION_CHANGE_WITHDRAWN = "subscription.change_withdrawn"  # undone, or replaced by a later request
    SUBSCRIPTION_PAUSED = "subscription.paused"
    SUBSCRIPTION_RESUMED = "subscription.resumed"
    SUBSCRIPTION_RENEWED = "subscription.renewed"  # a fixed term began again
    SUBSCRIPTION_CANCELED = "subscription.canceled"
    SUBSCRIPTION_ENDED = "subscription.ended"  # a fixed term ran out
    BILLABLE_METRIC_CREATED = "billable_metric.created"
    BILLABLE_METRIC_UPDATED = "billable_metric.updated"
    USAGE_CHARGED = "usage.charged"  # an in-advance usage event was rated at once
    USAGE_THRESHOLD_REACHED = "usage.threshold_reached"  # once per threshold and period
    INVOICE_CREATED = "invoice.created"  # a draft, composed by a bill run or by hand
    INVOICE_UPDATED = "invoice.updated"  # a draft composed again or edited
    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_PAID = "invoice.paid"
    INVOICE_VOIDED = "invoice.voided"
    INVOICE_MARKED_UNCOLLECTIBLE = "invoice.marked_uncollectible"
    INVOICE_EMAILED = "invoice.emailed"
    INVOICE_EMAIL_BOUNCED = "invoice.email_bounced"
    CREDIT_NOTE_CREATED = "credit_note.created"
    CREDIT_GRANTED = "credit.granted"
    COUPON_CREATED = "coupon.created"
    COUPON_UPDATED = "coupon.updated"
    COUPON_REDEEMED = "coupon.redeemed"
    PROMOTION_CODE_CREATED = "promotion_code.created"
    ONE_OFF_CHARGE_CREATED = "one_off_charge.created"
    SUBSCRIPTION_PAST_DUE = "subscription.past_due"  # collections: entitlements may suspend on it
    PAYMENT_METHOD_ATTACHED = "payment_method.attached"
    PAYMENT_METHOD_UPDATED = "payment_method.updated"
    PAYMENT_METHOD_DETACHED = "payment_method.detached"
    PAYMENT_METHOD_EXPIRING = "payment_method.expiring"  # the default card expires before an invoice is due
    PAYMENT_CREATED = "payment.created"  # an attempt sent, or money recorded by hand
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_REQUIRES_ACTION = "payment.requires_action"  # the customer authenticates at data.action_url
    PAYMENT_REFUNDED = "payment.refunded"
    CHARGEBACK_OPENED = "chargeback.opened"
    CHARGEBACK_CLOSED = "chargeback.closed"
    INVOICE_OVERDUE = "invoice.overdue"  # a dunning step: data.action says which
    DUNNING_POLICY_UPDATED = "dunning_policy.updated"
    BANK_STATEMENT_IMPORTED = "bank_statement.imported"
    STATEMENT_LINE_RESOLVED = "statement_line.resolved"
    PAYOUT_RECONCILED = "payout.reconciled"
    ACCOUNTING_PERIOD_CLOSED = "accounting_period.closed"
    ACCOUNTING_PERIOD_REOPENED = "accounting_period.reopened"  # an admin act, with its reason
    REVENUE_RECOGNIZED = "revenue.recognized"  # a recognition run posted: data.through, data.amounts
    EXCHANGE_RATES_IMPORTED = "exchange_rates.imported"
    COST_RECORDED = "cost.recorded"
    SLA_POLICY_UPDATED = "sla_policy.updated"
    TICKET_CREATED = "ticket.created"
    TICKET_UPDATED = "ticket.updated"  # status, priority (deadlines recomputed), assignee or subject
    TICKET_RESPONDED = "ticket.responded"  # a staff response; the first one meets the first-response target
    TICKET_SLA_WARNING = "ticket.sla_warning"  # data.target (first_response, resolution) is close to due
    TICKET_SLA_BREACHED = "ticket.sla_breached"  # data.target passed its deadline unmet
    SUBSCRIPTION_TRIAL_ENDING = "subscription.trial_ending"  # data.days before the trial ends
    SUBSCRIPTION_RENEWAL_UPCOMING = "subscription.renewal_upcoming"  # data.renews_on, data.amount
    LEAD_CREATED = "lead.created"
    LEAD_UPDATED = "lead.updated"  # status, campaign or contact details
    LEAD_CONVERTED = "lead.converted"  # data.customer_id, data.subscription_id
    OFFER_UPDATED = "offer.updated"  # a new version of the offer's rules
    OFFER_WITHDRAWN = "offer.withdrawn"
    PROVISIONING_STEP_CREATED = "provisioning_step.created"  # a plan's step to run for a subscription
    PROVISIONING_STEP_COMPLETED = "provisioning_step.completed"
    PROVISIONING_STEP_FAILED = "provisioning_step.failed"  # out of attempts, or failed by hand
    ENTITLEMENT_OVERRIDE_UPDATED = "entitlement_override.updated"
    ENTITLEMENT_OVERRIDE_DELETED = "entitlement_override.deleted"
    WALLET_CREATED = "wallet.created"
    WALLET_UPDATED = "wallet.updated"  # auto top-up rule, alert thresholds or promotion
    WALLET_TOPPED_UP = "wallet.topped_up"  # paid credits bought (data.auto: by the auto top-up rule)
    WALLET_CREDITS_GRANTED = "wallet.credits_granted"  # free credits
    WALLET_DRAWN = "wallet.drawn"  # credits paid an invoice or in-advance usage
    WALLET_CREDITS_EXPIRED = "wallet.credits_expired"
    WALLET_BALANCE_LOW = "wallet.balance_low"  # data.threshold crossed downwards; data.offer when promoted
    WALLET_TOP_UP_FAILED = "wallet.top_up_failed"  # the auto top-up's payment failed
    MESSAGE_TEMPLATE_UPDATED = "message_template.updated"
    MESSAGE_PREFERENCES_UPDATED = "message_preferences.updated"  # a customer subscribed or unsubscribed
    MESSAGE_SENT = "message.sent"  # a lifecycle message went out (on the customer's timeline)
    MESSAGE_FAILED = "message.failed"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_UPDATED = "dispute.updated"  # assigned, or its description changed
    DISPUTE_RESOLVED = "dispute.resolved"  # data.outcome: accepted (credited) or rejected; data.auto


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened, appended to the outbox in the transaction that made it happen."""

    tenant_id: str
    id: str
    type: str
    occurred_at: datetime
    object_type: str
    object_id: str
    customer_id: str | None = None
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The webhook payload: receivers dedupe on `id` (also sent as the webhook-id header)."""
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "object_type": self.object_type,
            "object_id": self.object_id,
            "customer_id": self.customer_id,
            "data": dict(self.data),
        }
