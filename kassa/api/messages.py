"""Lifecycle messages (issue 9): templates per kind and locale, message settings, customers' preferences,
the log of messages sent, and the public unsubscribe page the emails link to. See docs/messages.md."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, StrictBool, StringConstraints
from starlette.concurrency import run_in_threadpool

from kassa.api.deps import Caller, Ctx, Cursor, Limit
from kassa.api.schemas import Id, Input, PageOut, page_of
from kassa.core.errors import DomainError
from kassa.core.messages import (
    COMMON_VARIABLES,
    MAX_BODY,
    MAX_LEAD_DAYS,
    MAX_SUBJECT,
    VARIABLES,
    Message,
    MessageSettings,
    MessageTemplate,
    essential,
)
from kassa.services import messages

router = APIRouter(tags=["messages"])
public_router = APIRouter(tags=["messages"])

Kind = Literal["welcome", "trial_ending", "renewal_upcoming", "invoice_issued", "payment_succeeded",
               "payment_failed", "card_expiring", "usage_threshold", "low_balance", "plan_changed",
               "subscription_canceled", "dunning_step", "dispute_resolved", "portal_link"]  # fmt: skip
Status = Literal["sent", "failed", "suppressed"]
Locale = Annotated[
    str,
    Path(max_length=20, pattern=r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,4}){0,2}$",
         description='A locale: "de", "de-AT" or "de_AT" (the same).', examples=["de"]),
]  # fmt: skip
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[^\s<>\"']+$")]
Token = Annotated[str, Path(min_length=3, max_length=400, pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")]


class TemplateIn(Input):
    subject: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SUBJECT)] = Field(
        examples=["Willkommen bei {{ company_name }}"])  # fmt: skip
    body_text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY)] = Field(
        examples=["Guten Tag {{ customer_name }},\n\nwillkommen!"])  # fmt: skip
    body_html: Annotated[str, StringConstraints(max_length=MAX_BODY)] | None = Field(
        None, description="Optional HTML part; values are escaped.")  # fmt: skip


class TemplateOut(BaseModel):
    object: Literal["message_template"]
    kind: Kind
    locale: str
    subject: str
    body_text: str
    body_html: str | None
    builtin: bool = Field(description="kassa's default wording, not the tenant's own.")
    essential: bool = Field(description="Essential kinds cannot be unsubscribed.")
    variables: dict[str, str] = Field(description="The variables this kind's templates may use.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, t: MessageTemplate) -> TemplateOut:
        return cls(object="message_template", kind=t.kind.value, locale=t.locale, subject=t.subject,
                   body_text=t.body_text, body_html=t.body_html, builtin=t.builtin, essential=essential(t.kind),
                   variables={**COMMON_VARIABLES, **VARIABLES[t.kind]}, created_at=t.created_at,
                   updated_at=t.updated_at)  # fmt: skip


class TemplateList(BaseModel):
    data: list[TemplateOut]
    has_more: bool
    next_cursor: str | None


class SettingsIn(Input):
    enabled: StrictBool | None = Field(None, description="Lifecycle messages are off until turned on.")
    trial_ending_days: Annotated[int, Field(ge=1, le=MAX_LEAD_DAYS, strict=True)] | None = Field(
        None, description="Days before a trial ends that trial_ending goes out (default 3).")  # fmt: skip
    renewal_upcoming_days: Annotated[int, Field(ge=1, le=MAX_LEAD_DAYS, strict=True)] | None = Field(
        None, description="Days before a renewal that renewal_upcoming goes out (default 7).")  # fmt: skip
    update_payment_method_url: Url | None = Field(
        None, description="Where customers update their payment method (payment_failed, card_expiring).")  # fmt: skip
    public_url: Url | None = Field(
        None, description="The address customers reach this kassa at, for unsubscribe links.")  # fmt: skip


class SettingsOut(BaseModel):
    object: Literal["message_settings"]
    enabled: bool
    trial_ending_days: int
    renewal_upcoming_days: int
    update_payment_method_url: str | None
    public_url: str | None

    @classmethod
    def of(cls, s: MessageSettings) -> SettingsOut:
        return cls(object="message_settings", **s.to_json())


class PreferencesOut(BaseModel):
    object: Literal["message_preferences"]
    customer_id: str
    preferences: dict[str, bool] = Field(description='What the customer chose: {kind or "*": subscribed}.')
    effective: dict[str, bool] = Field(description="Whether each kind is sent to the customer.")

    @classmethod
    def of(cls, customer_id: str, chosen: dict[str, bool]) -> PreferencesOut:
        return cls(object="message_preferences", customer_id=customer_id, preferences=chosen,
                   effective=messages.effective(chosen))  # fmt: skip


PreferencesIn = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=40)], StrictBool],
    Body(examples=[{"renewal_upcoming": False, "*": True}]),
]


class MessageOut(BaseModel):
    id: str
    object: Literal["message"]
    customer_id: str
    kind: Kind
    essential: bool
    channel: Literal["email", "webhook"]
    locale: str
    recipient: str | None
    subject: str | None
    status: Status
    error: str | None
    event_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls.model_validate(m.to_json())


@router.get("/message_templates", response_model=TemplateList)
def list_templates(ctx: Ctx, actor: Caller, kind: Annotated[Kind | None, Query()] = None) -> TemplateList:
    """The tenant's templates and kassa's built-in ones (English, German) it has not replaced."""
    found = [TemplateOut.of(t) for t in messages.list_templates(ctx, actor, kind)]
    return TemplateList(data=found, has_more=False, next_cursor=None)


@router.get("/message_templates/{kind}/{locale}", response_model=TemplateOut)
def get_template(kind: Kind, locale: Locale, ctx: Ctx, actor: Caller) -> TemplateOut:
    """The template a customer of this locale gets (falling back de-AT → de → en), `builtin` if kassa's."""
    return TemplateOut.of(messages.get_template(ctx, actor, kind, locale))


@router.put("/message_templates/{kind}/{locale}", response_model=TemplateOut)
def put_template(kind: Kind, locale: Locale, body: TemplateIn, ctx: Ctx, actor: Caller) -> TemplateOut:
    """Save the tenant's template (Jinja2, sandboxed): checked against sample values of the kind's variables."""
    return TemplateOut.of(messages.put_template(ctx, actor, kind, locale, body.model_dump()))


@router.delete("/message_templates/{kind}/{locale}", status_code=204)
def delete_template(kind: Kind, locale: Locale, ctx: Ctx, actor: Caller) -> Response:
    """Remove the tenant's template: customers get kassa's wording again."""
    messages.delete_template(ctx, actor, kind, locale)
    return Response(status_code=204)


@router.get("/message_settings", response_model=SettingsOut)
def get_settings(ctx: Ctx, actor: Caller) -> SettingsOut:
    return SettingsOut.of(messages.get_settings(ctx, actor))


@router.put("/message_settings", response_model=SettingsOut)
def put_settings(body: SettingsIn, ctx: Ctx, actor: Caller) -> SettingsOut:
    """Change the reminders' lead times and the links; fields left out keep their value, null clears a URL."""
    return SettingsOut.of(messages.put_settings(ctx, actor, body.model_dump(exclude_unset=True)))


@router.get("/customers/{customer_id}/message_preferences", response_model=PreferencesOut)
def get_preferences(customer_id: Id, ctx: Ctx, actor: Caller) -> PreferencesOut:
    return PreferencesOut.of(customer_id, messages.get_preferences(ctx, actor, customer_id))


@router.put("/customers/{customer_id}/message_preferences", response_model=PreferencesOut)
def put_preferences(customer_id: Id, body: PreferencesIn, ctx: Ctx, actor: Caller) -> PreferencesOut:
    """{kind: bool, "*": bool}: kinds not named keep their choice; essential kinds cannot be turned off."""
    return PreferencesOut.of(customer_id, messages.put_preferences(ctx, actor, customer_id, body))


@router.get("/messages", response_model=PageOut[MessageOut])
def list_messages(
    ctx: Ctx,
    actor: Caller,
    limit: Limit = 20,
    cursor: Cursor = None,
    customer_id: Annotated[Id | None, Query()] = None,
    kind: Annotated[Kind | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
) -> PageOut[MessageOut]:
    """Every message sent, failed or suppressed, newest first."""
    found = messages.list_messages(ctx, actor, limit=limit, cursor=cursor, customer_id=customer_id, kind=kind,
                                   status=status)  # fmt: skip
    return page_of(found, MessageOut.of)


@router.get("/messages/{message_id}", response_model=MessageOut)
def get_message(message_id: Id, ctx: Ctx, actor: Caller) -> MessageOut:
    return MessageOut.of(messages.get_message(ctx, actor, message_id))


# ---- the public unsubscribe page (no API key: the signed token is the authority) -----------------------

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36rem; margin: 3rem auto">{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status)


def _invalid() -> HTMLResponse:
    return _page("Invalid link", "<h1>This link is not valid.</h1>", 404)


@public_router.get("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(token: Token, ctx: Ctx) -> HTMLResponse:
    """A confirmation form, not the act: mail scanners fetch links, and a GET must not unsubscribe."""
    try:
        claims, company, gets = messages.check_unsubscribe(ctx, token)
    except DomainError:
        return _invalid()
    kind = escape(claims.kind.value.replace("_", " "))
    state = "" if gets else "<p>You are already unsubscribed from these emails.</p>"
    form = (f'<form method="post"><button type="submit">Unsubscribe from {kind} emails</button></form>'
            '<form method="post"><input type="hidden" name="scope" value="all">'
            '<button type="submit">Unsubscribe from all optional emails</button></form>')  # fmt: skip
    return _page("Unsubscribe", f"<h1>{escape(company)}</h1>{state}{form}")


@public_router.post("/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
async def unsubscribe(token: Token, ctx: Ctx, request: Request) -> HTMLResponse:
    """RFC 8058 one-click (body `List-Unsubscribe=One-Click`) or the page's form (`scope=all` for every
    optional kind). Essential messages are never affected."""
    form = parse_qs((await request.body())[:2000].decode("utf-8", "replace"))
    everything = form.get("scope") == ["all"]
    try:
        claims = await run_in_threadpool(messages.unsubscribe, ctx, token, everything=everything)
    except DomainError:
        return _invalid()
    what = "all optional emails" if everything else f"{claims.kind.value.replace('_', ' ')} emails"
    return _page("Unsubscribed", f"<h1>You are unsubscribed from {escape(what)}.</h1>")
