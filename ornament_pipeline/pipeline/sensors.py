"""Sensors: new year pages at a vendor, and one delayed retry of a failed vendor-year run."""


import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from ornament_pipeline.config import get_settings
from ornament_pipeline.pipeline.jobs import sync_vendor_year
from ornament_pipeline.pipeline.partitions import YEARS, partition_key
from ornament_pipeline.pipeline.resources import ScraperResource

RETRY_TAG = "ornaments/retry_of"

# Evaluates cross_vendor_offers' automation condition (on by default, unlike Dagster's default sensor).
offers_refresh = dg.AutomationConditionSensorDefinition(
    "offers_refresh", target=dg.AssetSelection.assets("cross_vendor_offers"), minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Rebuilds cross_vendor_offers after any vendor-year's price history changed.")
VENDOR_TAG, YEAR_TAG = "dagster/partition/vendor", "dagster/partition/year"


@dg.sensor(job=sync_vendor_year, minimum_interval_seconds=6 * 3600,
           description="Reads each vendor's year index (bypassing the cache) and syncs a year page that appeared.")
def new_year_links(context: dg.SensorEvaluationContext, scraper: ScraperResource) -> dg.SensorResult:
    seen: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
    requests = []
    for vendor in get_settings().enabled_vendors:
        with scraper.integration(vendor) as integration:
            years = sorted(integration.get_year_links(refresh=True))
        if vendor in seen:  # the first look only records what is there
            for year in sorted(set(years) - set(seen[vendor])):
                if str(year) in YEARS:
                    requests.append(dg.RunRequest(run_key=f"new-year:{vendor}|{year}",
                                                  partition_key=partition_key(vendor, year)))
        seen[vendor] = years
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen))


@dg.sensor(job=sync_vendor_year, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Retries a failed vendor-year run once, `schedules.retry_failed_after_minutes` later.")
def retry_failed_partitions(context: dg.SensorEvaluationContext) -> list[dg.RunRequest]:
    delay = get_settings().schedules.retry_failed_after_minutes * 60
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                              updated_after=datetime.now(UTC) - timedelta(days=3)), limit=500)
    requests = []
    for record in records:
        tags = record.dagster_run.tags
        if RETRY_TAG in tags or VENDOR_TAG not in tags or YEAR_TAG not in tags:
            continue  # a retry is not retried again; other jobs are not ours to retry
        if record.end_time is None or time.time() - record.end_time < delay:
            continue
        run_id = record.dagster_run.run_id
        # The run key makes the daemon launch each retry once, however often this sensor sees the failure.
        requests.append(dg.RunRequest(run_key=f"retry:{run_id}", tags={RETRY_TAG: run_id},
                                      partition_key=partition_key(tags[VENDOR_TAG], tags[YEAR_TAG])))
    return requests
