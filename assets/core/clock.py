"""Dates and times built from parts, for the expression grammar (``make_datetime``,
``at_hhmm``): null where a part is missing or out of range, never an error that stops a run."""

from __future__ import annotations

import polars as pl


def whole(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Int64, strict=False)


def make_datetime(*parts: pl.Expr) -> pl.Expr:
    """A datetime from year, month, day[, hour[, minute[, second]]]; null where a part is null
    or out of its range (month 13, 31 June, minute 60), never an error that stops the run.

    Polars raises on invalid parts and evaluates both branches of a ``when``, so the parts are
    replaced by safe ones where invalid, and the result is nulled there after.
    """
    y, m, d, *rest = [whole(p) for p in parts]
    h, mi, sec = [*rest, pl.lit(0), pl.lit(0), pl.lit(0)][:3]
    ok = (
        y.is_between(1, 9999)
        & m.is_between(1, 12)
        & d.is_between(1, 31)
        & h.is_between(0, 23)
        & mi.is_between(0, 59)
        & sec.is_between(0, 59)
    )

    def safe(e: pl.Expr, default: int) -> pl.Expr:
        return pl.when(ok).then(e).otherwise(default)

    first = pl.datetime(
        safe(y, 2000), safe(m, 1), 1, safe(h, 0), safe(mi, 0), safe(sec, 0), time_unit="us"
    )
    value = first + pl.duration(days=safe(d, 1) - 1)
    # 31 June rolls into July: a day past the month's end is not a date.
    return pl.when(ok & (value.dt.month() == m)).then(value)


def hhmm_minutes(e: pl.Expr) -> pl.Expr:
    """Minutes after midnight of an HHMM clock time (517 is 05:17, 317 minutes); 2400 is the
    next midnight (1440). Null where the minutes are 60 or more or the time is past 2400."""
    x = whole(e)
    minutes = (x // 100) * 60 + x % 100
    return pl.when((x % 100 < 60) & x.is_between(0, 2400)).then(minutes)


def at_hhmm(day: pl.Expr, hhmm: pl.Expr) -> pl.Expr:
    return day.cast(pl.Date).cast(pl.Datetime("us")) + pl.duration(minutes=hhmm_minutes(hhmm))
