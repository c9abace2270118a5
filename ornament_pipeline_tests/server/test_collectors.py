"""Collector keys: each collector's own watches and alert destinations; admins see all; read keys cannot write.

Another collector's watch or destination must answer exactly what a missing id answers (404, same body), so
one collector never learns that another's exists."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from ornament_pipeline.auditor.delivery import verify
from ornament_pipeline_tests.auditor.receiver import Receiver

from .conftest import new_key

MISSING = 2**62   # an id no test creates


def not_found(what: str, item_id: int) -> dict:
    return {"error": {"status": 404, "code": "not_found", "message": f"no {what} {item_id}", "fields": []}}


def collector_client(app, engine: Engine) -> TestClient:
    return TestClient(app, headers={"X-API-Key": new_key(engine, "collector")})


@pytest.fixture
def alice(app, engine: Engine) -> Iterator[TestClient]:
    with collector_client(app, engine) as c:
        yield c


@pytest.fixture
def bob(app, engine: Engine) -> Iterator[TestClient]:
    with collector_client(app, engine) as c:
        yield c


def watch(client: TestClient, item: str = "QX6001", **extra: object) -> dict:
    response = client.post("/api/v1/watches", json={"item_number": item, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


def test_a_collector_lists_only_its_own_watches_and_an_admin_all(alice: TestClient, bob: TestClient,
                                                                 admin: TestClient, reader: TestClient) -> None:
    me = alice.get("/api/v1/me").json()
    assert me["scope"] == "collector" and me["collector"] == me["name"]
    mine, theirs = watch(alice, label="alice's"), watch(bob, label="bob's")
    operators = watch(admin, label="the operator's")
    assert mine["owner"] == me["collector"] and operators["owner"] is None
    assert ids(alice.get("/api/v1/watches")) == [mine["id"]]
    assert ids(bob.get("/api/v1/watches", params={"item_number": "QX6001"})) == [theirs["id"]]
    everyone = ids(admin.get("/api/v1/watches"))
    assert {mine["id"], theirs["id"], operators["id"]} <= set(everyone)
    # A read key reads the operator's watches only, never a collector's.
    read = ids(reader.get("/api/v1/watches"))
    assert operators["id"] in read and mine["id"] not in read and theirs["id"] not in read
    assert reader.get(f"/api/v1/watches/{mine['id']}").json() == not_found("watch", mine["id"])
    assert admin.delete(f"/api/v1/watches/{operators['id']}").status_code == 200


def test_another_collectors_watch_answers_404_exactly_like_a_missing_one(alice: TestClient, bob: TestClient,
                                                                         admin: TestClient) -> None:
    mine = watch(alice)["id"]
    for method, path in (("GET", "/api/v1/watches/{}"), ("GET", "/api/v1/watches/{}/alerts"),
                         ("DELETE", "/api/v1/watches/{}")):
        attempt = bob.request(method, path.format(mine))
        missing = bob.request(method, path.format(MISSING))
        assert (attempt.status_code, missing.status_code) == (404, 404), (method, path)
        assert attempt.json() == not_found("watch", mine) and missing.json() == not_found("watch", MISSING)
        assert attempt.headers.keys() == missing.headers.keys()
    # Bob's delete changed nothing: the watch is still Alice's, and its alerts hers to read.
    assert alice.get(f"/api/v1/watches/{mine}").json()["id"] == mine
    assert alice.get(f"/api/v1/watches/{mine}/alerts").json() == []
    assert mine not in ids(bob.get("/api/v1/watches"))
    # An admin manages everyone's.
    assert admin.get(f"/api/v1/watches/{mine}").status_code == 200
    assert admin.delete(f"/api/v1/watches/{mine}").json()["id"] == mine
    assert alice.get(f"/api/v1/watches/{mine}").json() == not_found("watch", mine)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/watches", {"item_number": "QX6001"}),
    ("DELETE", "/api/v1/watches/1", None),
    ("GET", "/api/v1/destinations", None),
    ("POST", "/api/v1/destinations", {"url": "http://127.0.0.1:9/hook"}),
    ("POST", "/api/v1/destinations/1/verify", None),
    ("DELETE", "/api/v1/destinations/1", None),
])
def test_a_read_key_cannot_write_and_no_key_is_401(reader: TestClient, client: TestClient, method: str, path: str,
                                                   body: dict | None) -> None:
    refused = reader.request(method, path, json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert "needs a collector or admin key" in refused.json()["error"]["message"]
    anonymous = client.request(method, path, json=body)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"


def test_a_destination_is_verified_by_a_signed_test_delivery(alice: TestClient, receiver: Receiver) -> None:
    created = alice.post("/api/v1/destinations", json={"url": receiver.url, "label": "my phone"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["last_check_status"], body["last_check_error"]) == ("verified", 200, None)
    assert body["verified_at"] and body["secret"].startswith("whsec_") and body["url"] == receiver.url
    [test] = receiver.accepted
    assert verify(body["secret"], test.body, test.headers["x-ornaments-signature"])
    assert test.json["alert"]["kind"] == "test" and test.json["alert"]["destination"]["id"] == body["id"]
    assert test.headers["x-ornaments-idempotency-key"] == test.json["idempotency_key"]
    listed = alice.get("/api/v1/destinations").json()
    assert [d["id"] for d in listed] == [body["id"]] and "secret" not in listed[0]
    # The same URL twice would get every alert twice: refused, and not tested again.
    again = alice.post("/api/v1/destinations", json={"url": receiver.url})
    assert again.status_code == 409 and again.json()["error"]["fields"][0]["field"] == "url"
    assert "one of your destinations already" in again.json()["error"]["message"]
    assert len(receiver.received) == 1


def test_a_failed_verification_says_why_and_can_be_retried(alice: TestClient, receiver: Receiver,
                                                           engine: Engine) -> None:
    receiver.fail_first = 1
    created = alice.post("/api/v1/destinations", json={"url": receiver.url})
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["verified_at"], body["last_check_status"]) == ("failed", None, 500)
    assert body["last_check_error"] == "the destination answered HTTP 500; a 2xx is needed"
    assert "nope" not in created.text   # the receiver's own answer is not echoed
    with engine.connect() as conn:
        assert conn.execute(text("SELECT verified_at FROM alert_destinations WHERE id = :id"),
                            {"id": body["id"]}).scalar_one() is None
    retried = alice.post(f"/api/v1/destinations/{body['id']}/verify")
    assert retried.status_code == 200 and retried.json()["status"] == "verified"
    assert "secret" not in retried.json()
    [_, test] = receiver.received
    assert verify(body["secret"], test.body, test.headers["x-ornaments-signature"])


def test_an_unreachable_or_malformed_destination(alice: TestClient) -> None:
    with socket.socket() as sock:   # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = alice.post("/api/v1/destinations", json={"url": f"http://127.0.0.1:{port}/hook"}).json()
    assert unreachable["status"] == "failed" and unreachable["last_check_status"] is None
    assert unreachable["last_check_error"].startswith("ConnectError")
    for url, problem in (("ftp://example.test/x", "http:// or https://"), ("http:///nohost", "names no host"),
                         ("http://a b.test/", "whitespace")):
        refused = alice.post("/api/v1/destinations", json={"url": url})
        assert refused.status_code == 422, url
        [field] = refused.json()["error"]["fields"]
        assert field["field"] == "url" and problem in field["message"]


def test_another_collectors_destination_answers_404_like_a_missing_one(alice: TestClient, bob: TestClient,
                                                                       admin: TestClient,
                                                                       receiver: Receiver) -> None:
    mine = alice.post("/api/v1/destinations", json={"url": receiver.url}).json()["id"]
    for method, path in (("DELETE", "/api/v1/destinations/{}"), ("POST", "/api/v1/destinations/{}/verify")):
        attempt, missing = bob.request(method, path.format(mine)), bob.request(method, path.format(MISSING))
        assert (attempt.status_code, missing.status_code) == (404, 404)
        assert attempt.json() == not_found("destination", mine)
        assert missing.json() == not_found("destination", MISSING)
    assert len(receiver.received) == 1, "bob's verify sent nothing to alice's destination"
    assert mine not in ids(bob.get("/api/v1/destinations"))
    assert mine in ids(admin.get("/api/v1/destinations"))
    # An admin has no destinations of its own to make.
    refused = admin.post("/api/v1/destinations", json={"url": receiver.url})
    assert refused.status_code == 403 and "belong to a collector" in refused.json()["error"]["message"]
    removed = alice.delete(f"/api/v1/destinations/{mine}")
    assert removed.status_code == 200 and removed.json()["id"] == mine
    assert alice.delete(f"/api/v1/destinations/{mine}").json() == not_found("destination", mine)
    assert mine not in ids(admin.get("/api/v1/destinations"))


def test_cli_creates_collector_keys(warehouse_url: str, monkeypatch: pytest.MonkeyPatch, app) -> None:
    from ornament_pipeline.cli import app as cli

    monkeypatch.setenv("DATABASE_URL", warehouse_url)
    runner = CliRunner()
    collector = f"carol-{uuid.uuid4().hex[:6]}"
    keys = []
    for n in (1, 2):
        made = runner.invoke(cli, ["api-keys", "create", "--name", f"{collector}-{n}", "--scope", "collector",
                                   "--collector", collector])
        assert made.exit_code == 0, made.output
        assert f"collector key '{collector}-{n}' of collector '{collector}'" in made.output
        keys.append(made.output.strip().splitlines()[-1])
    listed = runner.invoke(cli, ["api-keys", "list"])
    assert listed.output.count(collector) == 4   # two names, two collector columns
    refused = runner.invoke(cli, ["api-keys", "create", "--name", f"x-{collector}", "--scope", "read",
                                  "--collector", collector])
    assert refused.exit_code == 1 and "only a collector key belongs to a collector" in refused.output
    # Two keys of one collector share its watches.
    with TestClient(app, headers={"X-API-Key": keys[0]}) as first, \
            TestClient(app, headers={"X-API-Key": keys[1]}) as second:
        made_id = watch(first)["id"]
        assert ids(second.get("/api/v1/watches")) == [made_id]
        assert second.delete(f"/api/v1/watches/{made_id}").status_code == 200
