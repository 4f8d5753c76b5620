"""/v1/billable_metrics: what usage is measured, and how a period's usage events reduce to a quantity."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StringConstraints

from kassa.api.deps import Caller, Ctx
from kassa.api.schemas import Input
from kassa.core.metering import BillableMetric
from kassa.services import billable_metrics

router = APIRouter(prefix="/billable_metrics", tags=["usage"])

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Property = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Aggregation = Literal["count", "sum", "max", "unique_count", "latest", "weighted_sum"]
Filters = Annotated[
    dict[
        Property,
        Annotated[
            list[Annotated[str, StringConstraints(max_length=200)]], Field(min_length=1, max_length=100)
        ],
    ],
    Field(
        max_length=20,
        description='Only events whose property is one of the values count: {"region": ["eu"]}.',
    ),
]


class MetricCreate(Input):
    code: Code
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    aggregation: Aggregation = Field(description="weighted_sum: a level held over time, in unit-hours.")
    field_name: Property | None = Field(None, description="The property measured; none for count.")
    filters: Filters | None = None
    group_by: Property | None = Field(None, description="One charge prices each value of this property.")
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None


class MetricUpdate(Input):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    aggregation: Aggregation | None = Field(None, description="Only while the metric has no usage events.")
    field_name: Property | None = None
    filters: Filters | None = None
    group_by: Property | None = None


class MetricOut(BaseModel):
    code: str
    name: str
    aggregation: str
    field_name: str | None
    filters: dict[str, list[str]]
    group_by: str | None
    description: str | None

    @classmethod
    def of(cls, m: BillableMetric) -> MetricOut:
        return cls.model_validate(m.to_json())


class MetricList(BaseModel):
    data: list[MetricOut]


@router.post("", status_code=201, response_model=MetricOut)
def create_metric(body: MetricCreate, ctx: Ctx, actor: Caller) -> MetricOut:
    return MetricOut.of(billable_metrics.create_metric(ctx, actor, body.model_dump(exclude_none=True)))


@router.get("", response_model=MetricList)
def list_metrics(ctx: Ctx, actor: Caller) -> MetricList:
    return MetricList(data=[MetricOut.of(m) for m in billable_metrics.list_metrics(ctx, actor)])


@router.get("/{code}", response_model=MetricOut)
def get_metric(code: Annotated[str, Path(max_length=64)], ctx: Ctx, actor: Caller) -> MetricOut:
    return MetricOut.of(billable_metrics.get_metric(ctx, actor, code))


@router.patch("/{code}", response_model=MetricOut)
def update_metric(
    code: Annotated[str, Path(max_length=64)], body: MetricUpdate, ctx: Ctx, actor: Caller
) -> MetricOut:
    return MetricOut.of(billable_metrics.update_metric(ctx, actor, code, body.model_dump(exclude_unset=True)))
