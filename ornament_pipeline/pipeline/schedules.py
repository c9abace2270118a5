"""Schedules that replace the old Celery beat: a daily sync of recent years, a weekly sync of everything."""


from datetime import UTC, datetime

import dagster as dg

from ornament_pipeline.config import Settings, get_settings
from ornament_pipeline.pipeline.jobs import sync_vendor_year
from ornament_pipeline.pipeline.partitions import YEARS, range_tags


def _requests(settings: Settings, first_year: int, last_year: int, stamp: str) -> list[dg.RunRequest]:
    """One ranged run per enabled vendor over the years first..last: one process and one browser for all of them,
    each vendor-year still materialized and checked on its own; vendors run side by side."""
    first, last = max(first_year, int(YEARS[0])), min(last_year, int(YEARS[-1]))
    if first > last:
        return []
    return [dg.RunRequest(run_key=f"{stamp}:{vendor}", tags=range_tags(vendor, first, last))
            for vendor in settings.enabled_vendors]


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    timezone = settings.schedules.timezone

    @dg.schedule(name="daily_recent_years", cron_schedule=settings.schedules.daily_cron, job=sync_vendor_year,
                 execution_timezone=timezone,
                 description="Every enabled vendor, current and previous year: where prices move most.")
    def daily_recent_years(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        return _requests(get_settings(), now.year - 1, now.year, now.strftime("%Y-%m-%d"))

    @dg.schedule(name="weekly_all_partitions", cron_schedule=settings.schedules.weekly_cron, job=sync_vendor_year,
                 execution_timezone=timezone,
                 description="Every vendor-year: one run per vendor over all its years.")
    def weekly_all_partitions(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        return _requests(get_settings(), int(YEARS[0]), int(YEARS[-1]), now.strftime("week-%Y-%m-%d"))

    return [daily_recent_years, weekly_all_partitions]
