"""Cast a landing frame to its dataset contract without losing a value.

Spec columns get their declared types. A value that cannot be cast becomes null in the typed
column and its original text is kept in ``_ingest_errors`` (a JSON object keyed by column), which
flags the row for validation. Extra columns are kept as text; missing optional columns are nulls;
a missing required column fails the file.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import polars as pl

from assets.ingestion.contracts import ColumnSpec, DatasetSpec
from assets.ingestion.readers import BadFile

ERRORS_COLUMN = "_ingest_errors"
PROVENANCE = ("_source_file", "_file_sha256", "_row_number")
NULL_TOKENS = ("", "null", "NULL", "None")

_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
)
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def _fast_parse(src: pl.Expr, kind: str) -> pl.Expr | None:
    """The cheapest parser for a type's usual spelling, over the raw (unstripped) text.

    Where it gives a value, the full parser (``_parse_text``) gives the same value; the full
    parser then runs only on the texts this left null (see ``_sparse``). With both, conforming
    2M orders in memory went from 1.35 s to 0.48 s with identical output.
    """
    if kind == "integer":
        return src.cast(pl.Int64, strict=False)
    if kind == "float":
        return src.cast(pl.Float64, strict=False)
    if kind == "date":
        return src.str.to_date("%Y-%m-%d", strict=False)
    if kind == "datetime":
        # Without "%.f": Polars' fixed-format fast path, ~3.5x the speed of the fractional one.
        # cache=False: timestamps are nearly all distinct, so the cache of parsed texts only
        # costs (0.16 s against 0.08 s per 4M rows).
        return src.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us", cache=False)
    return None


def _parse_text(text: pl.Expr, col: ColumnSpec) -> pl.Expr:
    """``text`` parsed as the column's type; null where it does not parse.

    Dates and datetimes try the ISO format first and the other formats only on the texts it
    left unparsed, so the fallbacks run over a column that is nearly all null.
    """
    t = text.str.strip_chars()
    if col.type == "string":
        return text
    if col.type == "integer":
        as_float = t.cast(pl.Float64, strict=False)
        integral = pl.when(as_float == as_float.round(0)).then(
            as_float.cast(pl.Int64, strict=False)
        )
        return pl.coalesce(t.cast(pl.Int64, strict=False), integral)
    if col.type == "float":
        return t.cast(pl.Float64, strict=False)
    if col.type == "boolean":
        low = t.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
    if col.type == "date":
        first = t.str.to_date("%Y-%m-%d", strict=False)
        rest = pl.when(first.is_null()).then(t)
        return pl.coalesce(
            first,
            rest.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
            rest.str.to_date("%Y/%m/%d", strict=False),
        )
    if col.type == "datetime":
        first = t.str.to_datetime(_DATETIME_FORMATS[0], strict=False, time_unit="us")
        rest = pl.when(first.is_null()).then(t)
        with_tz = rest.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us")
        return pl.coalesce(
            first,
            *[rest.str.to_datetime(f, strict=False, time_unit="us") for f in _DATETIME_FORMATS[1:]],
            with_tz.dt.convert_time_zone("UTC").dt.replace_time_zone(None),
            rest.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        )
    raise AssertionError(col.type)


def _present_text(src: pl.Expr) -> pl.Expr:
    """The text with null tokens ("", "null", ...) as null."""
    return pl.when(src.str.strip_chars().is_in(NULL_TOKENS)).then(None).otherwise(src)


def _typed(name: str, dtype: pl.DataType, col: ColumnSpec) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, original text when the cast failed else null) for one spec column."""
    value = _typed_value(pl.col(name), dtype, col)
    return value, _failed_text(pl.col(name), dtype, value)


def _typed_value(src: pl.Expr, dtype: pl.DataType, col: ColumnSpec) -> pl.Expr:
    if dtype == pl.String:
        value = _parse_text(_present_text(src), col)
    elif col.type == "date" and dtype == pl.Datetime:
        value = src.dt.date()
    else:
        value = src.cast(col.polars_type, strict=False)
    return value.cast(col.polars_type)


def _failed_text(src: pl.Expr, dtype: pl.DataType, typed: pl.Expr) -> pl.Expr:
    """The original text where a present value did not cast (``typed`` is null), else null."""
    if dtype == pl.String:
        return _unless_null_token(pl.when(typed.is_null()).then(src))
    return pl.when(src.is_not_null() & typed.is_null()).then(src.cast(pl.String))


def _unless_null_token(text: pl.Expr) -> pl.Expr:
    """``text``, null where it is a null token; for the texts that did not cast, only."""
    return pl.when(~text.str.strip_chars().is_in(NULL_TOKENS)).then(text)


def _sparse(src: pl.Expr, build: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType) -> pl.Expr:
    """``build`` applied to the non-null values of ``src`` only, null elsewhere.

    For columns that are nearly all null (the texts the fast parse left): Polars' string kernels
    cost about the same per row whether a value is null or not (~17 ns a row for each of the
    eight datetime formats), so each batch is filtered to its non-null values first, and a batch
    with none (the usual case) costs one null count. Elementwise, so it streams; the Python call
    per batch holds the GIL only to dispatch Polars work on the few values.
    """

    def apply(batch: pl.Series) -> pl.Series:
        out = pl.Series(batch.name, [], dtype=dtype).extend_constant(None, batch.len())
        if batch.null_count() == batch.len():
            return out
        present = batch.is_not_null()
        values = batch.filter(present).to_frame("v").select(build(pl.col("v")).cast(dtype))
        return out.scatter(present.arg_true(), values.to_series())

    return src.map_batches(apply, return_dtype=dtype, is_elementwise=True)


def _json_pair(name: str, text: pl.Expr) -> pl.Expr:
    escaped = text.str.replace_all("\\", "\\\\", literal=True).str.replace_all(
        '"', '\\"', literal=True
    )
    escaped = escaped.str.replace_all("\n", "\\n", literal=True).str.replace_all(
        "\r", "\\r", literal=True
    )
    return pl.concat_str([pl.lit(f'"{name}": "'), escaped, pl.lit('"')])


def conform(
    lf: pl.LazyFrame, spec: DatasetSpec, *, source_file: str, file_sha256: str
) -> pl.LazyFrame:
    """The frame with spec columns typed, extras as text, provenance and ``_ingest_errors``."""
    schema = lf.collect_schema()
    present = set(schema.names())
    missing_required = [c for c in spec.required_columns if c not in present]
    if missing_required:
        hints = []
        for m in missing_required:
            close = difflib.get_close_matches(m, sorted(present), n=1)
            if close:
                hints.append(f"{m!r} (found {close[0]!r})")
            else:
                hints.append(repr(m))
        raise BadFile(f"missing required column(s): {', '.join(hints)}")
    # Typed values are computed once into temporary columns: the failure text reads them back
    # instead of parsing again. The fast parse of the usual spelling comes first, in its own
    # column, so the full parser sees only the texts it left (nearly all null).
    fast: list[pl.Expr] = []
    typed: list[pl.Expr] = []
    values: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in present:
            values.append(pl.lit(None, dtype=col.polars_type).alias(col.name))
            continue
        src, dtype, tmp = pl.col(col.name), schema[col.name], f"__typed__{col.name}"
        quick = _fast_parse(src, col.type) if dtype == pl.String else None
        if quick is None:
            value = _typed_value(src, dtype, col)
        else:
            first = pl.col(f"__fast__{col.name}")
            fast.append(quick.cast(col.polars_type).alias(f"__fast__{col.name}"))
            rest = pl.when(first.is_null()).then(src)
            value = pl.coalesce(
                first,
                _sparse(rest, lambda t, c=col: _typed_value(t, pl.String(), c), col.polars_type),
            )
        typed.append(value.alias(tmp))
        values.append(pl.col(tmp).alias(col.name))
        if col.type != "string":  # any text is a valid string: nothing to keep
            if dtype == pl.String:  # the null-token check runs on the few texts left only
                left = pl.when(pl.col(tmp).is_null()).then(src)
                failed = _sparse(
                    left, lambda t, n=col.name: _json_pair(n, _unless_null_token(t)), pl.String()
                )
            else:
                failed = _json_pair(col.name, _failed_text(src, dtype, pl.col(tmp)))
            errors.append(failed)
    extras = [
        pl.col(c).cast(pl.String)
        for c in schema.names()
        if c not in spec.column_map and not c.startswith("_")
    ]
    # concat_str skips the null pairs (columns that cast fine) without building lists per row.
    joined = pl.concat_str(errors, separator=", ", ignore_nulls=True) if errors else None
    error_col = (
        pl.when(joined.str.len_bytes() > 0).then(pl.lit("{") + joined + pl.lit("}"))
        if joined is not None
        else pl.lit(None, dtype=pl.String)
    )
    return (
        lf.with_row_index("_row_number", offset=1)
        .with_columns(fast)
        .with_columns(typed)
        .select(
            *values,
            *extras,
            error_col.cast(pl.String).alias(ERRORS_COLUMN),
            pl.lit(source_file).alias("_source_file"),
            pl.lit(file_sha256).alias("_file_sha256"),
            pl.col("_row_number").cast(pl.Int64),
        )
    )


def empty_table(spec: DatasetSpec) -> pl.DataFrame:
    """A zero-row frame with the full contract schema, so views and scans always resolve."""
    schema: dict[str, pl.DataType] = dict(spec.polars_schema)
    schema[ERRORS_COLUMN] = pl.String()
    schema["_source_file"] = pl.String()
    schema["_file_sha256"] = pl.String()
    schema["_row_number"] = pl.Int64()
    return pl.DataFrame(schema=schema)
