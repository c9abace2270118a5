"""Running a request's database work: one hop to a database thread for key check and queries together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy import Connection

from ornament_pipeline.server.auth import Access, Principal, authorize

T = TypeVar("T")


def _db_limiter(app: FastAPI) -> anyio.CapacityLimiter:
    # Requests beyond `db_threads` wait their turn in the event loop, in order, instead of as threads contending
    # for the GIL: with anyio's default of 40 threads, that contention set the API's tail latency under load.
    # A limiter belongs to one event loop (a test client may run one per request), so it is made per loop.
    loop = anyio.lowlevel.current_token()
    held = getattr(app.state, "db_limiter", None)
    if held is None or held[0] != loop:
        held = app.state.db_limiter = (loop, anyio.CapacityLimiter(app.state.server_config.db_threads))
    return held[1]


async def run_db(request: Request, access: Access, work: Callable[[Connection, Principal], T]) -> T:
    """Check the key and run `work(conn, principal)` on one pooled connection, in one database thread.

    The connection is rolled back on exit unless `work` commits. Doing both in one hop (rather than a
    dependency per step, each its own thread hop) is what keeps the API's overhead over the SQL small.
    """
    app = request.app

    def call() -> Any:
        with app.state.engine.connect() as conn:
            principal = authorize(conn, app.state.key_checker, access)
            return work(conn, principal)

    return await anyio.to_thread.run_sync(call, limiter=_db_limiter(app))
