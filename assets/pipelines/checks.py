"""A declarative pipeline's checks on its result: named, evaluated in one pass, judged."""

from __future__ import annotations

from typing import Any

import polars as pl

from assets.core.check_outcome import CheckOutcome
from assets.pipelines.spec import CheckSpec, PipelineSpec


def check_name(spec: PipelineSpec, check: CheckSpec) -> str:
    if check.name:
        return check.name
    body = getattr(check, check.kind)
    cols = getattr(body, "columns", None) or ([body.column] if hasattr(body, "column") else [])
    return "_".join([spec.name, check.kind, *cols])[:120]


def evaluate_checks(spec: PipelineSpec, frame: pl.LazyFrame) -> list[CheckOutcome]:
    """Every check of ``spec`` on the result, in one pass over it."""
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    for i, check in enumerate(spec.checks):
        if check.completeness:
            cols = check.completeness.columns
            exprs += [pl.col(c).is_not_null().mean().alias(f"{i}:{c}") for c in cols]
        elif check.uniqueness:
            cols = check.uniqueness.columns
            exprs.append(pl.struct(cols).is_duplicated().sum().alias(f"{i}:dup"))
        elif check.range:
            r, col = check.range, pl.col(check.range.column)
            bad = pl.lit(False)
            if r.min is not None:
                bad = bad | (col < r.min)
            if r.max is not None:
                bad = bad | (col > r.max)
            exprs += [bad.fill_null(False).sum().alias(f"{i}:bad"), col.min().alias(f"{i}:min")]
            exprs.append(col.max().alias(f"{i}:max"))
    row = frame.select(exprs).collect().row(0, named=True)
    rows = int(row["__rows"])
    outcomes = []
    for i, check in enumerate(spec.checks):
        meta: dict[str, Any]
        if check.completeness:
            shares = {
                c: float(row[f"{i}:{c}"] or 0.0) if rows else 1.0
                for c in check.completeness.columns
            }
            passed = all(v >= check.completeness.min for v in shares.values())
            meta = {"non_null_share": shares, "min": check.completeness.min}
        elif check.uniqueness:
            dup = int(row[f"{i}:dup"] or 0)
            passed = dup == 0
            meta = {"duplicated_rows": dup, "columns": check.uniqueness.columns}
        elif check.range:
            bad = int(row[f"{i}:bad"] or 0)
            passed = bad == 0
            meta = {
                "out_of_range_rows": bad,
                "observed_min": row[f"{i}:min"],
                "observed_max": row[f"{i}:max"],
                "min": check.range.min,
                "max": check.range.max,
            }
        else:
            assert check.row_count is not None
            rc = check.row_count
            passed = rows >= rc.min and (rc.max is None or rows <= rc.max)
            meta = {"rows": rows, "min": rc.min, "max": rc.max}
        severity = "ERROR" if check.blocking else "WARN"
        outcomes.append(CheckOutcome(check_name(spec, check), passed, severity, meta))
    return outcomes
