"""Schedules and sensors: what they ask Dagster to run, evaluated against real instances and the replica."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from ornament_pipeline.config import load_settings
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import YEARS, partition_key
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.pipeline.schedules import build_schedules
from ornament_pipeline.pipeline.sensors import RETRY_TAG, new_year_links, retry_failed_partitions
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.vendors import VENDOR_KEYS

WHEN = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def keys(requests: list[dg.RunRequest]) -> list[str]:
    return [str(request.partition_key) for request in requests]


def test_daily_schedule_syncs_current_and_previous_year_of_enabled_vendors(
    pipeline_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.loads(pipeline_config.read_text())
    raw["vendors"]["ornament_shop_com"]["enabled"] = False
    pipeline_config.write_text(json.dumps(raw))
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))
    daily, weekly = build_schedules(load_settings(pipeline_config))
    requests = daily(dg.build_schedule_context(scheduled_execution_time=WHEN))
    assert sorted(keys(requests)) == sorted(f"{v}|{y}" for v in ("hookedonhallmark_com", "hallmark_ornaments_com")
                                            for y in (2025, 2026))
    assert all(r.run_key.startswith("2026-11-28:") for r in requests)  # one launch per partition per day
    assert daily.cron_schedule == "0 6 * * *" and daily.default_status == dg.DefaultScheduleStatus.STOPPED

    weekly_requests = weekly(dg.build_schedule_context(scheduled_execution_time=WHEN))
    assert len(weekly_requests) == 2 * len(YEARS)
    # Vendors interleave, so each vendor's one-at-a-time queue starts at once.
    assert [str(r.partition_key).split("|")[0] for r in weekly_requests[:2]] == [
        "hookedonhallmark_com", "hallmark_ornaments_com"]


def test_retry_sensor_retries_a_failed_partition_once(tmp_path: Path, migrated_db_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "down.json"
    config.write_text(json.dumps({
        "vendors": {v: {"base_url": "http://127.0.0.1:9", "politeness": {"max_retries": 0, "min_delay_seconds": 0}}
                    for v in VENDOR_KEYS},
        "database": {"url": migrated_db_url},
        "schedules": {"retry_failed_after_minutes": 0},
    }))
    monkeypatch.setenv("CONFIG_PATH", str(config))
    settings = SettingsResource(config_path=str(config))
    instance = dg.DagsterInstance.ephemeral()
    failed = dg.materialize(SYNC_ASSETS,
                            partition_key=partition_key("ornament_shop_com", 2020), instance=instance,
                            resources={"settings": settings, "warehouse": WarehouseResource(settings=settings),
                                       "scraper": ScraperResource(settings=settings)}, raise_on_error=False)
    assert not failed.success  # the site is down: the run fails rather than storing an empty success
    requests = retry_failed_partitions(dg.build_sensor_context(instance=instance))
    assert [(str(r.partition_key), r.tags[RETRY_TAG]) for r in requests] == [
        ("ornament_shop_com|2020", failed.run_id)]
    assert requests[0].run_key == f"retry:{failed.run_id}"

    # A failed retry is not retried again.
    retry = dg.materialize(SYNC_ASSETS,
                           partition_key=partition_key("ornament_shop_com", 2020), instance=instance,
                           tags={RETRY_TAG: failed.run_id},
                           resources={"settings": settings, "warehouse": WarehouseResource(settings=settings),
                                      "scraper": ScraperResource(settings=settings)}, raise_on_error=False)
    assert not retry.success
    assert keys(retry_failed_partitions(dg.build_sensor_context(instance=instance))) == ["ornament_shop_com|2020"]


@pytest.mark.browser
def test_new_year_link_sensor_syncs_the_new_partition(replica: ReplicaHandle, pipeline_config: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))
    settings = SettingsResource(config_path=str(pipeline_config))
    scraper = ScraperResource(settings=settings)
    instance = dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(instance=instance, resources={"scraper": scraper}) as context:
        first = new_year_links(context)  # the context closes the browsers on exit
    assert first.run_requests == []  # the first look only records what is there
    seen = json.loads(first.cursor)
    assert set(seen) == set(VENDOR_KEYS) and 2020 in seen["hookedonhallmark_com"]

    # As if 2020 had not been there at the last look: its page is now new.
    seen["hookedonhallmark_com"].remove(2020)
    with dg.build_sensor_context(instance=instance, cursor=json.dumps(seen), resources={"scraper": scraper}) as context:
        later = new_year_links(context)
    assert keys(later.run_requests) == ["hookedonhallmark_com|2020"]
    assert 2020 in json.loads(later.cursor)["hookedonhallmark_com"]
