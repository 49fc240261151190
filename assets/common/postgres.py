"""Publishing a lake table to PostgreSQL: replaced whole, in one transaction.

A table is streamed from the lake to a local CSV file, copied into a staging table and swapped
in (see ``PostgresResource.replace_table``): readers of the old table never see a half-loaded
one, and a failed publish leaves the old rows as they were.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.core.frames import as_json_text, is_nested
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
    ready = csv_ready(frame)
    columns = list(ready.collect_schema().items())
    csv_path = workdir / f"{table}.csv"
    # Polars writes null as an empty field and "" as a quoted empty string, as COPY expects.
    ready.sink_csv(csv_path, datetime_format="%Y-%m-%dT%H:%M:%S%.6f")
    try:
        return pg.replace_table(table, columns, csv_path, key=key)
    finally:
        csv_path.unlink(missing_ok=True)
