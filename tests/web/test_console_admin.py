"""Issue 10: the console's catalog, webhook deliveries, audit log, settings and users pages (without a
browser): what each role sees and may do, and errors shown in place."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from kassa.core.access import Role
from kassa.core.webhooks import DeliveryStatus
from kassa.services import catalog, console_lists, customers, tenants, users, webhooks
from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, TenantAccess
from tests.web.console_helpers import PASSWORD, Console

CATALOG_YAML = """\
name: Price list 2026
products:
  - code: workspace
    name: Workspace
    plans:
      - code: team-monthly
        name: Team, monthly
        billing_period: month
        phases:
          - {type: trial, duration: {days: 14}}
          - type: evergreen
            prices:
              EUR: {flat: "20.00", per_unit: "14.00"}
              USD: {flat: "22.00", per_unit: "15.00"}
"""
BROKEN_YAML = CATALOG_YAML.replace("billing_period: month", "billing_period: fortnight")


def test_catalog_shows_the_version_in_effect(ctx: ServiceContext, tenant: TenantAccess) -> None:
    viewer = Console(ctx, tenant, Role.READ_ONLY)
    empty = viewer.get("/console/catalog")
    assert empty.status_code == 200 and "No catalog is in effect yet" in empty.text
    catalog.apply_catalog(ctx, tenant.actor, yaml.safe_load(CATALOG_YAML), effective_at=None)
    page = viewer.get("/console/catalog")
    assert "Version <strong>1</strong>" in page.text and "Team, monthly" in page.text
    assert "€20.00" in page.text and "US$22.00" in page.text or "$22.00" in page.text
    assert "trial, 14 days" in page.text
    assert "Upload a new version" not in page.text  # read_only may not
    assert viewer.post("/console/catalog", data={"document": CATALOG_YAML}).status_code == 403
    support = Console(ctx, tenant, Role.SUPPORT)
    assert support.post("/console/catalog", data={"document": CATALOG_YAML}).status_code == 403
    assert len(catalog.list_versions(ctx, tenant.actor)) == 1


def test_catalog_upload_applies_or_shows_the_error_in_place(
    ctx: ServiceContext, tenant: TenantAccess
) -> None:
    finance = Console(ctx, tenant, Role.FINANCE)
    refused = finance.post("/console/catalog", data={"document": BROKEN_YAML})
    assert refused.status_code == 422
    assert "products.0.plans.0.billing_period" in refused.text
    assert "Line 8 of the document" in refused.text and 'data-error-line="8"' in refused.text
    assert "billing_period: fortnight" in refused.text  # the text is kept
    assert catalog.list_versions(ctx, tenant.actor) == []

    bad_yaml = finance.post("/console/catalog", data={"document": "products: [\n  {code: x"})
    assert bad_yaml.status_code == 422 and "Not valid YAML or JSON at line" in bad_yaml.text
    naive = finance.post(
        "/console/catalog", data={"document": CATALOG_YAML, "effective_at": "2027-01-01T00:00"}
    )
    assert naive.status_code == 422 and "offset" in naive.text

    applied = finance.post("/console/catalog", data={"document": CATALOG_YAML})
    assert (
        applied.status_code == 303 and applied.headers["location"] == "/console/catalog?done=catalog_applied"
    )
    as_json = json.dumps({**yaml.safe_load(CATALOG_YAML), "name": "JSON list"})
    from_file = finance.post(
        "/console/catalog",
        data={"document": ""},
        files={"file": ("catalog.json", as_json.encode(), "application/json")},
    )
    assert from_file.status_code == 303
    earlier = finance.post(
        "/console/catalog", data={"document": CATALOG_YAML, "effective_at": "2020-01-01T00:00:00+00:00"}
    )
    assert earlier.status_code == 422 and "cannot take effect before it" in earlier.text
    assert [v.name for v in catalog.list_versions(ctx, tenant.actor)] == ["JSON list", "Price list 2026"]
    page = finance.get("/console/catalog?version=1")
    assert "Plans of version 1" in page.text and "Team, monthly" in page.text


def failing_delivery(ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock) -> str:
    """A delivery to a closed port on loopback, retried until its schedule gives up."""
    tenants.update_settings(ctx, tenant.actor, {"webhook_allowed_networks": ["127.0.0.0/8"]})
    webhooks.create_endpoint(ctx, tenant.actor, url="http://127.0.0.1:9/hook", enabled_events=["customer.*"])
    customers.create_customer(ctx, tenant.actor, {"external_id": "c1", "name": "Zoë", "currency": "EUR"})
    for _ in range(20):
        webhooks.deliver_due(ctx)
        (row,) = console_lists.deliveries_page(
            ctx, tenant.actor, limit=10, cursor=None, status_filter=None
        ).items
        if row.delivery.status is DeliveryStatus.FAILED:
            return row.delivery.id
        assert row.delivery.next_attempt_at is not None
        clock.advance(row.delivery.next_attempt_at - clock.now())
    raise AssertionError("the delivery never failed")


def test_webhook_deliveries_filter_and_resend(
    ctx: ServiceContext, tenant: TenantAccess, clock: SettableClock
) -> None:
    delivery_id = failing_delivery(ctx, tenant, clock)
    viewer = Console(ctx, tenant, Role.READ_ONLY)
    page = viewer.get("/console/webhooks", params={"status": "failed"})
    assert page.status_code == 200 and delivery_id in page.text
    assert "http://127.0.0.1:9/hook" in page.text and "customer.created" in page.text
    assert "Send again" not in page.text
    assert viewer.post(f"/console/webhooks/{delivery_id}/replay").status_code == 403
    assert delivery_id not in viewer.get("/console/webhooks", params={"status": "succeeded"}).text
    assert viewer.get("/console/webhooks", params={"status": "lost"}).status_code == 422

    finance = Console(ctx, tenant, Role.FINANCE)
    assert "Send again" in finance.get("/console/webhooks").text
    assert finance.post(f"/console/webhooks/{delivery_id}/replay").status_code == 303
    delivery, _ = webhooks.get_delivery(ctx, tenant.actor, delivery_id)
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 0


def test_audit_log_lists_and_filters(ctx: ServiceContext, tenant: TenantAccess) -> None:
    customers.create_customer(ctx, tenant.actor, {"external_id": "c1", "name": "Zoë", "currency": "EUR"})
    admin = Console(ctx, tenant, Role.ADMIN)
    admin.post("/console/users", data={"email": "sam@example.com", "name": "Sam", "role": "support"})
    page = admin.get("/console/audit")
    assert page.status_code == 200
    assert "customer.created" in page.text and "user.created" in page.text
    only = admin.get("/console/audit", params={"action": "user.created"})
    assert "user.created" in only.text and ">customer.created<" not in only.text
    assert "&#34;sam@example.com&#34;" in only.text or "sam@example.com" in only.text
    assert "Admin" in only.text  # the acting user by name
    by_type = admin.get("/console/audit", params={"object_type": "customer"})
    assert ">customer.created<" in by_type.text and ">user.created<" not in by_type.text


def test_settings_view_for_all_edit_for_admins(ctx: ServiceContext, tenant: TenantAccess) -> None:
    viewer = Console(ctx, tenant, Role.FINANCE)
    page = viewer.get("/console/settings")
    assert page.status_code == 200 and "Only an admin may change settings" in page.text
    assert viewer.post("/console/settings", data={"legal_name": "X"}).status_code == 403

    admin = Console(ctx, tenant, Role.ADMIN)
    form: dict[str, Any] = dict(
        re.findall(r'name="([a-z_]+)" value="([^"]*)"', admin.get("/console/settings").text)
    )
    form.update({"rounding_mode": "half_even", "tax_rounding": "per_line", "numbering_reset": "yearly",
                 "late_usage": "next_invoice", "in_advance_usage_billing": "next_invoice"})  # fmt: skip
    form.pop("csrf", None)
    wrong = admin.post(
        "/console/settings", data={**form, "time_zone": "Mars/Olympus", "legal_name": "Nordlicht GmbH"}
    )
    assert wrong.status_code == 422
    assert 'id="err-time_zone"' in wrong.text and 'value="Mars/Olympus"' in wrong.text
    assert tenants.get_settings(ctx, tenant.actor).legal_name is None
    digits = admin.post("/console/settings", data={**form, "numbering_digits": "many"})
    assert digits.status_code == 422 and 'id="err-numbering_digits"' in digits.text
    saved = admin.post("/console/settings", data={**form, "legal_name": "Nordlicht GmbH", "time_zone": "Europe/Berlin",
                                                  "numbering_prefix": "RE-", "tax_inclusive": "on"})  # fmt: skip
    assert saved.status_code == 303, saved.text
    now = tenants.get_settings(ctx, tenant.actor)
    assert (now.legal_name, now.time_zone, now.invoice_numbering.prefix, now.tax_inclusive) == (
        "Nordlicht GmbH", "Europe/Berlin", "RE-", True)  # fmt: skip
    assert now.rounding_mode.value == "half_even"


def test_users_are_for_admins_only(ctx: ServiceContext, tenant: TenantAccess) -> None:
    for role in (Role.FINANCE, Role.SUPPORT, Role.READ_ONLY):
        other = Console(ctx, tenant, role)
        assert other.get("/console/users").status_code == 403
        assert (
            other.post(
                "/console/users", data={"email": "x@example.com", "name": "X", "role": "admin"}
            ).status_code
            == 403
        )
    admin = Console(ctx, tenant, Role.ADMIN)
    page = admin.get("/console/users")
    assert page.status_code == 200 and "read-only@example.com" in page.text

    made = admin.post("/console/users", data={"email": "Sam@Example.com", "name": "Sam", "role": "support"})
    assert made.status_code == 200
    link = re.search(r'id="invite-link" readonly value="([^"]+)"', made.text)
    assert link is not None and "/console/invitations/" in link.group(1)
    sam = next(
        u for u in users.list_users(ctx, tenant.actor, limit=100).items if u.email == "sam@example.com"
    )
    assert sam.role is Role.SUPPORT
    token = link.group(1).rsplit("/", 1)[1]
    accepted = admin.client.post(f"/console/invitations/{token}", data={"password": PASSWORD})
    assert accepted.status_code == 303

    again = admin.post("/console/users", data={"email": "sam@example.com", "name": "Sam", "role": "support"})
    assert again.status_code == 422 and 'value="sam@example.com"' in again.text
    bad = admin.post("/console/users", data={"email": "nobody", "name": "N", "role": "support"})
    assert bad.status_code == 422 and "email" in bad.text

    assert admin.post(f"/console/users/{sam.id}/role", data={"role": "finance"}).status_code == 303
    assert users.get_user(ctx, tenant.actor, sam.id).role is Role.FINANCE
    assert admin.post(f"/console/users/{sam.id}/deactivate").status_code == 303
    assert users.get_user(ctx, tenant.actor, sam.id).deactivated_at is not None
    assert admin.post(f"/console/users/{sam.id}/invite").status_code == 403  # deactivated
    assert admin.post(f"/console/users/{sam.id}/reactivate").status_code == 303
    invited = admin.post(f"/console/users/{sam.id}/invite")
    assert invited.status_code == 200 and "Invitation for Sam" in invited.text
    assert admin.post(f"/console/users/{admin.user_id}/deactivate").status_code == 422
    assert admin.post(f"/console/users/{admin.user_id}/role", data={"role": "read_only"}).status_code == 422
