"""API keys: 401 without or with a bad key, 403 for the wrong scope, only a hash stored, last use recorded."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import create_key, hash_key
from ornament_pipeline.server.config import ServerConfig, server_config
from ornament_pipeline.server.queries.api_keys import revoke_key

from .conftest import DEAD_DAGSTER

PRODUCTS = "/api/v1/products"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code and error["message"]
    return error


def test_missing_key_is_401_with_a_json_body(client: TestClient) -> None:
    response = client.get(PRODUCTS)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("key", ["nonsense", "orn_00000000_" + "x" * 43, "Bearer", "orn_"])
def test_unknown_or_malformed_key_is_401(client: TestClient, key: str) -> None:
    assert_error(client.get(PRODUCTS, headers={"X-API-Key": key}), 401, "unauthorized")
    assert_error(client.get(PRODUCTS, headers={"Authorization": f"Bearer {key}"}), 401, "unauthorized")


def test_a_key_with_a_known_prefix_but_wrong_secret_is_401(client: TestClient, read_key: str) -> None:
    forged = read_key[:13] + ("A" if read_key[13] != "A" else "B") + read_key[14:]
    assert_error(client.get(PRODUCTS, headers={"X-API-Key": forged}), 401, "unauthorized")


def test_read_key_as_header_or_bearer(client: TestClient, read_key: str) -> None:
    assert client.get(PRODUCTS, headers={"X-API-Key": read_key}).status_code == 200
    assert client.get(PRODUCTS, headers={"Authorization": f"Bearer {read_key}"}).status_code == 200


def test_how_headers_present_a_key(client: TestClient, read_key: str) -> None:
    assert client.get(PRODUCTS, headers={"Authorization": f"bearer  {read_key} "}).status_code == 200
    assert client.get(PRODUCTS, headers={"X-API-Key": f" {read_key}\t"}).status_code == 200
    # X-API-Key wins over Authorization; a blank one does not count.
    assert client.get(PRODUCTS, headers={"X-API-Key": read_key, "Authorization": "Bearer nonsense"}).status_code == 200
    assert client.get(PRODUCTS, headers={"X-API-Key": " ", "Authorization": f"Bearer {read_key}"}).status_code == 200
    # Only the Bearer scheme carries a key.
    for authorization in (f"Basic {read_key}", f"Token {read_key}", read_key, "Bearer ", "Bearer"):
        assert_error(client.get(PRODUCTS, headers={"Authorization": authorization}), 401, "unauthorized")


def test_the_key_is_judged_before_the_parameters(client: TestClient, read_key: str, admin_key: str) -> None:
    bad_params = {"limit": "abc"}
    assert_error(client.get(PRODUCTS, params=bad_params), 401, "unauthorized")
    assert_error(client.get(PRODUCTS, params=bad_params, headers={"X-API-Key": "junk"}), 401, "unauthorized")
    forged = "orn_00000000_" + "x" * 43
    assert_error(client.get("/api/v1/products/0/history", headers={"X-API-Key": forged}), 401, "unauthorized")
    # A read key on an admin route with a bad body: the scope is what is wrong first.
    assert_error(client.post("/api/v1/syncs", json={"year": "soon"}, headers={"X-API-Key": read_key}),
                 403, "forbidden")
    # A good key with bad parameters: the parameters are what is wrong.
    assert_error(client.get(PRODUCTS, params=bad_params, headers={"X-API-Key": read_key}), 422, "invalid_parameter")
    assert_error(client.post("/api/v1/syncs", json={"year": "soon"}, headers={"X-API-Key": admin_key}),
                 422, "invalid_parameter")


def test_read_key_cannot_start_syncs(reader: TestClient) -> None:
    error = assert_error(reader.post("/api/v1/syncs", json={"vendor": "ornament_shop_com"}), 403, "forbidden")
    assert "admin" in error["message"]


def test_admin_key_reads_too(admin: TestClient) -> None:
    assert admin.get(PRODUCTS).status_code == 200


def test_revoked_key_is_401_and_the_key_never_reaches_the_logs(
    engine: Engine, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"revoke-me-{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        _, key = create_key(conn, name, "admin")
    caplog.set_level(logging.DEBUG)
    assert client.get(PRODUCTS, headers={"X-API-Key": key}).status_code == 200
    with engine.begin() as conn:
        assert revoke_key(conn, name)
        assert not revoke_key(conn, name)  # already revoked
    error = assert_error(client.get(PRODUCTS, headers={"X-API-Key": key}), 401, "unauthorized")
    assert "revoked" in error["message"]
    assert_error(client.post("/api/v1/syncs", json={"vendor": "ornament_shop_com"}, headers={"X-API-Key": key}),
                 401, "unauthorized")
    assert key not in caplog.text and key[14:] not in caplog.text


def test_only_a_hash_is_stored_and_last_use_is_recorded(engine: Engine, client: TestClient) -> None:
    name = f"hash-{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        stored, key = create_key(conn, name, "read")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys WHERE name = :n"), {"n": name}).mappings().one()
    assert row["key_hash"] == hash_key(key) and row["prefix"] == key[4:12]
    assert all(key not in str(value) for value in row.values())
    assert row["last_used_at"] is None
    client.get(PRODUCTS, headers={"X-API-Key": key})
    with engine.connect() as conn:
        used = conn.execute(text("SELECT last_used_at FROM api_keys WHERE name = :n"), {"n": name}).scalar_one()
    assert used is not None


def test_open_reads_need_no_key_but_writes_still_do(engine: Engine, read_key: str) -> None:
    app = create_app(engine, ServerConfig(open_reads=True, dagster_url=DEAD_DAGSTER))
    with TestClient(app) as client:
        assert client.get(PRODUCTS).status_code == 200
        assert client.get("/api/v1/vendors").status_code == 200
        assert_error(client.post("/api/v1/syncs", json={"vendor": "ornament_shop_com"}), 401, "unauthorized")
        assert_error(client.post("/api/v1/syncs", json={"vendor": "ornament_shop_com"},
                                 headers={"X-API-Key": read_key}), 403, "forbidden")


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok", "database": "ok", "version": "1"}


def test_server_config_from_config_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from ornament_pipeline.config import ConfigError, load_settings

    monkeypatch.delenv("ORNAMENTS_API_OPEN_READS", raising=False)
    monkeypatch.delenv("DAGSTER_URL", raising=False)
    monkeypatch.delenv("ORNAMENTS_API_DB_THREADS", raising=False)
    path = tmp_path / "c.json"
    path.write_text('{"vendors": {}}')
    assert server_config(load_settings(path)) == ServerConfig(False, "http://127.0.0.1:3000", 1)
    path.write_text('{"vendors": {}, "server": {"open_reads": true, "dagster_url": "http://ops:3000/",'
                    ' "db_threads": 2}}')
    assert server_config(load_settings(path)) == ServerConfig(True, "http://ops:3000", 2)
    monkeypatch.setenv("ORNAMENTS_API_OPEN_READS", "FALSE")  # the environment overrides the file
    monkeypatch.setenv("DAGSTER_URL", "http://dagster:3000/")
    monkeypatch.setenv("ORNAMENTS_API_DB_THREADS", "4")
    assert server_config(load_settings(path)) == ServerConfig(False, "http://dagster:3000", 4)
    monkeypatch.setenv("ORNAMENTS_API_DB_THREADS", "0")
    with pytest.raises(ConfigError, match=r"server.db_threads \(set by ORNAMENTS_API_DB_THREADS\): Input should be"
                                          r" greater than or equal to 1"):
        load_settings(path)
    monkeypatch.setenv("ORNAMENTS_API_OPEN_READS", "maybe")
    with pytest.raises(ConfigError, match=r"server.open_reads \(set by ORNAMENTS_API_OPEN_READS\): Input should be a"
                                          r" valid boolean"):
        load_settings(path)


def test_cli_create_list_revoke(warehouse_url: str, monkeypatch: pytest.MonkeyPatch, app) -> None:
    from ornament_pipeline.cli import app as cli

    monkeypatch.setenv("DATABASE_URL", warehouse_url)
    runner = CliRunner()
    name = f"cli-{uuid.uuid4().hex[:6]}"
    created = runner.invoke(cli, ["api-keys", "create", "--name", name, "--scope", "admin"])
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert key.startswith("orn_") and " " not in key and created.output.count(key) == 1
    again = runner.invoke(cli, ["api-keys", "create", "--name", name, "--scope", "read"])
    assert again.exit_code == 1 and "exists already" in again.output
    for bad_name in ("x\ny", "tab\there", "bell\a", " ", "n" * 101):
        refused = runner.invoke(cli, ["api-keys", "create", "--name", bad_name])
        assert refused.exit_code == 1 and "name must be" in refused.output, (bad_name, refused.output)
    bad_scope = runner.invoke(cli, ["api-keys", "create", "--name", "x", "--scope", "root"])
    assert bad_scope.exit_code != 0

    with TestClient(app) as client:
        assert client.get(PRODUCTS, headers={"X-API-Key": key}).status_code == 200
        listed = runner.invoke(cli, ["api-keys", "list"])
        assert listed.exit_code == 0 and name in listed.output and key not in listed.output
        assert key[4:12] in listed.output
        revoked = runner.invoke(cli, ["api-keys", "revoke", name])
        assert revoked.exit_code == 0, revoked.output
        assert client.get(PRODUCTS, headers={"X-API-Key": key}).status_code == 401
    assert runner.invoke(cli, ["api-keys", "revoke", name]).exit_code == 1
