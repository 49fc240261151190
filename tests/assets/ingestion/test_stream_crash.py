"""Exactly once into the lake across a worker killed (SIGKILL) between lake write and ack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import redis

from assets.ingestion.streams.batch import drain, part_name
from assets.ingestion.streams.redis_backend import RedisStream
from tests.assets.ingestion.stream_helpers import click, produce, write_spec

ROOT = Path(__file__).resolve().parents[3]


def test_worker_killed_between_write_and_ack_lands_every_event_once(tmp_path: Path, redis_url: str):
    spec = write_spec(tmp_path / "specs", batch=25)
    ids = produce(redis_url, [click(i) for i in range(100)])
    table, qdir, marker = tmp_path / "lake", tmp_path / "q", tmp_path / "written"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.assets.ingestion.stream_worker",
            redis_url,
            str(tmp_path / "specs"),
            str(table),
            str(qdir),
            str(marker),
            "2",
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert worker.poll() is None, "the worker exited before its second batch"
        assert time.monotonic() < deadline, "the worker wrote no second batch in 60 s"
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    assert marker.read_text() == f"{ids[25]} {ids[49]}"
    client = redis.Redis.from_url(redis_url)
    # Two batches in the lake, one acknowledged: the second is pending, as the kill left it.
    assert (table / part_name(ids[25], ids[49])).exists()
    assert client.xpending("clicks", "pipeline-clicks")["pending"] == 25
    restarted = RedisStream.for_spec(client, spec, "worker")
    report = drain(
        spec, restarted, table_dir=table, quarantine_dir=qdir, max_events=1000, batch_events=25
    )
    assert [(b.first, b.last) for b in report.batches] == [
        (ids[25], ids[49]),
        (ids[50], ids[74]),
        (ids[75], ids[99]),
    ]
    rows = pl.read_parquet(table / "part-stream-*.parquet")
    assert rows.height == 100
    assert sorted(rows["_entry_id"].to_list()) == sorted(ids)
    assert sorted(rows["click_id"].to_list()) == list(range(100))
    assert client.xpending("clicks", "pipeline-clicks")["pending"] == 0
