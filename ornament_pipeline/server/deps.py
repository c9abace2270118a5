"""Running a request's database work: one hop to a database thread for key check and queries together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ornament_pipeline.server.auth import Access, Principal, authorize, presented_key, route_scope

T = TypeVar("T")


def on_connection(engine: Engine, work: Callable[[Connection], T], *, retry: bool) -> T:
    """`work(conn)` on a pooled connection. Connections are not pinged before use, so one the server has dropped
    (a restart, a failover, an idle timeout) fails its first statement. The pool's idle connections are then
    discarded too (they were most likely dropped with it), and with `retry` (reads: nothing was written) the work
    runs once more on a fresh connection."""
    try:
        with engine.connect() as conn:
            return work(conn)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        engine.dispose()  # checked-in connections only; those in use by other requests are left to them
        if not retry:
            raise
    with engine.connect() as conn:
        return work(conn)


async def run_db(request: Request, access: Access, work: Callable[[Connection, Principal], T]) -> T:
    """Check the key and run `work(conn, principal)` on one pooled connection, in one database thread.

    Each process has `server.db_threads` of them (`app.state.db_executor`); requests beyond wait in its queue, in
    arrival order, rather than as more threads contending for the GIL with the event loop: with anyio's default
    of 40 threads, that contention set the API's tail latency under load.

    The connection is rolled back on exit unless `work` commits. Doing both in one hop (rather than a
    dependency per step, each its own thread hop) is what keeps the API's overhead over the SQL small.
    A GET whose connection turns out dropped is run again once on a fresh one (`on_connection`).
    """
    app = request.app

    def call(conn: Connection) -> Any:
        return work(conn, authorize(conn, app.state.key_checker, access))

    retry = request.method == "GET"
    return await asyncio.get_running_loop().run_in_executor(
        app.state.db_executor, lambda: on_connection(app.state.engine, call, retry=retry))


async def check_key_first(request: Request) -> None:
    """The 401 or 403 a request's key earns on its route, if it earns one. Parameters are validated before
    `run_db` checks the key, so a request with both a bad key and a bad parameter would otherwise get a 422."""
    scope, presented = route_scope(request.scope.get("route")), presented_key(request)
    if scope is not None and presented is not None:
        await run_db(request, Access(presented, scope), lambda conn, principal: None)
