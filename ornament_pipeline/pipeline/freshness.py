"""Is each vendor-year as fresh as its schedule promises? Check `synced_on_schedule` on `vendor_listings`.

The current and previous year are promised daily (`schedules.daily_cron`), every other year weekly
(`schedules.weekly_cron`). A vendor-year is late when its last sync (a materialization of `vendor_listings`, which
a run records for the vendor-year even when the vendor has no page for it) is older than the latest scheduled time
that covers it, once `schedules.freshness_grace_minutes` have passed since that time for its run to finish; before
then, the scheduled time before it counts. The promise holds whether or not the schedules are switched on: a stopped
schedule makes its vendor-years late, which is what the check is for.

The sync reports the check passed for each vendor-year it syncs (and, with only the check selected, evaluates it
from the records); the sensor `partitions_on_schedule` keeps it current for every enabled vendor-year from
Dagster's own records (no browser, no warehouse): it reports a vendor-year when its result changes or it was
synced since the last report.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._utils.schedules import reverse_cron_string_iterator  # the cron arithmetic Dagster's schedules use

from ornament_pipeline.config import SchedulesConfig, get_settings
from ornament_pipeline.pipeline.partitions import known_years, partition_evaluation, partition_key, split_key

CHECK_NAME = "synced_on_schedule"
ASSET = dg.AssetKey("vendor_listings")


@dataclass(frozen=True)
class Promise:
    schedule: str  # which schedule covers the vendor-year
    due_since: datetime  # it must have been synced at or after this time


def promise(year: int, now: datetime, schedules: SchedulesConfig) -> Promise:
    """The schedule that covers `year` and the time of its latest tick whose runs have had their grace period."""
    daily = year >= now.year - 1
    name, cron = ("daily_recent_years", schedules.daily_cron) if daily else ("weekly_all_partitions",
                                                                             schedules.weekly_cron)
    grace = timedelta(minutes=schedules.freshness_grace_minutes)
    for tick in reverse_cron_string_iterator(now.timestamp(), cron, schedules.timezone):
        if tick.astimezone(UTC) + grace <= now:
            return Promise(name, tick.astimezone(UTC))
    raise AssertionError("a cron schedule always has an earlier tick")


def evaluation(key: str, last_sync: datetime | None, now: datetime, schedules: SchedulesConfig
               ) -> dg.AssetCheckResult:
    _, year = split_key(key)
    due = promise(year, now, schedules)
    passed = last_sync is not None and last_sync >= due.due_since
    if last_sync is None:
        detail = f"never synced; {due.schedule} was due by {due.due_since:%Y-%m-%d %H:%M} UTC"
    else:
        detail = (f"last synced {last_sync:%Y-%m-%d %H:%M} UTC, {'at or after' if passed else 'before'} "
                  f"{due.schedule}'s {due.due_since:%Y-%m-%d %H:%M} UTC")
    return dg.AssetCheckResult(
        asset_key=ASSET, check_name=CHECK_NAME, passed=passed, severity=dg.AssetCheckSeverity.WARN,
        description=detail,
        metadata={"last_synced": dg.MetadataValue.timestamp(last_sync) if last_sync else "never",
                  "due_since": dg.MetadataValue.timestamp(due.due_since), "schedule": due.schedule,
                  "detail": detail})


def last_syncs(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, datetime]:
    """The time of each vendor-year's latest `vendor_listings` materialization (absent: never)."""
    found: dict[str, datetime] = {}
    for key in keys:  # one indexed lookup each (the latest of a partition), whatever its history's length
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ASSET, asset_partitions=[key]), limit=1).records
        if records:
            found[key] = datetime.fromtimestamp(records[0].timestamp, UTC)
    return found


@dg.sensor(minimum_interval_seconds=600, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps check synced_on_schedule current for every enabled vendor-year: reports one when its "
                       "result changes or it was synced since the last report. Reads only Dagster's records.")
def partitions_on_schedule(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = get_settings()
    now = datetime.now(UTC)
    keys = [str(partition_key(vendor, year)) for vendor in settings.enabled_vendors
            for year in known_years(context.instance)]
    reported: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    synced = last_syncs(context.instance, keys)
    events, late = [], []
    for key in keys:
        result = evaluation(key, synced.get(key), now, settings.schedules)
        stamp = synced[key].timestamp() if key in synced else None
        if not result.passed:
            late.append(key)
        if reported.get(key) != [result.passed, stamp]:
            events.append(partition_evaluation(result, key))
            reported[key] = [result.passed, stamp]
    if not keys:
        return dg.SensorResult(skip_reason="no year partitions yet (the year_partitions sensor adds them)",
                               cursor=context.cursor)
    note = (f"{len(late)} of {len(keys)} vendor-years late ({', '.join(late[:5])}{' …' if len(late) > 5 else ''});"
            f" {len(events)} result(s) reported") if late else f"all {len(keys)} vendor-years on schedule; " \
        f"{len(events)} result(s) reported"
    context.log.info(note)
    return dg.SensorResult(asset_events=events, cursor=json.dumps(reported, sort_keys=True), skip_reason=note)
