"""The unit of work: one connection, one transaction, rolled back unless the use case commits."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from kassa.store.accounting_periods import AccountingPeriods
from kassa.store.audit_events import AuditEvents
from kassa.store.billable_metrics import BillableMetrics
from kassa.store.catalog_versions import CatalogVersions
from kassa.store.contracts import Contracts
from kassa.store.cost_entries import CostEntries
from kassa.store.coupons import Coupons
from kassa.store.credit_balances import CreditBalances
from kassa.store.credit_notes import CreditNotes
from kassa.store.customer_notes import CustomerNotes
from kassa.store.customers import Customers
from kassa.store.dashboard import DashboardReads
from kassa.store.disputes import Disputes
from kassa.store.engine import READ_ONLY
from kassa.store.entitlements import EntitlementOverrides
from kassa.store.events import Events
from kassa.store.exchange_rates import ExchangeRates
from kassa.store.idempotency_keys import IdempotencyKeys
from kassa.store.invoices import Invoices
from kassa.store.jobs import Jobs
from kassa.store.leads import Leads
from kassa.store.ledger import Ledger
from kassa.store.messages import MessagePreferences, Messages, MessageSettingsStore, MessageTemplates
from kassa.store.offers import Offers
from kassa.store.one_off_charges import OneOffCharges
from kassa.store.payments import PaymentMethods, Payments
from kassa.store.provisioning import ProvisioningSteps
from kassa.store.reconciliation import DunningPolicies, Statements
from kassa.store.recurring_revenue import RecurringRevenue
from kassa.store.revenue_schedules import RevenueSchedules
from kassa.store.staff import ConsoleSessions, StaffCredentials, StaffInvitations
from kassa.store.subscriptions import Subscriptions
from kassa.store.support import SlaPolicies, Tickets
from kassa.store.tenants import ApiKeys, Tenants, Users
from kassa.store.test_clocks import TestClocks
from kassa.store.usage_charges import UsageCharges
from kassa.store.usage_events import UsageEvents
from kassa.store.usage_thresholds import UsageThresholds
from kassa.store.wallets import Wallets
from kassa.store.webhooks import WebhookAttempts, WebhookDeliveries, WebhookEndpoints


class UnitOfWork:
    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._committed = False

    def __enter__(self) -> UnitOfWork:
        conn = self._engine.connect()
        if self._read_only:
            conn = conn.execution_options(**{READ_ONLY: True})
        self.conn: sa.Connection = conn
        self._tx = conn.begin()
        self.tenants = Tenants(conn)
        self.api_keys = ApiKeys(conn)
        self.users = Users(conn)
        self.customers = Customers(conn)
        self.customer_notes = CustomerNotes(conn)
        self.test_clocks = TestClocks(conn)
        self.jobs = Jobs(conn)
        self.events = Events(conn)
        self.audit_events = AuditEvents(conn)
        self.webhook_endpoints = WebhookEndpoints(conn)
        self.webhook_deliveries = WebhookDeliveries(conn)
        self.webhook_attempts = WebhookAttempts(conn)
        self.idempotency_keys = IdempotencyKeys(conn)
        self.catalog_versions = CatalogVersions(conn)
        self.subscriptions = Subscriptions(conn)
        self.billable_metrics = BillableMetrics(conn)
        self.usage_events = UsageEvents(conn)
        self.usage_charges = UsageCharges(conn)
        self.usage_thresholds = UsageThresholds(conn)
        self.invoices = Invoices(conn)
        self.credit_notes = CreditNotes(conn)
        self.coupons = Coupons(conn)
        self.credit_balances = CreditBalances(conn)
        self.ledger = Ledger(conn)
        self.one_off_charges = OneOffCharges(conn)
        self.payment_methods = PaymentMethods(conn)
        self.payments = Payments(conn)
        self.accounting_periods = AccountingPeriods(conn)
        self.exchange_rates = ExchangeRates(conn)
        self.cost_entries = CostEntries(conn)
        self.revenue_schedules = RevenueSchedules(conn)
        self.contracts = Contracts(conn)
        self.recurring_revenue = RecurringRevenue(conn)
        self.statements = Statements(conn)
        self.dunning_policies = DunningPolicies(conn)
        self.sla_policies = SlaPolicies(conn)
        self.tickets = Tickets(conn)
        self.provisioning_steps = ProvisioningSteps(conn)
        self.message_templates = MessageTemplates(conn)
        self.message_preferences = MessagePreferences(conn)
        self.messages = Messages(conn)
        self.message_settings = MessageSettingsStore(conn)
        self.disputes = Disputes(conn)
        self.leads = Leads(conn)
        self.offers = Offers(conn)
        self.wallets = Wallets(conn)
        self.entitlement_overrides = EntitlementOverrides(conn)
        self.staff_credentials = StaffCredentials(conn)
        self.staff_invitations = StaffInvitations(conn)
        self.console_sessions = ConsoleSessions(conn)
        self.dashboard = DashboardReads(conn)
        return self

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self._tx.commit()
        self._committed = True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()
