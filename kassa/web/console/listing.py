"""Shared bits of the console's queue and admin pages: filter values from query strings, the pager's
links, what a POST tells the next page, and the SLA timers of tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import Request

PAGE_SIZE = 25

# What an action did, shown on the page it redirects to. Only these codes are shown: a message is never
# taken from the URL, so a link cannot make the console say something it did not.
DONE = {
    "assigned": "Assigned.",
    "accepted": "Dispute accepted: a credit note was issued.",
    "rejected": "Dispute rejected: the amount is collected again.",
    "replied": "Response sent.",
    "closed": "Ticket closed.",
    "status": "Status changed.",
    "replayed": "The delivery is sent again now.",
    "user_created": "User created. Invite them to set a password.",
    "role_changed": "Role changed.",
    "deactivated": "User deactivated.",
    "reactivated": "User reactivated.",
    "settings_saved": "Settings saved.",
    "catalog_applied": "Catalog version applied.",
}


def clean(value: str | None) -> str | None:
    """A filter from a form: blank means no filter."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def page_link(request: Request, cursor: str | None) -> str:
    """This list with the same filters, from `cursor` on (None: the first page)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "done") and v]
    if cursor:
        params.append(("cursor", cursor))
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def back_to(request: Request, fallback: str, done: str) -> str:
    """Where an action's redirect goes: the list it was sent from (same filters), with its message."""
    referer = request.headers.get("referer", "")
    path = fallback
    marker = "/console/"
    if marker in referer:
        here = referer[referer.index(marker) :]
        if not here.startswith("//") and "\\" not in here:
            path = here
    base, _, query = path.partition("?")
    kept = "&".join(p for p in query.split("&") if p and not p.startswith("done="))
    return f"{base}?{kept + '&' if kept else ''}done={done}"


def done_message(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


@dataclass(frozen=True, slots=True)
class Timer:
    text: str
    badge: str  # ok, warn, bad or "" (no SLA)


def span(delta: timedelta) -> str:
    """A duration the way people say it: 20 min, 3 h, 2 d (rounded down)."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h" if minutes % 60 == 0 or hours >= 10 else f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d"


SOON = timedelta(hours=1)


def sla_timer(due: datetime | None, met_at: datetime | None, breached: bool, now: datetime) -> Timer:
    """A ticket's target as the queue shows it: met (on time or late), due in some time (amber within the
    last hour), or breached some time ago."""
    if due is None:
        return Timer("no SLA", "")
    if met_at is not None:
        late = breached or met_at > due
        return Timer("met late" if late else "met", "bad" if late else "ok")
    if now >= due:
        return Timer(f"breached {span(now - due)} ago", "bad")
    left = due - now
    return Timer(f"due in {span(left)}", "warn" if left <= SOON else "ok")
