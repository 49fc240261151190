"""Publishing lake tables to PostgreSQL: replaced whole, all of them in one transaction.

Each table is streamed from the lake to a local CSV file, copied into a staging table, and the
staging tables are swapped in together (see ``PostgresResource.replace_tables``): readers never
see a half-loaded table or a mix of new and old tables, and a failed publish leaves every old
table as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import polars as pl

from assets.core.frames import as_json_text, is_nested
from assets.core.pg import RefusedRowsError, TableLoad
from resources.postgres import PostgresResource


def csv_ready(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Nested columns as JSON text, so every column has a plain PostgreSQL type."""
    nested = [(n, t) for n, t in frame.collect_schema().items() if is_nested(t)]
    return frame.with_columns(as_json_text(n, t) for n, t in nested) if nested else frame


def publish_frame(
    pg: PostgresResource,
    frame: pl.LazyFrame,
    table: str,
    workdir: Path,
    *,
    key: tuple[str, ...] = (),
) -> int:
    """Replace ``table`` (``schema.name``) with ``frame``; returns the rows now in it."""
    return publish_frames(pg, [(table, frame, key)], workdir)[table]


def publish_frames(
    pg: PostgresResource,
    tables: Sequence[tuple[str, pl.LazyFrame, tuple[str, ...]]],
    workdir: Path,
) -> dict[str, int]:
    """Replace each ``(table, frame, key)``'s table with its frame, all in one transaction (every
    table new, or on any failure every table as it was); returns the rows now in each.

    Rows PostgreSQL refuses fail the step without its retries: the same rows would be refused
    again, and each retry would wait out its delay first."""
    loads: list[TableLoad] = []
    try:
        for i, (table, frame, key) in enumerate(tables):
            ready = csv_ready(frame)
            # The index keeps two schemas' tables of one name apart.
            csv_path = workdir / f"{i:03d}-{table}.csv"
            # Polars writes null as an empty field and "" as a quoted empty string, as COPY
            # expects.
            ready.sink_csv(csv_path, datetime_format="%Y-%m-%dT%H:%M:%S%.6f")
            loads.append(TableLoad(table, tuple(ready.collect_schema().items()), csv_path, key))
        return pg.replace_tables(loads)
    except RefusedRowsError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    finally:
        for load in loads:
            load.csv_path.unlink(missing_ok=True)
