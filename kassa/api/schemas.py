"""Wire shapes shared by the routers: money as strings, pages, addresses, tax ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from kassa.core.money import AMOUNT_PATTERN, Money
from kassa.core.pages import Page

T = TypeVar("T")
Id = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")]
Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN, max_length=40), Field(strict=True)]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the instant is outside years 1 to 9999 in UTC") from None


# An instant with its offset, turned into UTC at the edge (0001-01-01T00:00:00+00:30 has no UTC form).
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]


class Output(BaseModel):
    """A response shape read straight off a core dataclass's attributes."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, item: Any) -> Self:
        return cls.model_validate(item)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyModel(Input):
    """An exact amount: `{"amount": "12.34", "currency": "EUR"}`. A JSON number is refused."""

    amount: Amount = Field(examples=["12.34"])
    currency: CurrencyCode = Field(examples=["EUR"])

    @classmethod
    def of(cls, money: Money | None) -> MoneyModel | None:
        return None if money is None else cls(amount=money.amount_text(), currency=money.currency)


class AddressModel(Input):
    line1: Text200
    line2: Annotated[str, StringConstraints(max_length=200)] | None = None
    city: Text200
    postal_code: Annotated[str, StringConstraints(max_length=200)] | None = None
    state: Annotated[str, StringConstraints(max_length=200)] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(examples=["DE"])


class TaxIdIn(Input):
    type: Annotated[str, StringConstraints(min_length=1, max_length=20)] = Field(examples=["eu_vat"])
    value: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(examples=["DE136695976"])


class TaxIdOut(BaseModel):
    type: str
    value: str
    country: str


class PageOut(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


def page_of(page: Page[Any], convert: Callable[[Any], T]) -> PageOut[T]:
    return PageOut[T](
        data=[convert(item) for item in page.items], has_more=page.has_more, next_cursor=page.next_cursor
    )


class Obj(BaseModel):
    """A resource as its `to_json` writes it (the routes' shapes are documented in docs/)."""

    model_config = {"extra": "allow"}
    id: str


class ObjPage(BaseModel):
    data: list[Obj]
    has_more: bool
    next_cursor: str | None
