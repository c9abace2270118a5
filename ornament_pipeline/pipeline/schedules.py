"""Schedules that replace the old Celery beat: a daily sync of recent years, a weekly sync of everything."""


from datetime import UTC, datetime

import dagster as dg

from ornament_pipeline.config import Settings, get_settings
from ornament_pipeline.pipeline.jobs import sync_vendor_year
from ornament_pipeline.pipeline.partitions import known_years, range_tags


def _requests(settings: Settings, years: list[str], stamp: str) -> list[dg.RunRequest]:
    """One ranged run per enabled vendor over `years` (a stretch of the year partitions in their order): one process
    and one browser for all of them, each vendor-year still materialized and checked on its own; vendors run side
    by side."""
    if not years:
        return []
    return [dg.RunRequest(run_key=f"{stamp}:{vendor}", tags=range_tags(vendor, years[0], years[-1]))
            for vendor in settings.enabled_vendors]


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    timezone = settings.schedules.timezone

    @dg.schedule(name="daily_recent_years", cron_schedule=settings.schedules.daily_cron, job=sync_vendor_year,
                 execution_timezone=timezone,
                 description="Every enabled vendor, current and previous year: where prices move most.")
    def daily_recent_years(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        # Calendar years are added in order (year_partitions), so the two recent ones are neighbours in the range.
        recent = [year for year in known_years(context.instance) if int(year) in (now.year - 1, now.year)]
        return _requests(get_settings(), recent, now.strftime("%Y-%m-%d"))

    @dg.schedule(name="weekly_all_partitions", cron_schedule=settings.schedules.weekly_cron, job=sync_vendor_year,
                 execution_timezone=timezone,
                 description="Every vendor-year: one run per vendor over all its years.")
    def weekly_all_partitions(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        return _requests(get_settings(), known_years(context.instance), now.strftime("week-%Y-%m-%d"))

    return [daily_recent_years, weekly_all_partitions]
