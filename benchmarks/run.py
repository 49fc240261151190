"""The benchmark: the pipeline against a pandas baseline and the raw engines, in one run.

    .venv/bin/python -m benchmarks.run --scale small            # 3 repetitions, median
    .venv/bin/python -m benchmarks.run --scale medium --reps 3
    .venv/bin/python -m benchmarks.run --scale small --reps 1   # what CI runs, as a smoke test
    DAGSTER_PG_URL=postgresql://... .venv/bin/python -m benchmarks.run --scale medium \
        --instance postgres                                     # the production instance

The data is generated once with the project's generator (CSV, default defect rate). Every
contender then runs in its own subprocess, one after the other, on the same files, so each one's
peak RSS is its own and the ratios hold on a noisy machine:

- ``pipeline``: every stage through Dagster (``execute_in_process`` of ``full_pipeline``), with
  seconds per stage from the run's step statistics, and Dagster's overhead: the run's wall time
  minus the steps' time, plus the time the steps spent writing events to the instance's event
  log (the steps' time includes it);
- ``pipeline_by_stage``: each stage (asset group) materialized in a process of its own;
- ``pandas``: ``benchmarks/pandas_baseline/`` (pandas + pandera-on-pandas), every stage the
  pipeline compares: ingestion, validation, enrichment, features and analytics;
- ``duckdb_floor`` and ``polars_floor``: the raw engines reading the same CSV files with type
  inference and writing one Parquet file per entity (no contract, no quarantine, no metadata):
  the practical floor for ingestion. Each also times ``count_rows`` (``read_csv`` /
  ``scan_csv`` counting rows), the bare scan; Polars answers that from line counts alone.
  Polars also times ``copy_parquet``, rewriting its own Parquet files with no work: ingestion
  plus that copy is the floor for ingest + validate, which keep two tables of the same rows.

Per stage it records wall seconds (every contender), CPU seconds of all threads (the stages run
apart, and pandas), peak RSS (the stages run apart), and source rows and CSV megabytes per
second: each stage against the same input, the data as it landed.

It prints a table and writes ``<out>/<scale>-<date>.json`` (``<scale>-<date>-postgres.json`` on
the Postgres instance; ``--out`` defaults to ``benchmarks/results``). It asserts nothing about
time: timings belong here, not in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.contenders import CONTENDERS, contender_main, run_contender
from benchmarks.instance import INSTANCE_ENV, INSTANCES, POSTGRES_NEEDS_URL
from benchmarks.landing import SCALES, csv_bytes, generate, source_rows
from benchmarks.pipeline_runs import STAGES, stage_main
from benchmarks.summary import COMPARED, print_table, summarise

RESULTS = Path(__file__).resolve().parent / "results"


def result_path(out: Path, scale: str, instance: str, day: str) -> Path:
    """``<scale>-<date>.json``: a later run the same day replaces the earlier one. The instance
    is part of the name only when it is not the default, as it changes what is measured."""
    suffix = "" if instance == "sqlite" else f"-{instance}"
    return out / f"{scale}-{day}{suffix}.json"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--reps", type=int, default=None, help="default: 3 (1 at large and xl)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--instance",
        choices=INSTANCES,
        default="sqlite",
        help="the Dagster instance of the pipeline's runs (postgres: $DAGSTER_PG_URL)",
    )
    # A contender's or a stage's own process: ``python -m benchmarks.run --contender NAME DIR``.
    p.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    p.add_argument("data_dir", nargs="?", type=Path, help=argparse.SUPPRESS)
    return p


def _repetitions(landing: Path, workdir: Path, reps: int) -> list[dict[str, dict]]:
    """Every contender once per repetition, one after the other on the same files."""
    results = []
    for rep in range(reps):
        one = {}
        for name in CONTENDERS:
            one[name] = run_contender(name, landing, workdir)
            print(f"rep {rep + 1}/{reps} {name}: {one[name]['process_wall_s']:.1f} s", flush=True)
        results.append(one)
    return results


def main(argv: list[str] | None = None) -> None:
    p = _parser()
    args = p.parse_args(argv)
    if args.contender:
        contender_main(args.contender, args.data_dir)
        return
    if args.stage:
        stage_main(args.stage, args.data_dir)
        return
    if args.instance == "postgres" and not os.environ.get("DAGSTER_PG_URL"):
        p.error(POSTGRES_NEEDS_URL)
    os.environ[INSTANCE_ENV] = args.instance  # read by the contenders' processes
    reps = args.reps or (3 if args.scale in ("tiny", "small", "medium") else 1)
    with tempfile.TemporaryDirectory(prefix=f"bench-{args.scale}-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        landing = generate(workdir, args.scale)
        print(f"generated {args.scale} data in {time.perf_counter() - started:.1f} s", flush=True)
        csv_mb = csv_bytes(landing) / 1e6
        rows = source_rows(landing)
        results = _repetitions(landing, workdir, reps)
    summary = summarise(results, csv_mb, rows)
    print_table(summary, args.scale, csv_mb)
    report = {
        "scale": args.scale,
        "customers_orders": SCALES[args.scale],
        "csv_mb": round(csv_mb, 1),
        "source_rows": rows,
        "repetitions": reps,
        "dagster_instance": args.instance,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "compared_stages": list(COMPARED),
        "summary": summary,
        "runs": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = result_path(args.out, args.scale, args.instance, datetime.now(UTC).date().isoformat())
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
