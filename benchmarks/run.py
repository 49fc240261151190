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
- ``pandas``: ``benchmarks/pandas_baseline.py`` (pandas + pandera-on-pandas), every stage the
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

It prints a table and writes ``benchmarks/results/<scale>-<date>.json``. It asserts nothing about
time: timings belong here, not in tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.laps import Laps

SCALES = {
    "tiny": (1_000, 10_000),
    "small": (10_000, 200_000),
    "medium": (100_000, 2_000_000),
    "large": (500_000, 10_000_000),
    "xl": (2_500_000, 50_000_000),
}
CONTENDERS = ("pipeline", "pipeline_by_stage", "pandas", "duckdb_floor", "polars_floor")
STAGES = ("ingestion", "validation", "enrichment", "features", "analytics", "reports")
# Stages the pandas baseline does too: all but the reports. Its analytics fit the pipeline's
# models (churn, segments, forecast, elasticity, anomalies) on the same sample sizes.
COMPARED = ("ingestion", "validation", "enrichment", "features", "analytics")
FIRST_THREE = ("ingestion", "validation", "enrichment")
RESULTS = Path(__file__).resolve().parent / "results"
# The Dagster instance the pipeline's runs store their events in: ``sqlite`` (a fresh embedded
# instance, the local default) or ``postgres`` (dagster-postgres at $DAGSTER_PG_URL, as in
# production). The parent passes it to the contenders' processes in this variable.
INSTANCE_ENV = "PIPELINE_BENCH_INSTANCE"
INSTANCES = ("sqlite", "postgres")
# The instance config shipped for production (``PIPELINE_INSTANCE=postgres``), used as it is.
POSTGRES_INSTANCE_YAML = (
    Path(__file__).resolve().parent.parent / "instance" / "dagster.postgres.yaml"
)

POSTGRES_NEEDS_URL = "--instance postgres needs DAGSTER_PG_URL (postgresql://user:pass@host/db)"


@contextlib.contextmanager
def bench_instance() -> Iterator[Any]:
    """The instance ``INSTANCE_ENV`` names: for ``postgres``, the shipped production config. The
    URL stays in the environment (the config names the variable), so the password is never
    written or printed."""
    import dagster as dg

    kind = os.environ.get(INSTANCE_ENV, "sqlite")
    if kind not in INSTANCES:
        raise SystemExit(f"{INSTANCE_ENV} must be one of {', '.join(INSTANCES)}, not {kind!r}")
    if kind == "sqlite":
        with dg.instance_for_test() as instance:
            yield instance
        return
    if not os.environ.get("DAGSTER_PG_URL"):
        raise SystemExit(POSTGRES_NEEDS_URL)
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        shutil.copyfile(POSTGRES_INSTANCE_YAML, Path(home) / "dagster.yaml")
        with dg.DagsterInstance.from_config(home) as instance:
            yield instance


def _csv_bytes(landing: Path) -> int:
    return sum(p.stat().st_size for p in landing.rglob("*.csv"))


def source_rows(landing: Path) -> int:
    """Data rows in every entity's CSV files (Polars counts them from the lines alone)."""
    import polars as pl

    total = 0
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.csv"))
        if files:
            scans = [pl.scan_csv(f, infer_schema=False) for f in files]
            total += pl.concat(scans, how="diagonal").select(pl.len()).collect().item()
    return total


def generate(workdir: Path, scale: str) -> Path:
    from assets.generator import GeneratorConfig, generate_dataset
    from assets.generator.core import DEFECTS_FILE
    from assets.generator.defects import DEFECT_KINDS

    customers, orders = SCALES[scale]
    landing = workdir / "landing"
    generate_dataset(
        landing,
        GeneratorConfig(
            customers=customers,
            orders=orders,
            fmt="csv",
            # Every defect kind but duplicate_key, which would fail the key gate and stop the
            # later stages the benchmark times.
            defect_rates=dict.fromkeys(set(DEFECT_KINDS) - {"duplicate_key"}, 0.002),
        ),
    )
    (landing / "manifest.json").rename(workdir / "manifest.json")
    (landing / DEFECTS_FILE).rename(workdir / DEFECTS_FILE)
    return landing


# -- contenders (each runs in a subprocess: `python -m benchmarks.run --contender NAME DIR`) ----


def _pipeline(data_dir: Path) -> dict:
    from pipeline_defs import build_definitions
    from pipeline_defs.settings import Settings

    settings = Settings.from_env({"PIPELINE_DATA_DIR": str(data_dir)})
    d = build_definitions(settings)
    group_of = {
        key.to_user_string(): group
        for a in d.assets  # type: ignore[union-attr]
        for key, group in a.group_names_by_key.items()  # type: ignore[union-attr]
    }
    config = {"ops": {"sample_landing_data": {"config": {"mode": "never"}}}}
    with bench_instance() as instance:
        writes = _time_event_writes(instance)
        started = time.perf_counter()
        result = d.resolve_job_def("full_pipeline").execute_in_process(
            instance=instance, run_config=config
        )
        wall = time.perf_counter() - started
        stats = instance.get_run_step_stats(result.run_id)
    # Events a step emits (materializations, check results, logs) are written to the instance's
    # event log while the step runs, so the steps' time includes them: they are Dagster's cost,
    # not the stage's compute. The stage seconds keep them (what the UI shows per step) and
    # ``event_writes_by_stage_s`` says how much of each they are; the overhead counts them too,
    # so Dagster's writes weigh against the pipeline twice, never in its favour.
    stages: dict[str, float] = {}
    writes_by_stage: dict[str, float] = {}
    for s in stats:
        name = s.step_key
        group = group_of.get(name) or (
            "validation" if name.startswith("validate_") else group_of.get(f"raw_{name}", "other")
        )
        start, end = s.start_time or 0.0, s.end_time or 0.0
        stages[group] = stages.get(group, 0.0) + (end - start)
        writes_by_stage[group] = writes_by_stage.get(group, 0.0) + sum(
            d for at, d in writes if start <= at <= end
        )
    in_steps = sum(writes_by_stage.values())
    return {
        "stages": stages,
        "run_wall_s": wall,
        "event_writes_in_steps_s": in_steps,
        "event_writes_by_stage_s": writes_by_stage,
        "event_writes": len(writes),
        "dagster_overhead_s": wall - sum(stages.values()) + in_steps,
    }


def _time_event_writes(instance: Any) -> list[tuple[float, float]]:
    """(epoch start, seconds) of every event the instance writes from now on.

    Wraps the instance's own event-log storage (the real SQLite storage), only to time it."""
    storage = instance.event_log_storage
    store = storage.store_event
    writes: list[tuple[float, float]] = []

    def timed(event: Any) -> None:
        at, started = time.time(), time.perf_counter()
        try:
            store(event)
        finally:
            writes.append((at, time.perf_counter() - started))

    storage.store_event = timed
    return writes


def stage_main(group: str, data_dir: Path) -> None:
    """Materialize one stage (asset group) in this process; print its wall time and peak RSS."""
    import dagster as dg

    from pipeline_defs import build_definitions
    from pipeline_defs.settings import Settings

    d = build_definitions(Settings.from_env({"PIPELINE_DATA_DIR": str(data_dir)}))
    selection = dg.AssetSelection.groups(group) - dg.AssetSelection.assets("sample_landing_data")
    with bench_instance() as instance:
        laps = Laps()
        result = dg.materialize(
            list(d.assets),  # type: ignore[arg-type]
            resources=d.resources,
            instance=instance,
            selection=selection,
        )
        laps.lap(group)
    if not result.success:
        raise SystemExit(f"stage {group} failed")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = laps.wall[group], laps.cpu[group]
    print("RESULT " + json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": peak}))


def _pipeline_by_stage(data_dir: Path) -> dict:
    """Each stage in its own process, one after the other on the same lake: each stage's peak
    RSS is its own (in one process the allocator keeps what earlier stages freed), and so is
    its CPU time (all threads, from the materialization's start to its end)."""
    stages, cpu, peaks = {}, {}, {}
    for group in STAGES:
        one = _run_for_result(["--stage", group, str(data_dir)], f"stage {group}")
        stages[group], cpu[group], peaks[group] = one["wall_s"], one["cpu_s"], one["peak_rss_mb"]
    return {"stages": stages, "stage_cpu_s": cpu, "stage_peak_rss_mb": peaks}


def _pandas(data_dir: Path) -> dict:
    from benchmarks.pandas_baseline import run

    with tempfile.TemporaryDirectory() as tmp:
        laps, auc = run(data_dir, Path(tmp))
    return {"stages": laps.wall, "stage_cpu_s": laps.cpu, "churn_holdout_auc": round(auc, 4)}


def _duckdb_floor(data_dir: Path) -> dict:
    """Read every entity's CSV files with type inference and write one Parquet file each."""
    import duckdb

    out = Path(tempfile.mkdtemp(prefix="floor-duckdb-"))
    started = time.perf_counter()
    with duckdb.connect() as con:
        for folder in sorted((data_dir / "landing").iterdir()):
            files = sorted(str(p) for p in folder.glob("*.csv"))
            if files:
                target = str(out / f"{folder.name}.parquet").replace("'", "''")
                con.execute(
                    f"COPY (SELECT * FROM read_csv(?, union_by_name = true)) TO '{target}' "  # noqa: S608 - our temp path
                    "(FORMAT parquet, COMPRESSION zstd)",
                    [files],
                )
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    with duckdb.connect() as con:
        for folder in sorted((data_dir / "landing").iterdir()):
            files = sorted(str(p) for p in folder.glob("*.csv"))
            if files:
                con.execute("SELECT count(*) FROM read_csv(?, union_by_name = true)", [files])
    return {"stages": {"ingestion": seconds, "count_rows": time.perf_counter() - started}}


def _polars_floor(data_dir: Path) -> dict:
    """The same with Polars: scan_csv (schema inferred) streamed into sink_parquet."""
    import polars as pl

    out = Path(tempfile.mkdtemp(prefix="floor-polars-"))
    started = time.perf_counter()
    for folder in sorted((data_dir / "landing").iterdir()):
        files = sorted(folder.glob("*.csv"))
        if files:
            frames = [pl.scan_csv(f, infer_schema_length=10_000) for f in files]
            pl.concat(frames, how="diagonal_relaxed").sink_parquet(
                out / f"{folder.name}.parquet", compression="zstd"
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
    for folder in sorted((data_dir / "landing").iterdir()):
        files = sorted(folder.glob("*.csv"))
        if files:
            lazy = [pl.scan_csv(f, infer_schema=False) for f in files]
            pl.concat(lazy, how="diagonal").select(pl.len()).collect()
    return {
        "stages": {
            "ingestion": seconds,
            "count_rows": time.perf_counter() - started,
            "copy_parquet": copy_seconds,
        }
    }


def contender_main(name: str, data_dir: Path) -> None:
    result = {
        "pipeline": _pipeline,
        "pipeline_by_stage": _pipeline_by_stage,
        "pandas": _pandas,
        "duckdb_floor": _duckdb_floor,
        "polars_floor": _polars_floor,
    }[name](data_dir)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the stage processes, if any
    result["cpu_s"] = sum(u.ru_utime + u.ru_stime for u in (usage, children))
    own = usage.ru_maxrss / 1024
    result["peak_rss_mb"] = max([own, *result.get("stage_peak_rss_mb", {}).values()])
    print("RESULT " + json.dumps(result))


def _run_for_result(args: list[str], label: str, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m benchmarks.run ARGS`` and return the JSON of its last ``RESULT`` line."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{label} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def run_contender(name: str, landing: Path, workdir: Path) -> dict:
    data_dir = workdir / f"run-{name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    (data_dir / "landing").symlink_to(landing, target_is_directory=True)
    started = time.perf_counter()
    result = _run_for_result(
        ["--contender", name, str(data_dir)],
        name,
        env={**os.environ, "DAGSTER_HOME": str(workdir / "dagster_home")},
    )
    result["process_wall_s"] = time.perf_counter() - started
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def stage_throughput(stages_s: dict[str, float], rows: int, csv_mb: float) -> dict[str, dict]:
    """Source rows and CSV megabytes per second through each stage: every stage is measured
    against the same input, the data as it landed, so stages and contenders compare."""
    return {
        "stage_rows_per_s": {s: round(rows / t) for s, t in stages_s.items() if t > 0},
        "stage_mb_per_s": {s: round(csv_mb / t, 1) for s, t in stages_s.items() if t > 0},
    }


def summarise(reps: list[dict[str, dict]], csv_mb: float, rows: int) -> dict:
    out: dict[str, dict] = {}
    for name in CONTENDERS:
        runs = [r[name] for r in reps]
        stages = sorted({s for r in runs for s in r["stages"]})
        out[name] = {
            "stages_s": {
                s: round(_median([r["stages"].get(s, 0.0) for r in runs]), 3) for s in stages
            },
            "process_wall_s": round(_median([r["process_wall_s"] for r in runs]), 3),
            "cpu_s": round(_median([r["cpu_s"] for r in runs]), 3),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
        }
        if all("stage_cpu_s" in r for r in runs):
            out[name]["stage_cpu_s"] = {
                s: round(_median([r["stage_cpu_s"].get(s, 0.0) for r in runs]), 3) for s in stages
            }
        if name in ("pipeline", "pipeline_by_stage", "pandas"):
            out[name].update(stage_throughput(out[name]["stages_s"], rows, csv_mb))
        if name == "pipeline_by_stage":
            out[name]["stage_peak_rss_mb"] = {
                s: round(max(r["stage_peak_rss_mb"][s] for r in runs), 1) for s in STAGES
            }
        if name == "pipeline":
            out[name]["dagster_overhead_s"] = round(
                _median([r["dagster_overhead_s"] for r in runs]), 3
            )
            out[name]["run_wall_s"] = round(_median([r["run_wall_s"] for r in runs]), 3)
            out[name]["event_writes_by_stage_s"] = {
                s: round(_median([r["event_writes_by_stage_s"].get(s, 0.0) for r in runs]), 3)
                for s in stages
            }
            out[name]["event_writes_in_steps_s"] = round(
                _median([r["event_writes_in_steps_s"] for r in runs]), 3
            )
            out[name]["event_writes"] = int(_median([r["event_writes"] for r in runs]))
    pipe, pandas = out["pipeline"]["stages_s"], out["pandas"]["stages_s"]
    covered_pipe = sum(pipe.get(s, 0.0) for s in FIRST_THREE)
    covered_pandas = sum(pandas.get(s, 0.0) for s in FIRST_THREE)
    all_pipe = sum(pipe.get(s, 0.0) for s in COMPARED)
    all_pandas = sum(pandas.get(s, 0.0) for s in COMPARED)
    ingest_validate = pipe.get("ingestion", 0.0) + pipe.get("validation", 0.0)
    floor = min(
        out["duckdb_floor"]["stages_s"]["ingestion"], out["polars_floor"]["stages_s"]["ingestion"]
    )
    polars_floor = out["polars_floor"]["stages_s"]
    two_tables = polars_floor["ingestion"] + polars_floor.get("copy_parquet", 0.0)
    out["ratios"] = {
        "pandas_over_pipeline_ingest_validate_enrich": round(covered_pandas / covered_pipe, 2)
        if covered_pipe
        else None,
        "pandas_over_pipeline_through_analytics": round(all_pandas / all_pipe, 2)
        if all_pipe
        else None,
        "pandas_over_pipeline_peak_rss": round(
            out["pandas"]["peak_rss_mb"] / out["pipeline"]["peak_rss_mb"], 2
        ),
        "pipeline_ingest_validate_over_engine_floor": round(ingest_validate / floor, 2)
        if floor
        else None,
        # Against the Polars floor of writing both tables (raw and validated) with no work.
        "pipeline_ingest_validate_over_two_table_floor": round(ingest_validate / two_tables, 2)
        if two_tables
        else None,
        "pipeline_ingest_validate_over_duckdb_count_rows": round(
            ingest_validate / out["duckdb_floor"]["stages_s"]["count_rows"], 2
        ),
        "pipeline_ingest_mb_per_s": round(csv_mb / pipe["ingestion"], 1)
        if pipe.get("ingestion")
        else None,
        # The features stage against validation of the same data (a target of its own).
        "pipeline_features_over_validation": round(
            pipe.get("features", 0.0) / pipe["validation"], 2
        )
        if pipe.get("validation")
        else None,
        "max_stage_peak_rss_mb": out["pipeline_by_stage"]["peak_rss_mb"],
        "dagster_overhead_share": round(
            out["pipeline"]["dagster_overhead_s"] / out["pipeline"]["run_wall_s"], 3
        ),
        # The part of that overhead spent writing events to the event log inside steps.
        "dagster_event_writes_share": round(
            out["pipeline"]["event_writes_in_steps_s"] / out["pipeline"]["run_wall_s"], 3
        ),
    }
    return out


def print_table(summary: dict, scale: str, csv_mb: float) -> None:
    print(f"\nscale {scale}: {csv_mb:.0f} MB of CSV (median of the repetitions)\n")
    stages = STAGES
    head = f"{'contender':<18}" + "".join(f"{s[:10]:>11}" for s in stages)
    print(head + f"{'wall s':>9}{'cpu s':>8}{'peak MB':>9}")
    for name in CONTENDERS:
        row = summary[name]
        cells = "".join(
            f"{row['stages_s'][s]:>11.2f}" if s in row["stages_s"] else f"{'-':>11}" for s in stages
        )
        print(
            f"{name:<18}{cells}{row['process_wall_s']:>9.1f}{row['cpu_s']:>8.1f}{row['peak_rss_mb']:>9.0f}"
        )
    by_stage = summary["pipeline_by_stage"]
    lines = [
        ("peak MB by stage", by_stage["stage_peak_rss_mb"], "{:>11.0f}"),
        ("cpu s by stage", by_stage["stage_cpu_s"], "{:>11.2f}"),
        ("MB/s by stage", by_stage["stage_mb_per_s"], "{:>11.1f}"),
        ("pandas cpu s", summary["pandas"]["stage_cpu_s"], "{:>11.2f}"),
        ("pandas MB/s", summary["pandas"]["stage_mb_per_s"], "{:>11.1f}"),
    ]
    for label, values, cell in lines:
        print(
            f"{label:<18}"
            + "".join(cell.format(values[s]) if s in values else f"{'-':>11}" for s in stages)
        )
    print("\nratios:", json.dumps(summary["ratios"], indent=2))


def main(argv: list[str] | None = None) -> None:
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
    p.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)
    p.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    p.add_argument("data_dir", nargs="?", type=Path, help=argparse.SUPPRESS)
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
        csv_mb = _csv_bytes(landing) / 1e6
        rows = source_rows(landing)
        results = []
        for rep in range(reps):
            one = {}
            for name in CONTENDERS:
                one[name] = run_contender(name, landing, workdir)
                print(
                    f"rep {rep + 1}/{reps} {name}: {one[name]['process_wall_s']:.1f} s", flush=True
                )
            results.append(one)
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
    suffix = "" if args.instance == "sqlite" else f"-{args.instance}"
    path = args.out / f"{args.scale}-{datetime.now(UTC).date().isoformat()}{suffix}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
