"""Helpers for tests and the benchmark: fill a warehouse from the replica's truth, run the app in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from ornament_pipeline.listing import Listing
from ornament_pipeline.replica.catalogue import DEFAULT_SEED
from ornament_pipeline.replica.clock import truth
from ornament_pipeline.vendors import LIVE_BASE_URLS
from ornament_pipeline.warehouse.scrapes import merge_observation

DAY0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
TRACKED = ("price", "availability")


def observed_at(day: int) -> datetime:
    return DAY0 + timedelta(days=day)


def load_day(engine: Engine, listings: list[Listing], at: datetime, partitions: set[tuple[str, int]]) -> None:
    """Merge and snapshot every vendor x year partition, as a complete scrape would (one transaction each)."""
    by_partition: dict[tuple[str, int], list[Listing]] = defaultdict(list)
    for item in listings:
        by_partition[(item.vendor, item.release_year or 0)].append(item)
    partitions.update(by_partition)
    for vendor, year in sorted(partitions):
        with engine.begin() as conn:
            merge_observation(conn, vendor, year, by_partition.get((vendor, year), []), at, complete=True,
                              tracked=TRACKED)


def load_truth(engine: Engine, size: str = "small", days: int = 3, seed: int = DEFAULT_SEED) -> None:
    """Days 0..days-1 of the replica's catalogue (live vendor URLs), each observed at `observed_at(day)`."""
    partitions: set[tuple[str, int]] = set()
    for day in range(days):
        load_day(engine, truth(size, day, seed, LIVE_BASE_URLS), observed_at(day), partitions)


class _QuietServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return

    @contextmanager
    def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29: leave signals to the main thread
        yield


@contextmanager
def running_app(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` with uvicorn on a free port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    server = _QuietServer(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
