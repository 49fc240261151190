"""The columns the pipeline adds to every dataset's rows, named once for every stage."""

from __future__ import annotations

import polars as pl

from assets.core.spec import DatasetSpec

# Values that could not be cast to their declared type, as a JSON object keyed by column; set at
# ingestion, read by validation to flag the row.
ERRORS_COLUMN = "_ingest_errors"
# Where each row came from: the landing file, its content hash and the row's place in it.
PROVENANCE = ("_source_file", "_file_sha256", "_row_number")
# The daily partition a row was written to (a date).
PARTITION = "_partition"


def event_day(spec: DatasetSpec) -> pl.Expr:
    """The calendar day (UTC) of the dataset's partition column."""
    assert spec.partitioning is not None
    return pl.col(spec.partitioning.column).cast(pl.Date)
