"""Lifecycle messages over HTTP (issue 9): templates put, read (the tenant's or kassa's, marked), refused
with a clear code when they do not render, deleted back to the default; message settings; preferences
with essential kinds protected; the message log; the public unsubscribe page and RFC 8058 one-click POST
without an API key; message.sent on the customer's timeline."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kassa.core.messages import MessageKind, UnsubscribeToken
from kassa.services import jobs
from kassa.services.context import ServiceContext
from kassa.services.message_rendering import unsubscribe_url
from tests.conftest import TenantAccess


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _problem(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body


def test_templates_put_read_refuse_and_delete(client: TestClient) -> None:
    builtin = _ok(client.get("/v1/message_templates/welcome/de-AT"))
    assert (builtin["locale"], builtin["builtin"], builtin["essential"]) == ("de", True, False)
    assert builtin["subject"] == "Willkommen bei {{ company_name }}"
    assert set(builtin["variables"]) == {"customer_name", "company_name", "unsubscribe_url"}

    body = {"subject": "Servus {{ customer_name }}", "body_text": "Willkommen bei {{ company_name }}!"}
    put = _ok(client.put("/v1/message_templates/welcome/de-AT", json=body))
    assert (put["locale"], put["builtin"], put["subject"], put["body_html"]) == (
        "de_AT", False, "Servus {{ customer_name }}", None)  # fmt: skip
    assert _ok(client.get("/v1/message_templates/welcome/de_AT")) == put
    listed = _ok(client.get("/v1/message_templates", params={"kind": "welcome"}))["data"]
    assert [(t["locale"], t["builtin"]) for t in listed] == [("de", True), ("de_AT", False), ("en", True)]
    assert len(_ok(client.get("/v1/message_templates"))["data"]) == 2 * len(MessageKind) + 1

    _problem(client.put("/v1/message_templates/welcome/en", json={**body, "body_text": "{{ customer_nme }}"}),
             422, "unknown_variable", "body_text")  # fmt: skip
    _problem(client.put("/v1/message_templates/welcome/en", json={**body, "subject": "{% if %}"}),
             422, "invalid_template", "subject")  # fmt: skip
    _problem(client.put("/v1/message_templates/welcome/en", json={**body, "body_html": "{{ ''.__class__ }}"}),
             422, "invalid_template", "body_html")  # fmt: skip
    assert client.put("/v1/message_templates/nope/en", json=body).status_code == 422

    assert client.delete("/v1/message_templates/welcome/de-AT").status_code == 204
    assert _ok(client.get("/v1/message_templates/welcome/de-AT"))["builtin"] is True
    _problem(client.delete("/v1/message_templates/welcome/de-AT"), 404, "message_template_not_found")


def test_message_settings_read_and_change(client: TestClient) -> None:
    assert _ok(client.get("/v1/message_settings")) == {
        "object": "message_settings", "enabled": False, "trial_ending_days": 3, "renewal_upcoming_days": 7,
        "update_payment_method_url": None, "public_url": None,
    }  # fmt: skip
    changed = _ok(client.put("/v1/message_settings", json={"trial_ending_days": 5,
                                                            "update_payment_method_url": "https://acme.test/pay"}))  # fmt: skip
    assert (changed["trial_ending_days"], changed["renewal_upcoming_days"], changed["update_payment_method_url"]) == (
        5, 7, "https://acme.test/pay")  # fmt: skip
    assert _ok(client.get("/v1/message_settings")) == changed
    assert client.put("/v1/message_settings", json={"trial_ending_days": 0}).status_code == 422


def test_preferences_and_essential_kinds(client: TestClient) -> None:
    cid = _ok(client.post("/v1/customers", json={"external_id": "c", "name": "C"}), 201)["id"]
    got = _ok(client.get(f"/v1/customers/{cid}/message_preferences"))
    assert got["preferences"] == {} and all(got["effective"].values())

    put = _ok(client.put(f"/v1/customers/{cid}/message_preferences", json={"*": False, "welcome": True}))
    assert put["preferences"] == {"*": False, "welcome": True}
    assert (put["effective"]["welcome"], put["effective"]["renewal_upcoming"], put["effective"]["payment_failed"]) == (
        True, False, True)  # fmt: skip
    _problem(client.put(f"/v1/customers/{cid}/message_preferences", json={"payment_failed": False}),
             422, "essential_message", "payment_failed")  # fmt: skip
    assert client.put(f"/v1/customers/{cid}/message_preferences", json={"welcome": "no"}).status_code == 422
    assert client.get("/v1/customers/cus_missing/message_preferences").status_code == 404
    [event] = _ok(client.get(f"/v1/customers/{cid}/timeline"))["data"][:1]
    assert event["type"] == "message_preferences.updated"


def test_the_log_and_the_timeline(ctx: ServiceContext, client: TestClient) -> None:
    _ok(client.put("/v1/message_settings", json={"enabled": True}))
    cid = _ok(client.post("/v1/customers", json={"external_id": "c", "name": "C"}), 201)["id"]
    assert jobs.run_due_jobs(ctx) == 1  # no email address: the webhook channel only
    [message] = _ok(client.get("/v1/messages", params={"customer_id": cid}))["data"]
    assert (message["kind"], message["channel"], message["status"], message["essential"]) == (
        "welcome", "webhook", "sent", False)  # fmt: skip
    assert _ok(client.get(f"/v1/messages/{message['id']}")) == message
    assert _ok(client.get("/v1/messages", params={"status": "failed"}))["data"] == []
    assert _ok(client.get("/v1/messages", params={"kind": "welcome", "limit": 1}))["has_more"] is False
    assert client.get("/v1/messages/msg_missing").status_code == 404
    timeline = _ok(client.get(f"/v1/customers/{cid}/timeline"))["data"]
    sent = [e for e in timeline if e["type"] == "message.sent"]
    assert [(e["object_id"], e["data"]["kind"]) for e in sent] == [(message["id"], "welcome")]


def _link(ctx: ServiceContext, tenant: TenantAccess, customer_id: str, kind: MessageKind) -> str:
    with ctx.uow() as uow:
        url = unsubscribe_url(
            ctx, uow, UnsubscribeToken(tenant_id=tenant.id, customer_id=customer_id, kind=kind)
        )
        uow.commit()
    return url.removeprefix("http://127.0.0.1:8000")


def test_the_public_unsubscribe_page_and_one_click(
    ctx: ServiceContext, client: TestClient, tenant: TenantAccess
) -> None:
    """GET shows a form and changes nothing (mail scanners fetch links); the RFC 8058 POST unsubscribes the
    link's kind, without an API key; a tampered token is a 404 page."""
    cid = _ok(client.post("/v1/customers", json={"external_id": "c", "name": "C"}), 201)["id"]
    path = _link(ctx, tenant, cid, MessageKind.RENEWAL_UPCOMING)
    client.headers.pop("Authorization")

    page = client.get(path)
    assert page.status_code == 200 and "Unsubscribe from renewal upcoming emails" in page.text
    assert "Acme Billing" in page.text

    done = client.post(path, content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert done.status_code == 200 and "unsubscribed from renewal upcoming emails" in done.text
    assert "already unsubscribed" in client.get(path).text

    everything = client.post(path, data={"scope": "all"})
    assert "all optional emails" in everything.text
    prefs = _ok(client.get(f"/v1/customers/{cid}/message_preferences", headers=tenant.headers))
    assert prefs["preferences"] == {"renewal_upcoming": False, "*": False}
    assert prefs["effective"]["payment_failed"] is True

    head, signature = path.rsplit(".", 1)
    tampered = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert client.get(tampered).status_code == 404
    assert client.post(tampered).status_code == 404
    assert client.get("/unsubscribe/not-a-token").status_code in (404, 422)
