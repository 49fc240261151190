"""Cron schedules: the whole pipeline daily, and the pulled sources (PostgreSQL, APIs) hourly."""

from __future__ import annotations

from datetime import UTC, timedelta

import dagster as dg

from assets.ingestion.partitions import range_tags

SOURCES_JOB = "ingest_sources"


def recent_days(context: dg.ScheduleEvaluationContext, partitioned: bool) -> dict[str, str]:
    """Range tags for yesterday and today (UTC) at the tick: the days still receiving data.
    Older days are rewritten by the landing sensor's runs or by a backfill."""
    if not partitioned:
        return {}
    today = context.scheduled_execution_time.astimezone(UTC).date()
    return range_tags(today - timedelta(days=1), today)


def build_schedules(
    timezone: str, has_pulled_sources: bool, partitioned: bool = False
) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        name="daily_pipeline_schedule",
        job_name="full_pipeline",
        cron_schedule="0 3 * * *",
        execution_timezone=timezone,
        description=f"Refreshes every stage at 03:00 ({timezone}) where new data arrived; "
        "daily-partitioned tables rewrite yesterday and today.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def daily_pipeline_schedule(context: dg.ScheduleEvaluationContext):
        return dg.RunRequest(run_key=None, tags=recent_days(context, partitioned))

    @dg.schedule(
        name="hourly_ingestion_schedule",
        job_name=SOURCES_JOB,
        cron_schedule="5 * * * *",
        execution_timezone=timezone,
        description="Pulls the PostgreSQL and REST API sources (and validates them) every hour.",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def hourly_ingestion_schedule(context: dg.ScheduleEvaluationContext):
        if not has_pulled_sources:
            return dg.SkipReason("no dataset declares a postgres or api source")
        return dg.RunRequest(
            run_key=None,
            # counts against the API run limit
            tags={"pipeline/source": "api", **recent_days(context, partitioned)},
        )

    return [daily_pipeline_schedule, hourly_ingestion_schedule]
