"""Fixtures for the integration tests: the replica, settings pointing at it, a shared driver pool, Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from ornament_pipeline.config import Politeness, Settings, VendorConfig
from ornament_pipeline.integrations import robots
from ornament_pipeline.integrations.browser import DriverPool
from ornament_pipeline.integrations.year_links_cache import YearLinksCache
from ornament_pipeline_tests.ports import free_port

REDIS_URL = os.environ.get("TEST_INTEGRATIONS_REDIS_URL", "redis://127.0.0.1:6379/13")
FAST = Politeness(min_delay_seconds=0.0, max_concurrency=2, max_retries=4, backoff_base_seconds=0.05,
                  backoff_max_seconds=3.0, page_timeout_seconds=10.0)


def make_settings(base_urls: dict[str, str], politeness: Politeness = FAST, **selenium: object) -> Settings:
    return Settings(
        vendors={vendor: VendorConfig(base_url=url, politeness=politeness) for vendor, url in base_urls.items()},
        selenium={"pool_size": 2, **selenium},
    )


@pytest.fixture(scope="session")
def replica() -> Iterator[object]:
    from ornament_pipeline.replica.testing import running_replica

    with running_replica("small") as handle:
        yield handle


@pytest.fixture
def clean_replica(replica) -> Iterator[object]:
    """The shared replica with faults off and default options before and after the test."""
    replica.set_faults(None)
    robots.clear_cache()
    yield replica
    replica.set_faults(None)
    robots.clear_cache()


@pytest.fixture(scope="session")
def settings(replica) -> Settings:
    return make_settings(replica.base_urls)


@pytest.fixture(scope="session")
def pool(settings) -> Iterator[DriverPool]:
    with DriverPool(settings, 2, page_timeout=10.0) as shared:
        yield shared


@pytest.fixture
def no_cache() -> YearLinksCache:
    return YearLinksCache(None, 60)


@pytest.fixture
def redis_cache() -> Iterator[YearLinksCache]:
    """A cache on a dedicated Redis db under a unique key prefix; its keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not available: {exc}")
    prefix = f"test:{uuid.uuid4().hex[:8]}:year_links"
    yield YearLinksCache(client, 60, prefix=prefix)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def remote_chromedriver() -> Iterator[str]:
    """A chromedriver server on a free port: it speaks the same protocol as a Selenium Grid."""
    port = free_port()
    process = subprocess.Popen(["/usr/bin/chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)
