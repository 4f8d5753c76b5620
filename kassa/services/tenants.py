"""Tenants, their API keys and their settings."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import timedelta
from typing import Any

from babel import Locale, UnknownLocaleError

from kassa.core.access import ApiKey, hash_secret, secret_matches, split_key
from kassa.core.audit import Actor, ActorType, system_actor
from kassa.core.errors import DomainError
from kassa.core.events import EventType
from kassa.core.pages import Page, check_limit
from kassa.core.tenants import BankDetails, Tenant, TenantSettings, apply_settings
from kassa.core.webhooks import networks_within
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

# last_used_at is written at most this often, so reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class Unauthorized(DomainError):
    status = 401

    def __init__(self, message: str) -> None:
        super().__init__("unauthorized", message, None)


def create_tenant(
    ctx: ServiceContext, name: str, settings: dict[str, Any] | None = None
) -> tuple[Tenant, str]:
    """A new tenant and its first API key; the key's text is returned once and never stored."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise DomainError("invalid_text", "A tenant name is 1 to 200 characters.", "name")
    now = ctx.clock.now()
    tenant_id = ctx.new_id("ten")
    actor = system_actor(tenant_id, "cli")
    tenant_settings = _settings_with(ctx, TenantSettings(), settings or {})
    tenant = Tenant(id=tenant_id, name=name.strip(), settings=tenant_settings, created_at=now, updated_at=now)
    with ctx.uow() as uow:
        uow.tenants.add(tenant)
        view = {"name": tenant.name, **tenant_settings.to_json()}
        audit.changed(
            ctx, uow, actor, EventType.TENANT_CREATED, object_type="tenant", object_id=tenant_id,
            before=None, after=view, at=now, data={"id": tenant_id, **view},
        )  # fmt: skip
        _, token = _add_key(ctx, uow, actor, "default")
        uow.commit()
    return tenant, token


def get_tenant(ctx: ServiceContext, tenant_id: str) -> Tenant:
    with ctx.uow(read_only=True) as uow:
        return uow.tenants.get(tenant_id)


def list_tenants(ctx: ServiceContext) -> list[Tenant]:
    with ctx.uow(read_only=True) as uow:
        return uow.tenants.list_all()


def _add_key(ctx: ServiceContext, uow: UnitOfWork, actor: Actor, name: str) -> tuple[ApiKey, str]:
    now = ctx.clock.now()
    prefix = "kassa_" + base64.b32encode(ctx.random_bytes(10)).decode().lower()[:12]
    secret = base64.urlsafe_b64encode(ctx.random_bytes(32)).decode().rstrip("=")
    key = ApiKey(tenant_id=actor.tenant_id, id=ctx.new_id("key"), name=name, prefix=prefix, created_at=now)
    uow.api_keys.add(key, hash_secret(secret))
    audit.changed(
        ctx, uow, actor, EventType.API_KEY_CREATED, object_type="api_key", object_id=key.id,
        before=None, after={"name": name, "prefix": prefix}, at=now, data={"id": key.id, "name": name, "prefix": prefix},
    )  # fmt: skip
    return key, f"{prefix}_{secret}"


def create_api_key(ctx: ServiceContext, actor: Actor, name: str) -> tuple[ApiKey, str]:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise DomainError("invalid_text", "A key name is 1 to 200 characters.", "name")
    with ctx.uow() as uow:
        key, token = _add_key(ctx, uow, actor, name.strip())
        uow.commit()
    return key, token


def list_api_keys(
    ctx: ServiceContext, actor: Actor, *, limit: int = 20, cursor: str | None = None
) -> Page[ApiKey]:
    with ctx.uow(read_only=True) as uow:
        return uow.api_keys.list(actor.tenant_id, limit=check_limit(limit), cursor=cursor)


def revoke_api_key(ctx: ServiceContext, actor: Actor, key_id: str) -> ApiKey:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        key = uow.api_keys.get(actor.tenant_id, key_id)
        if key.revoked_at is None:
            uow.api_keys.revoke(actor.tenant_id, key_id, now)
            audit.changed(
                ctx, uow, actor, EventType.API_KEY_REVOKED, object_type="api_key", object_id=key_id,
                before={"revoked_at": None}, after={"revoked_at": now.isoformat()}, at=now, data={"id": key_id, "prefix": key.prefix},
            )  # fmt: skip
        key = uow.api_keys.get(actor.tenant_id, key_id)
        uow.commit()
    return key


def rotate_api_key(
    ctx: ServiceContext, actor: Actor, key_id: str, *, grace_hours: int = 24
) -> tuple[ApiKey, str]:
    """A new key with the old one's name; the old key keeps working for `grace_hours` so deployments
    can switch without downtime (0 revokes it at once)."""
    if not 0 <= grace_hours <= 24 * 30:
        raise DomainError("invalid_grace_period", "grace_hours is 0 to 720.", "grace_hours")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        old = uow.api_keys.get(actor.tenant_id, key_id)
        if not old.usable_at(now):
            raise DomainError("api_key_not_usable", "A revoked or expired key cannot be rotated.", None)
        new, token = _add_key(ctx, uow, actor, old.name)
        if grace_hours == 0:
            uow.api_keys.revoke(actor.tenant_id, key_id, now)
        else:  # a key rotated before keeps its earlier end
            uow.api_keys.expire(actor.tenant_id, key_id, now + timedelta(hours=grace_hours))
        rotated = uow.api_keys.get(actor.tenant_id, key_id)
        audit.changed(
            ctx, uow, actor, EventType.API_KEY_ROTATED, object_type="api_key", object_id=key_id,
            before=_key_view(old), after={**_key_view(rotated), "replaced_by": new.id}, at=now,
            data={"id": key_id, "prefix": old.prefix, "replaced_by": new.id},
        )  # fmt: skip
        uow.commit()
    return new, token


def _key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def authenticate(ctx: ServiceContext, authorization: str | None, request_id: str | None = None) -> Actor:
    """The actor behind an `Authorization: Bearer <key>` header, or Unauthorized (401)."""
    if not authorization:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    scheme, _, token = authorization.partition(" ")
    parts = split_key(token.strip()) if scheme.lower() == "bearer" else None
    if parts is None:
        raise Unauthorized("The Authorization header is not 'Bearer <key>' with a kassa API key.")
    prefix, secret = parts
    now = ctx.clock.now()
    with ctx.uow(read_only=True) as uow:
        found = uow.api_keys.find_by_prefix(prefix)
    if found is None or not secret_matches(secret, found[1]) or not found[0].usable_at(now):
        raise Unauthorized("This API key is unknown, revoked or expired.")
    key = found[0]
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        with ctx.uow() as uow:
            uow.api_keys.touch(key.tenant_id, key.id, now)
            uow.commit()
    return Actor(tenant_id=key.tenant_id, type=ActorType.API_KEY, id=key.id, request_id=request_id)


def get_settings(ctx: ServiceContext, actor: Actor) -> TenantSettings:
    with ctx.uow(read_only=True) as uow:
        return uow.tenants.get(actor.tenant_id).settings


def update_settings(ctx: ServiceContext, actor: Actor, patch: dict[str, Any]) -> TenantSettings:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        tenant = uow.tenants.get(actor.tenant_id, for_update=True)
        updated = _settings_with(ctx, tenant.settings, patch)
        if updated != tenant.settings:
            uow.tenants.save_settings(actor.tenant_id, updated, now)
            audit.changed(
                ctx, uow, actor, EventType.SETTINGS_UPDATED, object_type="tenant", object_id=actor.tenant_id,
                before=tenant.settings.to_json(), after=updated.to_json(), at=now,
            )  # fmt: skip
        uow.commit()
    return updated


def _settings_with(ctx: ServiceContext, current: TenantSettings, patch: dict[str, Any]) -> TenantSettings:
    """Validate a settings patch: core checks the rules, the tax id adapter the checksums."""
    patch = dict(patch)
    if "tax_ids" in patch:
        patch_tax_ids = patch.pop("tax_ids")
        if not isinstance(patch_tax_ids, list) or len(patch_tax_ids) > 10:
            raise DomainError(
                "invalid_tax_ids", "tax_ids is a list of at most 10 {type, value} objects.", "tax_ids"
            )
        current = replace(current, tax_ids=tax_ids(ctx, patch_tax_ids, "tax_ids"))
    if "bank" in patch:
        bank = patch.pop("bank")
        current = replace(current, bank=None if bank is None else _bank(ctx, bank))
    if "locale" in patch:
        known_locale(patch["locale"], "locale")
    updated = apply_settings(current, patch)
    if "webhook_allowed_networks" in patch:
        permitted = ctx.settings.webhook_permitted_networks
        inside = networks_within(updated.webhook_allowed_networks, permitted)
        for index, network in enumerate(updated.webhook_allowed_networks):
            if network not in inside:
                allowed = ", ".join(permitted) or "none"
                raise DomainError(
                    "network_not_permitted",
                    f"{network} is not inside the networks this kassa permits ({allowed}; the operator sets "
                    "KASSA_WEBHOOK_PERMITTED_NETWORKS).",
                    f"webhook_allowed_networks.{index}",
                )
    return updated


def tax_ids(ctx: ServiceContext, items: list[Any], field: str) -> tuple[Any, ...]:
    checked = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"type", "value"} or not {"type", "value"} <= set(item):
            raise DomainError("invalid_tax_id", "A tax id is {type, value}.", f"{field}.{i}")
        if not isinstance(item["type"], str) or not isinstance(item["value"], str):
            raise DomainError("invalid_tax_id", "type and value are strings.", f"{field}.{i}")
        if item["type"] not in ctx.tax_ids.supported_types():
            supported = ", ".join(ctx.tax_ids.supported_types())
            raise DomainError(
                "unknown_tax_id_type",
                f"Unknown tax id type {item['type']!r}; supported: {supported}.",
                f"{field}.{i}.type",
            )
        checked.append(ctx.tax_ids.validate_tax_id(item["type"], item["value"], field=f"{field}.{i}.value"))
    return tuple(checked)


def _bank(ctx: ServiceContext, bank: Any) -> BankDetails:
    if (
        not isinstance(bank, dict)
        or "iban" not in bank
        or set(bank) - {"iban", "bic", "account_holder", "bank_name"}
    ):
        raise DomainError("invalid_bank", "bank is {iban, bic?, account_holder?, bank_name?}.", "bank")
    for key in ("iban", "bic", "account_holder", "bank_name"):
        value = bank.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise DomainError("invalid_text", f"{key} is text of at most 200 characters.", f"bank.{key}")
    bic = bank.get("bic")
    return BankDetails(
        iban=ctx.tax_ids.validate_iban(bank["iban"], field="bank.iban"),
        bic=None if bic is None else ctx.tax_ids.validate_bic(bic, field="bank.bic"),
        account_holder=bank.get("account_holder"),
        bank_name=bank.get("bank_name"),
    )


def known_locale(value: Any, field: str) -> str:
    """A locale Babel has display data for (invoices and emails are rendered with it)."""
    if not isinstance(value, str):
        raise DomainError("invalid_locale", "A locale is a string like 'de_DE'.", field)
    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        raise DomainError("invalid_locale", f"{value!r} is not a known locale like 'de_DE'.", field) from None
    return value
