"""Writers for every landing format: csv, csv.gz, json (array), ndjson, parquet, xml."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar, cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("csv", "csv.gz", "json", "ndjson", "parquet", "xml")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _texty(frame: Frame) -> Frame:
    """Dates and timestamps as ISO text, for formats with no native type for them."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(DATETIME_FORMAT), pl.col(pl.Date).dt.strftime("%Y-%m-%d")
    )


def _xml_records(frame: pl.DataFrame) -> str:
    """One ``<record>`` line per row (no trailing newline)."""

    def esc(col: str) -> pl.Expr:
        text = pl.col(col).cast(pl.String)
        text = text.str.replace_all("&", "&amp;", literal=True)
        text = text.str.replace_all("<", "&lt;", literal=True).str.replace_all(
            ">", "&gt;", literal=True
        )
        return (
            pl.when(pl.col(col).is_null())
            .then(pl.lit(""))
            .otherwise(pl.lit(f"<{col}>") + text + pl.lit(f"</{col}>"))
        )

    body = (
        _texty(frame)
        .select(
            pl.concat_str(
                [pl.lit("  <record>"), *[esc(c) for c in frame.columns], pl.lit("</record>")]
            )
        )
        .to_series()
    )
    return "\n".join(body.to_list())


def _xml_head(root: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n'


def _xml(frame: pl.DataFrame, root: str) -> str:
    return f"{_xml_head(root)}{_xml_records(frame)}\n</{root}>\n"


def write_frame(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write ``frame`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "parquet":
        frame.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
    elif fmt == "csv":
        frame.write_csv(tmp, datetime_format=DATETIME_FORMAT)
    elif fmt == "csv.gz":
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
        ):
            frame.write_csv(cast(IO[bytes], gz), datetime_format=DATETIME_FORMAT)
    elif fmt == "json":
        _texty(frame).write_json(tmp)
    elif fmt == "ndjson":
        _texty(frame).write_ndjson(tmp)
    elif fmt == "xml":
        tmp.write_text(_xml(frame, path.parent.name), encoding="utf-8")
    else:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    os.replace(tmp, path)


def write_lazy(frame: pl.LazyFrame, path: Path, fmt: str, batch_rows: int = 200_000) -> int:
    """Write ``frame`` to ``path`` atomically, in the same format as ``write_frame``, without
    holding the table: Parquet, CSV and NDJSON stream; csv.gz, JSON and XML are written
    ``batch_rows`` rows at a time. Returns the number of rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows = int(frame.select(pl.len()).collect().item())
    batches = (frame.slice(start, batch_rows).collect() for start in range(0, rows, batch_rows))
    try:
        if fmt == "parquet":
            frame.sink_parquet(tmp, compression="zstd", compression_level=1, statistics=True)
        elif fmt == "csv":
            frame.sink_csv(tmp, datetime_format=DATETIME_FORMAT)
        elif fmt == "ndjson":
            _texty(frame).sink_ndjson(tmp)
        elif fmt == "csv.gz":
            with (
                tmp.open("wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz,
            ):
                frame.head(0).collect().write_csv(
                    cast(IO[bytes], gz), datetime_format=DATETIME_FORMAT
                )
                for batch in batches:
                    batch.write_csv(
                        cast(IO[bytes], gz), datetime_format=DATETIME_FORMAT, include_header=False
                    )
        elif fmt == "json":
            with tmp.open("w", encoding="utf-8") as out:
                out.write("[")
                first = True
                for batch in batches:
                    out.write(("" if first else ",") + _texty(batch).write_json()[1:-1])
                    first = False
                out.write("]")
        elif fmt == "xml":
            root = path.parent.name
            with tmp.open("w", encoding="utf-8") as out:
                out.write(_xml_head(root))
                for batch in batches:
                    out.write(_xml_records(batch) + "\n")
                out.write(f"</{root}>\n")
        else:
            raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


class ParquetAppender:
    """One Parquet file written a frame at a time, in place at ``path`` only once closed.

    Each ``append`` becomes a row group, so what is held in memory is one frame, not the file.
    Leaving the ``with`` block on an error removes the temp file and leaves ``path`` alone.
    """

    def __init__(self, path: Path, schema: Mapping[str, pl.DataType | type[pl.DataType]]) -> None:
        self.path = path
        self.schema = pl.Schema(schema)
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> ParquetAppender:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        arrow_schema = pl.DataFrame(schema=self.schema).to_arrow().schema
        self._writer = pq.ParquetWriter(self._tmp, arrow_schema, compression="zstd")
        return self

    def append(self, frame: pl.DataFrame) -> None:
        if frame.height and self._writer is not None:
            table: pa.Table = frame.select(self.schema.names()).cast(self.schema).to_arrow()
            self._writer.write_table(table)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
