"""The fixed cost every CLI call, run worker and code server pays, against Dagster's own.

    .venv/bin/python -m benchmarks.startup --runs 5

Four commands, run in turn (one warm-up round first, not counted), each in a process of its
own under ``peers/measure.py`` (wall, CPU of its process tree, peak RSS):

- ``import dagster``: the interpreter and Dagster's package, the unit the goal is stated in;
- ``import pipeline_defs``: loading this code location (imports only; the definitions are
  built when Dagster asks for them);
- the project's ``dagster asset materialize -m pipeline_defs --select raw_customers`` on an
  empty landing zone: a run that finds nothing to read, the cost of the command itself;
- the same command on a one-asset project (an asset that yields nothing): Dagster's CLI,
  instance and run with no project code, the floor any project pays.

Both CLI runs share one fresh ``DAGSTER_HOME`` holding the committed ``dagster.yaml``. It prints
one JSON object: per command the median, min and max of wall and CPU seconds and the median
peak RSS, and the medians' ratios to ``import dagster`` and to the one-asset floor. It asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.peers.run import measured

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLOOR_PROJECT = """import dagster as dg


@dg.asset(output_required=False)
def raw_customers():
    return
    yield


defs = dg.Definitions(assets=[raw_customers])
"""


def commands(work: Path) -> dict[str, list[str]]:
    (work / "floor.py").write_text(FLOOR_PROJECT)
    cli = [str(BIN / "dagster"), "asset", "materialize", "--select", "raw_customers"]
    return {
        "import dagster": [sys.executable, "-c", "import dagster"],
        "import pipeline_defs": [sys.executable, "-c", "import pipeline_defs"],
        "project CLI, nothing to read": [*cli, "-m", "pipeline_defs"],
        "one-asset project CLI (Dagster's floor)": [*cli, "-f", str(work / "floor.py")],
    }


def summary(runs: list[dict]) -> dict:
    out: dict = {}
    for figure in ("wall_s", "cpu_s"):
        values = [r[figure] for r in runs]
        out[figure] = {
            "median": round(statistics.median(values), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }
    out["peak_rss_mb"] = round(statistics.median(r["peak_rss_mb"] for r in runs))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="counted rounds (default 5)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        work = Path(tmp)
        home = work / "dagster_home"
        home.mkdir()
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        (work / "data" / "landing" / "customers").mkdir(parents=True)
        env = {
            "PATH": str(BIN) + ":/usr/bin:/bin",
            "HOME": str(work),
            "DAGSTER_HOME": str(home),
            "PIPELINE_DATA_DIR": str(work / "data"),
        }
        cmds = commands(work)
        runs: dict[str, list[dict]] = {name: [] for name in cmds}
        for round_ in range(args.runs + 1):
            for name, cmd in cmds.items():
                result = measured(cmd, env=env, cwd=REPO)
                if round_:  # the first round warms the page cache and the instance's tables
                    runs[name].append(result)
    results = {name: summary(r) for name, r in runs.items()}
    base = results["import dagster"]["wall_s"]["median"]
    floor = results["one-asset project CLI (Dagster's floor)"]["wall_s"]["median"]
    for r in results.values():
        r["wall_over_import_dagster"] = round(r["wall_s"]["median"] / base, 2)
        r["wall_over_dagster_floor"] = round(r["wall_s"]["median"] / floor, 2)
    print(json.dumps({"runs": args.runs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
