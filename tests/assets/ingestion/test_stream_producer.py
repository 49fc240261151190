"""The synthetic producer: unique events at the asked rate, poison at the asked share."""

from __future__ import annotations

import json
import time

import polars as pl
import redis

from assets.ingestion.streams.producer import payloads, produce


def _pool(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"event_id": [f"E{i}" for i in range(n)], "duration_s": [float(i) for i in range(n)]}
    )


def test_payloads_cycle_the_pool_with_fresh_ids_and_poison():
    sent = list(payloads(_pool(10), 25, poison_rate=0.0, seed=1))
    ids = [json.loads(p)["event_id"] for p in sent]
    assert len(ids) == 25 and len(set(ids)) == 25
    assert ids[10] == "E0-1" and ids[24] == "E4-2"
    broken = list(payloads(_pool(100), 1000, poison_rate=0.2, seed=1))
    bad = sum(1 for p in broken if not p.endswith(b"}"))
    assert 120 < bad < 280


def test_produce_sends_at_the_rate(redis_url: str):
    client = redis.Redis.from_url(redis_url)
    start = time.monotonic()
    sent = produce(client, "s", payloads(_pool(50), 300, 0.0, 1), rate=600)
    elapsed = time.monotonic() - start
    assert sent == 300 and client.xlen("s") == 300
    # A lower bound only (never flaky on a slow machine): 300 events at 600/s cannot take less
    # than the half second the limiter spreads them over, less its first tick.
    assert elapsed >= 0.4
