"""The catalog: versioned documents applied with an effective date, read back as parsed versions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from threading import Lock
from typing import Any

from kassa.core.audit import Actor
from kassa.core.catalog import Catalog, CatalogVersion, Plan, in_effect, parse_catalog
from kassa.core.clock import utc
from kassa.core.errors import Conflict, DomainError
from kassa.core.events import EventType
from kassa.core.metering import Aggregation
from kassa.core.rating import ChargeTiming
from kassa.services import audit
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

MAX_DOCUMENT_BYTES = 1_000_000
IN_ADVANCE = frozenset({Aggregation.COUNT, Aggregation.SUM})


@dataclass(frozen=True, slots=True, kw_only=True)
class AppliedCatalog:
    """A version as stored: its number, when it takes effect, the document as applied, its parse."""

    number: int
    name: str | None
    effective_at: datetime
    created_at: datetime
    document: dict[str, Any]
    version: CatalogVersion


# Versions never change once applied, so their parse is kept per (tenant, number, created_at).
_parsed: dict[tuple[str, int, datetime], CatalogVersion] = {}
_parsed_lock = Lock()


def _plain(document: Any) -> dict[str, Any]:
    """The document as JSON data (YAML gives dates as date objects), checked for size."""

    def default(value: Any) -> str:
        if isinstance(value, date):
            return value.isoformat()
        raise DomainError(
            "invalid_catalog",
            f"A catalog holds text, numbers, lists and objects, not {type(value).__name__}.",
        )

    text = json.dumps(document, default=default, ensure_ascii=False)
    if len(text.encode()) > MAX_DOCUMENT_BYTES:
        raise DomainError(
            "catalog_too_large", f"A catalog document is at most {MAX_DOCUMENT_BYTES} bytes as JSON."
        )
    plain = json.loads(text)
    if not isinstance(plain, dict):
        raise DomainError("invalid_catalog", "A catalog document is an object with products.")
    return plain


def _applied(tenant_id: str, row: Any) -> AppliedCatalog:
    key = (tenant_id, row.number, row.created_at)
    with _parsed_lock:
        version = _parsed.get(key)
    if version is None:
        version = CatalogVersion(
            number=row.number, effective_at=row.effective_at, catalog=parse_catalog(row.document)
        )
        with _parsed_lock:
            _parsed[key] = version
    return AppliedCatalog(
        number=row.number, name=row.name, effective_at=row.effective_at, created_at=row.created_at,
        document=row.document, version=version,
    )  # fmt: skip


def versions(uow: UnitOfWork, tenant_id: str) -> list[CatalogVersion]:
    """Every applied version, oldest first, parsed (cached)."""
    return [_applied(tenant_id, row).version for row in uow.catalog_versions.all(tenant_id)]


def apply_catalog(
    ctx: ServiceContext, actor: Actor, document: Any, *, effective_at: datetime | None
) -> AppliedCatalog:
    """Validate a whole document and store it as the next version. Errors name the path in the document;
    an invalid document changes nothing. Versions take effect in order: not before the latest one."""
    plain = _plain(document)
    parsed = parse_catalog(plain)  # the whole document is valid, or nothing is written
    with ctx.uow() as uow:
        _check_metrics(uow, actor.tenant_id, parsed)
        now = ctx.clock.now()
        when = utc(effective_at) if effective_at is not None else now
        latest = uow.catalog_versions.latest(actor.tenant_id, for_update=True)
        if latest is not None and when < latest.effective_at:
            raise Conflict(
                "effective_before_latest",
                f"Version {latest.number} takes effect at {latest.effective_at.isoformat()}; a new version cannot "
                "take effect before it.",
                "effective_at",
            )
        number = 1 if latest is None else latest.number + 1
        name = plain.get("name")
        uow.catalog_versions.add(
            actor.tenant_id, number, name=name, effective_at=when, document=plain, created_at=now
        )
        summary = {"number": number, "name": name, "effective_at": when.isoformat()}
        audit.changed(
            ctx, uow, actor, EventType.CATALOG_APPLIED, object_type="catalog_version", object_id=str(number),
            before=None, after=summary, at=now,
        )  # fmt: skip
        uow.commit()
        row = uow.catalog_versions.get(actor.tenant_id, number)
    return _applied(actor.tenant_id, row)


def _check_metrics(uow: UnitOfWork, tenant_id: str, parsed: Catalog) -> None:
    """Usage charges name billable metrics that exist; in advance, only a count or a sum can be charged per
    event (a level or a distinct count has no per-event price)."""
    codes = {c.metric for plan in parsed.plans.values() for c in plan.charges}
    known = uow.billable_metrics.many(tenant_id, codes)
    for p, product in enumerate(_products(parsed)):
        for j, plan in enumerate(product):
            for i, charge in enumerate(plan.charges):
                where = f"products.{p}.plans.{j}.charges.{i}"
                metric = known.get(charge.metric)
                if metric is None:
                    raise DomainError("metric_not_found", f"No billable metric {charge.metric!r}; create it first.",
                                      f"{where}.metric")  # fmt: skip
                if charge.transactional and metric.aggregation is not Aggregation.SUM:
                    raise DomainError("invalid_catalog", f"A percentage is of each transaction's amount: metric "
                                      f"{charge.metric!r} must be a sum, not a {metric.aggregation.value}.",
                                      f"{where}.model")  # fmt: skip
                if charge.timing is ChargeTiming.IN_ADVANCE and metric.aggregation not in IN_ADVANCE:
                    raise DomainError("invalid_catalog", f"Metric {charge.metric!r} is a {metric.aggregation.value}; "
                                      "only count and sum metrics are charged in advance.", f"{where}.timing")  # fmt: skip


def _products(parsed: Catalog) -> list[list[Plan]]:
    """Plans grouped by product in document order (error paths point into the document)."""
    out: dict[str, list[Plan]] = {code: [] for code in parsed.products}
    for plan in parsed.plans.values():
        out[plan.product].append(plan)
    return list(out.values())


def get_catalog(ctx: ServiceContext, actor: Actor, *, at: datetime | None) -> AppliedCatalog:
    """The version in effect at `at` (default: now)."""
    with ctx.uow(read_only=True) as uow:
        rows = uow.catalog_versions.all(actor.tenant_id)
        applied = [_applied(actor.tenant_id, row) for row in rows]
    current = in_effect([a.version for a in applied], utc(at) if at else ctx.clock.now())
    return next(a for a in applied if a.number == current.number)


def list_versions(ctx: ServiceContext, actor: Actor) -> list[AppliedCatalog]:
    with ctx.uow(read_only=True) as uow:
        return [_applied(actor.tenant_id, row) for row in reversed(uow.catalog_versions.all(actor.tenant_id))]


def get_version(ctx: ServiceContext, actor: Actor, number: int) -> AppliedCatalog:
    with ctx.uow(read_only=True) as uow:
        return _applied(actor.tenant_id, uow.catalog_versions.get(actor.tenant_id, number))
