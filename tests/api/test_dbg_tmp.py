import pytest
from tests.api.test_usage_api import *  # noqa

def test_dbg(client, ctx, tenant):
    setup(client)
    customer_id = new_customer(client)
    sub_id = subscribe(client, customer_id, start_date=START)
    t = ok(client.post(f"/v1/subscriptions/{sub_id}/usage_thresholds", json={"kind": "amount", "value": "3.00"}), 201)
    print("T", t)
    print(ok(client.get(f"/v1/subscriptions/{sub_id}/usage_thresholds")))
    send(client, [event(f"r{i}", "regional", region="eu") for i in range(8)])
    print(kassa_events(client, "usage.threshold_reached"))
    with ctx.uow(read_only=True) as uow:
        print(uow.usage_thresholds.for_subscriptions(tenant.id, [sub_id]))
    assert 0
