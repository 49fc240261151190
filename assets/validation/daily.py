"""Quality per day of a daily-partitioned run: each day's gates, and each day against the days
before it.

A run may cover one day or a 30-day backfill. Judged only as a whole, one bad day among
good ones could pass every gate, and a backfill's row count would look like an anomaly next to
one-day runs; so each day the run covered is measured, gated and compared on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from assets.core.spec import DatasetSpec
from assets.validation.gates import CheckOutcome, gates
from assets.validation.history import HISTORY_SCHEMA, earlier_days, history_rows, metric_anomalies
from assets.validation.quality import QualityReport


def day_gates(daily: Mapping[date, QualityReport], spec: DatasetSpec) -> dict[str, dict[str, Any]]:
    """By gate name: its value on each day (``by_day``, by ISO day) and the days it failed."""
    values: dict[str, dict[str, float]] = {}
    failing: dict[str, list[str]] = {}
    for day, report in sorted(daily.items()):
        for g in gates(report, spec):
            values.setdefault(g.name, {})[day.isoformat()] = float(round(g.value, 6))
            if not g.passed:
                failing.setdefault(g.name, []).append(day.isoformat())
    return {
        name: {"by_day": v, "days_failing": failing.get(name, [])} for name, v in values.items()
    }


def with_days(
    checks: list[CheckOutcome], daily: Mapping[date, QualityReport], spec: DatasetSpec
) -> list[CheckOutcome]:
    """The gate checks with each day's value, and failed when any day fails its gate (a bad day
    is not averaged away by the good days of a backfill)."""
    per_day = day_gates(daily, spec)
    out = []
    for c in checks:
        day = per_day.get(c.name)
        if day is None:
            out.append(c)
            continue
        failing = day["days_failing"]
        note = f" Failed on {', '.join(failing)}." if failing else ""
        out.append(
            dataclasses.replace(
                c,
                passed=c.passed and not failing,
                metadata=c.metadata | day,
                description=(c.description or "") + note,
            )
        )
    return out


def day_anomalies(
    history: pl.DataFrame, daily: Mapping[date, QualityReport], k: float
) -> tuple[list[dict[str, float | str]], int]:
    """Each day's metrics against the days before it (the recorded ones, and the run's own
    earlier days), and the most earlier days any day was compared with."""
    this_run = [
        history_rows("this-run", "", r.metrics(), None, day) for day, r in sorted(daily.items())
    ]
    # Parts written before days were recorded have no partition: they hold no day.
    recorded = (
        [history.select(list(HISTORY_SCHEMA)).cast(pl.Schema(HISTORY_SCHEMA))]
        if "partition" in history.columns
        else []
    )
    known = pl.concat(recorded + this_run, how="vertical_relaxed")
    out: list[dict[str, float | str]] = []
    points = 0
    for day, report in sorted(daily.items()):
        past = earlier_days(known, day)
        points = max(points, past["partition"].n_unique())
        found = metric_anomalies(past, report.metrics(), k=k)
        out += [{"day": day.isoformat(), **a} for a in found]
    return out, points


def day_summary(daily: Mapping[date, QualityReport], spec: DatasetSpec) -> pl.DataFrame:
    """One row per day: rows in, valid, quarantined, score and the gates it failed."""
    rows = []
    for day, r in sorted(daily.items()):
        failed = [g.name.removeprefix(f"{spec.name}_") for g in gates(r, spec) if not g.passed]
        rows.append(
            {
                "day": day.isoformat(),
                "rows_in": r.rows_in,
                "valid_rows": r.valid_rows,
                "quarantined_rows": r.quarantined_rows,
                "quality_score": r.overall_score,
                "gates_failed": ", ".join(failed) or "none",
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "day": pl.String,
            "rows_in": pl.Int64,
            "valid_rows": pl.Int64,
            "quarantined_rows": pl.Int64,
            "quality_score": pl.Float64,
            "gates_failed": pl.String,
        },
    )


def day_metadata(daily: Mapping[date, QualityReport], spec: DatasetSpec) -> dict[str, dict]:
    """By ISO day, the quality figures of the validated table's materialization of that day."""
    out = {}
    for day, r in sorted(daily.items()):
        out[day.isoformat()] = {
            "quality_score": float(r.overall_score),
            "validity": float(r.validity),
            "rows_valid": r.valid_rows,
            "rows_quarantined": r.quarantined_rows,
            "gates_failed_on_day": [g.name for g in gates(r, spec) if not g.passed and not g.warn],
        }
    return out
