"""What a type failure's reason adds to say how to fix it: the field a spec should declare."""

from __future__ import annotations

import polars as pl

from assets.core.spec import ColumnSpec


def instant_hint(col: ColumnSpec, original: pl.Expr) -> pl.Expr:
    """For a date column without a timezone given an instant (a time with Z or an offset): the
    day depends on the zone, so say which field would settle it."""
    if col.type != "date" or col.timezone is not None:
        return pl.lit("")
    instant = original.str.contains(r"\d[T ]\d{1,2}:\d{2}.*(Z|[+-]\d{2}(:?\d{2})?)$")
    hint = " (a time with an offset: declare the column's timezone to take its date there)"
    return pl.when(instant).then(pl.lit(hint)).otherwise(pl.lit(""))


_DAY = r"\d{1,2}"
# Common spellings ingestion reads only with a declared ``format``: (shape, what to declare).
_DATE_SHAPES = [
    (rf"{_DAY}\.{_DAY}\.\d{{4}}", ["%d.%m.%Y"]),
    (rf"{_DAY}/{_DAY}/\d{{4}}", ["%d/%m/%Y", "%m/%d/%Y"]),
    (rf"{_DAY}-{_DAY}-\d{{4}}", ["%d-%m-%Y", "%m-%d-%Y"]),
    (rf"{_DAY}/{_DAY}/\d{{2}}", ["%d/%m/%y", "%m/%d/%y"]),
    (r"\d{8}", ["%Y%m%d"]),
]
_TIME_SHAPES = [(r"\d{1,2}:\d{2}:\d{2}", "%H:%M:%S"), (r"\d{1,2}:\d{2}", "%H:%M")]


def format_hint(col: ColumnSpec, original: pl.Expr) -> pl.Expr:
    """For a date or datetime column without a format, given a common spelling ingestion reads
    only with one: the ``format`` to declare."""
    if col.type not in ("date", "datetime") or col.format is not None or col.unit is not None:
        return pl.lit("")
    times = [("", "")] if col.type == "date" else _TIME_SHAPES
    hint: pl.Expr = pl.lit("")
    for day, formats in reversed(_DATE_SHAPES):
        for time_shape, time_format in reversed(times):
            shape = f"^{day}{'[ T]' + time_shape if time_shape else ''}$"
            spelled = " or ".join(repr(f"{f} {time_format}".strip()) for f in formats)
            text = f" (it reads with format {spelled}: declare it on the column)"
            hint = pl.when(original.str.contains(shape)).then(pl.lit(text)).otherwise(hint)
    return hint
