"""Micro-batches from a real Redis stream into the lake: contract, poison, lineage, ack."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import redis

from assets.ingestion.streams.batch import drain, land_batch, part_name
from assets.ingestion.streams.redis_backend import RedisStream
from tests.assets.ingestion.stream_helpers import click, produce, write_spec


def _stream(url: str, spec, consumer: str = "w1") -> RedisStream:
    return RedisStream.for_spec(redis.Redis.from_url(url), spec, consumer)


def test_batches_land_typed_with_lineage_and_poison_quarantined(tmp_path: Path, redis_url: str):
    spec = write_spec(tmp_path / "specs", batch=4)
    payloads = [click(i) for i in range(1, 8)]
    payloads[2] = b"{not json"
    payloads[4] = b"[1, 2]"
    payloads[5] = click(6, page="x" * 500)  # over the 400-byte limit of the spec
    payloads[6] = click(7, amount="lots")  # a value that does not cast: flagged, kept
    ids = produce(redis_url, payloads)
    table, qdir = tmp_path / "lake", tmp_path / "q"
    report = drain(
        spec,
        _stream(redis_url, spec),
        table_dir=table,
        quarantine_dir=qdir,
        max_events=100,
        batch_events=4,
    )
    assert [(b.first, b.last) for b in report.batches] == [(ids[0], ids[3]), (ids[4], ids[6])]
    assert sorted(p.name for p in table.glob("*.parquet")) == sorted(
        [part_name(ids[0], ids[3]), part_name(ids[4], ids[6])]
    )
    rows = pl.read_parquet(table / "*.parquet").sort("click_id")
    assert rows["click_id"].to_list() == [1, 2, 4, 7]
    assert rows["_entry_id"].to_list() == [ids[0], ids[1], ids[3], ids[6]]
    assert rows["_stream"].unique().to_list() == ["clicks"]
    assert rows.schema["_arrived_at"] == pl.Datetime("us")
    assert rows.schema["clicked_at"] == pl.Datetime("us")
    assert rows["amount"].to_list()[:3] == [1.0, 2.0, 4.0]
    assert rows["_ingest_errors"].to_list() == [None, None, None, '{"amount": "lots"}']
    reasons = dict(report.poison)
    assert reasons[ids[2]].startswith("not JSON")
    assert reasons[ids[4]] == "wrong shape: a JSON list, not an object"
    assert reasons[ids[5]].startswith("oversize: ")
    assert (qdir / f"stream-{ids[2]}.bin").read_bytes() == b"{not json"
    assert '"reason": "oversize' in (qdir / f"stream-{ids[5]}.json").read_text()
    # Everything was acknowledged, poison included: nothing blocks the stream.
    client = redis.Redis.from_url(redis_url)
    assert client.xpending("clicks", "pipeline-clicks")["pending"] == 0
    assert _stream(redis_url, spec).lag().total == 0


def test_unacknowledged_batch_is_redelivered_and_replaces_itself(tmp_path: Path, redis_url: str):
    spec = write_spec(tmp_path / "specs", batch=5)
    ids = produce(redis_url, [click(i) for i in range(10)])
    table, qdir = tmp_path / "lake", tmp_path / "q"
    first = _stream(redis_url, spec)
    entries = first.read(5)
    land_batch(spec, "clicks", entries, table_dir=table, quarantine_dir=qdir)
    # The worker died here: written, never acknowledged. Its restart reads the same batch.
    again = _stream(redis_url, spec)
    assert [e.id for e in again.read(5)] == ids[:5]
    restarted = _stream(redis_url, spec)
    drain(spec, restarted, table_dir=table, quarantine_dir=qdir, max_events=100, batch_events=5)
    rows = pl.read_parquet(table / "*.parquet")
    assert sorted(rows["_entry_id"].to_list()) == sorted(ids)
    assert rows.height == 10


def test_batch_cut_differently_on_redelivery_lands_each_entry_once(tmp_path: Path, redis_url):
    spec = write_spec(tmp_path / "specs")
    ids = produce(redis_url, [click(i) for i in range(10)])
    table, qdir = tmp_path / "lake", tmp_path / "q"
    lost = _stream(redis_url, spec).read(4)
    # A part holding entries 2 and 3 only (a worker with another batch size wrote it); the
    # re-delivered batch 1..4 must not land them a second time.
    land_batch(spec, "clicks", lost[1:3], table_dir=table, quarantine_dir=qdir)
    report = drain(
        spec,
        _stream(redis_url, spec),
        table_dir=table,
        quarantine_dir=qdir,
        max_events=100,
        batch_events=7,
    )
    assert sum(b.already_landed for b in report.batches) == 2
    rows = pl.read_parquet(table / "*.parquet")
    assert sorted(rows["_entry_id"].to_list()) == sorted(ids)


def test_dead_consumers_pending_entries_are_claimed_after_the_idle_time(
    tmp_path: Path, redis_url: str
):
    spec = write_spec(tmp_path / "specs")  # claim_idle_s: 1
    ids = produce(redis_url, [click(i) for i in range(3)])
    assert [e.id for e in _stream(redis_url, spec, "dead").read(3)] == ids
    other = _stream(redis_url, spec, "alive")
    assert other.read(3) == []  # not idle long enough yet
    time.sleep(1.2)
    assert [e.id for e in other.read(3)] == ids
