"""POST /v1/customers/{customer_id}/portal_links (issue 10): the magic link is answered once and opens the
portal; its lifetime is checked; another tenant's customer is 404; send_email records the portal_link
message. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from kassa.server import create_app
from kassa.services.context import ServiceContext
from tests.conftest import make_tenant


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert (response.json()["code"], response.json()["field"]) == (code, field), response.text


def _customer(client: TestClient, name: str = "ada", **more: Any) -> str:
    body = {"external_id": name, "name": name.title(), **more}
    return str(ok(client.post("/v1/customers", json=body), 201)["id"])


def test_a_link_is_made_and_opens_the_portal(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client)
    link = ok(client.post(f"/v1/customers/{cid}/portal_links", json={}), 201)
    assert set(link) == {"url", "expires_at", "email"} and link["email"] is None
    assert datetime.fromisoformat(link["expires_at"]) == datetime.fromisoformat("2026-01-04T09:00:00+00:00")
    assert re.fullmatch(r"https?://[^/]+/portal/open/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", link["url"])
    browser = TestClient(create_app(ctx))
    opened = browser.get(re.sub(r"^https?://[^/]+", "", link["url"]))
    assert opened.status_code == 200 and "<h1>" in opened.text
    shorter = ok(client.post(f"/v1/customers/{cid}/portal_links", json={"expires_in_hours": 1}), 201)
    assert datetime.fromisoformat(shorter["expires_at"]) == datetime.fromisoformat(
        "2026-01-01T10:00:00+00:00"
    )


def test_the_lifetime_and_the_customer_are_checked(ctx: ServiceContext, client: TestClient) -> None:
    cid = _customer(client)
    for hours in (0, 721):
        refused(client.post(f"/v1/customers/{cid}/portal_links", json={"expires_in_hours": hours}),
                422, "invalid_expiry", "expires_in_hours")  # fmt: skip
    response = client.post(f"/v1/customers/{cid}/portal_links", json={"expires_in_hours": 1.5})
    assert response.status_code == 422
    response = client.post(f"/v1/customers/{cid}/portal_links", json={"url": "https://evil.example"})
    assert response.status_code == 422
    refused(
        client.post(f"/v1/customers/{ctx.new_id('cus')}/portal_links", json={}), 404, "customer_not_found"
    )
    other = make_tenant(ctx, "Other Billing")
    theirs = ok(
        client.post("/v1/customers", json={"external_id": "bob", "name": "Bob"}, headers=other.headers), 201
    )
    refused(client.post(f"/v1/customers/{theirs['id']}/portal_links", json={}), 404, "customer_not_found")


def test_send_email_records_the_portal_link_message(client: TestClient) -> None:
    mute = _customer(client, "mute")
    refused(client.post(f"/v1/customers/{mute}/portal_links", json={"send_email": True}),
            422, "no_email_address", "send_email")  # fmt: skip
    cid = _customer(client, "erika", emails=["erika@example.com"], locale="de_DE")
    link = ok(client.post(f"/v1/customers/{cid}/portal_links", json={"send_email": True}), 201)
    email = link["email"]
    # the test server has no SMTP server: the message is recorded as failed, the link is still made
    assert (email["status"], email["error"].startswith("not_sent")) == ("failed", True)
    [message] = ok(client.get("/v1/messages", params={"customer_id": cid}))["data"]
    assert (message["id"], message["kind"], message["essential"], message["locale"]) == (
        email["message_id"], "portal_link", True, "de")  # fmt: skip
    events = ok(client.get("/v1/events", params={"customer_id": cid, "type": "message.failed"}))["data"]
    assert events and all(link["url"] not in str(e["data"]) for e in events)
