"""The Dagster code location: `defs` is what `dg dev`, `dg check defs` and the webserver load."""

import dagster as dg

from ornament_pipeline.auditor import definitions as auditor
from ornament_pipeline.config import get_settings
from ornament_pipeline.pipeline import assets, freshness, jobs, market, sensors, year_discovery
from ornament_pipeline.pipeline.resources import ScraperResource, SettingsResource, WarehouseResource
from ornament_pipeline.pipeline.schedules import build_schedules


def build_defs(executor: dg.ExecutorDefinition = dg.in_process_executor) -> dg.Definitions:
    """The pipeline's definitions merged with the auditor's (only `defs` may live at module scope). `executor` runs
    every job's steps: by default in the run's own process; `celery_definitions` passes Dagster's Celery executor."""
    settings = SettingsResource()
    pipeline = dg.Definitions(
        # The per-partition checks are declared on the assets they guard (check_specs).
        assets=[*assets.SYNC_ASSETS, assets.cross_vendor_offers, market.market_prices],
        jobs=[jobs.sync_vendor_year, jobs.sync_by_id, jobs.sync_by_query, year_discovery.discover_year_links],
        schedules=build_schedules(get_settings()),
        sensors=[sensors.year_partitions, sensors.new_year_links, sensors.retry_failed_partitions,
                 sensors.offers_refresh, freshness.partitions_on_schedule],
        # A vendor-year run is a short chain of steps: one process, not a process per step.
        executor=executor,
        resources={
            "settings": settings,
            "warehouse": WarehouseResource(settings=settings),
            "scraper": ScraperResource(settings=settings),
        },
    )
    return dg.Definitions.merge(pipeline, auditor.defs)


defs = build_defs()
