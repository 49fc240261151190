"""When a stream dataset needs a run: count, age, and the sensor's first sighting for Kafka."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from assets.ingestion.streams.batch import StreamLag
from assets.ingestion.streams.trigger import decide
from tests.assets.ingestion.stream_helpers import write_spec

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_count_age_and_first_sighting(tmp_path: Path):
    spec = write_spec(tmp_path, batch=10)  # batch_wait_s: 30 (the default)
    assert not decide(spec, StreamLag(0, 0, None, None, None), NOW, None).run
    many = decide(spec, StreamLag(7, 3, NOW, "1-0", "9-0"), NOW, None)
    assert many.run and many.run_key == "clicks:1-0..9-0"
    young = StreamLag(3, 0, NOW - timedelta(seconds=29), "1-0", "3-0")
    assert not decide(spec, young, NOW, None).run
    old = StreamLag(3, 0, NOW - timedelta(seconds=31), "1-0", "3-0")
    assert decide(spec, old, NOW, None).run
    # Kafka gives no arrival time for what waits: the age counts from the sensor's first sighting.
    kafka = StreamLag(3, 0, None, "0-5", "0-7")
    assert not decide(spec, kafka, NOW, NOW - timedelta(seconds=5)).run
    assert decide(spec, kafka, NOW, NOW - timedelta(seconds=40)).run
