"""Fixtures for pipeline tests: the small replica, a config pointing at it, and resources for `materialize`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.replica.testing import ReplicaHandle, running_replica
from ornament_pipeline.vendors import VENDOR_KEYS

FAST = {"min_delay_seconds": 0.0, "max_concurrency": 2, "max_retries": 4, "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.5, "page_timeout_seconds": 20}


def write_config(path: Path, replica: ReplicaHandle, database_url: str, redis_url: str | None = None,
                 tracked: tuple[str, ...] = ("price", "availability")) -> Path:
    path.write_text(json.dumps({
        "vendors": {v: {"base_url": replica.base_urls[v], "politeness": FAST} for v in VENDOR_KEYS},
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "selenium": {"pool_size": 2},
        "history": {"tracked_fields": list(tracked)},
        "schedules": {"retry_failed_after_minutes": 0},
    }))
    return path


@pytest.fixture
def replica() -> Iterator[ReplicaHandle]:
    with running_replica(size="small", day=0) as handle:
        yield handle


@pytest.fixture
def pipeline_config(tmp_path: Path, replica: ReplicaHandle, migrated_db_url: str) -> Path:
    return write_config(tmp_path / "pipeline.json", replica, migrated_db_url)


@pytest.fixture
def resources(pipeline_config: Path) -> dict[str, dg.ConfigurableResource]:
    settings = SettingsResource(config_path=str(pipeline_config))
    return {"settings": settings, "warehouse": WarehouseResource(settings=settings),
            "scraper": ScraperResource(settings=settings)}
