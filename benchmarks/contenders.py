"""The contenders, each run in its own subprocess on the same landing files.

- ``pipeline`` and ``pipeline_by_stage``: the pipeline through Dagster (``pipeline_runs``);
- ``pandas``: the pandas + pandera + scikit-learn baseline (``pandas_baseline``), every stage
  the pipeline compares: ingestion, validation, enrichment, features and analytics;
- ``duckdb_floor`` and ``polars_floor``: the raw engines' CSV-to-Parquet (``floors``).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.floors import duckdb_floor, polars_floor
from benchmarks.pipeline_runs import pipeline, pipeline_by_stage
from benchmarks.processes import emit_result, run_for_result


def pandas(data_dir: Path) -> dict:
    from benchmarks.pandas_baseline import run

    with tempfile.TemporaryDirectory() as tmp:
        laps, auc = run(data_dir, Path(tmp))
    return {"stages": laps.wall, "stage_cpu_s": laps.cpu, "churn_holdout_auc": round(auc, 4)}


RUNNERS: dict[str, Callable[[Path], dict]] = {
    "pipeline": pipeline,
    "pipeline_by_stage": pipeline_by_stage,
    "pandas": pandas,
    "duckdb_floor": duckdb_floor,
    "polars_floor": polars_floor,
}
CONTENDERS = tuple(RUNNERS)


def contender_main(name: str, data_dir: Path) -> None:
    """Run one contender in this process and print its result with its CPU time and peak RSS."""
    result = RUNNERS[name](data_dir)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the stage processes, if any
    result["cpu_s"] = sum(u.ru_utime + u.ru_stime for u in (usage, children))
    own = usage.ru_maxrss / 1024
    result["peak_rss_mb"] = max([own, *result.get("stage_peak_rss_mb", {}).values()])
    emit_result(result)


def run_contender(name: str, landing: Path, workdir: Path) -> dict:
    """Run contender ``name`` in a subprocess on a fresh data folder linked to ``landing``."""
    data_dir = workdir / f"run-{name}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    (data_dir / "landing").symlink_to(landing, target_is_directory=True)
    started = time.perf_counter()
    result = run_for_result(
        ["--contender", name, str(data_dir)],
        name,
        env={**os.environ, "DAGSTER_HOME": str(workdir / "dagster_home")},
    )
    result["process_wall_s"] = time.perf_counter() - started
    shutil.rmtree(data_dir, ignore_errors=True)
    return result
