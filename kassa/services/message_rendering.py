"""Lifecycle message templates rendered in a sandbox: a tenant's template is untrusted input, so it runs in
Jinja2's SandboxedEnvironment (no attribute tricks, no imports), with StrictUndefined (a misspelt variable
is an error, refused when the template is saved) and HTML autoescaped (a customer's name cannot inject
markup into the HTML part). Also: which template a customer gets, and the tenant's settings and key."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from kassa.core.errors import DomainError
from kassa.core.message_texts import builtin
from kassa.core.messages import (
    MessageKind,
    MessageSettings,
    MessageTemplate,
    UnsubscribeToken,
    locale_chain,
    sample_variables,
    sign_unsubscribe,
    variable_names,
)
from kassa.services.context import ServiceContext
from kassa.store.uow import UnitOfWork

_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class RenderError(Exception):
    """A saved template failed on real data (it passed the samples): the message fails, it is not retried."""


@lru_cache(maxsize=512)
def _compiled(html: bool, source: str) -> Template:
    return (_HTML if html else _TEXT).from_string(source)


def render(template: MessageTemplate, variables: Mapping[str, Any]) -> Rendered:
    """Subject on one line (whitespace collapsed: a header cannot hold a line break), the text, the HTML."""
    try:
        subject = " ".join(_compiled(False, template.subject).render(variables).split())
        text = _compiled(False, template.body_text).render(variables)
        html = None if template.body_html is None else _compiled(True, template.body_html).render(variables)
    except Exception as error:  # anything a template can raise: its author's mistake, not a reason to retry
        raise RenderError(f"{type(error).__name__}: {error}") from error
    return Rendered(subject=subject, text=text, html=html)


def check_template(template: MessageTemplate) -> None:
    """Compile and render every part against the kind's sample variables: a syntax error or a variable the
    kind does not have is a 422 naming the field, before anything is saved."""
    names = ", ".join(variable_names(template.kind))
    samples = sample_variables(template.kind)
    parts = (("subject", template.subject, False), ("body_text", template.body_text, False),
             ("body_html", template.body_html, True))  # fmt: skip
    for field, source, html in parts:
        if source is None:
            continue
        try:
            out = _compiled(html, source).render(samples)
        except TemplateSyntaxError as error:
            raise DomainError("invalid_template", f"Line {error.lineno}: {error.message}", field) from None
        except UndefinedError as error:
            raise DomainError("unknown_variable", f"{error.message}. {template.kind.value} has: {names}.",
                              field) from None  # fmt: skip
        except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError) as error:
            raise DomainError("invalid_template", f"{type(error).__name__}: {error}", field) from None
        if field == "subject" and not out.strip():
            raise DomainError("invalid_template", "The subject renders empty.", field)


def resolve(uow: UnitOfWork, tenant_id: str, kind: MessageKind, locales: list[str]) -> MessageTemplate | None:
    """The first locale of the chain that has a template, the tenant's own before kassa's: a reader gets
    their language before the tenant's wording in another one."""
    for locale in locales:
        found = uow.message_templates.find(tenant_id, kind, locale) or builtin(kind, locale)
        if found is not None:
            return found
    return None


def template_for(uow: UnitOfWork, tenant_id: str, kind: MessageKind, *locales: str | None) -> MessageTemplate:
    found = resolve(uow, tenant_id, kind, locale_chain(*locales))
    assert found is not None, "English is built in for every kind"
    return found


def settings_of(uow: UnitOfWork, tenant_id: str) -> MessageSettings:
    found = uow.message_settings.find(tenant_id)
    return MessageSettings() if found is None else found[0]


def stored_key(uow: UnitOfWork, tenant_id: str) -> bytes | None:
    found = uow.message_settings.find(tenant_id)
    return None if found is None else base64.urlsafe_b64decode(found[1])


def signing_key(ctx: ServiceContext, uow: UnitOfWork, tenant_id: str) -> bytes:
    """The tenant's key for unsubscribe links: 256 random bits made on first use and kept in its message
    settings (never shown), so links keep working across restarts and processes without configuration."""
    key = stored_key(uow, tenant_id)
    if key is None:
        key = ctx.random_bytes(32)
        text = base64.urlsafe_b64encode(key).decode()
        uow.message_settings.add(tenant_id, MessageSettings(), text, at=ctx.clock.now())
    return key


def public_url(ctx: ServiceContext, settings: MessageSettings) -> str:
    return (settings.public_url or f"http://{ctx.settings.host}:{ctx.settings.port}").rstrip("/")


def unsubscribe_url(ctx: ServiceContext, uow: UnitOfWork, token: UnsubscribeToken) -> str:
    settings = settings_of(uow, token.tenant_id)
    signed = sign_unsubscribe(signing_key(ctx, uow, token.tenant_id), token)
    return f"{public_url(ctx, settings)}/unsubscribe/{signed}"
