"""The pandera (Polars backend) schema of a dataset, built from the same spec as the row rules.

It runs as a blocking check on every validated table: an independent second implementation of
the contract, so a bug in either one shows up as a failed check instead of bad data downstream.
"""

from __future__ import annotations

from datetime import date

import pandera.polars as pa
import polars as pl

from assets.ingestion.contracts import DatasetSpec
from assets.validation.rules import bound


def contract_schema(spec: DatasetSpec, today: date) -> pa.DataFrameSchema:
    columns = {}
    for col in spec.columns:
        checks = []
        if col.min is not None:
            checks.append(pa.Check.ge(bound(col, col.min, today)))
        if col.max is not None:
            checks.append(pa.Check.le(bound(col, col.max, today)))
        if col.allowed is not None:
            checks.append(pa.Check.isin(col.allowed))
        if col.regex is not None:
            checks.append(pa.Check.str_matches(col.regex))
        columns[col.name] = pa.Column(
            col.polars_type,
            checks=checks,
            nullable=not col.required,
            unique=[col.name] == spec.key or col.unique,
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=False, name=spec.name)


def contract_failures(frame: pl.LazyFrame, spec: DatasetSpec, today: date) -> pl.DataFrame:
    """Pandera's failure cases for ``frame`` (empty when it conforms)."""
    try:
        contract_schema(spec, today).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return pl.DataFrame(schema={"failure_case": pl.String, "column": pl.String, "check": pl.String})
