"""One place that turns a materialized table into the metadata every asset records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

PREVIEW_ROWS = 5
CELL_CHARS = 40


def column_schema(
    schema: Mapping[str, pl.DataType], descriptions: Mapping[str, str] | None = None
) -> dg.TableSchema:
    descriptions = descriptions or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(dtype), description=descriptions.get(name) or None)
            for name, dtype in schema.items()
        ]
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def markdown_preview(frame: pl.DataFrame, max_columns: int = 12) -> str:
    cols = frame.columns[:max_columns]
    head = "| " + " | ".join(cols) + " |"
    rule = "|" + "---|" * len(cols)
    rows = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.select(cols).iter_rows()
    ]
    more = (
        f"\n\n_{len(frame.columns) - len(cols)} more columns not shown._"
        if len(frame.columns) > len(cols)
        else ""
    )
    return "\n".join([head, rule, *rows]) + more


def run_metadata(*, rows_in: int, rows_out: int, seconds: float) -> dict[str, Any]:
    """Rows in/out, duration and throughput: numbers the UI plots over time."""
    return {
        "rows_in": dg.MetadataValue.int(rows_in),
        "rows_out": dg.MetadataValue.int(rows_out),
        "duration_s": dg.MetadataValue.float(round(seconds, 3)),
        "rows_per_second": dg.MetadataValue.float(
            round(rows_in / seconds, 1) if seconds > 0 else 0.0
        ),
    }


def table_metadata(
    table: pl.LazyFrame,
    *,
    rows_in: int,
    seconds: float,
    descriptions: Mapping[str, str] | None = None,
    location: str | None = None,
) -> dict[str, Any]:
    """The standard metadata for a table output: run numbers, schema, row count, preview."""
    schema = table.collect_schema()
    rows_out = int(table.select(pl.len()).collect().item())
    preview = table.head(PREVIEW_ROWS).collect()
    meta = run_metadata(rows_in=rows_in, rows_out=rows_out, seconds=seconds)
    meta["dagster/row_count"] = dg.MetadataValue.int(rows_out)
    meta["dagster/column_schema"] = column_schema(dict(schema), descriptions)
    meta["preview"] = dg.MetadataValue.md(markdown_preview(preview))
    if location:
        meta["location"] = dg.MetadataValue.path(location)
    return meta
