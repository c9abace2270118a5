"""A ranged run (what a backfill launches under the sync's BackfillPolicy): every vendor-year of the range stored
and recorded on its own, one that fails named, and retried on its own by the retry sensor."""

from __future__ import annotations

import dagster as dg
import pytest

from ornament_pipeline.integrations import robots
from ornament_pipeline.pipeline.assets import SYNC_ASSETS
from ornament_pipeline.pipeline.partitions import RANGE_END_TAG, RANGE_START_TAG, partition_key
from ornament_pipeline.pipeline.sensors import RETRY_TAG, retry_failed_partitions
from ornament_pipeline.replica.testing import ReplicaHandle
from ornament_pipeline_tests.conftest import pipeline_instance
from ornament_pipeline_tests.pipeline.test_automation import skip_message, tick
from ornament_pipeline_tests.pipeline.test_partitions import stored, truth

pytestmark = pytest.mark.browser
VENDOR = "hallmark_ornaments_com"
YEARS = [2018, 2019, 2020, 2021]
CHECKS = {"scrape_complete", "listings_fit_schema", "no_sudden_drop", "product_pages_read",
          "current_version_matches_products", "one_event_per_version", "synced_on_schedule"}


def logged(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    """What the run wrote to the instance's event log (what the catalog and the backfill read)."""
    records = instance.get_records_for_run(run_id, of_type=kind, limit=1000).records
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]  # type: ignore[union-attr]


def ranged(resources: dict, instance: dg.DagsterInstance, first: int, last: int) -> dg.ExecuteInJobResult:
    return dg.materialize(SYNC_ASSETS, resources=resources, instance=instance, raise_on_error=False, tags={
        RANGE_START_TAG: str(partition_key(VENDOR, first)), RANGE_END_TAG: str(partition_key(VENDOR, last))})


def test_a_ranged_run_records_each_year_and_names_the_one_that_failed(
    replica: ReplicaHandle, resources: dict, migrated_db_url: str, pipeline_config: object,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))  # the retry sensor reads the settings
    failing = str(partition_key(VENDOR, 2020))
    replica.set_faults(f"{VENDOR}:robots=/2020_c_")  # the 2020 listing page is off limits: every page fails
    robots._cache.clear()
    instance = pipeline_instance()
    result = ranged(resources, instance, YEARS[0], YEARS[-1])

    assert not result.success
    message = logged(instance, result.run_id, dg.DagsterEventType.STEP_FAILURE)[0].error.message
    assert f"1 of {len(YEARS)} vendor-years failed: {failing}:" in message and "every page failed" in message
    for year in (2018, 2019, 2021):
        assert stored(migrated_db_url, VENDOR, year) == truth(replica, VENDOR, year), year
    # One reading of the year index serves the whole range (no Redis in this config): it was one per year, plus one.
    readings = [e for e in instance.all_logs(result.run_id) if f"{VENDOR}: year index: started" in e.user_message]
    assert len(readings) == 1
    assert stored(migrated_db_url, VENDOR, 2020) == {}

    # Each stored vendor-year is materialized and checked on its own partition; the failed one is neither.
    done = {str(partition_key(VENDOR, year)) for year in (2018, 2019, 2021)}
    for asset in ("vendor_listings", "products", "price_history"):
        written = logged(instance, result.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION)
        partitions = [m.materialization.partition for m in written if m.materialization.asset_key == dg.AssetKey(asset)]
        assert sorted(partitions) == sorted(done), asset
    evaluations = logged(instance, result.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    assert sorted((e.partition, e.check_name) for e in evaluations) == sorted((p, c) for p in done for c in CHECKS)
    assert all(e.passed for e in evaluations)
    latest = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("products"), asset_partitions=[failing]), limit=1).records
    assert latest == []

    # The retry sensor retries the failed vendor-year alone, once, as a single-partition run.
    requests = tick(retry_failed_partitions, instance).run_requests
    assert [(str(r.partition_key), r.tags[RETRY_TAG], r.run_key) for r in requests] == [
        (failing, result.run_id, f"retry:{result.run_id}:{failing}")]
    replica.set_faults(None)
    robots._cache.clear()
    retry = dg.materialize(SYNC_ASSETS, partition_key=failing, instance=instance, resources=resources,
                           tags={RETRY_TAG: result.run_id}, raise_on_error=False)
    assert retry.success
    assert stored(migrated_db_url, VENDOR, 2020) == truth(replica, VENDOR, 2020)
    assert skip_message(tick(retry_failed_partitions, instance)) == (
        "no retry requested: 1 failed run(s) in 3 days; 1 already retried")


def test_a_range_synced_later_is_not_retried(replica: ReplicaHandle, resources: dict, pipeline_config: object,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A vendor-year that failed in one ranged run and was synced by a later ranged run (no partition tags)."""
    monkeypatch.setenv("CONFIG_PATH", str(pipeline_config))
    replica.set_faults(f"{VENDOR}:robots=/2019_c_")
    robots._cache.clear()
    instance = pipeline_instance()
    assert not ranged(resources, instance, 2018, 2019).success
    replica.set_faults(None)
    robots._cache.clear()
    assert ranged(resources, instance, 2018, 2019).success
    assert skip_message(tick(retry_failed_partitions, instance)) == (
        "no retry requested: 1 failed run(s) in 3 days; 1 succeeded since")
