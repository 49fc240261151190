"""Small frame helpers shared by several stages."""

from __future__ import annotations

import polars as pl


def is_nested(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Struct | pl.List | pl.Array)


def as_json_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A nested column (struct, list, array) as its JSON text, vectorised."""
    if isinstance(dtype, pl.Struct):
        return pl.col(name).struct.json_encode()
    # Wrap in a one-field struct to encode, then cut the wrapper: {"v":[1,2]} -> [1,2].
    wrapped = pl.struct(pl.col(name).alias("v")).struct.json_encode()
    return wrapped.str.slice(5).str.strip_suffix("}").alias(name)
