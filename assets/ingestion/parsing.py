"""Readers of one column's values as its declared type: texts (the full and the fast parser)
and typed sources (Parquet, database columns), with the column's format, unit and timezone.

Datetimes are stored as naive UTC. A naive value is taken in the column's ``timezone`` (as it
is without one); an instant (a text with ``Z`` or an offset, a zoned source column) is
converted to UTC. A ``date`` fed a naive timestamp takes its date; fed an instant, it takes the
date in its ``timezone``, and without one the value is refused (null, so a type error), since
which day an instant falls on depends on the zone.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from assets.core.column_parsing import OFFSET_DIRECTIVE
from assets.core.frames import is_nested, json_text
from assets.core.spec import ColumnSpec

# Polars' fixed-format fast path reads these; the usual instant (R, JavaScript, most APIs) is
# ISO with a Z.
_ISO = "%Y-%m-%dT%H:%M:%S"
_ZULU = _ISO + "Z"
_SNIFF_ROWS = 20
# The full parser's formats, once a space between date and time is a T. "%.f" also reads no
# fraction; "%#z" reads Z (either case), +05:30, +0530 and +05.
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M")
_INSTANT_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")
# A time of day then Z or an offset.
_ZONED = r"\d:\d\d(?::\d\d(?:\.\d+)?)?(?:[Zz]|[+-]\d\d(?::?\d\d)?)$"
# Epoch numbers beyond year 9999 (in seconds) are refused rather than wrapped around.
_EPOCH_LIMIT_S = 253_402_300_800
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def _localize(naive: pl.Expr, timezone: str | None) -> pl.Expr:
    """Naive local times of ``timezone`` as naive UTC. A time skipped by a daylight-saving
    jump is null (a type error); one that occurs twice is taken as the first."""
    if timezone is None:
        return naive
    return (
        naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )


def _instant_as(aware: pl.Expr, col: ColumnSpec) -> pl.Expr:
    """A zoned datetime as the column's type: naive UTC, or the date in the column's zone."""
    if col.type == "datetime":
        return aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    if col.timezone is None:
        return pl.lit(None, dtype=pl.Date)
    return aware.dt.convert_time_zone(col.timezone).dt.date()


def _naive_as(naive: pl.Expr, col: ColumnSpec) -> pl.Expr:
    if col.type == "date":
        return naive.dt.date()
    return _localize(naive, col.timezone)


def _epoch(number: pl.Expr, unit: str, integer: bool = False) -> pl.Expr:
    """Epoch seconds or milliseconds (a number) as a naive UTC ``Datetime("us")``."""
    factor, limit = (1_000_000, _EPOCH_LIMIT_S) if unit == "s" else (1_000, _EPOCH_LIMIT_S * 1000)
    micros = number * factor if integer else (number * factor).round(0).cast(pl.Int64)
    return pl.when(number.abs() < limit).then(micros).cast(pl.Datetime("us"))


def _formatted(text: pl.Expr, col: ColumnSpec) -> pl.Expr:
    """``text`` read with the column's strftime ``format`` only."""
    fmt = col.format
    assert fmt is not None
    if OFFSET_DIRECTIVE.search(fmt):
        return _instant_as(text.str.to_datetime(fmt, strict=False, time_unit="us"), col)
    if col.type == "date":
        return text.str.to_date(fmt, strict=False)
    return _localize(text.str.to_datetime(fmt, strict=False, time_unit="us"), col.timezone)


def _families(t: pl.Expr) -> dict[str, pl.Expr]:
    """The texts each family of formats can read, null elsewhere: dates with dashes, dates with
    slashes (no time), naive timestamps (a time, no zone) and instants (a time, then Z or an
    offset).

    Each text meets only its family's formats: a parse that fails costs ~0.8 us a text against
    ~0.02 us for a null, and most texts (numbers, words) meet none. Every mask reads ``t``
    directly, so the expression stays small (masks of masks grew it to a hundred copies of the
    text, which Polars evaluated one by one: 30 us a text).
    """
    s = t.str.replace(" ", "T", literal=True)
    timed = s.str.contains(":", literal=True)
    zoned = s.str.contains(_ZONED)
    return {
        "dashed": pl.when(~timed & s.str.contains("-", literal=True)).then(s),
        "slashed": pl.when(~timed & s.str.contains("/", literal=True)).then(s),
        "naive": pl.when(timed & ~zoned).then(s),
        "zoned": pl.when(zoned).then(s),
    }


def _parsed(text: pl.Expr, formats: tuple[str, ...]) -> pl.Expr:
    return pl.coalesce(*[text.str.to_datetime(f, strict=False, time_unit="us") for f in formats])


def _sniffed_datetime(timezone: str | None) -> Callable[[pl.Series], pl.Series]:
    """A batch of datetime texts through Polars' fixed-format fast path, in the spelling of its
    first texts (most of them): ISO, or ISO with a Z (R, JavaScript and most APIs write
    instants so).

    A text of the other spelling is left null, so the full parser reads it; a failed fast parse
    costs ~0.8 us a text, so a file of Z instants would otherwise pay it on every row. Choosing
    per batch costs the ISO file nothing (trying the Z form on what ISO left cost ~0.06 s per
    2M rows). Without "%.f": the fixed-format path is ~3.5x the speed of the fractional one;
    cache=False: timestamps are nearly all distinct, so a cache of parsed texts only costs
    (0.16 s against 0.08 s per 4M rows).
    """

    def apply(texts: pl.Series) -> pl.Series:
        head = texts.head(_SNIFF_ROWS).drop_nulls()
        if head.str.ends_with("Z").sum() * 2 > len(head):  # instants: UTC whatever the zone
            return texts.str.to_datetime(_ZULU, strict=False, time_unit="us", cache=False)
        naive = texts.str.to_datetime(_ISO, strict=False, time_unit="us", cache=False)
        if timezone is None:
            return naive
        return pl.select(_localize(pl.lit(naive), timezone)).to_series()

    return apply


def fast_parse(src: pl.Expr, col: ColumnSpec) -> pl.Expr | None:
    """The cheapest parser for a type's usual spelling, over the raw (unstripped) text.

    Where it gives a value, the full parser (``parse_text``) gives the same value; the full
    parser then runs only on the texts this left null (see ``conform._leftovers``). With both,
    conforming 2M orders in memory went from 1.35 s to 0.48 s with identical output.
    """
    if col.type == "integer":
        return src.cast(pl.Int64, strict=False)
    if col.type == "float":
        return _decimal_point(src, col).cast(pl.Float64, strict=False)
    if col.type in ("date", "datetime") and col.format is not None:
        return written_years(_formatted(src, col), src, col)
    if col.type == "date":
        return written_years(src.str.to_date("%Y-%m-%d", strict=False), src, col)
    if col.type == "datetime" and col.unit is not None:
        return _epoch(src.cast(pl.Float64, strict=False), col.unit)
    if col.type == "datetime":
        sniffed = src.map_batches(
            _sniffed_datetime(col.timezone), return_dtype=pl.Datetime("us"), is_elementwise=True
        )
        return written_years(sniffed, src, col)
    return None


def parse_text(text: pl.Expr, col: ColumnSpec) -> pl.Expr:
    """``text`` (null tokens already null) parsed as the column's type; null where it does not.

    Dates and datetimes: ISO 8601 with a T or a space, with or without seconds and fractions,
    naive or with Z or an offset; dates also as 2024/01/05.
    """
    t = text.str.strip_chars()
    if col.type == "string":
        return text
    if col.type == "integer":
        # A zero fraction ("5.0", as spreadsheets write whole numbers) is taken, and every digit
        # kept; scientific notation is not: a code such as 0E8 is not the number 0.
        integral = pl.when(t.str.contains(r"^[+-]?\d+\.0*$")).then(
            t.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False)
        )
        return pl.coalesce(t.cast(pl.Int64, strict=False), integral)
    if col.type == "float":
        return _decimal_point(t, col).cast(pl.Float64, strict=False)
    if col.type == "boolean":
        low = t.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
    if col.unit is not None:
        return _epoch(t.cast(pl.Float64, strict=False), col.unit)
    return written_years(_parsed_temporal(t, col), t, col)


def _decimal_point(text: pl.Expr, col: ColumnSpec) -> pl.Expr:
    """``text`` with a decimal comma turned into a point (dots between thousands dropped), for
    a column that declares ``decimal_comma``; ``1,5`` otherwise stays no number."""
    if not col.decimal_comma:
        return text
    return text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)


def written_years(parsed: pl.Expr, text: pl.Expr, col: ColumnSpec) -> pl.Expr:
    """``parsed`` where its year is written in full in ``text``, else null (a type error).

    Polars' ``%Y`` also reads a year of one or two digits, so ``1/1/12`` read with
    ``%m/%d/%Y`` was the year 12 and validated. A year under 1000 is kept only where the text
    holds four digits in a row (``0012``). Checked a batch at a time, and the texts only read
    in a batch that has such a year: as one expression the check cost 30 ns a row on every
    date, this 14 ns.
    """
    dtype = pl.Date() if col.type == "date" else pl.Datetime("us")
    # The struct takes ``parsed``'s name (the column's), which the result keeps.
    return pl.struct(parsed, text.alias(_TEXT)).map_batches(
        _years_written, return_dtype=dtype, is_elementwise=True
    )


_TEXT = "__year_text"


def _years_written(batch: pl.Series) -> pl.Series:
    parsed = batch.struct.field(batch.struct.fields[0]).alias(batch.name)
    early = parsed.dt.year() < 1000
    if not early.any():
        return parsed
    shown = batch.struct.field(_TEXT).str.contains(r"\d{4}")
    keep = (~early | shown).fill_null(True)
    return parsed.zip_with(keep, pl.Series(dtype=parsed.dtype).extend_constant(None, len(parsed)))


def _parsed_temporal(t: pl.Expr, col: ColumnSpec) -> pl.Expr:
    if col.format is not None:
        return _formatted(t, col)
    family = _families(t)
    naive = _parsed(family["naive"], _NAIVE_FORMATS)
    instant = _instant_as(_parsed(family["zoned"], _INSTANT_FORMATS), col)
    dashed = family["dashed"].str.to_date("%Y-%m-%d", strict=False)
    if col.type == "date":
        slashed = family["slashed"].str.to_date("%Y/%m/%d", strict=False)
        return pl.coalesce(dashed, slashed, naive.dt.date(), instant)
    if col.type == "datetime":
        naive = pl.coalesce(naive, dashed.cast(pl.Datetime("us")))
        return pl.coalesce(_localize(naive, col.timezone), instant)
    raise AssertionError(col.type)


def as_text(src: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A typed source value as text: a nested one (a Parquet list or struct) as its JSON,
    which Polars' cast to String refuses."""
    return json_text(src, dtype) if is_nested(dtype) else src.cast(pl.String)


def parse_typed(src: pl.Expr, dtype: pl.DataType, col: ColumnSpec) -> pl.Expr:
    """A typed (not text) source column as the column's type; null where it does not fit."""
    if isinstance(dtype, pl.Datetime) and col.type in ("date", "datetime"):
        if dtype.time_zone is not None:
            return _instant_as(src, col)
        return _naive_as(src.cast(pl.Datetime("us")), col)
    if dtype == pl.Date and col.type == "datetime":
        return _localize(src.cast(pl.Datetime("us")), col.timezone)
    if col.unit is not None and dtype.is_integer():
        return _epoch(src.cast(pl.Int64), col.unit, integer=True)
    if col.unit is not None and dtype.is_numeric():
        return _epoch(src.cast(pl.Float64), col.unit)
    return _strict_cast(src, dtype, col)


def _strict_cast(src: pl.Expr, dtype: pl.DataType, col: ColumnSpec) -> pl.Expr:
    """A typed value converts only where the same value written as text in a CSV would: 2.7 is
    not an integer, 20240101 is not a date, 5 is not a boolean, a datetime is not a number.
    Polars' own cast would make them 2, the year 57385, true and 1.7e15 without a word."""
    none = pl.lit(None, dtype=col.polars_type)
    if col.type == "string":
        return as_text(src, dtype)
    if col.type == "integer" and dtype.is_integer():
        return src.cast(pl.Int64, strict=False)
    if col.type == "integer" and dtype.is_numeric():
        return pl.when(src == src.round(0)).then(src.cast(pl.Int64, strict=False))
    if col.type == "float" and dtype.is_numeric():
        return src.cast(pl.Float64)
    if col.type == "boolean" and dtype == pl.Boolean:
        return src
    if col.type == "boolean" and dtype.is_integer():  # as the texts "1" and "0" read
        return pl.when(src == 1).then(True).when(src == 0).then(False)
    if col.type in ("date", "datetime") and dtype == col.polars_type:
        return src
    return none
