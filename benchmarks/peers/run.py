"""The peers benchmark: the orders spec's rules on the same generated data through the tools a
user would otherwise pick, each in its own throwaway environment.

    .venv/bin/python -m benchmarks.peers.run --scale small
    .venv/bin/python -m benchmarks.peers.run --scale medium --work /tmp/peers-bench

Contenders, one after the other on the same landing CSVs (customers, products, orders):

- ``pipeline``: ``dagster asset materialize`` of the ingestion and validation of the three
  tables, as a user runs it (a fresh ``DAGSTER_HOME``, the process start-up included);
- ``duckdb_sql``: the hand-written DuckDB SQL of ``sql_split.py``, the same row-level split;
- ``pandera_polars``, ``soda_duckdb``, ``gx_pandas``: the scripts in ``tools/``;
- ``duckdb_floor``: DuckDB alone, CSV to Parquet, no rules.

Each runs under ``measure.py``, so its wall seconds, CPU seconds (user + system of its process
tree) and peak RSS are its own. Counts are compared with the pipeline's: valid and quarantined
rows, each rule's failures, and for the row-level tools the quarantined rows themselves (order id
and rules). Writes ``<out>/peers-<scale>-<date>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.landing import SCALES, generate
from benchmarks.peers.envs import PINS, ensure_env
from benchmarks.peers.measure import PREFIX
from benchmarks.peers.report import markdown

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = REPO / "benchmarks" / "results"
TOOLS = HERE / "tools"
SELECTION = "raw_customers,raw_products,raw_orders,validated_orders,quarantined_orders"
# Tool -> (its environment, whether it splits rows, its script and arguments).
PEERS: dict[str, tuple[str, bool, list[str]]] = {
    "duckdb_sql": ("duckdb", True, [str(HERE / "sql_split.py"), "{landing}", "{out}"]),
    "pandera_polars": ("pandera", True, [str(TOOLS / "pandera_polars.py"), "{landing}", "{out}"]),
    "soda_duckdb": ("soda", False, [str(TOOLS / "soda_duckdb.py"), "{landing}"]),
    "gx_pandas": ("gx", True, [str(TOOLS / "gx_pandas.py"), "{landing}", "{out}"]),
    "duckdb_floor": ("duckdb", False, [str(TOOLS / "duckdb_floor.py"), "{landing}", "{out}"]),
}


def measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict:
    """Run ``cmd`` under ``measure.py``; its last JSON line of output, wall, CPU and peak RSS."""
    proc = subprocess.run(
        [sys.executable, str(HERE / "measure.py"), *cmd],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    lines = proc.stdout.splitlines()
    usage = json.loads(next(ln for ln in reversed(lines) if ln.startswith(PREFIX))[len(PREFIX) :])
    if usage["returncode"] != 0:
        raise RuntimeError(f"{cmd[0]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    output = [ln for ln in lines if ln.startswith("{")]
    return {**usage, "output": json.loads(output[-1]) if output else {}}


def pipeline(landing: Path, work: Path) -> dict:
    """Ingest and validate the three tables through the Dagster CLI; the split it wrote."""
    import polars as pl

    data = work / "pipeline"
    shutil.rmtree(data, ignore_errors=True)
    (data / "dagster_home").mkdir(parents=True)
    (data / "landing").symlink_to(landing, target_is_directory=True)
    env = {**os.environ, "PIPELINE_DATA_DIR": str(data), "DAGSTER_HOME": str(data / "dagster_home")}
    dagster = str(Path(sys.executable).parent / "dagster")
    cmd = [dagster, "asset", "materialize", "-m", "pipeline_defs", "--select", SELECTION]
    result = measured(cmd, env=env, cwd=REPO)
    validation = data / "lake" / "validation"
    published = json.loads((validation / "validated_orders" / "_published.json").read_text())
    valid = pl.read_parquet([validation / "validated_orders" / p for p in published["parts"]])
    quarantined = pl.read_parquet(validation / "quarantined_orders" / "*.parquet")
    rows_in = sum(
        pl.scan_csv(f, infer_schema=False).select(pl.len()).collect().item()
        for f in sorted((landing / "orders").glob("*.csv"))
    )
    failures = quarantined.select(pl.col("_rules").explode()).get_column("_rules").value_counts()
    result["output"] = {
        "rows_in": rows_in,
        "valid_rows": valid.height,
        "quarantined_rows": quarantined.height,
        "exact_duplicates": rows_in - valid.height - quarantined.height,
        "rule_failures": dict(sorted(failures.iter_rows())),
    }
    result["quarantine"] = _rows(quarantined)
    shutil.rmtree(data, ignore_errors=True)
    return result


def _rows(quarantined: Any) -> Counter:
    """The quarantined rows as (order id, its rules sorted): what row-level tools must match."""
    pairs = quarantined.select("order_id", "_rules").iter_rows()
    return Counter((key, tuple(sorted(rules))) for key, rules in pairs)


def compare(mine: dict, theirs: dict, quarantine: Counter | None) -> dict:
    """Where a tool's counts agree with the pipeline's, and which rules' counts differ."""
    ours, got = mine["output"], theirs["output"]
    rules = sorted(set(ours["rule_failures"]) | set(got.get("rule_failures", {})))
    differ = {
        r: [ours["rule_failures"].get(r, 0), got["rule_failures"].get(r, 0)]
        for r in rules
        if ours["rule_failures"].get(r, 0) != got.get("rule_failures", {}).get(r, 0)
    }
    out: dict[str, Any] = {"rule_counts_differ": differ}
    if "valid_rows" in got:
        out["valid_rows_agree"] = got["valid_rows"] == ours["valid_rows"]
        out["quarantined_rows_agree"] = got["quarantined_rows"] == ours["quarantined_rows"]
    if quarantine is not None:
        # The same rows, whatever rules they are blamed for; then the same rules too.
        keys = Counter(k for (k, _), n in quarantine.items() for _ in range(n))
        ours_keys = Counter(k for (k, _), n in mine["quarantine"].items() for _ in range(n))
        out["quarantined_keys_identical"] = keys == ours_keys
        out["quarantined_rows_identical"] = quarantine == mine["quarantine"]
    return out


def run_peer(name: str, python: Path, landing: Path, work: Path, today: date) -> dict:
    import polars as pl

    _, row_level, args = PEERS[name]
    out = work / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(python), *(a.format(landing=landing, out=out) for a in args)]
    if name != "duckdb_floor":
        cmd += ["--today", today.isoformat()]
    result = measured(cmd)
    if row_level:
        quarantined = pl.read_parquet(out / "quarantined.parquet")
        result["quarantine"] = _rows(quarantined)
    shutil.rmtree(out, ignore_errors=True)
    return result


def versions(python: Path, modules: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))"
    )
    out = subprocess.run(
        [str(python), "-c", code, *modules], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scale", choices=sorted(SCALES), default="small")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "peers-bench")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--only", nargs="*", choices=sorted(PEERS), help="peers to run (default: all)")
    args = p.parse_args(argv)
    today = datetime.now(UTC).date()
    work = args.work.absolute()
    work.mkdir(parents=True, exist_ok=True)
    names = args.only or list(PEERS)
    envs, install_s = {}, {}
    for env_name in sorted({PEERS[n][0] for n in names}):
        envs[env_name], install_s[env_name] = ensure_env(env_name, work)
        print(f"env {env_name}: ready ({install_s[env_name]:.0f} s)", flush=True)
    data = work / f"data-{args.scale}"
    shutil.rmtree(data, ignore_errors=True)
    landing = generate(data, args.scale)
    results = {"pipeline": pipeline(landing, work)}
    print(f"pipeline: {results['pipeline']['wall_s']:.1f} s", flush=True)
    for name in names:
        results[name] = run_peer(name, envs[PEERS[name][0]], landing, work, today)
        print(f"{name}: {results[name]['wall_s']:.1f} s", flush=True)
    rows_in = results["pipeline"]["output"]["rows_in"]
    for name, r in results.items():
        r["orders_rows_per_s"] = rows_in / r["wall_s"]
        r["row_level"] = name == "pipeline" or PEERS[name][1]
        if name not in ("pipeline", "duckdb_floor"):
            r["agreement"] = compare(results["pipeline"], r, r.get("quarantine"))
    for r in results.values():
        r.pop("quarantine", None)
    tool_versions = {
        "pipeline": versions(Path(sys.executable), ["dagster", "polars", "pandera", "duckdb"]),
        **{
            e: versions(py, [pin.split("==")[0].split("[")[0] for pin in PINS[e]])
            for e, py in envs.items()
        },
    }
    report = {
        "scale": args.scale,
        "customers_orders": SCALES[args.scale],
        "orders_rows": rows_in,
        "today": today.isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": tool_versions,
        "env_install_s": install_s,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"peers-{args.scale}-{today.isoformat()}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2))
    table = markdown(report)
    stem.with_suffix(".md").write_text(table)
    print(table)
    print(f"wrote {stem}.json and .md")


if __name__ == "__main__":
    main()
