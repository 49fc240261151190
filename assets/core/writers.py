"""Writers for every landing format: csv, csv.gz, json (array), ndjson, parquet, xml.

Every file is written to a uniquely named temp file in its folder and renamed over the target, so
two runs writing the same file at once each leave a whole file (the last rename wins), never a
mix. CSV written for people (``for_people``) has formula injection neutralised: a text cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` (OWASP's
rule), so a spreadsheet shows it as text instead of running it; numbers stay numbers, and every
other format keeps the raw values.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar, cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

FORMATS = ("csv", "csv.gz", "json", "ndjson", "parquet", "xml")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
FORMULA_START = r"^([=+\-@\t\r])"


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _texty(frame: Frame) -> Frame:
    """Dates and timestamps as ISO text, for formats with no native type for them."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(DATETIME_FORMAT), pl.col(pl.Date).dt.strftime("%Y-%m-%d")
    )


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temp file of a unique name next to ``path``; renamed over ``path`` when the block
    succeeds, removed when it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)  # mkstemp's 0600 would keep the file from its readers
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def neutralise_formulas(frame: Frame) -> Frame:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'``; others unchanged."""
    texts = [
        name
        for name, dtype in frame.collect_schema().items()
        if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)
    ]
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.replace(FORMULA_START, "'$1") for c in texts
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


def write_frame(frame: pl.DataFrame, path: Path, fmt: str, *, for_people: bool = False) -> None:
    """Write ``frame`` to ``path`` atomically. ``for_people``: neutralise formulas in CSV (off by
    default: the generator writes landing files for the pipeline to read back as they are)."""
    if fmt in ("csv", "csv.gz") and for_people:
        frame = neutralise_formulas(frame)
    with atomic_target(path) as tmp:
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


def write_lazy(
    frame: pl.LazyFrame, path: Path, fmt: str, batch_rows: int = 200_000, *, for_people: bool = True
) -> int:
    """Write ``frame`` to ``path`` atomically, in the same format as ``write_frame``, without
    holding the table: Parquet, CSV and NDJSON stream; csv.gz, JSON and XML are written
    ``batch_rows`` rows at a time. Returns the number of rows written. ``for_people`` (the
    default: this writes the exports) neutralises formulas in CSV."""
    if fmt in ("csv", "csv.gz") and for_people:
        frame = neutralise_formulas(frame)
    rows = int(frame.select(pl.len()).collect().item())
    batches = (frame.slice(start, batch_rows).collect() for start in range(0, rows, batch_rows))
    with atomic_target(path) as tmp:
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
    return rows


class ParquetAppender:
    """One Parquet file written a frame at a time, in place at ``path`` only once closed.

    Each ``append`` becomes a row group, so what is held in memory is one frame, not the file.
    Leaving the ``with`` block on an error removes the temp file and leaves ``path`` alone.
    """

    def __init__(self, path: Path, schema: Mapping[str, pl.DataType | type[pl.DataType]]) -> None:
        self.path = path
        self.schema = pl.Schema(schema)
        self._target = atomic_target(path)
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> ParquetAppender:
        tmp = self._target.__enter__()
        arrow_schema = pl.DataFrame(schema=self.schema).to_arrow().schema
        self._writer = pq.ParquetWriter(tmp, arrow_schema, compression="zstd")
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
        self._target.__exit__(exc_type, exc, tb)
