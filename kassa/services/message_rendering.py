"""Lifecycle message templates rendered in a sandbox: a tenant's template is untrusted input, so it runs in
Jinja2's SandboxedEnvironment (no attribute tricks, no imports), with StrictUndefined (a misspelt variable
is an error, refused when the template is saved) and HTML autoescaped (a customer's name cannot inject
markup into the HTML part). Also: which template a customer gets, and the tenant's settings and key."""

from __future__ import annotations

import base64
import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
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

# The longest string or sequence one operation of a template may build, and the largest power it may take:
# a tenant's `{{ 'x' * 400000000 }}` or `{{ 9 ** (9 ** 9) }}` would take a server thread for seconds or hours.
MAX_SIZE = 100_000
MAX_POWER_BITS = 4_096


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} would be too large for a message (at most {MAX_SIZE:,} characters)")


def _checked(value: Any, what: str) -> Any:
    if _sized(value) > MAX_SIZE:
        raise _too_big(what)
    return value


# A width or precision in a %-format or a {}-format spec: `'%0400000000d' % 1` builds the string at once.
_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?")
_BRACE_FIELD = re.compile(r"\{[^{}]*\}")
# Filters whose numeric arguments are a size (a width, a count of pieces), checked before they run.
_SIZED_FILTERS = frozenset({"center", "indent", "truncate", "wordwrap", "batch", "slice"})


def _check_format(text: Any) -> None:
    if not isinstance(text, str):
        return
    numbers = [n for m in _PERCENT_SPEC.finditer(text) for n in m.groups() if n]
    numbers += [n for m in _BRACE_FIELD.finditer(text) for n in re.findall(r"\d+", m.group())]
    if any(len(n) > 6 or int(n) > MAX_SIZE for n in numbers):
        raise _too_big("A formatted value")


def _check_sizes(args: Iterable[Any], what: str) -> None:
    if any(isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_SIZE for a in args):
        raise _too_big(what)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter, its size arguments checked before it runs and its result after."""
    what = f"The filter {name}"

    @functools.wraps(func)  # keeps Jinja2's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, Environment | EvalContext | Context)]
        if name == "format" and values:
            _check_format(values[0])
        if name in _SIZED_FILTERS:
            _check_sizes([*values[1:], *kwargs.values()], what)
        return _checked(func(*args, **kwargs), what)

    return bounded


class _BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox with `*`, `**`, `%` and `+` intercepted (so never folded while compiling either) and
    what a template builds size-checked: before an operation where the size is known up front (repetition,
    powers, format widths, padding), after it otherwise. None prints as empty, as the variables document."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            undefined=StrictUndefined, autoescape=autoescape, finalize=_empty_for_none, optimized=False
        )
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(times, int) and _sized(seq) * times > MAX_SIZE:
                    raise _too_big("A repetition")
        elif operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            if abs(left) > 1 and right > 0 and math.log2(abs(left)) * right > MAX_POWER_BITS:
                raise SecurityError(f"A power of more than {MAX_POWER_BITS} bits is refused")
        elif operator == "%":
            _check_format(left)
        return _checked(super().call_binop(context, operator, left, right), f"The result of {operator}")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        bound = getattr(__obj, "__self__", getattr(getattr(__obj, "__wrapped__", None), "__self__", None))
        if isinstance(bound, str):  # '{:>99999999}'.format(1), 'x'.ljust(10 ** 8); not '{:,}'.format(1234567)
            _check_format(bound)
            if getattr(__obj, "__name__", None) not in ("format", "format_map"):
                _check_sizes([*args, *kwargs.values()], "A call")
        return _checked(super().call(__context, __obj, *args, **kwargs), "A call's result")


def _empty_for_none(value: Any) -> Any:
    return "" if value is None else value


_TEXT = _BoundedSandbox(autoescape=False)
_HTML = _BoundedSandbox(autoescape=True)


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
