"""The run summary per asset and per stage, from plain materialization records."""

from __future__ import annotations

from datetime import date

import pytest

from assets.reports.pipeline_report import asset_runs, pipeline_report, stage_summary


def _runs():
    return asset_runs(
        [
            {"asset": "insights", "duration_s": 1.0, "rows_in": 10},
            {"asset": "raw_orders", "duration_s": 2.0, "rows_in": 1000},
            {"asset": "raw_customers", "duration_s": 3.0, "rows_in": 500},
            {"asset": "my_pipeline", "duration_s": 0.5, "rows_in": 5},
        ],
        {"insights": "reports", "raw_orders": "ingestion", "raw_customers": "ingestion"},
    )


def test_assets_are_named_with_their_stage_or_other():
    assert _runs()["stage"].to_list() == ["reports", "ingestion", "ingestion", "other"]


def test_stages_sum_in_pipeline_order_with_their_throughput():
    stages = stage_summary(_runs())
    assert stages["stage"].to_list() == ["ingestion", "reports", "other"]
    ingestion = stages.row(0, named=True)
    assert ingestion["assets"] == 2 and ingestion["rows_in"] == 1500
    assert ingestion["duration_s"] == pytest.approx(5.0)
    assert ingestion["rows_per_second"] == 300


def test_a_run_with_no_materialization_still_makes_a_page():
    report = pipeline_report("0123456789abcdef", asset_runs([], {}), date(2024, 1, 1))
    assert report.payload == {"run_id": "0123456789abcdef", "stages": [], "assets": []}
    assert "Run 01234567: 0 assets, 0.0 s of compute." in report.page
