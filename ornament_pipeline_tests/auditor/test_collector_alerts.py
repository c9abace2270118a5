"""Alerts of a collector's watch reach that collector's verified destinations, each exactly once, signed with
the destination's secret; the operator's watches still go to the configured webhook; nobody else's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ornament_pipeline.auditor.alerts import raise_alerts
from ornament_pipeline.auditor.delivery import RetryPolicy, channels_for, deliver_due, make_webhook, verify
from ornament_pipeline.auditor.watches import add_watch
from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import create_key
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline_tests.auditor.conftest import SECRET, SHOP, T0, listing, rows, sync
from ornament_pipeline_tests.auditor.receiver import Receiver, serve

FAST = RetryPolicy(max_attempts=3, backoff_seconds=0.1, backoff_max_seconds=0.5, timeout_seconds=5)


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    """Five local receivers: the operator's webhook, alice's two, alice's failing one, bob's."""
    with ExitStack() as stack:
        states = []
        for _ in range(5):
            state = Receiver()
            server, thread = serve(state)
            stack.callback(thread.join, 5)
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            states.append(state)
        yield states


def collector(app, engine: Engine, name: str) -> TestClient:
    with engine.begin() as conn:
        _, key = create_key(conn, f"{name}-{uuid.uuid4().hex[:6]}", "collector", collector=name)
    return TestClient(app, headers={"X-API-Key": key})


def deliver_all(engine: Engine, webhook) -> None:
    for _ in range(50):
        deliver_due(engine, webhook, FAST, budget_seconds=2)
        if rows(engine, "SELECT count(*) FROM alert_deliveries WHERE status = 'pending'") == [(0,)]:
            return
    raise AssertionError("deliveries still pending")


def test_alerts_go_to_the_owners_verified_destinations_once_each(engine: Engine,
                                                                  receivers: list[Receiver]) -> None:
    operator, alice_1, alice_2, alice_broken, bob_hook = receivers
    alice_broken.fail_first = 10**6   # fails its test, so it is never used
    app = create_app(engine, ServerConfig())
    with collector(app, engine, "alice") as alice, collector(app, engine, "bob") as bob:
        secrets = {}
        for client, state in ((alice, alice_1), (alice, alice_2), (alice, alice_broken), (bob, bob_hook)):
            made = client.post("/api/v1/destinations", json={"url": state.url}).json()
            secrets[state.url] = made["secret"]
            assert made["status"] == ("failed" if state is alice_broken else "verified")
        alices = alice.post("/api/v1/watches", json={"item_number": "QX6001", "kinds": ["new_listing"]}).json()
        bobs = bob.post("/api/v1/watches", json={"item_number": "QX6002", "kinds": ["new_listing"]}).json()
    operators = add_watch(engine, "QX6001", kinds="new_listing")   # the operator's: the configured webhook
    for state in receivers:
        state.received.clear()
        state.accepted.clear()

    webhook = make_webhook(operator.url, SECRET)
    sync(engine, SHOP, [listing(1), listing(2)], T0)
    assert raise_alerts(engine, channels_for(webhook)).alert_count == 3
    deliver_all(engine, webhook)

    def alert_keys(state: Receiver) -> list[str]:
        return sorted(r.key for r in state.accepted)

    key = {watch_id: k for watch_id, k in rows(engine, "SELECT watch_id, idempotency_key FROM alerts")}
    assert alert_keys(operator) == [key[operators.id]]
    assert alert_keys(alice_1) == alert_keys(alice_2) == [key[alices["id"]]]
    assert alert_keys(bob_hook) == [key[bobs["id"]]]
    assert alice_broken.received == []
    for state in (alice_1, alice_2, bob_hook):
        [request] = state.accepted
        assert verify(secrets[state.url], request.body, request.headers["x-ornaments-signature"])
        assert not verify(SECRET, request.body, request.headers["x-ornaments-signature"])
        assert request.json["alert"]["product"]["item_number"] == request.json["alert"]["watch"]["item_number"]
    [operators_request] = operator.accepted
    assert verify(SECRET, operators_request.body, operators_request.headers["x-ornaments-signature"])
    # Once each: another pass sends nothing more.
    deliver_due(engine, webhook, FAST)
    assert sum(len(state.received) for state in receivers) == 4
    # The alerts each watch raised, to its owner only (a new key of the same collector sees them too).
    with collector(app, engine, "alice") as alice, collector(app, engine, "bob") as bob:
        [raised] = alice.get(f"/api/v1/watches/{alices['id']}/alerts").json()
        assert (raised["kind"], raised["payload"]["idempotency_key"]) == ("new_listing", key[alices["id"]])
        refused = bob.get(f"/api/v1/watches/{alices['id']}/alerts")
        assert refused.status_code == 404 and refused.json()["error"]["message"] == f"no watch {alices['id']}"


def test_a_removed_destination_gets_nothing_more(engine: Engine, receivers: list[Receiver]) -> None:
    kept, removed = receivers[0], receivers[1]
    app = create_app(engine, ServerConfig())
    with collector(app, engine, "alice") as alice:
        ids = [alice.post("/api/v1/destinations", json={"url": s.url}).json()["id"] for s in (kept, removed)]
        alice.post("/api/v1/watches", json={"item_number": "QX6001", "kinds": ["new_listing", "price_drop"]})
        sync(engine, SHOP, [listing(1, price="30.00")], T0)
        raise_alerts(engine, ["log"])          # queued for both destinations, not yet sent
        assert alice.delete(f"/api/v1/destinations/{ids[1]}").status_code == 200
        deliver_all(engine, None)
        sync(engine, SHOP, [listing(1, price="20.00")], T0 + timedelta(days=1))
        raise_alerts(engine, ["log"])
        deliver_all(engine, None)
    assert [r.json["alert"]["kind"] for r in kept.accepted] == ["test", "new_listing", "price_drop"]
    assert [r.json["alert"]["kind"] for r in removed.received] == ["test"]
    assert rows(engine, "SELECT status, last_error FROM alert_deliveries WHERE destination_id = :id",
                id=ids[1]) == [("failed", "the destination was removed")]
