"""Cron schedules: the whole pipeline daily, and the pulled sources (PostgreSQL, APIs) hourly."""

from __future__ import annotations

import dagster as dg

SOURCES_JOB = "ingest_sources"


def build_schedules(timezone: str, has_pulled_sources: bool) -> list[dg.ScheduleDefinition]:
    daily = dg.ScheduleDefinition(
        name="daily_pipeline_schedule",
        job_name="full_pipeline",
        cron_schedule="0 3 * * *",
        execution_timezone=timezone,
        description=f"Refreshes every stage at 03:00 ({timezone}).",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )

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
            tags={"pipeline/source": "api"},  # counts against the API run limit
        )

    return [daily, hourly_ingestion_schedule]
