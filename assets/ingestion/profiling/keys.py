"""Keys: minimal sets of up to three columns whose values are unique over every row, and
near-keys (unique but for a few rows), each with the duplicated values named.

Only columns with no missing value that are integers, dates, datetimes or codes (text that is
not free text) take part: a float or a name that happens to be unique is no key. A set is first
tried on the first 2,000 rows, then 20,000 and 200,000 (``PROBE_ROWS``): a duplicate there
rejects it, so only the sets that may be keys are counted over the whole frame, and at most
``MAX_SETS`` sets are tried. A set whose columns' distinct counts multiply to fewer than the
rows is never tried.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod

import polars as pl

KEY_TYPES = ("string", "integer", "date", "datetime")
MAX_KEY_COLUMNS = 3
MAX_SETS = 400
PROBE_ROWS = (2_000, 20_000, 200_000)
NEAR_KEY_ROWS = 3  # at most this many rows (or 0.1% of rows) beyond the distinct values,
NEAR_SHARE = 0.99  # and distinct values for 99% of the rows (two of four rows is no near-key)
MULTI_SHOWN = 4  # unique sets of several columns a draft names: the key and three in its comment
ID_NAME = re.compile(r"(^|_)(id|key|code|no|number|num)$")


@dataclass
class Keys:
    """The proposed key, the other unique sets, and near-keys with their duplicates."""

    key: list[str] = field(default_factory=list)
    unique: list[list[str]] = field(default_factory=list)
    near: dict[tuple[str, ...], str] = field(default_factory=dict)  # columns -> comment
    repeated_rows: int = 0  # rows equal to an earlier row in every column


def _rank(
    cols: tuple[str, ...], order: list[str], distinct: dict[str, int]
) -> tuple[int, int, int, list[int]]:
    """Fewer columns first, then identifier-like names, then the set with the fewest possible
    combinations (``carrier, flight, time_hour`` before ``sched_dep_time, flight,
    time_hour``: the tighter fit), then the file's column order."""
    ids = sum(1 for c in cols if ID_NAME.search(c.lower()))
    return len(cols), -ids, prod(distinct[c] for c in cols), [order.index(c) for c in cols]


def distinct_rows(df: pl.DataFrame, cols: list[str]) -> int:
    """The exact number of distinct rows of ``cols``. Rows whose 64-bit hash no other row has
    are distinct; only the rows sharing a hash (repeats, and in theory collisions) are compared
    value by value, so a mostly unique frame costs a hash a row. The shared hashes come of a
    lazy ``group_by`` (0.4 s over 10M rows, against 1.0 s for ``is_duplicated``)."""
    hashes = df.select(pl.struct(cols).hash().alias("h")).to_series()
    counts = hashes.to_frame().lazy().group_by("h").len().filter(pl.col("len") > 1).collect()
    if counts.is_empty():
        return df.height
    shared = hashes.is_in(counts.get_column("h").implode())
    n_shared = int(counts.get_column("len").sum())
    return df.height - n_shared + df.filter(shared).select(pl.struct(cols).n_unique()).item()


def _unique_sets(
    df: pl.DataFrame, candidates: list[str], distinct: dict[str, int], rank: Callable
) -> list:
    """Every unique column, and the best-ranked unique sets of several columns: a draft names
    at most ``MULTI_SHOWN`` of them (the key, and others in its comment), so sets that passed
    the probes are counted over the whole frame in rank order until that many are found (a
    table of near-unique columns had dozens of such sets, each a pass over the frame)."""
    rows = df.height
    found: list[tuple[str, ...]] = []
    tried = 0
    for size in range(1, MAX_KEY_COLUMNS + 1):
        if sum(1 for f in found if len(f) > 1) >= MULTI_SHOWN:
            break
        alive = [
            cols
            for cols in itertools.combinations(candidates, size)
            if prod(distinct[c] for c in cols) >= rows
            and not any(set(f) <= set(cols) for f in found)
        ][: max(0, MAX_SETS - tried)]
        tried += len(alive)
        for probe in (df.head(n) for n in PROBE_ROWS if n < rows):
            if not alive:
                break
            exprs = [pl.struct(list(c)).n_unique().alias(str(i)) for i, c in enumerate(alive)]
            counts = probe.select(exprs).row(0)
            alive = [c for c, n in zip(alive, counts, strict=True) if n == probe.height]
        for cols in sorted(alive, key=rank):
            if size > 1 and sum(1 for f in found if len(f) > 1) >= MULTI_SHOWN:
                break
            # One column's distinct count is known: no pass over the frame for it.
            whole = distinct[cols[0]] if size == 1 else distinct_rows(df, list(cols))
            if whole == rows:
                found.append(cols)
    return found


def _duplicates(df: pl.DataFrame, cols: list[str]) -> tuple[int, str]:
    """(rows beyond the first of each value, the duplicated values named)."""
    dup = (
        df.group_by(cols)
        .len(name="#rows")  # "#" is in no column name: a column may be called len
        .filter(pl.col("#rows") > 1)
        .sort([*cols], nulls_last=True)
        .select(
            pl.concat_str([pl.col(c).cast(pl.String) for c in cols], separator="/").alias("v"),
            "#rows",
        )
    )
    extra = int((dup["#rows"] - 1).sum())
    named = ", ".join(f"{v} x{n}" for v, n in dup.head(5).rows())
    return extra, named + (", ..." if dup.height > 5 else "")


def find_keys(
    df: pl.DataFrame,
    kinds: dict[str, str],
    nulls: dict[str, int],
    free_text: set[str],
    distinct: dict[str, int] | None = None,
) -> Keys:
    """The keys of ``df``: ``kinds`` are the spec types, ``nulls`` the missing counts and
    ``distinct`` the distinct counts when the caller has them (counted here otherwise)."""
    rows = df.height
    out = Keys()
    if rows < 2:
        return out
    order = list(df.columns)
    candidates = [
        c for c in order if kinds[c] in KEY_TYPES and nulls[c] == 0 and c not in free_text
    ]
    if not candidates:
        return out
    if distinct is None:
        distinct = dict(
            zip(candidates, df.select(pl.col(candidates).n_unique()).row(0), strict=True)
        )
    out.repeated_rows = rows - distinct_rows(df, order)
    # No subset of the candidates is unique when all of them together are not: the search
    # (and its counts over the whole frame) is skipped. Rows repeated whole settle it at once.
    union_unique = not out.repeated_rows and distinct_rows(df, candidates) == rows
    rank = functools.partial(_rank, order=order, distinct=distinct)
    found = _unique_sets(df, candidates, distinct, rank) if union_unique else []
    found = sorted(found, key=rank)
    if found:
        out.key = list(found[0])
        out.unique = [list(c) for c in found[1:]]
    near_limit = max(NEAR_KEY_ROWS, rows // 1000)
    for c in sorted(candidates, key=lambda c: -distinct[c]):
        if 0 < rows - distinct[c] <= near_limit and distinct[c] >= NEAR_SHARE * rows:
            extra, named = _duplicates(df, [c])
            out.near[(c,)] = f"unique except {extra} rows (duplicated: {named})"
    return out
