"""Running a request's database work: one worker-thread hop for key check and queries together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from ornament_pipeline.server.auth import Access, Principal, authorize

T = TypeVar("T")


async def run_db(request: Request, access: Access, work: Callable[[Connection, Principal], T]) -> T:
    """Check the key and run `work(conn, principal)` on one pooled connection, in one worker thread.

    The connection is rolled back on exit unless `work` commits. Doing both in one hop (rather than a
    dependency per step, each its own thread hop) is what keeps the API's overhead over the SQL small.
    """
    app = request.app

    def call() -> Any:
        with app.state.engine.connect() as conn:
            principal = authorize(conn, app.state.key_checker, access)
            return work(conn, principal)

    return await run_in_threadpool(call)
