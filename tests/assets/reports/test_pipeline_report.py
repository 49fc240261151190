"""The run's steps, timed by their start and end events, per step and per stage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assets.reports.pipeline_report import (
    busy_seconds,
    pipeline_report,
    stage_summary,
    step_runs,
)

RUN_START = 1_000.0
STAGE_OF = {
    "sample_landing_data": "ingestion",
    "raw_orders": "ingestion",
    "validated_orders": "validation",
    "quarantined_orders": "validation",
    "quality_report": "reports",
}


def _events(*steps: tuple[str, float, float | None]) -> list[dict]:
    out = []
    for step, start, end in steps:
        out.append({"step": step, "event": "start", "at": RUN_START + start})
        if end is not None:
            out.append({"step": step, "event": "success", "at": RUN_START + end})
    return out


def _steps():
    events = _events(
        ("sample_landing_data", 0.5, 3.5),
        ("raw_orders", 4.0, 5.0),
        ("validate_orders", 5.5, 8.0),
        ("quality_report", 8.5, 9.0),
        ("pipeline_report", 9.5, None),  # this report: still running
    )
    mats = [
        {"step": "sample_landing_data", "asset": "sample_landing_data", "rows_out": 3000},
        {"step": "raw_orders", "asset": "raw_orders", "rows_in": 1000, "rows_out": 990},
        # One step, two assets, the same rows read: counted once.
        {"step": "validate_orders", "asset": "validated_orders", "rows_in": 990},
        {"step": "validate_orders", "asset": "quarantined_orders", "rows_in": 990},
        {"step": "quality_report", "asset": "quality_report"},
    ]
    return step_runs(events, mats, STAGE_OF, RUN_START)


def test_each_finished_step_counts_once_with_its_own_time_and_rows():
    steps = _steps()
    assert steps["step"].to_list() == [
        "sample_landing_data",
        "raw_orders",
        "validate_orders",
        "quality_report",
    ]
    by_step = {r["step"]: r for r in steps.iter_rows(named=True)}
    assert by_step["validate_orders"]["seconds"] == pytest.approx(2.5)
    assert by_step["validate_orders"]["rows"] == 990
    assert by_step["validate_orders"]["assets"] == "quarantined_orders, validated_orders"
    assert by_step["validate_orders"]["stage"] == "validation"
    # The generator reads nothing: its rows are the rows it wrote, and it took its 3 s.
    assert by_step["sample_landing_data"]["rows"] == 3000
    assert by_step["sample_landing_data"]["seconds"] == pytest.approx(3.0)
    # A page records no rows: none, not 0, and its time is still counted.
    assert by_step["quality_report"]["rows"] is None
    assert by_step["quality_report"]["seconds"] == pytest.approx(0.5)
    assert by_step["raw_orders"]["rows_per_second"] == pytest.approx(1000.0)


def test_stages_sum_their_steps_in_pipeline_order():
    stages = stage_summary(_steps())
    assert stages["stage"].to_list() == ["ingestion", "validation", "reports"]
    ingestion = stages.row(0, named=True)
    assert ingestion["steps"] == 2 and ingestion["rows"] == 4000
    assert ingestion["seconds"] == pytest.approx(4.0)
    assert stages["share_of_step_time"].sum() == pytest.approx(1.0)


def test_overlapping_steps_count_once_in_the_busy_time():
    steps = step_runs(_events(("a", 0.0, 4.0), ("b", 1.0, 3.0), ("c", 5.0, 6.0)), [], {}, RUN_START)
    assert busy_seconds(steps) == pytest.approx(5.0)
    assert float(steps["seconds"].sum()) == pytest.approx(7.0)


def test_the_page_states_the_run_time_before_the_report_and_formats_every_figure():
    report = pipeline_report(
        "0123456789abcdef", _steps(), RUN_START, RUN_START + 9.5, datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert (
        "Run 01234567, started 1970-01-01 00:16:40 UTC: 4 steps finished in the 9.50 s before "
        "this report&#x27;s step began. The steps took 7.00 s by Dagster&#x27;s step timings; "
        "at least one step was running for 7.00 s of the 9.50 s"
    ) in report.page
    assert "1,000 rows/s" in report.page and "e+" not in report.page
    assert 'data-chart="stage-time"' in report.page and 'data-chart="step-timeline"' in report.page
    assert report.payload["seconds_before_report"] == 9.5
    assert report.payload["steps"][0]["step"] == "sample_landing_data"


def test_a_run_with_no_finished_step_still_makes_a_page():
    steps = step_runs([], [], {}, RUN_START)
    report = pipeline_report("0123456789abcdef", steps, RUN_START, RUN_START, datetime.now(UTC))
    assert "0 steps finished in the 0.00 s" in report.page
    assert report.payload["stages"] == [] and report.payload["steps"] == []
