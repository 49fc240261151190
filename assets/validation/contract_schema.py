"""The pandera (Polars backend) schema of a dataset, built from the same spec as the row rules.

It runs as a blocking check on every validated table: an independent second implementation of
the contract, so a bug in either one shows up as a failed check instead of bad data downstream.

Pandera checks only the schema (names, types) of a ``LazyFrame`` unless told to check the data,
so the table is checked as DataFrames of at most ``BATCH_ROWS`` rows, which bounds memory. A
batch cannot see a repeat in another batch, so uniqueness is checked on its own, over the
unique columns only, of the whole table.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from assets.core.spec import DatasetSpec
from assets.validation.repeats import HASH_BUCKET_ROWS, HASH_COLUMN, ROW_ID, repeated_hash_rows
from assets.validation.rules import bound

# Pandera's checks cost ~35 ms a batch whatever its size (about fifty small queries): 10M
# orders took 2.36 s in 500k-row batches, 2.08 s in 1M-row ones, for ~10 MB more memory.
BATCH_ROWS = 1_000_000


def _unique_columns(spec: DatasetSpec) -> list[str]:
    return [c.name for c in spec.columns if [c.name] == spec.key or c.unique]


def contract_schema(spec: DatasetSpec, today: date, *, unique: bool = True) -> pa.DataFrameSchema:
    """The contract as pandera checks; ``unique=False`` leaves the uniqueness checks out."""
    keyed = set(_unique_columns(spec)) if unique else set()
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
            unique=col.name in keyed,
            required=True,
        )
    return pa.DataFrameSchema(columns, strict=False, name=spec.name)


def _failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame | None:
    with config_context(validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            return exc.failure_cases
    return None


def contract_failures(
    frame: pl.LazyFrame,
    spec: DatasetSpec,
    today: date,
    *,
    batch_rows: int = BATCH_ROWS,
    scratch_dir: Path | None = None,
    bucket_rows: int = HASH_BUCKET_ROWS,
) -> pl.DataFrame:
    """Pandera's failure cases for ``frame``, data included (empty when it conforms).

    ``index`` is the failing row's position in the whole frame. With ``scratch_dir``, the
    search for repeated values holds one bucket of hashes at a time
    (``repeats.repeated_hash_rows``).
    """
    found: list[pl.DataFrame] = []
    # Only the contract's columns are read (lineage, fixes and outlier marks are not checked);
    # a missing one stays missing, for pandera to report.
    present = frame.collect_schema()
    frame = frame.select([c.name for c in spec.columns if c.name in present])
    rows = frame.select(pl.len()).collect().item()
    schema = contract_schema(spec, today, unique=False)
    for offset in range(0, max(rows, 1), batch_rows):
        failed = _failures(schema, frame.slice(offset, batch_rows).collect())
        if failed is not None:
            found.append(failed.with_columns(pl.col("index").cast(pl.Int64) + offset))
    if rows:
        found += [
            f
            for f in (
                _repeats(frame, c, spec.name, scratch_dir, bucket_rows)
                for c in _unique_columns(spec)
            )
            if f is not None
        ]
    if not found:
        return pl.DataFrame(
            schema={"failure_case": pl.String, "column": pl.String, "check": pl.String}
        )
    return pl.concat(
        [f.with_columns(pl.col("failure_case").cast(pl.String)) for f in found], how="diagonal"
    )


def _repeats(
    frame: pl.LazyFrame, column: str, name: str, scratch_dir: Path | None, bucket_rows: int
) -> pl.DataFrame | None:
    """Pandera's uniqueness failures of ``column`` over the whole frame, or None.

    Only values that share a 64-bit hash with another row can repeat, and pandera compares those
    exactly: ``is_duplicated`` over 2M order ids took ~1.2 s, counting their hashes ~0.1 s.
    Counting 50M hashes at once held ~4 GB, hence the buckets when there is a scratch folder.
    """
    if column not in frame.collect_schema():
        return None  # the batches report the missing column
    hashed = frame.select(pl.col(column).hash().alias(HASH_COLUMN)).with_row_index(ROW_ID)
    rows = repeated_hash_rows(hashed, scratch_dir, bucket_rows=bucket_rows).alias("row")
    if rows.is_empty():
        return None
    # The candidates' values only: the key column of the whole table is never held at once.
    values = (
        frame.select(column)
        .with_row_index("row")
        .join(pl.LazyFrame({"row": rows}), on="row", how="semi")
        .sort("row")
        .collect()
        .get_column(column)
    )
    schema = pa.DataFrameSchema({column: pa.Column(unique=True, nullable=True)}, name=name)
    failed = _failures(schema, values.to_frame())
    if failed is None:
        return None
    at = failed.get_column("index").cast(pl.Int64)
    return failed.with_columns(rows.cast(pl.Int64).gather(at).alias("index"))
