"""Data quality from the validation stage's records: the latest run per dataset with its worst
rule, and the quality report (score trend, rule failures, schema drift, quarantined files)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from assets.core.storage import Lake
from assets.reports import html as h
from assets.reports.report import Report, Scan

SUMMARY_METRICS = ["overall_score", "rows_in", "valid_rows", "quarantined_rows", "exact_duplicates"]
FILE_COLUMNS = ("entity", "file", "reason", "quarantined_at")


def quarantine_table(dataset: str) -> str:
    return f"quarantined_{dataset}"


def worst_rules(quarantined: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
    """Per dataset, the rule that quarantined the most rows ("none" for an empty quarantine).

    A row quarantined by several rules (``_rules`` lists each) counts for each of them.
    """
    tops = pl.collect_all(
        [
            q.select(pl.col("_rules").explode())
            .group_by("_rules")
            .len()
            .sort("len", descending=True)
            .head(1)
            for q in quarantined.values()
        ]
    )
    return pl.DataFrame(
        {
            "dataset": list(quarantined),
            "worst_rule": [top["_rules"][0] if top.height else "none" for top in tops],
        },
        schema={"dataset": pl.String, "worst_rule": pl.String},
    )


def current_history(scan: Scan, datasets: Sequence[str]) -> pl.DataFrame:
    """quality_history for the catalog's ``datasets`` only: parts a removed or renamed dataset
    left in the lake have no quarantine table this run declares or reports on."""
    return scan("quality_history").filter(pl.col("dataset").is_in(list(datasets))).collect()


def quality_summary(history: pl.DataFrame, scan: Scan) -> pl.DataFrame:
    """Latest run's metrics per dataset, with the rule that quarantined the most rows.

    ``history`` is quality_history; ``scan`` opens each ``quarantined_<dataset>``.
    """
    latest = history.sort("recorded_at").group_by("dataset").agg(pl.col("run_id").last())
    wide = (
        history.join(latest, on=["dataset", "run_id"])
        .filter(pl.col("metric").is_in(SUMMARY_METRICS))
        .pivot(on="metric", index="dataset", values="value")
    )
    datasets = wide["dataset"].to_list()
    worst = worst_rules({d: scan(quarantine_table(d)) for d in datasets})
    return (
        wide.join(worst, on="dataset")
        .with_columns(
            pl.col("overall_score").alias("quality_score"),
            pl.col("rows_in", "valid_rows", "quarantined_rows", "exact_duplicates").cast(pl.Int64),
        )
        .sort("dataset")
    )


def score_trend(history: pl.DataFrame) -> pl.DataFrame:
    """The overall score of each dataset's runs, numbered per dataset (``run`` 1 is its first)."""
    return (
        history.filter(pl.col("metric") == "overall_score")
        .sort("recorded_at")
        .with_columns(pl.col("recorded_at").rank("dense").over("dataset").alias("run"))
    )


def score_series(
    trend: pl.DataFrame, datasets: list[str]
) -> tuple[list[int], dict[str, list[float | None]]]:
    """Run numbers and each dataset's scores, aligned on its latest run (earlier runs of a
    dataset with fewer runs are gaps)."""
    series = {d: trend.filter(pl.col("dataset") == d)["value"].to_list() for d in datasets}
    longest = max((len(v) for v in series.values()), default=0)
    padded: dict[str, list[float | None]] = {
        d: [*([None] * (longest - len(v))), *v] for d, v in series.items()
    }
    return list(range(1, longest + 1)), padded


def rule_failures(quarantined: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
    """Rows per dataset and rule combination, with two example reasons, most rows first."""
    rules = [
        q.select(pl.col("_rules").list.join(" + "), "_reason")
        .group_by("_rules")
        .agg(pl.len().alias("rows"), pl.col("_reason").head(2).str.join(" | ").alias("examples"))
        .with_columns(pl.lit(d).alias("dataset"))
        .collect()
        for d, q in quarantined.items()
    ]
    if not rules:
        return pl.DataFrame()
    return (
        pl.concat(rules)
        .select("dataset", "_rules", "rows", "examples")
        .sort("rows", descending=True)
    )


def read_drift(lake: Lake, datasets: list[str]) -> dict[str, dict[str, Any]]:
    """Each dataset's schema drift since its previous run, as validation recorded it."""
    drift = {}
    for d in datasets:
        state = lake.state_path("validation", f"{d}_drift.json")
        drift[d] = json.loads(state.read_text()) if state.exists() else {}
    return drift


def drift_frame(drift: Mapping[str, Mapping[str, list[str]]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "dataset": d,
                "added": ", ".join(v.get("added", [])),
                "removed": ", ".join(v.get("removed", [])),
                "retyped": ", ".join(v.get("retyped", [])),
            }
            for d, v in drift.items()
        ]
    )


def quarantined_files(quarantine_root: Path) -> pl.DataFrame:
    """The sidecar record of every landing file ingestion quarantined whole."""
    sidecars = sorted(quarantine_root.glob("files/*/*.json"))
    if not sidecars:
        return pl.DataFrame({"file": [], "reason": []})
    return pl.DataFrame([json.loads(p.read_text()) for p in sidecars])


def quality_report(
    history: pl.DataFrame, scan: Scan, lake: Lake, files: pl.DataFrame, generated: date
) -> Report:
    """The quality report's page and JSON twin, with its rows quarantined, lowest score and
    quarantined files as figures. ``lake`` holds validation's drift records."""
    summary = quality_summary(history, scan)
    datasets = summary["dataset"].to_list()
    drift = read_drift(lake, datasets)
    trend = score_trend(history)
    runs, padded = score_series(trend, datasets)
    rule_table = rule_failures({d: scan(quarantine_table(d)) for d in datasets})
    file_columns = [c for c in FILE_COLUMNS if c in files.columns]
    sections = [
        ("Rows per dataset", h.table(summary)),
        (
            "Quality score over runs",
            h.chart(h.line_chart(runs, padded, "Overall quality score by run"), "quality-trend"),
        ),
        (
            "Rule failures with examples",
            h.table(rule_table) if rule_table.height else "<p>No rule failed.</p>",
        ),
        ("Schema drift since the previous run", h.table(drift_frame(drift))),
        (
            "Quarantined files",
            h.table(files.select(file_columns))
            if files.height
            else "<p>No file was quarantined.</p>",
        ),
    ]
    worst = summary.sort("quality_score").row(0, named=True)
    quarantined_rows = int(summary["quarantined_rows"].sum())
    page = h.page(
        "Data quality report",
        generated,
        sections,
        summary=f"{quarantined_rows:,} rows quarantined across "
        f"{summary.height} datasets; lowest score {worst['quality_score']:.1f} "
        f"({worst['dataset']}).",
    )
    payload = {
        "datasets": summary.to_dicts(),
        "rules": rule_table.to_dicts(),
        "drift": drift,
        "quarantined_files": files.to_dicts(),
        "score_history": trend.to_dicts(),
    }
    figures = {
        "rows_quarantined": quarantined_rows,
        "lowest_quality_score": float(worst["quality_score"]),
        "quarantined_files": files.height,
    }
    return Report(page, payload, figures)
