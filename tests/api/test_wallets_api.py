"""Prepaid wallets over HTTP (issue 9): a wallet opened for a customer on a test clock, credits granted and
received by hand, the balance and the live lots, the rule and thresholds changed, the log paged, the
advice of charge with the wallet's balance; problem+json errors with their codes and fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from kassa.core.audit import Actor
from kassa.services import billable_metrics, catalog
from kassa.services.context import ServiceContext
from tests.services.test_wallets_service import PREPAID


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _customer(client: TestClient) -> str:
    clock = _ok(
        client.post("/v1/test_clocks", json={"name": "t", "frozen_time": "2026-03-02T08:00:00Z"}), 201
    )
    body = {"external_id": "c1", "name": "Acme", "currency": "EUR", "test_clock_id": clock["id"]}
    customer: str = _ok(client.post("/v1/customers", json=body), 201)["id"]
    return customer


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def test_a_wallet_is_opened_credited_changed_and_listed(client: TestClient) -> None:
    """Issue 9: 25.00 received by bank transfer and 10.00 granted until 31 March: 35.00, 25.00 paid and 10.00
    free; the free lot comes first in the list (it is drawn first); the log pages newest first."""
    cid = _customer(client)
    wallet = _ok(
        client.post("/v1/wallets", json={"customer_id": cid, "alert_thresholds": ["5.00", "20.00"]}), 201
    )
    wid = wallet["id"]
    assert (wallet["object"], wallet["currency"], wallet["balance"]["total"], wallet["alert_thresholds"],
            wallet["auto_top_up"], wallet["lots"]) == ("wallet", "EUR", eur("0.00"), ["20.00", "5.00"], None, [])  # fmt: skip
    top_up = _ok(
        client.post(f"/v1/wallets/{wid}/top_ups", json={"amount": "25.00", "paid_outside": True}), 201
    )
    assert (top_up["payment"]["status"], top_up["payment"]["method_type"], top_up["payment"]["amount"]) == (
        "succeeded", "bank_transfer", eur("25.00"))  # fmt: skip
    grant = _ok(client.post(f"/v1/wallets/{wid}/grants",
                            json={"amount": "10.00", "expires_at": "2026-03-31T00:00:00+02:00", "description": "Welcome"}),
                201)  # fmt: skip
    assert (grant["kind"], grant["amount"], grant["paid"], grant["free"], grant["balance"], grant["description"]) == (
        "grant", eur("10.00"), eur("0.00"), eur("10.00"), eur("35.00"), "Welcome")  # fmt: skip
    got = _ok(client.get(f"/v1/wallets/{wid}"))
    assert got["balance"] == {"total": eur("35.00"), "paid": eur("25.00"), "free": eur("10.00")}
    assert [(x["kind"], x["remaining"]["amount"], x["expires_at"]) for x in got["lots"]] == [
        ("free", "10.00", "2026-03-30T22:00:00Z"), ("paid", "25.00", None)]  # fmt: skip

    patched = _ok(
        client.patch(f"/v1/wallets/{wid}", json={"auto_top_up": {"threshold": "20.00", "amount": "50.00"}})
    )
    assert patched["auto_top_up"] == {"threshold": "20.00", "amount": "50.00"}
    assert patched["alert_thresholds"] == ["20.00", "5.00"]  # untouched
    cleared = _ok(client.patch(f"/v1/wallets/{wid}", json={"auto_top_up": None, "alert_thresholds": []}))
    assert (cleared["auto_top_up"], cleared["alert_thresholds"]) == (None, [])
    assert [w["id"] for w in _ok(client.get(f"/v1/customers/{cid}/wallets"))["data"]] == [wid]

    first = _ok(client.get(f"/v1/wallets/{wid}/transactions", params={"limit": 1}))
    assert ([t["kind"] for t in first["data"]], first["has_more"]) == (["grant"], True)
    rest = _ok(
        client.get(f"/v1/wallets/{wid}/transactions", params={"limit": 1, "cursor": first["next_cursor"]})
    )
    assert ([(t["kind"], t["amount"]["amount"]) for t in rest["data"]], rest["has_more"]) == (
        [("top_up", "25.00")],
        False,
    )


def test_errors_are_problems_with_a_code_and_field(client: TestClient) -> None:
    """Issue 9: a second wallet in the same currency is 409; unknown wallet 404; a JSON float amount, a past
    expiry, an unknown offer and a top-up without a payment method are 422 with their field."""
    cid = _customer(client)
    wid = _ok(client.post("/v1/wallets", json={"customer_id": cid}), 201)["id"]
    again = client.post("/v1/wallets", json={"customer_id": cid, "currency": "EUR"})
    assert (again.status_code, again.json()["code"]) == (409, "wallet_exists")
    missing = client.get("/v1/wallets/wal_nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "wallet_not_found")
    cases = [
        (f"/v1/wallets/{wid}/grants", {"amount": 10.5}, None),
        (
            f"/v1/wallets/{wid}/grants",
            {"amount": "1.00", "expires_at": "2026-03-01T00:00:00Z"},
            "invalid_expires_at",
        ),
        ("/v1/wallets", {"customer_id": cid, "currency": "USD", "promotion_offer": "nope"}, "unknown_offer"),
        (f"/v1/wallets/{wid}/top_ups", {"amount": "5.00"}, "no_payment_method"),
    ]
    for path, body, code in cases:
        response = client.post(path, json=body)
        assert response.status_code == 422, response.text
        if code is not None:
            assert response.json()["code"] == code
    assert _ok(client.get(f"/v1/wallets/{wid}/transactions"))["data"] == []
    assert _ok(client.get(f"/v1/customers/{cid}/wallets"))["data"][0]["currency"] == "EUR"


def test_the_advice_of_charge_says_whether_the_cost_fits_in_the_wallet(
    client: TestClient, ctx: ServiceContext, actor: Actor
) -> None:
    """Issue 9: 3 calls cost 3.00: with 2.00 in the wallet they do not fit, with 5.00 they do; without a
    wallet both fields are null."""
    billable_metrics.create_metric(ctx, actor, {"code": "calls", "name": "Calls", "aggregation": "count"})
    catalog.apply_catalog(ctx, actor, PREPAID, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    cid = _customer(client)
    sub = _ok(
        client.post(
            "/v1/subscriptions", json={"customer_id": cid, "plan": "prepaid", "start_date": "2026-03-02"}
        ),
        201,
    )
    ask = {"subscription_id": sub["id"], "metric": "calls", "units": "3"}
    plain = _ok(client.post("/v1/rating/estimate", json=ask))
    assert (plain["cost"], plain["wallet_balance"], plain["fits_in_wallet"]) == (eur("3.00"), None, None)
    wid = _ok(client.post("/v1/wallets", json={"customer_id": cid}), 201)["id"]
    _ok(client.post(f"/v1/wallets/{wid}/top_ups", json={"amount": "2.00", "paid_outside": True}), 201)
    short = _ok(client.post("/v1/rating/estimate", json=ask))
    assert (short["wallet_balance"], short["fits_in_wallet"]) == (eur("2.00"), False)
    _ok(client.post(f"/v1/wallets/{wid}/top_ups", json={"amount": "3.00", "paid_outside": True}), 201)
    fits = _ok(client.post("/v1/rating/estimate", json=ask))
    assert (fits["wallet_balance"], fits["fits_in_wallet"]) == (eur("5.00"), True)
