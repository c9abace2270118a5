"""Schedules and sensors: what they ask Dagster to run, evaluated against real instances and the replica."""


import json
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from ornament_pipeline.config import load_settings
from ornament_pipeline.pipeline import sensors as sensors_module
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    VENDOR_RUN_TAG,
    add_years,
    calendar_years,
    known_years,
    partition_key,
    vendor_year_partitions,
)
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.pipeline.schedules import build_schedules
from ornament_pipeline.pipeline.sensors import RETRY_TAG, new_year_links, retry_failed_partitions, year_partitions
from ornament_pipeline.pipeline.year_discovery import discover_year_links, observed_years, year_index_key
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline.vendors import VENDOR_KEYS
from ornament_pipeline_tests.conftest import pipeline_instance

WHEN = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def keys(requests: list[dg.RunRequest]) -> list[str]:
    return [str(request.partition_key) for request in requests]


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult:
    """One evaluation with no resources at all: a tick that wanted a scraper (a browser) would fail here."""
    with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
        started = time.monotonic()
        result = sensor(context)
        assert time.monotonic() - started < 1
    return result


def skip_message(result: dg.SensorResult) -> str:
    assert not result.run_requests, result.run_requests
    return result.skip_reason.skip_message


def use_config(path: Path, monkeypatch: pytest.MonkeyPatch, retry_after_minutes: int) -> None:
    """Settings whose sites are unreachable: these tests contact none."""
    path.write_text(json.dumps({"vendors": {v: {"base_url": "http://127.0.0.1:9"} for v in VENDOR_KEYS},
                                "schedules": {"retry_failed_after_minutes": retry_after_minutes}}))
    monkeypatch.setenv("CONFIG_PATH", str(path))


@pytest.fixture
def quick_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_config(tmp_path / "quick.json", monkeypatch, 0)


@dg.asset(partitions_def=vendor_year_partitions, config_schema={"fail": bool})
def stand_in(context: dg.AssetExecutionContext) -> None:
    """A vendor-year asset whose runs carry the same partition tags as the real sync's, failing on demand."""
    if context.op_execution_context.op_config["fail"]:
        raise RuntimeError("site down")


def run_partition(instance: dg.DagsterInstance, vendor: str, year: int, fail: bool,
                  tags: dict[str, str] | None = None) -> str:
    result = dg.materialize([stand_in], instance=instance, partition_key=partition_key(vendor, year), tags=tags,
                            run_config={"ops": {"stand_in": {"config": {"fail": fail}}}}, raise_on_error=False)
    assert result.success is not fail
    return result.run_id


def test_daily_schedule_syncs_current_and_previous_year_of_enabled_vendors(
    pipeline_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = json.loads(pipeline_config.read_text())
    raw["vendors"]["ornament_shop_com"]["enabled"] = False
    pipeline_config.write_text(json.dumps(raw))
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))
    daily, weekly = build_schedules(load_settings(pipeline_config))
    with dg.instance_for_test() as instance:  # a schedule reads the instance through its reference
        add_years(instance)
        requests = daily(dg.build_schedule_context(instance=instance, scheduled_execution_time=WHEN))
        # One run per enabled vendor over its current and previous year.
        assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG], r.tags[VENDOR_RUN_TAG]) for r in requests] == [
            (f"{v}|2025", f"{v}|2026", v) for v in ("hookedonhallmark_com", "hallmark_ornaments_com")]
        assert [r.run_key for r in requests] == ["2026-11-28:hookedonhallmark_com", "2026-11-28:hallmark_ornaments_com"]
        assert daily.cron_schedule == "0 6 * * *" and daily.default_status == dg.DefaultScheduleStatus.STOPPED
        ranges = [vendor_year_partitions.get_partition_keys_in_range(
            dg.PartitionKeyRange(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]), dynamic_partitions_store=instance)
            for r in requests]
        assert [[str(k) for k in keys] for keys in ranges] == [
            [f"{v}|2025", f"{v}|2026"] for v in ("hookedonhallmark_com", "hallmark_ornaments_com")]

        weekly_requests = weekly(dg.build_schedule_context(instance=instance, scheduled_execution_time=WHEN))
        assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in weekly_requests] == [
            (f"{v}|1973", f"{v}|{calendar_years()[-1]}") for v in ("hookedonhallmark_com", "hallmark_ornaments_com")]


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
    instance = pipeline_instance()
    failed = dg.materialize(SYNC_ASSETS,
                            partition_key=partition_key("ornament_shop_com", 2020), instance=instance,
                            resources={"settings": settings, "warehouse": WarehouseResource(settings=settings),
                                       "scraper": ScraperResource(settings=settings)}, raise_on_error=False)
    assert not failed.success  # the site is down: the run fails rather than storing an empty success
    requests = tick(retry_failed_partitions, instance).run_requests
    assert [(str(r.partition_key), r.tags[RETRY_TAG]) for r in requests] == [
        ("ornament_shop_com|2020", failed.run_id)]
    assert requests[0].run_key == f"retry:{failed.run_id}"

    # A failed retry is not retried again, and the failure it retried is not retried twice.
    retry = dg.materialize(SYNC_ASSETS,
                           partition_key=partition_key("ornament_shop_com", 2020), instance=instance,
                           tags={RETRY_TAG: failed.run_id},
                           resources={"settings": settings, "warehouse": WarehouseResource(settings=settings),
                                      "scraper": ScraperResource(settings=settings)}, raise_on_error=False)
    assert not retry.success
    assert skip_message(tick(retry_failed_partitions, instance)) == (
        "no retry requested: 2 failed run(s) in 3 days; 1 a retry itself, 1 already retried")


def test_retry_sensor_skips_a_partition_that_succeeded_since(quick_retry: None) -> None:
    """Old behaviour: a failure was retried even when the partition had been synced successfully since."""
    instance = pipeline_instance()
    healed = run_partition(instance, "ornament_shop_com", 2020, fail=True)
    run_partition(instance, "ornament_shop_com", 2020, fail=False)   # e.g. the next daily schedule
    still_down = run_partition(instance, "hallmark_ornaments_com", 2021, fail=True)
    result = tick(retry_failed_partitions, instance)
    assert [(str(r.partition_key), r.tags[RETRY_TAG]) for r in result.run_requests] == [
        ("hallmark_ornaments_com|2021", still_down)]
    assert healed not in {r.tags[RETRY_TAG] for r in result.run_requests}

    # With the other partition also healed, nothing is requested and the tick says why.
    run_partition(instance, "hallmark_ornaments_com", 2021, fail=False)
    assert skip_message(tick(retry_failed_partitions, instance)) == (
        "no retry requested: 2 failed run(s) in 3 days; 2 succeeded since")


def test_retry_sensor_retries_only_the_latest_of_failures_in_a_row(quick_retry: None) -> None:
    instance = pipeline_instance()
    run_partition(instance, "hookedonhallmark_com", 2019, fail=True)
    latest = run_partition(instance, "hookedonhallmark_com", 2019, fail=True)
    result = tick(retry_failed_partitions, instance)
    assert [r.run_key for r in result.run_requests] == [f"retry:{latest}"]


def test_retry_sensor_waits_for_the_delay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_config(tmp_path / "slow.json", monkeypatch, 60)
    instance = pipeline_instance()
    run_partition(instance, "ornament_shop_com", 2020, fail=True)
    assert skip_message(tick(retry_failed_partitions, instance)).endswith("; 1 not due yet")


def observe(instance: dg.DagsterInstance, vendor: str, years: list[int]) -> None:
    """What a discover_year_links run records for one vendor."""
    instance.report_runless_asset_event(dg.AssetObservation(
        year_index_key(vendor), metadata={"years": dg.MetadataValue.json(years)}))


def test_new_year_sensor_decides_from_readings_and_never_reads_a_site(quick_retry: None) -> None:
    """Old behaviour: the tick itself opened a browser per vendor (it required the `scraper` resource)."""
    instance = pipeline_instance()
    first = tick(new_year_links, instance)
    [reading] = first.run_requests   # nothing read yet: a reading of the year indexes is requested
    assert reading.job_name == "discover_year_links"
    instance.create_run_for_job(discover_year_links, status=dg.DagsterRunStatus.NOT_STARTED)
    queued = tick(new_year_links, instance, first.cursor)
    assert "year index not read yet" in skip_message(queued) and "is NOT_STARTED" in skip_message(queued)

    base = [2018, 2019, 2020]
    for vendor in VENDOR_KEYS:
        observe(instance, vendor, base)
    baseline = tick(new_year_links, instance, queued.cursor)
    assert "hookedonhallmark_com: first reading (3 years) kept as the baseline" in skip_message(baseline)
    assert skip_message(tick(new_year_links, instance, baseline.cursor)).count("no new reading") == 3

    next_year = datetime.now(UTC).year + 1  # no partition yet: the same result adds it before its run
    observe(instance, "hookedonhallmark_com", [*base, 2021, next_year, 1950])  # 1950: a misread, said and skipped
    observe(instance, "ornament_shop_com", [2019, 2020])   # a year that vanished is the sync's concern, not this
    later = tick(new_year_links, instance, baseline.cursor)
    assert [(r.job_name, str(r.partition_key), r.run_key) for r in later.run_requests] == [
        ("sync_vendor_year", f"hookedonhallmark_com|{year}", f"new-year:hookedonhallmark_com|{year}")
        for year in (2021, next_year)]
    assert [(r.partitions_def_name, r.partition_keys) for r in later.dynamic_partitions_requests] == [
        ("years", [str(next_year)])]
    assert json.loads(later.cursor)["hookedonhallmark_com"]["years"] == [*base, 2021, next_year, 1950]


def test_year_partitions_grow_with_the_calendar_and_the_indexes_and_never_shrink(
    quick_retry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = dg.DagsterInstance.ephemeral()  # a new deployment: no year partitions at all
    first = tick(year_partitions, instance)
    [added] = first.dynamic_partitions_requests
    assert added.partition_keys == calendar_years() and added.partition_keys[0] == "1973"
    assert first.skip_reason is not None
    assert first.skip_reason.skip_message.startswith("added year partitions 1973, 1974")
    instance.add_dynamic_partitions(added.partitions_def_name, list(added.partition_keys))
    assert skip_message(tick(year_partitions, instance)) == f"all {len(calendar_years())} years have partitions"

    # A vendor's index shows next year's ornaments (and a misread 1950): next year becomes a partition.
    next_year = datetime.now(UTC).year + 1
    observe(instance, "ornament_shop_com", [2020, next_year, 1950])
    [grown] = tick(year_partitions, instance).dynamic_partitions_requests
    assert grown.partition_keys == [str(next_year)]
    instance.add_dynamic_partitions("years", [str(next_year)])
    # The next reading no longer shows it: nothing is removed.
    observe(instance, "ornament_shop_com", [2020])
    assert tick(year_partitions, instance).dynamic_partitions_requests == []
    assert str(next_year) in known_years(instance)

    # A code server running over New Year: the same definitions, the calendar moved on.
    monkeypatch.setattr(sensors_module, "calendar_years", lambda: [*calendar_years(), str(next_year + 1)])
    [new_year] = tick(year_partitions, instance).dynamic_partitions_requests
    assert new_year.partition_keys == [str(next_year + 1)]


def test_new_year_sensor_reads_an_old_cursor(quick_retry: None) -> None:
    instance = pipeline_instance()
    instance.create_run_for_job(discover_year_links, status=dg.DagsterRunStatus.STARTED)
    observe(instance, "ornament_shop_com", [2019, 2020])
    old = json.dumps({"ornament_shop_com": [2019]})   # the cursor the browser-in-tick sensor left
    assert keys(tick(new_year_links, instance, old).run_requests) == ["ornament_shop_com|2020"]


@pytest.mark.browser
def test_year_discovery_records_each_index_and_fails_loudly_on_one_cut_short(
        replica: ReplicaHandle, pipeline_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))
    settings = SettingsResource(config_path=str(pipeline_config))
    resources = {"settings": settings, "scraper": ScraperResource(settings=settings)}
    instance = pipeline_instance()
    replica.set_faults("ornament_shop_com:truncate=1,truncate_at=0.6")
    cut = discover_year_links.execute_in_process(instance=instance, resources=resources, raise_on_error=False)
    assert not cut.success
    [failure] = [e for e in cut.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "ornament_shop_com: http://" in message and ("incomplete" in message or "no year links" in message)
    # A short index is never recorded as "these are the years"; the others are.
    assert instance.fetch_observations(year_index_key("ornament_shop_com"), limit=1).records == []
    for vendor in ("hookedonhallmark_com", "hallmark_ornaments_com"):
        [record] = instance.fetch_observations(year_index_key(vendor), limit=1).records
        assert 2020 in observed_years(record) and record.run_id == cut.run_id
    result = tick(new_year_links, instance)
    assert "ornament_shop_com: year index not read yet" in skip_message(result)
    assert f"last reading {cut.run_id} FAILURE" in skip_message(result)

    replica.set_faults(None)
    whole = discover_year_links.execute_in_process(instance=instance, resources=resources)
    assert set(whole.output_for_node("read_year_indexes")) == set(VENDOR_KEYS)
    [record] = instance.fetch_observations(year_index_key("ornament_shop_com"), limit=1).records
    assert 2020 in observed_years(record)


def test_offers_refresh_once_after_updates_and_remembers_them() -> None:
    """An update of any vendor-year requests one refresh of cross_vendor_offers; without another, none follows.
    (The condition waits while products is in progress, so a backfill's burst gives one refresh at its end.)"""
    from ornament_pipeline.definitions import defs

    assets = defs
    instance = pipeline_instance()
    first = dg.evaluate_automation_conditions(defs=assets, instance=instance)
    assert first.total_requested == 0
    for year in ("2019", "2020"):
        instance.report_runless_asset_event(dg.AssetMaterialization(
            "products", partition=dg.MultiPartitionKey({"vendor": "ornament_shop_com", "year": year})))
    second = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=first.cursor)
    assert second.get_requested_partitions(dg.AssetKey("cross_vendor_offers")) == {None}
    third = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0
