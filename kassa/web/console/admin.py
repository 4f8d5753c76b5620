"""Administration pages: webhook deliveries (resend: BILLING, which admins have too), the audit log, the
tenant's settings (every role reads them; ADMINISTRATION edits) and staff users (ADMINISTRATION only,
even to look: create, change role, deactivate, invite with a link shown once)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from kassa.core.access import Permission, Role
from kassa.core.errors import DomainError
from kassa.core.money import RoundingMode
from kassa.core.tenants import InAdvanceBilling, LateUsage, NumberReset, TaxRounding, TenantSettings
from kassa.core.webhooks import DeliveryStatus
from kassa.services import audit, console_lists, staff_auth, tenants, users, webhooks
from kassa.web.console.auth import Staff, allowed, context, viewer
from kassa.web.console.listing import PAGE_SIZE, back_to, clean, done_message, page_link
from kassa.web.templating import render

router = APIRouter()
Viewer = Annotated[Staff, Depends(viewer)]
Billing = Annotated[Staff, Depends(allowed(Permission.BILLING))]
Admin = Annotated[Staff, Depends(allowed(Permission.ADMINISTRATION))]


# ---- webhook deliveries --------------------------------------------------------------------------------


@router.get("/webhooks")
def webhooks_page(request: Request, staff: Viewer, status: str = "", cursor: str | None = None) -> Response:
    found = console_lists.deliveries_page(
        context(request), staff.actor, limit=PAGE_SIZE, cursor=clean(cursor), status_filter=clean(status)
    )
    return render(
        request, "console/admin_webhooks.html", page=found, status=clean(status) or "",
        statuses=[s.value for s in DeliveryStatus], done=done_message(request),
        next_link=page_link(request, found.next_cursor) if found.has_more else None,
        first_link=page_link(request, None) if cursor else None,
    )  # fmt: skip


@router.post("/webhooks/{delivery_id}/replay")
def replay_delivery(request: Request, staff: Billing, delivery_id: str) -> Response:
    webhooks.replay_delivery(context(request), staff.actor, delivery_id)
    return RedirectResponse(back_to(request, "/console/webhooks", "replayed"), status_code=303)


# ---- audit log -----------------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    staff: Viewer,
    action: str = "",
    object_type: str = "",
    object_id: str = "",
    cursor: str | None = None,
) -> Response:
    for name, value in (("action", action), ("object_type", object_type), ("object_id", object_id)):
        if len(value) > 80:
            raise DomainError("invalid_filter", f"{name} is at most 80 characters.", name)
    found = audit.list_audit_events(
        context(request), staff.actor, action=clean(action), object_type=clean(object_type),
        object_id=clean(object_id), limit=PAGE_SIZE, cursor=clean(cursor),
    )  # fmt: skip
    names = {u.id: u.name for u in console_lists.staff(context(request), staff.actor)}
    rows = [{"entry": e, "changes": [(k, _short(v.get("before")), _short(v.get("after"))) for k, v in e.changes.items()]}
            for e in found.items]  # fmt: skip
    return render(
        request, "console/admin_audit.html", rows=rows, page=found, action=clean(action) or "",
        object_type=clean(object_type) or "", object_id=clean(object_id) or "", names=names,
        next_link=page_link(request, found.next_cursor) if found.has_more else None,
        first_link=page_link(request, None) if cursor else None,
    )  # fmt: skip


def _short(value: Any) -> str:
    """A changed value as the log shows it: JSON, cut at 300 characters (the API has it whole)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:299] + "…"


# ---- settings ------------------------------------------------------------------------------------------

CHOICES = {
    "rounding_mode": [m.value for m in RoundingMode],
    "tax_rounding": [m.value for m in TaxRounding],
    "late_usage": [m.value for m in LateUsage],
    "in_advance_usage_billing": [m.value for m in InAdvanceBilling],
    "numbering_reset": [m.value for m in NumberReset],
}
OPTIONAL = ("legal_name", "sepa_creditor_id", "reporting_currency")  # blank clears them


def _form_of(settings: TenantSettings) -> dict[str, str]:
    doc = settings.to_json()
    numbering = doc["invoice_numbering"]
    return {
        "legal_name": doc["legal_name"] or "", "default_currency": doc["default_currency"], "locale": doc["locale"],
        "time_zone": doc["time_zone"], "rounding_mode": doc["rounding_mode"], "tax_rounding": doc["tax_rounding"],
        "tax_inclusive": "on" if doc["tax_inclusive"] else "", "numbering_prefix": numbering["prefix"],
        "numbering_reset": numbering["reset"], "numbering_digits": str(numbering["digits"]),
        "draft_grace_period_hours": str(doc["draft_grace_period_hours"]), "late_usage": doc["late_usage"],
        "in_advance_usage_billing": doc["in_advance_usage_billing"],
        "reporting_currency": settings.reporting_currency or "", "sepa_creditor_id": doc["sepa_creditor_id"] or "",
    }  # fmt: skip


def _settings_page(
    request: Request,
    staff: Staff,
    form: dict[str, str] | None,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    current = tenants.get_settings(context(request), staff.actor)
    doc = current.to_json()
    others = {k: doc[k] for k in ("address", "tax_ids", "bank", "late_fee", "early_payment_discount",
                                  "gateway_routes", "dispute_policy", "webhook_allowed_networks")}  # fmt: skip
    return render(
        request, "console/admin_settings.html", status_code=status_code, form=form or _form_of(current),
        errors=errors, choices=CHOICES, others={k: json.dumps(v, indent=2, ensure_ascii=False) for k, v in others.items()},
        has_template=current.invoice_template is not None, example=current.invoice_numbering.format(42, 2026, 1),
        done=done_message(request),
    )  # fmt: skip


@router.get("/settings")
def settings_page(request: Request, staff: Viewer) -> Response:
    return _settings_page(request, staff, None, {})


def _whole(value: str, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise DomainError("invalid_number", "A whole number, like 5.", field) from None


# form field → where the service reports it (the settings document's path)
FIELD_OF_PATH = {"invoice_numbering.prefix": "numbering_prefix", "invoice_numbering.reset": "numbering_reset",
                 "invoice_numbering.digits": "numbering_digits", "invoice_numbering": "numbering_prefix"}  # fmt: skip


@router.post("/settings")
async def save_settings(request: Request, staff: Admin) -> Response:
    raw = await request.form()
    form = {k: str(raw.get(k, "")) for k in _form_of(TenantSettings())}  # every field the form has
    try:
        patch: dict[str, Any] = {
            "default_currency": form["default_currency"].strip().upper(),
            "locale": form["locale"].strip(),
            "time_zone": form["time_zone"].strip(),
            "rounding_mode": form["rounding_mode"],
            "tax_rounding": form["tax_rounding"],
            "tax_inclusive": form["tax_inclusive"] == "on",
            "invoice_numbering": {
                "prefix": form["numbering_prefix"].strip(),
                "reset": form["numbering_reset"],
                "digits": _whole(form["numbering_digits"], "numbering_digits"),
            },
            "draft_grace_period_hours": _whole(form["draft_grace_period_hours"], "draft_grace_period_hours"),
            "late_usage": form["late_usage"],
            "in_advance_usage_billing": form["in_advance_usage_billing"],
        }
        for name in OPTIONAL:
            value = form[name].strip()
            patch[name] = (value.upper() if name == "reporting_currency" else value) or None
        await run_in_threadpool(tenants.update_settings, context(request), staff.actor, patch)
    except DomainError as error:
        if error.status in (401, 403) or error.status >= 500:
            raise
        path = error.field or ""
        field = FIELD_OF_PATH.get(path, path.split(".")[0] if path.split(".")[0] in form else "")
        errors = {field or "_": error.message}
        return await run_in_threadpool(_settings_page, request, staff, form, errors, 422)
    return RedirectResponse("/console/settings?done=settings_saved", status_code=303)


# ---- users ---------------------------------------------------------------------------------------------


def _users_page(
    request: Request,
    staff: Staff,
    *,
    cursor: str | None,
    invited: tuple[Any, str] | None = None,
    create: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    found = users.list_users(context(request), staff.actor, limit=PAGE_SIZE, cursor=clean(cursor))
    link = None
    if invited is not None:
        link = str(request.base_url).rstrip("/") + f"/console/invitations/{invited[1]}"
    return render(
        request, "console/admin_users.html", status_code=status_code, page=found, roles=[r.value for r in Role],
        invited=None if invited is None else invited[0], invite_link=link, create=create or {}, error=error,
        next_link=page_link(request, found.next_cursor) if found.has_more else None,
        first_link=page_link(request, None) if cursor else None, done=done_message(request),
    )  # fmt: skip


@router.get("/users")
def users_page(request: Request, staff: Admin, cursor: str | None = None) -> Response:
    return _users_page(request, staff, cursor=cursor)


@router.post("/users")
def create_user(
    request: Request,
    staff: Admin,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    try:
        user = users.create_user(context(request), staff.actor, email=email, name=name, role_name=role)
    except DomainError as error:
        if error.status in (401, 403) or error.status >= 500:
            raise
        where = f" ({error.field})" if error.field else ""
        return _users_page(request, staff, cursor=None, create={"email": email, "name": name, "role": role},
                           error=error.message + where, status_code=422)  # fmt: skip
    # the new user can do nothing without a password: their invitation link comes with the creation
    _, token = staff_auth.invite(context(request), staff.actor, user.id)
    return _users_page(request, staff, cursor=None, invited=(user, token))


@router.post("/users/{user_id}/role")
def change_role(request: Request, staff: Admin, user_id: str, role: Annotated[str, Form()] = "") -> Response:
    if user_id == staff.user.id and role != staff.user.role.value:
        raise DomainError(
            "cannot_change_own_role", "You cannot change your own role; ask another admin.", "role"
        )
    users.update_user(context(request), staff.actor, user_id, {"role": role})
    return RedirectResponse(back_to(request, "/console/users", "role_changed"), status_code=303)


@router.post("/users/{user_id}/deactivate")
def deactivate(request: Request, staff: Admin, user_id: str) -> Response:
    if user_id == staff.user.id:
        raise DomainError(
            "cannot_deactivate_self", "You cannot deactivate yourself; ask another admin.", None
        )
    users.update_user(context(request), staff.actor, user_id, {"active": False})
    return RedirectResponse(back_to(request, "/console/users", "deactivated"), status_code=303)


@router.post("/users/{user_id}/reactivate")
def reactivate(request: Request, staff: Admin, user_id: str) -> Response:
    users.update_user(context(request), staff.actor, user_id, {"active": True})
    return RedirectResponse(back_to(request, "/console/users", "reactivated"), status_code=303)


@router.post("/users/{user_id}/invite")
def invite(request: Request, staff: Admin, user_id: str) -> Response:
    """The invitation link is in this response only: the token is never stored, so it is shown once (a
    reload does not resend the form's POST silently; a new invitation voids the older ones)."""
    ctx = context(request)
    _, token = staff_auth.invite(ctx, staff.actor, user_id)
    user = users.get_user(ctx, staff.actor, user_id)
    return _users_page(request, staff, cursor=None, invited=(user, token))
