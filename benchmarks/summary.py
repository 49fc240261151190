"""Medians over the repetitions, the ratios the targets are stated in, and the printed table."""

from __future__ import annotations

import json
import statistics

from benchmarks.contenders import CONTENDERS
from benchmarks.pipeline_runs import STAGES

# Stages the pandas baseline does too: all but the reports. Its analytics fit the pipeline's
# models (churn, segments, forecast, elasticity, anomalies) on the same sample sizes.
COMPARED = ("ingestion", "validation", "enrichment", "features", "analytics")
FIRST_THREE = ("ingestion", "validation", "enrichment")


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _median_of(runs: list[dict], field: str) -> float:
    return _median([r[field] for r in runs])


def _median_by_stage(runs: list[dict], field: str, stages: list[str]) -> dict[str, float]:
    return {s: round(_median([r[field].get(s, 0.0) for r in runs]), 3) for s in stages}


def stage_throughput(stages_s: dict[str, float], rows: int, csv_mb: float) -> dict[str, dict]:
    """Source rows and CSV megabytes per second through each stage: every stage is measured
    against the same input, the data as it landed, so stages and contenders compare."""
    return {
        "stage_rows_per_s": {s: round(rows / t) for s, t in stages_s.items() if t > 0},
        "stage_mb_per_s": {s: round(csv_mb / t, 1) for s, t in stages_s.items() if t > 0},
    }


def _contender(name: str, runs: list[dict], csv_mb: float, rows: int) -> dict:
    """One contender's medians (peak RSS: the largest) over the repetitions."""
    stages = sorted({s for r in runs for s in r["stages"]})
    out: dict = {
        "stages_s": _median_by_stage(runs, "stages", stages),
        "process_wall_s": round(_median_of(runs, "process_wall_s"), 3),
        "cpu_s": round(_median_of(runs, "cpu_s"), 3),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
    }
    if all("stage_cpu_s" in r for r in runs):
        out["stage_cpu_s"] = _median_by_stage(runs, "stage_cpu_s", stages)
    if name in ("pipeline", "pipeline_by_stage", "pandas"):
        out.update(stage_throughput(out["stages_s"], rows, csv_mb))
    if name == "pipeline_by_stage":
        out["stage_peak_rss_mb"] = {
            s: round(max(r["stage_peak_rss_mb"][s] for r in runs), 1) for s in STAGES
        }
    if name == "pipeline":
        out["dagster_overhead_s"] = round(_median_of(runs, "dagster_overhead_s"), 3)
        out["run_wall_s"] = round(_median_of(runs, "run_wall_s"), 3)
        out["event_writes_by_stage_s"] = _median_by_stage(runs, "event_writes_by_stage_s", stages)
        out["event_writes_in_steps_s"] = round(_median_of(runs, "event_writes_in_steps_s"), 3)
        out["event_writes"] = int(_median_of(runs, "event_writes"))
    return out


def _ratio(numerator: float, denominator: float, digits: int = 2) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def _ratios(out: dict[str, dict], csv_mb: float) -> dict:
    pipe, pandas = out["pipeline"]["stages_s"], out["pandas"]["stages_s"]
    ingest_validate = pipe.get("ingestion", 0.0) + pipe.get("validation", 0.0)
    floor = min(
        out["duckdb_floor"]["stages_s"]["ingestion"], out["polars_floor"]["stages_s"]["ingestion"]
    )
    polars_floor = out["polars_floor"]["stages_s"]
    two_tables = polars_floor["ingestion"] + polars_floor.get("copy_parquet", 0.0)
    run_wall = out["pipeline"]["run_wall_s"]
    return {
        "pandas_over_pipeline_ingest_validate_enrich": _ratio(
            sum(pandas.get(s, 0.0) for s in FIRST_THREE), sum(pipe.get(s, 0.0) for s in FIRST_THREE)
        ),
        "pandas_over_pipeline_through_analytics": _ratio(
            sum(pandas.get(s, 0.0) for s in COMPARED), sum(pipe.get(s, 0.0) for s in COMPARED)
        ),
        "pandas_over_pipeline_peak_rss": round(
            out["pandas"]["peak_rss_mb"] / out["pipeline"]["peak_rss_mb"], 2
        ),
        "pipeline_ingest_validate_over_engine_floor": _ratio(ingest_validate, floor),
        # Against the Polars floor of writing both tables (raw and validated) with no work.
        "pipeline_ingest_validate_over_two_table_floor": _ratio(ingest_validate, two_tables),
        "pipeline_ingest_validate_over_duckdb_count_rows": round(
            ingest_validate / out["duckdb_floor"]["stages_s"]["count_rows"], 2
        ),
        "pipeline_ingest_mb_per_s": _ratio(csv_mb, pipe.get("ingestion", 0.0), 1),
        # The features stage against validation of the same data (a target of its own).
        "pipeline_features_over_validation": _ratio(
            pipe.get("features", 0.0), pipe.get("validation", 0.0)
        ),
        "max_stage_peak_rss_mb": out["pipeline_by_stage"]["peak_rss_mb"],
        "dagster_overhead_share": round(out["pipeline"]["dagster_overhead_s"] / run_wall, 3),
        # The part of that overhead spent writing events to the event log inside steps.
        "dagster_event_writes_share": round(
            out["pipeline"]["event_writes_in_steps_s"] / run_wall, 3
        ),
    }


def summarise(reps: list[dict[str, dict]], csv_mb: float, rows: int) -> dict:
    """Per contender its medians over ``reps``, then the ratios between them."""
    out: dict[str, dict] = {
        name: _contender(name, [r[name] for r in reps], csv_mb, rows) for name in CONTENDERS
    }
    out["ratios"] = _ratios(out, csv_mb)
    return out


def print_table(summary: dict, scale: str, csv_mb: float) -> None:
    print(f"\nscale {scale}: {csv_mb:.0f} MB of CSV (median of the repetitions)\n")
    stages = STAGES
    head = f"{'contender':<18}" + "".join(f"{s[:10]:>11}" for s in stages)
    print(head + f"{'wall s':>9}{'cpu s':>8}{'peak MB':>9}")
    for name in CONTENDERS:
        row = summary[name]
        cells = "".join(
            f"{row['stages_s'][s]:>11.2f}" if s in row["stages_s"] else f"{'-':>11}" for s in stages
        )
        print(
            f"{name:<18}{cells}{row['process_wall_s']:>9.1f}{row['cpu_s']:>8.1f}{row['peak_rss_mb']:>9.0f}"
        )
    by_stage = summary["pipeline_by_stage"]
    lines = [
        ("peak MB by stage", by_stage["stage_peak_rss_mb"], "{:>11.0f}"),
        ("cpu s by stage", by_stage["stage_cpu_s"], "{:>11.2f}"),
        ("MB/s by stage", by_stage["stage_mb_per_s"], "{:>11.1f}"),
        ("pandas cpu s", summary["pandas"]["stage_cpu_s"], "{:>11.2f}"),
        ("pandas MB/s", summary["pandas"]["stage_mb_per_s"], "{:>11.1f}"),
    ]
    for label, values, cell in lines:
        print(
            f"{label:<18}"
            + "".join(cell.format(values[s]) if s in values else f"{'-':>11}" for s in stages)
        )
    print("\nratios:", json.dumps(summary["ratios"], indent=2))
