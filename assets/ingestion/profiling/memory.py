"""How much memory profiling a set of files takes, and how many rows fit when all do not.

The profile holds each dataset's rows as read and their typed copy, and a folder's datasets
all at once (the foreign-key search compares them). Measured peaks: 5.5x to 6.5x the bytes of
CSV read, 11x a Parquet file's decoded (uncompressed) pages (benchmarks/README.md, "Profiling
against ingestion"). A gzip file counts for the text it holds, read from its trailer.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.core.readers import parquet_inflated_bytes

TEXT_FACTOR = 7
PARQUET_FACTOR = 12
ASSUMED_ROW_BYTES = 100  # XML, whose records cannot be counted from its bytes
FIT_SHARE = 0.8  # of the memory available, the most a profile may plan to take


@dataclass(frozen=True)
class Holding:
    """One dataset's rows and the memory each takes while it is profiled."""

    rows: int
    bytes_per_row: float

    def need(self, max_rows: int | None = None) -> float:
        rows = self.rows if max_rows is None else min(self.rows, max_rows)
        return rows * self.bytes_per_row


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def _gzip_text_bytes(path: Path) -> int:
    """The size of a gzip file's text: its trailer holds it modulo 2**32."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(-4, 2)
        text = int.from_bytes(fh.read(4), "little")
    while text < size:  # a text of 4 GiB or more wrapped around
        text += 1 << 32
    return text


def _text_row_bytes(path: Path) -> float:
    """The mean length of a row in the first MiB of text."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        head = fh.read(1 << 20)
    return len(head) / max(head.count(b"\n"), 1)


def holding(paths: list[Path]) -> Holding:
    """The rows of one dataset's files and the memory a row takes in the profile."""
    rows, need = 0.0, 0.0
    for path in paths:
        try:
            file_rows, file_need = _file_holding(path)
        except Exception:  # a broken file is refused by its reader, with the reason
            file_rows, file_need = path.stat().st_size / ASSUMED_ROW_BYTES, 0.0
        rows += file_rows
        need += file_need
    return Holding(int(rows), need / rows if rows else 0.0)


def _file_holding(path: Path) -> tuple[float, float]:
    """(rows, bytes of memory) of one file."""
    if _is_parquet(path):
        count = pl.scan_parquet(path).select(pl.len()).collect().item()
        return count, parquet_inflated_bytes(path) * PARQUET_FACTOR
    text = _gzip_text_bytes(path) if path.name.lower().endswith(".gz") else path.stat().st_size
    per_row = ASSUMED_ROW_BYTES if path.name.lower().endswith(".xml") else _text_row_bytes(path)
    return (text / per_row if per_row else 0.0), text * TEXT_FACTOR  # empty: no row


def rows_that_fit(datasets: list[Holding], budget: float) -> int:
    """The largest N such that the first N rows of every dataset take at most ``budget``."""
    low, high = 1, max((d.rows for d in datasets), default=1)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(d.need(mid) for d in datasets) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def memory_refusal(datasets: list[list[Path]], available: int | None) -> str | None:
    """Why profiling every row of ``datasets`` (each a dataset's files) would not fit in
    ``available`` bytes, with a ``--rows`` that would; None when it fits or memory is
    unknown."""
    if available is None:
        return None
    held = [holding(paths) for paths in datasets if paths]
    need = sum(d.need() for d in held)
    budget = FIT_SHARE * available
    if need <= budget:
        return None
    rows = rows_that_fit(held, budget)
    step = 10 ** max(len(str(rows)) - 2, 0)
    rows = max(rows // step * step, 1)  # two significant digits, rounded down: a number to type
    return (
        f"profiling every row needs about {need / 1e9:.1f} GB of memory and "
        f"{available / 1e9:.1f} GB is available; pass --rows {rows} to profile the first "
        f"{rows:,} rows of each dataset"
    )


def available_memory() -> int | None:
    """The bytes the kernel says can be allocated without swapping (None where it cannot say)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:  # not Linux: nothing to refuse by
        return None
    found = [line.split()[1] for line in lines if line.startswith("MemAvailable:")]
    return int(found[0]) * 1024 if found else None
