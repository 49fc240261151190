"""The raw engines' floor for ingestion: the same CSV files read with type inference and written
as one Parquet file per entity, with no contract, no quarantine and no metadata.

Each floor also times ``count_rows`` (``read_csv`` / ``scan_csv`` counting rows), the bare scan;
Polars answers that from line counts alone. Polars also times ``copy_parquet``, rewriting its own
Parquet files with no work: ingestion plus that copy is the floor for ingest + validate, which
keep two tables of the same rows.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path


def _entity_files(data_dir: Path) -> list[tuple[str, list[Path]]]:
    """(entity, its CSV files) for every landing folder that has any."""
    folders = sorted((data_dir / "landing").iterdir())
    found = [(folder.name, sorted(folder.glob("*.csv"))) for folder in folders]
    return [(name, files) for name, files in found if files]


def duckdb_floor(data_dir: Path) -> dict:
    """Read every entity's CSV files with type inference and write one Parquet file each."""
    import duckdb

    out = Path(tempfile.mkdtemp(prefix="floor-duckdb-"))
    started = time.perf_counter()
    with duckdb.connect() as con:
        for name, files in _entity_files(data_dir):
            target = str(out / f"{name}.parquet").replace("'", "''")
            con.execute(
                f"COPY (SELECT * FROM read_csv(?, union_by_name = true)) TO '{target}' "  # noqa: S608 - our temp path
                "(FORMAT parquet, COMPRESSION zstd)",
                [[str(f) for f in files]],
            )
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with duckdb.connect() as con:
        for _, files in _entity_files(data_dir):
            con.execute(
                "SELECT count(*) FROM read_csv(?, union_by_name = true)", [[str(f) for f in files]]
            )
    return {"stages": {"ingestion": seconds, "count_rows": time.perf_counter() - started}}


def polars_floor(data_dir: Path) -> dict:
    """The same with Polars: scan_csv (schema inferred) streamed into sink_parquet."""
    import polars as pl

    out = Path(tempfile.mkdtemp(prefix="floor-polars-"))
    started = time.perf_counter()
    for name, files in _entity_files(data_dir):
        frames = [pl.scan_csv(f, infer_schema_length=10_000) for f in files]
        pl.concat(frames, how="diagonal_relaxed").sink_parquet(
            out / f"{name}.parquet", compression="zstd"
        )
    seconds = time.perf_counter() - started
    # The least a second materialized table of the same rows costs: read those Parquet files
    # and write them again, no work in between. Ingest + validate keeps two tables (raw, then
    # validated), so ingestion's floor plus this copy is the floor for both stages together.
    started = time.perf_counter()
    for written in sorted(out.glob("*.parquet")):
        pl.scan_parquet(written).sink_parquet(written.with_suffix(".copy"), compression="zstd")
    copy_seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    for _, files in _entity_files(data_dir):
        lazy = [pl.scan_csv(f, infer_schema=False) for f in files]
        pl.concat(lazy, how="diagonal").select(pl.len()).collect()
    return {
        "stages": {
            "ingestion": seconds,
            "count_rows": time.perf_counter() - started,
            "copy_parquet": copy_seconds,
        }
    }
