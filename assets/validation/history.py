"""Quality history: robust anomaly detection on each metric against its own past, and drift.

The history is the lake table ``quality_history``: one part per dataset and run, each written by
that dataset's validation. A run's rows have no ``partition``; a run of a daily-partitioned
dataset also records each day it covered, with that day in ``partition``, so a day is compared
with earlier days, not a 30-day backfill with a one-day run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import polars as pl

from assets.core.storage import LakePath, read_parquet, sink_parquet_atomic

HISTORY_TABLE = "quality_history"
MAD_TO_SIGMA = 1.4826
HISTORY_SCHEMA = {
    "run_id": pl.String,
    "dataset": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "recorded_at": pl.Datetime("us", "UTC"),
    "partition": pl.Date,
}


def history_rows(
    run_id: str,
    dataset: str,
    metrics: Mapping[str, float],
    recorded_at,
    partition: date | None = None,
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [run_id] * len(metrics),
            "dataset": [dataset] * len(metrics),
            "metric": list(metrics),
            "value": [float(v) for v in metrics.values()],
            "recorded_at": [recorded_at] * len(metrics),
            "partition": [partition] * len(metrics),
        },
        schema=HISTORY_SCHEMA,
    )


def load_history(directory: LakePath, dataset: str) -> pl.DataFrame:
    """Every recorded metric of ``dataset``, from the history table at ``directory``."""
    parts = sorted(directory.glob(f"part-{dataset}-*.parquet"))
    if not parts:
        return pl.DataFrame(schema={"metric": pl.String, "value": pl.Float64})
    return pl.concat([read_parquet(p) for p in parts], how="diagonal_relaxed")


def append_history(
    directory: LakePath,
    dataset: str,
    run_id: str,
    metrics: Mapping[str, float],
    recorded_at: datetime,
    by_day: Mapping[date, Mapping[str, float]] | None = None,
) -> None:
    """Record one run's metrics, and those of each day it covered (``by_day``), as the run's
    own part of the history table at ``directory``."""
    rows = pl.concat(
        [
            history_rows(run_id, dataset, metrics, recorded_at),
            *(
                history_rows(run_id, dataset, m, recorded_at, day)
                for day, m in sorted((by_day or {}).items())
            ),
        ]
    )
    sink_parquet_atomic(rows, directory / f"part-{dataset}-{run_id}.parquet")


def run_history(history: pl.DataFrame) -> pl.DataFrame:
    """The rows of whole runs (parts written before days were recorded have no partition)."""
    if "partition" not in history.columns:
        return history
    return history.filter(pl.col("partition").is_null())


def earlier_days(history: pl.DataFrame, day: date) -> pl.DataFrame:
    """Each day before ``day`` once, as its latest run recorded it (a day re-run replaces its
    earlier record): the history a day is compared with."""
    if "partition" not in history.columns or history.is_empty():
        return history.clear()
    return (
        history.filter(pl.col("partition") < day)
        .sort("recorded_at")
        .unique(["partition", "metric"], keep="last")
    )


def metric_anomalies(
    history: pl.DataFrame,
    current: Mapping[str, float],
    *,
    k: float = 3.5,
    min_points: int = 5,
    relative_floor: float = 0.01,
) -> list[dict[str, float | str]]:
    """Metrics more than ``k`` robust standard deviations from the median of their own history.

    The robust standard deviation is 1.4826 x the median absolute deviation. A history with no
    spread (MAD 0, common for a metric stuck at 1.0) would call any change infinite, so the scale
    has a floor of ``relative_floor`` x |median| (and 1e-9).
    """
    if history.is_empty():
        return []
    stats = (
        history.group_by("metric")
        .agg(
            pl.len().alias("n"),
            pl.col("value").median().alias("median"),
            (pl.col("value") - pl.col("value").median()).abs().median().alias("mad"),
        )
        .filter(pl.col("n") >= min_points)
    )
    out = []
    for metric, n, median, mad in stats.iter_rows():
        if metric not in current:
            continue
        scale = max(MAD_TO_SIGMA * mad, relative_floor * abs(median), 1e-9)
        z = (current[metric] - median) / scale
        if abs(z) > k:
            out.append(
                {
                    "metric": metric,
                    "value": current[metric],
                    "median": median,
                    "robust_z": round(z, 2),
                    "points": n,
                }
            )
    return out


def schema_drift(
    previous: Mapping[str, str] | None, current: Mapping[str, str]
) -> dict[str, list[str]]:
    """Columns added, removed or retyped since the last successful materialization."""
    if previous is None:
        return {"added": [], "removed": [], "retyped": []}
    return {
        "added": sorted(set(current) - set(previous)),
        "removed": sorted(set(previous) - set(current)),
        "retyped": sorted(
            f"{c}: {previous[c]} -> {current[c]}"
            for c in set(previous) & set(current)
            if previous[c] != current[c]
        ),
    }
