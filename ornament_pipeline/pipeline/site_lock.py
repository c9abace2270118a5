"""One scrape of a vendor's site at a time, across runs, processes and machines: a Postgres advisory lock.

dagster.yaml's run queue limits runs per `dagster/partition/vendor` tag, but a ranged run (a backfill of many
vendor-years in one run) carries no such tag, and a scheduled single-partition run of the same vendor could start
beside it. The lock is held on its own connection for as long as the vendor's pages are read; a process that dies
closes that connection, and Postgres releases the lock with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

# The lock's first key: this project's namespace among advisory locks (the second is the vendor's hash).
LOCK_SPACE = 0x6F726E  # "orn"
WAIT_LOG_SECONDS = 8.0  # while waiting, a line at least this often (the run log is never silent for 10 s)


@contextmanager
def site_lock(engine: Engine, vendor: str, log: logging.Logger, poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold the vendor's site lock; wait (saying for whom) while another run holds it."""
    args = {"space": LOCK_SPACE, "vendor": vendor}
    conn = engine.connect()
    try:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        started = last_said = time.monotonic()
        while not conn.execute(text("SELECT pg_try_advisory_lock(:space, hashtext(:vendor))"), args).scalar():
            if time.monotonic() - last_said >= WAIT_LOG_SECONDS or last_said == started:
                holder = conn.execute(text(
                    "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.classid = :space AND l.objid = hashtext(:vendor)::oid"
                    " AND l.granted LIMIT 1"), args).first()
                log.info("%s: waiting for the site: another scrape holds it (%s), %.0f s so far", vendor,
                         f"{holder.application_name or 'backend'} pid {holder.pid}" if holder else "unknown",
                         time.monotonic() - started)
                last_said = time.monotonic()
            time.sleep(poll_seconds)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:space, hashtext(:vendor))"), args)
    finally:
        conn.close()
