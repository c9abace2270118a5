"""`server.db_threads`: a process runs at most that many requests' database work at once, the rest wait in order."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import Connection, Engine, text
from starlette.requests import Request

from ornament_pipeline.server.app import create_app
from ornament_pipeline.server.auth import Access, Principal
from ornament_pipeline.server.config import ServerConfig
from ornament_pipeline.server.deps import run_db

from .conftest import DEAD_DAGSTER


@pytest.mark.parametrize("db_threads", [1, 3])
def test_at_most_db_threads_run_queries_at_once(engine: Engine, read_key: str, db_threads: int) -> None:
    app = create_app(engine, ServerConfig(dagster_url=DEAD_DAGSTER, db_threads=db_threads))
    lock = threading.Lock()
    running: list[int] = []
    peak = 0
    started: list[int] = []

    def work(n: int):
        def query(conn: Connection, principal: Principal) -> tuple[int, str]:
            nonlocal peak
            with lock:
                started.append(n)
                running.append(n)
                peak = max(peak, len(running))
            conn.execute(text("SELECT pg_sleep(0.05)"))
            with lock:
                running.remove(n)
            return n, principal.name
        return query

    async def requests() -> list[tuple[int, str]]:
        request = Request({"type": "http", "method": "GET", "app": app, "headers": []})
        calls = []
        for n in range(8):
            calls.append(asyncio.ensure_future(run_db(request, Access(read_key, "read"), work(n))))
            await asyncio.sleep(0)  # arrive in order
        return await asyncio.gather(*calls)

    t0 = time.monotonic()
    results = asyncio.run(requests())
    elapsed = time.monotonic() - t0
    assert [n for n, _ in results] == list(range(8))
    assert all(name.startswith("read-") for _, name in results)  # each request's key was checked
    assert peak == db_threads
    if db_threads == 1:
        assert started == list(range(8))  # queued requests run in arrival order
        assert elapsed >= 8 * 0.05
    app.state.engine.dispose()
