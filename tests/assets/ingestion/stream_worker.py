"""A stream worker as its own process, for the crash test: it drains the clicks stream and, after
writing its ``stop_after``-th batch to the lake but before acknowledging it, says so in a marker
file and waits to be killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import redis

from assets.core.spec import load_catalog
from assets.ingestion.streams.batch import BatchReport, drain
from assets.ingestion.streams.redis_backend import RedisStream


def main(url: str, specs: str, table: str, quarantine: str, marker: str, stop_after: int) -> None:
    spec = load_catalog([Path(specs)])["clicks"]
    written: list[BatchReport] = []

    def after_write(report: BatchReport) -> None:
        written.append(report)
        if len(written) == stop_after:
            Path(marker).write_text(f"{report.first} {report.last}")
            time.sleep(120)

    drain(
        spec,
        RedisStream.for_spec(redis.Redis.from_url(url), spec, "worker"),
        table_dir=Path(table),
        quarantine_dir=Path(quarantine),
        max_events=spec.source.max_events,
        batch_events=spec.source.batch_events,
        after_write=after_write,
    )


if __name__ == "__main__":
    url, specs, table, quarantine, marker, stop_after = sys.argv[1:7]
    main(url, specs, table, quarantine, marker, int(stop_after))
