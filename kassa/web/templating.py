"""Jinja2 for the console and the portal: autoescaped templates, money and dates shown in the viewer's
locale, and the texts of the portal in the customer's language."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kassa.core.money import Money, format_money

ROOT = Path(__file__).parent
LOCALES = ROOT / "locales"


@cache
def catalog(language: str) -> dict[str, str]:
    """English text → translation, merged from locales/<language>/*.json (one file per part of the web)."""
    merged: dict[str, str] = {}
    folder = LOCALES / language
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def language_of(locale: str) -> str:
    return locale.replace("-", "_").split("_")[0].lower()


def translate(locale: str, text: str, **values: Any) -> str:
    """`text` in the locale's language when the catalog has it, else English; {name} placeholders filled."""
    found = catalog(language_of(locale)).get(text, text)
    return found.format(**values) if values else found


def money(value: Money | None, locale: str = "en") -> str:
    return "" if value is None else format_money(value, locale)


def day(value: date | datetime | None, locale: str = "en") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_datetime(value, format="medium", locale=locale.replace("-", "_"))
    return format_date(value, format="medium", locale=locale.replace("-", "_"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ROOT / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["day"] = day
    env.filters["tojson_attr"] = lambda v: json.dumps(v, separators=(",", ":"), default=str)
    return env


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """The page (or, for an htmx request, the same template's output) with the request's viewer in scope:
    `staff` in the console, `visit` in the portal, and `t` translating into their locale."""
    locale: str = getattr(request.state, "locale", "en")
    scope = {
        "request": request,
        "staff": getattr(request.state, "staff", None),
        "visit": getattr(request.state, "visit", None),
        "csrf": getattr(request.state, "csrf", ""),
        "locale": locale,
        "t": lambda text, **kw: translate(locale, text, **kw),
        **values,
    }
    html = environment().get_template(template).render(scope)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
