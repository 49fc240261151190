"""Ingestion of one big CSV file: throughput and peak RSS against the raw engines.

    .venv/bin/python -m benchmarks.big_file --gb 4

The issue's memory target is about file size ("4 GB of CSV in less than 1.5 GB RSS"), which the
main benchmark's chunked files (1M rows each) do not test. This generates orders with the
project's generator (CSV, 0.2% of every defect kind but duplicate keys, as the main benchmark),
joins the chunks into one file of at least ``--gb`` GB (10^9 bytes), and then, each in its own
subprocess so each peak RSS is its own:

- ``pipeline``: the ingestion stage through Dagster (``benchmarks.run --stage ingestion``);
- ``duckdb_floor`` and ``polars_floor``: the raw engines' CSV-to-Parquet of the same file, as in
  ``benchmarks.run``.

It prints one JSON object: the file's size, and per contender its seconds, MB/s and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.contenders import run_contender
from benchmarks.processes import run_for_result

ROWS_PER_GB = 13_000_000  # ~77 bytes an order as CSV


def big_orders_file(landing: Path, gb: float, chunk_rows: int = 1_000_000) -> Path:
    """Write ``landing/orders/orders-all.csv`` of at least ``gb`` * 10^9 bytes, joined from the
    generator's chunks of ``chunk_rows``."""
    from assets.generator import GeneratorConfig, generate_dataset
    from assets.generator.defects import DEFECT_KINDS

    orders = int(gb * ROWS_PER_GB * 1.05)
    landing.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=landing.parent) as tmp:
        generate_dataset(
            Path(tmp),
            GeneratorConfig(
                customers=max(orders // 20, 1),
                orders=orders,
                support_tickets=1,
                usage_events=1,
                fmt="csv",
                chunk_rows=chunk_rows,
                defect_rates=dict.fromkeys(set(DEFECT_KINDS) - {"duplicate_key"}, 0.002),
            ),
        )
        target = landing / "orders" / "orders-all.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            for i, chunk in enumerate(sorted((Path(tmp) / "orders").glob("*.csv"))):
                with chunk.open("rb") as src:
                    if i:
                        src.readline()  # the header, once
                    shutil.copyfileobj(src, out, 16 << 20)
    if target.stat().st_size < gb * 1e9:
        raise SystemExit(f"generated {target.stat().st_size:,} bytes, short of {gb} GB")
    return target


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gb", type=float, default=4.0, help="the file's size in 10^9 bytes")
    p.add_argument("--workdir", type=Path, help="default: a temporary folder, removed after")
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-big-file-"))
    try:
        landing = workdir / "landing"
        started = time.perf_counter()
        big = big_orders_file(landing, args.gb)
        size_mb = big.stat().st_size / 1e6
        print(f"wrote {size_mb:,.0f} MB in one file in {time.perf_counter() - started:.1f} s")
        results: dict[str, dict] = {}
        data_dir = workdir / "run-pipeline"
        data_dir.mkdir()
        (data_dir / "landing").symlink_to(landing, target_is_directory=True)
        env = {**os.environ, "DAGSTER_HOME": str(workdir / "dagster_home")}
        stage = run_for_result(["--stage", "ingestion", str(data_dir)], "ingestion", env=env)
        results["pipeline"] = {"seconds": stage["wall_s"], "peak_rss_mb": stage["peak_rss_mb"]}
        for name in ("duckdb_floor", "polars_floor"):
            floor = run_contender(name, landing, workdir)
            results[name] = {
                "seconds": floor["stages"]["ingestion"],
                "peak_rss_mb": floor["peak_rss_mb"],
            }
        for r in results.values():
            r["mb_per_s"] = round(size_mb / r["seconds"], 1)
            r["seconds"] = round(r["seconds"], 2)
            r["peak_rss_mb"] = round(r["peak_rss_mb"])
        print(json.dumps({"file_mb": round(size_mb), "contenders": results}, indent=2))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
