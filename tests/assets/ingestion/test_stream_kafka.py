"""The Kafka backend against librdkafka's own mock cluster (``test.mock.num.brokers``): no broker
runs on this machine (none is packaged for Debian or PyPI), so the client's test facility stands
in for one, speaking the real protocol on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from confluent_kafka import Producer

from assets.ingestion.streams.batch import drain, land_batch
from assets.ingestion.streams.kafka_backend import KafkaStream
from tests.assets.ingestion.stream_helpers import click, write_spec


@pytest.fixture
def bootstrap() -> Iterator[str]:
    """A three-broker mock cluster, alive while its owning client is."""
    owner = Producer({"test.mock.num.brokers": 3, "log_level": 3})
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{b.host}:{b.port}" for b in brokers)
    owner.flush(5)


def send(bootstrap: str, payloads: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "log_level": 3})
    for i, p in enumerate(payloads):
        producer.produce("clicks", value=p, key=str(i).encode())
    assert producer.flush(10) == 0


def consumer(bootstrap: str, spec) -> KafkaStream:
    return KafkaStream.for_spec(
        {"bootstrap.servers": bootstrap, "log_level": 3, "session.timeout.ms": 6000}, spec
    )


@pytest.mark.e2e
def test_uncommitted_batch_is_reread_and_lands_once(tmp_path: Path, bootstrap: str):
    spec = write_spec(tmp_path / "specs", backend="kafka", batch=10)
    payloads = [click(i) for i in range(30)]
    payloads[5] = b"\xff not json"
    send(bootstrap, payloads)
    table, qdir = tmp_path / "lake", tmp_path / "q"

    lost = consumer(bootstrap, spec)
    assert lost.lag().waiting == 30
    entries = lost.read(10)
    assert len(entries) == 10
    land_batch(spec, "clicks", entries, table_dir=table, quarantine_dir=qdir)
    lost.close()  # the worker went away after the lake write, before committing

    restarted = consumer(bootstrap, spec)
    assert restarted.lag().waiting == 30  # nothing was committed
    report = drain(
        spec, restarted, table_dir=table, quarantine_dir=qdir, max_events=100, batch_events=10
    )
    assert report.entries == 30
    assert restarted.lag().total == 0
    restarted.close()
    rows = pl.read_parquet(table / "part-stream-*.parquet")
    assert rows.height == 29
    assert sorted(rows["click_id"].to_list()) == [i for i in range(30) if i != 5]
    assert rows["_entry_id"].n_unique() == 29
    assert len(report.poison) == 1 and report.poison[0][1].startswith("not JSON")

    again = consumer(bootstrap, spec)
    assert again.lag().total == 0  # committed: a new worker starts after the last batch
    again.close()


@pytest.mark.e2e
def test_kafka_stream_asset_lands_and_commits_in_a_dagster_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bootstrap: str
):
    from tests.assets.ingestion.test_sources import lake_rows, make_settings, meta, run

    settings = make_settings(tmp_path, monkeypatch, PIPELINE_KAFKA_BOOTSTRAP=bootstrap)
    write_spec(settings.datasets_dir, backend="kafka", batch=10)
    send(bootstrap, [click(i) for i in range(25)])
    result = run(settings, "raw_clicks")
    assert result.success
    raw = meta(result, "raw_clicks")
    assert raw["events_read"] == 25 and raw["new_rows"] == 25 and raw["lag_after"] == 0
    assert sorted(lake_rows(settings, "ingestion", "raw_clicks")["click_id"].to_list()) == list(
        range(25)
    )
    send(bootstrap, [click(i) for i in range(25, 30)])
    again = run(settings, "raw_clicks")  # the run committed its offsets: only the new ones
    assert again.success
    assert meta(again, "raw_clicks")["events_read"] == 5
