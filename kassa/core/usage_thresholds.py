"""Usage thresholds: a subscription is told once per period when its usage reaches a share of a metric's
included allowance (80 %, 100 %) or its usage charges reach an amount — for lifecycle messages now and
entitlement limits later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.rating.parsing import decimal
from kassa.core.usage import UsageLine


class ThresholdKind(StrEnum):
    ALLOWANCE_PERCENT = "allowance_percent"  # of one metric's included units
    AMOUNT = "amount"  # usage charges so far, of one metric or all


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageThreshold:
    tenant_id: str
    id: str
    subscription_id: str
    kind: ThresholdKind
    value: Decimal
    metric: str | None
    created_at: datetime


def parse_threshold(body: Mapping[str, Any]) -> tuple[ThresholdKind, Decimal, str | None]:
    unknown = set(body) - {"kind", "value", "metric"}
    if unknown:
        name = sorted(unknown)[0]
        raise DomainError("unknown_field", f"Unknown field {name!r}.", name)
    try:
        kind = ThresholdKind(str(body.get("kind")))
    except ValueError:
        raise DomainError("invalid_threshold", "kind is allowance_percent or amount.", "kind") from None
    try:
        value = decimal(body.get("value"), "value", positive=True)
    except DomainError as error:
        raise DomainError("invalid_threshold", error.message, "value") from None
    metric = body.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise DomainError("invalid_threshold", "metric is a billable metric's code.", "metric")
    if kind is ThresholdKind.ALLOWANCE_PERCENT and metric is None:
        raise DomainError("invalid_threshold", "A share of an allowance names its metric.", "metric")
    return kind, value, metric


def reached(threshold: UsageThreshold, lines: Sequence[UsageLine]) -> bool:
    mine = [line for line in lines if threshold.metric is None or line.metric == threshold.metric]
    if threshold.kind is ThresholdKind.AMOUNT:
        return sum((line.amount.amount for line in mine), Decimal(0)) >= threshold.value
    # each group has its own allowance: the threshold is reached when any group reaches it
    return any(
        line.charge.included and line.rated.quantity * 100 >= line.charge.included * threshold.value
        for line in mine
    )
