"""The web entry points: the staff console (/console) and the customers' portal (/portal), server-rendered
with Jinja2 and htmx; Chart.js and htmx are vendored under /assets (bin/vendor-assets), no CDN."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kassa.services.context import ServiceContext


def mount(app: FastAPI, ctx: ServiceContext) -> None:
    from kassa.web import console, portal

    app.mount("/assets", StaticFiles(directory=Path(__file__).parent / "static"), name="assets")
    app.mount("/console", console.create(ctx), name="console")
    app.mount("/portal", portal.create(ctx), name="portal")
