"""Issue 4: /v1/catalog through the HTTP API. The example catalog (examples/catalog.yaml) is applied and read
back (the version in effect now or at an instant, every version newest first, one version by number); an
invalid document is refused with the exact path of the problem under `document.` and changes nothing; a
version cannot take effect before the latest one; applying records `catalog.applied`. Runs on SQLite and
PostgreSQL (the `client` fixture)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from tests.conftest import SettableClock, make_tenant

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "catalog.yaml"
_EXAMPLE_DOC: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def example() -> dict[str, Any]:
    """A fresh copy of the example catalog, safe to change."""
    return copy.deepcopy(_EXAMPLE_DOC)


def apply(client: TestClient, document: dict[str, Any], effective_at: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"document": document}
    if effective_at is not None:
        body["effective_at"] = effective_at
    response = client.post("/v1/catalog", json=body)
    assert response.status_code == 201, response.text
    applied: dict[str, Any] = response.json()
    return applied


def numbers(client: TestClient) -> list[int]:
    response = client.get("/v1/catalog/versions")
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


def test_apply_the_example_catalog_and_read_it_back(client: TestClient) -> None:
    applied = apply(client, example())

    assert applied == {
        "number": 1,
        "name": "Nordlicht price list 2026",
        "effective_at": "2026-01-01T09:00:00Z",  # default: now
        "created_at": "2026-01-01T09:00:00Z",
        "document": _EXAMPLE_DOC,  # as applied, prices still strings
    }
    assert client.get("/v1/catalog").json() == applied
    assert client.get("/v1/catalog/versions").json() == {"items": [applied]}
    assert client.get("/v1/catalog/versions/1").json() == applied
    unknown = client.get("/v1/catalog/versions/2")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "catalog_version_not_found")
    assert unknown.json()["detail"] == "No catalog version '2'."
    zero = client.get("/v1/catalog/versions/0")
    assert (zero.status_code, zero.json()["field"]) == (422, "number")


def test_the_version_in_effect_now_and_at_an_instant(client: TestClient, clock: SettableClock) -> None:
    first = apply(client, example(), "2025-01-01T00:00:00Z")
    second_doc = example()
    second_doc["name"] = "Nordlicht price list 2026, March"
    second_doc["products"][0]["plans"][0]["phases"][1]["prices"]["EUR"]["per_unit"] = "9.00"
    second = apply(client, second_doc, "2026-03-01T00:00:00Z")
    assert (first["number"], first["effective_at"]) == (1, "2025-01-01T00:00:00Z")
    assert (second["number"], second["name"], second["effective_at"]) == (
        2,
        "Nordlicht price list 2026, March",
        "2026-03-01T00:00:00Z",
    )

    def at(instant: str | None) -> int:
        params = {"at": instant} if instant else {}
        response = client.get("/v1/catalog", params=params)
        assert response.status_code == 200, response.text
        number: int = response.json()["number"]
        return number

    assert at(None) == 1  # now is 2026-01-01 09:00 UTC
    assert at("2025-01-01T00:00:00Z") == 1
    assert at("2026-02-28T23:59:59Z") == 1
    assert at("2026-03-01T00:00:00Z") == 2
    assert at("2026-03-01T00:30:00+01:00") == 1  # 2026-02-28 23:30 UTC
    assert at("2026-03-01T01:00:00+01:00") == 2
    assert client.get("/v1/catalog", params={"at": "2026-03-01T00:00:00"}).json()["field"] == "at"
    assert numbers(client) == [2, 1]  # newest first
    assert client.get("/v1/catalog/versions/2").json() == second
    assert client.get("/v1/catalog/versions/1").json()["document"] == _EXAMPLE_DOC

    clock.advance(timedelta(days=59))  # 2026-03-01 09:00 UTC
    assert at(None) == 2
    assert client.get("/v1/catalog").json()["document"]["products"][0]["plans"][0]["phases"][1]["prices"][
        "EUR"
    ] == {"per_unit": "9.00"}


def _plan(doc: dict[str, Any], product: int, plan: int) -> dict[str, Any]:
    found: dict[str, Any] = doc["products"][product]["plans"][plan]
    return found


def _float_price(doc: dict[str, Any]) -> None:
    _plan(doc, 0, 1)["phases"][1]["prices"]["EUR"]["flat"] = 20.5


def _unknown_field(doc: dict[str, Any]) -> None:
    _plan(doc, 0, 0)["colour"] = "red"


def _unknown_top_level_field(doc: dict[str, Any]) -> None:
    doc["currency"] = "EUR"


def _duplicate_plan_code(doc: dict[str, Any]) -> None:
    _plan(doc, 1, 0)["code"] = "team-monthly"


def _trial_not_first(doc: dict[str, Any]) -> None:
    trial, discount, evergreen = _plan(doc, 0, 1)["phases"]
    _plan(doc, 0, 1)["phases"] = [discount, trial, evergreen]


def _last_phase_is_a_discount(doc: dict[str, Any]) -> None:
    del _plan(doc, 0, 1)["phases"][2]


def _evergreen_not_last(doc: dict[str, Any]) -> None:
    phases = _plan(doc, 0, 1)["phases"]
    phases[1], phases[2] = phases[2], phases[1]


def _currency_missing_in_a_later_phase(doc: dict[str, Any]) -> None:
    del _plan(doc, 0, 1)["phases"][2]["prices"]["USD"]


def _addon_with_another_billing_period(doc: dict[str, Any]) -> None:
    _plan(doc, 0, 0)["addons"]["available"] = ["storage-100gb-annual"]


def _family_with_an_unknown_plan(doc: dict[str, Any]) -> None:
    doc["families"][0]["plans"].append("enterprise-monthly")


def _plan_in_two_families(doc: dict[str, Any]) -> None:
    doc["families"][1]["plans"].append("team-monthly")


def _bad_billing_period_unit(doc: dict[str, Any]) -> None:
    _plan(doc, 0, 0)["billing_period"] = "fortnight"


def _bad_billing_period_count(doc: dict[str, Any]) -> None:
    _plan(doc, 0, 0)["billing_period"] = {"unit": "month", "count": 0}


def _bad_cycles(doc: dict[str, Any]) -> None:
    _plan(doc, 0, 1)["phases"][1]["cycles"] = 0


def _cycles_as_text(doc: dict[str, Any]) -> None:
    _plan(doc, 1, 2)["phases"][0]["cycles"] = "12"


def _negative_price(doc: dict[str, Any]) -> None:
    doc["addons"][0]["prices"]["GBP"]["per_unit"] = "-3.50"


def _unknown_currency(doc: dict[str, Any]) -> None:
    prices = _plan(doc, 1, 0)["phases"][0]["prices"]
    prices["EUX"] = prices.pop("CHF")


P = "document.products"
INVALID: list[tuple[Callable[[dict[str, Any]], None], int, str, str, str | None]] = [
    (_float_price, 422, "invalid_amount", f"{P}.0.plans.1.phases.1.prices.EUR.flat",
     'A price is a string like "12.34" (a float would not be exact).'),
    (_unknown_field, 422, "invalid_catalog", f"{P}.0.plans.0.colour", "Unknown field 'colour'."),
    (_unknown_top_level_field, 422, "invalid_catalog", "document.currency", "Unknown field 'currency'."),
    (_duplicate_plan_code, 422, "duplicate_code", f"{P}.1.plans.0.code", None),
    (_trial_not_first, 422, "invalid_catalog", f"{P}.0.plans.1.phases.1.type",
     "Only the first phase can be a trial."),
    (_last_phase_is_a_discount, 422, "invalid_catalog", f"{P}.0.plans.1.phases.1.type",
     "The last phase is evergreen or fixed_term, so the plan says what happens after it."),
    (_evergreen_not_last, 422, "invalid_catalog", f"{P}.0.plans.1.phases.1.type",
     None),  # the message's wording ("A evergreen") is not pinned
    (_currency_missing_in_a_later_phase, 422, "invalid_catalog", f"{P}.0.plans.1.phases.2.prices",
     "Every paid phase is priced in the same currencies; USD is not in all of them."),
    (_addon_with_another_billing_period, 422, "invalid_catalog", f"{P}.0.plans.0.addons.available.0",
     "Add-on 'storage-100gb-annual' is billed every year, the plan every month; an add-on follows its "
     "plan's billing period."),
    (_family_with_an_unknown_plan, 422, "plan_not_found", "document.families.0.plans.3",
     "No plan 'enterprise-monthly' in this catalog."),
    (_plan_in_two_families, 422, "invalid_catalog", "document.families.1.plans.2",
     "Plan 'team-monthly' is already in family 'workspace-monthly'; a plan has one family."),
    (_bad_billing_period_unit, 422, "invalid_catalog", f"{P}.0.plans.0.billing_period.unit",
     "'fortnight' is not a billing period unit (day, week, month, quarter, half_year, year)."),
    (_bad_billing_period_count, 422, "invalid_catalog", f"{P}.0.plans.0.billing_period.count",
     "count is a whole number from 1 to 120."),
    (_bad_cycles, 422, "invalid_catalog", f"{P}.0.plans.1.phases.1.cycles",
     "Expected a whole number from 1 to 1200."),
    (_cycles_as_text, 422, "invalid_catalog", f"{P}.1.plans.2.phases.0.cycles",
     "Expected a whole number from 1 to 1200."),
    (_negative_price, 422, "invalid_amount", "document.addons.0.prices.GBP.per_unit", "A price is not negative."),
    (_unknown_currency, 422, "unknown_currency", f"{P}.1.plans.0.phases.0.prices.EUX",
     "EUX is not an active ISO 4217 currency."),
]  # fmt: skip


def test_an_invalid_document_names_the_exact_path_and_changes_nothing(client: TestClient) -> None:
    """Every case in INVALID, in one test (one database setup): status, code, field and message as expected,
    and the catalog still at version 1 with one catalog.applied event."""
    applied = apply(client, example(), "2025-01-01T00:00:00Z")
    seen, expected = [], []
    for mutate, status, code, field, detail in INVALID:
        document = example()
        mutate(document)

        response = client.post("/v1/catalog", json={"document": document})

        body = response.json()
        seen.append((mutate.__name__, response.status_code, response.headers["content-type"], body.get("code"),
                     body.get("field"), body.get("detail") if detail is not None else None))  # fmt: skip
        expected.append((mutate.__name__, status, "application/problem+json", code, field, detail))
    assert seen == expected
    assert numbers(client) == [1]  # nothing applied
    assert client.get("/v1/catalog").json() == applied
    events = client.get("/v1/events", params={"type": "catalog.applied"}).json()["data"]
    assert [e["object_id"] for e in events] == ["1"]


def test_a_duplicate_code_says_where_it_was_first_used(client: TestClient) -> None:
    document = example()
    _duplicate_plan_code(document)
    response = client.post("/v1/catalog", json={"document": document})
    assert (response.status_code, response.json()["code"], response.json()["field"]) == (
        422,
        "duplicate_code",
        "document.products.1.plans.0.code",
    )
    assert response.json()["detail"].startswith("The plan code 'team-monthly' is already used at ")
    assert "products.0.plans.1.code" in response.json()["detail"]
    assert numbers(client) == []


def test_a_version_cannot_take_effect_before_the_latest(client: TestClient) -> None:
    apply(client, example(), "2026-02-01T00:00:00Z")

    earlier = client.post("/v1/catalog", json={"document": example(), "effective_at": "2026-01-31T23:59:59Z"})
    assert earlier.status_code == 409, earlier.text
    assert (earlier.json()["code"], earlier.json()["field"]) == ("effective_before_latest", "effective_at")
    now = client.post("/v1/catalog", json={"document": example()})  # now (2026-01-01 09:00) is earlier too
    assert (now.status_code, now.json()["field"]) == (409, "effective_at")
    naive = client.post("/v1/catalog", json={"document": example(), "effective_at": "2026-03-01T00:00:00"})
    assert (naive.status_code, naive.json()["field"]) == (422, "effective_at")
    assert numbers(client) == [1]

    same = apply(client, example(), "2026-02-01T01:00:00+01:00")  # the same instant is not before it
    assert (same["number"], same["effective_at"]) == (2, "2026-02-01T00:00:00Z")
    assert numbers(client) == [2, 1]
    assert client.get("/v1/catalog", params={"at": "2026-02-01T00:00:00Z"}).json()["number"] == 2


def test_applying_records_the_catalog_applied_event_and_audit_entry(client: TestClient) -> None:
    apply(client, example(), "2025-01-01T00:00:00Z")
    second = example()
    second["name"] = "Second"
    apply(client, second, "2026-02-01T00:00:00Z")

    events = client.get("/v1/events", params={"type": "catalog.applied"}).json()["data"]
    assert [
        {k: e[k] for k in ("type", "occurred_at", "object_type", "object_id", "customer_id", "data")}
        for e in events
    ] == [
        {
            "type": "catalog.applied",
            "occurred_at": "2026-01-01T09:00:00Z",
            "object_type": "catalog_version",
            "object_id": "2",
            "customer_id": None,
            "data": {"number": 2, "name": "Second", "effective_at": "2026-02-01T00:00:00+00:00"},
        },
        {
            "type": "catalog.applied",
            "occurred_at": "2026-01-01T09:00:00Z",
            "object_type": "catalog_version",
            "object_id": "1",
            "customer_id": None,
            "data": {
                "number": 1,
                "name": "Nordlicht price list 2026",
                "effective_at": "2025-01-01T00:00:00+00:00",
            },
        },
    ]
    audit = client.get("/v1/audit_events", params={"action": "catalog.applied"}).json()["data"]
    assert [(a["object_type"], a["object_id"], a["actor_type"]) for a in audit] == [
        ("catalog_version", "2", "api_key"),
        ("catalog_version", "1", "api_key"),
    ]
    assert audit[1]["changes"] == {
        "effective_at": {"before": None, "after": "2025-01-01T00:00:00+00:00"},
        "name": {"before": None, "after": "Nordlicht price list 2026"},
        "number": {"before": None, "after": 1},
    }


def test_catalogs_are_walled_by_tenant(ctx: ServiceContext, client: TestClient) -> None:
    apply(client, example())
    other = make_tenant(ctx, "Other Co")

    assert client.get("/v1/catalog/versions", headers=other.headers).json() == {"items": []}
    hidden = client.get("/v1/catalog/versions/1", headers=other.headers)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "catalog_version_not_found")
    own = client.post("/v1/catalog", json={"document": example()}, headers=other.headers)
    assert (own.status_code, own.json()["number"]) == (201, 1)  # numbered per tenant
    assert numbers(client) == [1]
