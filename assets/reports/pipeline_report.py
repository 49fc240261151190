"""Where a run's time went: each materialized asset's duration and rows, summed per stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from assets.reports import html as h
from assets.reports.report import Report

STAGES = ["ingestion", "validation", "enrichment", "features", "analytics", "reports"]
ASSET_SCHEMA = {
    "asset": pl.String,
    "stage": pl.String,
    "duration_s": pl.Float64,
    "rows_in": pl.Int64,
}


def asset_runs(
    materializations: Sequence[Mapping[str, Any]], stage_of: Mapping[str, str]
) -> pl.DataFrame:
    """One row per materialization (``asset``, ``duration_s``, ``rows_in``), with the asset's
    stage from ``stage_of`` ("other" for an asset it does not name)."""
    frame = pl.DataFrame(
        materializations,
        schema={k: v for k, v in ASSET_SCHEMA.items() if k != "stage"},
    )
    stage = pl.col("asset").replace_strict(dict(stage_of), default="other", return_dtype=pl.String)
    return frame.with_columns(stage.alias("stage")).select(list(ASSET_SCHEMA))


def stage_summary(runs: pl.DataFrame) -> pl.DataFrame:
    """Assets, seconds, rows and rows per second per stage, in pipeline order."""
    return (
        runs.group_by("stage")
        .agg(
            pl.len().alias("assets"),
            pl.col("duration_s").sum().round(3),
            pl.col("rows_in").sum(),
        )
        .with_columns(
            (pl.col("rows_in") / pl.col("duration_s").clip(1e-9)).round(0).alias("rows_per_second")
        )
        .with_columns(
            pl.col("stage")
            .replace_strict({s: i for i, s in enumerate(STAGES)}, default=99)
            .alias("order")
        )
        .sort("order")
        .drop("order")
    )


def pipeline_report(run_id: str, runs: pl.DataFrame, generated: date) -> Report:
    """The pipeline report's page and JSON twin; its figure is the per-stage table."""
    stages = stage_summary(runs)
    sections = [
        (
            "Time per stage",
            h.chart(
                h.bar_chart(
                    stages["stage"].to_list(),
                    stages["duration_s"].to_list(),
                    "Seconds per stage (this run)",
                ),
                "stage-time",
            )
            + h.table(stages),
        ),
        ("Assets", h.table(runs.sort("duration_s", descending=True))),
    ]
    page = h.page(
        "Pipeline report",
        generated,
        sections,
        summary=(
            f"Run {run_id[:8]}: {runs.height} assets, "
            f"{float(runs['duration_s'].sum()):.1f} s of compute."
        ),
    )
    payload = {"run_id": run_id, "stages": stages.to_dicts(), "assets": runs.to_dicts()}
    return Report(page, payload, {"stages": stages})
