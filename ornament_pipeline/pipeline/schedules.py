"""Schedules that replace the old Celery beat: a daily sync of recent years, a weekly sync of everything."""


from datetime import UTC, datetime

import dagster as dg

from ornament_pipeline.config import Settings, get_settings
from ornament_pipeline.pipeline.jobs import sync_vendor_year
from ornament_pipeline.pipeline.partitions import YEARS, partition_key


def _requests(settings: Settings, years: list[str], stamp: str) -> list[dg.RunRequest]:
    # Interleave vendors so each vendor's queue (one run at a time, see dagster.yaml) starts at once.
    return [
        dg.RunRequest(run_key=f"{stamp}:{vendor}|{year}", partition_key=partition_key(vendor, year))
        for year in years
        for vendor in settings.enabled_vendors
    ]


def build_schedules(settings: Settings) -> list[dg.ScheduleDefinition]:
    timezone = settings.schedules.timezone

    @dg.schedule(name="daily_recent_years", cron_schedule=settings.schedules.daily_cron, job=sync_vendor_year,
                 execution_timezone=timezone,
                 description="Every enabled vendor, current and previous year: where prices move most.")
    def daily_recent_years(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        years = [str(now.year), str(now.year - 1)]
        return _requests(get_settings(), [y for y in years if y in YEARS], now.strftime("%Y-%m-%d"))

    @dg.schedule(name="weekly_all_partitions", cron_schedule=settings.schedules.weekly_cron, job=sync_vendor_year,
                 execution_timezone=timezone,
                 description="Every vendor-year; runs queue and go one per vendor at a time (dagster.yaml).")
    def weekly_all_partitions(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        now = context.scheduled_execution_time or datetime.now(UTC)
        return _requests(get_settings(), list(reversed(YEARS)), now.strftime("week-%Y-%m-%d"))

    return [daily_recent_years, weekly_all_partitions]
