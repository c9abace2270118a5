"""Check synced_on_schedule: each vendor-year against the schedule that covers it, kept current by a sensor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from ornament_pipeline.config import SchedulesConfig
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.freshness import ASSET, CHECK_NAME, evaluation, partitions_on_schedule, promise
from ornament_pipeline.pipeline.partitions import calendar_years, partition_key
from ornament_pipeline.vendors import VENDOR_KEYS
from ornament_pipeline_tests.conftest import pipeline_instance

SCHEDULES = SchedulesConfig(daily_cron="0 6 * * *", weekly_cron="0 2 * * 0", freshness_grace_minutes=180)
SATURDAY = datetime(2026, 11, 28, tzinfo=UTC)
VENDOR = "ornament_shop_com"


def test_the_promise_follows_the_schedule_that_covers_the_year() -> None:
    # Recent years are daily: before 06:00 + 3 h the day before's tick counts, from then on today's.
    assert promise(2026, SATURDAY.replace(hour=8), SCHEDULES).due_since == datetime(2026, 11, 27, 6, tzinfo=UTC)
    assert promise(2025, SATURDAY.replace(hour=10), SCHEDULES).due_since == datetime(2026, 11, 28, 6, tzinfo=UTC)
    # Older years are weekly (Sunday 02:00).
    older = promise(1999, SATURDAY.replace(hour=10), SCHEDULES)
    assert (older.schedule, older.due_since) == ("weekly_all_partitions", datetime(2026, 11, 22, 2, tzinfo=UTC))


def test_a_vendor_year_is_late_once_it_missed_its_schedule() -> None:
    key = str(partition_key(VENDOR, 2026))
    now = SATURDAY.replace(hour=10)
    synced_yesterday = evaluation(key, datetime(2026, 11, 27, 6, 20, tzinfo=UTC), now, SCHEDULES)
    assert not synced_yesterday.passed
    assert "before daily_recent_years's 2026-11-28 06:00 UTC" in str(synced_yesterday.description)
    assert evaluation(key, datetime(2026, 11, 28, 6, 20, tzinfo=UTC), now, SCHEDULES).passed
    never = evaluation(key, None, now, SCHEDULES)
    assert not never.passed and str(never.description).startswith("never synced")
    old = str(partition_key(VENDOR, 1999))  # weekly: a sync on Monday is still on schedule on Saturday
    assert evaluation(old, datetime(2026, 11, 23, 9, tzinfo=UTC), now, SCHEDULES).passed


@pytest.fixture
def one_vendor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "one.json"
    config.write_text(json.dumps({"vendors": {v: {"base_url": "http://127.0.0.1:9", "enabled": v == VENDOR}
                                              for v in VENDOR_KEYS}}))
    monkeypatch.setenv("CONFIG_PATH", str(config))


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        return partitions_on_schedule(context)


YEARS = calendar_years()


def test_the_sensor_says_when_there_are_no_years_yet(one_vendor: None) -> None:
    result = tick(dg.DagsterInstance.ephemeral(), None)  # a new deployment, before year_partitions' first tick
    assert result.asset_events == [] and result.skip_reason is not None
    assert result.skip_reason.skip_message == "no year partitions yet (the year_partitions sensor adds them)"


def test_the_sensor_reports_each_vendor_year_when_its_result_changes(one_vendor: None) -> None:
    instance = pipeline_instance()
    first = tick(instance, None)
    assert len(first.asset_events) == len(YEARS)
    assert all(isinstance(e, dg.AssetCheckEvaluation) and not e.passed and e.check_name == CHECK_NAME
               for e in first.asset_events)
    assert first.skip_reason is not None
    assert first.skip_reason.skip_message.startswith(f"{len(YEARS)} of {len(YEARS)} vendor-years late")

    synced = str(partition_key(VENDOR, YEARS[-1]))
    instance.report_runless_asset_event(dg.AssetMaterialization("vendor_listings", partition=synced))
    second = tick(instance, first.cursor)
    assert [(e.partition, e.passed) for e in second.asset_events] == [(synced, True)]  # type: ignore[union-attr]
    assert tick(instance, second.cursor).asset_events == []  # nothing changed: nothing reported


def check_alone(instance: dg.DagsterInstance, resources: dict, key: str) -> dg.ExecuteInJobResult:
    """The check alone for one partition, as the UI's "Execute" on a partition of it runs it."""
    return dg.materialize(SYNC_ASSETS, selection=dg.AssetSelection.checks(dg.AssetCheckKey(ASSET, CHECK_NAME)),
                          tags={"dagster/partition": key}, instance=instance, resources=resources)


def test_the_check_runs_by_hand_for_one_partition(one_vendor: None, resources: dict) -> None:
    instance = pipeline_instance()
    key = partition_key(VENDOR, YEARS[-1])
    run = check_alone(instance, resources, str(key))
    [result] = run.get_asset_check_evaluations()
    assert (result.partition, result.passed) == (str(key), False)
    instance.report_runless_asset_event(dg.AssetMaterialization("vendor_listings", partition=str(key)))
    run = check_alone(instance, resources, str(key))
    assert run.get_asset_check_evaluations()[0].passed
