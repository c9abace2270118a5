"""Scraping through a real Selenium Grid 4 (hub + two nodes on 127.0.0.1, `ornament_pipeline.grid`):
partitions equal the replica's truth, sessions spread over both nodes, and a node killed mid-scrape is
survived by the pool on the other node."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest

from ornament_pipeline.grid import DEFAULT_JAR, LocalGrid
from ornament_pipeline.integrations import DriverPool, get_integration
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.conftest import write_config
from ornament_pipeline_tests.pipeline.test_partitions import materialize, stored, truth

from .conftest import make_settings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not DEFAULT_JAR.is_file(), reason=f"no Selenium server jar at {DEFAULT_JAR} (scripts/setup.sh)"),
]


class SessionWatch:
    """Polls the hub's GraphQL API in a thread: every session seen on each node, and when it was first seen."""

    def __init__(self, grid: LocalGrid, interval: float = 0.2) -> None:
        self.grid = grid
        self.interval = interval
        self.first_seen: dict[str, tuple[str, float]] = {}  # session id -> (node URI, monotonic time)
        self.current: dict[str, set[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grid-session-watch", daemon=True)

    def __enter__(self) -> SessionWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                # "reserved": a slot held while its session starts, not a session yet
                self.current = {uri: ids - {"reserved"} for uri, ids in self.grid.sessions_by_node().items()}
            except OSError:  # the hub busy for a moment: ask again
                pass
            now = time.monotonic()
            for uri, ids in self.current.items():
                for session in ids:
                    self.first_seen.setdefault(session, (uri, now))
            self._stop.wait(self.interval)

    def nodes_used(self) -> set[str]:
        return {uri for uri, _ in self.first_seen.values()}


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGrid]:
    with LocalGrid(tmp_path_factory.mktemp("grid"), nodes=2) as local:
        yield local


@pytest.fixture
def grid_resources(tmp_path: Path, replica: ReplicaHandle, migrated_db_url: str, grid: LocalGrid,
                   monkeypatch: pytest.MonkeyPatch) -> dict[str, dg.ConfigurableResource]:
    """Pipeline resources whose browsers are sessions of `grid` (SELENIUM_REMOTE_URL; pool size 2)."""
    monkeypatch.setenv("SELENIUM_REMOTE_URL", grid.url)
    replica.set_faults(None)
    settings = SettingsResource(config_path=str(write_config(tmp_path / "pipeline.json", replica, migrated_db_url)))
    assert settings.get().selenium.remote_url == grid.url and settings.get().selenium.pool_size == 2
    return {"settings": settings, "warehouse": WarehouseResource(settings=settings),
            "scraper": ScraperResource(settings=settings)}


def test_partitions_scraped_through_the_grid_equal_the_truth(
    replica: ReplicaHandle, grid_resources: dict, migrated_db_url: str, grid: LocalGrid
) -> None:
    instance = pipeline_instance()
    with SessionWatch(grid) as watch:
        for vendor in ("hookedonhallmark_com", "ornament_shop_com"):
            result = materialize(grid_resources, vendor, 2020, instance)
            assert result.success, vendor
            expected = truth(replica, vendor, 2020)
            assert expected
            assert stored(migrated_db_url, vendor, 2020) == expected, vendor
    assert watch.first_seen, "no session was opened on the Grid: the browsers were not remote"


def test_sessions_land_on_both_nodes(clean_replica: ReplicaHandle, grid: LocalGrid, no_cache) -> None:
    """A pool of 2 reading product pages two at a time (as `_products` does) holds one session on each node.
    (A partition's first sync reads its product pages one by one: one session, so the pool is used directly.)"""
    vendor = "hookedonhallmark_com"
    settings = make_settings(clean_replica.base_urls, remote_url=grid.url)
    expected = clean_replica.truth(vendor, 2020)
    with DriverPool(settings, 2) as remote_pool, SessionWatch(grid) as watch:
        integration = get_integration(vendor, settings, remote_pool, cache=no_cache)
        with ThreadPoolExecutor(max_workers=2) as executor:
            got = list(executor.map(lambda item: integration.get_ornament_by_url(item.link), expected))
        assert remote_pool.created == 2
    assert got == expected
    used = watch.nodes_used()
    assert len(used) == 2 and used <= {node.url for node in grid.nodes}, watch.first_seen  # two distinct nodes


@pytest.fixture
def own_grid(tmp_path: Path) -> Iterator[LocalGrid]:
    """A Grid for one test that kills one of its nodes."""
    with LocalGrid(tmp_path / "grid", nodes=2) as local:
        yield local


def test_node_killed_mid_scrape_the_pool_carries_on_with_the_other(
    replica: ReplicaHandle, tmp_path: Path, migrated_db_url: str, own_grid: LocalGrid,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SELENIUM_REMOTE_URL", own_grid.url)
    replica.set_faults(None)
    settings = SettingsResource(config_path=str(write_config(tmp_path / "pipeline.json", replica, migrated_db_url)))
    resources = {"settings": settings, "warehouse": WarehouseResource(settings=settings),
                 "scraper": ScraperResource(settings=settings)}
    vendor, year = "hookedonhallmark_com", 2020
    by_url = {node.url: node for node in own_grid.nodes}
    killed: dict[str, object] = {}

    def kill_a_busy_node(watch: SessionWatch) -> None:
        """Once the scrape has a session on a node (and a moment to use it), SIGKILL that node's group."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            busy = sorted(uri for uri, ids in watch.current.items() if ids)
            if busy:
                time.sleep(1.0)  # pages are being read on it
                busy = sorted(uri for uri, ids in watch.current.items() if ids) or busy
                by_url[busy[0]].kill()
                killed.update(uri=busy[0], at=time.monotonic(), sessions=set(watch.current.get(busy[0], ())))
                return
            time.sleep(0.1)

    with SessionWatch(own_grid, interval=0.1) as watch:
        killer = threading.Thread(target=kill_a_busy_node, args=(watch,), daemon=True)
        killer.start()
        result = materialize(resources, vendor, year, pipeline_instance())
        finished = time.monotonic()
        killer.join(timeout=10)

    assert killed, "no session appeared on the Grid to kill"
    assert killed["at"] < finished, "the node was killed after the scrape had finished"  # type: ignore[operator]
    assert killed["sessions"], "the killed node had no session of the scrape"
    survivor = next(uri for uri in by_url if uri != killed["uri"])
    replacements = [s for s, (uri, seen) in watch.first_seen.items() if uri == survivor and seen > killed["at"]]
    assert replacements, f"no new session on {survivor} after the kill: {watch.first_seen}"
    assert result.success
    assert stored(migrated_db_url, vendor, year) == truth(replica, vendor, year)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["scrape_complete"].passed, checks["scrape_complete"].metadata


def test_node_killed_while_it_starts_a_session_the_pool_asks_the_grid_again(
    clean_replica: ReplicaHandle, own_grid: LocalGrid, no_cache
) -> None:
    """The hub keeps routing new sessions to a dead node until its health check: the pool must ask again
    (a SessionNotCreatedException out of `acquire()` would fail the whole partition)."""
    by_url = {node.url: node for node in own_grid.nodes}
    killed: list[str] = []

    def kill_the_node_starting_a_session() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for uri, ids in own_grid.sessions_by_node().items():
                if "reserved" in ids:  # the hub has given this node the request; its Chromium is starting
                    by_url[uri].kill()
                    killed.append(uri)
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_node_starting_a_session, daemon=True)
    killer.start()
    vendor = "hookedonhallmark_com"
    settings = make_settings(clean_replica.base_urls, remote_url=own_grid.url)
    expected = clean_replica.truth(vendor, 2020)[:3]
    with DriverPool(settings, 1) as remote_pool:
        integration = get_integration(vendor, settings, remote_pool, cache=no_cache)
        got = [integration.get_ornament_by_url(item.link) for item in expected]
    killer.join(timeout=10)
    assert killed, "no session start was seen on the Grid"
    assert got == expected
