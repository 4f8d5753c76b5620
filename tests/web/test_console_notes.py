"""Issue 10: notes on the console's customer 360 (without a browser): support adds one and sees it, a
read-only user reads notes but is refused the form and the action, an empty note is refused in place."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from kassa.core.access import Role
from kassa.services import audit, customer_notes, customers
from kassa.services.context import ServiceContext
from tests.conftest import TenantAccess
from tests.web.console_helpers import Console


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def _htmx_post(console: Console, path: str, data: dict[str, str]) -> Any:
    csrf = console.client.cookies.get("kassa_console_csrf") or ""
    return console.client.post(path, data=data, headers={"X-CSRF-Token": csrf, "HX-Request": "true"})


def test_support_adds_a_note_and_read_only_only_reads(ctx: ServiceContext, tenant: TenantAccess) -> None:
    customer = customers.create_customer(ctx, tenant.actor, {"external_id": "acme", "name": "Acme Robotics"})
    page = f"/console/customers/{customer.id}"
    support = Console(ctx, tenant, Role.SUPPORT)

    before = support.get(page)
    assert before.status_code == 200
    assert "No notes yet." in _text(before.text)
    assert 'action="/console/customers/' + customer.id + '/notes"' in before.text

    added = support.post(
        f"{page}/notes", data={"body": "  Asked for <b>annual</b> billing.\nCall back in May. "}
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"{page}?done=note_added"
    shown = support.get(added.headers["location"]).text
    assert "Note added." in shown
    assert "Asked for &lt;b&gt;annual&lt;/b&gt; billing.\nCall back in May." in shown  # escaped, lines kept
    assert "Support ·" in _text(shown)
    (note,) = customer_notes.list_notes(ctx, tenant.actor, customer.id)
    assert note.author_id == support.user_id
    assert (
        audit.list_audit_events(ctx, tenant.actor, action="customer.note_added").items[0].object_id == note.id
    )

    via_htmx = _htmx_post(support, f"{page}/notes", {"body": "Second."})
    assert via_htmx.status_code == 204
    assert via_htmx.headers["HX-Redirect"] == f"{page}?done=note_added"

    reader = Console(ctx, tenant, Role.READ_ONLY)
    seen = reader.get(page)
    assert seen.status_code == 200
    assert "Call back in May." in seen.text and "Second." in seen.text
    assert f"{customer.id}/notes" not in seen.text  # no form for a role that may not write
    refused = reader.post(f"{page}/notes", data={"body": "Let me in."})
    assert refused.status_code == 403
    assert [n.body for n in customer_notes.list_notes(ctx, tenant.actor, customer.id)][0] == "Second."
    assert len(customer_notes.list_notes(ctx, tenant.actor, customer.id)) == 2


def test_an_empty_note_is_refused_in_place(ctx: ServiceContext, tenant: TenantAccess) -> None:
    customer = customers.create_customer(ctx, tenant.actor, {"external_id": "acme", "name": "Acme Robotics"})
    support = Console(ctx, tenant, Role.SUPPORT)
    path = f"/console/customers/{customer.id}/notes"

    answer = _htmx_post(support, path, {"body": "   "})
    assert answer.status_code == 422
    html = answer.text
    assert html.lstrip().startswith("<form") and 'id="note-body"' in html  # the form alone, to swap in
    assert 'role="alert"' in html and "cannot be empty" in html
    assert customer_notes.list_notes(ctx, tenant.actor, customer.id) == []

    plain = support.post(path, data={"body": ""})
    assert plain.status_code == 422
    assert "cannot be empty" in plain.text

    unknown = support.post("/console/customers/cus_00000000000000000000000000/notes", data={"body": "Hi."})
    assert unknown.status_code == 404
