"""Daily partitions of an event-dated dataset: which day a row belongs to, and writing days.

A partitioned table is stored as ``<table>/date=YYYY-MM-DD/part-full.parquet``, one file per day,
each replaced atomically, so re-running a day replaces exactly that day. Every row gets the day
of its partition column (``_partition``). A row whose date is missing, unparseable or outside the
partition window cannot be placed by its date; it goes to the first in-window day of its own file
(or, when the file has none, the last day of the window) so that it is never lost, and
validation then quarantines it (``partition:<column>``: its date does not match its partition).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from assets.core.columns import PARTITION, event_day
from assets.core.readers import BadFile, detect_format, read_landing_file
from assets.core.spec import DatasetSpec
from assets.core.storage import (
    FULL_PART,
    Lake,
    LakePath,
    read_parquet,
    remove_tree,
    scan_parquet,
    scan_parts,
    sink_parquet_atomic,
)
from assets.ingestion.conform import conform, empty_table

DAY_PREFIX = "date="
# Days written per collected chunk: bounds memory to about a month of rows in a long backfill.
CHUNK_DAYS = 31


@dataclass(frozen=True)
class Window:
    """The partition window: every day from ``start`` to ``end``, both included."""

    start: date
    end: date


def window_of(start: datetime, last_key: str | None) -> Window:
    """The days of a daily partitions definition, from the start of its first day through its
    last key (today, UTC)."""
    assert last_key is not None
    return Window(start.date(), date.fromisoformat(last_key))


def day_key(day: date) -> str:
    return day.isoformat()


def in_window(day: pl.Expr, window: Window) -> pl.Expr:
    return day.is_between(pl.lit(window.start), pl.lit(window.end)).fill_null(False)


def file_days(part: LakePath, spec: DatasetSpec, window: Window) -> tuple[date, date, date]:
    """(first, last, fallback) in-window days of one ingested file part; the fallback day takes
    the rows that cannot be placed by their date."""
    day = event_day(spec)
    row = (
        scan_parquet(part)
        .select(day.alias("d"))
        .filter(in_window(pl.col("d"), window))
        .select(pl.col("d").min().alias("lo"), pl.col("d").max().alias("hi"))
        .collect()
        .row(0)
    )
    lo, hi = row
    if lo is None:
        return window.end, window.end, window.end
    return lo, hi, lo


def assign(lf: pl.LazyFrame, spec: DatasetSpec, window: Window, fallback: date) -> pl.LazyFrame:
    """``lf`` with ``_partition``: its own day when in the window, else ``fallback``."""
    day = event_day(spec)
    return lf.with_columns(
        pl.when(in_window(day, window)).then(day).otherwise(pl.lit(fallback)).alias(PARTITION)
    )


def day_dir(table_dir: LakePath, day: date) -> LakePath:
    return table_dir / f"{DAY_PREFIX}{day_key(day)}"


def day_parts(table_dir: LakePath, days: Iterable[date]) -> list[LakePath]:
    """The existing part files of the given days of a table."""
    return [p for d in days if (p := day_dir(table_dir, d) / FULL_PART).exists()]


def write_days(frame: pl.LazyFrame, table_dir: LakePath, days: Sequence[date]) -> dict[str, int]:
    """Replace each of ``days`` in the table with the rows of ``frame`` whose ``_partition`` is
    that day, one atomic file per day; a day with no rows left is removed. Days not listed are
    never touched. Returns the rows written per day (days with rows only)."""
    written: dict[str, int] = {}
    for i in range(0, len(days), CHUNK_DAYS):
        chunk = list(days[i : i + CHUNK_DAYS])
        rows = frame.filter(pl.col(PARTITION).is_between(chunk[0], chunk[-1])).collect()
        by_day = {k[0]: part for k, part in rows.partition_by(PARTITION, as_dict=True).items()}
        for day in chunk:
            target = day_dir(table_dir, day)
            part = by_day.get(day)
            if part is None or part.height == 0:
                if target.exists():
                    remove_tree(target)
                continue
            sink_parquet_atomic(part, target / FULL_PART)
            written[day_key(day)] = part.height
    return written


def partition_keys_between(first: str, last: str) -> list[date]:
    lo, hi = date.fromisoformat(first), date.fromisoformat(last)
    return [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]


FILE_DAYS_SCHEMA = {"part": pl.String, "first": pl.Date, "last": pl.Date, "fallback": pl.Date}


def file_parts(files_dir: LakePath) -> list[LakePath]:
    """The ingested files of a dataset (one typed part each), without the empty schema part."""
    parts: list[LakePath] = sorted(files_dir.glob("part-*.parquet"))  # type: ignore[type-var]
    return [p for p in parts if "schema" not in p.name]


def file_day_index(files_dir: LakePath, state_path: LakePath, spec: DatasetSpec, window: Window):
    """(first, last, fallback) days of every ingested file, cached in ``state_path`` so each file
    is read for its dates once."""
    cached = pl.DataFrame(schema=FILE_DAYS_SCHEMA)
    if state_path.exists():
        cached = read_parquet(state_path)
    known = set(cached["part"].to_list())
    parts = file_parts(files_dir)
    new = []
    for p in parts:
        if p.name not in known:
            first, last, fallback = file_days(p, spec, window)
            new.append({"part": p.name, "first": first, "last": last, "fallback": fallback})
    if new:
        cached = pl.concat([cached, pl.DataFrame(new, schema=FILE_DAYS_SCHEMA)])
        sink_parquet_atomic(cached, state_path)
    present = {p.name for p in parts}
    return cached.filter(pl.col("part").is_in(present))


def rebuild_days(
    spec: DatasetSpec,
    *,
    files_dir: LakePath,
    table_dir: LakePath,
    state_path: LakePath,
    window: Window,
    days: Sequence[date],
    empty: pl.DataFrame,
) -> dict[str, int]:
    """Rewrite ``days`` of the raw table from every ingested file that has rows on them."""
    if not days:
        return {}
    index = file_day_index(files_dir, state_path, spec, window)
    lo, hi = days[0], days[-1]
    overlaps = ((pl.col("first") <= hi) & (pl.col("last") >= lo)) | pl.col("fallback").is_between(
        lo, hi
    )
    relevant = index.filter(overlaps)
    frames = [
        assign(scan_parquet(files_dir / row["part"]), spec, window, row["fallback"])
        for row in relevant.iter_rows(named=True)
    ]
    if frames:
        frame = pl.concat(frames, how="diagonal_relaxed")
    else:
        frame = empty.lazy().with_columns(pl.lit(None, dtype=pl.Date).alias(PARTITION))
    return write_days(frame, table_dir, days)


def rebuild_raw_days(
    spec: DatasetSpec,
    lake: Lake,
    group: str,
    *,
    files_dir: LakePath,
    days: Sequence[date],
    window: Window,
) -> tuple[pl.LazyFrame, dict[str, int]]:
    """Rewrite ``days`` of the partitioned ``raw_<dataset>`` table from its ingested files; the
    table of those days (its schema part when none has rows) and the rows written per day."""
    name = f"raw_{spec.name}"
    table_dir = lake.table_dir(group, name)
    empty = empty_table(spec)
    schema_part = lake.ensure_schema_part(
        group, name, empty.with_columns(pl.lit(None, dtype=pl.Date).alias(PARTITION))
    )
    written = rebuild_days(
        spec,
        files_dir=files_dir,
        table_dir=table_dir,
        state_path=lake.state_path(group, f"{spec.name}_file_days.parquet"),
        window=window,
        days=days,
        empty=empty,
    )
    return scan_parts(day_parts(table_dir, days) or [schema_part]), written


def file_event_span(
    path: Path, spec: DatasetSpec, window: Window, workdir: Path
) -> tuple[date, date]:
    """The days a landing file's rows go to (first and last), read the way ingestion reads it.

    A file that cannot be read, or has no date inside the window, maps to the window's last day:
    its run then quarantines the file, or places its undated rows there.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(64)
        fmt = detect_format(path, head)
        lf, _info = read_landing_file(path, fmt, workdir, [c.name for c in spec.columns])
        days = (
            conform(lf, spec, source_file=path.name, file_sha256="")
            .select(event_day(spec).alias("d"))
            .filter(in_window(pl.col("d"), window))
            .select(pl.col("d").min().alias("lo"), pl.col("d").max().alias("hi"))
            .collect()
        )
        lo, hi = days.row(0)
    except (BadFile, pl.exceptions.PolarsError, OSError, UnicodeError):
        return window.end, window.end
    if lo is None:
        return window.end, window.end
    return lo, hi


RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: date | str, last: date | str) -> dict[str, str]:
    """Run tags that make one run cover the days ``first`` to ``last`` (a single-run backfill)."""
    return {RANGE_START_TAG: str(first), RANGE_END_TAG: str(last)}
