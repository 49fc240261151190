"""Writers for every landing format: csv, csv.gz, json (array), ndjson, parquet, xml."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO, cast

import polars as pl

FORMATS = ("csv", "csv.gz", "json", "ndjson", "parquet", "xml")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _texty(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates and timestamps as ISO text, for formats with no native type for them."""
    return frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(DATETIME_FORMAT), pl.col(pl.Date).dt.strftime("%Y-%m-%d")
    )


def _xml(frame: pl.DataFrame, root: str) -> str:
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
    lines = "\n".join(body.to_list())
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n{lines}\n</{root}>\n'


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
