"""Runs of provisioning steps (one row per step of a plan run for one subscription event), and the staff
user a task goes to; every query is scoped by tenant."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kassa.core.errors import NotFound
from kassa.core.pages import Page
from kassa.core.provisioning import ProvisioningStep, StepStatus, Trigger, step_from_doc
from kassa.store.pages import page
from kassa.store.tables import provisioning_steps, users

_COLUMNS = ("customer_id", "subscription_id", "plan", "attempts", "next_attempt_at", "last_error", "owner_id",
            "due_at", "completed_at", "created_at", "updated_at")  # fmt: skip


def _values(s: ProvisioningStep) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(s, name) for name in _COLUMNS}
    return {"tenant_id": s.tenant_id, "id": s.id, "step": s.step, "trigger": s.trigger.value,
            "action": s.action.value, "status": s.status.value, "spec": s.spec.to_doc(), **values}  # fmt: skip


def _step(r: sa.Row[Any]) -> ProvisioningStep:
    return ProvisioningStep(tenant_id=r.tenant_id, id=r.id, trigger=Trigger(r.trigger), spec=step_from_doc(r.spec),
                            status=StepStatus(r.status), **{name: getattr(r, name) for name in _COLUMNS})  # fmt: skip


class ProvisioningSteps:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def add(self, step: ProvisioningStep) -> None:
        self.conn.execute(provisioning_steps.insert().values(**_values(step)))

    def update(self, step: ProvisioningStep) -> None:
        c = provisioning_steps.c
        self.conn.execute(provisioning_steps.update().where(c.tenant_id == step.tenant_id, c.id == step.id)
                          .values(**_values(step)))  # fmt: skip

    def get(self, tenant_id: str, step_id: str, *, for_update: bool = False) -> ProvisioningStep:
        c = provisioning_steps.c
        query = sa.select(provisioning_steps).where(c.tenant_id == tenant_id, c.id == step_id)
        row = self.conn.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise NotFound("provisioning_step", step_id)
        return _step(row)

    def exists(
        self, tenant_id: str, subscription_id: str, trigger: Trigger, *, step: str | None = None,
        created_at: datetime | None = None,
    ) -> bool:  # fmt: skip
        """Whether a run for this subscription and trigger exists (of `step`, created at `created_at`, if
        given)."""
        c = provisioning_steps.c
        query = sa.select(c.id).where(c.tenant_id == tenant_id, c.subscription_id == subscription_id,
                                      c.trigger == trigger.value)  # fmt: skip
        if step is not None:
            query = query.where(c.step == step)
        if created_at is not None:
            query = query.where(c.created_at == created_at)
        return self.conn.execute(query.limit(1)).first() is not None

    def list(self, tenant_id: str, *, limit: int, cursor: str | None, customer_id: str | None = None,
             status: StepStatus | None = None, owner_id: str | None = None) -> Page[ProvisioningStep]:  # fmt: skip
        """The tenant's steps, newest first, optionally of one customer, status or owner."""
        c = provisioning_steps.c
        query = sa.select(provisioning_steps).where(c.tenant_id == tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        if status is not None:
            query = query.where(c.status == status.value)
        if owner_id is not None:
            query = query.where(c.owner_id == owner_id)
        return page(self.conn, query, c.id, limit=limit, cursor=cursor, to_item=_step)

    def of_customer(self, tenant_id: str, customer_id: str) -> builtins.list[ProvisioningStep]:
        """Every step run for the customer, in the order they were started."""
        c = provisioning_steps.c
        query = sa.select(provisioning_steps).where(c.tenant_id == tenant_id, c.customer_id == customer_id)
        return [_step(r) for r in self.conn.execute(query.order_by(c.created_at, c.id))]

    def active_user_id(self, tenant_id: str, email: str) -> str | None:
        """The tenant's active staff user with this email (emails are stored lowercase), if any."""
        c = users.c
        query = sa.select(c.id).where(c.tenant_id == tenant_id, c.email == email.lower(),
                                      c.deactivated_at.is_(None))  # fmt: skip
        return self.conn.execute(query).scalar()
