"""The data dictionary of a dataset as tables: what its spec declares (columns, types,
descriptions, rules, keys, foreign keys) next to what its latest validated rows hold (null
shares, distinct values, ranges, distributions), and what its latest validation run measured
(foreign-key coverage, when it ran).

Nulls, ranges and histograms come from one lazy ``select`` of aggregates over the validated
table, distinct values and top values from a ``group_by`` of each column. A
personal column (``pii: true``) gets only counts (rows, nulls, distinct values): no minimum,
maximum, distribution or top value is ever computed for it, so none can reach a page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import polars as pl

from assets.core.frames import most_frequent, value_counts
from assets.core.spec import ColumnSpec, DatasetSpec
from assets.core.spec_text import column_rules, foreign_key_text, number_text, rule_text
from assets.reports import formatting as fmt

TOP_VALUES = 5
BINS = 10
NUMERIC = ("integer", "float")
TEMPORAL = ("date", "datetime")
DISTRIBUTION_SCHEMA = {"value": pl.String, "rows": pl.Int64}


@dataclass(frozen=True)
class Dictionary:
    """One dataset's dictionary. ``columns`` has a row per declared column; each
    ``distributions`` frame (value, rows) is what the column's chart draws and lists, and
    ``binned`` names the columns whose values are ranges (equal-width bins)."""

    spec: DatasetSpec
    rows: int
    columns: pl.DataFrame
    distributions: dict[str, pl.DataFrame]
    binned: frozenset[str]
    foreign_keys: pl.DataFrame
    rules: pl.DataFrame
    validated_at: datetime | None
    run_id: str | None
    latest_row: tuple[str, str] | None  # the column it is read from, its largest value


def _profiled(spec: DatasetSpec, present: set[str]) -> list[ColumnSpec]:
    return [c for c in spec.columns if c.name in present]


def _aggregates(columns: list[ColumnSpec]) -> list[pl.Expr]:
    """Every statistic of every column, each a one-row aggregate named ``<stat>:<column>``."""
    exprs = [pl.len().alias("rows")]
    for c in columns:
        col = pl.col(c.name)
        exprs.append(col.null_count().alias(f"nulls:{c.name}"))
        if c.pii:  # its distinct count here; its values are never grouped
            exprs.append(col.drop_nulls().n_unique().alias(f"distinct:{c.name}"))
        if c.pii or not (c.type in NUMERIC or c.type in TEMPORAL):
            continue
        physical = col.to_physical().cast(pl.Float64)
        exprs += [
            col.min().alias(f"min:{c.name}"),
            col.max().alias(f"max:{c.name}"),
            physical.hist(bin_count=BINS, include_breakpoint=True)
            .implode()
            .alias(f"hist:{c.name}"),
        ]
    return exprs


def _counts(counts: pl.DataFrame) -> pl.DataFrame:
    """A column's ``value_counts`` (value, rows) as the page lists them: values as text."""
    return counts.select(
        pl.col("value").cast(pl.String), pl.col("rows").cast(pl.Int64)
    ).match_to_schema(DISTRIBUTION_SCHEMA)


def _shown(value: Any, column: ColumnSpec) -> str:
    """A minimum or maximum as the page prints it."""
    if value is None:
        return fmt.MISSING
    if column.type in ("integer", "float"):
        return number_text(value) if math.isfinite(value) else fmt.MISSING
    return fmt.moment(value) if column.type == "datetime" else fmt.day(value)


def _bin_edge(value: float, column: ColumnSpec, dtype: pl.DataType) -> str:
    """A bin's edge (a physical value: days, or time units since the epoch, for a date or
    datetime of the table's own ``dtype``) as the page prints it."""
    if column.type in TEMPORAL:
        return _shown(pl.Series([round(value)], dtype=pl.Int64).cast(dtype)[0], column)
    return number_text(round(value) if column.type == "integer" else value)


def _histogram(
    bins: list[dict[str, Any]], low: Any, column: ColumnSpec, dtype: pl.DataType
) -> pl.DataFrame:
    """Bins (upper breakpoint, rows) as ranges ``low to high``; none when no value is present."""
    if low is None or not sum(b["count"] for b in bins):
        return pl.DataFrame(schema=DISTRIBUTION_SCHEMA)
    start = pl.Series([low], dtype=dtype).to_physical().cast(pl.Float64)[0]
    edges = [start, *(b["breakpoint"] for b in bins)]
    labels = [
        f"{_bin_edge(lo, column, dtype)} to {_bin_edge(hi, column, dtype)}"
        for lo, hi in pairwise(edges)
    ]
    return pl.DataFrame(
        {"value": labels, "rows": [int(b["count"]) for b in bins]}, schema=DISTRIBUTION_SCHEMA
    )


def profile(
    frame: pl.LazyFrame, spec: DatasetSpec
) -> tuple[int, pl.DataFrame, dict[str, pl.DataFrame], frozenset[str]]:
    """Rows, the column table and each non-personal column's distribution (a histogram of
    ``BINS`` equal-width bins for numbers and dates, the ``TOP_VALUES`` most frequent values
    otherwise), from one ``select`` over ``frame`` and a ``group_by`` of each column; ``frame``
    is one published version's files, so every figure is of the same rows."""
    schema = frame.collect_schema()
    columns = _profiled(spec, set(schema.names()))
    names = {c.name for c in columns}
    stats = frame.select(_aggregates(columns)).collect(engine="streaming").row(0, named=True)
    rows = int(stats["rows"])
    records, distributions, binned = [], {}, set()
    for c in spec.columns:
        present = c.name in names
        nulls = int(stats[f"nulls:{c.name}"]) if present else None
        # Distinct values and their rows, one column at a time.
        counts = value_counts(frame, c.name) if present and not c.pii else None
        distinct = counts.height if counts is not None else stats.get(f"distinct:{c.name}")
        records.append(
            {
                "column": c.name,
                "type": c.type,
                "description": c.description,
                "pii": c.pii,
                "rules": column_rules(c),
                "present": present,
                "nulls": nulls,
                "null_share": nulls / rows if nulls is not None and rows else None,
                "present_rows": rows - nulls if nulls is not None else None,
                "distinct": distinct,
                "min": _shown(stats.get(f"min:{c.name}"), c) if f"min:{c.name}" in stats else "",
                "max": _shown(stats.get(f"max:{c.name}"), c) if f"max:{c.name}" in stats else "",
            }
        )
        if counts is None:
            continue
        if c.type == "integer" and counts.height <= BINS:
            # A few distinct whole numbers read better one bar each than as ranges.
            distributions[c.name] = _counts(counts.sort("value"))
        elif f"hist:{c.name}" in stats:
            low = stats[f"min:{c.name}"]
            distributions[c.name] = _histogram(stats[f"hist:{c.name}"], low, c, schema[c.name])
            binned.add(c.name)
        else:
            distributions[c.name] = _counts(most_frequent(counts, TOP_VALUES))
    table = pl.DataFrame(
        records,
        schema={
            "column": pl.String,
            "type": pl.String,
            "description": pl.String,
            "pii": pl.Boolean,
            "rules": pl.List(pl.String),
            "present": pl.Boolean,
            "nulls": pl.Int64,
            "null_share": pl.Float64,
            "present_rows": pl.Int64,
            "distinct": pl.Int64,
            "min": pl.String,
            "max": pl.String,
        },
    )
    return rows, table, distributions, frozenset(binned)


def latest_run(history: pl.DataFrame, dataset: str) -> tuple[str | None, Any, dict[str, float]]:
    """The run id, time and metrics of ``dataset``'s latest validation run in quality_history."""
    own = history.filter(pl.col("dataset") == dataset)
    if own.is_empty():
        return None, None, {}
    last = own.sort("recorded_at").row(-1, named=True)
    metrics = own.filter(pl.col("run_id") == last["run_id"])
    return last["run_id"], last["recorded_at"], dict(metrics.select("metric", "value").iter_rows())


def foreign_key_table(spec: DatasetSpec, metrics: dict[str, float]) -> pl.DataFrame:
    """Each foreign key with the share of its present values that matched the parent in the
    latest run (``referential:<label>`` in quality_history), its threshold and its check."""
    default = spec.thresholds.referential_integrity
    return pl.DataFrame(
        {
            "foreign_key": [foreign_key_text(fk) for fk in spec.foreign_keys],
            "coverage": [metrics.get(f"referential:{fk.label}") for fk in spec.foreign_keys],
            "threshold": [
                default if fk.threshold is None else fk.threshold for fk in spec.foreign_keys
            ],
            "severity": [fk.severity for fk in spec.foreign_keys],
            "check": [spec.reference_check_name(fk) for fk in spec.foreign_keys],
        },
        schema={
            "foreign_key": pl.String,
            "coverage": pl.Float64,
            "threshold": pl.Float64,
            "severity": pl.String,
            "check": pl.String,
        },
    )


def rule_table(spec: DatasetSpec) -> pl.DataFrame:
    """The row rules: each condition, severity, threshold and check (if it has its own)."""
    return pl.DataFrame(
        {
            "rule": [r.name for r in spec.rules],
            "condition": [rule_text(r) for r in spec.rules],
            "description": [r.description for r in spec.rules],
            "severity": [r.severity for r in spec.rules],
            "threshold": [r.threshold for r in spec.rules],
            "check": [spec.rule_check_name(r) if r.has_check else "" for r in spec.rules],
        },
        schema={
            "rule": pl.String,
            "condition": pl.String,
            "description": pl.String,
            "severity": pl.String,
            "threshold": pl.Float64,
            "check": pl.String,
        },
    )


def freshness_column(spec: DatasetSpec) -> str | None:
    """The column a row's time is read from: the one the spec's freshness names, the partition
    column, the source's watermark, else the first non-personal datetime or date column."""
    for name in (
        spec.freshness.column,
        spec.partitioning.column if spec.partitioning else None,
        spec.source.watermark_column,
    ):
        if name and spec.column_map[name].type in TEMPORAL and not spec.column_map[name].pii:
            return name
    for kind in ("datetime", "date"):
        for c in spec.columns:
            if c.type == kind and not c.pii:
                return c.name
    return None


def dictionary(frame: pl.LazyFrame, spec: DatasetSpec, history: pl.DataFrame) -> Dictionary:
    """The dictionary of ``spec`` over its validated rows ``frame`` and quality_history."""
    rows, columns, distributions, binned = profile(frame, spec)
    run_id, validated_at, metrics = latest_run(history, spec.name)
    when = freshness_column(spec)
    latest = None
    if when is not None:
        row = columns.filter(pl.col("column") == when).row(0, named=True)
        latest = (when, row["max"]) if row["present"] else None
    return Dictionary(
        spec=spec,
        rows=rows,
        columns=columns,
        distributions=distributions,
        binned=binned,
        foreign_keys=foreign_key_table(spec, metrics),
        rules=rule_table(spec),
        validated_at=validated_at,
        run_id=run_id,
        latest_row=latest,
    )
