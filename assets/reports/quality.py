"""Data quality from the validation stage's records: the latest run per dataset with its worst
rule, and the quality report (rows per dataset, score per run against each gate, rule failures
with examples that name their row, schema drift, quarantined files), personal data masked."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from assets.core.columns import ERRORS_COLUMN
from assets.core.privacy import Mask, masked_columns
from assets.core.storage import Lake
from assets.reports import charts
from assets.reports import formatting as fmt
from assets.reports import html as h
from assets.reports.dictionary_page import links_section
from assets.reports.publication import PUBLICATION_LABELS, publication_frame
from assets.reports.report import Report, Scan
from assets.validation.quality import WEIGHTS

SUMMARY_METRICS = ["overall_score", "rows_in", "valid_rows", "quarantined_rows", "exact_duplicates"]
FILE_COLUMNS = ("entity", "file", "reason", "quarantined_at")
# Examples per rule combination, each with a different reason.
EXAMPLES = 2


def quarantine_table(dataset: str) -> str:
    return f"quarantined_{dataset}"


def worst_rules(quarantined: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
    """Per dataset, the rule that quarantined the most rows ("none" for an empty quarantine)
    and how many rows it quarantined.

    A row quarantined by several rules (``_rules`` lists each) counts for each of them.
    """
    tops = pl.collect_all(
        [
            q.select(pl.col("_rules").explode())
            .group_by("_rules")
            .len()
            .sort("len", "_rules", descending=[True, False])
            .head(1)
            for q in quarantined.values()
        ]
    )
    return pl.DataFrame(
        {
            "dataset": list(quarantined),
            "worst_rule": [top["_rules"][0] if top.height else "none" for top in tops],
            "worst_rule_rows": [int(top["len"][0]) if top.height else 0 for top in tops],
        },
        schema={"dataset": pl.String, "worst_rule": pl.String, "worst_rule_rows": pl.Int64},
    )


def current_history(scan: Scan, datasets: Sequence[str]) -> pl.DataFrame:
    """quality_history for the catalog's ``datasets`` only: parts a removed or renamed dataset
    left in the lake have no quarantine table this run declares or reports on. Whole runs only:
    the rows of each day a partitioned run covered (``partition`` set) are for comparing days."""
    history = scan("quality_history").filter(pl.col("dataset").is_in(list(datasets)))
    if "partition" in history.collect_schema():
        history = history.filter(pl.col("partition").is_null())
    return history.collect()


def quality_summary(history: pl.DataFrame, scan: Scan) -> pl.DataFrame:
    """Latest run's metrics per dataset (``quality_score`` is the run's overall score, 0-100),
    when it ran, and the rule that quarantined the most rows.

    ``history`` is quality_history; ``scan`` opens each ``quarantined_<dataset>``.
    """
    latest = (
        history.sort("recorded_at")
        .group_by("dataset")
        .agg(pl.col("run_id").last(), pl.col("recorded_at").last().alias("validated_at"))
    )
    wide = (
        history.join(latest, on=["dataset", "run_id"])
        .filter(pl.col("metric").is_in(SUMMARY_METRICS))
        .pivot(on="metric", index=["dataset", "validated_at"], values="value")
    )
    datasets = wide["dataset"].to_list()
    worst = worst_rules({d: scan(quarantine_table(d)) for d in datasets})
    return (
        wide.join(worst, on="dataset")
        .rename({"overall_score": "quality_score"})
        .with_columns(
            pl.col("rows_in", "valid_rows", "quarantined_rows", "exact_duplicates").cast(pl.Int64)
        )
        .select(
            "dataset",
            "validated_at",
            "rows_in",
            "exact_duplicates",
            "valid_rows",
            "quarantined_rows",
            "quality_score",
            "worst_rule",
            "worst_rule_rows",
        )
        .sort("dataset")
    )


def score_trend(history: pl.DataFrame) -> pl.DataFrame:
    """Each dataset's overall score per validation run, in time order."""
    return (
        history.filter(pl.col("metric") == "overall_score")
        .select("dataset", "run_id", "recorded_at", pl.col("value").alias("quality_score"))
        .sort("dataset", "recorded_at")
    )


def rule_failures(
    quarantined: Mapping[str, pl.LazyFrame],
    pii: Mapping[str, Mapping[str, Mask]] | None = None,
) -> pl.DataFrame:
    """Rows per dataset and rule combination ("a + b"), most rows first, with how many different
    reasons they give and up to ``EXAMPLES`` rows of different reasons, each as
    "reason (file, row n)". A reason quotes the values that broke the rule: the personal ones
    (each dataset's ``pii`` columns) are masked in the examples, and so is anything that looks
    like an e-mail address or a phone number; reasons are told apart by their real text."""
    rules = []
    for dataset, q in quarantined.items():
        masks = (pii or {}).get(dataset, {})
        schema = q.collect_schema()
        own = [c for c in (*masks, ERRORS_COLUMN) if c in schema]
        # A combination reads "a + b": a composite key's rule name holds ", " itself.
        rows = q.select(
            pl.col("_rules").list.join(" + "), "_reason", "_source_file", "_row_number", *own
        )
        counts = rows.group_by("_rules").agg(
            pl.len().alias("rows"), pl.col("_reason").n_unique().alias("reasons")
        )
        masked_reason = masked_columns(rows.collect_schema(), masks)["_reason"]
        examples = (
            rows.sort("_source_file", "_row_number")
            .unique(["_rules", "_reason"], keep="first", maintain_order=True)
            .with_columns(masked_reason)
            .group_by("_rules", maintain_order=True)
            .agg(
                pl.format("{} ({}, row {})", "_reason", "_source_file", pl.col("_row_number"))
                .head(EXAMPLES)
                .str.join("\n")
                .alias("examples")
            )
        )
        rules.append(
            counts.join(examples, on="_rules").with_columns(pl.lit(dataset).alias("dataset"))
        )
    if not rules:
        return pl.DataFrame()
    return (
        pl.concat(pl.collect_all(rules))
        .select("dataset", pl.col("_rules").alias("rules"), "rows", "reasons", "examples")
        .sort(["rows", "dataset", "rules"], descending=[True, False, False])
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
                **{
                    change: ", ".join(v.get(change, [])) or "none"
                    for change in ("added", "removed", "retyped")
                },
            }
            for d, v in drift.items()
        ],
        schema={c: pl.String for c in ("dataset", "added", "removed", "retyped")},
    )


def quarantined_files(quarantine_root: Path) -> pl.DataFrame:
    """The sidecar record of every landing file ingestion quarantined whole."""
    sidecars = sorted(quarantine_root.glob("files/*/*.json"))
    if not sidecars:
        return pl.DataFrame({"file": [], "reason": []})
    # Every field as text, read from every record: inferred from the first 100 records, a
    # field null in all of them (``copied_to`` of refused links) refused the 101st's text.
    records = [json.loads(p.read_text()) for p in sidecars]
    fields = list(dict.fromkeys(k for r in records for k in r))
    return pl.DataFrame(
        {f: [None if r.get(f) is None else str(r[f]) for r in records] for f in fields},
        schema=dict.fromkeys(fields, pl.String),
    )


def run_axis(times: Sequence[datetime]) -> tuple[tuple[datetime, datetime], str, str]:
    """The x range, tick format and label for validation runs at ``times``: hours on one day
    (the day in the label), days otherwise; a single run gets half an hour either side."""
    first, last = min(times), max(times)
    pad = max((last - first) * 0.05, timedelta(minutes=30))
    lo, hi = first - pad, last + pad
    if hi - lo > timedelta(days=2):
        return (lo, hi), "%Y-%m-%d", "run date (UTC)"
    if lo.date() == hi.date():
        return (lo, hi), "%H:%M", f"run time on {fmt.day(first)} (UTC)"
    return (lo, hi), "%m-%d %H:%M", f"run time in {first.year} (UTC)"


def score_chart(trend: pl.DataFrame, thresholds: Mapping[str, float]) -> str:
    """A panel per dataset: its score at each validation run, with its gate's threshold."""
    names = trend["dataset"].unique(maintain_order=True).to_list()
    low = min([*trend["quality_score"].to_list(), *(thresholds.get(d, 100.0) for d in names)])
    xlim, date_format, xlabel = run_axis(trend["recorded_at"].to_list())
    series, lines = {}, {}
    for d in names:
        rows = trend.filter(pl.col("dataset") == d)
        label = f"{d} (latest {fmt.number(rows['quality_score'][-1])})"
        series[label] = (rows["recorded_at"].to_list(), rows["quality_score"].to_list())
        if d in thresholds:
            lines[label] = thresholds[d]
    return charts.panels(
        series,
        title="Quality score at each validation run, with the gate's threshold",
        xlabel=xlabel,
        ylabel="quality score (0-100)",
        ylim=(max(0.0, low - 5), 101),
        xlim=xlim,
        date_format=date_format,
        reference=(lines, "gate threshold (downstream assets wait below it)"),
    )


def summary_table(summary: pl.DataFrame, thresholds: Mapping[str, float]) -> str:
    frame = summary.with_columns(
        (pl.col("quarantined_rows") / pl.col("rows_in")).alias("share_quarantined"),
        pl.col("dataset")
        .replace_strict(dict(thresholds), default=None, return_dtype=pl.Float64)
        .alias("threshold"),
        pl.format("{} ({} rows)", "worst_rule", "worst_rule_rows").alias("worst_rule"),
    ).select(
        "dataset",
        "validated_at",
        "rows_in",
        "exact_duplicates",
        "valid_rows",
        "quarantined_rows",
        "share_quarantined",
        "quality_score",
        "threshold",
        "worst_rule",
    )
    return h.table(
        frame,
        "datasets",
        labels={
            "validated_at": "latest validation run",
            "rows_in": "rows in",
            "exact_duplicates": "exact duplicates removed",
            "valid_rows": "valid rows",
            "quarantined_rows": "rows quarantined",
            "share_quarantined": "share quarantined",
            "quality_score": "quality score (0-100)",
            "threshold": "gate threshold",
            "worst_rule": "rule that quarantined most rows",
        },
        formats={"share_quarantined": lambda v: fmt.pct(v, 2), "threshold": fmt.number},
    )


def quality_report(
    history: pl.DataFrame,
    scan: Scan,
    lake: Lake,
    files: pl.DataFrame,
    thresholds: Mapping[str, float],
    generated: datetime,
    pii: Mapping[str, Mapping[str, Mask]] | None = None,
) -> Report:
    """The quality report's page and JSON twin, with its rows quarantined, lowest score and
    quarantined files as figures. ``lake`` holds validation's drift records; ``thresholds``
    is each dataset's quality-score gate; ``pii`` each dataset's personal columns, masked in
    the rule examples (the page's tables mask e-mail addresses and phone numbers anywhere)."""
    summary = quality_summary(history, scan)
    datasets = summary["dataset"].to_list()
    drift = read_drift(lake, datasets)
    publication = publication_frame(lake, datasets)
    trend = score_trend(history)
    rule_table = rule_failures({d: scan(quarantine_table(d)) for d in datasets}, pii)
    file_columns = [c for c in FILE_COLUMNS if c in files.columns]
    weights = ", ".join(f"{k} {v:g}" for k, v in WEIGHTS.items())
    worst = summary.sort("quality_score").row(0, named=True)
    quarantined_rows = int(summary["quarantined_rows"].sum())
    below = summary.filter(
        pl.col("quality_score")
        < pl.col("dataset").replace_strict(dict(thresholds), default=0.0, return_dtype=pl.Float64)
    )["dataset"].to_list()
    sections = [
        (
            "Rows per dataset",
            h.method(
                "Each dataset's latest validation run (validation.quality_history): rows in, "
                "exact duplicates removed, rows that passed every rule and rows quarantined "
                "(rows in = duplicates + valid + quarantined). The quality score (0-100) weighs "
                f"the share of rows passing each kind of check: {weights}. A dataset below its "
                "gate threshold holds back the assets downstream of it."
            )
            + summary_table(summary, thresholds),
        ),
        (
            "Quality score over validation runs",
            h.method(
                "One panel per dataset, so no series hides another: the score of every "
                "validation run recorded in quality_history, on a y axis that runs from just "
                "below the lowest gate threshold or score to 100, with the dataset's threshold "
                "dashed."
            )
            + h.chart(score_chart(trend, thresholds), "quality-trend"),
        ),
        (
            "Rule failures with examples",
            h.method(
                "Rows per rule combination in each dataset's quarantine (a row that broke "
                "several rules counts once, under its combination), how many different reasons "
                f"they give, and up to {EXAMPLES} examples with different reasons, each named "
                "by its landing file and row number there."
            )
            + (
                h.table(rule_table, "rules", labels={"reasons": "different reasons"})
                if rule_table.height
                else "<p>No rule failed.</p>"
            ),
        ),
        (
            "Schema drift since the previous run",
            h.method("Columns added, removed or retyped against each dataset's previous run.")
            + h.table(drift_frame(drift), "drift"),
        ),
        ("Data dictionary", links_section(datasets)),
        (
            "Published versions",
            h.method(
                "The version of each validated table that every reader sees, and the newer "
                "version held back because a blocking gate failed (it is never read; the next "
                "version that passes every gate is published)."
            )
            + h.table(
                publication,
                "publication",
                labels=PUBLICATION_LABELS,
                formats={"published_at": fmt.moment, "held_back_at": fmt.moment},
            ),
        ),
        (
            "Quarantined files",
            h.table(files.select(file_columns), "files")
            if files.height
            else "<p>No file was quarantined.</p>",
        ),
    ]
    gate_note = (
        f"below its gate: {', '.join(below)}."
        if below
        else "every dataset is at or above its gate threshold."
    )
    page = h.page(
        "Data quality report",
        generated,
        sections,
        data_note=f"Latest validation run: {fmt.moment(summary['validated_at'].max())}.",
        summary=h.esc(
            f"{fmt.count(quarantined_rows)} rows quarantined across {summary.height} datasets "
            f"in their latest validation runs; lowest quality score "
            f"{fmt.number(worst['quality_score'])} of 100 ({worst['dataset']}); " + gate_note
        ),
    )
    payload = {
        "datasets": summary.to_dicts(),
        "rules": rule_table.to_dicts(),
        "drift": drift,
        "publication": publication.to_dicts(),
        "quarantined_files": files.to_dicts(),
        "score_history": trend.to_dicts(),
        "thresholds": dict(thresholds),
    }
    figures = {
        "rows_quarantined": quarantined_rows,
        "lowest_quality_score": float(worst["quality_score"]),
        "quarantined_files": files.height,
    }
    return Report(page, payload, figures)
