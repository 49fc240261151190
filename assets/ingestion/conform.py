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

from assets.core.columns import ERRORS_COLUMN
from assets.core.readers import BadFile
from assets.core.spec import ColumnSpec, DatasetSpec
from assets.ingestion.derive import derive

_SLOW = "__leftovers__"
NULL_TOKENS = ("", "null", "NULL", "None")

_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
)
# What a text must contain for the full parser of each fast-parsed type to give a value: a
# digit, or for floats the letters of NaN and infinity (which Float64 casts accept).
_PARSEABLE = {
    "integer": r"[0-9]",
    "date": r"[0-9]",
    "datetime": r"[0-9]",
    "float": r"[0-9]|(?i:nan|inf)",
}
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def _fast_parse(src: pl.Expr, kind: str) -> pl.Expr | None:
    """The cheapest parser for a type's usual spelling, over the raw (unstripped) text.

    Where it gives a value, the full parser (``_parse_text``) gives the same value; the full
    parser then runs only on the texts this left null (see ``_leftovers``). With both, conforming
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


def _leftovers(
    parse: dict[str, ColumnSpec], check: list[str], out_types: dict[str, pl.DataType]
) -> Callable[[pl.Series], pl.Series]:
    """One batch's full parse of the texts the fast parse left, and their failure pairs.

    The batch is a struct: a field ``p|<col>`` per fast-parsed column (the text where the fast
    parse gave null, else null) and ``e|<col>`` per other text column of a typed kind (the text
    where its value is null). The result is a struct of ``v|<col>`` (the full parser's value)
    and ``e|<col>`` (the ``"col": "text"`` pair where no value came of a text that is not a
    null token), null elsewhere.

    These columns are nearly all null, and Polars' string kernels cost about as much per null
    row as per value (~17 ns a row for each of the eight datetime formats), so the work runs in
    Python per batch on the rows that hold a text only, and a batch with none (the usual case)
    costs a null count per field. One call per batch for all columns: a call per column cost
    ~0.35 s per 1M orders in calls alone (eight calls per batch, each taking the GIL). A column
    whose texts match no ``_PARSEABLE`` pattern (such as "N/A" in a number column) skips its
    parser, whose fixed cost is ~2 ms a batch for datetimes.
    """
    fields = [f"p|{c}" for c in parse] + [f"e|{c}" for c in check]

    def apply(batch: pl.Series) -> pl.Series:
        frame = batch.struct.unnest()
        n = frame.height
        out = {
            name: pl.Series(name, [], dtype=dtype).extend_constant(None, n)
            for name, dtype in out_types.items()
        }
        if all(frame[f].null_count() == n for f in fields):
            return pl.DataFrame(out).to_struct(batch.name)
        mask = frame[fields[0]].is_not_null()
        for f in fields[1:]:
            mask = mask | frame[f].is_not_null()
        rows = frame.filter(mask)
        values = []
        for c, col in parse.items():
            text = rows[f"p|{c}"]
            if text.str.contains(_PARSEABLE[col.type]).any():
                values.append(_typed_value(pl.col(f"p|{c}"), pl.String(), col).alias(f"v|{c}"))
            else:
                values.append(pl.lit(None, dtype=col.polars_type).alias(f"v|{c}"))
        rows = rows.with_columns(values)
        pairs = [
            pl.when(pl.col(f"v|{c}").is_null())
            .then(_json_pair(c, _unless_null_token(pl.col(f"p|{c}"))))
            .alias(f"e|{c}")
            for c in parse
        ] + [_json_pair(c, _unless_null_token(pl.col(f"e|{c}"))).alias(f"e|{c}") for c in check]
        rows = rows.with_columns(pairs)
        where = mask.arg_true()
        for name in out:
            out[name] = out[name].scatter(where, rows[name].cast(out_types[name]))
        return pl.DataFrame(out).to_struct(batch.name)

    return apply


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
    missing_required = [c.name for c in spec.file_columns if c.required and c.name not in present]
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
    # column, so the full parser sees only the texts it left (nearly all null), all columns in
    # one call per batch (``_leftovers``).
    fast: list[pl.Expr] = []
    typed: list[pl.Expr] = []
    values: list[pl.Expr] = []
    errors: dict[str, pl.Expr] = {}
    parse: dict[str, ColumnSpec] = {}
    check: list[str] = []
    inputs: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in present or col.expression is not None:
            # A derived column is computed after the others are typed (``derive``).
            values.append(pl.lit(None, dtype=col.polars_type).alias(col.name))
            continue
        src, dtype, tmp = pl.col(col.name), schema[col.name], f"__typed__{col.name}"
        quick = _fast_parse(src, col.type) if dtype == pl.String else None
        if quick is None:
            typed.append(_typed_value(src, dtype, col).alias(tmp))
            values.append(pl.col(tmp).alias(col.name))
        else:
            first = pl.col(f"__fast__{col.name}")
            fast.append(quick.cast(col.polars_type).alias(f"__fast__{col.name}"))
            inputs.append(pl.when(first.is_null()).then(src).alias(f"p|{col.name}"))
            parse[col.name] = col
            values.append(
                pl.coalesce(first, pl.col(_SLOW).struct.field(f"v|{col.name}")).alias(col.name)
            )
        if col.type == "string":  # any text is a valid string: nothing to keep
            continue
        if quick is not None:
            errors[col.name] = pl.col(_SLOW).struct.field(f"e|{col.name}")
        elif dtype == pl.String:  # the null-token check runs on the few texts left only
            inputs.append(pl.when(pl.col(tmp).is_null()).then(src).alias(f"e|{col.name}"))
            check.append(col.name)
            errors[col.name] = pl.col(_SLOW).struct.field(f"e|{col.name}")
        else:
            errors[col.name] = _json_pair(col.name, _failed_text(src, dtype, pl.col(tmp)))
    slow: list[pl.Expr] = []
    if inputs:
        out_types: dict[str, pl.DataType] = {f"v|{c}": col.polars_type for c, col in parse.items()}
        out_types |= {f"e|{c}": pl.String() for c in [*parse, *check]}
        slow.append(
            pl.struct(inputs)
            .map_batches(
                _leftovers(parse, check, out_types),
                return_dtype=pl.Struct(out_types),
                is_elementwise=True,
            )
            .alias(_SLOW)
        )
    extras = [
        pl.col(c).cast(pl.String)
        for c in schema.names()
        if c not in spec.column_map and not c.startswith("_")
    ]
    # concat_str skips the null pairs (columns that cast fine) without building lists per row.
    # ``errors`` is filled in spec column order, whichever way each pair is made.
    joined = (
        pl.concat_str(list(errors.values()), separator=", ", ignore_nulls=True) if errors else None
    )
    error_col = (
        pl.when(joined.str.len_bytes() > 0).then(pl.lit("{") + joined + pl.lit("}"))
        if joined is not None
        else pl.lit(None, dtype=pl.String)
    )
    conformed = (
        lf.with_row_index("_row_number", offset=1)
        .with_columns(fast)
        .with_columns(typed)
        .with_columns(slow)
        .select(
            *values,
            *extras,
            error_col.cast(pl.String).alias(ERRORS_COLUMN),
            pl.lit(source_file).alias("_source_file"),
            pl.lit(file_sha256).alias("_file_sha256"),
            pl.col("_row_number").cast(pl.Int64),
        )
    )
    return derive(conformed, spec) if spec.derived_columns else conformed


def empty_table(spec: DatasetSpec) -> pl.DataFrame:
    """A zero-row frame with the full contract schema, so views and scans always resolve."""
    schema: dict[str, pl.DataType] = dict(spec.polars_schema)
    schema[ERRORS_COLUMN] = pl.String()
    schema["_source_file"] = pl.String()
    schema["_file_sha256"] = pl.String()
    schema["_row_number"] = pl.Int64()
    return pl.DataFrame(schema=schema)
