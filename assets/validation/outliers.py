"""Outliers: IQR fences and z-scores from clean rows; outliers marked, quarantined or capped."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from assets.core.spec import DatasetSpec
from assets.validation.names import names_where
from assets.validation.repeats import ROW_ID
from assets.validation.rules import EXACT_DUP, FIXES, OUTLIERS, REASONS, RULES, as_text

# Fences come from at most about this many rows: the exact quantiles hold the column in memory
# (8 bytes a row per column, ~400 MB at 50M rows), and every k-th of more rows pins IQR fences
# down as well (10M rows is the `large` benchmark's orders, whose fences stay exact).
FENCE_SAMPLE_ROWS = 10_000_000


def outlier_fences(
    flagged: pl.LazyFrame, spec: DatasetSpec, *, rows: int | None = None
) -> dict[str, dict[str, float]]:
    """IQR fences and mean/std per outlier column, from rows that pass every other rule.

    ``rows``: how many rows ``flagged`` came from. Beyond ``FENCE_SAMPLE_ROWS``, the fences are
    taken from every k-th of them by ``_row_id`` (the same rows on every run).
    """
    if spec.outliers is None:
        return {}
    o = spec.outliers
    clean = flagged.filter(~pl.col(EXACT_DUP) & (pl.col(RULES).list.len() == 0))
    if rows is not None and rows > FENCE_SAMPLE_ROWS:
        clean = clean.filter(pl.col(ROW_ID) % -(-rows // FENCE_SAMPLE_ROWS) == 0)
    exprs = []
    for c in o.columns:
        x = pl.col(c).cast(pl.Float64)
        exprs += [
            x.quantile(0.25, "linear").alias(f"{c}|q1"),
            x.quantile(0.75, "linear").alias(f"{c}|q3"),
            x.mean().alias(f"{c}|mean"),
            x.std().alias(f"{c}|std"),
        ]
    row = clean.select(exprs).collect().row(0, named=True)
    fences: dict[str, dict[str, float]] = {}
    for c in o.columns:
        q1, q3 = row[f"{c}|q1"], row[f"{c}|q3"]
        if q1 is None or q3 is None:
            continue
        iqr = q3 - q1
        fences[c] = {
            "q1": q1,
            "q3": q3,
            "low": q1 - o.iqr_k * iqr,
            "high": q3 + o.iqr_k * iqr,
            "mean": row[f"{c}|mean"] or 0.0,
            "std": row[f"{c}|std"] or 0.0,
        }
    return fences


def outliers_quarantined(spec: DatasetSpec, *, cap: bool) -> bool:
    """Whether ``flag_outliers`` quarantines outlier rows (adding the outlier to ``_rules``):
    then rows of the passing part can fail."""
    return spec.outliers is not None and spec.outliers.action == "quarantine" and not cap


def flag_outliers(
    flagged: pl.LazyFrame,
    spec: DatasetSpec,
    fences: Mapping[str, Mapping[str, float]],
    *,
    cap: bool,
) -> pl.LazyFrame:
    """Mark outliers in ``_outliers``; quarantine them if the spec says so; cap them if fixing."""
    if spec.outliers is None or not fences:
        return flagged.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(OUTLIERS))
    o = spec.outliers
    marks: list[tuple[pl.Expr, str]] = []
    cap_fixes: list[tuple[pl.Expr, str]] = []
    reasons: list[pl.Expr] = []
    caps: list[pl.Expr] = []
    for c, f in fences.items():
        x = pl.col(c).cast(pl.Float64)
        by_iqr = (x < f["low"]) | (x > f["high"])
        by_z = ((x - f["mean"]).abs() / f["std"] > o.z_threshold) if f["std"] > 0 else pl.lit(False)
        # Only rows that pass every other rule are judged: the rest are quarantined already.
        clean = pl.col(RULES).list.len() == 0
        hit = clean & {"iqr": by_iqr, "zscore": by_z, "both": by_iqr | by_z}[o.method].fill_null(
            False
        )
        marks.append((hit, f"outlier:{c}"))
        reasons.append(
            pl.when(hit).then(
                pl.lit(f"{c} ")
                + as_text(pl.col(c))
                + pl.lit(f" is an outlier (IQR fences {f['low']:.4g}..{f['high']:.4g}, ")
                + pl.lit(f"mean {f['mean']:.4g}, std {f['std']:.4g})")
            )
        )
        if cap:
            dtype = spec.column_map[c].polars_type
            caps.append(
                pl.when(hit)
                .then(x.clip(f["low"], f["high"]).cast(dtype))
                .otherwise(pl.col(c))
                .alias(c)
            )
            cap_fixes.append((hit & (pl.col(RULES).list.len() == 0), f"capped:{c}"))
    out = flagged.with_columns(
        names_where(marks).alias(OUTLIERS),
        pl.concat_list(reasons).list.drop_nulls().alias("_outlier_reasons"),
    )
    if outliers_quarantined(spec, cap=cap):
        out = out.with_columns(
            pl.col(RULES).list.concat(pl.col(OUTLIERS)).alias(RULES),
            pl.col(REASONS).list.concat(pl.col("_outlier_reasons")).alias(REASONS),
        )
    if cap:
        out = out.with_columns(
            *caps,
            pl.col(FIXES).list.concat(names_where(cap_fixes)).alias(FIXES),
        )
    return out.drop("_outlier_reasons")
