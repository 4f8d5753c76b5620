"""Billable metrics: what usage is measured and how it reduces to a quantity per period."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kassa.core.audit import Actor
from kassa.core.errors import Conflict
from kassa.core.events import EventType
from kassa.core.metering import BillableMetric, parse_metric
from kassa.services import audit
from kassa.services.context import ServiceContext


def create_metric(ctx: ServiceContext, actor: Actor, body: dict[str, Any]) -> BillableMetric:
    metric = parse_metric(body)
    with ctx.uow() as uow:
        if uow.billable_metrics.find(actor.tenant_id, metric.code, for_update=True) is not None:
            raise Conflict("duplicate_code", f"A billable metric {metric.code!r} exists already.", "code")
        now = ctx.clock.now()
        uow.billable_metrics.add(actor.tenant_id, metric, now)
        audit.changed(ctx, uow, actor, EventType.BILLABLE_METRIC_CREATED, object_type="billable_metric",
                      object_id=metric.code, before=None, after=metric.to_json(), at=now)  # fmt: skip
        uow.commit()
    return metric


def update_metric(ctx: ServiceContext, actor: Actor, code: str, changes: dict[str, Any]) -> BillableMetric:
    """Name and description change freely; what the metric measures only until it has usage events."""
    with ctx.uow() as uow:
        before = uow.billable_metrics.get(actor.tenant_id, code, for_update=True)
        merged = {**before.to_json(), **changes, "code": code}
        after = parse_metric({k: v for k, v in merged.items() if v is not None or k in changes})
        after = replace(after, code=code)
        if not after.same_measure(before) and uow.billable_metrics.in_use(actor.tenant_id, code):
            raise Conflict(
                "metric_in_use",
                f"Metric {code!r} has usage events: what it measures is fixed (create a new metric instead); "
                "its name and description can change.",
            )
        now = ctx.clock.now()
        uow.billable_metrics.update(actor.tenant_id, after, now)
        audit.changed(ctx, uow, actor, EventType.BILLABLE_METRIC_UPDATED, object_type="billable_metric",
                      object_id=code, before=before.to_json(), after=after.to_json(), at=now)  # fmt: skip
        uow.commit()
    return after


def get_metric(ctx: ServiceContext, actor: Actor, code: str) -> BillableMetric:
    with ctx.uow(read_only=True) as uow:
        return uow.billable_metrics.get(actor.tenant_id, code)


def list_metrics(ctx: ServiceContext, actor: Actor) -> list[BillableMetric]:
    with ctx.uow(read_only=True) as uow:
        return uow.billable_metrics.all(actor.tenant_id)
