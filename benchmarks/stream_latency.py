"""Latency of a stream dataset: from an event's arrival in Redis to its presence in
``validated_<dataset>``, at a steady producer rate, and where that time goes.

    .venv/bin/python -m benchmarks.stream_latency --rate 1000 --seconds 30

A throwaway redis-server (Unix socket) and the synthetic producer (its own process, at
``--rate`` events/s) feed ``examples/streams/app_events.yaml``. This process plays the daemon:
it polls the lag with the sensor's own rule (``trigger.decide``) every ``--poll`` seconds and runs
``raw_app_events`` + its validation in process (``execute_in_process``, one run at a time, each
capped at ``max_events``). A daemon-launched run adds its process start (see the README).

Each event's latency is the end of the validation step of the run that landed it minus its
arrival (the Redis entry id's clock); it splits into: waiting (arrival to the run's start, the
trigger's batch_events / batch_wait_s and the run before it; zero for an event that arrived while
its run was already draining), the raw step from then on (run setup included), and what follows
the raw step (the validation step). Prints one JSON object, also written to
``benchmarks/results/stream-latency-<rate>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import redis
import yaml

from assets.core.spec import load_catalog
from assets.ingestion.streams.batch import id_key
from assets.ingestion.streams.redis_backend import RedisStream
from assets.ingestion.streams.trigger import decide
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NAME = "app_events"


def _redis(folder: Path) -> tuple[subprocess.Popen, str]:
    sock = folder / "redis.sock"
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    while not sock.exists():
        time.sleep(0.02)
    return proc, f"unix://{sock}"


def _steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Run start and each step's start and end (epoch seconds)."""
    out: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None:
            continue
        kind = ev.event_type
        if kind == dg.DagsterEventType.RUN_START:
            out["run_start"] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_START:
            out[f"{ev.step_key}:start"] = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            out[f"{ev.step_key}:end"] = entry.timestamp
    return out


def measure(rate: float, seconds: float, poll: float, batch_events: int, max_events: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="stream-bench-") as tmp:
        folder = Path(tmp)
        server, url = _redis(folder)
        try:
            return _measure(folder, url, rate, seconds, poll, batch_events, max_events)
        finally:
            server.terminate()
            server.wait(timeout=10)


def _measure(
    folder: Path,
    url: str,
    rate: float,
    seconds: float,
    poll: float,
    batch_events: int,
    max_events: int,
) -> dict:
    spec_doc = yaml.safe_load((ROOT / "examples" / "streams" / "app_events.yaml").read_text())
    spec_doc["source"].update(batch_events=batch_events, max_events=max_events, batch_wait_s=1)
    (folder / "datasets").mkdir()
    (folder / "datasets" / f"{NAME}.yaml").write_text(yaml.safe_dump(spec_doc))
    env = {
        "PIPELINE_DATA_DIR": str(folder / "data"),
        "PIPELINE_DATASETS_DIR": str(folder / "datasets"),
        "PIPELINE_REDIS_URL": url,
    }
    # The resources read PIPELINE_REDIS_URL through dg.EnvVar when a step starts.
    os.environ.update(env)
    settings = Settings.from_env(env)
    spec = load_catalog([settings.datasets_dir])[NAME]
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    stream = RedisStream.for_spec(redis.Redis.from_url(url), spec, "bench")
    events = int(rate * seconds)
    producer = subprocess.Popen(
        [sys.executable, "-m", "assets.ingestion.streams.producer", "--url", url,
         "--stream", spec.source.stream or "", "--rate", str(rate), "--events", str(events),
         "--poison-rate", "0"],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    runs: list[dict] = []
    selection = [dg.AssetKey(f"{p}_{NAME}") for p in ("raw", "validated", "quarantined")]
    first_seen = None
    with dg.instance_for_test() as instance:
        while True:
            lag = stream.lag()
            now = datetime.now(UTC)
            first_seen = (first_seen or now) if lag.total else None
            done = producer.poll() is not None
            if done and lag.total == 0:
                break
            trigger = decide(spec, lag, now, first_seen)
            if not (trigger.run or (done and lag.total)):
                time.sleep(poll)
                continue
            result = job.execute_in_process(
                instance=instance,
                asset_selection=selection,
                run_config={"ops": {f"raw_{NAME}": {"config": {"max_events": max_events}}}},
            )
            meta = {
                m.materialization.asset_key.to_user_string(): m.materialization.metadata
                for m in result.get_asset_materialization_events()
            }
            entry_range = meta[f"raw_{NAME}"].get("entry_range")
            if entry_range is not None:
                first, last = str(entry_range.value).split("...")
                runs.append({"first": first, "last": last, **_steps(instance, result.run_id)})
            first_seen = None
    raw_parts = sorted((folder / "data" / "lake" / "ingestion" / f"raw_{NAME}").glob("*.parquet"))
    raw = pl.read_parquet(raw_parts).select("_entry_id", "_arrived_at")
    return _summary(raw, runs, rate, events)


def _summary(raw: pl.DataFrame, runs: list[dict], rate: float, events: int) -> dict:
    # An entry id as one sortable number (a Redis sequence within a millisecond stays small).
    parts_of = raw["_entry_id"].str.split("-")
    ms = parts_of.list.first().cast(pl.Int64)
    frame = raw.with_columns(ms=ms, order=ms * 1_000_000 + parts_of.list.last().cast(pl.Int64))
    parts = []
    for r in runs:
        lo, hi = id_key(r["first"]), id_key(r["last"])
        in_run = frame.filter(
            pl.col("order").is_between(lo[0] * 1_000_000 + lo[1], hi[0] * 1_000_000 + hi[1])
        )
        arrived = in_run["ms"].cast(pl.Float64) / 1000
        # A run drains what arrives while it runs too: such an event waited for no run start.
        began = arrived.clip(lower_bound=r["run_start"])
        parts.append(
            pl.DataFrame(
                {
                    "latency_s": r["validate_app_events:end"] - arrived,
                    "waiting_s": began - arrived,
                    "raw_step_s": r["raw_app_events:end"] - began,
                    "validate_step_s": [r["validate_app_events:end"] - r["raw_app_events:end"]]
                    * len(arrived),
                    "during_run": arrived > r["run_start"],
                }
            )
        )
    lat = pl.concat(parts)
    q = lat["latency_s"]
    return {
        "rate_events_per_s": rate,
        "events_sent": events,
        "events_validated": lat.height,
        "runs": len(runs),
        "events_per_run_mean": round(lat.height / max(len(runs), 1)),
        "latency_s": {
            "p50": round(float(q.quantile(0.5) or 0), 2),
            "p95": round(float(q.quantile(0.95) or 0), 2),
            "max": round(float(q.max() or 0), 2),  # type: ignore[arg-type]
        },
        "arrived_while_its_run_ran": round(float(lat["during_run"].mean() or 0), 3),  # type: ignore[arg-type]
        "mean_breakdown_s": {
            c: round(float(lat[c].mean() or 0), 2)  # type: ignore[arg-type]
            for c in ("waiting_s", "raw_step_s", "validate_step_s")
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--poll", type=float, default=0.5, help="lag poll interval (the sensor's)")
    p.add_argument("--batch-events", type=int, default=5000)
    p.add_argument("--max-events", type=int, default=200_000)
    args = p.parse_args()
    out = measure(args.rate, args.seconds, args.poll, args.batch_events, args.max_events)
    text = json.dumps(out, indent=2)
    print(text)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / f"stream-latency-{int(args.rate)}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
