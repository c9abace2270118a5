"""The database dropping the API's connections, or being down: reads recover at once, nothing answers plain text."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.config import ServerConfig

from .conftest import DEAD_DAGSTER


def _drop_connections(engine: Engine, application_name: str) -> int:
    with engine.connect() as conn:
        return len(conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
            {"name": application_name}).all())


def test_dropped_connections_are_replaced(engine: Engine, read_key: str, admin_key: str) -> None:
    name = f"api-test-{uuid.uuid4().hex[:8]}"
    app_engine = create_engine(engine.url.update_query_dict({"application_name": name}))
    app = create_app(app_engine, ServerConfig(dagster_url=DEAD_DAGSTER))
    with TestClient(app, raise_server_exceptions=False) as client:
        reader, admin = {"X-API-Key": read_key}, {"X-API-Key": admin_key}
        expected = client.get("/api/v1/products", params={"limit": 3}, headers=reader).json()
        assert client.get("/api/v1/health").status_code == 200

        # A restart or an idle timeout on the server's side: the pooled connections are dead.
        assert _drop_connections(engine, name) >= 1
        response = client.get("/api/v1/products", params={"limit": 3}, headers=reader)
        assert response.status_code == 200 and response.json() == expected  # retried on a fresh connection
        _drop_connections(engine, name)
        assert client.get("/api/v1/health").json() == {"status": "ok", "database": "ok", "version": "1"}

        # A write is not repeated behind the client's back: it is told to try again, in JSON.
        _drop_connections(engine, name)
        watch = {"item_number": "QX6001", "label": name}
        response = client.post("/api/v1/watches", json=watch, headers=admin)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        assert response.headers["retry-after"] == "5"
        created = client.post("/api/v1/watches", json=watch, headers=admin)
        assert created.status_code == 201, created.text
        assert [w["label"] for w in client.get("/api/v1/watches", headers=reader).json()].count(name) == 1
        assert client.delete(f"/api/v1/watches/{created.json()['id']}", headers=admin).status_code == 200
    app.state.engine.dispose()
    app_engine.dispose()


def test_database_down_is_a_json_503(read_key: str) -> None:
    nowhere = create_engine("postgresql+psycopg2://postgres@127.0.0.1:9/ornaments?connect_timeout=2")
    app = create_app(nowhere, ServerConfig(dagster_url=DEAD_DAGSTER))
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/api/v1/products", "/api/v1/products/1/history", "/api/v1/vendors", "/api/v1/changes"):
            response = client.get(path, headers={"X-API-Key": read_key})
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"] == {"status": 503, "code": "database_unavailable", "fields": [],
                                                "message": "the database is unavailable; try again shortly"}
        health = client.get("/api/v1/health")
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
    nowhere.dispose()


def test_an_unexpected_error_is_a_json_500(engine: Engine) -> None:
    app = create_app(engine, ServerConfig(dagster_url=DEAD_DAGSTER))

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json()["error"] == {"status": 500, "code": "internal_error", "fields": [],
                                        "message": "internal error; the server log has the details"}
    assert "a bug" not in response.text  # the traceback goes to the server's log (Starlette re-raises it to uvicorn)
    app.state.engine.dispose()
