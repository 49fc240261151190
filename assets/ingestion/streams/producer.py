"""A synthetic producer: the generator's usage events sent to a Redis stream at a steady rate,
one JSON object per entry, with an optional share of poison entries.

    python -m assets.ingestion.streams.producer --url redis://127.0.0.1:6379/0 \\
        --stream app-events --rate 1000 --events 60000 [--poison-rate 0.001]

Events are drawn from a pool the generator makes once; each pass over the pool gets fresh
``event_id``s, so any number of events stays unique. Entries are sent in pipelined chunks ten
times a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import redis

from assets.generator.core import GeneratorConfig, generate_dataset

TICKS_PER_S = 10


def event_pool(size: int, seed: int = 7) -> pl.DataFrame:
    """``size`` usage events from the generator (timestamps as ISO text, as JSON carries them)."""
    with tempfile.TemporaryDirectory(prefix="producer-") as tmp:
        cfg = GeneratorConfig(customers=max(10, size // 20), orders=size, seed=seed)
        generate_dataset(Path(tmp), cfg)
        frame = pl.concat(
            [pl.read_parquet(p) for p in sorted(Path(tmp, "usage_events").glob("*.parquet"))]
        )
    return frame.head(size).with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%dT%H:%M:%S"), pl.col(pl.Date).cast(pl.String)
    )


def payloads(pool: pl.DataFrame, count: int, poison_rate: float, seed: int) -> Iterator[bytes]:
    """``count`` JSON payloads cycling over the pool, ``event_id`` made unique per pass."""
    rng = np.random.default_rng(seed)
    sent, lap = 0, 0
    while sent < count:
        chunk = pool.head(count - sent).with_columns(
            (pl.col("event_id") + pl.lit(f"-{lap}")).alias("event_id")
        )
        lines = chunk.write_ndjson().splitlines()
        poison = rng.random(len(lines)) < poison_rate
        for line, bad in zip(lines, poison, strict=True):
            yield b'{"event_id": "broken' if bad else line.encode()
        sent += len(lines)
        lap += 1


def produce(
    client: redis.Redis,
    stream: str,
    source: Iterator[bytes],
    *,
    rate: float,
    field: str = "data",
    maxlen: int | None = None,
) -> int:
    """Send every payload at ``rate`` per second; the number sent."""
    per_tick = max(1, round(rate / TICKS_PER_S))
    sent, start = 0, time.monotonic()
    while True:
        pipe = client.pipeline(transaction=False)
        n = 0
        for payload in source:
            pipe.xadd(stream, {field: payload}, maxlen=maxlen, approximate=True)
            n += 1
            if n == per_tick:
                break
        if n == 0:
            return sent
        pipe.execute()
        sent += n
        # Sleep until this many entries are due at the rate (no drift over a long run).
        wait = start + sent / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--stream", default="app-events")
    p.add_argument("--rate", type=float, default=1000.0, help="events per second")
    p.add_argument("--events", type=int, default=60_000, help="events to send in all")
    p.add_argument("--pool", type=int, default=20_000, help="distinct events generated")
    p.add_argument("--poison-rate", type=float, default=0.001, help="share of broken entries")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    if args.rate <= 0 or args.events < 0 or not 0 <= args.poison_rate <= 1:
        p.error("--rate must be > 0, --events >= 0 and --poison-rate within 0..1")
    pool = event_pool(args.pool, args.seed)
    client = redis.Redis.from_url(args.url)
    print(json.dumps({"stream": args.stream, "rate": args.rate, "events": args.events}), flush=True)
    source = payloads(pool, args.events, args.poison_rate, args.seed)
    sent = produce(client, args.stream, source, rate=args.rate)
    print(f"sent {sent:,} events to {args.stream}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
