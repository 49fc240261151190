"""Where a run's time went, by Dagster's own step timings: each step from its start event to
its success or failure event, its rows, and the sums per stage.

A step is the unit Dagster times and runs: ``validate_orders`` materializes both
``validated_orders`` and ``quarantined_orders`` in one step, so its time and rows count once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from assets.reports import charts
from assets.reports import formatting as fmt
from assets.reports import html as h
from assets.reports.report import Report

STAGES = ["ingestion", "validation", "enrichment", "features", "analytics", "reports"]
STEP_EVENTS_SCHEMA = {
    "step": pl.String,
    "event": pl.String,  # start | success | failure
    "at": pl.Float64,  # Unix seconds
}
MATERIALIZATION_SCHEMA = {
    "step": pl.String,
    "asset": pl.String,
    "rows_in": pl.Int64,
    "rows_out": pl.Int64,
}
STEP_COLUMNS = [
    "step",
    "stage",
    "assets",
    "outcome",
    "start_s",
    "seconds",
    "rows",
    "rows_per_second",
]


def step_runs(
    events: Sequence[Mapping[str, Any]],
    materializations: Sequence[Mapping[str, Any]],
    stage_of: Mapping[str, str],
    run_start: float,
) -> pl.DataFrame:
    """One row per finished step: its stage, the assets it materialized, when it started
    (seconds after ``run_start``) and how long it took by Dagster's step events, and its rows:
    the rows it read (the ``rows_in`` its assets record, the same for every asset of a step),
    or for a step that reads none (the generator) the rows it wrote. Steps still running (this
    report's own) have no end event and are left out."""
    ev = pl.DataFrame(events, schema=STEP_EVENTS_SCHEMA)
    mats = pl.DataFrame(materializations, schema=MATERIALIZATION_SCHEMA)
    timed = (
        ev.group_by("step")
        .agg(
            pl.col("at").filter(pl.col("event") == "start").min().alias("started"),
            pl.col("at").filter(pl.col("event") != "start").max().alias("finished"),
            pl.col("event").filter(pl.col("event") != "start").last().alias("outcome"),
        )
        .filter(pl.col("finished").is_not_null() & pl.col("started").is_not_null())
    )
    per_step = mats.group_by("step").agg(
        pl.col("asset").sort().str.join(", ").alias("assets"),
        pl.col("asset").sort().first().alias("first_asset"),
        pl.coalesce(pl.col("rows_in").max(), pl.col("rows_out").max()).alias("rows"),
    )
    stage = pl.coalesce("first_asset", "step").replace_strict(
        dict(stage_of), default="other", return_dtype=pl.String
    )
    order = pl.col("stage").replace_strict(
        {s: i for i, s in enumerate(STAGES)}, default=len(STAGES), return_dtype=pl.Int64
    )
    return (
        timed.join(per_step, on="step", how="left")
        .with_columns(
            stage.alias("stage"),
            pl.col("assets").fill_null(""),
            (pl.col("started") - run_start).alias("start_s"),
            (pl.col("finished") - pl.col("started")).alias("seconds"),
        )
        .with_columns(
            pl.when(pl.col("seconds") > 0)
            .then(pl.col("rows") / pl.col("seconds"))
            .alias("rows_per_second")
        )
        .sort("start_s", order, "step")
        .select(STEP_COLUMNS)
    )


def stage_summary(steps: pl.DataFrame) -> pl.DataFrame:
    """Steps, seconds, share of all step time, rows and rows per second per stage, in
    pipeline order."""
    return (
        steps.group_by("stage")
        .agg(pl.len().alias("steps"), pl.col("seconds").sum(), pl.col("rows").sum())
        .with_columns(
            (pl.col("seconds") / pl.col("seconds").sum()).alias("share_of_step_time"),
            pl.when(pl.col("seconds") > 0)
            .then(pl.col("rows") / pl.col("seconds"))
            .alias("rows_per_second"),
            pl.col("stage")
            .replace_strict({s: i for i, s in enumerate(STAGES)}, default=99)
            .alias("order"),
        )
        .sort("order", "stage")
        .select("stage", "steps", "seconds", "share_of_step_time", "rows", "rows_per_second")
    )


def busy_seconds(steps: pl.DataFrame) -> float:
    """Seconds in which at least one step was running (steps that overlap count once)."""
    if steps.is_empty():
        return 0.0
    spans = steps.select(
        pl.col("start_s").alias("a"), (pl.col("start_s") + pl.col("seconds")).alias("b")
    ).sort("a")
    merged = spans.with_columns(
        (pl.col("a") > pl.col("b").cum_max().shift(1).fill_null(float("-inf")))
        .cum_sum()
        .alias("span")
    )
    return float(
        merged.group_by("span").agg((pl.col("b").max() - pl.col("a").min()).alias("s"))["s"].sum()
    )


STEP_FORMATS = {
    "start_s": fmt.seconds,
    "seconds": fmt.seconds,
    "rows": fmt.count,
    "rows_per_second": fmt.rate,
}


def pipeline_report(
    run_id: str, steps: pl.DataFrame, run_start: float, report_start: float, generated: datetime
) -> Report:
    """The pipeline report's page and JSON twin; its figure is the per-stage table.
    ``report_start`` is when this report's own step started (Unix seconds)."""
    stages = stage_summary(steps)
    started = datetime.fromtimestamp(run_start, UTC)
    elapsed = report_start - run_start
    step_time = float(steps["seconds"].sum())
    busy = busy_seconds(steps)
    summary = (
        f"Run {run_id[:8]}, started {fmt.moment(started)}: {fmt.count(steps.height)} steps "
        f"finished in the {fmt.seconds(elapsed)} before this report's step began. The steps "
        f"took {fmt.seconds(step_time)} by Dagster's step timings; at least one step was "
        f"running for {fmt.seconds(busy)} of the {fmt.seconds(elapsed)}, and the other "
        f"{fmt.seconds(max(elapsed - busy, 0.0))} went to starting steps and recording their "
        "events."
    )
    timing = (
        "Each step is timed as Dagster times it, from its start event to its success or "
        "failure event (the durations the Dagster UI shows); a step that materializes several "
        "assets (validate_orders: validated_orders and quarantined_orders) counts once. Rows "
        "are the rows a step read (rows_in in its materialization metadata), or the rows it "
        "wrote for the generator, which reads none; a step that records neither shows n/a. "
        "This report's own step is still running, so it is not counted, and the run's total "
        "in the Dagster UI is longer by it."
    )
    stage_chart = charts.bars(
        stages["stage"].to_list(),
        stages["seconds"].to_list(),
        title=f"Step time per stage, run {run_id[:8]} ({fmt.moment(started)})",
        xlabel="stage",
        ylabel="seconds (sum of step times)",
        value_format=fmt.thousands,
    )
    step_chart = charts.timeline(
        steps["step"].to_list(),
        steps["start_s"].to_list(),
        steps["seconds"].to_list(),
        steps["stage"].to_list(),
        title=f"When each step ran, run {run_id[:8]}",
        xlabel=f"seconds since the run started ({fmt.moment(started)})",
        ylabel="step",
    )
    sections = [
        (
            "Time per stage",
            h.method(timing)
            + h.chart(stage_chart, "stage-time")
            + h.table(
                stages,
                "stages",
                labels={"share_of_step_time": "share of step time", "rows_per_second": "rows/s"},
                formats={
                    "seconds": fmt.seconds,
                    "share_of_step_time": fmt.pct,
                    "rows": fmt.count,
                    "rows_per_second": fmt.rate,
                },
            ),
        ),
        (
            "Steps",
            h.chart(step_chart, "step-timeline")
            + h.table(
                steps,
                "steps",
                labels={"start_s": "started after", "rows_per_second": "rows/s"},
                formats=STEP_FORMATS,
                max_rows=500,
            ),
        ),
    ]
    page = h.page(
        "Pipeline report",
        generated,
        sections,
        data_note=f"Run {run_id} as recorded in Dagster's event log.",
        summary=h.esc(summary),
    )
    payload = {
        "run_id": run_id,
        "run_start": started.isoformat(),
        "seconds_before_report": round(elapsed, 3),
        "step_seconds": round(step_time, 3),
        "busy_seconds": round(busy, 3),
        "stages": stages.to_dicts(),
        "steps": steps.to_dicts(),
    }
    return Report(page, payload, {"stages": stages})
