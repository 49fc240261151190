"""One place that turns a materialized table into the metadata every asset records, with
personal data masked (``assets.core.privacy``): the UI is for everyone who may run the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from assets.core.privacy import Mask, mask_frame, mask_json, mask_text
from assets.core.spec import DatasetSpec
from assets.core.spec_text import column_rules, table_rules

PREVIEW_ROWS = 5
CELL_CHARS = 40


def column_schema(
    schema: Mapping[str, pl.DataType],
    descriptions: Mapping[str, str] | None = None,
    spec: DatasetSpec | None = None,
) -> dg.TableSchema:
    """``schema`` for the UI's column table. With ``spec`` (the dataset the table holds): each
    declared column's description, its rules as constraints (required: not nullable) and a
    ``pii`` tag on a personal one; the key, foreign keys and row rules as the table's
    constraints. The rules read as on the data dictionary's pages (``spec_text``)."""
    descriptions = descriptions or {}
    declared = spec.column_map if spec else {}

    def column(name: str, dtype: pl.DataType) -> dg.TableColumn:
        c = declared.get(name)
        if c is None:
            return dg.TableColumn(name=name, type=str(dtype), description=descriptions.get(name))
        rules = [r for r in column_rules(c) if r not in ("required", "unique")]
        rules += ["personal data: masked wherever people read it"] if c.pii else []
        return dg.TableColumn(
            name=name,
            type=str(dtype),
            description=c.description or descriptions.get(name) or None,
            constraints=dg.TableColumnConstraints(
                nullable=not c.required, unique=c.unique, other=rules
            ),
            tags={"pii": "true"} if c.pii else None,
        )

    return dg.TableSchema(
        columns=[column(name, dtype) for name, dtype in schema.items()],
        constraints=dg.TableConstraints(other=table_rules(spec)) if spec else None,
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def markdown_preview(
    frame: pl.DataFrame, max_columns: int = 12, pii: Mapping[str, Mask] | None = None
) -> str:
    """``frame`` as a markdown table, its ``pii`` columns, the personal values other columns
    quote and anything that looks like an e-mail address or phone number masked."""
    frame = mask_frame(frame, pii)
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
    pii: Mapping[str, Mask] | None = None,
    spec: DatasetSpec | None = None,
) -> dict[str, Any]:
    """The standard metadata for a table output: run numbers, schema (with ``spec``'s rules,
    ``column_schema``), row count, preview (with the table's ``pii`` columns masked)."""
    schema = table.collect_schema()
    rows_out = int(table.select(pl.len()).collect().item())
    preview = table.head(PREVIEW_ROWS).collect()
    meta = run_metadata(rows_in=rows_in, rows_out=rows_out, seconds=seconds)
    meta["dagster/row_count"] = dg.MetadataValue.int(rows_out)
    meta["dagster/column_schema"] = column_schema(dict(schema), descriptions, spec)
    meta["preview"] = dg.MetadataValue.md(markdown_preview(preview, pii=pii))
    if location:
        meta["location"] = dg.MetadataValue.path(location)
    return meta


def masked_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata with e-mail addresses and phone numbers masked in every text it holds (plain
    strings, markdown, text and JSON values); numbers, paths, schemas and tables pass as they
    are. For metadata built from free text: messages, reasons, file names."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, str):
            out[key] = mask_text(value)
        elif isinstance(value, dg.MarkdownMetadataValue):
            out[key] = dg.MetadataValue.md(mask_text(value.md_str or ""))
        elif isinstance(value, dg.TextMetadataValue):
            out[key] = dg.MetadataValue.text(mask_text(value.text or ""))
        elif isinstance(value, dg.JsonMetadataValue):
            out[key] = dg.MetadataValue.json(mask_json(value.data))
        elif isinstance(value, list | dict):
            out[key] = mask_json(value)
        else:
            out[key] = value
    return out
