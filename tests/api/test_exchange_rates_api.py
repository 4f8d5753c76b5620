"""Exchange rates through the ASGI app, on SQLite and PostgreSQL: the ECB's file posted as text/csv is
imported once (again: nothing changes), a wrong file is a problem+json naming the line, the list pages
newest first with its filters, and another tenant sees none of it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kassa.services.context import ServiceContext
from tests.conftest import make_tenant

CSV = {"Content-Type": "text/csv"}
HISTORY = (
    "Date,USD,JPY,BGN,CYP,GBP,\n"
    "2026-11-20,1.085,161.64,N/A,N/A,0.85,\n"
    "2026-11-19,1.0832,160.9,N/A,N/A,0.8488,\n"
    "2026-11-18,1.0811,N/A,N/A,N/A,0.8477,\n"
)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert (body["code"], body["field"]) == (code, field), body
    assert response.headers["content-type"] == "application/problem+json"
    return body


def test_the_ecb_file_is_imported_once(client: TestClient) -> None:
    """POST the file's bytes as text/csv: the summary counts 8 rates on 3 days (N/A and the withdrawn BGN and
    CYP skipped); the same file again inserts nothing and has no import id."""
    first = ok(client.post("/v1/exchange_rates/import", content=HISTORY, headers=CSV,
                           params={"source": "eurofxref-hist.csv"}))  # fmt: skip
    assert first["id"].startswith("fxi_")
    assert {k: v for k, v in first.items() if k != "id"} == {
        "object": "exchange_rates_import", "source": "eurofxref-hist.csv", "format": "ecb_history", "rows": 8,
        "days": 3, "bases": ["EUR"], "currencies": ["GBP", "JPY", "USD"], "first_day": "2026-11-18",
        "last_day": "2026-11-20", "inserted": 8, "updated": 0, "unchanged": 0, "skipped_currencies": ["BGN", "CYP"],
    }  # fmt: skip
    again = ok(client.post("/v1/exchange_rates/import", content=HISTORY.encode(), headers=CSV))
    assert (again["id"], again["source"], again["inserted"], again["unchanged"]) == (None, "api", 0, 8)


def test_a_wrong_file_is_a_problem_naming_the_line(client: TestClient) -> None:
    """invalid_rate and invalid_rates_file carry the line as the field; bytes that are not UTF-8 are refused;
    nothing is stored."""
    body = refused(client.post("/v1/exchange_rates/import", headers=CSV,
                               content="Date, USD, \n20 November 2026, 0, \n"), 422, "invalid_rate", "line 2")  # fmt: skip
    assert body["detail"] == "Line 2: USD: a rate is above zero, not 0."
    refused(client.post("/v1/exchange_rates/import", headers=CSV, content="date,base,currency,rate\n2026-11-20,"
                        "USD,CAD,1.39\n2026-11-20,USD,CAD,1.4\n"), 422, "invalid_rates_file", "line 3")  # fmt: skip
    refused(client.post("/v1/exchange_rates/import", headers=CSV, content=b"Date,USD,\n2026-11-20,1.08\xff,\n"),
            422, "invalid_rates_file", "file")  # fmt: skip
    refused(
        client.post("/v1/exchange_rates/import", headers=CSV, content=b""), 422, "invalid_rates_file", "file"
    )
    refused(client.post("/v1/exchange_rates/import", headers=CSV, content="Date,USD,\n2026-11-20,1.1,\n",
                        params={"source": "x" * 101}), 422, "invalid_value", "source")  # fmt: skip
    assert ok(client.get("/v1/exchange_rates"))["data"] == []


def test_the_list_pages_newest_first_with_filters(client: TestClient) -> None:
    """Newest day first, then base and currency; `next_cursor` leads to the next page; currency, from and to
    filter (both days included); a cursor that is not one is refused."""
    ok(client.post("/v1/exchange_rates/import", content=HISTORY, headers=CSV))
    page = ok(client.get("/v1/exchange_rates", params={"limit": 3}))
    assert [(r["date"], r["currency"], r["rate"]) for r in page["data"]] == [
        ("2026-11-20", "GBP", "0.85"), ("2026-11-20", "JPY", "161.64"), ("2026-11-20", "USD", "1.085")]  # fmt: skip
    assert (page["has_more"], page["next_cursor"]) == (True, "2026-11-20.EUR.USD")
    rest = ok(client.get("/v1/exchange_rates", params={"limit": 100, "cursor": page["next_cursor"]}))
    assert [(r["date"], r["currency"]) for r in rest["data"]] == [
        ("2026-11-19", "GBP"), ("2026-11-19", "JPY"), ("2026-11-19", "USD"), ("2026-11-18", "GBP"),
        ("2026-11-18", "USD")]  # fmt: skip
    assert (rest["has_more"], rest["next_cursor"]) == (False, None)
    usd = ok(
        client.get("/v1/exchange_rates", params={"currency": "USD", "from": "2026-11-19", "to": "2026-11-19"})
    )
    assert usd["data"] == [{"object": "exchange_rate", "base": "EUR", "currency": "USD", "date": "2026-11-19",
                            "rate": "1.0832", "source": "api", "imported_at": "2026-01-01T09:00:00Z"}]  # fmt: skip
    refused(client.get("/v1/exchange_rates", params={"from": "2026-11-20", "to": "2026-11-19"}),
            422, "invalid_date_range", "to")  # fmt: skip
    assert client.get("/v1/exchange_rates", params={"cursor": "abc"}).status_code == 422
    # issue 8 (review): a cursor with an impossible day started over at the first page
    refused(
        client.get("/v1/exchange_rates", params={"cursor": "2026-13-45.EUR.USD"}),
        422,
        "invalid_cursor",
        "cursor",
    )
    assert client.get("/v1/exchange_rates", params={"currency": "usd"}).status_code == 422


def test_rates_belong_to_their_tenant_and_need_a_key(ctx: ServiceContext, client: TestClient) -> None:
    """Another tenant's list is empty; without an API key both routes answer 401."""
    ok(client.post("/v1/exchange_rates/import", content=HISTORY, headers=CSV))
    other = make_tenant(ctx, "Globex")
    assert ok(client.get("/v1/exchange_rates", headers=other.headers))["data"] == []
    assert client.get("/v1/exchange_rates", headers={"Authorization": ""}).status_code == 401
    assert client.post("/v1/exchange_rates/import", content=HISTORY,
                       headers={**CSV, "Authorization": ""}).status_code == 401  # fmt: skip


def test_an_idempotency_key_replays_the_first_answer(client: TestClient) -> None:
    """The same request with the same Idempotency-Key gets the first answer again (with its import id)."""
    headers = {**CSV, "Idempotency-Key": "rates-2026-11-20"}
    first = ok(client.post("/v1/exchange_rates/import", content=HISTORY, headers=headers))
    replay = client.post("/v1/exchange_rates/import", content=HISTORY, headers=headers)
    assert (replay.json(), replay.headers.get("idempotent-replayed")) == (first, "true")
