"""The cron schedules as the definitions build them."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings


def _defs(settings: Settings, **env: str) -> dg.Definitions:
    return build_definitions(
        Settings.from_env(
            {
                "PIPELINE_DATA_DIR": str(settings.data_dir),
                "PIPELINE_DATASETS_DIR": str(settings.datasets_dir),
                **env,
            }
        )
    )


def test_schedules_carry_their_jobs_timezone_and_start_stopped(settings: Settings) -> None:
    d = _defs(settings, PIPELINE_TIMEZONE="Europe/Berlin")
    daily = d.resolve_schedule_def("daily_pipeline_schedule")
    hourly = d.resolve_schedule_def("hourly_ingestion_schedule")
    assert (daily.job_name, daily.cron_schedule) == ("full_pipeline", "0 3 * * *")
    assert hourly.job_name == "ingest_sources"
    for schedule in (daily, hourly):
        assert schedule.execution_timezone == "Europe/Berlin"
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    with pytest.raises(ValueError, match="PIPELINE_TIMEZONE must be an IANA time zone"):
        Settings.from_env({"PIPELINE_TIMEZONE": "Mars/Olympus"})


def test_hourly_schedule_skips_without_pulled_sources_and_runs_with_them(
    settings: Settings,
) -> None:
    bare = _defs(settings).resolve_schedule_def("hourly_ingestion_schedule")
    with dg.instance_for_test() as instance:
        skipped = bare.evaluate_tick(dg.build_schedule_context(instance=instance))
        assert skipped.skip_message and "no dataset declares" in skipped.skip_message
        settings.datasets_dir.mkdir(parents=True)
        (settings.datasets_dir / "crm.yaml").write_text(
            json.dumps(
                {
                    "name": "crm",
                    "source": {"kind": "postgres", "table": "crm.accounts"},
                    "columns": [{"name": "id", "required": True}],
                }
            )
        )
        d = _defs(settings)
        ticked = d.resolve_schedule_def("hourly_ingestion_schedule").evaluate_tick(
            dg.build_schedule_context(instance=instance)
        )
        assert ticked.run_requests and ticked.run_requests[0].tags["pipeline/source"] == "api"
        job_assets = d.resolve_job_def("ingest_sources").asset_layer.selected_asset_keys
        assert {dg.AssetKey("raw_crm"), dg.AssetKey("validated_crm")} <= set(job_assets)
        assert dg.AssetKey("raw_orders") not in job_assets


def test_partitioned_schedules_cover_yesterday_and_today(settings: Settings) -> None:
    from datetime import UTC, datetime

    from assets.ingestion.partitions import RANGE_END_TAG, RANGE_START_TAG

    daily = _defs(settings, PIPELINE_PARTITIONS="daily").resolve_schedule_def(
        "daily_pipeline_schedule"
    )
    unpartitioned = _defs(settings).resolve_schedule_def("daily_pipeline_schedule")
    tick = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)
    (request,) = (
        daily.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick)).run_requests
        or []
    )
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2025-06-09",
        "2025-06-10",
    )
    (plain,) = (
        unpartitioned.evaluate_tick(
            dg.build_schedule_context(scheduled_execution_time=tick)
        ).run_requests
        or []
    )
    assert RANGE_START_TAG not in plain.tags
