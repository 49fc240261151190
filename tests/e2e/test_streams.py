"""Streams end to end: the producer fills a real Redis stream while the real daemon's
stream_sensor starts bounded runs of raw_app_events and its validation, until every event is
validated once and every poison entry is quarantined."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import redis
import yaml

from assets.core.storage import LakeAt
from tests.e2e.daemon import ROOT, cli_env, instance_at, make_home, running_daemon, wait_for

pytestmark = pytest.mark.e2e

EVENTS = 900


def _spec(datasets: Path) -> None:
    spec = yaml.safe_load((ROOT / "examples" / "streams" / "app_events.yaml").read_text())
    # Small batches so a few runs drain the stream, each bounded by max_events.
    spec["source"].update(batch_events=200, batch_wait_s=2, max_events=400)
    datasets.mkdir(parents=True)
    (datasets / "app_events.yaml").write_text(yaml.safe_dump(spec))


def _rows(lake: Path, group: str, table: str) -> pl.DataFrame:
    """The table as readers see it (a validated table's published version)."""
    return LakeAt(str(lake)).scan(group, table).collect()


def test_producer_sensor_and_runs_land_every_event_once(tmp_path: Path, redis_url: str):
    _spec(tmp_path / "datasets")
    home = make_home(tmp_path)
    env = cli_env(tmp_path, home, PIPELINE_REDIS_URL=redis_url, PIPELINE_SENSOR_INTERVAL_S="2")
    log = tmp_path / "daemon.log"
    client = redis.Redis.from_url(redis_url)
    with running_daemon(env, log):
        producer = subprocess.run(
            [
                sys.executable, "-m", "assets.ingestion.streams.producer",
                "--url", redis_url, "--stream", "app-events", "--rate", "300",
                "--events", str(EVENTS), "--pool", "500", "--poison-rate", "0.02",
            ],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert producer.returncode == 0, producer.stderr
        assert client.xlen("app-events") == EVENTS

        def drained() -> bool:
            groups = client.xinfo_groups("app-events")
            return bool(groups) and groups[0]["lag"] == 0 and groups[0]["pending"] == 0

        wait_for("the stream to be drained", drained, timeout=300, log=log)
        with instance_at(home) as instance:

            def settled():
                runs = instance.get_runs()
                return runs if runs and all(r.is_finished for r in runs) else None

            runs = wait_for("every stream run to finish", settled, timeout=180, log=log)
            assert {r.status.value for r in runs} == {"SUCCESS"}
            assert all(r.tags.get("pipeline/stream") == "app_events" for r in runs)
            assert len({r.tags["dagster/run_key"] for r in runs}) == len(runs)
            assert len(runs) >= 3  # 900 events, at most 400 a run

    lake = tmp_path / "data" / "lake"
    raw = _rows(lake, "ingestion", "raw_app_events")
    validated = _rows(lake, "validation", "validated_app_events")
    quarantine = sorted((tmp_path / "data" / "quarantine" / "files" / "app_events").glob("*.json"))
    poison = len(quarantine)
    assert poison > 0
    assert raw.height == EVENTS - poison
    assert raw["_entry_id"].n_unique() == raw.height
    assert validated.height == raw.height
    assert validated["event_id"].n_unique() == validated.height
