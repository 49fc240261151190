"""auto_fix imputation: required values filled with the median or the most frequent value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from assets.core.columns import ERRORS_COLUMN
from assets.core.spec import DatasetSpec
from assets.validation.names import names_where
from assets.validation.rules import FIXES


def imputation_values(lf: pl.LazyFrame, spec: DatasetSpec) -> dict[str, Any]:
    """auto_fix fill values: the median for numbers, the most frequent value for text.

    Keys, foreign keys, dates and personal columns are never imputed: a made-up identity or
    time, or the most frequent customer's e-mail given to others, is worse than a quarantined
    row.
    """
    never = set(spec.key) | {c for fk in spec.foreign_keys for c in fk.columns}
    targets = [c for c in spec.columns if c.required and c.name not in never and not c.pii]
    exprs = []
    for col in targets:
        if col.type in ("integer", "float"):
            exprs.append(pl.col(col.name).median().cast(col.polars_type).alias(col.name))
        elif col.type in ("string", "boolean"):
            exprs.append(pl.col(col.name).drop_nulls().mode().first().alias(col.name))
    if not exprs:
        return {}
    row = lf.select(exprs).collect().row(0, named=True)
    return {k: v for k, v in row.items() if v is not None}


def apply_imputation(lf: pl.LazyFrame, fills: Mapping[str, Any]) -> pl.LazyFrame:
    """Fill missing values (including values that failed to cast), recording each fix."""
    if not fills:
        return lf.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FIXES))
    fixes = names_where([(pl.col(c).is_null(), f"imputed:{c}") for c in fills])
    errors = pl.col(ERRORS_COLUMN)
    cleaned_errors = errors
    for c in fills:
        # The imputed value replaces the uncastable text; drop that column's entry.
        cleaned_errors = cleaned_errors.str.replace(rf'(, )?"{c}": "(?:[^"\\]|\\.)*"', "")
    cleaned_errors = cleaned_errors.str.replace(r"^\{, ", "{")
    cleaned_errors = pl.when(cleaned_errors == "{}").then(None).otherwise(cleaned_errors)
    return lf.with_columns(fixes.alias(FIXES)).with_columns(
        *[pl.col(c).fill_null(pl.lit(v)) for c, v in fills.items()],
        cleaned_errors.alias(ERRORS_COLUMN),
    )
