"""Small frame helpers shared by several stages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl


def is_nested(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Struct | pl.List | pl.Array)


def as_json_text(name: str, dtype: pl.DataType) -> pl.Expr:
    """A nested column (struct, list, array) as its JSON text, vectorised."""
    return json_text(pl.col(name), dtype).alias(name)


def json_text(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A nested value (struct, list, array) of ``dtype`` as its JSON text; a missing one
    stays missing (not the text ``null``)."""
    if isinstance(dtype, pl.Struct):
        encoded = value.struct.json_encode()
    else:
        # Wrap in a one-field struct to encode, then cut the wrapper: {"v":[1,2]} -> [1,2].
        wrapped = pl.struct(value.alias("v")).struct.json_encode()
        encoded = wrapped.str.slice(5).str.strip_suffix("}")
    return pl.when(value.is_not_null()).then(encoded)


def join_lookup(
    facts: pl.LazyFrame,
    lookup: pl.LazyFrame,
    on: str | list[str],
    *,
    maintain_order: bool = False,
    nulls_equal: bool = False,
) -> pl.LazyFrame:
    """Left-join a lookup table (products, customers, parent keys) onto a large fact table.

    The lookup is always the hash-table side. Left to choose, Polars' streaming join buffers up
    to ``POLARS_JOIN_SAMPLE_LIMIT`` rows (10 million) of *both* sides to decide, which held the
    whole fact table in memory: enriching 10M orders peaked at 3.8 GB, with the lookup forced as
    the build side at under 1 GB (benchmarks/README.md).
    """
    return facts.join(
        lookup,
        on=on,
        how="left",
        build_side="force_right",
        maintain_order="left" if maintain_order else None,
        nulls_equal=nulls_equal,
    )


def key_codes(frame: pl.LazyFrame, column: str, code: str) -> pl.DataFrame:
    """The distinct values of ``column`` (a null too), sorted, each with a 0-based Int64
    ``code``: group sums by code (``np.bincount``) and windows over integers cost a fraction
    of those over string keys."""
    values = frame.select(column).unique().sort(column).collect()
    return values.with_row_index(code).with_columns(pl.col(code).cast(pl.Int64))


def with_codes(frame: pl.LazyFrame, codes: pl.DataFrame, column: str) -> pl.LazyFrame:
    """``frame`` with the ``key_codes`` of ``column`` beside it, in the same row order."""
    return join_lookup(frame, codes.lazy(), column, maintain_order=True, nulls_equal=True)


def unique_on(frame: pl.LazyFrame, key: str) -> pl.LazyFrame:
    """``frame`` with one row per ``key`` (the first), as a lookup for ``join_lookup``.

    Validated tables are usually unique on their key already, and a Polars ``unique`` over 2.5M
    customer ids held ~750 MB while counting their 64-bit hashes holds ~100 MB. So the hashes are
    counted first: all distinct proves the keys distinct, and the frame is returned as it is.
    Otherwise (a repeated key, several nulls, or a rare hash collision) it takes the ``unique``.
    """
    counts = frame.select(pl.len(), pl.col(key).hash().n_unique()).collect(engine="streaming")
    if counts.item(0, 0) == counts.item(0, 1):
        return frame
    return frame.unique(key, keep="first")


# Input rows per key range in ``aggregate_in_key_ranges``: a Polars group-by of ~9M completed
# orders into 3.3M product-days peaked at ~1.1 GB; in ranges of ~2.2M rows, at ~470 MB.
KEY_RANGE_ROWS = 2_000_000
_RANGE = "_key_range"


def key_range_bounds(keys: pl.Series, ranges: int) -> list[object]:
    """Lower bounds of ranges 1..n-1 over the distinct, sorted, non-null ``keys``: equal numbers
    of distinct keys per range (a key's rows all fall in one range)."""
    distinct = keys.drop_nulls().unique().sort()
    cuts = sorted({len(distinct) * i // ranges for i in range(1, ranges)} - {0})
    return [distinct[i] for i in cuts if i < len(distinct)]


# Range bounds are cut from a sample of the distinct keys: one key in every
# ``rows // KEY_SAMPLE_ROWS``, chosen by hash, so at most ~1M keys are held whatever the table
# (a Polars ``unique`` of 2.3M customer ids over 50M orders peaked at 1.4 GB; the sample, 0.13 GB).
KEY_SAMPLE_ROWS = 1_000_000
# Fewer sampled keys than this per range and the bounds come from all the distinct keys (then
# few enough to hold), so that the ranges stay even.
MIN_SAMPLED_KEYS_PER_RANGE = 200


def _key_sample(table: pl.LazyFrame, key: str, rows: int, ranges: int) -> pl.Series:
    """Distinct values of ``key``: all of them, or an even sample when there are many."""
    every = rows // KEY_SAMPLE_ROWS
    if every > 1:
        picked = pl.col(key).hash(seed=0) % every == 0
        sample = table.select(key).filter(picked).unique().collect(engine="streaming")
        if sample.height >= ranges * MIN_SAMPLED_KEYS_PER_RANGE:
            return sample.to_series()
    return table.select(pl.col(key).unique()).collect(engine="streaming").to_series()


def aggregate_in_key_ranges(
    rows: pl.LazyFrame,
    key: str,
    aggregate: Callable[[pl.LazyFrame], pl.LazyFrame],
    scratch_dir: Path,
    *,
    range_rows: int = KEY_RANGE_ROWS,
) -> pl.LazyFrame:
    """``aggregate`` applied to one range of ``key`` at a time, so that its memory follows the
    rows of one range and not of the table; the ranges' results, concatenated in range order.

    When ``aggregate`` groups by ``key`` (among others) and sorts by it first, nulls first as
    Polars sorts, every group lies in one range and that concatenation is ``aggregate(rows)``
    in the same order. Otherwise the caller combines the ranges' results: the ranges hold
    disjoint keys, so distinct counts of ``key`` per group add up. ``rows`` are streamed once into
    ``scratch_dir`` (one folder per range, lz4) and each range is aggregated to a Parquet file
    there; the returned frame reads those files, so it must be consumed before ``scratch_dir``
    goes. With at most ``range_rows`` rows, it is ``aggregate(rows)`` itself.
    """
    return combine_in_key_ranges(
        {"rows": rows}, key, lambda t: aggregate(t["rows"]), scratch_dir, range_rows=range_rows
    )


def combine_in_key_ranges(
    tables: Mapping[str, pl.LazyFrame],
    key: str,
    combine: Callable[[dict[str, pl.LazyFrame]], pl.LazyFrame],
    scratch_dir: Path,
    *,
    range_rows: int = KEY_RANGE_ROWS,
) -> pl.LazyFrame:
    """``combine`` applied to every table's rows of one range of ``key`` at a time.

    The same as ``aggregate_in_key_ranges`` for several tables that share the key, such as
    customers with their orders, tickets and events: each is split by the same ranges, so a
    join or group-by on ``key`` inside ``combine`` sees all of a key's rows at once. The ranges
    are cut from the first table's keys (the key's home table, so each range holds as many of
    its keys) and their number follows the largest table. A table with no rows in a range gets
    an empty frame of its schema there.
    """
    rows = [int(t.select(pl.len()).collect(engine="streaming").item()) for t in tables.values()]
    ranges = -(-max(rows) // range_rows)
    if ranges <= 1:
        return combine(dict(tables))
    bounds = key_range_bounds(
        _key_sample(next(iter(tables.values())), key, rows[0], ranges), ranges
    )
    if not bounds:
        return combine(dict(tables))
    # Null keys compare as null, counted as 0: they land in range 0, first as in the sort.
    which = pl.sum_horizontal(
        [(pl.col(key) >= pl.lit(b)).fill_null(False).cast(pl.UInt32) for b in bounds]
    )
    for i, table in enumerate(tables.values()):
        table.with_columns(which.alias(_RANGE)).sink_parquet(
            pl.PartitionBy(scratch_dir / f"split-{i}", key=_RANGE, include_key=False),
            compression="lz4",
            mkdir=True,
        )
    schemas = {name: table.collect_schema() for name, table in tables.items()}
    parts = []
    for r in range(len(bounds) + 1):
        scans = {}
        for i, name in enumerate(tables):
            folder = scratch_dir / f"split-{i}" / f"{_RANGE}={r}"
            scans[name] = (
                pl.scan_parquet(folder) if folder.exists() else pl.LazyFrame(schema=schemas[name])
            )
        part = scratch_dir / f"combined-{r:05d}.parquet"
        combine(scans).sink_parquet(part, compression="lz4")
        parts.append(part)
    return pl.scan_parquet(parts)


def fit_sample(
    rows_of: pl.LazyFrame, rows: int, key: str = "customer_id"
) -> tuple[pl.DataFrame, int]:
    """The rows, or about ``rows`` of them chosen by a hash of ``key`` (the same keys on every
    run) when there are more, in ``key`` order; and how many rows there are. A model fitted or
    judged on it holds that many rows in memory whatever the table's size."""
    total = int(rows_of.select(pl.len()).collect().item())
    every = -(-total // rows)
    # Sorted by key: the lake keeps no row order (parallel writes, joins), and a seeded model
    # fitted on the same rows in another order is another model.
    if every <= 1:
        return rows_of.sort(key).collect(), total
    return rows_of.filter(pl.col(key).hash(seed=0) % every == 0).sort(key).collect(), total


def value_counts(frame: pl.LazyFrame, column: str, *, nulls: bool = False) -> pl.DataFrame:
    """``column``'s values (``value``) with their rows (``rows``), null among them when
    ``nulls``: its distinct count is the height. A lazy ``group_by`` on the streaming engine:
    over 10M rows of text a third of the time of ``value_counts`` or ``n_unique`` in a
    ``select``, and one column's counts in memory at a time instead of the whole table."""
    values = frame.select(pl.col(column).alias("value"))
    if not nulls:
        values = values.drop_nulls()
    return values.group_by("value").len(name="rows").collect(engine="streaming")


def most_frequent(counts: pl.DataFrame, n: int) -> pl.DataFrame:
    """The ``n`` present values of a ``value_counts`` frame (``value``, ``rows``) with the most
    rows, ties in value order (a full sort of millions of distinct values would cost more than
    the counting)."""
    present = counts.filter(pl.col("value").is_not_null())
    if present.is_empty():
        return present
    nth = present["rows"].top_k(n).min()
    tied = present.filter(pl.col("rows") >= nth)
    return tied.sort(["rows", "value"], descending=[True, False]).head(n)
