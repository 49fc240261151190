"""The Parquet lake: one folder per table, written atomically, read lazily with Polars."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

FULL_PART = "part-full.parquet"
# A zero-row part with the table's columns, so scans and views resolve before any data lands.
SCHEMA_PART = "part-0000-schema.parquet"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes through a uniquely named temp file in the same folder, fsync, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sink_parquet_atomic(frame: pl.LazyFrame | pl.DataFrame, path: Path) -> None:
    """Stream a frame to ``path`` through a temp file in the same folder, fsync, then rename.

    A crash at any point leaves the old file or the new one, never a partial file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(frame, pl.DataFrame):
            frame.write_parquet(tmp, compression="zstd")
        else:
            frame.sink_parquet(tmp, compression="zstd")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def scan_parts(parts: list[Path]) -> pl.LazyFrame:
    """Parquet files as one LazyFrame with their schemas unioned by column name.

    Files that share one schema (the usual case: the days of a partitioned table) are one scan,
    which plans and reads far faster than hundreds of concatenated scans.
    """
    schemas = [pl.read_parquet_schema(p) for p in parts]
    if all(s == schemas[0] for s in schemas[1:]):
        return pl.scan_parquet(parts)
    return pl.concat([pl.scan_parquet(p) for p in parts], how="diagonal_relaxed")


class LakeResource(dg.ConfigurableResource):
    """Tables live in ``<root>/<group>/<table>/part-*.parquet``; state in ``<root>/_state``."""

    root: str = Field(description="Lake root folder holding <group>/<table>/ Parquet parts.")

    def table_dir(self, group: str, name: str) -> Path:
        return Path(self.root) / group / name

    def state_path(self, *parts: str) -> Path:
        return Path(self.root, "_state", *parts)

    def glob(self, group: str, name: str) -> str:
        """The table's parts for DuckDB: top-level parts and those of daily partitions."""
        return str(self.table_dir(group, name).resolve() / "**" / "part-*.parquet")

    def parts(self, group: str, name: str) -> list[Path]:
        """Top-level parts, then the parts of each ``date=YYYY-MM-DD`` partition in day order."""
        directory = self.table_dir(group, name)
        return sorted(directory.glob("part-*.parquet")) + sorted(
            directory.glob("date=*/part-*.parquet")
        )

    def exists(self, group: str, name: str) -> bool:
        return bool(self.parts(group, name))

    def scan(self, group: str, name: str) -> pl.LazyFrame:
        """Every part of a table as one LazyFrame, schemas unioned by column name."""
        parts = self.parts(group, name)
        if not parts:
            raise FileNotFoundError(
                f"lake table {group}.{name} has no data at {self.table_dir(group, name)}; "
                "materialize it first"
            )
        return scan_parts(parts)

    def ensure_schema_part(self, group: str, name: str, empty: pl.DataFrame) -> Path:
        """Write the table's zero-row schema part once (atomically); return its path."""
        target = self.table_dir(group, name) / SCHEMA_PART
        if not target.exists():
            sink_parquet_atomic(empty.head(0), target)
        return target

    def replace(self, group: str, name: str, frame: pl.LazyFrame | pl.DataFrame) -> Path:
        """Replace a whole table with ``frame``: stream to a temp file, fsync, rename.

        Readers see the old table or the new one, never a partial file.
        """
        directory = self.table_dir(group, name)
        target = directory / FULL_PART
        sink_parquet_atomic(frame, target)
        for stale in directory.glob("part-*.parquet"):
            if stale.name != FULL_PART:
                stale.unlink()
        return target
