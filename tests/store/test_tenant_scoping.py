"""Tenants are walls: every repository method is scoped by tenant, and does what its scope says."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

import kassa.store
from kassa.core.customers import CustomerFilter
from kassa.core.errors import NotFound
from kassa.core.jobs import Job
from kassa.core.pages import Page
from kassa.core.webhooks import WebhookAttempt, WebhookEndpoint
from kassa.services import customers, test_clocks, users
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork
from tests.conftest import SettableClock, TenantAccess, make_tenant

# Public repository methods that take no tenant, and why each may not.
UNSCOPED = {
    ("ApiKeys", "find_by_prefix"): "authentication: the key's public prefix is what tells us the tenant",
    ("Tenants", "add"): "creates the tenant itself: the Tenant's own id is the tenant id",
    ("Tenants", "list_all"): "operators' CLI listing of every tenant; no API route reaches it",
    ("Jobs", "claim_due"): "the worker runs the due system-clock jobs of every tenant",
    ("WebhookDeliveries", "claim_due"): "the worker delivers the due webhooks of every tenant",
    ("TestClocks", "advancing"): "the worker resumes advances whose runner died, in any tenant",
    ("IdempotencyKeys", "purge_expired"): "housekeeping: expired keys of every tenant are deleted",
    ("StaffInvitations", "find_by_token_hash"): "accepting an invitation: the link's token tells the tenant",
    ("ConsoleSessions", "find_by_token_hash"): "console requests: the session cookie tells us the tenant",
}

REPOSITORIES = {
    "Tenants", "ApiKeys", "Users", "Customers", "TestClocks", "Jobs", "Events", "AuditEvents",
    "WebhookEndpoints", "WebhookDeliveries", "WebhookAttempts", "IdempotencyKeys",
    "CatalogVersions", "Subscriptions", "BillableMetrics", "UsageEvents", "UsageCharges", "UsageThresholds",
    "Invoices", "CreditNotes", "Coupons", "CreditBalances", "Ledger", "OneOffCharges",
    "PaymentMethods", "Payments", "Statements", "DunningPolicies",
    "AccountingPeriods", "ExchangeRates", "CostEntries", "RevenueSchedules", "Contracts", "RecurringRevenue",
    "SlaPolicies", "Tickets", "Leads", "Offers", "ProvisioningSteps", "EntitlementOverrides", "Wallets",
    "MessageTemplates", "MessagePreferences", "Messages", "MessageSettingsStore", "Disputes",
    "StaffCredentials", "StaffInvitations", "ConsoleSessions", "DashboardReads", "CustomerNotes",
}  # fmt: skip


def _repository_classes() -> dict[str, type]:
    """Every class in kassa/store/*.py built on a connection: `__init__(self, conn)`."""
    found: dict[str, type] = {}
    for module_info in pkgutil.iter_modules(kassa.store.__path__):
        module = importlib.import_module(f"kassa.store.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or "__init__" not in vars(cls):
                continue
            if list(inspect.signature(cls.__init__).parameters) == ["self", "conn"]:
                found[name] = cls
    return found


def _carries_tenant(annotation: Any) -> bool:
    """A dataclass with a tenant_id field, or a collection of them."""
    if dataclasses.is_dataclass(annotation):
        return "tenant_id" in {f.name for f in dataclasses.fields(annotation)}
    return any(_carries_tenant(arg) for arg in typing.get_args(annotation))


def _unscoped_methods() -> dict[tuple[str, str], Callable[..., Any]]:
    unscoped = {}
    for class_name, cls in _repository_classes().items():
        for name, method in vars(cls).items():
            if name.startswith("_") or not inspect.isfunction(method):
                continue
            hints = typing.get_type_hints(method)
            parameters = [p for p in inspect.signature(method).parameters if p != "self"]
            if "tenant_id" in parameters or any(_carries_tenant(hints.get(p)) for p in parameters):
                continue
            unscoped[(class_name, name)] = method
    return unscoped


def test_the_scan_finds_every_repository_of_the_unit_of_work(ctx: ServiceContext) -> None:
    found = _repository_classes()
    assert set(found) == REPOSITORIES
    with ctx.uow(read_only=True) as uow:
        wired = {type(value).__name__ for value in vars(uow).values() if type(value).__name__ in found}
    assert wired == REPOSITORIES


def test_every_public_repository_method_takes_a_tenant_but_the_allowed_few() -> None:
    unscoped = _unscoped_methods()
    assert set(unscoped) == set(UNSCOPED)
    assert all(reason for reason in UNSCOPED.values())


def test_the_scan_would_see_a_method_without_a_tenant() -> None:
    class Probe:
        def get(self, customer_id: str) -> Job: ...
        def add(self, job: Job) -> None: ...
        def add_all(self, attempts: list[WebhookAttempt]) -> None: ...

    hints = {name: typing.get_type_hints(getattr(Probe, name)) for name in ("get", "add", "add_all")}
    assert _carries_tenant(hints["get"]["customer_id"]) is False
    assert _carries_tenant(hints["add"]["job"]) is True
    assert _carries_tenant(hints["add_all"]["attempts"]) is True


# --- behaviour: two tenants side by side ---------------------------------------------------------------

T = TypeVar("T")
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def _walk(fetch: Callable[[str | None], Page[T]]) -> list[T]:
    """Every item, two per page, following the cursors."""
    items: list[T] = []
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        items.extend(page.items)
        if not page.has_more:
            return items
        cursor = page.next_cursor


def _ids(items: list[Any]) -> set[str]:
    return {item.id for item in items}


@dataclasses.dataclass
class World:
    tenant: TenantAccess
    customers: set[str]
    parent: str
    user: str
    key: str
    clock: str
    endpoint: str
    job: str
    event: str
    delivery: str


def _populate(ctx: ServiceContext, clock: SettableClock, tenant: TenantAccess, n_customers: int) -> World:
    actor = tenant.actor
    now = clock.now()
    endpoint = WebhookEndpoint(
        tenant_id=tenant.id, id=ctx.new_id("whe"), url="https://hooks.example.com/kassa",
        secret="whsec_x", created_at=now, updated_at=now,
    )  # fmt: skip
    with ctx.uow() as uow:
        uow.webhook_endpoints.add(endpoint)
        uow.commit()
    made = []
    for i in range(n_customers):
        clock.advance(timedelta(seconds=1))
        made.append(customers.create_customer(ctx, actor, {"external_id": f"shared-{i}", "name": f"C{i}"}))
    parent = made[0].id
    customers.update_customer(ctx, actor, made[1].id, {"parent_id": parent})
    user = users.create_user(ctx, actor, email="ops@example.com", name="Ops", role_name="admin")
    test_clock = test_clocks.create_test_clock(ctx, actor, name="Sim", frozen_time=now)
    job = Job(
        tenant_id=tenant.id, id=ctx.new_id("job"), kind="noop", due_at=now + timedelta(days=1),
        test_clock_id=test_clock.id, dedupe_key="same", payload={}, created_at=now,
    )  # fmt: skip
    with ctx.uow() as uow:
        assert uow.jobs.add(job) is True
        assert uow.idempotency_keys.claim(tenant.id, "key-1", f"hash-{tenant.id}", now, FAR) is True
        delivery = uow.webhook_deliveries.list(
            tenant.id, endpoint_id=endpoint.id, event_id=None, limit=1, cursor=None
        ).items[0]
        uow.webhook_attempts.add(
            WebhookAttempt(
                tenant_id=tenant.id, id=ctx.new_id("wha"), delivery_id=delivery.id, attempted_at=now,
                ok=True, status_code=204, duration_ms=12, response_excerpt="",
            )
        )  # fmt: skip
        event = uow.events.list(tenant.id, limit=1, cursor=None).items[0]
        key = uow.api_keys.list(tenant.id, limit=1, cursor=None).items[0]
        uow.commit()
    return World(
        tenant=tenant, customers={c.id for c in made}, parent=parent, user=user.id, key=key.id,
        clock=test_clock.id, endpoint=endpoint.id, job=job.id, event=event.id, delivery=delivery.id,
    )  # fmt: skip


@pytest.fixture
def worlds(ctx: ServiceContext, clock: SettableClock) -> Iterator[tuple[World, World]]:
    a = _populate(ctx, clock, make_tenant(ctx, "Tenant A"), 2)
    b = _populate(ctx, clock, make_tenant(ctx, "Tenant B"), 3)
    yield a, b


def _reads(uow: UnitOfWork, world: World, other: World) -> dict[str, Any]:
    """What tenant `world` sees, asking with its own tenant id for everything, also for the other's ids."""
    t = world.tenant.id
    everything = CustomerFilter(archived=None)
    return {
        "customers": _ids(_walk(lambda c: uow.customers.list(t, everything, limit=2, cursor=c))),
        "customers shared-0": _ids(
            uow.customers.list(t, CustomerFilter(external_id="shared-0"), limit=10, cursor=None).items
        ),
        "children of own parent": _ids(
            uow.customers.list(t, CustomerFilter(parent_id=world.parent), limit=10, cursor=None).items
        ),
        "children of other's parent": _ids(
            uow.customers.list(t, CustomerFilter(parent_id=other.parent), limit=10, cursor=None).items
        ),
        "has children (other's parent)": uow.customers.has_children(t, other.parent),
        "parent of other's child": {uow.customers.parent_of(t, cid) for cid in other.customers},
        "users": _ids(_walk(lambda c: uow.users.list(t, limit=2, cursor=c))),
        "api keys": _ids(_walk(lambda c: uow.api_keys.list(t, limit=2, cursor=c))),
        "test clocks": _ids(_walk(lambda c: uow.test_clocks.list(t, limit=2, cursor=c))),
        "events": {e.tenant_id for e in _walk(lambda c: uow.events.list(t, limit=2, cursor=c))},
        "event count": len(_walk(lambda c: uow.events.list(t, limit=2, cursor=c))),
        "events of other's customers": [
            e
            for cid in other.customers
            for e in uow.events.list(t, customer_id=cid, limit=10, cursor=None).items
        ],
        "audit": {e.tenant_id for e in _walk(lambda c: uow.audit_events.list(t, limit=2, cursor=c))},
        "audit count": len(_walk(lambda c: uow.audit_events.list(t, limit=2, cursor=c))),
        "audit of other's user": uow.audit_events.list(t, object_id=other.user, limit=10, cursor=None).items,
        "endpoints": _ids(_walk(lambda c: uow.webhook_endpoints.list(t, limit=2, cursor=c))),
        "enabled endpoints": _ids(uow.webhook_endpoints.enabled(t)),
        "deliveries": {
            d.tenant_id
            for d in _walk(
                lambda c: uow.webhook_deliveries.list(t, endpoint_id=None, event_id=None, limit=2, cursor=c)
            )
        },
        "deliveries to other's endpoint": uow.webhook_deliveries.list(
            t, endpoint_id=other.endpoint, event_id=None, limit=10, cursor=None
        ).items,
        "attempts of other's delivery": uow.webhook_attempts.for_delivery(t, other.delivery),
        "attempts of own delivery": len(uow.webhook_attempts.for_delivery(t, world.delivery)),
        "jobs of own clock": _ids(uow.jobs.list_for_clock(t, world.clock)),
        "jobs of other's clock": uow.jobs.list_for_clock(t, other.clock),
        "next jobs of other's clock": uow.jobs.next_for_clock(t, other.clock, FAR),
        "idempotency key": uow.idempotency_keys.find(t, "key-1").request_hash,  # type: ignore[union-attr]
    }


def test_every_read_of_tenant_a_returns_only_tenant_a_rows(
    ctx: ServiceContext, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    with ctx.uow(read_only=True) as uow:
        seen_by_a = _reads(uow, a, b)
        seen_by_b = _reads(uow, b, a)
    assert len(a.customers) == 2 and len(b.customers) == 3
    (a_shared,) = seen_by_a["customers shared-0"]
    (b_shared,) = seen_by_b["customers shared-0"]
    assert seen_by_a == {
        "customers": a.customers,
        "customers shared-0": {a_shared},
        "children of own parent": a.customers - {a.parent},
        "children of other's parent": set(),
        "has children (other's parent)": False,
        "parent of other's child": {None},
        "users": {a.user},
        "api keys": {a.key},
        "test clocks": {a.clock},
        "events": {a.tenant.id},
        # tenant.created, api_key.created, customer.created x2, customer.updated, user.created, test_clock.created
        "event count": 7,
        "events of other's customers": [],
        "audit": {a.tenant.id},
        # the same seven changes
        "audit count": 7,
        "audit of other's user": [],
        "endpoints": {a.endpoint},
        "enabled endpoints": {a.endpoint},
        "deliveries": {a.tenant.id},
        "deliveries to other's endpoint": [],
        "attempts of other's delivery": [],
        "attempts of own delivery": 1,
        "jobs of own clock": {a.job},
        "jobs of other's clock": [],
        "next jobs of other's clock": [],
        "idempotency key": f"hash-{a.tenant.id}",
    }
    assert seen_by_b["customers"] == b.customers
    assert seen_by_b["children of own parent"] == {sorted(b.customers - {b.parent})[0]}
    assert (seen_by_b["event count"], seen_by_b["audit count"]) == (8, 8)
    assert seen_by_b["idempotency key"] == f"hash-{b.tenant.id}"
    assert a_shared != b_shared and a_shared in a.customers and b_shared in b.customers


def test_getting_another_tenants_object_by_id_is_not_found(
    ctx: ServiceContext, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    t = a.tenant.id
    with ctx.uow(read_only=True) as uow:
        lookups: list[Callable[[], object]] = [
            *[lambda cid=cid: uow.customers.get(t, cid) for cid in b.customers],
            lambda: uow.users.get(t, b.user),
            lambda: uow.api_keys.get(t, b.key),
            lambda: uow.test_clocks.get(t, b.clock),
            lambda: uow.events.get(t, b.event),
            lambda: uow.webhook_endpoints.get(t, b.endpoint),
            lambda: uow.webhook_deliveries.get(t, b.delivery),
        ]
        codes = []
        for lookup in lookups:
            with pytest.raises(NotFound) as caught:
                lookup()
            codes.append(caught.value.code)
        assert uow.idempotency_keys.find(t, "no-such-key") is None
        # and the owner does find them
        assert uow.users.get(b.tenant.id, b.user).id == b.user
        assert uow.events.get(b.tenant.id, b.event).tenant_id == b.tenant.id
    assert codes == [
        "customer_not_found", "customer_not_found", "customer_not_found", "user_not_found",
        "api_key_not_found", "test_clock_not_found", "event_not_found", "webhook_endpoint_not_found",
        "webhook_delivery_not_found",
    ]  # fmt: skip


def test_writes_naming_another_tenants_objects_change_nothing(
    ctx: ServiceContext, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    t = a.tenant.id
    at = datetime(2026, 6, 1, tzinfo=UTC)
    with ctx.uow(read_only=True) as uow:
        b_key = uow.api_keys.get(b.tenant.id, b.key)
    assert (b_key.revoked_at, b_key.expires_at) == (None, None)
    with ctx.uow() as uow:
        uow.api_keys.revoke(t, b.key, at)
        uow.api_keys.expire(t, b.key, at)
        uow.api_keys.touch(t, b.key, at)
        assert uow.test_clocks.take_lease(t, b.clock, at, at + timedelta(minutes=1)) is False
        uow.webhook_deliveries.fail_pending(t, b.endpoint, at)
        uow.webhook_endpoints.delete(t, b.endpoint)
        uow.idempotency_keys.complete(t, "no-such-key", 200, b"{}", "application/json")
        uow.idempotency_keys.release(t, "key-1")  # A's own key-1 only
        uow.commit()
    with ctx.uow() as uow:  # not committed
        assert uow.api_keys.get(b.tenant.id, b.key) == b_key
        assert uow.test_clocks.take_lease(b.tenant.id, b.clock, at, at) is True  # no lease was set
        assert uow.webhook_endpoints.get(b.tenant.id, b.endpoint).id == b.endpoint
        assert uow.webhook_deliveries.get(b.tenant.id, b.delivery).status.value == "pending"
        assert uow.idempotency_keys.find(t, "key-1") is None
        assert uow.idempotency_keys.find(b.tenant.id, "key-1").request_hash == f"hash-{b.tenant.id}"  # type: ignore[union-attr]
