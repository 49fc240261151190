"""The bounded-memory search for exact duplicates and repeated keys, by row hashes.

Rows are named by ``_row_id`` (their position in the raw table): one 64-bit hash per row finds
the candidates, and only the candidates' values are compared, so a collision never flags a row.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl

ROW_ID = "_row_id"
_HASH = "_hash"
HASH_COLUMN = _HASH  # the hash column ``repeated_hash_rows`` reads, beside ``ROW_ID``
# Rows per bucket when searching row hashes for repeats: the search takes ~80 bytes a row
# (measured at 10M rows), so it stays near 350 MB whatever the table's size.
HASH_BUCKET_ROWS = 4_000_000
_NO_SHARED_SCAN = pl.QueryOptFlags(comm_subplan_elim=False)


def row_in(ids: pl.Series) -> pl.Expr:
    """Whether a row's ``_row_id`` is among ``ids``."""
    return pl.col(ROW_ID).is_in(ids.implode())


def repeat_ids(
    indexed: pl.LazyFrame,
    columns: list[str],
    *,
    skip: pl.Series | None = None,
    present_only: bool = False,
    scratch_dir: Path | None = None,
    bucket_rows: int = HASH_BUCKET_ROWS,
) -> pl.Series:
    """``_row_id`` of every row whose values in ``columns`` equal those of an earlier row.

    Memory stays narrow whatever the row width: one 64-bit hash per row (streamed) finds the
    candidates, the rows whose hash occurs more than once, and only those rows are compared on
    their real values, so a hash collision never flags a row. ``skip``: row ids left out (exact
    duplicates, when judging keys); ``present_only``: rows with a null in ``columns`` are never
    repeats.

    With ``scratch_dir`` the hashes are written there first and searched in buckets of about
    ``bucket_rows`` rows (equal values share a hash, so a bucket by hash is exact): the search
    holds one bucket at a time, so its memory does not grow with the table.
    """
    lf = indexed
    if skip is not None and skip.len():
        lf = lf.filter(~row_in(skip))
    if present_only:
        lf = lf.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in columns]))
    hashed = lf.select(ROW_ID, pl.struct(columns).hash().alias(_HASH))
    candidates = repeated_hash_rows(hashed, scratch_dir, bucket_rows=bucket_rows)
    if candidates.is_empty():
        return candidates
    exact = (
        lf.filter(row_in(candidates))
        .select(ROW_ID, *columns)
        .collect(engine="streaming")
        .sort(ROW_ID)
    )
    return exact.filter(~pl.struct(columns).is_first_distinct()).get_column(ROW_ID)


# The most candidate rows (sharing a key hash) whose whole values ``duplicates_and_repeats``
# compares at once (~150 MB for orders); beyond it, a key that repeats that often (a misdeclared
# key) is searched the slower way, exact duplicates on their own hash first, so memory stays
# bounded. The benchmark's defects give ~40k candidates per 10M orders.
COMBINED_SEARCH_ROWS = 1_000_000


def duplicates_and_repeats(
    indexed: pl.LazyFrame,
    payload: list[str],
    groups: list[list[str]],
    *,
    scratch_dir: Path | None = None,
    bucket_rows: int = HASH_BUCKET_ROWS,
    max_candidates: int = COMBINED_SEARCH_ROWS,
) -> tuple[pl.Series, list[pl.Series]]:
    """The exact duplicates (as ``repeat_ids(indexed, payload)``) and, for each of ``groups``,
    the later rows repeating its values among the rest (as ``repeat_ids(indexed, group,
    skip=duplicates, present_only=True)``).

    Two equal rows share their first group's values, so one search of that group's hash (the
    whole row's hash where the group has a null) finds the candidates of both: hashing only the
    key, not every column, took the two searches from ~2.9 s to ~1.4 s for 10M orders. Only
    the candidates' values are compared. Further groups are searched on their own.
    """
    if not groups:
        return repeat_ids(indexed, payload, scratch_dir=scratch_dir, bucket_rows=bucket_rows), []
    first = groups[0]
    present = pl.all_horizontal([pl.col(c).is_not_null() for c in first])
    hashed = indexed.filter(present).select(ROW_ID, pl.struct(first).hash().alias(_HASH))
    # Rows with a null in the group are matched on the whole row. The filter is not pushed
    # below the row index, so hashing them decodes every column of every row (0.43 s at 10M
    # orders) even when there are none: they are counted first, from the group's columns alone
    # (0.14 s).
    null_keyed = indexed.filter(~present)
    if null_keyed.select(pl.len()).collect().item():
        whole_rows = null_keyed.select(ROW_ID, pl.struct(payload).hash().alias(_HASH))
        hashed = pl.concat([hashed, whole_rows])
    candidates = repeated_hash_rows(hashed, scratch_dir, bucket_rows=bucket_rows)
    searched: list[pl.Series] = []
    if candidates.len() > max_candidates:
        duplicates = repeat_ids(indexed, payload, scratch_dir=scratch_dir, bucket_rows=bucket_rows)
    else:
        exact = (
            indexed.filter(row_in(candidates))
            .select(ROW_ID, *payload)
            .collect(engine="streaming")
            .sort(ROW_ID)
            .rechunk()  # one chunk: the ids become ``is_in`` lists; 120 chunks took 1.5 GB
        )
        is_duplicate = ~pl.struct(payload).is_first_distinct()
        duplicates = exact.filter(is_duplicate).get_column(ROW_ID)
        kept = exact.filter(~is_duplicate & present)
        searched.append(kept.filter(~pl.struct(first).is_first_distinct()).get_column(ROW_ID))
    return duplicates, searched + [
        repeat_ids(
            indexed,
            group,
            skip=duplicates,
            present_only=True,
            scratch_dir=scratch_dir,
            bucket_rows=bucket_rows,
        )
        for group in groups[len(searched) :]
    ]


def repeated_hash_rows(
    hashed: pl.LazyFrame, scratch_dir: Path | None, *, bucket_rows: int = HASH_BUCKET_ROWS
) -> pl.Series:
    """Sorted ``_row_id`` of the rows (``_row_id``, ``_hash``) whose hash occurs more than once.

    With ``scratch_dir`` the hashes are written there first and searched in buckets of about
    ``bucket_rows`` rows (equal hashes share a bucket, so a bucket is exact): the search holds
    one bucket at a time, ~80 bytes a row, so its memory does not grow with the table.
    """
    if scratch_dir is None:
        return _repeated_hashes(hashed).sort()
    fd, name = tempfile.mkstemp(dir=scratch_dir, prefix="hashes-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    try:
        # Without the shared-scan optimization: hashes built from two queries over one scan
        # (``duplicates_and_repeats``) made Polars cache all the scanned columns, 1.5 GB at 10M
        # orders, where each query reading its own columns holds ~0.5 GB.
        hashed.sink_parquet(path, compression="uncompressed", optimizations=_NO_SHARED_SCAN)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        buckets = max(1, -(-rows // bucket_rows))
        return pl.concat(
            [
                _repeated_hashes(pl.scan_parquet(path).filter(pl.col(_HASH) % buckets == b))
                for b in range(buckets)
            ]
        ).sort()
    finally:
        path.unlink(missing_ok=True)


def _repeated_hashes(hashed: pl.LazyFrame) -> pl.Series:
    """Row ids whose hash occurs more than once in ``hashed``.

    Counting each hash and semi-joining the repeated ones back is twice as fast as
    ``is_duplicated`` (2M hashes: 0.31 s to 0.14 s), which the streaming engine runs in one
    partition.
    """
    repeated = hashed.group_by(_HASH).len().filter(pl.col("len") > 1).select(_HASH)
    return (
        hashed.join(repeated, on=_HASH, how="semi")
        .select(ROW_ID)
        .collect(engine="streaming")
        .to_series()
    )
