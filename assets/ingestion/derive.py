"""Derived columns: values a spec computes at ingestion from the row's other columns.

A column with an ``expression`` (the grammar of ``assets.core.expressions``) is never read from
the file: it is computed from the typed columns, in the order the spec declares them (a derived
column may read one declared before it), then cast to its declared type and validated like any
column. Where the expression gives no value (a null input, a month 13), the value is null, and
the column's own rules (``required``, ranges) say whether that row is valid.
"""

from __future__ import annotations

import polars as pl

from assets.core.expressions import compile_expression
from assets.core.spec import DatasetSpec


def derive(lf: pl.LazyFrame, spec: DatasetSpec) -> pl.LazyFrame:
    """``lf`` (conformed: spec columns typed) with each derived column computed in place."""
    names = [c.name for c in spec.columns]
    for col in spec.derived_columns:
        assert col.expression is not None  # derived_columns holds only these
        expr = compile_expression(col.expression, names).expr
        lf = lf.with_columns(expr.cast(col.polars_type, strict=False).alias(col.name))
    return lf
