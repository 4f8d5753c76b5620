from fastapi.testclient import TestClient


def test_create_and_get_customer(client: TestClient) -> None:
    created = client.post("/v1/customers", json={"external_id": "c1", "name": "One"})
    assert created.status_code == 201, created.text
    got = client.get(f"/v1/customers/{created.json()['id']}")
    assert got.json()["name"] == "One"
