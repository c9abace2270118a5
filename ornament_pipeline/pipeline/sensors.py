"""Sensors decide, runs work: new year pages at a vendor, and one delayed retry of a failed vendor-year run.

A tick only reads Dagster's own records (run records, observations) and returns run requests, so it ends in
well under Dagster's 60 s tick limit and never starts a browser. Each tick says what it decided and why.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from ornament_pipeline.config import get_settings
from ornament_pipeline.pipeline.jobs import sync_vendor_year
from ornament_pipeline.pipeline.partitions import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    YEAR_PARTITIONS,
    calendar_years,
    missing_years,
    partition_key,
    plausible_year,
    split_key,
    vendor_year_partitions,
)
from ornament_pipeline.pipeline.year_discovery import JOB_NAME as DISCOVERY_JOB
from ornament_pipeline.pipeline.year_discovery import discover_year_links, observed_years, year_index_key
from ornament_pipeline.vendors import FIRST_YEAR, VENDOR_KEYS

RETRY_TAG = "ornaments/retry_of"
VENDOR_TAG, YEAR_TAG = "dagster/partition/vendor", "dagster/partition/year"
# How often the year indexes are read (one browser run); the sensor itself looks every few minutes.
DISCOVERY_EVERY_SECONDS = 6 * 3600
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
             dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]

# Evaluates cross_vendor_offers' automation condition (on by default, unlike Dagster's default sensor).
offers_refresh = dg.AutomationConditionSensorDefinition(
    "offers_refresh", target=dg.AssetSelection.assets("cross_vendor_offers", "market_prices"),
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds cross_vendor_offers and market_prices after any vendor-year's price history changed.")


def in_flight_run(instance: dg.DagsterInstance, job_name: str) -> dg.RunRecord | None:
    """A queued or running run of `job_name`, if any (so a sensor requests at most one at a time)."""
    records = instance.get_run_records(dg.RunsFilter(job_name=job_name, statuses=IN_FLIGHT), limit=1)
    return records[0] if records else None


def _seen(cursor: str | None) -> dict[str, dict[str, Any]]:
    """{vendor: {"years": [...], "storage_id": n}}; an old cursor ({vendor: [years]}) keeps its years."""
    raw = json.loads(cursor) if cursor else {}
    return {vendor: value if isinstance(value, dict) else {"years": value, "storage_id": None}
            for vendor, value in raw.items()}


def _discovery(context: dg.SensorEvaluationContext) -> tuple[dg.RunRequest | None, str]:
    """Whether to request a reading of the year indexes now, and why (not)."""
    running = in_flight_run(context.instance, DISCOVERY_JOB)
    if running is not None:
        return None, f"year index reading {running.dagster_run.run_id} is {running.dagster_run.status.value}"
    last = context.instance.get_run_records(dg.RunsFilter(job_name=DISCOVERY_JOB), limit=1)
    now = time.time()
    if last:
        age = now - last[0].create_timestamp.timestamp()
        outcome = f"last reading {last[0].dagster_run.run_id} {last[0].dagster_run.status.value}"
        if age < DISCOVERY_EVERY_SECONDS:
            return None, f"{outcome}; next in {(DISCOVERY_EVERY_SECONDS - age) / 60:.0f} min"
    else:
        outcome = "no reading yet"
    return dg.RunRequest(job_name=DISCOVERY_JOB, run_key=f"year-index:{int(now)}"), f"{outcome}; reading requested"


@dg.sensor(jobs=[sync_vendor_year, discover_year_links], minimum_interval_seconds=300,
           description="Requests a reading of every year index (job discover_year_links) every 6 h, and syncs a "
                       "year page that the latest reading shows and the one before did not.")
def new_year_links(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    seen = _seen(context.cursor)
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    new_partitions: set[int] = set()
    for vendor in get_settings().enabled_vendors:
        found = context.instance.fetch_observations(year_index_key(vendor), limit=1).records
        if not found:
            notes.append(f"{vendor}: year index not read yet")
            continue
        record = found[0]
        if vendor in seen and seen[vendor]["storage_id"] == record.storage_id:
            notes.append(f"{vendor}: no new reading")
            continue
        years = observed_years(record)
        if vendor not in seen:  # the first reading only records what is there
            notes.append(f"{vendor}: first reading ({len(years)} years) kept as the baseline")
        else:
            new = sorted(set(years) - set(seen[vendor]["years"]))
            for year in new:
                if plausible_year(year):
                    requests.append(dg.RunRequest(job_name=sync_vendor_year.name,
                                                  run_key=f"new-year:{vendor}|{year}",
                                                  partition_key=partition_key(vendor, year)))
                    new_partitions.add(year)
                else:  # said, not dropped quietly
                    context.log.warning("%s: year %s appeared but is outside %s..next year: not synced", vendor,
                                        year, FIRST_YEAR)
            notes.append(f"{vendor}: reading {record.run_id}: new year(s) {new or 'none'}")
        seen[vendor] = {"years": years, "storage_id": record.storage_id}
    discovery, why = _discovery(context)
    notes.append(why)
    if discovery is not None:
        requests.append(discovery)
    for note in notes:
        context.log.info(note)
    # A new year's partition is added in the same result, before its run is created.
    added = missing_years(context.instance, new_partitions)
    return dg.SensorResult(run_requests=requests or None, skip_reason=None if requests else "; ".join(notes),
                           dynamic_partitions_requests=[
                               dg.AddDynamicPartitionsRequest(YEAR_PARTITIONS, added)] if added else None,
                           cursor=json.dumps(seen, sort_keys=True))


@dg.sensor(minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps the year partitions complete: every calendar year from 1973 to now and every year the "
                       "latest reading of a vendor's year index shows. Never removes one.")
def year_partitions(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    wanted = {int(year) for year in calendar_years()}
    for vendor in VENDOR_KEYS:
        found = context.instance.fetch_observations(year_index_key(vendor), limit=1).records
        shown = observed_years(found[0]) if found else []
        odd = sorted(year for year in shown if not plausible_year(year))
        if odd:
            context.log.warning("%s: the year index shows %s, outside %s..next year: no partition made", vendor,
                                odd, FIRST_YEAR)
        wanted |= {year for year in shown if plausible_year(year)}
    added = missing_years(context.instance, wanted)
    if not added:
        return dg.SensorResult(skip_reason=f"all {len(wanted)} years have partitions")
    note = f"added year partitions {', '.join(added)}"
    context.log.info(note)
    return dg.SensorResult(dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(YEAR_PARTITIONS, added)],
                           skip_reason=note)


def _failed_partitions(instance: dg.DagsterInstance, record: dg.RunRecord) -> list[str]:
    """The vendor-years a failed run did not sync: its partition, or the keys of its range (a backfill's ranged
    run) that have no `products` materialization in the run. Empty for other jobs' runs."""
    tags = record.dagster_run.tags
    if VENDOR_TAG in tags and YEAR_TAG in tags:
        return [str(partition_key(tags[VENDOR_TAG], tags[YEAR_TAG]))]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not start or not end:
        return []
    try:
        keys = vendor_year_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end),
                                                                  dynamic_partitions_store=instance)
    except Exception:  # noqa: BLE001 - not a range of this code location's partitions
        return []
    synced = {event.partition for event in _materializations(instance, record.dagster_run.run_id, "products")}
    return [str(key) for key in keys if str(key) not in synced]


def _materializations(instance: dg.DagsterInstance, run_id: str, asset: str) -> list[dg.AssetMaterialization]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                                           limit=10000).records
    found = [r.event_log_entry.asset_materialization for r in records]
    return [m for m in found if m is not None and m.asset_key == dg.AssetKey(asset)]


def _retry_decision(instance: dg.DagsterInstance, record: dg.RunRecord, key: str,
                    delay: float) -> tuple[str, str] | None:
    """(kind, detail) of why the vendor-year `key` that a run failed to sync is not retried now, or None to
    retry it."""
    tags, run_id = record.dagster_run.tags, record.dagster_run.run_id
    if RETRY_TAG in tags:
        return "a retry itself", "a retry is not retried again"
    if record.end_time is None:
        return "without end time", "the run has no end time"
    if (wait := delay - (time.time() - record.end_time)) > 0:
        return "not due yet", f"retry due in {wait / 60:.1f} min"
    vendor, year = split_key(key)
    partition = {VENDOR_TAG: vendor, YEAR_TAG: str(year)}
    retries = instance.get_run_records(dg.RunsFilter(tags={RETRY_TAG: run_id, **partition}), limit=1)
    if retries:
        retry = retries[0].dagster_run
        return "already retried", f"retried by run {retry.run_id} ({retry.status.value})"
    later = [r for r in instance.get_run_records(dg.RunsFilter(
        tags=partition, statuses=[dg.DagsterRunStatus.SUCCESS],
        updated_after=datetime.fromtimestamp(record.end_time, UTC)), limit=5)
        if r.end_time is not None and r.end_time > record.end_time]
    if later:
        return "succeeded since", f"the partition succeeded since, in run {later[0].dagster_run.run_id}"
    synced = instance.fetch_materializations(dg.AssetRecordsFilter(
        asset_key=dg.AssetKey("products"), asset_partitions=[key], after_timestamp=record.end_time), limit=1).records
    if synced:  # e.g. by a later backfill's ranged run, which carries no partition tags
        return "succeeded since", f"the partition was synced since, in run {synced[0].run_id}"
    later_failures = [r for r in instance.get_run_records(dg.RunsFilter(
        tags=partition, statuses=[dg.DagsterRunStatus.FAILURE], created_after=record.create_timestamp), limit=5)
        if r.dagster_run.run_id != run_id and RETRY_TAG not in r.dagster_run.tags]
    if later_failures:  # the partition's latest failure is the one retried, not each failure in a row
        return "superseded", f"superseded by the later failure {later_failures[0].dagster_run.run_id}"
    return None


@dg.sensor(job=sync_vendor_year, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Retries a failed vendor-year run once, `schedules.retry_failed_after_minutes` later, "
                       "unless the partition has succeeded (or failed again) since.")
def retry_failed_partitions(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    delay = get_settings().schedules.retry_failed_after_minutes * 60
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                              updated_after=datetime.now(UTC) - timedelta(days=3)), limit=500)
    requests: list[dg.RunRequest] = []
    skipped: dict[str, int] = {}
    for record in records:
        run_id = record.dagster_run.run_id
        ranged = VENDOR_TAG not in record.dagster_run.tags
        for key in _failed_partitions(context.instance, record):  # none for other jobs' runs
            where = f"failed run {run_id} of {key}"
            decision = _retry_decision(context.instance, record, key, delay)
            if decision is not None:
                context.log.info("%s: not retried: %s", where, decision[1])
                skipped[decision[0]] = skipped.get(decision[0], 0) + 1
                continue
            context.log.info("%s: retry requested", where)
            # The run key makes the daemon launch each retry once, however often this sensor sees the failure.
            requests.append(dg.RunRequest(run_key=f"retry:{run_id}:{key}" if ranged else f"retry:{run_id}",
                                          tags={RETRY_TAG: run_id}, partition_key=key))
    if requests:
        return dg.SensorResult(run_requests=requests)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items())) or "none of a vendor-year"
    return dg.SensorResult(skip_reason=f"no retry requested: {len(records)} failed run(s) in 3 days; {summary}")
